//! Pools and queues: what a Python programmer reaches for after the notebook's hand-started
//! threads and processes - `concurrent.futures` (`map`, `submit`, `as_completed`, `result`),
//! `multiprocessing.Pool.map` and `queue.Queue` - and what replaces each in Rust.
//!
//! Run: `cargo run -p pools` (options: `--size`, `--runs`, `--threads`, `--vs-python`).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::ops::Range;
use std::panic;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use clap::Parser;
use rayon::prelude::*;
use timing::chart::{Figure, Picture};
use timing::{Stats, cli, say};

mod report;

/// Pools and queues: concurrent.futures, multiprocessing.Pool and queue.Queue in Rust.
#[derive(Parser)]
#[command(about, long_about = None)]
struct Args {
    /// Elements of the timed CPU-bound map (section 4): the cube sum of 0..size, cut into 16
    /// tasks [default: 100000000; with --vs-python the twin, and Rust again beside it, take
    /// at most 4000000, where CPython needs seconds].
    #[arg(long, value_parser = cli::positive::<u64>, allow_hyphen_values = true)]
    size: Option<u64>,
    #[command(flatten)]
    threads: cli::Threads,
    #[command(flatten)]
    timed: cli::Timed<cli::VsPython>,
}

/// The map's tasks: the range cut into this many pieces, as a Python user would `map` over
/// chunks.
const TASKS: u64 = 16;

fn main() {
    let args = cli::parse::<Args>();
    let size = args.size.unwrap_or(100_000_000);
    if cube_sum_closed_form(size).is_none() {
        cli::usage_error(format!("--size {size}: the cube sum would overflow u128"));
    }
    let cores = timing::machine::cores();
    let threads = args.threads.single_or(cores);

    let picture = Picture::for_svg(&args.timed.svg).unwrap_or_else(|e| cli::usage_error(e));
    say!("== Pools and queues: concurrent.futures, multiprocessing.Pool, queue.Queue -> Rust");
    let threads_text = timing::plural(threads, "thread");
    let cores_text = timing::plural(cores, "core");
    say!("   (each pool has {threads_text}; {cores_text} here)");
    say!();
    executor_map(threads);
    say!();
    submit_as_completed();
    say!();
    exceptions_in_tasks(threads);
    say!();
    let mut figure = Figure::new("pools: a map on pools of threads");
    let timed = process_pool_not_needed(size, args.timed.runs.get(), threads, &mut figure);
    report::scaling(&timed, threads);
    say!();
    if let Some(counts) = args.threads.sweep() {
        figure.curve(&pool_sizes(size, args.timed.runs.get(), counts, &timed.sequential));
        say!();
    }
    bounded_queue();
    say!();
    timeouts_and_shutdown();
    if let Some(twin) = timing::twin!(args.timed.python) {
        say!();
        report::vs_python(size, args.timed.runs.get(), threads, &timed, &twin, &mut figure);
    }
    if let Some(picture) = picture {
        figure.save(picture).unwrap_or_else(|e| cli::fail(e));
    }
}

// ---- 1. executor.map ----

/// `list(executor.map(f, items))` -> `items.par_iter().map(f).collect()`: results in input
/// order, however the pool ran them. The same by hand with `thread::scope` over chunks.
fn executor_map(threads: usize) {
    say!("[1] Python: list(ThreadPoolExecutor().map(cube_sum, lengths))");
    say!("    Rust:   lengths.par_iter().map(|&n| cube_sum(0..n)).collect::<Vec<_>>()");
    let lengths: Vec<u64> = (1..=8).map(|i| i * 1000).collect();
    let expected: Vec<u128> = lengths.iter().map(|&n| checked_cube_sum(n)).collect();
    let pool = pool(threads);
    let by_rayon: Vec<u128> =
        pool.install(|| lengths.par_iter().map(|&n| cube_sum(0..n)).collect());
    assert_eq!(by_rayon, expected);
    say!("    rayon: {by_rayon:?}");
    let by_scope = map_scoped(&lengths, threads, |&n| cube_sum(0..n));
    assert_eq!(by_scope, expected);
    say!(
        "    thread::scope over {threads} chunks: the same {} results, in the same order",
        by_scope.len()
    );
    say!("    Both keep input order, as map does: collect puts each result in its item's slot.");
}

/// `map` by hand: one scoped thread per chunk of `items`, results concatenated in chunk order.
fn map_scoped<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    thread::scope(|s| {
        let handles: Vec<_> =
            items.chunks(chunk).map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<R>>())).collect();
        handles.into_iter().flat_map(|h| h.join().expect("a map thread panicked")).collect()
    })
}

// ---- 2. submit + as_completed ----

/// `futures = [ex.submit(f, x) ...]; for fut in as_completed(futures)` -> each task sends
/// `(index, result)` on a channel as it finishes; the receiver sees completion order.
fn submit_as_completed() {
    say!("[2] Python: for fut in as_completed([ex.submit(work, ms) for ms in durations])");
    say!("    Rust:   each task sends (index, result) on an mpsc channel when it finishes");
    let durations_ms = [40, 10, 25, 5];
    let mut by_duration: Vec<usize> = (0..durations_ms.len()).collect();
    by_duration.sort_by_key(|&i| durations_ms[i]);
    const TRIALS: u32 = 20;
    say!(
        "    {} tasks sleep {durations_ms:?} ms on {} threads; completion orders in {TRIALS} trials:",
        durations_ms.len(),
        durations_ms.len()
    );
    let mut tally: BTreeMap<Vec<usize>, u32> = BTreeMap::new();
    for _ in 0..TRIALS {
        let order = as_completed(&durations_ms, durations_ms.len());
        let mut seen = order.clone();
        seen.sort_unstable();
        assert_eq!(seen, [0, 1, 2, 3], "every task exactly once");
        *tally.entry(order).or_default() += 1;
    }
    for (order, count) in &tally {
        let note = if *order == by_duration { "  (shortest first)" } else { "" };
        say!("      {order:?}: {count} of {TRIALS}{note}");
    }
    say!("    Guaranteed: every index exactly once. The order is the order they finished in: the");
    say!("    durations suggest {by_duration:?}, but the scheduler decides. map would have given");
    say!("    [0, 1, 2, 3] whatever the durations.");
}

/// Runs one task per duration on a pool of `threads`, and returns the indices in the order
/// their results arrived.
fn as_completed(durations_ms: &[u64], threads: usize) -> Vec<usize> {
    let (results, completed) = mpsc::channel();
    pool(threads).scope(|s| {
        for (index, &ms) in durations_ms.iter().enumerate() {
            let results = results.clone();
            s.spawn(move |_| {
                thread::sleep(Duration::from_millis(ms));
                results.send((index, ms)).expect("the receiver outlives the scope");
            });
        }
    });
    drop(results);
    completed.iter().map(|(index, _result)| index).collect()
}

// ---- 3. exceptions ----

/// Python re-raises a task's exception at `fut.result()`. In Rust a task that can fail returns
/// `Result`; a task that panics is caught with `catch_unwind`, so the others' results survive.
fn exceptions_in_tasks(threads: usize) {
    say!(
        "[3] Python: fut.result() re-raises the task's exception; the other futures are unaffected"
    );
    let inputs = [4_u64, 0, 9, 3];
    let pool = pool(threads);
    let as_results: Vec<Result<u64, String>> =
        pool.install(|| inputs.par_iter().map(|&x| checked_reciprocal_percent(x)).collect());
    say!("    Rust, tasks returning Result: {as_results:?}");
    assert_eq!(as_results[1], Err("cannot divide by 0".to_owned()));

    let hook = panic::take_hook(); // the panics below are on purpose: keep stderr quiet
    panic::set_hook(Box::new(|_| {}));
    let caught: Vec<Result<u64, String>> = pool.install(|| {
        inputs
            .par_iter()
            .map(|&x| panic::catch_unwind(|| 100 / x).map_err(|p| panic_message(&*p)))
            .collect()
    });
    // AssertUnwindSafe: nothing here is left half-updated by the panic, and a rayon pool
    // stays usable after one of its tasks panicked.
    let whole_map = panic::catch_unwind(panic::AssertUnwindSafe(|| {
        pool.install(|| inputs.par_iter().map(|&x| 100 / x).collect::<Vec<u64>>())
    }));
    panic::set_hook(hook);
    say!("    Rust, a panicking task caught with catch_unwind: {caught:?}");
    assert!(caught[1].is_err() && caught.iter().filter(|r| r.is_ok()).count() == 3);
    assert!(whole_map.is_err(), "rayon re-raises a task's panic at collect");
    say!(
        "    Without catch_unwind, rayon re-raises the panic at collect, like result() does - and"
    );
    say!("    the three results that did finish are lost with it.");
}

fn checked_reciprocal_percent(x: u64) -> Result<u64, String> {
    100_u64.checked_div(x).ok_or_else(|| format!("cannot divide by {x}"))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload.downcast_ref::<&str>().map(|s| (*s).to_owned());
    text.or_else(|| payload.downcast_ref::<String>().cloned()).unwrap_or_else(|| "panic".to_owned())
}

// ---- 4. ProcessPoolExecutor / Pool.map ----

/// What each way of running the CPU-bound map measured.
pub struct Timed {
    size: u64,
    sequential: Stats,
    rayon: Stats,
    scoped: Stats,
    startup: Stats,
    /// Whether a map was too short to time alone and was repeated within each sample.
    repeated: bool,
}

/// `ProcessPoolExecutor().map` and `Pool.map` are the notebook's way around the GIL (3.14 adds
/// InterpreterPoolExecutor: threads, each with its own interpreter and GIL). Rust's threads
/// already run on every core, so the same CPU-bound map needs no processes: no start-up, no
/// pickling of arguments and results.
fn process_pool_not_needed(size: u64, runs: usize, threads: usize, figure: &mut Figure) -> Timed {
    say!(
        "[4] Python: ProcessPoolExecutor().map(cube_sum, chunks) - processes to get around the GIL"
    );
    say!("    Rust:   the same map on rayon's threads; the cube sum of 0..{size} in {TASKS} tasks");
    figure.panel(format!("A map of the cube sum of 0..{size} in {TASKS} tasks, {threads} threads"));
    let timed = time_map(size, runs, threads);
    say!("{}", timed.sequential.baseline_line("    sequential map"));
    figure.baseline("sequential map", &timed.sequential);
    for (label, stats) in
        [("rayon par_iter map", &timed.rayon), ("thread::scope over chunks", &timed.scoped)]
    {
        say!("{}  {}", stats.line(&format!("    {label}")), stats.speedup_over(&timed.sequential));
        figure.bar(label, stats);
    }
    let startup = format!("starting a {threads}-thread pool");
    say!("{}", timed.startup.line(&format!("    {startup}")));
    figure.bar(&startup, &timed.startup);
    say!("    verified: every map's total equals (n(n-1)/2)^2");
    if timed.repeated {
        cli::paragraph("    ", REPEATED);
    }
    timed
}

/// The sample a short map is repeated to fill (see [`time_map`]).
const AUTORANGE: Duration = Duration::from_millis(20);

/// What a reader is told where [`time_map`] repeated a map within its samples.
// timeit.Timer.autorange (Lib/timeit.py, 3.11-3.14) grows the loop count until the total
// reaches 0.2 s; here the target is 20 ms.
const REPEATED: &str = "(a map under 20 ms was repeated within each sample until the sample lasted 20 ms, as Python's timeit autorange repeats a statement until 0.2 s - alone, a map can end before a sleeping worker thread has woken; one map's share is shown)";

/// The map of the cube sum of 0..size in `TASKS` chunks: sequential, on rayon, on scoped
/// threads; and what starting a pool costs. Every total checked against the closed form.
fn time_map(size: u64, runs: usize, threads: usize) -> Timed {
    let expected = cube_sum_closed_form(size).expect("main refused sizes that overflow");
    let chunks = split(size, TASKS);
    let pool = pool(threads);
    let mut repeated = false;
    let mut time = |label: &str, map: &dyn Fn() -> u128| {
        // A map shorter than 20 ms is repeated within each sample until it lasts 20 ms: a map
        // of a few milliseconds can end before a sleeping worker thread has woken, so timed
        // alone rayon often ran it all on the thread that got it (on a 2-core virtual machine,
        // a fresh pool's 2 ms map took 3.4 ms in most samples).
        let (total, stats, repeats) = timing::measure_autorange(runs, AUTORANGE, map);
        assert_eq!(total, expected, "{label}");
        repeated |= repeats > 1;
        stats
    };
    let sequential = time("sequential", &|| chunks.iter().map(|c| cube_sum(c.clone())).sum());
    let rayon =
        time("rayon", &|| pool.install(|| chunks.par_iter().map(|c| cube_sum(c.clone())).sum()));
    let scoped =
        time("scoped", &|| map_scoped(&chunks, threads, |c| cube_sum(c.clone())).iter().sum());
    let (_, startup) = timing::measure(runs, || {
        drop(rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("threads start"))
    });
    Timed { size, sequential, rayon, scoped, startup, repeated }
}

/// `--threads LIST`: the same rayon map on a pool of each size, against the sequential map.
/// The pools are started before the timing, which measures only the map.
fn pool_sizes(size: u64, runs: usize, counts: &[usize], sequential: &Stats) -> timing::Sweep {
    say!("[4b] the rayon map on pools of each size, against the sequential map");
    let chunks = split(size, TASKS);
    let pools: Vec<(usize, rayon::ThreadPool)> = counts.iter().map(|&n| (n, pool(n))).collect();
    let expected = cube_sum_closed_form(size).expect("main refused sizes that overflow");
    timing::speedup_sweep("rayon par_iter map", counts, runs, sequential, &expected, |n| {
        let (_, pool) = pools.iter().find(|(count, _)| *count == n).expect("a pool a count");
        pool.install(|| chunks.par_iter().map(|c| cube_sum(c.clone())).sum::<u128>())
    })
}

// ---- 5. queue.Queue(maxsize=N) ----

/// `queue.Queue(maxsize=N)` -> `mpsc::sync_channel(N)`: `send` blocks while N items wait
/// (backpressure), and the consumers' loops end when every sender is gone - no `None` sentinel,
/// as Python 3.13's `q.shutdown()` makes `get()` raise `ShutDown` once the queue is empty.
fn bounded_queue() {
    const CAPACITY: usize = 4;
    say!(
        "[5] Python: q = queue.Queue(maxsize={CAPACITY}); q.put(item) blocks when full; q.get() in consumers"
    );
    say!(
        "    Rust:   let (tx, rx) = mpsc::sync_channel({CAPACITY}); tx.send(item) blocks when full"
    );
    let accepted = fill_until_full(CAPACITY);
    assert_eq!(accepted, CAPACITY);
    say!("    with nobody receiving, {accepted} items fit and the next try_send is refused: Full");
    say!("    (q.put_nowait raises queue.Full; a plain send would wait there: backpressure)");

    let (producers, consumers, per_producer) = (3, 2, 1000_u64);
    let queue = Queue { capacity: CAPACITY, producers, consumers, per_producer };
    let report = queue.run(consume_releasing_the_lock, Duration::ZERO);
    let items = producers * per_producer;
    assert_eq!(report.received.len(), usize::try_from(items).expect("small"));
    assert_eq!(report.sum, items * (items - 1) / 2, "every item exactly once");
    say!(
        "    {producers} producers x {per_producer} items, {consumers} consumers: all {items} received once (sum {}),",
        report.sum
    );
    say!(
        "    producers found the queue full {} times (this varies from run to run) and waited.",
        report.waits
    );
    cli::paragraph(
        "    ",
        "Each consumer ended when the last sender was dropped: recv() returns Err once the channel is empty and no sender is left - what Python 3.13's q.shutdown() does, after which get() raises ShutDown once the queue is empty (before 3.13, a None sentinel for each consumer). Several consumers share one Receiver behind a Mutex: std's channel has a single receiver (crossbeam-channel's can be cloned instead).",
    );
    lock_held_while_working(CAPACITY);
}

/// The pitfall of a shared receiver, measured: a consumer that keeps the lock while it works
/// makes the others wait, so they take turns; one that releases it first works beside them.
fn lock_held_while_working(capacity: usize) {
    const WORK: Duration = Duration::from_millis(2);
    let queue = Queue { capacity, producers: 1, consumers: 2, per_producer: 40 };
    say!(
        "[5b] Two consumers, 40 items, each worked on for {} ms (a wait, as I/O would be):",
        WORK.as_millis()
    );
    let held = queue.run(consume_holding_the_lock, WORK);
    let released = queue.run(consume_releasing_the_lock, WORK);
    for (report, how) in [
        (&held, "while let Ok(item) = rx.lock().recv() { work(item) }"),
        (&released, "let item = rx.lock().recv(); ... work(item)"),
    ] {
        assert_eq!(report.sum, 40 * 39 / 2, "every item exactly once");
        say!(
            "    {how:<54} {:>8}, at most {} working at once",
            timing::human(report.took),
            report.most_working
        );
    }
    assert_eq!(held.most_working, 1, "the lock held while working serialises the consumers");
    cli::paragraph(
        "    ",
        "In the first, the lock's guard is a temporary of the `while let` condition, and a temporary there lives to the end of the loop body: the lock is held while the item is worked on, and the consumers take turns (the Rust Book's thread pool warns of it). Taking the item in a `let` statement drops the guard at its semicolon, before the work.",
    );
    let overlapped = released.most_working >= 2;
    cli::paragraph(
        "    ",
        &if overlapped {
            format!(
                "Released first, both consumers worked at once: {} against {}.",
                timing::human(released.took),
                timing::human(held.took)
            )
        } else {
            "Released first, the consumers could work at once, but on this run never did: one took every item before the other woke (a busy machine). Re-run to compare: `cargo run -p pools`.".to_owned()
        },
    );
}

/// How many items a channel of `capacity` takes before refusing one, with nobody receiving.
fn fill_until_full(capacity: usize) -> usize {
    let (tx, _rx) = mpsc::sync_channel::<usize>(capacity);
    (0..).take_while(|&i| !matches!(tx.try_send(i), Err(TrySendError::Full(_)))).count()
}

/// The pitfall: the lock's guard is a temporary of the `while let` condition, which lives to
/// the end of the loop body - so the lock is held while `work` runs.
fn consume_holding_the_lock(rx: &Mutex<Receiver<u64>>, work: &mut dyn FnMut(u64)) {
    while let Ok(item) = rx.lock().expect("no consumer panics").recv() {
        work(item);
    }
}

/// The item taken in a `let` statement: the guard is dropped at its semicolon, before `work`.
fn consume_releasing_the_lock(rx: &Mutex<Receiver<u64>>, work: &mut dyn FnMut(u64)) {
    loop {
        let item = rx.lock().expect("no consumer panics").recv();
        let Ok(item) = item else { break };
        work(item);
    }
}

/// How a consumer takes items from the shared receiver and works on each.
type Consumer = fn(&Mutex<Receiver<u64>>, &mut dyn FnMut(u64));

/// Producers sending distinct numbers through a bounded channel to consumers that share its
/// receiver.
struct Queue {
    capacity: usize,
    producers: u64,
    consumers: usize,
    per_producer: u64,
}

struct QueueReport {
    received: Vec<u64>,
    sum: u64,
    /// How often a producer found the queue full.
    waits: usize,
    /// The most consumers working on an item at the same moment.
    most_working: usize,
    took: Duration,
}

impl Queue {
    /// Every item through the queue, each consumer taking items as `consume` does and working
    /// `work` on each (a sleep, which needs no core).
    fn run(&self, consume: Consumer, work: Duration) -> QueueReport {
        let (tx, rx) = mpsc::sync_channel::<u64>(self.capacity);
        let rx = Mutex::new(rx);
        let (waits, working, most) =
            (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
        let received = Mutex::new(Vec::new());
        let per = self.per_producer;
        let started = std::time::Instant::now();
        thread::scope(|s| {
            for p in 0..self.producers {
                let (tx, waits) = (tx.clone(), &waits);
                s.spawn(move || {
                    for item in p * per..(p + 1) * per {
                        if let Err(TrySendError::Full(item)) = tx.try_send(item) {
                            waits.fetch_add(1, Ordering::Relaxed);
                            tx.send(item).expect("consumers outlive producers");
                        }
                    }
                });
            }
            drop(tx); // the producers hold the only senders now: when they finish, recv ends
            for _ in 0..self.consumers {
                let (rx, received, working, most) = (&rx, &received, &working, &most);
                s.spawn(move || {
                    let mut mine = Vec::new();
                    consume(rx, &mut |item| {
                        let now = working.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        thread::sleep(work);
                        mine.push(black_box(item));
                        working.fetch_sub(1, Ordering::SeqCst);
                    });
                    received.lock().expect("no consumer panics").extend(mine);
                });
            }
        });
        let took = started.elapsed();
        let received = received.into_inner().expect("no consumer panicked");
        let sum = received.iter().sum();
        QueueReport {
            received,
            sum,
            waits: waits.into_inner(),
            most_working: most.into_inner(),
            took,
        }
    }
}

// ---- 6. timeouts and shutdown ----

/// `fut.result(timeout=...)` -> `recv_timeout`; `executor.shutdown(cancel_futures=True)` -> a
/// pool (the Rust Book's, chapter 21) whose workers check a flag before each queued job.
fn timeouts_and_shutdown() {
    say!("[6] Python: fut.result(timeout=0.05) raises TimeoutError; the task runs on");
    let (tx, rx) = mpsc::channel();
    let slow = thread::spawn(move || {
        thread::sleep(Duration::from_millis(200));
        tx.send(42).expect("the receiver waits");
    });
    let first = rx.recv_timeout(Duration::from_millis(50));
    assert_eq!(first, Err(RecvTimeoutError::Timeout));
    say!("    Rust: rx.recv_timeout(50 ms) -> Err(Timeout); waiting again -> {:?}", rx.recv());
    slow.join().expect("the slow task does not panic");

    say!("    Python: executor.shutdown(cancel_futures=True) drops the tasks not yet started");
    let (ran, cancelled) = shutdown_with_queued_jobs(2, 20);
    // Each worker is inside its first job when the flag is set, so exactly those two ran.
    assert_eq!((ran, cancelled), (2, 18), "the jobs started before shutdown ran, no other");
    say!("    Rust: 2 workers, 20 jobs queued, shut down while each worker is in its first job:");
    say!("    {ran} ran (the started ones finish), {cancelled} were cancelled (never started).");
    say!("    A running job is never interrupted: Rust, like Python, cannot kill a thread safely.");
}

/// A minimal pool: workers take boxed jobs from a shared receiver; `cancel` makes them skip
/// what is still queued. Shutdown comes once every worker has started a job (each job says so
/// and then waits for the shutdown to begin), so what runs and what is cancelled is the same
/// every time. Returns (jobs run, jobs cancelled), each counted where it happens.
fn shutdown_with_queued_jobs(workers: usize, jobs: usize) -> (usize, usize) {
    type Job = Box<dyn FnOnce() + Send>;
    let (queue, jobs_rx) = mpsc::channel::<Job>();
    let jobs_rx = Arc::new(Mutex::new(jobs_rx));
    let cancel = Arc::new(AtomicBool::new(false));
    let (ran, cancelled) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let (jobs_rx, cancel, cancelled) = (jobs_rx.clone(), cancel.clone(), cancelled.clone());
            thread::spawn(move || {
                loop {
                    let job = jobs_rx.lock().expect("no worker panics").recv();
                    let Ok(job) = job else { break }; // the queue's sender is gone: shut down
                    if cancel.load(Ordering::Acquire) {
                        cancelled.fetch_add(1, Ordering::Relaxed);
                    } else {
                        job();
                    }
                }
            })
        })
        .collect();
    let (started_tx, started) = mpsc::channel();
    let shutdown_begun = Arc::new(std::sync::Barrier::new(workers + 1));
    for _ in 0..jobs {
        let (ran, started_tx, shutdown_begun) =
            (ran.clone(), started_tx.clone(), shutdown_begun.clone());
        queue
            .send(Box::new(move || {
                started_tx.send(()).expect("the pool's owner waits");
                shutdown_begun.wait(); // a long job, still running when the flag is set
                ran.fetch_add(1, Ordering::Relaxed);
            }))
            .expect("workers are running");
    }
    for _ in 0..workers {
        started.recv().expect("every worker starts a job");
    }
    cancel.store(true, Ordering::Release);
    shutdown_begun.wait(); // let the running jobs finish
    drop(queue); // shutdown(wait=True): no new jobs, then join the workers
    for handle in handles {
        handle.join().expect("no worker panics");
    }
    (ran.load(Ordering::Relaxed), cancelled.load(Ordering::Relaxed))
}

// ---- helpers ----

/// A rayon pool of `threads` threads (the global one has one per core).
fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("threads start")
}

/// The sum of x^3 over `range`. Each x passes through `black_box` so that the compiler cannot
/// replace the loop by its closed form.
fn cube_sum(range: Range<u64>) -> u128 {
    range.map(|x| u128::from(black_box(x)).pow(3)).sum()
}

fn checked_cube_sum(n: u64) -> u128 {
    let sum = cube_sum(0..n);
    assert_eq!(Some(sum), cube_sum_closed_form(n));
    sum
}

/// (n(n-1)/2)^2, or `None` where it would not fit in u128.
fn cube_sum_closed_form(n: u64) -> Option<u128> {
    let n = u128::from(n);
    let half = n.checked_mul(n.saturating_sub(1))? / 2;
    half.checked_mul(half)
}

/// `0..length` cut into `parts` ranges whose lengths differ by at most one.
fn split(length: u64, parts: u64) -> Vec<Range<u64>> {
    (0..parts).map(|i| length * i / parts..length * (i + 1) / parts).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_keeps_input_order_with_any_number_of_threads() {
        let items: Vec<u64> = (0..37).collect();
        for threads in [1, 2, 3, 8, 64] {
            assert_eq!(
                map_scoped(&items, threads, |x| x * 2),
                items.iter().map(|x| x * 2).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn as_completed_gives_every_index_once() {
        let mut order = as_completed(&[3, 0, 2, 1], 2);
        order.sort_unstable();
        assert_eq!(order, [0, 1, 2, 3]);
    }

    #[test]
    fn a_bounded_queue_takes_exactly_its_capacity() {
        for capacity in [1, 4, 100] {
            assert_eq!(fill_until_full(capacity), capacity);
        }
    }

    #[test]
    fn every_produced_item_is_consumed_exactly_once() {
        let queue = Queue { capacity: 2, producers: 4, consumers: 3, per_producer: 500 };
        let report = queue.run(consume_releasing_the_lock, Duration::ZERO);
        let mut received = report.received;
        received.sort_unstable();
        assert_eq!(received, (0..2000).collect::<Vec<u64>>());
    }

    /// The pitfall and its fix, observed: holding the lock while working lets one consumer
    /// work at a time, whatever the machine; releasing it first lets them overlap.
    #[test]
    fn a_consumer_that_keeps_the_lock_while_working_makes_the_others_wait() {
        let queue = Queue { capacity: 4, producers: 1, consumers: 3, per_producer: 30 };
        let work = Duration::from_millis(3);
        let held = queue.run(consume_holding_the_lock, work);
        assert_eq!(held.most_working, 1, "one at a time while the lock is held");
        let released = queue.run(consume_releasing_the_lock, work);
        assert!(
            released.most_working >= 2,
            "released first, they overlap: {}",
            released.most_working
        );
        assert_eq!((held.sum, released.sum), (30 * 29 / 2, 30 * 29 / 2));
    }

    #[test]
    fn shutdown_runs_the_started_jobs_and_cancels_the_rest() {
        assert_eq!(shutdown_with_queued_jobs(2, 10), (2, 8));
        assert_eq!(shutdown_with_queued_jobs(3, 3), (3, 0));
    }

    #[test]
    fn closed_form_and_split_agree_with_the_loop() {
        let total: u128 = split(1001, TASKS).into_iter().map(cube_sum).sum();
        assert_eq!(Some(total), cube_sum_closed_form(1001));
        assert_eq!(cube_sum_closed_form(u64::MAX), None);
    }
}

//! Notebook section 2.c, "Global Interpreter Lock (GIL)", which the notebook explains in prose
//! only. Rust has no GIL, so this crate builds one the way CPython's works - a lock a thread
//! must hold to run its "bytecode"; a thread waiting for it waits one switch interval, then asks
//! the holder to drop it, and the holder hands it over - and measures what it does to
//! CPU-bound and to I/O-bound threads.
//!
//! Run: `cargo run -p gil` (options: `--size`, `--threads`, `--switch-interval-ms`, `--runs`;
//! `--svg gil.svg` draws the measurements, and who held the GIL when in gil-timeline.svg).

mod report;
mod timeline;

use std::hint::black_box;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use parking_lot::{Mutex, MutexGuard};
use timing::chart::{Figure, Picture};
use timing::{Stats, cli, say};

/// Section 2.c of the notebook: what a global interpreter lock does to threads.
#[derive(Parser)]
#[command(about, long_about = None)]
struct Args {
    /// Elements of the CPU-bound cube sum, shared out among the threads (at most 6x10^9, where
    /// the sum still fits u128) [default: 200000000; 5000000 with --vs-python, which CPython
    /// sums in seconds, not minutes].
    #[arg(long, value_parser = cli::up_to::<6_000_000_000>, allow_hyphen_values = true)]
    size: Option<u64>,
    /// Threads, at least 2 (one thread has nobody to share the GIL with) [default: the number
    /// of cores, at least 2].
    #[arg(long, value_parser = cli::between::<2, 64>, allow_hyphen_values = true)]
    threads: Option<u64>,
    /// How long a thread waits for the GIL before it asks the holder to drop it (CPython:
    /// sys.getswitchinterval(), 5 ms).
    #[arg(long, default_value_t = 5, value_parser = cli::up_to::<1000>, allow_hyphen_values = true)]
    switch_interval_ms: u64,
    #[command(flatten)]
    timed: cli::Timed<cli::VsPython>,
}

/// The stand-in for one blocking I/O call (a sleep), and how many each thread makes.
const IO_WAIT: Duration = Duration::from_millis(10);
const IO_REQUESTS: u32 = 10;

/// The cube sum's size without `--size`; with `--vs-python` a smaller one, which CPython sums
/// in seconds, where the default would take it minutes.
const DEFAULT_SIZE: u64 = 200_000_000;
const SIZE_FOR_PYTHON: u64 = 5_000_000;

fn main() {
    let args = cli::parse::<Args>();
    let cores = timing::machine::cores() as u64;
    let threads = args.threads.unwrap_or(cores.max(2));
    let workload = Workload::new(args.size, args.timed.python.enabled);
    let runs = args.timed.runs.get();
    let gil = Gil::new(Duration::from_millis(args.switch_interval_ms), true);
    let picture = Picture::for_svg(&args.timed.svg).unwrap_or_else(|e| cli::usage_error(e));
    // `--svg gil.svg` also draws the holds, as gil-timeline.svg beside it.
    let timeline_picture = picture.as_ref().map(timeline::picture_beside);
    let mut figure = Figure::new("gil: threads with and without a (simulated) GIL");

    say!(
        "== 2.c The GIL, simulated: {} on {}, switch interval {} ms",
        timing::plural(threads, "thread"),
        timing::plural(cores, "core"),
        args.switch_interval_ms
    );
    let cpu = cpu_bound(&gil, &workload, threads, runs, &mut figure);
    report::fairness(gil.interval, &cpu);
    say!();
    let io = io_bound(&gil, threads, runs, &mut figure);
    say!();
    let convoy = convoy_effect(&gil);
    report::convoy(gil.interval, &convoy);
    say!();
    if let Some(picture) = timeline_picture {
        timeline::draw(gil.interval, threads, picture).unwrap_or_else(|e| cli::fail(e));
        say!();
    }
    report::conclusion(&cpu, io, &workload, threads, cores);
    say!();
    free_threading_and_subinterpreters();
    if let Some(twin) = timing::twin!(args.timed.python) {
        say!();
        report::vs_python(&workload, threads, runs, &cpu, &twin, &mut figure)
            .unwrap_or_else(|e| cli::fail(e));
    }
    if let Some(picture) = picture {
        figure.save(picture).unwrap_or_else(|e| cli::fail(e));
    }
}

// ---- the simulated GIL ----

/// One global lock, held while running "bytecode", as CPython's `ceval_gil.c` has it: a thread
/// that wants it waits one switch interval at a time, and when a whole interval passes with no
/// switch it sets a drop request; the holder checks for it between bytecodes, drops the GIL and
/// - fairly - hands it to the waiter (CPython's `FORCE_SWITCHING`), then waits its turn again.
struct Gil {
    lock: Mutex<()>,
    interval: Duration,
    /// Hand the lock to a waiting thread (CPython's way since 3.2), or merely unlock, as the
    /// old GIL did, so that the dropping thread, still running, takes it straight back.
    ///
    /// parking_lot's two unlocks are that difference (parking_lot 0.13.0, the version in
    /// Cargo.lock: src/raw_mutex.rs `unlock_fair_slow` and `unlock_slow`, src/mutex.rs
    /// "Fairness"): `MutexGuard::unlock_fair` passes the locked mutex to a parked waiter;
    /// dropping the guard frees it and wakes one parked waiter to compete, and `lock_slow`
    /// grabs a free lock "even if there is a queue on it", so the dropper, already on a core,
    /// wins. 0.12 made a plain drop hand over to a parked waiter now and then - on average
    /// every 0.5 ms, and always after a hold over 1 ms (0.12.5 core/src/parking_lot.rs
    /// `FairTimeout`, src/mutex.rs "Fairness") - which 0.13.0 removed (its CHANGELOG.md:
    /// "Removed automatic eventual fairness", #533).
    fair: bool,
    /// CPython's `gil_drop_request`: a thread has waited a whole interval.
    drop_request: AtomicBool,
    /// CPython's `switch_number` and `last_holder`: how many times the GIL changed threads,
    /// and who held it last; `switched` wakes a thread waiting for a switch.
    switches: Mutex<(u64, Option<thread::ThreadId>)>,
    switched: parking_lot::Condvar,
    /// How threads have competed for it since it was last read.
    contention: Mutex<Contention>,
    /// Where each hold is written down, for `--svg`'s timeline (none while timing).
    timeline: Option<timeline::Timeline>,
}

/// How threads competed for the GIL: the longest any waited for it, and how often its holder,
/// asked to drop it, let another thread have it before taking it back.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Contention {
    longest_wait: Duration,
    /// Times a holder dropped the GIL because a waiter had asked.
    drops: u64,
    /// Of those, the times another thread held it before the dropper had it back.
    handed_over: u64,
}

/// The GIL while a thread holds it: the lock's guard (none while it is dropped for a wait) and
/// when this hold began. Dropping it releases the GIL.
struct Held<'a> {
    gil: &'a Gil,
    guard: Option<MutexGuard<'a, ()>>,
    since: Instant,
}

impl Gil {
    fn new(interval: Duration, fair: bool) -> Gil {
        Gil {
            lock: Mutex::new(()),
            interval,
            fair,
            drop_request: AtomicBool::new(false),
            switches: Mutex::new((0, None)),
            switched: parking_lot::Condvar::new(),
            contention: Mutex::new(Contention::default()),
            timeline: None,
        }
    }

    fn acquire(&self) -> Held<'_> {
        Held { gil: self, guard: Some(self.take()), since: Instant::now() }
    }

    /// CPython's `take_gil`: wait for the GIL one interval at a time; after an interval in
    /// which it did not change threads, ask its holder to drop it. Once taken, a pending
    /// request is cleared, as `take_gil` does (`RESET_GIL_DROP_REQUEST`): it was for the
    /// thread that had it, and a waiter still waiting asks again after its next interval.
    fn take(&self) -> MutexGuard<'_, ()> {
        let asked = Instant::now();
        let guard = loop {
            let switches_seen = self.switches.lock().0;
            if let Some(guard) = self.lock.try_lock_for(self.interval) {
                break guard;
            }
            if self.switches.lock().0 == switches_seen {
                self.drop_request.store(true, Ordering::Relaxed);
            }
        };
        self.drop_request.store(false, Ordering::Relaxed);
        let mut switches = self.switches.lock();
        let me = thread::current().id();
        if switches.1 != Some(me) {
            *switches = (switches.0 + 1, Some(me));
            self.switched.notify_all();
        }
        drop(switches);
        let waited = asked.elapsed();
        let mut contention = self.contention.lock();
        contention.longest_wait = contention.longest_wait.max(waited);
        guard
    }

    /// How threads competed since the last call, and start counting afresh.
    fn take_contention(&self) -> Contention {
        std::mem::take(&mut *self.contention.lock())
    }
}

impl Held<'_> {
    /// CPython's eval-breaker check between bytecodes: when a waiting thread has asked, drop
    /// the GIL and wait for it again like anyone else. Fairly, first wait until another thread
    /// has taken it (CPython's `FORCE_SWITCHING`), so that the dropping thread, still running,
    /// cannot win it straight back; unfairly, just unlock. Either way, count whether another
    /// thread had it before this one took it back.
    fn maybe_switch(&mut self) {
        if self.gil.drop_request.swap(false, Ordering::Relaxed) {
            let before = self.gil.switches.lock().0;
            self.release();
            if self.gil.fair {
                let mut switches = self.gil.switches.lock();
                while switches.0 == before {
                    self.gil.switched.wait(&mut switches);
                }
            }
            self.guard = Some(self.gil.take());
            self.since = Instant::now();
            let handed_over = self.gil.switches.lock().0 != before;
            let mut contention = self.gil.contention.lock();
            contention.drops += 1;
            contention.handed_over += u64::from(handed_over);
        }
    }

    /// Runs `wait` with the GIL released, as CPython does around a blocking call; takes it
    /// back after, waiting as every thread does.
    fn released(&mut self, wait: impl FnOnce()) {
        self.release();
        wait();
        self.guard = Some(self.gil.take());
        self.since = Instant::now();
    }

    fn release(&mut self) {
        let Some(guard) = self.guard.take() else { return };
        if let Some(timeline) = &self.gil.timeline {
            timeline.record(self.since, Instant::now());
        }
        if self.gil.fair {
            MutexGuard::unlock_fair(guard);
        } else {
            drop(guard);
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

// ---- the cells ----

/// The cube sum's size, and whether it is the smaller one `--vs-python` picks.
pub struct Workload {
    size: u64,
    /// No `--size` was given and `--vs-python` was: the sum is [`SIZE_FOR_PYTHON`] long.
    sized_for_python: bool,
}

impl Workload {
    fn new(size: Option<u64>, vs_python: bool) -> Workload {
        let sized_for_python = size.is_none() && vs_python;
        let default = if sized_for_python { SIZE_FOR_PYTHON } else { DEFAULT_SIZE };
        Workload { size: size.unwrap_or(default), sized_for_python }
    }
}

/// What the CPU-bound rows measured.
pub struct CpuBound {
    sequential: Stats,
    free: Stats,
    under_gil: Stats,
    /// How the threads competed for the fair GIL, and for the unfair one.
    fair: Contention,
    unfair: Contention,
}

/// The cube sum of 0..size, sequential and split among threads, free and under the GIL (fair,
/// as CPython hands it over, and unfair). Each row is printed as soon as it is measured.
fn cpu_bound(
    gil: &Gil,
    workload: &Workload,
    threads: u64,
    runs: usize,
    figure: &mut Figure,
) -> CpuBound {
    let size = workload.size;
    say!("CPU-bound: the cube sum of 0..{size} ({})", timing::after_warmup(runs));
    if workload.sized_for_python {
        cli::paragraph(
            "  ",
            &format!(
                "({size} elements, not the default {DEFAULT_SIZE}: --vs-python times the same sum in CPython, which would take minutes at the default; --size sets another)"
            ),
        );
    }
    figure.panel(format!("CPU-bound: the cube sum of 0..{size}"));
    let expected = cube_sum_closed_form(size);
    let time = |label: &str, sum: &dyn Fn() -> u128| -> Stats {
        let (total, stats) = timing::measure(runs, sum);
        assert_eq!(total, expected, "{label}: wrong sum");
        stats
    };
    // A plain call on this thread, as Python's sequential run is: no thread to start.
    let sequential = time("sequential", &|| cube_sum(0..size));
    say!("{}", sequential.baseline_line("sequential, one thread"));
    figure.baseline("sequential, one thread", &sequential);
    let mut row = |label: String, gil: Option<&Gil>| {
        let stats = time(&label, &|| cube_sum_on_threads(size, threads, gil));
        say!("{}  {}", stats.line(&label), stats.speedup_over(&sequential));
        figure.bar(&label, &stats);
        stats
    };
    let threads_text = timing::plural(threads, "thread");
    let free = row(format!("{threads} free threads, no lock"), None);
    gil.take_contention();
    let under_gil = row(format!("{threads_text} under the GIL"), Some(gil));
    let fair = gil.take_contention();
    let unfair_gil = Gil::new(gil.interval, false);
    row(format!("{threads_text}, unfair GIL"), Some(&unfair_gil));
    let unfair = unfair_gil.take_contention();
    say!("verified: every sum equals (n(n-1)/2)^2 = {expected}");
    CpuBound { sequential, free, under_gil, fair, unfair }
}

/// Threads that mostly wait: each request does a little work under the GIL, then waits for
/// "I/O". Releasing the GIL while waiting is what lets the waits overlap. Returns the speedup
/// of the threads that release it over one thread making every request.
fn io_bound(gil: &Gil, threads: u64, runs: usize, figure: &mut Figure) -> f64 {
    let title = format!(
        "I/O-bound: {} x {IO_REQUESTS} requests, each waiting {} ms",
        timing::plural(threads, "thread"),
        IO_WAIT.as_millis()
    );
    say!("{title}");
    figure.panel(title);
    let time = |threads: u64, requests: u32, release: bool| -> Stats {
        let (served, stats) =
            timing::measure(runs, || on_threads(threads, |_| io_requests(gil, requests, release)));
        assert_eq!(u64::from(served), u64::from(requests) * threads, "every request served");
        stats
    };
    let all_requests = IO_REQUESTS * u32::try_from(threads).expect("at most 64 threads");
    let sequential = time(1, all_requests, true);
    let released = time(threads, IO_REQUESTS, true);
    let held = time(threads, IO_REQUESTS, false);
    say!("{}", sequential.baseline_line("sequential, one thread"));
    figure.baseline("sequential, one thread", &sequential);
    for (label, stats) in
        [("GIL released while waiting", &released), ("GIL held while waiting", &held)]
    {
        say!("{}  {}", stats.line(label), stats.speedup_over(&sequential));
        figure.bar(label, stats);
    }
    // CPython's C API docs, "Thread State and the Global Interpreter Lock" (3.11-3.14): blocking
    // I/O is wrapped in Py_BEGIN_ALLOW_THREADS / Py_END_ALLOW_THREADS, as in Modules/_io.
    say!("CPython releases the GIL around blocking calls; code that holds it while waiting");
    say!("  (a C extension that forgets to) makes every other thread wait too.");
    released.speedup_over(&sequential).0
}

/// One I/O thread's requests, alone and beside a CPU-bound thread.
pub struct Convoy {
    requests: u32,
    alone: Duration,
    beside_cpu: Duration,
}

/// The convoy effect: an I/O thread next to a CPU-bound one. Each time its wait ends it needs
/// the GIL back; it waits a switch interval, asks, and only then does the CPU-bound thread let
/// go - every request pays an interval more.
fn convoy_effect(gil: &Gil) -> Convoy {
    let requests = 20;
    let alone = timing::time_call(|| io_requests(gil, requests, true)).1;
    let beside_cpu = io_beside_cpu(gil, requests);
    Convoy { requests, alone, beside_cpu }
}

/// How long one I/O thread takes for `requests` beside a CPU-bound thread.
fn io_beside_cpu(gil: &Gil, requests: u32) -> Duration {
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            let mut held = gil.acquire();
            while !stop.load(Ordering::Relaxed) {
                black_box(cube_sum(0..10_000));
                held.maybe_switch();
            }
        });
        thread::sleep(gil.interval); // let the CPU-bound thread take the GIL first
        let took = timing::time_call(|| io_requests(gil, requests, true)).1;
        stop.store(true, Ordering::Relaxed);
        took
    })
}

/// What the 2026 Pythons change: no GIL at all on a free-threaded build, a GIL per
/// interpreter with subinterpreters - and what neither changes.
fn free_threading_and_subinterpreters() {
    // Sources: PEP 779 (free threading supported from 3.14); the 3.14 free-threading HOWTO
    // (docs.python.org/3.14/howto/free-threading-python.html: per-object locks, extensions that
    // re-enable the GIL, PYTHON_GIL); What's New in Python 3.14, "Free-threaded mode
    // improvements" (a single-threaded penalty of roughly 5-10%).
    cli::paragraph(
        "",
        "Free-threaded CPython (3.13t, 3.14t; supported since 3.14, PEP 779) has no GIL: its threads are the free ones above. Inside the interpreter, objects get small locks of their own (a dict, a list) and reference counting changes so that threads rarely contend; an extension module that does not declare itself safe turns the GIL back on when imported (PYTHON_GIL=0 keeps it off). Races in your own code remain, as without it. Single-threaded code pays for it: about 5-10% by the 3.14 documentation. Compare here: `cargo run -p gil -- --vs-python --python python3.14t`.",
    );
    // Source: docs.python.org/3.14/library/concurrent.interpreters.html - "Multiple
    // Interpreters and Isolation" (the note: "can technically never be strictly isolated ...
    // extension modules may easily violate that"), "Key details" ("not all PyPI packages
    // support use in multiple interpreters yet"), "'Sharing' Objects" (copied by pickle; a
    // memoryview and a Queue share mutable data). One process: a crash in any ends them all.
    cli::paragraph(
        "",
        "Subinterpreters: since 3.12 each interpreter in a process can have a GIL of its own (PEP 684), and 3.14's concurrent.interpreters and InterpreterPoolExecutor (PEP 734) put several to work at once. Each has its own modules and objects; data crosses as a copy (pickled, or through a queue), and only a few types share memory, a memoryview's buffer among them. That is not processes' isolation: interpreters in one process can never be strictly isolated, by CPython's own documentation, an extension module may break what isolation there is, a crash in one takes the whole process down, and not all PyPI packages support them yet. `cargo run -p pools -- --vs-python` times them where the Python has them.",
    );
}

// ---- helpers ----

/// The cube sum of `range`, in small steps like bytecode; under a GIL when one is given.
fn cube_sum_under(range: Range<u64>, gil: Option<&Gil>) -> u128 {
    const STEP: u64 = 4096;
    let Some(gil) = gil else { return cube_sum(range) };
    let mut held = gil.acquire();
    let mut sum = 0;
    let mut start = range.start;
    while start < range.end {
        let end = range.end.min(start + STEP);
        sum += cube_sum(start..end);
        held.maybe_switch();
        start = end;
    }
    sum
}

/// `requests` times: a little work under the GIL, then a wait, with the GIL released (as
/// CPython does around blocking I/O) or held. Returns how many requests it served.
fn io_requests(gil: &Gil, requests: u32, release_while_waiting: bool) -> u32 {
    for _ in 0..requests {
        let mut held = gil.acquire();
        black_box(cube_sum(0..1_000)); // parse the request
        if release_while_waiting {
            held.released(|| thread::sleep(IO_WAIT));
        } else {
            thread::sleep(IO_WAIT);
        }
    }
    requests
}

fn cube_sum_on_threads(size: u64, threads: u64, gil: Option<&Gil>) -> u128 {
    on_threads(threads, |i| cube_sum_under(size * i / threads..size * (i + 1) / threads, gil))
}

/// Runs `work(i)` for i in 0..threads on that many scoped threads and adds up the results.
fn on_threads<T: std::iter::Sum<T> + Send>(threads: u64, work: impl Fn(u64) -> T + Sync) -> T {
    let work = &work;
    thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|i| s.spawn(move || work(i))).collect();
        handles.into_iter().map(|h| h.join().expect("worker thread panicked")).sum()
    })
}

/// Each x goes through `black_box`, or the compiler would replace the loop by its closed form.
fn cube_sum(range: Range<u64>) -> u128 {
    range.map(|x| u128::from(black_box(x)).pow(3)).sum()
}

fn cube_sum_closed_form(size: u64) -> u128 {
    let n = u128::from(size);
    (n * n.saturating_sub(1) / 2).pow(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiter_asks_for_the_gil_after_a_whole_interval_and_is_handed_it() {
        let gil = Gil::new(Duration::from_millis(20), true);
        let mut held = gil.acquire();
        let asked = Instant::now();
        thread::scope(|s| {
            let waiter = s.spawn(|| {
                drop(gil.acquire());
                asked.elapsed()
            });
            // The holder runs "bytecode" and checks for a drop request between steps.
            while !waiter.is_finished() {
                held.maybe_switch();
                thread::sleep(Duration::from_millis(1));
            }
            let waited = waiter.join().unwrap();
            assert!(waited >= Duration::from_millis(20), "a whole interval first: {waited:?}");
        });
        assert_eq!(gil.switches.lock().0, 3, "main, the waiter, main again");
        let contention = gil.take_contention();
        assert_eq!((contention.drops, contention.handed_over), (1, 1), "asked once, handed over");
    }

    #[test]
    fn no_thread_ever_holds_the_gil_while_another_does() {
        let gil = Gil {
            timeline: Some(timeline::Timeline::start()),
            ..Gil::new(Duration::from_millis(1), true)
        };
        assert_eq!(cube_sum_on_threads(2_000_000, 2, Some(&gil)), cube_sum_closed_form(2_000_000));
        let holds = gil.timeline.as_ref().unwrap().holds();
        let threads: std::collections::HashSet<_> = holds.iter().map(|h| h.thread).collect();
        assert_eq!(threads.len(), 2, "both threads held it");
        assert_eq!(timeline::longest_overlap(&holds), Duration::ZERO);
    }

    /// A request left behind by a waiter that then got the GIL the ordinary way (its holder
    /// finished) is cleared when it takes it, as CPython's take_gil does: otherwise the new
    /// holder would drop the GIL and wait for a switch that no thread is left to make.
    #[test]
    fn taking_the_gil_clears_a_drop_request_meant_for_the_last_holder() {
        // Unfair, so that honouring the stale request would not wait for a switch forever.
        let gil = Gil::new(Duration::from_millis(1), false);
        gil.drop_request.store(true, Ordering::Relaxed);
        let mut held = gil.acquire();
        held.maybe_switch();
        assert_eq!(gil.take_contention().drops, 0, "no request left to honour");
    }

    #[test]
    fn the_size_shrinks_for_python_only_when_none_is_given() {
        let at = |size, vs_python| {
            let w = Workload::new(size, vs_python);
            (w.size, w.sized_for_python)
        };
        assert_eq!(at(None, false), (DEFAULT_SIZE, false));
        assert_eq!(at(None, true), (SIZE_FOR_PYTHON, true));
        assert_eq!(at(Some(1000), true), (1000, false));
    }

    /// The sentences about parking_lot's unlocks describe the version this workspace builds.
    #[test]
    fn the_parking_lot_described_is_the_one_in_cargo_lock() {
        let lock = include_str!("../../Cargo.lock");
        let entry = lock.split("[[package]]").find(|p| p.contains("name = \"parking_lot\"\n"));
        let entry = entry.expect("parking_lot in Cargo.lock");
        assert!(entry.contains("version = \"0.13."), "{entry}");
    }
}

//! Notebook section 2.c, "Global Interpreter Lock (GIL)", which the notebook explains in prose
//! only. Rust has no GIL, so this crate builds one the way CPython's works - a lock a thread
//! must hold to run its "bytecode"; a thread waiting for it waits one switch interval, then asks
//! the holder to drop it, and the holder hands it over - and measures what it does to
//! CPU-bound and to I/O-bound threads.
//!
//! Run: `cargo run -p gil` (options: `--size`, `--threads`, `--switch-interval-ms`, `--runs`;
//! `--svg gil.svg` draws the measurements, and who held the GIL when in gil-timeline.svg).

mod report;

use std::hint::black_box;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use parking_lot::{Mutex, MutexGuard};
use timing::chart::Figure;
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

fn main() {
    let args = cli::parse::<Args>();
    let cores = timing::machine::cores() as u64;
    let threads = args.threads.unwrap_or(cores.max(2));
    let size = args.size.unwrap_or(if args.timed.python.enabled { 5_000_000 } else { 200_000_000 });
    let runs = args.timed.runs.get();
    let gil = Gil::new(Duration::from_millis(args.switch_interval_ms), true);
    let picture = args.timed.svg.open();
    // `--svg gil.svg` also draws the holds, as gil-timeline.svg beside it.
    let timeline_picture = picture.as_ref().map(report::timeline_picture);
    let mut figure = Figure::new("gil: threads with and without a (simulated) GIL");

    say!(
        "== 2.c The GIL, simulated: {} on {}, switch interval {} ms",
        timing::plural(threads, "thread"),
        timing::plural(cores, "core"),
        args.switch_interval_ms
    );
    let cpu = cpu_bound(&gil, size, threads, runs, &mut figure);
    report::fairness(gil.interval, cpu.fair_wait, cpu.unfair_wait);
    say!();
    let io = io_bound(&gil, threads, runs, &mut figure);
    say!();
    let convoy = convoy_effect(&gil);
    report::convoy(gil.interval, &convoy);
    say!();
    if let Some(picture) = timeline_picture {
        report::timeline(gil.interval, threads, picture);
        say!();
    }
    report::conclusion(&cpu, io, threads, cores);
    say!();
    report::free_threading_and_subinterpreters();
    if let Some(twin) = timing::twin!(args.timed.python) {
        say!();
        report::vs_python(size, threads, runs, &cpu, &twin, &mut figure);
    }
    if let Some(picture) = picture {
        figure.save(picture);
    }
}

/// What the CPU-bound rows measured.
pub struct CpuBound {
    sequential: Stats,
    free: Stats,
    under_gil: Stats,
    /// The longest any thread waited for the fair GIL, and for the unfair one.
    fair_wait: Duration,
    unfair_wait: Duration,
}

/// The cube sum of 0..size, sequential and split among threads, free and under the GIL (fair,
/// as CPython hands it over, and unfair). Each row is printed as soon as it is measured.
fn cpu_bound(gil: &Gil, size: u64, threads: u64, runs: usize, figure: &mut Figure) -> CpuBound {
    let warmup = timing::after_warmup(runs);
    say!("CPU-bound: the cube sum of 0..{size} ({warmup})");
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
    gil.take_longest_wait();
    let under_gil = row(format!("{threads_text} under the GIL"), Some(gil));
    let fair_wait = gil.take_longest_wait();
    let unfair_gil = Gil::new(gil.interval, false);
    row(format!("{threads_text}, unfair GIL"), Some(&unfair_gil));
    let unfair_wait = unfair_gil.take_longest_wait();
    say!("verified: every sum equals (n(n-1)/2)^2 = {expected}");
    CpuBound { sequential, free, under_gil, fair_wait, unfair_wait }
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

// ---- the simulated GIL ----

/// One global lock, held while running "bytecode", as CPython's `ceval_gil.c` has it: a thread
/// that wants it waits one switch interval at a time, and when a whole interval passes with no
/// switch it sets a drop request; the holder checks for it between bytecodes, drops the GIL and
/// - fairly - hands it to the waiter (CPython's `FORCE_SWITCHING`), then waits its turn again.
struct Gil {
    lock: Mutex<()>,
    interval: Duration,
    /// Hand the lock to a waiting thread (CPython's way since 3.2), or just unlock, so that the
    /// dropping thread, already running, usually takes it back first (the old GIL's way).
    fair: bool,
    /// CPython's `gil_drop_request`: a thread has waited a whole interval.
    drop_request: AtomicBool,
    /// CPython's `switch_number` and `last_holder`: how many times the GIL changed threads,
    /// and who held it last; `switched` wakes a thread waiting for a switch.
    switches: Mutex<(u64, Option<thread::ThreadId>)>,
    switched: parking_lot::Condvar,
    /// The longest any thread has waited to get the GIL, since it was last read.
    longest_wait: Mutex<Duration>,
    /// Where each hold is written down, for `--svg`'s timeline (none while timing).
    timeline: Option<report::Timeline>,
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
            longest_wait: Mutex::new(Duration::ZERO),
            timeline: None,
        }
    }

    fn acquire(&self) -> Held<'_> {
        Held { gil: self, guard: Some(self.take()), since: Instant::now() }
    }

    /// CPython's `take_gil`: wait for the GIL one interval at a time; after an interval in
    /// which it did not change threads, ask its holder to drop it.
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
        let mut switches = self.switches.lock();
        let me = thread::current().id();
        if switches.1 != Some(me) {
            *switches = (switches.0 + 1, Some(me));
            self.switched.notify_all();
        }
        drop(switches);
        let waited = asked.elapsed();
        let mut longest = self.longest_wait.lock();
        *longest = (*longest).max(waited);
        guard
    }

    /// The longest wait since the last call, and start counting afresh.
    fn take_longest_wait(&self) -> Duration {
        std::mem::take(&mut *self.longest_wait.lock())
    }
}

impl Held<'_> {
    /// CPython's eval-breaker check between bytecodes: when a waiting thread has asked, drop
    /// the GIL and wait for it again like anyone else. Fairly, first wait until another thread
    /// has taken it (CPython's `FORCE_SWITCHING`), so that the dropping thread, still running,
    /// cannot win it straight back; unfairly, just unlock.
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

// ---- helpers ----

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
    }

    #[test]
    fn no_thread_ever_holds_the_gil_while_another_does() {
        let gil = Gil {
            timeline: Some(report::Timeline::start()),
            ..Gil::new(Duration::from_millis(1), true)
        };
        assert_eq!(cube_sum_on_threads(2_000_000, 2, Some(&gil)), cube_sum_closed_form(2_000_000));
        let holds = gil.timeline.as_ref().unwrap().holds();
        let threads: std::collections::HashSet<_> = holds.iter().map(|h| h.thread).collect();
        assert_eq!(threads.len(), 2, "both threads held it");
        assert_eq!(report::longest_overlap(&holds), Duration::ZERO);
    }
}

//! Notebook section 2.c, "Global Interpreter Lock (GIL)", which the notebook explains in prose
//! only. Rust has no GIL, so this crate builds one - a global lock a thread must hold to run its
//! "bytecode", handed to a waiting thread every switch interval as CPython does - and measures
//! what it does to CPU-bound and to I/O-bound threads.
//!
//! Run: `cargo run -p gil` (options: `--size`, `--threads`, `--switch-interval-ms`, `--runs`).

use std::hint::black_box;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use parking_lot::{Mutex, MutexGuard};
use timing::{Ratio, Stats, cli, say};

/// Section 2.c of the notebook: what a global interpreter lock does to threads.
#[derive(Parser)]
#[command(about, long_about = None)]
struct Args {
    /// Elements of the CPU-bound cube sum, shared out among the threads (at most 6x10^9, where
    /// the sum still fits u128) [default: 200000000; 5000000 with --vs-python, which CPython
    /// sums in about a second].
    #[arg(long, value_parser = cli::up_to::<6_000_000_000>, allow_hyphen_values = true)]
    size: Option<u64>,
    /// Threads [default: the number of cores, at least 2].
    #[arg(long, value_parser = cli::up_to::<64>, allow_hyphen_values = true)]
    threads: Option<u64>,
    /// How long a thread may hold the GIL while others wait (CPython: sys.getswitchinterval(),
    /// 5 ms).
    #[arg(long, default_value_t = 5, value_parser = cli::up_to::<1000>, allow_hyphen_values = true)]
    switch_interval_ms: u64,
    /// Timed runs of each mode, after one warm-up run.
    #[arg(long, default_value_t = 5, value_parser = cli::runs, allow_hyphen_values = true)]
    runs: usize,
    /// Also run a Python twin of the CPU-bound threads under CPython's real GIL (python3).
    #[arg(long)]
    vs_python: bool,
}

/// The stand-in for one blocking I/O call (a sleep), and how many each thread makes.
const IO_WAIT: Duration = Duration::from_millis(10);
const IO_REQUESTS: u32 = 10;

fn main() {
    let args = cli::parse::<Args>();
    let cores = thread::available_parallelism().map_or(2, usize::from) as u64;
    let threads = args.threads.unwrap_or(cores.max(2));
    let gil = Gil::new(Duration::from_millis(args.switch_interval_ms), true);

    say!(
        "== 2.c The GIL, simulated: {threads} threads on {cores} cores, switch interval {} ms",
        args.switch_interval_ms
    );
    let size = args.size.unwrap_or(if args.vs_python { 5_000_000 } else { 200_000_000 });
    let [sequential, free, under_gil] = cpu_bound(&gil, size, threads, args.runs);
    say!();
    let io_speedup = io_bound(&gil, threads, args.runs);
    say!();
    convoy_effect(&gil);
    say!();
    conclusion(free.speedup_over(&sequential), under_gil.speedup_over(&sequential), io_speedup);
    if args.vs_python {
        say!();
        vs_python(size, threads, args.runs, [&sequential, &free, &under_gil]);
    }
}

/// What the three measurements say, with the numbers of this run.
fn conclusion(free: Ratio, under_gil: Ratio, io: Ratio) {
    say!(
        "Conclusion: CPU-bound threads gain {:.2}x without a GIL and {:.2}x with one - the",
        free.0,
        under_gil.0
    );
    say!(
        "  notebook's 527 ms against 542 ms. Threads that wait on I/O release the GIL and overlap"
    );
    say!(
        "  ({:.2}x), which is why Python threads still help for I/O. Rust has no GIL: its threads",
        io.0
    );
    say!("  are the free ones above, and the compiler, not a global lock, keeps shared data safe.");
}

/// The same CPU-bound threads in CPython, under its real GIL, beside the simulated one.
fn vs_python(size: u64, threads: u64, runs: usize, [sequential, free, under_gil]: [&Stats; 3]) {
    let twin = include_str!("../python/twin.py");
    let args = [size.to_string(), runs.to_string(), threads.to_string()];
    let rust = [("sequential", sequential), ("simulated GIL threads", under_gil)];
    let python = timing::python::compare(&timing::python::Twin::plain(twin), &args, &rust)
        .unwrap_or_else(|e| cli::fail(e));
    if let Some([python_sequential, python_threads]) = python.as_deref() {
        say!(
            "{threads} threads against one: Rust free {}, Rust under the simulated GIL {},",
            free.speedup_over(sequential),
            under_gil.speedup_over(sequential)
        );
        say!(
            "  CPython under its real GIL {}",
            python_threads.stats.speedup_over(&python_sequential.stats)
        );
    }
}

/// The cube sum of 0..size, sequential and split among threads, free and under the GIL.
fn cpu_bound(gil: &Gil, size: u64, threads: u64, runs: usize) -> [Stats; 3] {
    say!("CPU-bound: the cube sum of 0..{size} ({runs} runs after a warm-up)");
    let expected = cube_sum_closed_form(size);
    let time = |label: &str, gil: Option<&Gil>, threads: u64| -> Stats {
        let (sum, stats) = timing::measure(runs, || cube_sum_on_threads(size, threads, gil));
        assert_eq!(sum, expected, "{label}: wrong sum");
        stats
    };
    let sequential = time("sequential", None, 1);
    let free = time("free threads", None, threads);
    gil.take_longest_wait();
    let locked = time("GIL threads", Some(gil), threads);
    let fair_wait = gil.take_longest_wait();
    let unfair_gil = Gil::new(gil.interval, false);
    let unfair = time("unfair GIL threads", Some(&unfair_gil), threads);
    let unfair_wait = unfair_gil.take_longest_wait();
    say!("{}  (baseline)", sequential.line("sequential, one thread"));
    say!(
        "{}  {}",
        free.line(&format!("{threads} free threads, no lock")),
        free.speedup_over(&sequential)
    );
    say!(
        "{}  {}",
        locked.line(&format!("{threads} threads under the GIL")),
        locked.speedup_over(&sequential)
    );
    say!(
        "{}  {}",
        unfair.line(&format!("{threads} threads, unfair GIL")),
        unfair.speedup_over(&sequential)
    );
    say!("verified: every sum equals (n(n-1)/2)^2 = {expected}");
    say!(
        "Under the GIL only one thread runs at a time; every {} ms the holder hands the lock",
        gil.interval.as_millis()
    );
    say!(
        "  to a waiting thread. Longest wait for the GIL: {} with that fair hand-off, {} when",
        timing::human(fair_wait),
        timing::human(unfair_wait)
    );
    say!("  the holder merely unlocks and relocks - it usually wins the race and takes it back.");
    [sequential, free, locked]
}

/// Threads that mostly wait: each request does a little work under the GIL, then waits for
/// "I/O". Releasing the GIL while waiting is what lets the waits overlap.
fn io_bound(gil: &Gil, threads: u64, runs: usize) -> Ratio {
    say!(
        "I/O-bound: {threads} threads x {IO_REQUESTS} requests, each waiting {} ms",
        IO_WAIT.as_millis()
    );
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
    say!("{}  (baseline)", sequential.line("sequential, one thread"));
    say!("{}  {}", released.line("GIL released while waiting"), released.speedup_over(&sequential));
    say!("{}  {}", held.line("GIL held while waiting"), held.speedup_over(&sequential));
    say!("CPython releases the GIL around blocking calls; code that holds it while waiting");
    say!("  (a C extension that forgets to) makes every other thread wait too.");
    released.speedup_over(&sequential)
}

/// The convoy effect: an I/O thread next to a CPU-bound one. Each time its wait ends it needs
/// the GIL back, and the CPU-bound thread gives it up only at the next switch interval.
fn convoy_effect(gil: &Gil) {
    let requests = 20;
    let alone = timing::time_call(|| io_requests(gil, requests, true)).1;
    let stop = AtomicBool::new(false);
    let beside_cpu = thread::scope(|s| {
        s.spawn(|| {
            let mut guard = gil.acquire();
            let mut since = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                black_box(cube_sum(0..10_000));
                gil.maybe_switch(&mut guard, &mut since);
            }
        });
        thread::sleep(gil.interval); // let the CPU-bound thread take the GIL first
        let took = timing::time_call(|| io_requests(gil, requests, true)).1;
        stop.store(true, Ordering::Relaxed);
        took
    });
    say!(
        "Convoy effect: {requests} requests of {} ms wait each, by one I/O thread",
        IO_WAIT.as_millis()
    );
    say!("  alone:                        {}", timing::human(alone));
    let extra = beside_cpu.saturating_sub(alone) / requests;
    say!(
        "  beside a CPU-bound thread:    {}  ({} more per request: each wake-up waits for",
        timing::human(beside_cpu),
        timing::human(extra)
    );
    say!(
        "  the GIL until the CPU-bound thread's switch interval, {} ms, runs out)",
        gil.interval.as_millis()
    );
}

// ---- the simulated GIL ----

/// One global lock, held while running "bytecode", and the switch interval after which the
/// holder must let a waiting thread in.
struct Gil {
    lock: Mutex<()>,
    interval: Duration,
    /// Hand the lock to a waiting thread (CPython's way), or just unlock and relock.
    fair: bool,
    /// The longest any thread has waited to get the GIL, since it was last read.
    longest_wait: Mutex<Duration>,
}

impl Gil {
    fn new(interval: Duration, fair: bool) -> Gil {
        Gil { lock: Mutex::new(()), interval, fair, longest_wait: Mutex::new(Duration::ZERO) }
    }

    fn acquire(&self) -> MutexGuard<'_, ()> {
        let asked = Instant::now();
        let guard = self.lock.lock();
        self.record_wait(asked.elapsed());
        guard
    }

    /// CPython's eval-loop check: once the interval has passed, let a waiting thread in.
    /// Fairly, `bump` hands the lock straight to a waiter (a no-op when nobody waits);
    /// unfairly, the holder unlocks and relocks, and usually wins the race to relock.
    fn maybe_switch(&self, guard: &mut MutexGuard<'_, ()>, since: &mut Instant) {
        if since.elapsed() >= self.interval {
            let asked = Instant::now();
            if self.fair {
                MutexGuard::bump(guard);
            } else {
                MutexGuard::unlocked(guard, || {});
            }
            self.record_wait(asked.elapsed());
            *since = Instant::now();
        }
    }

    fn record_wait(&self, waited: Duration) {
        let mut longest = self.longest_wait.lock();
        *longest = (*longest).max(waited);
    }

    /// The longest wait since the last call, and start counting afresh.
    fn take_longest_wait(&self) -> Duration {
        std::mem::take(&mut *self.longest_wait.lock())
    }
}

/// The cube sum of `range`, in small steps like bytecode; under a GIL when one is given.
fn cube_sum_under(range: Range<u64>, gil: Option<&Gil>) -> u128 {
    const STEP: u64 = 4096;
    let Some(gil) = gil else { return cube_sum(range) };
    let mut guard = gil.acquire();
    let mut since = Instant::now();
    let mut sum = 0;
    let mut start = range.start;
    while start < range.end {
        let end = range.end.min(start + STEP);
        sum += cube_sum(start..end);
        gil.maybe_switch(&mut guard, &mut since);
        start = end;
    }
    sum
}

/// `requests` times: a little work under the GIL, then a wait, with the GIL released (as
/// CPython does around blocking I/O) or held. Returns how many requests it served.
fn io_requests(gil: &Gil, requests: u32, release_while_waiting: bool) -> u32 {
    for _ in 0..requests {
        let mut guard = gil.acquire();
        black_box(cube_sum(0..1_000)); // parse the request
        if release_while_waiting {
            MutexGuard::unlocked_fair(&mut guard, || thread::sleep(IO_WAIT));
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

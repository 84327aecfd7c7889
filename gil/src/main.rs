//! Notebook section 2.c, "Global Interpreter Lock (GIL)", which the notebook explains in prose
//! only. Rust has no GIL, so this crate builds one - a global lock a thread must hold to run its
//! "bytecode", handed to a waiting thread every switch interval as CPython does - and measures
//! what it does to CPU-bound and to I/O-bound threads.
//!
//! Run: `cargo run -p gil` (options: `--size`, `--threads`, `--switch-interval-ms`, `--runs`;
//! `--svg gil.svg` draws the measurements, and who held the GIL when in gil-timeline.svg).

use std::hint::black_box;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use parking_lot::{Mutex, MutexGuard};
use timing::chart::Figure;
use timing::{Ratio, Stats, cli, say};

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
    /// How long a thread may hold the GIL while others wait (CPython: sys.getswitchinterval(),
    /// 5 ms).
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
    let cores = thread::available_parallelism().map_or(1, usize::from) as u64;
    let threads = args.threads.unwrap_or(cores.max(2));
    let gil = Gil::new(Duration::from_millis(args.switch_interval_ms), true);

    let picture = args.timed.svg.open();
    // `--svg gil.svg` also draws the holds, as gil-timeline.svg beside it.
    let timeline_picture = picture.as_ref().map(|p| {
        let stem = p.path().file_stem().unwrap_or_default().to_string_lossy();
        let path = p.path().with_file_name(format!("{stem}-timeline.svg"));
        timing::chart::Picture::create(&path)
            .unwrap_or_else(|e| cli::usage_error(format!("--svg: {e}")))
    });
    let threads_text = timing::plural(threads, "thread");
    let cores_text = timing::plural(cores, "core");
    say!(
        "== 2.c The GIL, simulated: {threads_text} on {cores_text}, switch interval {} ms",
        args.switch_interval_ms
    );
    let size = args.size.unwrap_or(if args.timed.python.enabled { 5_000_000 } else { 200_000_000 });
    let mut figure = Figure::new("gil: threads with and without a (simulated) GIL");
    let runs = args.timed.runs.get();
    let [sequential, free, under_gil] = cpu_bound(&gil, size, threads, runs, &mut figure);
    say!();
    let io_speedup = io_bound(&gil, threads, args.timed.runs.get(), &mut figure);
    say!();
    convoy_effect(&gil);
    say!();
    if let Some(picture) = timeline_picture {
        timeline(gil.interval, threads, picture);
        say!();
    }
    let measured =
        [free.speedup_over(&sequential), under_gil.speedup_over(&sequential), io_speedup];
    for line in conclusion(measured, threads, cores) {
        say!("{line}");
    }
    if args.timed.python.enabled {
        say!();
        vs_python(
            size,
            threads,
            args.timed.runs.get(),
            [&sequential, &free, &under_gil],
            args.timed.python.interpreter.as_deref(),
            &mut figure,
        );
    }
    if let Some(picture) = picture {
        figure.save(picture);
    }
    say!();
    say!(
        "From Python itself: `cargo run -p numerics -- --vs-python` times two Python threads calling"
    );
    say!(
        "Rust that releases the GIL (hpc_rs_numerics.three_sums) against two running the loop in Python."
    );
}

/// What the three measurements say, chosen from this run's numbers: free threads, threads
/// under the GIL, and I/O-bound threads that release it.
fn conclusion([free, under_gil, io]: [Ratio; 3], threads: u64, cores: u64) -> Vec<String> {
    let usable = threads.min(cores) as f64;
    let mut lines = Vec::new();
    if free.0 >= 0.8 * usable {
        lines.push(format!(
            "Conclusion: free CPU-bound threads scale ({:.2}x on {});",
            free.0,
            timing::plural(threads.min(cores), "core")
        ));
    } else {
        lines.push(format!(
            "Conclusion: free CPU-bound threads gained {:.2}x, short of the {usable:.0}x the cores allow (another",
            free.0
        ));
        lines.push("  program using them, or a size too small to pay for the threads);".to_owned());
    }
    if under_gil.0 <= 1.15 {
        lines.push(format!(
            "  under the GIL they gain nothing ({:.2}x), as in the notebook's 527 ms against 542 ms.",
            under_gil.0
        ));
    } else {
        lines.push(format!(
            "  under the GIL {:.2}x, which one lock holder at a time should not allow: the sequential",
            under_gil.0
        ));
        lines.push("  runs were likely slowed. Re-run to compare: `cargo run -p gil`.".to_owned());
    }
    if io.0 >= 0.8 * threads as f64 {
        lines.push(format!(
            "  Threads that wait on I/O release the GIL and overlap ({:.2}x), which is why Python",
            io.0
        ));
        lines.push("  threads still help for I/O.".to_owned());
    } else {
        lines.push(format!(
            "  Threads that release the GIL while waiting overlapped less than expected ({:.2}x of {threads}x):",
            io.0
        ));
        lines.push("  their wake-ups were late (a busy machine). Re-run to compare.".to_owned());
    }
    lines.push(
        "  Rust has no GIL: its threads are the free ones above, and the compiler, not a global"
            .to_owned(),
    );
    lines.push("  lock, keeps shared data safe.".to_owned());
    lines
}

/// The same CPU-bound threads in CPython, under its real GIL, beside the simulated one.
fn vs_python(
    size: u64,
    threads: u64,
    runs: usize,
    [sequential, free, under_gil]: [&Stats; 3],
    python: Option<&std::path::Path>,
    figure: &mut Figure,
) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/twin.py");
    let twin = timing::python::Twin::plain(script, python);
    let args = [size.to_string(), runs.to_string(), threads.to_string()];
    let rust = [("sequential", sequential), ("simulated GIL threads", under_gil)];
    let Some((_, [python_sequential, python_threads])) =
        timing::python::compare_each(&twin, &args, &rust, figure)
    else {
        return; // no Python here: said on stderr
    };
    let threads_text = timing::plural(threads, "thread");
    say!(
        "{threads_text} against one: Rust free {}, Rust under the simulated GIL {},",
        free.speedup_over(sequential),
        under_gil.speedup_over(sequential)
    );
    say!(
        "  CPython under its real GIL {}",
        python_threads.stats.speedup_over(&python_sequential.stats)
    );
    if sequential.median < Duration::from_millis(1) {
        let threads_text = timing::plural(threads, "thread");
        say!(
            "At --size {size} the whole sum takes {} in Rust: starting {threads_text} (tens of µs) weighs",
            timing::human(sequential.median)
        );
        say!(
            "  as much as the work, so the thread ratios measure start-up, not the GIL. Compare at the"
        );
        say!("  default size: `cargo run -p gil -- --vs-python`.");
    }
}

/// The cube sum of 0..size, sequential and split among threads, free and under the GIL. Each
/// row is printed as soon as it is measured.
fn cpu_bound(gil: &Gil, size: u64, threads: u64, runs: usize, figure: &mut Figure) -> [Stats; 3] {
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
    let free = row(format!("{threads} free threads, no lock"), None);
    gil.take_longest_wait();
    let threads_text = timing::plural(threads, "thread");
    let locked = row(format!("{threads_text} under the GIL"), Some(gil));
    let fair_wait = gil.take_longest_wait();
    let unfair_gil = Gil::new(gil.interval, false);
    row(format!("{threads_text}, unfair GIL"), Some(&unfair_gil));
    let unfair_wait = unfair_gil.take_longest_wait();
    say!("verified: every sum equals (n(n-1)/2)^2 = {expected}");
    for line in fairness(gil.interval, fair_wait, unfair_wait) {
        say!("{line}");
    }
    [sequential, free, locked]
}

/// Why the hand-off must be fair, from the longest waits this run measured.
fn fairness(interval: Duration, fair: Duration, unfair: Duration) -> Vec<String> {
    let (fair_text, unfair_text) = (timing::human(fair), timing::human(unfair));
    let mut lines = vec![
        format!(
            "Under the GIL only one thread runs at a time; every {} ms the holder hands the lock",
            interval.as_millis()
        ),
        format!(
            "  to a waiting thread. Longest wait for the GIL: {fair_text} with that fair hand-off,"
        ),
        format!("  {unfair_text} when the holder merely unlocks and relocks."),
    ];
    if unfair > fair * 2 {
        lines.push(
            "  Unlocking and relocking lets the holder win the race and take it back: the waiting"
                .to_owned(),
        );
        lines.push(
            "  thread starves, which is why CPython hands the GIL over (a fair hand-off)."
                .to_owned(),
        );
    } else {
        lines.push(
            "  On this run the unfair lock did not starve the waiter for long: the holder does not"
                .to_owned(),
        );
        lines.push(
            "  always win the race to relock, only often (the OS decides who wakes first). Re-run"
                .to_owned(),
        );
        lines.push("  to compare: `cargo run -p gil`.".to_owned());
    }
    lines
}

/// Threads that mostly wait: each request does a little work under the GIL, then waits for
/// "I/O". Releasing the GIL while waiting is what lets the waits overlap.
fn io_bound(gil: &Gil, threads: u64, runs: usize, figure: &mut Figure) -> Ratio {
    let threads_text = timing::plural(threads, "thread");
    say!(
        "I/O-bound: {threads_text} x {IO_REQUESTS} requests, each waiting {} ms",
        IO_WAIT.as_millis()
    );
    figure.panel(format!(
        "I/O-bound: {threads_text} x {IO_REQUESTS} requests, each waiting {} ms",
        IO_WAIT.as_millis()
    ));
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
    say!("{}  {}", released.line("GIL released while waiting"), released.speedup_over(&sequential));
    say!("{}  {}", held.line("GIL held while waiting"), held.speedup_over(&sequential));
    figure.baseline("sequential, one thread", &sequential);
    figure.bar("GIL released while waiting", &released);
    figure.bar("GIL held while waiting", &held);
    say!("CPython releases the GIL around blocking calls; code that holds it while waiting");
    say!("  (a C extension that forgets to) makes every other thread wait too.");
    released.speedup_over(&sequential)
}

/// The convoy effect: an I/O thread next to a CPU-bound one. Each time its wait ends it needs
/// the GIL back, and the CPU-bound thread gives it up only at the next switch interval.
fn convoy_effect(gil: &Gil) {
    let requests = 20;
    let alone = timing::time_call(|| io_requests(gil, requests, true)).1;
    let beside_cpu = io_beside_cpu(gil, requests);
    say!(
        "Convoy effect: {requests} requests of {} ms wait each, by one I/O thread",
        IO_WAIT.as_millis()
    );
    say!("  alone:                        {}", timing::human(alone));
    let extra = beside_cpu.saturating_sub(alone) / requests;
    say!(
        "  beside a CPU-bound thread:    {}  ({} more per request)",
        timing::human(beside_cpu),
        timing::human(extra)
    );
    if extra >= gil.interval / 4 {
        say!("  Each wake-up waits for the GIL until the CPU-bound thread's switch interval,");
        say!("  {} ms, runs out: I/O threads crawl beside a busy one.", gil.interval.as_millis());
    } else {
        say!(
            "  Less than a quarter of the {} ms switch interval: on this run the I/O thread mostly",
            gil.interval.as_millis()
        );
        say!("  got the GIL back at once. Re-run to compare: `cargo run -p gil`.");
    }
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

// ---- who holds the GIL, when: the timeline (--svg) ----

/// One short run of each case with every hold written down, drawn as a timeline beside the
/// measurements' chart (`FILE` becomes `FILE-timeline.svg`), and what it shows, from the holds:
/// under the GIL no two holds overlap (checked); free, how much of the time both threads ran.
fn timeline(interval: Duration, threads: u64, picture: timing::chart::Picture) {
    const SIZE: u64 = 8_000_000;
    let free = Timeline::start();
    on_threads(threads, |i| {
        let from = Instant::now();
        let sum = cube_sum(SIZE * i / threads..SIZE * (i + 1) / threads);
        free.record(from, Instant::now());
        sum
    });
    let cpu = Gil::recording(interval);
    assert_eq!(cube_sum_on_threads(SIZE, threads, Some(&cpu)), cube_sum_closed_form(SIZE));
    let io = Gil::recording(interval);
    on_threads(threads, |_| io_requests(&io, 4, true));
    let convoy = Gil::recording(interval);
    io_beside_cpu(&convoy, 4);
    let cases = [
        ("free threads, no GIL: each thread's run", free.holds()),
        ("CPU-bound under the GIL: the holds take turns, switch by switch", held(&cpu)),
        ("I/O-bound under the GIL: held only between waits", held(&io)),
        ("the convoy: an I/O thread beside a CPU-bound one", held(&convoy)),
    ];
    for (case, holds) in &cases[1..] {
        assert_eq!(
            longest_overlap(holds),
            Duration::ZERO,
            "{case}: two threads held the GIL at once"
        );
    }
    let both = overlap_share(&cases[0].1);
    say!("Who holds the GIL, when ({}):", picture.path().display());
    say!("  under the GIL the longest overlap of two holds was 0 ns in every case (checked):");
    say!(
        "  one thread at a time; free, the threads ran at once for {:.0}% of the time.",
        both * 100.0
    );
    let panels: Vec<Lanes> = cases.iter().map(|(case, holds)| lanes(case, holds)).collect();
    picture.write(&timeline_svg("gil: who holds the GIL, when", &panels));
}

fn held(gil: &Gil) -> Vec<Hold> {
    gil.timeline.as_ref().expect("a recording GIL").holds()
}

/// The longest time two holds of different threads overlapped (holds sorted by start).
fn longest_overlap(holds: &[Hold]) -> Duration {
    let mut longest = Duration::ZERO;
    for (i, a) in holds.iter().enumerate() {
        for b in holds[i + 1..].iter().take_while(|b| b.start < a.end) {
            if b.thread != a.thread {
                longest = longest.max(a.end.min(b.end) - b.start);
            }
        }
    }
    longest
}

/// The share of the span from the first start to the last end during which two or more
/// threads ran at once.
fn overlap_share(holds: &[Hold]) -> f64 {
    let mut edges: Vec<(Duration, i32)> =
        holds.iter().flat_map(|h| [(h.start, 1), (h.end, -1)]).collect();
    edges.sort();
    let (mut running, mut together, mut last) = (0, Duration::ZERO, Duration::ZERO);
    for (at, change) in edges {
        if running >= 2 {
            together += at - last;
        }
        running += change;
        last = at;
    }
    let span = holds.iter().map(|h| h.end).max().unwrap_or_default()
        - holds.iter().map(|h| h.start).min().unwrap_or_default();
    together.as_secs_f64() / span.as_secs_f64().max(1e-12)
}

/// A case's holds as the timeline's rows: one a thread, in the order they first held it.
fn lanes(case: &str, holds: &[Hold]) -> Lanes {
    let mut threads: Vec<thread::ThreadId> = Vec::new();
    for hold in holds {
        if !threads.contains(&hold.thread) {
            threads.push(hold.thread);
        }
    }
    let rows = threads
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let spans =
                holds.iter().filter(|h| h.thread == *id).map(|h| (h.start, h.end)).collect();
            (format!("thread {}", i + 1), spans)
        })
        .collect();
    Lanes { title: case.to_owned(), rows }
}

/// A timeline's group of rows: what ran when, one row a thread.
struct Lanes {
    /// What the rows show.
    title: String,
    /// Each row's name and its busy spans, from the start of the case.
    rows: Vec<(String, Vec<(Duration, Duration)>)>,
}

/// The SVG text of a timeline: a panel each group, its rows one under the other on the same
/// time axis (ms), each span a bar - drawn with `timing::chart`'s canvas and rows.
fn timeline_svg(title: &str, groups: &[Lanes]) -> String {
    use plotters::coord::ranged1d::SegmentValue;
    use plotters::prelude::*;
    use timing::chart::{ROW, RUST, Rows, canvas, panel_height, rows_chart};
    let heights: Vec<u32> = groups.iter().map(|g| panel_height(g.rows.len(), 2 * ROW)).collect();
    let caption = timing::chart::caption("one run of each case");
    canvas(title, Some(&caption), &heights, |_, areas| {
        for (area, group) in areas.iter().zip(groups) {
            let n = group.rows.len();
            let end = group
                .rows
                .iter()
                .flat_map(|(_, spans)| spans.iter().map(|s| s.1))
                .max()
                .unwrap_or_default();
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            let names: Vec<String> = group.rows.iter().map(|(name, _)| name.clone()).collect();
            let rows = Rows {
                title: Some(&group.title),
                names: &names,
                x: 0.0..ms(end).max(1e-3),
                x_desc: "time (ms)",
                margins: (120, 40),
            };
            let mut chart = rows_chart(area, &rows)?;
            // A span too short to see (a few microseconds of a 40 ms axis) is drawn 2 pixels
            // wide.
            let plot_width = f64::from(area.dim_in_pixel().0.saturating_sub(180).max(1));
            let narrowest = ms(end) * 2.0 / plot_width;
            for (i, (_, spans)) in group.rows.iter().enumerate() {
                let y = n - 1 - i;
                chart.draw_series(spans.iter().map(|&(from, to)| {
                    let to = ms(to).max(ms(from) + narrowest);
                    let mut bar = Rectangle::new(
                        [(ms(from), SegmentValue::Exact(y)), (to, SegmentValue::Exact(y + 1))],
                        RUST.mix(0.85).filled(),
                    );
                    bar.set_margin(6, 6, 0, 0);
                    bar
                }))?;
            }
        }
        Ok(())
    })
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
    /// Where each hold is written down, for `--svg`'s timeline (none while timing).
    timeline: Option<Timeline>,
}

/// The GIL while a thread holds it: the lock's guard and when this hold began. Dropping it
/// releases the GIL.
struct Held<'a> {
    gil: &'a Gil,
    guard: MutexGuard<'a, ()>,
    since: Instant,
}

impl Gil {
    fn new(interval: Duration, fair: bool) -> Gil {
        let longest_wait = Mutex::new(Duration::ZERO);
        Gil { lock: Mutex::new(()), interval, fair, longest_wait, timeline: None }
    }

    /// A GIL that writes down every hold (thread, start, end).
    fn recording(interval: Duration) -> Gil {
        Gil { timeline: Some(Timeline::start()), ..Gil::new(interval, true) }
    }

    fn acquire(&self) -> Held<'_> {
        let asked = Instant::now();
        let guard = self.lock.lock();
        self.record_wait(asked.elapsed());
        Held { gil: self, guard, since: Instant::now() }
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

impl Held<'_> {
    /// CPython's eval-loop check: once the interval has passed, let a waiting thread in.
    /// Fairly, `bump` hands the lock straight to a waiter (a no-op when nobody waits);
    /// unfairly, the holder unlocks and relocks, and usually wins the race to relock.
    fn maybe_switch(&mut self) {
        if self.since.elapsed() >= self.gil.interval {
            let asked = Instant::now();
            self.end_hold();
            if self.gil.fair {
                MutexGuard::bump(&mut self.guard);
            } else {
                MutexGuard::unlocked(&mut self.guard, || {});
            }
            self.gil.record_wait(asked.elapsed());
            self.since = Instant::now();
        }
    }

    /// Runs `wait` with the GIL released, as CPython does around a blocking call, handing it
    /// to a waiting thread; takes it back after.
    fn released(&mut self, wait: impl FnOnce()) {
        self.end_hold();
        MutexGuard::unlocked_fair(&mut self.guard, wait);
        self.since = Instant::now();
    }

    fn end_hold(&self) {
        if let Some(timeline) = &self.gil.timeline {
            timeline.record(self.since, Instant::now());
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.end_hold();
    }
}

/// Holds written down as they happen: which thread held the GIL (or, free, ran), from when to
/// when.
struct Timeline {
    epoch: Instant,
    holds: Mutex<Vec<Hold>>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Hold {
    thread: thread::ThreadId,
    start: Duration,
    end: Duration,
}

impl Timeline {
    fn start() -> Timeline {
        Timeline { epoch: Instant::now(), holds: Mutex::new(Vec::new()) }
    }

    fn record(&self, from: Instant, to: Instant) {
        let (start, end) = (from - self.epoch, to - self.epoch);
        self.holds.lock().push(Hold { thread: thread::current().id(), start, end });
    }

    fn holds(&self) -> Vec<Hold> {
        let mut holds = self.holds.lock().clone();
        holds.sort_by_key(|h| h.start);
        holds
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
    fn the_conclusion_follows_the_measurement() {
        let expected =
            conclusion([Ratio::exact(1.97), Ratio::exact(0.97), Ratio::exact(2.0)], 2, 2)
                .join("\n");
        assert!(expected.contains("free CPU-bound threads scale (1.97x on 2 cores)"), "{expected}");
        assert!(
            expected.contains("they gain nothing (0.97x)") && expected.contains("overlap (2.00x)")
        );
        let busy =
            conclusion([Ratio::exact(1.1), Ratio::exact(1.4), Ratio::exact(1.2)], 2, 2).join("\n");
        assert!(busy.contains("gained 1.10x, short of the 2x the cores allow"), "{busy}");
        assert!(busy.contains("under the GIL 1.40x, which one lock holder"), "{busy}");
        assert!(busy.contains("overlapped less than expected (1.20x of 2x)"), "{busy}");
    }

    #[test]
    fn overlaps_are_measured_between_threads_only() {
        let ms = Duration::from_millis;
        let other = thread::spawn(|| thread::current().id()).join().unwrap();
        let me = thread::current().id();
        let hold = |thread, start, end| Hold { thread, start: ms(start), end: ms(end) };
        // Taking turns: no overlap; the same thread's adjacent holds do not count.
        let turns = [hold(me, 0, 5), hold(other, 5, 10), hold(me, 10, 12), hold(me, 12, 15)];
        assert_eq!(longest_overlap(&turns), Duration::ZERO);
        assert_eq!(overlap_share(&turns), 0.0);
        // Two threads at once from 2 to 6 ms of 0..8 ms.
        let both = [hold(me, 0, 6), hold(other, 2, 8)];
        assert_eq!(longest_overlap(&both), ms(4));
        assert!((overlap_share(&both) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn a_recording_gil_writes_down_holds_that_never_overlap() {
        let gil = Gil::recording(Duration::from_millis(1));
        assert_eq!(cube_sum_on_threads(2_000_000, 2, Some(&gil)), cube_sum_closed_form(2_000_000));
        let holds = held(&gil);
        let threads: std::collections::HashSet<_> = holds.iter().map(|h| h.thread).collect();
        assert_eq!(threads.len(), 2, "both threads held it");
        assert_eq!(longest_overlap(&holds), Duration::ZERO);
    }

    #[test]
    fn the_fairness_sentence_follows_the_waits() {
        let ms = Duration::from_millis;
        let starved = fairness(ms(5), ms(6), ms(108)).join(" ");
        assert!(
            starved.contains("the waiting   thread starves") || starved.contains("thread starves")
        );
        let close = fairness(ms(5), ms(8), ms(6)).join(" ");
        assert!(close.contains("did not starve the waiter for long"), "{close}");
        assert!(!close.contains("thread starves"), "{close}");
    }
}

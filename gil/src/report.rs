//! What this run's figures say about the GIL - each sentence chosen from the measurements
//! through `timing::verdict` - what the simulation simplifies, what free-threaded CPython and
//! subinterpreters change, CPython's own GIL beside the simulated one, and the timeline of who
//! held the GIL when (`--svg`).

use std::thread;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use timing::chart::{Figure, Picture};
use timing::python::Twin;
use timing::verdict::{Finding, Verdict};
use timing::{cli, human, say};

use crate::{Convoy, CpuBound, Gil, cube_sum, cube_sum_closed_form, cube_sum_on_threads};

/// Why the hand-off must be fair, from the longest waits this run measured.
pub fn fairness(interval: Duration, fair: Duration, unfair: Duration) {
    cli::paragraph("", &fairness_sentence(interval, fair, unfair));
}

fn fairness_sentence(interval: Duration, fair: Duration, unfair: Duration) -> String {
    let said = format!(
        "Under the GIL only one thread runs at a time. A thread that wants it waits {} ms, then asks the holder to drop it; the holder hands it over at its next check. Longest wait for the GIL: {} with that fair hand-off, {} when the holder merely unlocks and waits its turn again.",
        interval.as_millis(),
        human(fair),
        human(unfair)
    );
    if unfair > fair * 2 {
        format!(
            "{said} Merely unlocking lets the running holder win the race to relock: the waiter starves, which is why CPython 3.2's new GIL hands it over."
        )
    } else {
        format!(
            "{said} On this run the unfair lock did not starve the waiter for long: the holder does not always win the race to relock, only often (the OS decides who wakes first). {}",
            timing::verdict::rerun(RERUN)
        )
    }
}

/// What a reader runs to measure a surprising figure again.
const RERUN: &str = "cargo run -p gil";

/// The convoy's figures: how much longer each request took beside a CPU-bound thread, against
/// the switch interval each wake-up should wait.
pub fn convoy(interval: Duration, convoy: &Convoy) {
    say!(
        "Convoy effect: {} requests of {} ms wait each, by one I/O thread",
        convoy.requests,
        crate::IO_WAIT.as_millis()
    );
    say!("  alone:                        {}", human(convoy.alone));
    let extra = convoy.beside_cpu.saturating_sub(convoy.alone) / convoy.requests;
    say!(
        "  beside a CPU-bound thread:    {}  ({} more per request)",
        human(convoy.beside_cpu),
        human(extra)
    );
    cli::paragraph("  ", &convoy_sentence(interval, extra));
}

fn convoy_sentence(interval: Duration, extra: Duration) -> String {
    let waited = Verdict::new(
        "the extra wait per request",
        extra.as_secs_f64() / interval.as_secs_f64(),
        (0.8, 1.3),
        "switch intervals CPython's waiting thread spends before it may ask",
    );
    let simplified = "What the model leaves out: its \"bytecode\" is 4096 additions between checks (CPython checks at calls and loop back-edges), a timed lock stands for CPython's condition variable, and only the GIL is shared (no reference counts, no allocator).";
    match waited.finding() {
        Finding::Within => format!(
            "{}: about a whole switch interval a request, as in CPython - a woken I/O thread waits its interval before it may ask the busy thread to let go, so I/O threads crawl beside a CPU-bound one. {simplified}",
            waited.describe()
        ),
        Finding::Below => waited.surprise(
            &format!("less than a switch interval a request: on this run the I/O thread often found the GIL free or was handed it sooner than CPython would. {simplified}"),
            RERUN,
        ),
        Finding::Above => waited.surprise(
            &format!("more than a switch interval a request: besides its interval each wake-up waited for a core, busy with other work. {simplified}"),
            RERUN,
        ),
    }
}

/// What the three measurements say, each against what it can reach: free threads, threads
/// under the GIL, and I/O-bound threads that release it; then what Rust has instead of a GIL.
pub fn conclusion(cpu: &CpuBound, io_gain: f64, threads: u64, cores: u64) {
    let threads = usize::try_from(threads).expect("at most 64");
    let cores = usize::try_from(cores).unwrap_or(usize::MAX);
    for (i, paragraph) in conclusion_sentences(cpu, io_gain, threads, cores).iter().enumerate() {
        cli::paragraph(if i == 0 { "" } else { "  " }, paragraph);
    }
}

fn conclusion_sentences(cpu: &CpuBound, io_gain: f64, threads: usize, cores: usize) -> Vec<String> {
    let gain = |stats| timing::Stats::speedup_over(stats, &cpu.sequential).0;
    let free = Verdict::threads_on("free CPU-bound threads", gain(&cpu.free), threads, cores);
    let under_gil = Verdict::new(
        "the same threads under the GIL",
        gain(&cpu.under_gil),
        (0.85, 1.03),
        "that one holder at a time allows",
    );
    let io = Verdict::new(
        "I/O-bound threads that release it while waiting",
        io_gain,
        (0.8 * threads as f64, threads as f64),
        format!("expected of {} whose waits overlap", timing::plural(threads, "thread")),
    );
    let mut said = vec![format!("Conclusion: {}.", free.describe())];
    said.push(match under_gil.finding() {
        Finding::Above => under_gil.surprise(
            "more than one lock holder at a time could give, so the sequential runs were likely slowed.",
            RERUN,
        ),
        _ => format!("{}: they gain nothing, as the notebook's CPython did (527 ms against 542 ms, not measured here).", under_gil.describe()),
    });
    said.push(match io.finding() {
        Finding::Below => io.surprise("their wake-ups were late (a busy machine).", RERUN),
        _ => format!("{} - which is why Python threads still help for I/O.", io.describe()),
    });
    said.push(
        "Rust has no GIL: its threads are the free ones above, and its compiler refuses a data race - two threads on the same memory at once, one writing, unsynchronised. The GIL never did that for Python code: it keeps CPython's own state whole (reference counts, a dict mid-update), not your x += 1 or check-then-act. Race conditions and deadlocks remain possible in both (`cargo run -p locks` shows them).".to_owned(),
    );
    said
}

/// What the 2026 Pythons change: no GIL at all on a free-threaded build, a GIL per
/// interpreter with subinterpreters - and what neither changes.
pub fn free_threading_and_subinterpreters() {
    cli::paragraph(
        "",
        "Free-threaded CPython (3.13t, 3.14t; supported since 3.14, PEP 779) has no GIL: its threads are the free ones above. Inside the interpreter, objects get small locks of their own (a dict, a list) and reference counting changes so that threads rarely contend; an extension module that does not declare itself safe turns the GIL back on when imported (PYTHON_GIL=0 keeps it off). Races in your own code remain, as without it. Single-threaded code pays for it: about 5-10% by the 3.14 documentation. Compare here: `cargo run -p gil -- --vs-python --python python3.14t`.",
    );
    cli::paragraph(
        "",
        "Subinterpreters: since 3.12 each interpreter in a process can have a GIL of its own (PEP 684), and 3.14's concurrent.interpreters and InterpreterPoolExecutor (PEP 734) put several to work at once, sharing no Python objects (data crosses by copy or queue): processes' isolation at about threads' cost. `cargo run -p pools -- --vs-python` times them where the Python has them.",
    );
}

// ---- Rust against Python ----

/// The same CPU-bound threads in CPython beside the simulated GIL - or, on a free-threaded
/// build, beside Rust's free threads, since there is no GIL to compare with.
/// `None`, early, where there is no Python to compare with (said on stderr).
pub fn vs_python(
    size: u64,
    threads: u64,
    runs: usize,
    cpu: &CpuBound,
    twin: &Twin,
    figure: &mut Figure,
) -> Option<()> {
    // Which threads to set Python's beside depends on its build: asked before it runs.
    let free_threaded =
        timing::python_env::find(twin.python, &[]).is_ok_and(|p| p.threads_run_at_once());
    let threads_row = if free_threaded {
        ("free threads", &cpu.free)
    } else {
        ("simulated GIL threads", &cpu.under_gil)
    };
    let args = [size.to_string(), runs.to_string(), threads.to_string()];
    let rust = [("sequential", &cpu.sequential), threads_row];
    let (interpreter, [python_sequential, python_threads]) =
        timing::python::compare_each(twin, &args, &rust, figure)?;
    let threads_text = timing::plural(threads, "thread");
    let python_gain = python_threads.stats.speedup_over(&python_sequential.stats);
    say!(
        "{threads_text} against one: Rust free {}, Rust under the simulated GIL {},",
        cpu.free.speedup_over(&cpu.sequential),
        cpu.under_gil.speedup_over(&cpu.sequential)
    );
    let build = if interpreter.threads_run_at_once() {
        "CPython with no GIL (free-threaded)"
    } else {
        "CPython under its real GIL"
    };
    say!("  {build} {python_gain}");
    if cpu.sequential.median < Duration::from_millis(1) {
        cli::paragraph(
            "",
            &format!(
                "At --size {size} the whole sum takes {} in Rust: starting {threads_text} (tens of µs) weighs as much as the work, so the thread ratios measure start-up, not the GIL. Compare at the default size: `cargo run -p gil -- --vs-python`.",
                human(cpu.sequential.median)
            ),
        );
    }
    Some(())
}

// ---- who holds the GIL, when: the timeline (--svg) ----

/// `--svg FILE`'s companion, `FILE-timeline.svg` beside it, checked before any work.
pub fn timeline_picture(chart: &Picture) -> Picture {
    let stem = chart.path().file_stem().unwrap_or_default().to_string_lossy();
    let path = chart.path().with_file_name(format!("{stem}-timeline.svg"));
    Picture::create(&path).unwrap_or_else(|e| cli::usage_error(format!("--svg: {e}")))
}

/// One short run of each case with every hold written down, drawn as a timeline, and what it
/// shows, from the holds: under the GIL no two holds overlap (checked); free, how much of the
/// time both threads ran.
pub fn timeline(interval: Duration, threads: u64, picture: Picture) {
    const SIZE: u64 = 8_000_000;
    let recording = || Gil { timeline: Some(Timeline::start()), ..Gil::new(interval, true) };
    let free = Timeline::start();
    crate::on_threads(threads, |i| {
        let from = Instant::now();
        let sum = cube_sum(SIZE * i / threads..SIZE * (i + 1) / threads);
        free.record(from, Instant::now());
        sum
    });
    let cpu = recording();
    assert_eq!(cube_sum_on_threads(SIZE, threads, Some(&cpu)), cube_sum_closed_form(SIZE));
    let io = recording();
    crate::on_threads(threads, |_| crate::io_requests(&io, 4, true));
    let convoy = recording();
    crate::io_beside_cpu(&convoy, 4);
    let held = |gil: &Gil| gil.timeline.as_ref().expect("a recording GIL").holds();
    let cases = [
        ("free threads, no GIL: each thread's run", free.holds()),
        ("CPU-bound under the GIL: the holds take turns, switch by switch", held(&cpu)),
        ("I/O-bound under the GIL: held only between waits", held(&io)),
        ("the convoy: an I/O thread beside a CPU-bound one", held(&convoy)),
    ];
    for (case, holds) in &cases[1..] {
        let overlap = longest_overlap(holds);
        assert_eq!(overlap, Duration::ZERO, "{case}: two threads held the GIL at once");
    }
    say!("Who holds the GIL, when ({}):", picture.path().display());
    say!("  under the GIL the longest overlap of two holds was 0 ns in every case (checked):");
    say!(
        "  one thread at a time; free, the threads ran at once for {:.0}% of the time.",
        overlap_share(&cases[0].1) * 100.0
    );
    let panels: Vec<Lanes> = cases.iter().map(|(case, holds)| lanes(case, holds)).collect();
    picture.write(&timeline_svg("gil: who holds the GIL, when", &panels));
}

/// Holds written down as they happen: which thread held the GIL (or, free, ran), from when to
/// when.
pub struct Timeline {
    epoch: Instant,
    holds: Mutex<Vec<Hold>>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hold {
    pub thread: thread::ThreadId,
    start: Duration,
    end: Duration,
}

impl Timeline {
    pub fn start() -> Timeline {
        Timeline { epoch: Instant::now(), holds: Mutex::new(Vec::new()) }
    }

    pub fn record(&self, from: Instant, to: Instant) {
        let (start, end) = (from - self.epoch, to - self.epoch);
        self.holds.lock().push(Hold { thread: thread::current().id(), start, end });
    }

    pub fn holds(&self) -> Vec<Hold> {
        let mut holds = self.holds.lock().clone();
        holds.sort_by_key(|h| h.start);
        holds
    }
}

/// The longest time two holds of different threads overlapped (holds sorted by start).
pub fn longest_overlap(holds: &[Hold]) -> Duration {
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

/// A timeline's group of rows: what ran when, one row a thread.
struct Lanes {
    title: String,
    /// Each row's name and its busy spans, from the start of the case.
    rows: Vec<(String, Vec<(Duration, Duration)>)>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use timing::Stats;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn cpu(free: u64, under_gil: u64) -> CpuBound {
        let at = |m| Stats::from_samples(&[ms(m)]);
        CpuBound {
            sequential: at(200),
            free: at(free),
            under_gil: at(under_gil),
            fair_wait: ms(6),
            unfair_wait: ms(108),
        }
    }

    #[test]
    fn the_conclusion_follows_the_measurement() {
        let expected = conclusion_sentences(&cpu(102, 206), 2.0, 2, 2).join("\n");
        assert!(expected.contains("free CPU-bound threads: 1.96x, within"), "{expected}");
        assert!(
            expected.contains("under the GIL: 0.97x, within") && expected.contains("gain nothing")
        );
        assert!(expected.contains("release it while waiting: 2.00x, within"), "{expected}");
        let busy = conclusion_sentences(&cpu(182, 143), 1.2, 2, 2).join("\n");
        assert!(busy.contains("free CPU-bound threads: 1.10x, below"), "{busy}");
        assert!(busy.contains("GIL: 1.40x, above") && busy.contains("likely slowed"), "{busy}");
        assert!(busy.contains("1.20x, below") && busy.contains("wake-ups were late"), "{busy}");
        // What Rust's type system does and does not rule out, said exactly.
        assert!(expected.contains("refuses a data race") && expected.contains("not your x += 1"));
        assert!(expected.contains("Race conditions and deadlocks remain possible in both"));
        assert!(!expected.contains("keeps shared data safe"), "{expected}");
    }

    #[test]
    fn the_fairness_sentence_follows_the_waits() {
        let starved = fairness_sentence(ms(5), ms(6), ms(108));
        assert!(starved.contains("the waiter starves"), "{starved}");
        let close = fairness_sentence(ms(5), ms(8), ms(6));
        assert!(close.contains("did not starve the waiter for long"), "{close}");
        assert!(!close.contains("the waiter starves"), "{close}");
    }

    #[test]
    fn the_convoy_sentence_holds_the_extra_wait_to_the_interval() {
        let cpython = convoy_sentence(ms(5), Duration::from_micros(5200));
        assert!(cpython.contains("about a whole switch interval") && cpython.contains("1.04x"));
        assert!(cpython.contains("What the model leaves out"), "{cpython}");
        let sooner = convoy_sentence(ms(5), ms(1));
        assert!(sooner.contains("less than a switch interval"), "{sooner}");
        let busy = convoy_sentence(ms(5), ms(12));
        assert!(busy.contains("more than a switch interval"), "{busy}");
    }

    #[test]
    fn overlaps_are_measured_between_threads_only() {
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
}

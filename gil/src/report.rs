//! What this run's figures say about the GIL, each sentence chosen from the measurements
//! through `timing::verdict`: the fair hand-off against a plain unlock, the convoy, the
//! conclusion, and CPython's own GIL beside the simulated one (`--vs-python`).

use std::time::Duration;

use timing::chart::Figure;
use timing::python::{Measured, Twin, TwinError};
use timing::python_env::Python;
use timing::verdict::{Finding, PythonThreads, Verdict, rerun};
use timing::{Stats, cli, human, plural, say};

use crate::{Contention, Convoy, CpuBound, DEFAULT_SIZE, Workload};

/// What a reader runs to measure a surprising figure again.
const RERUN: &str = "cargo run -p gil";
/// The comparison with CPython again, with runs enough to narrow a noisy ratio.
const MORE_RUNS: &str = "cargo run -p gil -- --vs-python --runs 15";

/// What the simulated GIL's threads gain over one thread is held to the bounds CPython's are
/// (`timing::verdict::UNDER_GIL`): nothing, give or take the hand-overs.
const UNDER_GIL_BOUNDS: &str = "that one holder at a time allows";

// ---- the simulated GIL: fair hand-off and convoy ----

/// Why the hand-off must be fair, from the waits and hand-overs this run measured.
pub fn fairness(interval: Duration, cpu: &CpuBound) {
    cli::paragraph("", &fairness_sentence(interval, &cpu.fair, &cpu.unfair));
}

fn fairness_sentence(interval: Duration, fair: &Contention, unfair: &Contention) -> String {
    format!(
        "Under the GIL only one thread runs at a time. A thread that wants it waits {} ms, then asks the holder to drop it; the holder hands it over at its next check. Longest wait for the GIL: {} with that fair hand-off, {} when the holder merely unlocks and waits its turn again. {}",
        interval.as_millis(),
        human(fair.longest_wait),
        human(unfair.longest_wait),
        hand_overs_sentence(interval, fair, unfair)
    )
}

/// What the drops counted show, named by the hand-offs that were asked to drop the GIL at all
/// (a thread whose share of the sum ends within an interval is never asked): with a plain
/// unlock, whether the holder took the GIL straight back - and whether the waiter's longest
/// wait shows it starving - or lost it often. What parking_lot's two unlocks do, and where that
/// was read, is at `Gil::fair`.
fn hand_overs_sentence(interval: Duration, fair: &Contention, unfair: &Contention) -> String {
    let times = |c: &Contention| format!("{} of {} times", c.handed_over, c.drops);
    let asked = "Asked to drop it, the holder let another thread have it";
    let unasked = format!(
        "each thread's share of the sum ended before a waiter, after its {} ms, had its request honoured",
        interval.as_millis()
    );
    let counts = match (fair.drops, unfair.drops) {
        (0, 0) => {
            return format!(
                "No holder dropped the GIL on request on this run, with either hand-off: {unasked}, so neither hand-off was put to the test. {}",
                rerun(RERUN)
            );
        }
        (_, 0) => {
            return format!(
                "{asked} {} with the fair hand-off; with a plain unlock no holder dropped it on request on this run ({unasked}), so only the fair hand-off was put to the test. {}",
                times(fair),
                rerun(RERUN)
            );
        }
        (0, _) => format!(
            "{asked} {} when it merely unlocked; the fair hand-off was never asked on this run ({unasked})",
            times(unfair)
        ),
        _ => format!(
            "{asked} {} with the fair hand-off, {} when it merely unlocked",
            times(fair),
            times(unfair).trim_end_matches(" times")
        ),
    };
    format!("{counts}: {}", plain_unlock_sentence(fair, unfair))
}

/// What the plain unlock did to the waiter, from both the hand-overs and the longest waits
/// printed before it: "starves" only where the holder mostly took the GIL straight back and
/// the waiter's longest wait was clearly longer - more than twice - than with the fair hand-off.
fn plain_unlock_sentence(fair: &Contention, unfair: &Contention) -> String {
    let waits = Verdict::new(
        "the longest wait with a plain unlock against the fair hand-off's",
        unfair.longest_wait.as_secs_f64() / fair.longest_wait.as_secs_f64().max(1e-9),
        (0.0, 2.0),
        "of two hand-offs that keep a waiter out about as long",
    );
    let kept = unfair.handed_over * 2 < unfair.drops;
    let longer = waits.finding() == Finding::Above;
    let nothing_handed = "a plain unlock (parking_lot 0.13 dropping its guard) frees the lock and wakes a waiter but hands it nothing";
    match (kept, longer) {
        (true, true) => format!(
            "{nothing_handed}, and the holder, still on its core, relocks first. So the waiter starves, which is why CPython 3.2's new GIL hands the GIL over, as parking_lot's unlock_fair does here. (parking_lot 0.12 made a plain unlock fair now and then, about every 0.5 ms; 0.13 no longer does.)"
        ),
        (true, false) => format!(
            "the holder mostly took it straight back - {nothing_handed} - yet the waiter's longest wait was not clearly more than twice the fair hand-off's, so on this run it was not kept out for long: the shares of the sum ended, or the OS let the waiter in. {}",
            rerun(RERUN)
        ),
        (false, true) => format!(
            "the woken waiter often relocked first, yet a waiter's longest wait was more than twice the fair hand-off's: {nothing_handed}, so who wins the race is the OS's doing, and a waiter that loses it waits on. {}",
            rerun(RERUN)
        ),
        (false, false) => format!(
            "the woken waiter often relocked first (the holder off its core, or slow back to the lock), so on this run the unfair lock did not starve the waiter for long. A plain unlock hands nothing over; who wins the race is the OS's doing. {}",
            rerun(RERUN)
        ),
    }
}

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
    // CPython checks its eval breaker at calls and backward jumps (Python/bytecodes.c,
    // CHECK_EVAL_BREAKER in JUMP_BACKWARD and the CALL family, 3.12-3.14; ceval.c in 3.10-3.11);
    // the GIL waits on a condition variable (Python/ceval_gil.c, COND_TIMED_WAIT).
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

// ---- the conclusion ----

/// What the three measurements say, each against what it can reach: free threads, threads
/// under the GIL, and I/O-bound threads that release it; then what Rust has instead of a GIL.
pub fn conclusion(cpu: &CpuBound, io_gain: f64, workload: &Workload, threads: u64, cores: u64) {
    let threads = usize::try_from(threads).expect("at most 64");
    let cores = usize::try_from(cores).unwrap_or(usize::MAX);
    let said = conclusion_sentences(cpu, io_gain, workload, threads, cores);
    for (i, paragraph) in said.iter().enumerate() {
        cli::paragraph(if i == 0 { "" } else { "  " }, paragraph);
    }
}

fn conclusion_sentences(
    cpu: &CpuBound,
    io_gain: f64,
    workload: &Workload,
    threads: usize,
    cores: usize,
) -> Vec<String> {
    let gain = |stats| timing::Stats::speedup_over(stats, &cpu.sequential).0;
    let free = Verdict::threads_on("free CPU-bound threads", gain(&cpu.free), threads, cores);
    let under_gil = Verdict::new(
        "the same threads under the GIL",
        gain(&cpu.under_gil),
        timing::verdict::UNDER_GIL,
        UNDER_GIL_BOUNDS,
    );
    let io = Verdict::new(
        "I/O-bound threads that release it while waiting",
        io_gain,
        (0.8 * threads as f64, threads as f64),
        format!("expected of {} whose waits overlap", plural(threads, "thread")),
    );
    let mut said =
        vec![format!("Conclusion: {}", free_threads_sentence(&free, cpu, workload, threads))];
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
    said.push(RUST_HAS_NO_GIL.to_owned());
    said
}

/// The free threads' verdict; where they fell short, why they may have, by the size summed:
/// the smaller one `--vs-python` picks gives each thread milliseconds, which a late start
/// or a moment without a core takes a large share of.
fn free_threads_sentence(
    free: &Verdict,
    cpu: &CpuBound,
    workload: &Workload,
    threads: usize,
) -> String {
    if free.finding() != Finding::Below {
        return format!("{}.", free.describe());
    }
    let each = human(cpu.sequential.median / u32::try_from(threads).unwrap_or(u32::MAX));
    if workload.sized_for_python {
        free.surprise(
            &format!(
                "at --size {}, the size --vs-python uses so that CPython finishes in seconds, each thread sums for only {each}, and a thread started or woken late, or a core taken for a moment by another program, costs a large share of that. The default size gives each thread {}x the work.",
                workload.size,
                DEFAULT_SIZE / workload.size.max(1)
            ),
            RERUN,
        )
    } else {
        free.surprise(
            &format!("each thread had {each} of work, and something else had the cores for part of it: another program, or - at a small --size - thread start-ups and wake-ups weighing against the work."),
            RERUN,
        )
    }
}

/// What Rust's type system rules out, and what it leaves to the programmer. What the GIL
/// protects: CPython's own objects (Doc/glossary.rst, "global interpreter lock": it "makes the
/// object model ... implicitly safe against concurrent access", 3.11-3.14).
const RUST_HAS_NO_GIL: &str = "Rust has no GIL: its threads are the free ones above, and its compiler refuses a data race in safe code - two threads on the same memory at once, one writing, unsynchronised. The GIL never did that for Python code: it keeps CPython's own state whole (reference counts, a dict mid-update), not your x += 1 or check-then-act. Outside safe Rust the compiler proves nothing: `unsafe` code (this workspace's own fork and mmap in `multiprocessing`) and memory shared between processes are the programmer's to get right. Race conditions and deadlocks remain possible in both (`cargo run -p locks` shows them).";

// ---- Rust against Python ----

/// The same CPU-bound threads in CPython beside the simulated GIL - or, on a free-threaded
/// build, beside Rust's free threads, since there is no GIL to compare with - and CPython's
/// thread ratio judged, with the runs it is judged from.
/// Returns early where there is no Python to compare with (said on stderr); `Err` where the
/// twin failed.
pub fn vs_python(
    workload: &Workload,
    threads: u64,
    runs: usize,
    cpu: &CpuBound,
    twin: &Twin,
    figure: &mut Figure,
) -> Result<(), TwinError> {
    // Which Rust threads to set Python's beside depends on its build, which the twin's own
    // label for its threads names (`twin.py`): no interpreter is started just to ask.
    let pairs = [
        ("sequential", Some(("sequential", &cpu.sequential))),
        ("threads under its GIL", Some(("simulated GIL threads", &cpu.under_gil))),
        ("threads, no GIL", Some(("free threads", &cpu.free))),
    ];
    let args = [workload.size.to_string(), runs.to_string(), threads.to_string()];
    let Some(report) = timing::python::compare_by_label(twin, &args, &pairs, figure)? else {
        return Ok(());
    };
    let Ok([python_sequential, python_threads]) = <[Measured; 2]>::try_from(report.measured) else {
        return Err(TwinError::Failed("the twin did not measure two rows".to_owned()));
    };
    let interpreter = report.python;
    let threads_text = plural(threads, "thread");
    say!(
        "{threads_text} against one: Rust free {}, Rust under the simulated GIL {},",
        cpu.free.speedup_over(&cpu.sequential),
        cpu.under_gil.speedup_over(&cpu.sequential)
    );
    say_python_runs(&interpreter, &python_sequential, &python_threads);
    let threads = usize::try_from(threads).expect("at most 64");
    let said = if cpu.sequential.median < Duration::from_millis(1) {
        format!(
            "At --size {} the whole sum takes {} in Rust: starting {threads_text} (tens of µs) weighs as much as the work, so the thread ratios measure start-up, not the GIL. Compare at the default size: `cargo run -p gil -- --vs-python`.",
            workload.size,
            human(cpu.sequential.median)
        )
    } else {
        let (sequential, on_threads) = (&python_sequential.stats, &python_threads.stats);
        python_sentence(&interpreter, sequential, on_threads, threads, timing::machine::cores())
    };
    cli::paragraph("  ", &said);
    Ok(())
}

/// CPython's own thread ratio, and the runs it is judged from: "within noise" where each
/// median lies in the other's min..max range, and the sentence below from the same ranges.
fn say_python_runs(python: &Python, sequential: &Measured, on_threads: &Measured) {
    let build = if python.threads_run_at_once() {
        "CPython with no GIL (free-threaded)"
    } else {
        "CPython under its real GIL"
    };
    say!("  {build} {}, from its runs:", on_threads.stats.speedup_over(&sequential.stats));
    for measured in [sequential, on_threads] {
        say!("    {}", measured.stats.line(&measured.label));
    }
}

/// What CPython's thread ratio means, chosen by its build through the one judgement
/// `timing::verdict` makes of it (as `threading` does): with the GIL one thread runs Python
/// code at a time, so a gain needs a cause - a sleep or I/O, which this twin has none of, or
/// the runs' spread; a free-threaded build can run them at once, as Rust's free threads above,
/// up to one a core.
fn python_sentence(
    python: &Python,
    sequential: &Stats,
    on_threads: &Stats,
    threads: usize,
    cores: usize,
) -> String {
    let what = format!("{}: its {}", python.describe(), plural(threads, "thread"));
    let judged =
        PythonThreads { what: &what, sequential, threads: on_threads, more_runs: MORE_RUNS };
    if python.threads_run_at_once() {
        // The twin splits the sum evenly, as Rust's free threads: up to one a core.
        let even = Verdict::threads_on("", 0.0, threads, cores);
        judged.without_gil((even.low, even.high), cores)
    } else {
        judged.under_gil()
    }
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
        let waited = |m, drops, handed_over| Contention { longest_wait: ms(m), drops, handed_over };
        CpuBound {
            sequential: at(200),
            free: at(free),
            under_gil: at(under_gil),
            fair: waited(6, 20, 20),
            unfair: waited(108, 20, 0),
        }
    }

    fn workload(size: u64, sized_for_python: bool) -> Workload {
        Workload { size, sized_for_python }
    }

    #[test]
    fn the_conclusion_follows_the_measurement() {
        let default = workload(DEFAULT_SIZE, false);
        let expected = conclusion_sentences(&cpu(102, 206), 2.0, &default, 2, 2).join("\n");
        assert!(expected.contains("free CPU-bound threads: 1.96x, within"), "{expected}");
        assert!(
            expected.contains("under the GIL: 0.97x, within") && expected.contains("gain nothing")
        );
        assert!(expected.contains("release it while waiting: 2.00x, within"), "{expected}");
        let busy = conclusion_sentences(&cpu(182, 143), 1.2, &default, 2, 2).join("\n");
        assert!(busy.contains("free CPU-bound threads: 1.10x, below"), "{busy}");
        assert!(busy.contains("GIL: 1.40x, above") && busy.contains("likely slowed"), "{busy}");
        assert!(busy.contains("1.20x, below") && busy.contains("wake-ups were late"), "{busy}");
        // What Rust's type system does and does not rule out, said exactly.
        assert!(expected.contains("refuses a data race") && expected.contains("not your x += 1"));
        assert!(expected.contains("refuses a data race in safe code"), "{expected}");
        assert!(expected.contains("`unsafe` code (this workspace's own fork and mmap"));
        assert!(expected.contains("memory shared between processes"), "{expected}");
        assert!(expected.contains("Race conditions and deadlocks remain possible in both"));
        assert!(!expected.contains("keeps shared data safe"), "{expected}");
    }

    /// Free threads short of one a core: at the size --vs-python picks the run says that size
    /// and why, and how to measure at the default; at a size given, another cause.
    #[test]
    fn free_threads_short_of_their_cores_say_why_by_the_size_summed() {
        let slow = cpu(148, 206); // 1.35x on 2 threads, 2 cores
        let for_python = workload(5_000_000, true);
        let said = conclusion_sentences(&slow, 2.0, &for_python, 2, 2)[0].clone();
        assert!(said.starts_with("Conclusion: free CPU-bound threads: 1.35x, below"), "{said}");
        assert!(said.contains("at --size 5000000, the size --vs-python uses"), "{said}");
        assert!(said.contains("each thread sums for only 100 ms"), "{said}");
        assert!(said.contains("40x the work. Re-run to compare: `cargo run -p gil`."), "{said}");
        let given = conclusion_sentences(&slow, 2.0, &workload(5_000_000, false), 2, 2);
        assert!(given[0].contains("something else had the cores"), "{}", given[0]);
        assert!(!given[0].contains("--vs-python uses"), "{}", given[0]);
        let fine = conclusion_sentences(&cpu(102, 206), 2.0, &for_python, 2, 2);
        assert!(!fine[0].contains("Re-run"), "{}", fine[0]);
    }

    #[test]
    fn the_fairness_sentence_follows_the_waits() {
        let waited = |m, drops, handed_over| Contention { longest_wait: ms(m), drops, handed_over };
        let fair = waited(6, 20, 20);
        let starved = fairness_sentence(ms(5), &fair, &waited(108, 21, 0));
        assert!(starved.contains("the waiter starves"), "{starved}");
        assert!(starved.contains("20 of 20 times with the fair hand-off, 0 of 21"), "{starved}");
        assert!(starved.contains("parking_lot 0.13 dropping its guard"), "{starved}");
        let close = fairness_sentence(ms(5), &waited(8, 20, 20), &waited(6, 20, 14));
        assert!(close.contains("did not starve the waiter for long"), "{close}");
        assert!(!close.contains("the waiter starves"), "{close}");
        // Shares shorter than an interval: nobody asked, nothing to tell the two apart by.
        let unasked = fairness_sentence(ms(5), &waited(2, 0, 0), &waited(2, 0, 0));
        assert!(unasked.contains("No holder dropped the GIL on request"), "{unasked}");
        assert!(unasked.contains("after its 5 ms"), "{unasked}");
        assert!(!unasked.contains("starve"), "{unasked}");
        assert!(unasked.contains("neither hand-off was put to the test"), "{unasked}");
    }

    /// "Starves" only where the plain unlock's longest wait is clearly longer than the fair
    /// hand-off's, as printed just before: hand-over counts alone do not say it.
    #[test]
    fn the_waiter_starves_only_where_its_longest_wait_says_so() {
        let waited = |m, drops, handed_over| Contention { longest_wait: ms(m), drops, handed_over };
        let kept_briefly = fairness_sentence(ms(5), &waited(6, 20, 20), &waited(8, 20, 2));
        assert!(!kept_briefly.contains("starves"), "{kept_briefly}");
        assert!(kept_briefly.contains("2 of 20 when it merely unlocked"), "{kept_briefly}");
        assert!(kept_briefly.contains("not kept out for long"), "{kept_briefly}");
        // Handed over often, yet one wait far longer: said, not "did not starve".
        let lost_once = fairness_sentence(ms(5), &waited(6, 20, 20), &waited(60, 20, 15));
        assert!(lost_once.contains("more than twice"), "{lost_once}");
        assert!(!lost_once.contains("did not starve"), "{lost_once}");
    }

    /// Only one hand-off asked to drop the GIL: the sentence names the one that was tested,
    /// and never counts "0 of 0".
    #[test]
    fn the_fairness_sentence_names_the_hand_off_that_was_tested() {
        let waited = |m, drops, handed_over| Contention { longest_wait: ms(m), drops, handed_over };
        let fair_only = fairness_sentence(ms(5), &waited(6, 12, 12), &waited(3, 0, 0));
        assert!(fair_only.contains("12 of 12 times with the fair hand-off"), "{fair_only}");
        assert!(fair_only.contains("only the fair hand-off was put to the test"), "{fair_only}");
        assert!(!fair_only.contains("two hand-offs were not"), "{fair_only}");
        let unfair_only = fairness_sentence(ms(5), &waited(2, 0, 0), &waited(90, 9, 1));
        assert!(unfair_only.contains("1 of 9 times when it merely unlocked"), "{unfair_only}");
        assert!(unfair_only.contains("the fair hand-off was never asked"), "{unfair_only}");
        for said in [&fair_only, &unfair_only] {
            assert!(!said.contains("0 of 0"), "{said}");
        }
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

    fn cpython(free_threaded: bool) -> Python {
        Python::cpython("3.14.0", free_threaded)
    }

    /// CPython's runs: sequential at `median` ms (from `min` to `max`), threads as given.
    fn runs(median: u64, min: u64, max: u64) -> Stats {
        Stats { min: ms(min), median: ms(median), max: ms(max), runs: 5 }
    }

    #[test]
    fn cpythons_thread_ratio_under_its_gil_is_judged_and_a_gain_given_its_cause() {
        let gil = cpython(false);
        let said = |threads: Stats| python_sentence(&gil, &runs(450, 445, 455), &threads, 2, 2);
        let none = said(runs(460, 455, 470));
        assert!(none.contains("CPython 3.14.0, with the GIL: its 2 threads: 0.98x, within the 0.90x to 1.05x that one thread running Python at a time allows: no gain"), "{none}");
        // A loss far beyond what taking turns costs, its runs apart: busy cores, said so.
        let slower = said(runs(600, 590, 610));
        assert!(slower.contains("0.75x, below") && slower.contains("far more than taking turns"));
        assert!(slower.contains("`cargo run -p gil -- --vs-python --runs 15`"), "{slower}");
        // 1.12x by median, but the slowest sequential run against the fastest threaded one
        // reaches no gain: noise, said with the range it is judged from.
        let noisy = python_sentence(&gil, &runs(450, 400, 500), &runs(402, 390, 520), 2, 2);
        assert!(noisy.contains("1.12x, above") && noisy.contains("0.77x to 1.28x"), "{noisy}");
        assert!(noisy.contains("run-to-run noise, not a finding"), "{noisy}");
        let gain = said(runs(401, 399, 403));
        assert!(gain.contains("1.12x, above") && gain.contains("a gain the GIL does not allow"));
        assert!(!gain.contains("noise"), "{gain}");
    }

    #[test]
    fn a_free_threaded_cpythons_threads_are_held_to_one_a_core() {
        let free = cpython(true);
        let sequential = runs(450, 445, 455);
        let at_once = python_sentence(&free, &sequential, &runs(230, 228, 232), 2, 2);
        assert!(at_once.contains("free-threaded (no GIL): its 2 threads: 1.96x, within"));
        assert!(at_once.contains("ran Python code at once"), "{at_once}");
        let held_back = python_sentence(&free, &sequential, &runs(401, 399, 403), 2, 2);
        assert!(held_back.contains("1.12x, below") && held_back.contains("no GIL stops"));
        let one_core = python_sentence(&free, &sequential, &runs(600, 598, 602), 2, 1);
        assert!(one_core.contains("0.75x, below") && one_core.contains("no GIL stops"));
        assert!(one_core.contains("on one core taking turns costs little"), "{one_core}");
    }

    /// One core, the ratio inside its bounds: the threads took turns, so no sentence says they
    /// ran at once - as `threading` says of the same figures, through the same judgement.
    #[test]
    fn a_free_threaded_cpython_on_one_core_takes_turns() {
        let free = cpython(true);
        let turns = python_sentence(&free, &runs(450, 445, 455), &runs(470, 468, 472), 2, 1);
        assert!(turns.contains("0.96x, within the 0.90x to 1.00x"), "{turns}");
        assert!(turns.contains("on one core threads take turns, GIL or not"), "{turns}");
        assert!(!turns.contains("at once"), "{turns}");
    }

    /// Under its GIL, CPython's ratio is judged as `threading` judges it: a median outside the
    /// bounds whose runs reach them is noise, whichever side it falls.
    #[test]
    fn cpythons_ratio_under_its_gil_is_noise_below_as_above() {
        let gil = cpython(false);
        let noisy = python_sentence(&gil, &runs(100, 90, 110), &runs(120, 100, 130), 2, 2);
        assert!(noisy.contains("0.83x, below the 0.90x to 1.05x"), "{noisy}");
        assert!(noisy.contains("its runs range from 0.69x to 1.10x: run-to-run noise"), "{noisy}");
        assert!(!noisy.contains("something else held"), "{noisy}");
    }
}

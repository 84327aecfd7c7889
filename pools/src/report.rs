//! What this run's figures say about the map on a pool of threads, and the same map in
//! CPython's pools - each language's own speedup measured on work that takes it long enough
//! to show one, and every sentence about Python threads chosen by the interpreter's build.

use std::time::Duration;
use timing::chart::Figure;
use timing::python::Measured;
use timing::python::Twin;
use timing::verdict::{Finding, Place, Verdict};
use timing::{Stats, cli, human, say};

use crate::{TASKS, Timed};

/// The size the Python twin's map runs at: CPython needs about a second for it.
const PYTHON_SIZE: u64 = 4_000_000;

/// [4]'s sentence on the pool's speedup.
pub fn scaling(timed: &Timed, threads: usize) {
    let gain = |stats: &Stats| stats.speedup_over(&timed.sequential).0;
    let verdict = |what, stats| Verdict::threads(what, gain(stats), threads);
    let sentence = scaling_sentence(
        &verdict("rayon", &timed.rayon),
        &verdict("scoped threads", &timed.scoped),
    );
    cli::paragraph("    ", &sentence);
}

/// Rayon's speedup against what its threads allow, with the plain scoped threads' beside it to
/// tell rayon's own costs from a machine that is busy.
fn scaling_sentence(rayon: &Verdict, scoped: &Verdict) -> String {
    if !rayon.possible() {
        return format!("{}: a pool only adds hand-offs.", rayon.describe());
    }
    if rayon.finding() != Finding::Below {
        return format!(
            "{}: threads, not processes, because no GIL stands in the way.",
            rayon.describe()
        );
    }
    let why = if scoped.finding() != Finding::Below {
        format!(
            "Plain scoped threads reached {:.2}x in the same run: the cores were free, and at this size rayon's hand-offs ({TASKS} tasks, work stealing) cost more than they save.",
            scoped.measured
        )
    } else {
        format!(
            "Scoped threads reached {:.2}x: another program may be using the cores, or the work is too small to pay for starting the threads.",
            scoped.measured
        )
    };
    format!(
        "{}. {why} Re-run with a larger --size to compare: `cargo run -p pools -- --size 400000000`.",
        rayon.describe()
    )
}

// ---- Rust against Python ----

/// The same CPU-bound map in CPython: a plain loop, ThreadPoolExecutor, InterpreterPoolExecutor
/// where the Python has it (3.14+), ProcessPoolExecutor and multiprocessing.Pool - the time of
/// each beside Rust's at the twin's size; then each language's own speedup, each on enough
/// work to show one (Rust's from [4], at its size).
pub fn vs_python(
    size: u64,
    runs: usize,
    threads: usize,
    rust: &Timed,
    twin: &Twin,
    figure: &mut Figure,
) {
    let twin_size = size.min(PYTHON_SIZE);
    let again;
    let at_twin_size = if twin_size == size {
        rust
    } else {
        say!("(Rust again at the twin's {twin_size} elements, for the table below)");
        again = crate::time_map(twin_size, runs, threads);
        if again.repeated {
            cli::paragraph("", crate::REPEATED);
        }
        &again
    };
    let pairs = [
        ("plain map", Some(("sequential map", &at_twin_size.sequential))),
        ("ThreadPoolExecutor.map", Some(("rayon map", &at_twin_size.rayon))),
        ("InterpreterPoolExecutor.map", Some(("rayon map", &at_twin_size.rayon))),
        ("ProcessPoolExecutor.map", Some(("rayon map", &at_twin_size.rayon))),
        ("multiprocessing.Pool.map", Some(("scoped threads", &at_twin_size.scoped))),
        ("ProcessPoolExecutor start", Some(("pool start", &at_twin_size.startup))),
    ];
    let args = [twin_size, runs as u64, threads as u64, TASKS].map(|v| v.to_string());
    let report = timing::python::compare_by_label(twin, &args, &pairs, figure)
        .unwrap_or_else(|e| cli::fail(e));
    let Some(report) = report else { return }; // no Python here: said on stderr
    let row = |prefix: &str| report.measured.iter().find(|m| m.label.starts_with(prefix));
    let Some(plain) = row("plain map") else { cli::fail("the twin timed no plain map") };
    say!(
        "Each language's own speedup over its plain loop on {}, each on work that takes it a while:",
        timing::plural(threads, "worker")
    );
    let rust_line =
        format!("Rust rayon, 0..{} ({} sequential)", rust.size, human(rust.sequential.median));
    say!("  {rust_line:<58} {}", rust.rayon.speedup_over(&rust.sequential));
    let short = report.python.short();
    for measured in report.measured.iter().filter(|m| m.label.contains(".map")) {
        let label = format!("{short} {}, 0..{twin_size}", measured.label);
        say!("  {label:<58} {}", measured.stats.speedup_over(&plain.stats));
    }
    let python = PythonRows {
        build: &report.python,
        plain,
        thread_pool: row("ThreadPoolExecutor.map"),
        interpreters: row("InterpreterPoolExecutor.map").is_some(),
    };
    for sentence in python_pool_sentences(&python, rust, threads, timing::machine::cores()) {
        cli::paragraph("  ", &sentence);
    }
}

/// What the twin measured that the sentences about Python's pools are chosen from.
struct PythonRows<'a> {
    /// The interpreter that ran it, with the GIL or free-threaded.
    build: &'a timing::python_env::Python,
    /// The plain loop, every pool's baseline.
    plain: &'a Measured,
    /// ThreadPoolExecutor's map (always timed; `None` only if the twin left it out).
    thread_pool: Option<&'a Measured>,
    /// Whether this Python has InterpreterPoolExecutor (3.14+) and timed it.
    interpreters: bool,
}

/// The twin's comparison again, with runs enough to narrow a noisy ratio.
const MORE_RUNS: &str = "cargo run -p pools -- --vs-python --runs 15";

/// What the Python rows mean, chosen by the interpreter's build and the measurement: its
/// thread pool against what its threads allow (about 1x under a GIL, one a core without);
/// under a GIL, what goes around it; and whether Rust's own work was large enough to show its
/// threads' gain.
fn python_pool_sentences(
    python: &PythonRows,
    rust: &Timed,
    threads: usize,
    cores: usize,
) -> Vec<String> {
    let mut said = Vec::new();
    let at_once = python.build.threads_run_at_once();
    if let Some(pool) = python.thread_pool {
        let what = format!("{}: ThreadPoolExecutor", python.build.describe());
        let gain = pool.stats.speedup_over(&python.plain.stats).0;
        let spread = timing::verdict::spread(&python.plain.stats, &pool.stats);
        let plain = python.plain.stats.median;
        said.push(if at_once {
            free_threaded_pool(&Verdict::threads_on(what, gain, threads, cores), spread, plain)
        } else {
            let allows = "that one thread running Python at a time allows";
            gil_pool(&Verdict::new(what, gain, timing::verdict::UNDER_GIL, allows), spread, plain)
        });
    }
    if !at_once {
        said.push(around_the_gil(python.interpreters));
    }
    if rust.sequential.median.as_secs_f64() < 0.05 {
        said.push(format!(
            "Rust's map at --size {} takes {}: too little work for threads to pay for their hand-offs, so its speedup there says little; the default size shows it.",
            rust.size,
            human(rust.sequential.median)
        ));
    }
    said
}

/// A plain map shorter than this is too little work for a pool: starting its threads and
/// handing out the chunks (each hand-out and each result taking the GIL in turn) costs
/// milliseconds, a share of the whole the bounds do not allow for.
const SHORT_MAP: Duration = Duration::from_millis(50);

/// Where the plain map was too short for a pool to pay for itself: the loss said as its cost,
/// with the size that shows the pool's own figure.
fn too_little_work(verdict: &Verdict, plain: Duration) -> Option<String> {
    (verdict.finding() == Finding::Below && plain < SHORT_MAP).then(|| format!(
        "{}: the plain map took {}, too little work to pay for starting a pool's threads and handing out {TASKS} chunks. The twin's default size shows the pool itself: `cargo run -p pools -- --vs-python`.",
        verdict.describe(),
        human(plain)
    ))
}

/// ThreadPoolExecutor under a GIL: about the plain loop's time, as one thread runs Python code
/// at a time. A figure within noise of a bound is said as about equal, counted for no side.
fn gil_pool(verdict: &Verdict, spread: (f64, f64), plain: Duration) -> String {
    if let Some(said) = too_little_work(verdict, plain) {
        return said;
    }
    match verdict.place() {
        Place::Inside => format!(
            "{}: no gain, as the GIL lets one thread run Python code at a time.",
            verdict.describe()
        ),
        Place::NearLow | Place::NearHigh => format!(
            "{}: about as fast as the plain loop - the GIL lets one thread run Python code at a time.",
            verdict.describe()
        ),
        _ if verdict.spread_reaches_bounds(spread) => verdict.noise(spread, MORE_RUNS),
        // CPython's FORCE_SWITCHING (Python/ceval_gil.c): the thread that drops the GIL on
        // request waits until another has taken it, so no Python runs until that one has a core.
        Place::Below => verdict.surprise(
            &format!("slower than the plain loop by more than starting a pool and handing out {TASKS} chunks costs. Under the GIL a hand-over takes microseconds where a core is free; on busy cores the thread handed the GIL waits for one, and no thread runs Python meanwhile - likely another program on the cores."),
            MORE_RUNS,
        ),
        Place::Above => verdict.surprise(
            "a gain the GIL does not allow, so the plain loop's runs were slowed (another program, a cold cache).",
            MORE_RUNS,
        ),
    }
}

/// ThreadPoolExecutor on a free-threaded build: its threads can run Python code at once, up to
/// one a core. Nine tenths of that, even a little under, is a gain only threads running at
/// once give; so the low bound's noise band is said with the bounds and counted as at once.
fn free_threaded_pool(verdict: &Verdict, spread: (f64, f64), plain: Duration) -> String {
    if let Some(said) = too_little_work(verdict, plain) {
        return said;
    }
    let place = verdict.place();
    let outside = matches!(place, Place::Below | Place::Above);
    match place {
        _ if outside && verdict.spread_reaches_bounds(spread) => verdict.noise(spread, MORE_RUNS),
        Place::Below => verdict.surprise(
            &format!("no GIL stops these threads, so what held them back is elsewhere: another program on the cores, starting the pool and handing out {TASKS} chunks, or what a free-threaded interpreter pays to share objects between threads (reference counts, per-object locks)."),
            MORE_RUNS,
        ),
        Place::Above => verdict.surprise(
            "more than the cores allow, so the plain loop's runs were slowed (another program, a cold cache).",
            MORE_RUNS,
        ),
        _ if !verdict.possible() => format!(
            "{}: one worker or one core leaves nothing to share out, GIL or not.",
            verdict.describe()
        ),
        _ => format!(
            "{} - no GIL, so its threads ran Python code at once, as Rust's do.",
            verdict.describe()
        ),
    }
}

/// What goes around a GIL: the process pools, and from 3.14 InterpreterPoolExecutor - said
/// as present or not in this Python.
// InterpreterPoolExecutor: "a ThreadPoolExecutor subclass ... each worker has its own
// interpreter", and each interpreter its own GIL (docs.python.org/3.14/library/
// concurrent.futures.html#interpreterpoolexecutor; per-interpreter GIL since 3.12, PEP 684).
fn around_the_gil(interpreters: bool) -> String {
    let interpreter_pool = if interpreters {
        "InterpreterPoolExecutor, timed above"
    } else {
        "from Python 3.14 (not this one) InterpreterPoolExecutor"
    };
    format!(
        "Around the GIL go the process pools - each process with its own interpreter and GIL, paying to start and to pickle chunks and results - and {interpreter_pool}: threads of one process, each running its own interpreter with its own GIL, paying to start them and to pass chunks and results between interpreters."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_speedup_sentence_follows_the_measurement() {
        // Made-up machines, so the sentence is checked on each branch whatever this one has.
        let on = |gain, threads, cores| Verdict::threads_on("rayon", gain, threads, cores);
        let scaling_sentence = |a: Verdict, b: Verdict| scaling_sentence(&a, &b);
        let scales = scaling_sentence(on(1.9, 2, 2), on(1.9, 2, 2));
        assert!(
            scales.contains("expected of 2 threads on 2 cores: threads, not processes"),
            "{scales}"
        );
        let overhead = scaling_sentence(on(1.3, 2, 2), on(1.86, 2, 2));
        assert!(overhead.contains("rayon: 1.30x, below the 1.80x to 2.00x"), "{overhead}");
        assert!(overhead.contains("Plain scoped threads reached 1.86x"), "{overhead}");
        assert!(overhead.contains("rayon's hand-offs"), "{overhead}");
        let busy = scaling_sentence(on(1.1, 2, 2), on(1.2, 2, 2));
        assert!(busy.contains("another program may be using the cores"), "{busy}");
        let one_thread = scaling_sentence(on(0.97, 1, 2), on(0.99, 1, 2));
        assert!(
            one_thread.contains("0.97x, within the 0.90x to 1.00x expected of 1 thread on 2 cores"),
            "{one_thread}"
        );
    }

    fn stats(median: u64, min: u64, max: u64) -> Stats {
        let ms = std::time::Duration::from_millis;
        Stats { min: ms(min), median: ms(median), max: ms(max), runs: 5 }
    }

    fn python(free_threaded: bool) -> timing::python_env::Python {
        timing::python_env::Python::cpython(
            if free_threaded { "3.14.0" } else { "3.11.7" },
            free_threaded,
        )
    }

    /// The sentences for a twin whose plain loop and thread pool took `plain` and `pool`
    /// (median, min, max ms), beside a Rust map long enough to say nothing about.
    fn said(
        free_threaded: bool,
        [plain, pool]: [(u64, u64, u64); 2],
        interpreters: bool,
        (threads, cores): (usize, usize),
    ) -> String {
        let measured =
            |label: &str, (m, lo, hi)| Measured { label: label.into(), stats: stats(m, lo, hi) };
        let (plain, pool) =
            (measured("plain map", plain), measured("ThreadPoolExecutor.map", pool));
        let build = python(free_threaded);
        let rows =
            PythonRows { build: &build, plain: &plain, thread_pool: Some(&pool), interpreters };
        let second = stats(1000, 1000, 1000);
        let rust = Timed {
            size: 400_000_000,
            sequential: second,
            rayon: second,
            scoped: second,
            startup: second,
            repeated: false,
        };
        python_pool_sentences(&rows, &rust, threads, cores).join(" ")
    }

    const STEADY: (u64, u64, u64) = (1000, 995, 1005);
    const GIL: &str = "the 0.90x to 1.05x that one thread running Python at a time allows";

    /// Free-threaded?, the plain loop and the thread pool as median/min/max ms,
    /// InterpreterPoolExecutor timed?, threads and cores, and what the sentences must say.
    type Case = (bool, [(u64, u64, u64); 2], bool, (usize, usize), &'static str);

    #[rustfmt::skip]
    const CASES: [Case; 19] = [
        (false, [STEADY, STEADY], true, (2, 2), "1.00x, within the 0.90x to 1.05x"),
        (false, [STEADY, STEADY], true, (2, 2), "allows: no gain, as the GIL lets one thread run"),
        // Within noise of a bound: about equal, evidence for neither side.
        (false, [(1070, 1065, 1075), STEADY], true, (2, 2), "1.07x, equal within noise (3%) to the top of"),
        (false, [(880, 875, 885), STEADY], true, (2, 2), "0.88x, equal within noise (3%) to the low end of"),
        (false, [(880, 875, 885), STEADY], true, (2, 2), "allows: about as fast as the plain loop - the GIL"),
        (false, [STEADY, (1500, 1490, 1510)], true, (2, 2), "0.67x, below the 0.90x to 1.05x"),
        (false, [STEADY, (1500, 1490, 1510)], true, (2, 2), "allows: slower than the plain loop by more"),
        (false, [(1000, 800, 1200), (1300, 1000, 1400)], true, (2, 2), "run-to-run noise, not a finding"),
        (false, [(1600, 1590, 1610), STEADY], true, (2, 2), "allows: a gain the GIL does not allow"),
        // A map too short for a pool, at either build: its start and hand-outs are the loss.
        (false, [(2, 2, 2), (9, 9, 9)], true, (2, 2), "allows: the plain map took 2.00 ms, too little work to pay for starting a pool's threads"),
        (true, [(2, 2, 2), (9, 9, 9)], true, (2, 2), "cores: the plain map took 2.00 ms, too little work"),
        // What goes around the GIL: the process pools, and InterpreterPoolExecutor too.
        (false, [STEADY, STEADY], true, (2, 2), "and InterpreterPoolExecutor, timed above: threads of one process, each running its own interpreter with its own GIL"),
        (false, [STEADY, STEADY], false, (2, 2), "and from Python 3.14 (not this one) InterpreterPoolExecutor: threads"),
        // A free-threaded build: its threads against one a core.
        (true, [(1900, 1895, 1905), STEADY], true, (2, 2), "1.90x, within the 1.80x to 2.00x expected of 2 threads on 2 cores - no GIL, so its threads ran Python code at once"),
        (true, [(1750, 1745, 1755), STEADY], true, (2, 2), "1.75x, equal within noise (3%) to the low end of the 1.80x to 2.00x expected of 2 threads on 2 cores - no GIL, so its threads ran"),
        (true, [(1200, 1195, 1205), STEADY], true, (2, 2), "1.20x, below the 1.80x to 2.00x expected of 2 threads on 2 cores: no GIL stops these threads"),
        (true, [(2600, 2590, 2610), STEADY], true, (2, 2), "more than the cores allow"),
        (true, [(1200, 1000, 1900), (1000, 990, 1010)], true, (2, 2), "run-to-run noise"),
        (true, [STEADY, STEADY], true, (2, 1), "one worker or one core leaves nothing to share"),
    ];

    #[test]
    fn the_python_pool_sentences_follow_the_measurement_and_the_build() {
        for (free_threaded, rows, interpreters, threads_on, wanted) in CASES {
            let said = said(free_threaded, rows, interpreters, threads_on);
            assert!(said.contains(wanted), "{wanted:?} in {said}");
            // Under a GIL the sentence follows the ratio: "the GIL lets" only where about 1x.
            let credits_the_gil =
                said.contains("as the GIL lets") || said.contains("- the GIL lets");
            let about_one =
                said.contains(&format!("within {GIL}")) || said.contains("within noise");
            assert_eq!(credits_the_gil, !free_threaded && about_one, "{said}");
            assert_eq!(said.contains("Around the GIL"), !free_threaded, "{said}");
            assert!(!said.contains("Rust's map at --size"), "{said}");
        }
    }
}

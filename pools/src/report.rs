//! What this run's figures say about the map on a pool of threads, and the same map in
//! CPython's pools - each language's own speedup measured on work that takes it long enough
//! to show one, and every sentence about Python threads chosen by the interpreter's build.

use timing::chart::Figure;
use timing::python::Measured;
use timing::python::Twin;
use timing::verdict::{Finding, Verdict};
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
    let threads_row = row("ThreadPoolExecutor.map");
    for sentence in python_pool_sentences(&report.python, threads_row, plain, rust, threads) {
        cli::paragraph("  ", &sentence);
    }
}

/// What the Python rows mean, chosen by the interpreter's build: its threads under a GIL (about
/// 1x) or free-threaded (they may scale); the process pools' price; and whether Rust's own
/// work was large enough to show its threads' gain.
fn python_pool_sentences(
    python: &timing::python_env::Python,
    threads_row: Option<&Measured>,
    plain: &Measured,
    rust: &Timed,
    threads: usize,
) -> Vec<String> {
    let mut said = Vec::new();
    if let Some(thread_pool) = threads_row {
        let gain = thread_pool.stats.speedup_over(&plain.stats).0;
        let verdict =
            Verdict::threads(format!("{}: ThreadPoolExecutor", python.describe()), gain, threads);
        said.push(if python.threads_run_at_once() {
            format!("{} - no GIL, so its threads can run Python code at once, as Rust's do.", verdict.describe())
        } else {
            format!("{}: {gain:.2}x, as the GIL lets one thread run Python code at a time; the process pools go around it, each process with its own interpreter and GIL, paying to start and to pickle chunks and results.", python.describe())
        });
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
}

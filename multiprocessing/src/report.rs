//! What this run's figures say: where threads and processes started to pay off, what
//! starting a process costs each way, and CPython's processes - under each of its three start
//! methods - beside Rust's.

use timing::chart::Figure;
use timing::python::{Twin, TwinError};
use timing::{Stats, cli, say};

use crate::{ForkCheck, NOTEBOOK_LENGTH};

/// One length of the sweep: the length, and the speedups of 3 threads and of 3 processes.
pub type Row = (u64, f64, f64);

/// What the lesson measured, for the comparison with Python: the notebook's tiny cell and the
/// real work (each `[sequential, three processes]`), and three processes started each way
/// (`[fork, Command]`).
pub struct Measured {
    pub tiny: [Stats; 2],
    pub real: [Stats; 2],
    pub started: [Stats; 2],
}

/// [4]'s sentence.
pub fn where_each_paid_off(rows: &[Row]) {
    for line in sweep_sentence(rows) {
        say!("{line}");
    }
}

/// Where each started to pay off (the first length with a gain of 1.1x or more), in words.
fn sweep_sentence(rows: &[Row]) -> Vec<String> {
    let first = |pick: fn(&Row) -> f64| rows.iter().find(|r| pick(r) >= 1.1).map(|r| r.0);
    let (threads, processes) = (first(|r| r.1), first(|r| r.2));
    let largest = rows.last().map_or(0, |r| r.0);
    let lines: Vec<String> = match (threads, processes) {
        (Some(t), Some(p)) if t < p => vec![
            format!("    Threads paid off from length {t}, processes from {p}: a thread costs tens of"),
            "    microseconds to start, a process hundreds - and processes share no memory unless asked.".to_owned(),
        ],
        (Some(t), Some(p)) if t == p => vec![
            format!("    Both paid off from length {t} on this run: below it, starting them costs more than"),
            "    the work; a process still costs more than a thread (see [2]).".to_owned(),
        ],
        (Some(t), Some(p)) => vec![
            format!("    Processes paid off from length {p}, threads only from {t}: against expectation, as a"),
            "    thread starts faster than a process; one slow run can do this. Re-run to compare:".to_owned(),
            "    `cargo run -p multiprocessing`.".to_owned(),
        ],
        (Some(t), None) => vec![
            format!("    Threads paid off from length {t}; processes not up to {largest}: each pays for a fork"),
            "    and a wait, and needs more work per job. Try a larger --size.".to_owned(),
        ],
        (None, Some(p)) => vec![
            format!("    Processes paid off from length {p}, threads not at all up to {largest}: against"),
            "    expectation; another program may be using the cores. Re-run to compare.".to_owned(),
        ],
        (None, None) => vec![
            format!("    Neither paid off up to length {largest} (a gain of 1.1x or more): too little work per job, or busy cores."),
            "    Try a larger --size: `cargo run -p multiprocessing -- --size 50000000`.".to_owned(),
        ],
    };
    lines
}

/// [7]'s sentences: what a fresh program cost against a fork, and Python's three start methods
/// beside Rust's two ways.
pub fn start_methods(forked: &Stats, started: &Stats, fork_check: ForkCheck) {
    let ratio = started.median.as_secs_f64() / forked.median.as_secs_f64().max(1e-12);
    for text in start_methods_text(ratio, fork_check) {
        cli::paragraph("    ", &text);
    }
}

/// [7]'s two paragraphs, for a fresh program that took `ratio` times a fork's time.
fn start_methods_text(ratio: f64, fork_check: ForkCheck) -> [String; 2] {
    let cost = if ratio >= 1.2 {
        format!(
            "{ratio:.1}x the time of fork: exec loads a whole program and starts it from main, where fork copies the page tables of one already running"
        )
    } else {
        format!(
            "{ratio:.2}x the time of fork here: at this size the program's start is cheap beside the waits both pay"
        )
    };
    let checked = match fork_check {
        ForkCheck::Counted => "as this program checks before each batch of forks",
        ForkCheck::NotChecked => {
            "which this program cannot check here (no /proc/self/status) and keeps by design, joining every thread before it forks"
        }
    };
    [
        format!(
            "Command took {cost}. It is the safe way to start a process from a program that runs threads (std forks or posix_spawns and execs at once, touching nothing in between); fork alone is safe only where one thread runs, {checked}."
        ),
        // CPython 3.14: Lib/multiprocessing/forkserver.py (ForkServer preloads ['__main__'];
        // its main() imports the main module's path), popen_forkserver.py and
        // popen_spawn_posix.py (`_launch` pickles the Process object, target and args); the
        // default start method: Doc/library/multiprocessing.rst ("Changed in version 3.14",
        // forkserver on POSIX but macOS; spawn the default on macOS since 3.8 and on Windows)
        // and Doc/whatsnew/3.14.rst; the DeprecationWarning for fork in a process with threads:
        // Doc/whatsnew/3.12.rst (os.fork).
        "Python's multiprocessing has three start methods. fork: a copy, as above - fast, but in a process with threads a lock another thread held is copied held (3.12 deprecates it there with a DeprecationWarning, and the --vs-python twin itself runs a watcher thread). forkserver: a clean server process, started once, forks each child - Linux's default from 3.14. spawn: a fresh interpreter, like Command, and the default on macOS and Windows. Both forkserver and spawn import your module again - the fork server once (it preloads `__main__`), spawn in each child; hence `if __name__ == \"__main__\":` - and send each child its function and arguments pickled, so a lambda or a closure as a Process target cannot be pickled and fails under either - on Linux by default from 3.14, where up to 3.13 fork ran it. Choose with multiprocessing.set_start_method, or here with HPC_RS_START_METHOD.".to_owned(),
    ]
}

// ---- Rust against Python ----

/// The tiny cell under each of CPython's start methods and the real work under its default one,
/// with multiprocessing.Process, beside Rust's; and each language's own speedup from processes
/// at the real length.
/// Returns early where there is no Python to compare with (said on stderr); `Err` where the
/// twin failed.
pub fn vs_python(
    real: u64,
    runs: usize,
    rust: &Measured,
    twin: &Twin,
    figure: &mut Figure,
) -> Result<(), TwinError> {
    let args = [NOTEBOOK_LENGTH.to_string(), runs.to_string(), real.to_string()];
    let [tiny_sequential, _] = &rust.tiny;
    let [real_sequential, real_processes] = &rust.real;
    let [forked, started] = &rust.started;
    let pairs = [
        ("sequential, tiny", tiny_sequential),
        ("three processes, fork", forked),
        ("three processes, fork", forked),
        ("three processes, Command", started),
        ("three processes, real", real_processes),
        ("sequential, real", real_sequential),
    ];
    let Some((interpreter, [_, by_fork, _, by_spawn, python_processes, python_sequential])) =
        timing::python::compare_each(twin, &args, &pairs, figure)?
    else {
        return Ok(());
    };
    say!(
        "Three processes against sequential at length {real}: Rust {}, {} {}",
        real_processes.speedup_over(real_sequential),
        interpreter.short(),
        python_processes.stats.speedup_over(&python_sequential.stats)
    );
    let spawn_over_fork = by_spawn.stats.median.as_secs_f64() / by_fork.stats.median.as_secs_f64();
    let command_over_fork = started.median.as_secs_f64() / forked.median.as_secs_f64();
    cli::paragraph(
        "  ",
        &format!(
            "A fresh process against a copy: spawn took {spawn_over_fork:.1}x fork's time in CPython (a new interpreter imports the twin and unpickles its task), Command {command_over_fork:.1}x fork's in Rust (a new program starts, with no interpreter to load)."
        ),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fork_is_said_checked_only_where_the_thread_count_was_read() {
        let [counted, _] = start_methods_text(3.0, ForkCheck::Counted);
        assert!(
            counted.contains("as this program checks before each batch of forks."),
            "{counted}"
        );
        let [unchecked, _] = start_methods_text(3.0, ForkCheck::NotChecked);
        assert!(unchecked.contains("cannot check here (no /proc/self/status)"), "{unchecked}");
        assert!(!unchecked.contains("as this program checks"), "{unchecked}");
    }

    #[test]
    fn forkserver_is_said_to_import_and_pickle_as_spawn_does() {
        let [_, methods] = start_methods_text(3.0, ForkCheck::Counted);
        assert!(
            methods.contains("Both forkserver and spawn import your module again")
                && methods.contains("a lambda or a closure as a Process target cannot be pickled"),
            "{methods}"
        );
    }

    #[test]
    fn the_sweep_sentence_names_where_each_paid_off() {
        let rows = |t: [f64; 3], p: [f64; 3]| -> Vec<Row> {
            [1_000, 100_000, 10_000_000]
                .into_iter()
                .zip(t.into_iter().zip(p))
                .map(|(l, (t, p))| (l, t, p))
                .collect()
        };
        let expected = sweep_sentence(&rows([0.1, 1.5, 1.9], [0.01, 0.5, 1.6])).join(" ");
        assert!(
            expected.contains("Threads paid off from length 100000, processes from 10000000"),
            "{expected}"
        );
        // The case the issue saw: at 1M threads 1.02x, processes 1.30x.
        let odd = sweep_sentence(&rows([0.1, 1.02, 1.5], [0.01, 1.3, 1.6])).join(" ");
        assert!(
            odd.contains("Processes paid off from length 100000, threads only from 10000000"),
            "{odd}"
        );
        assert!(odd.contains("against expectation") && odd.contains("Re-run"), "{odd}");
        let neither = sweep_sentence(&rows([0.1, 0.9, 1.0], [0.01, 0.5, 0.9])).join(" ");
        assert!(neither.contains("Neither paid off up to length 10000000"), "{neither}");
        let same = sweep_sentence(&rows([0.1, 1.2, 1.9], [0.01, 1.2, 1.6])).join(" ");
        assert!(same.contains("Both paid off from length 100000"), "{same}");
    }
}

//! `cargo run -p gil`: notebook section 2.c, the GIL simulated and measured.

use crate::common;
use common::{check_bad_values, check_cli_conventions, run};

fn small_run(threads: &str) -> &'static common::Run {
    common::run_once("gil", &["--size", "100000", "--runs", "1", "--threads", threads])
}

#[test]
fn every_cpu_bound_mode_computes_the_right_sum() {
    // The cube sum of 0..100000 is (100000*99999/2)^2.
    small_run("3").contains_in_order(&[
        "== 2.c The GIL, simulated: 3 threads on",
        "switch interval 5 ms",
        "CPU-bound: the cube sum of 0..100000 (1 run after a warm-up)",
        "sequential, one thread",
        "(baseline)",
        "3 free threads, no lock",
        "3 threads under the GIL",
        "3 threads, unfair GIL",
        "verified: every sum equals (n(n-1)/2)^2 = 24999500002500000000",
    ]);
}

#[test]
fn io_bound_threads_and_the_convoy_effect_are_measured() {
    small_run("2").contains_in_order(&[
        "I/O-bound: 2 threads x 10 requests, each waiting 10 ms",
        "sequential, one thread",
        "GIL released while waiting",
        "GIL held while waiting",
        "CPython releases the GIL around blocking calls",
        "Convoy effect: 20 requests of 10 ms wait each, by one I/O thread",
        "alone:",
        "beside a CPU-bound thread:",
        "more per request",
    ]);
    small_run("2").prose_in_order(&[
        "switch intervals CPython's waiting thread spends before it may ask",
        "What the model leaves out: its \"bytecode\" is 4096 additions between checks",
    ]);
}

#[test]
fn the_explanation_and_conclusion_appear() {
    small_run("2").prose_in_order(&[
        "Under the GIL only one thread runs at a time. A thread that wants it waits 5 ms, then asks the holder to drop it",
        "Longest wait for the GIL: ",
        " with that fair hand-off,",
        "when the holder merely unlocks and waits its turn again.",
        "Conclusion: free CPU-bound threads: ",
        "the same threads under the GIL: ",
        "I/O-bound threads that release it while waiting: ",
        "Rust has no GIL: its threads are the free ones above, and its compiler refuses a data race",
        "it keeps CPython's own state whole (reference counts, a dict mid-update), not your x += 1",
        "Free-threaded CPython (3.13t, 3.14t; supported since 3.14, PEP 779) has no GIL",
        "Subinterpreters: since 3.12 each interpreter in a process can have a GIL of its own",
    ]);
}

#[test]
fn the_switch_interval_is_a_flag() {
    run("gil", &["--size", "1000", "--runs", "1", "--switch-interval-ms", "1"])
        .success()
        .prose_in_order(&["switch interval 1 ms", "A thread that wants it waits 1 ms, then asks"]);
}

#[test]
fn bad_arguments_follow_the_conventions() {
    check_cli_conventions("gil");
    check_bad_values("gil", "--size", &["0", "-7", "7000000000"]);
    check_bad_values("gil", "--threads", &["0", "65"]);
    run("gil", &["--threads", "1"]).usage_error("--threads");
    run("gil", &["--threads", "1"]).usage_error("must be at least 2");
    check_bad_values("gil", "--switch-interval-ms", &["0", "1001", "5ms"]);
}

#[test]
fn vs_python_prints_rust_and_python_side_by_side() {
    let out = common::check_vs_python("gil", &["--size", "1000", "--runs", "1"], 2);
    let python_present = !out.stderr.contains("python3 not found");
    out.check(
        !python_present || out.lines_starting("CPython under its real GIL -> ").len() == 1,
        "each language's own speedup",
    );
    // At 1000 elements thread start-up dominates: said, rather than a ratio read as a finding.
    if python_present {
        out.prose_in_order(&["so the thread ratios measure start-up, not the GIL"]);
    }
}

#[test]
fn a_free_threaded_python_is_set_beside_the_free_threads_not_the_simulated_gil() {
    common::require_python3!();
    let python = common::free_threaded_python();
    let out =
        run("gil", &["--size", "1000", "--runs", "1", "--vs-python", "--python", &python.path]);
    out.success().prose_in_order(&["free threads / ", "CPython with no GIL (free-threaded) -> "]);
    out.check(!out.stdout.contains("simulated GIL threads / "), "the simulated GIL row unpaired");
    out.check(!out.stdout.contains("CPython under its real GIL"), "no real GIL named");
}

/// The interpreter is asked what it is (its version, whether it has a GIL) once a run, by the
/// twin's own run: a stuck one then costs one wait, not two.
#[test]
fn vs_python_asks_the_interpreter_what_it_is_once() {
    common::require_python3!();
    let folder = tempfile::tempdir().unwrap();
    let (log, wrapper) = (folder.path().join("checks"), folder.path().join("python3"));
    // The check is `python -c SCRIPT` whose script reads sysconfig; the twin and the start-up
    // timing (`-c pass`) are not counted.
    let script = format!(
        "#!/bin/sh\ncase \"$2\" in *sysconfig*) echo check >> \"{}\";; esac\nexec python3 \"$@\"\n",
        log.display()
    );
    common::executable_script(&wrapper, &script);
    let wrapper = wrapper.to_string_lossy();
    let out = run("gil", &["--size", "1000", "--runs", "1", "--vs-python", "--python", &wrapper]);
    let checks = std::fs::read_to_string(&log).unwrap_or_default();
    out.success().check(checks.lines().count() == 1, &format!("checked once, not: {checks:?}"));
}

/// With --vs-python and no --size the sum is smaller than the default: the run says so, and
/// why (no Python is needed for that: a missing one is only noted on stderr).
#[test]
fn vs_python_says_the_size_it_sums_and_why() {
    let out = run("gil", &["--runs", "1", "--vs-python", "--python", "/nonexistent/python3"]);
    out.check(out.code == Some(0), "exit status 0 without a Python").prose_in_order(&[
        "CPU-bound: the cube sum of 0..5000000",
        "(5000000 elements, not the default 200000000: --vs-python times the same sum in CPython",
    ]);
    let given = small_run("2");
    given.check(!given.stdout.contains("not the default"), "a size given is not explained");
}

/// The twin says how its threads run by the interpreter that runs it: one at a time under a
/// GIL (PYTHON_GIL=1 keeps it on in any build), at once on a free-threaded build without one.
#[test]
fn the_twin_says_how_its_threads_run_by_the_interpreters_build() {
    common::require_python3!();
    let help = |python: &str| {
        let twin = concat!(env!("CARGO_MANIFEST_DIR"), "/../gil/python/twin.py");
        let out = std::process::Command::new(python)
            .arg(twin)
            .arg("--help")
            .env("PYTHON_GIL", "1")
            .output()
            .expect("python runs");
        common::succeeded("twin.py --help", &out);
        String::from_utf8_lossy(&out.stdout).split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let with_gil = help("python3");
    assert!(
        with_gil.contains("under this Python's GIL, which runs them one at a time"),
        "{with_gil}"
    );
    let free = common::free_threaded_python();
    let without = help(&free.path);
    assert!(without.contains("at once: this Python is free-threaded"), "{without}");
    assert!(!without.contains("one at a time"), "{without}");
}

#[test]
fn output_piped_into_head_ends_quietly() {
    common::check_closed_pipe("gil", &["--size", "100000", "--runs", "1"]);
}

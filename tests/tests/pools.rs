//! `cargo run -p pools`: concurrent.futures, multiprocessing.Pool and queue.Queue in Rust.

use crate::common;
use common::{check_bad_values, check_cli_conventions, small_run};

#[test]
fn executor_map_keeps_input_order() {
    small_run("pools").lines_in_order(&[
        "[1] Python: list(ThreadPoolExecutor().map(cube_sum, lengths))",
        "rayon: [249500250000, 3996001000000, 20236502250000, 63968004000000, 156187506250000, 323892009000000, 600078512250000, 1023744016000000]",
        "Both keep input order, as map does: collect puts each result in its item's slot.",
    ]);
}

#[test]
fn as_completed_reports_every_index_once_in_each_trial() {
    let out = small_run("pools");
    out.lines_in_order(&[
        "4 tasks sleep [40, 10, 25, 5] ms on 4 threads; completion orders in 20 trials:",
    ]);
    // Each tallied order is a permutation of 0..4, and the counts add up to the 20 trials.
    let section: Vec<&str> = out
        .stdout
        .lines()
        .skip_while(|l| !l.contains("completion orders in 20 trials"))
        .skip(1)
        .take_while(|l| l.trim_start().starts_with('['))
        .collect();
    let mut trials = 0;
    for line in &section {
        let (order, count) = line.trim().split_once("]: ").unwrap();
        let mut indices: Vec<u32> =
            order.trim_start_matches('[').split(", ").map(|i| i.parse().unwrap()).collect();
        indices.sort_unstable();
        out.check(indices == [0, 1, 2, 3], "a permutation of the four tasks");
        trials += count.split(' ').next().unwrap().parse::<u32>().unwrap();
    }
    out.check(!section.is_empty() && trials == 20, "20 trials tallied");
}

#[test]
fn a_failing_task_is_reported_alone() {
    small_run("pools").lines_in_order(&[
        "Rust, tasks returning Result: [Ok(25), Err(\"cannot divide by 0\"), Ok(11), Ok(33)]",
        "Rust, a panicking task caught with catch_unwind: [Ok(25), Err(\"attempt to divide by zero\"), Ok(11), Ok(33)]",
        "Without catch_unwind, rayon re-raises the panic at collect, like result() does - and",
    ]);
}

#[test]
fn the_cpu_bound_map_is_verified_on_every_variant() {
    small_run("pools").contains_in_order(&[
        "the cube sum of 0..100000 in 16 tasks",
        "sequential map",
        "(baseline)",
        "rayon par_iter map",
        "thread::scope over chunks",
        "starting a ",
        "verified: every map's total equals (n(n-1)/2)^2",
        // A map of 0..100000 takes well under 20 ms: timed as timeit's autorange would.
        "(a map under 20 ms was repeated within each sample until the sample lasted 20 ms",
    ]);
}

#[test]
fn the_bounded_queue_holds_exactly_its_capacity_and_loses_nothing() {
    small_run("pools")
        .lines_in_order(&[
            "with nobody receiving, 4 items fit and the next try_send is refused: Full",
            "3 producers x 1000 items, 2 consumers: all 3000 received once (sum 4498500),",
        ])
        .prose_in_order(&[
            "Each consumer ended when the last sender was dropped",
            "what Python 3.13's q.shutdown() does",
        ]);
}

#[test]
fn holding_the_lock_while_working_serialises_the_consumers_and_the_let_fixes_it() {
    let out = small_run("pools");
    let held = out.line_starting("while let Ok(item) = rx.lock().recv() { work(item) }");
    out.check(held.ends_with("at most 1 working at once"), "the held lock: one at a time");
    let released = out.line_starting("let item = rx.lock().recv(); ... work(item)");
    out.check(released.contains(", at most "), "the released one's count");
    out.prose_in_order(&[
        "In the first, the lock's guard is a temporary of the `while let` condition",
        "Taking the item in a `let` statement drops the guard at its semicolon, before the work.",
    ]);
}

#[test]
fn shutdown_runs_the_started_jobs_and_cancels_the_queued_ones() {
    small_run("pools").lines_in_order(&[
        "Rust: rx.recv_timeout(50 ms) -> Err(Timeout); waiting again -> Ok(42)",
        "Rust: 2 workers, 20 jobs queued, shut down while each worker is in its first job:",
        "2 ran (the started ones finish), 18 were cancelled (never started).",
    ]);
}

#[test]
fn bad_arguments_follow_the_conventions() {
    check_cli_conventions("pools");
    check_bad_values("pools", "--size", &["0", "-5", "x", "7000000000"]);
    check_bad_values("pools", "--runs", &["0", "1001"]);
    check_bad_values("pools", "--threads", &["0", "1025", "2,x"]);
}

#[test]
fn vs_python_prints_rust_and_python_side_by_side() {
    let out = common::check_vs_python("pools", &["--size", "20000", "--runs", "1"], 5);
    if !out.stderr.contains("python3 not found") {
        out.contains_in_order(&[
            "Each language's own speedup over its plain loop on ",
            "Rust rayon, 0..20000",
            "ThreadPoolExecutor.map, 0..20000",
            "multiprocessing.Pool.map (",
        ]);
        // Rust's map at this size takes microseconds: said, not read as a finding.
        out.prose_in_order(&["too little work for threads to pay for their hand-offs"]);
        // Where the Python lacks InterpreterPoolExecutor (before 3.14), one line says so.
        let interpreters = out.stdout.contains("/ InterpreterPoolExecutor.map");
        let skipped = out.stdout.contains("(InterpreterPoolExecutor: not in this Python; 3.14");
        out.check(interpreters != skipped, "InterpreterPoolExecutor timed or said skipped");
        // Which build python3 is, as the run reports it: under a GIL (any build but a
        // free-threaded one with its GIL off) what goes around it - the process pools, and
        // InterpreterPoolExecutor too, said as timed or as 3.14's where this Python lacks it;
        // without one, no sentence about going around a GIL it lacks.
        let prose = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
        if prose.contains(", free-threaded (no GIL); it starts in ") {
            out.prose_in_order(&[", free-threaded (no GIL): ThreadPoolExecutor: "]);
            out.check(!prose.contains("Around the GIL"), "no GIL to go around");
        } else {
            out.prose_in_order(&["Around the GIL go the process pools", "InterpreterPoolExecutor"]);
            let said = if interpreters {
                "InterpreterPoolExecutor, timed above"
            } else {
                "(not this one)"
            };
            out.prose_in_order(&[said]);
        }
    }
}

#[test]
fn output_piped_into_head_ends_quietly() {
    common::check_closed_pipe("pools", &["--size", "100000", "--runs", "1"]);
}

//! `cargo run -p threading`: notebook section 2.a.

use crate::common;
use common::{check_bad_values, check_cli_conventions, run, small_run};

const NOTEBOOK_SUMS: [&str; 3] = [
    "Normal sum of is 499999500000",
    "Square sum of is 333332833333500000",
    "Cubic sum of is 249999500000250000000000",
];

fn cell_prints_the_notebooks_sums(cell: &str) {
    let mut expected = vec![cell];
    expected.extend(NOTEBOOK_SUMS);
    small_run("threading").lines_in_order(&expected);
}

#[test]
fn without_threading_cell() {
    cell_prints_the_notebooks_sums("without_threading() - one after another:");
}

#[test]
fn do_threading_cell() {
    cell_prints_the_notebooks_sums("do_threading() - one thread per sum, handed back by join:");
}

#[test]
fn scoped_threads_cell() {
    cell_prints_the_notebooks_sums(
        "the same with std::thread::scope - threads may borrow, no move needed:",
    );
}

#[test]
fn the_sums_are_u128_because_the_cube_sum_passes_u64() {
    small_run("threading").lines_in_order(&[
        "(The cube sum passes u64's 1.8x10^19 at this length, so the sums are u128; Python's",
    ]);
}

#[test]
fn the_notebooks_cell_is_timed_beside_the_larger_size() {
    let out = small_run("threading");
    // Each variant against its bound; on one core the ratios can only show what starting
    // threads costs - unless a figure fell outside its bound, which is said instead.
    let cores = timing::machine::cores();
    let explanation = "Against what each can reach here (sums of ";
    let bounds = format!("expected of 3 threads on {}", timing::plural(cores, "core"));
    for section in out.stdout.split("== Timing").skip(1) {
        // As prose: where a paragraph wraps depends on the figures in it ("expected of 3" at a
        // line's end, "threads on 2 cores" on the next).
        let section = section.split_whitespace().collect::<Vec<_>>().join(" ");
        let ended = ["Each within its bound.", "Below its bound: ", "Above its bound: "]
            .iter()
            .any(|s| section.contains(s))
            || (cores == 1 && section.contains("One core: the threads take turns on it"));
        out.check(ended && section.contains(&bounds), "a conclusion from each section's bounds");
    }
    out.contains_in_order(&[
        "== Timing the three sums over 0..1000000 (the notebook's cell), 1 run after a warm-up",
        "Normal sum alone",
        "sequential",
        "(baseline)",
        "one thread per sum (the notebook)",
        "even split, scoped threads",
        "rayon par_iter",
        "verified: every variant's sums equal the closed forms",
        explanation,
        "even split: ",
        "rayon: ",
        "== Timing the three sums over 0..1000, 1 run after a warm-up",
        "verified: every variant's sums equal the closed forms",
        explanation,
    ]);
}

#[test]
fn a_size_whose_cube_sum_overflows_u128_is_refused() {
    run("threading", &["--size", "7000000000"]).usage_error("--size 7000000000: the cube sum");
    run("threading", &["--size", "7e9"]).usage_error("--size 7000000000: the cube sum");
}

#[test]
fn bad_arguments_follow_the_conventions() {
    check_cli_conventions("threading");
    check_bad_values("threading", "--size", &["0", "-1", "1.5", "ten"]);
    check_bad_values("threading", "--threads", &["0", "5000"]);
    check_bad_values("threading", "--runs", &["0", "many"]);
    run("threading", &["--timed-size", "1000"]).usage_error("--timed-size");
}

#[test]
fn sizes_are_read_as_python_writes_them() {
    run("threading", &["--size", "1_000", "--runs", "1"])
        .success()
        .contains_in_order(&["== Timing the three sums over 0..1000, "]);
    run("threading", &["--size", "2e3", "--runs", "1"])
        .success()
        .contains_in_order(&["== Timing the three sums over 0..2000, "]);
}

#[test]
fn vs_python_compares_the_notebooks_cell_without_timing_anything_twice() {
    let out = common::check_vs_python("threading", &["--runs", "1"], 2);
    out.check(
        out.stdout.matches("== Timing the three sums").count() == 1,
        "only the notebook's 1M timed, then compared",
    );
    if !out.stderr.contains("python3 not found") {
        out.check(
            out.lines_starting("Three threads against sequential: Rust -> ").len() == 1,
            "each language's own speedup",
        );
        out.check(
            out.stdout.contains("  CPython 3.") && out.stdout.contains(": its three threads: "),
            "CPython's ratio explained, naming the interpreter",
        );
        // The sentence and the twin's label name the build the run reports python3 to be (with
        // the GIL, free-threaded, or free-threaded with its GIL turned on), not "the GIL" always.
        let prose = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
        let build = prose
            .split("(ran on python3: ")
            .nth(1)
            .and_then(|rest| rest.split("; it starts in ").next())
            .unwrap_or_default();
        out.check(
            !build.is_empty() && prose.contains(&format!("{build}: its three threads")),
            "the ratio's sentence names the build that ran",
        );
        let label = if build.ends_with("free-threaded (no GIL)") {
            "/ three threads, no GIL "
        } else {
            "/ three threads under its GIL"
        };
        out.check(out.stdout.contains(label), "the twin's label for its build");
    }
}

#[test]
fn a_free_threaded_python_is_named_and_no_sentence_blames_a_gil_it_lacks() {
    common::require_python3!();
    let python = common::free_threaded_python();
    let out = run("threading", &["--runs", "1", "--vs-python", "--python", &python.path]);
    out.success().prose_in_order(&[
        &format!("(ran on {}: CPython 3.", python.path),
        ", free-threaded (no GIL); it starts in ",
        "Three threads against sequential: Rust -> ",
        ", free-threaded (no GIL): its three threads: ",
    ]);
    let after = out.stdout.split("Three threads against sequential").nth(1).unwrap_or_default();
    out.check(out.stdout.contains(" CPython 3.") && out.stdout.contains("t -> "), "3.xt column");
    out.check(!after.contains("the GIL lets") && !after.contains("GIL makes"), "no GIL blamed");
    out.check(out.stdout.contains("/ three threads, no GIL "), "the twin's free-threaded label");
}

#[test]
fn output_piped_into_head_ends_quietly() {
    common::check_closed_pipe("threading", &["--size", "1000", "--runs", "1"]);
}

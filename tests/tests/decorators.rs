//! `cargo run -p decorators`: the notebook's decorator cells.

mod common;
use common::{check_bad_values, check_cli_conventions, run, run_with_one_gigabyte};

const START: &str = "This is the start of decorated function!";
const END: &str = "This is the end of decorated function!";

#[test]
fn every_decorator_cell_prints_the_notebooks_lines_in_order() {
    let out = run("decorators", &["--size", "1000", "--runs", "1"]);
    out.success();
    // The lines must follow each other directly, as in the notebook.
    let lines: Vec<&str> = out.stdout.lines().take(16).collect();
    out.check(
        lines
            == [
                "== Decorators -> higher-order functions and an attribute macro",
                "[1] a normal function:",
                "I am a normal function",
                "[2] my_decorator(my_simple_function), a higher-order function:",
                START,
                "I am a normal function",
                END,
                "[3] #[decorate(my_decorator)], Rust's @ notation:",
                START,
                "I do nothing",
                END,
                "[4] a decorated function with arguments, my_adder(6, 7):",
                START,
                "Sum of x,y is 13",
                END,
                "    (Rust has no *args: the decorator is generic over one argument, here the tuple \
                 (6, 7))",
            ],
        "the first sixteen lines are the notebook's cells",
    );
}

#[test]
fn the_timing_decorator_prints_seconds_and_keeps_the_list() {
    let out = run("decorators", &["--size", "1000", "--runs", "2"]);
    out.success().contains_in_order(&[
        "[5] #[decorate(time_decor)] on building a list of 1000 numbers:",
        "Time taken in seconds ",
        "Time taken in seconds ",
        "ours returns it, so it can be checked",
        "measured with `timing` (2 runs after a warm-up):",
        "push loop (create_big_list)",
        "median of 2",
        "collect (create_big_list_faster)",
        "median of 2",
        "verified: both lists have length 1000 and end with 999",
    ]);
    for line in out.lines_starting("Time taken in seconds ") {
        let seconds: f64 = line.trim_start_matches("Time taken in seconds ").parse().unwrap();
        out.check(seconds >= 0.0, "seconds is a number");
    }
}

#[test]
fn a_size_beyond_memory_is_refused_before_allocating() {
    run("decorators", &["--size", "100000000000"]).usage_error("--size 100000000000 needs");
    run_with_one_gigabyte("decorators", &["--size", "100000000"])
        .usage_error("--size 100000000 needs 1.6 GB but this machine has 1.0 GB available");
    check_cli_conventions("decorators");
    check_bad_values("decorators", "--size", &["0", "-100", "1e8"]);
    check_bad_values("decorators", "--runs", &["0", "100000"]);
}

#[test]
fn vs_python_prints_rust_and_python_side_by_side() {
    common::check_vs_python("decorators", &["--size", "1000", "--runs", "1"], 2);
}

#[test]
fn output_piped_into_head_ends_quietly() {
    common::check_closed_pipe("decorators", &["--size", "100000", "--runs", "1"]);
}

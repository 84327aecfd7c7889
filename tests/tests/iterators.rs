//! `cargo run -p iterators`: notebook section 1.c.

use crate::common;
use common::{check_bad_values, check_cli_conventions, refused_for_memory, run, small_run};

const GENERATOR_OUTPUT: [&str; 8] = [
    "Processing Halted1",
    "5 6",
    "Processing Resumed2",
    "Processing Halted2",
    "11 6",
    "Processing Resumed3",
    "Processing Halted3",
    "12 16",
];

#[test]
fn my_iter_starts_at_1_and_steps_by_5_up_to_96() {
    small_run("iterators").lines_in_order(&[
        "[1] next(myIter(1, 100, 5)) = 1",
        "the whole sequence: [1, 6, 11, 16, 21, 26, 31, 36, 41, 46, 51, 56, 61, 66, 71, 76, 81, \
         86, 91, 96]",
        "(__iter__ is IntoIterator::into_iter, __next__ is Iterator::next,",
        "StopIteration is None)",
    ]);
}

#[test]
fn eager_list_cell_is_refused_at_once() {
    // The program's own check, then what a real collect() does: its panic, caught and shown.
    small_run("iterators").lines_in_order(&[
        "[2] eager list of range(1, 2x10^29, 5): 4x10^28 u128 numbers, 6.4x10^29 bytes",
        "this program's check: 4x10^28 elements do not fit usize (at most 1.8x10^19)",
        "(start..end).step_by(5).collect(): panics at once, \"capacity overflow\" (caught here):",
        "its size hint, 3.7x10^18 elements (usize::MAX / 5), already needs more than isize::MAX",
    ]);
    small_run("iterators")
        .check(small_run("iterators").stderr.is_empty(), "the caught panic leaves stderr alone");
}

#[test]
fn lazy_iter_cell_gives_1_then_16() {
    small_run("iterators")
        .lines_in_order(&["[3] lazy myIter(1, 2x10^29, 5): next -> 1, three more -> 16"]);
}

#[test]
fn the_iterator_stops_at_u64s_top_and_runs_on_biguint_past_u128() {
    small_run("iterators").lines_in_order(&[
        "[4] u64 near its maximum stops instead of overflowing: \
         [18446744073709551608, 18446744073709551613]",
        "BigUint from 10^40 + 1 (past u128), step 5:",
        "10000000000000000000000000000000000000001",
        "10000000000000000000000000000000000000006",
        "10000000000000000000000000000000000000011",
        "10000000000000000000000000000000000000016",
        "10000000000000000000000000000000000000021",
    ]);
}

#[test]
fn both_generators_interleave_their_prints_with_the_loops_exactly_as_the_notebook() {
    let out = small_run("iterators");
    for header in ["compiles to):", "my_gen with iter::from_fn:"] {
        // The eight lines follow the header directly, with nothing in between.
        let after: Vec<&str> =
            out.stdout.lines().skip_while(|l| l.trim() != header).skip(1).take(8).collect();
        out.check(after == GENERATOR_OUTPUT, &format!("eight generator lines after {header:?}"));
    }
}

#[test]
fn lazy_and_eager_sums_agree_with_the_closed_form() {
    // The sum of squares of 0..1000 is 999*1000*1999/6 = 332833500.
    let out = small_run("iterators");
    out.contains_in_order(&[
        "[6] sum of squares of 0..1000, lazy chain against collected Vec (1 run after a warm-up):",
        "lazy chain",
        "(baseline)",
        "sum 332833500, peak memory",
        "collected Vec",
        "sum 332833500, peak memory",
    ]);
}

#[test]
fn sizes_that_overflow_or_exceed_memory_are_refused() {
    run("iterators", &["--size", "5000000000"]).usage_error("do not fit u64");
    refused_for_memory("iterators", &["--size", "100000000"], "--size 100000000 needs 0.8 GB");
    check_cli_conventions("iterators");
    check_bad_values("iterators", "--size", &["0", "-1", "1.5"]);
    check_bad_values("iterators", "--runs", &["0", "-1", "1001"]);
}

#[test]
fn output_piped_into_head_ends_quietly() {
    common::check_closed_pipe("iterators", &["--size", "100000"]);
}

//! `cargo run -p lambdas`: notebook section 1.a, one test per cell.

use crate::common;
use common::{check_cli_conventions, run};

fn prints(lines: &[&str]) {
    run("lambdas", &[]).success().lines_in_order(lines);
}

#[test]
fn square_cell() {
    prints(&["[1] square(5) = 25    (notebook: my_sqr_func, commented \"sqrt\" but it squares)"]);
}

#[test]
fn adder_cell() {
    prints(&[
        "[2] add(3, 4) = 7",
        "    (no types written: that first call made x and y i32, so add(0.5, 0.25) would not \
         compile)",
    ]);
}

#[test]
fn map_cell() {
    prints(&["[3] map square over [1, 2, 3, 4] = [1, 4, 9, 16]"]);
}

#[test]
fn filter_cell() {
    prints(&[
        "[4] filter even length from [\"hello\", \"bye\", \"Damn\", \"Yolo\"] = [\"Damn\", \"Yolo\"]",
    ]);
}

#[test]
fn sort_cell() {
    prints(&[
        "[5] sorted by age  = [Person { name: \"Himavari\", age: 6 }, \
         Person { name: \"shinchan\", age: 12 }, Person { name: \"lmn\", age: 25 }]",
        "    sorted by name = [Person { name: \"Himavari\", age: 6 }, \
         Person { name: \"lmn\", age: 25 }, Person { name: \"shinchan\", age: 12 }]",
    ]);
}

#[test]
fn nested_cell() {
    prints(&[
        "[6] add_suffix(\"World\")(\"Hello\") = \"Hello World\"",
        "(the notebook calls it add_prefix, but it appends: \"Hello\" + \" \" + \"World\")",
    ]);
}

#[test]
fn reduce_cell() {
    prints(&["[7] reduce over [1, 2, 3, 4]: sum = 10, product = 24"]);
}

#[test]
fn the_cells_come_in_notebook_order() {
    let out = run("lambdas", &[]);
    let numbered: Vec<&str> = out.lines_starting("[").iter().map(|l| &l[..3]).collect();
    out.check(numbered == ["[1]", "[2]", "[3]", "[4]", "[5]", "[6]", "[7]"], "cells [1] to [7]");
}

#[test]
fn the_rust_twist_shows_each_capture_mode_boxed_closures_and_laziness() {
    prints(&[
        "== The Rust twist",
        "Fn     (shared borrow, call any number of times): \"Hello Lmn\"",
        "FnMut  (mutable borrow, one caller at a time):    ticks = 2",
        "FnOnce (moves its capture out, callable once):    [\"shinchan\", \"Himavari\"]",
        "Box<dyn Fn> lets one Vec hold different closures: square(5) = 25, double(5) = 10, \
         add 10(5) = 15",
        "Lazy: building the map chain ran the closure 0 times; sum() ran it 4 times",
        "sort_by(|a, b| a.name.cmp(&b.name)) == sort_by_cached_key(|p| p.name.clone()): \
         [\"Himavari\", \"lmn\", \"shinchan\"]",
    ]);
}

#[test]
fn help_and_unknown_flags_follow_the_conventions() {
    check_cli_conventions("lambdas");
    run("lambdas", &["--size", "5"])
        .usage_error("--size: lambdas times nothing, so it takes no --size (the timed topics do)");
    run("lambdas", &["--runs", "3"]).usage_error("--runs: lambdas times nothing");
}

#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    common::check_closed_pipe("lambdas", &[]);
}

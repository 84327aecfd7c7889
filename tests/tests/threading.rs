//! `cargo run -p threading`: notebook section 2.a.

mod common;
use common::{check_bad_values, check_cli_conventions, run};

const NOTEBOOK_SUMS: [&str; 3] = [
    "Normal sum of is 499999500000",
    "Square sum of is 333332833333500000",
    "Cubic sum of is 249999500000250000000000",
];

#[test]
fn each_cell_prints_the_notebooks_three_sums_in_a_fixed_order() {
    let out = run("threading", &["--timed-size", "1000", "--runs", "1"]);
    out.success();
    for cell in [
        "without_threading() - one after another:",
        "do_threading() - one thread per sum, handed back by join:",
        "the same with std::thread::scope - threads may borrow, no move needed:",
    ] {
        let mut expected = vec![cell];
        expected.extend(NOTEBOOK_SUMS);
        out.lines_in_order(&expected);
    }
    out.lines_in_order(&[
        "(The cube sum passes u64's 1.8x10^19 at this length, so the sums are u128; Python's",
    ]);
    let cubes = out.lines_starting("Cubic sum of is ");
    out.check(cubes.len() == 3, "three cells, one cube sum each");
}

#[test]
fn timed_section_verifies_every_variant_at_a_small_size() {
    run("threading", &["--size", "5", "--timed-size", "1000", "--runs", "1", "--threads", "3"])
        .success()
        .lines_in_order(&["Normal sum of is 10", "Square sum of is 30", "Cubic sum of is 100"])
        .contains_in_order(&[
            "== Timing the three sums over 0..1000 (1 runs after a warm-up",
            "sequential",
            "(baseline)",
            "one thread per sum (the notebook)",
            "even split, scoped threads",
            "rayon par_iter",
            "verified: every variant's sums equal the closed forms",
            "No GIL",
            "The even split gives each of 3 threads",
        ]);
}

#[test]
fn a_size_whose_cube_sum_overflows_u128_is_refused() {
    run("threading", &["--size", "7000000000"]).usage_error("--size 7000000000: the cube sum");
    run("threading", &["--timed-size", "7000000000"]).usage_error("--timed-size 7000000000");
}

#[test]
fn bad_arguments_follow_the_conventions() {
    check_cli_conventions("threading");
    check_bad_values("threading", "--size", &["0", "-1", "1e6"]);
    check_bad_values("threading", "--threads", &["0", "5000"]);
    check_bad_values("threading", "--runs", &["0", "many"]);
}

#[test]
fn vs_python_prints_rust_and_python_side_by_side() {
    let out = common::check_vs_python(
        "threading",
        &["--size", "1000", "--timed-size", "1000", "--runs", "1"],
        2,
    );
    let python_present = !out.stderr.contains("python3 not found");
    out.check(
        !python_present
            || out.lines_starting("Three threads against sequential: Rust -> ").len() == 1,
        "each language's own speedup",
    );
}

#[test]
fn output_piped_into_head_ends_quietly() {
    common::check_closed_pipe("threading", &["--timed-size", "100000", "--runs", "1"]);
}

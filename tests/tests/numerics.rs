//! `cargo run -p numerics`: notebook takeaways 3 and 5 (NumPy, SciPy, Cython, Numba).

use crate::common;
use common::{check_cli_conventions, refused_for_memory, run};

const DISTANCE_VARIANTS: [&str; 7] = [
    "1 naive loops (Cython, Numba @njit)",
    "2 ndarray broadcasting (NumPy)",
    "3 BLAS trick |x|^2+|y|^2-2XY^T",
    "4a lanes, baseline x86-64 / any",
    "4b lanes, host CPU's vector units",
    "5 naive, rows on all cores (rayon)",
    "6 lanes, rows on all cores",
];

const JULIA_VARIANTS: [&str; 6] = [
    "1 num-complex, abs(z) < 2 (Python)",
    "2 two f64, |z|^2 < 4 (Cython)",
    "3a 8 pixels in lanes, baseline",
    "3b 8 pixels in lanes, host CPU",
    "4 two f64, rows on all cores",
    "5 lanes, rows on all cores",
];

#[test]
fn distances_time_every_variant_and_check_it_against_the_naive_loop() {
    let out = run("numerics", &["distances", "--n", "37", "--dim", "5", "--runs", "1"]);
    out.success().contains_in_order(&["== Pairwise distances: 37 points in 5 dimensions"]);
    let mut rows = DISTANCE_VARIANTS.to_vec();
    rows.extend(["What it shows:", "- On ", "- Getting the 11.0 kB result costs about"]);
    out.contains_in_order(&rows);
    // Every variant but the first is checked; the BLAS trick against its error bound.
    out.check(out.stdout.matches("ok: max rel. diff").count() == 5, "five relative checks");
    out.check(out.stdout.contains("ok: d^2 within (2D+4)eps(|x|^2+|y|^2)"), "the BLAS bound");
    out.check(!out.stdout.contains("== Julia set"), "only the distances");
}

#[test]
fn julia_prints_the_books_checksum_for_every_variant() {
    let out = run("numerics", &["julia", "--runs", "1"]);
    out.success().contains_in_order(&[
        "== Julia set: 1000 x 1000 pixels, c = -0.62772 -0.42193i, at most 300 iterations",
    ]);
    out.contains_in_order(&JULIA_VARIANTS);
    out.check(out.stdout.matches("ok: same counts").count() == 5, "every variant checked");
    out.lines_in_order(&[
        "checksum (sum of all iteration counts): 33219980, the same for every variant",
        "= the book's assert sum(output) == 33219980",
    ]);
    out.contains_in_order(&["- Load imbalance: a row costs from ", "rayon instead makes"]);
}

#[test]
fn a_small_julia_set_matches_the_books_python_at_that_width() {
    // 334236: the book's calc_pure_python at width 100, 300 iterations, run in CPython.
    run("numerics", &["julia", "--size", "100", "--runs", "1"]).success().lines_in_order(&[
        "checksum (sum of all iteration counts): 334236, the same for every variant",
    ]);
}

#[test]
fn without_a_workload_both_run_at_the_size_given() {
    let out = run("numerics", &["--size", "120", "--runs", "1"]);
    out.success().contains_in_order(&[
        "== Pairwise distances: 120 points in 16 dimensions, a 115.2 kB result",
        "== Julia set: 120 x 120 pixels",
    ]);
}

#[test]
fn size_is_the_workload_everywhere_and_messages_name_the_option_typed() {
    run("numerics", &["distances", "--size", "30", "--runs", "1"])
        .success()
        .contains_in_order(&["== Pairwise distances: 30 points in 16 dimensions"]);
    run("numerics", &["--size", "40", "julia", "--runs", "1"])
        .success()
        .contains_in_order(&["== Julia set: 40 x 40 pixels"]);
    refused_for_memory("numerics", &["distances", "--size", "1e5"], "--size 100000 needs 240.0 GB");
    run("numerics", &["julia", "--size", "50", "--width", "60"])
        .usage_error("--width 60 and --size 50: give one of them");
}

#[test]
fn one_point_is_said_in_the_singular_and_a_tiny_result_in_bytes() {
    let out = run("numerics", &["distances", "--size", "1", "--dim", "1", "--runs", "1"]);
    out.success().contains_in_order(&[
        "== Pairwise distances: 1 point in 1 dimension, a 8 bytes result",
        "At this size the temporary comes mostly from memory the allocator already holds.",
    ]);
    out.check(!out.stdout.contains("that, not arithmetic"), "no claim about page faults");
}

#[test]
fn png_replaces_a_picture_only_once_the_new_one_is_whole() {
    use std::os::unix::process::CommandExt;
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    let path = dir.join("julia.png");
    std::fs::write(&path, b"the old picture").unwrap();
    let path_text = path.to_str().unwrap();
    // A write that fails part-way - the disk full, here a file-size limit of 1 kB under a
    // picture of about 20 kB - must leave the old picture whole and no temporary file.
    let mut limited = std::process::Command::new(common::binary("numerics"));
    limited.args([
        "julia",
        "--width",
        "200",
        "--max-iter",
        "50",
        "--runs",
        "1",
        "--png",
        path_text,
    ]);
    // SAFETY: between fork and exec only a signal disposition and a resource limit are set,
    // both plain system calls: no allocation, no lock.
    #[allow(unsafe_code)]
    unsafe {
        limited.pre_exec(|| {
            use nix::sys::signal::{SigHandler, Signal, signal};
            // Past the limit a write fails with EFBIG instead of the signal killing it.
            signal(Signal::SIGXFSZ, SigHandler::SigIgn).map_err(std::io::Error::from)?;
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_FSIZE, 1000, 1000)
                .map_err(std::io::Error::from)
        });
    }
    let failed = limited.output().unwrap();
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "a failed write is exit 1: {stderr}");
    assert!(stderr.contains(&format!("cannot write {path_text}")), "{stderr}");
    assert_eq!(std::fs::read(&path).unwrap(), b"the old picture");
    let left: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["julia.png"], "no temporary file left");
    run("numerics", &["julia", "--width", "30", "--runs", "1", "--png", path_text]).success();
    assert_eq!(&std::fs::read(&path).unwrap()[..4], b"\x89PNG");
    let left: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["julia.png"], "no temporary file left");
}

#[test]
fn png_writes_a_picture_of_the_grids_size() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    let path = dir.join("julia.png");
    let path_text = path.to_str().unwrap();
    run(
        "numerics",
        &["julia", "--width", "120", "--max-iter", "50", "--runs", "1", "--png", path_text],
    )
    .success()
    .lines_in_order(&[&format!("wrote the picture to {path_text} (120 x 120 PNG)")]);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height, bytes[24], bytes[25]), (120, 120, 8, 2), "8-bit RGB, 120 x 120");
}

#[test]
fn bad_arguments_follow_the_conventions() {
    check_cli_conventions("numerics");
    for sub in ["distances", "julia"] {
        run("numerics", &[sub, "--help"]).success();
        run("numerics", &[sub, "--no-such-flag"]).usage_error("--no-such-flag");
        for value in ["0", "-3", "x"] {
            run("numerics", &[sub, "--runs", value]).usage_error("--runs");
        }
    }
    for (flag, values) in [("--n", ["0", "-1", "ten"]), ("--dim", ["0", "-2", "1.5"])] {
        for value in values {
            run("numerics", &["distances", flag, value]).usage_error(flag);
        }
    }
    for (flag, values) in [("--width", ["0", "-1", "big"]), ("--max-iter", ["0", "-5", "2000000"])]
    {
        for value in values {
            run("numerics", &["julia", flag, value]).usage_error(flag);
        }
    }
}

#[test]
fn results_that_do_not_fit_in_memory_are_refused() {
    refused_for_memory("numerics", &["distances", "--n", "100000"], "--n 100000 needs 240.0 GB");
    refused_for_memory(
        "numerics",
        &["julia", "--width", "100000"],
        "--width 100000 needs 150.0 GB",
    );
}

#[test]
fn an_unwritable_png_path_is_refused_before_any_work() {
    run("numerics", &["julia", "--png", "/no/such/folder/julia.png"])
        .usage_error("--png: cannot write in /no/such/folder");
}

#[test]
fn vs_python_without_a_usable_python_still_prints_the_rust_figures() {
    let args = ["distances", "--n", "20", "--runs", "1", "--vs-python", "--python"];
    for (python, message) in [
        (
            "/no/such/python",
            "note: no Python comparison: /no/such/python not found: install Python 3, or pass --python PATH to one",
        ),
        ("/bin/echo", "note: no Python comparison: /bin/echo is not a Python 3 interpreter"),
    ] {
        let out = run("numerics", &[&args[..], &[python]].concat());
        out.check(out.code == Some(0), "exit status 0");
        out.check(out.stderr.lines().count() == 1 && out.stderr.starts_with(message), message);
        out.contains_in_order(&["6 lanes, rows on all cores", "== Rust vs Python on this machine"]);
    }
}

#[test]
fn vs_python_names_the_packages_a_given_python_lacks() {
    common::require_python3!();
    // python3 with its site-packages switched off (-S): a real Python 3 without NumPy & co.
    let bare = common::bare_python();
    let bare_text = bare.path.as_str();
    let out = common::run_with_env(
        "numerics",
        &["julia", "--width", "20", "--runs", "1", "--vs-python"],
        &[("HPC_RS_PYTHON", bare_text)],
    );
    out.check(out.code == Some(0), "exit status 0");
    out.check(
        out.stderr.lines().count() == 1
            && out.stderr.contains(&format!(
                "{bare_text} lacks numpy>=2.0, scipy>=1.11, numba>=0.60, cython>=3.0, setuptools>=65: run `{bare_text} -m pip install"
            )),
        "one line naming every missing package",
    );
    out.contains_in_order(&[
        "checksum (sum of all iteration counts)",
        "== Rust vs Python on this machine",
    ]);
}

#[test]
fn output_piped_into_head_ends_quietly() {
    common::check_closed_pipe("numerics", &["julia", "--width", "50", "--runs", "1"]);
}

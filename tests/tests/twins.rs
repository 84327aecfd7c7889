//! The Python twins behind `--vs-python` run by themselves too, as a Python reader would run
//! them: `python3 numerics/python/distances.py --help`, or a twin with small arguments.

// A failed step is a failing test: what it should be.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::path::Path;
use std::process::Command;

/// Every twin, with the first words of its usage.
const TWINS: [(&str, &str); 13] = [
    ("comprehensions/python/twin.py", "twin.py [SIZE [RUNS]]"),
    ("decorators/python/twin.py", "twin.py [SIZE [RUNS]]"),
    ("threading/python/twin.py", "twin.py [SIZE [RUNS]]"),
    ("gil/python/twin.py", "twin.py [SIZE [RUNS [THREADS]]]"),
    ("multiprocessing/python/twin.py", "twin.py [TINY [RUNS [REAL]]]"),
    ("pools/python/twin.py", "twin.py [SIZE [RUNS [THREADS [TASKS]]]]"),
    ("reactive/python/throughput.py", "throughput.py [SIZE [RUNS [EXPECTED]]]"),
    ("reactive/python/replay.py", "replay.py: a timed script through RxPY 4 operators"),
    ("numerics/python/distances.py", "distances.py [N [RUNS [DIM"),
    ("numerics/python/julia.py", "julia.py [WIDTH [RUNS [MAX_ITER"),
    ("numerics/python/calls.py", "calls.py [LENGTH [RUNS [PURE_LENGTH]]]"),
    (
        "dataflow/python/twin.py",
        "twin.py THREADS RUNS SEP ANSWERS ENGINES QUESTIONS MEMORY FILE...",
    ),
    ("dataflow/python/engines.py", "engines.py ENGINE THREADS RUNS SEP ANSWERS QUESTIONS MEMORY"),
];

fn python3(twin: &str, args: &[&str]) -> std::process::Output {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(twin);
    Command::new("python3").arg(path).args(args).output().unwrap()
}

#[test]
fn every_twin_explains_itself_with_help_and_needs_no_package_for_it() {
    common::require_python3!();
    for (twin, usage) in TWINS {
        let out = python3(twin, &["--help"]);
        common::succeeded(&format!("{twin} --help"), &out);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with(usage), "{twin}: {text}");
    }
}

/// The twins that start processes, under the two start methods that import them again in each
/// child - forkserver (Linux's default from 3.14) and spawn (macOS's and Windows') - as well as
/// fork: every row measured and checked.
#[test]
fn the_process_twins_run_under_every_start_method() {
    common::require_python3!();
    for method in ["forkserver", "spawn"] {
        for (twin, args, rows) in [
            ("multiprocessing/python/twin.py", &["5", "1", "1000"][..], 6),
            ("pools/python/twin.py", &["10000", "1", "2", "4"], 5),
        ] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(twin);
            let out = Command::new("python3")
                .arg(path)
                .args(args)
                .env("HPC_RS_START_METHOD", method)
                .output()
                .unwrap();
            common::succeeded(&format!("{twin} under {method}"), &out);
            let text = String::from_utf8_lossy(&out.stdout);
            let reported = text.lines().filter(|l| !l.starts_with("note\t")).count();
            assert!(reported >= rows, "{twin} under {method}: {text}");
        }
    }
}

#[test]
fn the_plain_twins_run_alone_and_report_checked_rows() {
    common::require_python3!();
    for (twin, args, rows) in [
        ("comprehensions/python/twin.py", &["1000", "1"][..], 2),
        ("decorators/python/twin.py", &["1000", "1"], 2),
        ("threading/python/twin.py", &["1000", "1"], 2),
        ("gil/python/twin.py", &["10000", "1", "2"], 2),
        ("multiprocessing/python/twin.py", &["5", "1", "1000"], 6),
        ("pools/python/twin.py", &["10000", "1", "2", "4"], 5),
    ] {
        let out = python3(twin, args);
        common::succeeded(twin, &out);
        let text = String::from_utf8_lossy(&out.stdout);
        let reported: Vec<&str> = text.lines().filter(|l| !l.starts_with("note\t")).collect();
        assert_eq!(reported.len(), rows, "{twin}: {text}");
        for line in reported {
            // label, median, min, max (seconds), runs: the line the Rust side reads.
            let fields: Vec<&str> = line.split('\t').collect();
            assert!(fields.len() == 5 && fields[4] == "1", "{twin}: {line:?}");
            assert!(fields[1..4].iter().all(|f| f.parse::<f64>().is_ok()), "{twin}: {line:?}");
        }
    }
    // Without its required arguments, one line and status 2.
    let out = python3("dataflow/python/twin.py", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs more arguments (see --help)"));
}

#[test]
#[cfg(target_os = "linux")]
fn a_twin_and_its_children_die_with_the_parent() {
    common::require_python3!();
    // At 50M, CPython's cubes take many seconds: the twin (and, in multiprocessing, its three
    // children) surely still running when the parent gets Ctrl-C.
    let busy = ["--size", "50000000", "--runs", "1", "--vs-python"];
    std::thread::scope(|s| {
        for (topic, processes) in [("gil", 1), ("multiprocessing", 4)] {
            s.spawn(move || common::check_twin_dies_with_its_parent(topic, &busy, processes));
        }
    });
}

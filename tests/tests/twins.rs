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

/// `engines.py`, the twin of `dataflow`'s comparisons, run alone on one engine (Polars, the one
/// package it needs for that): each question's answer checked against the one `dataflow
/// groupby` printed for it; a figure off by one in Rust's answer stops it, naming the group.
#[test]
fn the_dataflow_twin_checks_an_engine_s_answers_against_rust_s() {
    common::require_python3!();
    let Some(python) = crate::dataflow::twins_python() else { return };
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("data");
    let generate = ["generate", "--shape", "groupby", "--rows", "3000", "--groups", "3"];
    common::run("dataflow", &[&generate[..], &["--out", data.to_str().unwrap()]].concat())
        .success();
    let pattern = format!("{}/*.csv", data.display());
    // Each question as engines.py takes it, and as `dataflow groupby` asks it.
    let questions = [
        (
            "q6|id4,id5|v3:median+v3:std+v3:var+v3:mean+v3:sum+v3:count+v3:min+v3:max+size",
            &["--by", "id4,id5", "--agg", "v3:median,std,var,mean,sum,count,min,max"][..],
        ),
        ("q1|id1|v1:sum", &["--by", "id1", "--agg", "v1:sum"]),
    ];
    let answers = folder.path().join("answers");
    std::fs::create_dir(&answers).unwrap();
    for (i, (_, query)) in questions.iter().enumerate() {
        let extra: &[&str] = if i == 0 { &["--agg", "size"] } else { &[] };
        let out = common::run("dataflow", &[&["groupby", &pattern][..], query, extra].concat());
        out.success();
        std::fs::write(answers.join(format!("{i}.csv")), &out.stdout).unwrap();
    }
    let spec = questions.map(|(question, _)| question).join(";");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dataflow/python/engines.py");
    let engines = || {
        let args = ["polars", "1", "1", ",", answers.to_str().unwrap(), &spec, "none", &pattern];
        Command::new(&python).arg(&script).args(args).output().unwrap()
    };
    let out = engines();
    common::succeeded("engines.py polars", &out);
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = text.lines().filter(|l| !l.starts_with("note\t")).collect();
    assert_eq!(rows.len(), 2, "{text}");
    for (row, name) in rows.iter().zip(["q6", "q1"]) {
        assert!(row.starts_with(&format!("{name} Polars streaming, 1 thread [")), "{row}");
        assert_eq!(row.split('\t').count(), 5, "{row}");
    }
    // One figure of Rust's q1 answer off by one: the twin names the group and fails.
    let answer = std::fs::read_to_string(answers.join("1.csv")).unwrap();
    let first = answer.lines().nth(1).unwrap();
    let (group, sum) = first.split_once(',').unwrap();
    let wrong = format!("{group},{}", sum.parse::<u64>().unwrap() + 1);
    std::fs::write(answers.join("1.csv"), answer.replacen(first, &wrong, 1)).unwrap();
    let out = engines();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    let named = format!("q1 Polars streaming, 1 thread: ('{group}',) v1 sum: {sum}.0 != '");
    assert!(said.contains(&named), "{named} in {said}");
}

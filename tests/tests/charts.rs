//! `--svg FILE` in every topic that times: a well-formed SVG that carries the run's own labels
//! and medians, written whole, and a path that cannot be written refused before any work.
// A failed file operation fails the test: what it should do.
#![allow(clippy::unwrap_used)]

use crate::common;

/// Each timed topic with a small workload (the same sizes as its own tests).
const TIMED: [(&str, &[&str]); 11] = [
    ("comprehensions", &["--size", "1000", "--runs", "1"]),
    ("decorators", &["--size", "1000", "--runs", "1"]),
    ("iterators", &["--size", "1000", "--runs", "1"]),
    ("threading", &["--size", "100000", "--runs", "1"]),
    ("locks", &["--trials", "20", "--size", "2000", "--runs", "1"]),
    ("gil", &["--size", "100000", "--runs", "1"]),
    ("multiprocessing", &["--size", "100000", "--runs", "1"]),
    ("numerics", &["--runs", "1", "distances", "--n", "200"]),
    ("pools", &["--size", "100000", "--runs", "1"]),
    ("reactive", &["--size", "1000", "--runs", "1"]),
    ("dataflow", &["--size", "20000", "--runs", "1"]),
];

/// Every text of the SVG, parsed as XML (a malformed picture fails here).
fn texts(svg: &str) -> Vec<String> {
    placed_texts(svg).into_iter().map(|(text, _)| text).collect()
}

/// The measurements a run printed, as (label, median): each line `label  median  (min..max,
/// median of N)`, the one format `timing::Stats::line` writes.
fn printed_measurements(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|line| {
            let (head, tail) = line.split_once("  (")?;
            if !tail.contains(", median of ") {
                return None;
            }
            let words: Vec<&str> = head.split_whitespace().collect();
            let (label, median) = words.split_at(words.len().checked_sub(2)?);
            Some((label.join(" "), median.join(" ")))
        })
        .collect()
}

/// `topic` with `args` and `--svg FOLDER/TOPIC.svg` in a folder of its own, which must
/// succeed: the folder, the run, and the chart's path.
fn drawn(topic: &str, args: &[&str]) -> (tempfile::TempDir, common::Run, std::path::PathBuf) {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join(format!("{topic}.svg"));
    let mut all = args.to_vec();
    all.extend(["--svg", path.to_str().unwrap()]);
    let out = common::run(topic, &all);
    out.check(out.code == Some(0), "exit 0");
    (folder, out, path)
}

#[test]
fn every_timed_topic_draws_what_it_printed() {
    for (topic, args) in TIMED {
        let (folder, out, path) = drawn(topic, args);
        out.check(
            out.stdout
                .contains(&format!("(the measurements above as a chart: {})", path.display())),
            "says where the chart went",
        );
        let texts = texts(&std::fs::read_to_string(&path).unwrap());
        let measured = printed_measurements(&out.stdout);
        out.check(!measured.is_empty(), "prints measurements");
        for (label, median) in &measured {
            out.check(texts.iter().any(|t| t == label), &format!("the chart labels {label:?}"));
            out.check(
                texts.iter().any(|t| t.starts_with(&format!("{median},")) || t == median),
                &format!("the chart shows {label:?}'s median {median}"),
            );
        }
        let cores = timing::machine::cores();
        let command = format!("`{topic} {} --svg {}`", args.join(" "), path.display());
        let caption = texts.iter().find(|t| t.contains(&command));
        out.check(
            caption
                .is_some_and(|c| c.starts_with(&format!("{} of ", timing::plural(cores, "core")))),
            "the caption names the cores and the command",
        );
        // Written whole and renamed into place: no temporary file is left beside the
        // picture; gil draws its timeline of who held the GIL beside its chart.
        let mut names: Vec<String> = std::fs::read_dir(folder.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut expected = vec![format!("{topic}.svg")];
        expected.extend((topic == "gil").then(|| "gil-timeline.svg".to_owned()));
        expected.sort();
        assert_eq!(names, expected);
    }
}

#[test]
fn the_chart_follows_the_run() {
    let draw = |size: &str| {
        let (_folder, _, path) = drawn("threading", &["--size", size, "--runs", "1"]);
        texts(&std::fs::read_to_string(&path).unwrap())
    };
    let small = draw("100000");
    let larger = draw("200000");
    assert!(small.iter().any(|t| t.contains("over 0..100000")), "{small:?}");
    assert!(larger.iter().any(|t| t.contains("over 0..200000")), "{larger:?}");
    assert!(!small.iter().any(|t| t.contains("over 0..200000")), "{small:?}");
}

#[test]
fn a_path_that_cannot_be_written_is_refused_before_any_work() {
    let folder = tempfile::tempdir().unwrap();
    let missing = folder.path().join("no/such/folder/chart.svg");
    let a_folder = folder.path().to_str().unwrap().to_owned();
    for (topic, args) in TIMED {
        for path in [missing.to_str().unwrap(), &a_folder] {
            let mut all = args.to_vec();
            all.extend(["--svg", path]);
            common::run(topic, &all).usage_error("--svg");
        }
    }
    assert_eq!(std::fs::read_dir(folder.path()).unwrap().count(), 0, "nothing was written");
}

#[test]
fn a_part_that_times_nothing_refuses_svg() {
    let chart = ["--svg", "chart.svg"];
    // After a subcommand that draws nothing, --svg is no option of it; before it, the lesson's
    // option is refused rather than ignored.
    common::run("reactive", &[&["monitor", "--duration", "1"][..], &chart].concat())
        .usage_error("unexpected argument '--svg'");
    common::run("reactive", &[&chart[..], &["monitor", "--duration", "1"]].concat())
        .usage_error("--svg: the lesson's option; a subcommand takes its own after its name");
    common::run("dataflow", &[&["generate", "--rows", "1", "--out", "x"][..], &chart].concat())
        .usage_error("unexpected argument '--svg'");
    common::run("dataflow", &[&chart[..], &["generate", "--rows", "1", "--out", "x"]].concat())
        .usage_error("--svg: generate times nothing");
    common::run("lambdas", &chart).usage_error("--svg");
    common::run("dataflow", &["groupby", "x.csv", "--by", "a", "--value", "b", "--threads", "2"])
        .usage_error("--threads: groupby takes --workers");
}

#[test]
fn gil_draws_who_holds_the_gil_beside_its_chart() {
    let args = ["--size", "100000", "--runs", "1", "--threads", "2"];
    let (folder, out, path) = drawn("gil", &args);
    let timeline = folder.path().join("gil-timeline.svg");
    out.contains_in_order(&[
        &format!("Who holds the GIL, when ({}):", timeline.display()),
        "under the GIL the longest overlap of two holds was 0 ns in every case (checked):",
        "free, the threads ran at once for ",
    ]);
    let texts = texts(&std::fs::read_to_string(&timeline).unwrap());
    for case in [
        "free threads, no GIL: each thread's run",
        "CPU-bound under the GIL: the holds take turns, switch by switch",
        "I/O-bound under the GIL: held only between waits",
        "the convoy: an I/O thread beside a CPU-bound one",
    ] {
        assert!(texts.iter().any(|t| t == case), "{case} missing from {texts:?}");
    }
    assert!(texts.iter().any(|t| t == "thread 2"), "{texts:?}");
    assert!(path.is_file());
}

/// Every text of the SVG with its x position.
fn placed_texts(svg: &str) -> Vec<(String, f64)> {
    let document = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not SVG: {e}"));
    assert_eq!(document.root_element().tag_name().name(), "svg");
    document
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| {
            let x = n.attribute("x").and_then(|x| x.parse().ok()).unwrap_or(f64::NAN);
            (n.text().unwrap_or_default().trim().to_owned(), x)
        })
        .collect()
}

#[test]
fn replay_draws_each_marble_at_the_time_it_printed() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("marbles.svg");
    let script = "0 a\n30 b\n200 c\n220 d\n300 |\n";
    let ops = ["--op", "debounce:50", "--op", "buffer_with_count:2"];
    let out = common::run_with_stdin(
        "reactive",
        &[&["replay", "--svg", path.to_str().unwrap()][..], &ops].concat(),
        script,
    );
    out.check(out.code == Some(0), "exit 0");
    assert_eq!(out.stdout, "270 [b,d]\n300 |\n", "the replay's own output is unchanged");
    let texts = placed_texts(&std::fs::read_to_string(&path).unwrap());
    for name in ["the script", "-> debounce:50", "-> buffer_with_count:2"] {
        assert!(texts.iter().any(|(t, _)| t == name), "{name} missing: {texts:?}");
    }
    // The time axis, from its tick labels at 0 and 200 ms.
    let x_of =
        |label: &str| texts.iter().filter(|(t, _)| t == label).map(|p| p.1).collect::<Vec<_>>();
    let (zero, two_hundred) = (x_of("0.0")[0], x_of("200.0")[0]);
    let x = |ms: f64| zero + (two_hundred - zero) * ms / 200.0;
    // Every marble, the script's and each operator's output, where its time puts it.
    let marbles = [
        ("a", 0.0),
        ("b", 30.0),
        ("c", 200.0),
        ("d", 220.0),
        ("b", 80.0),
        ("d", 270.0),
        ("[b,d]", 270.0),
    ];
    for (label, ms) in marbles {
        let found = x_of(label);
        assert!(
            found.iter().any(|&at| (at - x(ms)).abs() <= 1.5),
            "{label} at {ms} ms should be near x = {:.1}, found at {found:?}",
            x(ms)
        );
    }
}

#[test]
fn the_lesson_draws_its_operators_with_svg_dir() {
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path().join("pictures");
    let out = common::run(
        "reactive",
        &["--size", "1000", "--runs", "1", "--svg-dir", dir.to_str().unwrap()],
    );
    out.check(out.code == Some(0), "exit 0");
    let path = dir.join("operators.svg");
    out.check(
        out.stdout.contains(&format!("(these rows as a marble diagram: {})", path.display())),
        "says where",
    );
    let texts = texts(&std::fs::read_to_string(&path).unwrap());
    for row in ["source", "map(x * 10)", "debounce(100)", "flat_map_latest(search)"] {
        assert!(texts.iter().any(|t| t == row), "{row} missing: {texts:?}");
    }
    common::run("reactive", &["--svg-dir", "x", "replay", "--op", "take:1"])
        .usage_error("--svg-dir: only the lesson");
}

#[test]
fn a_list_of_thread_counts_draws_a_speedup_curve() {
    let args = ["--size", "2000000", "--runs", "1", "--threads", "2,1"];
    let (_folder, out, path) = drawn("threading", &args);
    out.contains_in_order(&[
        "== The even split of 0..2000000 on each thread count, against sequential",
        "even split, 1 thread ",
        "even split, 2 threads ",
    ]);
    let cores = timing::machine::cores();
    let fitted = out.stdout.contains("Amdahl's law fitted to the counts up to ");
    let nothing = out.stdout.contains("(no count from 2 threads up to the 1 core here");
    // With 2 cores or more the 2-thread row is fitted; on one core there is nothing to fit.
    out.check(if cores >= 2 { fitted && !nothing } else { nothing && !fitted }, "Amdahl's line");
    let texts = texts(&std::fs::read_to_string(&path).unwrap());
    assert!(texts.iter().any(|t| t == "even split: speedup against threads"), "{texts:?}");
    assert!(
        texts.iter().any(|t| t == &format!("ideal on {}", timing::plural(cores, "core"))),
        "{texts:?}"
    );
    assert_eq!(
        texts.iter().any(|t| t.starts_with("Amdahl, serial fraction ")),
        fitted,
        "{texts:?}"
    );
    for bad in ["0,2", "2,,4", "lots"] {
        common::run("threading", &["--threads", bad]).usage_error("--threads");
    }
}

#[test]
fn dataflow_times_the_group_by_on_each_thread_count() {
    let out = common::run("dataflow", &["--size", "20000", "--runs", "1", "--threads", "1,2"]);
    out.check(out.code == Some(0), "exit 0");
    // The program asserts each count's answer equals 1 worker's before it prints the row.
    out.contains_in_order(&[
        "== the group-by on each number of worker threads, against 1 worker (1 run after a warm-up)",
        "1 worker, warm",
        "(baseline)",
        "worker threads, 1 thread ",
        "worker threads, 2 threads ",
    ]);
}

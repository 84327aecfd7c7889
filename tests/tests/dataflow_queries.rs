//! `dataflow groupby` with several keys and aggregations, on db-benchmark's data set, within a
//! memory budget (spilling), and writing its answer as part files. Small data only; values,
//! never speed.

// A failed file operation fails the test: what it should do.
#![allow(clippy::unwrap_used)]

use crate::common;
use common::run;

use std::path::{Path, PathBuf};

fn folder(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("hpc-rs-queries-{name}-")).tempdir().unwrap()
}

/// `dataflow generate --shape groupby` into a fresh folder: `rows` rows with K=`k`.
fn groupby_data(name: &str, rows: &str, k: &str) -> tempfile::TempDir {
    let dir = folder(name);
    let out = dir.path().join("data");
    let args = ["generate", "--shape", "groupby", "--rows", rows, "--groups", k, "--files", "3"];
    run("dataflow", &[&args[..], &["--out", out.to_str().unwrap()]].concat()).success();
    dir
}

fn pattern(dir: &Path) -> String {
    format!("{}/data/*.csv", dir.display())
}

/// db-benchmark's q6 and q10 and more at once: two keys, every function, size.
const QUERY: [&str; 8] = [
    "--by",
    "id4,id5",
    "--agg",
    "v3:median,std,var,mean,sum,count,min,max",
    "--agg",
    "size",
    "--agg",
    "v1:sum",
];

#[test]
fn generate_writes_db_benchmark_s_columns_within_their_ranges() {
    let dir = groupby_data("columns", "3000", "7");
    let text: String = std::fs::read_dir(dir.path().join("data"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    let mut rows = 0;
    for line in text.lines().filter(|l| !l.starts_with("id1,")) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 9, "{line}");
        let id = |s: &str, width: usize| {
            let digits = s.strip_prefix("id").unwrap();
            assert_eq!(digits.len(), width, "{line}");
            digits.parse::<u64>().unwrap()
        };
        assert!((1..=7).contains(&id(f[0], 3)) && (1..=7).contains(&id(f[1], 3)), "{line}");
        assert!((1..=3000 / 7).contains(&id(f[2], 10)), "id3 in 1..N/K: {line}");
        let n = |s: &str| s.parse::<u64>().unwrap();
        assert!((1..=7).contains(&n(f[3])) && (1..=7).contains(&n(f[4])), "{line}");
        assert!((1..=3000 / 7).contains(&n(f[5])), "{line}");
        assert!((1..=5).contains(&n(f[6])) && (1..=15).contains(&n(f[7])), "{line}");
        let v3: f64 = f[8].parse().unwrap();
        let decimals = f[8].split_once('.').map_or(0, |(_, d)| d.len());
        assert!((0.0..100.0).contains(&v3) && decimals <= 6, "{line}");
        rows += 1;
    }
    assert_eq!(rows, 3000);
    // The same seed, the same bytes; a folder that holds files is refused.
    let again = groupby_data("columns-again", "3000", "7");
    let file = |d: &Path| std::fs::read(d.join("data/groupby-01.csv")).unwrap();
    assert_eq!(file(dir.path()), file(again.path()));
    let out = dir.path().join("data");
    let generate = ["generate", "--shape", "groupby", "--rows", "10", "--out"];
    run("dataflow", &[&generate[..], &[out.to_str().unwrap()]].concat())
        .usage_error("the folder holds files already");
    let a_file = out.join("groupby-00.csv");
    run("dataflow", &[&generate[..], &[a_file.to_str().unwrap()]].concat())
        .usage_error("a file, not a folder");
    run("dataflow", &["generate", "--rows", "10", "--groups", "5", "--out", "x"])
        .usage_error("--groups: only --shape groupby");
}

#[test]
fn several_keys_and_every_function_give_one_answer_however_the_work_is_shared() {
    let dir = groupby_data("shared", "20000", "10");
    let files = pattern(dir.path());
    let one = run("dataflow", &[&["groupby", &files, "--workers", "1"][..], &QUERY].concat());
    one.success();
    let header =
        "id4,id5,v3_median,v3_std,v3_var,v3_mean,v3_sum,v3_count,v3_min,v3_max,size,v1_sum";
    one.check(one.stdout.starts_with(&format!("{header}\n")), "the header");
    one.check(one.stdout.lines().count() == 101, "10 x 10 groups");
    for extra in [
        &["--workers", "3", "--blocksize", "5000"][..],
        &["--processes", "2", "--blocksize", "9000"],
    ] {
        let out = run("dataflow", &[&["groupby", &files][..], &QUERY, extra].concat());
        out.success();
        out.check(out.stdout == one.stdout, &format!("{extra:?}: the same answer"));
    }
}

#[test]
fn a_tiny_budget_spills_and_gives_the_same_answer_leaving_no_file() {
    // K=1: about as many groups as rows, so 64 KiB holds a few hundred of them at most.
    let dir = groupby_data("spill", "20000", "1");
    let files = pattern(dir.path());
    let spill = folder("spill-dir");
    let spill_dir = spill.path().to_str().unwrap();
    let query = ["--by", "id3,id1", "--agg", "v3:median,std,sum", "--agg", "size"];
    let whole = run("dataflow", &[&["groupby", &files][..], &query].concat());
    whole.success();
    for extra in [&["--workers", "1"][..], &["--workers", "3"], &["--processes", "2"]] {
        let limit = ["--memory-limit", "64KiB", "--spill-dir", spill_dir];
        let args = [&["groupby", &files][..], &query, &limit, extra].concat();
        let out = run("dataflow", &args);
        out.check(out.code == Some(0), &format!("{extra:?}: exit 0"));
        out.check(out.stdout == whole.stdout, &format!("{extra:?}: the answer without a limit"));
        out.check(
            out.stderr.contains("note: the groups outgrew --memory-limit 65.5 kB: "),
            &format!("{extra:?}: what it spilled, said"),
        );
        nothing_left_in(&spill);
    }
}

#[test]
fn groups_merged_by_partition_at_the_end_early_or_after_a_spill_give_one_answer() {
    // K=1, 300,000 rows: about 190,000 groups, past the 32,768 at which a worker's groups are
    // partitioned and its batches wait, by partition, to be merged at the end. 16 MB runs out
    // after that (the waiting groups merged early; where that makes no room, spilled, and from
    // then on spilled as they came, each to its partition's file); 64 KiB long before it.
    let dir = groupby_data("partitioned", "300000", "1");
    let files = pattern(dir.path());
    let spill = folder("partitioned-spill-dir");
    let spill_dir = spill.path().to_str().unwrap();
    let query = ["--by", "id3", "--agg", "v3:median,std,min,max,mean", "--agg", "v1:sum,count"];
    let query = [&query[..], &["--agg", "size"]].concat();
    let whole = run("dataflow", &[&["groupby", &files][..], &query, &["--workers", "1"]].concat());
    whole.success();
    assert!(whole.stdout.lines().count() > 150_000, "most ids are groups of their own");
    for (limit, workers) in [("16MB", "1"), ("16MB", "2"), ("64KiB", "1"), ("64KiB", "2")] {
        let limit = ["--memory-limit", limit, "--spill-dir", spill_dir, "--workers", workers];
        let out = run("dataflow", &[&["groupby", &files][..], &query, &limit].concat());
        out.check(out.code == Some(0), &format!("{limit:?}: exit 0"));
        out.check(out.stdout == whole.stdout, &format!("{limit:?}: the answer without a limit"));
        out.check(out.stderr.contains("note: the groups outgrew"), &format!("{limit:?}: spilled"));
        nothing_left_in(&spill);
    }
}

#[test]
fn parts_hold_the_answer_and_a_folder_with_files_is_refused() {
    let dir = groupby_data("parts", "20000", "1");
    let files = pattern(dir.path());
    let query = ["--by", "id3", "--agg", "v1:sum,max"];
    let whole = run("dataflow", &[&["groupby", &files][..], &query].concat());
    whole.success();
    let out_dir = dir.path().join("answer");
    let out_text = out_dir.to_str().unwrap();
    for extra in
        [&["--workers", "2"][..], &["--memory-limit", "64KiB", "--processes", "2", "--overwrite"]]
    {
        let args = [&["groupby", &files][..], &query, &["--out", out_text], extra].concat();
        let out = run("dataflow", &args);
        out.check(out.code == Some(0) && out.stdout.is_empty(), "exit 0, nothing on stdout");
        out.check(out.stderr.contains("part file"), "where the parts went, said");
        // Each part: the header, then its groups in key order; all parts: the answer.
        let mut lines = Vec::new();
        for entry in std::fs::read_dir(&out_dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(name.starts_with("part-") && name.ends_with(".csv"), "{name}");
            let text = std::fs::read_to_string(&path).unwrap();
            let mut part = text.lines();
            assert_eq!(part.next(), Some("id3,v1_sum,v1_max"), "{name}");
            let rows: Vec<&str> = part.collect();
            assert!(rows.windows(2).all(|w| w[0] < w[1]), "{name}: in key order");
            lines.extend(rows.into_iter().map(str::to_owned));
        }
        lines.sort();
        let mut expected: Vec<String> = whole.stdout.lines().skip(1).map(str::to_owned).collect();
        expected.sort();
        assert_eq!(lines, expected, "{extra:?}: the parts together are the answer");
    }
    let args = [&["groupby", &files][..], &query, &["--out", out_text]].concat();
    run("dataflow", &args).usage_error("the folder holds files already");
}

/// `--no-sort`: the same groups, in the order the workers' tables hold them - on threads, after
/// a spill (the spilled runs merged after the rest), and in part files; in key order where
/// processes gather the answer into one, which merges sorted runs.
#[test]
fn no_sort_gives_the_same_groups_in_any_order_however_the_work_is_shared() {
    // K=1: about 12,600 ids among 20,000 rows, far too many to come out sorted by chance.
    let dir = groupby_data("no-sort", "20000", "1");
    let files = pattern(dir.path());
    let spill = folder("no-sort-spill-dir");
    let spill_dir = spill.path().to_str().unwrap();
    let query = ["--by", "id3", "--agg", "v3:median,sum", "--agg", "size"];
    let whole = run("dataflow", &[&["groupby", &files][..], &query].concat());
    whole.success();
    let sorted = |text: &str| {
        let mut lines: Vec<String> = text.lines().skip(1).map(str::to_owned).collect();
        lines.sort();
        lines
    };
    let in_key_order = |text: &str| text.lines().skip(1).is_sorted();
    assert!(in_key_order(&whole.stdout) && whole.stdout.lines().count() > 10_000);
    let groups = sorted(&whole.stdout);
    let header = whole.stdout.lines().next().unwrap();
    // (A worker that spilled merges its spill files' sorted runs: in key order, as it may be.)
    for (extra, spills) in [
        (&["--workers", "2", "--profile"][..], false),
        (&["--workers", "1", "--blocksize", "100000"], false),
        (&["--workers", "2", "--memory-limit", "64KiB", "--spill-dir", spill_dir], true),
    ] {
        let args = [&["groupby", &files, "--no-sort"][..], &query, extra].concat();
        let out = run("dataflow", &args);
        out.check(out.code == Some(0), &format!("{extra:?}: exit 0"));
        out.check(out.stdout.lines().next() == Some(header), &format!("{extra:?}: the header"));
        out.check(sorted(&out.stdout) == groups, &format!("{extra:?}: the groups"));
        out.check(out.stderr.contains("outgrew") == spills, &format!("{extra:?}: spilled"));
        out.check(spills || !in_key_order(&out.stdout), &format!("{extra:?}: not sorted"));
        let said = out.stderr.contains("groups, made into runs unsorted where not spilled");
        out.check(said == extra.contains(&"--profile"), &format!("{extra:?}: the profile says"));
        nothing_left_in(&spill);
    }
    let gathered = ["groupby", &files, "--no-sort", "--processes", "2", "--profile"];
    let out = run("dataflow", &[&gathered[..], &query].concat());
    out.check(out.code == Some(0) && out.stdout == whole.stdout, "processes: in key order");
    out.check(out.stderr.contains("2 sorted runs"), "processes: the profile says so");
    // Part files: each a worker's groups as its tables hold them.
    let out_dir = dir.path().join("answer");
    let args =
        ["groupby", &files, "--no-sort", "--workers", "2", "--out", out_dir.to_str().unwrap()];
    let out = run("dataflow", &[&args[..], &query].concat());
    out.check(out.code == Some(0) && out.stderr.contains("in 2 part files"), "two parts");
    let (mut lines, mut any_unsorted) = (Vec::new(), false);
    for entry in std::fs::read_dir(&out_dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert_eq!(text.lines().next(), Some(header));
        any_unsorted |= !in_key_order(&text);
        lines.extend(text.lines().skip(1).map(str::to_owned));
    }
    lines.sort();
    assert!(any_unsorted, "the parts' groups in the tables' order");
    assert_eq!(lines, groups, "the parts together are the answer");
    run("dataflow", &[&["groupby", &files, "--no-sort", "--vs-python"][..], &query].concat())
        .usage_error("--vs-python: compares answers in key order; drop --no-sort");
}

#[test]
fn db_benchmark_asks_its_questions_and_says_what_a_row_costs_by_its_groups() {
    // A few groups: the row's cost is the scan's.
    let args = ["db-benchmark", "--rows", "20000", "--groups", "2", "--runs", "1"];
    let few = run("dataflow", &[&args[..], &["--questions", "q1,q6"]].concat());
    few.check(few.code == Some(0), "exit 0");
    for line in [
        "== db-benchmark's group-by questions on 20000 rows, K=2",
        "q1 sum v1 by \"id1\"",
        "q6 median v3, std v3 by \"id4\", \"id5\"",
        "Where the groups are few, a row costs what the scan costs",
        "q1 (sum v1 by \"id1\") took",
        "The median is holistic",
    ] {
        few.check(few.stdout.contains(line), line);
    }
    let groups = |out: &common::Run, question: &str| -> u64 {
        let row = out.stdout.lines().find(|l| l.starts_with(question)).unwrap();
        let before = row.split(" groups").next().unwrap();
        before.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(groups(&few, "q1 "), 2, "id1: id001 and id002");
    assert_eq!(groups(&few, "q6 "), 4, "id4 x id5: 2 x 2");
    // 60,000 rows at K=1: about 38,000 groups, past what a cache holds.
    let args = ["db-benchmark", "--rows", "60000", "--groups", "1", "--runs", "1"];
    let many = run("dataflow", &[&args[..], &["--questions", "q3"]].concat());
    many.check(many.code == Some(0), "exit 0");
    many.check(groups(&many, "q3 ") > 32_768, "more groups than one table holds in cache");
    many.check(
        many.stdout.contains("Every question here has many groups: q3"),
        "no claim about few groups when none was asked",
    );
    many.check(!many.stdout.contains("Where the groups are few"), "nor its sentence");
    many.check(many.stdout.contains("; sort "), "its groups sorted");
    many.check(many.stdout.contains("the answer as columns in key order"), "in key order");
    // --no-sort: the same groups, in any order, and said so.
    let no_sort = ["--questions", "q3", "--no-sort", "--workers", "2"];
    let any = run("dataflow", &[&args[..], &no_sort].concat());
    any.check(any.code == Some(0), "--no-sort: exit 0");
    any.check(groups(&any, "q3 ") == groups(&many, "q3 "), "--no-sort: the same groups");
    for said in [
        "(2 worker threads; 1 run after a warm-up, end to end from the CSV; every answer in any order, --no-sort)",
        "; runs unsorted ",
        "the answer as columns in any order",
    ] {
        any.check(any.stdout.contains(said), said);
    }
    run("dataflow", &["db-benchmark", "--questions", "q9"]).usage_error("q9");
}

#[test]
fn past_a_cache_s_worth_of_groups_the_answer_is_the_same() {
    // 100,000 rows at K=1: about 63,000 groups. One worker holds them in tables split by hash
    // (past 32,768 groups) and merges their sorted runs; three workers' shares of about 21,000
    // stay one table each: two ways to one answer.
    let dir = groupby_data("many", "100000", "1");
    let files = pattern(dir.path());
    let query = ["--by", "id3", "--agg", "v1:sum,max", "--agg", "v3:mean", "--agg", "size"];
    let one = run("dataflow", &[&["groupby", &files, "--workers", "1"][..], &query].concat());
    one.success();
    let rows: Vec<&str> = one.stdout.lines().skip(1).collect();
    assert!(rows.len() > 60_000, "about 63,000 groups, not {}", rows.len());
    assert!(rows.windows(2).all(|w| w[0] < w[1]), "each group once, in key order");
    let size = |row: &&str| row.rsplit(',').next().unwrap().parse::<u64>().unwrap();
    assert_eq!(rows.iter().map(size).sum::<u64>(), 100_000, "every row in one group");
    let three = run("dataflow", &[&["groupby", &files, "--workers", "3"][..], &query].concat());
    three.check(three.stdout == one.stdout, "three workers: the same answer");
    let out_dir = dir.path().join("answer");
    let to_parts = ["--workers", "1", "--out", out_dir.to_str().unwrap()];
    let parted = run("dataflow", &[&["groupby", &files][..], &query, &to_parts].concat());
    parted.check(parted.code == Some(0), "exit 0");
    let part = std::fs::read_to_string(out_dir.join("part-00000.csv")).unwrap();
    assert!(part == one.stdout, "one worker's part file: its tables merged, the whole answer");
}

#[test]
fn a_spill_folder_that_cannot_be_written_ends_the_run_with_one_line() {
    let dir = groupby_data("unwritable", "5000", "1");
    let files = pattern(dir.path());
    let not_a_folder = dir.path().join("data/groupby-00.csv");
    let args = ["groupby", &files, "--by", "id3", "--agg", "v1:sum", "--memory-limit", "64KiB"];
    let out =
        run("dataflow", &[&args[..], &["--spill-dir", not_a_folder.to_str().unwrap()]].concat());
    out.check(out.code == Some(1), "exit 1");
    out.check(out.stdout.is_empty(), "no answer claimed");
    out.check(
        out.stderr.starts_with("error: --spill-dir ") && out.stderr.lines().count() == 1,
        "one line naming the folder",
    );
}

#[test]
fn a_full_disk_ends_the_run_with_one_line_naming_the_folder() {
    // SAFETY: geteuid only reads the process's user id.
    #[allow(unsafe_code)]
    let root = unsafe { nix::libc::geteuid() } == 0;
    if !root {
        common::skip("mounting a small tmpfs needs root");
        return;
    }
    let dir = groupby_data("full", "20000", "1");
    let mount = folder("tmpfs");
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs", mount.path().to_str().unwrap()])
        .status()
        .unwrap();
    if !status.success() {
        common::skip("this machine cannot mount a tmpfs here");
        return;
    }
    let files = pattern(dir.path());
    let args = ["groupby", &files, "--by", "id3", "--agg", "v3:median", "--memory-limit", "64KiB"];
    let out =
        run("dataflow", &[&args[..], &["--spill-dir", mount.path().to_str().unwrap()]].concat());
    let _ = std::process::Command::new("umount").arg(mount.path()).status();
    out.check(out.code == Some(1), "exit 1");
    out.check(out.stdout.is_empty(), "no answer claimed");
    out.check(
        out.stderr.contains("spilling to ") && out.stderr.contains("No space left on device"),
        "the folder and why",
    );
    out.check(out.stderr.lines().count() == 1, "one line");
}

#[test]
fn bad_queries_are_refused_before_any_row_is_read() {
    let dir = groupby_data("bad-queries", "100", "2");
    let files = pattern(dir.path());
    let refused = |query: &[&str], message: &str| {
        run("dataflow", &[&["groupby", &files][..], query].concat()).usage_error(message);
    };
    refused(&["--by", "id1", "--agg", "v9:sum"], "no column \"v9\" in the files");
    refused(&["--by", "id1", "--agg", "v1:average"], "no function \"average\"");
    refused(&["--by", "id1", "--agg", "id2:sum"], "column \"id2\" is not numeric");
    refused(&["--by", "id1,id1", "--agg", "v1:sum"], "\"id1\" is named twice");
    refused(&["--by", "id1", "--agg", "v1:sum", "--agg", "v1:sum"], "v1:sum is asked twice");
    refused(&["--by", "id1", "--agg", "v1:sum", "--value", "v1"], "give one");
    refused(&["--by", "id1"], "give what to compute");
    let many: Vec<String> = (0..65).map(|i| format!("k{i}")).collect();
    refused(&["--by", &many.join(","), "--agg", "v1:sum"], "at most 64");
    refused(&["--by", "id1", "--agg", "v1:sum", "--memory-limit", "1kB"], "below 64 kB");
    refused(&["--by", "id1", "--agg", "v1:sum", "--overwrite"], "--out");
}

/// A `groupby` that spills (`shared`: how the work is shared), caught once a spill file exists
/// anywhere in its `--spill-dir`: the data, that folder, and the running process.
#[cfg(target_os = "linux")]
fn caught_spilling(
    name: &str,
    shared: &[&str],
) -> (tempfile::TempDir, tempfile::TempDir, std::process::Child) {
    use std::time::{Duration, Instant};
    let data = groupby_data(name, "400000", "1");
    let files = pattern(data.path());
    let spill = folder(&format!("{name}-spill"));
    let mut child = common::interruptible("dataflow")
        .args(["groupby", &files, "--by", "id3", "--agg", "v3:median,sum"])
        .args(shared)
        .args(["--memory-limit", "64KiB", "--spill-dir", spill.path().to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // In the run's folder inside --spill-dir (with --processes, in a child's folder in that).
    fn holds_a_file(dir: &Path) -> bool {
        let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
        entries.into_iter().any(|e| e.path().is_file() || holds_a_file(&e.path()))
    }
    let started = Instant::now();
    while !holds_a_file(spill.path()) {
        assert!(child.try_wait().unwrap().is_none(), "it ended before it spilled");
        assert!(started.elapsed() < Duration::from_secs(20), "no spill file within 20 s");
        std::thread::sleep(Duration::from_millis(2));
    }
    (data, spill, child)
}

fn nothing_left_in(spill: &tempfile::TempDir) {
    let left: Vec<PathBuf> =
        std::fs::read_dir(spill.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
#[cfg(target_os = "linux")]
fn ctrl_c_mid_spill_leaves_no_spill_file() {
    use std::os::unix::process::ExitStatusExt;
    let (_data, spill, child) = caught_spilling("interrupted", &["--workers", "2"]);
    crate::dataflow::signal(child.id(), nix::sys::signal::Signal::SIGINT);
    let output = crate::dataflow::finish(child);
    assert_eq!(output.status.signal(), Some(2), "ended by the signal, as Ctrl-C ends a program");
    nothing_left_in(&spill);
}

#[test]
#[cfg(target_os = "linux")]
fn a_child_killed_mid_spill_leaves_no_spill_file() {
    let (_data, spill, parent) = caught_spilling("killed-child", &["--processes", "2"]);
    let children = common::descendants(parent.id());
    crate::dataflow::signal(children[0], nix::sys::signal::Signal::SIGKILL);
    let output = crate::dataflow::finish(parent);
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    nothing_left_in(&spill);
}

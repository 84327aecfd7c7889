//! `cargo run -p dataflow`: notebook takeaway 4, a group-by over CSV files on timely dataflow.
//! Small files only, made by each test in its own temporary folder.

// The helpers below panic on a failed file operation, which fails the test: what it should do.
#![allow(clippy::unwrap_used)]

use crate::common;
use common::{binary, check_cli_conventions, require_python3, run, run_with_env};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

/// A fresh folder for one test, removed when the returned guard is dropped (at the end of the
/// test, passed or failed).
fn folder(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("hpc-rs-dataflow-{name}-")).tempdir().unwrap()
}

/// Files with what real CSV has: quoted commas and quotes, every missing marker, a row with no
/// key, keys that look like numbers, CRLF line ends, no final newline, a header-only file.
fn awkward_files(test: &str) -> tempfile::TempDir {
    let guard = folder(test);
    let dir = guard.path();
    std::fs::write(
        dir.join("a.csv"),
        "origin,dep_delay,note\n\
         BOS,1.5,\"hello, world\"\n\
         JFK,NA,x\n\
         BOS,-2,y\n\
         ,5,no key\n\
         007,1e1,z\n\
         7,2,\"a \"\"quoted\"\" note\"\n\
         10,null,w\n\
         9,NaN,v\n\
         BOS,,u\n",
    )
    .unwrap();
    std::fs::write(dir.join("b.csv"), "origin,dep_delay,note\r\nSEA,10,a\r\nBOS,0.5,b\r\n7,nan,c")
        .unwrap();
    std::fs::write(dir.join("c.csv"), "origin,dep_delay,note\n").unwrap();
    guard
}

/// Worked out by hand, as pandas' agg(["size","count","sum","mean","min","max"]) would give it
/// (with count 0 shown as sum 0 and empty mean, min and max), keys sorted as bytes.
const EXPECTED: &str = "origin,size,count,sum,mean,min,max
007,1,1,10,10,10,10
10,1,0,0,,,
7,2,1,2,2,2,2
9,1,0,0,,,
BOS,4,3,0,0,-2,1.5
JFK,1,0,0,,,
SEA,1,1,10,10,10,10
";

fn groupby(dir: &Path, extra: &[&str]) -> common::Run {
    let pattern = format!("{}/*.csv", dir.display());
    let mut args = vec!["groupby", pattern.as_str(), "--by", "origin", "--value", "dep_delay"];
    args.extend(extra);
    run("dataflow", &args)
}

/// `groupby` over the files in `dir`, shared among workers and processes in each of `splits`
/// ways, prints `expected` (and exits 0) every time.
fn same_answer_however_split(dir: &Path, splits: &[&[&str]], expected: &str) {
    for extra in splits {
        let out = groupby(dir, extra);
        out.check(out.code == Some(0) && out.stdout == expected, &format!("{extra:?}"));
    }
}

#[test]
fn the_answer_matches_the_reference_on_awkward_files() {
    let dir = awkward_files("reference");
    let dir = dir.path();
    let out = groupby(dir, &[]);
    out.check(out.code == Some(0), "exit status 0");
    out.check(out.stdout == EXPECTED, "the reference table");
    out.check(
        out.stderr
            == "note: 1 row had no origin and was left out of the groups (as pandas and Dask do)\n",
        "the row with no key is counted on stderr",
    );
}

/// Stdout is the answer, redirected to a file: with `--vs-python` every line of the
/// comparison - its headings, its Rust rows, the reason it could not run - goes to stderr.
#[test]
fn groupby_vs_python_keeps_stdout_the_answer_alone() {
    require_python3!();
    let dir = awkward_files("vs-python-stdout");
    let bare = common::bare_python(); // no pandas: the comparison is refused, after its heading
    let out = groupby(dir.path(), &["--vs-python", "--python", &bare.path]);
    out.check(out.code == Some(0), "exit status 0");
    out.check(out.stdout == EXPECTED, "stdout: the answer and nothing else");
    out.check(out.stderr.contains("== the same in Python"), "the comparison's heading on stderr");
    out.check(out.stderr.contains("(Rust: one warm run each"), "the Rust rows' note on stderr");
}

/// `--profile`: where the time went, a phase a line on stderr, in the order the workers run
/// them, with what each moved; stdout still the answer alone. On processes too.
#[test]
fn profile_says_each_phase_on_stderr() {
    let dir = awkward_files("profile");
    for extra in [&["--profile"][..], &["--profile", "--processes", "2"]] {
        let out = groupby(dir.path(), extra);
        out.check(out.code == Some(0) && out.stdout == EXPECTED, "stdout: the answer alone");
        let phases: Vec<&str> = out
            .stderr
            .lines()
            .skip_while(|l| !l.starts_with("profile (each phase the slowest worker's time):"))
            .skip(1)
            .map(|l| l.split_whitespace().next().unwrap_or_default())
            .collect();
        out.check(
            phases == ["read,", "exchange", "sort", "(spill,", "gather", "write"],
            &format!("the phases in order: {phases:?}"),
        );
        let written = format!("{} of CSV", timing::bytes(EXPECTED.len() as u64));
        for part in [" read", "7 groups", "nothing spilled", &written] {
            out.check(out.stderr.contains(part), &format!("{part:?} said"));
        }
    }
}

#[test]
fn one_worker_threads_tiny_partitions_and_processes_give_the_same_answer() {
    let dir = awkward_files("splits");
    let dir = dir.path();
    let splits: [&[&str]; 6] = [
        &["--workers", "1"],
        &["--workers", "2", "--blocksize", "7"],
        &["--workers", "3", "--blocksize", "1"],
        &["--no-split", "--workers", "2"],
        &["--processes", "2"],
        &["--processes", "2", "--workers", "2", "--blocksize", "13"],
    ];
    same_answer_however_split(dir, &splits, EXPECTED);
}

#[test]
fn generated_data_gives_the_same_answer_however_it_is_split() {
    let dir = folder("generated");
    let dir = dir.path();
    let out_dir = dir.to_str().unwrap();
    run("dataflow", &["generate", "--rows", "30000", "--files", "3", "--out", out_dir]).success();
    let reference = groupby(dir, &["--workers", "1"]);
    reference
        .check(reference.code == Some(0) && reference.stdout.lines().count() == 13, "12 airports");
    let splits: [&[&str]; 2] =
        [&["--workers", "2", "--blocksize", "4096"], &["--processes", "3", "--blocksize", "50000"]];
    same_answer_however_split(dir, &splits, &reference.stdout);
}

#[test]
fn generate_writes_the_same_bytes_every_time() {
    let (a, b) = (folder("gen-a"), folder("gen-b"));
    let (a, b) = (a.path(), b.path());
    for dir in [&a, &b] {
        run(
            "dataflow",
            &["generate", "--rows", "1000", "--files", "2", "--out", dir.to_str().unwrap()],
        )
        .success()
        .contains_in_order(&["wrote 2 files, 1000 rows"]);
    }
    for file in ["flights-00.csv", "flights-01.csv"] {
        let (x, y) = (std::fs::read(a.join(file)).unwrap(), std::fs::read(b.join(file)).unwrap());
        assert_eq!(x, y, "{file}");
        assert!(x.starts_with(
            b"date,origin,dest,carrier,flight,dep_delay,arr_delay,distance,origin_city\n"
        ));
    }
}

#[test]
fn a_quoted_newline_is_read_whole_with_no_split() {
    let dir = folder("newline");
    let dir = dir.path();
    std::fs::write(dir.join("a.csv"), "origin,dep_delay,note\nBOS,1,\"two\nlines\"\nBOS,2,x\n")
        .unwrap();
    let out = groupby(dir, &["--no-split"]);
    out.check(out.code == Some(0), "exit 0");
    out.check(out.stdout == "origin,size,count,sum,mean,min,max\nBOS,2,2,3,1.5,1,2\n", "two rows");
}

#[test]
fn ranges_start_at_records_so_quoted_newlines_survive_any_split() {
    let dir = folder("quoted-splits");
    let dir = dir.path();
    // Each note holds newlines and a line that looks like a row of its own.
    let mut text = String::from("origin,dep_delay,note\n");
    for i in 0..50 {
        text.push_str(&format!("BOS,{i},\"first line\nFAKE,1000,\"\"quoted\"\"\nend\"\n"));
    }
    std::fs::write(dir.join("a.csv"), text).unwrap();
    let expected = "origin,size,count,sum,mean,min,max\nBOS,50,50,1225,24.5,0,49\n";
    let splits: [&[&str]; 6] = [
        &["--no-split"],
        &["--blocksize", "1", "--workers", "2"],
        &["--blocksize", "7", "--workers", "3"],
        &["--blocksize", "13"],
        &["--blocksize", "100", "--workers", "2"],
        &["--processes", "2", "--blocksize", "64"],
    ];
    same_answer_however_split(dir, &splits, expected);
    // Cut at the first line feed past each cut, as the plan guesses, these ranges would start
    // inside notes: the run that finds it out is thrown away and done again on cuts made
    // quote by quote, which --profile says; the part files hold the second run's answer.
    let parts = dir.join("parts");
    let parts_text = parts.to_str().unwrap();
    let out =
        groupby(dir, &["--blocksize", "7", "--workers", "2", "--profile", "--out", parts_text]);
    out.check(out.code == Some(0) && out.stdout.is_empty(), "exit 0, the answer in parts");
    out.check(out.stderr.contains("(cut again: a quoted field held a line end"), "cut again");
    // Plain notes, cut as finely: every guess right, the files read once.
    let plain = folder("plain-splits");
    let text: String = (0..50).map(|i| format!("BOS,{i},a plain note\n")).collect();
    std::fs::write(plain.path().join("a.csv"), format!("origin,dep_delay,note\n{text}")).unwrap();
    let once = groupby(plain.path(), &["--blocksize", "7", "--workers", "2", "--profile"]);
    once.check(once.code == Some(0) && !once.stderr.contains("cut again"), "cut once");
    once.check(once.stdout == expected, "the same answer");
    let mut rows = Vec::new();
    for entry in std::fs::read_dir(&parts).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        rows.extend(text.lines().skip(1).map(str::to_owned));
    }
    assert_eq!(rows, ["BOS,50,50,1225,24.5,0,49"], "the parts together: the answer, once");
}

#[test]
fn bad_files_and_columns_are_refused_with_one_line() {
    let dir = awkward_files("bad-files");
    let dir = dir.path();
    let missing = format!("{}/*.nothing", dir.display());
    run("dataflow", &["groupby", &missing, "--by", "a", "--value", "b"])
        .usage_error("no file matches");
    run("dataflow", &["groupby", "/no/such/file.csv", "--by", "a", "--value", "b"])
        .usage_error("/no/such/file.csv: No such file or directory");
    let pattern = format!("{}/*.csv", dir.display());
    run("dataflow", &["groupby", &pattern, "--by", "airport", "--value", "dep_delay"]).usage_error(
        "no column \"airport\" in the files (columns: \"origin\", \"dep_delay\", \"note\")",
    );
    // An empty file has no header: bad input, named (pandas raises EmptyDataError), never a
    // header made up from the query's columns.
    std::fs::write(dir.join("d.csv"), "").unwrap();
    run("dataflow", &["groupby", &pattern, "--by", "origin", "--value", "dep_delay"])
        .usage_error("d.csv: empty, no header line to name its columns");
    let only = format!("{}/d.csv", dir.display());
    run("dataflow", &["groupby", &only, "--by", "origin", "--value", "dep_delay"])
        .usage_error("d.csv: empty, no header line");
    std::fs::remove_file(dir.join("d.csv")).unwrap();
    std::fs::write(dir.join("e.csv"), "origin,delay,note\nBOS,1,x\n").unwrap();
    run("dataflow", &["groupby", &pattern, "--by", "origin", "--value", "dep_delay"])
        .usage_error("e.csv: its header (origin,delay,note) differs from");
    let tabs = folder("tab-separated");
    let tabs = tabs.path();
    std::fs::write(tabs.join("t.csv"), "origin\tdep_delay\nBOS\t1\n").unwrap();
    let pattern = format!("{}/*.csv", tabs.display());
    run("dataflow", &["groupby", &pattern, "--by", "origin", "--value", "dep_delay"]).usage_error(
        "(columns: \"origin\\tdep_delay\"); the header looks separated by tabs: give --sep '\\t'",
    );
}

#[test]
fn sep_reads_tab_and_semicolon_separated_files() {
    let dir = folder("separators");
    let dir = dir.path();
    let rows = [
        ["origin", "dep_delay", "note"],
        ["BOS", "1.5", "a;b"],
        ["JFK", "2", "x"],
        ["BOS", "0.5", "y"],
    ];
    let expected = "origin,size,count,sum,mean,min,max\nBOS,2,2,2,1,0.5,1.5\nJFK,1,1,2,2,2,2\n";
    for (sep, flag) in [("\t", "\\t"), ("\t", "\t"), (";", ";")] {
        let text: Vec<String> = rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|f| if f.contains(sep) { format!("\"{f}\"") } else { (*f).to_owned() })
                    .collect::<Vec<_>>()
                    .join(sep)
            })
            .collect();
        std::fs::write(dir.join("s.csv"), text.join("\n") + "\n").unwrap();
        for extra in
            [&["--sep", flag][..], &["--sep", flag, "--processes", "2", "--blocksize", "9"]]
        {
            let out = groupby(dir, extra);
            out.check(out.code == Some(0) && out.stdout == expected, &format!("{extra:?}"));
        }
    }
    for bad in ["\"", "ab", ""] {
        groupby(dir, &["--sep", bad]).usage_error("--sep");
    }
}

#[test]
fn a_bad_row_names_file_line_and_column_and_skip_bad_counts_it() {
    let dir = folder("bad-rows");
    let dir = dir.path();
    std::fs::write(
        dir.join("a.csv"),
        "origin,dep_delay,note\nBOS,1,x\nBOS,abc,y\nJFK,2\nJFK,3,z\n",
    )
    .unwrap();
    let out = groupby(dir, &[]);
    out.check(out.code == Some(1), "exit status 1");
    out.check(
        out.stderr.trim().ends_with("a.csv, line 3, column dep_delay: \"abc\" is neither a number nor missing (--skip-bad skips such rows)"),
        "names file, line and column",
    );
    let out = groupby(dir, &["--skip-bad"]);
    out.check(out.code == Some(0), "exit status 0");
    out.check(
        out.stdout == "origin,size,count,sum,mean,min,max\nBOS,1,1,1,1,1,1\nJFK,1,1,3,3,3,3\n",
        "two rows skipped",
    );
    out.check(out.stderr.contains("note: skipped 2 rows with bad fields (--skip-bad)"), "counted");
    std::fs::write(dir.join("a.csv"), "origin,dep_delay,note\nBOS,1,x\nJFK,2\n").unwrap();
    let out = groupby(dir, &["--processes", "2"]);
    out.check(out.code == Some(1), "a bad row on another process: exit 1");
    out.check(out.stderr.contains("line 3: 2 fields where the header has 3"), "named there too");
}

/// About 110 MB of generated flights under the target directory, made once and reused: a run
/// that lasts long enough (a good fraction of a second) to be caught mid-way. With its answer
/// on 1 worker.
pub fn lasting_data() -> &'static (PathBuf, String) {
    static DATA: OnceLock<(PathBuf, String)> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = common::target_dir().join("test-data/dataflow-2000000");
        if !dir.join("complete").is_file() {
            let out = dir.to_str().unwrap();
            run("dataflow", &["generate", "--rows", "2000000", "--files", "2", "--out", out])
                .success();
            std::fs::write(dir.join("complete"), "made by the dataflow tests\n").unwrap();
        }
        let out = groupby(&dir, &[]);
        out.check(out.code == Some(0), "exit 0");
        let answer = out.stdout.clone();
        (dir, answer)
    })
}

/// Starts `dataflow groupby` on [`lasting_data`] with `extra` options and `temp` as its
/// temporary folder, and stops (SIGSTOP) its `processes` processes as soon as each has a
/// connection: caught mid-run, with no test hook in the program. Returns the parent (when
/// `--processes` started them) and the pids.
// The child is handed back to the caller, which waits for it or kills it.
#[allow(clippy::zombie_processes)]
fn stopped_mid_run(
    extra: &[&str],
    processes: usize,
    temp: &Path,
) -> (std::process::Child, Vec<u32>) {
    let pattern = format!("{}/*.csv", lasting_data().0.display());
    let mut parent = Command::new(binary("dataflow"))
        .args(["groupby", &pattern, "--by", "origin", "--value", "dep_delay"])
        .args(extra)
        .env("TMPDIR", temp)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let children = common::descendants(parent.id());
        let connected = children.len() == processes
            && children.iter().all(|&pid| tcp_sockets(pid).iter().any(|s| s.1 == "01"));
        if connected {
            for &pid in &children {
                signal(pid, Signal::SIGSTOP);
            }
            return (parent, children);
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = parent.kill(); // its children watch it and end too
            let _ = parent.wait();
            panic!("the processes did not connect");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

pub fn signal(pid: u32, signal: Signal) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap());
    let _ = nix::sys::signal::kill(pid, signal);
}

/// Waits for `child` at most 20 s: a hung cluster fails the test (killed, its output shown)
/// instead of hanging it.
pub fn finish(mut child: std::process::Child) -> std::process::Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait_with_output().unwrap()
}

/// Whether `pid` is gone (or a zombie, which its parent has yet to reap).
fn gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
        s.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

/// (local address, state) of each TCP socket `pid` holds, from its network namespace's
/// /proc/PID/net/tcp and tcp6.
pub fn tcp_sockets(pid: u32) -> Vec<(String, String)> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.flatten()
                .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                .filter_map(|link| {
                    let link = link.to_string_lossy().into_owned();
                    link.strip_prefix("socket:[")
                        .and_then(|rest| rest.strip_suffix(']'))
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut sockets = Vec::new();
    for table in ["tcp", "tcp6"] {
        let table = std::fs::read_to_string(format!("/proc/{pid}/net/{table}"));
        for line in table.unwrap_or_default().lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 9 && inodes.iter().any(|i| i == fields[9]) {
                sockets.push((fields[1].to_owned(), fields[3].to_owned()));
            }
        }
    }
    sockets
}

#[test]
fn processes_talk_over_loopback_only() {
    let temp = folder("loopback");
    let (mut parent, children) = stopped_mid_run(&["--processes", "2"], 2, temp.path());
    for pid in &children {
        let sockets = tcp_sockets(*pid);
        assert!(!sockets.is_empty(), "process {pid} has its connection");
        for (local, _) in &sockets {
            // 127.0.0.1 in /proc/net/tcp's byte order; no socket on any other address.
            assert!(local.starts_with("0100007F:"), "process {pid} has a socket on {local}");
        }
    }
    for pid in children {
        signal(pid, Signal::SIGKILL); // stopped processes would not see their parent go
    }
    let _ = parent.kill();
    let _ = parent.wait();
}

/// `processes` free loopback ports as a hostfile's lines, one a process, and a key for them.
fn loopback_cluster(dir: &Path, processes: usize) -> (PathBuf, PathBuf) {
    let listeners: Vec<std::net::TcpListener> =
        (0..processes).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    let lines: Vec<String> =
        listeners.iter().map(|l| format!("{}\n", l.local_addr().unwrap())).collect();
    let (hostfile, key) = (dir.join("hosts.txt"), dir.join("cluster.key"));
    std::fs::write(&hostfile, lines.concat()).unwrap();
    std::fs::write(&key, b"a key of at least sixteen bytes\n").unwrap();
    (hostfile, key)
}

/// One process of a hostfile cluster on the awkward files.
fn cluster_process(
    dir: &Path,
    hostfile: &Path,
    key: &Path,
    process: &str,
    extra: &[&str],
) -> std::process::Child {
    start_cluster_process(Command::new(binary("dataflow")), dir, (hostfile, key), process, extra)
}

/// `command` (the binary, or a command that runs it) as process `process` of `hostfile`'s
/// cluster with `key`, on the CSV files in `dir`.
pub fn start_cluster_process(
    mut command: Command,
    dir: &Path,
    (hostfile, key): (&Path, &Path),
    process: &str,
    extra: &[&str],
) -> std::process::Child {
    let pattern = format!("{}/*.csv", dir.display());
    command
        .args(["groupby", &pattern, "--by", "origin", "--value", "dep_delay"])
        .arg("--hostfile")
        .arg(hostfile)
        .arg("--key-file")
        .arg(key)
        .args(["--process", process])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_hostfile_cluster_refuses_strangers_and_prints_only_the_answer_on_stdout() {
    let dir = awkward_files("hostfile");
    let dir = dir.path();
    let (hostfile, key) = loopback_cluster(dir, 2);
    let first = cluster_process(dir, &hostfile, &key, "0", &[]);
    // Before process 1 starts: timely's own greeting (an 8-byte index, which crashed timely's
    // listener), then a process with another key. Both are refused; the run goes on.
    let address = std::fs::read_to_string(&hostfile).unwrap().lines().next().unwrap().to_owned();
    let started = Instant::now();
    let mut stranger = loop {
        match std::net::TcpStream::connect(&address) {
            Ok(stream) => break stream,
            Err(_) if started.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("process 0 never listened: {e}"),
        }
    };
    std::io::Write::write_all(&mut stranger, &1_u64.to_be_bytes()).unwrap();
    drop(stranger);
    let wrong_key = dir.join("wrong.key");
    std::fs::write(&wrong_key, b"another key, sixteen bytes or more").unwrap();
    let impostor = cluster_process(dir, &hostfile, &wrong_key, "1", &["--connect-timeout", "1"]);
    let impostor = finish(impostor);
    let second = cluster_process(dir, &hostfile, &key, "1", &[]);
    let (first, second) = (finish(first), finish(second));
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    assert!(first.status.success() && second.status.success(), "{first:?} {second:?}");
    assert_eq!(text(&first.stdout), EXPECTED, "only the CSV answer");
    assert!(second.stdout.is_empty(), "{:?}", text(&second.stdout));
    let said = text(&first.stderr);
    assert!(said.contains("note: refused a connection from 127.0.0.1:"), "{said}");
    assert!(said.contains("not a dataflow process (too short a greeting)"), "{said}");
    assert!(said.contains("it did not prove it holds the cluster's key"), "{said}");
    assert_eq!(impostor.status.code(), Some(1));
    let said = text(&impostor.stderr);
    assert!(said.contains("its answer is not signed with the cluster's key"), "{said}");
    assert!(
        said.contains(&format!("error: no connection within 1.00 s from process 0 at {address}")),
        "{said}"
    );
}

#[test]
fn a_peer_that_never_starts_is_named_after_the_connect_timeout() {
    let dir = awkward_files("never-starts");
    let dir = dir.path();
    let (hostfile, key) = loopback_cluster(dir, 3);
    let addresses: Vec<String> =
        std::fs::read_to_string(&hostfile).unwrap().lines().map(str::to_owned).collect();
    binary("dataflow"); // built first, if the build is still to come: not timed
    let started = Instant::now();
    let timeout = ["--connect-timeout", "1"];
    let (first, second) = (
        cluster_process(dir, &hostfile, &key, "0", &timeout),
        cluster_process(dir, &hostfile, &key, "1", &timeout),
    );
    for (process, out) in [first, second].into_iter().enumerate() {
        let out = finish(out);
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "process {process}: {said}");
        assert_eq!(said.lines().count(), 1, "one line: {said}");
        assert!(
            said.starts_with("error: no connection within 1.00 s from process 2 at "),
            "{said}"
        );
        assert!(said.contains(&addresses[2]) && !said.contains("process 1 at"), "{said}");
        assert!(out.stdout.is_empty());
    }
    assert!(started.elapsed() < Duration::from_secs(10), "ended soon after the timeout");
}

#[test]
fn a_killed_process_ends_the_run_within_seconds_with_one_line_and_leaves_nothing() {
    let temp = folder("killed");
    let (parent, children) = stopped_mid_run(&["--processes", "2"], 2, temp.path());
    signal(children[1], Signal::SIGKILL);
    signal(children[0], Signal::SIGCONT);
    let started = Instant::now();
    let output = finish(parent);
    assert!(started.elapsed() < Duration::from_secs(10), "ended within seconds");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(
        stderr.contains("error: lost process 1 at 127.0.0.1:"),
        "the survivor's line: {stderr}"
    );
    assert!(
        stderr.contains("error: process 1 of 2 ended with signal: 9"),
        "the parent's line naming it: {stderr}"
    );
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
    for pid in children {
        assert!(gone(pid), "process {pid} was left behind");
    }
    // The parent's folder of hostfile and ranges, removed with the run.
    let left: Vec<PathBuf> =
        std::fs::read_dir(temp.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "left in the temporary folder: {left:?}");
}

#[test]
fn with_retries_a_lost_process_s_work_is_done_again_by_the_survivors() {
    let temp = folder("retries");
    let (parent, children) =
        stopped_mid_run(&["--processes", "2", "--retries", "1"], 2, temp.path());
    signal(children[0], Signal::SIGKILL);
    signal(children[1], Signal::SIGCONT);
    let output = finish(parent);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), lasting_data().1, "the exact answer");
    assert!(
        stderr.contains(
            "note: process 0 of 2 ended with signal: 9 (SIGKILL); the job runs again, whole, on the 1 process left (--retries: 0 more)"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("error"), "a note, not an error, while a retry is left: {stderr}");
    for pid in children {
        assert!(gone(pid), "process {pid} was left behind");
    }
}

#[test]
fn the_default_run_groups_three_ways_and_prints_the_groupby_answer() {
    let out = run_with_env("dataflow", &["--size", "20000", "--runs", "1"], &[]);
    out.check(out.code == Some(0), "exit 0");
    out.contains_in_order(&[
        "== Dask's first lesson, in Rust",
        "dd.read_csv(\"data/*.csv\").groupby(\"origin\")",
        // The dataflow written out small (lesson.rs), its three rows, then the engine's.
        "== the dataflow written out small",
        "1 worker",
        "2 processes, timely connecting them",
        "== groupby('origin').dep_delay over",
        "the scan alone, 1 core ",
        "(20000 rows found, nothing parsed or grouped)",
        "1 worker",
        " worker thread", // "2 worker threads", or "1 worker thread" on one core
        "2 processes, loopback TCP",
        "the engine's answer is the small dataflow's",
        "identical answers from all three (",
        "Why it is fast: the scan classifies 64 bytes at a time",
        "What the engine adds",
        "How it maps to Dask",
    ]);
    // The same rows made by `generate` and grouped by `groupby`: the default run printed the
    // true answer's head and its number of groups.
    let dir = folder("default-run");
    let dir = dir.path();
    let rows = ["generate", "--rows", "20000", "--files", "10", "--out", dir.to_str().unwrap()];
    run("dataflow", &rows).success();
    let reference = groupby(dir, &[]);
    let groups = reference.stdout.lines().count() - 1;
    out.lines_in_order(&[&format!("identical answers from all three ({groups} groups):")]);
    let printed: Vec<&str> = out
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("identical answers"))
        .skip(1)
        .take_while(|l| l.starts_with("    ") && l.trim() != "...")
        .map(str::trim)
        .collect();
    let head: Vec<&str> = reference.stdout.lines().take(printed.len()).collect();
    out.check(printed.len() >= 2 && printed == head, "the head of groupby's answer");
}

#[test]
fn bad_arguments_follow_the_conventions() {
    check_cli_conventions("dataflow");
    common::check_bad_values("dataflow", "--size", &["0", "-1", "x"]);
    run("dataflow", &["groupby", "x.csv", "--by", "a"]).usage_error("--value");
    run("dataflow", &["groupby", "x.csv", "--by", "a", "--value", "b", "--process", "0"])
        .usage_error("--hostfile");
    run("dataflow", &["generate", "--rows", "0", "--out", "/tmp/x"]).usage_error("--rows");
    run("dataflow", &["generate", "--rows", "5", "--out", "/tmp/x", "--vs-python"])
        .usage_error("unexpected argument '--vs-python'");
    run("dataflow", &["groupby", "x.csv", "--by", "a", "--value", "b", "--runs", "2"])
        .usage_error("unexpected argument '--runs'");
    run("dataflow", &["--runs", "2", "groupby", "x.csv", "--by", "a", "--value", "b"])
        .usage_error("--runs: groupby runs once, as Dask's compute() does");
    let dir = awkward_files("cluster-arguments");
    let dir = dir.path();
    let (hostfile, key) = loopback_cluster(dir, 2);
    let (hostfile, key) = (hostfile.to_str().unwrap(), key.to_str().unwrap());
    groupby(dir, &["--hostfile", hostfile, "--process", "0"])
        .usage_error("--hostfile needs --key-file FILE, the same on every machine (make one with: head -c 32 /dev/urandom > cluster.key)");
    groupby(dir, &["--hostfile", hostfile, "--process", "2", "--key-file", key])
        .usage_error("--process 2: the hostfile lists 2 processes");
    let short = dir.join("short.key");
    std::fs::write(&short, "12345").unwrap();
    groupby(
        dir,
        &["--hostfile", hostfile, "--process", "0", "--key-file", short.to_str().unwrap()],
    )
    .usage_error("5 bytes long, a key needs at least 16");
    groupby(dir, &["--retries", "1"]).usage_error("--processes");
    groupby(dir, &["--connect-timeout", "5"])
        .usage_error("--connect-timeout: only --processes and --hostfile connect processes");
    groupby(dir, &["--processes", "2", "--hostfile", hostfile, "--process", "0"])
        .usage_error("cannot be used with");
    groupby(dir, &["--processes", "2", "--vs-python"]).usage_error(
        "--vs-python: compares the group-by in one process; drop --processes and --hostfile",
    );
}

#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    let dir = awkward_files("closed-pipe");
    let dir = dir.path();
    let pattern = format!("{}/*.csv", dir.display());
    common::check_closed_pipe(
        "dataflow",
        &["groupby", &pattern, "--by", "origin", "--value", "dep_delay"],
    );
}

/// The packages the twin of `dataflow --vs-python` imports, from the file the binary reads
/// them from (dataflow/python/requirements.txt, `include_str!` in compare.rs), and the maturin
/// that builds the engine's module into its environment.
fn twin_packages() -> Vec<String> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dataflow/python/requirements.txt");
    let text = std::fs::read_to_string(&file).unwrap();
    let packages = timing::python_env::requirements(&text).into_iter();
    packages.chain([timing::python_env::MATURIN]).map(str::to_owned).collect()
}

/// The cargo profile the tests build the Python modules in, the binary's builds included:
/// the test profile's settings (Cargo.toml's python-module-test), not a release build.
const MODULE_PROFILE: &str = "python-module-test";

/// The twins' own environment (under the target directory, where the binary looks), made now
/// where it is not - installing the packages can outlast a test run's time limit; where it
/// cannot be made, the test is skipped saying why (under CI it fails).
pub(crate) fn twins_python() -> Option<PathBuf> {
    let folder = timing::python_env::environment_folder();
    let packages = twin_packages();
    let packages: Vec<&str> = packages.iter().map(String::as_str).collect();
    match timing::python_env::ensure_environment(&folder, &packages) {
        Ok(python) => Some(python.program),
        Err(e) => {
            common::skip(&format!("no Python for the dataflow's twin: {e}"));
            None
        }
    }
}

/// The twins' own environment's Python, with the engine's module built into it as the binary
/// builds it (timing::python_env::build_module), in the test profile; `None` (the test
/// skipped) where the environment cannot be made. Made once for the tests that need it - this
/// file's and dataflow_module.rs's - which would otherwise install into one environment at once.
pub(crate) fn twins_environment() -> Option<PathBuf> {
    static MADE: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    let made = MADE.get_or_init(|| {
        // The module's Rust compiled while pip fills the environment (a minute of each on 2
        // cores): maturin's build below then finds it done but for PyO3's configuration for
        // that Python. Its failure would show again, with its messages, in maturin's build.
        let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let compiling = std::process::Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "hpc-rs-dataflow", "--profile", MODULE_PROFILE])
            .current_dir(workspace)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let python = twins_python();
        if let Ok(mut cargo) = compiling {
            let _ = cargo.wait();
        }
        let python = python?;
        build_module_into(&python, "dataflow/extension", "hpc_rs_dataflow");
        Some(python)
    });
    made.clone()
}

/// The module of the crate in `folder` (under the workspace), imported as `name`, built into
/// the environment of `python` by the code the binaries use (timing::python_env::build_module),
/// in the tests' profile for modules; a failed build fails the test.
pub(crate) fn build_module_into(python: &Path, folder: &str, name: &str) {
    let folder = format!("{}/../{folder}", env!("CARGO_MANIFEST_DIR"));
    let module = timing::python_env::Module { folder: &folder, name, times: "", aside: "" };
    if let Err(why) = timing::python_env::build_module(python, &module, Some(MODULE_PROFILE)) {
        panic!("pip install {folder} into the twins' environment: {why}");
    }
}

/// `db-benchmark --vs-python`: every engine in both contracts - its answer in memory, and from
/// the CSV files to a CSV answer file, the dataflow's as this binary's `groupby` with its
/// stdout in a file - each row as it is measured, every answer checked (the CSV files read
/// back), and a table of two rows a question with a sentence for each contract; the engine's
/// own Python module, built into the twins' environment, in memory beside them.
#[test]
fn db_benchmark_vs_python_sets_the_command_line_beside_the_answer_in_memory() {
    require_python3!();
    if twins_environment().is_none() {
        return;
    }
    let args = ["db-benchmark", "--rows", "2000", "--groups", "2", "--runs", "1"];
    let args = [&args[..], &["--questions", "q1,q10", "--vs-python"]].concat();
    // The twins' own environment, whatever HPC_RS_PYTHON names: the module is built there.
    let maturin = format!("--profile {MODULE_PROFILE}");
    let env = [("HPC_RS_PYTHON", ""), ("MATURIN_PEP517_ARGS", maturin.as_str())];
    let out = run_with_env("dataflow", &args, &env);
    out.success();
    out.contains_in_order(&[
        "q1 sum v1 by \"id1\"",
        "\n    CSV to CSV: groupby > answer.csv",
        "(its answer file: the one above, byte for byte)",
        "q10 sum v3, size by",
        "\n    CSV to CSV: groupby > answer.csv",
        "(its answer file: the one above, byte for byte)",
        "== the same in Python",
        "q1 dataflow, ",
        " / q1 Polars streaming, ",
        "q1 CSV to CSV: dataflow, ",
        " / q1 CSV to CSV: Polars streaming, ",
    ]);
    for question in ["q1", "q10"] {
        // The module hands its answer over in memory only: its file is the command line's.
        out.check(out.stdout.contains(&format!("/ {question} hpc_rs_dataflow, ")), "module");
        out.check(!out.stdout.contains(&format!("/ {question} CSV to CSV: hpc_rs")), "its file");
        for engine in ["Polars streaming", "DuckDB", "pandas", "Dask, threads scheduler"] {
            for row in
                [format!("/ {question} {engine}"), format!("/ {question} CSV to CSV: {engine}")]
            {
                out.check(out.stdout.contains(&row), &row);
            }
        }
    }
    out.prose_in_order(&[
        "(--vs-python: each question is also run as a user runs it",
        "(maturin built dataflow/extension into ",
        " as hpc_rs_dataflow in ",
        "checked: each of the 18 Python answers (10 in memory, 8 written to CSV files and read back) has Rust's groups and sizes exactly, and its sums within 1e-9 relative.",
        "(median, peak)",
    ]);
    let table: Vec<&str> =
        out.stdout.lines().skip_while(|l| !l.starts_with("(median, peak)")).collect();
    for (at, start) in [
        (1, "q1 (2 groups)         in memory"),
        (2, "                      CSV to CSV"),
        (3, "    in memory, against the faster of Polars and DuckDB ("),
        (4, "    CSV to CSV, against the faster of Polars and DuckDB ("),
        (5, "q10 ("),
    ] {
        out.check(table.get(at).is_some_and(|l| l.starts_with(start)), start);
    }
    out.check(table[0].trim_end().ends_with("hpc_rs_dataflow"), "the module's column");
    out.check(table[2].trim_end().ends_with(" -"), "the module: no CSV row of its own");
}

/// An engine that prints nothing for its time limit is stopped (a Dask cluster whose workers
/// paused at their memory limit waited forever): here Dask's threads scheduler alone, given 0 s
/// by HPC_RS_TWIN_TIME_LIMIT, the twin's setting. It is named in a note and in the sentence of
/// the engines that failed, the engines after it still answer, and the run ends normally.
#[test]
fn an_engine_past_its_time_limit_is_stopped_and_named_and_the_run_goes_on() {
    require_python3!();
    if twins_python().is_none() {
        return;
    }
    let dir = awkward_files("time-limit");
    let pattern = format!("{}/*.csv", dir.path().display());
    let args = ["groupby", &pattern, "--by", "origin", "--value", "dep_delay", "--vs-python"];
    let limit = ("HPC_RS_TWIN_TIME_LIMIT", "dask-threads=0");
    let out = run_with_env("dataflow", &args, &[("HPC_RS_PYTHON", ""), limit]);
    out.check(out.code == Some(0), "exit status 0");
    out.check(out.stdout == EXPECTED, "stdout: the answer alone");
    let prose = out.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    for said in [
        "(dask-threads: stopped, and its remaining rows left out: it printed nothing for 0 s, its time limit (HPC_RS_TWIN_TIME_LIMIT))",
        "Not every engine answered: Dask, threads scheduler failed (its error is in the notes above), so this run compares 6 of the 7 engines asked.",
    ] {
        out.check(prose.contains(said), said);
    }
    // DuckDB last, on as many threads as the machine has cores (one core: "DuckDB, 1 thread").
    for row in ["/ pandas", "/ Dask LocalCluster", "/ Polars streaming, 1 thread", "/ DuckDB, "] {
        out.check(out.stderr.contains(row), &format!("{row}: its row measured"));
    }
}

/// How long the twin lets an engine go without a line: by default (RUNS + 2) calls'
/// allowance, a minute or a second a megabyte of the files, the longer - said as such in the
/// note of an engine it stopped; HPC_RS_TWIN_TIME_LIMIT sets it for every engine or for one,
/// and a value that is neither is refused, naming it.
#[test]
fn the_twin_s_time_limit_grows_with_the_files_and_its_variable_sets_it() {
    require_python3!();
    let dir = folder("twin-limit");
    let [small, large] = [("small.csv", 1_000), ("large.csv", 200_000_000)].map(|(name, len)| {
        let path = dir.path().join(name);
        std::fs::File::create(&path).unwrap().set_len(len).unwrap(); // sparse: no disk taken
        path.display().to_string()
    });
    let script = r#"
import sys, twin
small, large = sys.argv[1:]
print(twin.default_limit([small], "1"))
print(twin.default_limit([large], "3"))
limits = twin.time_limits(" 30, dask-cluster=600 ", twin.default_limit([small], "1"))
print(limits("dask-cluster"), limits("polars"))
print(twin.time_limits("", twin.default_limit([small], "1"))("polars"))
twin.time_limits("dask-cluster=soon", None)
"#;
    let out = Command::new("python3")
        .args(["-c", script, &small, &large])
        .env("PYTHONPATH", Path::new(env!("CARGO_MANIFEST_DIR")).join("../dataflow/python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let wanted = [
        r#"(180.0, "3 calls' allowance of 60 s")"#,
        r#"(1000.0, "5 calls' allowance of 200 s")"#,
        "(600.0, 'HPC_RS_TWIN_TIME_LIMIT') (30.0, 'HPC_RS_TWIN_TIME_LIMIT')",
        r#"(180.0, "3 calls' allowance of 60 s")"#,
    ];
    assert_eq!(stdout.lines().collect::<Vec<_>>(), wanted, "stderr: {stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "twin.py: HPC_RS_TWIN_TIME_LIMIT: 'dask-cluster=soon' is neither SECONDS nor ENGINE=SECONDS"
    );
}

/// The twin's check of a CSV answer it wrote: read back and compared, as sorted columns, with
/// Rust's; a figure off by one, or a group missing from Rust's answer, stops it, naming them.
#[test]
fn db_benchmark_s_twin_checks_the_csv_file_it_wrote() {
    require_python3!();
    let Some(python) = twins_python() else { return };
    let dir = folder("twin-csv");
    let data = dir.path().join("data");
    let generate = ["generate", "--shape", "groupby", "--rows", "3000", "--groups", "3"];
    run("dataflow", &[&generate[..], &["--out", data.to_str().unwrap()]].concat()).success();
    let pattern = format!("{}/*.csv", data.display());
    let answers = dir.path().join("answers");
    std::fs::create_dir(&answers).unwrap();
    let rust = run("dataflow", &["groupby", &pattern, "--by", "id1", "--agg", "v1:sum"]);
    rust.success();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dataflow/python/engines.py");
    let engines = |contracts: &str, answer: &str| {
        std::fs::write(answers.join("0.csv"), answer).unwrap();
        let question = format!("q1|id1|v1:sum|{contracts}");
        let args =
            ["polars", "1", "1", ",", answers.to_str().unwrap(), &question, "none", &pattern];
        Command::new(&python).arg(&script).args(args).output().unwrap()
    };
    let out = engines("memory,csv", &rust.stdout);
    common::succeeded("engines.py polars", &out);
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = text.lines().filter(|l| !l.starts_with("note\t")).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(rows[0].starts_with("q1 Polars streaming, 1 thread ["), "{text}");
    assert!(rows[1].starts_with("q1 CSV to CSV: Polars streaming, 1 thread ["), "{text}");
    let left: Vec<_> =
        std::fs::read_dir(&answers).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["0.csv"], "the written answer removed");
    let first = rust.stdout.lines().nth(1).unwrap();
    let (group, sum) = first.split_once(',').unwrap();
    let wrong = format!("{group},{}", sum.parse::<u64>().unwrap() + 1);
    let said = |out: std::process::Output| {
        assert!(!out.status.success(), "a wrong answer fails the twin");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let off_by_one = said(engines("csv", &rust.stdout.replacen(first, &wrong, 1)));
    let named =
        format!("q1 CSV to CSV: Polars streaming, 1 thread: ('{group}',) v1 sum: {sum}.0 != '");
    assert!(off_by_one.contains(&named), "{named} in {off_by_one}");
    let missing = said(engines("csv", &rust.stdout.replacen(&format!("{first}\n"), "", 1)));
    let named = format!(
        "q1 CSV to CSV: Polars streaming, 1 thread: the groups differ, such as [('{group}',)]"
    );
    assert!(missing.contains(&named), "{named} in {missing}");
}

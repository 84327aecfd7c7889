//! `cargo run -p multiprocessing`: notebook section 2.d. Children print in whatever order they
//! run, so the notebook cell's lines are checked for presence and count, not order.

use crate::common;
use common::{binary, check_bad_values, check_cli_conventions, run_with_env};
use common::{small_run, small_run_args};

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const NOTEBOOK_LINES: [&str; 3] =
    ["Normal sum of is 10", "Square sum of is 30", "Cubic sum of is 100"];

/// A value for `HPC_RS_TEST_TAG` that no other run shares: children inherit the environment,
/// so every process of one run can be found through /proc afterwards.
fn unique_tag() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("mp-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Processes alive now whose environment carries `tag`.
fn processes_tagged_now(tag: &str) -> Vec<String> {
    let needle = format!("HPC_RS_TEST_TAG={tag}");
    fs::read_dir("/proc")
        .expect("Linux has /proc")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let environ = fs::read(path.join("environ")).ok()?;
            let mut vars = environ.split(|&b| b == 0);
            vars.any(|var| var == needle.as_bytes()).then(|| path.display().to_string())
        })
        .collect()
}

/// Like [`processes_tagged_now`], waiting up to a second for them to go (a SIGKILL is
/// delivered asynchronously; far less than a second in practice).
fn processes_tagged(tag: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let found = processes_tagged_now(tag);
        if found.is_empty() || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run_tagged(args: &[&str]) -> (common::Run, String) {
    let tag = unique_tag();
    let out = run_with_env("multiprocessing", args, &[("HPC_RS_TEST_TAG", &tag)]);
    (out, tag)
}

#[test]
fn the_notebook_cell_prints_10_30_and_100_once_each_and_reports_every_child() {
    let out = small_run("multiprocessing");
    out.success();
    for line in NOTEBOOK_LINES {
        let count = out.stdout.lines().filter(|l| *l == line).count();
        out.check(count == 1, &format!("{line:?} printed exactly once by its child"));
    }
    out.lines_in_order(&[
        "[1] three child processes, length 5 (children print in whatever order they run):",
        "Normal child: exited with status 0, sent 10",
        "Square child: exited with status 0, sent 30",
        "Cubic child: exited with status 0, sent 100",
        "(fork copies the whole process, buffers included: stdout is flushed before each fork",
    ]);
}

#[test]
fn no_line_is_printed_twice_when_stdout_is_a_file() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let status = Command::new(binary("multiprocessing"))
        .args(small_run_args("multiprocessing"))
        .stdout(Stdio::from(file.reopen().unwrap()))
        .status()
        .unwrap();
    let written = fs::read_to_string(file.path()).unwrap();
    assert!(status.success(), "{written}");
    for line in NOTEBOOK_LINES {
        assert_eq!(written.lines().filter(|l| *l == line).count(), 1, "{line:?} in:\n{written}");
    }
    assert_eq!(written.matches("== 2.d Multiprocessing with fork").count(), 1, "{written}");
}

#[test]
fn timings_sweep_memory_and_pipes_are_reported_and_verified() {
    let out = small_run("multiprocessing");
    out.contains_in_order(&[
        "[2] the notebook's timing: length 5, 1 run after a warm-up",
        "three processes",
        "one fork + _exit + waitpid",
        "The notebook (not measured here): 34.5 ms against 0.52 ms.",
        "[3] real work: length 20000",
        "three processes",
        "[4] where threads and processes start to pay off",
        "1000",
        "10000",
        "paid off",
        "[5] separate memory: the child set counter = 99 (it sent back 99); the parent's counter is still 1",
        "shared memory: 4 children x 100000 fetch_add on a MAP_SHARED counter = 400000",
        "[6] results through pipes, printed by the parent in a fixed order:",
        "Normal sum of is 10\n    Square sum of is 30\n    Cubic sum of is 100",
    ]);
    out.check(!out.stdout.contains("100000  "), "the sweep stops at --size");
}

#[test]
fn no_child_process_remains_after_the_binary_exits() {
    let (out, tag) = run_tagged(small_run_args("multiprocessing"));
    out.success();
    let left = processes_tagged(&tag);
    assert!(left.is_empty(), "processes left behind: {left:?}");
}

#[test]
fn a_child_that_panics_is_reported_with_its_exit_code() {
    let (out, tag) = run_tagged(&["--crash-child", "panic"]);
    out.check(out.code == Some(1), "exit status 1 when a child failed");
    out.lines_in_order(&[
        "Normal child: exited with status 0, sent 10",
        "Square child: exited with status 101, sent nothing",
        "Cubic child: exited with status 0, sent 100",
    ]);
    out.check(
        out.stderr.contains("(child) panicked on purpose")
            && out.stderr.ends_with(
                "error: a child process failed (--crash-child); every child was reaped\n",
            ),
        "stderr explains the failure",
    );
    out.check(!out.stdout.contains("Square sum of is"), "the crashed child printed no sum");
    assert!(processes_tagged(&tag).is_empty());
}

#[test]
fn a_child_killed_by_a_signal_is_reported_with_the_signal() {
    let (out, tag) = run_tagged(&["--crash-child", "kill"]);
    out.check(out.code == Some(1), "exit status 1 when a child failed");
    out.lines_in_order(&["Square child: killed by SIGKILL, sent nothing"]);
    out.check(
        out.stderr == "error: a child process failed (--crash-child); every child was reaped\n",
        "one line on stderr",
    );
    assert!(processes_tagged(&tag).is_empty());
}

#[test]
fn interrupting_the_parent_leaves_no_child_behind() {
    /// Kills the parent if the test fails before it is interrupted, so nothing runs on.
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let tag = unique_tag();
    let parent = common::interruptible("multiprocessing")
        // Children that would run for seconds, far longer than processes_tagged waits.
        .args(["--size", "2000000000", "--runs", "1"])
        .env("HPC_RS_TEST_TAG", &tag)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut parent = KillOnDrop(parent);
    // The real-work section forks its children right after printing its heading.
    let mut lines = BufReader::new(parent.0.stdout.take().unwrap()).lines();
    assert!(lines.any(|l| l.unwrap().starts_with("[3] real work")), "reached the real work");
    std::thread::sleep(Duration::from_millis(300));
    let during = processes_tagged_now(&tag);
    assert!(during.len() > 1, "children are running: {during:?}");
    let children = common::descendants(parent.0.id());
    assert!(!children.is_empty(), "the parent has children to reap");
    // SIGINT to the parent alone: harsher than Ctrl-C, which signals the children too.
    let status = Command::new("kill").args(["-INT", &parent.0.id().to_string()]).status().unwrap();
    assert!(status.success());
    let ended = parent.0.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&ended),
        Some(2),
        "the parent died of the SIGINT, as an unhandled one kills"
    );
    // Reaped by the parent before it died: gone at once, not even a zombie waiting for PID 1.
    let zombies: Vec<u32> =
        children.into_iter().filter(|pid| Path::new(&format!("/proc/{pid}")).exists()).collect();
    assert!(zombies.is_empty(), "children left as zombies or alive: {zombies:?}");
    let left = processes_tagged(&tag);
    assert!(left.is_empty(), "processes left behind: {left:?}");
}

#[test]
fn a_process_starts_as_a_copy_or_as_a_fresh_program() {
    small_run("multiprocessing")
        .contains_in_order(&[
            "[7] how a process starts: a copy of this one (fork), or a fresh program (Command)",
            "three processes, fork ",
            "(baseline)",
            "three processes, Command (exec) ",
        ])
        .prose_in_order(&[
            "Command took ",
            "Python's multiprocessing has three start methods. fork:",
            "forkserver: a clean server process, started once, forks each child - Linux's default from 3.14.",
            "spawn: a fresh interpreter, like Command,",
            "Both forkserver and spawn import your module again",
            "a lambda or a closure as a Process target cannot be pickled",
        ]);
}

#[test]
fn bad_arguments_follow_the_conventions() {
    check_cli_conventions("multiprocessing");
    check_bad_values("multiprocessing", "--size", &["0", "-5", "7000000000", "x"]);
    run_with_env("multiprocessing", &["--timed-size", "20000"], &[]).usage_error("--timed-size");
    // A bad choice is refused with the list of choices.
    run_with_env("multiprocessing", &["--crash-child", "bogus"], &[])
        .usage_error("[possible values: panic, kill]");
    check_bad_values("multiprocessing", "--crash-child", &["sometimes"]);
}

#[test]
fn vs_python_prints_rust_and_python_side_by_side() {
    let out = common::check_vs_python("multiprocessing", &["--size", "2000", "--runs", "1"], 6);
    let python_present = !out.stderr.contains("python3 not found");
    out.check(
        !python_present
            || out
                .lines_starting("Three processes against sequential at length 2000: Rust -> ")
                .len()
                == 1,
        "each language's own speedup",
    );
}

#[test]
fn the_twin_runs_under_the_start_method_asked_for() {
    common::require_python3!();
    // spawn: the default on macOS and Windows; the twin's children import it again.
    let out = run_with_env(
        "multiprocessing",
        &["--size", "2000", "--runs", "1", "--vs-python"],
        &[("HPC_RS_START_METHOD", "spawn")],
    );
    out.success().contains_in_order(&[
        "three processes, fork / three processes (fork)",
        "three processes, fork / three processes (forkserver)",
        "three processes, Command / three processes (spawn)",
        "three processes, real / three processes (spawn)",
    ]);
}

#[test]
fn output_piped_into_head_ends_quietly() {
    common::check_closed_pipe("multiprocessing", &["--size", "100000", "--runs", "1"]);
}

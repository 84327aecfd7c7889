//! The helper every topic test file uses: build the topic's binary, run it, and check its output.
//! A failed check prints the whole stdout and stderr of the run.

// A panic in a test helper is a failing test, which is what it should be.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

/// The path of `topic`'s binary, built fresh once per test process, so a test never runs a
/// stale one (`cargo test` builds this package's tests, not the binaries of other packages).
///
/// Every topic is built by one `cargo build --profile test --workspace --bins --tests`: the
/// same packages, features and profile as the `cargo test --workspace` that runs this, so it
/// reuses every dependency that command built and compiles only the binaries themselves (at
/// the test profile's level: the tests check what the binaries print, never their speed). (One `cargo build -p topic` a topic
/// would resolve each topic's features alone and rebuild shared dependencies for each.)
pub fn binary(topic: &str) -> PathBuf {
    static BUILT: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
        let messages = escargot::CargoBuild::new()
            .manifest_path(manifest)
            .arg("--profile")
            .arg("test")
            .arg("--workspace")
            .bins()
            .tests()
            .exec()
            .unwrap_or_else(|e| panic!("building the topics failed: {e}"));
        let mut binaries = HashMap::new();
        for message in messages {
            let message = message.unwrap_or_else(|e| panic!("building the topics failed: {e}"));
            if let Ok(escargot::format::Message::CompilerArtifact(artifact)) = message.decode()
                && artifact.target.kind.iter().any(|k| k == "bin")
                && !artifact.profile.test
                && let Some(path) = artifact.executable
            {
                binaries.insert(artifact.target.name.to_string(), path.to_path_buf());
            }
        }
        binaries
    });
    built.get(topic).unwrap_or_else(|| panic!("no binary named {topic} was built")).clone()
}

/// A command for `topic`'s binary that Ctrl-C (SIGINT) ends, as from a terminal, even where
/// this test runs with SIGINT ignored: a shell without job control starts background commands
/// that way (`cargo test &`), and an ignored signal stays ignored across exec.
pub fn interruptible(topic: &str) -> std::process::Command {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(binary(topic));
    // SAFETY: between fork and exec only a signal disposition is set, which is
    // async-signal-safe: no allocation, no lock.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(|| {
            nix::sys::signal::signal(
                nix::sys::signal::Signal::SIGINT,
                nix::sys::signal::SigHandler::SigDfl,
            )
            .map(drop)
            .map_err(std::io::Error::from)
        });
    }
    command
}

/// What one run of a topic binary did.
pub struct Run {
    pub args: Vec<String>,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `topic` with `args` and captures everything it printed.
pub fn run(topic: &str, args: &[&str]) -> Run {
    run_with_env(topic, args, &[])
}

/// `topic` run with `args` once in this test process and checked to have succeeded, its output
/// shared by every test that asks for the same command: a topic's whole default run is not
/// repeated once a test.
pub fn run_once(topic: &str, args: &[&str]) -> &'static Run {
    static RUNS: Cells<Vec<String>, Run> = OnceLock::new();
    let key: Vec<String> =
        std::iter::once(topic).chain(args.iter().copied()).map(String::from).collect();
    let out = cell(&RUNS, key).get_or_init(|| run(topic, args));
    out.success();
    out
}

/// One cell a key, each filled once in this test process: what several tests need (a run, a
/// virtual environment) is made by the first to ask while the others wait for it.
type Cells<K, T> = OnceLock<Mutex<HashMap<K, &'static OnceLock<T>>>>;

/// `key`'s cell in `cells`. The map's lock is held only to find the cell: two tests asking
/// for the same key wait for one of them to fill it, other keys go on at once.
fn cell<K: Eq + std::hash::Hash, T>(cells: &'static Cells<K, T>, key: K) -> &'static OnceLock<T> {
    let mut map = cells.get_or_init(Default::default).lock().unwrap();
    map.entry(key).or_insert_with(|| Box::leak(Box::new(OnceLock::new())))
}

/// The small run of `topic` its tests share (see [`small_run_args`]), run once by
/// [`run_once`].
pub fn small_run(topic: &str) -> &'static Run {
    run_once(topic, small_run_args(topic))
}

/// The arguments of `topic`'s small run: its timed section at a small size, timed once after
/// the warm-up, so that the whole lesson prints in well under a second.
pub fn small_run_args(topic: &str) -> &'static [&'static str] {
    match topic {
        "comprehensions" | "iterators" | "reactive" => &["--size", "1000", "--runs", "1"],
        "locks" => &["--trials", "200", "--size", "20000", "--runs", "1"],
        "multiprocessing" => &["--size", "20000", "--runs", "1"],
        "pools" => &["--size", "100000", "--runs", "1"],
        // The notebook's cells always run at 1M; three threads, as the notebook starts.
        "threading" => &["--size", "1000", "--runs", "1", "--threads", "3"],
        _ => panic!("{topic} has no small run here"),
    }
}

/// Like [`run`], with extra environment variables.
pub fn run_with_env(topic: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    run_full(topic, args, env, "")
}

/// Like [`run`], with `stdin` as the binary's standard input.
pub fn run_with_stdin(topic: &str, args: &[&str], stdin: &str) -> Run {
    run_full(topic, args, &[], stdin)
}

fn run_full(topic: &str, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Run {
    let mut cmd = assert_cmd::Command::new(binary(topic));
    cmd.args(args).envs(env.iter().copied()).timeout(std::time::Duration::from_secs(120));
    cmd.write_stdin(stdin.to_owned());
    let output = cmd.output().unwrap_or_else(|e| panic!("running {topic} failed: {e}"));
    Run {
        args: std::iter::once(topic).chain(args.iter().copied()).map(String::from).collect(),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Whether this machine has a `python3` to run twins with.
pub fn python3_present() -> bool {
    std::process::Command::new("python3").arg("--version").output().is_ok()
}

/// Whether a test that needs python3 can run; if not, it says so and is skipped, except under
/// CI (`CI=true`), which has everything a check needs, where that fails the test.
pub fn python3_or_skip() -> bool {
    python3_present() || skip("no python3 on this machine")
}

/// Ends the calling test where python3 is missing, saying why (under CI it fails instead).
macro_rules! require_python3 {
    () => {
        if !$crate::common::python3_or_skip() {
            return;
        }
    };
}
pub(crate) use require_python3;

/// Says why a test cannot do its real check here (the caller then returns); under CI it fails
/// instead, so a check that CI should run is never skipped unseen. Always `false`, to read as
/// `if !ready() { return }`.
pub fn skip(reason: &str) -> bool {
    assert!(std::env::var("CI").as_deref() != Ok("true"), "cannot run under CI: {reason}");
    eprintln!("skipped: {reason}");
    false
}

/// A real Python 3 that lacks every third-party package: a script running `python3 -I -S`
/// (no site-packages) in a fresh folder, removed when the returned value is dropped.
pub struct BarePython {
    _folder: tempfile::TempDir,
    /// The script's path, to pass as `--python` or `HPC_RS_PYTHON`.
    pub path: String,
}

/// Writes `text` to `path` and makes it executable: a shell script standing in for a program.
pub fn executable_script(path: &std::path::Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

pub fn bare_python() -> BarePython {
    let folder = tempfile::Builder::new().prefix("hpc-rs-bare-python-").tempdir().unwrap();
    let bare = folder.path().join("python");
    executable_script(&bare, "#!/bin/sh\nexec python3 -I -S \"$@\"\n");
    BarePython { path: bare.to_string_lossy().into_owned(), _folder: folder }
}

/// A real Python 3 that reports a free-threaded build with the GIL off (CPython 3.13t/3.14t),
/// as far as a program can ask it: `sysconfig`'s `Py_GIL_DISABLED` and `sys._is_gil_enabled()`,
/// set by a `sitecustomize` the wrapper puts first on `PYTHONPATH`. Its threads still take turns
/// (the GIL is really there): what it tests is that the labels and sentences follow the build
/// the interpreter reports.
pub fn free_threaded_python() -> BarePython {
    let folder = tempfile::Builder::new().prefix("hpc-rs-free-threaded-").tempdir().unwrap();
    let site = folder.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(
        site.join("sitecustomize.py"),
        "import sys, sysconfig\n\
         _get = sysconfig.get_config_var\n\
         sysconfig.get_config_var = lambda name: 1 if name == 'Py_GIL_DISABLED' else _get(name)\n\
         sys._is_gil_enabled = lambda: False\n",
    )
    .unwrap();
    let wrapper = folder.path().join("python3t");
    let script = format!(
        "#!/bin/sh\nPYTHONPATH=\"{}${{PYTHONPATH:+:$PYTHONPATH}}\" exec python3 \"$@\"\n",
        site.display()
    );
    executable_script(&wrapper, &script);
    BarePython { path: wrapper.to_string_lossy().into_owned(), _folder: folder }
}

/// The workspace's target directory, where what the tests make once and reuse lives.
pub fn target_dir() -> PathBuf {
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| std::path::Path::new(workspace).join("target"), PathBuf::from)
}

/// A virtual environment under the target directory (`target/<name>`) with `packages`
/// installed from the package index, made once and reused by later runs; `None` (the test
/// skipped, with the reason, or failed under CI) where the index cannot be reached.
pub fn python_environment(name: &str, packages: &[&str]) -> Option<PathBuf> {
    // Made once a process: two tests asking at once (the notebook runner's, Polars') would
    // each remove the folder the other is filling, and its ensurepip fails.
    static MADE: Cells<String, Option<PathBuf>> = OnceLock::new();
    cell(&MADE, name.to_owned()).get_or_init(|| make_python_environment(name, packages)).clone()
}

fn make_python_environment(name: &str, packages: &[&str]) -> Option<PathBuf> {
    use std::process::{Command, Stdio};
    let folder = target_dir().join(name);
    let python = folder.join("bin/python");
    let ready = folder.join("hpc-rs-ready");
    if ready.is_file() {
        return Some(python);
    }
    let _ = std::fs::remove_dir_all(&folder);
    let venv = Command::new("python3").arg("-m").arg("venv").arg(&folder).output().unwrap();
    succeeded("python3 -m venv", &venv);
    let install = Command::new(&python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", "-q"])
        .args(packages)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    if !install.status.success() && !index_reachable(&python) {
        skip(&format!(
            "the package index cannot be reached, so {} cannot be had",
            packages.join(", ")
        ));
        return None;
    }
    succeeded(&format!("pip install {}", packages.join(" ")), &install);
    std::fs::write(&ready, "made by the hpc-rs tests; delete the folder to start over\n").unwrap();
    Some(python)
}

/// Whether pip can fetch anything at all (a tiny package, downloaded, not installed).
fn index_reachable(python: &std::path::Path) -> bool {
    let scratch = tempfile::tempdir().unwrap();
    std::process::Command::new(python)
        .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", "-d"])
        .arg(scratch.path())
        .arg("six")
        .stdin(std::process::Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs a Python module's check script (`numerics/extension/tests/check_module.py`,
/// `dataflow/extension/tests/check_module.py`) with `python` and `args`, and fails unless it
/// passed, printed each of `wanted` and ended with its "all checks passed".
pub fn module_checks_pass(
    python: &std::path::Path,
    script: &str,
    args: &[&std::ffi::OsStr],
    wanted: &[&str],
) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(script);
    let check = std::process::Command::new(python)
        .arg(&script)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    succeeded(&script.display().to_string(), &check);
    let stdout = String::from_utf8_lossy(&check.stdout);
    for line in wanted {
        assert!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
    }
    assert!(stdout.trim_end().ends_with("all checks passed"), "{stdout}");
}

/// Fails with the command's whole output unless it succeeded.
pub fn succeeded(what: &str, output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{what}: {}\n--- stdout:\n{}\n--- stderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Checks that `topic` refuses `args` before allocating, on a machine that pretends to have
/// 1 GB available (`HPC_RS_MEMORY_AVAILABLE`, so that the refusal does not depend on the
/// machine running the test), in one line saying what needs how much: `--size 100 needs 2.4 GB`.
pub fn refused_for_memory(topic: &str, args: &[&str], what_needs: &str) {
    run_with_env(topic, args, &[("HPC_RS_MEMORY_AVAILABLE", "1000000000")]).usage_error(&format!(
        "{what_needs} but this machine has 1.0 GB available (limit: 0.8 GB)"
    ));
}

impl Run {
    fn fail(&self, what: &str) -> ! {
        panic!(
            "{what}\n--- command: {}\n--- exit code: {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }

    /// Checks that the run succeeded with nothing on stderr.
    pub fn success(&self) -> &Self {
        if self.code != Some(0) {
            self.fail("expected exit status 0");
        }
        if !self.stderr.is_empty() {
            self.fail("expected nothing on stderr");
        }
        self
    }

    /// Checks bad input was refused: exit status 2, nothing on stdout, and exactly one line on
    /// stderr that contains `message`.
    pub fn usage_error(&self, message: &str) -> &Self {
        if self.code != Some(2) {
            self.fail("expected exit status 2 for bad input");
        }
        if self.stderr.lines().count() != 1 || !self.stderr.contains(message) {
            self.fail(&format!("expected one line on stderr containing {message:?}"));
        }
        if !self.stdout.is_empty() {
            self.fail("expected nothing on stdout for bad input");
        }
        self
    }

    /// Checks that stdout has every one of `lines` as a whole line, in this order
    /// (other lines may come between).
    pub fn lines_in_order(&self, lines: &[&str]) -> &Self {
        let mut rest = self.stdout.lines();
        for wanted in lines {
            if !rest.any(|line| line.trim() == wanted.trim()) {
                self.fail(&format!("line {wanted:?} missing, or out of order"));
            }
        }
        self
    }

    /// Checks that stdout contains every one of `parts`, in this order.
    pub fn contains_in_order(&self, parts: &[&str]) -> &Self {
        let mut from = 0;
        for part in parts {
            match self.stdout[from..].find(part) {
                Some(at) => from += at + part.len(),
                None => self.fail(&format!("{part:?} missing, or out of order")),
            }
        }
        self
    }

    /// Checks that stdout, read as prose - every run of white space, line ends included, one
    /// space - contains every one of `parts`, in this order: for sentences that are wrapped
    /// to the terminal's width wherever their figures make them break.
    pub fn prose_in_order(&self, parts: &[&str]) -> &Self {
        let prose = self.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut from = 0;
        for part in parts {
            let part = part.split_whitespace().collect::<Vec<_>>().join(" ");
            match prose[from..].find(&part) {
                Some(at) => from += at + part.len(),
                None => self.fail(&format!("{part:?} missing, or out of order (as prose)")),
            }
        }
        self
    }

    /// The one stdout line that starts with `prefix` (trimmed), failing if there is none.
    pub fn line_starting(&self, prefix: &str) -> &str {
        let mut found = self.stdout.lines().map(str::trim).filter(|l| l.starts_with(prefix));
        match (found.next(), found.next()) {
            (Some(line), None) => line,
            _ => self.fail(&format!("expected exactly one line starting with {prefix:?}")),
        }
    }

    /// Every stdout line that starts with `prefix` (trimmed).
    pub fn lines_starting(&self, prefix: &str) -> Vec<&str> {
        self.stdout.lines().map(str::trim).filter(|l| l.starts_with(prefix)).collect()
    }

    /// Fails with the whole output unless `ok` holds.
    pub fn check(&self, ok: bool, what: &str) -> &Self {
        if !ok {
            self.fail(what);
        }
        self
    }
}

/// The conventions every topic binary follows for its arguments.
pub fn check_cli_conventions(topic: &str) {
    let help = run(topic, &["--help"]);
    help.success();
    help.check(help.stdout.contains("Usage:"), "--help prints usage on stdout");
    run(topic, &["--no-such-flag"]).usage_error("--no-such-flag");
}

/// Checks that `topic` refuses each bad value of `flag` with one line and status 2.
pub fn check_bad_values(topic: &str, flag: &str, values: &[&str]) {
    for value in values {
        run(topic, &[flag, value]).usage_error(flag);
    }
}

/// Runs `topic` with its stdout on a pipe whose reading end is already closed, as
/// `topic | head -1` leaves it once head has its line: the first write fails with EPIPE, every
/// time, whatever the output's size. The binary must end quietly (status 0, nothing on
/// stderr), not panic as a plain `println!` would.
pub fn check_closed_pipe(topic: &str, args: &[&str]) {
    use std::process::{Command, Stdio};
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(binary(topic))
        .args(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.is_empty(),
        "{topic} | head -1: {}, stderr:\n{stderr}",
        output.status
    );
}

/// `topic --vs-python` with `args`: both medians and a ratio on each of `rows` lines, and the
/// interpreter's start-up reported apart. Where python3 is missing, the one line on stderr
/// saying so, and the Rust figures still printed with status 0.
pub fn check_vs_python(topic: &str, args: &[&str], rows: usize) -> Run {
    let mut all = args.to_vec();
    all.push("--vs-python");
    let out = run(topic, &all);
    out.lines_in_order(&[
        "== Rust vs Python on this machine (the same workload, timed inside the interpreter)",
    ]);
    let python_present = python3_present();
    if !python_present {
        out.check(out.code == Some(0), "exit status 0 without python3");
        out.check(
            out.stderr.trim() == "note: no Python comparison: python3 not found: install Python 3, or pass --python PATH to one (or set HPC_RS_PYTHON=PATH)",
            "one line on stderr",
        );
        return out;
    }
    out.success();
    let compared: Vec<&str> =
        out.stdout.lines().skip_while(|l| !l.starts_with("(medians)")).skip(1).take(rows).collect();
    let well_formed = compared.iter().all(|l| {
        let fields: Vec<&str> = l.split_whitespace().collect();
        fields.len() >= 7 && (l.ends_with("x faster") || l.contains("the same"))
    });
    out.check(compared.len() == rows && well_formed, &format!("{rows} comparison lines"));
    out.prose_in_order(&["(ran on python3: ", "Python 3.", "left out of its figures)"]);
    out
}

/// The pid and parent pid of every process now (Linux: /proc).
#[cfg(target_os = "linux")]
fn process_parents() -> Vec<(u32, u32)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // The field after the command name, which may contain spaces, is the state, then the
        // parent's pid.
        let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        if let Some(ppid) = after_name.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            found.push((pid, ppid));
        }
    }
    found
}

/// Every process below `root`: its children, their children, and so on.
#[cfg(target_os = "linux")]
pub fn descendants(root: u32) -> Vec<u32> {
    let parents = process_parents();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(parents.iter().filter(|&&(_, p)| p == parent).map(|&(pid, _)| pid));
        i += 1;
    }
    found.remove(0);
    found
}

/// Whether `pid` has ended (gone, or a zombie waiting for its reaper).
#[cfg(target_os = "linux")]
fn ended(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit_once(')').map_or("", |(_, rest)| rest).trim_start();
    stat.is_empty() || state.starts_with('Z')
}

/// Starts `topic` with `args` (which must include `--vs-python` and a workload that keeps the
/// twin busy for seconds), waits until it has started `at_least` processes below it (its
/// Python twin, and the twin's own children where it starts some), sends SIGINT to the parent
/// alone (not its process group, as a terminal's Ctrl-C would) and checks that every one of
/// them ends too.
#[cfg(target_os = "linux")]
pub fn check_twin_dies_with_its_parent(topic: &str, args: &[&str], at_least: usize) {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    /// Kills the parent if the test fails first, so nothing runs on.
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let parent = interruptible(topic)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut parent = KillOnDrop(parent);
    // Processes that have lived half a second: the long-running ones, not a quick batch of
    // children that is ending anyway.
    let started = Instant::now();
    let mut first_seen = std::collections::HashMap::new();
    let below = loop {
        let alive: Vec<u32> =
            descendants(parent.0.id()).into_iter().filter(|&pid| !ended(pid)).collect();
        first_seen.retain(|pid, _| alive.contains(pid));
        for &pid in &alive {
            first_seen.entry(pid).or_insert_with(Instant::now);
        }
        let settled: Vec<u32> = first_seen
            .iter()
            .filter(|(_, seen)| seen.elapsed() > Duration::from_millis(500))
            .map(|(&pid, _)| pid)
            .collect();
        if settled.len() >= at_least {
            break settled;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "only {alive:?} running");
        std::thread::sleep(Duration::from_millis(20));
    };
    let status = Command::new("kill").args(["-INT", &parent.0.id().to_string()]).status().unwrap();
    assert!(status.success());
    let finished = parent.0.wait().unwrap();
    assert!(!finished.success(), "the parent was interrupted");
    let interrupted = Instant::now();
    for pid in below {
        while !ended(pid) {
            assert!(
                interrupted.elapsed() < Duration::from_secs(5),
                "process {pid}, started below {topic}, outlived it"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

//! `--processes N`: this binary started N times as one cluster on loopback, as a Dask
//! `LocalCluster` starts its workers, and supervised. The children get a fresh key and job id
//! on their stdin (never on a command line, which `ps` shows to every user), and end when
//! that pipe closes: when the parent ends, however it ends, no child is left behind.
//!
//! timely stops a computation when one of its processes dies: that is its design. Dask
//! computes a lost worker's tasks again on the survivors - but a group-by that shuffles (its
//! P2P shuffle) restarts every active shuffle the lost worker took part in
//! (distributed/shuffle/_scheduler_plugin.py, `remove_worker`, 2026.8), close to running the
//! job again. `--retries K` does that: when a process is lost, the job runs again, whole, on
//! the survivors, up to K times; the answer is exact either way.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::handshake::Secret;
use crate::Error;
use crate::job::Job;
use crate::scan;

/// A child's exit status when it lost a peer, which the parent counts as a lost process, not
/// as a failure of the job itself (a bad row ends a child with 1).
pub const LOST_PEER: i32 = 3;

/// What the parent does with the children's notes.
#[derive(Clone, Copy, PartialEq)]
pub enum Output {
    /// Passed on to our stderr (`groupby --processes N`).
    PassThrough,
    /// Left out, for the default run, which compares answers: its notes would only repeat.
    Keep,
}

/// The program the children run: this binary, and the words before the job's options
/// (`dataflow groupby`), so the engine needs no command line of its own.
pub struct Launcher {
    /// The executable: this binary.
    pub program: PathBuf,
    /// The words before the job's options (`groupby`).
    pub args: Vec<String>,
}

/// How `--processes` ended.
pub struct Run {
    /// Whether the job succeeded (its failure said on stderr by the processes).
    pub ok: bool,
    /// Process 0's answer, as CSV (the caller prints it).
    pub stdout: String,
    /// Each process's peak memory in bytes, as it reported it.
    pub peaks: Vec<u64>,
    /// The longest time a process took to connect to the others.
    pub connecting: Duration,
}

/// Runs the job on `n` processes, and again on one fewer each time one is lost, as many
/// times as `--retries` allows.
pub fn run(job: &Job, n: usize, output: Output, launcher: &Launcher) -> Result<Run, Error> {
    // The children read the ranges this process writes: cut exactly, once (each child checks
    // only its own ranges, so none could tell the others that a guessed cut was wrong).
    let job = &job.cut_exactly()?;
    let (mut n, mut retries_left) = (n, job.retries);
    loop {
        let retrying = retries_left > 0 && n > 1;
        match run_once(job, n, (output, launcher), retrying)? {
            Ok(run) => return Ok(run),
            Err(Ended { run, lost: Some(lost) }) if retrying => {
                retries_left -= 1;
                n -= 1;
                // The lost attempt's part files go: the next attempt writes the answer whole.
                if let Some(dir) = &job.out {
                    crate::spill::prepare_out(dir, true).map_err(Error::Disk)?;
                }
                eprintln!(
                    "note: {lost}; the job runs again, whole, on the {} left (--retries: {} more)",
                    timing::plural(n, "process"),
                    retries_left
                );
                drop(run);
            }
            Err(Ended { run, lost }) => {
                if let Some(lost) = lost {
                    eprintln!("error: {lost}; the others were stopped");
                }
                return Ok(run);
            }
        }
    }
}

/// A run that failed, and the process it lost, if one was lost (and not a bad row's error).
struct Ended {
    run: Run,
    lost: Option<String>,
}

/// One attempt: start `n` children, forward their output, wait for them all. The outer
/// error: the attempt could not start; the inner: it ran and failed.
fn run_once(
    job: &Job,
    n: usize,
    (output, launcher): (Output, &Launcher),
    retrying: bool,
) -> Result<Result<Run, Ended>, Error> {
    // The hostfile and the answer, in a folder of this run's own, removed when it ends -
    // returned, failed, or stopped by a signal (`crate::cleanup`).
    let scratch = crate::cleanup::TempDir::new("hpc-rs-dataflow-")
        .map_err(|e| Error::System(format!("a temporary folder: {e}")))?;
    let (hostfile, answer_file) =
        (scratch.path().join("hosts.txt"), scratch.path().join("answer.csv"));
    write_hostfile(&hostfile, n)?;
    // The parent's ranges, so that no child reads the files again to cut them.
    let ranges = scratch.path().join("ranges.txt");
    scan::write_ranges(&ranges, &job.plan)?;
    let secret = Secret::fresh().map_err(Error::System)?;
    // The children spill into a folder of this run's own inside --spill-dir, removed by this
    // process when the run ends: even a child killed outright (SIGKILL, which it cannot catch
    // to clean up after itself) leaves nothing behind.
    let spill = crate::cleanup::TempDir::new_in(&job.budget.dir, "hpc-rs-spill-").map_err(|e| {
        let dir = job.budget.dir.display();
        Error::System(format!("--spill-dir {dir}: cannot make a folder for spill files there: {e}"))
    })?;
    let mut children = Vec::new();
    let mut stdins = Vec::new(); // held open: a child ends when its stdin closes
    for process in 0..n {
        let answer = (process == 0).then_some(answer_file.as_path());
        let files = (hostfile.as_path(), ranges.as_path(), spill.path());
        match start_child(job, launcher, files, (process, answer), &secret) {
            Ok((child, stdin)) => {
                children.push(Some(child));
                stdins.push(stdin);
            }
            Err(e) => {
                kill_all(&mut children);
                return Err(Error::System(format!("starting process {process}: {e}")));
            }
        }
    }
    let readers: Vec<_> = children
        .iter_mut()
        .map(|child| forward_output(child.as_mut().expect("just started"), output, retrying))
        .collect();
    let ended = supervise(&mut children);
    drop(stdins);
    let reports: Vec<Report> = readers.into_iter().map(|r| r.join().unwrap_or_default()).collect();
    let ended = ended?;
    let stdout = answer_of(&answer_file, job.out.is_some() || ended.is_err())?;
    let run = Run {
        ok: ended.is_ok(),
        peaks: reports.iter().map(|r| r.peak).collect(),
        connecting: reports.iter().map(|r| r.connecting).max().unwrap_or_default(),
        stdout,
    };
    Ok(match ended {
        Ok(()) => Ok(run),
        Err(lost) => Err(Ended { run, lost }),
    })
}

/// The answer process 0 wrote to `path`; empty where it wrote none (`none_expected`: the part
/// files hold it, or the run failed), an error where it should have.
fn answer_of(path: &Path, none_expected: bool) -> Result<String, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(_) if none_expected => Ok(String::new()),
        Err(e) => Err(Error::System(format!("process 0's answer: {e}"))),
    }
}

/// `n` free loopback ports (found by binding port 0 on 127.0.0.1), one line each.
fn write_hostfile(path: &Path, n: usize) -> Result<(), Error> {
    let lines = free_loopback_addresses(n)?;
    std::fs::write(path, lines.join("\n") + "\n")
        .map_err(|e| Error::System(format!("{}: {e}", path.display())))
}

/// `n` addresses `127.0.0.1:PORT` whose ports were free a moment ago (port 0 bound, then let
/// go), for a cluster of processes on this machine.
pub fn free_loopback_addresses(n: usize) -> Result<Vec<String>, Error> {
    (0..n)
        .map(|_| {
            let bound = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr());
            bound.map(|a| format!("127.0.0.1:{}", a.port()))
        })
        .collect::<Result<_, _>>()
        .map_err(|e| Error::System(format!("no free port on 127.0.0.1: {e}")))
}

/// Starts process `process` of the hostfile's cluster with the same job, and hands it the
/// secret on its stdin.
fn start_child(
    job: &Job,
    launcher: &Launcher,
    (hostfile, ranges, spill): (&Path, &Path, &Path),
    (process, answer_file): (usize, Option<&Path>),
    secret: &Secret,
) -> std::io::Result<(Child, ChildStdin)> {
    let mut command = std::process::Command::new(&launcher.program);
    command.args(&launcher.args).args(job.child_args(spill));
    command.arg("--hostfile").arg(hostfile).args(["--process", &process.to_string(), "--child"]);
    command.arg("--ranges-file").arg(ranges);
    if let Some(path) = answer_file {
        command.arg("--answer-file").arg(path);
    }
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn()?;
    let mut stdin = child.stdin.take().expect("piped");
    stdin.write_all(secret.to_line().as_bytes())?;
    Ok((child, stdin))
}

/// What a child reported on stderr besides its messages.
#[derive(Default)]
struct Report {
    peak: u64,
    connecting: Duration,
}

/// Reads a child's stderr (and its stdout, which should stay empty) on threads of their own,
/// so that none blocks on a full pipe; forwards its messages, and keeps its reports. While a
/// retry is left, a survivor's "error: lost ..." is only a note: the job will run again.
fn forward_output(
    child: &mut Child,
    output: Output,
    retrying: bool,
) -> std::thread::JoinHandle<Report> {
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    std::thread::spawn(move || {
        let stray = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                eprintln!("{line}");
            }
        });
        let mut report = Report::default();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(bytes) = line.strip_prefix("peak-memory ") {
                report.peak = bytes.parse().unwrap_or(0);
            } else if let Some(nanos) = line.strip_prefix("connected-in ") {
                report.connecting = Duration::from_nanos(nanos.parse().unwrap_or(0));
            } else if output == Output::Keep && line.starts_with("note: ") {
                // The default run compares answers; its notes would only repeat.
            } else if let (true, Some(lost)) = (retrying, line.strip_prefix("error: lost ")) {
                eprintln!("note: lost {lost}");
            } else {
                eprintln!("{line}");
            }
        }
        let _ = stray.join();
        report
    })
}

/// Waits for every child. When one fails, waits a moment (the survivors say which peer they
/// lost, and may end by themselves), then stops the rest: never a hang, nothing left behind.
/// The inner error names the lost process, if one was lost.
pub fn supervise(children: &mut [Option<Child>]) -> Result<Result<(), Option<String>>, Error> {
    let n = children.len();
    let mut running = n;
    let mut failures: Vec<(usize, ExitStatus)> = Vec::new();
    let mut first_failure: Option<Instant> = None;
    while running > 0 {
        for (process, slot) in children.iter_mut().enumerate() {
            let Some(child) = slot.as_mut() else { continue };
            match child.try_wait() {
                Ok(Some(status)) => {
                    *slot = None;
                    running -= 1;
                    if !status.success() {
                        failures.push((process, status));
                        first_failure.get_or_insert_with(Instant::now);
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    kill_all(children);
                    return Err(Error::System(format!("waiting for process {process}: {e}")));
                }
            }
        }
        if first_failure.is_some_and(|at| at.elapsed() > Duration::from_millis(300)) {
            kill_all(children);
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    if failures.is_empty() {
        return Ok(Ok(()));
    }
    // The process that died (a signal, a crash), rather than the peers that stopped because it
    // did; none for a job that failed on its own (a bad row ends process 0 with 1).
    let died = failures.iter().find(|(_, s)| !matches!(s.code(), Some(1 | LOST_PEER)));
    let lost = died.or_else(|| failures.iter().find(|(_, s)| s.code() == Some(LOST_PEER)));
    Ok(Err(lost.map(|(process, status)| format!("process {process} of {n} ended with {status}"))))
}

/// Kills every child still listed and waits for it: none is left behind.
pub fn kill_all(children: &mut [Option<Child>]) {
    for child in children.iter_mut().filter_map(Option::take) {
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
    }
}

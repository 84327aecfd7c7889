//! `dataflow groupby`: a group-by over the user's own files - the command line turned into the
//! engine's job (`options`), run on this process's threads, on processes this binary starts,
//! or as one process of a cluster; the answer on stdout (or in part files), every note on
//! stderr.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use dataflow_engine::cluster::{self, processes};
use dataflow_engine::{Answer, Error, Job, Workers, scan};
use timing::{cli, human};

use crate::{compare, options, report};

/// `dataflow groupby`: the job checked (bad input: exit 2), then run on threads, on processes
/// this binary starts, or as one process of a cluster; the answer as CSV, sorted by key (in
/// any order with --no-sort).
pub fn command(g: &options::GroupBy) -> ExitCode {
    // Stdout is the answer, redirected to a file (`> answer.csv`): every report, the Python
    // comparison's too, goes to stderr.
    cli::send_reports_to_stderr();
    if g.threads.is_some() {
        cli::usage_error("--threads: groupby takes --workers (threads in each process)");
    }
    g.cluster.check().unwrap_or_else(|e| cli::usage_error(e));
    if g.cluster.is_cluster() {
        g.python
            .refuse("compares the group-by in one process; drop --processes and --hostfile")
            .unwrap_or_else(|e| cli::usage_error(e));
    }
    if g.out.is_some() {
        g.python
            .refuse("compares the answer on stdout; drop --out")
            .unwrap_or_else(|e| cli::usage_error(e));
    }
    if g.no_sort {
        g.python
            .refuse("compares answers in key order; drop --no-sort")
            .unwrap_or_else(|e| cli::usage_error(e));
    }
    let job = Arc::new(g.job().unwrap_or_else(|e| exit_with(&e)));
    for path in scan::repeated(&g.files) {
        eprintln!("note: {} is named more than once; it is read once", path.display());
    }
    if let Some(n) = g.cluster.processes {
        // Process 0 prints the profile: the children are told to keep one.
        let extra: &[&str] = if g.profile { &["--profile"] } else { &[] };
        return on_processes(&job, n, &options::launcher(extra));
    }
    let workers = match g.cluster.member(&job).unwrap_or_else(|e| exit_with(&e)) {
        Some(member) => join(member, &job, g.cluster.child),
        None => Workers::Threads(job.threads),
    };
    let Some(answer) = run_with_progress(&job, workers, g.cluster.child) else {
        return ExitCode::SUCCESS; // not process 0, which prints
    };
    // With --out every worker wrote its part files as it sorted: nothing is left to write.
    let written = job.out.is_none().then(|| {
        let started = Instant::now();
        let bytes = write_answer(&job, &answer, g.cluster.answer_file.as_ref());
        (started.elapsed(), bytes)
    });
    notes(&job, &answer);
    if g.profile {
        for line in report::profile_lines(&job, &answer, written) {
            eprintln!("{line}");
        }
    }
    if g.python.enabled {
        compare::groupby_vs_python(&job, &answer, &g.python);
    }
    ExitCode::SUCCESS
}

/// `--processes N`: this binary started N times on loopback, process 0's answer printed.
fn on_processes(job: &Job, n: usize, launcher: &processes::Launcher) -> ExitCode {
    let run = processes::run(job, n, processes::Output::PassThrough, launcher)
        .unwrap_or_else(|e| exit_with(&e));
    if !run.ok {
        return ExitCode::FAILURE;
    }
    let mut out = std::io::stdout().lock();
    out.write_all(run.stdout.as_bytes())
        .and_then(|()| out.flush())
        .unwrap_or_else(|e| cli::stdout_failed(&e));
    ExitCode::SUCCESS
}

/// One process of a cluster: connected to the others; from then on a lost peer ends this
/// process with one line (a child of `--processes` with the code its parent counts as lost).
fn join(member: cluster::Member, job: &Job, child: bool) -> Workers {
    let lost = if child { processes::LOST_PEER } else { 1 };
    let addresses = member.addresses().to_vec();
    let (workers, took) = member.join(job).unwrap_or_else(|e| exit_with(&e));
    if child {
        eprintln!("connected-in {}", took.as_nanos()); // for the parent's report
    }
    cluster::end_process_on_lost_peer(addresses, lost);
    workers
}

/// The job on `workers`, a status line counting the bytes read while it runs; the answer in
/// process 0, `None` elsewhere. A failed run ends the program (exit 1).
fn run_with_progress(job: &Arc<Job>, workers: Workers, child: bool) -> Option<Answer> {
    let read = Arc::default();
    let ticker = timing::progress::Ticker::counting_then(
        "reading",
        Arc::clone(&read),
        job.bytes(),
        timing::progress::Unit::Bytes,
        Some("read; merging, sorting and gathering the groups".to_owned()),
    );
    let outcome = dataflow_engine::run_on(job, workers, &read);
    drop(ticker);
    if child {
        eprintln!("peak-memory {}", timing::machine::peak_memory().unwrap_or(0));
    }
    outcome.unwrap_or_else(|e| exit_with(&e))
}

/// The answer as CSV: on stdout, or into the file a parent of `--processes` reads it from.
/// Returns the bytes written.
fn write_answer(job: &Job, answer: &Answer, answer_file: Option<&PathBuf>) -> u64 {
    let ticker = timing::progress::Ticker::start(format!("writing {} groups", answer.groups));
    let bytes = match answer_file {
        Some(path) => {
            let file = std::fs::File::create(path).map(std::io::BufWriter::new);
            let written = file.and_then(|f| write_counted(job, answer, f));
            written.unwrap_or_else(|e| cli::fail(format!("{}: {e}", path.display())))
        }
        None => {
            let out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            write_counted(job, answer, out).unwrap_or_else(|e| cli::stdout_failed(&e))
        }
    };
    drop(ticker);
    bytes
}

/// The answer written to `out`, flushed; the bytes written.
fn write_counted(job: &Job, answer: &Answer, out: impl Write) -> std::io::Result<u64> {
    let mut counted = Counted { out, bytes: 0 };
    answer.write(&job.query, &mut counted)?;
    counted.flush()?;
    Ok(counted.bytes)
}

/// A writer that counts what passes through it.
struct Counted<W: Write> {
    out: W,
    bytes: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Ends the program for an error of the engine: bad input exit 2, anything else exit 1.
pub fn exit_with(e: &Error) -> ! {
    match e {
        Error::Usage(why) => cli::usage_error(why),
        other => {
            eprintln!("error: {other}");
            std::process::exit(1)
        }
    }
}

/// What a group-by left out, spilled and wrote, on stderr.
fn notes(job: &Job, answer: &Answer) {
    let (query, tally, spilled) = (&job.query, &answer.tally, &answer.spilled);
    if spilled.times > 0 {
        eprintln!(
            "note: the groups outgrew --memory-limit {}: {} spilled to {} in {} (written {} times, read back once, a partition at a time), {} of writing and reading",
            timing::bytes(job.budget.limit),
            timing::bytes(spilled.bytes),
            timing::plural(spilled.files, "file"),
            job.budget.dir.display(),
            spilled.times,
            human(spilled.took())
        );
    }
    if let Some(dir) = &job.out {
        eprintln!(
            "note: wrote {} groups in {} to {}",
            answer.groups,
            timing::plural(answer.parts.len(), "part file"),
            dir.display()
        );
    }
    if tally.missing_key > 0 {
        let was = if tally.missing_key == 1 { "was" } else { "were" };
        let keys = query.keys.join(" or ");
        eprintln!(
            "note: {} had no {keys} and {was} left out of the groups (as pandas and Dask do)",
            timing::plural(tally.missing_key, "row")
        );
    }
    if tally.skipped > 0 {
        eprintln!(
            "note: skipped {} with bad fields (--skip-bad)",
            timing::plural(tally.skipped, "row")
        );
    }
}

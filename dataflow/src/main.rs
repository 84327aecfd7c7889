//! Notebook takeaway 4, "loading larger than memory data using Dask in a distributed and
//! parallel setting", which the notebook promises and never shows. Dask's first lesson,
//! `dd.read_csv("data/*.csv").groupby("origin").dep_delay.mean().compute()`, on timely
//! dataflow: the same binary runs as 1 worker, N worker threads, or N processes that exchange
//! data over TCP - the step from Dask's threads to a Dask cluster.
//!
//! Run: `cargo run -p dataflow` (makes about 1 GB of flights-like CSV once, then groups it
//! three ways), `cargo run -p dataflow -- groupby 'data/*.csv' --by origin --agg dep_delay:mean`,
//! `cargo run -p dataflow -- db-benchmark` (the group-by questions every data-frame engine is
//! compared on), `cargo run -p dataflow -- generate --rows N --out DIR`.
//!
//! The crate, in reading order: this front end (options, then what each command does);
//! `options` (a group-by's command line, declared once); `report` (the default run and its
//! comparisons), `bench` (db-benchmark), `generate` (the data). The engine - the scan, the
//! groups and their exact aggregates, the dataflow, spilling, processes and machines - is the
//! library beneath, `dataflow/engine` (`cargo doc -p dataflow-engine --open`).

mod bench;
mod generate;
mod options;
mod report;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use dataflow_engine::cluster::{self, processes};
use dataflow_engine::{Answer, Error, Job, Workers, cleanup, scan};
use timing::cli;

/// Takeaway 4: a group-by over CSV files of any size, on threads or processes, with timely.
#[derive(Parser)]
#[command(about, long_about = None, mut_args(cli::runs_default::<3>))]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Rows of the generated data set the default run groups (about 55 bytes a row).
    #[arg(long, default_value_t = 18_000_000, value_parser = cli::up_to::<1_000_000_000>,
          allow_hyphen_values = true)]
    size: u64,
    #[command(flatten)]
    threads: cli::Threads,
    #[command(flatten)]
    timed: cli::Timed<cli::VsPython>,
}

#[derive(Subcommand)]
enum Command {
    /// Group CSV rows by one or more key columns and aggregate numeric columns, as pandas'
    /// `df.groupby(["a", "b"]).agg({"v": ["sum", "mean"]})`. Keys are compared as text:
    /// 00501, 0501 and 501 are three groups (pandas' read_csv would read them as one number
    /// unless given dtype={key: str}).
    Groupby(Box<options::GroupBy>),
    /// Write deterministic CSV files to try it on: flights-like rows, or db-benchmark's
    /// group-by data set (--shape groupby).
    Generate(generate::Options),
    /// db-benchmark's group-by questions (q1-q7, q10) on its data set, made once: a table of
    /// times and peak memory; with --vs-python, Polars, DuckDB, pandas and Dask beside it.
    #[command(mut_args(cli::runs_default::<3>))]
    DbBenchmark(bench::Options),
}

fn main() -> ExitCode {
    cleanup::install();
    cleanup::return_freed_memory();
    let args = cli::parse::<Args>();
    let Some(command) = &args.command else {
        let twin = report::twin(&args.timed.python);
        return report::default_run(&args.timed, args.threads.listed(), args.size, twin);
    };
    // The default run's own options, given with a command: refused, not ignored.
    let own = |what: &str| {
        args.timed.runs.refuse(what);
        args.timed.svg.refuse(what);
        args.threads.refuse(what);
        args.timed.python.refuse("give it after the command's name");
    };
    match command {
        Command::Generate(options) => {
            own("generate times nothing");
            generate::command(options)
        }
        Command::Groupby(g) => {
            own("groupby runs once, as Dask's compute() does (its threads are --workers)");
            groupby(g)
        }
        Command::DbBenchmark(options) => {
            own("give it after db-benchmark (its threads are --workers)");
            bench::command(options)
        }
    }
}

/// `dataflow groupby`: the job checked (bad input: exit 2), then run on threads, on processes
/// this binary starts, or as one process of a cluster; the answer as CSV, sorted by key.
fn groupby(g: &options::GroupBy) -> ExitCode {
    // Stdout is the answer, redirected to a file (`> answer.csv`): every report, the Python
    // comparison's too, goes to stderr.
    cli::send_reports_to_stderr();
    if g.threads.is_some() {
        cli::usage_error("--threads: groupby takes --workers (threads in each process)");
    }
    g.cluster.check().unwrap_or_else(|e| cli::usage_error(e));
    if g.cluster.is_cluster() {
        g.python.refuse("compares the group-by in one process; drop --processes and --hostfile");
    }
    if g.out.is_some() {
        g.python.refuse("compares the answer on stdout; drop --out");
    }
    let job = Arc::new(g.job().unwrap_or_else(|e| exit_with(&e)));
    for path in scan::repeated(&g.files) {
        eprintln!("note: {} is named more than once; it is read once", path.display());
    }
    if let Some(n) = g.cluster.processes {
        return on_processes(&job, n);
    }
    let workers = match g.cluster.member(&job).unwrap_or_else(|e| exit_with(&e)) {
        Some(member) => join(member, &job, g.cluster.child),
        None => Workers::Threads(job.threads),
    };
    let Some(answer) = run_with_progress(&job, workers, g.cluster.child) else {
        return ExitCode::SUCCESS; // not process 0, which prints
    };
    if job.out.is_none() {
        write_answer(&job, &answer, g.cluster.answer_file.as_ref());
    }
    report::notes(&job, &answer);
    if g.python.enabled {
        report::groupby_vs_python(&job, &answer, &g.python);
    }
    ExitCode::SUCCESS
}

/// `--processes N`: this binary started N times on loopback, process 0's answer printed.
fn on_processes(job: &Job, n: usize) -> ExitCode {
    let run = processes::run(job, n, processes::Output::PassThrough, &launcher())
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

/// How the engine starts this binary again as a process of `--processes`.
fn launcher() -> processes::Launcher {
    let program = std::env::current_exe()
        .unwrap_or_else(|e| cli::fail(format!("this program's own path: {e}")));
    processes::Launcher { program, args: vec!["groupby".to_owned()] }
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
fn write_answer(job: &Job, answer: &Answer, answer_file: Option<&PathBuf>) {
    let ticker = timing::progress::Ticker::start(format!("writing {} groups", answer.groups));
    match answer_file {
        Some(path) => {
            let file = std::fs::File::create(path).map(std::io::BufWriter::new);
            let written =
                file.and_then(|mut f| answer.write(&job.query, &mut f).and_then(|()| f.flush()));
            written.unwrap_or_else(|e| cli::fail(format!("{}: {e}", path.display())));
        }
        None => {
            let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            let written = answer.write(&job.query, &mut out).and_then(|()| out.flush());
            written.unwrap_or_else(|e| cli::stdout_failed(&e));
        }
    }
    drop(ticker);
}

/// Ends the program for an error of the engine: bad input exit 2, anything else exit 1.
fn exit_with(e: &Error) -> ! {
    match e {
        Error::Usage(why) => cli::usage_error(why),
        other => {
            eprintln!("error: {other}");
            std::process::exit(1)
        }
    }
}

/// Where the files of the default run and of db-benchmark are made once.
fn data_folder(name: &str) -> PathBuf {
    timing::machine::target_dir().join(name)
}

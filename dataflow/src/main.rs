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
//! `query` (what a group-by asks), `scan` (files, ranges, rows), `table` and `agg` (the groups
//! and their exact aggregates), `flow` (the dataflow on timely), `cluster` (processes and
//! machines); `report` (the default run and its comparisons) and `bench` (db-benchmark).

/// `merge` for a record of counters that workers report (`Tally`, `Traffic`, `Spilled`): every
/// field summed, as the reports meet. The fields named are the one thing the records differ in.
macro_rules! merged_by_sum {
    ($record:ident: $($field:ident),+) => {
        impl $record {
            pub fn merge(&mut self, other: &$record) {
                $(self.$field += other.$field;)+
            }
        }
    };
}

mod agg;
mod bench;
mod cleanup;
mod cluster;
mod flow;
mod generate;
mod job;
mod query;
mod report;
mod scan;
mod spill;
mod table;
mod wire;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use cluster::ClusterError;
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
    Groupby(Box<job::Options>),
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
fn groupby(g: &job::Options) -> ExitCode {
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
    let from_parent = g.cluster.child.then(cluster::processes::secret_from_parent);
    let from_parent = from_parent.transpose().unwrap_or_else(|e| exit_with(&e));
    let job = Arc::new(g.job());
    for path in scan::repeated(&g.files) {
        eprintln!("note: {} is named more than once; it is read once", path.display());
    }
    if let Some(n) = g.cluster.processes {
        let output = cluster::processes::Output::PassThrough;
        let run = cluster::processes::run(&job, n, output).unwrap_or_else(|e| exit_with(&e));
        return if run.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE };
    }
    let workers = match g.cluster.member(&job, from_parent) {
        Ok(Some(member)) => member.join(&job).unwrap_or_else(|e| exit_with(&e)),
        Ok(None) => cluster::Workers::Threads(job.threads),
        Err(e) => exit_with(&e),
    };
    let read = Arc::default();
    let ticker = timing::progress::Ticker::counting_then(
        "reading",
        Arc::clone(&read),
        job.bytes(),
        timing::progress::Unit::Bytes,
        Some("read; merging, sorting and gathering the groups".to_owned()),
    );
    let outcome = flow::run(&job, workers, &read);
    drop(ticker);
    if g.cluster.child {
        eprintln!("peak-memory {}", timing::machine::peak_memory().unwrap_or(0));
    }
    let answer = match outcome {
        Ok(Some(answer)) => answer,
        Ok(None) => return ExitCode::SUCCESS, // not process 0, which prints
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if job.out.is_some() {
        report::notes(&job, &answer); // the parts are written; a note says where
        return ExitCode::SUCCESS;
    }
    let ticker = timing::progress::Ticker::start(format!("writing {} groups", answer.groups));
    match &g.cluster.answer_file {
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
    report::notes(&job, &answer);
    if g.python.enabled {
        report::groupby_vs_python(&job, &answer, &g.python);
    }
    ExitCode::SUCCESS
}

/// Ends the program for a cluster error: bad input exit 2, anything else exit 1.
fn exit_with(e: &ClusterError) -> ! {
    match e {
        ClusterError::Usage(why) => cli::usage_error(why),
        ClusterError::System(why) => cli::fail(why),
    }
}

/// Where the files of the default run and of db-benchmark are made once.
fn data_folder(name: &str) -> PathBuf {
    timing::machine::target_dir().join(name)
}

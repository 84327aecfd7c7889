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
mod table;
mod wire;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args as ClapArgs, Parser, Subcommand};
use cluster::ClusterError;
use job::Job;
use query::Query;
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
    Groupby(Box<GroupbyArgs>),
    /// Write deterministic CSV files to try it on: flights-like rows, or db-benchmark's
    /// group-by data set (--shape groupby).
    Generate(generate::Options),
    /// db-benchmark's group-by questions (q1-q7, q10) on its data set, made once: a table of
    /// times and peak memory; with --vs-python, Polars, DuckDB, pandas and Dask beside it.
    #[command(mut_args(cli::runs_default::<3>))]
    DbBenchmark(bench::Options),
}

#[derive(ClapArgs, Clone)]
struct GroupbyArgs {
    /// CSV files, or globs such as 'data/*.csv' (quote them so the shell leaves them alone).
    /// A file named twice is read once.
    #[arg(required = true)]
    files: Vec<String>,
    /// The key column, or several, comma-separated: --by id1,id2.
    #[arg(long)]
    by: String,
    /// An aggregation: COLUMN:FUNC[,FUNC...] with count, sum, mean, min, max, var and std
    /// (ddof=1, as pandas), median (exact); or `size`, the rows of the group. Repeat it for
    /// more; the output has a column COLUMN_FUNC for each, in the order given.
    #[arg(long = "agg", value_name = "SPEC")]
    aggs: Vec<String>,
    /// One numeric column, aggregated as pandas' agg(["size","count","sum","mean","min",
    /// "max"]), the columns named so (instead of --agg).
    #[arg(long)]
    value: Option<String>,
    /// Worker threads in each process [default: the number of cores; 1 a process with
    /// --processes or --hostfile].
    #[arg(long, value_parser = cli::up_to::<256>, allow_hyphen_values = true)]
    workers: Option<u64>,
    #[command(flatten)]
    cluster: cluster::Options,
    /// Bytes a partition (Dask's `blocksize`).
    #[arg(long, default_value_t = scan::DEFAULT_BLOCKSIZE, value_parser = cli::positive::<u64>,
          allow_hyphen_values = true)]
    blocksize: u64,
    /// The field separator, as pandas' `sep`: one character, such as ';', or '\t' for tabs.
    #[arg(long, default_value = ",", value_parser = separator, allow_hyphen_values = true)]
    sep: u8,
    /// Give each file whole to one worker, as one partition (ranges are cut at record starts,
    /// so quoted fields that hold newlines split safely without it).
    #[arg(long)]
    no_split: bool,
    /// Skip rows with the wrong number of fields or a value that is not a number, and count them.
    #[arg(long)]
    skip_bad: bool,
    #[command(flatten)]
    python: cli::VsPython,
    /// Not an option of groupby, whose threads are --workers: refused with that hint (a Dask
    /// user types --threads).
    #[arg(long, hide = true, allow_hyphen_values = true)]
    threads: Option<String>,
}

fn main() -> ExitCode {
    cleanup::install();
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
fn groupby(g: &GroupbyArgs) -> ExitCode {
    if g.threads.is_some() {
        cli::usage_error("--threads: groupby takes --workers (threads in each process)");
    }
    g.cluster.check().unwrap_or_else(|e| cli::usage_error(e));
    if g.cluster.is_cluster() {
        g.python.refuse("compares the group-by in one process; drop --processes and --hostfile");
    }
    let from_parent = g.cluster.child.then(cluster::processes::secret_from_parent);
    let from_parent = from_parent.transpose().unwrap_or_else(|e| exit_with(&e));
    let job = Arc::new(job(g));
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
    let ticker = timing::progress::Ticker::counting(
        "reading",
        Arc::clone(&read),
        job.bytes(),
        timing::progress::Unit::Bytes,
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
    report::notes(&job.query, &answer.tally);
    if g.python.enabled {
        report::groupby_vs_python(&job, &answer, &g.python);
    }
    ExitCode::SUCCESS
}

/// The job the options describe: the query and the files checked against each other.
fn job(g: &GroupbyArgs) -> Job {
    let query =
        Query::parse(&g.by, &g.aggs, g.value.as_deref()).unwrap_or_else(|e| cli::usage_error(e));
    let threads = match g.workers {
        Some(n) => usize::try_from(n).expect("at most 256"),
        None if g.cluster.is_cluster() => 1,
        None => timing::machine::cores(),
    };
    // A child of --processes takes its parent's ranges: no pass over the files to cut them.
    let whole_files = g.no_split || g.cluster.ranges_file.is_some();
    let mut job = Job::planned(query, &g.files, threads, (g.sep, g.blocksize, whole_files))
        .unwrap_or_else(|e| cli::usage_error(e.0));
    (job.no_split, job.skip_bad, job.retries) = (g.no_split, g.skip_bad, g.cluster.retries);
    job.connect_timeout = g.cluster.connect_timeout();
    if let Some(path) = &g.cluster.ranges_file {
        job.take_ranges(path).unwrap_or_else(|e| exit_with(&e));
    }
    job
}

/// Ends the program for a cluster error: bad input exit 2, anything else exit 1.
fn exit_with(e: &ClusterError) -> ! {
    match e {
        ClusterError::Usage(why) => cli::usage_error(why),
        ClusterError::System(why) => cli::fail(why),
    }
}

/// `--sep`: one ASCII character (`\t` written as two characters is a tab), not a quote or a
/// line end.
fn separator(text: &str) -> Result<u8, String> {
    let sep = if text == "\\t" { "\t" } else { text };
    match sep.as_bytes() {
        [b'"' | b'\n' | b'\r'] => {
            Err(format!("{text:?} cannot separate fields: it quotes or ends them"))
        }
        [byte] if byte.is_ascii() => Ok(*byte),
        _ => Err(format!("{text:?}: give one character, such as ';' or '\\t' for a tab")),
    }
}

/// Where the files of the default run and of db-benchmark are made once.
fn data_folder(name: &str) -> PathBuf {
    timing::machine::target_dir().join(name)
}

//! Notebook takeaway 4, "loading larger than memory data using Dask in a distributed and
//! parallel setting", which the notebook promises and never shows. Dask's first lesson,
//! `dd.read_csv("data/*.csv").groupby("origin").dep_delay.mean().compute()`, on timely
//! dataflow: the same binary runs as 1 worker, N worker threads, or N processes that exchange
//! data over TCP - the step from Dask's threads to a Dask cluster.
//!
//! Run: `cargo run -p dataflow` (makes about 1 GB of flights-like CSV once, then the lesson's
//! cells below), `cargo run -p dataflow -- groupby 'data/*.csv' --by origin --agg
//! dep_delay:mean`, `cargo run -p dataflow -- db-benchmark` (the group-by questions every
//! data-frame engine is compared on), `cargo run -p dataflow -- generate --rows N --out DIR`.
//!
//! Read in this order: `main` lists the lesson's cells, one function each, below it; the
//! dataflow itself, written out small, is `lesson.rs`; `report` times the rows and says what
//! they show. After the lesson, a module a subcommand: `groupby` (your own files; its command
//! line in `options`), `bench` (db-benchmark), `generate` (the data), and `compare` (the same
//! in pandas, Dask, Polars and DuckDB). The engine - the scan, the groups and their exact
//! aggregates, the dataflow, spilling, processes and machines - is the library beneath,
//! `dataflow/engine` (`cargo doc -p dataflow-engine --open`).

mod bench;
mod compare;
mod generate;
mod groupby;
mod lesson;
mod options;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use dataflow_engine::{Job, cleanup, scan};
use timing::chart::Figure;
use timing::{Stats, cli, say};

use report::Timed;

/// Takeaway 4: a group-by over CSV files of any size, on threads or processes, with timely.
#[derive(Parser)]
#[command(about, long_about = None, mut_args(cli::runs_default::<3>))]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Rows of the generated data set the default run groups (about 55 bytes a row)
    /// [default: 18000000].
    #[arg(long, value_parser = cli::up_to::<1_000_000_000>, allow_hyphen_values = true)]
    size: Option<u64>,
    /// Worker threads (the "N worker threads" row), memory and spill folder, as `groupby` takes
    /// them.
    #[command(flatten)]
    workers: options::Resources,
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
    /// One process of the lesson's small dataflow, started by the default run.
    #[command(hide = true)]
    SmallDataflowProcess(lesson::processes::ProcessArgs),
}

fn main() -> ExitCode {
    cleanup::install();
    cleanup::return_freed_memory();
    let args = cli::parse::<Args>();
    match &args.command {
        None => dasks_first_lesson(&args),
        Some(command) => subcommand(&args, command),
    }
}

/// The default run: Dask's first lesson, cell by cell, on a gigabyte of flights-like CSV.
fn dasks_first_lesson(args: &Args) -> ExitCode {
    let runs = args.timed.runs.or(3);
    let picture =
        timing::chart::Picture::for_svg(&args.timed.svg).unwrap_or_else(|e| cli::usage_error(e));
    let mut figure = Figure::new("dataflow: a group-by over CSV files on timely dataflow");
    let folder = make_the_data(args.size.unwrap_or(18_000_000));
    let job = dasks_line(&folder, &args.workers, runs);
    let small = the_dataflow_written_out_small(&job, runs, &mut figure);
    let engine = the_engine(&job, runs, &mut figure, &small);
    what_the_engine_adds(&job, (&folder, &args.workers), &small, &engine);
    if let Some(counts) = args.threads.listed() {
        figure.curve(&report::sweep_workers(&job, counts, runs, &engine.one.answer));
    }
    if let Some(twin) = compare::twin(&args.timed.python) {
        say!();
        let rows = [&engine.one.stats, &engine.all.stats, &engine.processes];
        let reference = &engine.one.answer;
        compare::with_python(&twin, &job, reference, (runs, job.threads), rows, &mut figure);
    }
    if let Some(picture) = picture {
        figure.save(picture).unwrap_or_else(|e| cli::fail(e));
    }
    ExitCode::SUCCESS
}

/// Cell 1: the data, made once under the target directory: `rows` flights-like rows in 10
/// CSV files, with what real files have (missing values, quoted commas).
fn make_the_data(rows: u64) -> PathBuf {
    report::data_set_once(rows)
}

/// Cell 2: Dask's line, and what each of its words does - the job the rest of the lesson runs.
fn dasks_line(folder: &std::path::Path, workers: &options::Resources, runs: usize) -> Arc<Job> {
    let pattern = format!("{}/*.csv", folder.display());
    let job =
        workers.apply(Job::builder(report::flights_query(), &[pattern]), timing::machine::cores());
    let job = Arc::new(job.build().unwrap_or_else(|e| cli::fail(e)));
    say!("== Dask's first lesson, in Rust ({})", timing::plural(runs, "run"));
    say!("    dd.read_csv(\"data/*.csv\").groupby(\"origin\").dep_delay.agg([...]).compute()");
    cli::paragraph(
        "",
        &format!(
            "read_csv cuts the files into partitions of at most {} MB, here {} of them ({:.0} MB), each a task that reads its rows; groupby().agg() makes each partition's groups, sends each group to the place that owns its key and merges it there; compute() runs the graph on threads or on a cluster's processes and gathers the answer. The same here, first written out small, then by the engine.",
            scan::DEFAULT_BLOCKSIZE / 1_000_000,
            job.plan.ranges.len(),
            job.bytes() as f64 / 1e6
        ),
    );
    job
}

/// The small dataflow's rows, or the engine's: 1 worker, a worker thread a core, processes.
struct Rows {
    one: Timed,
    all: Timed,
    processes: Stats,
}

/// Cell 3: the dataflow itself, written out small (`lesson.rs`): on 1 worker, on a worker
/// thread a core, and on 2 processes; the three answers the same.
fn the_dataflow_written_out_small(job: &Job, runs: usize, figure: &mut Figure) -> Rows {
    say!(
        "== the dataflow written out small (src/lesson.rs): read, pre-aggregate, exchange, merge, gather"
    );
    figure.panel("the small dataflow of the lesson");
    let small =
        lesson::Small { files: job.plan.files.clone(), query: job.query.clone(), sep: job.sep };
    let (one, all) = report::in_process_rows(job, runs, figure, |threads| {
        let answer = lesson::group_by(&small, lesson::Where::Threads(threads));
        let answer = answer.unwrap_or_else(|e| cli::fail(e)).expect("one process: it answers");
        (answer, Default::default(), Default::default())
    });
    // 2 processes, as the engine's row below, whatever the threads.
    let label = "2 processes, timely connecting them";
    let processes = report::time_row(job, (label, report::Runs::Elsewhere), runs, figure, || {
        let answer = lesson::processes::on_processes(&small, 2);
        (answer.unwrap_or_else(|e| cli::fail(e)), Default::default(), Default::default())
    });
    assert_eq!(all.answer, one.answer, "the small dataflow's threads");
    assert_eq!(processes.answer, one.answer, "the small dataflow's processes");
    Rows { one, all, processes: processes.stats }
}

/// Cell 4: the engine beneath (`dataflow-engine`) on the same job: the scan alone, 1 worker, a
/// worker thread a core, 2 processes - their answers the same, and the small dataflow's.
fn the_engine(job: &Arc<Job>, runs: usize, figure: &mut Figure, small: &Rows) -> Rows {
    let mb = job.bytes() as f64 / 1e6;
    say!(
        "== groupby('origin').dep_delay over {mb:.0} MB in {} partitions of at most {} MB, by the engine",
        job.plan.ranges.len(),
        scan::DEFAULT_BLOCKSIZE / 1_000_000,
    );
    figure.panel(format!("groupby('origin').dep_delay over {mb:.0} MB of CSV, the engine"));
    let scan = report::time_the_scan(job, runs, figure);
    let (one, all) = report::in_process_rows(job, runs, figure, |threads| {
        report::engine_on_threads(job, threads)
    });
    let (processes, processes_answer) = report::time_two_processes(job, runs, figure);
    for (label, answer) in [("worker threads", &all.answer), ("2 processes", &processes_answer)] {
        assert_eq!(answer, &one.answer, "{label} gave a different answer");
    }
    assert_eq!(small.one.answer, one.answer, "the small dataflow and the engine");
    say!("the engine's answer is the small dataflow's, to the last digit of every sum and mean");
    say!("identical answers from all three ({} groups):", one.answer.lines().count() - 1);
    for line in one.answer.lines().take(4) {
        say!("    {line}");
    }
    say!("    ...");
    if let Some(scan) = &scan {
        report::why_it_is_fast(scan, &one.stats);
    }
    Rows { one, all, processes }
}

/// Cell 5: what the engine adds to the small dataflow, and why - each named with the module
/// that does it and measured by this run - then how the run maps to Dask.
fn what_the_engine_adds(
    job: &Job,
    (folder, settings): (&std::path::Path, &options::Resources),
    small: &Rows,
    engine: &Rows,
) {
    report::engine_adds(job, (&small.one, &engine.one), (&small.processes, &engine.processes));
    let partitions = job.plan.ranges.len();
    let in_process = [engine.one.stats, engine.all.stats];
    let startup = report::process_startup(folder, settings);
    report::explain(&in_process, &engine.processes, (startup, partitions), job.threads);
    say!("{}", report::memory_sentence(engine.one.peak.max(engine.all.peak), job.bytes()));
}

/// `generate`, `groupby` and `db-benchmark`, each in a module of its own, after the lesson.
fn subcommand(args: &Args, command: &Command) -> ExitCode {
    // The default run's own options, given with a command: refused, not ignored.
    let own = |what: &str| {
        for refused in [
            args.timed.runs.refuse(what),
            args.timed.svg.refuse(what),
            args.threads.refuse(what),
            args.timed.python.refuse("give it after the command's name"),
        ] {
            refused.unwrap_or_else(|e| cli::usage_error(e));
        }
        if args.workers.workers.is_some()
            || args.workers.memory_limit.is_some()
            || args.workers.spill_dir.is_some()
        {
            cli::usage_error(
                "--workers, --memory-limit and --spill-dir: give them after the command's name",
            );
        }
        if args.size.is_some() {
            cli::usage_error(format!("--size: the default run's data set; {what}"));
        }
    };
    match command {
        Command::Generate(options) => {
            own("generate times nothing");
            generate::command(options)
        }
        Command::Groupby(g) => {
            own("groupby runs once, as Dask's compute() does (its threads are --workers)");
            groupby::command(g)
        }
        Command::DbBenchmark(options) => {
            own("give it after db-benchmark (its threads are --workers)");
            bench::command(options)
        }
        Command::SmallDataflowProcess(process) => lesson::processes::process(process),
    }
}

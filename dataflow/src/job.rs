//! One group-by job: the question, the files as planned, and how it runs - built once from the
//! command line, then handed to the dataflow, to the processes `--processes` starts (as the
//! options that make the same job again), and to the comparisons.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use timing::cli;

use crate::cluster;
use crate::flow::{self, Answer, FlowError};
use crate::query::Query;
use crate::scan::{self, Plan, UsageError};
use crate::spill;

/// `groupby`'s options, from which its [`Job`] is made.
#[derive(clap::Args, Clone)]
pub struct Options {
    /// CSV files, or globs such as 'data/*.csv' (quote them so the shell leaves them alone).
    /// A file named twice is read once.
    #[arg(required = true)]
    pub files: Vec<String>,
    /// The key column, or several, comma-separated: --by id1,id2.
    #[arg(long)]
    pub by: String,
    /// An aggregation: COLUMN:FUNC[,FUNC...] with count, sum, mean, min, max, var and std
    /// (ddof=1, as pandas), median (exact); or `size`, the rows of the group. Repeat it for
    /// more; the output has a column COLUMN_FUNC for each, in the order given.
    #[arg(long = "agg", value_name = "SPEC")]
    pub aggs: Vec<String>,
    /// One numeric column, aggregated as pandas' agg(["size","count","sum","mean","min",
    /// "max"]), the columns named so (instead of --agg).
    #[arg(long)]
    pub value: Option<String>,
    /// Worker threads in each process [default: the number of cores; 1 a process with
    /// --processes or --hostfile].
    #[arg(long, value_parser = cli::up_to::<256>, allow_hyphen_values = true)]
    pub workers: Option<u64>,
    #[command(flatten)]
    pub cluster: cluster::Options,
    /// Bytes a partition (Dask's `blocksize`).
    #[arg(long, default_value_t = scan::DEFAULT_BLOCKSIZE, value_parser = cli::positive::<u64>,
          allow_hyphen_values = true)]
    pub blocksize: u64,
    /// The field separator, as pandas' `sep`: one character, such as ';', or '\t' for tabs.
    #[arg(long, default_value = ",", value_parser = separator, allow_hyphen_values = true)]
    pub sep: u8,
    /// Give each file whole to one worker, as one partition (ranges are cut at record starts,
    /// so quoted fields that hold newlines split safely without it).
    #[arg(long)]
    pub no_split: bool,
    /// Skip rows with the wrong number of fields or a value that is not a number, and count them.
    #[arg(long)]
    pub skip_bad: bool,
    /// The memory the whole run may use - every worker thread of every process together -
    /// such as 512MB or 2GiB [default: half the memory available when it starts]. A worker's
    /// groups past its share spill to disk and are merged back a partition at a time.
    #[arg(long, value_parser = spill::parse_size, allow_hyphen_values = true)]
    pub memory_limit: Option<u64>,
    /// Where spill files go, in a folder of the run's own, private and removed when the run
    /// ends [default: the system's temporary folder].
    #[arg(long, value_name = "DIR")]
    pub spill_dir: Option<PathBuf>,
    /// Write the answer as part files in DIR, each the header and its groups in key order, all
    /// of them together the answer: part-WWWWW.csv a worker, or part-WWWWW-PPP.csv a spill
    /// partition of a worker that spilled; nothing gathered into one process; DIR must be new
    /// or empty.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// With --out: replace the part files DIR holds.
    #[arg(long, requires = "out")]
    pub overwrite: bool,
    #[command(flatten)]
    pub python: cli::VsPython,
    /// Not an option of groupby, whose threads are --workers: refused with that hint (a Dask
    /// user types --threads).
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub threads: Option<String>,
}

/// The job the options describe: the query and the files checked against each other.
impl Options {
    pub fn job(&self) -> Job {
        let g = self;
        let query = Query::parse(&g.by, &g.aggs, g.value.as_deref())
            .unwrap_or_else(|e| cli::usage_error(e));
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
            job.take_ranges(path).unwrap_or_else(|e| crate::exit_with(&e));
        }
        if let Some(limit) = g.memory_limit {
            job.budget.limit = limit;
        }
        if let Some(dir) = &g.spill_dir {
            job.budget.dir.clone_from(dir);
        }
        if let Some(out) = &g.out {
            // The processes --processes starts add their parts to the folder their parent made ready.
            if !g.cluster.child {
                crate::spill::prepare_out(out, g.overwrite).unwrap_or_else(|e| cli::usage_error(e));
            }
            job.out = Some(out.clone());
        }
        job
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

/// A group-by job.
#[derive(Clone)]
pub struct Job {
    pub query: Query,
    pub plan: Plan,
    /// Skip rows with a wrong width or a value that is no number (`--skip-bad`).
    pub skip_bad: bool,
    /// The files as the user named them (patterns), for the processes that read them again.
    pub patterns: Vec<String>,
    pub sep: u8,
    pub blocksize: u64,
    pub no_split: bool,
    /// Worker threads in each process.
    pub threads: usize,
    /// How long the processes of a cluster wait for each other.
    pub connect_timeout: Duration,
    /// Runs again on the processes left, this many times, when one is lost.
    pub retries: u64,
    /// The memory the whole run may use, and where what does not fit goes.
    pub budget: crate::spill::Budget,
    /// `--out DIR`: the answer as part files there, instead of on stdout.
    pub out: Option<std::path::PathBuf>,
}

/// `--connect-timeout`'s default.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

impl Job {
    /// The job `query` over the files `patterns` name, on `threads` worker threads a process,
    /// everything else at its default; the files' header checked and the files cut into
    /// ranges (`blocksize` bytes each).
    pub fn new(query: Query, patterns: &[String], threads: usize) -> Result<Job, UsageError> {
        Job::planned(query, patterns, threads, (b',', scan::DEFAULT_BLOCKSIZE, false))
    }

    /// [`Job::new`] with the separator, the block size and whether files are split.
    pub fn planned(
        query: Query,
        patterns: &[String],
        threads: usize,
        (sep, blocksize, no_split): (u8, u64, bool),
    ) -> Result<Job, UsageError> {
        let plan = scan::plan(patterns, &query, sep, blocksize, no_split)?;
        Ok(Job {
            query,
            plan,
            skip_bad: false,
            patterns: patterns.to_vec(),
            sep,
            blocksize,
            no_split,
            threads,
            connect_timeout: CONNECT_TIMEOUT,
            retries: 0,
            budget: crate::spill::Budget {
                limit: crate::spill::Budget::default_limit(),
                dir: std::env::temp_dir(),
            },
            out: None,
        })
    }

    /// Runs the job on this process's threads alone: the answer, or why there is none.
    pub fn run_on_threads(self: &Arc<Job>, threads: usize) -> Result<Answer, FlowError> {
        let read = Arc::default();
        let answer = flow::run(self, cluster::Workers::Threads(threads), &read)?;
        Ok(answer.expect("one process: process 0 is here"))
    }

    /// The options that make this job again in another process of this machine (`groupby`'s,
    /// after its name): the files, the query and how they are read.
    pub fn child_args(&self) -> Vec<String> {
        let mut args = self.patterns.clone();
        args.extend(self.query.to_args());
        args.extend([
            "--sep".to_owned(),
            separator_text(self.sep),
            "--blocksize".to_owned(),
            self.blocksize.to_string(),
            "--workers".to_owned(),
            self.threads.to_string(),
            "--connect-timeout".to_owned(),
            self.connect_timeout.as_secs().to_string(),
        ]);
        args.extend(self.no_split.then(|| "--no-split".to_owned()));
        args.extend(self.skip_bad.then(|| "--skip-bad".to_owned()));
        args.extend(["--memory-limit".to_owned(), self.budget.limit.to_string()]);
        args.push("--spill-dir".to_owned());
        args.push(self.budget.dir.to_string_lossy().into_owned());
        if let Some(out) = &self.out {
            // The parent made the folder ready: each process adds its part files to it.
            args.extend(["--out".to_owned(), out.to_string_lossy().into_owned()]);
        }
        args
    }

    /// What every process of a cluster must agree on, for its job id: two jobs with the same
    /// key on the same ports never mix. (Not the files' paths, which differ from machine to
    /// machine, nor how long each waits for the others.)
    pub fn description(&self, addresses: &[String]) -> String {
        format!(
            "{addresses:?} {:?} sep={} blocksize={} no_split={} skip_bad={} workers={}",
            self.query.to_args(),
            self.sep,
            self.blocksize,
            self.no_split,
            self.skip_bad,
            self.threads
        )
    }

    /// The bytes of the files.
    pub fn bytes(&self) -> u64 {
        self.plan.total_bytes
    }

    /// Reads the ranges another process planned, instead of cutting the files again.
    pub fn take_ranges(&mut self, path: &Path) -> Result<(), cluster::ClusterError> {
        self.plan.ranges = cluster::processes::read_ranges(path, &self.plan)?;
        Ok(())
    }
}

/// `--sep`'s value as the option takes it back.
fn separator_text(sep: u8) -> String {
    if sep == b'\t' { "\\t".to_owned() } else { char::from(sep).to_string() }
}

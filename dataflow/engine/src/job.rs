//! A group-by job: the question, the files as planned, and how it runs. Built once, from plain
//! values, by [`JobBuilder`] - the files' header read and checked against the query, the files
//! cut into ranges - and never changed after: the dataflow, the processes `--processes` starts
//! (as the options that make the same job again) and the comparisons all read the same job.
//!
//! ```no_run
//! use dataflow_engine::{Job, Query};
//! let query = Query::parse("origin", &["dep_delay:mean".to_owned()], None)?;
//! let job = Job::builder(query, &["data/*.csv".to_owned()]).threads(2).build()?;
//! # Ok::<(), dataflow_engine::Error>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::Error;
use crate::query::Query;
use crate::scan::{self, Plan};
use crate::spill::{self, Budget};

/// A group-by job, as [`JobBuilder::build`] made it.
#[derive(Clone, Debug)]
pub struct Job {
    /// The group-by asked for.
    pub query: Query,
    /// The files as planned: their header, the columns read, the ranges the workers share.
    pub plan: Plan,
    /// Skip rows with a wrong width or a value that is no number, and count them.
    pub skip_bad: bool,
    /// The files as the user named them (patterns), for the processes that read them again.
    pub patterns: Vec<String>,
    /// The field separator (`--sep`).
    pub sep: u8,
    /// About how many bytes a range holds (`--blocksize`).
    pub blocksize: u64,
    /// Each file read whole, as one range (`--no-split`).
    pub no_split: bool,
    /// Worker threads in each process.
    pub threads: usize,
    /// How long the processes of a cluster wait for each other.
    pub connect_timeout: Duration,
    /// Runs again on the processes left, this many times, when one is lost.
    pub retries: u64,
    /// The memory the whole run may use, and where what does not fit goes.
    pub budget: Budget,
    /// The answer as part files in this folder, instead of gathered into process 0.
    pub out: Option<PathBuf>,
    /// The groups in key order, as pandas' `groupby(sort=True)`, its default; `false`: in any
    /// order, which saves each worker's sort and the merge of their runs (see
    /// [`Job::in_key_order`]).
    pub sort: bool,
    /// Set by the caller to stop the run: its workers read no further range, and the run
    /// returns [`Error::Interrupted`] (a Python caller's Ctrl-C).
    pub stop: Option<Arc<AtomicBool>>,
}

/// `--connect-timeout`'s default.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How a job is made: the query and the files, then any setting that is not its default.
#[derive(Clone, Debug)]
pub struct JobBuilder {
    query: Query,
    patterns: Vec<String>,
    threads: Option<usize>,
    sep: u8,
    blocksize: u64,
    no_split: bool,
    skip_bad: bool,
    memory_limit: Option<u64>,
    spill_dir: Option<PathBuf>,
    out: Option<(PathBuf, OutFolder)>,
    connect_timeout: Duration,
    retries: u64,
    ranges_file: Option<PathBuf>,
    stop: Option<Arc<AtomicBool>>,
    sort: bool,
}

/// What the builder does with the `--out` folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OutFolder {
    /// Makes it ready: new or empty, or (`overwrite`) its part files removed.
    MakeReady { overwrite: bool },
    /// Takes it as it is: a parent process made it ready, its children add their parts.
    Ready,
}

impl Job {
    /// A job of `query` over the files `patterns` name (paths or globs such as `data/*.csv`),
    /// every setting at its default until the builder says otherwise.
    pub fn builder(query: Query, patterns: &[String]) -> JobBuilder {
        JobBuilder {
            query,
            patterns: patterns.to_vec(),
            threads: None,
            sep: b',',
            blocksize: scan::DEFAULT_BLOCKSIZE,
            no_split: false,
            skip_bad: false,
            memory_limit: None,
            spill_dir: None,
            out: None,
            connect_timeout: CONNECT_TIMEOUT,
            retries: 0,
            ranges_file: None,
            stop: None,
            sort: true,
        }
    }

    /// Whether the caller has asked the run to stop.
    pub fn stopped(&self) -> bool {
        self.stop.as_ref().is_some_and(|stop| stop.load(Ordering::Relaxed))
    }
}

impl JobBuilder {
    /// Worker threads in each process [default: the number of cores].
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads.max(1));
        self
    }

    /// The field separator, as pandas' `sep` [default: `,`].
    pub fn sep(mut self, sep: u8) -> Self {
        self.sep = sep;
        self
    }

    /// Bytes a partition, as Dask's `blocksize` [default: 64 MiB].
    pub fn blocksize(mut self, bytes: u64) -> Self {
        self.blocksize = bytes.max(1);
        self
    }

    /// Each file whole to one worker, as one partition.
    pub fn no_split(mut self, whole: bool) -> Self {
        self.no_split = whole;
        self
    }

    /// Skip rows with a wrong width or a value that is no number, and count them.
    pub fn skip_bad(mut self, skip: bool) -> Self {
        self.skip_bad = skip;
        self
    }

    /// The memory the whole run may use, every worker of every process together [default:
    /// half the memory available now].
    pub fn memory_limit(mut self, bytes: Option<u64>) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// Where spill files go, in a private folder of the run's own [default: the system's
    /// temporary folder].
    pub fn spill_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.spill_dir = dir;
        self
    }

    /// The answer as part files in `dir` (made ready now: new or empty, or with `overwrite`
    /// its part files removed), instead of gathered into process 0.
    pub fn out(mut self, dir: PathBuf, overwrite: bool) -> Self {
        self.out = Some((dir, OutFolder::MakeReady { overwrite }));
        self
    }

    /// [`JobBuilder::out`] into a folder another process made ready (a child of
    /// `--processes` adds its parts to its parent's folder).
    pub fn out_ready(mut self, dir: PathBuf) -> Self {
        self.out = Some((dir, OutFolder::Ready));
        self
    }

    /// How long the processes of a cluster wait for each other [default: 30 s].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Runs again on the processes left, up to this many times, when one is lost.
    pub fn retries(mut self, retries: u64) -> Self {
        self.retries = retries;
        self
    }

    /// Takes the ranges another process planned, from the file it wrote, instead of cutting
    /// the files again (the children of `--processes`).
    pub fn ranges_from(mut self, path: PathBuf) -> Self {
        self.ranges_file = Some(path);
        self
    }

    /// Stops the run once `stop` is set: no range is read after it (see [`Job::stop`]).
    pub fn stop_when(mut self, stop: Arc<AtomicBool>) -> Self {
        self.stop = Some(stop);
        self
    }

    /// The groups in key order [default], or (`false`) in any order, as pandas'
    /// `groupby(sort=False)`: "Get better performance by turning this off" (pandas'
    /// `DataFrame.groupby` documentation). Polars' `group_by` and DuckDB's `GROUP BY` give
    /// their groups in no set order unless asked (`maintain_order=True`, `ORDER BY`).
    // Sources: pandas.pydata.org/docs/reference/api/pandas.DataFrame.groupby.html (`sort`,
    // from pandas/core/shared_docs.py); docs.pola.rs, polars.LazyFrame.group_by
    // (`maintain_order`); duckdb.org/docs/stable/sql/dialect/order_preservation.
    pub fn sort(mut self, sort: bool) -> Self {
        self.sort = sort;
        self
    }

    /// The job: the files' header read and checked against the query, the files cut into
    /// ranges, the `--out` folder made ready. Bad input is [`Error::Usage`].
    pub fn build(self) -> Result<Job, Error> {
        let b = self;
        // A child of --processes takes its parent's ranges: no pass over the files to cut them.
        let whole_files = b.no_split || b.ranges_file.is_some();
        let mut plan = scan::plan(&b.patterns, &b.query, b.sep, b.blocksize, whole_files)?;
        if let Some(path) = &b.ranges_file {
            plan.ranges = scan::read_ranges(path, &plan)?;
        }
        let out = match b.out {
            Some((dir, OutFolder::MakeReady { overwrite })) => {
                spill::prepare_out(&dir, overwrite).map_err(Error::Usage)?;
                Some(dir)
            }
            Some((dir, OutFolder::Ready)) => Some(dir),
            None => None,
        };
        Ok(Job {
            query: b.query,
            plan,
            skip_bad: b.skip_bad,
            patterns: b.patterns,
            sep: b.sep,
            blocksize: b.blocksize,
            no_split: b.no_split,
            threads: b.threads.unwrap_or_else(timing::machine::cores),
            connect_timeout: b.connect_timeout,
            retries: b.retries,
            budget: Budget {
                limit: b.memory_limit.unwrap_or_else(Budget::default_limit),
                dir: b.spill_dir.unwrap_or_else(std::env::temp_dir),
            },
            out,
            stop: b.stop,
            sort: b.sort,
        })
    }
}

impl Job {
    /// The options that make this job again in another process of this machine (`groupby`'s,
    /// after its name): the files, the query and how they are read; its spill files in
    /// `spill_dir`, a folder the parent made for the run.
    pub fn child_args(&self, spill_dir: &Path) -> Vec<String> {
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
        args.extend((!self.sort).then(|| "--no-sort".to_owned()));
        args.extend(["--memory-limit".to_owned(), self.budget.limit.to_string()]);
        args.push("--spill-dir".to_owned());
        args.push(spill_dir.to_string_lossy().into_owned());
        if let Some(out) = &self.out {
            // The parent made the folder ready: each process adds its part files to it.
            args.extend(["--out".to_owned(), out.to_string_lossy().into_owned()]);
        }
        args
    }

    /// Whether a worker sorts its groups: where the job asks for key order, and where runs go
    /// to process 0 from other processes (`peers`, the workers of all processes, outnumber
    /// the `threads` a process runs): process 0 cuts the runs it merges where sampled keys
    /// fall, so they must be sorted - and an answer in key order is an answer in any order.
    /// Part files (`--out`) are each a worker's own: they keep any order asked for.
    pub fn in_key_order(&self, peers: usize, threads: usize) -> bool {
        self.sort || (self.out.is_none() && peers > threads)
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

    /// The same job on `threads` worker threads a process, every other setting its own: a
    /// new job (this one is left as it was built), for the rows that run it otherwise.
    pub fn on_threads(&self, threads: usize) -> Job {
        Job { threads: threads.max(1), ..self.clone() }
    }

    /// The same job on its plan cut exactly ([`crate::scan::Plan::cut_exactly`]).
    pub fn cut_exactly(&self) -> Result<Job, Error> {
        Ok(Job { plan: self.plan.cut_exactly()?, ..self.clone() })
    }

    /// The bytes of the files.
    pub fn bytes(&self) -> u64 {
        self.plan.total_bytes
    }
}

/// `--sep`'s value as the option takes it back: the character, or `\t` for a tab.
pub fn separator_text(sep: u8) -> String {
    if sep == b'\t' { "\\t".to_owned() } else { char::from(sep).to_string() }
}

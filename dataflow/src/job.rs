//! One group-by job: the question, the files as planned, and how it runs - built once from the
//! command line, then handed to the dataflow, to the processes `--processes` starts (as the
//! options that make the same job again), and to the comparisons.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::cluster;
use crate::flow::{self, Answer, FlowError};
use crate::query::Query;
use crate::scan::{self, Plan, UsageError};

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

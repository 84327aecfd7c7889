//! The group-by engine beneath the `dataflow` lesson: pandas'
//! `df.groupby(keys).agg({column: [funcs]})` over CSV files of any size, on timely dataflow,
//! on the threads of one process, on processes of one machine, or on several machines, within
//! a memory budget.
//!
//! ```no_run
//! use std::sync::Arc;
//! use dataflow_engine::{Job, Query};
//! let aggs = ["dep_delay:mean,std".to_owned(), "size".to_owned()];
//! let query = Query::parse("origin", &aggs, None)?;
//! let job = Arc::new(Job::builder(query, &["data/*.csv".to_owned()]).threads(4).build()?);
//! let answer = dataflow_engine::run(&job)?;
//! answer.write(&job.query, &mut std::io::stdout().lock()).expect("stdout");
//! # Ok::<(), dataflow_engine::Error>(())
//! ```
//!
//! The surface: a [`Query`] (keys, aggregates), a [`Job`] built once by [`JobBuilder`], [`run`]
//! and [`run_on`], an [`Answer`] in key order (or in any order, [`JobBuilder::sort`]) that the
//! caller writes where it wants, one [`Error`]. The engine never writes to stdout; it says on
//! stderr only what a run does besides computing (a connection refused, a process lost and the job run again), and it
//! never ends the process, save where a binary installs [`cleanup::install`] (Ctrl-C removes
//! the run's files, then ends it) or [`cluster::end_process_on_lost_peer`].
//!
//! The modules, in layers, each importing only from the layers below it:
//! 1. support: [`error`], [`wire`] (the bytes partial aggregates travel as), [`cleanup`]
//!    (temporary folders removed however the process ends);
//! 2. files and rows: [`query`] (what a group-by asks), [`scan`] (files, ranges, records
//!    found 64 bytes at a time, fields) - rows handed to a [`scan::Rows`] sink;
//! 3. groups and aggregates: [`agg`] (exact sums, variances, medians), [`table`] (groups in
//!    slots, sorted runs), [`partial`] (rows into tables of partial aggregates), [`spill`]
//!    (groups past the budget on disk), [`output`] (sorted runs of keys and numbers, merged
//!    into CSV text or columns on every thread);
//! 4. the job: [`job`] (the question, the files as planned, the settings);
//! 5. the dataflow: [`flow`] (scan, exchange by key hash, finish, gather: one worker's
//!    steps on timely);
//! 6. processes and machines: [`cluster`] (sockets checked by a handshake, `--processes`).
//!
//! (Unit tests may reach up a layer for what they check against.)

/// `merge` for a record of counters that workers report (`Tally`, `Traffic`, `Spilled`): every
/// field summed, as the reports meet. The fields named are the one thing the records differ in.
macro_rules! merged_by_sum {
    ($record:ident: $($field:ident),+) => {
        impl $record {
            /// Adds `other`'s counts into this record, field by field.
            pub fn merge(&mut self, other: &$record) {
                $(self.$field += other.$field;)+
            }
        }
    };
}

pub mod cleanup;
pub mod error;
pub mod wire;

pub mod query;
pub mod scan;

pub mod agg;
pub mod output;
pub mod partial;
pub mod spill;
pub mod table;

pub mod job;

pub mod flow;

pub mod cluster;

#[cfg(any(test, feature = "testdata"))]
pub mod testdata;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

pub use error::Error;
pub use flow::{Answer, Workers};
pub use job::{Job, JobBuilder};
pub use query::Query;

/// Runs `job` on its threads in this process: the answer, in key order unless the job asks
/// for any order, or why there is none.
pub fn run(job: &Arc<Job>) -> Result<Answer, Error> {
    run_on_threads(job, job.threads)
}

/// Runs `job` on `threads` worker threads of this process, whatever its own setting (a run
/// timed on 1 worker, then on several, of the same job).
pub fn run_on_threads(job: &Arc<Job>, threads: usize) -> Result<Answer, Error> {
    run_on(job, Workers::Threads(threads), &Arc::default())
        .map(|answer| answer.expect("one process: process 0 is here"))
}

/// Runs `job` on `workers` - this process's threads, or a cluster's (see
/// [`cluster::Member::join`]) - counting the bytes read into `read` (for a progress line).
/// The answer in process 0; `None` in the others, whose workers sent theirs to it.
pub fn run_on(
    job: &Arc<Job>,
    workers: Workers,
    read: &Arc<AtomicU64>,
) -> Result<Option<Answer>, Error> {
    flow::run(job, workers, read)
}

//! The dataflow, run by every worker of every process, in Dask's steps:
//! 1. **scan**: my byte ranges (partitions), each row into a table of partial aggregates;
//! 2. **exchange**: whenever that table has grown past a few megabytes, and at the end, its
//!    groups go in batches to the workers that own their keys (by the key's hash), which merge
//!    them into the groups they own - each key ends up in one place, so no group is merged
//!    twice and no worker holds every group;
//! 3. **finish**: each worker sorts its own groups and prints them as CSV lines, in parallel;
//!    the sorted runs meet in process 0, which merges them into one answer in key order -
//!    `compute()`.
//!
//! (Dask's default group-by aggregation instead reduces partial aggregates in a tree into one
//! partition, `split_out=1`: fine for a few groups, a bottleneck for millions. Its hash
//! shuffle comes with `split_out>1` or `shuffle_method`; the exchange here is that shuffle,
//! always.)

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use timely::dataflow::operators::{Exchange, Input, Inspect, Probe};
use timely::worker::Worker;

use crate::cluster;
use crate::job::Job;
use crate::query::Query;
use crate::scan::{self, Aggregator, RowError, Tally};
use crate::table::{self, Run, Shape, Table};

/// The answer, in process 0: every worker's sorted run, and what was left out.
pub struct Answer {
    pub runs: Vec<Run>,
    pub tally: Tally,
    pub traffic: Traffic,
}

impl Answer {
    /// The groups in all.
    pub fn groups(&self) -> usize {
        self.runs.iter().map(Run::len).sum()
    }

    /// The CSV: the header, then every group in key order.
    pub fn write(&self, query: &Query, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let mut header = Vec::new();
        for (i, name) in query.header().iter().enumerate() {
            if i > 0 {
                header.push(b',');
            }
            table::csv_field(name.as_bytes(), &mut header);
        }
        header.push(b'\n');
        out.write_all(&header)?;
        table::merge_runs(&self.runs, out)?;
        Ok(())
    }
}

/// What crossed between workers: partial aggregates exchanged by key, the batches they went
/// in, and how often a worker's table of partial aggregates was emptied before its ranges
/// were done.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Traffic {
    pub bytes: u64,
    pub batches: u64,
    pub early_flushes: u64,
}

impl Traffic {
    fn merge(&mut self, other: &Traffic) {
        self.bytes += other.bytes;
        self.batches += other.batches;
        self.early_flushes += other.early_flushes;
    }
}

/// Why a run ended without an answer.
#[derive(Debug)]
pub enum FlowError {
    /// A row that cannot be read, or a file that failed mid-way.
    Row(RowError),
    /// timely could not start, or a worker failed.
    Workers(String),
}

impl std::fmt::Display for FlowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlowError::Row(e) => write!(f, "{}", e.0),
            FlowError::Workers(e) => write!(f, "{e}"),
        }
    }
}

/// How large a worker's table of partial aggregates grows before its groups go to their
/// owners: large enough that a few groups (three airports) are sent once, at the end; small
/// enough that millions of groups never sit in two places at once.
const PARTIAL_LIMIT: usize = 64 << 20;

/// What travels to process 0 at the end from the workers of other processes.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
enum Gathered {
    /// Part `seq` of worker `from`'s sorted run, encoded.
    Lines {
        from: u64,
        seq: u64,
        bytes: Vec<u8>,
    },
    Done {
        tally: Tally,
        traffic: Traffic,
        failure: Option<RowError>,
    },
}

/// What one worker of process 0 hands back when the dataflow ends.
struct Finished {
    run: Run,
    tally: Tally,
    traffic: Traffic,
    failure: Option<RowError>,
    /// Worker 0's: what the other processes' workers sent.
    gathered: Vec<Gathered>,
}

/// Runs `job` on `workers`; in process 0, the answer (`None` in the other processes, whose
/// workers sent theirs to it). `read` counts the bytes read, for a progress line.
pub fn run(
    job: &Arc<Job>,
    workers: cluster::Workers,
    read: &Arc<AtomicU64>,
) -> Result<Option<Answer>, FlowError> {
    let threads = workers.threads();
    let (allocators, network) = cluster::allocators(workers).map_err(FlowError::Workers)?;
    let config = timely::WorkerConfig::default();
    let (job, read) = (Arc::clone(job), Arc::clone(read));
    let guards = timely::execute::execute_from(allocators, network, config, move |worker| {
        one_worker(worker, &job, threads, &read)
    })
    .map_err(|e| FlowError::Workers(format!("timely could not start: {e}")))?;
    let mut finished = Vec::new();
    for result in guards.join() {
        match result {
            Ok(Some(done)) => finished.push(done),
            Ok(None) => {}
            Err(e) => return Err(FlowError::Workers(format!("a worker failed: {e}"))),
        }
    }
    if finished.is_empty() {
        return Ok(None); // not process 0: its workers sent their runs
    }
    answer(finished).map(Some)
}

/// The dataflow on one worker. Returns what process 0's workers hand back; `None` elsewhere.
fn one_worker(
    worker: &mut Worker,
    job: &Job,
    threads: usize,
    read: &AtomicU64,
) -> Option<Finished> {
    let (me, peers) = (worker.index(), worker.peers());
    let shape = Shape::of(&job.query);
    let owned = Rc::new(RefCell::new(Table::new(&shape)));
    let gathered: Rc<RefCell<Vec<Gathered>>> = Rc::default();
    // Both dataflows are built first, in the same order on every worker, as timely asks.
    let (mut batches, exchanged) = worker.dataflow::<u64, _, _>(|scope| {
        let (input, stream) = scope.new_input::<Vec<(u64, Vec<u8>)>>();
        let sink = Rc::clone(&owned);
        let probe = stream
            .exchange(|(owner, _): &(u64, Vec<u8>)| *owner)
            .inspect(move |(_, batch): &(u64, Vec<u8>)| sink.borrow_mut().absorb(batch))
            .probe()
            .0;
        (input, probe)
    });
    let (mut gather, gathered_all) = worker.dataflow::<u64, _, _>(|scope| {
        let (input, stream) = scope.new_input::<Vec<Gathered>>();
        let sink = Rc::clone(&gathered);
        let probe = stream
            .exchange(|_: &Gathered| 0)
            .inspect(move |g: &Gathered| sink.borrow_mut().push(g.clone()))
            .probe()
            .0;
        (input, probe)
    });

    // 1 and 2: scan my ranges; the partial aggregates go to their owners as the table fills.
    let mut traffic = Traffic::default();
    let mut failure = None;
    let tally = {
        let flush = |table: &mut Table| {
            let mut out = vec![Vec::new(); peers];
            table.drain_into(&mut out, |hash| table::owner(hash, peers));
            for (owner, batch) in out.into_iter().enumerate() {
                if !batch.is_empty() {
                    traffic.bytes += batch.len() as u64;
                    traffic.batches += 1;
                    batches.send((owner as u64, batch));
                }
            }
            // A new epoch: timely's exchange ships what it holds for each worker when the epoch
            // closes (it would otherwise keep up to a few hundred batches a worker, waiting to
            // fill a container of them).
            let next = *batches.time() + 1;
            batches.advance_to(next);
            traffic.early_flushes += 1;
            worker.step(); // merge what others sent meanwhile, as it comes
        };
        let mut rows = Aggregator::new(Table::new(&shape), PARTIAL_LIMIT, flush);
        for &i in &scan::assign(&job.plan.ranges, peers)[me] {
            let range = job.plan.ranges[i];
            if let Err(e) = scan::read_range(&job.plan, range, job.skip_bad, &mut rows, read) {
                failure = Some(e);
                break;
            }
        }
        rows.finish()
    };
    traffic.early_flushes = traffic.early_flushes.saturating_sub(1); // the last one is not early
    drop(batches); // no more input: the exchange completes once every worker's is merged
    while !exchanged.done() {
        worker.step();
    }

    // 3: my groups, sorted and printed, to process 0.
    let table = std::mem::replace(&mut *owned.borrow_mut(), Table::new(&shape));
    let run = table.into_run(&job.query);
    let in_process_zero = me < threads;
    if !in_process_zero {
        for (seq, part) in run.encode().chunks(1 << 20).enumerate() {
            let bytes = part.to_vec();
            gather.send(Gathered::Lines { from: me as u64, seq: seq as u64, bytes });
        }
        gather.send(Gathered::Done { tally, traffic, failure: failure.clone() });
    }
    drop(gather);
    while !gathered_all.done() {
        worker.step();
    }
    in_process_zero.then(|| Finished { run, tally, traffic, failure, gathered: gathered.take() })
}

/// Process 0's workers' results and what the others sent, as one answer (or the first failure).
fn answer(finished: Vec<Finished>) -> Result<Answer, FlowError> {
    let mut answer =
        Answer { runs: Vec::new(), tally: Tally::default(), traffic: Traffic::default() };
    let mut remote: Vec<(u64, u64, Vec<u8>)> = Vec::new();
    for done in finished {
        if let Some(e) = done.failure {
            return Err(FlowError::Row(e));
        }
        answer.tally.merge(&done.tally);
        answer.traffic.merge(&done.traffic);
        answer.runs.push(done.run);
        for item in done.gathered {
            match item {
                Gathered::Lines { from, seq, bytes } => remote.push((from, seq, bytes)),
                Gathered::Done { failure: Some(e), .. } => return Err(FlowError::Row(e)),
                Gathered::Done { tally, traffic, failure: None } => {
                    answer.tally.merge(&tally);
                    answer.traffic.merge(&traffic);
                }
            }
        }
    }
    // Each remote worker's run: its parts joined in order, then read back.
    remote.sort_by_key(|&(from, seq, _)| (from, seq));
    let mut joined: Vec<(u64, Vec<u8>)> = Vec::new();
    for (from, _, bytes) in remote {
        match joined.last_mut() {
            Some((f, all)) if *f == from => all.extend_from_slice(&bytes),
            _ => joined.push((from, bytes)),
        }
    }
    for (_, bytes) in joined {
        let mut run = Run::default();
        run.extend_from(&bytes);
        answer.runs.push(run);
    }
    Ok(answer)
}

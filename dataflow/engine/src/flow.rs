//! The dataflow, run by every worker of every process, in Dask's steps:
//! 1. **scan**: my byte ranges (partitions), each row into a table of partial aggregates;
//! 2. **exchange**: whenever that table holds its limit (an eighth of the worker's share of the
//!    memory budget, at most 64 MiB), and at the end, its groups go in batches to the workers
//!    that own their keys (by the key's hash), which merge them into the groups they own - each
//!    key ends up in one place, so no group is merged twice and no worker holds every group.
//!    A worker whose groups outgrow its share of the memory budget spills them to disk
//!    (`spill`);
//! 3. **finish**: each worker sorts its own groups and formats them as CSV lines, in parallel -
//!    into part files of its own (`--out`), or as sorted runs that meet in process 0, which
//!    merges them into one answer in key order: `compute()`. (Asked for any order, as pandas'
//!    `groupby(sort=False)`, the workers of one process skip the sort, and their runs are
//!    taken as they are.)
//!
//! (Dask, since its DataFrame is dask-expr (2024.3), leaves `split_out=None` and lets its
//! optimizer choose: ceil(partitions/15) output partitions for one key, ceil(partitions /
//! (10/(keys-1))) for several (`_adjust_split_out_for_group_keys`,
//! dask/dataframe/dask_expr/_groupby.py, 2026.8). One output partition is a tree reduction
//! into one place, fine for a few groups; more are a hash shuffle. The exchange here is that
//! shuffle, always, into as many places as there are workers.)

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use timely::communication::Hooks;
use timely::communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
use timely::communication::allocator::{AllocatorBuilder, ProcessBuilder};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::InputHandle;
use timely::dataflow::ProbeHandle;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{Exchange, Input, Inspect, Probe};
use timely::worker::Worker;

use crate::Error;
use crate::cleanup::TempDir;
use crate::job::Job;
use crate::output::{self, Columns, Run, RunFile, Source};
use crate::partial::Aggregator;
use crate::query::Query;
use crate::scan::{self, Tally};
use crate::spill::{self, Spill, Spilled};
use crate::table::{self, Shape, Table, Waiting};

/// The answer, in process 0: every worker's runs (none with `--out`, whose part files hold
/// them), what was left out, what crossed between workers and what was spilled.
pub struct Answer {
    /// The runs, sorted unless the job asked for any order: [`Answer::write`] merges them in
    /// key order, or takes them as they are.
    pub sources: Vec<Source>,
    /// Rows left out, by every worker.
    pub tally: Tally,
    /// What crossed between workers, all of them.
    pub traffic: Traffic,
    /// What every worker spilled.
    pub spilled: Spilled,
    /// The groups in all.
    pub groups: u64,
    /// With `--out`: the part files written.
    pub parts: Vec<PathBuf>,
    /// Whether the plan's guessed cuts proved wrong (a quoted field held a line end across
    /// one), so that the run was done again on cuts found quote by quote.
    pub cut_again: bool,
    /// Where the time went, phase by phase: the slowest worker's time in each.
    pub profile: Profile,
    /// The threads that merge the runs into the answer's text or columns.
    pub threads: usize,
    /// Whether its runs in memory are in key order, to be merged; else the answer is in any
    /// order ([`Job::sort`]), each run in memory taken as it is.
    in_key_order: bool,
    /// About how many groups each of them merges at a time ([`output::PIECE`]; four times as
    /// many where some runs are files).
    piece: usize,
    /// The folder of this run's spill and run files, removed with the answer.
    _files: Option<Arc<SpillDir>>,
}

/// Where a worker's time went, phase by phase, in the order it runs them (once merged, the
/// slowest worker's time in each phase: what the run waited for). Spilling is timed by
/// [`Spilled`]; writing the answer, by its caller.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Profile {
    /// Reading its ranges: finding records and fields, parsing values, pre-aggregating rows
    /// into tables of partial groups.
    pub scan: Duration,
    /// Draining those tables into batches for the owners of their keys, and merging the
    /// batches that arrive into the groups this worker owns (waiting for the last ones too).
    pub exchange: Duration,
    /// Sorting its groups and formatting them as runs of the answer (with `--out`, written).
    pub sort: Duration,
    /// Its runs sent to process 0, or, in process 0, the other processes' received.
    pub gather: Duration,
}

impl Profile {
    /// Each phase the longer of the two: the workers run their phases side by side.
    pub fn slowest(&mut self, other: &Profile) {
        self.scan = self.scan.max(other.scan);
        self.exchange = self.exchange.max(other.exchange);
        self.sort = self.sort.max(other.sort);
        self.gather = self.gather.max(other.gather);
    }
}

impl Answer {
    /// The answer of sorted runs in memory.
    #[cfg(any(test, feature = "testdata"))]
    pub fn of(runs: Vec<Run>, tally: Tally) -> Answer {
        Answer {
            groups: runs.iter().map(|r| r.len() as u64).sum(),
            sources: runs.into_iter().map(Source::Memory).collect(),
            tally,
            ..Answer::empty(1, None)
        }
    }

    /// No group yet, merged on `threads` threads, its run and spill files in `files`.
    fn empty(threads: usize, files: Option<Arc<SpillDir>>) -> Answer {
        Answer {
            threads,
            piece: output::PIECE,
            sources: Vec::new(),
            tally: Tally::default(),
            traffic: Traffic::default(),
            spilled: Spilled::default(),
            groups: 0,
            parts: Vec::new(),
            cut_again: false,
            profile: Profile::default(),
            in_key_order: true,
            _files: files,
        }
    }

    /// The same answer of runs in any order (unsorted), each taken as it is.
    #[cfg(any(test, feature = "testdata"))]
    pub fn in_any_order(self) -> Answer {
        Answer { in_key_order: false, ..self }
    }

    /// The same answer, merged in pieces of about `piece` groups on `threads` threads.
    #[cfg(any(test, feature = "testdata"))]
    pub fn in_pieces(self, threads: usize, piece: usize) -> Answer {
        Answer { threads, piece, ..self }
    }

    /// Whether the answer is in key order: its job asked for it ([`Job::sort`]), or its
    /// processes gathered it (a merge of sorted runs).
    pub fn in_key_order(&self) -> bool {
        self.in_key_order
    }

    /// The CSV: the header, then every group in key order (or, [`Job::sort`] off, in any
    /// order), formatted on every thread.
    pub fn write(&self, query: &Query, out: &mut impl Write) -> std::io::Result<()> {
        output::write_header(query, out)?;
        self.fill_pieces(
            || Vec::with_capacity(self.piece * 64),
            |text, key, record| output::write_line(key, record, query, text),
            |text| {
                out.write_all(text)?;
                text.clear();
                Ok(())
            },
        )
    }

    /// The answer as columns in key order (or, [`Job::sort`] off, in any order), built on
    /// every thread: one [`Columns`] a piece, in order - kept as they come, not appended into
    /// one (a copy of the whole answer on one thread). Arrow takes them so, as a table's
    /// record batches. At least one, empty when there is no group.
    pub fn columns(&self, query: &Query) -> std::io::Result<Vec<Columns>> {
        let mut pieces = Vec::new();
        self.fill_pieces(
            || (Columns::new(query), Vec::new()),
            |(columns, scratch), key, record| columns.push(key, record, scratch),
            |(columns, _)| {
                // The lane fills a new one, with room for as much as this one came to hold.
                let key_bytes: Vec<usize> = columns.keys.iter().map(|k| k.bytes.len()).collect();
                let next = Columns::with_room(query, columns.len(), &key_bytes);
                pieces.push(std::mem::replace(columns, next));
                Ok(())
            },
        )?;
        if pieces.is_empty() {
            pieces.push(Columns::new(query));
        }
        Ok(pieces)
    }

    /// Every group to a sink (`new` makes one, `fill` adds a group), each sink to `take` when
    /// full: the runs merged in key order, or, where they are in any order, each run in
    /// memory taken as it is (no merge), then the spilled ones merged.
    fn fill_pieces<S: Send>(
        &self,
        new: impl Fn() -> S,
        fill: impl Fn(&mut S, &[u8], &[u8]) + Sync,
        take: impl FnMut(&mut S) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let sources: Vec<&Source> = self.sources.iter().collect();
        let lanes = (self.threads, self.piece);
        if self.in_key_order {
            output::merge_in_pieces(&sources, lanes, new, fill, take)
        } else {
            output::in_any_order(&sources, lanes, new, fill, take)
        }
    }
}

/// What crossed between workers: partial aggregates exchanged by key, the batches they went
/// in, and how often a worker's table of partial aggregates was emptied before its ranges
/// were done.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Traffic {
    /// Bytes of encoded partial aggregates sent, a worker's batches to itself included.
    pub bytes: u64,
    /// Batches sent: one to each owner a flush has groups for, for each table partition once
    /// the scan's tables are partitioned.
    pub batches: u64,
    /// Flushes before a worker's ranges were all read (its last one, at their end, not counted).
    pub early_flushes: u64,
}

merged_by_sum!(Traffic: bytes, batches, early_flushes);

/// How large a worker's table of partial aggregates grows before its groups go to their
/// owners: large enough that a few groups (three airports) are sent once, at the end; small
/// enough that millions of groups never sit in two places at once. Less where the memory
/// budget is small: an eighth of a worker's share.
const PARTIAL_LIMIT: u64 = 64 << 20;

/// This process's spill folder, made when a worker first needs it (a run that never spills
/// makes none, and an unwritable `--spill-dir` only matters when spilling).
pub struct SpillDir {
    parent: PathBuf,
    dir: OnceLock<Result<TempDir, String>>,
}

impl SpillDir {
    fn get(&self) -> Result<&Path, String> {
        let made = self.dir.get_or_init(|| {
            TempDir::new_in(&self.parent, "hpc-rs-spill-").map_err(|e| {
                format!(
                    "--spill-dir {}: cannot make a folder for spill files there: {e}",
                    self.parent.display()
                )
            })
        });
        made.as_ref().map(TempDir::path).map_err(String::clone)
    }
}

/// Where a job's workers live.
pub enum Workers {
    /// Threads of this process only.
    Threads(usize),
    /// `threads` threads here, and the other processes behind `sockets` (one for each other
    /// process, in index order; `None` at our own index), connected and checked already.
    Cluster {
        /// A socket to each other process, checked by the handshake; `None` at index `me`.
        sockets: Vec<Option<TcpStream>>,
        /// This process's index in the cluster.
        me: usize,
        /// Worker threads here, as many as in every other process.
        threads: usize,
    },
}

impl Workers {
    /// Worker threads in each process.
    pub fn threads(&self) -> usize {
        match self {
            Workers::Threads(threads) | Workers::Cluster { threads, .. } => *threads,
        }
    }
}

/// timely's allocators for `workers`, and what must live as long as they do (the network
/// threads of a cluster): the sockets handed to timely already connected
/// (`initialize_networking_from_sockets`, as Materialize does).
fn allocators(workers: Workers) -> Result<(Vec<AllocatorBuilder>, Box<dyn Any + Send>), Error> {
    let (sockets, me, threads) = match workers {
        Workers::Threads(threads) => {
            return timely::CommunicationConfig::Process(threads)
                .try_build()
                .map_err(|e| Error::Workers(format!("timely could not start: {e}")));
        }
        Workers::Cluster { sockets, me, threads } => (sockets, me, threads),
    };
    let hooks = Hooks::default();
    let local =
        ProcessBuilder::new_typed_vector(threads, hooks.refill.clone(), hooks.spill.clone());
    let (builders, guard) = initialize_networking_from_sockets(local, sockets, me, threads, hooks)
        .map_err(|e| Error::Workers(format!("timely could not start its network threads: {e}")))?;
    Ok((builders.into_iter().map(AllocatorBuilder::Tcp).collect(), Box::new(guard)))
}

/// What travels to process 0 at the end from the workers of other processes.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
enum Gathered {
    /// Part `seq` of sorted run `run` of worker `from`, as records.
    Lines { from: u64, run: u64, seq: u64, bytes: Vec<u8> },
    Done {
        tally: Tally,
        traffic: Traffic,
        spilled: Spilled,
        groups: u64,
        parts: Vec<PathBuf>,
        failure: Option<String>,
        row: bool,
        profile: Profile,
    },
}

/// What one worker of process 0 hands back when the dataflow ends.
struct Finished {
    sources: Vec<Source>,
    /// Whether its runs in memory are sorted ([`Job::in_key_order`]); spilled ones always are.
    in_key_order: bool,
    done: Done,
    /// Worker 0's: the other processes' runs, written to files as they came, and their
    /// reports.
    remote_runs: Vec<RunFile>,
    remote_done: Vec<Done>,
}

/// One worker's report.
#[derive(Default)]
struct Done {
    tally: Tally,
    traffic: Traffic,
    spilled: Spilled,
    groups: u64,
    parts: Vec<PathBuf>,
    failure: Option<Error>,
    profile: Profile,
}

/// Runs `job` on `workers`; in process 0, the answer (`None` in the other processes, whose
/// workers sent theirs to it). `read` counts the bytes read, for a progress line.
pub fn run(
    job: &Arc<Job>,
    workers: Workers,
    read: &Arc<AtomicU64>,
) -> Result<Option<Answer>, Error> {
    let threads = match workers {
        Workers::Threads(threads) => threads,
        // Each process of a cluster sees only its own ranges, so none could tell the others
        // that a guessed cut was wrong: a cluster reads the plan cut exactly.
        Workers::Cluster { .. } => {
            let exact = Arc::new(job.cut_exactly()?);
            return run_planned(&exact, workers, read, &Arc::default());
        }
    };
    // A guessed cut that proved wrong (a quoted field holding a line feed across it): the
    // run is thrown away before any answer is written, and done again on exact cuts.
    let misplanned = Arc::new(AtomicBool::new(false));
    let answer = run_planned(job, workers, read, &misplanned);
    if !misplanned.load(Ordering::SeqCst) {
        return answer;
    }
    drop(answer); // and the spill files it kept
    if job.stopped() {
        // Stopped after the guess proved wrong: no answer was made, and none is made now.
        return Err(Error::Interrupted("the group-by was interrupted".to_owned()));
    }
    read.store(0, Ordering::Relaxed);
    let exact = Arc::new(job.cut_exactly()?);
    let again = run_planned(&exact, Workers::Threads(threads), read, &Arc::default())?;
    Ok(again.map(|answer| Answer { cut_again: true, ..answer }))
}

/// [`run`] on `job`'s plan as it is; `misplanned` is set when a guessed cut proves wrong.
fn run_planned(
    job: &Arc<Job>,
    workers: Workers,
    read: &Arc<AtomicU64>,
    misplanned: &Arc<AtomicBool>,
) -> Result<Option<Answer>, Error> {
    let threads = workers.threads();
    let (allocators, network) = allocators(workers)?;
    let config = timely::WorkerConfig::default();
    let files = Arc::new(SpillDir { parent: job.budget.dir.clone(), dir: OnceLock::new() });
    let (job, read, shared) = (Arc::clone(job), Arc::clone(read), Arc::clone(&files));
    let misplanned = Arc::clone(misplanned);
    let guards = timely::execute::execute_from(allocators, network, config, move |worker| {
        one_worker(worker, &job, threads, (&read, &misplanned), &shared)
    })
    .map_err(|e| Error::Workers(format!("timely could not start: {e}")))?;
    let mut finished = Vec::new();
    for result in guards.join() {
        match result {
            Ok(Some(done)) => finished.push(done),
            Ok(None) => {}
            Err(e) => return Err(Error::Workers(format!("a worker failed: {e}"))),
        }
    }
    if finished.is_empty() {
        return Ok(None); // not process 0: its workers sent their runs
    }
    answer(finished, files, threads).map(Some)
}

/// The groups a worker owns, up to its share of the budget in memory, the rest in its spill
/// files; and the first spill failure, after which what arrives is dropped (the run fails).
///
/// One table while they are few; past [`table::PARTITION_AT`], a table for each partition of
/// the hash, as the scan's tables, each sorted on its own at the end. From then on a batch's
/// groups are not merged as they come but kept by partition, as they are, and each
/// partition's merged into its table at the end, one partition after another, right before
/// that table is sorted: a partition's table then stays in cache from its first group to its
/// last (merged as batches arrive, every group met its table's memory cold - with millions of
/// groups, a group is met little more than once), and is made as large as it must be at once.
/// When memory is short, the pending groups are merged early if that makes room, else they
/// spill as they came, with the tables.
struct Owned {
    shape: Shape,
    tables: Vec<Table>,
    /// Each partition's groups not merged yet; none while there is one table.
    pending: Vec<Waiting>,
    limit: u64,
    /// Whether pending groups are merged early when memory is short: true until the first
    /// time that did not bring memory under the limit, false from then on.
    merging_makes_room: bool,
    spill: Spill,
    failure: Option<String>,
}

impl Owned {
    fn new(shape: &Shape, limit: u64, me: usize) -> Owned {
        Owned {
            shape: shape.clone(),
            tables: vec![Table::new(shape)],
            pending: Vec::new(),
            limit,
            merging_makes_room: true,
            spill: Spill::new(me),
            failure: None,
        }
    }

    fn absorb(&mut self, batch: Batch, files: &SpillDir) {
        if self.failure.is_some() {
            return;
        }
        // (`pending` is empty, or one a partition of the scan's tables.)
        match (self.pending.is_empty(), batch.partition) {
            (true, _) => table::absorb(&mut self.tables, &batch.bytes),
            // One partition's groups, as a partitioned scan drained them: kept as they came.
            (false, Some(p)) => {
                let groups = usize::try_from(batch.groups).unwrap_or(usize::MAX);
                self.pending[p as usize].push(batch.bytes, groups);
            }
            (false, None) => table::split(&self.shape, &batch.bytes, &mut self.pending),
        }
        if let [one] = &mut self.tables[..]
            && one.len() >= table::PARTITION_AT
        {
            let mut all = vec![Vec::new()];
            one.drain_into(&mut all, |_| 0);
            self.tables = (0..table::PARTITIONS).map(|_| Table::new(&self.shape)).collect();
            self.pending = (0..table::PARTITIONS).map(|_| Waiting::default()).collect();
            table::split(&self.shape, &all[0], &mut self.pending);
        }
        let mut held = self.memory();
        if held > self.limit && self.merging_makes_room {
            // Merged, a key's partials that came in several batches become one group: room
            // made where few groups come many times. Where that is not enough, the groups are
            // mostly new ones, and merging them before they spill is work done twice: from then
            // on they go to disk as they came.
            self.merge_pending();
            held = self.memory();
            self.merging_makes_room = held <= self.limit;
        }
        if held > self.limit {
            let written = files.get().and_then(|dir| {
                self.spill.set_dir(dir);
                self.spill_all()
            });
            if let Err(e) = written {
                self.failure = Some(e);
                self.tables.iter_mut().for_each(Table::clear);
                self.pending.clear();
            }
        }
    }

    /// The bytes held: the tables', and the pending groups' - their bytes, and the slots
    /// they will take once merged, so that merging them never takes the tables far past the
    /// limit before they spill.
    fn memory(&self) -> u64 {
        let slots = self.shape.bytes_a_group();
        let pending: usize = self.pending.iter().map(|w| w.bytes() + w.groups() * slots).sum();
        self.tables.iter().map(Table::memory).sum::<u64>() + pending as u64
    }

    /// Every pending group into its table now, the tables left partitioned.
    fn merge_pending(&mut self) {
        for (table, waiting) in self.tables.iter_mut().zip(&mut self.pending) {
            waiting.merge_into(table);
        }
    }

    /// Every group to the spill files: the pending ones as they came (each partition's bytes
    /// to its file, as they are: no probe, no encoding again), then the tables'.
    fn spill_all(&mut self) -> Result<(), String> {
        self.spill.write_pending(&mut self.pending)?;
        self.spill.write(&mut self.tables)
    }

    /// Each table's run, sorted if `in_key_order`, with its pending groups merged in first
    /// (room made for them at once): one partition after another. A partition whose groups are
    /// all pending (as at K=1) is merged in one table, whose memory serves every such
    /// partition in turn.
    fn runs(&mut self, query: &Query, in_key_order: bool) -> Vec<Run> {
        let mut pending = std::mem::take(&mut self.pending).into_iter();
        let mut spare = Table::new(&self.shape);
        let tables = std::mem::take(&mut self.tables);
        tables
            .into_iter()
            .map(|mut table| {
                let work = if table.is_empty() { &mut spare } else { &mut table };
                if let Some(mut waiting) = pending.next() {
                    work.reserve(waiting.groups());
                    waiting.merge_into(work);
                }
                work.run(query, in_key_order)
            })
            .collect()
    }
}

/// Partial groups on their way to the worker that owns their keys.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Batch {
    owner: u64,
    /// The table partition ([`table::partition`]) of every group in it, as the scan's
    /// partitioned tables drain them; `None` for groups of any partition (a table not
    /// partitioned yet), which the owner sorts out by partition.
    partition: Option<u32>,
    groups: u64,
    /// The groups, as [`Table::drain_into`] encodes them.
    bytes: Vec<u8>,
}

/// The input of partial aggregates.
type Batches = InputHandle<u64, CapacityContainerBuilder<Vec<Batch>>>;
/// The input of what goes to worker 0 of process 0 at the end.
type Gather = InputHandle<u64, CapacityContainerBuilder<Vec<Gathered>>>;

/// The two dataflows of a worker, built first, in the same order on every worker, as timely
/// asks: partial aggregates exchanged by key into the groups this worker owns; and, at the
/// end, what the other processes send to worker 0 of process 0.
struct Exchanges {
    batches: Batches,
    exchanged: ProbeHandle<u64>,
    gather: Gather,
    gathered: ProbeHandle<u64>,
}

impl Exchanges {
    fn build(
        worker: &mut Worker,
        owned: &Rc<RefCell<Owned>>,
        remote: &Rc<RefCell<Remote>>,
        files: &Arc<SpillDir>,
    ) -> Exchanges {
        let (batches, exchanged) = worker.dataflow::<u64, _, _>(|scope| {
            let (input, stream) = scope.new_input::<Vec<Batch>>();
            let (sink, files) = (Rc::clone(owned), Arc::clone(files));
            // Each batch taken, not looked at (`inspect`): the owner keeps it as it came.
            let probe = stream
                .exchange(|batch: &Batch| batch.owner)
                .unary::<CapacityContainerBuilder<Vec<()>>, _, _, _>(Pipeline, "Absorb", |_, _| {
                    move |input, _| {
                        input.for_each_stamp(|_, containers| {
                            for batch in containers.flat_map(|batches| batches.drain(..)) {
                                sink.borrow_mut().absorb(batch, &files);
                            }
                        });
                    }
                })
                .probe()
                .0;
            (input, probe)
        });
        let (gather, gathered) = worker.dataflow::<u64, _, _>(|scope| {
            let (input, stream) = scope.new_input::<Vec<Gathered>>();
            let (sink, files) = (Rc::clone(remote), Arc::clone(files));
            let probe = stream
                .exchange(|_: &Gathered| 0)
                .inspect(move |g: &Gathered| sink.borrow_mut().receive(g, &files))
                .probe()
                .0;
            (input, probe)
        });
        Exchanges { batches, exchanged, gather, gathered }
    }
}

/// The dataflow on one worker, in its three steps. Returns what process 0's workers hand
/// back; `None` elsewhere.
fn one_worker(
    worker: &mut Worker,
    job: &Job,
    threads: usize,
    (read, misplanned): (&AtomicU64, &AtomicBool),
    files: &Arc<SpillDir>,
) -> Option<Finished> {
    let (me, peers) = (worker.index(), worker.peers());
    let in_key_order = job.in_key_order(peers, threads);
    let share = job.budget.share(peers);
    let partial_limit = (share / 8).min(PARTIAL_LIMIT);
    // What the owned groups may hold: the rest of the share, less a third - a vector grows by
    // doubling, and while it moves, the old and the new are both held.
    let owned_limit = (share - partial_limit) / 3 * 2;
    let shape = Shape::of(&job.query);
    let owned = Rc::new(RefCell::new(Owned::new(&shape, owned_limit, me)));
    let remote: Rc<RefCell<Remote>> = Rc::default();
    let Exchanges { batches, exchanged, gather, gathered } =
        Exchanges::build(worker, &owned, &remote, files);

    // 1 and 2: my ranges scanned, their partial aggregates sent to their owners.
    let mut done = Done::default();
    let limit = usize::try_from(partial_limit).unwrap_or(usize::MAX);
    let reading = (limit, read, misplanned, &shape);
    let failure = scan_and_exchange(worker, job, batches, reading, &mut done);
    let waited = Instant::now();
    run_until(worker, &exchanged);
    done.profile.exchange += waited.elapsed();
    // Every worker of this process has read its ranges, or stopped at a guess found wrong:
    // a wrong guess is known by now, and then nothing is written (the run is done again).
    let misplanned = misplanned.load(Ordering::SeqCst);

    // 3: my groups, sorted (unless in any order) and printed: to part files, or to process 0.
    let sorting = Instant::now();
    let mut owned = owned.replace(Owned::new(&shape, 0, me));
    done.failure = failure.or_else(|| owned.failure.take().map(Error::Disk));
    let mut runs = Vec::new();
    if done.failure.is_none() && !misplanned {
        let order = (me, in_key_order);
        match finish(&mut owned, (job, &shape), order, files, |run| runs.push(run)) {
            Ok((parts, groups)) => (done.parts, done.groups) = (parts, groups),
            Err(e) => done.failure = Some(Error::Disk(e)),
        }
    }
    done.spilled = owned.spill.spilled;
    done.profile.sort = sorting.elapsed();
    let gathering = Instant::now();
    let in_process_zero = me < threads;
    let ours = if in_process_zero { None } else { Some(std::mem::take(&mut runs)) };
    send_to_process_zero(gather, ours, &mut done, (me, gathering));
    run_until(worker, &gathered);
    let (remote_runs, remote_done) = remote.take().finish(&mut done);
    done.profile.gather = gathering.elapsed();
    let finished = Finished { sources: runs, in_key_order, done, remote_runs, remote_done };
    in_process_zero.then_some(finished)
}

/// Steps the worker until everything sent into the dataflow `probe` watches has arrived.
fn run_until(worker: &mut Worker, probe: &ProbeHandle<u64>) {
    while !probe.done() {
        worker.step();
    }
}

/// Steps 1 and 2 on one worker: its ranges read into a table of partial aggregates, which
/// goes to the owners of its keys whenever it holds `limit` bytes' worth of groups, and at
/// the end. `batches` is closed when it leaves this function: the exchange then completes
/// once every worker's batches are merged. The tally and traffic go into `done`; a row that
/// cannot be read is returned.
fn scan_and_exchange(
    worker: &mut Worker,
    job: &Job,
    mut batches: Batches,
    (limit, read, misplanned, shape): (usize, &AtomicU64, &AtomicBool, &Shape),
    done: &mut Done,
) -> Option<Error> {
    let (me, peers) = (worker.index(), worker.peers());
    let started = Instant::now();
    let (traffic, exchanging) = (&mut done.traffic, &mut done.profile.exchange);
    // A flush before the last range is read is early: the table filled before the end.
    let ranges_read = std::cell::Cell::new(false);
    let flush = |tables: &mut [Table]| {
        let flushing = Instant::now();
        // A batch for each owner and partition, once the tables are partitioned: the owner
        // keeps each as it is until it merges that partition, with no copy.
        // (The aggregator holds one table, or one a partition.)
        let partitioned = tables.len() == table::PARTITIONS;
        let mut out = vec![Vec::new(); peers];
        let mut groups = vec![0_u64; peers];
        for (p, table) in tables.iter_mut().enumerate() {
            table.drain_into(&mut out, |hash| {
                let owner = table::owner(hash, peers);
                groups[owner] += 1;
                owner
            });
            let partition = partitioned.then(|| u32::try_from(p).expect("128"));
            for (owner, bytes) in out.iter_mut().enumerate() {
                if !bytes.is_empty() {
                    traffic.bytes += bytes.len() as u64;
                    traffic.batches += 1;
                    let groups = std::mem::take(&mut groups[owner]);
                    let bytes = std::mem::take(bytes);
                    batches.send(Batch { owner: owner as u64, partition, groups, bytes });
                }
            }
        }
        // A new epoch: timely's exchange ships what it holds for each worker when the epoch
        // closes (it would otherwise keep up to a few hundred batches a worker, waiting to
        // fill a container of them).
        let next = *batches.time() + 1;
        batches.advance_to(next);
        traffic.early_flushes += u64::from(!ranges_read.get());
        worker.step(); // merge what others sent meanwhile, as it comes
        *exchanging += flushing.elapsed();
    };
    let mut rows = Aggregator::new(Table::with_heads(shape), limit, flush);
    let mut failure = None;
    for &i in &scan::assign(&job.plan.ranges, peers)[me] {
        if misplanned.load(Ordering::Relaxed) {
            break; // the run is done again: what is left to read is read then
        }
        if job.stopped() {
            failure = Some(Error::Interrupted("the group-by was interrupted".to_owned()));
            break;
        }
        let range = job.plan.ranges[i];
        let result = scan::read_range(&job.plan, range, job.skip_bad, &mut rows, read);
        if job.plan.misread(&result) {
            misplanned.store(true, Ordering::SeqCst);
        }
        if let Err(e) = result {
            failure = Some(e);
            break;
        }
    }
    ranges_read.set(true);
    done.tally = rows.finish();
    done.profile.scan = started.elapsed().saturating_sub(done.profile.exchange);
    failure
}

/// A worker of another process: its sorted runs (`None` in process 0, which keeps its own),
/// in parts of 1 MB, and its report, to worker 0 of process 0. `gather` is closed when it
/// leaves this function.
fn send_to_process_zero(
    mut gather: Gather,
    runs: Option<Vec<Source>>,
    done: &mut Done,
    (me, gathering): (usize, Instant),
) {
    let Some(runs) = runs else { return };
    for (index, source) in runs.into_iter().enumerate() {
        let records = match source {
            Source::Memory(run) => {
                let mut records = Vec::new();
                run.write_records(&mut records).expect("writing to memory");
                records
            }
            Source::File(file) => match std::fs::read(&file.path) {
                Ok(records) => records,
                Err(e) => {
                    // A run that cannot be read back is a disk's failure, never an answer short.
                    let path = file.path.display();
                    done.failure.get_or_insert(Error::Disk(format!("{path}: {e}")));
                    continue;
                }
            },
        };
        for (seq, part) in records.chunks(1 << 20).enumerate() {
            let (from, run, seq, bytes) = (me as u64, index as u64, seq as u64, part.to_vec());
            gather.send(Gathered::Lines { from, run, seq, bytes });
        }
    }
    done.profile.gather = gathering.elapsed(); // sent: what travels on is timely's
    gather.send(Gathered::Done {
        tally: done.tally,
        traffic: done.traffic,
        spilled: done.spilled,
        groups: done.groups,
        parts: done.parts.clone(),
        failure: done.failure.as_ref().map(ToString::to_string),
        row: matches!(done.failure, Some(Error::Row(_))),
        profile: done.profile,
    });
}

/// The end of one worker's groups: without a spill, a run a table, sorted if `in_key_order` (in
/// memory, or merged into a part file - one after another, in any order); after one, the rest
/// of the tables spilled too, then each spill partition read back alone, sorted and printed
/// (to a run file, or a part file). `keep` takes each run that is not a part file. Returns the
/// part files written, and the groups.
fn finish(
    owned: &mut Owned,
    (job, shape): (&Job, &Shape),
    (me, in_key_order): (usize, bool),
    files: &SpillDir,
    mut keep: impl FnMut(Source),
) -> Result<(Vec<PathBuf>, u64), String> {
    let (mut parts, mut groups) = (Vec::new(), 0);
    // Sorted runs to where they go: a part file (`--out`), or memory (`spilled`: a run file).
    let mut place = |runs: Vec<Run>, name: &str, spilled: Option<&Path>| -> Result<(), String> {
        groups += runs.iter().map(|run| run.len() as u64).sum::<u64>();
        match (&job.out, spilled) {
            (Some(dir), _) => {
                spill::write_part(&runs, (&job.query, in_key_order), dir, name)?;
                parts.push(dir.join(name));
            }
            (None, Some(dir)) => {
                let path = dir.join(name.replace("part-", "run-").replace(".csv", ".run"));
                let [run] = &runs[..] else { unreachable!("a spill partition is one table") };
                keep(Source::File(spill::write_run(run, &path)?));
            }
            (None, None) => runs.into_iter().for_each(|run| keep(Source::Memory(run))),
        }
        Ok(())
    };
    if !owned.spill.used() {
        let runs = owned.runs(&job.query, in_key_order);
        place(runs, &format!("part-{me:05}.csv"), None)?;
        return Ok((parts, groups));
    }
    owned.spill_all()?;
    let dir = files.get()?.to_owned();
    owned.spill.read_back(
        || Table::new(shape),
        |part, table| {
            let name = format!("part-{me:05}-{part:03}.csv");
            place(vec![table.into_run(&job.query)], &name, Some(&dir))
        },
    )?;
    Ok((parts, groups))
}

/// Worker 0's sink for what the other processes' workers send: each run written to a file of
/// its own as its parts arrive (so process 0 holds none of them), and their reports.
#[derive(Default)]
struct Remote {
    files: HashMap<(u64, u64), (PathBuf, std::io::BufWriter<std::fs::File>)>,
    done: Vec<Done>,
    failure: Option<String>,
}

impl Remote {
    /// The other processes' runs, their files flushed, and their reports; a failure to write
    /// them becomes this worker's (`done`'s), if it has none of its own.
    fn finish(mut self, done: &mut Done) -> (Vec<RunFile>, Vec<Done>) {
        let mut runs = Vec::new();
        for (_, (path, mut file)) in self.files.drain() {
            // Read through once for its marks, where the merge may cut it.
            match file.flush().and_then(|()| RunFile::scan(&path)) {
                Ok(run) => runs.push(run),
                Err(e) => drop(self.failure.get_or_insert(format!("{}: {e}", path.display()))),
            }
        }
        if let Some(e) = self.failure {
            done.failure.get_or_insert(Error::Disk(e));
        }
        (runs, self.done)
    }

    fn receive(&mut self, item: &Gathered, files: &SpillDir) {
        match item {
            Gathered::Lines { from, run, bytes, .. } => {
                if self.failure.is_some() {
                    return;
                }
                let written = self.append(*from, *run, bytes, files);
                if let Err(e) = written {
                    self.failure = Some(e);
                }
            }
            Gathered::Done { tally, traffic, spilled, groups, parts, failure, row, profile } => {
                self.done.push(Done {
                    tally: *tally,
                    traffic: *traffic,
                    spilled: *spilled,
                    groups: *groups,
                    parts: parts.clone(),
                    failure: failure.clone().map(
                        |e| {
                            if *row { Error::Row(e) } else { Error::Disk(e) }
                        },
                    ),
                    profile: *profile,
                });
            }
        }
    }

    fn append(
        &mut self,
        from: u64,
        run: u64,
        bytes: &[u8],
        files: &SpillDir,
    ) -> Result<(), String> {
        let dir = files.get()?;
        let (path, file) = match self.files.entry((from, run)) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let path = dir.join(format!("remote-{from:05}-{run:03}.run"));
                let file =
                    std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                entry.insert((path, std::io::BufWriter::with_capacity(1 << 20, file)))
            }
        };
        file.write_all(bytes).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Process 0's workers' results and what the others sent, as one answer (or the first failure).
fn answer(finished: Vec<Finished>, files: Arc<SpillDir>, threads: usize) -> Result<Answer, Error> {
    let mut answer = Answer::empty(threads, Some(files));
    let mut dones = Vec::new();
    for f in finished {
        answer.in_key_order &= f.in_key_order;
        answer.sources.extend(f.sources);
        answer.sources.extend(f.remote_runs.into_iter().map(Source::File));
        dones.push(f.done);
        dones.extend(f.remote_done);
    }
    // A bad row first: it is the user's to fix, where a disk's failure may follow from it.
    dones.sort_by_key(|d| !matches!(d.failure, Some(Error::Row(_))));
    for done in dones {
        if let Some(e) = done.failure {
            return Err(e);
        }
        answer.tally.merge(&done.tally);
        answer.traffic.merge(&done.traffic);
        answer.spilled.merge(&done.spilled);
        answer.groups += done.groups;
        answer.parts.extend(done.parts);
        answer.profile.slowest(&done.profile);
    }
    Ok(answer)
}

//! Notebook takeaway 4, "loading larger than memory data using Dask in a distributed and
//! parallel setting", which the notebook promises and never shows. Dask's first lesson,
//! `dd.read_csv("data/*.csv").groupby("origin").dep_delay.mean().compute()`, on timely
//! dataflow: the same binary runs as 1 worker, N worker threads, or N processes that exchange
//! data over TCP - the step from Dask's threads to a Dask cluster.
//!
//! Run: `cargo run -p dataflow` (makes about 1 GB of flights-like CSV once, then groups it
//! three ways), `cargo run -p dataflow -- groupby 'data/*.csv' --by origin --value dep_delay`,
//! `cargo run -p dataflow -- generate --rows N --files K --out DIR`.

mod agg;
mod cluster;
mod generate;
mod scan;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agg::Agg;
use clap::{Args as ClapArgs, Parser, Subcommand};
use scan::{Plan, RowError, Tally};
use timely::dataflow::operators::{Exchange, Inspect, Probe, ToStream};
use timing::chart::Figure;
use timing::{cli, human, say};

/// Takeaway 4: a group-by over CSV files of any size, on threads or processes, with timely.
#[derive(Parser)]
#[command(about, long_about = None, after_help = "--runs here: 3 by default, after one warm-up run of the scan (which reads the files into the page cache); groupby and generate run once (groupby --vs-python times one more, warm).")]
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

/// `--connect-timeout`'s default, in seconds.
const CONNECT_TIMEOUT: u64 = 30;

/// The packages the twin imports.
const PACKAGES: &[&str] = &[
    "pandas>=2.0",
    "dask[dataframe]>=2024.1",
    "distributed>=2024.1",
    "polars>=1.0",
    "duckdb>=1.0",
];

#[derive(Subcommand)]
enum Command {
    /// Group CSV rows by a key column and aggregate a numeric column, as pandas'
    /// `df.groupby(by)[value].agg(["size","count","sum","mean","min","max"])`.
    Groupby(Box<GroupbyArgs>),
    /// Write deterministic flights-like CSV files to try it on.
    Generate {
        /// Rows in all.
        #[arg(long, value_parser = cli::up_to::<10_000_000_000>, allow_hyphen_values = true)]
        rows: u64,
        /// Files to spread them over.
        #[arg(long, default_value_t = 1, value_parser = cli::up_to::<1000>, allow_hyphen_values = true)]
        files: u64,
        /// Folder to write them into.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(ClapArgs, Clone)]
struct GroupbyArgs {
    /// CSV files, or globs such as 'data/*.csv' (quote them so the shell leaves them alone).
    #[arg(required = true)]
    files: Vec<String>,
    /// The key column.
    #[arg(long)]
    by: String,
    /// The numeric column to aggregate.
    #[arg(long)]
    value: String,
    /// Worker threads in each process [default: the number of cores; 1 a process with
    /// --processes or --hostfile].
    #[arg(long, value_parser = cli::up_to::<256>, allow_hyphen_values = true)]
    workers: Option<u64>,
    /// Run as this many processes on this machine, exchanging data over loopback TCP.
    #[arg(long, value_parser = cli::up_to::<64>, allow_hyphen_values = true)]
    processes: Option<u64>,
    /// When a process of --processes is lost, run the job again on the ones left, up to this
    /// many times (Dask recomputes a lost worker's results); 0 fails at once.
    #[arg(long, default_value_t = 0, requires = "processes",
          value_parser = cli::whole_number::<u64>, allow_hyphen_values = true)]
    retries: u64,
    /// Several machines: a file of `host:port` lines, one a process, the same on each machine
    /// (timely's `-h`); use with --process and --key-file.
    #[arg(long, requires = "process", conflicts_with = "processes")]
    hostfile: Option<PathBuf>,
    /// This process's line in --hostfile, from 0 (timely's `-p`).
    #[arg(long, requires = "hostfile")]
    process: Option<usize>,
    /// The cluster's key, the same file on every machine, at least 16 bytes (make one with
    /// `head -c 32 /dev/urandom > cluster.key`): peers prove they hold it before any data
    /// moves. Authenticated, not encrypted: use a private network or a tunnel.
    #[arg(long, requires = "hostfile")]
    key_file: Option<PathBuf>,
    /// Seconds to wait for every other process to connect [default: 30].
    #[arg(long, value_parser = cli::up_to::<86400>, allow_hyphen_values = true)]
    connect_timeout: Option<u64>,
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
    /// Set by `--processes` on the processes it starts: they read the key on stdin, and end
    /// when their parent does.
    #[arg(long, hide = true)]
    child: bool,
    /// Set by `--processes`: the ranges its parent planned (file index, start, end a line).
    #[arg(long, hide = true, requires = "child")]
    ranges_file: Option<PathBuf>,
    /// Set by `--processes` on process 0: where to write the answer, kept apart from whatever
    /// else a child prints.
    #[arg(long, hide = true)]
    answer_file: Option<PathBuf>,
    #[command(flatten)]
    python: cli::VsPython,
    /// Not an option of groupby, whose threads are --workers: refused with that hint (a Dask
    /// user types --threads).
    #[arg(long, hide = true, allow_hyphen_values = true)]
    threads: Option<String>,
}

fn main() -> ExitCode {
    let args = cli::parse::<Args>();
    fn twin(python: &cli::VsPython) -> Option<timing::python::Twin<'_>> {
        python.enabled.then_some(timing::python::Twin {
            script: concat!(env!("CARGO_MANIFEST_DIR"), "/python/twin.py"),
            packages: PACKAGES,
            python: python.interpreter.as_deref(),
        })
    }
    match &args.command {
        None => {
            let picture = args.timed.svg.open();
            let sweep = args.threads.listed();
            let mut figure = Figure::new("dataflow: a group-by over CSV files on timely dataflow");
            let runs = args.timed.runs.or(3);
            let twin = twin(&args.timed.python);
            let code = default_run(args.size, runs, sweep, twin.as_ref(), &mut figure);
            if let Some(picture) = picture {
                figure.save(picture);
            }
            code
        }
        Some(Command::Generate { rows, files, out }) => {
            args.timed.runs.refuse("generate times nothing");
            args.timed.svg.refuse("generate times nothing to draw");
            args.threads.refuse("generate writes one file at a time");
            args.timed
                .python
                .refuse("generate only writes files; give it to the default run or to groupby");
            let started = Instant::now();
            let (paths, bytes) = generate_with_progress(*rows, *files, out);
            say!(
                "wrote {}, {rows} rows, {:.1} MB in {} to {}",
                timing::plural(paths.len(), "file"),
                bytes as f64 / 1e6,
                human(started.elapsed()),
                out.display()
            );
            ExitCode::SUCCESS
        }
        Some(Command::Groupby(g)) => {
            args.timed.runs.refuse("groupby runs once, as Dask's compute() does");
            args.timed.svg.refuse("groupby runs once, as Dask's compute() does: nothing to chart");
            args.threads.refuse("groupby takes --workers (threads in each process)");
            if g.threads.is_some() {
                cli::usage_error("--threads: groupby takes --workers (threads in each process)");
            }
            args.timed.python.refuse("give it after groupby: `groupby ... --vs-python`");
            if g.processes.is_some() || g.hostfile.is_some() {
                g.python.refuse(
                    "compares the group-by in one process; drop --processes and --hostfile",
                );
            }
            groupby_command(g, twin(&g.python).as_ref())
        }
    }
}

// ---- groupby ----

/// `dataflow groupby`: plan (bad input: exit 2), then run on threads, on processes this binary
/// starts, or as one process of a cluster; print CSV sorted by key.
fn groupby_command(g: &GroupbyArgs, twin: Option<&timing::python::Twin<'_>>) -> ExitCode {
    let from_parent = g.child.then(cluster::processes::secret_from_parent);
    if g.connect_timeout.is_some() && g.processes.is_none() && g.hostfile.is_none() {
        cli::usage_error("--connect-timeout: only --processes and --hostfile connect processes");
    }
    let member = match (&g.hostfile, g.process) {
        (Some(hostfile), Some(process)) => Some(membership(g, hostfile, process, from_parent)),
        _ => None,
    };
    // A child of --processes takes its parent's ranges: no pass over the files to cut them.
    let whole_files = g.no_split || g.ranges_file.is_some();
    let mut plan = scan::plan(&g.files, &g.by, &g.value, g.sep, g.blocksize, whole_files)
        .unwrap_or_else(|e| cli::usage_error(e.0));
    if let Some(path) = &g.ranges_file {
        plan.ranges = cluster::processes::read_ranges(path, &plan);
    }
    if let Some(n) = g.processes {
        let n = usize::try_from(n).expect("at most 64");
        let output = cluster::processes::Output::PassThrough;
        return cluster::processes::run(g, &plan, n, output).code;
    }
    let workers = match member {
        Some(member) => join(g, member),
        None => cluster::Workers::Threads(workers(g.workers)),
    };
    let plan = Arc::new(plan);
    let outcome = run_groupby(Arc::clone(&plan), workers, g.skip_bad);
    if g.child {
        eprintln!("peak-memory {}", timing::machine::peak_memory().unwrap_or(0));
    }
    match outcome {
        Ok(Some(answer)) => {
            match &g.answer_file {
                Some(path) => {
                    let text = answer_lines(&g.by, &answer).join("\n") + "\n";
                    std::fs::write(path, text)
                        .unwrap_or_else(|e| cli::fail(format!("{}: {e}", path.display())));
                    print_notes(&g.by, &answer.tally);
                }
                None => print_answer(&g.by, &answer),
            }
            if let Some(twin) = twin {
                groupby_vs_python(twin, g, &plan, &answer_lines(&g.by, &answer));
            }
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS, // not process 0: it prints
        Err(e) => {
            eprintln!("error: {}", e.0);
            ExitCode::FAILURE
        }
    }
}

/// `groupby --vs-python`: the run above was the warm-up (it read the files into the page
/// cache); then 1 worker and `--workers` threads, each timed once, warm, stand beside the
/// Python engines on as many threads.
fn groupby_vs_python(
    twin: &timing::python::Twin<'_>,
    g: &GroupbyArgs,
    plan: &Arc<Plan>,
    answer: &[String],
) {
    let threads = workers(g.workers);
    let warm = |threads: usize| {
        let workers = cluster::Workers::Threads(threads);
        let (again, took) =
            timing::time_call(|| run_groupby(Arc::clone(plan), workers, g.skip_bad));
        let again = again.unwrap_or_else(|e| cli::fail(e.0)).expect("one process: worker 0 here");
        assert_eq!(answer_lines(&g.by, &again), answer, "the same answer, warm");
        timing::Stats::from_samples(&[took])
    };
    let (one, all) = (warm(1), warm(threads));
    let all_label = timing::plural(threads, "worker thread");
    say!("(Rust: one warm run each of 1 worker and {all_label} after the one above)");
    let (one_row, all_row) = (("1 worker", &one), (all_label.as_str(), &all));
    // No Rust processes here: the threads stand beside the LocalCluster.
    // groupby draws nothing (it runs once): the comparison's pairs go to a figure not written.
    let mut unseen = Figure::new("");
    vs_python(twin, g, answer, (threads, 1), [one_row, all_row, all_row], &mut unseen);
}

/// One process of a cluster, as the command line describes it: the hostfile's addresses, its
/// own index, the key (from `--key-file`, or from the parent of `--processes`).
struct Membership {
    addresses: Vec<String>,
    me: usize,
    secret: cluster::handshake::Secret,
}

/// Reads and checks the hostfile and the key: bad input, exit 2, before any work.
fn membership(
    g: &GroupbyArgs,
    hostfile: &Path,
    me: usize,
    from_parent: Option<cluster::handshake::Secret>,
) -> Membership {
    let addresses = cluster::read_hostfile(hostfile).unwrap_or_else(|e| cli::usage_error(e));
    if me >= addresses.len() {
        cli::usage_error(format!(
            "--process {me}: the hostfile lists {}",
            timing::plural(addresses.len(), "process")
        ));
    }
    let secret = from_parent.unwrap_or_else(|| read_key(g, &addresses));
    Membership { addresses, me, secret }
}

/// Connects to every other process; from then on a lost peer ends this process with one line.
fn join(g: &GroupbyArgs, Membership { addresses, me, secret }: Membership) -> cluster::Workers {
    let threads = usize::try_from(g.workers.unwrap_or(1)).expect("at most 256");
    let timeout = Duration::from_secs(g.connect_timeout.unwrap_or(CONNECT_TIMEOUT));
    let (sockets, took) =
        cluster::connect(&addresses, me, &secret, timeout).unwrap_or_else(|e| cli::fail(e));
    if g.child {
        eprintln!("connected-in {}", took.as_nanos());
    }
    let lost_code = if g.child { cluster::processes::LOST_PEER } else { 1 };
    cluster::report_lost_peers(addresses, lost_code);
    cluster::Workers::Cluster { sockets, me, threads }
}

/// `--key-file`'s key, and a job id made of everything the processes of one job share: two
/// jobs with the same key on the same ports never mix.
fn read_key(g: &GroupbyArgs, addresses: &[String]) -> cluster::handshake::Secret {
    let Some(path) = &g.key_file else {
        cli::usage_error(
            "--hostfile needs --key-file FILE, the same on every machine (make one with: head -c 32 /dev/urandom > cluster.key)",
        )
    };
    let key = std::fs::read(path)
        .unwrap_or_else(|e| cli::usage_error(format!("--key-file {}: {e}", path.display())));
    if key.len() < cluster::handshake::MIN_KEY {
        cli::usage_error(format!(
            "--key-file {}: {} long, a key needs at least {} (make one with: head -c 32 /dev/urandom > {})",
            path.display(),
            timing::plural(key.len(), "byte"),
            cluster::handshake::MIN_KEY,
            path.display()
        ));
    }
    let job = format!(
        "{addresses:?} by={:?} value={:?} sep={} blocksize={} no_split={} skip_bad={} workers={:?}",
        g.by, g.value, g.sep, g.blocksize, g.no_split, g.skip_bad, g.workers
    );
    cluster::handshake::Secret::from_key_file(key, &job)
}

/// The result, as worker 0 of process 0 gathered it.
struct Answer {
    groups: Vec<(Vec<u8>, Agg)>,
    tally: Tally,
}

/// What travels to worker 0 at the end.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
enum Gathered {
    Group(Vec<u8>, Agg),
    Tally(Tally),
    Failed(RowError),
}

/// The dataflow, on every worker of every process, in Dask's three steps: scan my partitions,
/// shuffle the partial aggregates to the workers that own their keys, gather the merged groups
/// to worker 0, which sorts them - `compute()`.
fn run_groupby(
    plan: Arc<Plan>,
    workers: cluster::Workers,
    skip_bad: bool,
) -> Result<Option<Answer>, RowError> {
    // Bytes read so far by this process's workers, for the status line (drawn only when
    // stderr is a terminal: a process started by --processes has it piped, so draws nothing).
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let progress = timing::progress::Ticker::counting(
        "reading",
        Arc::clone(&done),
        plan.total_bytes,
        timing::progress::Unit::Bytes,
    );
    let (allocators, network) = cluster::allocators(workers);
    let config = timely::WorkerConfig::default();
    let guards = timely::execute::execute_from(allocators, network, config, move |worker| {
        let (groups, tally, failure) = scan(&plan, worker.index(), worker.peers(), skip_bad, &done);
        let owned = shuffle(worker, groups);
        let mut outgoing: Vec<Gathered> =
            owned.into_iter().map(|(key, agg)| Gathered::Group(key, agg)).collect();
        outgoing.push(Gathered::Tally(tally));
        outgoing.extend(failure.map(Gathered::Failed));
        let gathered = gather(worker, outgoing);
        (worker.index() == 0).then_some(gathered)
    })
    .unwrap_or_else(|e| cli::fail(format!("timely could not start: {e}")));
    let joined = guards.join();
    drop(progress);
    let mut gathered = None;
    for result in joined {
        match result {
            Ok(Some(items)) => gathered = Some(items),
            Ok(None) => {}
            Err(e) => cli::fail(format!("a worker failed: {e}")),
        }
    }
    gathered.map(answer).transpose()
}

use timely::worker::Worker;

/// The scan (step 1): my partitions (ranges shared out so that every worker gets about the
/// same bytes) into local aggregates - Dask's per-partition tasks. Stops at the first bad row.
fn scan(
    plan: &Plan,
    me: usize,
    peers: usize,
    skip_bad: bool,
    done: &std::sync::atomic::AtomicU64,
) -> (scan::Groups, Tally, Option<RowError>) {
    let mut groups = scan::Groups::default();
    let mut tally = Tally::default();
    for &i in &scan::assign(&plan.ranges, peers)[me] {
        let range = plan.ranges[i];
        if let Err(e) = scan::read_range(plan, range, skip_bad, &mut groups, &mut tally, done) {
            return (groups, tally, Some(e));
        }
    }
    (groups, tally, None)
}

/// The shuffle (step 2): each partial aggregate goes to the worker its key hashes to, which
/// merges them - Dask's shuffle. Returns the groups this worker owns.
fn shuffle(worker: &mut Worker, groups: scan::Groups) -> scan::Groups {
    let owned: Rc<RefCell<scan::Groups>> = Rc::default();
    let sink = Rc::clone(&owned);
    let partials: Vec<(Vec<u8>, Agg)> = groups.into_iter().collect();
    let probe = worker.dataflow::<u64, _, _>(|scope| {
        partials
            .to_stream(scope)
            .container::<Vec<_>>()
            .exchange(|(key, _): &(Vec<u8>, Agg)| key_hash(key))
            .inspect(move |(key, agg): &(Vec<u8>, Agg)| {
                sink.borrow_mut().entry(key.clone()).or_default().merge(agg);
            })
            .probe()
            .0
    });
    while !probe.done() {
        worker.step();
    }
    owned.take()
}

/// The gather (step 3): every worker's merged groups, tallies and any failure to worker 0
/// (the others get nothing).
fn gather(worker: &mut Worker, outgoing: Vec<Gathered>) -> Vec<Gathered> {
    let collected: Rc<RefCell<Vec<Gathered>>> = Rc::default();
    let sink = Rc::clone(&collected);
    let probe = worker.dataflow::<u64, _, _>(|scope| {
        outgoing
            .to_stream(scope)
            .container::<Vec<_>>()
            .exchange(|_: &Gathered| 0)
            .inspect(move |g: &Gathered| sink.borrow_mut().push(g.clone()))
            .probe()
            .0
    });
    while !probe.done() {
        worker.step();
    }
    collected.take()
}

/// Worker 0's gathered items as the answer, groups sorted by key; or the first failure.
fn answer(items: Vec<Gathered>) -> Result<Answer, RowError> {
    let mut answer = Answer { groups: Vec::new(), tally: Tally::default() };
    for item in items {
        match item {
            Gathered::Group(key, agg) => answer.groups.push((key, agg)),
            Gathered::Tally(tally) => answer.tally.merge(&tally),
            Gathered::Failed(e) => return Err(e),
        }
    }
    answer.groups.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(answer)
}

/// FNV-1a: the same hash in every process (std's `HashMap` hasher is seeded per process).
fn key_hash(key: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut hasher = scan::Fnv::default();
    hasher.write(key);
    hasher.finish()
}

/// The CSV on stdout; what was left out, on stderr.
fn print_answer(by: &str, answer: &Answer) {
    for line in answer_lines(by, answer) {
        say!("{line}");
    }
    print_notes(by, &answer.tally);
}

fn print_notes(by: &str, tally: &Tally) {
    if tally.missing_key > 0 {
        let was = if tally.missing_key == 1 { "was" } else { "were" };
        eprintln!(
            "note: {} had no {by} and {was} left out of the groups (as pandas and Dask do)",
            timing::plural(tally.missing_key, "row")
        );
    }
    if tally.skipped > 0 {
        eprintln!(
            "note: skipped {} with bad fields (--skip-bad)",
            timing::plural(tally.skipped, "row")
        );
    }
}

fn answer_lines(by: &str, answer: &Answer) -> Vec<String> {
    let mut out =
        csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    let header = [by, "size", "count", "sum", "mean", "min", "max"];
    out.write_record(header).expect("writing to memory");
    for (key, agg) in &answer.groups {
        let fields = agg.fields();
        let mut record = csv::ByteRecord::new();
        record.push_field(key);
        for field in &fields {
            record.push_field(field.as_bytes());
        }
        out.write_byte_record(&record).expect("writing to memory");
    }
    let bytes = out.into_inner().expect("writing to memory");
    String::from_utf8_lossy(&bytes).lines().map(str::to_owned).collect()
}

fn workers(asked: Option<u64>) -> usize {
    asked.map_or_else(timing::machine::cores, |n| usize::try_from(n).expect("at most 256"))
}

// ---- the default run ----

/// Makes (once) a data set of `rows` rows under the target directory, then runs the group-by
/// with 1 worker, with every core as a thread, and as 2 processes; checks the three answers are
/// identical, and prints time, throughput and peak memory for each.
fn default_run(
    rows: u64,
    runs: usize,
    sweep: Option<&[usize]>,
    twin: Option<&timing::python::Twin<'_>>,
    figure: &mut Figure,
) -> ExitCode {
    let folder = data_set_once(rows);
    let g = flights_groupby(format!("{}/*.csv", folder.display()));
    let plan = Arc::new(
        scan::plan(&g.files, &g.by, &g.value, g.sep, g.blocksize, false)
            .unwrap_or_else(|e| cli::fail(e.0)),
    );
    let mb = plan.total_bytes as f64 / 1e6;
    let cores = workers(None);
    let runs_each = timing::plural(runs, "run");
    say!(
        "== groupby('origin').dep_delay over {mb:.0} MB in {} partitions of at most {} MB ({runs_each})",
        plan.ranges.len(),
        scan::DEFAULT_BLOCKSIZE / 1_000_000
    );
    figure.panel(format!("groupby('origin').dep_delay over {mb:.0} MB of CSV"));
    let scan = time_the_scan(&plan, runs, mb, figure);
    let one = time_on_threads(&plan, &g.by, 1, runs, true, figure);
    let all = time_on_threads(&plan, &g.by, cores, runs, false, figure);
    let (processes, processes_answer) = time_two_processes(&g, &plan, runs, figure);
    let answers = [
        ("1 worker", &one.answer),
        ("worker threads", &all.answer),
        ("2 processes", &processes_answer),
    ];
    let reference = &one.answer;
    for (label, answer) in answers {
        assert_eq!(answer, reference, "{label} gave a different answer");
    }
    say!("identical answers from all three ({} groups):", reference.lines().count() - 1);
    for line in reference.lines().take(4) {
        say!("    {line}");
    }
    say!("    ...");
    if let Some(scan) = &scan {
        why_it_is_fast(scan, &one.stats);
    }
    let medians = [one.stats, all.stats];
    explain(&medians, &processes, process_startup(&folder), cores);
    if let Some(counts) = sweep {
        figure.curve(&sweep_workers(&plan, &g.by, counts, runs, reference));
    }
    say!("{}", memory_sentence(one.peak.max(all.peak), plan.total_bytes));
    if let Some(twin) = twin {
        say!();
        let rows = [&one.stats, &all.stats, &processes];
        compare_with_python(twin, &g, reference, runs, rows, cores, figure);
    }
    ExitCode::SUCCESS
}

/// The default run's data set, made once under the target directory and reused after.
fn data_set_once(rows: u64) -> PathBuf {
    let folder = timing::machine::target_dir().join(format!("dataflow-data-{rows}"));
    let marker = folder.join("complete");
    if !marker.is_file() {
        say!(
            "== making the data set once: {rows} flights-like rows in 10 files under {}",
            folder.display()
        );
        let started = Instant::now();
        let (_, bytes) = generate_with_progress(rows, 10, &folder);
        std::fs::write(&marker, format!("{rows} rows\n"))
            .unwrap_or_else(|e| cli::fail(format!("{}: {e}", marker.display())));
        say!(
            "   {:.2} GB in {} (reused by later runs; delete the folder to make it again)",
            bytes as f64 / 1e9,
            human(started.elapsed())
        );
    }
    folder
}

/// The scan alone on this thread, after a warm-up run (which also reads the files into the
/// page cache for the rows after it): records and fields found, nothing parsed or grouped.
/// `None` where the files are not plain enough for the fast path.
fn time_the_scan(
    plan: &Arc<Plan>,
    runs: usize,
    mb: f64,
    figure: &mut Figure,
) -> Option<timing::Stats> {
    let (rows, stats) = timing::measure(runs, || {
        scan::scan_only(plan).unwrap_or_else(|e| cli::fail(format!("scanning: {e}")))
    });
    let Some(rows) = rows else {
        say!(
            "the scan alone: not timed (the files have records the fast path leaves to the csv crate)"
        );
        return None;
    };
    say!(
        "{}  {:>6.0} MB/s  ({rows} rows found, nothing parsed or grouped)",
        stats.line("the scan alone, 1 core"),
        mb / stats.median.as_secs_f64()
    );
    figure.bar("the scan alone, 1 core", &stats);
    Some(stats)
}

/// Why 1 worker runs at the speed it does, from the scan's and the job's medians.
fn why_it_is_fast(scan: &timing::Stats, job: &timing::Stats) {
    let share = 100.0 * scan.median.as_secs_f64() / job.median.as_secs_f64();
    say!("Why it is fast: the scan classifies 64 bytes at a time into bit masks of quotes,");
    say!("  separators and line ends ({}),", scan::how_masks_are_made());
    say!("  a prefix XOR of the quote mask tells which bytes lie inside quotes, each field end");
    say!(
        "  costs a store and an add, two of the nine columns are looked at, nothing is allocated."
    );
    say!(
        "  Here it took {share:.0}% of 1 worker's time; the rest is parsing the numbers, finding each"
    );
    say!("  row's group and adding its value exactly.");
}

/// One row of the default run: its timings, its answer as CSV, its peak memory.
struct Timed {
    stats: timing::Stats,
    answer: String,
    peak: u64,
}

/// The group-by on `threads` worker threads of this process, `runs` times (no warm-up: the
/// first run also reads the files into the page cache), printed as one row.
fn time_on_threads(
    plan: &Arc<Plan>,
    by: &str,
    threads: usize,
    runs: usize,
    baseline: bool,
    figure: &mut Figure,
) -> Timed {
    let (mut answer, mut peak, mut samples) = (String::new(), 0, Vec::new());
    for _ in 0..runs {
        timing::machine::reset_peak_memory();
        let (found, took) = timing::time_call(|| {
            run_groupby(Arc::clone(plan), cluster::Workers::Threads(threads), false)
        });
        let found =
            found.unwrap_or_else(|e| cli::fail(e.0)).expect("one process: worker 0 is here");
        peak = peak.max(timing::machine::peak_memory().unwrap_or(0));
        answer = answer_lines(by, &found).join("\n");
        samples.push(took);
    }
    let stats = timing::Stats::from_samples(&samples);
    // The first row, 1 worker, is the baseline; the second has a thread a core (one, too, on
    // one core).
    let line = if baseline {
        figure.baseline("1 worker", &stats);
        stats.baseline_line("1 worker")
    } else {
        let label = timing::plural(threads, "worker thread");
        figure.bar(&label, &stats);
        stats.line(&label)
    };
    let mb = plan.total_bytes as f64 / 1e6;
    say!(
        "{line}  {:>6.0} MB/s  peak memory {:.0} MB",
        mb / stats.median.as_secs_f64(),
        peak as f64 / 1e6
    );
    Timed { stats, answer, peak }
}

/// The group-by on 2 processes over loopback TCP, `runs` times, printed as one row; its
/// timings and its answer.
fn time_two_processes(
    g: &GroupbyArgs,
    plan: &Plan,
    runs: usize,
    figure: &mut Figure,
) -> (timing::Stats, String) {
    let mb = plan.total_bytes as f64 / 1e6;
    let (mut answer, mut peaks, mut samples, mut connecting) =
        (String::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 1..=runs {
        // The processes' own progress bars cannot draw (their stderr is a pipe): say what runs.
        let ticker = timing::progress::Ticker::start(format!("2 processes, run {run} of {runs}"));
        let (run, took) = timing::time_call(|| two_processes(g, plan));
        drop(ticker);
        answer = run.stdout.trim_end().to_owned();
        peaks = run.peaks;
        samples.push(took);
        connecting.push(run.connecting);
    }
    let stats = timing::Stats::from_samples(&samples);
    let peaks: Vec<String> = peaks.iter().map(|p| format!("{:.0} MB", *p as f64 / 1e6)).collect();
    say!(
        "{}  {:>6.0} MB/s  peak memory {} (each process)",
        {
            figure.bar("2 processes, loopback TCP", &stats);
            stats.line("2 processes, loopback TCP")
        },
        mb / stats.median.as_secs_f64(),
        peaks.join(", ")
    );
    say!(
        "    connecting them: {} (median; the handshake included)",
        human(timing::Stats::from_samples(&connecting).median)
    );
    (stats, answer)
}

/// `groupby --processes 2` on `g`'s files as `plan` cut them, its output kept; a failure ends
/// the program.
fn two_processes(g: &GroupbyArgs, plan: &Plan) -> cluster::processes::Run {
    let run = cluster::processes::run(g, plan, 2, cluster::processes::Output::Keep);
    if run.code != ExitCode::SUCCESS {
        cli::fail("the 2-process run failed");
    }
    run
}

/// `--vs-python`: pandas, Dask, Polars and DuckDB on the same files, beside the Rust rows
/// that do the same with as many threads.
fn compare_with_python(
    twin: &timing::python::Twin<'_>,
    g: &GroupbyArgs,
    reference: &str,
    runs: usize,
    [one, all, processes]: [&timing::Stats; 3],
    cores: usize,
    figure: &mut Figure,
) {
    let threads = timing::plural(cores, "worker thread");
    let rows = [("1 worker", one), (threads.as_str(), all), ("2 processes", processes)];
    let answer: Vec<String> = reference.lines().map(str::to_owned).collect();
    let Some(python) = vs_python(twin, g, &answer, (cores, runs.min(2)), rows, figure) else {
        return;
    };
    let ratio = |rust: &timing::Stats, row: usize| rust.speedup_over(&python[row].stats);
    let against = |rust: &timing::Stats, row: usize| ratio(rust, row).sentence("faster", "slower");
    let cores_text = timing::plural(cores, "core");
    say!(
        "1 Rust worker against Dask's threads on all {cores_text}: {}. pandas reads",
        against(one, DASK_THREADS)
    );
    say!("  everything into memory first (its peak above), where the dataflow streams it.");
    say!("Against the engines a Python user picks for a gigabyte of CSV, thread for thread:");
    say!(
        "  Polars' streaming engine: 1 worker {}, {threads} {};",
        against(one, POLARS[0]),
        against(all, POLARS[1])
    );
    let duckdb = [against(one, DUCKDB[0]), against(all, DUCKDB[1])];
    say!("  DuckDB: 1 worker {}, {threads} {}.", duckdb[0], duckdb[1]);
    let rows = [(one, POLARS[0]), (all, POLARS[1]), (one, DUCKDB[0]), (all, DUCKDB[1])];
    let won_every_row = rows.iter().all(|&(rust, row)| {
        let r = ratio(rust, row);
        r.0 > 1.0 && r.1 == timing::Spread::Apart
    });
    if won_every_row {
        say!(
            "  Faster on every row. Both are compiled engines too (Polars is Rust): the gap is in"
        );
        say!("  how each reads and groups the CSV, not in the language.");
    } else {
        say!("  Not faster on every row in this run (the rows above say which); another program");
        say!("  using the cores meanwhile changes such rows. Re-run to compare.");
    }
}

/// `--threads LIST`: the group-by on that many worker threads of one process, each count,
/// against 1 worker measured the same way (after a warm-up, where the rows above are not);
/// every answer the 1 worker's.
fn sweep_workers(
    plan: &Arc<Plan>,
    by: &str,
    counts: &[usize],
    runs: usize,
    answer: &str,
) -> timing::Sweep {
    say!(
        "== the group-by on each number of worker threads, against 1 worker ({})",
        timing::after_warmup(runs)
    );
    let run = |threads| {
        let workers = cluster::Workers::Threads(threads);
        let answer =
            run_groupby(Arc::clone(plan), workers, false).unwrap_or_else(|e| cli::fail(e.0));
        answer_lines(by, &answer.expect("one process: worker 0 is here")).join("\n")
    };
    let (one_answer, one) = timing::measure(runs, || run(1));
    assert_eq!(one_answer, answer, "1 worker, warm");
    say!("{}", one.baseline_line("1 worker, warm"));
    timing::speedup_sweep("worker threads", counts, runs, &one, &answer.to_owned(), run)
}

/// Where the twin's rows are, in its order: pandas, Dask's threads, a Dask LocalCluster, then
/// Polars and DuckDB, each on 1 thread and on all.
const DASK_THREADS: usize = 1;
const POLARS: [usize; 2] = [3, 4];
const DUCKDB: [usize; 2] = [5, 6];

/// The same group-by in pandas, Dask's threads, a Dask LocalCluster, Polars and DuckDB (on 1
/// thread and on `threads`), each in a fresh Python process of its own, checked against
/// `answer` (Rust's CSV), each beside the Rust row with as many workers: `one` (1 worker),
/// `all` (`threads` of them) or `processes` (beside the LocalCluster).
fn vs_python(
    twin: &timing::python::Twin<'_>,
    g: &GroupbyArgs,
    answer: &[String],
    (threads, runs): (usize, usize),
    [one, all, processes]: [(&str, &timing::Stats); 3],
    figure: &mut Figure,
) -> Option<Vec<timing::python::Measured>> {
    let rust = [one, all, processes, one, all, one, all];
    let file = tempfile::Builder::new()
        .prefix("hpc-rs-dataflow-rust-answer-")
        .suffix(".csv")
        .tempfile()
        .unwrap_or_else(|e| cli::fail(format!("a temporary file: {e}")));
    let path = file.path().to_path_buf();
    std::fs::write(&path, answer.join("\n") + "\n")
        .unwrap_or_else(|e| cli::fail(format!("{}: {e}", path.display())));
    say!(
        "== the same in pandas, Dask, Polars and DuckDB (each in a fresh Python process; this takes a while)"
    );
    let mut args = vec![
        threads.to_string(),
        runs.to_string(),
        path.to_string_lossy().into_owned(),
        g.by.clone(),
        g.value.clone(),
        char::from(g.sep).to_string(),
    ];
    args.extend(g.files.iter().cloned());
    let measured = timing::python::compare(twin, &args, &rust, figure)
        .unwrap_or_else(|e| cli::fail(e))
        .map(|report| report.measured);
    drop(file);
    if let Some(measured) = &measured {
        // The twin asserts each answer against Rust's before it reports a time.
        say!(
            "checked: each of the {} Python answers has Rust's groups, sizes, counts, min and max",
            measured.len()
        );
        say!("  exactly, and its sums within 1e-9 relative.");
    }
    measured
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

/// `groupby FILES --by origin --value dep_delay` with every other option at its default.
fn flights_groupby(files: String) -> GroupbyArgs {
    GroupbyArgs {
        files: vec![files],
        by: "origin".into(),
        value: "dep_delay".into(),
        workers: None,
        processes: None,
        retries: 0,
        hostfile: None,
        process: None,
        key_file: None,
        connect_timeout: None,
        ranges_file: None,
        blocksize: scan::DEFAULT_BLOCKSIZE,
        sep: b',',
        no_split: false,
        skip_bad: false,
        child: false,
        answer_file: None,
        python: cli::VsPython { enabled: false, interpreter: None },
        threads: None,
    }
}

/// The peak memory of the in-process runs beside the data they read, from the figures.
fn memory_sentence(peak: u64, data: u64) -> String {
    let (peak_mb, data_mb) = (peak as f64 / 1e6, data as f64 / 1e6);
    if peak == 0 {
        "Peak memory is not readable here (no /proc/self/status).".to_owned()
    } else if peak < data / 4 {
        format!(
            "Peak memory {peak_mb:.0} MB for {data_mb:.0} MB of files ({:.1}% of them): they are streamed in {}\n  buffers and only the groups are kept, not the rows.",
            100.0 * peak as f64 / data.max(1) as f64,
            timing::bytes(scan::CHUNK as u64)
        )
    } else {
        format!(
            "Peak memory {peak_mb:.0} MB for {data_mb:.0} MB of files: at this size the program itself (its\n  buffers, timely's workers) outweighs the data; compare with the default --size, 18000000 rows (1 GB)."
        )
    }
}

/// What 2 processes cost with no data at all: starting them and connecting them.
fn process_startup(folder: &Path) -> Duration {
    let empty = folder.join("header-only.csv.empty");
    std::fs::write(&empty, format!("{}\n", generate::HEADER))
        .unwrap_or_else(|e| cli::fail(format!("{}: {e}", empty.display())));
    let g = flights_groupby(empty.to_string_lossy().into_owned());
    let plan = scan::plan(&g.files, &g.by, &g.value, g.sep, g.blocksize, false)
        .unwrap_or_else(|e| cli::fail(e.0));
    let (_, took) = timing::time_call(|| two_processes(&g, &plan));
    let _ = std::fs::remove_file(&empty);
    took
}

fn explain(
    in_process: &[timing::Stats],
    processes: &timing::Stats,
    startup: Duration,
    cores: usize,
) {
    let threads_gain = in_process[0].median.as_secs_f64() / in_process[1].median.as_secs_f64();
    let process_cost = processes.median.as_secs_f64() / in_process[1].median.as_secs_f64();
    say!("How it maps to Dask: each byte range is a partition and reading it a task; the exchange");
    say!(
        "  by key hash is Dask's shuffle; the gather to worker 0 and the sorted print is compute()."
    );
    if cores > 1 && threads_gain >= 0.8 * cores.min(2) as f64 {
        say!(
            "{cores} threads: {threads_gain:.2}x over 1 worker - the partitions are read in parallel."
        );
    } else if cores > 1 {
        say!(
            "{cores} threads: {threads_gain:.2}x over 1 worker, short of {cores}x: another program may be using"
        );
        say!(
            "  the cores, or reading from disk rather than the page cache sets the pace. Re-run to compare."
        );
    }
    say!(
        "2 processes take {process_cost:.2}x the time of {}. On no data at all they take {}:",
        timing::plural(cores, "thread"),
        human(startup)
    );
    say!(
        "  starting two processes (each loads the binary and plans the files) and connecting them."
    );
    say!("  The rest is the same work, the partials crossing loopback TCP.");
    say!(
        "A lost process: timely stops the whole job, by design, and every survivor says which peer"
    );
    say!(
        "  it lost. Dask computes a lost worker's results again on the others; `groupby --processes"
    );
    say!("  N --retries K` comes close: it runs the job again, whole, on the processes left.");
}

fn generate_with_progress(rows: u64, files: u64, out: &Path) -> (Vec<PathBuf>, u64) {
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let progress = timing::progress::Ticker::counting(
        "writing",
        Arc::clone(&done),
        rows,
        timing::progress::Unit::Items("rows"),
    );
    let result = generate::generate(rows, files, out, |rows_written| {
        done.store(rows_written, std::sync::atomic::Ordering::Relaxed);
    });
    drop(progress);
    result.unwrap_or_else(|e| cli::fail(format!("writing {}: {e}", out.display())))
}

//! The command line of a group-by, declared once: [`Resources`] (threads, memory, spill folder)
//! flattened into `groupby`, `db-benchmark` and the default run; [`GroupBy`], `groupby`'s, turned
//! into the engine's [`Job`] once, by its builder; [`Cluster`], how a `groupby` joins processes
//! or machines. Nothing here computes: the engine does, `main` decides what an error means.

use std::io::{BufRead, Read};
use std::path::PathBuf;
use std::time::Duration;

use dataflow_engine::cluster::handshake::Secret;
use dataflow_engine::cluster::processes;
use dataflow_engine::cluster::{Key, Member};
use dataflow_engine::{Error, Job, Query, job, scan, spill};
use timing::cli;

/// Where a group-by runs, in every command that runs one.
#[derive(clap::Args, Clone, Debug)]
pub struct Resources {
    /// Worker threads in each process [default: the number of cores; 1 a process with
    /// --processes or --hostfile].
    #[arg(long, value_parser = cli::up_to::<256>, allow_hyphen_values = true)]
    pub workers: Option<u64>,
    /// The memory the whole run may use - every worker thread of every process together -
    /// such as 512MB or 2GiB [default: half the memory available when it starts]. A worker's
    /// groups past its share spill to disk and are merged back a partition at a time.
    #[arg(long, value_parser = spill::parse_size, allow_hyphen_values = true)]
    pub memory_limit: Option<u64>,
    /// Where spill files go, in a folder of the run's own, private and removed when the run
    /// ends [default: the system's temporary folder].
    #[arg(long, value_name = "DIR")]
    pub spill_dir: Option<PathBuf>,
}

impl Resources {
    /// Worker threads in each process: `--workers`, or `default`.
    pub fn threads(&self, default: usize) -> usize {
        self.workers.map_or(default, |n| usize::try_from(n).expect("at most 256"))
    }

    /// `builder` with these settings, threads defaulting to `default`.
    pub fn apply(&self, builder: job::JobBuilder, default: usize) -> job::JobBuilder {
        builder
            .threads(self.threads(default))
            .memory_limit(self.memory_limit)
            .spill_dir(self.spill_dir.clone())
    }
}

/// `groupby`'s options, from which its [`Job`] is made.
#[derive(clap::Args, Clone)]
pub struct GroupBy {
    /// CSV files, or globs such as 'data/*.csv' (quote them so the shell leaves them alone).
    /// A file named twice is read once.
    #[arg(required = true)]
    pub files: Vec<String>,
    #[command(flatten)]
    pub question: Question,
    #[command(flatten)]
    pub workers: Resources,
    #[command(flatten)]
    pub cluster: Cluster,
    /// Bytes a partition (Dask's `blocksize`).
    #[arg(long, default_value_t = scan::DEFAULT_BLOCKSIZE, value_parser = cli::positive::<u64>,
          allow_hyphen_values = true)]
    pub blocksize: u64,
    /// Give each file whole to one worker, as one partition (ranges are cut at record starts,
    /// so quoted fields that hold newlines split safely without it).
    #[arg(long)]
    pub no_split: bool,
    /// Skip rows with the wrong number of fields or a value that is not a number, and count them.
    #[arg(long)]
    pub skip_bad: bool,
    /// Write the answer as part files in DIR, each the header and its groups in key order (any
    /// order with --no-sort), all of them together the answer: part-WWWWW.csv a worker, or
    /// part-WWWWW-PPP.csv a spill partition of a worker that spilled; nothing gathered into one
    /// process; DIR must be new or empty.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    // Sources for pandas', Polars' and DuckDB's orders: beside `JobBuilder::sort`.
    /// The groups in any order, as pandas' groupby(sort=False) and as Polars and DuckDB give
    /// them unless asked: no worker sorts its groups and no merge puts them in key order, so
    /// the order may differ from run to run (key order still where several processes of
    /// --processes or --hostfile gather the answer into one, which merges sorted runs).
    #[arg(long)]
    pub no_sort: bool,
    /// With --out: replace the part files DIR holds.
    #[arg(long, requires = "out")]
    pub overwrite: bool,
    /// Say on stderr where the time went, phase by phase - reading, parsing and grouping; the
    /// exchange; spilling; sorting; gathering; writing the answer - each the slowest worker's
    /// time, with the bytes it moved.
    #[arg(long)]
    pub profile: bool,
    #[command(flatten)]
    pub python: cli::VsPython,
    /// Not an option of groupby, whose threads are --workers: refused with that hint (a Dask
    /// user types --threads).
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub threads: Option<String>,
}

/// What a group-by asks of the files: its keys, its aggregates, and how fields are separated -
/// `groupby`'s, and the lesson's small dataflow's on its processes.
#[derive(clap::Args, Clone)]
pub struct Question {
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
    /// The field separator, as pandas' `sep`: one character, such as ';', or '\t' for tabs.
    #[arg(long, default_value = ",", value_parser = separator, allow_hyphen_values = true)]
    pub sep: u8,
}

impl Question {
    /// The engine's query: keys and outputs checked (bad input: an error naming it).
    pub fn query(&self) -> Result<Query, Error> {
        Query::parse(&self.by, &self.aggs, self.value.as_deref())
    }

    /// The options that ask `query` again, separated by `sep`, for a process this binary
    /// starts.
    pub fn args(query: &Query, sep: u8) -> Vec<String> {
        let mut args = query.to_args();
        args.extend(["--sep".to_owned(), job::separator_text(sep)]);
        args
    }
}

impl GroupBy {
    /// The job the options describe, made once: the query and the files checked against each
    /// other, the files cut into ranges (or, in a child of --processes, its parent's taken).
    pub fn job(&self) -> Result<Job, Error> {
        let query = self.question.query()?;
        let default_threads = if self.cluster.is_cluster() { 1 } else { timing::machine::cores() };
        let mut builder = self.workers.apply(Job::builder(query, &self.files), default_threads);
        builder = builder
            .sep(self.question.sep)
            .blocksize(self.blocksize)
            .no_split(self.no_split)
            .skip_bad(self.skip_bad)
            .sort(!self.no_sort)
            .retries(self.cluster.retries)
            .connect_timeout(self.cluster.connect_timeout());
        if let Some(path) = &self.cluster.ranges_file {
            builder = builder.ranges_from(path.clone());
        }
        if let Some(out) = &self.out {
            // The processes --processes starts add their parts to the folder their parent
            // made ready.
            builder = if self.cluster.child {
                builder.out_ready(out.clone())
            } else {
                builder.out(out.clone(), self.overwrite)
            };
        }
        builder.build()
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

/// How a `groupby` joins a cluster: the options that start processes here or name this one's
/// place among several machines.
#[derive(clap::Args, Clone, Debug)]
#[group(id = "cluster")]
pub struct Cluster {
    /// Run as this many processes on this machine, exchanging data over loopback TCP.
    #[arg(long, value_parser = processes, allow_hyphen_values = true)]
    pub processes: Option<usize>,
    /// When a process of --processes is lost, run the job again on the ones left, up to this
    /// many times (as Dask's shuffle restarts when a worker it used is lost); 0 fails at once.
    #[arg(long, default_value_t = 0, requires = "processes",
          value_parser = cli::whole_number::<u64>, allow_hyphen_values = true)]
    pub retries: u64,
    /// Several machines: a file of `host:port` lines, one a process, the same on each machine
    /// (timely's `-h`); use with --process and --key-file.
    #[arg(long, requires = "process", conflicts_with = "processes")]
    pub hostfile: Option<PathBuf>,
    /// This process's line in --hostfile, from 0 (timely's `-p`).
    #[arg(long, requires = "hostfile")]
    pub process: Option<usize>,
    /// The cluster's key, the same file on every machine, at least 16 bytes (make one with
    /// `head -c 32 /dev/urandom > cluster.key`): peers prove they hold it before any data
    /// moves. Only the connection is authenticated: what follows is neither encrypted nor
    /// protected from change on the way, so use a private network or a tunnel.
    #[arg(long, requires = "hostfile")]
    pub key_file: Option<PathBuf>,
    /// Seconds to wait for every other process to connect [default: 30].
    #[arg(long, value_parser = cli::up_to::<86400>, allow_hyphen_values = true)]
    connect_timeout: Option<u64>,
    /// Set by `--processes` on the processes it starts: they read the key on stdin, and end
    /// when their parent does.
    #[arg(long, hide = true)]
    pub child: bool,
    /// Set by `--processes`: the ranges its parent planned (file index, start, end a line).
    #[arg(long, hide = true, requires = "child")]
    pub ranges_file: Option<PathBuf>,
    /// Set by `--processes` on process 0: where to write the answer, kept apart from whatever
    /// else a child prints.
    #[arg(long, hide = true)]
    pub answer_file: Option<PathBuf>,
}

fn processes(text: &str) -> Result<usize, String> {
    cli::up_to::<64>(text).map(|n| usize::try_from(n).expect("at most 64"))
}

impl Cluster {
    /// Options that make no sense together, beyond what the parser checks.
    pub fn check(&self) -> Result<(), String> {
        if self.connect_timeout.is_some() && !self.is_cluster() {
            return Err(
                "--connect-timeout: only --processes and --hostfile connect processes".into()
            );
        }
        Ok(())
    }

    /// Whether the job runs on more than this process.
    pub fn is_cluster(&self) -> bool {
        self.processes.is_some() || self.hostfile.is_some()
    }

    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout.map_or(job::CONNECT_TIMEOUT, Duration::from_secs)
    }

    /// This process's place in the cluster `--hostfile` describes, its addresses and key
    /// checked (bad input before any work); `None` without `--hostfile`. A child of
    /// `--processes` reads its key from its parent.
    pub fn member(&self, job: &Job) -> Result<Option<Member>, Error> {
        let (Some(hostfile), Some(me)) = (&self.hostfile, self.process) else { return Ok(None) };
        let key = match (&self.key_file, self.child) {
            (_, true) => Key::FromParent(secret_from_parent()?),
            (Some(path), false) => Key::File(path.clone()),
            (None, false) => Key::Missing,
        };
        Member::of_hostfile(hostfile, me, key, job).map(Some)
    }
}

/// How the engine starts this binary again as a process of `--processes`: `dataflow groupby`,
/// then `extra` (`--profile`, which process 0 then prints), then the job's own options.
pub fn launcher(extra: &[&str]) -> processes::Launcher {
    let program = std::env::current_exe()
        .unwrap_or_else(|e| cli::fail(format!("this program's own path: {e}")));
    let mut args = vec!["groupby".to_owned()];
    args.extend(extra.iter().map(|word| (*word).to_owned()));
    processes::Launcher { program, args }
}

/// In a child of `--processes`: the secret from the first line of stdin; then a thread that
/// reads on to the end of the pipe, which means the parent is gone (killed, Ctrl-C), and ends
/// this process too (the engine's `cleanup` removes what it made, at exit).
fn secret_from_parent() -> Result<Secret, Error> {
    let mut line = String::new();
    let mut stdin = std::io::stdin().lock();
    let _ = stdin.read_line(&mut line);
    drop(stdin);
    let secret = Secret::from_line(&line).ok_or_else(|| {
        Error::Usage("--child: no key on stdin (only --processes starts children)".into())
    })?;
    end_with_parent();
    Ok(secret)
}

/// In a process this binary started: a thread that reads stdin to its end, which means the
/// parent is gone (killed, Ctrl-C), and then ends this process too (the engine's `cleanup`
/// removes what it made, at exit). No child outlives its parent.
pub fn end_with_parent() {
    std::thread::spawn(|| {
        let mut sink = [0; 64];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        std::process::exit(1);
    });
}

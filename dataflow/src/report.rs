//! The default run - Dask's first lesson on a gigabyte of flights-like CSV, made once: the scan
//! alone, 1 worker, a thread a core, 2 processes, the same answer from each - and what it
//! says; then, with `--vs-python`, pandas, Dask, Polars and DuckDB on the same files. Also
//! `groupby --vs-python`, and the notes a group-by prints on stderr.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use timing::chart::Figure;
use timing::python::Twin;
use timing::verdict::{Finding, Verdict};
use timing::{Stats, cli, human, say};

use dataflow_engine::cluster::processes::{self, Output};
use dataflow_engine::query::{Func, Output as Column};
use dataflow_engine::{Answer, Job, Query, scan};

use crate::generate;

/// The packages the twins import. Dask and distributed pinned to the release pip resolved on
/// 2026-12-07: left open, pip backtracked through distributed's releases for minutes.
const PACKAGES: &[&str] = &[
    "pandas>=2.0",
    "dask[dataframe]>=2026.8,<2026.9",
    "distributed>=2026.8,<2026.9",
    "polars>=1.0",
    "duckdb>=1.1",
];

/// The twin of `--vs-python`, where it was asked for.
pub fn twin(python: &cli::VsPython) -> Option<Twin<'_>> {
    python.enabled.then_some(Twin {
        script: concat!(env!("CARGO_MANIFEST_DIR"), "/python/twin.py"),
        packages: PACKAGES,
        python: python.interpreter.as_deref(),
    })
}

/// The default run's question: `groupby("origin").dep_delay.agg([...])`, as `--value` asks it.
fn flights_query() -> Query {
    Query::parse("origin", &[], Some("dep_delay")).expect("a valid query")
}

/// Makes (once) a data set of `rows` rows under the target directory, then runs the group-by
/// with 1 worker, with every core as a thread, and as 2 processes; checks the three answers are
/// identical, and prints time, throughput and peak memory for each.
pub fn default_run(
    timed: &cli::Timed<cli::VsPython>,
    sweep: Option<&[usize]>,
    rows: u64,
    twin: Option<Twin<'_>>,
) -> ExitCode {
    let picture = timed.svg.open();
    let mut figure = Figure::new("dataflow: a group-by over CSV files on timely dataflow");
    let runs = timed.runs.or(3);
    let folder = data_set_once(rows);
    let cores = timing::machine::cores();
    let pattern = format!("{}/*.csv", folder.display());
    let job = Job::builder(flights_query(), &[pattern]).threads(cores).build();
    let job = Arc::new(job.unwrap_or_else(|e| cli::fail(e)));
    let mb = job.bytes() as f64 / 1e6;
    say!(
        "== groupby('origin').dep_delay over {mb:.0} MB in {} partitions of at most {} MB ({})",
        job.plan.ranges.len(),
        scan::DEFAULT_BLOCKSIZE / 1_000_000,
        timing::plural(runs, "run")
    );
    figure.panel(format!("groupby('origin').dep_delay over {mb:.0} MB of CSV"));
    let scan = time_the_scan(&job, runs, &mut figure);
    let one = time_on_threads(&job, (1, true), runs, &mut figure);
    let all = time_on_threads(&job, (cores, false), runs, &mut figure);
    let (processes, processes_answer) = time_two_processes(&job, runs, &mut figure);
    for (label, answer) in [("worker threads", &all.answer), ("2 processes", &processes_answer)] {
        assert_eq!(answer, &one.answer, "{label} gave a different answer");
    }
    let reference = &one.answer;
    say!("identical answers from all three ({} groups):", reference.lines().count() - 1);
    for line in reference.lines().take(4) {
        say!("    {line}");
    }
    say!("    ...");
    if let Some(scan) = &scan {
        why_it_is_fast(scan, &one.stats);
    }
    let partitions = job.plan.ranges.len();
    explain(&[one.stats, all.stats], &processes, (process_startup(&folder), partitions), cores);
    if let Some(counts) = sweep {
        figure.curve(&sweep_workers(&job, counts, runs, reference));
    }
    say!("{}", memory_sentence(one.peak.max(all.peak), job.bytes()));
    if let Some(twin) = twin {
        say!();
        let rows = [&one.stats, &all.stats, &processes];
        compare_with_python(&twin, &job, reference, (runs, cores), rows, &mut figure);
    }
    if let Some(picture) = picture {
        figure.save(picture);
    }
    ExitCode::SUCCESS
}

/// The default run's data set, made once under the target directory and reused after.
fn data_set_once(rows: u64) -> std::path::PathBuf {
    let what = format!("{rows} flights-like rows in 10 files");
    generate::once(&format!("dataflow-data-{rows}"), &what, rows, |folder, done| {
        generate::generate(rows, 10, folder, done)
    })
}

/// The scan alone on this thread, after a warm-up run (which also reads the files into the
/// page cache for the rows after it): records and fields found, nothing parsed or grouped.
/// `None` where the files are not plain enough for the fast path.
fn time_the_scan(job: &Job, runs: usize, figure: &mut Figure) -> Option<Stats> {
    let (rows, stats) = timing::measure(runs, || {
        scan::scan_only(&job.plan).unwrap_or_else(|e| cli::fail(format!("scanning: {e}")))
    });
    let Some(rows) = rows else {
        say!(
            "the scan alone: not timed (the files have records the fast path leaves to the csv crate)"
        );
        return None;
    };
    let mb = job.bytes() as f64 / 1e6;
    say!(
        "{}  {:>6.0} MB/s  ({rows} rows found, nothing parsed or grouped)",
        stats.line("the scan alone, 1 core"),
        mb / stats.median.as_secs_f64()
    );
    figure.bar("the scan alone, 1 core", &stats);
    Some(stats)
}

/// Why 1 worker runs at the speed it does, from the scan's and the job's medians.
fn why_it_is_fast(scan: &Stats, job: &Stats) {
    let share = 100.0 * scan.median.as_secs_f64() / job.median.as_secs_f64();
    cli::paragraph(
        "",
        &format!(
            "Why it is fast: the scan classifies 64 bytes at a time into bit masks of quotes, separators and line ends ({}), a prefix XOR of the quote mask tells which bytes lie inside quotes, each field end costs a store and an add, two of the nine columns are looked at, nothing is allocated. Here it took {share:.0}% of 1 worker's time; the rest is parsing the numbers, finding each row's group (one hash, one probe) and adding its value exactly.",
            scan::how_masks_are_made()
        ),
    );
}

/// One row of the default run: its timings, its answer as CSV, its peak memory.
struct Timed {
    stats: Stats,
    answer: String,
    peak: u64,
}

/// The group-by on `threads` worker threads of this process, `runs` times (no warm-up: the
/// first run also reads the files into the page cache), printed as one row: the baseline (1
/// worker), or a worker thread a core (one, too, on one core).
fn time_on_threads(
    job: &Arc<Job>,
    (threads, baseline): (usize, bool),
    runs: usize,
    figure: &mut Figure,
) -> Timed {
    let (mut answer, mut peak, mut samples) = (String::new(), 0, Vec::new());
    let label =
        if baseline { "1 worker".to_owned() } else { timing::plural(threads, "worker thread") };
    for run in 1..=runs {
        timing::machine::reset_peak_memory();
        let ticker = timing::progress::Ticker::start(format!("{label}, run {run} of {runs}"));
        let (found, took) = timing::time_call(|| dataflow_engine::run_on_threads(job, threads));
        drop(ticker);
        let found = found.unwrap_or_else(|e| cli::fail(e));
        peak = peak.max(timing::machine::peak_memory().unwrap_or(0));
        answer = answer_text(job, &found);
        samples.push(took);
    }
    let stats = Stats::from_samples(&samples);
    let line = if baseline {
        figure.baseline(&label, &stats);
        stats.baseline_line(&label)
    } else {
        figure.bar(&label, &stats);
        stats.line(&label)
    };
    say!(
        "{line}  {:>6.0} MB/s  peak memory {:.0} MB",
        job.bytes() as f64 / 1e6 / stats.median.as_secs_f64(),
        peak as f64 / 1e6
    );
    Timed { stats, answer, peak }
}

/// The answer as the CSV `groupby` prints.
fn answer_text(job: &Job, answer: &Answer) -> String {
    let mut bytes = Vec::new();
    answer.write(&job.query, &mut bytes).expect("writing to memory");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The group-by on 2 processes over loopback TCP, one thread each, `runs` times, printed as
/// one row; its timings and its answer.
fn time_two_processes(job: &Job, runs: usize, figure: &mut Figure) -> (Stats, String) {
    let job = &Job::builder(job.query.clone(), &job.patterns).threads(1).build();
    let job = job.as_ref().unwrap_or_else(|e| cli::fail(e));
    let (mut answer, mut peaks, mut samples, mut connecting) =
        (String::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 1..=runs {
        // The processes' own progress bars cannot draw (their stderr is a pipe): say what runs.
        let ticker = timing::progress::Ticker::start(format!("2 processes, run {run} of {runs}"));
        let (run, took) = timing::time_call(|| two_processes(job));
        drop(ticker);
        answer = run.stdout;
        peaks = run.peaks;
        samples.push(took);
        connecting.push(run.connecting);
    }
    let stats = Stats::from_samples(&samples);
    let peaks: Vec<String> = peaks.iter().map(|p| format!("{:.0} MB", *p as f64 / 1e6)).collect();
    figure.bar("2 processes, loopback TCP", &stats);
    say!(
        "{}  {:>6.0} MB/s  peak memory {} (each process)",
        stats.line("2 processes, loopback TCP"),
        job.bytes() as f64 / 1e6 / stats.median.as_secs_f64(),
        peaks.join(", ")
    );
    say!(
        "    connecting them: {} (median; the handshake included)",
        human(Stats::from_samples(&connecting).median)
    );
    (stats, answer)
}

/// `groupby --processes 2` on the job (made with one thread a process), its output kept; a
/// failure ends the program.
fn two_processes(one_thread_each: &Job) -> processes::Run {
    let run = processes::run(one_thread_each, 2, Output::Keep, &crate::launcher())
        .unwrap_or_else(|e| cli::fail(e));
    if !run.ok {
        cli::fail("the 2-process run failed");
    }
    run
}

/// `--threads LIST`: the group-by on that many worker threads of one process, each count,
/// against 1 worker measured the same way (after a warm-up, where the rows above are not);
/// every answer the 1 worker's.
fn sweep_workers(job: &Arc<Job>, counts: &[usize], runs: usize, answer: &str) -> timing::Sweep {
    say!(
        "== the group-by on each number of worker threads, against 1 worker ({})",
        timing::after_warmup(runs)
    );
    let run = |threads| {
        answer_text(
            job,
            &dataflow_engine::run_on_threads(job, threads).unwrap_or_else(|e| cli::fail(e)),
        )
    };
    let (one_answer, one) = timing::measure(runs, || run(1));
    assert_eq!(one_answer, answer, "1 worker, warm");
    say!("{}", one.baseline_line("1 worker, warm"));
    timing::speedup_sweep("worker threads", counts, runs, &one, &answer.to_owned(), run)
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
    let pattern = [empty.to_string_lossy().into_owned()];
    let job = Job::builder(flights_query(), &pattern).threads(1).build();
    let job = job.unwrap_or_else(|e| cli::fail(e));
    let (_, took) = timing::time_call(|| two_processes(&job));
    let _ = std::fs::remove_file(&empty);
    took
}

/// How the run maps to Dask, with what Dask itself would do with `partitions` partitions and
/// `keys` key columns.
fn dask_sentence(partitions: usize, keys: usize) -> String {
    let split_out = dask_split_out(partitions, keys);
    let dask = if split_out == 1 {
        "Dask, on these partitions, reduces the partials in a tree into one partition instead (its optimizer's choice of split_out for so few partitions)".to_owned()
    } else {
        format!(
            "so would Dask on these partitions, into {split_out} output partitions (its optimizer's choice of split_out)"
        )
    };
    format!(
        "How it maps to Dask: each byte range is a partition and reading it a task; the partial aggregates go to the worker that owns their key's hash, a hash shuffle ({dask}); the sorted print of every worker's groups is compute()."
    )
}

/// The output partitions Dask's optimizer gives a group-by aggregation left at its default,
/// `split_out=None`: `_adjust_split_out_for_group_keys` in dask/dataframe/dask_expr/_groupby.py
/// (2026.8; the legacy DataFrame before dask-expr, 2024.3, defaulted to 1).
fn dask_split_out(partitions: usize, keys: usize) -> usize {
    // ceil(n / (10 / (k-1))) is ceil(n (k-1) / 10), here without floats.
    let out =
        if keys <= 1 { partitions.div_ceil(15) } else { (partitions * (keys - 1)).div_ceil(10) };
    out.max(1)
}

fn explain(
    in_process: &[Stats],
    processes: &Stats,
    (startup, partitions): (Duration, usize),
    cores: usize,
) {
    let threads_gain = in_process[0].median.as_secs_f64() / in_process[1].median.as_secs_f64();
    let process_cost = processes.median.as_secs_f64() / in_process[1].median.as_secs_f64();
    cli::paragraph("", &dask_sentence(partitions, 1));
    if let Some(said) = threads_sentence(threads_gain, cores) {
        cli::paragraph("", &said);
    }
    cli::paragraph(
        "",
        &format!(
            "2 processes take {process_cost:.2}x the time of {}. On no data at all they take {}: starting two processes (each loads the binary and plans the files) and connecting them. The rest is the same work, the partials crossing loopback TCP.",
            timing::plural(cores, "thread"),
            human(startup)
        ),
    );
    cli::paragraph(
        "",
        // distributed/shuffle/_scheduler_plugin.py, ShuffleSchedulerPlugin.remove_worker (2026.8).
        "A lost process: timely stops the whole job, by design, and every survivor says which peer it lost. Dask computes a lost worker's tasks again on the others, but a group-by that shuffles restarts its whole shuffle when a worker that took part in it is lost; `groupby --processes N --retries K` does about that: it runs the job again, whole, on the processes left.",
    );
}

/// What a worker thread a core gained over 1 worker, against one a core (nothing to say on one
/// core, where both runs are the same).
fn threads_sentence(gain: f64, cores: usize) -> Option<String> {
    if cores < 2 {
        return None;
    }
    let what = format!("{} over 1 worker", timing::plural(cores, "worker thread"));
    let threads = Verdict::threads_on(what, gain, cores, cores);
    let rerun = "cargo run -p dataflow";
    Some(match threads.finding() {
        Finding::Within => format!("{}: the partitions are read in parallel.", threads.describe()),
        Finding::Below => threads.surprise(
            "another program may be using the cores, or reading from disk rather than the page cache, or the memory's bandwidth shared by every core, sets the pace.",
            rerun,
        ),
        Finding::Above => threads.surprise(
            "more than one a core gives: the 1-worker runs were likely slowed.",
            rerun,
        ),
    })
}

// ---- Rust against Python ----

/// The twin's engines: an id the twin takes, and the start of the label it gives the row.
#[derive(Clone, Copy, PartialEq)]
enum Engine {
    Pandas,
    DaskThreads,
    DaskCluster,
    Polars1,
    PolarsAll,
    Duckdb1,
    DuckdbAll,
}

impl Engine {
    /// The default run's: every engine, Polars and DuckDB on 1 thread and on all.
    const ALL: [Engine; 7] = [
        Engine::Pandas,
        Engine::DaskThreads,
        Engine::DaskCluster,
        Engine::Polars1,
        Engine::PolarsAll,
        Engine::Duckdb1,
        Engine::DuckdbAll,
    ];
    /// db-benchmark's: each engine once, on as many threads as the dataflow.
    const ON_ALL_THREADS: [Engine; 4] =
        [Engine::PolarsAll, Engine::DuckdbAll, Engine::Pandas, Engine::DaskThreads];

    fn id(self) -> &'static str {
        match self {
            Engine::Pandas => "pandas",
            Engine::DaskThreads => "dask-threads",
            Engine::DaskCluster => "dask-cluster",
            Engine::Polars1 => "polars-1",
            Engine::PolarsAll => "polars",
            Engine::Duckdb1 => "duckdb-1",
            Engine::DuckdbAll => "duckdb",
        }
    }

    /// The start of the twin's label for this engine on `threads` threads.
    fn label(self, threads: usize) -> String {
        let on = |n: usize| timing::plural(n, "thread");
        match self {
            Engine::Pandas => "pandas".to_owned(),
            Engine::DaskThreads => "Dask, threads scheduler".to_owned(),
            Engine::DaskCluster => "Dask LocalCluster".to_owned(),
            Engine::Polars1 => format!("Polars streaming, {}", on(1)),
            Engine::PolarsAll => format!("Polars streaming, {}", on(threads)),
            Engine::Duckdb1 => format!("DuckDB, {}", on(1)),
            Engine::DuckdbAll => format!("DuckDB, {}", on(threads)),
        }
    }
}

/// A question for the twin: its name (the prefix of its rows' labels), the query, Rust's
/// answer as CSV.
struct Question<'a> {
    name: &'a str,
    query: &'a Query,
    answer: &'a str,
}

/// Runs the twin: each of `engines` on each question, on `threads` threads, `runs` times after
/// a warm-up, each in a fresh Python process; every answer checked against Rust's (outside the
/// timed region). Each Python row is set beside the Rust row `rust(question, engine)`.
fn ask_twin<'r>(
    twin: &Twin<'_>,
    questions: &[Question<'_>],
    engines: &[Engine],
    (threads, runs, sep, memory): (usize, usize, u8, Option<u64>),
    patterns: &[String],
    rust: impl Fn(usize, Engine) -> (&'r str, &'r Stats),
    figure: &mut Figure,
) -> Option<Vec<timing::python::Measured>> {
    let answers = dataflow_engine::cleanup::TempDir::new("hpc-rs-dataflow-answers-")
        .unwrap_or_else(|e| cli::fail(format!("a temporary folder: {e}")));
    for (i, q) in questions.iter().enumerate() {
        let path = answers.path().join(format!("{i}.csv"));
        std::fs::write(&path, q.answer)
            .unwrap_or_else(|e| cli::fail(format!("{}: {e}", path.display())));
    }
    let spec = |q: &Question<'_>| {
        format!("{}|{}|{}", q.name, q.query.keys.join(","), q.query.specs().join("+"))
    };
    let mut args = vec![
        threads.to_string(),
        runs.to_string(),
        char::from(sep).to_string(),
        answers.path().to_string_lossy().into_owned(),
        engines.iter().map(|e| e.id()).collect::<Vec<_>>().join(","),
        questions.iter().map(spec).collect::<Vec<_>>().join(";"),
        memory.map_or_else(|| "none".to_owned(), |bytes| bytes.to_string()),
    ];
    args.extend(patterns.iter().cloned());
    let labels: Vec<(String, (&str, &Stats))> = questions
        .iter()
        .enumerate()
        .flat_map(|(i, q)| {
            let rust = &rust;
            engines.iter().map(move |&e| {
                let prefix = if q.name.is_empty() {
                    e.label(threads)
                } else {
                    format!("{} {}", q.name, e.label(threads))
                };
                (prefix, rust(i, e))
            })
        })
        .collect();
    let pairs: Vec<(&str, Option<(&str, &Stats)>)> =
        labels.iter().map(|(prefix, row)| (prefix.as_str(), Some(*row))).collect();
    say!(
        "== the same in Python: {} (each engine in a fresh Python process; this takes a while)",
        engines.iter().map(|e| e.label(threads)).collect::<Vec<_>>().join("; ")
    );
    let report = timing::python::compare_by_label(twin, &args, &pairs, figure)
        .unwrap_or_else(|e| cli::fail(e))?;
    // The twin checks each answer against Rust's, outside its timed region.
    let queries: Vec<&Query> = questions.iter().map(|q| q.query).collect();
    cli::paragraph("", &checked_sentence(report.measured.len(), &queries));
    Some(report.measured)
}

/// What the twin compared, from the outputs the questions asked for: the groups always; sizes,
/// counts, min and max exactly; the rest within 1e-9 relative (engines other than this one sum
/// floats in their own order and round each step).
fn checked_sentence(answers: usize, queries: &[&Query]) -> String {
    let (mut exact, mut close) = (Vec::new(), Vec::new());
    for output in queries.iter().flat_map(|q| &q.outputs) {
        let (name, is_exact) = match output {
            Column::Size => ("sizes", true),
            Column::Of { func, .. } => match func {
                Func::Count => ("counts", true),
                Func::Min => ("minimums", true),
                Func::Max => ("maximums", true),
                Func::Sum => ("sums", false),
                Func::Mean => ("means", false),
                Func::Var => ("variances", false),
                Func::Std => ("standard deviations", false),
                Func::Median => ("medians", false),
            },
        };
        let list = if is_exact { &mut exact } else { &mut close };
        if !list.contains(&name) {
            list.push(name);
        }
    }
    let whose = if answers == 1 {
        "the Python answer".to_owned()
    } else {
        format!("each of the {answers} Python answers")
    };
    let mut sentence = format!("checked: {whose} has Rust's groups");
    if !exact.is_empty() {
        sentence += &format!(" and {} exactly", and_list(&exact));
    }
    if !close.is_empty() {
        sentence += &format!(", and its {} within 1e-9 relative", and_list(&close));
    }
    sentence + "."
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The peak memory a twin's label ends with, ` [346 MB]`, in bytes.
fn peak_in(label: &str) -> Option<f64> {
    let inner = label.rsplit_once(" [")?.1.strip_suffix(" MB]")?;
    inner.parse::<f64>().ok().map(|mb| mb * 1e6)
}

/// `--vs-python` of the default run: pandas, Dask, Polars and DuckDB on the same files, beside
/// the Rust rows that do the same with as many threads.
fn compare_with_python(
    twin: &Twin<'_>,
    job: &Job,
    reference: &str,
    (runs, cores): (usize, usize),
    [one, all, processes]: [&Stats; 3],
    figure: &mut Figure,
) {
    let threads = timing::plural(cores, "worker thread");
    let rust = |engine: Engine| match engine {
        Engine::Pandas | Engine::Polars1 | Engine::Duckdb1 => ("1 worker", one),
        Engine::DaskCluster => ("2 processes", processes),
        Engine::DaskThreads | Engine::PolarsAll | Engine::DuckdbAll => (threads.as_str(), all),
    };
    let question = [Question { name: "", query: &job.query, answer: reference }];
    let setting = (cores, runs.min(2), job.sep, None);
    let Some(python) =
        ask_twin(twin, &question, &Engine::ALL, setting, &job.patterns, |_, e| rust(e), figure)
    else {
        return;
    };
    let row = |engine: Engine| {
        let prefix = engine.label(cores);
        python.iter().find(|p| p.label.starts_with(&prefix)).map(|p| &p.stats)
    };
    if let Some(failed) = failed_sentence(&Engine::ALL, &python, cores) {
        cli::paragraph("", &format!("{failed} No sentence compares the engines."));
        return;
    }
    let of = |engine: Engine| row(engine).expect("every engine answered");
    let ratio = |rust: &Stats, engine| rust.speedup_over(of(engine));
    let against = |rust: &Stats, engine| ratio(rust, engine).sentence("faster", "slower");
    let cores_text = timing::plural(cores, "core");
    cli::paragraph(
        "",
        &format!(
            "1 Rust worker against Dask's threads on all {cores_text}: {}. pandas reads everything into memory first (its peak above), where the dataflow streams it.",
            against(one, Engine::DaskThreads)
        ),
    );
    let duckdb = [against(one, Engine::Duckdb1), against(all, Engine::DuckdbAll)];
    cli::paragraph(
        "",
        &format!(
            "Against the engines a Python user picks for a gigabyte of CSV, thread for thread: Polars' streaming engine: 1 worker {}, {threads} {}; DuckDB: 1 worker {}, {threads} {}.",
            against(one, Engine::Polars1),
            against(all, Engine::PolarsAll),
            duckdb[0],
            duckdb[1]
        ),
    );
    let pairs = [
        (one, Engine::Polars1),
        (all, Engine::PolarsAll),
        (one, Engine::Duckdb1),
        (all, Engine::DuckdbAll),
    ];
    let won_every_row = pairs.iter().all(|&(rust, engine)| {
        let r = ratio(rust, engine);
        r.0 > 1.0 && r.1 == timing::Spread::Apart
    });
    cli::paragraph(
        "",
        if won_every_row {
            "Faster on every row. Both are compiled engines too (Polars is Rust): the gap is in how each reads and groups the CSV, not in the language."
        } else {
            "Not faster on every row in this run (the rows above say which); another program using the cores meanwhile changes such rows. Re-run to compare."
        },
    );
}

/// `db-benchmark --vs-python`: Polars' streaming engine, DuckDB, pandas and Dask on each
/// question, then a table of every engine's time and peak memory by question, and how the
/// dataflow stands against the faster of Polars and DuckDB.
pub fn db_benchmark_vs_python(
    twin: &Twin<'_>,
    measured: &[crate::bench::Measured],
    (threads, runs, memory): (usize, usize, Option<u64>),
    pattern: &str,
    figure: &mut Figure,
) {
    let questions: Vec<Question<'_>> = measured
        .iter()
        .map(|m| Question { name: m.name, query: &m.query, answer: &m.answer })
        .collect();
    let label = |m: &crate::bench::Measured| {
        format!("{} dataflow, {}", m.name, timing::plural(threads, "worker thread"))
    };
    let labels: Vec<String> = measured.iter().map(label).collect();
    let rust = |i: usize, _| (labels[i].as_str(), &measured[i].stats);
    let setting = (threads, runs, b',', memory);
    let patterns = [pattern.to_owned()];
    // Under a memory limit, Dask's LocalCluster (whose workers take one) rather than its threads.
    let mut engines = Engine::ON_ALL_THREADS;
    if memory.is_some() {
        engines[3] = Engine::DaskCluster;
    }
    let Some(python) = ask_twin(twin, &questions, &engines, setting, &patterns, rust, figure)
    else {
        return;
    };
    say!();
    let width = 12;
    let mut header = format!("{:<26}{:>width$}", "(median, peak)", "dataflow");
    for e in engines {
        header += &format!(
            "  {:>w$}",
            e.label(threads).split(',').next().unwrap_or_default(),
            w = width + 9
        );
    }
    say!("{header}");
    for m in measured {
        let mut line = format!(
            "{:<26}{:>width$}",
            format!("{} ({} groups)", m.name, m.groups),
            format!("{} {:.0} MB", human(m.stats.median), m.peak as f64 / 1e6)
        );
        let mut fastest: Option<(&str, &Stats)> = None;
        for e in engines {
            let prefix = format!("{} {}", m.name, e.label(threads));
            let row = python.iter().find(|p| p.label.starts_with(&prefix));
            let cell = row.map_or_else(
                || "-".to_owned(),
                |p| {
                    format!(
                        "{} {:.0} MB",
                        human(p.stats.median),
                        peak_in(&p.label).unwrap_or(0.0) / 1e6
                    )
                },
            );
            line += &format!("  {cell:>w$}", w = width + 9);
            let name = match e {
                Engine::PolarsAll => "Polars",
                Engine::DuckdbAll => "DuckDB",
                _ => continue,
            };
            if let Some(p) = row.filter(|p| fastest.is_none_or(|(_, f)| p.stats.median < f.median))
            {
                fastest = Some((name, &p.stats));
            }
        }
        say!("{line}");
        if let Some((name, stats)) = fastest {
            say!(
                "    against the faster of Polars and DuckDB ({name}): {}",
                m.stats.speedup_over(stats)
            );
        }
    }
}

/// `groupby --vs-python`: the run above was the warm-up (it read the files into the page
/// cache); then 1 worker and `--workers` threads, each timed once, warm, stand beside the
/// Python engines on as many threads.
pub fn groupby_vs_python(job: &Arc<Job>, answer: &Answer, python: &cli::VsPython) {
    let Some(twin) = twin(python) else { return };
    let reference = answer_text(job, answer);
    let warm = |threads: usize| {
        let (again, took) = timing::time_call(|| dataflow_engine::run_on_threads(job, threads));
        let again = again.unwrap_or_else(|e| cli::fail(e));
        assert_eq!(answer_text(job, &again), reference, "the same answer, warm");
        Stats::from_samples(&[took])
    };
    let (one, all) = (warm(1), warm(job.threads));
    let all_label = timing::plural(job.threads, "worker thread");
    say!("(Rust: one warm run each of 1 worker and {all_label} after the one above)");
    let rust = |_, e: Engine| match e {
        Engine::Pandas | Engine::Polars1 | Engine::Duckdb1 => ("1 worker", &one),
        _ => (all_label.as_str(), &all),
    };
    // groupby draws nothing (it runs once): the comparison's pairs go to a figure not written.
    let mut unseen = Figure::new("");
    let question = [Question { name: "", query: &job.query, answer: &reference }];
    let setting = (job.threads, 1, job.sep, None);
    let python =
        ask_twin(&twin, &question, &Engine::ALL, setting, &job.patterns, rust, &mut unseen);
    if let Some(failed) = python.and_then(|p| failed_sentence(&Engine::ALL, &p, job.threads)) {
        cli::paragraph("", &failed);
    }
}

/// Which of `engines` gave no row (the twin's notes above say why: out of memory, a lost
/// worker, an error), said as the run's finding; `None` where every engine answered.
fn failed_sentence(
    engines: &[Engine],
    python: &[timing::python::Measured],
    threads: usize,
) -> Option<String> {
    let failed: Vec<String> = engines
        .iter()
        .map(|e| e.label(threads))
        .filter(|prefix| !python.iter().any(|p| p.label.starts_with(prefix.as_str())))
        .collect();
    if failed.is_empty() {
        return None;
    }
    let names: Vec<&str> = failed.iter().map(String::as_str).collect();
    let whose = if failed.len() == 1 { "its error is" } else { "their errors are" };
    Some(format!(
        "Not every engine answered: {} failed ({whose} in the notes above), so this run compares {} of the {} engines asked.",
        and_list(&names),
        engines.len() - failed.len(),
        engines.len()
    ))
}

/// What a group-by left out, spilled and wrote, on stderr.
pub fn notes(job: &Job, answer: &Answer) {
    let (query, tally, spilled) = (&job.query, &answer.tally, &answer.spilled);
    if spilled.times > 0 {
        eprintln!(
            "note: the groups outgrew --memory-limit {}: {} spilled to {} in {} (written {} times, read back once, a partition at a time), {} of writing and reading",
            timing::bytes(job.budget.limit),
            timing::bytes(spilled.bytes),
            timing::plural(spilled.files, "file"),
            job.budget.dir.display(),
            spilled.times,
            human(spilled.took())
        );
    }
    if let Some(dir) = &job.out {
        eprintln!(
            "note: wrote {} groups in {} to {}",
            answer.groups,
            timing::plural(answer.parts.len(), "part file"),
            dir.display()
        );
    }
    if tally.missing_key > 0 {
        let was = if tally.missing_key == 1 { "was" } else { "were" };
        let keys = query.keys.join(" or ");
        eprintln!(
            "note: {} had no {keys} and {was} left out of the groups (as pandas and Dask do)",
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

#[cfg(test)]
mod tests {
    use super::{checked_sentence, threads_sentence};
    use dataflow_engine::Query;

    #[test]
    fn an_engine_that_failed_is_named_in_a_sentence() {
        use super::{Engine, failed_sentence};
        let row = |label: &str| timing::python::Measured {
            label: label.to_owned(),
            stats: timing::Stats::from_samples(&[std::time::Duration::from_millis(5)]),
        };
        let engines = [Engine::Pandas, Engine::DaskThreads, Engine::PolarsAll];
        let all = [
            row("pandas (all in memory)"),
            row("Dask, threads scheduler, 2 threads"),
            row("Polars streaming, 2 threads [50 MB]"),
        ];
        assert_eq!(failed_sentence(&engines, &all, 2), None);
        let no_dask = [row("pandas (all in memory)"), row("Polars streaming, 2 threads [50 MB]")];
        assert_eq!(
            failed_sentence(&engines, &no_dask, 2).unwrap(),
            "Not every engine answered: Dask, threads scheduler failed (its error is in the notes above), so this run compares 2 of the 3 engines asked."
        );
        let one = [row("pandas (all in memory)")];
        let two = failed_sentence(&engines, &one, 2).unwrap();
        assert!(
            two.contains(
                "Dask, threads scheduler and Polars streaming, 2 threads failed (their errors"
            ),
            "{two}"
        );
    }

    #[test]
    fn dask_splits_out_as_its_optimizer_does() {
        use super::{dask_sentence, dask_split_out};
        // _adjust_split_out_for_group_keys: ceil(n/15) for one key, ceil(n/(10/(k-1))) for k.
        assert_eq!(dask_split_out(15, 1), 1);
        assert_eq!(dask_split_out(16, 1), 2);
        assert_eq!(dask_split_out(1, 1), 1);
        assert_eq!(dask_split_out(16, 6), 8);
        assert_eq!(dask_split_out(10, 2), 1);
        assert!(dask_sentence(10, 1).contains("in a tree into one partition"));
        assert!(dask_sentence(16, 1).contains("so would Dask on these partitions, into 2 output"));
    }

    #[test]
    fn the_checked_sentence_names_what_was_asked() {
        let aggs = ["amount:sum,mean,median".to_owned(), "size".to_owned()];
        let user = Query::parse("user_id", &aggs, None).unwrap();
        assert_eq!(
            checked_sentence(5, &[&user]),
            "checked: each of the 5 Python answers has Rust's groups and sizes exactly, and its sums, means and medians within 1e-9 relative."
        );
        let extremes = ["v1:max".to_owned(), "v2:min".to_owned()];
        let q7 = Query::parse("id3", &extremes, None).unwrap();
        assert_eq!(
            checked_sentence(1, &[&q7]),
            "checked: the Python answer has Rust's groups and maximums and minimums exactly."
        );
        let sums = Query::parse("id1", &["v1:sum".to_owned()], None).unwrap();
        assert_eq!(
            checked_sentence(2, &[&sums, &q7]),
            "checked: each of the 2 Python answers has Rust's groups and maximums and minimums exactly, and its sums within 1e-9 relative."
        );
    }

    #[test]
    fn the_threads_sentence_holds_the_gain_to_one_a_core() {
        assert_eq!(threads_sentence(1.0, 1), None, "one core: nothing to compare");
        let within = threads_sentence(1.97, 2).unwrap();
        assert!(within.starts_with("2 worker threads over 1 worker: 1.97x, within the 1.80x to 2.00x expected of 2 threads on 2 cores: the partitions are read in parallel."), "{within}");
        // On 4 cores 1.7x is short of what 4 threads can reach, and said to be.
        let short = threads_sentence(1.7, 4).unwrap();
        assert!(short.contains("1.70x, below the 3.60x to 4.00x expected of 4 threads"), "{short}");
        assert!(short.contains("sets the pace") && short.contains("Re-run"), "{short}");
        let above = threads_sentence(2.5, 2).unwrap();
        assert!(above.contains("above") && above.contains("likely slowed"), "{above}");
    }
}

//! `dataflow db-benchmark`: the group-by questions that every data-frame engine is compared on
//! (duckdblabs/db-benchmark: 1e7 rows by default, K = 100 groups), asked of the dataflow end to
//! end from the CSV files; with `--vs-python`, Polars' streaming engine, DuckDB, pandas and
//! Dask on the same files and the same questions, each answer checked against Rust's outside
//! the timed region - every engine in two contracts: its answer in memory (the dataflow's as
//! columns in key order, or in any order with `--no-sort`, what its Python module hands over
//! as Arrow), and from the CSV files to
//! a CSV answer file, as a user runs it (the dataflow as this binary's `groupby`).
//! Then what the figures say about a group-by's cost as groups grow.

use std::path::Path;
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use timing::chart::Figure;
use timing::{cli, human, say};

use dataflow_engine::cleanup::TempDir;
use dataflow_engine::query::Output;
use dataflow_engine::spill::Spilled;
use dataflow_engine::table::{self, Shape};
use dataflow_engine::{Job, Query};

use crate::compare::{CSV_ROW, Contract, Measured, Took};
use crate::generate;
use crate::options::Resources;

/// `db-benchmark`'s options.
#[derive(clap::Args, Clone, Debug)]
pub struct Options {
    /// Rows of the data set (made once under the target folder, about 55 bytes a row).
    #[arg(long, default_value_t = 10_000_000, value_parser = cli::up_to::<1_000_000_000>,
          allow_hyphen_values = true)]
    rows: u64,
    /// K: the groups of id1, id2, id4 and id5 (id3 and id6 have rows/K: with K=1, a group
    /// of their own for nearly every two rows).
    #[arg(long, default_value_t = 100, value_parser = cli::up_to::<1_000_000_000>,
          allow_hyphen_values = true)]
    groups: u64,
    /// Only these questions, comma-separated: q1,q3 [default: q1-q7 and q10].
    #[arg(long, value_delimiter = ',', value_parser = question)]
    questions: Vec<usize>,
    /// Worker threads, memory and spill folder, as `groupby` takes them; with --vs-python the
    /// Python engines get as many threads, and DuckDB and a Dask LocalCluster the same
    /// --memory-limit.
    #[command(flatten)]
    workers: Resources,
    // Sources for Polars' and DuckDB's orders: beside `dataflow_engine::JobBuilder::sort`.
    /// Every answer in any order, as Polars and DuckDB give theirs unless asked: the dataflow
    /// unsorted in process, on the command line (groupby --no-sort) and from its Python module
    /// (sort=False); its answers checked with their lines sorted.
    #[arg(long)]
    no_sort: bool,
    #[command(flatten)]
    timed: cli::Timed<cli::VsPython>,
}

/// db-benchmark's group-by questions that are aggregations: name, keys, what is computed.
pub const QUESTIONS: [(&str, &str, &[&str]); 8] = [
    ("q1", "id1", &["v1:sum"]),
    ("q2", "id1,id2", &["v1:sum"]),
    ("q3", "id3", &["v1:sum", "v3:mean"]),
    ("q4", "id4", &["v1:mean", "v2:mean", "v3:mean"]),
    ("q5", "id6", &["v1:sum", "v2:sum", "v3:sum"]),
    ("q6", "id4,id5", &["v3:median,std"]),
    ("q7", "id3", &["v1:max", "v2:min"]),
    ("q10", "id1,id2,id3,id4,id5,id6", &["v3:sum", "size"]),
];

fn question(name: &str) -> Result<usize, String> {
    QUESTIONS.iter().position(|(n, _, _)| *n == name).ok_or_else(|| {
        let names: Vec<&str> = QUESTIONS.iter().map(|(n, _, _)| *n).collect();
        format!("no question {name:?} (there are {})", names.join(", "))
    })
}

fn query(i: usize) -> Query {
    let (_, by, specs) = QUESTIONS[i];
    let specs: Vec<String> = specs.iter().map(|s| (*s).to_owned()).collect();
    Query::parse(by, &specs, None).expect("the questions are valid queries")
}

/// `dataflow db-benchmark`.
pub fn command(o: &Options) -> ExitCode {
    let picture =
        timing::chart::Picture::for_svg(&o.timed.svg).unwrap_or_else(|e| cli::usage_error(e));
    let runs = o.timed.runs.or(3);
    let threads = o.workers.threads(timing::machine::cores());
    let chosen: Vec<usize> =
        if o.questions.is_empty() { (0..QUESTIONS.len()).collect() } else { o.questions.clone() };
    let folder = data_set_once(o.rows, o.groups);
    let pattern = format!("{}/*.csv", folder.display());
    let mut figure = Figure::new(format!(
        "dataflow: db-benchmark's group-by questions, {} rows, K={}",
        o.rows, o.groups
    ));
    figure.panel(format!("{} worker threads, end to end from the CSV files", threads));
    say!(
        "== db-benchmark's group-by questions on {} rows, K={} ({} worker threads; {}, end to end from the CSV{})",
        o.rows,
        o.groups,
        threads,
        timing::after_warmup(runs),
        if o.no_sort { "; every answer in any order, --no-sort" } else { "" }
    );
    let twin = crate::compare::twin(&o.timed.python);
    // With --vs-python each question is also run as a user runs it, from the command line.
    let command_line = twin.as_ref().map(|_| CommandLine::new(&o.workers, threads));
    let mut measured = Vec::new();
    for &i in &chosen {
        // The files are planned (their header read, their ranges cut) in every timed run:
        // end to end from the CSV, as each Python engine reads them.
        let plan = || {
            let job =
                o.workers.apply(Job::builder(query(i), std::slice::from_ref(&pattern)), threads);
            Arc::new(job.sort(!o.no_sort).build().unwrap_or_else(|e| cli::fail(e)))
        };
        let m = run_question(QUESTIONS[i].0, plan, runs, command_line.as_ref());
        figure.bar(&format!("{} {}", m.name, m.query), &m.stats);
        if let Some(took) = &m.command_line {
            figure.bar(&format!("{} {}", m.name, Contract::CsvFile.name()), &took.stats);
        }
        measured.push(m);
    }
    lesson(&measured, o.rows);
    if let Some(twin) = twin {
        say!();
        let setting = (threads, runs.min(3), o.workers.memory_limit, !o.no_sort);
        crate::compare::db_benchmark_vs_python(&twin, &measured, setting, &pattern, &mut figure);
    }
    if let Some(picture) = picture {
        figure.save(picture).unwrap_or_else(|e| cli::fail(e));
    }
    ExitCode::SUCCESS
}

/// The data set, made once under the target directory (in 4 files).
fn data_set_once(rows: u64, k: u64) -> std::path::PathBuf {
    let what = format!("db-benchmark's group-by data set, {rows} rows, K={k},");
    generate::once(&format!("db-benchmark-{rows}-{k}"), &what, rows, |folder, done| {
        generate::groupby(rows, k, (4, generate::GROUPBY_SEED), folder, done)
    })
}

/// One question, timed after a warm-up, with its peak memory (each run's, the largest) and
/// its answer; printed as one row as soon as it is measured. With `command_line`, then run
/// as a user runs it, its row below.
fn run_question(
    name: &'static str,
    plan: impl Fn() -> Arc<Job>,
    runs: usize,
    command_line: Option<&CommandLine<'_>>,
) -> Measured {
    let mut peak = 0;
    let mut spilled = Spilled::default();
    let mut kept = None;
    let mut in_columns = std::time::Duration::ZERO;
    let ((), stats) = timing::measure(runs, || {
        // The previous run's answer freed first, as the Python twins do: each peak is one run's.
        kept = None;
        timing::machine::reset_peak_memory();
        let job = plan();
        let answer = dataflow_engine::run(&job).unwrap_or_else(|e| cli::fail(e));
        // The answer in memory as the others hand theirs over: columns, a row a group - in key
        // order, which Polars and DuckDB do not promise, unless --no-sort.
        let started = std::time::Instant::now();
        let columns = answer.columns(&job.query).unwrap_or_else(|e| cli::fail(e));
        in_columns = started.elapsed();
        peak = peak.max(timing::machine::peak_memory().unwrap_or(0));
        spilled = answer.spilled;
        kept = Some((answer, std::hint::black_box(columns)));
    });
    let (answer, _) = kept.expect("a timed run");
    let job = plan();
    let groups = usize::try_from(answer.groups).expect("fewer groups than memory");
    let label = format!("{name} {}", job.query);
    let spill = if spilled.times > 0 {
        let (bytes, took) = (timing::bytes(spilled.bytes), human(spilled.took()));
        format!("  spilled {bytes} ({took} writing and reading)")
    } else {
        String::new()
    };
    say!(
        "{}  {:>10} groups  peak {:>6.0} MB{spill}",
        stats.line(&format!("{label:<44}")),
        groups,
        peak as f64 / 1e6
    );
    let order = if answer.in_key_order() { "in key order" } else { "in any order" };
    say!(
        "    {}; the answer as columns {order} {}",
        crate::report::profile_summary(&answer),
        human(in_columns)
    );
    // The answer as text, for the checks (seconds at millions of groups: a status line then).
    let ticker = timing::progress::Ticker::start(format!("{name}: its answer kept as text"));
    let text = crate::report::answer_text(&job, &answer);
    drop((answer, ticker));
    let command_line = command_line.map(|c| c.measure(name, &job, runs, &text));
    let query = job.query.clone();
    Measured { name, query, stats, peak, spilled, groups, answer: text, command_line }
}

/// What `--vs-python` says before the questions' rows.
const COMMAND_LINE_NOTE: &str = "(--vs-python: each question is also run as a user runs it, the row under it - this binary's `groupby FILES --by .. --agg .. --workers N > answer.csv` in a process of its own, from the CSV files to a CSV answer file, timed the same way; its peak is the process's resident high-water mark, read every 5 ms while it runs)";

/// How a question runs as a user runs it: this binary's `groupby`, with the resources the
/// in-process run had, its answer on stdout redirected to a file in `folder`.
pub struct CommandLine<'a> {
    resources: &'a crate::options::Resources,
    threads: usize,
    folder: TempDir,
}

impl CommandLine<'_> {
    /// The command line with `resources` on `threads` threads, its folder made; says so.
    fn new(resources: &crate::options::Resources, threads: usize) -> CommandLine<'_> {
        let folder = TempDir::new("hpc-rs-dataflow-command-line-")
            .unwrap_or_else(|e| cli::fail(format!("a temporary folder: {e}")));
        cli::paragraph("", COMMAND_LINE_NOTE);
        CommandLine { resources, threads, folder }
    }

    /// `job`'s question from the command line, timed as the in-process run (after a warm-up,
    /// the median of `runs`), its peak each run's largest; its answer file checked, outside
    /// the timed region, against the in-process `answer`; printed as one row.
    fn measure(&self, name: &str, job: &Job, runs: usize, answer: &str) -> Took {
        let written = self.folder.path().join("answer.csv");
        let errors = self.folder.path().join("stderr.txt");
        let mut peak = 0;
        let ((), stats) = timing::measure(runs, || {
            let create = |path: &Path| {
                std::fs::File::create(path)
                    .unwrap_or_else(|e| cli::fail(format!("{}: {e}", path.display())))
            };
            let mut command = self.command(job);
            command.stdin(Stdio::null()).stdout(create(&written)).stderr(create(&errors));
            let (status, run_peak) = run_to_end(&mut command)
                .unwrap_or_else(|e| cli::fail(format!("running this binary's groupby: {e}")));
            if !status.success() {
                let said = std::fs::read_to_string(&errors).unwrap_or_default();
                let last = said.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
                cli::fail(format!("{name}: `dataflow groupby` failed ({status}): {last}"));
            }
            peak = peak.max(run_peak);
        });
        same_answer(name, &written, answer, job.sort);
        let label = format!("    {CSV_ROW} groupby > answer.csv");
        let alike = if job.sort { "byte for byte" } else { "line for line, in any order" };
        say!(
            "{}  peak {:>6.0} MB  (its answer file: the one above, {alike})",
            stats.line(&format!("{label:<44}")),
            peak as f64 / 1e6
        );
        Took { stats, peak }
    }

    /// `dataflow groupby PATTERN --by .. --agg .. --workers N [--memory-limit B] [--spill-dir D]`.
    fn command(&self, job: &Job) -> Command {
        let exe = std::env::current_exe()
            .unwrap_or_else(|e| cli::fail(format!("this program's own path: {e}")));
        let mut command = Command::new(exe);
        command.arg("groupby").args(&job.patterns).args(job.query.to_args());
        command.args(["--workers".to_owned(), self.threads.to_string()]);
        if let Some(bytes) = self.resources.memory_limit {
            command.args(["--memory-limit".to_owned(), bytes.to_string()]);
        }
        if let Some(folder) = &self.resources.spill_dir {
            command.arg("--spill-dir").arg(folder);
        }
        if !job.sort {
            command.arg("--no-sort");
        }
        command
    }
}

/// Runs `command` to its end, with its peak resident memory: the high-water mark in
/// /proc/PID/status (VmHWM), read every 5 ms while it runs - std's `wait` does not return a
/// child's own peak, and a reading after its end finds none. Growth in its last 5 ms is missed.
fn run_to_end(command: &mut Command) -> std::io::Result<(ExitStatus, u64)> {
    let mut child = command.spawn()?;
    let status_file = format!("/proc/{}/status", child.id());
    // Dropped when the child has ended: the watcher wakes at once, not at its next reading,
    // so the timed run does not wait for it.
    let (ended, end) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let watcher = s.spawn(move || {
            let mut peak = 0;
            loop {
                peak = peak.max(high_water_mark(&status_file).unwrap_or(0));
                match end.recv_timeout(Duration::from_millis(5)) {
                    Err(RecvTimeoutError::Timeout) => {}
                    _ => return peak,
                }
            }
        });
        let status = child.wait();
        drop(ended);
        let peak = watcher.join().expect("the watcher only reads a file");
        status.map(|status| (status, peak))
    })
}

/// VmHWM of a /proc/PID/status, in bytes.
fn high_water_mark(status_file: &str) -> Option<u64> {
    let status = std::fs::read_to_string(status_file).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kib| kib * 1024)
}

/// An answer in any order as one in a set order: its header, then its other lines sorted (as
/// bytes), for the command line's check of `--no-sort`'s answers (the twin sorts every
/// engine's answer by key on its own).
fn lines_sorted(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    if let Some(rest) = lines.get_mut(1..) {
        rest.sort_unstable();
    }
    lines.iter().flat_map(|line| [line, "\n"]).collect()
}

/// Fails (a bug to see) where the command line's answer file is not the in-process answer:
/// byte for byte where both are `in_key_order`, else with the lines of each sorted.
fn same_answer(name: &str, written: &Path, answer: &str, in_key_order: bool) {
    let got = std::fs::read_to_string(written)
        .unwrap_or_else(|e| cli::fail(format!("{}: {e}", written.display())));
    let difference = if in_key_order {
        answer_difference(&got, answer)
    } else {
        answer_difference(&lines_sorted(&got), &lines_sorted(answer))
    };
    if let Some(difference) = difference {
        cli::fail(format!(
            "{name}: the command line's answer differs from the in-process one {difference}"
        ));
    }
}

/// Where `got` first differs from `want`, line by line: `at line 3: "b,2" against "b,3"`, or
/// `after line 2: 2 lines against 3`, or `in how its last line ends`; `None` where they are
/// the same.
fn answer_difference(got: &str, want: &str) -> Option<String> {
    if got == want {
        return None;
    }
    let mut pairs = got.lines().zip(want.lines()).enumerate();
    if let Some((line, (a, b))) = pairs.find(|(_, (a, b))| a != b) {
        return Some(format!("at line {}: {a:?} against {b:?}", line + 1));
    }
    let (got_lines, want_lines) = (got.lines().count(), want.lines().count());
    if got_lines == want_lines {
        return Some("in how its last line ends".to_owned());
    }
    Some(format!(
        "after line {}: {got_lines} lines against {want_lines}",
        got_lines.min(want_lines)
    ))
}

/// What the run says about the cost of a group-by as the groups grow: a row's cost (scan,
/// hash, probe) against a group's (its slots, and its share of the exchange and the sort);
/// what spilling cost; decomposable aggregates against the median.
fn lesson(measured: &[Measured], rows: u64) {
    let fewest = measured.iter().min_by_key(|m| m.groups);
    let most = measured.iter().max_by_key(|m| m.groups);
    say!();
    let (Some(few), Some(many)) = (fewest, most) else { return };
    cli::paragraph("", &row_cost(few, rows));
    if many.groups > 100 * few.groups.max(1) {
        cli::paragraph("", &group_cost(few, many));
    }
    let spilled: Vec<&Measured> = measured.iter().filter(|m| m.spilled.times > 0).collect();
    if let Some(m) = spilled.iter().max_by_key(|m| m.spilled.bytes) {
        cli::paragraph("", &spill_cost(m));
    }
    // Dask's grouped median shuffles: `median(split_out=True)` in
    // dask/dataframe/dask_expr/_groupby.py (2026.8).
    if let Some(median) = measured.iter().find(|m| {
        m.query.outputs.iter().any(|o| matches!(o, Output::Of { func, .. } if !func.decomposable()))
    }) {
        cli::paragraph(
            "",
            &format!(
                "count, sum, min, max, mean, var and std are decomposable: each worker keeps a few numbers a group, and partial answers merge in any order. The median is holistic: all of a group's values must meet in one place, so {} sends every value to its group's owner - which is why Dask's median needs a shuffle.",
                median.name
            ),
        );
    }
}

/// A row's cost, from the question with the fewest groups.
fn row_cost(few: &Measured, rows: u64) -> String {
    let per_row = few.stats.median.as_secs_f64() * 1e9 / rows.max(1) as f64;
    let row = format!("{} ({}) took {per_row:.0} ns a row", few.name, few.query);
    if few.groups <= table::PARTITION_AT {
        format!(
            "Where the groups are few, a row costs what the scan costs - its fields found, its key hashed, one probe in a table the cache holds, a few slots updated: {row} with {} groups.",
            few.groups
        )
    } else {
        format!(
            "Every question here has many groups: {row} with {} groups. A row then costs more than its scan - its probe and its group's slots lie past the cache, and every group is exchanged, sorted and printed; --groups 100 shows a row's cost where the groups are few.",
            few.groups
        )
    }
}

/// A group's cost: the time the question with the most groups took past the one with the
/// fewest, by its groups; its slots and its peak memory a group.
fn group_cost(few: &Measured, many: &Measured) -> String {
    let extra = many.stats.median.as_secs_f64() - few.stats.median.as_secs_f64();
    let shape = Shape::of(&many.query);
    format!(
        "A group costs its slots - {} bytes besides its key for {} - and its share of the exchange (each worker's partial groups sent to their owner by key hash) and of the final sort: {} ({}) has {} groups and took {} more than {}, about {:.0} ns a group; {:.1} million groups a second, and a peak of {:.0} bytes a group.",
        shape.bytes_a_group(),
        many.query,
        many.name,
        many.query,
        many.groups,
        human(std::time::Duration::from_secs_f64(extra.max(0.0))),
        few.name,
        extra.max(0.0) * 1e9 / many.groups as f64,
        many.groups as f64 / many.stats.median.as_secs_f64() / 1e6,
        many.peak as f64 / many.groups as f64
    )
}

/// What spilling cost the question that spilled most: every worker's time spilling, added up.
/// Dask's thresholds: distributed.worker.memory.target/spill/pause/terminate, 0.60, 0.70,
/// 0.80 and 0.95 in distributed/distributed.yaml (2026.8).
fn spill_cost(m: &Measured) -> String {
    format!(
        "Spilling: a worker whose groups outgrow its share of --memory-limit writes them out, partitioned by key hash, and reads each partition back alone at the end, so memory holds one partition's groups at a time. The data is written once and read once - the work stays linear in it: {} ({}) spilled {} and spent {} of worker time (every worker's, added up) writing and reading it, in a run of {}. A median spills every value with its group, where a sum spills a few numbers. Dask's workers spill too: from 60% of their memory limit (its target), 70% counted by the process (spill), pausing at 80% and restarted by their nanny at 95%.",
        m.name,
        m.query,
        timing::bytes(m.spilled.bytes),
        human(m.spilled.took()),
        human(m.stats.median)
    )
}

#[cfg(test)]
mod tests {
    use super::answer_difference;

    #[test]
    fn a_command_line_answer_that_differs_is_shown_where() {
        let want = "id1,v1_sum\na,1\nb,2\n";
        assert_eq!(answer_difference(want, want), None);
        assert_eq!(
            answer_difference("id1,v1_sum\na,1\nb,3\n", want).unwrap(),
            "at line 3: \"b,3\" against \"b,2\""
        );
        assert_eq!(
            answer_difference("id1,v1_sum\na,1\n", want).unwrap(),
            "after line 2: 2 lines against 3"
        );
        // Only the last line's end differs: still not the same answer.
        assert_eq!(
            answer_difference("id1,v1_sum\na,1\nb,2", want).unwrap(),
            "in how its last line ends"
        );
    }
}

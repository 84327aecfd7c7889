//! `dataflow db-benchmark`: the group-by questions that every data-frame engine is compared on
//! (duckdblabs/db-benchmark: 1e7 rows by default, K = 100 groups), asked of the dataflow end to
//! end from the CSV files; with `--vs-python`, Polars' streaming engine, DuckDB, pandas and
//! Dask on the same files and the same questions, each answer checked against Rust's outside
//! the timed region. Then what the figures say about a group-by's cost as groups grow.

use std::process::ExitCode;
use std::sync::Arc;

use timing::chart::Figure;
use timing::{cli, human, say};

use dataflow_engine::query::Output;
use dataflow_engine::spill::Spilled;
use dataflow_engine::table::{self, Shape};
use dataflow_engine::{Job, Query};

use crate::compare::Measured;
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
        "== db-benchmark's group-by questions on {} rows, K={} ({} worker threads; {}, end to end from the CSV)",
        o.rows,
        o.groups,
        threads,
        timing::after_warmup(runs)
    );
    let mut measured = Vec::new();
    for &i in &chosen {
        // The files are planned (their header read, their ranges cut) in every timed run:
        // end to end from the CSV, as each Python engine reads them.
        let plan = || {
            let job =
                o.workers.apply(Job::builder(query(i), std::slice::from_ref(&pattern)), threads);
            Arc::new(job.build().unwrap_or_else(|e| cli::fail(e)))
        };
        let m = run_question(QUESTIONS[i].0, plan, runs);
        figure.bar(&format!("{} {}", m.name, m.query), &m.stats);
        measured.push(m);
    }
    lesson(&measured, o.rows);
    if let Some(twin) = crate::compare::twin(&o.timed.python) {
        say!();
        let setting = (threads, runs.min(3), o.workers.memory_limit);
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
/// its answer; printed as one row as soon as it is measured.
fn run_question(name: &'static str, plan: impl Fn() -> Arc<Job>, runs: usize) -> Measured {
    let mut peak = 0;
    let mut spilled = Spilled::default();
    let mut kept = None;
    let ((), stats) = timing::measure(runs, || {
        // The previous run's answer freed first, as the Python twins do: each peak is one run's.
        kept = None;
        timing::machine::reset_peak_memory();
        let job = plan();
        let answer = dataflow_engine::run(&job).unwrap_or_else(|e| cli::fail(e));
        peak = peak.max(timing::machine::peak_memory().unwrap_or(0));
        spilled = answer.spilled;
        kept = Some(answer);
    });
    let answer = kept.expect("a timed run");
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
    say!("    {}", crate::report::profile_summary(&answer));
    // The answer as text, for the checks (seconds at millions of groups: a status line then).
    let ticker = timing::progress::Ticker::start(format!("{name}: its answer kept as text"));
    let text = crate::report::answer_text(&job, &answer);
    drop((answer, ticker));
    Measured { name, query: job.query.clone(), stats, peak, spilled, groups, answer: text }
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

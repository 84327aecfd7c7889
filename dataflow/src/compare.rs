//! The same group-by in Python, beside the dataflow's: pandas, Dask (threads and a
//! LocalCluster), Polars' streaming engine and DuckDB on the same files - for the default run,
//! for `groupby --vs-python` and for `db-benchmark --vs-python` - each engine in a fresh Python
//! process (`python/engines.py`), every answer checked against Rust's outside the timed region.

use std::sync::Arc;

use dataflow_engine::query::{Func, Output as Column};
use dataflow_engine::spill::Spilled;
use dataflow_engine::{Answer, Job, Query};
use timing::chart::Figure;
use timing::python::Twin;
use timing::{Stats, cli, human, say};

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
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/twin.py");
    python.enabled.then(|| Twin::new(script, PACKAGES, python))
}

/// One db-benchmark question's run, as its row and the Python engines' stand side by side.
pub struct Measured {
    pub name: &'static str,
    pub query: Query,
    pub stats: Stats,
    pub peak: u64,
    /// What the last run spilled.
    pub spilled: Spilled,
    pub groups: usize,
    pub answer: String,
}

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

    /// The Rust row this engine's row stands beside, of `[1 worker, the worker threads, the
    /// processes]`: 1 worker for the engines on one thread (pandas has no other), the
    /// processes for Dask's cluster, the worker threads for the rest.
    fn beside<'a>(self, [one, all, processes]: [(&'a str, &'a Stats); 3]) -> (&'a str, &'a Stats) {
        match self {
            Engine::Pandas | Engine::Polars1 | Engine::Duckdb1 => one,
            Engine::DaskCluster => processes,
            Engine::DaskThreads | Engine::PolarsAll | Engine::DuckdbAll => all,
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
pub fn with_python(
    twin: &Twin<'_>,
    job: &Job,
    reference: &str,
    (runs, cores): (usize, usize),
    [one, all, processes]: [&Stats; 3],
    figure: &mut Figure,
) {
    let threads = timing::plural(cores, "worker thread");
    let rows = [("1 worker", one), (threads.as_str(), all), ("2 processes", processes)];
    let rust = |engine: Engine| engine.beside(rows);
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
    say_how_rust_stands(|rust: &Stats, engine| rust.speedup_over(of(engine)), [one, all], cores);
}

/// The default run's sentences on its Python rows: 1 worker against Dask's threads, each Rust
/// row against Polars and DuckDB on as many threads, and whether Rust won every row; `ratio`
/// sets a Rust row against an engine's.
fn say_how_rust_stands(
    ratio: impl Fn(&Stats, Engine) -> timing::Ratio,
    [one, all]: [&Stats; 2],
    cores: usize,
) {
    let threads = timing::plural(cores, "worker thread");
    let against = |rust: &Stats, engine| ratio(rust, engine).sentence("faster", "slower");
    let cores_text = timing::plural(cores, "core");
    cli::paragraph(
        "",
        &format!(
            // pandas' read_csv makes the whole frame, and the twin concatenates every file's
            // (engines.py, pandas_engine) before its groupby.
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
        // Polars is written in Rust (its README), DuckDB in C++ (its README).
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
    measured: &[Measured],
    (threads, runs, memory): (usize, usize, Option<u64>),
    pattern: &str,
    figure: &mut Figure,
) {
    let questions: Vec<Question<'_>> = measured
        .iter()
        .map(|m| Question { name: m.name, query: &m.query, answer: &m.answer })
        .collect();
    let label =
        |m: &Measured| format!("{} dataflow, {}", m.name, timing::plural(threads, "worker thread"));
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
    say_the_table(measured, &python, &engines, threads);
}

/// db-benchmark's table: a question a row, each engine's median and peak memory in a column,
/// and under each row how the dataflow stands against the faster of Polars and DuckDB.
fn say_the_table(
    measured: &[Measured],
    python: &[timing::python::Measured],
    engines: &[Engine],
    threads: usize,
) {
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
        for &e in engines {
            let prefix = format!("{} {}", m.name, e.label(threads));
            let row = python.iter().find(|p| p.label.starts_with(&prefix));
            let cell = row.map_or_else(
                || "-".to_owned(),
                |p| {
                    let peak = peak_in(&p.label).unwrap_or(0.0) / 1e6;
                    format!("{} {peak:.0} MB", human(p.stats.median))
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
            say!("    against {}: {}", faster_named(m, python, name), m.stats.speedup_over(stats));
        }
    }
}

/// The engine a db-benchmark row is set against: the faster of Polars and DuckDB, or the only
/// one of them that answered the question.
fn faster_named(m: &Measured, python: &[timing::python::Measured], name: &str) -> String {
    let answered = ["Polars streaming", "DuckDB"].iter().filter(|e| {
        let prefix = format!("{} {e}", m.name);
        python.iter().any(|p| p.label.starts_with(&prefix))
    });
    if answered.count() == 2 {
        format!("the faster of Polars and DuckDB ({name})")
    } else {
        format!("{name}, the only one of Polars and DuckDB that answered")
    }
}

/// `groupby --vs-python`: the run above was the warm-up (it read the files into the page
/// cache); then 1 worker and `--workers` threads, each timed once, warm, stand beside the
/// Python engines on as many threads.
pub fn groupby_vs_python(job: &Arc<Job>, answer: &Answer, python: &cli::VsPython) {
    let Some(twin) = twin(python) else { return };
    let reference = crate::report::answer_text(job, answer);
    let warm = |threads: usize| {
        let (again, took) = timing::time_call(|| dataflow_engine::run_on_threads(job, threads));
        let again = again.unwrap_or_else(|e| cli::fail(e));
        assert_eq!(crate::report::answer_text(job, &again), reference, "the same answer, warm");
        Stats::from_samples(&[took])
    };
    let (one, all) = (warm(1), warm(job.threads));
    let all_label = timing::plural(job.threads, "worker thread");
    say!("(Rust: one warm run each of 1 worker and {all_label} after the one above)");
    // No processes here: Dask's cluster stands beside the worker threads.
    let rows = [("1 worker", &one), (all_label.as_str(), &all), (all_label.as_str(), &all)];
    let rust = |_, e: Engine| e.beside(rows);
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

#[cfg(test)]
mod tests {
    use super::{Engine, checked_sentence, failed_sentence};
    use dataflow_engine::Query;

    #[test]
    fn an_engine_that_failed_is_named_in_a_sentence() {
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
}

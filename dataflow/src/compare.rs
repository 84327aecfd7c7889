//! The same group-by in Python, beside the dataflow's: pandas, Dask (threads and a
//! LocalCluster), Polars' streaming engine and DuckDB on the same files - for the default run,
//! for `groupby --vs-python` and for `db-benchmark --vs-python` - each engine in a fresh Python
//! process (`python/engines.py`), every answer checked against Rust's outside the timed region.
//! db-benchmark times each engine in two contracts ([`Contract`]): the answer in memory, and
//! from the CSV files to a CSV answer file.

use std::sync::Arc;

use dataflow_engine::query::{Func, Output as Column};
use dataflow_engine::spill::Spilled;
use dataflow_engine::{Answer, Job, Query};
use timing::chart::Figure;
use timing::python::Twin;
use timing::{Stats, cli, human, say};

/// The packages the twins import, from python/requirements.txt: the one list that pip, this
/// binary and its tests read (the Dask pin is explained there).
static PACKAGES: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    timing::python_env::requirements(include_str!("../python/requirements.txt"))
});

/// The twin of `--vs-python`, where it was asked for.
pub fn twin(python: &cli::VsPython) -> Option<Twin<'_>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/twin.py");
    python.enabled.then(|| Twin::new(script, &PACKAGES, python))
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
    /// The same question from the command line, CSV files to a CSV answer file (with
    /// `--vs-python`).
    pub command_line: Option<Took>,
}

/// A contract's timings and peak memory (each run's, the largest).
pub struct Took {
    pub stats: Stats,
    pub peak: u64,
}

/// How an engine hands over its answer: in memory (the dataflow's `Answer`, a Polars or pandas
/// frame, DuckDB's Arrow table), or as a user runs it - from the CSV files to a CSV answer file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contract {
    InMemory,
    CsvFile,
}

impl Contract {
    /// db-benchmark's: both, side by side.
    const BOTH: [Contract; 2] = [Contract::InMemory, Contract::CsvFile];

    /// As the twin takes it (`engines.py`'s QUESTIONS).
    fn id(self) -> &'static str {
        match self {
            Contract::InMemory => "memory",
            Contract::CsvFile => "csv",
        }
    }

    /// As the table says it.
    pub fn name(self) -> &'static str {
        match self {
            Contract::InMemory => "in memory",
            Contract::CsvFile => "CSV to CSV",
        }
    }

    /// The start of a row's label: `q1 Polars streaming, 2 threads` in memory, `q1 CSV to
    /// CSV: Polars streaming, 2 threads` to a file (`what` alone where `question` is empty).
    fn row(self, question: &str, what: &str) -> String {
        let contract = match self {
            Contract::InMemory => "",
            Contract::CsvFile => CSV_ROW,
        };
        [question, contract, what]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The contract of a twin's row, from its label.
    fn of(label: &str) -> Contract {
        if label.contains(CSV_ROW) { Contract::CsvFile } else { Contract::InMemory }
    }
}

/// What a CSV row's label says after the question's name, as engines.py's CSV_ROW says it.
pub const CSV_ROW: &str = "CSV to CSV:";

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
    /// This engine from Python: the module `hpc_rs_dataflow` (dataflow/extension), its answer
    /// in memory as Arrow; db-benchmark's, where it could be built.
    Module,
    /// The module with `sort=False`: db-benchmark's with `--no-sort`.
    ModuleAnyOrder,
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
    /// db-benchmark's: each engine once, on as many threads as the dataflow (and the module,
    /// where it could be built).
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
            Engine::Module => "module",
            Engine::ModuleAnyOrder => "module-any",
        }
    }

    /// The Rust row this engine's row stands beside, of `[1 worker, the worker threads, the
    /// processes]`: 1 worker for the engines on one thread (pandas has no other), the
    /// processes for Dask's cluster, the worker threads for the rest.
    fn beside<'a>(self, [one, all, processes]: [(&'a str, &'a Stats); 3]) -> (&'a str, &'a Stats) {
        match self {
            Engine::Pandas | Engine::Polars1 | Engine::Duckdb1 => one,
            Engine::DaskCluster => processes,
            Engine::DaskThreads
            | Engine::PolarsAll
            | Engine::DuckdbAll
            | Engine::Module
            | Engine::ModuleAnyOrder => all,
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
            Engine::Module => format!("hpc_rs_dataflow, {}", on(threads)),
            Engine::ModuleAnyOrder => format!("hpc_rs_dataflow sort=False, {}", on(threads)),
        }
    }
}

/// A question for the twin: its name (the prefix of its rows' labels), the query, Rust's
/// answer as CSV, and the contracts each engine is timed in.
struct Question<'a> {
    name: &'a str,
    query: &'a Query,
    answer: &'a str,
    contracts: &'a [Contract],
}

/// The Rust row a Python row stands beside, if any: `rust(question, contract, engine)`.
type RustRow<'r> = Option<(&'r str, &'r Stats)>;

/// Runs the twin: each of `engines` on each question in each of its contracts, on `threads`
/// threads, `runs` times after a warm-up, each engine in a fresh Python process; every answer
/// checked against Rust's (outside the timed region). Each Python row is set beside the Rust
/// row `rust(question, contract, engine)`.
fn ask_twin<'r>(
    twin: &Twin<'_>,
    questions: &[Question<'_>],
    engines: &[Engine],
    (threads, runs, sep, memory): (usize, usize, u8, Option<u64>),
    patterns: &[String],
    rust: impl Fn(usize, Contract, Engine) -> RustRow<'r>,
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
        let contracts: Vec<&str> = q.contracts.iter().map(|c| c.id()).collect();
        let (keys, specs) = (q.query.keys.join(","), q.query.specs().join("+"));
        format!("{}|{keys}|{specs}|{}", q.name, contracts.join(","))
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
    let rust = &rust;
    let labels: Vec<(String, RustRow<'_>)> = questions
        .iter()
        .enumerate()
        .flat_map(|(i, q)| {
            q.contracts.iter().flat_map(move |&contract| {
                engines
                    .iter()
                    .map(move |&e| (contract.row(q.name, &e.label(threads)), rust(i, contract, e)))
            })
        })
        .collect();
    let pairs: Vec<(&str, RustRow<'_>)> =
        labels.iter().map(|(prefix, row)| (prefix.as_str(), *row)).collect();
    say!(
        "== the same in Python: {} (each engine in a fresh Python process for each contract; this takes a while)",
        engines.iter().map(|e| e.label(threads)).collect::<Vec<_>>().join("; ")
    );
    let report = timing::python::compare_by_label(twin, &args, &pairs, figure)
        .unwrap_or_else(|e| cli::fail(e))?;
    // The twin checks each answer against Rust's, outside its timed region.
    let queries: Vec<&Query> = questions.iter().map(|q| q.query).collect();
    let files = report.measured.iter().filter(|p| Contract::of(&p.label) == Contract::CsvFile);
    let answers = (report.measured.len(), files.count());
    cli::paragraph("", &checked_sentence(answers, &queries));
    Some(report.measured)
}

/// What the twin compared, from the outputs the questions asked for: the groups always; sizes,
/// counts, min and max exactly; the rest within 1e-9 relative (engines other than this one sum
/// floats in their own order and round each step). `answers`: how many, and how many of them
/// were CSV files read back.
fn checked_sentence((answers, files): (usize, usize), queries: &[&Query]) -> String {
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
    let whose = match (answers, files) {
        (1, 0) => "the Python answer".to_owned(),
        (_, 0) => format!("each of the {answers} Python answers"),
        _ => format!(
            "each of the {answers} Python answers ({} in memory, {} written to CSV files and read back)",
            answers - files,
            files
        ),
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
    let rust = |_, _, engine: Engine| Some(engine.beside(rows));
    let question = [Question {
        name: "",
        query: &job.query,
        answer: reference,
        contracts: &[Contract::InMemory],
    }];
    let setting = (cores, runs.min(2), job.sep, None);
    let Some(python) =
        ask_twin(twin, &question, &Engine::ALL, setting, &job.patterns, rust, figure)
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
/// question, each in both contracts - the answer in memory, and from the CSV files to a CSV
/// answer file - then a table of every engine's time and peak memory by question and
/// contract, and how the dataflow stands against the faster of Polars and DuckDB in each.
pub fn db_benchmark_vs_python(
    twin: &Twin<'_>,
    measured: &[Measured],
    (threads, runs, memory, sort): (usize, usize, Option<u64>, bool),
    pattern: &str,
    figure: &mut Figure,
) {
    let questions: Vec<Question<'_>> = measured
        .iter()
        .map(|m| Question {
            name: m.name,
            query: &m.query,
            answer: &m.answer,
            contracts: &Contract::BOTH,
        })
        .collect();
    let dataflow = format!("dataflow, {}", timing::plural(threads, "worker thread"));
    let labels: Vec<[String; 2]> =
        measured.iter().map(|m| Contract::BOTH.map(|c| c.row(m.name, &dataflow))).collect();
    let rust = |i: usize, contract: Contract, _| {
        let label = labels[i][usize::from(contract == Contract::CsvFile)].as_str();
        dataflow_cell(&measured[i], contract).map(|(stats, _)| (label, stats))
    };
    let setting = (threads, runs, b',', memory);
    let patterns = [pattern.to_owned()];
    // Under a memory limit, Dask's LocalCluster (whose workers take one) rather than its threads.
    let mut engines = Engine::ON_ALL_THREADS.to_vec();
    if memory.is_some() {
        engines[3] = Engine::DaskCluster;
    }
    if timing::python_env::ensure_module(twin.python(), &PACKAGES, &MODULE) {
        engines.push(if sort { Engine::Module } else { Engine::ModuleAnyOrder });
    }
    let Some(python) = ask_twin(twin, &questions, &engines, setting, &patterns, rust, figure)
    else {
        return;
    };
    say!();
    say_the_table(measured, &python, &engines, threads);
}

/// The dataflow's timings and peak in a contract: in process, or from the command line.
fn dataflow_cell(m: &Measured, contract: Contract) -> Option<(&Stats, u64)> {
    match contract {
        Contract::InMemory => Some((&m.stats, m.peak)),
        Contract::CsvFile => m.command_line.as_ref().map(|t| (&t.stats, t.peak)),
    }
}

/// A table cell: `16.0 ms 8 MB`, from a median and a peak in bytes.
fn cell((stats, peak): (&Stats, f64)) -> String {
    format!("{} {:.0} MB", human(stats.median), peak / 1e6)
}

/// db-benchmark's table: two rows a question - the answer in memory, and CSV files to a CSV
/// answer file - each engine's median and peak memory in a column, and under each question how
/// the dataflow stands against the faster of Polars and DuckDB in each contract.
fn say_the_table(
    measured: &[Measured],
    python: &[timing::python::Measured],
    engines: &[Engine],
    threads: usize,
) {
    let mut header = format!("{:<34}{:>WIDTH$}", "(median, peak)", "dataflow");
    for e in engines {
        let name = e.label(threads);
        header += &format!("  {:>w$}", name.split(',').next().unwrap_or_default(), w = WIDTH + 9);
    }
    say!("{header}");
    for m in measured {
        let rows: Vec<(String, Option<String>)> = Contract::BOTH
            .iter()
            .filter_map(|&contract| table_row(m, contract, python, (engines, threads)))
            .collect();
        let verdicts = rows.iter().filter_map(|(_, verdict)| verdict.as_ref());
        for line in rows.iter().map(|(line, _)| line).chain(verdicts) {
            say!("{line}");
        }
    }
}

/// A question's row of the table in one contract, and the sentence that sets the dataflow
/// against the faster of Polars and DuckDB there (none where neither answered); no row where
/// the dataflow was not run in that contract.
fn table_row(
    m: &Measured,
    contract: Contract,
    python: &[timing::python::Measured],
    (engines, threads): (&[Engine], usize),
) -> Option<(String, Option<String>)> {
    let dataflow = dataflow_cell(m, contract)?;
    let question = match contract {
        Contract::InMemory => format!("{} ({} groups)", m.name, m.groups),
        Contract::CsvFile => String::new(),
    };
    let what = contract.name();
    let mut line =
        format!("{question:<22}{what:<12}{:>WIDTH$}", cell((dataflow.0, dataflow.1 as f64)));
    let mut fastest: Option<(&str, &Stats)> = None;
    for &e in engines {
        let row = python_row(python, m.name, contract, e, threads);
        let text = row
            .map_or_else(|| "-".to_owned(), |p| cell((&p.stats, peak_in(&p.label).unwrap_or(0.0))));
        line += &format!("  {text:>w$}", w = WIDTH + 9);
        let name = match e {
            Engine::PolarsAll => "Polars",
            Engine::DuckdbAll => "DuckDB",
            _ => continue,
        };
        if let Some(p) = row.filter(|p| fastest.is_none_or(|(_, f)| p.stats.median < f.median)) {
            fastest = Some((name, &p.stats));
        }
    }
    let verdict = fastest.map(|(name, stats)| {
        let against = faster_named(m, python, contract, name);
        format!("    {what}, against {against}: {}", dataflow.0.speedup_over(stats))
    });
    Some((line, verdict))
}

/// The width of the table's dataflow column (each engine's is 9 wider, for its longer name).
const WIDTH: usize = 12;

/// The twin's row for `engine` on question `name` in `contract`, if it answered.
fn python_row<'p>(
    python: &'p [timing::python::Measured],
    name: &str,
    contract: Contract,
    engine: Engine,
    threads: usize,
) -> Option<&'p timing::python::Measured> {
    let prefix = contract.row(name, &engine.label(threads));
    python.iter().find(|p| p.label.starts_with(&prefix))
}

/// The engine a db-benchmark row is set against: the faster of Polars and DuckDB, or the only
/// one of them that answered the question in that contract.
fn faster_named(
    m: &Measured,
    python: &[timing::python::Measured],
    contract: Contract,
    name: &str,
) -> String {
    let answered = ["Polars streaming", "DuckDB"].iter().filter(|e| {
        let prefix = contract.row(m.name, e);
        python.iter().any(|p| p.label.starts_with(&prefix))
    });
    if answered.count() == 2 {
        format!("the faster of Polars and DuckDB ({name})")
    } else {
        format!("{name}, the only one of Polars and DuckDB that answered")
    }
}

/// The engine's Python module (a PyO3 crate that maturin builds), `hpc_rs_dataflow`: built
/// from this working tree into the twins' own environment, or looked for in a Python the user
/// named (timing::python_env::ensure_module).
const MODULE: timing::python_env::Module<'static> = timing::python_env::Module {
    folder: concat!(env!("CARGO_MANIFEST_DIR"), "/extension"),
    name: "hpc_rs_dataflow",
    times: "this engine",
    aside: "; it hands its answer over in memory, as Arrow - its CSV-to-CSV row is the command line's, the dataflow column",
};

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
    let rust = |_, _, e: Engine| Some(e.beside(rows));
    // groupby draws nothing (it runs once): the comparison's pairs go to a figure not written.
    let mut unseen = Figure::new("");
    let question = [Question {
        name: "",
        query: &job.query,
        answer: &reference,
        contracts: &[Contract::InMemory],
    }];
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
    use super::{Contract, Engine, Measured, Took, checked_sentence, failed_sentence, table_row};
    use dataflow_engine::Query;
    use std::time::Duration;

    /// A twin's row: its label and one run's time.
    fn row(label: &str, ms: u64) -> timing::python::Measured {
        timing::python::Measured {
            label: label.to_owned(),
            stats: timing::Stats::from_samples(&[Duration::from_millis(ms)]),
        }
    }

    #[test]
    fn an_engine_that_failed_is_named_in_a_sentence() {
        let row = |label: &str| row(label, 5);
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
            checked_sentence((5, 0), &[&user]),
            "checked: each of the 5 Python answers has Rust's groups and sizes exactly, and its sums, means and medians within 1e-9 relative."
        );
        let extremes = ["v1:max".to_owned(), "v2:min".to_owned()];
        let q7 = Query::parse("id3", &extremes, None).unwrap();
        assert_eq!(
            checked_sentence((1, 0), &[&q7]),
            "checked: the Python answer has Rust's groups and maximums and minimums exactly."
        );
        let sums = Query::parse("id1", &["v1:sum".to_owned()], None).unwrap();
        assert_eq!(
            checked_sentence((2, 0), &[&sums, &q7]),
            "checked: each of the 2 Python answers has Rust's groups and maximums and minimums exactly, and its sums within 1e-9 relative."
        );
    }

    #[test]
    fn the_checked_sentence_counts_the_csv_answers_apart() {
        let sums = Query::parse("id1", &["v1:sum".to_owned()], None).unwrap();
        assert_eq!(
            checked_sentence((8, 4), &[&sums]),
            "checked: each of the 8 Python answers (4 in memory, 4 written to CSV files and read back) has Rust's groups, and its sums within 1e-9 relative."
        );
    }

    #[test]
    fn a_csv_row_is_labelled_and_told_apart_by_its_contract() {
        let polars = Engine::PolarsAll.label(2);
        assert_eq!(Contract::InMemory.row("q1", &polars), "q1 Polars streaming, 2 threads");
        let csv = Contract::CsvFile.row("q1", &polars);
        assert_eq!(csv, "q1 CSV to CSV: Polars streaming, 2 threads");
        assert_eq!(Contract::CsvFile.row("", "pandas"), "CSV to CSV: pandas");
        assert_eq!(Contract::of(&format!("{csv} [50 MB]")), Contract::CsvFile);
        assert_eq!(Contract::of("q1 Polars streaming, 2 threads [50 MB]"), Contract::InMemory);
    }

    /// Each contract's sentence is chosen from its own rows: the faster of Polars and DuckDB
    /// in memory need not be the faster to a CSV file, and the dataflow's row in each contract
    /// is set against it.
    #[test]
    fn each_contract_s_row_and_sentence_come_from_its_own_numbers() {
        let ms = |n| timing::Stats::from_samples(&[Duration::from_millis(n)]);
        let m = Measured {
            name: "q1",
            query: Query::parse("id1", &["v1:sum".to_owned()], None).unwrap(),
            stats: ms(10),
            peak: 8_000_000,
            spilled: Default::default(),
            groups: 100,
            answer: String::new(),
            command_line: Some(Took { stats: ms(40), peak: 9_000_000 }),
        };
        let python = [
            row("q1 Polars streaming, 2 threads [50 MB]", 20),
            row("q1 DuckDB, 2 threads [70 MB]", 30),
            row("q1 CSV to CSV: Polars streaming, 2 threads [51 MB]", 50),
            row("q1 CSV to CSV: DuckDB, 2 threads [68 MB]", 20),
        ];
        let engines = [Engine::PolarsAll, Engine::DuckdbAll, Engine::Pandas];
        let (line, verdict) = table_row(&m, Contract::InMemory, &python, (&engines, 2)).unwrap();
        assert!(line.starts_with("q1 (100 groups)       in memory"), "{line}");
        assert!(line.contains("10.0 ms 8 MB") && line.contains("20.0 ms 50 MB"), "{line}");
        assert!(line.trim_end().ends_with('-'), "pandas did not answer: {line}");
        assert_eq!(
            verdict.unwrap(),
            "    in memory, against the faster of Polars and DuckDB (Polars): -> 2.00x faster"
        );
        let (line, verdict) = table_row(&m, Contract::CsvFile, &python, (&engines, 2)).unwrap();
        assert!(line.starts_with("                      CSV to CSV"), "{line}");
        assert!(line.contains("40.0 ms 9 MB") && line.contains("20.0 ms 68 MB"), "{line}");
        assert_eq!(
            verdict.unwrap(),
            "    CSV to CSV, against the faster of Polars and DuckDB (DuckDB): -> 2.00x slower"
        );
        // Only Polars wrote a file: it is named as the only one; no command line, no row.
        let (_, verdict) = table_row(&m, Contract::CsvFile, &python[..3], (&engines, 2)).unwrap();
        assert_eq!(
            verdict.unwrap(),
            "    CSV to CSV, against Polars, the only one of Polars and DuckDB that answered: -> 1.25x faster"
        );
        let no_command_line = Measured { command_line: None, ..m };
        assert!(table_row(&no_command_line, Contract::CsvFile, &python, (&engines, 2)).is_none());
    }
}

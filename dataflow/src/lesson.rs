//! The dataflow itself, written out small: Dask's `read_csv(files).groupby(keys).agg(...)` as a
//! timely dataflow a learner reads whole. Every worker - a thread, or a process of a cluster -
//! runs [`one_worker`]:
//! 1. **read** its partitions (here a file is a partition; Dask's read_csv cuts blocks of at
//!    most 64 MB - `auto_blocksize` in dask/dataframe/io/csv.py, 2026.8) and
//!    **pre-aggregate** them: each row into its group, in a hash map;
//! 2. **exchange** each group to the worker that owns its key's hash (timely's `exchange`,
//!    Dask's hash shuffle), so every key ends up in one place;
//! 3. **merge** what arrives into the groups it owns;
//! 4. **gather** its finished lines at worker 0, which sorts them: `compute()`.
//!
//! A group here travels as every one of its values - as Dask shuffles the rows for a median
//! (`median(split_out=True)` in dask/dataframe/dask_expr/_groupby.py, 2026.8) - so the
//! aggregates can be computed at the end, exactly, by the engine's `agg::of_all_values`. The
//! engine (`dataflow_engine`) sends a few numbers a group instead, and adds the rest that
//! the default run measures. Rows the engine refuses (a wrong width, a value that is no
//! number) are skipped here, as `groupby --skip-bad` skips them; rows with a missing key are
//! left out, as pandas' `dropna=True` leaves them.

pub mod processes;

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::rc::Rc;

use dataflow_engine::Query;
use dataflow_engine::agg::of_all_values;
use dataflow_engine::output::{csv_field, write_header};
use dataflow_engine::query::Output;
use dataflow_engine::scan::{is_missing, parse_value};
use timely::communication::Config as Communication;
use timely::dataflow::operators::{Exchange, Input, Inspect, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};
use timely::worker::Worker;

/// A group's key: the field of each key column, as the file holds it.
type Key = Vec<Vec<u8>>;

/// A group as it travels: its rows, and every value of each value column.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Group {
    size: u64,
    values: Vec<Vec<f64>>,
}

/// The question and where it is asked: every worker gets a copy.
#[derive(Clone)]
pub struct Small {
    pub files: Vec<PathBuf>,
    pub query: Query,
    pub sep: u8,
}

/// Where the workers are: threads of this process, or process `index` of a cluster whose
/// processes listen on `addresses` (timely connects them itself: `processes`).
pub enum Where {
    Threads(usize),
    Process { index: usize, addresses: Vec<String> },
}

/// Runs the small dataflow: the answer as CSV in key order (in process 0; `None` in the other
/// processes of a cluster), or why there is none.
pub fn group_by(small: &Small, workers: Where) -> Result<Option<String>, String> {
    let communication = match workers {
        Where::Threads(n) => Communication::Process(n),
        Where::Process { index, addresses } => Communication::Cluster {
            threads: 1,
            process: index,
            addresses,
            report: false,
            zerocopy: false,
        },
    };
    let config = timely::Config { communication, worker: timely::WorkerConfig::default() };
    let small = small.clone();
    let guards = timely::execute(config, move |worker| one_worker(worker, &small))?;
    let mut answer = None;
    for result in guards.join() {
        answer = answer.or(result??); // a worker that failed, or could not run, fails the run
    }
    Ok(answer)
}

/// Steps 1 to 4 on one worker; worker 0 returns the answer, a worker whose files could not be
/// read the reason.
fn one_worker(worker: &mut Worker, small: &Small) -> Result<Option<String>, String> {
    let owned: Rc<RefCell<HashMap<Key, Group>>> = Rc::default();
    let gathered: Rc<RefCell<Vec<(Key, String)>>> = Rc::default();
    // Both dataflows built first, the same on every worker, as timely asks.
    let (partials, merged) = worker.dataflow::<u64, _, _>(|scope| {
        let (input, groups) = scope.new_input::<Vec<(Key, Group)>>();
        let mine = Rc::clone(&owned);
        let probe = groups
            .exchange(|(key, _): &(Key, Group)| owner(key)) // 2. to the key's owner
            .inspect(move |(key, group): &(Key, Group)| merge(&mut mine.borrow_mut(), key, group))
            .probe() // 3. merged there
            .0;
        (input, probe)
    });
    let (lines, all_here) = worker.dataflow::<u64, _, _>(|scope| {
        let (input, lines) = scope.new_input::<Vec<(Key, String)>>();
        let at_zero = Rc::clone(&gathered);
        let probe = lines
            .exchange(|_: &(Key, String)| 0) // 4. every line to worker 0
            .inspect(move |line: &(Key, String)| at_zero.borrow_mut().push(line.clone()))
            .probe()
            .0;
        (input, probe)
    });
    let (groups, failed) = match read_my_partitions(worker, small) {
        Ok(groups) => (groups, None),        // 1. read and pre-aggregated
        Err(e) => (HashMap::new(), Some(e)), // the others still need this worker to step
    };
    send_and_close(partials, groups.into_iter().collect());
    step_until(worker, &merged);
    let finished = owned.take().into_iter().map(|(key, group)| {
        let line = line(&small.query, &key, group);
        (key, line)
    });
    send_and_close(lines, finished.collect());
    step_until(worker, &all_here);
    match failed {
        Some(e) => Err(e),
        None => Ok((worker.index() == 0).then(|| answer(&small.query, gathered.take()))),
    }
}

/// Step 1: the files that are this worker's (every `peers`-th, from its index), each row into
/// its group.
fn read_my_partitions(worker: &Worker, small: &Small) -> Result<HashMap<Key, Group>, String> {
    let mut groups = HashMap::new();
    let mine = small.files.iter().skip(worker.index()).step_by(worker.peers());
    for path in mine {
        read_partition(path, small, &mut groups).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(groups)
}

/// One partition's rows into `groups`, by the csv crate's reader.
fn read_partition(
    path: &PathBuf,
    small: &Small,
    groups: &mut HashMap<Key, Group>,
) -> Result<(), csv::Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(small.sep)
        .from_path(path)?;
    let mut records = reader.byte_records();
    let Some(header) = records.next().transpose()? else { return Ok(()) };
    let column = |name: &String| header.iter().position(|field| field == name.as_bytes());
    let keys: Option<Vec<usize>> = small.query.keys.iter().map(column).collect();
    let values: Option<Vec<usize>> = small.query.values.iter().map(column).collect();
    let (Some(keys), Some(values)) = (keys, values) else { return Ok(()) };
    let mut key: Key = vec![Vec::new(); keys.len()]; // reused: a new group copies it
    for record in records {
        let record = record?;
        let parsed: Option<Vec<Option<f64>>> = (record.len() == header.len())
            .then(|| values.iter().map(|&v| parse_value(&record[v]).ok()).collect())
            .flatten();
        // A blank line, a row of the wrong width or with a value that is no number: skipped.
        let Some(parsed) = parsed else { continue };
        if keys.iter().any(|&k| is_missing(&record[k])) {
            continue; // no key: left out of the groups, as pandas' dropna=True
        }
        for (field, &k) in key.iter_mut().zip(&keys) {
            field.clear();
            field.extend_from_slice(&record[k]);
        }
        if !groups.contains_key(&key) {
            let empty = Group { size: 0, values: vec![Vec::new(); values.len()] };
            groups.insert(key.clone(), empty);
        }
        let group = groups.get_mut(&key).expect("just made");
        group.size += 1;
        for (column, value) in group.values.iter_mut().zip(parsed) {
            column.extend(value); // a missing value is left out of the aggregates
        }
    }
    Ok(())
}

/// The worker that owns `key`: its hash, which every worker of every process computes the
/// same way (std's `DefaultHasher::new()` has fixed keys).
fn owner(key: &Key) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

/// Step 3: a group that arrived, into the groups this worker owns.
fn merge(owned: &mut HashMap<Key, Group>, key: &Key, group: &Group) {
    let mine = owned
        .entry(key.clone())
        .or_insert_with(|| Group { size: 0, values: vec![Vec::new(); group.values.len()] });
    mine.size += group.size;
    for (column, values) in mine.values.iter_mut().zip(&group.values) {
        column.extend_from_slice(values);
    }
}

/// Sends every item into the dataflow, then closes its input, which leaves scope here.
fn send_and_close<T: timely::ExchangeData + Clone>(
    mut input: InputHandle<u64, timely::container::CapacityContainerBuilder<Vec<T>>>,
    items: Vec<T>,
) {
    for item in items {
        input.send(item);
    }
}

/// Runs the worker until everything sent before the input closed has passed `probe`.
fn step_until(worker: &mut Worker, probe: &ProbeHandle<u64>) {
    while !probe.done() {
        worker.step();
    }
}

/// One group's line of the answer: its key's fields, then each output, as the engine writes it.
fn line(query: &Query, key: &Key, mut group: Group) -> String {
    let mut line = Vec::new();
    for (i, field) in key.iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        csv_field(field, &mut line);
    }
    let mut line = String::from_utf8_lossy(&line).into_owned();
    for output in &query.outputs {
        line.push(',');
        line += &match *output {
            Output::Size => group.size.to_string(),
            Output::Of { column, func } => of_all_values(func, &mut group.values[column]),
        };
    }
    line
}

/// Step 4 at worker 0: the header, then every line in key order.
fn answer(query: &Query, mut lines: Vec<(Key, String)>) -> String {
    lines.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut text = Vec::new();
    write_header(query, &mut text).expect("writing to memory");
    let mut text = String::from_utf8_lossy(&text).into_owned();
    for (_, line) in lines {
        text += &line;
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{Small, Where, group_by};
    use dataflow_engine::Job;
    use dataflow_engine::testdata::{csv, query, written};
    use proptest::prelude::*;
    use std::sync::Arc;

    /// The engine's answer with `--skip-bad`, which skips the rows the small dataflow skips.
    fn engine(patterns: &[String], query: &dataflow_engine::Query, sep: u8) -> Option<String> {
        let job = Job::builder(query.clone(), patterns).sep(sep).skip_bad(true).threads(2);
        let job = Arc::new(job.build().ok()?); // a value column with no number first: refused
        let answer = dataflow_engine::run(&job).expect("skipping bad rows, every file reads");
        Some(crate::report::answer_text(&job, &answer))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Any file and query of the engine's property tests: the small dataflow, on one to
        /// three threads, prints the engine's answer byte for byte.
        #[test]
        fn the_small_dataflow_gives_the_engine_s_answer(
            csv in csv(false),
            query in query(),
            threads in 1_usize..4,
        ) {
            let folder = tempfile::tempdir().unwrap();
            let patterns = written(&folder, &csv);
            let Some(expected) = engine(&patterns, &query, csv.sep) else { return Ok(()) };
            let small = Small { files: vec![patterns[0].clone().into()], query, sep: csv.sep };
            let got = group_by(&small, Where::Threads(threads)).unwrap();
            prop_assert_eq!(got.unwrap(), expected);
        }
    }
}

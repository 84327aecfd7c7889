//! The engine through its public surface alone, as a caller that is not the command line uses
//! it (the lesson, a Python module): a query, a job built once, `run`, an answer written where
//! the caller wants it, and one error type that says what failed.

use std::sync::Arc;

use dataflow_engine::{Error, Job, Query};

/// A folder with two small files of flights: `a.csv` and `b.csv`.
fn files() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let a = "origin,dep_delay\nBOS,1.5\nJFK,NA\nBOS,-2\n,5\nSEA,4\n";
    let b = "origin,dep_delay\nSEA,10\nBOS,0.5\n";
    std::fs::write(dir.path().join("a.csv"), a).expect("written");
    std::fs::write(dir.path().join("b.csv"), b).expect("written");
    dir
}

fn pattern(dir: &tempfile::TempDir) -> Vec<String> {
    vec![format!("{}/*.csv", dir.path().display())]
}

fn text(job: &Job, answer: &dataflow_engine::Answer) -> String {
    let mut out = Vec::new();
    answer.write(&job.query, &mut out).expect("writing to memory");
    String::from_utf8(out).expect("UTF-8")
}

#[test]
fn a_job_runs_to_an_answer_in_key_order_on_any_number_of_threads() {
    let dir = files();
    let aggs = ["dep_delay:sum,mean,max".to_owned(), "size".to_owned()];
    let query = Query::parse("origin", &aggs, None).expect("a valid query");
    let job = Job::builder(query, &pattern(&dir)).threads(2).blocksize(7).build();
    let job = Arc::new(job.expect("the files are there"));
    let expected = "origin,dep_delay_sum,dep_delay_mean,dep_delay_max,size\n\
                    BOS,0,0,1.5,3\n\
                    JFK,0,,,1\n\
                    SEA,14,7,10,2\n";
    let answer = dataflow_engine::run(&job).expect("an answer");
    assert_eq!(text(&job, &answer), expected);
    assert_eq!((answer.groups, answer.tally.missing_key), (3, 1), "the row with no key left out");
    for threads in [1, 3] {
        let again = dataflow_engine::run_on_threads(&job, threads).expect("an answer");
        assert_eq!(text(&job, &again), expected, "{threads} threads");
    }
}

#[test]
fn bad_input_is_a_usage_error_that_names_it_and_a_bad_row_a_row_error() {
    let dir = files();
    let query = |by: &str| Query::parse(by, &["dep_delay:sum".to_owned()], None);
    let unknown = Job::builder(query("airport").unwrap(), &pattern(&dir)).build().unwrap_err();
    assert!(
        matches!(&unknown, Error::Usage(m) if m.contains("no column \"airport\"")),
        "{unknown}"
    );
    assert!(matches!(query(""), Err(Error::Usage(_))), "an empty key column");
    std::fs::write(dir.path().join("c.csv"), "").unwrap();
    let empty = Job::builder(query("origin").unwrap(), &pattern(&dir)).build().unwrap_err();
    assert!(matches!(&empty, Error::Usage(m) if m.contains("c.csv: empty")), "{empty}");
    std::fs::write(dir.path().join("c.csv"), "origin,dep_delay\nBOS,lots\n").unwrap();
    let job = Arc::new(Job::builder(query("origin").unwrap(), &pattern(&dir)).build().unwrap());
    let bad = dataflow_engine::run(&job).err().expect("a bad row fails the run");
    assert!(matches!(&bad, Error::Row(m) if m.contains("c.csv, line 2")), "{bad}");
    let skipping = Job::builder(query("origin").unwrap(), &pattern(&dir)).skip_bad(true).build();
    let answer = dataflow_engine::run(&Arc::new(skipping.unwrap())).expect("skipped");
    assert_eq!(answer.tally.skipped, 1);
}

#[test]
fn a_small_budget_spills_and_gives_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..20_000).map(|i| format!("k{i},{}\n", i % 7)).collect();
    std::fs::write(dir.path().join("many.csv"), format!("key,v\n{rows}")).unwrap();
    let query = Query::parse("key", &["v:sum".to_owned()], None).unwrap();
    let build = |limit| {
        let job = Job::builder(query.clone(), &pattern(&dir)).threads(2).memory_limit(limit);
        Arc::new(job.build().expect("the file is there"))
    };
    let (roomy, tight) = (build(None), build(Some(64 << 10)));
    let (plenty, spilled) =
        (dataflow_engine::run(&roomy).unwrap(), dataflow_engine::run(&tight).unwrap());
    assert!(spilled.spilled.times > 0, "64 kB cannot hold 20,000 groups");
    assert_eq!(text(&tight, &spilled), text(&roomy, &plenty));
    assert_eq!(spilled.groups, 20_000);
}

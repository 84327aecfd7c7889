//! The engine against the plain reader of `testdata`, on random files and queries: the
//! answer byte for byte, however the files are cut and the partial aggregates flushed.

use std::sync::atomic::AtomicU64;

use proptest::prelude::*;
use proptest::sample::Index;

use crate::Error;
use crate::flow::Answer;
use crate::output::{self, Columns, Numbers};
use crate::partial::Aggregator;
use crate::query::Query;
use crate::scan::{MAX_FIELDS, Plan, Range, Tally, plan, read_range};
use crate::table::{self, Shape, Table};
use crate::testdata::{Csv, config, csv, query, reference, written};

/// The group-by as the dataflow does it, in this thread: every range read into a table of
/// partial aggregates, flushed whenever it holds `limit` bytes' worth of groups - encoded,
/// by key hash, into `owners` tables that merge them - each owner's groups sorted and
/// printed, the runs merged (in pieces of about `piece` groups on `owners` threads): the CSV
/// answer, which the answer's columns give too. Also the bytes the progress count saw. A
/// guessed plan that proves wrong is read again, cut exactly, as `flow::run` does. Not
/// `sort`ed: the owners' groups as their tables hold them, each run taken as it is.
fn dataflow(
    plan: &Plan,
    query: &Query,
    settings: (bool, usize, usize, usize, bool),
) -> Result<(String, Tally, u64), Error> {
    dataflow_on(plan, query, settings).unwrap_or_else(|| {
        let exact = plan.cut_exactly()?;
        dataflow_on(&exact, query, settings).expect("an exact plan never proves wrong")
    })
}

/// [`dataflow`] on `plan` as it is: `None` when its guessed cuts prove wrong.
fn dataflow_on(
    plan: &Plan,
    query: &Query,
    (skip_bad, owners, limit, piece, sort): (bool, usize, usize, usize, bool),
) -> Option<Result<(String, Tally, u64), Error>> {
    let shape = Shape::of(query);
    let mut owned: Vec<Table> = (0..owners).map(|_| Table::new(&shape)).collect();
    let read = AtomicU64::new(0);
    let tally = {
        let flush = |partials: &mut [Table]| {
            let mut out = vec![Vec::new(); owners];
            for partial in partials {
                partial.drain_into(&mut out, |hash| table::owner(hash, owners));
            }
            for (owner, batch) in out.iter().enumerate() {
                owned[owner].absorb(batch);
            }
        };
        let mut rows = Aggregator::new(Table::with_heads(&shape), limit, flush);
        for &range in &plan.ranges {
            let result = read_range(plan, range, skip_bad, &mut rows, &read);
            if plan.misread(&result) {
                return None;
            }
            if let Err(e) = result {
                return Some(Err(e));
            }
        }
        rows.finish()
    };
    let runs = owned.into_iter().map(|mut t| t.run(query, sort)).collect();
    let mut answer = Answer::of(runs, tally).in_pieces(owners, piece);
    if !sort {
        answer = answer.in_any_order();
    }
    let mut text = Vec::new();
    answer.write(query, &mut text).unwrap();
    let text = String::from_utf8_lossy(&text).into_owned();
    assert_eq!(as_csv(&answer.columns(query).unwrap(), query), text, "the columns' answer");
    Some(Ok((text, tally, read.into_inner())))
}

/// The header, then the other records sorted, each whole (a line end inside quotes, as keys
/// hold them here, stays in its record): an answer in any order, set in one order.
fn records(text: &str) -> Vec<&str> {
    let (mut records, mut start, mut quoted) = (Vec::new(), 0, false);
    for (i, byte) in text.bytes().enumerate() {
        match byte {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => {
                records.push(&text[start..=i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    records.extend((start < text.len()).then(|| &text[start..]));
    if let Some(groups) = records.get_mut(1..) {
        groups.sort_unstable();
    }
    records
}

/// Columns written as the CSV answer is: what a caller of the columns gets is the same answer.
fn as_csv(pieces: &[Columns], query: &Query) -> String {
    let mut text = Vec::new();
    output::write_header(query, &mut text).unwrap();
    for (columns, row) in pieces.iter().flat_map(|c| (0..c.len()).map(move |row| (c, row))) {
        for (i, keys) in columns.keys.iter().enumerate() {
            let start = if row == 0 { 0 } else { keys.ends[row - 1] };
            if i > 0 {
                text.push(b',');
            }
            output::csv_field(&keys.bytes[start..keys.ends[row]], &mut text);
        }
        for numbers in &columns.numbers {
            text.push(b',');
            match numbers {
                Numbers::Counts(counts) => text.extend(counts[row].to_string().bytes()),
                Numbers::Floats { values, valid } if valid[row] => {
                    text.extend(values[row].to_string().bytes());
                }
                Numbers::Floats { .. } => {}
            }
        }
        text.push(b'\n');
    }
    String::from_utf8_lossy(&text).into_owned()
}

proptest! {
    #![proptest_config(config())]

        /// Any file, any query, cut anywhere, its partial aggregates flushed at any size into
        /// one to three owners, merged in pieces of any size on as many threads: the
        /// reference's answer, byte for byte - the keys (CR and LF
        /// inside quotes kept), every aggregate, the order - and tally; and without
        /// `--skip-bad`, an error exactly where the reference skips a row.
        #[test]
        fn any_file_and_query_cut_anywhere_gives_the_reference_s_answer(
            csv in csv(false),
            query in query(),
            cut in any::<Index>(),
            owners in 1_usize..4,
            limit in 0_usize..400,
            piece in 1_usize..40,
            sort in any::<bool>(),
        ) {
            let folder = tempfile::tempdir().unwrap();
            let patterns = written(&folder, &csv);
            let blocksize = 1 + cut.index(csv.text.len()) as u64;
            let plan = match plan(&patterns, &query, csv.sep, blocksize, false) {
                Ok(plan) => plan,
                // A value column whose first value is no number: refused before any row.
                Err(e) => {
                    prop_assert!(e.message().contains("is not numeric"), "{}", e);
                    return Ok(());
                }
            };
            let (text, tally, bad) = reference(&csv, &query);
            for skip_bad in [true, false] {
                let got = dataflow(&plan, &query, (skip_bad, owners, limit, piece, sort));
                if skip_bad {
                    let (got_text, got_tally, read) = got.unwrap();
                    if sort {
                        prop_assert_eq!(&got_text, &text, "blocksize {}", blocksize);
                    } else {
                        let (got, want) = (records(&got_text), records(&text));
                        prop_assert_eq!(got, want, "blocksize {}", blocksize);
                    }
                    prop_assert_eq!(got_tally, tally);
                    let body: u64 = plan.ranges.iter().map(Range::len).sum();
                    prop_assert_eq!(read, body, "the progress count");
                } else {
                    prop_assert_eq!(got.is_err(), bad);
                }
            }
        }

}

/// Files wider than the fast path keeps field ends for, and narrower ones with the value
/// far right (last, before a CRLF) and the key near the left: the reference's answer.
#[test]
fn wide_files_give_the_reference_s_answer() {
    let query = Query::parse("k1", &["v1:sum,count".to_owned(), "size".to_owned()], None).unwrap();
    for width in [70, MAX_FIELDS, MAX_FIELDS + 1, 300] {
        let mut names: Vec<String> = (0..width).map(|i| format!("c{i}")).collect();
        (names[1], names[width - 1]) = ("k1".into(), "v1".into());
        let mut text = names.join(",") + "\r\n";
        for row in 0..50 {
            let mut fields: Vec<String> = (0..width).map(|i| (row * i).to_string()).collect();
            fields[1] = ["BOS", "JFK", "NA"][row % 3].to_owned();
            fields[width - 1] = format!("{row}.5");
            text += &(fields.join(",") + "\r\n");
        }
        let csv = Csv { text, sep: b',' };
        let folder = tempfile::tempdir().unwrap();
        let patterns = written(&folder, &csv);
        let plan = plan(&patterns, &query, b',', 997, false).unwrap();
        let (text, tally, _) = dataflow(&plan, &query, (false, 2, 1 << 20, 7, true)).unwrap();
        let (expected, expected_tally, _) = reference(&csv, &query);
        assert_eq!(text, expected, "{width} columns");
        assert_eq!((tally, tally.missing_key), (expected_tally, 16), "{width} columns");
    }
}

#[test]
fn median_and_std_on_odd_and_even_counts_one_value_and_none() {
    let text = "k,v\na,1\na,2\na,4\nb,1\nb,2\nb,3\nb,10\nc,7\nd,NA\nd,\n";
    let csv = Csv { text: text.to_owned(), sep: b',' };
    let folder = tempfile::tempdir().unwrap();
    let patterns = written(&folder, &csv);
    let specs = ["v:median,std,var,count,min".to_owned()];
    let query = Query::parse("k", &specs, None).unwrap();
    let plan = plan(&patterns, &query, b',', 5, false).unwrap();
    let (got, _, _) = dataflow(&plan, &query, (false, 2, 0, 2, true)).unwrap();
    // As pandas gives df.groupby("k").v.agg(["median", "std", "var", "count", "min"]) (and
    // Python's statistics.stdev and variance).
    assert_eq!(
        got,
        "k,v_median,v_std,v_var,v_count,v_min\n\
         a,2,1.5275252316519468,2.3333333333333335,3,1\n\
         b,2.5,4.08248290463863,16.666666666666668,4,1\n\
         c,7,,,1,7\n\
         d,,,,0,\n"
    );
}

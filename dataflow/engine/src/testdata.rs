//! Random CSV files and group-by queries, and their answers from a plain reader: what the
//! property tests compare the engine with - here, and in the `dataflow` lesson, whose small
//! dataflow must agree with the engine on them (the `testdata` feature).

use std::collections::BTreeMap;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use crate::agg;
use crate::query::{Output, Query};
use crate::scan::{Tally, is_missing, parse_value};

/// Numbers that look random and are the same on every run, from a nonzero `seed`: for the
/// tests that check many values of one kind (floats' text, wide integers' rounding).
pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// A CSV file's text, and its separator.
#[derive(Clone, Debug)]
pub struct Csv {
    /// The file's contents, header line first.
    pub text: String,
    /// The field separator: a comma, a tab or a semicolon.
    pub sep: u8,
}

/// Keys as files have them: codes short and long, numeric-looking ids, pandas' missing
/// markers, quoted names holding separators and line ends (CR, LF, CRLF), ids sharing a
/// prefix longer than the windows that sort and merge keys compare (8 and 16 bytes), and zero
/// bytes, which a key of several columns escapes.
pub fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        select(&["BOS", "JFK", "007", "7", "7.0", "", "NA", "NaN", "nan", "null", "N/A"][..])
            .prop_map(str::to_owned),
        "[A-Z]{1,10}",
        "[a-z ,;\t\r\n]{0,9}".prop_map(|s| quoted(&s)),
        "(user-000000000000000000|user-00000000)[0-9]{0,3}",
        select(&["a\0b", "\0", "a\0"][..]).prop_map(str::to_owned),
    ]
}

/// Values: missing markers and numbers as people and programs write them.
pub fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        select(&["", "NA", "NaN", "nan", "null", "1e3", ".5", "-.5", "+3", " 7", "inf"][..])
            .prop_map(str::to_owned),
        select(&["-0", "-0.0", "00012.50", "12345678901234567", "0.30000000000000004"][..])
            .prop_map(str::to_owned),
        // i64's limits, and a float whose two shortest decimals tie (written .2 by Ryu, .3
        // by Display).
        select(&["9223372036854775807", "-9223372036854775808", "794874501418316.25"][..])
            .prop_map(str::to_owned),
        any::<f64>().prop_map(|x| x.to_string()),
        // Decimals with 0 to 4 digits after the point, as a flights file has them.
        (-100_000_i32..100_000, 0_u8..5).prop_map(|(m, d)| {
            format!("{:.*}", usize::from(d), f64::from(m) / 10_f64.powi(i32::from(d)))
        }),
    ]
}

/// Free text, quoted where it holds a separator, a quote or a line end, as writers do.
pub fn note(sep: u8) -> impl Strategy<Value = String> {
    "[a-z ,;\t\"\r\n]{0,8}".prop_map(move |s| {
        let special = |c: char| c == char::from(sep) || matches!(c, '"' | '\r' | '\n');
        if s.contains(special) { quoted(&s) } else { s }
    })
}

/// Anything at all: also what the fast path leaves to the csv reader - a quote inside an
/// unquoted field (`x"y`, or one opening a field that never closes), text after a closing
/// quote (`"a"b`), a value that is no number, a quoted value.
pub fn anything(sep: u8) -> impl Strategy<Value = String> {
    prop_oneof![
        2 => key(),
        2 => value(),
        2 => note(sep),
        4 => "[a-z ]{0,2}\"[a-z \"]{0,3}",
        1 => "[a-z]{0,3}".prop_map(|s| format!("\"{s}\"z")),
        1 => "[0-9.]{1,4}".prop_map(|s| quoted(&s)),
        1 => Just("1_0".to_owned()),
    ]
}

/// `s` as a quoted CSV field, each quote in it doubled.
pub fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The columns of every generated file: two that keys are drawn from, two of values, a note.
const COLUMNS: [&str; 5] = ["k1", "k2", "v1", "v2", "note"];

/// A file of up to 40 rows under a header naming the five columns in some order, separated
/// by a comma, a tab or a semicolon, LF or CRLF, with or without a final line end, blank
/// lines among the rows. `plain`: every row one the fast path takes (five fields, a number
/// or a missing marker as each value, no lone CR); otherwise also rows of any width, made
/// of anything, ended at times by a lone CR.
pub fn csv(plain: bool) -> impl Strategy<Value = Csv> {
    let header = Just(COLUMNS.to_vec()).prop_shuffle();
    (header, select(&[b',', b'\t', b';'][..]), any::<bool>(), any::<bool>()).prop_flat_map(
        move |(header, sep, crlf, final_end)| {
            let field = |name: &str| match name {
                "k1" | "k2" => key().boxed(),
                "v1" | "v2" => value().boxed(),
                _ => note(sep).boxed(),
            };
            let row: Vec<_> = header.iter().map(|name| field(name)).collect();
            let line = if plain {
                prop_oneof![12 => row.prop_map(|r| r), 1 => Just(Vec::new())].boxed()
            } else {
                prop_oneof![6 => row.prop_map(|r| r), 4 => vec(anything(sep), 0..=6)].boxed()
            };
            let lone_cr =
                if plain { Just(false).boxed() } else { proptest::bool::weighted(0.05).boxed() };
            vec((line, lone_cr), 1..40).prop_map(move |lines| {
                let sep_text = char::from(sep).to_string();
                let end = if crlf { "\r\n" } else { "\n" };
                let mut text = header.join(&sep_text) + end;
                for (fields, lone_cr) in lines {
                    text += &fields.join(&sep_text);
                    text += if lone_cr { "\r" } else { end };
                }
                if !final_end {
                    text.truncate(text.trim_end_matches(['\r', '\n']).len());
                }
                Csv { text, sep }
            })
        },
    )
}

/// A query over the generated columns: one or two keys, one to four aggregations of v1
/// and v2 (any function), and size or not.
pub fn query() -> impl Strategy<Value = Query> {
    let keys = select(&["k1", "k2", "k1,k2", "k2,k1"][..]);
    const FUNCS: [&str; 8] = ["count", "sum", "mean", "min", "max", "var", "std", "median"];
    let agg = (select(&["v1", "v2"][..]), select(&FUNCS[..]));
    (keys, vec(agg, 1..5), any::<bool>(), any::<bool>()).prop_map(|(by, aggs, size, size_first)| {
        let mut specs: Vec<String> = Vec::new();
        for (column, func) in aggs {
            let spec = format!("{column}:{func}");
            if !specs.contains(&spec) {
                specs.push(spec);
            }
        }
        if size {
            specs.insert(if size_first { 0 } else { specs.len() }, "size".to_owned());
        }
        Query::parse(by, &specs, None).expect("a valid query")
    })
}

/// The plain reference, in memory: RFC 4180 a byte at a time, as the csv crate and pandas
/// read it (`""` inside quotes is one quote; a quote inside an unquoted field, or text
/// after a closing quote, is taken as it is; CR, LF and CRLF each end a record; a record
/// of one empty field is a blank line, skipped); each row checked as the dataflow checks
/// it (its width, then its values, then its keys), its values kept whole for each group;
/// then the CSV answer, each group's aggregates computed from all its values at once.
/// Also the tally, and whether a row is bad (a wrong width or a value that is no number).
pub fn reference(csv: &Csv, query: &Query) -> (String, Tally, bool) {
    let mut records = split_records(csv.text.as_bytes(), csv.sep).into_iter();
    let header = records.next().expect("a header");
    let column = |name: &str| header.iter().position(|f| f == name.as_bytes()).expect("named");
    let keys: Vec<usize> = query.keys.iter().map(|k| column(k)).collect();
    let values: Vec<usize> = query.values.iter().map(|v| column(v)).collect();
    type Group = (u64, Vec<Vec<f64>>);
    let mut groups: BTreeMap<Vec<Vec<u8>>, Group> = BTreeMap::new();
    let (mut tally, mut bad) = (Tally::default(), false);
    for record in records {
        if record.len() != header.len() {
            (tally.skipped, bad) = (tally.skipped + 1, true);
            continue;
        }
        let parsed: Result<Vec<Option<f64>>, _> =
            values.iter().map(|&v| parse_value(&record[v])).collect();
        let Ok(parsed) = parsed else {
            (tally.skipped, bad) = (tally.skipped + 1, true);
            continue;
        };
        if keys.iter().any(|&k| is_missing(&record[k])) {
            tally.missing_key += 1;
            continue;
        }
        let key: Vec<Vec<u8>> = keys.iter().map(|&k| record[k].clone()).collect();
        let group = groups.entry(key).or_insert_with(|| (0, vec![Vec::new(); values.len()]));
        group.0 += 1;
        for (i, v) in parsed.into_iter().enumerate() {
            group.1[i].extend(v);
        }
    }
    let mut text = query.header().join(",") + "\n";
    for (key, (size, mut columns)) in groups {
        let fields: Vec<String> = key.iter().map(|f| field_text(f)).collect();
        text += &fields.join(",");
        for output in &query.outputs {
            text.push(',');
            text += &match *output {
                Output::Size => size.to_string(),
                Output::Of { column, func } => agg::of_all_values(func, &mut columns[column]),
            };
        }
        text.push('\n');
    }
    (text, tally, bad)
}

/// A key field as the answer writes it: quoted where it holds a comma, a quote or a line end.
fn field_text(field: &[u8]) -> String {
    let text = String::from_utf8_lossy(field).into_owned();
    if text.contains([',', '"', '\n', '\r']) { quoted(&text) } else { text }
}

/// The records of `bytes`, each a list of fields, read as [`reference()`] says (blank lines
/// dropped, the header kept as the first record).
pub fn split_records(bytes: &[u8], sep: u8) -> Vec<Vec<Vec<u8>>> {
    #[derive(PartialEq)]
    enum At {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let (mut records, mut record, mut field) = (Vec::new(), Vec::new(), Vec::new());
    let mut at = At::FieldStart;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match (&at, b) {
            (At::Quoted, b'"') => at = At::QuoteInQuoted,
            (At::Quoted, _) => field.push(b),
            (At::QuoteInQuoted, b'"') => {
                field.push(b'"');
                at = At::Quoted;
            }
            (At::FieldStart, b'"') => at = At::Quoted,
            (_, b) if b == sep => {
                record.push(std::mem::take(&mut field));
                at = At::FieldStart;
            }
            (_, b'\r' | b'\n') => {
                if b == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                at = At::FieldStart;
            }
            _ => {
                field.push(b);
                at = At::Unquoted;
            }
        }
        i += 1;
    }
    if at != At::FieldStart || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records.retain(|r| !(r.len() == 1 && r[0].is_empty()));
    records
}

/// The file written into `folder`, and its path as `plan` takes it.
pub fn written(folder: &tempfile::TempDir, csv: &Csv) -> [String; 1] {
    let path = folder.path().join("random.csv");
    std::fs::write(&path, &csv.text).expect("writing a test file");
    [path.to_string_lossy().into_owned()]
}

/// The property tests' settings: 1000 cases each.
pub fn config() -> ProptestConfig {
    ProptestConfig { cases: 1000, ..ProptestConfig::default() }
}

//! `dataflow generate`: deterministic CSV files to try the group-by on, from a fixed seed, so
//! every run and every machine writes the same bytes:
//! - `flights`: flights-like rows with what real files have - missing values (`NA`, empty),
//!   quoted fields with commas, a few rows with no origin;
//! - `groupby`: db-benchmark's group-by data set, from the distributions its generator
//!   (`groupby-datagen.R`) documents: id1, id2 `id001`..`id{K}`; id3 `id0000000001`..`id{N/K}`
//!   (ten digits); id4, id5 1..K; id6 1..N/K; v1 1..5; v2 1..15; v3 uniform on [0, 100),
//!   rounded to 6 decimals; no missing values, unsorted.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use timing::{cli, human, say};

/// The seeds the data sets are made from unless `--seed` says otherwise: the default run's
/// flights and db-benchmark's group-by files are these.
pub const FLIGHTS_SEED: u64 = 0x5EED;
pub const GROUPBY_SEED: u64 = 108;

/// `generate`'s options.
#[derive(clap::Args, Clone, Debug)]
pub struct Options {
    /// Rows in all.
    #[arg(long, value_parser = cli::up_to::<10_000_000_000>, allow_hyphen_values = true)]
    rows: u64,
    /// Files to spread them over.
    #[arg(long, default_value_t = 1, value_parser = cli::up_to::<1000>, allow_hyphen_values = true)]
    files: u64,
    /// What the rows are: flights-like, or db-benchmark's group-by data set.
    #[arg(long, value_enum, default_value_t = Shape::Flights)]
    shape: Shape,
    /// With --shape groupby: K, the groups of id1, id2, id4 and id5 (id3 and id6 have rows/K)
    /// [default: 100].
    #[arg(long, value_parser = cli::up_to::<1_000_000_000>, allow_hyphen_values = true)]
    groups: Option<u64>,
    /// The random seed: the same seed (and rows, files, groups) writes the same bytes
    /// [default: 24301 for flights, 108 for groupby].
    #[arg(long, value_parser = cli::whole_number::<u64>, allow_hyphen_values = true)]
    seed: Option<u64>,
    /// Folder to write them into (made if need be). A folder that already holds files is
    /// refused, so that a glob never mixes old and new data.
    #[arg(long)]
    out: PathBuf,
}

/// What the generated rows are.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Flights,
    Groupby,
}

/// `dataflow generate`: the folder checked (bad input: exit 2), then the files written with
/// a progress line.
pub fn command(o: &Options) -> ExitCode {
    if o.groups.is_some() && o.shape != Shape::Groupby {
        cli::usage_error("--groups: only --shape groupby has groups to choose");
    }
    check_folder(&o.out).unwrap_or_else(|e| cli::usage_error(e));
    let started = Instant::now();
    let (paths, bytes) = with_progress(o.rows, |done| match o.shape {
        Shape::Flights => generate(o.rows, (o.files, o.seed.unwrap_or(FLIGHTS_SEED)), &o.out, done),
        Shape::Groupby => {
            let seed = o.seed.unwrap_or(GROUPBY_SEED);
            groupby(o.rows, o.groups.unwrap_or(100), (o.files, seed), &o.out, done)
        }
    });
    say!(
        "wrote {}, {} rows, {:.1} MB in {} to {}",
        timing::plural(paths.len(), "file"),
        o.rows,
        bytes as f64 / 1e6,
        human(started.elapsed()),
        o.out.display()
    );
    ExitCode::SUCCESS
}

/// `--out` must be a folder that is empty or not there yet.
pub fn check_folder(out: &Path) -> Result<(), String> {
    let shown = out.display();
    match std::fs::read_dir(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if out.exists() && !out.is_dir() => {
            Err(format!("--out {shown}: a file, not a folder ({e})"))
        }
        Err(e) => Err(format!("--out {shown}: {e}")),
        Ok(entries) => match entries.into_iter().next() {
            Some(_) => Err(format!(
                "--out {shown}: the folder holds files already; give an empty or new folder, so that a glob over it reads only these"
            )),
            None => Ok(()),
        },
    }
}

/// A data set made once under the target directory as `name`, by `write` (`rows` rows,
/// `what` for the line that says so), and reused by later runs; a folder left by an
/// interrupted run (without its `complete` marker) is made again.
pub fn once(
    name: &str,
    what: &str,
    rows: u64,
    write: impl FnOnce(&Path, &AtomicU64) -> std::io::Result<(Vec<PathBuf>, u64)>,
) -> PathBuf {
    let folder = timing::machine::target_dir().join(name);
    let marker = folder.join("complete");
    if !marker.is_file() {
        let _ = std::fs::remove_dir_all(&folder);
        say!("== making the data set once: {what} under {}", folder.display());
        let started = Instant::now();
        let (_, bytes) = with_progress(rows, |done| write(&folder, done));
        std::fs::write(&marker, format!("{what}\n"))
            .unwrap_or_else(|e| cli::fail(format!("{}: {e}", marker.display())));
        say!(
            "   {:.2} GB in {} (reused by later runs; delete the folder to make it again)",
            bytes as f64 / 1e9,
            human(started.elapsed())
        );
    }
    folder
}

/// Runs `write` with a progress line of the rows written (`done` counts them), and ends the
/// program with one line if writing fails.
pub fn with_progress(
    rows: u64,
    write: impl FnOnce(&AtomicU64) -> std::io::Result<(Vec<PathBuf>, u64)>,
) -> (Vec<PathBuf>, u64) {
    let done = Arc::new(AtomicU64::new(0));
    let unit = timing::progress::Unit::Items("rows");
    let progress = timing::progress::Ticker::counting("writing", Arc::clone(&done), rows, unit);
    let result = write(&done);
    drop(progress);
    result.unwrap_or_else(|e| cli::fail(format!("writing the files: {e}")))
}

const AIRPORTS: [(&str, &str); 12] = [
    ("ATL", "Atlanta, GA"),
    ("BOS", "Boston, MA"),
    ("DEN", "Denver, CO"),
    ("DFW", "Dallas, TX"),
    ("JFK", "New York, NY"),
    ("LAX", "Los Angeles, CA"),
    ("ORD", "Chicago, IL"),
    ("PDX", "Portland, OR"),
    ("SEA", "Seattle, WA"),
    ("SFO", "San Francisco, CA"),
    ("SLC", "Salt Lake City, UT"),
    ("EWR", "Newark, NJ"),
];
const CARRIERS: [&str; 6] = ["AA", "AS", "B6", "DL", "UA", "WN"];

/// The header every generated file has.
pub const HEADER: &str = "date,origin,dest,carrier,flight,dep_delay,arr_delay,distance,origin_city";

/// Writes `rows` flights-like rows spread over `files` files `flights-NN.csv` in `out`,
/// counting the rows written in `progress` every 100,000 rows. Returns the files and their
/// total size.
pub fn generate(
    rows: u64,
    (files, seed): (u64, u64),
    out: &Path,
    progress: &AtomicU64,
) -> std::io::Result<(Vec<PathBuf>, u64)> {
    std::fs::create_dir_all(out)?;
    let mut state = seed;
    let mut written = 0;
    let mut rows_written = 0;
    let mut paths = Vec::new();
    for f in 0..files {
        let path = out.join(format!("flights-{f:02}.csv"));
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&path)?);
        writeln!(w, "{HEADER}")?;
        let share = rows * (f + 1) / files - rows * f / files;
        for i in 0..share {
            rows_written += 1;
            if rows_written % 100_000 == 0 {
                progress.store(rows_written, Ordering::Relaxed);
            }
            let r = next(&mut state);
            let (origin, city) = AIRPORTS[(r % 12) as usize];
            let dest = AIRPORTS[((r >> 8) % 12) as usize].0;
            let carrier = CARRIERS[((r >> 16) % 6) as usize];
            let day = 1 + (r >> 24) % 28;
            // About 1 row in 1000 has no origin, 4% no departure delay ("NA" or empty).
            let origin = if (r >> 32).is_multiple_of(1000) { "" } else { origin };
            let delay_draw = (r >> 42) % 100;
            let delay = (r >> 48) % 1200;
            let dep_delay = match delay_draw {
                0..=2 => "NA".to_owned(),
                3 => String::new(),
                _ => format!("{}.{}", i64::try_from(delay / 10).expect("small") - 20, delay % 10),
            };
            let arr = (r >> 20) % 900;
            let distance = 100 + (r >> 4) % 2500;
            writeln!(
                w,
                "2024-{:02}-{day:02},{origin},{dest},{carrier},{},{dep_delay},{}.{},{distance},\"{city}\"",
                1 + f % 12,
                1000 + i % 9000,
                i64::try_from(arr / 10).expect("small") - 30,
                arr % 10
            )?;
        }
        w.flush()?;
        written += std::fs::metadata(&path)?.len();
        progress.store(rows_written, Ordering::Relaxed);
        paths.push(path);
    }
    Ok((paths, written))
}

/// db-benchmark's group-by columns.
pub const GROUPBY_HEADER: &str = "id1,id2,id3,id4,id5,id6,v1,v2,v3";

/// Writes `rows` rows of db-benchmark's group-by data set with `k` groups, spread over
/// `files` files `groupby-NN.csv` in `out`, each file from its own random stream (so the
/// files are written at once, a thread each, and each is the same whatever the cores).
pub fn groupby(
    rows: u64,
    k: u64,
    (files, seed): (u64, u64),
    out: &Path,
    progress: &AtomicU64,
) -> std::io::Result<(Vec<PathBuf>, u64)> {
    std::fs::create_dir_all(out)?;
    let paths: Vec<PathBuf> = (0..files).map(|f| out.join(format!("groupby-{f:02}.csv"))).collect();
    let threads = timing::machine::cores().min(paths.len()).max(1);
    let write_file = |f: u64| {
        let share = rows * (f + 1) / files - rows * f / files;
        let path = &paths[usize::try_from(f).expect("at most 1000 files")];
        let state = seed ^ (f + 1).wrapping_mul(0xA24B_AED4_963E_E407);
        write_groupby_file(path, (share, k, (rows / k).max(1)), state, progress)
    };
    let sizes: Vec<std::io::Result<u64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads as u64)
            .map(|t| {
                let write_file = &write_file;
                scope.spawn(move || {
                    (t..files).step_by(threads).map(|f| (f, write_file(f))).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<(u64, std::io::Result<u64>)> =
            handles.into_iter().flat_map(|h| h.join().expect("writing does not panic")).collect();
        all.sort_by_key(|(f, _)| *f);
        all.into_iter().map(|(_, size)| size).collect()
    });
    let mut total = 0;
    for size in sizes {
        total += size?;
    }
    Ok((paths, total))
}

/// One file of the group-by data set: `share` rows with `k` groups in id1, id2, id4 and id5
/// and `per_key` (N/K) in id3 and id6, from the random stream `state`; its size in bytes.
fn write_groupby_file(
    path: &Path,
    (share, k, per_key): (u64, u64, u64),
    mut state: u64,
    progress: &AtomicU64,
) -> std::io::Result<u64> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    writeln!(w, "{GROUPBY_HEADER}")?;
    let mut line = Vec::with_capacity(96);
    for i in 0..share {
        line.clear();
        groupby_row(&mut line, &mut state, (k, per_key));
        w.write_all(&line)?;
        if i % 100_000 == 99_999 {
            progress.fetch_add(100_000, Ordering::Relaxed);
        }
    }
    progress.fetch_add(share % 100_000, Ordering::Relaxed);
    w.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// One row of the group-by data set into `line`, as db-benchmark's generator writes it: ids
/// `id001` and `id0000000001`, integers, and v3 with up to 6 decimals.
fn groupby_row(line: &mut Vec<u8>, state: &mut u64, (k, per_key): (u64, u64)) {
    let pick = |state: &mut u64, n: u64| 1 + next(state) % n;
    let id = |line: &mut Vec<u8>, n: u64, width: usize| {
        line.extend_from_slice(b"id");
        let digits = n.to_string();
        line.extend(std::iter::repeat_n(b'0', width.saturating_sub(digits.len())));
        line.extend_from_slice(digits.as_bytes());
        line.push(b',');
    };
    let (id1, id2, id3) = (pick(state, k), pick(state, k), pick(state, per_key));
    id(line, id1, 3);
    id(line, id2, 3);
    id(line, id3, 10);
    let (id4, id5, id6) = (pick(state, k), pick(state, k), pick(state, per_key));
    let (v1, v2) = (pick(state, 5), pick(state, 15));
    for n in [id4, id5, id6, v1, v2] {
        line.extend_from_slice(n.to_string().as_bytes());
        line.push(b',');
    }
    // v3: a whole number of millionths below 100, written with up to 6 decimals.
    let micros = next(state) % 100_000_000;
    let (whole, fraction) = (micros / 1_000_000, micros % 1_000_000);
    line.extend_from_slice(whole.to_string().as_bytes());
    if fraction > 0 {
        let digits = format!("{fraction:06}");
        line.push(b'.');
        line.extend_from_slice(digits.trim_end_matches('0').as_bytes());
    }
    line.push(b'\n');
}

/// SplitMix64: simple, fast and the same everywhere.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

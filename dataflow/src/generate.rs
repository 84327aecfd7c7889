//! `dataflow generate`: deterministic flights-like CSV files to try the group-by on, with what
//! real files have - missing values (`NA`, empty), quoted fields with commas, a few rows with no
//! origin - from a fixed seed, so every run and every machine writes the same bytes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

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

/// Writes `rows` rows spread over `files` files `flights-NN.csv` in `out`, calling `progress`
/// with the rows written so far every 100,000 rows. Returns the files and their total size.
pub fn generate(
    rows: u64,
    files: u64,
    out: &Path,
    mut progress: impl FnMut(u64),
) -> std::io::Result<(Vec<PathBuf>, u64)> {
    std::fs::create_dir_all(out)?;
    let mut state = 0x5EED_u64;
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
                progress(rows_written);
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
        progress(rows_written);
        paths.push(path);
    }
    Ok((paths, written))
}

/// SplitMix64: simple, fast and the same everywhere.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

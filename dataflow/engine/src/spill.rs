//! Within a memory budget: groups that do not fit spill to disk, answers that do not fit go
//! to files.
//!
//! Each worker keeps the groups it owns in memory up to its share of `--memory-limit`. Past
//! it, the groups are written out - partitioned by key hash into [`PARTS`] files, each write a
//! run of encoded partial aggregates, sequential - and the table starts again empty (grace
//! hash aggregation, as DuckDB does it out of core: its radix-partitioned hash table spills
//! whole partitions, duckdb/src/execution/radix_partitioned_hashtable.cpp; Spark instead falls
//! back to sorting, spilling sorted runs and merging them,
//! sql/core/.../aggregate/TungstenAggregationIterator.scala). At the end each partition is read
//! back alone and merged into a table of its own, so memory holds one partition's groups at a
//! time, never all of them: the data is written once and read once, and the work stays linear
//! in it. A median spills its values with its group: a holistic aggregate spills more. Groups
//! a worker holds unmerged (past [`table::PARTITION_AT`], by table partition) go out as they
//! came, each partition's bytes to its file: no probe and no encoding before they spill.
//!
//! Files are private to the user and removed when the run ends, however it ends
//! (`crate::cleanup`); a full disk or an unwritable folder ends the run with one line naming
//! the folder and what was needed.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::output::{self, Cursor, MemoryCursor, Run, RunFile};
use crate::query::Query;
use crate::table::{self, Table, Waiting};
use crate::wire::{self, Put};

/// Spill partitions: a table too large for memory is cut into this many by key hash, each
/// read back alone. Each is two of the partitions of a worker's tables past
/// [`table::PARTITION_AT`] groups (p and p + 64), so that a partition's groups waiting to be
/// merged go to the file as they are. (128 files a worker made the answer's merge, of a run a
/// file, slower.)
pub const PARTS: usize = table::PARTITIONS / 2;
const _: () = assert!(table::PARTITIONS.is_multiple_of(PARTS));

/// What a run may hold in memory, shared among its workers.
#[derive(Clone, Debug)]
pub struct Budget {
    /// `--memory-limit` for the whole run, in bytes.
    pub limit: u64,
    /// Where spill files go.
    pub dir: PathBuf,
}

impl Budget {
    /// The default: half the memory available when the run starts (all of it would leave no
    /// room for the page cache the files are read through), or 4 GB where that is not known.
    pub fn default_limit() -> u64 {
        timing::machine::available_memory().map_or(4 << 30, |bytes| bytes / 2)
    }

    /// One worker's share, of `workers` in all (every thread of every process).
    pub fn share(&self, workers: usize) -> u64 {
        (self.limit / workers.max(1) as u64).max(16 << 10)
    }
}

/// `--memory-limit`'s value: a number of bytes written as Python and people write them -
/// `1e9`, `1_000_000`, `512MB`, `2GiB`, `1.5GB` - at least 64 kB (a tiny budget spills all
/// the time, and works).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "kB" | "KB" | "k" | "K" => 1_000,
        "MB" | "M" => 1_000_000,
        "GB" | "G" => 1_000_000_000,
        "TB" | "T" => 1_000_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        other => {
            return Err(format!(
                "{other:?} is not a unit: give bytes, or kB, MB, GB, KiB, MiB, GiB"
            ));
        }
    };
    let number = number.trim().replace('_', "");
    let value: f64 =
        number.parse().ok().filter(|v: &f64| v.is_finite() && *v > 0.0).ok_or_else(|| {
            format!("{text:?} is not a size: give a number and a unit, such as 256MB or 2GiB")
        })?;
    let bytes = value * scale as f64;
    if bytes > 1e18 {
        return Err(format!("{text:?} is more memory than any machine has"));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // positive, below 1e18
    let bytes = bytes as u64;
    if bytes < 64 << 10 {
        return Err(format!("{text:?} is below 64 kB: give the groups more room than that"));
    }
    Ok(bytes)
}

/// What one worker spilled, and what it cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Spilled {
    /// Bytes written to spill files, each piece's length included.
    pub bytes: u64,
    /// Spill files made: at most [`PARTS`] a worker.
    pub files: u64,
    /// Times a table was written out.
    pub times: u64,
    /// Time spent writing and reading back.
    pub nanos: u64,
}

merged_by_sum!(Spilled: bytes, files, times, nanos);

impl Spilled {
    /// The time spent writing and reading back, as a `Duration`.
    pub fn took(&self) -> Duration {
        Duration::from_nanos(self.nanos)
    }
}

/// One worker's spill files: a file for each partition, opened when first written, in a
/// folder given when first needed.
pub struct Spill {
    dir: PathBuf,
    worker: usize,
    files: Vec<Option<BufWriter<File>>>,
    /// What this worker has spilled so far, for the report.
    pub spilled: Spilled,
}

impl Spill {
    /// Worker `worker`'s spill files, none made yet (the folder comes with [`Spill::set_dir`]).
    pub fn new(worker: usize) -> Spill {
        let files = (0..PARTS).map(|_| None).collect();
        Spill { dir: PathBuf::new(), worker, files, spilled: Spilled::default() }
    }

    /// The folder the files go in.
    pub fn set_dir(&mut self, dir: &Path) {
        dir.clone_into(&mut self.dir);
    }

    fn path(&self, part: usize) -> PathBuf {
        self.dir.join(format!("worker-{:05}-part-{part:03}.spill", self.worker))
    }

    /// Whether anything was written.
    pub fn used(&self) -> bool {
        self.spilled.times > 0
    }

    /// Writes every group of `tables` to its partition's file (a run: its length, then the
    /// groups) and empties the tables.
    pub fn write(&mut self, tables: &mut [Table]) -> Result<(), String> {
        let started = Instant::now();
        // Each partition's groups go out in pieces of 256 kB, never a table copied whole.
        let mut parts = vec![Vec::new(); PARTS];
        for table in tables {
            let drained = table.drain_in_pieces(&mut parts, part_of, 256 << 10, |part, bytes| {
                self.append(part, bytes)
            });
            table.clear(); // its memory freed: what the budget made room for is on disk now
            drained?;
        }
        for (part, mut bytes) in parts.into_iter().enumerate() {
            if !bytes.is_empty() {
                self.append(part, &mut bytes)?;
            }
        }
        self.spilled.times += 1;
        self.spilled.nanos += u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        Ok(())
    }

    /// Writes each table partition's groups in `pending` (whole groups, encoded as the tables
    /// drain them) to its spill partition's file as they are, and frees them.
    pub fn write_pending(&mut self, pending: &mut [Waiting]) -> Result<(), String> {
        let started = Instant::now();
        for (partition, waiting) in pending.iter_mut().enumerate() {
            for mut bytes in waiting.take() {
                self.append(partition % PARTS, &mut bytes)?;
            }
        }
        self.spilled.nanos += u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        Ok(())
    }

    /// Appends `bytes` (whole groups) to partition `part`'s file as one framed piece, and
    /// empties them.
    fn append(&mut self, part: usize, bytes: &mut Vec<u8>) -> Result<(), String> {
        if self.files[part].is_none() {
            let path = self.path(part);
            let file = File::create(&path).map_err(|e| self.failed(&e, bytes.len()))?;
            self.files[part] = Some(BufWriter::with_capacity(1 << 16, file));
            self.spilled.files += 1;
        }
        let mut frame = Vec::with_capacity(10);
        frame.put_len(bytes.len() as u64);
        let file = self.files[part].as_mut().expect("just opened");
        let written = file.write_all(&frame).and_then(|()| file.write_all(bytes));
        written.map_err(|e| self.failed(&e, bytes.len()))?;
        self.spilled.bytes += (frame.len() + bytes.len()) as u64;
        bytes.clear();
        Ok(())
    }

    /// The one line for a write that failed: the folder, what was written so far and needed.
    fn failed(&self, e: &std::io::Error, needed: usize) -> String {
        format!(
            "spilling to {}: {e} (writing {} more after {}; --spill-dir names another folder, --memory-limit a larger budget)",
            self.dir.display(),
            timing::bytes(needed as u64),
            timing::bytes(self.spilled.bytes)
        )
    }

    /// Each partition read back alone into a table that `empty` makes, and handed to `each`
    /// (its partition number and its groups); its file removed once read.
    pub fn read_back(
        &mut self,
        empty: impl Fn() -> Table,
        mut each: impl FnMut(usize, Table) -> Result<(), String>,
    ) -> Result<(), String> {
        for part in 0..PARTS {
            let Some(file) = self.files[part].take() else { continue };
            let started = Instant::now();
            file.into_inner().map_err(|e| self.failed(e.error(), 0))?;
            let path = self.path(part);
            let mut table = empty();
            let mut reader = BufReader::with_capacity(
                1 << 20,
                File::open(&path).map_err(|e| self.failed(&e, 0))?,
            );
            let mut batch = Vec::new();
            while let Some(len) = wire::read_len(&mut reader).map_err(|e| self.failed(&e, 0))? {
                batch.resize(usize::try_from(len).expect("a batch this program wrote"), 0);
                reader.read_exact(&mut batch).map_err(|e| self.failed(&e, 0))?;
                table.absorb(&batch);
            }
            let _ = std::fs::remove_file(&path);
            self.spilled.nanos += u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            each(part, table)?;
        }
        Ok(())
    }
}

/// A group's spill partition: its table's partition, modulo [`PARTS`].
fn part_of(hash: u64) -> usize {
    table::partition(hash, PARTS)
}

// ---- answers in files ----

/// A sorted run written to a file of its own, to be merged from there: the answer of a worker
/// that spilled, kept out of memory.
pub fn write_run(run: &Run, path: &Path) -> Result<RunFile, String> {
    let folder = path.parent().unwrap_or(path).display();
    RunFile::write(run, path).map_err(|e| {
        format!(
            "spilling to {folder}: {e} (writing a sorted run of {} groups; --spill-dir names another folder)",
            run.len()
        )
    })
}

/// `--out DIR`: refused where it holds files already, unless `overwrite` (then its part files
/// are removed first); made if it is not there.
pub fn prepare_out(dir: &Path, overwrite: bool) -> Result<(), String> {
    let shown = dir.display();
    match std::fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| format!("--out {shown}: {e}"))
        }
        Err(e) => Err(format!("--out {shown}: {e}")),
        Ok(entries) => {
            let entries: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
            if entries.is_empty() {
                return Ok(());
            }
            if !overwrite {
                return Err(format!(
                    "--out {shown}: the folder holds files already; give an empty or new folder, or --overwrite to replace its part files"
                ));
            }
            for path in entries {
                let name =
                    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if name.starts_with("part-") && name.ends_with(".csv") {
                    std::fs::remove_file(&path)
                        .map_err(|e| format!("--overwrite: {}: {e}", path.display()))?;
                } else {
                    return Err(format!(
                        "--out {shown}: holds {name}, which is not a part file; --overwrite replaces only part-*.csv"
                    ));
                }
            }
            Ok(())
        }
    }
}

/// Writes `runs` as the part file `name` in `dir`: the header, then their groups merged in key
/// order (or, not `in_key_order`, one run after another); written under a temporary name and
/// renamed when complete.
pub fn write_part(
    runs: &[Run],
    (query, in_key_order): (&Query, bool),
    dir: &Path,
    name: &str,
) -> Result<(), String> {
    let why = |e: &dyn std::fmt::Display| format!("writing {}: {e}", dir.join(name).display());
    let mut file = tempfile::Builder::new()
        .prefix(".part-")
        .suffix(".partial")
        .tempfile_in(dir)
        .map_err(|e| why(&e))?;
    {
        let mut out = BufWriter::with_capacity(1 << 20, file.as_file_mut());
        let header = output::write_header(query, &mut out);
        let mut line = Vec::new();
        let mut write = |key: &[u8], record: &[u8]| {
            line.clear();
            output::write_line(key, record, query, &mut line);
            out.write_all(&line)
        };
        let written = header.and_then(|()| {
            if in_key_order {
                let mut cursors: Vec<Box<dyn Cursor>> = (runs.iter())
                    .map(|run| Box::new(MemoryCursor::new(run)) as Box<dyn Cursor>)
                    .collect();
                output::merge_runs(&mut cursors, write).map(drop)
            } else {
                // In any order: one run after another, as they are.
                runs.iter().try_for_each(|run| run.each(&mut write))
            }
        });
        written.and_then(|()| out.flush()).map_err(|e| why(&e))?;
    }
    file.persist(dir.join(name)).map_err(|e| why(&e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_read_as_people_write_them() {
        assert_eq!(parse_size("256MB"), Ok(256_000_000));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1.5GB"), Ok(1_500_000_000));
        assert_eq!(parse_size("1e9"), Ok(1_000_000_000));
        assert_eq!(parse_size("1_000_000_000"), Ok(1_000_000_000));
        assert_eq!(parse_size("64KiB"), Ok(65_536));
        assert!(parse_size("64kB").is_err(), "64,000 bytes: below 64 KiB");
        assert!(parse_size("1kB").unwrap_err().contains("below 64 kB"));
        assert!(parse_size("5 parsecs").unwrap_err().contains("not a unit"));
        assert!(parse_size("-1GB").unwrap_err().contains("not a size"));
        assert!(parse_size("1e30").unwrap_err().contains("more memory"));
    }
}

//! The plan (which files, which columns, which byte ranges) and the reading of one range: the
//! out-of-core part. A file is never held in memory: each range is streamed in fixed-size
//! buffers, by the fast path (`fast`) for as long as its records are plain and by the csv
//! crate's reader from the first one that is not, each row handed to a [`Rows`] sink (the engine's
//! groups it, `partial`): this module knows files, ranges and fields, nothing of groups.

mod fast;

#[cfg(test)]
pub(crate) use fast::MAX_FIELDS;
pub use fast::{CHUNK, how_masks_are_made, plain_decimal};

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Error;
use crate::query::Query;

/// Dask's `blocksize`: a range of about this many bytes is one partition.
pub const DEFAULT_BLOCKSIZE: u64 = 64 * 1024 * 1024;

/// 10^0 to 10^21, each a float exactly (every power of ten up to 10^22 is): a decimal's digits
/// over one of them is the float nearest that decimal, correctly rounded.
pub(crate) const POW10: [f64; 22] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21,
];

/// What every worker of every process computes the same way from the command line.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The files the patterns name, sorted, each once however many patterns name it.
    pub files: Vec<PathBuf>,
    /// The field separator (`--sep`).
    pub sep: u8,
    /// The column names, from the files' header line (the same in every file).
    pub header: Vec<String>,
    /// The columns a row is read for, as indices into `header`: the key columns, then the
    /// value columns, in the query's order.
    pub columns: Vec<usize>,
    /// How many of `columns` are keys.
    pub keys: usize,
    /// Byte ranges to read, each a partition.
    pub ranges: Vec<Range>,
    /// Whether the ranges' starts past each file's first are guessed: the byte after the
    /// first line feed from the cut on, which is a record's start unless that line feed lies
    /// in a quoted field. Reading the range before one confirms it ([`read_range`]); a plan
    /// that proves wrong is cut again quote by quote ([`Plan::cut_exactly`]).
    pub guessed: bool,
    /// Each file's body: its first byte past the header line, and its size.
    pub bodies: Vec<(u64, u64)>,
    /// The most bytes a range was cut to hold (`u64::MAX`: files left whole).
    pub blocksize: u64,
    /// The files' sizes added up, header lines included.
    pub total_bytes: u64,
}

impl Plan {
    /// The plan with its files cut at the same places, each cut moved to a record start
    /// found quote by quote: one pass over the files (the only way to know where a quoted
    /// field holding line feeds ends), which a guessed plan saves unless it proves wrong.
    /// The plan itself when its starts are not guessed.
    pub fn cut_exactly(&self) -> Result<Plan, Error> {
        if !self.guessed {
            return Ok(self.clone());
        }
        let (files, bodies) = (&self.files, &self.bodies);
        let ranges = cut_in_parallel(files, bodies, self.sep, self.blocksize, Cuts::Exact)?;
        Ok(Plan { ranges, guessed: false, ..self.clone() })
    }

    /// Whether a run of this plan must be done again on the plan cut exactly: a range read
    /// to an end that is not a record start, or a bad row, which a range started inside a
    /// quoted field may read (and which ends its worker's reading before the range that
    /// would have shown the guess wrong). Never for a plan that is not guessed.
    pub fn misread(&self, read: &Result<RangeEnd, Error>) -> bool {
        self.guessed && matches!(read, Ok(RangeEnd::InsideRecord) | Err(Error::Row(_)))
    }
}

/// Where reading a range ended, as [`read_range`] checks it against a guessed plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeEnd {
    /// At a record's start (or the file's end): the next range's start was right.
    RecordStart,
    /// Inside a record (a quoted field): the next range's guessed start was not one.
    InsideRecord,
}

/// How [`cut`] moves a cut to a record start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cuts {
    /// Past the first line feed from the cut on: 4 KiB read at each cut, most often.
    Guessed,
    /// Past the first line feed outside quotes: every byte before the cut read.
    Exact,
}

/// Bytes `start..end` of file `file` (an index into [`Plan::files`]): one partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// The file, an index into [`Plan::files`].
    pub file: usize,
    /// The first byte, where a record starts (the plan cuts there, or guesses it does).
    pub start: u64,
    /// One past the last byte: where the next range starts, or the file's end.
    pub end: u64,
}

impl Range {
    /// The bytes in the range.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Whether the range holds no byte.
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// What reading ranges found besides the groups: rows left out, and why.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    /// Rows left out for a missing key, as pandas' `groupby` leaves them out by default
    /// (`dropna=True`, pandas' `DataFrame.groupby` docs).
    pub missing_key: u64,
    /// Bad rows skipped with `--skip-bad`: a wrong width, or a value neither a number nor
    /// missing.
    pub skipped: u64,
}

merged_by_sum!(Tally: missing_key, skipped);

/// Which ranges each of `workers` workers reads: the longest first, each to the worker with
/// the least so far (ties to the lowest index), so that all finish at about the same time.
/// Every worker computes the same answer from the same plan.
pub fn assign(ranges: &[Range], workers: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(ranges[i].len()), i));
    let mut load = vec![0_u64; workers.max(1)];
    let mut mine = vec![Vec::new(); workers.max(1)];
    for i in order {
        let least = (0..load.len()).min_by_key(|&w| (load[w], w)).expect("at least one worker");
        load[least] += ranges[i].len();
        mine[least].push(i);
    }
    mine
}

/// The plan's ranges, a line each: file index, start, end.
pub fn write_ranges(path: &Path, plan: &Plan) -> Result<(), Error> {
    let lines: String =
        plan.ranges.iter().map(|r| format!("{} {} {}\n", r.file, r.start, r.end)).collect();
    std::fs::write(path, lines).map_err(|e| Error::System(format!("{}: {e}", path.display())))
}

/// The ranges another process planned (a parent of `--processes`), for `plan` (which has the
/// same files: the same patterns on the same machine); each checked to lie in its file.
pub fn read_ranges(path: &Path, plan: &Plan) -> Result<Vec<Range>, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("--ranges-file {}: {e}", path.display())))?;
    let sizes: Vec<Option<u64>> =
        plan.files.iter().map(|f| std::fs::metadata(f).ok().map(|m| m.len())).collect();
    let range = |line: &str| {
        let mut numbers = line.split(' ').map(str::parse::<u64>);
        let (Some(Ok(file)), Some(Ok(start)), Some(Ok(end))) =
            (numbers.next(), numbers.next(), numbers.next())
        else {
            return None;
        };
        let file = usize::try_from(file).ok()?;
        let size = (*sizes.get(file)?)?;
        (start <= end && end <= size).then_some(Range { file, start, end })
    };
    text.lines()
        .map(|line| range(line).ok_or_else(|| Error::Usage(format!("--ranges-file: {line:?}"))))
        .collect()
}

/// Fields read as missing, in key and value columns alike: five of the nineteen that pandas'
/// `read_csv` (and so Dask's) reads as NaN by default - not `N/A`, `NULL`, `None`, `#N/A`...
/// (pandas/_libs/parsers.pyx, `STR_NA_VALUES`, pandas 2.x).
pub fn is_missing(field: &[u8]) -> bool {
    matches!(field, b"" | b"NA" | b"NaN" | b"nan" | b"null")
}

/// Expands the patterns (plain paths or globs), reads each file's header, checks the query's
/// columns against it (and that each value column's first value is a number), and cuts every
/// file into ranges of about `blocksize` bytes on line boundaries (or leaves each whole with
/// `no_split`). The cuts are guessed ([`Plan::guessed`]): no pass over the files before
/// the scan, which is the pass that checks them.
pub fn plan(
    patterns: &[String],
    query: &Query,
    sep: u8,
    blocksize: u64,
    no_split: bool,
) -> Result<Plan, Error> {
    let files = expand(patterns)?;
    let mut header: Option<(Vec<String>, PathBuf)> = None;
    let mut bodies = Vec::new();
    let mut total_bytes = 0;
    for path in &files {
        let shown = path.display();
        let size =
            std::fs::metadata(path).map_err(|e| Error::Usage(format!("{shown}: {e}")))?.len();
        // A file with no header line is no table: pandas' read_csv raises EmptyDataError
        // ("No columns to parse from file") on it, and so does Dask's for that partition.
        let Some((names, body_start)) = read_header(path, sep)? else {
            return Err(Error::Usage(format!(
                "{shown}: empty, no header line to name its columns (pandas' read_csv refuses it too)"
            )));
        };
        match &header {
            None => header = Some((names, path.clone())),
            Some((first, first_path)) if *first != names => {
                return Err(Error::Usage(format!(
                    "{shown}: its header ({}) differs from {}'s ({})",
                    names.join(","),
                    first_path.display(),
                    first.join(",")
                )));
            }
            Some(_) => {}
        }
        total_bytes += size;
        bodies.push((body_start, size));
    }
    let names: Vec<&String> = query.keys.iter().chain(&query.values).collect();
    let Some((header, first)) = header else { return Err(Error::Usage("no file to read".into())) };
    let columns = names.iter().map(|n| column(&header, n, sep)).collect::<Result<Vec<_>, _>>()?;
    check_numeric(&first, sep, &header, &columns[query.keys.len()..])?;
    let blocksize = if no_split { u64::MAX } else { blocksize };
    let ranges = cut_in_parallel(&files, &bodies, sep, blocksize, Cuts::Guessed)?;
    // Guessed only where a file was cut: a file's first range starts past its header.
    let guessed = ranges.len() > bodies.iter().filter(|(start, size)| start < size).count();
    let keys = query.keys.len();
    Ok(Plan { files, sep, header, columns, keys, ranges, guessed, bodies, blocksize, total_bytes })
}

/// Refuses a value column whose first value in `path` (the first file with a header) is
/// neither a number nor missing - a column of names, say - before any data is read. (A later
/// such value is a bad row, which names its line.)
fn check_numeric(path: &Path, sep: u8, header: &[String], values: &[usize]) -> Result<(), Error> {
    let Ok(file) = File::open(path) else { return Ok(()) };
    let mut reader = csv::ReaderBuilder::new().flexible(true).delimiter(sep).from_reader(file);
    let mut record = csv::ByteRecord::new();
    // Past the header, the first row that is not blank.
    while let Ok(true) = reader.read_byte_record(&mut record) {
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        for &column in values {
            let Some(field) = record.get(column) else { continue };
            if parse_value(field).is_err() {
                return Err(Error::Usage(format!(
                    "column {:?} is not numeric (its first value in {} is {:?}): only numbers can be aggregated",
                    header[column],
                    path.display(),
                    String::from_utf8_lossy(field)
                )));
            }
        }
        break;
    }
    Ok(())
}

/// The index of column `name` in `header`, or the one line saying it is not there (with a
/// hint when the header seems separated by something other than `sep`).
fn column(header: &[String], name: &str, sep: u8) -> Result<usize, Error> {
    header.iter().position(|h| h == name).ok_or_else(|| {
        // Quoted, so that a name holding a comma or a space reads as one name.
        let names: Vec<String> = header.iter().map(|h| format!("{h:?}")).collect();
        let hint = other_separator(header, sep)
            .map(|(name, flag)| {
                format!("; the header looks separated by {name}: give --sep {flag}")
            })
            .unwrap_or_default();
        Error::Usage(format!(
            "no column {name:?} in the files (columns: {}){hint}",
            names.join(", ")
        ))
    })
}

/// Every file's body cut into ranges as `how` says, the files shared among a thread a core:
/// the exact cuts of one file need one pass over it, and each file's is its own. Ranges in
/// file order.
fn cut_in_parallel(
    files: &[PathBuf],
    bodies: &[(u64, u64)],
    sep: u8,
    blocksize: u64,
    how: Cuts,
) -> Result<Vec<Range>, Error> {
    let threads = timing::machine::cores();
    let cut_one = |(file, &body): (usize, &(u64, u64))| {
        let cuts = cut(&files[file], body, sep, blocksize, how)
            .map_err(|e| Error::Usage(format!("{}: {e}", files[file].display())))?;
        Ok(cuts.into_iter().map(|(start, end)| Range { file, start, end }).collect::<Vec<_>>())
    };
    let cut_one = &cut_one;
    // Each thread a run of consecutive files, so that the results come back in file order.
    let numbered: Vec<_> = bodies.iter().enumerate().collect();
    let share = numbered.len().div_ceil(threads).max(1);
    let per_file: Vec<Result<Vec<_>, Error>> = std::thread::scope(|scope| {
        let workers: Vec<_> = numbered
            .chunks(share)
            .map(|mine| scope.spawn(move || mine.iter().copied().map(cut_one).collect::<Vec<_>>()))
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("cutting does not panic")).collect()
    });
    let mut ranges = Vec::new();
    for result in per_file {
        ranges.extend(result?);
    }
    Ok(ranges)
}

/// A file's body (`body_start..size`) as the fewest ranges of at most `blocksize` bytes, all of
/// about the same length, each moved to the start of the record it cuts into: as `how` says.
fn cut(
    path: &Path,
    (body_start, size): (u64, u64),
    sep: u8,
    blocksize: u64,
    how: Cuts,
) -> std::io::Result<Vec<(u64, u64)>> {
    let body = size.saturating_sub(body_start);
    let parts = if body == 0 { 1 } else { body.div_ceil(blocksize.max(1)) };
    let cuts: Vec<u64> =
        (1..parts).map(|part| body_start + part_offset(body, part, parts)).collect();
    let cuts = match how {
        Cuts::Guessed => line_starts(path, size, &cuts)?,
        Cuts::Exact => record_starts(path, (body_start, size), sep, &cuts)?,
    };
    let bounds: Vec<u64> =
        std::iter::once(body_start).chain(cuts).chain(std::iter::once(size)).collect();
    Ok(bounds.windows(2).filter(|pair| pair[0] < pair[1]).map(|pair| (pair[0], pair[1])).collect())
}

/// Where the lines that `cuts` fall into end: past the first line feed from the byte before
/// each cut on (a cut right after a line feed stays), or `size` where none follows. A
/// guess at record starts, which reading the range before confirms: only a quoted field
/// holding a line feed, across the cut, makes it wrong. 4 KiB read at each cut (more only
/// where a line is longer).
fn line_starts(path: &Path, size: u64, cuts: &[u64]) -> std::io::Result<Vec<u64>> {
    let mut file = BufReader::with_capacity(1 << 12, File::open(path)?);
    let mut starts: Vec<u64> = Vec::with_capacity(cuts.len());
    for &cut in cuts {
        let from = cut.saturating_sub(1);
        // A line longer than the ranges: the cut falls in the line the cut before it found.
        if let Some(&last) = starts.last().filter(|&&last| last > from) {
            starts.push(last);
            continue;
        }
        file.seek(SeekFrom::Start(from))?;
        let mut skipped = 0_u64;
        let start = loop {
            let chunk = file.fill_buf()?;
            if chunk.is_empty() {
                break size;
            }
            if let Some(at) = memchr::memchr(b'\n', chunk) {
                break from + skipped + at as u64 + 1;
            }
            let len = chunk.len();
            skipped += len as u64;
            file.consume(len);
        };
        starts.push(start);
    }
    Ok(starts)
}

/// Where the records that `cuts` fall into start, so that no range begins inside a quoted
/// field that holds a newline (the trap of Dask's byte ranges, which Polars escaped with a
/// quote-aware chunker). One pass over the body from `body_start`: 64 bytes at a time with
/// the fast path's masks, or, where a file has quotes they do not take, jumping from quote to
/// quote with `memchr` ([`Quotes`] says which open or close a quoted field). From each cut on,
/// the first newline outside quotes ends the record cut into. Cuts past the last record move
/// to the file's end, `size`.
fn record_starts(
    path: &Path,
    (body_start, size): (u64, u64),
    sep: u8,
    cuts: &[u64],
) -> std::io::Result<Vec<u64>> {
    if cuts.is_empty() {
        return Ok(Vec::new());
    }
    match fast::record_starts(path, (body_start, size), sep, cuts)? {
        Some(starts) => Ok(starts),
        None => record_starts_exact(path, (body_start, size), sep, cuts),
    }
}

/// [`record_starts`] for any file: quote by quote, as the csv crate reads them.
fn record_starts_exact(
    path: &Path,
    (body_start, size): (u64, u64),
    sep: u8,
    cuts: &[u64],
) -> std::io::Result<Vec<u64>> {
    let mut file = BufReader::with_capacity(1 << 20, File::open(path)?);
    file.seek(SeekFrom::Start(body_start))?;
    let mut quotes = Quotes { sep, inside: false, closed_at: None, before: b'\n' };
    let (mut at, mut starts, mut next) = (body_start, Vec::with_capacity(cuts.len()), 0);
    loop {
        let chunk = file.fill_buf()?;
        let Some(&last) = chunk.last() else { break };
        let len = chunk.len();
        let mut i = 0;
        while i < len && next < cuts.len() {
            // A record may start at a cut itself when the byte before it ends a line: look
            // from the byte before the cut, as read_range does. Before that, quotes only.
            let from = cuts[next].saturating_sub(1);
            if at + (i as u64) < from {
                let upto = len.min(usize::try_from(from - at).unwrap_or(usize::MAX));
                for q in memchr::memchr_iter(b'"', &chunk[i..upto]) {
                    quotes.see(at + (i + q) as u64, chunk, i + q);
                }
                i = upto;
                continue;
            }
            let Some(k) = memchr::memchr2(b'"', b'\n', &chunk[i..]) else { break };
            let p = i + k;
            if chunk[p] == b'"' {
                quotes.see(at + p as u64, chunk, p);
            } else if !quotes.inside {
                let start = at + p as u64 + 1;
                while next < cuts.len() && cuts[next] <= start {
                    starts.push(start);
                    next += 1;
                }
            }
            i = p + 1;
        }
        if next == cuts.len() {
            break;
        }
        quotes.before = last;
        at += len as u64;
        file.consume(len);
    }
    starts.resize(cuts.len(), size);
    Ok(starts)
}

/// Whether a byte lies inside a quoted field, followed quote by quote as the csv crate (and
/// pandas) read them: a quote opens a quoted field only at a field's start; inside, a quote
/// closes it, and a quote right after a closing one is the second of a doubled `""` and opens
/// it again. Any other quote (`7,x"y`) is a character like any other.
struct Quotes {
    sep: u8,
    inside: bool,
    closed_at: Option<u64>,
    /// The byte before the chunk being read.
    before: u8,
}

impl Quotes {
    /// The quote at file offset `offset`, `chunk[index]`.
    fn see(&mut self, offset: u64, chunk: &[u8], index: usize) {
        if self.inside {
            self.inside = false;
            self.closed_at = Some(offset);
            return;
        }
        let previous = index.checked_sub(1).map_or(self.before, |i| chunk[i]);
        let field_start = previous == self.sep || previous == b'\n' || previous == b'\r';
        if field_start || self.closed_at.is_some_and(|closed| closed + 1 == offset) {
            self.inside = true;
        }
    }
}

/// Every file the patterns name: a pattern with `*`, `?` or `[` is a glob; the others are
/// paths that must exist. Sorted, each once (see [`repeated`]).
fn expand(patterns: &[String]) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for pattern in patterns {
        if pattern.contains(['*', '?', '[']) {
            let matches =
                glob::glob(pattern).map_err(|e| Error::Usage(format!("{pattern:?}: {e}")))?;
            let before = files.len();
            files.extend(matches.filter_map(Result::ok).filter(|p| p.is_file()));
            if files.len() == before {
                return Err(Error::Usage(format!("no file matches {pattern:?}")));
            }
        } else {
            let path = PathBuf::from(pattern);
            if let Err(e) = File::open(&path) {
                return Err(Error::Usage(format!("{pattern}: {e}")));
            }
            if path.is_dir() {
                return Err(Error::Usage(format!(
                    "{pattern}: a folder; give its files, as {pattern}/*.csv"
                )));
            }
            files.push(path);
        }
    }
    files.sort();
    let mut seen = std::collections::HashSet::new();
    files.retain(|p| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())));
    Ok(files)
}

/// The files that the patterns name more than once (`a.csv 'data/*.csv'`, or the same file by
/// two paths): each is read once, as a group-by over the same rows twice would count them
/// twice. Said on stderr by the caller.
pub fn repeated(patterns: &[String]) -> Vec<PathBuf> {
    let mut seen = std::collections::HashSet::new();
    let mut twice = Vec::new();
    for pattern in patterns {
        let named: Vec<PathBuf> = if pattern.contains(['*', '?', '[']) {
            glob::glob(pattern).map(|m| m.filter_map(Result::ok).collect()).unwrap_or_default()
        } else {
            vec![PathBuf::from(pattern)]
        };
        for path in named {
            let same = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if !seen.insert(same) && !twice.contains(&path) {
                twice.push(path);
            }
        }
    }
    twice
}

/// The header's fields and where the first data row starts, or `None` for an empty file.
fn read_header(path: &Path, sep: u8) -> Result<Option<(Vec<String>, u64)>, Error> {
    let file = File::open(path).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(sep)
        .from_reader(file);
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(false) => Ok(None),
        Ok(true) => {
            Ok(Some((record.iter().map(str::to_owned).collect(), reader.position().byte())))
        }
        Err(e) => Err(Error::Usage(format!("{}: cannot read its header: {e}", path.display()))),
    }
}

/// Where [`read_range`] hands each row: a row's fields, `field(i)` for the plan's
/// `columns[i]` (the first `keys` of them keys, the rest values), of `width` in all. Returns,
/// for a value that is neither a number nor missing, that value's index and why - nothing is
/// added then - so that the scan can name the row. The engine's sink is
/// `partial::Aggregator`, which groups the rows; the scan knows nothing of groups.
pub trait Rows {
    /// Takes one row, or refuses it with its bad value's index and why, adding nothing.
    fn row<'r>(
        &mut self,
        keys: usize,
        field: impl Fn(usize) -> &'r [u8],
        width: usize,
    ) -> Result<(), (usize, String)>;

    /// A bad row was skipped (`--skip-bad`): counted, for the note that says so.
    fn skipped(&mut self);
}

/// Reads the rows of `range` (those whose first byte lies in it) into `rows`: the fast path
/// while the records are plain, the csv reader from the first that is not. `plan` starts every
/// range at a record's first byte (a range that started mid-record would skip to the next
/// line, which belongs to the range before) - or guesses it did ([`Plan::guessed`]): then
/// where the range ended says whether the next range's start was one.
pub fn read_range(
    plan: &Plan,
    range: Range,
    skip_bad: bool,
    rows: &mut impl Rows,
    read: &AtomicU64,
) -> Result<RangeEnd, Error> {
    let path = &plan.files[range.file];
    let (keys, width) = (plan.keys, plan.columns.len());
    let mut row = |spans: &fast::Spans<'_>| rows.row(keys, |i| spans.get(i), width).map_err(drop);
    let from = match fast::read(plan, path, range, &mut row, read)
        .map_err(|e| Error::in_file(path, &e))?
    {
        // The fast path ends a range only outside quotes, right after a line feed (the plan
        // cut there): at a record's start.
        fast::Outcome::Done => return Ok(RangeEnd::RecordStart),
        fast::Outcome::Unusual { from } => from,
    };
    // The records before `from` are in the groups; the csv reader takes the rest.
    read_with_csv_reader(plan, Range { start: from, ..range }, skip_bad, rows, read)?;
    let size = plan.bodies[range.file].1;
    if !plan.guessed || range.end >= size {
        return Ok(RangeEnd::RecordStart);
    }
    // The csv reader does not say whether it ended inside quotes: find them from `from`, a
    // record's start, to the end, as an exact plan would (the masks, or quote by quote).
    let start = record_starts(path, (from, size), plan.sep, &[range.end])
        .map_err(|e| Error::in_file(path, &e))?;
    Ok(if start == [range.end] { RangeEnd::RecordStart } else { RangeEnd::InsideRecord })
}

/// Only the scan of every range (records and fields found, nothing parsed or grouped), on
/// this thread: the rows seen, or `None` when a range is not plain (the csv reader's). The
/// plan's cuts are taken as they are: on a guessed plan that is wrong (a quoted line end
/// across a cut), the rows are miscounted; the timed runs check their answers.
pub fn scan_only(plan: &Plan) -> std::io::Result<Option<u64>> {
    let mut rows = 0;
    for &range in &plan.ranges {
        let Some(seen) = fast::scan_only(plan, &plan.files[range.file], range)? else {
            return Ok(None);
        };
        rows += seen;
    }
    Ok(Some(rows))
}

/// Reads the rows of `range` with the csv crate's reader: RFC 4180 in every detail, and the
/// messages that name a bad row's file, line and column.
fn read_with_csv_reader(
    plan: &Plan,
    range: Range,
    skip_bad: bool,
    rows: &mut impl Rows,
    read: &AtomicU64,
) -> Result<(), Error> {
    let path = &plan.files[range.file];
    let failed = |e: &dyn std::fmt::Display| Error::in_file(path, e);
    let Some((mut reader, base)) = open_range(plan, path, range).map_err(|e| failed(&e))? else {
        read.fetch_add(range.len(), Ordering::Relaxed);
        return Ok(());
    };
    let mut reported = range.start;
    let mut record = csv::ByteRecord::new();
    let width = plan.header.len();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(failed(&e)),
        }
        let position = record.position().map_or(base, |p| base + p.byte());
        // The bytes behind us, added to the progress count every 4 MB or so.
        if position - reported >= 1 << 22 {
            read.fetch_add(position - reported, Ordering::Relaxed);
            reported = position;
        }
        if record.len() == 1 && record[0].is_empty() {
            continue; // a blank line, which pandas skips too
        }
        let outcome = if record.len() == width {
            let field = |i: usize| &record[plan.columns[i]];
            rows.row(plan.keys, field, plan.columns.len())
                .map_err(|(i, why)| (Some(plan.header[plan.columns[i]].as_str()), why))
        } else {
            Err((None, format!("{} fields where the header has {width}", record.len())))
        };
        let Err((column, why)) = outcome else { continue };
        if skip_bad {
            rows.skipped();
            continue;
        }
        let line = line_number(path, position).map_or_else(|| "?".to_owned(), |l| l.to_string());
        let column = column.map_or(String::new(), |c| format!(", column {c}"));
        return Err(Error::Row(format!(
            "{}, line {line}{column}: {why} (--skip-bad skips such rows)",
            path.display()
        )));
    }
    read.fetch_add(range.end.saturating_sub(reported), Ordering::Relaxed);
    Ok(())
}

type RangeReader = csv::Reader<std::io::Take<BufReader<File>>>;

/// A csv reader of the records of `range`, and the first one's offset: `None` when no record
/// starts in the range.
fn open_range(
    plan: &Plan,
    path: &Path,
    range: Range,
) -> std::io::Result<Option<(RangeReader, u64)>> {
    let (start, end) = (range.start, range.end);
    let mut file = BufReader::with_capacity(256 * 1024, File::open(path)?);
    let mut base = start;
    if start > 0 {
        // Back up one byte: if it is the newline ending the previous row, this range starts
        // with a whole row; otherwise skip the rest of the row it cuts into.
        file.seek(SeekFrom::Start(start - 1))?;
        let mut skipped = Vec::new();
        let consumed = file.read_until(b'\n', &mut skipped)?;
        base = start - 1 + consumed as u64;
    }
    if base >= end {
        return Ok(None);
    }
    // Every range ends where a record starts (`plan` cut it there), so the reader is given
    // the range's bytes and no more. (Stopping at the first record whose reported position
    // passes the end would not do: the csv crate reports a record that follows CRLF line ends
    // at the last `\n` before it, bytes early when blank lines come between.)
    let reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(plan.sep)
        .from_reader(file.take(end - base));
    Ok(Some((reader, base)))
}

/// A value field as a float, whitespace around it allowed: `Ok(None)` where it is missing (an
/// [`is_missing`] marker, or text that reads as NaN, such as `NAN`), `Err` where it is no
/// number - the general path, for what [`plain_decimal`] does not take.
pub fn parse_value(field: &[u8]) -> Result<Option<f64>, NotANumber> {
    if is_missing(field) {
        return Ok(None);
    }
    let text = std::str::from_utf8(field).map_err(|_| NotANumber)?;
    // A value that reads as NaN ("NAN", "+nan") is missing too, as pandas skips NaN.
    text.trim().parse::<f64>().map(|x| (!x.is_nan()).then_some(x)).map_err(|_| NotANumber)
}

/// A value field that is neither a number nor missing (the row is bad: refused, or skipped
/// with `--skip-bad`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotANumber;

/// The line number of byte `offset` in `path` (only on the error path: it reads the file up
/// to there).
fn line_number(path: &Path, offset: u64) -> Option<u64> {
    let mut reader = BufReader::new(File::open(path).ok()?).take(offset);
    let mut buffer = [0; 64 * 1024];
    let mut newlines = 0;
    loop {
        let n = reader.read(&mut buffer).ok()?;
        if n == 0 {
            return Some(newlines + 1);
        }
        newlines += buffer[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
}

/// The separator a one-column header seems to use instead of `sep` (commas, tabs, semicolons
/// or pipes), named for the hint in the unknown-column message, with the `--sep` to give.
fn other_separator(header: &[String], sep: u8) -> Option<(&'static str, &'static str)> {
    let [only] = header else { return None };
    [
        (b',', "commas", "','"),
        (b'\t', "tabs", "'\\t'"),
        (b';', "semicolons", "';'"),
        (b'|', "pipes", "'|'"),
    ]
    .into_iter()
    .find(|(other, _, _)| *other != sep && only.contains(char::from(*other)))
    .map(|(_, name, flag)| (name, flag))
}

/// Where part `part` of `parts` equal parts of `body` bytes starts: `body * part / parts`,
/// in u128, as the product passes u64 for large files cut into many parts.
fn part_offset(body: u64, part: u64, parts: u64) -> u64 {
    let offset = u128::from(body) * u128::from(part) / u128::from(parts.max(1));
    u64::try_from(offset).expect("part <= parts, so the offset is at most body")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_huge_files_are_cut_without_overflow() {
        // 10^13 bytes in 10^7 parts: body * part is 10^20, past u64.
        let (body, parts) = (10_000_000_000_000, 10_000_000);
        assert_eq!(part_offset(body, parts - 1, parts), body - 1_000_000);
        assert_eq!(part_offset(body, parts, parts), body);
        assert_eq!(part_offset(u64::MAX, 3, 4), u64::MAX / 4 * 3 + 2);
        assert_eq!(part_offset(100, 1, 3), 33);
    }

    #[test]
    fn ranges_are_shared_out_so_that_every_worker_gets_about_the_same() {
        // Two files cut into 67 + 35 MB would give one worker all the long ranges by index.
        let range = |file, start, end| Range { file, start, end };
        let ranges = [range(0, 0, 67), range(0, 67, 102), range(1, 0, 67), range(1, 67, 102)];
        let mine = assign(&ranges, 2);
        let load = |w: usize| mine[w].iter().map(|&i| ranges[i].len()).sum::<u64>();
        assert_eq!((load(0), load(1)), (102, 102));
        let mut all: Vec<usize> = mine.concat();
        all.sort_unstable();
        assert_eq!(all, [0, 1, 2, 3], "every range exactly once");
    }

    #[test]
    fn missing_values_are_pandas_defaults() {
        for missing in ["", "NA", "NaN", "nan", "null"] {
            assert!(is_missing(missing.as_bytes()), "{missing}");
            assert_eq!(parse_value(missing.as_bytes()), Ok(None));
        }
        assert_eq!(parse_value(b"2.5"), Ok(Some(2.5)));
        assert_eq!(parse_value(b"-1e3"), Ok(Some(-1000.0)));
        assert_eq!(parse_value(b"abc"), Err(NotANumber));
        assert!(!is_missing(b"N/A"), "only the five the issue lists");
    }
}

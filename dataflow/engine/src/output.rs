//! The answer on its way out: each worker's groups as runs of keys and numbers - no text -
//! sorted and merged in key order into CSV lines or into columns (what a Python caller gets as
//! Arrow), in pieces on every thread at once; or, in any order (`groupby(sort=False)`), each
//! run taken as it is ([`in_any_order`]).
//!
//! A run keeps a group as its key and one fixed-width record: each output's 8 bytes (a count
//! as an integer, anything else as a float's bits) and a bit each saying whether it has a
//! value (a mean of no values has none, and prints as an empty field, as pandas' `to_csv`
//! writes NaN). Numbers become text only as they are written, into the output buffer itself.
//!
//! The merge is cut into pieces by key: splitter keys sampled from the runs, each piece the
//! keys between two splitters, found in every run by binary search (in a run in a file - a
//! spilled worker's, another process's - from the mark below it, one kept every 256 groups,
//! read on to it). Pieces are merged and formatted side by side, a wave of them at a time,
//! and handed on in key order - so the answer streams out at the speed of all threads while
//! memory holds one wave, not the whole text (pandas' `to_csv` formats on one thread; so did
//! this engine before).

use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::query::{Func, Output, Query};
use crate::table;
use crate::wire::Put;

/// Groups a piece of the merge holds, about: a few megabytes of CSV text.
pub const PIECE: usize = 1 << 16;

/// Whether `output` is a count (an integer: `size`, `count`) rather than a float.
pub fn is_count(output: &Output) -> bool {
    matches!(output, Output::Size | Output::Of { func: Func::Count, .. })
}

/// The bytes of one group's record, for `outputs` outputs.
pub fn record_width(outputs: usize) -> usize {
    8 * outputs + outputs.div_ceil(8)
}

/// One group's outputs, as [`Run::push`] takes them: a count, a float, or no value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell {
    /// `size` or `count`.
    Count(u64),
    /// Any other aggregate.
    Float(f64),
    /// An aggregate of no values (a mean, min, max, variance, std or median): an empty field.
    Empty,
}

/// Groups, each its key and its record: in key order, as a merge takes them, or (a worker's
/// answer in any order) as its table held them.
#[derive(Default)]
pub struct Run {
    keys: Vec<u8>,
    key_ends: Vec<usize>,
    records: Vec<u8>,
    width: usize,
}

impl Run {
    /// An empty run for groups of `outputs` outputs, room made for `groups` of them.
    pub fn with_capacity(outputs: usize, groups: usize, key_bytes: usize) -> Run {
        let width = record_width(outputs);
        Run {
            keys: Vec::with_capacity(key_bytes),
            key_ends: Vec::with_capacity(groups),
            records: Vec::with_capacity(groups * width),
            width,
        }
    }

    /// Appends a group: in a run in key order, one that comes after every group in it.
    pub fn push(&mut self, key: &[u8], cells: &[Cell]) {
        self.keys.extend_from_slice(key);
        self.key_ends.push(self.keys.len());
        for cell in cells {
            let bits = match *cell {
                Cell::Count(n) => n,
                Cell::Float(x) => x.to_bits(),
                Cell::Empty => 0,
            };
            self.records.put_u64(bits);
        }
        // Then a bit a cell, eight a byte: whether it has a value.
        for byte in cells.chunks(8) {
            let bit = |(i, cell): (usize, &Cell)| u8::from(*cell != Cell::Empty) << i;
            self.records.push(byte.iter().enumerate().map(bit).fold(0, |a, b| a | b));
        }
    }

    /// How many groups.
    pub fn len(&self) -> usize {
        self.key_ends.len()
    }

    /// Whether the run holds no group.
    pub fn is_empty(&self) -> bool {
        self.key_ends.is_empty()
    }

    /// Each group, its key and its record, in the run's order, to `each`, up to its first
    /// failure.
    pub fn each<E>(&self, mut each: impl FnMut(&[u8], &[u8]) -> Result<(), E>) -> Result<(), E> {
        (0..self.len()).try_for_each(|i| each(self.key(i), self.record(i)))
    }

    /// The key of the run's `i`-th group.
    fn key(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.key_ends[i - 1] };
        &self.keys[start..self.key_ends[i]]
    }

    /// The record of the run's `i`-th group.
    fn record(&self, i: usize) -> &[u8] {
        &self.records[i * self.width..(i + 1) * self.width]
    }

    /// The first group whose key is not below `key`.
    fn lower_bound(&self, key: &[u8]) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = usize::midpoint(lo, hi);
            if self.key(mid) < key { lo = mid + 1 } else { hi = mid }
        }
        lo
    }

    /// The run as records (each key, then its record, in key order), to travel to another
    /// process or to a file, read back by a [`FileCursor`]. Returns the marks of a
    /// [`RunFile`]: every [`MARK_EVERY`]-th group's key and where its record starts.
    pub fn write_records(&self, out: &mut impl Write) -> std::io::Result<Vec<(Vec<u8>, u64)>> {
        let (mut bytes, mut marks, mut at) = (Vec::new(), Vec::new(), 0);
        for i in 0..self.len() {
            if i % MARK_EVERY == 0 {
                marks.push((self.key(i).to_vec(), at));
            }
            bytes.clear();
            bytes.put_bytes(self.key(i));
            bytes.put_bytes(self.record(i));
            out.write_all(&bytes)?;
            at += bytes.len() as u64;
        }
        Ok(marks)
    }
}

// ---- merging ----

/// One sorted run being merged: the group at its head.
pub trait Cursor {
    /// The head's key, `None` once the run is done.
    fn key(&self) -> Option<&[u8]>;
    /// The head's record (only while [`Cursor::key`] is `Some`).
    fn record(&self) -> &[u8];
    /// Moves the head to the run's next group, reading it from its file for a [`FileCursor`].
    fn advance(&mut self) -> std::io::Result<()>;
    /// Sixteen bytes of the head's key as one number, from where the keys being merged stop
    /// sharing a prefix: where two heads' windows differ, they order the keys, with no
    /// comparison of byte strings (0 for a cursor that keeps none: the keys decide). Made when
    /// asked: the merge asks once a head, and keeps it beside its tree.
    fn window(&self) -> u128 {
        0
    }
}

impl<C: Cursor + ?Sized> Cursor for Box<C> {
    fn key(&self) -> Option<&[u8]> {
        (**self).key()
    }

    fn record(&self) -> &[u8] {
        (**self).record()
    }

    fn advance(&mut self) -> std::io::Result<()> {
        (**self).advance()
    }

    fn window(&self) -> u128 {
        (**self).window()
    }
}

/// Groups `from..to` of a run in memory, whose keys share their first `depth` bytes.
pub struct MemoryCursor<'r> {
    run: &'r Run,
    at: usize,
    to: usize,
    depth: usize,
    head: Option<&'r [u8]>,
}

impl<'r> MemoryCursor<'r> {
    /// A cursor over the whole of `run`.
    pub fn new(run: &'r Run) -> MemoryCursor<'r> {
        MemoryCursor::of(run, 0..run.len(), 0)
    }

    /// A cursor over groups `range` of `run`, whose keys share their first `depth` bytes.
    fn of(run: &'r Run, range: std::ops::Range<usize>, depth: usize) -> MemoryCursor<'r> {
        let (at, to) = (range.start, range.end);
        let mut cursor = MemoryCursor { run, at, to, depth, head: None };
        cursor.look();
        cursor
    }

    fn look(&mut self) {
        self.head = (self.at < self.to).then(|| self.run.key(self.at));
    }
}

impl Cursor for MemoryCursor<'_> {
    fn key(&self) -> Option<&[u8]> {
        self.head
    }

    fn record(&self) -> &[u8] {
        self.run.record(self.at)
    }

    fn advance(&mut self) -> std::io::Result<()> {
        self.at += 1;
        self.look();
        Ok(())
    }

    fn window(&self) -> u128 {
        self.head.map_or(0, |key| window(key, self.depth))
    }
}

/// The 16 bytes of `key` from `at`, big-endian, zeros past its end: where two such numbers
/// differ, they compare as the keys' bytes do (a key that ends first is padded with zeros, and
/// a zero past it ties: then the keys themselves are compared).
fn window(key: &[u8], at: usize) -> u128 {
    let part = key.get(at..).unwrap_or_default();
    if let Some(whole) = part.first_chunk::<16>() {
        return u128::from_be_bytes(*whole); // one load, not a copy of a length known late
    }
    let mut bytes = [0; 16];
    let n = part.len().min(16);
    bytes[..n].copy_from_slice(&part[..n]);
    u128::from_be_bytes(bytes)
}

/// A sorted run in a file of records ([`Run::write_records`]): a spilled worker's, or another
/// process's, received. Every [`MARK_EVERY`]-th group's key and where it starts are kept in
/// memory, so that the file can be cut into pieces by key, as a run in memory is, and merged
/// on every thread.
pub struct RunFile {
    /// The file.
    pub path: PathBuf,
    /// Groups in it.
    pub len: usize,
    /// The key of group 0, MARK_EVERY, 2 MARK_EVERY ..., and the byte where that group starts.
    marks: Vec<(Vec<u8>, u64)>,
}

/// Groups between two marks of a [`RunFile`]: at most as many are read past and dropped where
/// a piece starts in the file (a few kilobytes), and a mark a 256th of the groups is kept.
pub const MARK_EVERY: usize = 256;

impl RunFile {
    /// `run` written to `path`, as records.
    pub fn write(run: &Run, path: &Path) -> std::io::Result<RunFile> {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
        let marks = run.write_records(&mut out)?;
        out.flush()?;
        Ok(RunFile { path: path.to_owned(), len: run.len(), marks })
    }

    /// A file of records written elsewhere (another process's run, received), read through
    /// once for its marks.
    pub fn scan(path: &Path) -> std::io::Result<RunFile> {
        let mut cursor = FileCursor::open(path)?;
        let (mut len, mut marks) = (0, Vec::new());
        while let Some(key) = cursor.key() {
            if len % MARK_EVERY == 0 {
                marks.push((key.to_vec(), cursor.head_at));
            }
            len += 1;
            cursor.advance()?;
        }
        Ok(RunFile { path: path.to_owned(), len, marks })
    }

    /// Where a cursor from `from` on (the first key not below it) starts reading: the last
    /// mark not above `from` (the groups from there to `from` are read past; a splitter that
    /// is a mark's key starts at that mark).
    fn start(&self, from: Option<&[u8]>) -> u64 {
        let Some(from) = from else { return 0 };
        let above = self.marks.partition_point(|(key, _)| key.as_slice() <= from);
        above.checked_sub(1).map_or(0, |m| self.marks[m].1)
    }
}

/// A run in a file of records, read a buffer at a time: memory holds its head, not the run.
/// Its groups from a key on, up to another (a whole file, read through for its marks, has
/// neither).
pub struct FileCursor {
    reader: std::io::BufReader<std::fs::File>,
    key: Vec<u8>,
    record: Vec<u8>,
    done: bool,
    /// Where the head group starts in the file, and where the next one does.
    head_at: u64,
    next_at: u64,
    /// The bytes the windows skip: the prefix every key of the merge shares.
    depth: usize,
    /// The first key past the cursor's groups.
    until: Option<Vec<u8>>,
}

impl FileCursor {
    /// A cursor at the first group of the run file `path`, written by [`Run::write_records`].
    pub fn open(path: &Path) -> std::io::Result<FileCursor> {
        FileCursor::range(path, 0, (None, None), (0, 1 << 18))
    }

    /// A cursor over the groups of `path` from key `from` (or the first) up to `until` (or
    /// the last), reading from byte `at`, where a group not past `from` starts; windows from
    /// `depth`, a buffer of `buffer` bytes.
    fn range(
        path: &Path,
        at: u64,
        (from, until): (Option<&[u8]>, Option<&[u8]>),
        (depth, buffer): (usize, usize),
    ) -> std::io::Result<FileCursor> {
        use std::io::{Seek, SeekFrom};
        let mut file = std::fs::File::open(path)?;
        file.seek(SeekFrom::Start(at))?;
        let reader = std::io::BufReader::with_capacity(buffer, file);
        let (key, record, until) = (Vec::new(), Vec::new(), until.map(<[u8]>::to_vec));
        let mut cursor =
            FileCursor { reader, key, record, done: false, head_at: at, next_at: at, depth, until };
        cursor.advance()?;
        while let Some(key) = cursor.key()
            && from.is_some_and(|from| key < from)
        {
            cursor.advance()?;
        }
        Ok(cursor)
    }

    fn field(&mut self, into_key: bool) -> std::io::Result<bool> {
        use std::io::Read;
        let Some(len) = crate::wire::read_len(&mut self.reader)? else { return Ok(false) };
        let buffer = if into_key { &mut self.key } else { &mut self.record };
        buffer.resize(usize::try_from(len).expect("a record this program wrote"), 0);
        self.reader.read_exact(buffer)?;
        self.next_at += crate::wire::len_bytes(len) + len;
        Ok(true)
    }
}

impl Cursor for FileCursor {
    fn key(&self) -> Option<&[u8]> {
        (!self.done).then_some(self.key.as_slice())
    }

    fn record(&self) -> &[u8] {
        &self.record
    }

    fn advance(&mut self) -> std::io::Result<()> {
        self.head_at = self.next_at;
        self.done = !self.field(true)? || !self.field(false)?;
        self.done |= self.until.as_ref().is_some_and(|until| self.key >= *until);
        Ok(())
    }

    fn window(&self) -> u128 {
        window(&self.key, self.depth)
    }
}

/// Hands every group of sorted runs to `each` in key order, each once: a k-way merge by a
/// tournament (a "tree of losers", Knuth 5.4.1). Every run is a leaf; each inner node keeps
/// the run that lost the match played there, the root the overall winner. When the winner's
/// run moves on, its new head replays only the matches on its path to the root: log2(runs)
/// comparisons a group, however many runs (a worker's table in parts makes 128 of them).
/// Returns the groups.
pub fn merge_runs<C: Cursor>(
    cursors: &mut [C],
    mut each: impl FnMut(&[u8], &[u8]) -> std::io::Result<()>,
) -> std::io::Result<u64> {
    let runs = cursors.len();
    if runs == 0 {
        return Ok(0);
    }
    // Each run's head's window, `None` once the run is done: kept here, side by side, so that
    // a match reads two numbers, not four calls to the cursors (K=1 q3's write phase, 6.3
    // million groups from 256 runs, three runs each: 605-703 ms that way, 543-558 this way).
    let head = |cursor: &C| cursor.key().map(|_| cursor.window());
    let mut windows: Vec<Option<u128>> = cursors.iter().map(head).collect();
    // Run a wins over run b: a has a head and b has none, or a's is the lesser key (ties to
    // the earlier run; there are none in one answer) - told by their windows where these
    // differ.
    let wins = |cursors: &[C], windows: &[Option<u128>], a: usize, b: usize| match (
        windows[a], windows[b],
    ) {
        (Some(x), Some(y)) if x != y => x < y,
        (Some(_), Some(_)) => (cursors[a].key(), a) < (cursors[b].key(), b),
        (x, _) => x.is_some(),
    };
    // Nodes 1..runs are the matches, the leaves runs..2*runs the runs; node 0 the winner.
    let mut losers = vec![0; runs];
    fn play(
        node: usize,
        runs: usize,
        losers: &mut [usize],
        wins: &dyn Fn(usize, usize) -> bool,
    ) -> usize {
        if node >= runs {
            return node - runs;
        }
        let left = play(2 * node, runs, losers, wins);
        let right = play(2 * node + 1, runs, losers, wins);
        let (winner, loser) = if wins(left, right) { (left, right) } else { (right, left) };
        losers[node] = loser;
        winner
    }
    losers[0] = play(1, runs, &mut losers, &|a, b| wins(cursors, &windows, a, b));
    let mut merged = 0;
    loop {
        let mut winner = losers[0];
        let Some(key) = cursors[winner].key() else { return Ok(merged) };
        each(key, cursors[winner].record())?;
        cursors[winner].advance()?;
        windows[winner] = head(&cursors[winner]);
        merged += 1;
        let mut node = (winner + runs) / 2;
        while node >= 1 {
            if wins(cursors, &windows, losers[node], winner) {
                std::mem::swap(&mut losers[node], &mut winner);
            }
            node /= 2;
        }
        losers[0] = winner;
    }
}

/// Where a sorted run of the answer is: in memory, or in a file (a worker that spilled, or
/// another process's run, received).
pub enum Source {
    /// A run in memory: that of a worker that did not spill.
    Memory(Run),
    /// A file of records, read by a [`FileCursor`] as it is merged.
    File(RunFile),
}

impl Source {
    /// Keys from all over the run, in order: every [`MARK_EVERY`]-th.
    fn samples(&self) -> Vec<&[u8]> {
        match self {
            Source::Memory(run) => (0..run.len()).step_by(MARK_EVERY).map(|i| run.key(i)).collect(),
            Source::File(file) => file.marks.iter().map(|(key, _)| key.as_slice()).collect(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Source::Memory(run) => run.len(),
            Source::File(file) => file.len,
        }
    }

    /// A cursor over its groups from key `from` up to `until` (`None`: from the first, to the
    /// last), its windows from `depth`; a file's with a buffer of `buffer` bytes.
    fn cursor(
        &self,
        bounds: (Option<&[u8]>, Option<&[u8]>),
        depth: usize,
        buffer: usize,
    ) -> std::io::Result<Box<dyn Cursor + '_>> {
        Ok(match self {
            Source::Memory(run) => {
                let at = |key: Option<&[u8]>| key.map_or(run.len(), |k| run.lower_bound(k));
                let range = bounds.0.map_or(0, |k| run.lower_bound(k))..at(bounds.1);
                Box::new(MemoryCursor::of(run, range, depth))
            }
            Source::File(file) => {
                let at = file.start(bounds.0);
                Box::new(FileCursor::range(&file.path, at, bounds, (depth, buffer))?)
            }
        })
    }
}

/// Runs merged in pieces of about `piece` groups on `threads` threads, each piece's groups
/// handed to a sink (`new` makes one, `fill` adds a group), the sinks handed to `take` in key
/// order on this thread - which writes one piece while the threads merge the next.
///
/// Runs all in memory are cut exactly where sampled keys fall. Where some are files (a
/// spilled worker's, another process's), each file is cut at the mark below such a key and
/// read on from there, and the pieces are four times larger, so that what is read past at
/// their starts stays small beside them: a spilled answer is merged on every thread too.
pub fn merge_in_pieces<S: Send>(
    sources: &[&Source],
    (threads, piece): (usize, usize),
    new: impl Fn() -> S,
    fill: impl Fn(&mut S, &[u8], &[u8]) + Sync,
    take: impl FnMut(&mut S) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let in_memory: Option<Vec<&Run>> = sources
        .iter()
        .map(|s| match s {
            Source::Memory(run) => Some(run),
            Source::File(_) => None,
        })
        .collect();
    let add = |sink: &mut S, key: &[u8], record: &[u8]| {
        fill(sink, key, record);
        Ok(())
    };
    if let Some(runs) = in_memory {
        let bounds = piece_bounds(&runs, threads, piece);
        let merge_piece = |piece: usize, sink: &mut S| {
            let ranges: Vec<_> = bounds.iter().map(|b| b[piece]..b[piece + 1]).collect();
            for (ranges, depth) in by_shared_prefix(&runs, ranges) {
                let mut cursors: Vec<MemoryCursor> = runs
                    .iter()
                    .zip(ranges)
                    .map(|(run, range)| MemoryCursor::of(run, range, depth))
                    .collect();
                merge_runs(&mut cursors, |key, record| add(sink, key, record))?;
            }
            Ok(())
        };
        let pieces = bounds.first().map_or(0, |b| b.len() - 1);
        return in_lanes(pieces, threads, new, merge_piece, take);
    }
    let groups = sources.iter().map(|s| s.len()).sum();
    // Marks stand at fixed places (0, 256, 512 ...): runs of one size and of hashed keys (a
    // spilled worker's partitions) have theirs at the same quantiles, so no more pieces than
    // a run has marks - else some pieces would fall between two marks of one quantile.
    let samples: Vec<Vec<&[u8]>> = sources.iter().map(|s| s.samples()).collect();
    let most = samples.iter().map(Vec::len).max().unwrap_or(0);
    let wanted = pieces_wanted(groups, threads, 4 * piece).min(most.max(1));
    let splitters = splitters(samples.into_iter().flatten().collect(), wanted);
    // The files' buffers, all lanes' together: 32 MB (64 KB a file for 2 threads and 256 runs).
    let lanes = threads.clamp(1, splitters.len() + 1);
    let buffer = ((32 << 20) / (lanes * sources.len())).clamp(4 << 10, 1 << 18);
    let merge_piece = |piece: usize, sink: &mut S| {
        let from = piece.checked_sub(1).map(|p| splitters[p]);
        let until = splitters.get(piece).copied();
        // Every key between two keys shares their common prefix.
        let depth = from.zip(until).map_or(0, |(a, b)| shared_prefix(a, b));
        let mut cursors = sources
            .iter()
            .map(|source| source.cursor((from, until), depth, buffer))
            .collect::<std::io::Result<Vec<_>>>()?;
        merge_runs(&mut cursors, |key, record| add(sink, key, record)).map(|_| ())
    };
    in_lanes(splitters.len() + 1, threads, new, merge_piece, take)
}

/// [`merge_in_pieces`] for an answer in any order (`groupby(sort=False)`): the runs in memory
/// taken as they are, one after another, in pieces of `piece` groups on `threads` threads - no
/// merge, and they need not be sorted; the runs in files (a spilled worker's, always sorted)
/// merged after them.
pub fn in_any_order<S: Send>(
    sources: &[&Source],
    (threads, piece): (usize, usize),
    new: impl Fn() -> S,
    fill: impl Fn(&mut S, &[u8], &[u8]) + Sync,
    mut take: impl FnMut(&mut S) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let (mut runs, mut files) = (Vec::new(), Vec::new());
    for &source in sources {
        match source {
            Source::Memory(run) => runs.push(run),
            Source::File(_) => files.push(source),
        }
    }
    // Pieces of `piece` groups (the last fewer): each run's groups in its order, one run after
    // another - a worker's 128 partitions' small runs share a piece.
    let mut pieces: Vec<Vec<(&Run, Range<usize>)>> = Vec::new();
    let mut room = 0;
    for &run in &runs {
        let mut at = 0;
        while at < run.len() {
            if room == 0 {
                pieces.push(Vec::new());
                room = piece.max(1);
            }
            let taken = room.min(run.len() - at);
            pieces.last_mut().expect("a piece with room").push((run, at..at + taken));
            (at, room) = (at + taken, room - taken);
        }
    }
    let copy_piece = |p: usize, sink: &mut S| {
        for (run, range) in &pieces[p] {
            range.clone().for_each(|i| fill(sink, run.key(i), run.record(i)));
        }
        Ok(())
    };
    in_lanes(pieces.len(), threads, &new, copy_piece, &mut take)?;
    if files.is_empty() {
        return Ok(());
    }
    merge_in_pieces(&files, (threads, piece), new, fill, take)
}

/// How many leading bytes `a` and `b` share.
pub fn shared_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Pieces `0..pieces`, each merged by `merge_piece` into a sink on one of `threads` threads
/// (piece p by thread p % threads, into one of its two sinks), the sinks handed to `take` in
/// piece order on this thread, and back to their lane to be filled again (text is written
/// out and its buffer's pages touched once, not once a piece; columns are kept, and a new sink
/// put in their place). The first failure, a lane's or `take`'s, ends it.
fn in_lanes<S: Send>(
    pieces: usize,
    threads: usize,
    new: impl Fn() -> S,
    merge_piece: impl Fn(usize, &mut S) -> std::io::Result<()> + Sync,
    mut take: impl FnMut(&mut S) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::sync::mpsc;
    let lanes = threads.clamp(1, pieces.max(1));
    std::thread::scope(|scope| {
        let mut ends = Vec::new();
        for lane in 0..lanes {
            let (full, from_lane) = mpsc::sync_channel::<std::io::Result<S>>(1);
            let (to_lane, empty) = mpsc::channel::<S>();
            for _ in 0..2 {
                to_lane.send(new()).expect("the lane's end is here");
            }
            let merge_piece = &merge_piece;
            std::thread::Builder::new().name(format!("merge lane {lane}")).spawn_scoped(
                scope,
                move || {
                    for p in (lane..pieces).step_by(lanes) {
                        // Either end gone: `take` failed, and the answer is abandoned.
                        let Ok(mut sink) = empty.recv() else { return };
                        let merged = merge_piece(p, &mut sink).map(|()| sink);
                        if full.send(merged).is_err() {
                            return;
                        }
                    }
                },
            )?;
            ends.push((from_lane, to_lane));
        }
        for p in 0..pieces {
            let (from_lane, to_lane) = &ends[p % lanes];
            let mut sink = from_lane.recv().expect("a lane sends each of its pieces")?;
            take(&mut sink)?;
            let _ = to_lane.send(sink);
        }
        Ok(())
    })
}

/// A piece (`ranges` of `runs`) cut where its keys' shared prefix is short for their length,
/// into consecutive parts each with the prefix its keys share: the windows of a part begin
/// past it, where its keys differ. (A piece of db-benchmark's q10 that spans two values of
/// id1 shares 4 bytes, "id00", and its windows would tie on every id2 and id3; cut at the
/// second id1, each part shares 10.)
fn by_shared_prefix(runs: &[&Run], ranges: Vec<Range<usize>>) -> Vec<(Vec<Range<usize>>, usize)> {
    let mut parts = Vec::new();
    cut_by_shared_prefix(runs, ranges, 4, &mut parts);
    parts
}

fn cut_by_shared_prefix(
    runs: &[&Run],
    ranges: Vec<Range<usize>>,
    cuts: usize,
    parts: &mut Vec<(Vec<Range<usize>>, usize)>,
) {
    let ends = runs.iter().zip(&ranges).filter(|(_, r)| !r.is_empty());
    let least = ends.clone().map(|(run, r)| run.key(r.start)).min();
    let greatest = ends.map(|(run, r)| run.key(r.end - 1)).max();
    let (Some(least), Some(greatest)) = (least, greatest) else { return };
    // A key between two keys shares their common prefix.
    let shared = shared_prefix(least, greatest);
    if cuts == 0 || least.len().min(greatest.len()) <= shared + 16 {
        parts.push((ranges, shared));
        return;
    }
    // Below the greatest key's prefix one byte past the shared one, and the rest.
    let cut = &greatest[..=shared];
    let (below, above) = ranges
        .iter()
        .zip(runs)
        .map(|(r, run)| {
            let at = run.lower_bound(cut).clamp(r.start, r.end);
            (r.start..at, at..r.end)
        })
        .unzip();
    cut_by_shared_prefix(runs, below, cuts - 1, parts);
    cut_by_shared_prefix(runs, above, cuts - 1, parts);
}

/// For each run, where each piece starts in it (and, last, its length): pieces of about
/// `piece` groups - fewer, smaller ones where that leaves a thread idle - cut at keys sampled
/// from the runs.
fn piece_bounds(runs: &[&Run], threads: usize, piece: usize) -> Vec<Vec<usize>> {
    let groups: usize = runs.iter().map(|r| r.len()).sum();
    let wanted = pieces_wanted(groups, threads, piece);
    // Thirty-two samples a piece, spread over each run: pieces within about a third of even
    // whatever the runs' sizes (65,536 groups a piece came out as 43,000 to 88,000 in
    // db-benchmark's q10 at K=1). Each run's samples start at its own offset: runs of
    // one size sampled from their first group each at the same stride would give samples in
    // clusters, at the same quantile of every run (a worker's 128 runs of hashed keys are of
    // one size), and pieces of a few groups between splitters of one cluster, of half a
    // million between clusters - one thread merging while the others wait.
    let stride = (groups / (wanted * 32)).max(1);
    // (Within the run's length: every run that has a group gives a sample.)
    let offset = |j: usize, run: &Run| (j * stride / runs.len()) % run.len().max(1);
    let samples: Vec<&[u8]> = (runs.iter().enumerate())
        .flat_map(|(j, r)| (offset(j, r)..r.len()).step_by(stride).map(|i| r.key(i)))
        .collect();
    let splitters = splitters(samples, wanted);
    runs.iter()
        .map(|run| {
            let mut at = vec![0];
            at.extend(splitters.iter().map(|s| run.lower_bound(s)));
            at.push(run.len());
            at
        })
        .collect()
}

/// How many pieces `groups` make: about `piece` groups each, but at least one a thread where
/// that leaves pieces of a thousand groups or more.
fn pieces_wanted(groups: usize, threads: usize, piece: usize) -> usize {
    let smallest = piece.min(1024);
    groups.div_ceil(piece).max(threads.min(groups.div_ceil(smallest))).max(1)
}

/// The keys that cut `samples` into `wanted` parts of about as many samples, each once.
fn splitters(mut samples: Vec<&[u8]>, wanted: usize) -> Vec<&[u8]> {
    samples.sort_unstable();
    let mut splitters: Vec<&[u8]> =
        (1..wanted).map(|p| samples[p * samples.len() / wanted]).collect();
    splitters.dedup();
    splitters
}

// ---- text ----

/// One group as a CSV line: its key fields, then each output (a float as `Display` writes it,
/// the shortest decimal that reads back as the same float, never in exponent form; no value
/// as an empty field).
pub fn write_line(key: &[u8], record: &[u8], query: &Query, out: &mut Vec<u8>) {
    write_key(key, query.keys.len(), out);
    let outputs = query.outputs.len();
    let present = &record[8 * outputs..];
    for (i, output) in query.outputs.iter().enumerate() {
        out.push(b',');
        if present[i / 8] & (1 << (i % 8)) == 0 {
            continue;
        }
        let bits = u64::from_le_bytes(record[8 * i..8 * i + 8].try_into().expect("8 bytes"));
        if is_count(output) {
            out.extend_from_slice(itoa::Buffer::new().format(bits).as_bytes());
        } else {
            put_float(f64::from_bits(bits), out);
        }
    }
    out.push(b'\n');
}

/// `x` as `Display` writes it - the shortest decimal that reads back as `x`, never in exponent
/// form - without going through `core::fmt`: Ryu's digits, laid out as `Display` lays them
/// out. Where two shortest decimals are equally near `x`, Ryu and `Display` may pick different
/// ones (794874501418316.25 is written .2 by one, .3 by the other), so those floats, and NaN
/// and the infinities, are written by `Display` itself.
pub fn put_float(x: f64, out: &mut Vec<u8>) {
    // A whole number below 2^53 (the sum of an integer column, most often) is its integer's
    // digits, as Display writes it: 7.0 is "7". (-0.0 is "-0": not this way.)
    // (Whole where its integer part, by the CPU's conversion, is itself: `x.trunc()` showed in
    // this build's profile as a call to libm's `trunc`.)
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)] // below 2^53: exact
    let whole = x.abs() < 9_007_199_254_740_992.0 && (x as i64) as f64 == x;
    if whole && x.to_bits() != (-0.0_f64).to_bits() {
        #[allow(clippy::cast_possible_truncation)] // a whole number below 2^53: exact
        out.extend_from_slice(itoa::Buffer::new().format(x as i64).as_bytes());
        return;
    }
    if put_short_decimal(x, out) {
        return;
    }
    if !x.is_finite() || !no_tie_possible(x) {
        write!(out, "{x}").expect("writing to memory");
        return;
    }
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(x).as_bytes();
    // Most floats: Ryu writes them as Display does, without an exponent (but for a whole
    // number's ".0": 2^53 is "9007199254740992.0" to Ryu, "9007199254740992" to Display).
    if !text.contains(&b'e') {
        out.extend_from_slice(text.strip_suffix(b".0").unwrap_or(text));
        return;
    }
    put_without_exponent(text, out);
}

/// `x` written as the decimal of at most 15 significant digits that reads back as it, where
/// there is one - a value read from a file of decimals, or their sum - and `true`; `false`
/// (nothing written) for any other. Such a decimal is the shortest that reads back as `x`,
/// and the only one that short: two decimals of 15 digits or fewer are never read as one
/// float (15 is f64's DBL_DIG: C11 5.2.4.2.2, `<float.h>`), so it is `Display`'s text. Found
/// with one multiplication, one division and integer digits: a float of K=1 q10's answer
/// (v3's sum, mostly one value) took 728 instructions through Ryu, 335 this way (callgrind,
/// 1e6 rows, 1 worker).
fn put_short_decimal(x: f64, out: &mut Vec<u8>) -> bool {
    let magnitude = x.abs();
    if !(1e-7..1e15).contains(&magnitude) {
        return false; // (and NaN): 15 digits and up to 21 decimals, 10^21 a float exactly
    }
    // Digits before the point (0 or fewer below 1: its zeros after the point, negated).
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // below 10^15
    let mut whole_digits =
        if magnitude >= 1.0 { (magnitude as u64).ilog10() as i32 + 1 } else { 0 };
    #[allow(clippy::cast_sign_loss)] // 0 to 5
    while (-5..=0).contains(&whole_digits) && magnitude < TENTHS[-whole_digits as usize] {
        whole_digits -= 1;
    }
    let decimals = 15 - whole_digits; // 0 to 21
    #[allow(clippy::cast_sign_loss)] // 0 to 21
    let scale = crate::scan::POW10[decimals as usize];
    // The nearest integer, by the CPU's conversion (not `f64::round`, a call, as `trunc` was).
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // below 10^15 + 1
    let digits = (magnitude * scale + 0.5) as u64;
    // The decimal digits / 10^decimals reads back as the float nearest it: their quotient,
    // correctly rounded (both are floats exactly) - x itself, or this is not x's decimal.
    #[allow(clippy::cast_precision_loss)] // below 10^15: exact
    if digits >= 1_000_000_000_000_000 || digits as f64 / scale != magnitude {
        return false;
    }
    #[allow(clippy::cast_sign_loss)] // 0 to 21
    let (mut digits, mut decimals) = (digits, decimals as usize);
    // Its trailing zeros dropped, up to 15 (as many as there are decimals): 8, 4, 2, then 1
    // at a time, not one division each.
    for (zeros, power) in [(8, 100_000_000), (4, 10_000), (2, 100), (1, 10)] {
        if decimals >= zeros && digits % power == 0 {
            (digits, decimals) = (digits / power, decimals - zeros);
        }
    }
    if x < 0.0 {
        out.push(b'-');
    }
    // The digits, the point `decimals` from their end.
    let mut buffer = itoa::Buffer::new();
    let text = buffer.format(digits).as_bytes();
    #[allow(clippy::cast_possible_wrap)] // 15 digits and 21 decimals at most
    put_digits(text, text.len() as isize - decimals as isize, out);
    true
}

/// The floats nearest 10^-1 to 10^-6: where a number's first digit after the point falls.
const TENTHS: [f64; 6] = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6];

/// Ryu's text with an exponent (d.ddde-x, 1e16) as Display writes it: its digits, the point
/// moved, zeros added.
fn put_without_exponent(text: &[u8], out: &mut Vec<u8>) {
    let (text, negative) = match text {
        [b'-', rest @ ..] => (rest, true),
        _ => (text, false),
    };
    // Ryu writes d.ddd, ddd.d or d.ddde-x: its digits, and where the point falls in them.
    let (mantissa, exponent) = match text.iter().position(|&b| b == b'e') {
        Some(e) => (&text[..e], parse_exponent(&text[e + 1..])),
        None => (text, 0),
    };
    let point = mantissa.iter().position(|&b| b == b'.').unwrap_or(mantissa.len());
    let mut digits = [0_u8; 32];
    let mut n = 0;
    for &b in mantissa.iter().filter(|&&b| b != b'.') {
        digits[n] = b;
        n += 1;
    }
    let leading = digits[..n].iter().take_while(|&&d| d == b'0').count();
    let trailing = digits[leading..n].iter().rev().take_while(|&&d| d == b'0').count();
    let digits = &digits[leading..n - trailing];
    // The value is 0.DIGITS times ten to the `at` (-323 to 309).
    #[allow(clippy::cast_possible_wrap)] // 17 digits at most
    let at = point as isize + exponent - leading as isize;
    if negative {
        out.push(b'-');
    }
    put_digits(digits, at, out);
}

/// DIGITS (no zero first or last) as 0.DIGITS times ten to the `at`, as `Display` lays it out:
/// 0.000DIGITS, DIG.ITS or DIGITS000.
fn put_digits(digits: &[u8], at: isize, out: &mut Vec<u8>) {
    let places = at.unsigned_abs();
    if digits.is_empty() {
        out.push(b'0');
    } else if at <= 0 {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + places, b'0');
        out.extend_from_slice(digits);
    } else if places < digits.len() {
        let (whole, fraction) = digits.split_at(places);
        out.extend_from_slice(whole);
        out.push(b'.');
        out.extend_from_slice(fraction);
    } else {
        out.extend_from_slice(digits);
        out.resize(out.len() + places - digits.len(), b'0');
    }
}

/// Ryu's exponent: how far its point moves.
fn parse_exponent(text: &[u8]) -> isize {
    let (digits, sign) = match text {
        [b'-', rest @ ..] => (rest, -1),
        _ => (text, 1),
    };
    sign * digits.iter().fold(0, |e, &d| e * 10 + isize::from(d - b'0'))
}

/// Whether `x` (finite) cannot lie exactly halfway between two decimals of 17 digits or fewer -
/// where the shortest decimal is unique and Ryu's is `Display`'s. A halfway point D.5 times a
/// power of ten has at most 18 significant digits; `x` is m times 2^q exactly (m odd), which
/// has as many as m times 5^-q for q < 0. An integer below 2^53 has no neighbour within 1, so
/// its digits are its own.
fn no_tie_possible(x: f64) -> bool {
    let bits = x.to_bits();
    let exponent = i64::try_from((bits >> 52) & 0x7ff).expect("11 bits");
    let fraction = bits & ((1 << 52) - 1);
    let (mut m, mut q) =
        if exponent == 0 { (fraction, -1074) } else { (fraction | 1 << 52, exponent - 1075) };
    if m == 0 {
        return true;
    }
    q += i64::from(m.trailing_zeros());
    m >>= m.trailing_zeros();
    if q >= 0 {
        return q < 53 && u128::from(m) << q < 1 << 53;
    }
    // 5^26 is past 10^18 alone.
    let Ok(fifths) = u32::try_from(-q) else { return true };
    fifths >= 26 || u128::from(m) * 5_u128.pow(fifths) >= 10_u128.pow(18)
}

/// The answer's header line: the key columns, then each output's name.
pub fn write_header(query: &Query, out: &mut impl Write) -> std::io::Result<()> {
    let mut header = Vec::new();
    for (i, name) in query.header().iter().enumerate() {
        if i > 0 {
            header.push(b',');
        }
        csv_field(name.as_bytes(), &mut header);
    }
    header.push(b'\n');
    out.write_all(&header)
}

/// A field as CSV writes it: quoted where it holds a comma, a quote or a line end.
pub fn csv_field(field: &[u8], out: &mut Vec<u8>) {
    if !needs_quotes(field) {
        out.extend_from_slice(field);
        return;
    }
    out.push(b'"');
    for &b in field {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Whether `bytes` hold a comma, a quote or a line end: a word at a time in a short key (most
/// are), 32 bytes at a time in a long one, where a call of memchr pays for its setup.
fn needs_quotes(bytes: &[u8]) -> bool {
    if bytes.len() <= SHORT {
        // Eight bytes at a time: a word's bytes equal to any of the four, as a word's zero
        // bytes after an exclusive or.
        let special = |word: u64| {
            let equal = |b: u8| table::zero_bytes(word ^ (LOW * u64::from(b)));
            SPECIAL.iter().fold(0, |found, &b| found | equal(b)) != 0
        };
        let mut words = bytes.chunks_exact(8);
        let tail = words.remainder();
        return words.any(|w| special(u64::from_le_bytes(w.try_into().expect("8 bytes"))))
            || tail.iter().any(|b| SPECIAL.contains(b));
    }
    let [comma, quote, lf, cr] = SPECIAL;
    memchr::memchr3(comma, quote, lf, bytes).is_some() || memchr::memchr(cr, bytes).is_some()
}

/// The bytes that make a CSV field need quotes: a comma, a quote, a line end.
const SPECIAL: [u8; 4] = [b',', b'"', b'\n', b'\r'];

/// Bytes up to which a key is searched a word at a time, not by memchr.
const SHORT: usize = 64;

/// A byte of ones in each byte of a word.
const LOW: u64 = 0x0101_0101_0101_0101;

/// Where the first zero byte of `bytes` is, if any: as [`needs_quotes`] searches.
fn first_zero(bytes: &[u8]) -> Option<usize> {
    if bytes.len() <= SHORT {
        let mut words = bytes.chunks_exact(8);
        for (i, word) in (&mut words).enumerate() {
            let zeros = table::zero_bytes(u64::from_le_bytes(word.try_into().expect("8 bytes")));
            if zeros != 0 {
                return Some(8 * i + zeros.trailing_zeros() as usize / 8);
            }
        }
        let tail = words.remainder();
        return tail.iter().position(|&b| b == 0).map(|at| bytes.len() - tail.len() + at);
    }
    memchr::memchr(0, bytes)
}

/// The `count` fields of a key made by [`crate::table::encode_key`], as CSV fields separated
/// by commas. Where no field needs quotes (the common case), the key is copied a stretch at
/// a time: each 0 0 becomes a comma, each 0 255 the zero byte it stands for.
pub(crate) fn write_key(key: &[u8], count: usize, out: &mut Vec<u8>) {
    if needs_quotes(key) {
        let mut scratch = Vec::new();
        for_each_field(key, count, &mut scratch, |i, field| {
            if i > 0 {
                out.push(b',');
            }
            csv_field(field, out);
        });
        return;
    }
    // The line's key laid out on the stack, each stretch copied a word or two at a time, then
    // added to `out` at once, not a call to memcpy a field (q10 at K=1, 1e6 rows: a line took
    // 1,275 instructions that way, 1,204 this way, with the word-at-a-time searches).
    let mut line = [0_u8; SHORT];
    let (mut start, mut written, mut separators) = (0, 0, 1);
    while separators < count {
        let zero = start + first_zero(&key[start..]).expect("a key has its separators");
        let stretch = &key[start..zero];
        // 0 0 ends a field, 0 255 is a zero byte within one.
        let separator = key[zero + 1] == 0;
        let end = if separator { b',' } else { 0 };
        if written + stretch.len() + 1 > SHORT {
            out.extend_from_slice(&line[..written]);
            written = 0;
        }
        if stretch.len() < SHORT {
            table::copy_short(stretch, &mut line[written..written + stretch.len()]);
            written += stretch.len();
            line[written] = end;
            written += 1;
        } else {
            out.extend_from_slice(stretch); // a long field: as it is
            out.push(end);
        }
        separators += usize::from(separator);
        start = zero + 2;
    }
    out.extend_from_slice(&line[..written]);
    // The last field is as it was read, zero bytes and all.
    out.extend_from_slice(&key[start..]);
}

/// Each of the `count` fields of a key made by [`crate::table::encode_key`], with its index:
/// each but the last runs to the first 0 0 (found as [`first_zero`] finds it), and a 0 255
/// inside it is a zero byte (unescaped into `scratch`).
fn for_each_field(
    key: &[u8],
    count: usize,
    scratch: &mut Vec<u8>,
    mut each: impl FnMut(usize, &[u8]),
) {
    let mut rest = key;
    for i in 0..count.saturating_sub(1) {
        let (mut from, mut escaped) = (0, false);
        let end = loop {
            let zero = from + first_zero(&rest[from..]).expect("a key has its separators");
            if rest[zero + 1] == 0 {
                break zero;
            }
            (from, escaped) = (zero + 2, true);
        };
        if escaped {
            scratch.clear();
            let mut at = 0;
            while at < end {
                scratch.push(rest[at]);
                at += if rest[at] == 0 { 2 } else { 1 };
            }
            each(i, scratch);
        } else {
            each(i, &rest[..end]);
        }
        rest = &rest[end + 2..];
    }
    each(count.saturating_sub(1), rest);
}

// ---- columns ----

/// A piece of the answer as columns, in its order: each key column's fields as strings, each
/// output's numbers. What the Python module hands over as an Arrow record batch, moved, not
/// copied; the answer is its pieces one after another.
#[derive(Debug, Default, PartialEq)]
pub struct Columns {
    /// The columns' names, keys first: the CSV header's.
    pub names: Vec<String>,
    /// One a key column.
    pub keys: Vec<Strings>,
    /// One an output, in the query's order.
    pub numbers: Vec<Numbers>,
}

/// A column of byte strings (a CSV's fields, as read): every field's bytes side by side, and
/// where each ends.
#[derive(Debug, Default, PartialEq)]
pub struct Strings {
    /// The fields' bytes, one after another.
    pub bytes: Vec<u8>,
    /// Where each field ends in `bytes` (the next starts there).
    pub ends: Vec<usize>,
}

/// A column of numbers.
#[derive(Debug, PartialEq)]
pub enum Numbers {
    /// `size` or `count`: every group has one.
    Counts(Vec<u64>),
    /// Any other aggregate, with whether each group has a value (a mean of no values has none;
    /// its slot in `values` is 0).
    Floats {
        /// The values, one a group.
        values: Vec<f64>,
        /// Whether each group has its value.
        valid: Vec<bool>,
    },
}

impl Columns {
    /// Empty columns of `query`'s answer.
    pub fn new(query: &Query) -> Columns {
        Columns::with_room(query, 0, &vec![0; query.keys.len()])
    }

    /// Empty columns of `query`'s answer, with room for `groups` groups and, in key column i,
    /// `key_bytes[i]` bytes.
    pub fn with_room(query: &Query, groups: usize, key_bytes: &[usize]) -> Columns {
        let number = |o: &Output| {
            if is_count(o) {
                Numbers::Counts(Vec::with_capacity(groups))
            } else {
                let (values, valid) = (Vec::with_capacity(groups), Vec::with_capacity(groups));
                Numbers::Floats { values, valid }
            }
        };
        let keys = |&bytes: &usize| Strings {
            bytes: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(groups),
        };
        Columns {
            names: query.header(),
            keys: key_bytes.iter().map(keys).collect(),
            numbers: query.outputs.iter().map(number).collect(),
        }
    }

    /// How many groups (rows).
    pub fn len(&self) -> usize {
        self.keys.first().map_or(0, |k| k.ends.len())
    }

    /// Whether there is no group.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a group: its key's fields, its record's numbers.
    pub fn push(&mut self, key: &[u8], record: &[u8], scratch: &mut Vec<u8>) {
        for_each_field(key, self.keys.len(), scratch, |i, field| {
            let column = &mut self.keys[i];
            column.bytes.extend_from_slice(field);
            column.ends.push(column.bytes.len());
        });
        let present = &record[8 * self.numbers.len()..];
        for (i, column) in self.numbers.iter_mut().enumerate() {
            let bits = u64::from_le_bytes(record[8 * i..8 * i + 8].try_into().expect("8 bytes"));
            match column {
                Numbers::Counts(counts) => counts.push(bits),
                Numbers::Floats { values, valid } => {
                    let has = present[i / 8] & (1 << (i % 8)) != 0;
                    values.push(if has { f64::from_bits(bits) } else { 0.0 });
                    valid.push(has);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn as_display(x: f64) -> (String, String) {
        let mut ours = Vec::new();
        put_float(x, &mut ours);
        (String::from_utf8(ours).unwrap(), x.to_string())
    }

    /// The word-at-a-time searches of a key find what a byte at a time finds, for keys of
    /// every length to 80 bytes (past the short ones') with the bytes they look for, and the
    /// bytes next to them (0x80 and 0xff, whose top bits a careless test would take), anywhere.
    #[test]
    fn keys_are_searched_a_word_at_a_time_as_a_byte_at_a_time() {
        let mut next = crate::testdata::xorshift(0x2545_f491_4f6c_dd1d);
        let mut below = |n: u64| usize::try_from(next() % n).expect("small");
        let alphabet = [b'a', b'0', 0, 0x80, 0xff, 0x01, b',', b'"', b'\n', b'\r', b'-', b'+'];
        for len in 0..=80 {
            for _ in 0..300 {
                let key: Vec<u8> = (0..len)
                    .map(|_| if below(4) == 0 { alphabet[below(12)] } else { b'x' })
                    .collect();
                let quotes = key.iter().any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
                assert_eq!(needs_quotes(&key), quotes, "{key:?}");
                assert_eq!(first_zero(&key), key.iter().position(|&b| b == 0), "{key:?}");
            }
        }
    }

    /// Keys of one to eight fields, of up to 40 bytes and now and then 60 to 110, with zero
    /// bytes escaped in them, are written as the fields joined by commas - laid out on the
    /// stack, in stretches past its 64 bytes, a longer stretch as it is.
    #[test]
    fn keys_are_written_field_by_field() {
        let mut next = crate::testdata::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut below = |n: u64| usize::try_from(next() % n).expect("small");
        let letters = b"abcdefghijklmnopqrstuvwxyz";
        for _ in 0..20_000 {
            let count = 1 + below(8);
            let fields: Vec<Vec<u8>> = (0..count)
                .map(|_| {
                    let long = below(10) == 0;
                    let len = if long { 60 + below(50) } else { below(41) };
                    // A long field's one zero byte at 70: a stretch past the stack's room.
                    (0..len)
                        .map(|j| {
                            let zero = if long { j == 70 } else { below(40) == 0 };
                            if zero { 0 } else { letters[below(26)] }
                        })
                        .collect()
                })
                .collect();
            let mut key = Vec::new();
            crate::table::encode_key(count, |i| &fields[i][..], &mut key);
            let mut line = b"before,".to_vec();
            write_key(&key, count, &mut line);
            assert_eq!(line, [&b"before,"[..], &fields.join(&b',')].concat(), "{fields:?}");
        }
    }

    /// Display's text on random bit patterns (every exponent, subnormals, NaNs), on decimals
    /// with few digits (sums and means of prices), on whole numbers of every size (written as
    /// integers below 2^53), on integers past 2^53 and on halves and quarters of large
    /// numbers - where two shortest decimals tie.
    #[test]
    fn floats_are_written_as_display_writes_them() {
        let mut next = crate::testdata::xorshift(0x2545_f491_4f6c_dd1d);
        for i in 0..560_000 {
            let r = next();
            #[allow(clippy::cast_precision_loss)]
            let x = match i % 7 {
                0 => f64::from_bits(r),
                #[allow(clippy::cast_possible_wrap)]
                4 => (r as i64 >> (r & 63)) as f64,
                1 => (r % 10_000_000_000) as f64 / 10_f64.powi((r >> 60) as i32),
                2 => (r >> 8) as f64 + [0.0, 0.25, 0.5, 0.75][(r & 3) as usize],
                // Decimals of 13 to 17 digits with up to 24 decimals, as read (parsed, so
                // correctly rounded) and as summed (rounded twice): 15 digits or fewer are
                // written the short way, the others by Ryu.
                5 => format!("{}e-{}", r % 10_u64.pow(13 + (r >> 61) as u32 % 5), (r >> 56) % 25)
                    .parse()
                    .unwrap(),
                #[allow(clippy::cast_possible_wrap)]
                6 => (r % 1_000_000_000) as f64 / 1e6 + ((r >> 34) as i64 - (1 << 29)) as f64 / 1e6,
                _ => (r % (1 << 52)) as f64 * 2_f64.powi((r >> 58) as i32 - 40),
            };
            let (ours, display) = as_display(x);
            assert_eq!(ours, display, "{:#x}", x.to_bits());
        }
        let near_2_53 =
            [9_007_199_254_740_991.0, 9_007_199_254_740_992.0, -9_007_199_254_740_994.0];
        for x in [0.0, -0.0, 1.0, -7.0, -1.5, 1e16, 1e22, 1e-7, 5e-324, f64::MAX, f64::MIN_POSITIVE]
            .into_iter()
            .chain(near_2_53)
        {
            let (ours, display) = as_display(x);
            assert_eq!(ours, display);
        }
        let tie = as_display(794_874_501_418_316.0 + 0.25);
        assert_eq!(tie.0, tie.1, "a tie (.2 and .3 equally near): Display's choice");
    }

    /// Decimals of 15 digits or fewer that read back as the float take the short way, in
    /// every range it covers (below 1, past 10^14, negative); floats that need more digits
    /// do not, and Ryu writes them.
    #[test]
    fn short_decimals_are_written_the_short_way() {
        for (x, text) in [
            (772.925_863_3, "772.9258633"),
            (-0.5, "-0.5"),
            (0.000_123, "0.000123"),
            (1e-7, "0.0000001"),
            (99_999_999_999_999.9, "99999999999999.9"),
            (123_456_789_012_345e-21, "0.000000123456789012345"),
        ] {
            let mut out = Vec::new();
            assert!(put_short_decimal(x, &mut out), "{x}");
            assert_eq!(String::from_utf8(out).unwrap(), text);
            assert_eq!(x.to_string(), text, "Display's text");
        }
        for x in [0.1 + 0.2, 123_456_789_012_345.6, 1.0 / 3.0, 5e-324, 1e15 + 0.5, 1e-8, f64::NAN] {
            assert!(!put_short_decimal(x, &mut Vec::new()), "{x}: more than 15 digits, or none");
        }
    }

    /// Many runs of one size, their keys spread over them by hash (a worker's partitions),
    /// are cut into pieces of about the size asked, none more than twice it.
    #[test]
    fn runs_of_one_size_are_cut_into_even_pieces() {
        let mut runs: Vec<Run> = (0..128).map(|_| Run::with_capacity(1, 2000, 0)).collect();
        for i in 0..256_000_u64 {
            let run = (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 57) as usize;
            runs[run].push(format!("id{i:010}").as_bytes(), &[Cell::Count(i)]);
        }
        let runs: Vec<&Run> = runs.iter().collect();
        let bounds = piece_bounds(&runs, 2, 4096);
        let pieces = bounds[0].len() - 1;
        let sizes: Vec<usize> =
            (0..pieces).map(|p| bounds.iter().map(|b| b[p + 1] - b[p]).sum()).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 256_000);
        assert!(pieces >= 50, "{pieces} pieces");
        assert!(sizes.iter().all(|&n| n <= 2 * 4096), "{sizes:?}");
    }

    /// Runs of very different sizes, most shorter than their samples' offset (256 runs, run j
    /// of j / 16 groups): each still gives a sample, and the pieces hold every group.
    #[test]
    fn runs_too_short_to_sample_make_one_piece() {
        let mut runs: Vec<Run> = (0..256).map(|_| Run::with_capacity(1, 16, 0)).collect();
        for (j, run) in runs.iter_mut().enumerate() {
            for i in 0..j / 16 {
                run.push(format!("k{j:03}-{i:02}").as_bytes(), &[Cell::Count(1)]);
            }
        }
        let runs: Vec<&Run> = runs.iter().collect();
        let bounds = piece_bounds(&runs, 2, 4096);
        let groups: usize = bounds.iter().map(|b| b[b.len() - 1] - b[0]).sum();
        assert_eq!(groups, (0..256).map(|j| j / 16).sum::<usize>());
    }

    /// Runs in files (a spilled worker's, another process's, read through for its marks) and
    /// in memory, merged in pieces on two threads: every group once, in key order, with its
    /// own record, in several pieces - cut at marks, read on from there - of several sizes.
    #[test]
    fn runs_in_files_are_merged_in_pieces_on_every_thread() {
        let folder = tempfile::tempdir().unwrap();
        let mut next = crate::testdata::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut runs: Vec<Run> = (0..9).map(|_| Run::with_capacity(1, 0, 0)).collect();
        let mut keys: Vec<(Vec<u8>, u64)> = (0..60_000_u64)
            .map(|i| {
                // Keys sharing long prefixes, of several lengths.
                let r = next();
                (format!("key-{:0w$}", r % 100_000, w = 5 + (r >> 60) as usize).into_bytes(), i)
            })
            .collect();
        keys.sort();
        keys.dedup_by(|a, b| a.0 == b.0);
        for (key, i) in &keys {
            let run = key.iter().map(|&b| usize::from(b)).sum::<usize>() % 9;
            runs[run].push(key, &[Cell::Count(*i)]);
        }
        let mut sources = Vec::new();
        for (j, run) in runs.into_iter().enumerate() {
            let path = folder.path().join(format!("{j}.run"));
            sources.push(match j % 3 {
                0 => Source::Memory(run),
                1 => Source::File(RunFile::write(&run, &path).unwrap()),
                _ => {
                    let written = RunFile::write(&run, &path).unwrap();
                    let scanned = RunFile::scan(&path).unwrap();
                    assert_eq!((scanned.len, &scanned.marks), (written.len, &written.marks));
                    Source::File(scanned)
                }
            });
        }
        let sources: Vec<&Source> = sources.iter().collect();
        let fill = |sink: &mut Vec<(Vec<u8>, u64)>, key: &[u8], record: &[u8]| {
            sink.push((key.to_vec(), u64::from_le_bytes(record[..8].try_into().unwrap())));
        };
        let merged = std::sync::Mutex::new(Vec::new());
        let mut pieces = Vec::new();
        let take = |sink: &mut Vec<_>| {
            pieces.push(sink.len());
            merged.lock().unwrap().append(sink);
            Ok(())
        };
        merge_in_pieces(&sources, (2, 400), Vec::new, fill, take).unwrap();
        assert_eq!(merged.into_inner().unwrap(), keys);
        assert!(pieces.len() > 5 && pieces.iter().all(|&n| n < 4000), "{pieces:?}");
        // In any order: the runs in memory first, one after another in full pieces (the last
        // fewer), then the files' merged.
        let (mut any, mut pieces) = (Vec::new(), Vec::new());
        let take = |sink: &mut Vec<_>| {
            pieces.push(sink.len());
            any.append(sink);
            Ok(())
        };
        in_any_order(&sources, (2, 400), Vec::new, fill, take).unwrap();
        let in_memory = |(key, _): &(Vec<u8>, u64)| {
            key.iter().map(|&b| usize::from(b)).sum::<usize>() % 9 % 3 == 0
        };
        let memory_first = any.iter().position(|g| !in_memory(g)).unwrap();
        assert!(any[memory_first..].iter().all(|g| !in_memory(g)), "the runs in memory first");
        assert!(any[memory_first..].is_sorted(), "the files' groups merged");
        let full = memory_first / 400;
        assert!(pieces[..full].iter().all(|&n| n == 400), "{pieces:?}");
        assert_eq!(pieces[full], memory_first % 400, "{pieces:?}");
        any.sort();
        assert_eq!(any, keys, "every group once");
    }

    /// Runs in memory and in files (a spilled worker's, another process's) merge in key
    /// order: their heads' windows start at the same byte.
    #[test]
    fn runs_in_memory_and_in_files_merge_in_key_order() {
        let run = |keys: &[&str]| {
            let mut run = Run::with_capacity(1, keys.len(), 0);
            keys.iter().for_each(|k| run.push(k.as_bytes(), &[Cell::Count(1)]));
            run
        };
        let (memory, in_file) = (run(&["ATL", "SLC"]), run(&["BOS", "ORD", "ZZZ"]));
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("run");
        in_file.write_records(&mut std::fs::File::create(&path).unwrap()).unwrap();
        let mut cursors: Vec<Box<dyn Cursor>> =
            vec![Box::new(MemoryCursor::new(&memory)), Box::new(FileCursor::open(&path).unwrap())];
        let mut keys = Vec::new();
        merge_runs(&mut cursors, |key, _| {
            keys.push(String::from_utf8(key.to_vec()).unwrap());
            Ok(())
        })
        .unwrap();
        assert_eq!(keys, ["ATL", "BOS", "ORD", "SLC", "ZZZ"]);
    }

    #[test]
    fn ties_are_told_from_unique_shortest_decimals() {
        assert!(!no_tie_possible(794_874_501_418_316.0 + 0.25), "x.25 with a spacing of 1/8");
        assert!(!no_tie_possible(2_f64.powi(60)), "an integer past 2^53");
        assert!(no_tie_possible(9_007_199_254_740_991.0), "2^53 - 1: its own digits");
        assert!(no_tie_possible(0.1), "0.1 is m times 2^-56: 40 significant digits");
        assert!(no_tie_possible(88.018_999), "a sum of prices");
    }
}

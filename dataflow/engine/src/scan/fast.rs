//! The fast path: a range's records read straight from the bytes, without the csv crate's
//! general reader, as the SIMD CSV parsers (and simdjson before them) do it. Why it is faster:
//! - 64 bytes at a time, four SSE2 comparisons each (`classify`) give bit masks of the
//!   quotes, separators, line feeds and carriage returns: a few instructions for 64 bytes,
//!   where a byte-at-a-time state machine spends a few on each byte. Where the CPU has AVX2
//!   (most x86-64 since 2013), the same loop compiled a second time takes 32 bytes a
//!   comparison (`classify_wide`), picked at run time as Numba compiles for the host;
//! - one prefix XOR of the quote mask says which bytes lie inside quotes, so separators and
//!   line feeds inside quoted fields ("New York, NY") are no field ends, with no branch (where
//!   the CPU has PCLMULQDQ, picked with AVX2, one carry-less multiplication: PCLMULQDQ is
//!   an instruction set of its own, not part of AVX2);
//! - each field end costs a store and an add (`records_with`): where it ended is kept, and only
//!   at the line feed are the fields the query reads (the plan's `columns`) looked at, as byte
//!   slices: nothing is allocated a row, numbers are parsed in place (`plain_decimal`), keys
//!   looked up as slices, and one buffer is reused for the whole range.
//!
//! It takes only the plain records: a quote only opening a field or closing it (or doubled
//! inside it), no doubled quote in a field the query reads, LF or CRLF line ends, the header's
//! number of fields (at most 256), values that are numbers or missing. From the first record
//! with anything else (a bad row, a lone CR, `x"y`, `"a"b`), the rest of the range is read by
//! the csv crate's reader, with its exact RFC 4180 rules and its error messages. Both give a
//! plain reference reader's answer (the crate's
//! `tests::any_file_and_query_cut_anywhere_gives_the_reference_s_answer`).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Plan, Range};

/// What the fast path made of a range.
pub enum Outcome {
    /// Every record of the range went to `row`.
    Done,
    /// A record is not plain: the records before it, up to file offset `from`, went to `row`;
    /// the rest is for the csv reader.
    Unusual { from: u64 },
}

/// How much is read at a time; a record longer than this grows the buffer. 128 kB: the
/// kernel's copy from the page cache lands in the core's L2 cache, where the scan reads it
/// back (a 1 MB buffer, larger than many an L2, was about 5-10% slower at 1 GB in the best
/// of 5 runs on a 2-core VM).
pub const CHUNK: usize = 1 << 17;

/// A record's fields that the plan reads (its `columns`, in order), each without its quotes.
pub struct Spans<'b> {
    bytes: &'b [u8],
    spans: &'b [(usize, usize)],
}

impl<'b> Spans<'b> {
    /// The field of `columns[i]`.
    #[inline(always)]
    pub fn get(&self, i: usize) -> &'b [u8] {
        let (from, to) = self.spans[i];
        &self.bytes[from..to]
    }
}

/// Hands every plain record of `path`'s `range` (which `plan` cut at record starts, or
/// guessed it did) to `row`,
/// which refuses one (`Err`) whose value is not a number: from there the range is the csv
/// reader's.
pub fn read(
    plan: &Plan,
    path: &Path,
    range: Range,
    row: &mut impl FnMut(&Spans<'_>) -> Result<(), ()>,
    read: &AtomicU64,
) -> std::io::Result<Outcome> {
    read_with(plan, path, range, row, read, (CHUNK, Isa::host()))
}

/// Only the scan of `path`'s `range`: every record and field found, and the fields handed to
/// `black_box`, but nothing parsed or grouped - what the masks cost. The rows seen, or `None`
/// where the range is not plain.
pub fn scan_only(plan: &Plan, path: &Path, range: Range) -> std::io::Result<Option<u64>> {
    let mut rows = 0_u64;
    let mut row = |fields: &Spans<'_>| {
        std::hint::black_box(fields.spans);
        rows += 1;
        Ok(())
    };
    let outcome = read_with(plan, path, range, &mut row, &AtomicU64::new(0), (CHUNK, Isa::host()))?;
    Ok(matches!(outcome, Outcome::Done).then_some(rows))
}

/// The records of `range`, `chunk` bytes at a time (the tests try small ones, so that records
/// and blocks fall across the buffer's end), their masks made with `isa`.
fn read_with(
    plan: &Plan,
    path: &Path,
    range: Range,
    row: &mut impl FnMut(&Spans<'_>) -> Result<(), ()>,
    read: &AtomicU64,
    (chunk, isa): (usize, Isa),
) -> std::io::Result<Outcome> {
    if plan.header.len() > MAX_FIELDS {
        return Ok(Outcome::Unusual { from: range.start });
    }
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(range.start))?;
    let mut file = file.take(range.len());
    let mut buffer = vec![0; chunk];
    let mut spans = Vec::with_capacity(plan.columns.len());
    // buffer[..filled] holds the bytes from file offset `at`, from a record's start.
    let (mut at, mut filled, mut reported) = (range.start, 0, range.start);
    loop {
        let got = fill(&mut file, &mut buffer[filled..])?;
        filled += got;
        let last = got == 0 || at + filled as u64 == range.end;
        let taken = match records(&buffer[..filled], plan, last, &mut spans, row, isa) {
            Ok(taken) => taken,
            Err(stopped) => {
                let from = at + stopped as u64;
                read.fetch_add(from - reported, Ordering::Relaxed); // the csv reader counts on
                return Ok(Outcome::Unusual { from });
            }
        };
        if last {
            break;
        }
        buffer.copy_within(taken..filled, 0);
        at += taken as u64;
        filled -= taken;
        if filled == buffer.len() {
            buffer.resize(buffer.len() * 2, 0); // one record longer than the buffer
        }
        if at - reported >= 1 << 22 {
            read.fetch_add(at - reported, Ordering::Relaxed);
            reported = at;
        }
    }
    read.fetch_add(range.end - reported, Ordering::Relaxed);
    Ok(Outcome::Done)
}

/// Reads until `buffer` is full or the range ends; the bytes read.
fn fill(file: &mut impl Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Which instructions make the masks: the baseline every x86-64 has, or AVX2 with PCLMULQDQ
/// where this CPU has them (the tests try both on any CPU that has both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    Baseline,
    Wide,
}

impl Isa {
    /// The widest this CPU has (looked up once and cached by the standard library).
    fn host() -> Isa {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("pclmulqdq") {
            return Isa::Wide;
        }
        Isa::Baseline
    }
}

/// Hands the fields of every complete record of `bytes` (which starts at a record's start) to
/// `row`, and returns how many bytes they took; `last`: the range ends with `bytes`, so its
/// final record needs no line end. `Err` with the offset of the first record not handed over,
/// when it is not plain or `row` refused its value.
fn records(
    bytes: &[u8],
    plan: &Plan,
    last: bool,
    spans: &mut Vec<(usize, usize)>,
    row: &mut impl FnMut(&Spans<'_>) -> Result<(), ()>,
    isa: Isa,
) -> Result<usize, usize> {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Wide {
        // SAFETY: Isa::Wide is chosen only where the CPU has AVX2 and PCLMULQDQ.
        #[allow(unsafe_code)]
        return unsafe { records_wide(bytes, plan, last, spans, row) };
    }
    records_with(bytes, plan, last, spans, row, classify)
}

/// [`records`] compiled for AVX2 and PCLMULQDQ, with masks made 32 bytes at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq")]
fn records_wide(
    bytes: &[u8],
    plan: &Plan,
    last: bool,
    spans: &mut Vec<(usize, usize)>,
    row: &mut impl FnMut(&Spans<'_>) -> Result<(), ()>,
) -> Result<usize, usize> {
    records_with(bytes, plan, last, spans, row, |block, sep, valid| {
        classify_wide(block, sep, valid)
    })
}

/// [`records`], each block's masks made by `classify`.
#[inline(always)]
fn records_with(
    bytes: &[u8],
    plan: &Plan,
    last: bool,
    spans: &mut Vec<(usize, usize)>,
    row: &mut impl FnMut(&Spans<'_>) -> Result<(), ()>,
    classify: impl Fn(&[u8; 64], u8, u64) -> Masks,
) -> Result<usize, usize> {
    let (mut start, mut fields, mut ends) = (0, 0, [0_usize; MAX_FIELDS]);
    let mut state = Carry::default();
    let mut padded = [0_u8; 64];
    for (index, block) in bytes.chunks(64).enumerate() {
        let base = index * 64;
        let (block, valid) = padded_block(block, &mut padded);
        let masks = classify(block, plan.sep, valid);
        let ends_here = state.next(&masks, valid).ok_or(start)?;
        // Every field end in this block, in order: where it is kept, with no test of which
        // field it ends (a store and an add), and a line feed ends the record.
        let mut each = ends_here;
        while each != 0 {
            let bit = each.trailing_zeros();
            each &= each - 1;
            let at = base + bit as usize;
            ends[fields % MAX_FIELDS] = at;
            fields += 1;
            if masks.lfs >> bit & 1 == 1 {
                Record { start, fields, ends: &ends }.read(bytes, plan, spans, row).ok_or(start)?;
                (start, fields) = (at + 1, 0);
            }
        }
    }
    if !last {
        return Ok(start);
    }
    // The range's end ends its last record, if one has begun; a quote or CR right before
    // it needs nothing after it.
    if state.inside || state.cr_at_end {
        return Err(start);
    }
    if start < bytes.len() || fields > 0 {
        ends[fields % MAX_FIELDS] = bytes.len();
        let record = Record { start, fields: fields + 1, ends: &ends };
        record.read(bytes, plan, spans, row).ok_or(start)?;
    }
    Ok(bytes.len())
}

/// Fields whose ends a record keeps, by field number modulo this (one AND): a wider record
/// overwrites its first ends, and cannot have the header's width; a file of more columns
/// is the csv reader's.
pub const MAX_FIELDS: usize = 256;

/// A record just read: its first byte, its number of fields, and where each field ended (a
/// separator, its line feed, or the range's end).
struct Record<'e> {
    start: usize,
    fields: usize,
    ends: &'e [usize; MAX_FIELDS],
}

impl Record<'_> {
    /// The fields the plan reads, each without its quotes, to `row`; `None` when the record
    /// is not plain or `row` refused it.
    #[inline(always)]
    fn read(
        &self,
        bytes: &[u8],
        plan: &Plan,
        spans: &mut Vec<(usize, usize)>,
        row: &mut impl FnMut(&Spans<'_>) -> Result<(), ()>,
    ) -> Option<()> {
        if self.fields == 1 && self.field(bytes, 0).0 == self.field(bytes, 0).1 {
            return Some(()); // an empty line, which the csv path skips
        }
        if self.fields != plan.header.len() {
            return None;
        }
        spans.clear();
        for &column in &plan.columns {
            spans.push(unquoted(bytes, self.field(bytes, column))?);
        }
        if self.fields == 1 && spans[0].0 == spans[0].1 {
            return Some(()); // `""` alone, which the csv path skips too
        }
        row(&Spans { bytes, spans }).ok()
    }

    /// Where field `i` lies: from the end of the one before it to its own, the record's last
    /// without the CR of a CRLF.
    #[inline(always)]
    fn field(&self, bytes: &[u8], i: usize) -> (usize, usize) {
        let from = if i == 0 { self.start } else { self.ends[i - 1] + 1 };
        let to = self.ends[i];
        let crlf = i + 1 == self.fields && to > from && bytes[to - 1] == b'\r';
        (from, if crlf { to - 1 } else { to })
    }
}

/// Where the records that `cuts` fall into start (each cut moved past the first line feed
/// outside quotes from the byte before it), found with the same 64-byte masks as the records:
/// a few instructions for 64 bytes. `None` when the file has a quote or a CR the masks do not
/// take (`x"y`): then the exact walk (`scan::record_starts`) decides. Cuts past the last
/// record move to `size`.
pub fn record_starts(
    path: &Path,
    range: (u64, u64),
    sep: u8,
    cuts: &[u64],
) -> std::io::Result<Option<Vec<u64>>> {
    record_starts_on(path, range, sep, cuts, Isa::host())
}

fn record_starts_on(
    path: &Path,
    range: (u64, u64),
    sep: u8,
    cuts: &[u64],
    isa: Isa,
) -> std::io::Result<Option<Vec<u64>>> {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Wide {
        // SAFETY: Isa::Wide is chosen only where the CPU has AVX2 and PCLMULQDQ.
        #[allow(unsafe_code)]
        return unsafe { record_starts_wide(path, range, sep, cuts) };
    }
    record_starts_with(path, range, sep, cuts, classify)
}

/// [`record_starts`] compiled for AVX2 and PCLMULQDQ.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq")]
fn record_starts_wide(
    path: &Path,
    range: (u64, u64),
    sep: u8,
    cuts: &[u64],
) -> std::io::Result<Option<Vec<u64>>> {
    record_starts_with(path, range, sep, cuts, |block, sep, valid| classify_wide(block, sep, valid))
}

/// [`record_starts`], each block's masks made by `classify`.
#[inline(always)]
fn record_starts_with(
    path: &Path,
    (body_start, size): (u64, u64),
    sep: u8,
    cuts: &[u64],
    classify: impl Fn(&[u8; 64], u8, u64) -> Masks,
) -> std::io::Result<Option<Vec<u64>>> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(body_start))?;
    let mut buffer = vec![0; CHUNK];
    let mut state = Carry::default();
    let (mut at, mut starts) = (body_start, Vec::with_capacity(cuts.len()));
    let mut padded = [0_u8; 64];
    while starts.len() < cuts.len() {
        let got = fill(&mut file, &mut buffer)?;
        if got == 0 {
            break;
        }
        for (index, block) in buffer[..got].chunks(64).enumerate() {
            let base = at + index as u64 * 64;
            let (block, valid) = padded_block(block, &mut padded);
            let masks = classify(block, sep, valid);
            let Some(ends) = state.next(&masks, valid) else { return Ok(None) };
            let mut lines = ends & masks.lfs;
            while lines != 0 && starts.len() < cuts.len() {
                let start = base + u64::from(lines.trailing_zeros()) + 1;
                lines &= lines - 1;
                // A record may start at a cut itself: look from the byte before it.
                while starts.len() < cuts.len() && cuts[starts.len()] <= start {
                    starts.push(start);
                }
            }
        }
        at += got as u64;
    }
    starts.resize(cuts.len(), size);
    Ok(Some(starts))
}

/// A block of 64 bytes as it is, or the last, shorter one copied into `padded`; and which of
/// its bits stand for bytes of the data.
fn padded_block<'b>(block: &'b [u8], padded: &'b mut [u8; 64]) -> (&'b [u8; 64], u64) {
    match block.try_into() {
        Ok(full) => (full, u64::MAX),
        Err(_) => {
            padded[..block.len()].copy_from_slice(block);
            padded[block.len()..].fill(0);
            (padded, (1 << block.len()) - 1)
        }
    }
}

/// The four masks of one 64-byte block (bit i for byte i), bytes past `valid` left out, and
/// the quotes' prefix XOR (bit i: the XOR of quote bits 0 to i, 1 from each opening quote up
/// to its closing one).
struct Masks {
    quotes: u64,
    seps: u64,
    lfs: u64,
    crs: u64,
    parity: u64,
}

/// What one block tells the next.
struct Carry {
    /// The block ended inside a quoted field.
    inside: bool,
    /// Its last byte ended a field (or the buffer starts here): a quote may open a field next.
    field_may_start: bool,
    /// Its last byte is a closing quote, which must be followed by a field end or a quote.
    closing_at_end: bool,
    /// Its last byte is a CR outside quotes, which must be followed by a LF.
    cr_at_end: bool,
}

impl Default for Carry {
    /// At a record's start.
    fn default() -> Carry {
        Carry { inside: false, field_may_start: true, closing_at_end: false, cr_at_end: false }
    }
}

impl Carry {
    /// The field ends (separators and line feeds outside quotes) of the block, or `None`
    /// when a quote or a CR is where the fast path does not take it.
    fn next(&mut self, m: &Masks, valid: u64) -> Option<u64> {
        // Inside quotes: from an opening quote (included) to its closing quote (not).
        let mut inside = m.parity;
        if self.inside {
            inside = !inside;
        }
        let (opening, closing) = (m.quotes & inside, m.quotes & !inside);
        let ends = (m.seps | m.lfs) & !inside;
        let crs = m.crs & !inside;
        // A quote opens a field only right after a field end, or right after a closing quote
        // (the second of a doubled `""`): never inside an unquoted field, as in `x"y`.
        let may_open = (ends << 1) | (closing << 1) | (crs << 1) | u64::from(self.field_may_start);
        // A closing quote is followed by a field end, a CR, or a quote; a CR by a LF. (What
        // follows the data's last byte is not known here: the end of the range, which is
        // fine, or bytes still to read, with which the record is read again.)
        let beyond = !valid >> 1;
        let follows_close = ((m.seps | m.lfs | m.crs | m.quotes) >> 1) | beyond;
        let first_ok = (m.seps | m.lfs | m.crs | m.quotes) & 1 == 1;
        let bad = (opening & !may_open)
            | (closing & !follows_close & !(1 << 63))
            | (crs & !((m.lfs >> 1) | beyond) & !(1 << 63))
            | u64::from(self.closing_at_end && !first_ok)
            | u64::from(self.cr_at_end && m.lfs & 1 == 0);
        if bad != 0 {
            return None;
        }
        self.inside = inside >> 63 == 1;
        self.field_may_start = (ends | closing | crs) >> 63 == 1;
        self.closing_at_end = closing >> 63 == 1;
        self.cr_at_end = crs >> 63 == 1;
        Some(ends)
    }
}

/// Bit i: the XOR of bits 0 to i - with the quote mask, 1 from each opening quote up to its
/// closing one. Six shifts and XORs; [`classify_wide`] does it in one carry-less multiply.
fn prefix_xor(mut x: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        x ^= x << shift;
    }
    x
}

/// How this CPU makes the masks, in the lesson's words.
pub fn how_masks_are_made() -> &'static str {
    if Isa::host() == Isa::Wide {
        return "with AVX2 here, picked at run time: two 32-byte comparisons a mask";
    }
    if cfg!(target_arch = "x86_64") {
        "with SSE2 (this CPU lacks AVX2 or PCLMULQDQ): four 16-byte comparisons a mask"
    } else {
        "a byte at a time here (no x86-64 vector instructions)"
    }
}

/// The masks of a block, with SSE2 (on every x86-64): 16 bytes compared with one byte at
/// once, and the 16 results packed into 16 bits (`movemask`).
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[inline(always)]
fn classify(block: &[u8; 64], sep: u8, valid: u64) -> Masks {
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_movemask_epi8, _mm_set1_epi8};
    // SAFETY: 64 bytes as four 16-byte vectors: the same size, and any bits are a valid
    // __m128i. (A copy by value, where `_mm_loadu_si128` goes through a pointer that the
    // dev profile's debug assertions check on every call.)
    let parts = unsafe { std::mem::transmute::<[u8; 64], [__m128i; 4]>(*block) };
    let [quotes, seps, lfs, crs] = [b'"', sep, b'\n', b'\r'].map(|target| {
        // (movemask sets the low 16 bits only, one a byte: the cast keeps them all.)
        #[allow(
            clippy::cast_possible_wrap,
            clippy::cast_sign_loss,
            clippy::cast_possible_truncation
        )]
        let bits = parts.map(|part| {
            // SAFETY: SSE2 is part of x86-64: these instructions exist on every such CPU.
            unsafe { _mm_movemask_epi8(_mm_cmpeq_epi8(part, _mm_set1_epi8(target as i8))) as u16 }
        });
        let [a, b, c, d] = bits.map(u64::from);
        (a | b << 16 | c << 32 | d << 48) & valid
    });
    Masks { quotes, seps, lfs, crs, parity: prefix_xor(quotes) }
}

/// The masks of a block, a byte at a time (where there is no SSE2).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn classify(block: &[u8; 64], sep: u8, valid: u64) -> Masks {
    let mask = |target: u8| {
        block.iter().enumerate().fold(0_u64, |m, (i, &b)| m | (u64::from(b == target) << i)) & valid
    };
    let quotes = mask(b'"');
    Masks {
        quotes,
        seps: mask(sep),
        lfs: mask(b'\n'),
        crs: mask(b'\r'),
        parity: prefix_xor(quotes),
    }
}

/// The masks of a block with AVX2: 32 bytes compared at once, so two comparisons and two
/// movemasks a mask; and the prefix XOR as one carry-less multiplication by all ones
/// (PCLMULQDQ), as simdjson does it. (No closures here: `array::map` would not be inlined
/// into a function compiled for other instructions than its own.)
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq")]
#[allow(unsafe_code)]
fn classify_wide(block: &[u8; 64], sep: u8, valid: u64) -> Masks {
    use std::arch::x86_64::{
        __m256i, _mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x, _mm_set1_epi8,
    };
    // SAFETY: 64 bytes as two 32-byte vectors: the same size, and any bits are valid.
    let halves = unsafe { std::mem::transmute::<[u8; 64], [__m256i; 2]>(*block) };
    let quotes = equal_bytes(&halves, b'"') & valid;
    // Bit i of the product of quotes and all ones is the XOR of quote bits 0 to i.
    #[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)]
    let parity = _mm_cvtsi128_si64(_mm_clmulepi64_si128(
        _mm_set_epi64x(0, quotes as i64),
        _mm_set1_epi8(-1),
        0,
    )) as u64;
    Masks {
        quotes,
        seps: equal_bytes(&halves, sep) & valid,
        lfs: equal_bytes(&halves, b'\n') & valid,
        crs: equal_bytes(&halves, b'\r') & valid,
        parity,
    }
}

/// Bit i: byte i of the two halves is `target`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn equal_bytes(halves: &[std::arch::x86_64::__m256i; 2], target: u8) -> u64 {
    use std::arch::x86_64::{_mm256_cmpeq_epi8, _mm256_movemask_epi8, _mm256_set1_epi8};
    #[allow(clippy::cast_possible_wrap)]
    let target = _mm256_set1_epi8(target as i8);
    // (movemask gives one bit a byte in 32 bits: the casts keep them all.)
    #[allow(clippy::cast_sign_loss)]
    let low = _mm256_movemask_epi8(_mm256_cmpeq_epi8(halves[0], target)) as u32;
    #[allow(clippy::cast_sign_loss)]
    let high = _mm256_movemask_epi8(_mm256_cmpeq_epi8(halves[1], target)) as u32;
    u64::from(low) | u64::from(high) << 32
}

/// Where a field's content lies: within its quotes if it is quoted; `None` if a doubled
/// quote inside would need unescaping (the csv reader does that).
#[inline(always)]
fn unquoted(bytes: &[u8], (start, end): (usize, usize)) -> Option<(usize, usize)> {
    match &bytes[start..end] {
        [b'"', inner @ .., b'"'] if memchr::memchr(b'"', inner).is_none() => {
            Some((start + 1, end - 1))
        }
        [b'"', ..] => None,
        _ => Some((start, end)),
    }
}

/// A number written `-?digits[.digits]` with at most 15 digits in all, parsed without `str`:
/// its digits as an integer below 2^53 and a power of ten are both floats exactly, so one
/// division, correctly rounded by IEEE 754, gives the float nearest the decimal - the same
/// float `str::parse` gives (Clinger's fast path). `None` for anything else, which
/// `parse_value` takes.
pub fn plain_decimal(field: &[u8]) -> Option<f64> {
    let negative = field.first() == Some(&b'-');
    let digits = &field[usize::from(negative)..];
    if digits.len() > 16 {
        return None; // more than 15 digits and a point
    }
    // One pass: the digits into an integer (at most 16 of them: below 10^16, so the
    // arithmetic cannot wrap and is not checked for overflow on every digit), and where the
    // point is.
    let (mut value, mut point) = (0_u64, None);
    for (i, &b) in digits.iter().enumerate() {
        let digit = b.wrapping_sub(b'0');
        if digit <= 9 {
            value = value.wrapping_mul(10).wrapping_add(u64::from(digit));
        } else if b == b'.' && point.is_none() {
            point = Some(i);
        } else {
            return None;
        }
    }
    let fraction = point.map_or(0, |p| digits.len() - p - 1);
    let count = digits.len() - usize::from(point.is_some());
    if count == 0 || count > 15 || (point.is_some() && fraction == 0) {
        return None; // "", "-", "1.", or too many digits: for parse_value
    }
    // Below 10^15 < 2^53: exact. Converted as a signed integer, which x86-64 does in one
    // instruction (an unsigned one takes a branch and several, before AVX-512).
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_wrap)]
    let magnitude = value as i64 as f64 / super::POW10[fraction];
    Some(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::super::{plan, record_starts_exact};
    use super::*;
    use crate::flow::Answer;
    use crate::partial::Aggregator;
    use crate::scan::Rows;
    use crate::table::{Shape, Table};
    use crate::testdata::{config, csv, query, reference, written};
    use proptest::prelude::*;
    use proptest::sample::Index;

    proptest! {
        #![proptest_config(config())]

        /// A plain file is the fast path's alone, whatever its buffer's size and whichever
        /// masks: records and 64-byte blocks fall across the buffer's end, and the buffer
        /// grows for a record longer than itself.
        #[test]
        fn a_plain_file_is_read_whole_by_the_fast_path_at_any_buffer_size(
            csv in csv(true),
            query in query(),
            chunk in 1_usize..100,
            baseline in any::<bool>(),
        ) {
            let folder = tempfile::tempdir().unwrap();
            let patterns = written(&folder, &csv);
            let Ok(plan) = plan(&patterns, &query, csv.sep, u64::MAX, true) else {
                return Ok(());
            };
            let isa = if baseline { Isa::Baseline } else { Isa::host() };
            let shape = Shape::of(&query);
            let mut owned = Table::new(&shape);
            let tally = {
                let flush = |partials: &mut [Table]| {
                    let mut out = vec![Vec::new()];
                    for partial in partials {
                        partial.drain_into(&mut out, |_| 0);
                    }
                    owned.absorb(&out[0]);
                };
                let mut rows = Aggregator::new(Table::new(&shape), usize::MAX, flush);
                let (keys, width) = (plan.keys, plan.columns.len());
                for &range in &plan.ranges {
                    let mut row = |s: &Spans<'_>| rows.row(keys, |i| s.get(i), width).map_err(drop);
                    let outcome = read_with(&plan, &plan.files[0], range, &mut row, &AtomicU64::new(0), (chunk, isa));
                    prop_assert!(matches!(outcome.unwrap(), Outcome::Done), "the fast path gave up");
                }
                rows.finish()
            };
            let answer = Answer::of(vec![owned.into_run(&query)], tally);
            let mut text = Vec::new();
            answer.write(&query, &mut text).unwrap();
            let (expected, expected_tally, _) = reference(&csv, &query);
            prop_assert_eq!(String::from_utf8_lossy(&text), expected);
            prop_assert_eq!(tally, expected_tally);
        }

        /// The record starts that the masks find are the exact quote-by-quote walk's, for
        /// every file the masks take, with either set of instructions.
        #[test]
        fn the_masks_find_the_record_starts_the_exact_walk_finds(
            csv in csv(false),
            step in 1_usize..10,
            baseline in any::<bool>(),
        ) {
            let folder = tempfile::tempdir().unwrap();
            let patterns = written(&folder, &csv);
            let path = Path::new(&patterns[0]);
            let size = csv.text.len() as u64;
            let body = csv.text.find('\n').map_or(size, |i| i as u64 + 1);
            let cuts: Vec<u64> = (body + 1..size).step_by(step).collect();
            let exact = record_starts_exact(path, (body, size), csv.sep, &cuts).unwrap();
            let isa = if baseline { Isa::Baseline } else { Isa::host() };
            if let Some(fast) = record_starts_on(path, (body, size), csv.sep, &cuts, isa).unwrap() {
                prop_assert_eq!(fast, exact);
            }
        }

        /// `-?digits[.digits]` with up to 15 digits: the float `str::parse` gives, to the bit.
        #[test]
        fn plain_decimals_parse_to_the_float_str_parse_gives(
            digits in "[0-9]{1,15}",
            point in any::<Index>(),
            negative in any::<bool>(),
        ) {
            let mut text = digits.clone();
            let point = point.index(digits.len() + 1);
            if point < digits.len() {
                text.insert(point, '.');
            }
            if negative {
                text.insert(0, '-');
            }
            let expected: f64 = text.parse().unwrap();
            let got = plain_decimal(text.as_bytes()).map(f64::to_bits);
            prop_assert_eq!(got, Some(expected.to_bits()), "{}", text);
        }
    }

    #[test]
    fn other_numbers_are_left_to_parse_value() {
        for other in ["", "-", "1.", "+3", "1e3", " 7", "1.2.3", "1234567890123456"] {
            assert_eq!(plain_decimal(other.as_bytes()), None, "{other}");
        }
    }
}

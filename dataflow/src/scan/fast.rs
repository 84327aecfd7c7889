//! The fast path: a range's records read straight from the bytes, without the csv crate's
//! general reader, as the SIMD CSV parsers (and simdjson before them) do it. Why it is faster:
//! - 64 bytes at a time, four SSE2 comparisons each (`classify`) give bit masks of the
//!   quotes, separators, line feeds and carriage returns: a few instructions for 64 bytes,
//!   where a byte-at-a-time state machine spends a few on each byte. Where the CPU has AVX2
//!   (most x86-64 since 2013), the same loop compiled a second time takes 32 bytes a
//!   comparison (`classify_wide`), picked at run time as Numba compiles for the host;
//! - one prefix XOR of the quote mask says which bytes lie inside quotes, so separators and
//!   line feeds inside quoted fields ("New York, NY") are no field ends, with no branch (with
//!   AVX2, one carry-less multiplication);
//! - each field end costs a store and an add (`records_with`): where it ended is kept, and only
//!   at the line feed are the two columns the query needs looked at, as byte slices: nothing
//!   is allocated a row, numbers are parsed in place (`plain_decimal`), keys looked up as
//!   slices, and one buffer is reused for the whole range.
//!
//! It takes only the plain records: a quote only opening a field or closing it (or doubled
//! inside it), no doubled quote in the key or the value, LF or CRLF line ends, the header's
//! number of fields (at most 256), a value that is a number or missing. A range with anything
//! else (a bad row, a lone CR, `x"y`, `"a"b`) is read again, whole, by the csv crate's
//! reader, with its exact RFC 4180 rules and its error messages. Both give a plain reference
//! reader's answer (`tests::any_file_cut_anywhere_gives_the_reference_s_answer`).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::{Groups, Plan, Tally, is_missing, parse_value};
use crate::agg::Agg;

/// What the fast path made of a range.
pub enum Outcome {
    /// Every record of the range is in the groups.
    Done,
    /// A record is not plain: the range is for the csv reader (the groups so far are wrong
    /// to keep).
    Unusual,
}

/// How much is read at a time; a record longer than this grows the buffer. 128 kB: the
/// kernel's copy from the page cache lands in the core's L2 cache, where the scan reads it
/// back (a 1 MB buffer, larger than many an L2, was about 5-10% slower at 1 GB in the best
/// of 5 runs on a 2-core VM).
pub const CHUNK: usize = 1 << 17;

/// Reads the plain records of `path`'s bytes `start..end` (a range `plan` cut at record
/// starts) into `groups`.
pub fn read(
    plan: &Plan,
    path: &Path,
    range: (u64, u64),
    groups: &mut Local,
    tally: &mut Tally,
    read: &AtomicU64,
) -> std::io::Result<Outcome> {
    read_in_chunks(plan, path, range, (groups, tally), read, CHUNK)
}

/// Only the scan of `path`'s bytes `start..end`: every record and field found, and each key
/// and value handed to `black_box`, but nothing parsed or grouped - what the masks cost. The
/// rows seen, or `None` where the range is not plain.
pub fn scan_only(plan: &Plan, path: &Path, range: (u64, u64)) -> std::io::Result<Option<u64>> {
    let mut rows = 0_u64;
    let mut row = |key: &[u8], value: &[u8]| {
        std::hint::black_box((key, value));
        rows += 1;
        Ok(())
    };
    let outcome = read_with(plan, path, range, &mut row, &AtomicU64::new(0), CHUNK)?;
    Ok(matches!(outcome, Outcome::Done).then_some(rows))
}

/// [`read`], `chunk` bytes at a time (the tests try small ones, so that records and blocks
/// fall across the buffer's end).
fn read_in_chunks(
    plan: &Plan,
    path: &Path,
    range: (u64, u64),
    (groups, tally): (&mut Local, &mut Tally),
    read: &AtomicU64,
    chunk: usize,
) -> std::io::Result<Outcome> {
    let mut row = |key: &[u8], value: &[u8]| {
        let value = plain_decimal(value).map_or_else(|| parse_value(value), |v| Ok(Some(v)));
        value.map(|value| add(groups, tally, key, value))
    };
    read_with(plan, path, range, &mut row, read, chunk)
}

/// The records of `start..end`, `chunk` bytes at a time, each record's key and value to `row`.
fn read_with(
    plan: &Plan,
    path: &Path,
    (start, end): (u64, u64),
    row: &mut impl FnMut(&[u8], &[u8]) -> Result<(), ()>,
    read: &AtomicU64,
    chunk: usize,
) -> std::io::Result<Outcome> {
    if plan.header.len() > MAX_FIELDS {
        return Ok(Outcome::Unusual);
    }
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(start))?;
    let mut file = file.take(end - start);
    let mut buffer = vec![0; chunk];
    // buffer[..filled] holds the bytes from file offset `at`, from a record's start.
    let (mut at, mut filled, mut reported) = (start, 0, start);
    loop {
        let got = fill(&mut file, &mut buffer[filled..])?;
        filled += got;
        let last = got == 0 || at + filled as u64 == end;
        let Some(taken) = records(&buffer[..filled], plan, last, row) else {
            read.fetch_sub(reported - start, Ordering::Relaxed); // the csv reader counts it
            return Ok(Outcome::Unusual);
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
    read.fetch_add(end - reported, Ordering::Relaxed);
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

/// The group's aggregate gets one row; a key looked up as a slice, allocated only when new.
fn add(groups: &mut Local, tally: &mut Tally, key: &[u8], value: Option<f64>) {
    if is_missing(key) {
        tally.missing_key += 1;
        return;
    }
    groups.get(key).add(value);
}

/// The groups of one range while the fast path reads it. Keys of up to 7 bytes (airport
/// codes, carriers, most ids) are packed with their length into one u64: hashed with one
/// multiplication and compared as one word, where a byte-string key is hashed byte by byte
/// and compared with `memcmp`. The table holds each short key's index into `aggregates`, so
/// that a lookup probes 16-byte entries rather than whole aggregates. Longer keys are kept
/// as bytes.
#[derive(Default)]
pub struct Local {
    short: HashMap<u64, usize, BuildHasherDefault<WordHasher>>,
    aggregates: Vec<Agg>,
    long: Groups,
}

impl Local {
    /// The aggregate of `key`'s group, made empty the first time.
    fn get(&mut self, key: &[u8]) -> &mut Agg {
        if let Some(word) = packed(key) {
            let index = match self.short.get(&word) {
                Some(&index) => index,
                None => {
                    self.aggregates.push(Agg::default());
                    self.short.insert(word, self.aggregates.len() - 1);
                    self.aggregates.len() - 1
                }
            };
            return &mut self.aggregates[index];
        }
        if !self.long.contains_key(key) {
            self.long.insert(key.to_vec(), Agg::default());
        }
        self.long.get_mut(key).expect("just made")
    }

    /// Every group into `groups`.
    pub fn merge_into(self, groups: &mut Groups) {
        for (word, index) in self.short {
            let bytes = word.to_le_bytes();
            let key = bytes[..usize::from(bytes[7])].to_vec();
            groups.entry(key).or_default().merge(&self.aggregates[index]);
        }
        for (key, agg) in self.long {
            groups.entry(key).or_default().merge(&agg);
        }
    }
}

/// A key of up to 7 bytes as one word: its bytes, then its length in the last byte. (Put
/// together byte by byte: `copy_from_slice` of a few bytes is a call to `memcpy`.)
fn packed(key: &[u8]) -> Option<u64> {
    if key.len() > 7 {
        return None;
    }
    let mut word = (key.len() as u64) << 56;
    for (i, &b) in key.iter().enumerate() {
        word |= u64::from(b) << (8 * i);
    }
    Some(word)
}

/// Hashes a packed key: one multiplication by an odd constant (Fibonacci hashing), its high
/// bits folded into the low ones that pick the bucket.
#[derive(Default)]
pub struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b)); // not used by u64 keys; correct anyway
        }
    }

    fn write_u64(&mut self, word: u64) {
        let mixed = (self.0 ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = mixed ^ (mixed >> 29);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Hands the key and value of every complete record of `bytes` (which starts at a record's
/// start) to `row`, and returns how many bytes they took; `last`: the range ends with
/// `bytes`, so its final record needs no line end. `None` when a record is not plain, or
/// `row` refused its value.
fn records(
    bytes: &[u8],
    plan: &Plan,
    last: bool,
    row: &mut impl FnMut(&[u8], &[u8]) -> Result<(), ()>,
) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if wide_masks() {
        // SAFETY: the function needs AVX2 and PCLMULQDQ, and this CPU has both (checked).
        #[allow(unsafe_code)]
        return unsafe { records_wide(bytes, plan, last, row) };
    }
    records_with(bytes, plan, last, row, classify)
}

/// [`records`] compiled for AVX2 and PCLMULQDQ, with masks made 32 bytes at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq")]
fn records_wide(
    bytes: &[u8],
    plan: &Plan,
    last: bool,
    row: &mut impl FnMut(&[u8], &[u8]) -> Result<(), ()>,
) -> Option<usize> {
    records_with(bytes, plan, last, row, |block, sep, valid| classify_wide(block, sep, valid))
}

/// [`records`], each block's masks made by `classify`.
#[inline(always)]
fn records_with(
    bytes: &[u8],
    plan: &Plan,
    last: bool,
    row: &mut impl FnMut(&[u8], &[u8]) -> Result<(), ()>,
    classify: impl Fn(&[u8; 64], u8, u64) -> Masks,
) -> Option<usize> {
    let (mut start, mut fields, mut ends) = (0, 0, [0_usize; MAX_FIELDS]);
    let mut state = Carry::default();
    let mut padded = [0_u8; 64];
    for (index, block) in bytes.chunks(64).enumerate() {
        let base = index * 64;
        let (block, valid) = padded_block(block, &mut padded);
        let masks = classify(block, plan.sep, valid);
        let ends_here = state.next(&masks, valid)?;
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
                Record { start, fields, ends: &ends }.read(bytes, plan, row)?;
                (start, fields) = (at + 1, 0);
            }
        }
    }
    if !last {
        return Some(start);
    }
    // The range's end ends its last record, if one has begun; a quote or CR right before
    // it needs nothing after it.
    if state.inside || state.cr_at_end {
        return None;
    }
    if start < bytes.len() || fields > 0 {
        ends[fields % MAX_FIELDS] = bytes.len();
        Record { start, fields: fields + 1, ends: &ends }.read(bytes, plan, row)?;
    }
    Some(bytes.len())
}

/// Fields whose ends a record keeps, by field number modulo this (one AND): a wider record
/// overwrites its first ends, and cannot have the header's width; a file of more columns
/// is the csv reader's.
const MAX_FIELDS: usize = 256;

/// A record just read: its first byte, its number of fields, and where each field ended (a
/// separator, its line feed, or the range's end).
struct Record<'e> {
    start: usize,
    fields: usize,
    ends: &'e [usize; MAX_FIELDS],
}

impl Record<'_> {
    /// Its key and value, each without its quotes, to `row`; `None` when it is not plain.
    #[inline(always)]
    fn read(
        &self,
        bytes: &[u8],
        plan: &Plan,
        row: &mut impl FnMut(&[u8], &[u8]) -> Result<(), ()>,
    ) -> Option<()> {
        if self.fields == 1 && self.field(bytes, 0).0 == self.field(bytes, 0).1 {
            return Some(()); // an empty line, which the csv path skips
        }
        if self.fields != plan.header.len() {
            return None;
        }
        let key = unquoted(bytes, self.field(bytes, plan.key))?;
        let value = unquoted(bytes, self.field(bytes, plan.value))?;
        if self.fields == 1 && key.is_empty() {
            return Some(()); // `""` alone, which the csv path skips too
        }
        row(key, value).ok()
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
    #[cfg(target_arch = "x86_64")]
    if wide_masks() {
        // SAFETY: the function needs AVX2 and PCLMULQDQ, and this CPU has both (checked).
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

/// Whether this CPU has AVX2 and PCLMULQDQ, for [`classify_wide`] (looked up once and cached
/// by the standard library).
#[cfg(target_arch = "x86_64")]
fn wide_masks() -> bool {
    #[cfg(test)]
    if tests::BASELINE.get() {
        return false; // a test of the baseline masks, on a CPU that has the wide ones
    }
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("pclmulqdq")
}

/// How this CPU makes the masks, in the lesson's words.
pub fn how_masks_are_made() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if wide_masks() {
        return "with AVX2 here, picked at run time: two 32-byte comparisons a mask";
    }
    if cfg!(target_arch = "x86_64") {
        "with SSE2 (this CPU has no AVX2): four 16-byte comparisons a mask"
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

/// A field's content: within its quotes if it is quoted; `None` if a doubled quote inside
/// would need unescaping (the csv reader does that).
#[inline(always)]
fn unquoted(bytes: &[u8], (start, end): (usize, usize)) -> Option<&[u8]> {
    let field = &bytes[start..end];
    match field {
        [b'"', inner @ .., b'"'] if memchr::memchr(b'"', inner).is_none() => Some(inner),
        [b'"', ..] => None,
        _ => Some(field),
    }
}

/// Exact powers of ten: every one up to 1e22 is a float exactly.
const POW10: [f64; 16] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/// A number written `-?digits[.digits]` with at most 15 digits in all, parsed without `str`:
/// its digits as an integer below 2^53 and a power of ten are both floats exactly, so one
/// division, correctly rounded by IEEE 754, gives the float nearest the decimal - the same
/// float `str::parse` gives (Clinger's fast path). `None` for anything else, which
/// `parse_value` takes.
fn plain_decimal(field: &[u8]) -> Option<f64> {
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
    #[allow(clippy::cast_precision_loss)] // below 10^15 < 2^53: exact
    let magnitude = value as f64 / POW10[fraction];
    Some(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::super::{plan, read_range, record_starts_exact};
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::{Index, select};
    use std::cell::Cell;
    use std::collections::BTreeMap;

    thread_local! {
        /// On this thread, the baseline masks even where the CPU has the wide ones: each
        /// case picks one, so that both are tried on any CPU that has both.
        pub static BASELINE: Cell<bool> = const { Cell::new(false) };
    }

    /// A CSV file's text, and its separator.
    #[derive(Clone, Debug)]
    struct Csv {
        text: String,
        sep: u8,
    }

    /// Keys as files have them: codes short and long (packed in a word or not), numeric-looking
    /// ids, pandas' missing markers, quoted names holding separators and line ends.
    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            select(&["BOS", "JFK", "007", "7", "7.0", "", "NA", "NaN", "nan", "null", "N/A"][..])
                .prop_map(str::to_owned),
            "[A-Z]{1,10}",
            "[a-z ,;\t\r\n]{0,9}".prop_map(|s| quoted(&s)),
        ]
    }

    /// Values: missing markers and numbers as people and programs write them.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            select(&["", "NA", "NaN", "nan", "null", "1e3", ".5", "-.5", "+3", " 7", "inf"][..])
                .prop_map(str::to_owned),
            select(&["-0", "-0.0", "00012.50", "12345678901234567", "0.30000000000000004"][..])
                .prop_map(str::to_owned),
            any::<f64>().prop_map(|x| x.to_string()),
            // Decimals with 0 to 4 digits after the point, as a flights file has them.
            (-100_000_i32..100_000, 0_u8..5).prop_map(|(m, d)| {
                format!("{:.*}", usize::from(d), f64::from(m) / 10_f64.powi(i32::from(d)))
            }),
        ]
    }

    /// Free text, quoted where it holds a separator, a quote or a line end, as writers do.
    fn note(sep: u8) -> impl Strategy<Value = String> {
        "[a-z ,;\t\"\r\n]{0,8}".prop_map(move |s| {
            let special = |c: char| c == char::from(sep) || matches!(c, '"' | '\r' | '\n');
            if s.contains(special) { quoted(&s) } else { s }
        })
    }

    /// Anything at all: also what the fast path leaves to the csv reader - a quote inside an
    /// unquoted field (`x"y`, or one opening a field that never closes), text after a closing
    /// quote (`"a"b`), a value that is no number, a quoted value.
    fn anything(sep: u8) -> impl Strategy<Value = String> {
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

    fn quoted(s: &str) -> String {
        format!("\"{}\"", s.replace('"', "\"\""))
    }

    /// A file of up to 40 rows under a header naming `key`, `value` and `note` in some order,
    /// separated by a comma, a tab or a semicolon, LF or CRLF, with or without a final line
    /// end, blank lines among the rows. `plain`: every row one the fast path takes (three
    /// fields, a number or a missing marker as the value, no lone CR); otherwise also rows
    /// of any width, made of anything, ended at times by a lone CR.
    fn csv(plain: bool) -> impl Strategy<Value = Csv> {
        let header = select(
            &[["key", "value", "note"], ["note", "value", "key"], ["value", "note", "key"]][..],
        );
        (header, select(&[b',', b'\t', b';'][..]), any::<bool>(), any::<bool>()).prop_flat_map(
            move |(header, sep, crlf, final_end)| {
                let fields = |name: &str| match name {
                    "key" => key().boxed(),
                    "value" => value().boxed(),
                    _ => note(sep).boxed(),
                };
                let row = (fields(header[0]), fields(header[1]), fields(header[2]))
                    .prop_map(|(a, b, c)| vec![a, b, c]);
                let line = if plain {
                    prop_oneof![12 => row, 1 => Just(Vec::new())].boxed()
                } else {
                    prop_oneof![6 => row, 4 => vec(anything(sep), 0..=5)].boxed()
                };
                let lone_cr = if plain {
                    Just(false).boxed()
                } else {
                    proptest::bool::weighted(0.05).boxed()
                };
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

    /// Each group's printed aggregate, sorted by key, and the tally.
    type Summary = (Vec<(Vec<u8>, [String; 6])>, Tally);

    fn summary<'g>(
        groups: impl IntoIterator<Item = (&'g Vec<u8>, &'g Agg)>,
        tally: Tally,
    ) -> Summary {
        let mut rows: Vec<_> = groups.into_iter().map(|(k, a)| (k.clone(), a.fields())).collect();
        rows.sort();
        (rows, tally)
    }

    /// The plain reference, in memory: RFC 4180 a byte at a time, as the csv crate and pandas
    /// read it (`""` inside quotes is one quote; a quote inside an unquoted field, or text
    /// after a closing quote, is taken as it is; CR, LF and CRLF each end a record; a record
    /// of one empty field is a blank line, skipped), then each row into its group in a sorted
    /// map, with the rules `add_row` applies: the width, then the value, then the key.
    fn reference(csv: &Csv) -> Summary {
        let mut records = split_records(csv.text.as_bytes(), csv.sep).into_iter();
        let header = records.next().expect("a header");
        let column = |name: &str| header.iter().position(|f| f == name.as_bytes()).expect("named");
        let (key, value) = (column("key"), column("value"));
        let (mut groups, mut tally) = (BTreeMap::<Vec<u8>, Agg>::new(), Tally::default());
        for record in records {
            if record.len() != header.len() {
                tally.skipped += 1;
                continue;
            }
            match parse_value(&record[value]) {
                Err(()) => tally.skipped += 1,
                Ok(_) if is_missing(&record[key]) => tally.missing_key += 1,
                Ok(v) => groups.entry(record[key].clone()).or_default().add(v),
            }
        }
        summary(&groups, tally)
    }

    fn split_records(bytes: &[u8], sep: u8) -> Vec<Vec<Vec<u8>>> {
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
    fn written(folder: &tempfile::TempDir, csv: &Csv) -> [String; 1] {
        let path = folder.path().join("random.csv");
        std::fs::write(&path, &csv.text).unwrap();
        [path.to_string_lossy().into_owned()]
    }

    fn config() -> ProptestConfig {
        ProptestConfig { cases: 1000, ..ProptestConfig::default() }
    }

    proptest! {
        #![proptest_config(config())]

        /// Cut anywhere, read by the fast path (and by the csv reader from a range's first
        /// unusual record): the reference's groups and tally; and without `--skip-bad`, an
        /// error exactly where the reference skips a row.
        #[test]
        fn any_file_cut_anywhere_gives_the_reference_s_answer(
            csv in csv(false),
            cut in any::<Index>(),
            baseline in any::<bool>(),
        ) {
            BASELINE.set(baseline);
            let folder = tempfile::tempdir().unwrap();
            let patterns = written(&folder, &csv);
            let blocksize = 1 + cut.index(csv.text.len()) as u64;
            let plan = plan(&patterns, "key", "value", csv.sep, blocksize, false).unwrap();
            let expected = reference(&csv);
            for skip_bad in [true, false] {
                let (mut groups, mut tally) = (Groups::default(), Tally::default());
                let read = AtomicU64::new(0);
                let result: Result<(), _> = plan.ranges.iter().try_for_each(|&range| {
                    read_range(&plan, range, skip_bad, &mut groups, &mut tally, &read)
                });
                if skip_bad {
                    prop_assert!(result.is_ok());
                    let got = summary(&groups, tally);
                    prop_assert_eq!(got, expected.clone(), "blocksize {}", blocksize);
                    let body: u64 = plan.ranges.iter().map(|(_, from, to)| to - from).sum();
                    prop_assert_eq!(read.into_inner(), body, "the progress count");
                } else {
                    prop_assert_eq!(result.is_err(), expected.1.skipped > 0);
                }
            }
        }

        /// A plain file is the fast path's alone, whatever its buffer's size: records and
        /// 64-byte blocks fall across the buffer's end, and the buffer grows for a record
        /// longer than itself.
        #[test]
        fn a_plain_file_is_read_whole_by_the_fast_path_at_any_buffer_size(
            csv in csv(true),
            chunk in 1_usize..100,
            baseline in any::<bool>(),
        ) {
            BASELINE.set(baseline);
            let folder = tempfile::tempdir().unwrap();
            let patterns = written(&folder, &csv);
            let plan = plan(&patterns, "key", "value", csv.sep, u64::MAX, true).unwrap();
            let (mut local, mut tally) = (Local::default(), Tally::default());
            for &(_, start, end) in &plan.ranges {
                let sink = (&mut local, &mut tally);
                let read = AtomicU64::new(0);
                let range = (start, end);
                let outcome = read_in_chunks(&plan, &plan.files[0], range, sink, &read, chunk);
                let outcome = outcome.unwrap();
                prop_assert!(matches!(outcome, Outcome::Done), "the fast path gave up");
            }
            let mut groups = Groups::default();
            local.merge_into(&mut groups);
            prop_assert_eq!(summary(&groups, tally), reference(&csv));
        }

        /// The record starts that the masks find are the exact quote-by-quote walk's, for
        /// every file the masks take.
        #[test]
        fn the_masks_find_the_record_starts_the_exact_walk_finds(
            csv in csv(false),
            step in 1_usize..10,
            baseline in any::<bool>(),
        ) {
            BASELINE.set(baseline);
            let folder = tempfile::tempdir().unwrap();
            let patterns = written(&folder, &csv);
            let path = Path::new(&patterns[0]);
            let size = csv.text.len() as u64;
            let body = csv.text.find('\n').map_or(size, |i| i as u64 + 1);
            let cuts: Vec<u64> = (body + 1..size).step_by(step).collect();
            let exact = record_starts_exact(path, (body, size), csv.sep, &cuts).unwrap();
            if let Some(fast) = record_starts(path, (body, size), csv.sep, &cuts).unwrap() {
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

    /// Files wider than the fast path keeps field ends for, and narrower ones with the value
    /// far right (last, before a CRLF) and the key near the left: the reference's answer.
    #[test]
    fn wide_files_give_the_reference_s_answer() {
        for width in [70, MAX_FIELDS, MAX_FIELDS + 1, 300] {
            let mut names: Vec<String> = (0..width).map(|i| format!("c{i}")).collect();
            (names[1], names[width - 1]) = ("key".into(), "value".into());
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
            let plan = plan(&patterns, "key", "value", b',', 997, false).unwrap();
            let (mut groups, mut tally) = (Groups::default(), Tally::default());
            for &range in &plan.ranges {
                read_range(&plan, range, false, &mut groups, &mut tally, &AtomicU64::new(0))
                    .unwrap();
            }
            assert_eq!(summary(&groups, tally), reference(&csv), "{width} columns");
            assert_eq!(tally.missing_key, 16, "{width} columns");
        }
    }

    #[test]
    fn other_numbers_are_left_to_parse_value() {
        for other in ["", "-", "1.", "+3", "1e3", " 7", "1.2.3", "1234567890123456"] {
            assert_eq!(plain_decimal(other.as_bytes()), None, "{other}");
        }
    }
}

//! The fast path: a range's records read straight from the bytes, without the csv crate's
//! general reader, as the SIMD CSV parsers (and simdjson before them) do it. Why it is faster:
//! - 64 bytes at a time, four SSE2 comparisons each (`classify`) give bit masks of the
//!   quotes, separators, line feeds and carriage returns: a few instructions for 64 bytes,
//!   where a byte-at-a-time state machine spends a few on each byte;
//! - one prefix XOR of the quote mask says which bytes lie inside quotes, so separators and
//!   line feeds inside quoted fields ("New York, NY") are no field ends, with no branch;
//! - only the two columns the query needs are looked at, as byte slices: nothing is
//!   allocated a row, numbers are parsed in place (`plain_decimal`), keys looked up as slices,
//!   and one buffer is reused for the whole range.
//!
//! It takes only the plain records: a quote only opening a field or closing it (or doubled
//! inside it), no doubled quote in the key or the value, LF or CRLF line ends, the header's
//! number of fields, a value that is a number or missing. A range with anything else (a bad
//! row, a lone CR, `x"y`, `"a"b`) is read again, whole, by the csv crate's reader, with its
//! exact RFC 4180 rules and its error messages. Both give the same answer
//! (`tests::the_fast_path_agrees_with_the_csv_reader`).

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

/// How much is read at a time; a record longer than this grows the buffer.
const CHUNK: usize = 1 << 20;

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
/// and compared with `memcmp`. Longer keys are kept as bytes.
#[derive(Default)]
pub struct Local {
    short: HashMap<u64, Agg, BuildHasherDefault<WordHasher>>,
    long: Groups,
}

impl Local {
    /// The aggregate of `key`'s group, made empty the first time.
    fn get(&mut self, key: &[u8]) -> &mut Agg {
        if let Some(word) = packed(key) {
            return self.short.entry(word).or_default();
        }
        if !self.long.contains_key(key) {
            self.long.insert(key.to_vec(), Agg::default());
        }
        self.long.get_mut(key).expect("just made")
    }

    /// Every group into `groups`.
    pub fn merge_into(self, groups: &mut Groups) {
        for (word, agg) in self.short {
            let bytes = word.to_le_bytes();
            let key = bytes[..usize::from(bytes[7])].to_vec();
            groups.entry(key).or_default().merge(&agg);
        }
        for (key, agg) in self.long {
            groups.entry(key).or_default().merge(&agg);
        }
    }
}

/// A key of up to 7 bytes as one word: its bytes, then its length in the last byte.
fn packed(key: &[u8]) -> Option<u64> {
    let length = u8::try_from(key.len()).ok().filter(|&n| n <= 7)?;
    let mut word = [0; 8];
    word[..key.len()].copy_from_slice(key);
    word[7] = length;
    Some(u64::from_le_bytes(word))
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
    let mut fields = Fields { plan, start: 0, record: 0, field: 0, key: (0, 0), value: (0, 0) };
    let mut state = Carry::default();
    let mut padded = [0_u8; 64];
    for (index, block) in bytes.chunks(64).enumerate() {
        let base = index * 64;
        let (block, valid) = padded_block(block, &mut padded);
        let masks = classify(block, plan.sep, valid);
        let ends = state.next(&masks, valid)?;
        // Every field end in this block, in order: most only counted, the key's and the
        // value's kept, a record's last one ending it.
        let mut each = ends;
        while each != 0 {
            let bit = each.trailing_zeros();
            each &= each - 1;
            let at = base + bit as usize;
            if masks.lfs >> bit & 1 == 1 {
                fields.end_record(bytes, at, row)?;
            } else {
                fields.end_field(at);
            }
        }
    }
    if !last {
        return Some(fields.record);
    }
    // The range's end ends its last record, if one has begun; a quote or CR right before
    // it needs nothing after it.
    if state.inside || state.cr_at_end {
        return None;
    }
    if fields.start < bytes.len() || fields.field > 0 {
        fields.end_record(bytes, bytes.len(), row)?;
    }
    Some(bytes.len())
}

/// Where the records that `cuts` fall into start (each cut moved past the first line feed
/// outside quotes from the byte before it), found with the same 64-byte masks as the records:
/// a few instructions for 64 bytes. `None` when the file has a quote or a CR the masks do not
/// take (`x"y`): then the exact walk (`scan::record_starts`) decides. Cuts past the last
/// record move to `size`.
pub fn record_starts(
    path: &Path,
    (body_start, size): (u64, u64),
    sep: u8,
    cuts: &[u64],
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

/// The four masks of one 64-byte block (bit i for byte i), bytes past `valid` left out.
struct Masks {
    quotes: u64,
    seps: u64,
    lfs: u64,
    crs: u64,
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
        let mut inside = prefix_xor(m.quotes);
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
/// closing one.
fn prefix_xor(mut x: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        x ^= x << shift;
    }
    x
}

/// The masks of a block, with SSE2 (on every x86-64): 16 bytes compared with one byte at
/// once, and the 16 results packed into 16 bits (`movemask`).
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn classify(block: &[u8; 64], sep: u8, valid: u64) -> Masks {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let mut masks = [0_u64; 4];
    for part in 0..4 {
        // SAFETY: the 16 bytes at block[part * 16..] lie inside the 64-byte block, and an
        // unaligned load may read them from any address. SSE2 is part of x86-64.
        let bytes = unsafe { _mm_loadu_si128(block.as_ptr().add(part * 16).cast::<__m128i>()) };
        for (mask, target) in masks.iter_mut().zip([b'"', sep, b'\n', b'\r']) {
            // SAFETY: SSE2 is part of x86-64: these instructions exist on every such CPU.
            // (movemask sets the low 16 bits only, one a byte: the cast keeps them all.)
            #[allow(
                clippy::cast_possible_wrap,
                clippy::cast_sign_loss,
                clippy::cast_possible_truncation
            )]
            let found = unsafe {
                _mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8(target as i8))) as u16
            };
            *mask |= u64::from(found) << (part * 16);
        }
    }
    let [quotes, seps, lfs, crs] = masks.map(|m| m & valid);
    Masks { quotes, seps, lfs, crs }
}

/// The masks of a block, a byte at a time (where there is no SSE2).
#[cfg(not(target_arch = "x86_64"))]
fn classify(block: &[u8; 64], sep: u8, valid: u64) -> Masks {
    let mask = |target: u8| {
        block.iter().enumerate().fold(0_u64, |m, (i, &b)| m | (u64::from(b == target) << i)) & valid
    };
    Masks { quotes: mask(b'"'), seps: mask(sep), lfs: mask(b'\n'), crs: mask(b'\r') }
}

/// The fields of the record being read: where the current field starts, and the key and
/// value once passed.
struct Fields<'p> {
    plan: &'p Plan,
    /// The current field's first byte.
    start: usize,
    /// The current record's first byte.
    record: usize,
    /// Fields of the current record passed so far.
    field: usize,
    key: (usize, usize),
    value: (usize, usize),
}

impl Fields<'_> {
    /// A field ends at `at`, a separator: only counted, unless it is the key or the value.
    fn end_field(&mut self, at: usize) {
        if self.field == self.plan.key {
            self.key = (self.start, at);
        }
        if self.field == self.plan.value {
            self.value = (self.start, at);
        }
        self.field += 1;
        self.start = at + 1;
    }

    /// A record ends at `at` (a line feed, or the end of the range): its key and value, each
    /// without its quotes, go to `row`.
    fn end_record(
        &mut self,
        bytes: &[u8],
        at: usize,
        row: &mut impl FnMut(&[u8], &[u8]) -> Result<(), ()>,
    ) -> Option<()> {
        let last = if at > self.start && bytes[at - 1] == b'\r' { at - 1 } else { at }; // CRLF
        let (blank, fields) = (last == self.start, self.field + 1);
        self.end_field(last);
        self.field = 0;
        self.start = at + 1;
        self.record = at + 1;
        if fields == 1 && blank {
            return Some(()); // an empty line, which the csv path skips
        }
        if fields != self.plan.header.len() {
            return None;
        }
        let (key, value) = (unquoted(bytes, self.key)?, unquoted(bytes, self.value)?);
        if fields == 1 && key.is_empty() {
            return Some(()); // `""` alone, which the csv path skips too
        }
        row(key, value).ok()
    }
}

/// A field's content: within its quotes if it is quoted; `None` if a doubled quote inside
/// would need unescaping (the csv reader does that).
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
    let (negative, digits) = match field.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, field),
    };
    let (mut whole, mut fraction_digits, mut seen_point, mut count) = (0_u64, 0, false, 0);
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                whole = whole * 10 + u64::from(b - b'0');
                count += 1;
                fraction_digits += usize::from(seen_point);
            }
            b'.' if !seen_point => seen_point = true,
            _ => return None,
        }
        if count > 15 {
            return None;
        }
    }
    if count == 0 || (seen_point && fraction_digits == 0) {
        return None; // "", "-", "1.": for parse_value
    }
    #[allow(clippy::cast_precision_loss)] // below 10^15 < 2^53: exact
    let magnitude = whole as f64 / POW10[fraction_digits];
    Some(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::super::{plan, read_range, read_with_csv_reader, record_starts_exact};
    use super::*;

    /// xorshift64*: a reproducible stream of random numbers, seeded per case.
    struct Random(u64);

    impl Random {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
        }

        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.below(from.len())]
        }
    }

    /// A field as real CSV writes them, the awkward ones included.
    fn field(random: &mut Random) -> String {
        const PLAIN: &[&str] = &[
            "BOS", "JFK", "007", "7", "7.0", "", "NA", "NaN", "nan", "null", "N/A", "a b", "x\"y",
        ];
        const NUMBERS: &[&str] = &[
            "1.5",
            "-2",
            "0.1",
            "-0.0",
            "1e3",
            "1.",
            ".5",
            "-.5",
            "+3",
            " 7",
            "12345678901234567",
            "0.30000000000000004",
            "99.9",
            "-20.9",
            "1_0",
            "inf",
            "-0",
            "00012.50",
        ];
        const QUOTED: &[&str] = &[
            "\"New York, NY\"",
            "\"a \"\"quoted\"\" note\"",
            "\"line 1\nline 2\"",
            "\"\"",
            "\"BOS\"",
            "\"1.5\"",
            "\"x\r\ny\"",
            "\"tail\"z",
        ];
        match random.below(3) {
            0 => random.pick(PLAIN).to_owned(),
            1 => random.pick(NUMBERS).to_owned(),
            _ => random.pick(QUOTED).to_owned(),
        }
    }

    /// A file of `rows` random rows of three fields (some rows wrong in width, some blank),
    /// LF or CRLF, with or without a final line end.
    fn random_file(random: &mut Random, rows: usize) -> String {
        let end = if random.below(2) == 0 { "\n" } else { "\r\n" };
        let mut text = format!("key,value,note{end}");
        for _ in 0..rows {
            let width = match random.below(20) {
                0 => 0,
                1 => 2,
                2 => 4,
                _ => 3,
            };
            let fields: Vec<String> = (0..width).map(|_| field(random)).collect();
            text += &fields.join(",");
            text += if random.below(30) == 0 { "\r" } else { end }; // a lone CR, at times
        }
        if random.below(2) == 0 {
            text.truncate(text.trim_end_matches(['\r', '\n']).len());
        }
        text
    }

    /// A file the fast path takes whole: quoted fields with separators, newlines and doubled
    /// quotes in the note, quoted keys, blank lines, LF or CRLF, a final line end or none.
    fn plain_file(random: &mut Random, rows: usize) -> String {
        const KEYS: &[&str] = &["BOS", "JFK", "\"New York, NY\"", "007", "", "NA"];
        const VALUES: &[&str] = &["1.5", "-2", "0.1", "-0.0", "1e3", ".5", "NA", "", "99.9"];
        const NOTES: &[&str] =
            &["x", "", "\"line 1\nline 2\"", "\"a \"\"quoted\"\" note\"", "\"\"", "\"x\r\ny\""];
        let end = if random.below(2) == 0 { "\n" } else { "\r\n" };
        let mut text = format!("key,value,note{end}");
        for _ in 0..rows {
            if random.below(15) == 0 {
                text += end; // a blank line
            }
            let fields = [random.pick(KEYS), random.pick(VALUES), random.pick(NOTES)];
            text += &fields.join(",");
            text += end;
        }
        if random.below(2) == 0 {
            text.truncate(text.trim_end_matches(['\r', '\n']).len());
        }
        text
    }

    /// Each group's printed aggregate, sorted, and the tally.
    type Summary = (Vec<(Vec<u8>, [String; 6])>, Tally);

    fn summary(groups: &Groups, tally: Tally) -> Summary {
        let mut rows: Vec<_> = groups.iter().map(|(k, a)| (k.clone(), a.fields())).collect();
        rows.sort();
        (rows, tally)
    }

    #[test]
    fn the_fast_path_agrees_with_the_csv_reader() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("random.csv");
        let read = AtomicU64::new(0);
        for case in 0..400_u64 {
            let mut random =
                Random(0x9e37_79b9_7f4a_7c15 ^ (case + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9));
            let rows = 1 + random.below(40);
            let text = random_file(&mut random, rows);
            std::fs::write(&path, &text).unwrap();
            let blocksize = 1 + random.below(text.len()) as u64;
            let patterns = [path.to_string_lossy().into_owned()];
            let cut = plan(&patterns, "key", "value", b',', blocksize, false).unwrap();
            // The reference: the csv crate's reader alone, over the whole body.
            let whole = plan(&patterns, "key", "value", b',', u64::MAX, true).unwrap();
            let (mut expected, mut expected_tally) = (Groups::default(), Tally::default());
            for &range in &whole.ranges {
                read_with_csv_reader(
                    &whole,
                    range,
                    true,
                    &mut expected,
                    &mut expected_tally,
                    &read,
                )
                .unwrap();
            }
            // The fast path (and the csv reader from its first unusual record), range by range.
            let (mut groups, mut tally) = (Groups::default(), Tally::default());
            for &range in &cut.ranges {
                read_range(&cut, range, true, &mut groups, &mut tally, &read).unwrap();
            }
            assert_eq!(
                summary(&groups, tally),
                summary(&expected, expected_tally),
                "case {case}, blocksize {blocksize}:\n{text:?}"
            );
        }
    }

    #[test]
    fn records_falling_across_the_buffer_s_end_are_read_whole() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("random.csv");
        let read = AtomicU64::new(0);
        let mut done = 0;
        for case in 0..400_u64 {
            let mut random = Random(0x2545_f491_4f6c_dd1d ^ (case + 1).wrapping_mul(0x9e37_79b9));
            let rows = 1 + random.below(60);
            let text = plain_file(&mut random, rows);
            std::fs::write(&path, &text).unwrap();
            let patterns = [path.to_string_lossy().into_owned()];
            let whole = plan(&patterns, "key", "value", b',', u64::MAX, true).unwrap();
            let (mut expected, mut expected_tally) = (Groups::default(), Tally::default());
            let (mut groups, mut tally) = (Groups::default(), Tally::default());
            let chunk = 1 + random.below(100);
            for &(_, start, end) in &whole.ranges {
                read_with_csv_reader(
                    &whole,
                    (0, start, end),
                    true,
                    &mut expected,
                    &mut expected_tally,
                    &read,
                )
                .unwrap();
                let mut local = Local::default();
                let sink = (&mut local, &mut tally);
                match read_in_chunks(&whole, &path, (start, end), sink, &read, chunk).unwrap() {
                    Outcome::Done => done += 1,
                    Outcome::Unusual => continue,
                }
                local.merge_into(&mut groups);
                assert_eq!(
                    summary(&groups, tally),
                    summary(&expected, expected_tally),
                    "case {case}, chunk {chunk}:\n{text:?}"
                );
            }
        }
        assert!(done > 300, "only {done} files were plain enough for the fast path");
    }

    #[test]
    fn the_masks_find_the_record_starts_the_exact_walk_finds() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("random.csv");
        let mut taken = 0;
        for case in 0..400_u64 {
            let mut random = Random(0x6a09_e667_f3bc_c909 ^ (case + 1).wrapping_mul(0x9e37_79b9));
            let rows = 1 + random.below(60);
            let text = if case % 2 == 0 {
                plain_file(&mut random, rows)
            } else {
                random_file(&mut random, rows)
            };
            std::fs::write(&path, &text).unwrap();
            let size = text.len() as u64;
            let body = u64::try_from(text.find('\n').unwrap() + 1).unwrap();
            let cuts: Vec<u64> = (body + 1..size).step_by(1 + random.below(9)).collect();
            let exact = record_starts_exact(&path, (body, size), b',', &cuts).unwrap();
            if let Some(fast) = record_starts(&path, (body, size), b',', &cuts).unwrap() {
                assert_eq!(fast, exact, "case {case}:\n{text:?}");
                taken += 1;
            }
        }
        assert!(taken > 200, "the masks took only {taken} files");
    }

    #[test]
    fn plain_decimals_parse_to_the_float_str_parse_gives() {
        let mut random = Random(42);
        for _ in 0..100_000 {
            let digits = 1 + random.below(15);
            let mut text: String =
                (0..digits).map(|_| char::from(b"0123456789"[random.below(10)])).collect();
            let point = random.below(digits + 1);
            if point < digits {
                text.insert(point, '.');
            }
            if random.below(2) == 0 {
                text.insert(0, '-');
            }
            let expected: f64 = text.parse().unwrap();
            let got = plain_decimal(text.as_bytes()).unwrap();
            assert_eq!(got.to_bits(), expected.to_bits(), "{text}");
        }
        for other in ["", "-", "1.", "+3", "1e3", " 7", "1.2.3", "1234567890123456"] {
            assert_eq!(plain_decimal(other.as_bytes()), None, "{other}");
        }
    }
}

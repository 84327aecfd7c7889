//! The groups of one worker: a hash table of group numbers, the keys side by side in one
//! buffer, and each aggregate in a vector of its own, indexed by group number - so a group
//! costs a few fixed-size slots and no allocation, whether there are three groups or ten
//! million. A row is one hash, one probe, and an update of the slots the query needs.
//!
//! Groups leave a table in batches of bytes (`wire`): to the worker that owns their key,
//! and, in `spill`, to disk; a batch read back is merged group by group. At the end a table
//! is sorted by key into a run of keys and numbers ([`Run`]), which `output` merges with others.

use hashbrown::HashTable;

use crate::agg::{self, Squares, Sum};
use crate::output::{self, Cell, Run};
use crate::query::{Func, Needs, Output, Query};
use crate::wire::{Put, Reader};

/// What a table keeps, from the query: the number of key columns, whether a group's size is
/// counted, and what each value column needs.
#[derive(Clone, Debug)]
pub struct Shape {
    /// How many key columns: their fields make one key.
    pub keys: usize,
    /// Whether each group counts its rows (`size` was asked for).
    pub size: bool,
    /// What each value column keeps, in [`Query::values`]' order.
    pub needs: Vec<Needs>,
}

impl Shape {
    /// What `query`'s groups keep.
    pub fn of(query: &Query) -> Shape {
        Shape { keys: query.keys.len(), size: query.needs_size(), needs: query.needs() }
    }

    /// Bytes a group takes besides its key: the table's slot, its hash, where its key ends,
    /// and each aggregate's slot (a median's values are counted apart, as they come).
    pub fn bytes_a_group(&self) -> usize {
        let fixed = 4 + 1 + 8 + 8 + if self.size { 8 } else { 0 };
        let column = |n: &Needs| {
            usize::from(n.count) * 8
                + usize::from(n.sum) * std::mem::size_of::<Sum>()
                + usize::from(n.squares) * std::mem::size_of::<Squares>()
                + usize::from(n.min) * 8
                + usize::from(n.max) * 8
        };
        fixed + self.needs.iter().map(column).sum::<usize>()
    }
}

/// One value column's aggregates, a slot a group (only those its query needs are kept).
#[derive(Default)]
struct Column {
    needs: Needs,
    count: Vec<u64>,
    sum: Vec<Sum>,
    squares: Vec<Squares>,
    min: Vec<f64>,
    max: Vec<f64>,
    /// (group, value) for each value, for the median: all of a group's values must meet in
    /// one place.
    values: Vec<(u32, f64)>,
    /// The values alone, in group order ([`Table::median_ranges`]): made from `values` at each
    /// drain of a table of partial groups, in the same memory every time (a new vector at
    /// each drain was page faults for each of its pages).
    ordered: Vec<f64>,
}

impl Column {
    fn new(needs: Needs) -> Column {
        Column { needs, ..Column::default() }
    }

    fn push_group(&mut self) {
        let n = self.needs;
        if n.count {
            self.count.push(0);
        }
        if n.sum {
            self.sum.push(Sum::default());
        }
        if n.squares {
            self.squares.push(Squares::default());
        }
        if n.min {
            self.min.push(f64::INFINITY);
        }
        if n.max {
            self.max.push(f64::NEG_INFINITY);
        }
    }

    #[inline]
    fn add(&mut self, g: usize, x: f64) {
        let n = self.needs;
        if n.count {
            self.count[g] += 1;
        }
        if n.sum {
            self.sum[g].add(x);
        }
        if n.squares {
            self.squares[g].add_square(x);
        }
        // total_cmp, where -0 comes before +0: the least of 0 and -0 is -0 whatever their order,
        // so the answer is the same on any split of the rows.
        if n.min && x.total_cmp(&self.min[g]).is_lt() {
            self.min[g] = x;
        }
        if n.max && x.total_cmp(&self.max[g]).is_gt() {
            self.max[g] = x;
        }
        if n.values {
            self.values.push((u32::try_from(g).expect("fewer than 2^32 groups a table"), x));
        }
    }
}

/// The groups of one worker, or of one batch of its rows.
pub struct Table {
    shape: Shape,
    index: Index,
    /// Each group's hash and where its key ends in `keys` (group g's key starts where g - 1's
    /// ends): side by side, so that checking a probe's candidate reads one cache line.
    meta: Vec<Meta>,
    keys: Vec<u8>,
    size: Vec<u64>,
    columns: Vec<Column>,
    /// The groups' order by key, made for each run ([`Table::run`]) in the same memory.
    order: Vec<(u64, usize)>,
}

impl Table {
    /// An empty table of groups of `shape`.
    pub fn new(shape: &Shape) -> Table {
        Table::of(shape, Index::Numbers(HashTable::new()))
    }

    /// An empty table of groups of `shape` whose index keeps each key's [`head`] beside its
    /// group number: for the scan's partial groups, which every row probes, so that a key of
    /// up to 15 bytes is found with no read of the group's other memory (16 more bytes a slot:
    /// the owners' tables, millions of groups at K=1, keep plain numbers).
    pub fn with_heads(shape: &Shape) -> Table {
        Table::of(shape, Index::Headed(HashTable::new()))
    }

    fn of(shape: &Shape, index: Index) -> Table {
        Table {
            shape: shape.clone(),
            index,
            meta: Vec::new(),
            keys: Vec::new(),
            size: Vec::new(),
            columns: shape.needs.iter().map(|&n| Column::new(n)).collect(),
            order: Vec::new(),
        }
    }

    /// How many groups the table holds.
    pub fn len(&self) -> usize {
        self.meta.len()
    }

    /// Whether the table holds no group.
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// What each group keeps.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// About the bytes a group takes here, its key included (16 bytes for one not seen yet).
    pub fn bytes_a_group(&self) -> usize {
        let head = if matches!(self.index, Index::Headed(_)) { 16 } else { 0 };
        self.shape.bytes_a_group() + head + self.keys.len().checked_div(self.len()).unwrap_or(16)
    }

    /// The values kept for medians.
    pub fn values_held(&self) -> usize {
        self.columns.iter().map(|c| c.values.len()).sum()
    }

    fn key(&self, g: usize) -> &[u8] {
        key_of(&self.meta, &self.keys, g)
    }

    /// The number of `key`'s group (whose hash is `hash`), made empty the first time.
    #[inline]
    pub fn group(&mut self, hash: u64, key: &[u8]) -> usize {
        let (meta, keys) = (&self.meta, &self.keys);
        let number = u32::try_from(meta.len()).expect("fewer than 2^32 groups a table");
        let rehash = |g: u32| slot_hash(meta[g as usize].hash);
        let same_key = |g: u32| {
            let g = g as usize;
            meta[g].hash == hash && same_bytes(key_of(meta, keys, g), key)
        };
        match &mut self.index {
            Index::Numbers(index) => {
                let same = |&g: &u32| same_key(g);
                if let Some(&g) = index.find(slot_hash(hash), same) {
                    return g as usize;
                }
                index.insert_unique(slot_hash(hash), number, |&g| rehash(g));
            }
            Index::Headed(index) => {
                // Equal heads are equal keys below 16 bytes; longer ones are compared whole.
                let head = head(key);
                let same = |&(g, h): &(u32, [u8; 16])| h == head && (key.len() < 16 || same_key(g));
                if let Some(&(g, _)) = index.find(slot_hash(hash), same) {
                    return g as usize;
                }
                index.insert_unique(slot_hash(hash), (number, head), |&(g, _)| rehash(g));
            }
        }
        self.push_unindexed(hash, key)
    }

    /// A new group for `key` that the index does not know, so no probe: for partial groups
    /// only, which are drained to their owner, where a key that came twice is merged into one
    /// group. (A later [`Table::group`] of the same key makes another group; that is as good.)
    #[inline]
    pub fn push_unindexed(&mut self, hash: u64, key: &[u8]) -> usize {
        let g = self.meta.len();
        self.keys.extend_from_slice(key);
        self.meta.push(Meta { hash, end: self.keys.len() });
        if self.shape.size {
            self.size.push(0);
        }
        for column in &mut self.columns {
            column.push_group();
        }
        g
    }

    /// One row more in group `g`'s size, if it is kept; the row's values go in by
    /// [`Table::add_value`].
    #[inline]
    pub fn add_row(&mut self, g: usize) {
        if self.shape.size {
            self.size[g] += 1;
        }
    }

    /// Value `x` of value column `column` into group `g` (a missing value is not added).
    #[inline]
    pub fn add_value(&mut self, g: usize, column: usize, x: f64) {
        self.columns[column].add(g, x);
    }

    /// The bytes this table holds: what its vectors have room for (a vector grows by doubling:
    /// up to twice what it uses), its index's slots, its median values.
    pub fn memory(&self) -> u64 {
        let column = |c: &Column| {
            c.count.capacity() * 8
                + c.sum.capacity() * std::mem::size_of::<Sum>()
                + c.squares.capacity() * std::mem::size_of::<Squares>()
                + c.min.capacity() * 8
                + c.max.capacity() * 8
                + c.values.capacity() * std::mem::size_of::<(u32, f64)>()
                + c.ordered.capacity() * 8
        };
        let bytes = self.meta.capacity() * std::mem::size_of::<Meta>()
            + self.keys.capacity()
            + self.index.capacity() * self.index.slot_bytes()
            + self.size.capacity() * 8
            + self.order.capacity() * std::mem::size_of::<(u64, usize)>()
            + self.columns.iter().map(column).sum::<usize>();
        bytes as u64
    }

    /// Empties the table, keeping its shape and kind of index (and, for reuse, none of its
    /// memory).
    pub fn clear(&mut self) {
        let index = match self.index {
            Index::Numbers(_) => Index::Numbers(HashTable::new()),
            Index::Headed(_) => Index::Headed(HashTable::new()),
        };
        *self = Table::of(&self.shape, index);
    }

    /// Empties the table, keeping its memory for the groups that come next (a table of
    /// partial groups fills again at once: its pages stay mapped, not faulted in anew).
    fn empty(&mut self) {
        self.index.clear();
        self.meta.clear();
        self.keys.clear();
        self.size.clear();
        for c in &mut self.columns {
            c.count.clear();
            c.sum.clear();
            c.squares.clear();
            c.min.clear();
            c.max.clear();
            c.values.clear();
            c.ordered.clear();
        }
    }

    // ---- batches ----

    /// Every group, encoded, into `out[destination(hash)]`; the table is left empty, with
    /// its memory.
    pub fn drain_into(&mut self, out: &mut [Vec<u8>], destination: impl FnMut(u64) -> usize) {
        let never = |_: usize, _: &mut Vec<u8>| Ok::<(), ()>(());
        let _ = self.drain_in_pieces(out, destination, usize::MAX, never);
    }

    /// [`Table::drain_into`], handing a destination's bytes to `full` (which empties them)
    /// whenever they pass `piece` bytes: the table is never copied whole. The table is left
    /// empty, with its memory, whatever `full` returns.
    pub fn drain_in_pieces<E>(
        &mut self,
        out: &mut [Vec<u8>],
        mut destination: impl FnMut(u64) -> usize,
        piece: usize,
        mut full: impl FnMut(usize, &mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let medians = self.median_ranges();
        let mut result = Ok(());
        for g in 0..self.len() {
            let d = destination(self.meta[g].hash);
            self.encode_group(g, &medians, &mut out[d]);
            if out[d].len() >= piece && result.is_ok() {
                result = full(d, &mut out[d]);
            }
        }
        self.empty();
        result
    }

    /// For each value column, each group's values (for the median) as a range of its
    /// `ordered`, where they are put in group order here: by counting, in two passes over
    /// them, not by a sort (the order of one group's values does not matter to its median).
    fn median_ranges(&mut self) -> Vec<Vec<(usize, usize)>> {
        let groups = self.len();
        self.columns
            .iter_mut()
            .map(|c| {
                if !c.needs.values {
                    return Vec::new();
                }
                let mut ends = vec![0; groups];
                c.values.iter().for_each(|&(g, _)| ends[g as usize] += 1);
                let mut end = 0;
                let ranges: Vec<(usize, usize)> = (ends.iter())
                    .map(|&n| {
                        end += n;
                        (end - n, end)
                    })
                    .collect();
                let mut next: Vec<usize> = ranges.iter().map(|r| r.0).collect();
                c.ordered.clear();
                c.ordered.resize(c.values.len(), 0.0);
                for &(g, x) in &c.values {
                    c.ordered[next[g as usize]] = x;
                    next[g as usize] += 1;
                }
                ranges
            })
            .collect()
    }

    fn encode_group(&self, g: usize, medians: &[Vec<(usize, usize)>], out: &mut Vec<u8>) {
        out.put_u64(self.meta[g].hash);
        out.put_bytes(self.key(g));
        if self.shape.size {
            out.put_len(self.size[g]);
        }
        for (column, ranges) in self.columns.iter().zip(medians) {
            let n = column.needs;
            if n.count {
                out.put_len(column.count[g]);
            }
            if n.sum {
                column.sum[g].encode(out);
            }
            if n.squares {
                column.squares[g].encode(out);
            }
            if n.min {
                out.put_f64(column.min[g]);
            }
            if n.max {
                out.put_f64(column.max[g]);
            }
            if n.values {
                let (from, to) = ranges[g];
                out.put_len((to - from) as u64);
                column.ordered[from..to].iter().for_each(|&x| out.put_f64(x));
            }
        }
    }

    /// Merges every group of a batch (made by [`Table::drain_into`] from a table of the same
    /// shape) into this table.
    pub fn absorb(&mut self, batch: &[u8]) {
        absorb(std::slice::from_mut(self), batch);
    }

    /// Room for `groups` more groups, made at once: no rehash, and none of the fixed-size
    /// vectors moved while they come (a partition's groups merged at the end: their number,
    /// or more where a key came more than once, is known; the keys' bytes are not).
    pub fn reserve(&mut self, groups: usize) {
        let meta = &self.meta;
        let rehash = |g: u32| slot_hash(meta[g as usize].hash);
        match &mut self.index {
            Index::Numbers(index) => index.reserve(groups, |&g| rehash(g)),
            Index::Headed(index) => index.reserve(groups, |&(g, _)| rehash(g)),
        }
        self.meta.reserve(groups);
        self.size.reserve(if self.shape.size { groups } else { 0 });
        for c in &mut self.columns {
            let n = c.needs;
            let room = |kept: bool| if kept { groups } else { 0 };
            c.count.reserve(room(n.count));
            c.sum.reserve(room(n.sum));
            c.squares.reserve(room(n.squares));
            c.min.reserve(room(n.min));
            c.max.reserve(room(n.max));
        }
    }

    /// Merges the group at `r` (its hash read already) into this table.
    fn absorb_group(&mut self, hash: u64, r: &mut Reader<'_>) {
        let g = self.group(hash, r.bytes());
        if self.shape.size {
            self.size[g] += r.len();
        }
        for column in &mut self.columns {
            let n = column.needs;
            if n.count {
                column.count[g] += r.len();
            }
            if n.sum {
                column.sum[g].merge_encoded(r);
            }
            if n.squares {
                column.squares[g].merge_encoded(r);
            }
            if n.min {
                column.min[g] = least(column.min[g], r.f64());
            }
            if n.max {
                column.max[g] = -least(-column.max[g], -r.f64());
            }
            if n.values {
                let g = u32::try_from(g).expect("fewer than 2^32 groups a table");
                for _ in 0..r.len() {
                    column.values.push((g, r.f64()));
                }
            }
        }
    }

    // ---- the answer ----

    /// The groups in key order, each its key and its outputs' numbers: a sorted run, which
    /// [`crate::output::merge_runs`] merges with other workers' runs (a spilled partition's,
    /// always sorted).
    ///
    /// Keys and records are laid out in key order, so the merge reads each run front to back;
    /// the jumps from group to group happen here, in every worker at once, in a table small
    /// enough to stay in cache when it is one of many parts.
    pub fn into_run(mut self, query: &Query) -> Run {
        self.run(query, true)
    }

    /// [`Table::into_run`], the table left empty with its memory: an owner makes its
    /// partitions' runs one after another in one table, whose pages stay mapped (a new table
    /// for each was page faults for each of its pages, a tenth of K=1 q3's time). Not
    /// `in_key_order`: the groups as the table holds them, unsorted (`groupby(sort=False)`).
    pub fn run(&mut self, query: &Query, in_key_order: bool) -> Run {
        let medians = self.median_ranges();
        let mut run = Run::with_capacity(query.outputs.len(), self.len(), self.keys.len());
        let mut cells = Vec::with_capacity(query.outputs.len());
        let mut order = std::mem::take(&mut self.order);
        let mut push = |table: &mut Table, g: usize| {
            cells.clear();
            cells.extend(query.outputs.iter().map(|output| table.cell(g, *output, &medians)));
            run.push(table.key(g), &cells);
        };
        if in_key_order {
            self.sort(&mut order);
            order.iter().for_each(|&(_, g)| push(self, g));
        } else {
            (0..self.len()).for_each(|g| push(self, g));
        }
        self.order = order; // (cleared by the next sort)
        self.empty();
        run
    }

    /// The group numbers in key order, into `order` (each beside the last window of its key
    /// that was compared): sorted by the 8 bytes past the prefix all keys share, as one
    /// number, then, where those tie (as ids with a common prefix do), by the next 8, and so
    /// on: mostly comparisons of integers, not of byte strings.
    fn sort(&self, order: &mut Vec<(u64, usize)>) {
        // From past the prefix every key shares (q10's at K=1: "id001", "id001", each with
        // its two-byte end, and id3's "id00" - 18 bytes): the first windows would tie on every
        // key.
        order.clear();
        if self.is_empty() {
            return;
        }
        let first = self.key(0);
        let mut shared = first.len();
        for g in 1..self.len() {
            if shared == 0 {
                break;
            }
            shared = output::shared_prefix(&first[..shared], self.key(g));
        }
        order.extend((0..self.len()).map(|g| (window(self.key(g), shared), g)));
        self.sort_from(order, shared);
    }

    fn sort_from(&self, order: &mut [(u64, usize)], depth: usize) {
        order.sort_unstable_by_key(|&(w, _)| w);
        let mut start = 0;
        while start < order.len() {
            let w = order[start].0;
            let end = start + order[start..].iter().take_while(|(x, _)| *x == w).count();
            let run = &mut order[start..end];
            if run.len() > 1 {
                if run.iter().any(|&(_, g)| self.key(g).len() > depth + 8) {
                    run.iter_mut().for_each(|(x, g)| *x = window(self.key(*g), depth + 8));
                    self.sort_from(run, depth + 8);
                    // The windows were rewritten for the deeper sort; the order holds.
                } else {
                    // Equal windows and no more bytes: equal keys but for trailing zero bytes.
                    run.sort_unstable_by(|a, b| self.key(a.1).cmp(self.key(b.1)));
                }
            }
            start = end;
        }
    }

    /// Group g's `output`.
    fn cell(&mut self, g: usize, output: Output, medians: &[Vec<(usize, usize)>]) -> Cell {
        let Output::Of { column, func } = output else { return Cell::Count(self.size[g]) };
        let c = &mut self.columns[column];
        let any = || c.count[g] > 0; // min and max of no value: empty
        let value = match func {
            Func::Count => return Cell::Count(c.count[g]),
            Func::Sum => Some(c.sum[g].value()),
            Func::Mean => mean(c.count[g], &c.sum[g]),
            Func::Min => any().then(|| c.min[g]),
            Func::Max => any().then(|| c.max[g]),
            Func::Var => agg::variance(c.count[g], &c.sum[g], &c.squares[g]),
            Func::Std => agg::variance(c.count[g], &c.sum[g], &c.squares[g]).map(f64::sqrt),
            Func::Median => {
                let (from, to) = medians[column][g];
                // In place: the order of a group's values matters to no other output.
                agg::median(&mut c.ordered[from..to])
            }
        };
        value.map_or(Cell::Empty, Cell::Float)
    }
}

/// The lesser by `total_cmp` (-0 before +0).
fn least(a: f64, b: f64) -> f64 {
    if b.total_cmp(&a).is_lt() { b } else { a }
}

fn mean(count: u64, sum: &Sum) -> Option<f64> {
    // From the exact sum rounded once: the same for any split.
    #[allow(clippy::cast_precision_loss)]
    (count > 0).then(|| sum.value() / count as f64)
}

/// The 8 bytes of `key` from `at`, as a big-endian number (zeros past its end): comparing two
/// such numbers compares those bytes.
fn window(key: &[u8], at: usize) -> u64 {
    let mut bytes = [0; 8];
    let part = key.get(at..).unwrap_or_default();
    let n = part.len().min(8);
    bytes[..n].copy_from_slice(&part[..n]);
    u64::from_be_bytes(bytes)
}

/// A table's index: each group's number, found by its hash; in a table made
/// [`Table::with_heads`], beside its key's head.
enum Index {
    Numbers(HashTable<u32>),
    Headed(HashTable<(u32, [u8; 16])>),
}

impl Index {
    fn capacity(&self) -> usize {
        match self {
            Index::Numbers(index) => index.capacity(),
            Index::Headed(index) => index.capacity(),
        }
    }

    /// The bytes a slot takes: its control byte and its entry.
    fn slot_bytes(&self) -> usize {
        match self {
            Index::Numbers(_) => 1 + 4,
            Index::Headed(_) => 1 + std::mem::size_of::<(u32, [u8; 16])>(),
        }
    }

    fn clear(&mut self) {
        match self {
            Index::Numbers(index) => index.clear(),
            Index::Headed(index) => index.clear(),
        }
    }
}

/// A key's length and first bytes: equal heads are equal keys when the keys are shorter
/// than 16 bytes; longer ones (the length then written as 16) have their first 15 bytes
/// equal. Read as [`same_bytes`] reads keys, a word or two, with no copy.
#[inline(always)]
fn head(key: &[u8]) -> [u8; 16] {
    let n = key.len();
    let bytes = if n >= 16 {
        u128::from_le_bytes(key[..16].try_into().expect("16 bytes")) & ((1 << 120) - 1)
    } else if n >= 8 {
        u128::from(ends8(key).0) | u128::from(tail_word(key, n - 8)) << 64
    } else {
        u128::from(tail_word(key, n))
    };
    (bytes | (n.min(16) as u128) << 120).to_le_bytes()
}

/// A group's hash, and where its key ends.
#[derive(Clone, Copy)]
struct Meta {
    hash: u64,
    end: usize,
}

fn key_of<'k>(meta: &[Meta], keys: &'k [u8], g: usize) -> &'k [u8] {
    let start = if g == 0 { 0 } else { meta[g - 1].end };
    &keys[start..meta[g].end]
}

/// Whether two keys are equal: short ones (up to 16 bytes, most keys) as two words each,
/// the first and the last (overlapping when shorter than twice a word), without a call to
/// `memcmp`.
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 4 {
        return a.iter().zip(b).all(|(x, y)| x == y); // a few bytes: no call to memcmp
    }
    if n > 16 {
        return a == b;
    }
    if n < 8 {
        // 4 to 7 bytes ("id001"): two 4-byte words.
        return ends4(a) == ends4(b);
    }
    ends8(a) == ends8(b)
}

/// The first and the last 4 bytes of `s` (4 to 8 of them: the two overlap below 8), as
/// little-endian words: between them every byte, read as two loads.
#[inline(always)]
fn ends4(s: &[u8]) -> (u32, u32) {
    let word = |at: usize| u32::from_le_bytes(s[at..at + 4].try_into().expect("4 bytes"));
    (word(0), word(s.len() - 4))
}

/// The first and the last 8 bytes of `s` (8 to 16 of them), as [`ends4`] reads 4.
#[inline(always)]
fn ends8(s: &[u8]) -> (u64, u64) {
    let word = |at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"));
    (word(0), word(s.len() - 8))
}

/// Where a table puts a hash in its slots: the hash times an odd constant (a bijection), so
/// that the bits that chose the worker (the top ones, [`owner`]) are mixed with all the others
/// before the table reads its tag from the top bits.
#[inline]
fn slot_hash(hash: u64) -> u64 {
    hash.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Groups in one table past which they are split by [`partition`]: about what a core's 2 MB
/// cache holds of them.
pub const PARTITION_AT: usize = 1 << 15;
/// Partitions of the hash, each a table of its own.
pub const PARTITIONS: usize = 128;

/// A hash's partition of `parts`, a power of two (1, 64 or 128): bits that neither the owner
/// (the top 16) nor a table's slot (the bottom ones, after `slot_hash`'s mixing) depend on
/// alone - taken with a mask, as `% parts` would give them, without a division a row.
#[inline]
pub fn partition(hash: u64, parts: usize) -> usize {
    debug_assert!(parts.is_power_of_two(), "{parts} partitions");
    (hash >> 32) as usize & (parts - 1)
}

/// Merges every group of a batch (made by [`Table::drain_into`] from tables of the same
/// shape) into its table among `tables`: the one, or its [`partition`]. A batch drained from
/// partitioned tables comes a partition after another, so its groups meet a table at a time.
pub fn absorb(tables: &mut [Table], batch: &[u8]) {
    let mut r = Reader::new(batch);
    while !r.is_empty() {
        let hash = r.u64();
        let parts = tables.len();
        tables[partition(hash, parts)].absorb_group(hash, &mut r);
    }
}

/// A table partition's groups waiting to be merged into its table: the batches that hold
/// them as they came (each of groups of this partition alone), and how many groups.
#[derive(Default)]
pub struct Waiting {
    /// The batches, each as [`Table::drain_into`] encoded it.
    batches: Vec<Vec<u8>>,
    /// The groups in them.
    groups: usize,
}

impl Waiting {
    /// The groups waiting.
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// The bytes the batches take (what their vectors have room for).
    pub fn bytes(&self) -> usize {
        self.batches.iter().map(Vec::capacity).sum()
    }

    /// The batches, taken; none left.
    pub fn take(&mut self) -> Vec<Vec<u8>> {
        self.groups = 0;
        std::mem::take(&mut self.batches)
    }

    /// A batch of `groups` groups, all of this partition, kept as it is.
    pub fn push(&mut self, batch: Vec<u8>, groups: usize) {
        self.batches.push(batch);
        self.groups = self.groups.saturating_add(groups);
    }

    /// Every waiting group merged into `table`; none left.
    pub fn merge_into(&mut self, table: &mut Table) {
        self.take().iter().for_each(|batch| table.absorb(batch));
    }
}

/// Sorts the groups of a batch (made by [`Table::drain_into`] from tables of `shape`) of
/// every partition out into a new batch for each [`partition`] among `parts`, each group
/// as it is, and adds those to what waits there: each partition's groups to be merged into
/// its table later, together. (The owner adds a batch of one partition's groups whole,
/// uncopied: `flow::Owned::absorb`.)
pub fn split(shape: &Shape, batch: &[u8], parts: &mut [Waiting]) {
    let mut split: Vec<(Vec<u8>, usize)> = (0..parts.len()).map(|_| (Vec::new(), 0)).collect();
    let mut r = Reader::new(batch);
    while !r.is_empty() {
        let start = r.at();
        let hash = r.u64();
        skip_group(shape, &mut r);
        let (bytes, groups) = &mut split[partition(hash, parts.len())];
        bytes.extend_from_slice(&batch[start..r.at()]);
        *groups += 1;
    }
    for (waiting, (bytes, groups)) in parts.iter_mut().zip(split) {
        if groups > 0 {
            waiting.push(bytes, groups);
        }
    }
}

/// Reads past the group at `r` (its hash read already), as [`Table::absorb_group`] reads it.
fn skip_group(shape: &Shape, r: &mut Reader<'_>) {
    r.bytes();
    if shape.size {
        r.len();
    }
    for n in &shape.needs {
        if n.count {
            r.len();
        }
        if n.sum {
            Sum::decode(r);
        }
        if n.squares {
            Squares::decode(r);
        }
        if n.min {
            r.f64();
        }
        if n.max {
            r.f64();
        }
        if n.values {
            for _ in 0..r.len() {
                r.f64();
            }
        }
    }
}

/// The worker of `workers` that owns a key with this hash: by its top 16 bits, so that each
/// worker gets an even share.
pub fn owner(hash: u64, workers: usize) -> usize {
    ((hash >> 48) as usize * workers) >> 16
}

// ---- keys ----

/// A row's key: one column's bytes as they are; several columns' bytes with each but the last
/// escaped (a zero byte written as 0 255) and ended by 0 0 - so comparing two keys' bytes
/// compares their fields one by one, and no two different rows of fields give the same key.
pub fn encode_key<'f>(count: usize, field: impl Fn(usize) -> &'f [u8], out: &mut Vec<u8>) {
    out.clear();
    for i in 0..count {
        let field = field(i);
        if i + 1 == count {
            out.extend_from_slice(field);
        } else {
            for &b in field {
                out.push(b);
                if b == 0 {
                    out.push(255);
                }
            }
            out.extend_from_slice(&[0, 0]);
        }
    }
}

/// Bytes of a key that [`encode_short_key`] makes on the stack; a longer one is made by
/// [`encode_key`] in a vector.
pub const SHORT_KEY: usize = 64;

/// [`encode_key`]'s bytes into `out`, their length returned; `None` when the key would not
/// fit, or a field but the last holds a zero byte (to be escaped: [`encode_key`] does it).
/// A field of 4 to 16 bytes is copied as two words (first and last, overlapping), not by a
/// call to `memcpy` through a vector's `extend_from_slice`, with a word's test for zero bytes:
/// db-benchmark's q10 (six short fields) on 200,000 rows took 1,463 million instructions
/// that way, 1,425 million this way.
#[inline]
pub fn encode_short_key<'f>(
    count: usize,
    field: impl Fn(usize) -> &'f [u8],
    out: &mut [u8; SHORT_KEY],
) -> Option<usize> {
    let mut at = 0;
    for i in 0..count {
        let field = field(i);
        let last = i + 1 == count;
        let end = at + field.len();
        // Room for the field, and for the 0 0 after it but the last.
        if end + if last { 0 } else { 2 } > SHORT_KEY {
            return None;
        }
        let zeros = copy_short(field, &mut out[at..end]);
        if last {
            return Some(end);
        }
        if zeros {
            return None;
        }
        out[end..end + 2].copy_from_slice(&[0, 0]);
        at = end + 2;
    }
    Some(at)
}

/// `from` copied into `to` (of its length): 4 to 16 bytes as two words, not by a call to
/// memcpy (a key's field is a few bytes); whether it holds a zero byte.
#[inline(always)]
pub(crate) fn copy_short(from: &[u8], to: &mut [u8]) -> bool {
    let has_zero = |word: u64| zero_bytes(word) != 0;
    let n = from.len();
    match n {
        8..=16 => {
            let (head, tail) = ends8(from);
            to[..8].copy_from_slice(&head.to_le_bytes());
            to[n - 8..].copy_from_slice(&tail.to_le_bytes());
            has_zero(head) || has_zero(tail)
        }
        4..=7 => {
            let (head, tail) = ends4(from);
            to[..4].copy_from_slice(&head.to_le_bytes());
            to[n - 4..].copy_from_slice(&tail.to_le_bytes());
            has_zero(u64::from(head) | 0xffff_ffff_0000_0000)
                || has_zero(u64::from(tail) | 0xffff_ffff_0000_0000)
        }
        _ => {
            to.copy_from_slice(from);
            from.contains(&0)
        }
    }
}

/// The top bit of each byte of `word` that is zero, and no other bit: exact, with no carry
/// from byte to byte (each byte's low seven bits plus 0x7f stay below 0x100), so that the
/// lowest set bit tells where the first zero byte is.
#[inline(always)]
pub(crate) fn zero_bytes(word: u64) -> u64 {
    const SEVEN: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((word & SEVEN) + SEVEN) | word | SEVEN)
}

/// A key's hash, the same in every process (std's hasher is seeded per process): 8 bytes at a
/// time, each folded in with a multiplication, then mixed so that every bit of the key moves
/// the top bits ([`owner`]) and the bottom ones alike.
#[inline]
pub fn hash_key(key: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = (key.len() as u64).wrapping_mul(K);
    let mut chunks = key.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        h = (h ^ word).wrapping_mul(K).rotate_left(29);
    }
    let rest = chunks.remainder().len();
    if rest > 0 {
        h = (h ^ tail_word(key, rest)).wrapping_mul(K).rotate_left(29);
    }
    mix(h)
}

/// The last `k` bytes of `key` (fewer than 8; all of them when the key is shorter than 8) as
/// a little-endian word, read as whole words, not a byte at a time: the end of the key's last
/// 8 bytes, or two overlapping 4-byte halves.
#[inline(always)]
fn tail_word(key: &[u8], k: usize) -> u64 {
    let n = key.len();
    if n >= 8 {
        (ends8(key).1 >> 1) >> (8 * (8 - k) - 1) // in two steps: none of it when k is 0
    } else if n >= 4 {
        let (head, tail) = ends4(key);
        u64::from(head) | u64::from(tail) << (8 * (n - 4))
    } else {
        key.iter().rev().fold(0, |word, &b| word << 8 | u64::from(b))
    }
}

/// The finaliser of MurmurHash3: every input bit reaches every output bit.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_several_fields_sort_field_by_field_and_read_back() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        encode_key(2, |i| [&b"ab"[..], &b"z"[..]][i], &mut a);
        encode_key(2, |i| [&b"abc"[..], &b"a"[..]][i], &mut b);
        assert!(a < b, "ab < abc whatever follows");
        encode_key(2, |i| [&b"a\0b"[..], &b"c,d"[..]][i], &mut b);
        let mut line = Vec::new();
        crate::output::write_key(&b, 2, &mut line);
        assert_eq!(line, b"a\0b,\"c,d\"");
        let (mut x, mut y) = (Vec::new(), Vec::new());
        encode_key(2, |i| [&b"a"[..], &b"\0b"[..]][i], &mut x);
        encode_key(2, |i| [&b"a\0"[..], &b"b"[..]][i], &mut y);
        assert_ne!(x, y, "a zero byte never joins two fields into one");
    }

    /// Keys of every length up to 20 bytes, equal and differing in any one byte or in length,
    /// compare as `==` compares them: the word-wise paths (4 to 7 bytes, 8 to 16) included.
    #[test]
    fn keys_compare_equal_exactly_when_their_bytes_do() {
        for n in 0..=20_usize {
            let key: Vec<u8> = (b'a'..=b'z').cycle().take(n).collect();
            assert!(same_bytes(&key, &key.clone()), "{n} bytes, equal");
            for at in 0..n {
                let mut other = key.clone();
                other[at] ^= 0x20;
                assert!(!same_bytes(&key, &other), "{n} bytes, byte {at} differs");
            }
            let longer = [&key[..], b"x"].concat();
            assert!(!same_bytes(&key, &longer), "{n} and {} bytes", n + 1);
        }
    }

    /// A head is the key's length and first bytes: for keys of every length up to 20 bytes,
    /// equal, differing in any one byte, one byte longer (a zero byte, which a short key's
    /// padding holds too) - two keys under 16 bytes have equal heads exactly when they are
    /// equal; longer ones when their first 15 bytes are.
    #[test]
    fn heads_are_equal_exactly_when_short_keys_are() {
        for n in 0..=20_usize {
            let key: Vec<u8> = (b'a'..=b'z').cycle().take(n).collect();
            assert_eq!(head(&key), head(&key.clone()), "{n} bytes, equal");
            for at in 0..n {
                let mut other = key.clone();
                other[at] ^= 0x20;
                assert_eq!(head(&key) == head(&other), at >= 15, "{n} bytes, byte {at} differs");
            }
            for extra in [0, b'x'] {
                let longer = [&key[..], &[extra]].concat();
                assert_eq!(head(&key) == head(&longer), n >= 16, "{n} + 1 bytes");
            }
        }
    }

    /// The hash reads a key's last bytes as whole words; it must give what folding them in a
    /// byte at a time gives, for every length (the overlapping halves of 4 to 7 bytes, the end
    /// of the last word past 8), or keys would land with other owners than before.
    #[test]
    fn hashes_read_the_last_bytes_as_a_byte_at_a_time() {
        fn bytewise(key: &[u8]) -> u64 {
            const K: u64 = 0x9e37_79b9_7f4a_7c15;
            let mut h = (key.len() as u64).wrapping_mul(K);
            for chunk in key.chunks(8) {
                let word = (chunk.iter().enumerate())
                    .fold(0, |word, (i, &b)| word | u64::from(b) << (8 * i));
                h = (h ^ word).wrapping_mul(K).rotate_left(29);
            }
            mix(h)
        }
        let mut next = crate::testdata::xorshift(0x2545_f491_4f6c_dd1d);
        for len in 0..=40 {
            for _ in 0..50 {
                let key: Vec<u8> = (0..len).map(|_| next().to_le_bytes()[0]).collect();
                assert_eq!(hash_key(&key), bytewise(&key), "{key:?}");
            }
        }
    }

    /// The short keys made on the stack are [`encode_key`]'s, byte for byte, for fields of
    /// every length up to 20, some of 55 to 69 (one key filling the 64 bytes exactly), and zero
    /// bytes anywhere; a key that would not fit, or needs an escape, is left to it.
    #[test]
    fn short_keys_are_the_long_way_s_bytes() {
        let mut next = crate::testdata::xorshift(0x9e37_79b9_7f4a_7c15);
        let (mut made, mut left) = (0, 0);
        for _ in 0..20_000 {
            let count = 1 + (next() % 4) as usize;
            let fields: Vec<Vec<u8>> = (0..count)
                .map(|_| {
                    // Now and then one about as long as the stack's room (55 to 69 bytes).
                    let len = if next().is_multiple_of(8) { 55 + next() % 15 } else { next() % 21 };
                    let len = usize::try_from(len).expect("small");
                    // Mostly text; now and then a zero byte.
                    (0..len)
                        .map(|_| {
                            if next().is_multiple_of(50) {
                                0
                            } else {
                                b"abcdefghijklmnopqrstuvwxyz"[(next() % 26) as usize]
                            }
                        })
                        .collect()
                })
                .collect();
            let mut long = Vec::new();
            encode_key(count, |i| &fields[i][..], &mut long);
            let mut short = [0xaa; SHORT_KEY];
            match encode_short_key(count, |i| &fields[i][..], &mut short) {
                Some(n) => {
                    made += 1;
                    assert_eq!(&short[..n], &long[..], "{fields:?}");
                }
                None => {
                    left += 1;
                    let escaped = fields[..count - 1].iter().any(|f| f.contains(&0));
                    assert!(escaped || long.len() > SHORT_KEY, "{fields:?} left out");
                }
            }
        }
        assert!(made > 10_000 && left > 1_000, "both ways drawn: {made} made, {left} left");
    }

    /// Fields with and without zero bytes: copied whole or escaped (not on the stack).
    #[test]
    fn key_fields_are_escaped_only_where_they_hold_a_zero() {
        let fields = [&b"id001"[..], &b"\0x\0"[..], &b"z\0"[..]];
        let mut key = Vec::new();
        encode_key(3, |i| fields[i], &mut key);
        assert_eq!(key, b"id001\0\0\0\xffx\0\xff\0\0z\0");
        assert_eq!(encode_short_key(3, |i| fields[i], &mut [0; SHORT_KEY]), None);
        let mut short = [0; SHORT_KEY];
        let n = encode_short_key(2, |i| [fields[0], fields[2]][i], &mut short);
        assert_eq!(n.map(|n| &short[..n]), Some(&b"id001\0\0z\0"[..]), "the last field as it is");
    }

    /// A partition is the hash's bits from 32 on modulo the partitions, taken by a mask; a
    /// spill partition (of 64) is the table partition (of 128) modulo 64, as `spill` needs.
    #[test]
    fn partitions_are_the_hash_bits_from_32_modulo_their_number() {
        let mut next = crate::testdata::xorshift(0x51_7cc1_b727_220a);
        for _ in 0..10_000 {
            let hash = next();
            for parts in [1, 64, PARTITIONS] {
                assert_eq!(partition(hash, parts), (hash >> 32) as usize % parts, "{hash:#x}");
            }
            assert_eq!(partition(hash, 64), partition(hash, PARTITIONS) % 64);
        }
    }

    #[test]
    fn owners_share_hashes_evenly() {
        let mut counts = [0; 3];
        for i in 0..30_000_u64 {
            counts[owner(hash_key(&i.to_le_bytes()), 3)] += 1;
        }
        assert!(counts.iter().all(|&c| (9_000..11_000).contains(&c)), "{counts:?}");
    }
}

//! Partial aggregates: rows into tables of groups, as a worker reads its ranges - the
//! pre-aggregation every engine does before the shuffle (Dask's `chunk` step of its tree
//! reduction, DuckDB's thread-local hash tables). Handed to the exchange (`flow`) whenever the
//! tables hold about their share of the memory budget, and at the end.

use crate::scan::{Rows, Tally, is_missing, parse_value, plain_decimal};
use crate::table::{self, PARTITION_AT, PARTITIONS, Table};

/// What reads rows into: the table of groups, which `flush` empties when it holds about
/// `limit` bytes' worth of groups - to the workers that own the keys - and the tally of rows
/// left out.
///
/// While the groups are few, each row goes straight into one table. Past [`PARTITION_AT`]
/// groups that table no longer fits the core's cache, and a row's probe would wait on memory;
/// from then on rows are first sorted into [`PARTITIONS`] small tables by their hash - each
/// row appended to its partition's queue, each queue grouped when full - so every probe lands
/// in a table small enough to stay in cache (the radix partitioning of DuckDB's aggregation).
///
/// A queue holds many rows because grouping it brings its partition's table into cache
/// once for all of them (at 100,000 groups a worker, a partition holds about 800), but not
/// so many that the queues, all written while one is grouped, fall out of the cache
/// themselves: [`QUEUED`] says what was measured. 32 or 256 partitions were slower than 128.
///
/// Where the groups come nearly a row each, grouping here only delays the rows: they then
/// pass through ungrouped, each a partial group of its own, and their owner groups them
/// ([`Aggregator::flush_when_full`] says when).
pub struct Aggregator<F: FnMut(&mut [Table])> {
    tables: Vec<Table>,
    /// Each partition's rows waiting to be grouped; none while there is one table.
    queues: Vec<Queue>,
    /// Rows left out so far: those with a missing key, and bad ones skipped.
    pub tally: Tally,
    /// Groups and median values held in all the tables.
    groups: usize,
    held: usize,
    /// The groups, and the values kept for medians, past which the tables are flushed: about
    /// the `limit` in bytes the aggregator was made with.
    max_groups: usize,
    /// Rows since the last flush, and whether rows pass through ungrouped: once a full table
    /// held more than a group for every two rows, or the first groups showed that it would.
    rows: usize,
    pass_through: bool,
    max_values: usize,
    /// Rows a partition's queue holds before they are grouped.
    queued: usize,
    flush: F,
    /// The value columns whose values are kept, for their medians.
    medians: Vec<usize>,
    key: Vec<u8>,
    /// The row's values, NaN for a missing one.
    values: Vec<f64>,
}

/// Rows a partition's queue holds at most before they are grouped. A queued row is given up
/// to 128 bytes (hash, key, values; db-benchmark's take 30 to 70), and all the queues together
/// no more than the aggregator's `limit`: `limit / (PARTITIONS * 128)` rows, 1,024 at limits
/// of 16 MB and more, never fewer than 256.
///
/// The best length depends on the caches and on what a row costs: all the queues are written
/// while one is grouped. On this project's machine (AMD EPYC, 1 MiB of L2 a core, 32 MiB of
/// L3), 1,024 rows now make q3 (K=100) 6-22% and q7 12-30% faster than 4,096, q5 level to
/// 17% faster (five runs, interleaved, on two occasions; 512 and 768 about as 1,024, 2,048
/// between); an earlier version of this code had found 4,096 20-26% faster than 1,024.
const QUEUED: usize = 1024;

/// What the tables may hold once rows pass through them ungrouped: a few megabytes, so that
/// they are handed on while the cache still holds them (a table of the whole 64 MB was
/// written out to memory and read back at each flush). 4, 8 and 16 MB made K=1 q3 and q10
/// 10-21% faster than 64 on this project's machine, 8 the most. Counted as the scan's
/// groups are, with their index slots: tables of groups passed through, which have none,
/// hold somewhat less.
const PASS_THROUGH_LIMIT: usize = 8 << 20;

/// Rows waiting for their partition's table: hash, key and values, side by side.
#[derive(Default)]
struct Queue {
    hashes: Vec<u64>,
    key_ends: Vec<usize>,
    keys: Vec<u8>,
    values: Vec<f64>,
}

impl<F: FnMut(&mut [Table])> Aggregator<F> {
    /// An aggregator filling `table`, which hands its tables to `flush` whenever they hold
    /// about `limit` bytes of groups or of median values.
    pub fn new(table: Table, limit: usize, flush: F) -> Aggregator<F> {
        let max_groups = (limit / table.bytes_a_group()).max(1);
        let needs = &table.shape().needs;
        let medians = (0..needs.len()).filter(|&c| needs[c].values).collect();
        Aggregator {
            tables: vec![table],
            queues: Vec::new(),
            tally: Tally::default(),
            groups: 0,
            held: 0,
            max_groups,
            rows: 0,
            pass_through: false,
            // A value for a median: 16 bytes as it comes (group, value), 8 more once put in
            // group order for its owner.
            max_values: (limit / 24).max(1),
            queued: (limit / (PARTITIONS * 128)).clamp(256, QUEUED),
            flush,
            medians,
            key: Vec::new(),
            values: Vec::new(),
        }
    }

    /// The row whose values are in `self.values` into its group: straight into a table (the
    /// one, or, passing through, its partition's - each row a partial group of its own there,
    /// appended unprobed), or into its partition's queue.
    #[inline]
    fn add(&mut self, hash: u64, key: &[u8]) {
        if self.pass_through || self.queues.is_empty() {
            let parts = self.tables.len();
            let table = &mut self.tables[table::partition(hash, parts)];
            let groups = table.len();
            let g = if self.pass_through {
                table.push_unindexed(hash, key)
            } else {
                table.group(hash, key)
            };
            add_values(table, g, &self.values);
            self.groups += table.len() - groups;
            // The row's values kept for medians: one a median column's value that is there (the
            // table's own count, summed over its columns, was 4% of q4's instructions).
            let values = &self.values;
            self.held += self.medians.iter().filter(|&&c| !values[c].is_nan()).count();
        } else {
            let p = table::partition(hash, PARTITIONS);
            let queue = &mut self.queues[p];
            queue.hashes.push(hash);
            queue.keys.extend_from_slice(key);
            queue.key_ends.push(queue.keys.len());
            queue.values.extend_from_slice(&self.values);
            if queue.hashes.len() == self.queued {
                self.group_queue(p);
            }
        }
    }

    /// After a row: the tables handed to `flush` once they hold their share, or partitioned
    /// once one table holds more groups than a core's cache.
    #[inline]
    fn flush_when_full(&mut self) {
        if self.groups >= self.max_groups || self.held >= self.max_values {
            // Tables that did not halve their rows (the queued ones grouped first, so that
            // every row counts): from now on, no grouping here (the rows pass through, the
            // owner groups them), as DuckDB's thread-local aggregate tables stop looking rows
            // up (`skip_lookups`, src/execution/aggregate_hashtable.cpp). Why half: grouping a row here costs about what sending it
            // on and grouping it at its owner does, so it pays only where it spares the owner
            // most rows. (K=1 q3 and q5 took 4-11% less time with half than with three
            // quarters, q7 the same, on this project's machine - measured while rows waiting
            // in queues counted as rows but not yet as groups, and before such rows passed
            // through from their first groups, below.)
            self.group_queues();
            if self.groups * 2 > self.rows {
                self.pass_from_here();
            }
            self.flush_all();
        } else if self.queues.is_empty() && self.groups >= PARTITION_AT {
            // Too many groups for one table in cache: hand them on, and partition from here -
            // or, where a full table would not halve the rows (its keys came again too seldom
            // so far), pass them through from here, not after a million rows grouped in vain.
            // Decided once, from a worker's first rows: rows whose keys repeat only later
            // then pass through all the same - the answer is the same, the traffic larger.
            if !worth_grouping(self.rows, self.groups, self.max_groups) {
                self.pass_from_here();
            }
            self.flush_all();
            let shape = self.tables[0].shape().clone();
            self.tables = (0..PARTITIONS).map(|_| Table::new(&shape)).collect();
            self.queues = (0..PARTITIONS).map(|_| Queue::default()).collect();
        }
    }

    /// Rows pass through ungrouped from now on, in tables handed on while the cache holds them.
    fn pass_from_here(&mut self) {
        if !self.pass_through {
            self.pass_through = true;
            let bytes_a_group = self.tables[0].bytes_a_group();
            self.max_groups = self.max_groups.min((PASS_THROUGH_LIMIT / bytes_a_group).max(1));
        }
    }

    /// Every partition's queued rows into its table.
    fn group_queues(&mut self) {
        for p in 0..self.queues.len() {
            self.group_queue(p);
        }
    }

    /// Groups partition `p`'s queued rows into its table.
    fn group_queue(&mut self, p: usize) {
        let (queue, table) = (&mut self.queues[p], &mut self.tables[p]);
        let (groups, held) = (table.len(), table.values_held());
        let width = queue.values.len() / queue.hashes.len().max(1);
        let mut start = 0;
        for (i, &hash) in queue.hashes.iter().enumerate() {
            let key = &queue.keys[start..queue.key_ends[i]];
            let g = table.group(hash, key);
            add_values(table, g, &queue.values[i * width..(i + 1) * width]);
            start = queue.key_ends[i];
        }
        queue.hashes.clear();
        queue.key_ends.clear();
        queue.keys.clear();
        queue.values.clear();
        self.groups += table.len() - groups;
        self.held += table.values_held() - held;
    }

    /// Every queued row into its table, then every table to `flush`.
    fn flush_all(&mut self) {
        self.group_queues();
        if self.groups > 0 || self.held > 0 {
            (self.flush)(&mut self.tables);
        }
        (self.groups, self.held, self.rows) = (0, 0, 0);
    }

    /// Hands what is left to `flush`.
    pub fn finish(mut self) -> Tally {
        self.flush_all();
        self.tally
    }
}

/// Whether a table of `max_groups` groups, once full, would hold no more than a group for
/// every two rows, judged from the first `rows` rows, which made `groups` groups: as if keys
/// were drawn evenly from a pool of some number of them, whose size is what makes `groups`
/// of `rows` draws (on average, `pool * (1 - e^(-rows / pool))`). Rows that never repeated
/// a key come from a pool too large to tell: not worth it.
fn worth_grouping(rows: usize, groups: usize, max_groups: usize) -> bool {
    #![allow(clippy::cast_precision_loss)] // counts far below 2^52
    let (rows, groups, full) = (rows as f64, groups as f64, max_groups as f64);
    let made = |pool: f64| groups_drawn(pool, rows);
    if groups >= rows {
        return false; // no key came twice
    }
    if made(full) >= groups {
        return true; // a pool no larger than a table: the table then groups all its rows
    }
    // The pool, between a full table and 2^60 keys, by bisection (a few dozen steps, once).
    let (mut low, mut high) = (full, 2_f64.powi(60));
    for _ in 0..200 {
        let middle = (low * high).sqrt();
        if made(middle) < groups {
            low = middle;
        } else {
            high = middle;
        }
        if high / low < 1.0 + 1e-9 {
            break;
        }
    }
    // Draws from that pool until a table is full, and whether they would be halved.
    let rows_to_fill = -low * (-full / low).ln_1p();
    full * 2.0 <= rows_to_fill
}

/// The groups `rows` draws from a pool of `pool` keys, each as likely, make on average.
fn groups_drawn(pool: f64, rows: f64) -> f64 {
    pool * -(-rows / pool).exp_m1()
}

/// One row's size and values into group `g`: each value that is not missing (NaN).
#[inline]
fn add_values(table: &mut Table, g: usize, values: &[f64]) {
    table.add_row(g);
    for (column, &x) in values.iter().enumerate() {
        if !x.is_nan() {
            table.add_value(g, column, x);
        }
    }
}

impl<F: FnMut(&mut [Table])> Rows for Aggregator<F> {
    /// One row, whose fields `field(i)` are the plan's `columns[i]`, into its group; or, for a
    /// value that is neither a number nor missing, that value's index in `columns` and why
    /// (nothing is added then).
    #[inline]
    fn row<'r>(
        &mut self,
        keys: usize,
        field: impl Fn(usize) -> &'r [u8],
        width: usize,
    ) -> Result<(), (usize, String)> {
        // Every value first: a bad row changes nothing.
        self.values.clear();
        for i in keys..width {
            let text = field(i);
            let value = plain_decimal(text).map_or_else(|| parse_value(text), |v| Ok(Some(v)));
            let Ok(value) = value else {
                let why =
                    format!("{:?} is neither a number nor missing", String::from_utf8_lossy(text));
                return Err((i, why));
            };
            self.values.push(value.unwrap_or(f64::NAN));
        }
        // A row with a missing key is left out, as pandas' groupby (dropna=True) and Dask do.
        if (0..keys).any(|i| is_missing(field(i))) {
            self.tally.missing_key += 1;
            return Ok(());
        }
        // Several key columns are encoded into one key: on the stack when short, else in a
        // buffer taken out for the while (a long key, or one to escape).
        let mut short = [0; table::SHORT_KEY];
        if keys == 1 {
            let key = field(0);
            self.add(table::hash_key(key), key);
        } else if let Some(n) = table::encode_short_key(keys, &field, &mut short) {
            self.add(table::hash_key(&short[..n]), &short[..n]);
        } else {
            let mut buffer = std::mem::take(&mut self.key);
            table::encode_key(keys, &field, &mut buffer);
            self.add(table::hash_key(&buffer), &buffer);
            self.key = buffer;
        }
        self.rows += 1;
        self.flush_when_full();
        Ok(())
    }

    fn skipped(&mut self) {
        self.tally.skipped += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Query;
    use crate::table::Shape;

    /// The tables are flushed once they hold `limit / 24` values for medians: each value there
    /// counts, a missing one does not, and a column with no median keeps none.
    #[test]
    fn values_kept_for_medians_fill_the_tables_as_they_count() {
        let specs = ["v:median".to_owned(), "w:sum".to_owned()];
        let query = Query::parse("k", &specs, None).unwrap();
        let mut flushed = Vec::new();
        // 240 bytes: 10 values before a flush, and room for more than one group (each about
        // 70 bytes here), so that only the values fill the tables.
        let mut rows =
            Aggregator::new(Table::new(&Shape::of(&query)), 240, |tables: &mut [Table]| {
                flushed.push(tables.iter().map(Table::values_held).sum::<usize>());
                tables.iter_mut().for_each(Table::clear);
            });
        for i in 0..30 {
            let v: &[u8] = if i % 3 == 2 { b"NA" } else { b"1.5" };
            let fields: [&[u8]; 3] = [b"a", v, b"2"];
            rows.row(1, |c| fields[c], 3).unwrap();
        }
        rows.finish();
        // 20 values, 10 at a time; the last row's (missing) value is none, but its group goes.
        assert_eq!(flushed, [10, 10, 0], "missing values left out");
    }

    /// Once a full table of partial groups held more than one group for every two rows, the
    /// rows pass through: each a group of its own in the tables, however often its key comes.
    #[test]
    fn rows_pass_through_once_a_full_table_did_not_halve_them() {
        // Tables full at 6 groups; then 4 rows of one key. `first` rows make the 6 groups.
        let groups_flushed = |first: &[&str]| {
            let keys = first.iter().chain(&["z"; 4]).map(|k| (*k).to_owned());
            groups_flushed(|table| 6 * table.bytes_a_group(), keys)
        };
        // 6 groups of 10 rows (0.6): passing through from then on.
        let more_than_half = ["a", "a", "b", "b", "c", "c", "d", "d", "e", "f"];
        assert_eq!(groups_flushed(&more_than_half), [6, 4], "four rows, four groups");
        // 6 groups of 12 rows (one in two; the table is full as the sixth comes): still grouped.
        let half = ["a", "a", "b", "b", "c", "c", "d", "d", "e", "e", "e", "f"];
        assert_eq!(groups_flushed(&half), [6, 1], "four rows, one group");
    }

    /// Whether a full table would halve its rows, from the groups the first rows made: a
    /// pool of keys the table holds is worth grouping; a pool more than about 1.25 times a
    /// table (where a full table has drawn twice its groups) is not.
    #[test]
    fn a_pool_of_keys_is_judged_by_the_groups_its_first_rows_made() {
        let full = 100_000;
        // The groups `rows` draws from `pool` keys make, on average.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let made = |pool: f64, rows: usize| groups_drawn(pool, rows as f64) as usize;
        for (pool, worth) in [
            (50_000.0, true),
            (100_000.0, true),
            (120_000.0, true),
            (130_000.0, false),
            (1e6, false),
            (1e9, false),
        ] {
            let rows = 40_000;
            assert_eq!(worth_grouping(rows, made(pool, rows), full), worth, "a pool of {pool}");
        }
        assert!(!worth_grouping(40_000, 40_000, full), "no key came twice");
        assert!(worth_grouping(40_000, 1, full), "one key");
    }

    /// Where the first [`PARTITION_AT`] groups came from rows that seldom repeat a key, the
    /// rows pass through from there, in tables handed on at [`PASS_THROUGH_LIMIT`]; where keys
    /// repeat, they are grouped on.
    #[test]
    fn rows_pass_through_early_where_their_keys_seldom_repeat() {
        let limit = |_: &Table| 64 << 20;
        // Every key new, then one key four times: each row a group of its own from the
        // partitioning on, in tables flushed long before 64 MB.
        let distinct =
            (0..400_000).map(|i| format!("k{i}")).chain(std::iter::repeat_n("z".to_owned(), 4));
        let flushed = groups_flushed(limit, distinct);
        let most = PASS_THROUGH_LIMIT / Shape::of(&one_sum()).bytes_a_group();
        assert_eq!(flushed[0], PARTITION_AT, "{flushed:?}");
        assert!(flushed.len() > 2 && flushed[1..].iter().all(|&g| g <= most), "{flushed:?}");
        assert_eq!(flushed.iter().sum::<usize>(), 400_004, "four rows, four groups");
        // Each key twice: grouped on (one flush at the partitioning, as the last key's first
        // row came, and one at the end: the other keys, that key again, and "z" once).
        let twice = (0..100_000)
            .map(|i| format!("k{}", i / 2))
            .chain(std::iter::repeat_n("z".to_owned(), 4));
        let flushed = groups_flushed(limit, twice);
        assert_eq!(flushed, [PARTITION_AT, 50_000 - PARTITION_AT + 2], "four rows, one group");
    }

    /// `sum w by k`, the query of the pass-through tests.
    fn one_sum() -> Query {
        Query::parse("k", &["w:sum".to_owned()], None).unwrap()
    }

    /// The groups of each flush when rows of `keys` (each with w = 1) fill an aggregator of
    /// `one_sum`'s tables, whose limit in bytes `limit` gives from its first table.
    fn groups_flushed(
        limit: impl FnOnce(&Table) -> usize,
        keys: impl Iterator<Item = String>,
    ) -> Vec<usize> {
        let table = Table::new(&Shape::of(&one_sum()));
        let limit = limit(&table);
        let mut flushed = Vec::new();
        let mut rows = Aggregator::new(table, limit, |tables: &mut [Table]| {
            flushed.push(tables.iter().map(Table::len).sum::<usize>());
            tables.iter_mut().for_each(Table::clear);
        });
        for key in keys {
            let fields: [&[u8]; 2] = [key.as_bytes(), b"1"];
            rows.row(1, |c| fields[c], 2).unwrap();
        }
        rows.finish();
        flushed
    }
}

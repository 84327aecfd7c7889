//! Notebook section 1.b, "Comprehensions for speed ups": Python's comprehensions are Rust's
//! iterator chains ended by `collect`, and the notebook's timing of 9,000,000 squares done
//! honestly - where the time goes, in Rust and in CPython.
//!
//! Run: `cargo run -p comprehensions` (options: `--size N`, `--runs R`, `--vs-python`; see
//! `--help`).

use std::collections::{BTreeMap, BTreeSet};

use clap::Parser;
use rayon::prelude::*;
use timing::chart::{Figure, Picture};
use timing::python::{Twin, TwinError};
use timing::python_env::Python;
use timing::verdict::{Finding, Place, Verdict};
use timing::{Stats, cli, say};

/// Section 1.b of the notebook: list, dict and set comprehensions, and how fast collecting is.
#[derive(Parser)]
#[command(about, long_about = None)]
struct Args {
    /// How many squares the timed section builds (the notebook's 9,000,000).
    #[arg(long, default_value_t = 9_000_000, value_parser = cli::positive::<u64>,
          allow_hyphen_values = true)]
    size: u64,
    #[command(flatten)]
    timed: cli::Timed<cli::VsPython>,
}

fn main() {
    let args = cli::parse::<Args>();
    let size = checked_size(args.size);
    let picture = Picture::for_svg(&args.timed.svg).unwrap_or_else(|e| cli::usage_error(e));
    let mut figure = Figure::new("comprehensions: a list built by push, by collect, and more");
    say!("== 1.b Comprehensions -> iterator chains ended by collect");
    list_comprehension_cell();
    dict_comprehension_cell();
    more_comprehensions();
    say!();
    let variants = timed_squares(size, args.timed.runs.get(), &mut figure);
    where_the_time_goes(&variants, size);
    if let Some(twin) = timing::twin!(args.timed.python) {
        say!();
        vs_python(size, args.timed.runs.get(), &variants, &twin, &mut figure)
            .unwrap_or_else(|e| cli::fail(e));
    }
    if let Some(picture) = picture {
        figure.save(picture).unwrap_or_else(|e| cli::fail(e));
    }
}

/// `[elem*100 for elem in my_list]`
fn list_comprehension_cell() {
    let my_list = [1, 2, 3, 4, 5];
    let hundreds: Vec<u64> = my_list.iter().map(|elem| elem * 100).collect();
    assert_eq!(hundreds, [100, 200, 300, 400, 500]);
    say!("[1] list: {hundreds:?}");
}

/// `{elem: elem*100 for elem in my_list}`. A `BTreeMap` is sorted by key, so it prints in key
/// order; a `HashMap` would print in an order set by its random hash seed, different each run.
/// (Python's dict keeps insertion order, which here is the same.)
fn dict_comprehension_cell() {
    let my_list = [1, 2, 3, 4, 5];
    let by_elem: BTreeMap<u64, u64> = my_list.iter().map(|&elem| (elem, elem * 100)).collect();
    assert_eq!(by_elem.get(&3), Some(&300));
    say!("[2] dict: {by_elem:?}");
    say!("    (a BTreeMap keeps its keys sorted; a HashMap's order follows a random hash seed)");
}

/// What a learner looks for next; `collect` builds whatever collection the type asks for.
fn more_comprehensions() {
    let my_list = [1, 2, 3, 4, 5];
    // {elem % 3 for elem in my_list}
    let remainders: BTreeSet<u64> = my_list.iter().map(|elem| elem % 3).collect();
    assert_eq!(remainders, BTreeSet::from([0, 1, 2]));
    say!("    set:      {{elem % 3 for elem in my_list}} = {remainders:?}");

    // [elem*100 for elem in my_list if elem % 2 == 1]
    let odd_hundreds: Vec<u64> =
        my_list.iter().filter(|&&elem| elem % 2 == 1).map(|elem| elem * 100).collect();
    assert_eq!(odd_hundreds, [100, 300, 500]);
    say!("    filtered: [elem*100 for elem in my_list if elem % 2 == 1] = {odd_hundreds:?}");

    // [(n, c) for n in [1, 2] for c in "ab"]
    let pairs: Vec<(u64, char)> =
        [1, 2].into_iter().flat_map(|n| "ab".chars().map(move |c| (n, c))).collect();
    assert_eq!(pairs, [(1, 'a'), (1, 'b'), (2, 'a'), (2, 'b')]);
    say!("    nested:   [(n, c) for n in [1, 2] for c in \"ab\"] = {pairs:?}");
}

/// The notebook's timing cells - the `append` loop against the comprehension - and what Rust
/// adds: reserving capacity, reusing a buffer, and rayon. Each variant is verified, timed
/// `runs` times after a warm-up, and charged its minor page faults (fresh pages the kernel had
/// to hand out), each row printed as it is measured.
fn timed_squares(size: usize, runs: usize, figure: &mut Figure) -> Variants {
    let mb = size * 8 / 1_000_000;
    let warmup = timing::after_warmup(runs);
    say!("== Timing: the squares of 0..{size} ({mb} MB of u64), {warmup}");
    figure.panel(format!("The squares of 0..{size}, five ways"));
    let mut buffer = collect_squares(size); // (d) allocates and touches this once, untimed
    let push =
        time_built("(a) push loop into Vec::new()", runs, size, || push_squares(Vec::new(), size));
    push.print(None, figure);
    let collect =
        time_built("(b) collect (the comprehension)", runs, size, || collect_squares(size));
    collect.print(Some(&push), figure);
    let reserved = time_built("(c) push into Vec::with_capacity", runs, size, || {
        push_squares(Vec::with_capacity(size), size)
    });
    reserved.print(Some(&push), figure);
    let (rewrite, ()) = time_variant("(d) rewrite a touched buffer", runs, || {
        rewrite_squares(&mut buffer);
    });
    verify("(d)", &buffer, size);
    rewrite.print(Some(&push), figure);
    let rayon =
        time_built("(e) rayon par_iter().collect()", runs, size, || par_collect_squares(size));
    rayon.print(Some(&push), figure);
    let (last, checksum) = expected_squares(size);
    say!("verified all five: length {size}, last element {last}, checksum {checksum}");
    // Not one of the five: rayon writing the touched buffer, to tell the writes from the faults.
    let (parallel_rewrite, ()) =
        time_variant("rayon rewrite", runs, || par_rewrite_squares(&mut buffer));
    verify("rayon rewrite", &buffer, size);
    // Not timed either: (a) once more, watching where each reallocation put the Vec.
    let (watched, growth) = push_squares_watching_growth(size);
    verify("(a) watched", &watched, size);
    Variants { push, collect, rewrite, rayon, parallel_rewrite, growth }
}

// ---- the five ways to build the squares ----

fn push_squares(mut squares: Vec<u64>, size: usize) -> Vec<u64> {
    for x in 0..size as u64 {
        squares.push(x * x);
    }
    squares
}

/// (a) again, counting its reallocations and how many left the buffer where it was: a
/// reallocation that keeps the address grew in place; one that moves it either copied the
/// elements into a new block or had the kernel move its pages (`mremap`, on glibc), which the
/// page-fault counts tell apart.
fn push_squares_watching_growth(size: usize) -> (Vec<u64>, Growth) {
    let mut squares = Vec::new();
    let mut growth = Growth::default();
    for x in 0..size as u64 {
        let (capacity, before) = (squares.capacity(), squares.as_ptr());
        squares.push(x * x);
        // The first push allocates (capacity 0 has no block yet): not a reallocation.
        if capacity > 0 && squares.capacity() != capacity {
            growth.reallocations += 1;
            growth.in_place += u32::from(squares.as_ptr() == before);
        }
    }
    (squares, growth)
}

fn collect_squares(size: usize) -> Vec<u64> {
    (0..size as u64).map(|x| x * x).collect()
}

fn rewrite_squares(buffer: &mut [u64]) {
    for (x, slot) in (0u64..).zip(buffer) {
        *slot = x * x;
    }
}

fn par_collect_squares(size: usize) -> Vec<u64> {
    (0..size as u64).into_par_iter().map(|x| x * x).collect()
}

fn par_rewrite_squares(buffer: &mut [u64]) {
    buffer.par_iter_mut().enumerate().for_each(|(x, slot)| *slot = (x as u64) * (x as u64));
}

// ---- the report on this run ----

/// What each way measured.
struct Variants {
    push: Variant,
    collect: Variant,
    rewrite: Variant,
    rayon: Variant,
    parallel_rewrite: Variant,
    growth: Growth,
}

/// How (a)'s Vec grew in one untimed run: its reallocations, and how many kept the address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Growth {
    reallocations: u32,
    in_place: u32,
}

/// Where the time goes, computed from the measurements rather than asserted.
fn where_the_time_goes(v: &Variants, size: usize) {
    let bytes = size as u64 * 8;
    let page = timing::machine::HugePages::fault_bytes(timing::machine::HugePages::now());
    say!(
        "Where the time goes: (b) costs {}, (d) writes the same {bytes} bytes in {}.",
        timing::human(v.collect.stats.median),
        timing::human(v.rewrite.stats.median)
    );
    if v.collect.faults * page >= bytes / 2 {
        say!(
            "  The difference, {}, is mostly the kernel handing out {} fresh pages on first",
            timing::human(v.collect.stats.median.saturating_sub(v.rewrite.stats.median)),
            v.collect.faults
        );
        say!("  touch (page faults: each zeroed and mapped), which (d) avoids by reusing pages it");
        say!("  already owns.");
        for paragraph in growth_sentences(&v.push, &v.collect, v.growth, Allocator::this_build()) {
            cli::paragraph("  ", &paragraph);
        }
    } else {
        say!(
            "  At this size the allocator recycles memory it already has ({} fresh pages per",
            v.collect.faults
        );
        say!("  run), so the differences are loop and allocation overhead, not page faults.");
    }
    let threads = rayon::current_num_threads();
    let collected = Verdict::threads(
        "(e) against (b)",
        v.rayon.stats.speedup_over(&v.collect.stats).0,
        threads,
    );
    let writes = Verdict::threads(
        "rayon rewriting the touched buffer against (d)",
        v.parallel_rewrite.stats.speedup_over(&v.rewrite.stats).0,
        threads,
    );
    for paragraph in rayon_sentence(&collected, &writes) {
        cli::paragraph("  ", &paragraph);
    }
    say!("The notebook (not measured here): 7.17 s (append) vs 5.37 s (comprehension) in CPython,");
    say!("  1.34x; there the interpreter's work per element, not memory, was the cost.");
}

/// What (a)'s growing cost, from two measurements: its time against (b)'s, and its fresh pages
/// against (b)'s - which tell a reallocation that copied the list into new pages (up to 2x the
/// pages, each block a doubling of the last) from one that moved the same pages or grew in
/// place (1x). `growth` says how many reallocations kept the address.
fn growth_sentences(
    push: &Variant,
    collect: &Variant,
    growth: Growth,
    allocator: Allocator,
) -> Vec<String> {
    let time = Verdict::new(
        "(b) against (a)",
        collect.stats.speedup_over(&push.stats).0,
        (0.9, 1.1),
        "of two loops writing the same fresh pages",
    );
    let (worst, best) = timing::verdict::spread(&push.stats, &collect.stats);
    let time = match time.place() {
        Place::Inside => format!("{}: growing by doubling cost (a) little here.", time.describe()),
        Place::NearLow | Place::NearHigh => format!(
            "{}: too close to the edge to say whether growing cost (a) anything here.",
            time.describe()
        ),
        Place::Above => format!("{}: (a) paid for growing its Vec.", time.describe()),
        Place::Below if time.spread_reaches_bounds((worst, best)) => format!(
            "{}: by its median only; the runs range from {worst:.2}x to {best:.2}x, run-to-run noise rather than a finding.",
            time.describe()
        ),
        Place::Below => time.surprise(
            "(a) does (b)'s writes and its growing too, so nothing here explains its lead: another program, or page faults that met one loop's runs and not the other's.",
            MORE_RUNS,
        ),
    };
    vec![time, pages_sentence(push.faults, collect.faults, growth, allocator)]
}

/// The command that measures every variant again, with more runs.
const MORE_RUNS: &str = "cargo run -p comprehensions -- --runs 15";

/// Whether (a)'s reallocations copied its pages, from its fresh pages against (b)'s.
fn pages_sentence(push: u64, collect: u64, growth: Growth, allocator: Allocator) -> String {
    let verdict = Verdict::new(
        format!("(a)'s fresh pages against (b)'s ({push} vs {collect})"),
        push as f64 / collect.max(1) as f64,
        (0.9, 1.1),
        "of growth that copies nothing (a copy into new pages at each doubling takes up to 2x)",
    );
    let Growth { reallocations, in_place } = growth;
    let moved = reallocations - in_place;
    let counts = format!(
        "of (a)'s {reallocations} reallocations (one untimed run), {in_place} kept the address and {moved} moved the block"
    );
    match verdict.place() {
        Place::Below | Place::Inside if moved == 0 => format!(
            "{}: {counts}, so nothing was copied. {}",
            verdict.describe(),
            allocator.how_realloc_grows()
        ),
        Place::Below | Place::Inside => format!(
            "{}: {counts}, yet growing took no new pages, so where the block moved its pages moved with it rather than being copied. {}",
            verdict.describe(),
            allocator.how_realloc_grows()
        ),
        Place::NearLow | Place::NearHigh => format!(
            "{}: {counts}; too close to the edge to tell whether some of them copied pages.",
            verdict.describe()
        ),
        Place::Above => format!(
            "{}: {counts}, and some of the moves copied the list into new pages, which the kernel had to hand out. {}",
            verdict.describe(),
            allocator.how_realloc_grows()
        ),
    }
}

/// The allocator behind `Vec`'s growth in this build: Rust's `Vec` grows by `realloc` through
/// std's `System` allocator, which on the GNU Linux target is glibc's malloc.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Allocator {
    GlibcLinux,
    Other,
}

impl Allocator {
    fn this_build() -> Allocator {
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            Allocator::GlibcLinux
        } else {
            Allocator::Other
        }
    }

    /// How its `realloc` grows a large block, where this program knows it.
    fn how_realloc_grows(self) -> &'static str {
        // glibc malloc/malloc.c (2.36, __libc_realloc and mremap_chunk): a chunk that came from
        // mmap (above M_MMAP_THRESHOLD, 128 KiB to start) is grown with mremap(MREMAP_MAYMOVE),
        // which extends the mapping or moves its page-table entries, never the data; a chunk
        // from the heap is extended into free space after it, or copied to a new chunk.
        match self {
            Allocator::GlibcLinux => {
                "glibc's realloc (this build's allocator) grows a block it got from mmap with mremap, which extends the mapping or moves its pages without copying them; a smaller block from its heap it extends where there is room, or copies."
            }
            Allocator::Other => {
                "This build's allocator is not glibc's, and how it grows a block was not looked into here (glibc on Linux remaps a large block's pages with mremap instead of copying them)."
            }
        }
    }
}

/// What rayon's two figures say, each against what its threads could give: (e) against (b),
/// and rayon rewriting the touched buffer against (d), which tells the writes from the page
/// faults.
fn rayon_sentence(collected: &Verdict, writes: &Verdict) -> Vec<String> {
    let mut lines = vec![format!("{}.", collected.describe()), format!("{}.", writes.describe())];
    let (e, w) = (collected.measured, writes.measured);
    let text = if !collected.possible() {
        "With one thread rayon has nothing to split: both ratios are its overhead.".to_owned()
    } else if writes.finding() == Finding::Below && e <= 1.1 * w {
        "Neither scaled: writing this much memory is limited by the bandwidth the cores share, or another program is using them; re-run to compare: `cargo run -p comprehensions`.".to_owned()
    } else if writes.finding() == Finding::Below {
        format!(
            "The writes alone gained less ({w:.2}x) than (e) ({e:.2}x): writing memory is held back by the bandwidth the cores share (or a busy core), while (e) also shares out computing the squares and part of its page faults."
        )
    } else if e < 0.9 * w {
        format!(
            "The writes alone scale ({w:.2}x); what (e) gains less than that went to the kernel: each fresh page is zeroed and mapped, and the threads of one process share its page tables."
        )
    } else {
        format!(
            "(e) gained as much as the writes alone ({e:.2}x vs {w:.2}x): page faults did not hold it back on this run."
        )
    };
    lines.push(text);
    lines
}

/// The notebook's two cells in CPython, beside Rust's (a) and (b), and what CPython's own
/// ratio says about the notebook's "comprehensions are faster".
/// Returns early where there is no Python to compare with (said on stderr); `Err` where the
/// twin failed.
fn vs_python(
    size: usize,
    runs: usize,
    rust: &Variants,
    twin: &Twin,
    figure: &mut Figure,
) -> Result<(), TwinError> {
    let rows = [("(a) push loop", &rust.push.stats), ("(b) collect", &rust.collect.stats)];
    let args = [size.to_string(), runs.to_string()];
    let Some((python, [append, comprehension])) =
        timing::python::compare_each(twin, &args, &rows, figure)?
    else {
        return Ok(());
    };
    let gain = comprehension.stats.speedup_over(&append.stats).0;
    let spread = timing::verdict::spread(&append.stats, &comprehension.stats);
    cli::paragraph("", &python_sentence(gain, spread, &python));
    Ok(())
}

/// Whether the comprehension was faster in CPython, against the notebook's 1.34x, and why it
/// can be, in the instructions this interpreter runs ([`why_faster`]).
fn python_sentence(gain: f64, (worst, best): (f64, f64), python: &Python) -> String {
    let verdict = Verdict::new(
        "CPython's comprehension against its append loop",
        gain,
        (1.15, 1.6),
        "around the notebook's 1.34x",
    );
    let why = why_faster(python);
    let specialized =
        timing::python::append_loop(python).is_some_and(|append| append.specialized.is_some());
    let described = verdict.describe();
    match verdict.place() {
        Place::Inside => format!("{described}: it showed, as in the notebook. {why}"),
        Place::Above => format!("{described}: more than in the notebook. {why}"),
        Place::NearLow | Place::NearHigh => format!(
            "{described}: too close to the edge to say whether it showed less or more than in the notebook. {why}"
        ),
        Place::Below if verdict.spread_reaches_bounds((worst, best)) => format!(
            "{described}: by its median only; its runs range from {worst:.2}x to {best:.2}x, run-to-run noise rather than a finding. {why}"
        ),
        Place::Below if specialized => format!(
            "{described}: it hardly showed here. {why} Two things shrink the gap from the notebook's: the specialized append leaves the loop only a few cheap instructions more per element than the comprehension, not a call; and each element also computes x**2, a new int object, a cost both share."
        ),
        Place::Below => format!(
            "{described}: it hardly showed here. {why} Here each element also computes x**2, a new int object, and that shared cost makes the saved call a small part of the whole."
        ),
    }
}

/// `Why it can be faster: ...`: the comprehension's one instruction against the loop's, named
/// as this interpreter has them ([`timing::python::append_loop`]).
fn why_faster(python: &Python) -> String {
    let comprehension = if python.version_at_least((3, 12)) {
        "inlined into the enclosing function since 3.12 (PEP 709)"
    } else {
        "in 3.11 and before from a function of its own, called once"
    };
    let Some(append) = timing::python::append_loop(python) else {
        return format!(
            "Why it can be faster: in CPython the comprehension appends with one LIST_APPEND instruction ({comprehension}), where the loop looks up new_list.append and calls it; this is {}, which runs Python its own way, not described here.",
            python.implementation
        );
    };
    let notebook = if append.specialized.is_some() {
        " The notebook does not record which Python it ran."
    } else {
        ""
    };
    format!(
        "Why it can be faster: per element the loop looks up new_list.append and calls it ({}); the comprehension appends with one LIST_APPEND ({comprehension}). {}{notebook}",
        append.generic, append.specialization
    )
}

// ---- helpers ----

/// `--size` as a length: squares must fit u64 (x < 2^32) and three vectors of them must fit
/// in memory at once (the rewritten buffer, the last result, the next one); else exit 2.
fn checked_size(size: u64) -> usize {
    if size > 1 << 32 {
        cli::usage_error(format!("--size {size}: squares past 2^32 do not fit u64"));
    }
    let bytes = 3 * u128::from(size) * 8;
    cli::check_memory(bytes, &format!("--size {size}")).unwrap_or_else(|e| cli::usage_error(e));
    usize::try_from(size).unwrap_or_else(|_| cli::usage_error("--size too large"))
}

struct Variant {
    label: &'static str,
    stats: Stats,
    faults: u64,
}

impl Variant {
    /// Its line, against `baseline` (none: it is the baseline), and its bar.
    fn print(&self, baseline: Option<&Variant>, figure: &mut Figure) {
        let line = match baseline {
            None => {
                figure.baseline(self.label, &self.stats);
                self.stats.baseline_line(self.label)
            }
            Some(base) => {
                figure.bar(self.label, &self.stats);
                format!("{}  {}", self.stats.line(self.label), self.stats.speedup_over(&base.stats))
            }
        };
        say!("{line}  [{} page faults/run]", self.faults);
    }
}

/// Times a variant that builds a new vector, and verifies what it built.
fn time_built(
    label: &'static str,
    runs: usize,
    size: usize,
    build: impl FnMut() -> Vec<u64>,
) -> Variant {
    let (variant, squares) = time_variant(label, runs, build);
    verify(label, &squares, size);
    variant
}

/// Times `work` and counts its minor page faults per call (warm-up included).
fn time_variant<T>(label: &'static str, runs: usize, mut work: impl FnMut() -> T) -> (Variant, T) {
    let faults_before = timing::machine::minor_page_faults();
    let mut calls = 0u64;
    let (value, stats) = timing::measure(runs, || {
        calls += 1;
        std::hint::black_box(work())
    });
    let faults = timing::machine::minor_page_faults().saturating_sub(faults_before) / calls.max(1);
    (Variant { label, stats, faults }, value)
}

/// Checks length, last element and checksum against the closed forms.
fn verify(label: &str, squares: &[u64], size: usize) {
    let (last, checksum) = expected_squares(size);
    assert_eq!(squares.len(), size, "{label}: length");
    assert_eq!(squares.last().copied(), Some(last), "{label}: last element");
    let sum: u128 = squares.iter().map(|&x| u128::from(x)).sum();
    assert_eq!(sum, checksum, "{label}: checksum");
}

/// The last square and the sum of all squares of 0..size: (n-1)^2 and (n-1)n(2n-1)/6.
fn expected_squares(size: usize) -> (u64, u128) {
    let n = size as u128;
    let last = (n - 1) * (n - 1);
    (u64::try_from(last).expect("--size is bounded by memory"), (n - 1) * n * (2 * n - 1) / 6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentence(threads: usize, e: f64, w: f64) -> String {
        let on = |what, gain| Verdict::threads_on(what, gain, threads, threads);
        rayon_sentence(&on("(e) against (b)", e), &on("rewriting against (d)", w)).join(" ")
    }

    #[test]
    fn the_rayon_sentence_follows_both_figures() {
        let faults = sentence(2, 1.05, 1.9);
        assert!(faults.contains("The writes alone scale (1.90x)"), "{faults}");
        let neither = sentence(2, 0.8, 0.76);
        assert!(neither.contains("Neither scaled"), "{neither}");
        assert!(neither.contains("(e) against (b): 0.80x, below"), "{neither}");
        // The case a run showed: (e) 1.37x while the writes alone barely scaled. No sentence
        // may then say that (e) cannot gain from threads.
        let split = sentence(2, 1.37, 1.1);
        assert!(split.contains("The writes alone gained less (1.10x) than (e) (1.37x)"), "{split}");
        assert!(!split.contains("cannot gain"), "{split}");
        let both = sentence(4, 3.7, 3.8);
        assert!(both.contains("page faults did not hold"), "{both}");
        let one = sentence(1, 0.98, 0.99);
        assert!(one.contains("With one thread rayon has nothing to split"), "{one}");
    }

    fn cpython(version: &str, free_threaded: bool) -> Python {
        Python::cpython(version, free_threaded)
    }

    /// `python_sentence` for runs that all gave `gain`.
    fn said(gain: f64, version: &str) -> String {
        python_sentence(gain, (gain, gain), &cpython(version, false))
    }

    #[test]
    fn the_python_sentence_gives_the_bytecode_reason_and_what_showed() {
        let small = said(1.03, "3.11.7");
        assert!(small.contains("1.03x, below the 1.15x to 1.60x around the notebook's 1.34x"));
        assert!(small.contains("(LOAD_METHOD, PRECALL, CALL, POP_TOP)"), "{small}");
        assert!(small.contains("LIST_APPEND"), "{small}");
        assert!(small.contains("in 3.11 and before from a function of its own"), "{small}");
        assert!(small.contains("it hardly showed here") && small.contains("x**2"), "{small}");
        let large = said(1.3, "3.13.1");
        assert!(large.contains("PEP 709") && large.contains("as in the notebook"), "{large}");
        let more = said(1.9, "3.13.1");
        assert!(more.contains("1.90x, above") && more.contains("more than in the"), "{more}");
    }

    /// The loop's instructions come from timing's one account of them, for the Python that ran
    /// (its table is tested there); the notebook's unknown Python is said where they specialize.
    #[test]
    fn the_append_is_named_as_each_python_runs_it() {
        for (version, free_threaded) in [("3.10.14", false), ("3.12.4", false), ("3.13.1", true)] {
            let python = cpython(version, free_threaded);
            let append = timing::python::append_loop(&python).unwrap();
            let why = why_faster(&python);
            assert!(why.contains(&format!("calls it ({});", append.generic)), "{why}");
            assert!(why.contains(&append.specialization), "{why}");
            let notebook = why.ends_with("The notebook does not record which Python it ran.");
            assert_eq!(notebook, append.specialized.is_some(), "{why}");
        }
        let pypy = Python { implementation: "pypy".to_owned(), ..cpython("3.10.14", false) };
        assert!(why_faster(&pypy).contains("this is pypy, which runs Python its own way"));
    }

    #[test]
    fn the_python_sentence_puts_the_smaller_gap_on_specialization_where_there_is_one() {
        // 3.11 and later specialize the append: the "Below" reason names it, not x**2 alone.
        let specialized = said(1.03, "3.12.4");
        assert!(specialized.contains("CALL_NO_KW_LIST_APPEND"), "{specialized}");
        assert!(
            specialized
                .contains("the specialized append leaves the loop only a few cheap instructions"),
            "{specialized}"
        );
        assert!(specialized.contains("Two things shrink the gap from the notebook's"));
        assert!(!said(1.3, "3.12.4").contains("shrink"), "no smaller gap claimed where none was");
        let free = python_sentence(1.03, (1.03, 1.03), &cpython("3.13.1", true));
        assert!(
            free.contains("CPython 3.13t, a free-threaded 3.13, does not specialize"),
            "{free}"
        );
        assert!(!free.contains("specialized append") && free.contains("x**2"), "{free}");
        let old = said(1.03, "3.10.14");
        assert!(old.contains("Before 3.11 CPython had no specializing interpreter"), "{old}");
    }

    #[test]
    fn a_python_figure_within_noise_of_a_bound_chooses_no_side() {
        let edge = said(1.13, "3.11.7");
        assert!(edge.contains("1.13x, equal within noise (3%) to the low end of"), "{edge}");
        assert!(edge.contains("too close to the edge") && !edge.contains("hardly"), "{edge}");
        let top = said(1.63, "3.11.7");
        assert!(top.contains("too close to the edge") && !top.contains(": more than"), "{top}");
        let noisy = python_sentence(1.05, (0.95, 1.2), &cpython("3.11.7", false));
        assert!(noisy.contains("runs range from 0.95x to 1.20x, run-to-run noise"), "{noisy}");
        assert!(!noisy.contains("hardly") && noisy.contains("Why it can be faster:"), "{noisy}");
    }

    fn variant(median_ms: u64, faults: u64) -> Variant {
        let stats = Stats::from_samples(&[std::time::Duration::from_millis(median_ms)]);
        Variant { label: "x", stats, faults }
    }

    fn growth(push: (u64, u64), collect: (u64, u64), grown: (u32, u32), a: Allocator) -> String {
        let growth = Growth { reallocations: grown.0, in_place: grown.1 };
        growth_sentences(&variant(push.0, push.1), &variant(collect.0, collect.1), growth, a)
            .join(" ")
    }

    #[test]
    fn the_growth_sentence_follows_the_time_and_the_pages_measured() {
        let glibc = Allocator::GlibcLinux;
        // A run on this project's machine: as fast and as many pages; 8 of 22 moved.
        let moved = growth((33, 17583), (33, 17579), (22, 14), glibc);
        assert!(moved.contains("(b) against (a): 1.00x, within"), "{moved}");
        assert!(moved.contains("growing by doubling cost (a) little"), "{moved}");
        assert!(moved.contains("(17583 vs 17579): 1.00x, within"), "{moved}");
        assert!(moved.contains("14 kept the address and 8 moved the block"), "{moved}");
        assert!(moved.contains("its pages moved with it rather than being copied"), "{moved}");
        assert!(moved.contains("glibc's realloc (this build's allocator)"), "{moved}");
        let in_place = growth((33, 100), (33, 100), (5, 5), glibc);
        assert!(in_place.contains("so nothing was copied"), "{in_place}");
        // Twice the pages: the moves copied; and (a) paid for it in time.
        let copied = growth((50, 200), (33, 100), (20, 2), glibc);
        assert!(copied.contains("1.52x, above") && copied.contains("paid for growing"));
        assert!(copied.contains("2.00x, above") && copied.contains("copied the list into new"));
        let near = growth((37, 112), (33, 100), (20, 2), glibc);
        assert!(near.contains("too close to the edge to say whether growing"), "{near}");
        assert!(near.contains("too close to the edge to tell whether some"), "{near}");
        assert!(!near.contains("mremap"), "no cause claimed from a figure within noise");
        // mremap is claimed for glibc on Linux only.
        let other = growth((33, 100), (33, 100), (22, 14), Allocator::Other);
        assert!(other.contains("not glibc's, and how it grows a block was not looked into"));
        let faster = growth((30, 100), (36, 100), (22, 14), glibc);
        assert!(faster.contains("0.83x, below") && faster.contains("Re-run to compare"));
        // Below by median, but the runs' best pairing (40 / 32) reaches the bounds: noise.
        let ms = std::time::Duration::from_millis;
        let runs =
            |min, median, max| Stats { min: ms(min), median: ms(median), max: ms(max), runs: 5 };
        let (push, collect) = (runs(29, 30, 40), runs(32, 36, 45));
        let growth = Growth { reallocations: 22, in_place: 14 };
        let noisy = growth_sentences(
            &Variant { label: "a", stats: push, faults: 100 },
            &Variant { label: "b", stats: collect, faults: 100 },
            growth,
            glibc,
        );
        assert!(noisy[0].contains("0.83x, below") && noisy[0].contains("run-to-run noise"));
        assert!(!noisy[0].contains("Re-run"), "{}", noisy[0]);
    }

    #[test]
    fn watching_the_growth_counts_each_reallocation_once() {
        let (squares, growth) = push_squares_watching_growth(1000);
        verify("watched", &squares, 1000);
        // Capacities 4, 8, ..., 1024: eight reallocations after the first allocation.
        assert_eq!(growth.reallocations, 8);
        assert!(growth.in_place <= growth.reallocations);
    }
}

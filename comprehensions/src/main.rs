//! Notebook section 1.b, "Comprehensions for speed ups": Python's comprehensions are Rust's
//! iterator chains ended by `collect`, and the notebook's timing of 9,000,000 squares done
//! honestly - where the time goes, in Rust and in CPython.
//!
//! Run: `cargo run -p comprehensions` (options: `--size N`, `--runs R`, `--vs-python`; see
//! `--help`).

use std::collections::{BTreeMap, BTreeSet};

use clap::Parser;
use rayon::prelude::*;
use timing::chart::Figure;
use timing::python::Twin;
use timing::verdict::{Finding, Verdict};
use timing::{Ratio, Stats, cli, say};

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
    let picture = args.timed.svg.open();
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
        vs_python(size, args.timed.runs.get(), &variants, &twin, &mut figure);
    }
    if let Some(picture) = picture {
        figure.save(picture);
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
    Variants { push, collect, rewrite, rayon, parallel_rewrite }
}

// ---- the five ways to build the squares ----

fn push_squares(mut squares: Vec<u64>, size: usize) -> Vec<u64> {
    for x in 0..size as u64 {
        squares.push(x * x);
    }
    squares
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
        let push_vs_collect = v.collect.stats.speedup_over(&v.push.stats).0;
        let cost = if (0.87..=1.15).contains(&push_vs_collect) {
            "about what (b) does".to_owned()
        } else {
            format!("{push_vs_collect:.2}x the time of (b)")
        };
        say!(
            "  (a) grows by doubling yet costs {cost} ({} vs {} faults): glibc",
            v.push.faults,
            v.collect.faults
        );
        say!("  grows a large block with mremap, which moves its pages instead of copying them.");
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
/// `None`, early, where there is no Python to compare with (said on stderr).
fn vs_python(
    size: usize,
    runs: usize,
    rust: &Variants,
    twin: &Twin,
    figure: &mut Figure,
) -> Option<()> {
    let rows = [("(a) push loop", &rust.push.stats), ("(b) collect", &rust.collect.stats)];
    let args = [size.to_string(), runs.to_string()];
    let (interpreter, [append, comprehension]) =
        timing::python::compare_each(twin, &args, &rows, figure)?;
    let gain = comprehension.stats.speedup_over(&append.stats);
    cli::paragraph("", &python_sentence(gain, &interpreter.version));
    Some(())
}

/// Why a comprehension is faster in CPython, and whether it was here. Per element the append
/// loop looks up `new_list.append` (`LOAD_METHOD`) and calls it (`CALL`, then `POP_TOP` on its
/// None); the comprehension appends with one instruction, `LIST_APPEND`. Up to 3.11 the
/// comprehension is a function of its own, called once; 3.12 inlines it (PEP 709).
fn python_sentence(gain: Ratio, version: &str) -> String {
    let comprehension = if version_at_least(version, (3, 12)) {
        "inlined into the enclosing function since 3.12 (PEP 709)"
    } else {
        "in 3.11 and before from a function of its own, called once"
    };
    let why = format!(
        "Why it can be faster: per element the loop looks up new_list.append and calls it (LOAD_METHOD, CALL, POP_TOP); the comprehension appends with one LIST_APPEND ({comprehension})."
    );
    let verdict = Verdict::new(
        "CPython's comprehension against its append loop",
        gain.0,
        (1.15, 1.6),
        "around the notebook's 1.34x",
    );
    match verdict.finding() {
        Finding::Within => format!("{}: it showed, as in the notebook. {why}", verdict.describe()),
        Finding::Above => format!("{}: more than in the notebook. {why}", verdict.describe()),
        Finding::Below => format!(
            "{}: it hardly showed here. {why} Here each element also computes x**2, a new int object, and that shared cost makes the saved call a small part of the whole.",
            verdict.describe()
        ),
    }
}

/// Whether `version` (`3.11.7`) is at least `major.minor`.
fn version_at_least(version: &str, (major, minor): (u32, u32)) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (major, minor)
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

    #[test]
    fn the_python_sentence_gives_the_bytecode_reason_and_what_showed() {
        let small = python_sentence(Ratio::exact(1.03), "3.11.7");
        assert!(small.contains("1.03x, below the 1.15x to 1.60x around the notebook's 1.34x"));
        assert!(small.contains("LOAD_METHOD, CALL, POP_TOP") && small.contains("LIST_APPEND"));
        assert!(small.contains("in 3.11 and before from a function of its own"), "{small}");
        assert!(small.contains("it hardly showed here") && small.contains("x**2"), "{small}");
        let large = python_sentence(Ratio::exact(1.3), "3.13.1");
        assert!(large.contains("PEP 709") && large.contains("as in the notebook"), "{large}");
        let more = python_sentence(Ratio::exact(1.9), "3.13.1");
        assert!(more.contains("1.90x, above") && more.contains("more than in the"), "{more}");
        assert!(version_at_least("3.12.0", (3, 12)) && !version_at_least("3.9.18", (3, 12)));
    }
}

//! Notebook section 1.b, "Comprehensions for speed ups": Python's comprehensions are Rust's
//! iterator chains ended by `collect`, and the notebook's timing of 9,000,000 squares done honestly.
//!
//! Run: `cargo run -p comprehensions` (options: `--size N`, `--runs R`; see `--help`).

use std::collections::{BTreeMap, BTreeSet};

use clap::Parser;
use rayon::prelude::*;
use timing::chart::Figure;
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
    if args.size > 1 << 32 {
        cli::usage_error(format!("--size {}: squares past 2^32 do not fit u64", args.size));
    }
    // Up to three vectors live at once: the rewritten buffer, the last result, the next one.
    let bytes = 3 * u128::from(args.size) * 8;
    cli::check_memory(bytes, &format!("--size {}", args.size))
        .unwrap_or_else(|e| cli::usage_error(e));
    let size = usize::try_from(args.size).unwrap_or_else(|_| cli::usage_error("--size too large"));

    let picture = args.timed.svg.open();
    let mut figure = Figure::new("comprehensions: a list built by push, by collect, and more");
    say!("== 1.b Comprehensions -> iterator chains ended by collect");
    list_comprehension_cell();
    dict_comprehension_cell();
    more_comprehensions();
    say!();
    let [push, collect, ..] = timed_squares(size, args.timed.runs.get(), &mut figure);
    if args.timed.python.enabled {
        say!();
        let twin = concat!(env!("CARGO_MANIFEST_DIR"), "/python/twin.py");
        let rust = [("(a) push loop", &push.stats), ("(b) collect", &collect.stats)];
        timing::python::compare(
            &timing::python::Twin::plain(twin, args.timed.python.interpreter.as_deref()),
            &[size.to_string(), args.timed.runs.get().to_string()],
            &rust,
            &mut figure,
        )
        .unwrap_or_else(|e| cli::fail(e));
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

/// The notebook's `append` loop against its comprehension, plus what Rust adds: reserving
/// capacity, reusing a buffer, and rayon. Each variant is verified, timed `runs` times after a
/// warm-up, and charged its minor page faults (fresh pages the kernel had to hand out).
fn timed_squares(size: usize, runs: usize, figure: &mut Figure) -> [Variant; 5] {
    let mb = size * 8 / 1_000_000;
    let warmup = timing::after_warmup(runs);
    say!("== Timing: the squares of 0..{size} ({mb} MB of u64), {warmup}");
    let mut buffer = collect_squares(size); // (d) allocates and touches this once, untimed
    let results = [
        time_built("(a) push loop into Vec::new()", runs, size, || push_squares(Vec::new(), size)),
        time_built("(b) collect (the comprehension)", runs, size, || collect_squares(size)),
        time_built("(c) push into Vec::with_capacity", runs, size, || {
            push_squares(Vec::with_capacity(size), size)
        }),
        {
            let label = "(d) rewrite a touched buffer";
            let (variant, ()) = time_variant(label, runs, || rewrite_squares(&mut buffer));
            verify(label, &buffer, size);
            variant
        },
        time_built("(e) rayon par_iter().collect()", runs, size, || par_collect_squares(size)),
    ];
    let baseline = &results[0];
    for variant in &results {
        let line = if std::ptr::eq(variant, baseline) {
            figure.baseline(variant.label, &variant.stats);
            variant.stats.baseline_line(variant.label)
        } else {
            figure.bar(variant.label, &variant.stats);
            let ratio = variant.stats.speedup_over(&baseline.stats);
            format!("{}  {ratio}", variant.stats.line(variant.label))
        };
        say!("{line}  [{} page faults/run]", variant.faults);
    }
    let (last, checksum) = expected_squares(size);
    say!("verified all five: length {size}, last element {last}, checksum {checksum}");
    // Not one of the five: rayon writing the touched buffer, to separate the writes from the faults.
    let (parallel_rewrite, ()) =
        time_variant("rayon rewrite", runs, || par_rewrite_squares(&mut buffer));
    verify("rayon rewrite", &buffer, size);
    explain(&results, &parallel_rewrite, size);
    results
}

/// Where the time goes, computed from the measurements rather than asserted.
fn explain(results: &[Variant; 5], parallel_rewrite: &Variant, size: usize) {
    let [push, collect, _, rewrite, rayon] = results;
    let (bytes, page) = (size as u64 * 8, 4096);
    say!(
        "Where the time goes: (b) costs {}, (d) writes the same {} bytes in {}.",
        timing::human(collect.stats.median),
        bytes,
        timing::human(rewrite.stats.median)
    );
    if collect.faults * page >= bytes / 2 {
        say!(
            "  The difference, {}, is mostly the kernel handing out {} fresh pages on first",
            timing::human(collect.stats.median.saturating_sub(rewrite.stats.median)),
            collect.faults
        );
        say!("  touch (page faults), which (d) avoids by reusing pages it already owns.");
        let push_vs_collect = collect.stats.speedup_over(&push.stats).0;
        let cost = if (0.87..=1.15).contains(&push_vs_collect) {
            "about what (b) does".to_owned()
        } else {
            format!("{push_vs_collect:.2}x the time of (b)")
        };
        say!(
            "  (a) grows by doubling yet costs {cost} ({} vs {} faults): glibc",
            push.faults,
            collect.faults
        );
        say!("  grows a large block with mremap, which moves its pages instead of copying them.");
    } else {
        say!(
            "  At this size the allocator recycles memory it already has ({} fresh pages per",
            collect.faults
        );
        say!("  run), so the differences are loop and allocation overhead, not page faults.");
    }
    let lines = rayon_sentence(
        rayon::current_num_threads(),
        rayon.stats.speedup_over(&collect.stats),
        parallel_rewrite.stats.speedup_over(&rewrite.stats),
    );
    for line in lines {
        say!("{line}");
    }
    say!("The notebook: 7.17 s (append) vs 5.37 s (comprehension) in CPython on another");
    say!("  machine, 1.34x; there the interpreter's work per element, not memory, was the cost.");
}

/// What rayon's two figures say, chosen from them: (e) against (b), and rayon rewriting the
/// touched buffer against (d), which separates the writes from the page faults.
fn rayon_sentence(threads: usize, collect_gain: Ratio, writes_gain: Ratio) -> Vec<String> {
    let (e, w) = (collect_gain.0, writes_gain.0);
    let threads_text = timing::plural(threads, "thread");
    let mut lines = vec![format!(
        "  (e) splits the work over {threads_text}: {collect_gain} against (b); rayon rewriting"
    )];
    lines.push(format!(
        "  the touched buffer, writes without page faults: {writes_gain} against (d)."
    ));
    if threads == 1 {
        lines.push(
            "  With one thread rayon has nothing to split: both ratios are its overhead."
                .to_owned(),
        );
    } else if w <= 1.2 {
        lines.push(
            "  Even the writes alone barely scale here: writing this much memory is limited by the"
                .to_owned(),
        );
        lines.push("  bandwidth the cores share (or another program is using them), so (e) cannot gain from".to_owned());
        lines
            .push("  threads either. Re-run to compare: `cargo run -p comprehensions`.".to_owned());
    } else if e < 0.9 * w {
        lines.push(format!("  The writes alone scale ({w:.2}x); what (e) gains less than that is lost in the kernel's"));
        lines.push("  page-fault work, which the threads do not share out.".to_owned());
    } else {
        lines.push(format!("  (e) gained as much as the writes alone ({e:.2}x vs {w:.2}x): page faults did not hold"));
        lines.push("  it back on this run.".to_owned());
    }
    lines
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

fn par_rewrite_squares(buffer: &mut [u64]) {
    buffer.par_iter_mut().enumerate().for_each(|(x, slot)| *slot = (x as u64) * (x as u64));
}

fn par_collect_squares(size: usize) -> Vec<u64> {
    (0..size as u64).into_par_iter().map(|x| x * x).collect()
}

// ---- helpers ----

struct Variant {
    label: &'static str,
    stats: Stats,
    faults: u64,
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

    #[test]
    fn the_rayon_sentence_follows_the_measurement() {
        let faults = rayon_sentence(2, Ratio::exact(1.05), Ratio::exact(1.4)).join(" ");
        assert!(faults.contains("The writes alone scale (1.40x)"), "{faults}");
        let bandwidth = rayon_sentence(2, Ratio::exact(0.8), Ratio::exact(0.76)).join(" ");
        assert!(bandwidth.contains("Even the writes alone barely scale"), "{bandwidth}");
        assert!(bandwidth.contains("-> 1.32x slower against (d)"), "{bandwidth}");
        let both = rayon_sentence(4, Ratio::exact(2.1), Ratio::exact(2.0)).join(" ");
        assert!(both.contains("page faults did not hold"), "{both}");
        let one = rayon_sentence(1, Ratio::exact(0.98), Ratio::exact(0.99)).join(" ");
        assert!(one.contains("With one thread rayon has nothing to split"), "{one}");
    }
}

//! Notebook section 2.a, "Threading module": the sums of x, x² and x³ on three threads.
//! In the notebook's CPython the threads took as long as running the sums one after another
//! (the GIL lets one thread run Python code at a time); Rust has no GIL, so threads really run
//! in parallel.
//!
//! Run: `cargo run -p threading` (options: `--size`, `--runs`, `--threads`, `--vs-python`).

mod report;

use std::hint::black_box;
use std::ops::Range;
use std::thread;

use clap::Parser;
use rayon::prelude::*;
use timing::chart::{Figure, Picture};
use timing::{Stats, cli, say};

/// Section 2.a of the notebook: sums on threads, then timed against sequential, split and rayon.
#[derive(Parser)]
#[command(about, long_about = None)]
struct Args {
    /// Length of the timed sums (the notebook's cells always run at its 1000000) [default:
    /// 100000000; with --vs-python only the notebook's 1000000, which CPython runs in seconds].
    #[arg(long, value_parser = cli::positive::<u64>, allow_hyphen_values = true)]
    size: Option<u64>,
    #[command(flatten)]
    threads: cli::Threads,
    #[command(flatten)]
    timed: cli::Timed<cli::VsPython>,
}

/// The notebook's three functions: `simple_func`, `simple_sqrt` (which sums squares, not square
/// roots) and `simple_cubic`, as one function with the power as its parameter.
const SUMS: [(&str, u32); 3] = [("Normal", 1), ("Square", 2), ("Cubic", 3)];

/// The notebook's `do_threading(length = 1000000)`.
const NOTEBOOK_LENGTH: u64 = 1_000_000;

fn main() {
    let args = cli::parse::<Args>();
    let size =
        args.size.unwrap_or(if args.timed.python.enabled { NOTEBOOK_LENGTH } else { 100_000_000 });
    if expected_sums(size).is_none() {
        cli::usage_error(format!("--size {size}: the cube sum would overflow u128"));
    }
    let threads = args.threads.single_or(timing::machine::cores());
    let runs = args.timed.runs.get();
    let picture = Picture::for_svg(&args.timed.svg).unwrap_or_else(|e| cli::usage_error(e));
    let mut figure = Figure::new("threading: the notebook's three sums");

    say!("== 2.a Threading: the notebook's three sums, length {NOTEBOOK_LENGTH}");
    notebook_cell("without_threading() - one after another", sums_sequential);
    notebook_cell("do_threading() - one thread per sum, handed back by join", sums_one_thread_each);
    notebook_cell(
        "the same with std::thread::scope - threads may borrow, no move needed",
        sums_scoped,
    );
    say!("(The cube sum passes u64's 1.8x10^19 at this length, so the sums are u128; Python's");
    say!("  ints grow instead. A length whose sums would not fit u128 is refused.)");
    say!();
    let notebook = timed_comparison(NOTEBOOK_LENGTH, runs, threads, &mut figure);
    report::explain(&notebook, threads);
    let larger = (size != NOTEBOOK_LENGTH).then(|| {
        say!();
        let larger = timed_comparison(size, runs, threads, &mut figure);
        report::explain(&larger, threads);
        larger
    });
    if let Some(counts) = args.threads.sweep() {
        say!();
        say!("== The even split of 0..{size} on each thread count, against sequential");
        let sequential = larger.as_ref().unwrap_or(&notebook).sequential;
        let expected = expected_sums(size).expect("refused above");
        let sweep =
            timing::speedup_sweep("even split", counts, runs, &sequential, &expected, |n| {
                sums_even_split(size, n)
            });
        figure.curve(&sweep);
    }
    if let Some(twin) = timing::twin!(args.timed.python) {
        say!();
        report::vs_python(runs, &notebook, &twin, &mut figure).unwrap_or_else(|e| cli::fail(e));
    }
    if let Some(picture) = picture {
        figure.save(picture).unwrap_or_else(|e| cli::fail(e));
    }
}

/// One notebook cell: compute the three sums some way, check them, print them in a fixed order.
/// The notebook's threads printed their own results; here they hand them back and `main`
/// prints, so the order never depends on which thread finished first.
fn notebook_cell(label: &str, three_sums: fn(u64) -> [u128; 3]) {
    let sums = three_sums(NOTEBOOK_LENGTH);
    assert_eq!(Some(sums), expected_sums(NOTEBOOK_LENGTH), "{label}");
    say!("{label}:");
    for ((name, _), sum) in SUMS.iter().zip(sums) {
        say!("  {name} sum of is {sum}");
    }
}

// ---- the ways to compute the three sums ----

/// The sum of x^power for x in `range`. Each x passes through `black_box`: without it the
/// compiler replaces the loop by its closed form and the "timing" measures nothing.
fn power_sum(range: Range<u64>, power: u32) -> u128 {
    range.map(|x| u128::from(black_box(x)).pow(power)).sum()
}

fn sums_sequential(length: u64) -> [u128; 3] {
    SUMS.map(|(_, power)| power_sum(0..length, power))
}

/// `thread::spawn` needs `'static` data, so each closure gets its own copy of `length` (`move`);
/// `join` hands back the thread's return value - no global variables, no print from the thread.
fn sums_one_thread_each(length: u64) -> [u128; 3] {
    let handles = SUMS.map(|(_, power)| thread::spawn(move || power_sum(0..length, power)));
    handles.map(|h| h.join().expect("a sum thread panicked"))
}

/// Scoped threads may borrow from the caller because the scope joins them before it returns.
fn sums_scoped(length: u64) -> [u128; 3] {
    let length = &length;
    thread::scope(|s| {
        let handles = SUMS.map(|(_, power)| s.spawn(move || power_sum(0..*length, power)));
        handles.map(|h| h.join().expect("a sum thread panicked"))
    })
}

/// Every thread computes all three sums over its own equal slice of 0..length.
fn sums_even_split(length: u64, threads: usize) -> [u128; 3] {
    let chunks = split(length, threads);
    thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| s.spawn(|| SUMS.map(|(_, p)| power_sum(chunk.clone(), p))))
            .collect();
        handles.into_iter().map(|h| h.join().expect("a sum thread panicked")).fold([0; 3], add)
    })
}

/// rayon's work-stealing pool hands 64 pieces to whichever thread is free.
fn sums_rayon(length: u64) -> [u128; 3] {
    split(length, 64)
        .into_par_iter()
        .map(|piece| SUMS.map(|(_, power)| power_sum(piece.clone(), power)))
        .reduce(|| [0; 3], add)
}

// ---- timing them ----

/// What one timed section measured.
pub struct Timed {
    length: u64,
    /// Each sum alone, in order.
    jobs: [Stats; 3],
    sequential: Stats,
    three_threads: Stats,
    even_split: Stats,
    rayon: Stats,
}

/// The point of the section, timed: each sum alone, sequential, the notebook's one thread per
/// function, an even split over `threads`, and rayon. Each row is printed as it is measured.
fn timed_comparison(length: u64, runs: usize, threads: usize, figure: &mut Figure) -> Timed {
    let notebook = if length == NOTEBOOK_LENGTH { " (the notebook's cell)" } else { "" };
    let cores_text = timing::plural(timing::machine::cores(), "core");
    let warmup = timing::after_warmup(runs);
    say!("== Timing the three sums over 0..{length}{notebook}, {warmup}, {cores_text}");
    figure.panel(format!("The three sums over 0..{length}{notebook}, {cores_text}"));
    let expected = expected_sums(length).expect("main refused lengths that overflow");
    let jobs = [0, 1, 2].map(|i| {
        let (name, power) = SUMS[i];
        let (sum, stats) = timing::measure(runs, || power_sum(0..length, power));
        assert_eq!(sum, expected[i], "{name} sum alone");
        let label = format!("{name} sum alone");
        say!("{}", stats.line(&label));
        figure.bar(&label, &stats);
        stats
    });
    let sequential = time_sums(length, runs, &|| sums_sequential(length));
    say!("{}", sequential.baseline_line("sequential"));
    figure.baseline("sequential", &sequential);
    let mut row = |label: &str, three_sums: &dyn Fn() -> [u128; 3]| {
        let stats = time_sums(length, runs, three_sums);
        say!("{}  {}", stats.line(label), stats.speedup_over(&sequential));
        figure.bar(label, &stats);
        stats
    };
    let three_threads = row("one thread per sum (the notebook)", &|| sums_one_thread_each(length));
    let even_split = row("even split, scoped threads", &|| sums_even_split(length, threads));
    let rayon = row("rayon par_iter", &|| sums_rayon(length));
    say!(
        "verified: every variant's sums equal the closed forms n(n-1)/2, (n-1)n(2n-1)/6, (n(n-1)/2)^2"
    );
    Timed { length, jobs, sequential, three_threads, even_split, rayon }
}

/// Times `three_sums` and checks its result against the closed forms.
fn time_sums(length: u64, runs: usize, three_sums: &dyn Fn() -> [u128; 3]) -> Stats {
    let (sums, stats) = timing::measure(runs, three_sums);
    assert_eq!(Some(sums), expected_sums(length), "wrong sums");
    stats
}

// ---- helpers ----

/// The closed forms, or `None` where a sum would not fit in u128. The cube sum of 0..1,000,000
/// is about 2.5x10^23, already past u64's 1.8x10^19; Python's ints grow, Rust's have a width.
fn expected_sums(length: u64) -> Option<[u128; 3]> {
    let n = u128::from(length);
    let linear = n.checked_mul(n - 1)? / 2;
    let square = (n - 1).checked_mul(n)?.checked_mul(2 * n - 1)? / 6;
    Some([linear, square, linear.checked_mul(linear)?])
}

/// `0..length` cut into `parts` ranges whose lengths differ by at most one.
fn split(length: u64, parts: usize) -> Vec<Range<u64>> {
    let parts = parts as u64;
    (0..parts).map(|i| length * i / parts..length * (i + 1) / parts).collect()
}

fn add(a: [u128; 3], b: [u128; 3]) -> [u128; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_covers_the_range_in_near_equal_pieces() {
        let pieces = split(10, 3);
        assert_eq!(pieces, [0..3, 3..6, 6..10]);
        assert_eq!(split(2, 4).iter().map(|r| r.end - r.start).sum::<u64>(), 2);
    }

    #[test]
    fn closed_forms_refuse_what_u128_cannot_hold() {
        assert_eq!(expected_sums(5), Some([10, 30, 100]));
        assert!(expected_sums(6_000_000_000).is_some());
        assert_eq!(expected_sums(7_000_000_000), None);
    }
}

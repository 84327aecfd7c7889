//! Notebook section 2.a, "Threading module": the sums of x, x² and x³ on three threads.
//! In CPython the threads took as long as running the sums one after another (the GIL lets one
//! thread run Python code at a time); Rust has no GIL, so threads really run in parallel.
//!
//! Run: `cargo run -p threading` (options: `--size`, `--timed-size`, `--runs`, `--threads`).

use std::hint::black_box;
use std::ops::Range;
use std::thread;

use clap::Parser;
use rayon::prelude::*;
use timing::{Stats, cli, say};

/// Section 2.a of the notebook: sums on threads, then timed against sequential, split and rayon.
#[derive(Parser)]
#[command(about, long_about = None)]
struct Args {
    /// Length of the notebook's cell (its `do_threading(length = 1000000)`).
    #[arg(long, default_value_t = 1_000_000, value_parser = cli::positive::<u64>,
          allow_hyphen_values = true)]
    size: u64,
    /// Length of the timed section: enough work (about 100 ms a sum) for stable ratios.
    #[arg(long, default_value_t = 100_000_000, value_parser = cli::positive::<u64>,
          allow_hyphen_values = true)]
    timed_size: u64,
    /// Timed runs of each variant, after one warm-up run.
    #[arg(long, default_value_t = 5, value_parser = cli::runs, allow_hyphen_values = true)]
    runs: usize,
    /// Threads for the even split [default: the number of cores].
    #[arg(long, value_parser = cli::up_to::<1024>, allow_hyphen_values = true)]
    threads: Option<u64>,
    /// Also run a Python twin of the notebook's cell (python3) at --size and compare.
    #[arg(long)]
    vs_python: bool,
}

/// The notebook's three functions: `simple_func`, `simple_sqrt` (which sums squares, not square
/// roots) and `simple_cubic`, as one function with the power as its parameter.
const SUMS: [(&str, u32); 3] = [("Normal", 1), ("Square", 2), ("Cubic", 3)];

fn main() {
    let args = Args::try_parse()
        .unwrap_or_else(|e| if e.use_stderr() { cli::usage_error(e) } else { e.exit() });
    for (flag, length) in [("--size", args.size), ("--timed-size", args.timed_size)] {
        if expected_sums(length).is_none() {
            cli::usage_error(format!("{flag} {length}: the cube sum would overflow u128"));
        }
    }
    let threads = args.threads.map_or_else(
        || thread::available_parallelism().map_or(1, usize::from),
        |n| usize::try_from(n).expect("at most 1024"),
    );

    say!("== 2.a Threading: the notebook's three sums, length {}", args.size);
    notebook_cell("without_threading() - one after another", args.size, sums_sequential);
    notebook_cell(
        "do_threading() - one thread per sum, handed back by join",
        args.size,
        sums_one_thread_each,
    );
    notebook_cell(
        "the same with std::thread::scope - threads may borrow, no move needed",
        args.size,
        sums_scoped,
    );
    say!("(The cube sum passes u64's 1.8x10^19 at this length, so the sums are u128; Python's");
    say!("  ints grow instead. A length whose sums would not fit u128 is refused.)");
    say!();
    timed_comparison(args.timed_size, args.runs, threads);
    if args.vs_python {
        say!();
        vs_python(args.size, args.runs);
    }
}

/// One notebook cell: compute the three sums some way, check them, print them in a fixed order.
/// The notebook's threads printed their own results; here they hand them back and `main`
/// prints, so the order never depends on which thread finished first.
fn notebook_cell(label: &str, length: u64, three_sums: fn(u64) -> [u128; 3]) {
    let sums = three_sums(length);
    assert_eq!(Some(sums), expected_sums(length), "{label}");
    say!("{label}:");
    for ((name, _), sum) in SUMS.iter().zip(sums) {
        say!("  {name} sum of is {sum}");
    }
}

/// The point of the section, timed: sequential, the notebook's one thread per function, an even
/// split over all cores, and rayon.
fn timed_comparison(length: u64, runs: usize, threads: usize) {
    let cores = thread::available_parallelism().map_or(1, usize::from);
    say!("== Timing the three sums over 0..{length} ({runs} runs after a warm-up, {cores} cores)");
    let expected = expected_sums(length).expect("main refused lengths that overflow");
    let time = |label: &str, three_sums: &dyn Fn() -> [u128; 3]| {
        time_sums(label, length, runs, three_sums)
    };
    let jobs: Vec<Stats> = SUMS
        .iter()
        .zip(expected)
        .map(|(&(name, power), want)| {
            let (sum, stats) = timing::measure(runs, || power_sum(0..length, power));
            assert_eq!(sum, want, "{name} sum alone");
            stats
        })
        .collect();
    let sequential = time("sequential", &|| sums_sequential(length));
    let variants = [
        (
            "one thread per sum (the notebook)",
            time("three threads", &|| sums_one_thread_each(length)),
        ),
        ("even split, scoped threads", time("even split", &|| sums_even_split(length, threads))),
        ("rayon par_iter", time("rayon", &|| sums_rayon(length))),
    ];

    say!("{}  (baseline)", sequential.line("sequential"));
    for (label, stats) in &variants {
        say!("{}  {}", stats.line(label), stats.speedup_over(&sequential));
    }
    say!(
        "verified: every variant's sums equal the closed forms n(n-1)/2, (n-1)n(2n-1)/6, (n(n-1)/2)^2"
    );
    explain(&jobs, cores, threads);
}

/// The notebook's cell at its own length, in Rust and in CPython: the times, and each
/// language's own speedup from three threads.
fn vs_python(length: u64, runs: usize) {
    let sequential = time_sums("sequential", length, runs, &|| sums_sequential(length));
    let threads = time_sums("three threads", length, runs, &|| sums_one_thread_each(length));
    let twin = include_str!("../python/twin.py");
    let rust = [("sequential", &sequential), ("one thread per sum", &threads)];
    let python = timing::python::compare(
        &timing::python::Twin::plain(twin),
        &[length.to_string(), runs.to_string()],
        &rust,
    )
    .unwrap_or_else(|e| cli::fail(e));
    if let Some([python_sequential, python_threads]) = python.as_deref() {
        say!(
            "Three threads against sequential: Rust {}, Python {}",
            threads.speedup_over(&sequential),
            python_threads.stats.speedup_over(&python_sequential.stats)
        );
    }
}

/// Times `three_sums` and checks its result against the closed forms.
fn time_sums(label: &str, length: u64, runs: usize, three_sums: &dyn Fn() -> [u128; 3]) -> Stats {
    let (sums, stats) = timing::measure(runs, three_sums);
    assert_eq!(Some(sums), expected_sums(length), "{label}: wrong sums");
    stats
}

/// What the numbers can and cannot be, computed from the single-sum timings.
fn explain(jobs: &[Stats], cores: usize, threads: usize) {
    let secs: Vec<f64> = jobs.iter().map(|s| s.median.as_secs_f64()).collect();
    let alone: Vec<String> = jobs.iter().map(|s| timing::human(s.median)).collect();
    say!("No GIL: each thread runs its loop on its own core at the same time, so the ratios");
    say!("  exceed 1 (CPython's threads: 527 ms against 542 ms sequential, no gain at all).");
    say!(
        "One thread per sum is 3 jobs on {cores} cores; alone they take {}. If the OS keeps",
        alone.join(", ")
    );
    say!("  two threads on one core, that core finishes last: for 3 equal jobs at 2/3 of the");
    say!(
        "  sequential time, 1.5x. Moving threads between cores can at best give {:.2}x here.",
        speedup_bound(&secs, cores)
    );
    say!("The even split gives each of {threads} threads the same share of all three sums, so it");
    say!(
        "  can approach {}x; rayon splits the range into pieces and balances them the same way.",
        threads.min(cores)
    );
}

/// The most any schedule of these jobs on `cores` can gain: it cannot end before the longest
/// job, nor before the total work divided among the cores.
fn speedup_bound(job_secs: &[f64], cores: usize) -> f64 {
    let total: f64 = job_secs.iter().sum();
    let longest = job_secs.iter().copied().fold(0.0, f64::max);
    total / longest.max(total / cores as f64)
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
    fn the_bound_is_set_by_the_longest_job_or_the_core_count() {
        assert_eq!(speedup_bound(&[1.0, 1.0, 1.0], 2), 2.0);
        assert_eq!(speedup_bound(&[1.0, 2.0], 4), 1.5);
        assert_eq!(speedup_bound(&[1.0, 1.0, 1.0, 1.0], 2), 2.0);
    }

    #[test]
    fn closed_forms_refuse_what_u128_cannot_hold() {
        assert_eq!(expected_sums(5), Some([10, 30, 100]));
        assert!(expected_sums(6_000_000_000).is_some());
        assert_eq!(expected_sums(7_000_000_000), None);
    }
}

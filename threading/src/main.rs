//! Notebook section 2.a, "Threading module": the sums of x, x² and x³ on three threads.
//! In CPython the threads took as long as running the sums one after another (the GIL lets one
//! thread run Python code at a time); Rust has no GIL, so threads really run in parallel.
//!
//! Run: `cargo run -p threading` (options: `--size`, `--runs`, `--threads`, `--vs-python`).

use std::hint::black_box;
use std::ops::Range;
use std::thread;

use clap::Parser;
use rayon::prelude::*;
use timing::chart::Figure;
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
    let cores = timing::machine::cores();
    let threads = args.threads.single_or(cores);

    let picture = args.timed.svg.open();
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
    let notebook = timed_comparison(NOTEBOOK_LENGTH, args.timed.runs.get(), threads, &mut figure);
    let larger = (size != NOTEBOOK_LENGTH).then(|| {
        say!();
        timed_comparison(size, args.timed.runs.get(), threads, &mut figure)
    });
    if let Some(counts) = args.threads.sweep() {
        say!();
        say!("== The even split of 0..{size} on each thread count, against sequential");
        let sequential = larger.as_ref().unwrap_or(&notebook).sequential;
        let expected = expected_sums(size).expect("refused above");
        let sweep = timing::speedup_sweep(
            "even split",
            counts,
            args.timed.runs.get(),
            &sequential,
            &expected,
            |n| sums_even_split(size, n),
        );
        figure.curve(&sweep);
    }
    if args.timed.python.enabled {
        say!();
        let python = args.timed.python.interpreter.as_deref();
        vs_python(args.timed.runs.get(), &notebook, python, &mut figure);
    }
    if let Some(picture) = picture {
        figure.save(picture);
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

/// What the timed section measured, for the comparison with Python.
struct Timed {
    sequential: Stats,
    three_threads: Stats,
}

/// The point of the section, timed: sequential, the notebook's one thread per function, an even
/// split over all cores, and rayon. Each row is printed as soon as it is measured.
fn timed_comparison(length: u64, runs: usize, threads: usize, figure: &mut Figure) -> Timed {
    let cores = timing::machine::cores();
    let notebook = if length == NOTEBOOK_LENGTH { " (the notebook's cell)" } else { "" };
    let cores_text = timing::plural(cores, "core");
    let warmup = timing::after_warmup(runs);
    say!("== Timing the three sums over 0..{length}{notebook}, {warmup}, {cores_text}");
    figure.panel(format!("The three sums over 0..{length}{notebook}, {cores_text}"));
    let expected = expected_sums(length).expect("main refused lengths that overflow");
    let jobs: Vec<Stats> = SUMS
        .iter()
        .zip(expected)
        .map(|(&(name, power), want)| {
            let (sum, stats) = timing::measure(runs, || power_sum(0..length, power));
            assert_eq!(sum, want, "{name} sum alone");
            say!("{}", stats.line(&format!("{name} sum alone")));
            figure.bar(&format!("{name} sum alone"), &stats);
            stats
        })
        .collect();
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
    let even = row("even split, scoped threads", &|| sums_even_split(length, threads));
    let rayon = row("rayon par_iter", &|| sums_rayon(length));
    say!(
        "verified: every variant's sums equal the closed forms n(n-1)/2, (n-1)n(2n-1)/6, (n(n-1)/2)^2"
    );
    let measured = Measured {
        job_secs: jobs.iter().map(|s| s.median.as_secs_f64()).collect(),
        three_threads: three_threads.speedup_over(&sequential).0,
        even_split: even.speedup_over(&sequential).0,
        rayon: rayon.speedup_over(&sequential).0,
    };
    for line in explain(&measured, cores, threads, length) {
        say!("{line}");
    }
    Timed { sequential, three_threads }
}

/// The notebook's cell at its own length, in Rust (measured above) and in CPython: the times,
/// and each language's own speedup from three threads.
fn vs_python(runs: usize, rust: &Timed, python: Option<&std::path::Path>, figure: &mut Figure) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/twin.py");
    let twin = timing::python::Twin::plain(script, python);
    let rust_rows = [("sequential", &rust.sequential), ("one thread per sum", &rust.three_threads)];
    let args = [NOTEBOOK_LENGTH.to_string(), runs.to_string()];
    let Some((_, [python_sequential, python_threads])) =
        timing::python::compare_each(&twin, &args, &rust_rows, figure)
    else {
        return; // no Python here: said on stderr
    };
    say!(
        "Three threads against sequential: Rust {}, Python {}",
        rust.three_threads.speedup_over(&rust.sequential),
        python_threads.stats.speedup_over(&python_sequential.stats)
    );
    for line in python_threads_sentence(&python_sequential.stats, &python_threads.stats) {
        say!("{line}");
    }
}

/// What CPython's thread ratio means, from its spread over the runs: the GIL lets one thread
/// run Python at a time, so pure-Python sums on threads should take as long as sequential.
fn python_threads_sentence(sequential: &Stats, threads: &Stats) -> Vec<String> {
    let ratio = threads.speedup_over(sequential).0;
    // The ratio's range from the runs' spread: the best and worst pairing of runs.
    let low = sequential.min.as_secs_f64() / threads.max.as_secs_f64().max(1e-12);
    let high = sequential.max.as_secs_f64() / threads.min.as_secs_f64().max(1e-12);
    if (0.9..=1.1).contains(&ratio) {
        vec![
            format!(
                "  CPython's threads: {ratio:.2}x, no gain, as in the notebook (527 ms against 542 ms):"
            ),
            "  the GIL lets one thread run Python code at a time.".to_owned(),
        ]
    } else if low <= 1.0 && 1.0 <= high {
        vec![
            format!(
                "  CPython's threads: {ratio:.2}x by median, but its runs range from {low:.2}x to {high:.2}x:"
            ),
            "  run-to-run noise, not a gain or loss from threads (the GIL runs one at a time)."
                .to_owned(),
            "  More runs narrow it: `cargo run -p threading -- --vs-python --runs 15`.".to_owned(),
        ]
    } else if ratio > 1.0 {
        vec![
            format!("  CPython's threads: {ratio:.2}x, against the notebook's \"no gain\". With the GIL only"),
            "  one thread runs Python at a time, so a gain means the sequential runs were slowed".to_owned(),
            "  (another program, a cold cache) or time was spent with the GIL released. Re-run with".to_owned(),
            "  more runs to compare: `cargo run -p threading -- --vs-python --runs 15`.".to_owned(),
        ]
    } else {
        vec![
            format!(
                "  CPython's threads: {ratio:.2}x: slower than one after another, as the GIL makes"
            ),
            "  threads take turns and each hand-over costs a little.".to_owned(),
        ]
    }
}

/// Times `three_sums` and checks its result against the closed forms.
fn time_sums(length: u64, runs: usize, three_sums: &dyn Fn() -> [u128; 3]) -> Stats {
    let (sums, stats) = timing::measure(runs, three_sums);
    assert_eq!(Some(sums), expected_sums(length), "wrong sums");
    stats
}

/// The speedups one timed section measured, over sequential.
struct Measured {
    /// Each sum alone, in seconds.
    job_secs: Vec<f64>,
    three_threads: f64,
    even_split: f64,
    rayon: f64,
}

/// What the numbers say, chosen from them: what each variant could reach on these cores, and
/// whether it did.
fn explain(m: &Measured, cores: usize, threads: usize, length: u64) -> Vec<String> {
    let mut lines = Vec::new();
    if cores == 1 {
        lines.push(
            "One core: the threads take turns on it, so no variant can really beat sequential (a few"
                .to_owned(),
        );
        lines.push(
            "  percent either way is noise); their ratios show what starting threads costs."
                .to_owned(),
        );
        return lines;
    }
    let (worst, best) = placement_speedups(&m.job_secs, cores);
    let (threads_text, cores_text) =
        (timing::plural(threads, "thread"), timing::plural(cores, "core"));
    let even_bound = threads.min(cores) as f64;
    if cores >= m.job_secs.len() {
        lines.push(format!(
            "One thread per sum: each sum has a core of its own, so at best {best:.2}x (the longest"
        ));
        lines.push("  sum sets the pace).".to_owned());
    } else {
        lines.push(format!(
            "One thread per sum: 3 threads on {cores_text}, so some share one. Where the OS places them"
        ));
        lines.push(format!(
            "  sets the result: from {worst:.2}x (the longest sums on one core) to {best:.2}x (the best split)."
        ));
    }
    lines.push(format!(
        "The even split and rayon share all the work evenly: at best {even_bound:.0}x ({threads_text}, {cores_text})."
    ));
    lines.extend(measured_against_bounds(m, worst, even_bound, length));
    lines
}

/// Whether each variant reached its bound, and the likely reason where one did not.
fn measured_against_bounds(m: &Measured, worst: f64, even_bound: f64, length: u64) -> Vec<String> {
    let mut lines = Vec::new();
    let checks = [
        ("one thread per sum", m.three_threads, 0.9 * worst),
        ("even split", m.even_split, 0.8 * even_bound),
        ("rayon", m.rayon, 0.8 * even_bound),
    ];
    let short: Vec<String> = checks
        .iter()
        .filter(|(_, ratio, floor)| ratio < floor)
        .map(|(name, ratio, _)| format!("{name} {ratio:.2}x"))
        .collect();
    let best_measured = checks.iter().map(|(_, r, _)| *r).fold(0.0, f64::max);
    if short.is_empty() {
        lines.push(format!(
            "Measured: {:.2}x, {:.2}x and {:.2}x, within those bounds; {best_measured:.2}x at best. No GIL: the",
            m.three_threads, m.even_split, m.rayon
        ));
        lines.push(
            "  threads really run at once (CPython's: 527 ms against 542 ms sequential, no gain)."
                .to_owned(),
        );
    } else {
        lines.push(format!("Measured less than that: {}.", short.join(", ")));
        let per_sum = m.job_secs.iter().sum::<f64>() / 3.0;
        lines.push(format!(
            "  Likely: another program using the cores, or too little work ({} a sum at length {length})",
            timing::human(std::time::Duration::from_secs_f64(per_sum))
        ));
        lines.push("  to pay for starting threads. Re-run to compare: `cargo run -p threading -- --size 300000000`.".to_owned());
    }
    lines
}

/// The speedups of one thread per job, with `cores` cores and no thread moved between them:
/// the worst and the best placement that leaves no core idle (what the OS may do, and the most
/// it can do without splitting a job).
fn placement_speedups(job_secs: &[f64], cores: usize) -> (f64, f64) {
    let total: f64 = job_secs.iter().sum();
    let used = cores.min(job_secs.len()).max(1);
    let (mut worst, mut best) = (0.0_f64, f64::INFINITY);
    // Every way to give each job one of `used` cores: `used ^ jobs` choices, 3 jobs here.
    let choices = (0..job_secs.len()).fold(1, |n, _| n * used);
    for mut choice in 0..choices {
        let mut load = vec![0.0; used];
        for job in job_secs {
            load[choice % used] += job;
            choice /= used;
        }
        if load.contains(&0.0) {
            continue; // a core left idle while threads wait: not what a scheduler does
        }
        let makespan = load.iter().copied().fold(0.0, f64::max);
        worst = worst.max(makespan);
        best = best.min(makespan);
    }
    (total / worst, total / best)
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
    fn placement_gives_the_worst_and_best_split_of_whole_jobs() {
        // 1, 2 and 3 units on 2 cores: {2,3}|{1} takes 5, {1,2}|{3} takes 3; 6 units in all.
        assert_eq!(placement_speedups(&[1.0, 2.0, 3.0], 2), (1.2, 2.0));
        // A core each: the longest job sets the pace.
        assert_eq!(placement_speedups(&[1.0, 2.0, 3.0], 4), (2.0, 2.0));
        assert_eq!(placement_speedups(&[1.0, 1.0, 1.0], 1), (1.0, 1.0));
    }

    fn measured(three_threads: f64, even_split: f64) -> Measured {
        // The sums' lengths as measured here at 20M: 42, 74 and 115 ms.
        let job_secs = vec![0.042, 0.074, 0.115];
        Measured { job_secs, three_threads, even_split, rayon: even_split }
    }

    #[test]
    fn the_explanation_says_whether_each_variant_reached_its_bound() {
        let good = explain(&measured(1.47, 1.95), 2, 2, 100).join("\n");
        assert!(good.contains("from 1.22x (the longest sums on one core) to 1.99x"), "{good}");
        assert!(good.contains("within those bounds") && !good.contains("Re-run"), "{good}");
        let poor = explain(&measured(0.82, 0.99), 2, 2, 100).join("\n");
        let expected = "Measured less than that: one thread per sum 0.82x, even split 0.99x";
        assert!(poor.contains(expected) && poor.contains("Re-run"), "{poor}");
        assert!(!poor.contains("within those bounds"), "{poor}");
        let one_core = explain(&measured(0.97, 0.99), 1, 4, 100).join("\n");
        assert!(one_core.starts_with("One core: the threads take turns"), "{one_core}");
        let four = explain(&measured(1.95, 3.8), 4, 4, 100).join("\n");
        assert!(four.contains("a core of its own, so at best 2.01x"), "{four}");
        assert!(four.contains("at best 4x (4 threads, 4 cores)"), "{four}");
    }

    #[test]
    fn python_threads_are_explained_from_their_spread() {
        let stats = |median: u64, min: u64, max: u64| Stats {
            min: std::time::Duration::from_millis(min),
            median: std::time::Duration::from_millis(median),
            max: std::time::Duration::from_millis(max),
            runs: 5,
        };
        let none = python_threads_sentence(&stats(100, 95, 105), &stats(102, 99, 104)).join(" ");
        assert!(none.contains("no gain, as in the notebook"), "{none}");
        let noisy = python_threads_sentence(&stats(140, 100, 150), &stats(100, 98, 145)).join(" ");
        assert!(noisy.contains("run-to-run noise"), "{noisy}");
        let gain = python_threads_sentence(&stats(140, 135, 150), &stats(100, 98, 105)).join(" ");
        assert!(gain.contains("against the notebook's \"no gain\""), "{gain}");
        let loss = python_threads_sentence(&stats(100, 98, 102), &stats(140, 135, 150)).join(" ");
        assert!(loss.contains("slower than one after another"), "{loss}");
    }

    #[test]
    fn closed_forms_refuse_what_u128_cannot_hold() {
        assert_eq!(expected_sums(5), Some([10, 30, 100]));
        assert!(expected_sums(6_000_000_000).is_some());
        assert_eq!(expected_sums(7_000_000_000), None);
    }
}

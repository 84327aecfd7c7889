//! The Rust answer to the notebook's `time_decor`, shared by every topic binary.
//!
//! The notebook's decorator times one call and throws the result away. Here [`time_call`] hands
//! the result back with the duration, [`measure`] repeats a call after a warm-up so that a
//! reader sees min, median and max instead of one noisy number, and [`Ratio`] says how much
//! faster (or "the same within noise").
//! One module a concern for the rest: [`cli`], the command-line conventions every binary follows
//! (one-line errors with status 2, quiet exit on a closed pipe); [`machine`], what Linux tells
//! about the machine and the process (cores, memory, page faults); [`progress`], the one status
//! line for long work; [`verdict`], the one way a sentence about a measurement is chosen from
//! it; behind the `chart` feature, `chart` (a figure of the measurements, `--svg`); and behind
//! the `python` feature that the topics with `--vs-python` turn on, `python` (a twin of a
//! workload, run and compared; its rows drawn with `chart` on too) and `python_env` (a Python
//! with the twin's packages).
//!
//! Nothing here ends the process but argument parsing ([`cli::parse`]) and a closed stdout
//! ([`say!`]): the rest returns errors, each a line a topic's `main` prints with
//! [`cli::usage_error`] (bad input, status 2) or [`cli::fail`] (status 1). The modules import
//! one way: `chart` and `python` take `cli`'s option structs, `python` draws on `chart`, and
//! `cli` imports neither.
//!
//! ```
//! let (sum, stats) = timing::measure(3, || (0..1_000u64).map(std::hint::black_box).sum::<u64>());
//! assert_eq!(sum, 499_500);
//! assert_eq!(stats.runs, 3);
//! assert!(stats.min <= stats.median && stats.median <= stats.max);
//! ```

#[cfg(feature = "chart")]
pub mod chart;
pub mod cli;
pub mod machine;
pub mod progress;
#[cfg(feature = "python")]
pub mod python;
#[cfg(feature = "python")]
pub mod python_env;
pub mod verdict;

use progress::Ticker;

use std::fmt;
use std::time::{Duration, Instant};

/// How a measurement is described: `5 runs after a warm-up`, `1 run after a warm-up`.
pub fn after_warmup(runs: usize) -> String {
    format!("{} after a warm-up", plural(runs, "run"))
}

/// A size in bytes as a reader wants it, in decimal units: `512 bytes`, `32.0 kB`, `32.0 MB`,
/// `1.02 GB`.
///
/// ```
/// assert_eq!(timing::bytes(8), "8 bytes");
/// assert_eq!(timing::bytes(32_000_000), "32.0 MB");
/// assert_eq!(timing::bytes(1_020_000_000), "1.02 GB");
/// ```
pub fn bytes(count: u64) -> String {
    let value = count as f64;
    match count {
        0..1_000 => plural(count, "byte"),
        1_000..1_000_000 => format!("{:.1} kB", value / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", value / 1e6),
        _ => format!("{:.2} GB", value / 1e9),
    }
}

/// A count with its noun, agreeing: `1 run`, `5 runs`, `1 process`, `2 processes`.
///
/// ```
/// assert_eq!(timing::plural(1, "run"), "1 run");
/// assert_eq!(timing::plural(3_usize, "core"), "3 cores");
/// assert_eq!(timing::plural(2_u64, "process"), "2 processes");
/// ```
pub fn plural<N: fmt::Display + PartialEq + From<u8>>(count: N, noun: &str) -> String {
    if count == N::from(1) {
        format!("{count} {noun}")
    } else if noun.ends_with('s') {
        format!("{count} {noun}es")
    } else {
        format!("{count} {noun}s")
    }
}

/// Times one call of `f` and returns its value together with the elapsed wall time.
///
/// ```
/// let (squares, took) = timing::time_call(|| (0..10u64).map(|x| x * x).collect::<Vec<_>>());
/// assert_eq!(squares[9], 81);
/// assert!(took.as_secs() < 60);
/// ```
pub fn time_call<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}

/// Calls `f` once to warm up (caches, page faults, lazy initialisation), then `runs` more times,
/// and returns the value of the last call with the statistics of the timed ones.
/// A `runs` of 0 is taken as 1, so there is always a value to return.
///
/// A measurement that goes on for more than a second shows which run it is at on stderr, when
/// stderr is a terminal, redrawn every second (from a thread: see [`measure_without_threads`]
/// for code that forks), so a long one never looks like a hang; the line is erased at the end.
pub fn measure<T>(runs: usize, f: impl FnMut() -> T) -> (T, Stats) {
    measure_with(Ticker::start, runs, f)
}

/// [`measure`] for work too short to time alone: a first call gives its length, and each timed
/// sample then repeats `f` until the sample lasts about `sample`, the statistics being one
/// call's share - as Python's `timeit` autorange does. Returns the last call's value, the
/// statistics and the calls a sample (1 where one call already lasts `sample`).
pub fn measure_autorange<T>(
    runs: usize,
    sample: Duration,
    mut f: impl FnMut() -> T,
) -> (T, Stats, u32) {
    let (_, once) = time_call(&mut f);
    let repeats = u32::try_from(sample.as_nanos() / once.as_nanos().max(1)).unwrap_or(u32::MAX);
    let repeats = repeats.clamp(1, 10_000);
    let (value, stats) = measure(runs, || {
        for _ in 1..repeats {
            std::hint::black_box(f());
        }
        f()
    });
    let share = |sample: Duration| sample / repeats;
    let one_call = Stats {
        min: share(stats.min),
        median: share(stats.median),
        max: share(stats.max),
        ..stats
    };
    (value, one_call, repeats)
}

/// [`measure`] for code that forks: its status line is drawn between runs, from this thread,
/// as a child gets only the thread that forked (`multiprocessing` refuses to fork while
/// another thread runs).
pub fn measure_without_threads<T>(runs: usize, f: impl FnMut() -> T) -> (T, Stats) {
    measure_with(Ticker::inline, runs, f)
}

fn measure_with<T>(
    ticker: fn(String) -> Ticker,
    runs: usize,
    mut f: impl FnMut() -> T,
) -> (T, Stats) {
    let runs = runs.max(1);
    let ticker = ticker("measuring: the warm-up run".to_owned());
    drop(f());
    let mut samples = Vec::with_capacity(runs);
    let mut last = None;
    for done in 0..runs {
        ticker.set(format!("measuring: {done} of {} done", plural(runs, "timed run")));
        let (value, took) = time_call(&mut f);
        samples.push(took);
        // Drop the previous value outside the timed region, so freeing it is not charged.
        last = Some(value);
    }
    drop(ticker);
    let value = last.expect("at least one timed run");
    (value, Stats::from_samples(&samples))
}

/// Summary of repeated timings. The median is what to compare: one slow run (another process,
/// a page-fault storm) moves the mean but not the median.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Fastest run.
    pub min: Duration,
    /// Middle run; the mean of the two middle ones for an even count.
    pub median: Duration,
    /// Slowest run.
    pub max: Duration,
    /// How many runs were timed.
    pub runs: usize,
}

impl Stats {
    /// Statistics of the given samples, in any order.
    ///
    /// ```
    /// use std::time::Duration;
    /// let ms = Duration::from_millis;
    /// let stats = timing::Stats::from_samples(&[ms(4), ms(1), ms(3), ms(2)]);
    /// assert_eq!((stats.min, stats.median, stats.max), (ms(1), Duration::from_micros(2500), ms(4)));
    /// ```
    ///
    /// # Panics
    /// If `samples` is empty: there is nothing to summarise.
    pub fn from_samples(samples: &[Duration]) -> Stats {
        assert!(!samples.is_empty(), "no samples to summarise");
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        let median =
            if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2 };
        Stats { min: sorted[0], median, max: sorted[n - 1], runs: n }
    }

    /// How many times faster this is than `baseline`, by median; marked as within noise where
    /// each median lies inside the other's min..max range: the runs of either could have given
    /// the other's figure, so neither is shown to be faster. (Ranges that merely overlap are
    /// not enough: one slow run stretches a range over a real difference of several times.)
    pub fn speedup_over(&self, baseline: &Stats) -> Ratio {
        let factor = baseline.median.as_secs_f64() / self.median.as_secs_f64().max(1e-12);
        let within = |m: Duration, of: &Stats| of.min <= m && m <= of.max;
        let noise = within(self.median, baseline) && within(baseline.median, self);
        Ratio(factor, if noise { Spread::Overlapping } else { Spread::Apart })
    }

    /// The one line every binary prints for a measurement: label, median, (min..max).
    pub fn line(&self, label: &str) -> String {
        format!("{label:<34} {self}")
    }

    /// [`Stats::line`] for the measurement the next ones are compared with, marked
    /// `(baseline)`.
    pub fn baseline_line(&self, label: &str) -> String {
        format!("{label:<34} {self}  (baseline)")
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (median, min, max) = (human(self.median), human(self.min), human(self.max));
        write!(f, "{median:>9}  ({min}..{max}, median of {})", self.runs)
    }
}

/// A speed ratio: how many times faster than a baseline. Printed the same way at both ends,
/// `-> 3.10x faster`, `-> 2.00x slower`, `-> 17123x slower`, `-> the same (1.00x)` where
/// the two differ by less than half a percent, and `-> the same within noise (1.05x)` where
/// each measurement's median lies inside the other's min..max range.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Ratio(pub f64, pub Spread);

/// Whether the two measurements behind a [`Ratio`] can be told apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd)]
pub enum Spread {
    /// Every run of one was faster than every run of the other.
    Apart,
    /// Each median lies inside the other's min..max range: the difference is within the runs'
    /// own noise.
    Overlapping,
}

impl Ratio {
    /// A ratio worked out from figures alone (no ranges to compare): never "within noise".
    pub fn exact(factor: f64) -> Ratio {
        Ratio(factor, Spread::Apart)
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "-> {}", self.sentence("faster", "slower"))
    }
}

impl Ratio {
    /// `3.10x faster` / `2.00x slower` / `the same (1.00x)`, with the given words for the two
    /// directions (`Rust 3.1x faster` is built on it).
    pub fn sentence(self, faster: &str, slower: &str) -> String {
        if !self.0.is_finite() || self.0 <= 0.0 {
            return "no ratio (a time of zero)".to_owned();
        }
        let (factor, word) = if self.0 >= 1.0 { (self.0, faster) } else { (1.0 / self.0, slower) };
        if factor < 1.005 {
            return "the same (1.00x)".to_owned();
        }
        if self.1 == Spread::Overlapping {
            return format!("the same within noise ({:.2}x)", self.0);
        }
        let decimals = match factor {
            f if f < 10.0 => 2,
            f if f < 100.0 => 1,
            _ => 0,
        };
        format!("{factor:.decimals$}x {word}")
    }
}

/// Who was faster, Rust or Python, by median: `Rust 64.0x faster`, `Python 2.00x faster`, or
/// `the same (1.00x)` / `the same within noise (1.05x)`. The one wording of that verdict, in
/// the comparison tables and on the chart's bars alike.
pub fn rust_against_python(rust: &Stats, python: &Stats) -> String {
    let speedup = rust.speedup_over(python);
    match speedup.sentence("faster", "slower") {
        same if same.starts_with("the same") => same,
        faster if speedup.0 >= 1.0 => format!("Rust {faster}"),
        _ => format!("Python {}", python.speedup_over(rust).sentence("faster", "slower")),
    }
}

/// Amdahl's law: the speedup on `threads` threads of work whose `serial` fraction cannot be
/// shared, `1 / (serial + (1 - serial) / threads)`.
///
/// ```
/// assert_eq!(timing::amdahl(0.0, 4), 4.0);
/// assert_eq!(timing::amdahl(1.0, 4), 1.0);
/// assert!((timing::amdahl(0.1, 2) - 1.0 / 0.55).abs() < 1e-12);
/// ```
pub fn amdahl(serial: f64, threads: usize) -> f64 {
    1.0 / (serial + (1.0 - serial) / threads.max(1) as f64)
}

/// The serial fraction that makes [`amdahl`] fit measured `(threads, speedup)` points best
/// (least squares on 1/speedup, where the law is linear), from the points with at most `cores`
/// threads: past the cores, threads share them and the law says nothing. `None` without such
/// a point at 2 threads or more.
///
/// ```
/// let measured: Vec<(usize, f64)> = [1, 2, 4].map(|n| (n, timing::amdahl(0.2, n))).to_vec();
/// let serial = timing::amdahl_serial_fraction(&measured, 4).unwrap();
/// assert!((serial - 0.2).abs() < 1e-12);
/// assert_eq!(timing::amdahl_serial_fraction(&[(1, 1.0), (8, 1.9)], 2), None);
/// ```
pub fn amdahl_serial_fraction(points: &[(usize, f64)], cores: usize) -> Option<f64> {
    // 1/S = s + (1 - s)/n, so with x = 1/n: 1/S - x = s (1 - x), a line through the origin.
    let (mut xy, mut xx) = (0.0, 0.0);
    for &(n, speedup) in points.iter().filter(|p| p.0 >= 2 && p.0 <= cores && p.1 > 0.0) {
        let x = 1.0 / n as f64;
        xy += (1.0 - x) * (1.0 / speedup - x);
        xx += (1.0 - x) * (1.0 - x);
    }
    (xx > 0.0).then(|| (xy / xx).clamp(0.0, 1.0))
}

/// One workload timed on several thread counts: what [`speedup_sweep`] measured, for a
/// speedup curve.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// What was timed.
    pub what: String,
    /// The cores this process could use.
    pub cores: usize,
    /// The one-thread measurement the speedups are over.
    pub baseline: Stats,
    /// Each thread count's measurement.
    pub points: Vec<(usize, Stats)>,
    /// Amdahl's serial fraction fitted to the points, if there were enough.
    pub serial: Option<f64>,
}

/// Times `work(n)` on each of `counts` threads ([`measure`], `runs` runs), prints a row each as
/// soon as it is measured, against `baseline` (one thread, measured before), checks each result
/// against `expected`, and ends with Amdahl's law fitted to the rows.
pub fn speedup_sweep<T: PartialEq + fmt::Debug>(
    what: &str,
    counts: &[usize],
    runs: usize,
    baseline: &Stats,
    expected: &T,
    mut work: impl FnMut(usize) -> T,
) -> Sweep {
    let cores = machine::cores();
    let mut points = Vec::with_capacity(counts.len());
    for &threads in counts {
        let (value, stats) = measure(runs, || work(threads));
        assert_eq!(&value, expected, "{what} on {threads} threads");
        let label = format!("{what}, {}", plural(threads, "thread"));
        crate::say!("{}  {}", stats.line(&label), stats.speedup_over(baseline));
        points.push((threads, stats));
    }
    let speedups: Vec<(usize, f64)> =
        points.iter().map(|(n, s)| (*n, s.speedup_over(baseline).0)).collect();
    let serial = amdahl_serial_fraction(&speedups, cores);
    let up_to = plural(cores, "core");
    match serial {
        Some(s) if s > 0.0 => crate::say!(
            "Amdahl's law fitted to the counts up to {up_to}: a serial fraction of {:.1}%, which holds any number of threads below {:.1}x.",
            s * 100.0,
            1.0 / s
        ),
        Some(_) => crate::say!(
            "Amdahl's law fitted to the counts up to {up_to}: a serial fraction of 0%: up to the cores, nothing was left unshared."
        ),
        None => crate::say!(
            "(no count from 2 threads up to the {up_to} here: nothing to fit Amdahl's law to)"
        ),
    }
    Sweep { what: what.to_owned(), cores, baseline: *baseline, points, serial }
}

/// A duration in the unit a person reads best, with three significant digits:
/// `812 ns`, `12.3 µs`, `123 ms`, `1.23 s`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(timing::human(Duration::from_micros(12_345)), "12.3 ms");
/// ```
pub fn human(d: Duration) -> String {
    let ns = d.as_secs_f64() * 1e9;
    let (value, unit) = match ns {
        n if n < 1e3 => (n, "ns"),
        n if n < 1e6 => (n / 1e3, "µs"),
        n if n < 1e9 => (n / 1e6, "ms"),
        n => (n / 1e9, "s"),
    };
    let decimals = match value {
        v if v < 10.0 => 2,
        v if v < 100.0 => 1,
        _ => 0,
    };
    format!("{value:.decimals$} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autorange_repeats_every_sample_alike_and_reports_one_call() {
        let mut calls = 0_u32;
        let (last, stats, repeats) = measure_autorange(3, ms(5), || {
            calls += 1;
            calls
        });
        // The call that gave the length, then the warm-up and 3 samples of `repeats` calls.
        assert_eq!(calls, 1 + 4 * repeats);
        assert_eq!((last, stats.runs), (calls, 3));
        // A call that already lasts the sample is not repeated.
        let (_, _, once) = measure_autorange(1, ms(1), || std::thread::sleep(ms(2)));
        assert_eq!(once, 1);
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn median_of_odd_count_is_the_middle_sample() {
        let stats = Stats::from_samples(&[ms(9), ms(1), ms(5)]);
        assert_eq!(stats, Stats { min: ms(1), median: ms(5), max: ms(9), runs: 3 });
    }

    #[test]
    fn median_of_even_count_is_the_mean_of_the_middle_two() {
        let stats = Stats::from_samples(&[ms(10), ms(2), ms(4), ms(100)]);
        assert_eq!(stats.median, ms(7));
        assert_eq!((stats.min, stats.max, stats.runs), (ms(2), ms(100), 4));
    }

    #[test]
    fn one_run_is_min_median_and_max() {
        let stats = Stats::from_samples(&[ms(3)]);
        assert_eq!((stats.min, stats.median, stats.max, stats.runs), (ms(3), ms(3), ms(3), 1));
    }

    #[test]
    fn measure_warms_up_then_times_each_run_and_returns_the_last_value() {
        let mut calls = 0;
        let (value, stats) = measure(4, || {
            calls += 1;
            calls
        });
        assert_eq!((value, calls, stats.runs), (5, 5, 4));
        assert_eq!(measure(0, || 7).1.runs, 1);
    }

    #[test]
    fn human_picks_the_unit_and_three_significant_digits() {
        assert_eq!(human(Duration::from_nanos(812)), "812 ns");
        assert_eq!(human(Duration::from_nanos(1_500)), "1.50 µs");
        assert_eq!(human(Duration::from_nanos(12_345)), "12.3 µs");
        assert_eq!(human(ms(123)), "123 ms");
        assert_eq!(human(Duration::from_millis(1_234)), "1.23 s");
        assert_eq!(human(Duration::from_secs(75)), "75.0 s");
    }

    #[test]
    fn ratio_says_faster_or_slower() {
        assert_eq!(Ratio::exact(3.1).to_string(), "-> 3.10x faster");
        assert_eq!(Ratio::exact(0.5).to_string(), "-> 2.00x slower");
        assert_eq!(Ratio::exact(1.0 / 17123.06).to_string(), "-> 17123x slower");
        assert_eq!(Ratio::exact(0.998).to_string(), "-> the same (1.00x)");
        assert_eq!(Ratio::exact(1.004).to_string(), "-> the same (1.00x)");
        assert_eq!(Ratio::exact(0.99).to_string(), "-> 1.01x slower");
        assert_eq!(Ratio::exact(42.0).to_string(), "-> 42.0x faster");
        assert_eq!(Ratio::exact(f64::INFINITY).to_string(), "-> no ratio (a time of zero)");
        let slow = Stats::from_samples(&[ms(30)]);
        let fast = Stats::from_samples(&[ms(10)]);
        assert_eq!(fast.speedup_over(&slow).to_string(), "-> 3.00x faster");
        // Medians 1.05x apart, each inside the other's range: no winner.
        let a = Stats::from_samples(&[ms(20), ms(21), ms(30)]);
        let b = Stats::from_samples(&[ms(19), ms(22), ms(25)]);
        assert_eq!(a.speedup_over(&b).to_string(), "-> the same within noise (1.05x)");
        assert!((b.speedup_over(&a).0 - 21.0 / 22.0).abs() < 1e-12, "the figure itself is kept");
        let apart = Stats::from_samples(&[ms(26), ms(27)]);
        assert_eq!(apart.speedup_over(&b).to_string(), "-> 1.20x slower");
        // One slow run stretches a range over the other's median, but not the other way: a
        // real difference.
        let outlier = Stats::from_samples(&[ms(3), ms(12), ms(14)]);
        let quick = Stats::from_samples(&[ms(2), ms(2), ms(13)]);
        assert_eq!(quick.speedup_over(&outlier).to_string(), "-> 6.00x faster");
    }

    #[test]
    fn the_rust_against_python_verdict_names_the_faster_side() {
        let (fast, slow) = (Stats::from_samples(&[ms(10)]), Stats::from_samples(&[ms(640)]));
        assert_eq!(rust_against_python(&fast, &slow), "Rust 64.0x faster");
        assert_eq!(rust_against_python(&slow, &fast), "Python 64.0x faster");
        assert_eq!(rust_against_python(&fast, &fast), "the same (1.00x)");
    }

    #[test]
    fn line_has_label_median_and_spread() {
        let stats = Stats::from_samples(&[ms(1), ms(2), ms(3)]);
        assert_eq!(
            stats.line("collect"),
            format!("{:<34} {:>9}  (1.00 ms..3.00 ms, median of 3)", "collect", "2.00 ms")
        );
    }
}

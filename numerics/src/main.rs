//! Notebook takeaways 3 and 5, which the notebook promises and never shows: "leverage NumPy,
//! SciPy & Cython for numerical computations" and "the power of Numba". What plays their parts
//! in Rust - `ndarray` for NumPy, plain compiled loops for Cython and Numba, vector lanes and
//! rayon for Numba's host compilation and `prange` - on two classic workloads.
//!
//! Run: `cargo run -p numerics` (both), `cargo run -p numerics -- distances --n 2000 --dim 16`,
//! `cargo run -p numerics -- julia --width 1000 --png julia.png`; add `--vs-python` for NumPy,
//! SciPy, Cython and Numba in the same run.

mod distances;
mod julia;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use timing::python::{Line, Twin};
use timing::{Stats, cli, human, say};

/// Takeaways 3 and 5: NumPy, SciPy, Cython and Numba's parts, played in Rust.
#[derive(Parser)]
#[command(about, long_about = None)]
struct Args {
    /// One workload; without one, both run at their defaults.
    #[command(subcommand)]
    workload: Option<Workload>,
    /// Timed runs of each variant, after one warm-up run.
    #[arg(long, global = true, default_value_t = 5, value_parser = cli::runs,
          allow_hyphen_values = true)]
    runs: usize,
    /// Also time NumPy, SciPy, Cython and Numba on the same work (installs them once into
    /// target/python-twins; pure Python and NumPy's Julia run at a smaller size).
    #[arg(long, global = true)]
    vs_python: bool,
    /// The Python for --vs-python: an interpreter that already has the packages (nothing is
    /// installed into it). Also HPC_RS_PYTHON.
    #[arg(long, global = true, value_name = "PATH")]
    python: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Workload {
    /// Pairwise Euclidean distances between N random points (SciPy's cdist, Numba's classic).
    Distances(DistanceArgs),
    /// The Julia set of "High Performance Python", chapter 2.
    Julia(JuliaArgs),
}

#[derive(clap::Args, Clone)]
struct DistanceArgs {
    /// Number of points N (the result is N x N).
    #[arg(long, visible_alias = "size", default_value_t = 2000, value_parser = cli::up_to::<1_000_000>,
          allow_hyphen_values = true)]
    n: u64,
    /// Dimensions D of each point.
    #[arg(long, default_value_t = 16, value_parser = cli::up_to::<1_000_000>,
          allow_hyphen_values = true)]
    dim: u64,
}

#[derive(clap::Args, Clone)]
struct JuliaArgs {
    /// Width (and height) of the grid in pixels.
    #[arg(long, visible_alias = "size", default_value_t = 1000, value_parser = cli::up_to::<1_000_000>,
          allow_hyphen_values = true)]
    width: u64,
    /// Most iterations per pixel.
    #[arg(long, default_value_t = 300, value_parser = cli::up_to::<1_000_000>,
          allow_hyphen_values = true)]
    max_iter: u64,
    /// Also write the picture to this PNG file.
    #[arg(long, value_name = "PATH")]
    png: Option<PathBuf>,
}

/// The packages the twin imports: pip requirements, installed once (see `timing::python_env`).
const PACKAGES: &[&str] =
    &["numpy>=2.0", "scipy>=1.11", "numba>=0.60", "cython>=3.0", "setuptools>=65"];

/// The sizes the pure-Python twins run at, where the defaults would take them minutes.
const PYTHON_SMALL_N: usize = 400;
const PYTHON_SMALL_WIDTH: usize = 250;

fn main() {
    let args = cli::parse::<Args>();
    let twin = |script| Twin { script, packages: PACKAGES, python: args.python.as_deref() };
    let (distances, julia) = match &args.workload {
        None => (Some(DistanceArgs::default()), Some(JuliaArgs::default())),
        Some(Workload::Distances(d)) => (Some(d.clone()), None),
        Some(Workload::Julia(j)) => (None, Some(j.clone())),
    };
    let distances = distances.map(|d| checked_distances(&d));
    let julia = julia.map(|j| checked_julia(&j));

    say!("== Takeaways 3 and 5: NumPy, SciPy, Cython and Numba, played by Rust");
    say!("   (vector units of this CPU: {})", host_vector_units());
    if let Some((n, dim)) = distances {
        say!();
        let measured = distances::lesson(n, dim, args.runs);
        if args.vs_python {
            say!();
            let script = include_str!("../python/distances.py");
            vs_python_distances(&twin(script), n, dim, args.runs, &measured);
        }
    }
    if let Some((width, max_iter, png)) = julia {
        say!();
        let measured = julia::lesson(width, max_iter, args.runs, png.as_deref());
        if args.vs_python {
            say!();
            let script = include_str!("../python/julia.py");
            vs_python_julia(&twin(script), width, max_iter, args.runs, &measured);
        }
    }
}

/// `n` and `dim` as sizes, refused (exit 2) where the result would not fit in memory.
fn checked_distances(args: &DistanceArgs) -> (usize, usize) {
    let (n, dim) = (u128::from(args.n), u128::from(args.dim));
    // Three N x N results live at once (the reference, the last and the next), plus the points
    // and their transpose.
    let bytes = 3 * n * n * 8 + 2 * n * dim * 8;
    cli::check_memory(bytes, &format!("--n {}", args.n)).unwrap_or_else(|e| cli::usage_error(e));
    let size = |v: u64| usize::try_from(v).unwrap_or_else(|_| cli::usage_error("--n too large"));
    (size(args.n), size(args.dim))
}

/// The Julia arguments, refused where the counts would not fit in memory, or the PNG file
/// cannot be written (checked first, so that a typo does not cost the whole run).
fn checked_julia(args: &JuliaArgs) -> (usize, u32, Option<PathBuf>) {
    let pixels = u128::from(args.width + 1) * u128::from(args.width + 1);
    cli::check_memory(3 * pixels * 4 + pixels * 3, &format!("--width {}", args.width))
        .unwrap_or_else(|e| cli::usage_error(e));
    if let Some(path) = &args.png
        && let Err(e) = std::fs::File::create(path)
    {
        cli::usage_error(format!("--png {}: cannot write there: {e}", path.display()));
    }
    let width =
        usize::try_from(args.width).unwrap_or_else(|_| cli::usage_error("--width too large"));
    let max_iter = u32::try_from(args.max_iter).expect("at most 1,000,000");
    (width, max_iter, args.png.clone())
}

impl Default for DistanceArgs {
    fn default() -> DistanceArgs {
        DistanceArgs { n: 2000, dim: 16 }
    }
}

impl Default for JuliaArgs {
    fn default() -> JuliaArgs {
        JuliaArgs { width: 1000, max_iter: 300, png: None }
    }
}

// ---- --vs-python ----

/// NumPy, SciPy and Numba on the same points. Pure Python runs at a smaller N, where Rust's
/// naive loop is timed again for a fair pair.
fn vs_python_distances(
    twin: &Twin<'_>,
    n: usize,
    dim: usize,
    runs: usize,
    rust: &distances::Measured,
) {
    say!(
        "== Rust vs Python: pairwise distances (NumPy, SciPy, Numba; timed inside the interpreter)"
    );
    let small = n.min(PYTHON_SMALL_N);
    let small_points = distances::random_points(small, dim, distances::SEED);
    let (small_result, small_naive) = timing::measure(runs, || distances::naive(&small_points));
    let small_checksum: f64 = small_result.iter().sum();
    let args = [n, runs, dim, small].map(|v| v.to_string());
    let args =
        [&args[..], &[format!("{:?}", rust.checksum), format!("{small_checksum:?}")]].concat();
    let rust_row = |prefix: &str| find(&rust.stats, prefix);
    let pairs = [
        ("pure Python loops", Some(("1 naive loops, same N", &small_naive))),
        ("NumPy broadcasting", rust_row("2 ")),
        ("NumPy BLAS trick", rust_row("3 ")),
        ("scipy cdist", rust_row("4b")),
        ("Numba @njit", rust_row("1 ")),
        ("Numba parallel=True, prange", rust_row("5 ")),
    ];
    side_by_side(twin, &args, &pairs, best(&rust.stats));
}

/// Pure Python, NumPy, Cython and Numba on the book's grid. Pure Python and NumPy run at a
/// smaller width, where Rust is timed again.
fn vs_python_julia(
    twin: &Twin<'_>,
    width: usize,
    max_iter: u32,
    runs: usize,
    rust: &julia::Measured,
) {
    say!(
        "== Rust vs Python: the Julia set (pure Python, NumPy, Cython, Numba; timed inside the interpreter)"
    );
    let small = width.min(PYTHON_SMALL_WIDTH);
    let small_grid = julia::Grid::book(small);
    let (small_counts, small_complex) =
        timing::measure(runs, || julia::complex_numbers(&small_grid, max_iter));
    let (_, small_lanes) = timing::measure(runs, || julia::lanes_host(&small_grid, max_iter));
    let small_checksum = julia::checksum(&small_counts);
    let args = [
        width.to_string(),
        runs.to_string(),
        max_iter.to_string(),
        small.to_string(),
        rust.checksum.to_string(),
        small_checksum.to_string(),
    ];
    let rust_row = |prefix: &str| find(&rust.stats, prefix);
    let pairs = [
        ("pure Python", Some(("1 num-complex, same width", &small_complex))),
        ("NumPy", Some(("3b lanes, host CPU, same width", &small_lanes))),
        ("Cython", rust_row("2 ")),
        ("Numba @njit", rust_row("2 ")),
        ("Numba parallel=True, prange", rust_row("4 ")),
    ];
    side_by_side(twin, &args, &pairs, best(&rust.stats));
}

/// Runs the twin and prints one line per Python variant as soon as it is measured: its
/// median, the Rust variant that plays its part, and the ratio; then the twin's notes and the
/// fastest of each side. Without a Python for it, one line on stderr says so.
fn side_by_side(
    twin: &Twin<'_>,
    args: &[String],
    pairs: &[(&str, Option<(&str, &Stats)>)],
    rust_best: (&str, &Stats),
) {
    let mut rows = 0;
    let each = |line: Line<'_>| {
        let Line::Measured(python) = line else { return }; // notes come after the table
        if rows == 0 {
            say!("{:<44} {:>10}  {:<36} {:>10}", "Python (median)", "", "Rust counterpart", "");
        }
        rows += 1;
        let counterpart = pairs.iter().find(|(prefix, _)| python.label.starts_with(prefix));
        let Some((_, Some((rust_label, rust)))) = counterpart else {
            say!("{:<44} {:>10}", python.label, human(python.stats.median));
            return;
        };
        say!(
            "{:<44} {:>10}  {:<36} {:>10}  {}",
            python.label,
            human(python.stats.median),
            rust_label,
            human(rust.median),
            timing::python::verdict(rust, &python.stats)
        );
    };
    let report = timing::python::run_or_explain(twin, args, each).unwrap_or_else(|e| cli::fail(e));
    let Some(report) = report else { return };
    for note in &report.notes {
        say!("{note}");
    }
    let full_size =
        report.measured.iter().filter(|m| !m.label.contains("(N=") && !m.label.contains("(width"));
    if let Some(python_best) = full_size.min_by_key(|m| m.stats.median) {
        say!(
            "Fastest of each at full size: Rust {} {}, Python {} {}: {}.",
            rust_best.0.trim(),
            human(rust_best.1.median),
            python_best.label,
            human(python_best.stats.median),
            timing::python::verdict(rust_best.1, &python_best.stats)
        );
    }
}

fn find<'a>(stats: &'a [(&'static str, Stats)], prefix: &str) -> Option<(&'static str, &'a Stats)> {
    stats.iter().find(|(label, _)| label.starts_with(prefix)).map(|(label, s)| (*label, s))
}

fn best<'a>(stats: &'a [(&'static str, Stats)]) -> (&'static str, &'a Stats) {
    let (label, stats) = stats.iter().min_by_key(|(_, s)| s.median).expect("at least one variant");
    (label, stats)
}

// ---- helpers ----

/// The parallel variants' sentence, chosen from what they measured: the scalar loop and the
/// vector-lane loop, each `[serial, parallel]` in seconds.
fn explain_scaling(scalar: [f64; 2], lanes: [f64; 2], rerun: &str) {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let (scalar_gain, lanes_gain) = (scalar[0] / scalar[1], lanes[0] / lanes[1]);
    for line in scaling_sentence(cores, scalar_gain, lanes_gain, rerun) {
        say!("{line}");
    }
}

fn scaling_sentence(cores: usize, scalar_gain: f64, lanes_gain: f64, rerun: &str) -> Vec<String> {
    let cores_text = timing::plural(cores, "core");
    let mut lines = vec![format!(
        "- On all {cores_text} with rayon (Numba's prange): the scalar loop {scalar_gain:.2}x, the lanes {lanes_gain:.2}x."
    )];
    let good = 0.8 * cores as f64;
    let text: &[&str] = if cores == 1 {
        &["  With one core there is nothing to share, so neither can gain."]
    } else if scalar_gain >= good && lanes_gain >= good {
        &["  Both scale with the cores: no GIL, and rows that share nothing."]
    } else if scalar_gain >= good && lanes_gain < 0.85 * scalar_gain {
        &[
            "  The scalar loop scales with the cores and the vector one less. The scalar loop waits",
            "  on one chain of dependent operations and leaves most of a core's floating-point units",
            "  idle; the lanes keep them busy, so whatever else competes for those units (a hyper-",
            "  thread sibling, another program, another VM on the host) slows the lanes first.",
        ]
    } else {
        &[
            "  Less than the cores promise: other programs may be using them, or the work is too",
            "  small to pay for starting the tasks.",
        ]
    };
    lines.extend(text.iter().map(|line| (*line).to_owned()));
    if cores > 1 && !(scalar_gain >= good && lanes_gain >= good) {
        lines.push(format!("  Re-run to compare: `{rerun}`."));
    }
    lines
}

/// The vector units the multiversioned functions pick on this CPU. (AVX-512 is left out: on
/// this project's machine it was no faster than AVX2 on one core and slower on two.)
fn host_vector_units() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return "AVX2 and FMA, 4 doubles a register";
        }
        "SSE2 only, 2 doubles a register: the host variants are the baseline ones"
    }
    #[cfg(target_arch = "aarch64")]
    {
        "NEON, 2 doubles a register: the host variants are the baseline ones"
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        "this architecture's baseline: the host variants are the baseline ones"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scaling_sentence_follows_the_measurement() {
        let both = scaling_sentence(2, 1.95, 1.9, "rerun").join("\n");
        assert!(both.contains("scalar loop 1.95x, the lanes 1.90x") && both.contains("Both scale"));
        assert!(!both.contains("Re-run"));
        let lanes_behind = scaling_sentence(2, 1.9, 1.3, "rerun").join("\n");
        assert!(lanes_behind.contains("the vector one less") && lanes_behind.contains("`rerun`"));
        let neither = scaling_sentence(4, 1.2, 1.1, "rerun").join("\n");
        assert!(neither.contains("Less than the cores promise") && neither.contains("`rerun`"));
        let one = scaling_sentence(1, 1.0, 0.98, "rerun").join("\n");
        assert!(one.contains("With one core there is nothing to share") && !one.contains("Re-run"));
    }
}

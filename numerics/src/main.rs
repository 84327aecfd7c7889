//! Notebook takeaways 3 and 5, which the notebook promises and never shows: "leverage NumPy,
//! SciPy & Cython for numerical computations" and "the power of Numba". What plays their parts
//! in Rust - `ndarray` for NumPy, plain compiled loops for Cython and Numba, vector lanes and
//! rayon for Numba's host compilation and `prange` - on two classic workloads.
//!
//! Run: `cargo run -p numerics` (both), `cargo run -p numerics -- distances --n 2000 --dim 16`,
//! `cargo run -p numerics -- julia --width 1000 --png julia.png`; add `--vs-python` for NumPy,
//! SciPy, Cython and Numba in the same run.

mod lesson;
mod report;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use lesson::{distances, julia};
use numerics::distances::Isa;
use timing::chart::{Figure, Picture};
use timing::python::Twin;
use timing::verdict::{Finding, Verdict};
use timing::{Stats, cli, say};

/// Takeaways 3 and 5: NumPy, SciPy, Cython and Numba's parts, played in Rust.
#[derive(Parser)]
#[command(about, long_about = None, mut_args(cli::global))]
struct Args {
    /// One workload; without one, both run at their defaults.
    #[command(subcommand)]
    workload: Option<Workload>,
    /// The timed workload: distances' N and the Julia set's width (both, without a workload).
    #[arg(long, global = true, value_parser = cli::up_to::<1_000_000>, allow_hyphen_values = true)]
    size: Option<u64>,
    #[command(flatten)]
    threads: cli::Threads,
    #[command(flatten)]
    timed: cli::Timed<cli::VsPython>,
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
    /// Number of points N (the result is N x N); the same as --size. [default: 2000]
    #[arg(long, value_parser = cli::up_to::<1_000_000>, allow_hyphen_values = true)]
    n: Option<u64>,
    /// Dimensions D of each point.
    #[arg(long, default_value_t = 16, value_parser = cli::up_to::<1_000_000>,
          allow_hyphen_values = true)]
    dim: u64,
}

#[derive(clap::Args, Clone)]
struct JuliaArgs {
    /// Width (and height) of the grid in pixels; the same as --size. [default: 1000]
    #[arg(long, value_parser = cli::up_to::<1_000_000>, allow_hyphen_values = true)]
    width: Option<u64>,
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

/// What builds `numerics/extension` into the twins' own environment, as `hpc_rs_numerics`;
/// not asked of a Python the user names, which is never installed into.
const MATURIN: &str = "maturin>=1.9.4,<2";

/// The Python module of these kernels (a PyO3 crate that maturin builds).
const EXTENSION: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/extension");

/// The lengths of the GIL comparison: three_sums and Numba's loop, and the pure-Python loop
/// (about 40 times slower a step).
const GIL_LENGTH: u64 = 200_000_000;
const GIL_PURE_LENGTH: u64 = 500_000;

/// The sizes the pure-Python twins run at, where the defaults would take them minutes.
const PYTHON_SMALL_N: usize = 400;
const PYTHON_SMALL_WIDTH: usize = 250;

fn main() {
    let args = cli::parse::<Args>();
    let (distances, julia) = workloads(&args);
    let runs = args.timed.runs.get();
    // The module is built into the twins' Python once, before the first twin, which times it.
    let mut module_built = false;
    let mut twin = |script| {
        if !std::mem::replace(&mut module_built, true) {
            report::build_module(args.timed.python.interpreter.as_deref());
        }
        Twin { script, packages: PACKAGES, python: args.timed.python.interpreter.as_deref() }
    };

    let picture = args.timed.svg.open();
    let mut figure = Figure::new("numerics: what plays NumPy, SciPy, Cython and Numba in Rust");
    say!("== Takeaways 3 and 5: NumPy, SciPy, Cython and Numba, played by Rust");
    say!("   (vector units of this CPU: {})", host_vector_units());
    if let Some((n, dim)) = distances {
        workload(
            &args,
            &mut figure,
            |figure| distances::lesson(n, dim, runs, figure),
            sweep_distances,
            |measured, figure| {
                let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/distances.py");
                report::vs_python_distances(&twin(script), measured, figure);
            },
        );
    }
    if let Some((width, max_iter, png)) = julia {
        workload(
            &args,
            &mut figure,
            |figure| julia::lesson(width, max_iter, runs, png, figure),
            sweep_julia,
            |measured, figure| {
                let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/julia.py");
                report::vs_python_julia(&twin(script), measured, figure);
            },
        );
    }
    if args.timed.python.enabled && args.workload.is_none() {
        say!();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/calls.py");
        report::vs_python_calls(&twin(script), runs, &mut figure);
    }
    if let Some(picture) = picture {
        figure.save(picture);
    }
}

/// One workload's parts, each after a blank line: its lesson, then (with `--threads LIST`) its
/// speedup curve, then (with `--vs-python`) its Python twin - each part given what the lesson
/// measured.
fn workload<M>(
    args: &Args,
    figure: &mut Figure,
    lesson: impl FnOnce(&mut Figure) -> M,
    sweep: impl FnOnce(&[usize], &M) -> timing::Sweep,
    vs_python: impl FnOnce(&M, &mut Figure),
) {
    say!();
    let measured = lesson(figure);
    if let Some(counts) = args.threads.listed() {
        say!();
        figure.curve(&sweep(counts, &measured));
    }
    if args.timed.python.enabled {
        say!();
        vs_python(&measured, figure);
    }
}

/// Distances' N and dimensions.
type DistanceRun = (usize, usize);
/// The Julia set's width, steps and PNG file.
type JuliaRun = (usize, u32, Option<Picture>);

/// The workloads to run - the one named, or both at their defaults - checked (bad input: exit
/// 2): distances' N and dimensions, the Julia set's width, steps and PNG file.
fn workloads(args: &Args) -> (Option<DistanceRun>, Option<JuliaRun>) {
    let (distances, julia) = match &args.workload {
        None => (Some(DistanceArgs::default()), Some(JuliaArgs::default())),
        Some(Workload::Distances(d)) => (Some(d.clone()), None),
        Some(Workload::Julia(j)) => (None, Some(j.clone())),
    };
    (
        distances.map(|d| checked_distances(&d, args.size)),
        julia.map(|j| checked_julia(&j, args.size)),
    )
}

/// The size the user asked for with `flag` (`--n`, `--width`) or `--size`, and the name of the
/// option that gave it, for messages; both at once must agree.
fn size_from(
    own: Option<u64>,
    flag: &'static str,
    size: Option<u64>,
    default: u64,
) -> (u64, &'static str) {
    match (own, size) {
        (Some(own), Some(size)) if own != size => {
            cli::usage_error(format!("{flag} {own} and --size {size}: give one of them"))
        }
        (Some(own), _) => (own, flag),
        (None, Some(size)) => (size, "--size"),
        (None, None) => (default, flag),
    }
}

/// N and D as sizes, refused (exit 2) where the result would not fit in memory.
fn checked_distances(args: &DistanceArgs, size: Option<u64>) -> (usize, usize) {
    let (n, flag) = size_from(args.n, "--n", size, 2000);
    let (n128, dim) = (u128::from(n), u128::from(args.dim));
    // Three N x N results live at once (the reference, the last and the next), plus the points
    // and their transpose.
    let bytes = 3 * n128 * n128 * 8 + 2 * n128 * dim * 8;
    cli::check_memory(bytes, &format!("{flag} {n}")).unwrap_or_else(|e| cli::usage_error(e));
    let size = |v: u64| {
        usize::try_from(v).unwrap_or_else(|_| cli::usage_error(format!("{flag} too large")))
    };
    (size(n), size(args.dim))
}

/// The Julia arguments, refused where the counts would not fit in memory, or the PNG file
/// cannot be written (checked first, so that a typo does not cost the whole run; the picture
/// itself replaces the file only once it is whole).
fn checked_julia(args: &JuliaArgs, size: Option<u64>) -> JuliaRun {
    let (width, flag) = size_from(args.width, "--width", size, 1000);
    let pixels = u128::from(width + 1) * u128::from(width + 1);
    cli::check_memory(3 * pixels * 4 + pixels * 3, &format!("{flag} {width}"))
        .unwrap_or_else(|e| cli::usage_error(e));
    let png = args.png.as_deref().map(|path| {
        Picture::create(path).unwrap_or_else(|e| cli::usage_error(format!("--png: {e}")))
    });
    let width =
        usize::try_from(width).unwrap_or_else(|_| cli::usage_error(format!("{flag} too large")));
    let max_iter = u32::try_from(args.max_iter).expect("at most 1,000,000");
    (width, max_iter, png)
}

impl Default for DistanceArgs {
    fn default() -> DistanceArgs {
        DistanceArgs { n: None, dim: 16 }
    }
}

impl Default for JuliaArgs {
    fn default() -> JuliaArgs {
        JuliaArgs { width: None, max_iter: 300, png: None }
    }
}

// ---- --threads LIST: speedup curves ----

/// The distances' lanes on all cores (6), on a pool of each size, against the same lanes on
/// one thread (4b); every result bit for bit (4b)'s.
fn sweep_distances(counts: &[usize], measured: &distances::Measured) -> timing::Sweep {
    use distances::Variant;
    let distances::Measured { n, dim, runs, .. } = *measured;
    let points = numerics::distances::random_points(n, dim, numerics::distances::SEED);
    let one_thread = measured.of(Variant::Lanes(Isa::Host)).expect("the lesson times (4b)");
    let expected = Variant::Lanes(Isa::Host).run(&points);
    say!("== (6) on a rayon pool of each size, against (4b) on the calling thread");
    let work = || Variant::LanesParallel.run(&points);
    sweep_on_pools("distances, lanes on a pool", counts, runs, one_thread, &expected, work)
}

/// The Julia set's lanes on all cores, on a pool of each size, against the same lanes on one
/// thread; every count exactly the one-thread ones.
fn sweep_julia(counts: &[usize], measured: &julia::Measured) -> timing::Sweep {
    use julia::Variant;
    let julia::Measured { width, max_iter, runs, .. } = *measured;
    let grid = numerics::julia::Grid::book(width);
    let one_thread = measured.of(Variant::Lanes(Isa::Host));
    let expected = Variant::Lanes(Isa::Host).run(&grid, max_iter);
    say!("== the Julia set's lanes on a rayon pool of each size, against the lanes on one thread");
    let work = || Variant::LanesParallel.run(&grid, max_iter);
    sweep_on_pools("Julia set, lanes on a pool", counts, runs, one_thread, &expected, work)
}

/// `work` on a rayon pool of each size (started before any timing): its rayon calls use that
/// pool's threads.
fn sweep_on_pools<T: PartialEq + std::fmt::Debug + Send>(
    what: &str,
    counts: &[usize],
    runs: usize,
    one_thread: &Stats,
    expected: &T,
    work: impl Fn() -> T + Sync,
) -> timing::Sweep {
    let start = |n| rayon::ThreadPoolBuilder::new().num_threads(n).build().expect("threads start");
    let pools: Vec<(usize, rayon::ThreadPool)> = counts.iter().map(|&n| (n, start(n))).collect();
    timing::speedup_sweep(what, counts, runs, one_thread, expected, |n| {
        pools.iter().find(|(count, _)| *count == n).expect("a pool a count").1.install(&work)
    })
}

// ---- helpers ----

/// The parallel variants' sentence, chosen from what they measured: the scalar loop and the
/// vector-lane loop, each `[serial, parallel]` in seconds.
fn explain_scaling(scalar: [f64; 2], lanes: [f64; 2], rerun: &str) {
    // rayon's pool has as many threads as cores, unless RAYON_NUM_THREADS says otherwise.
    let threads = rayon::current_num_threads();
    let verdict =
        |what, [serial, parallel]: [f64; 2]| Verdict::threads(what, serial / parallel, threads);
    let (scalar, lanes) = (verdict("the scalar loop", scalar), verdict("the lanes", lanes));
    cli::paragraph("", &scaling_sentence(threads, &scalar, &lanes, rerun));
}

fn scaling_sentence(threads: usize, scalar: &Verdict, lanes: &Verdict, rerun: &str) -> String {
    let measured = format!(
        "- On {} with rayon, which hands out rows by work stealing where Numba's prange splits them into equal blocks: the scalar loop {:.2}x, the lanes {:.2}x.",
        timing::plural(threads, "thread"),
        scalar.measured,
        lanes.measured
    );
    let scales = |v: &Verdict| v.finding() != Finding::Below;
    let said = if !scalar.possible() {
        format!("{}.", scalar.describe())
    } else if scales(scalar) && scales(lanes) {
        "Both scale with the cores: no GIL, and rows that share nothing.".to_owned()
    } else if scales(scalar) && lanes.measured < 0.85 * scalar.measured {
        format!(
            "The scalar loop scales with the cores and the vector one less. The scalar loop waits on one chain of dependent operations and leaves most of a core's floating-point units idle; the lanes keep them busy, so whatever else competes for those units (a hyper-thread sibling, another program, another VM on the host) slows the lanes first. Re-run to compare: `{rerun}`."
        )
    } else {
        // The loop that fell short is the one named (the scalar one may have scaled).
        let short = if scales(scalar) { lanes } else { scalar };
        format!(
            "Of these, {}. Less than the cores promise: other programs may be using them, or the work is too small to pay for starting the tasks. Re-run to compare: `{rerun}`.",
            short.describe()
        )
    };
    format!("{measured} {said}")
}

/// The vector units the host kernels run on with this CPU. (AVX-512 is left out: on this
/// project's machine it was no faster than AVX2 on one core and slower on two.)
fn host_vector_units() -> &'static str {
    if Isa::host_has_avx2() {
        "AVX2 and FMA, 4 doubles a register"
    } else if cfg!(target_arch = "x86_64") {
        "SSE2 only, 2 doubles a register: the host variants are the baseline ones"
    } else {
        "this architecture's baseline: the host variants are the baseline ones"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scaling_sentence_follows_the_measurement() {
        let sentence = |threads, scalar, lanes, cores| {
            let on = |what, gain| Verdict::threads_on(what, gain, threads, cores);
            scaling_sentence(
                threads,
                &on("the scalar loop", scalar),
                &on("the lanes", lanes),
                "rerun",
            )
        };
        let both = sentence(2, 1.95, 1.9, 2);
        assert!(both.contains("scalar loop 1.95x, the lanes 1.90x") && both.contains("Both scale"));
        assert!(!both.contains("Re-run"));
        let lanes_behind = sentence(2, 1.9, 1.3, 2);
        assert!(lanes_behind.contains("the vector one less") && lanes_behind.contains("`rerun`"));
        let short = sentence(2, 1.62, 1.6, 2);
        assert!(short.contains("the scalar loop: 1.62x, below the 1.80x to 2.00x"), "{short}");
        assert!(!short.contains("Both scale"), "1.62x of 2 is not scaling");
        let lanes_short = sentence(2, 1.91, 1.68, 2);
        assert!(
            lanes_short.contains("the lanes: 1.68x, below the 1.80x to 2.00x"),
            "{lanes_short}"
        );
        assert!(!lanes_short.contains("the scalar loop: "), "it scaled: {lanes_short}");
        let neither = sentence(4, 1.2, 1.1, 4);
        assert!(neither.contains("Less than the cores promise") && neither.contains("`rerun`"));
        let one = sentence(4, 1.0, 0.98, 1);
        assert!(one.contains("expected of 4 threads on 1 core"), "{one}");
        assert!(!one.contains("Re-run"));
        let rayon_one = sentence(1, 0.99, 0.98, 2);
        assert!(
            rayon_one.contains("On 1 thread with rayon")
                && rayon_one.contains("1 thread on 2 cores")
        );
    }
}

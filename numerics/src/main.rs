//! Notebook takeaways 3 and 5, which the notebook promises and never shows: "leverage NumPy,
//! SciPy & Cython for numerical computations" and "the power of Numba". What plays their parts
//! in Rust - `ndarray` for NumPy, plain compiled loops for Cython and Numba, vector lanes and
//! rayon for Numba's host compilation and `prange` - on two classic workloads.
//!
//! Run: `cargo run -p numerics` (both), `cargo run -p numerics -- distances --n 2000 --dim 16`,
//! `cargo run -p numerics -- julia --width 1000 --png julia.png`; add `--vs-python` for NumPy,
//! SciPy, Cython and Numba in the same run.

mod lesson;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use lesson::{distances, julia};
use numerics::distances::Isa;
use timing::chart::Figure;
use timing::python::{Line, Twin};
use timing::verdict::{Finding, Verdict};
use timing::{Stats, cli, human, say};

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
const GIL_LENGTH: u64 = 20_000_000;
const GIL_PURE_LENGTH: u64 = 500_000;

/// The sizes the pure-Python twins run at, where the defaults would take them minutes.
const PYTHON_SMALL_N: usize = 400;
const PYTHON_SMALL_WIDTH: usize = 250;

fn main() {
    let args = cli::parse::<Args>();
    let twin = |script| Twin {
        script,
        packages: PACKAGES,
        python: args.timed.python.interpreter.as_deref(),
    };
    let (distances, julia) = workloads(&args);

    let picture = args.timed.svg.open();
    let mut figure = Figure::new("numerics: what plays NumPy, SciPy, Cython and Numba in Rust");
    say!("== Takeaways 3 and 5: NumPy, SciPy, Cython and Numba, played by Rust");
    say!("   (vector units of this CPU: {})", host_vector_units());
    // The module is built into the twins' Python once, before the first twin that times it.
    let mut module_built = false;
    let mut build_module = || {
        if !std::mem::replace(&mut module_built, true) {
            build_module(args.timed.python.interpreter.as_deref());
        }
    };
    if let Some((n, dim)) = distances {
        say!();
        let measured = distances::lesson(n, dim, args.timed.runs.get(), &mut figure);
        if let Some(counts) = args.threads.listed() {
            say!();
            figure.curve(&sweep_distances(n, dim, args.timed.runs.get(), counts, &measured));
        }
        if args.timed.python.enabled {
            say!();
            build_module();
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/distances.py");
            let runs = args.timed.runs.get();
            vs_python_distances(&twin(script), n, dim, runs, &measured, &mut figure);
        }
    }
    if let Some((width, max_iter, png)) = julia {
        say!();
        let runs = args.timed.runs.get();
        let measured = julia::lesson(width, max_iter, runs, png.as_deref(), &mut figure);
        if let Some(counts) = args.threads.listed() {
            say!();
            figure.curve(&sweep_julia(width, max_iter, runs, counts, &measured));
        }
        if args.timed.python.enabled {
            say!();
            build_module();
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/julia.py");
            vs_python_julia(&twin(script), width, max_iter, runs, &measured, &mut figure);
        }
    }
    if args.timed.python.enabled && args.workload.is_none() {
        say!();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/calls.py");
        vs_python_calls(&twin(script), args.timed.runs.get(), &mut figure);
    }
    if let Some(picture) = picture {
        figure.save(picture);
    }
}

/// Distances' N and dimensions.
type DistanceRun = (usize, usize);
/// The Julia set's width, steps and PNG file.
type JuliaRun = (usize, u32, Option<PathBuf>);

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
fn checked_julia(args: &JuliaArgs, size: Option<u64>) -> (usize, u32, Option<PathBuf>) {
    let (width, flag) = size_from(args.width, "--width", size, 1000);
    let pixels = u128::from(width + 1) * u128::from(width + 1);
    cli::check_memory(3 * pixels * 4 + pixels * 3, &format!("{flag} {width}"))
        .unwrap_or_else(|e| cli::usage_error(e));
    if let Some(path) = &args.png {
        let probe = path.with_extension("png.partial");
        if let Err(e) = std::fs::File::create(&probe) {
            cli::usage_error(format!("--png {}: cannot write there: {e}", path.display()));
        }
        let _ = std::fs::remove_file(&probe);
    }
    let width =
        usize::try_from(width).unwrap_or_else(|_| cli::usage_error(format!("{flag} too large")));
    let max_iter = u32::try_from(args.max_iter).expect("at most 1,000,000");
    (width, max_iter, args.png.clone())
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
fn sweep_distances(
    n: usize,
    dim: usize,
    runs: usize,
    counts: &[usize],
    measured: &distances::Measured,
) -> timing::Sweep {
    use distances::Variant;
    let points = numerics::distances::random_points(n, dim, numerics::distances::SEED);
    let one_thread = measured.of(Variant::Lanes(Isa::Host)).expect("the lesson times (4b)");
    let expected = Variant::Lanes(Isa::Host).run(&points);
    say!("== (6) on a rayon pool of each size, against (4b) on the calling thread");
    let work = || Variant::LanesParallel.run(&points);
    sweep_on_pools("distances, lanes on a pool", counts, runs, one_thread, &expected, work)
}

/// The Julia set's lanes on all cores, on a pool of each size, against the same lanes on one
/// thread; every count exactly the one-thread ones.
fn sweep_julia(
    width: usize,
    max_iter: u32,
    runs: usize,
    counts: &[usize],
    measured: &julia::Measured,
) -> timing::Sweep {
    use julia::Variant;
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

// ---- --vs-python ----

/// NumPy, SciPy and Numba on the same points. Pure Python runs at a smaller N, where Rust's
/// naive loop is timed again for a fair pair.
fn vs_python_distances(
    twin: &Twin<'_>,
    n: usize,
    dim: usize,
    runs: usize,
    rust: &distances::Measured,
    figure: &mut Figure,
) {
    say!(
        "== Rust vs Python: pairwise distances (NumPy, SciPy, Numba; timed inside the interpreter)"
    );
    let small = n.min(PYTHON_SMALL_N);
    let small_points = numerics::distances::random_points(small, dim, numerics::distances::SEED);
    let (small_result, small_naive) =
        timing::measure(runs, || numerics::distances::naive(&small_points));
    let small_checksum: f64 = small_result.iter().sum();
    let args = [n, runs, dim, small].map(|v| v.to_string());
    let args =
        [&args[..], &[format!("{:?}", rust.checksum), format!("{small_checksum:?}")]].concat();
    use distances::Variant;
    let rust_row = |variant: Variant| rust.of(variant).map(|stats| (variant.label(), stats));
    let pairs = [
        ("pure Python loops", Some(("1 naive loops, same N", &small_naive))),
        ("NumPy broadcasting", rust_row(Variant::Broadcast)),
        ("NumPy BLAS trick", rust_row(Variant::BlasTrick)),
        ("scipy cdist", rust_row(Variant::Lanes(Isa::Host))),
        ("Numba @njit", rust_row(Variant::Naive)),
        ("Numba parallel=True, prange", rust_row(Variant::NaiveParallel)),
    ];
    let stats: Vec<_> = rust.stats.iter().map(|(v, s)| (v.label(), s)).collect();
    side_by_side(twin, &args, &pairs, best(&stats), figure);
}

/// Pure Python, NumPy, Cython and Numba on the book's grid. Pure Python and NumPy run at a
/// smaller width, where Rust is timed again.
fn vs_python_julia(
    twin: &Twin<'_>,
    width: usize,
    max_iter: u32,
    runs: usize,
    rust: &julia::Measured,
    figure: &mut Figure,
) {
    say!(
        "== Rust vs Python: the Julia set (pure Python, NumPy, Cython, Numba; timed inside the interpreter)"
    );
    let small = width.min(PYTHON_SMALL_WIDTH);
    use julia::Variant;
    let small_grid = numerics::julia::Grid::book(small);
    let (small_counts, small_complex) =
        timing::measure(runs, || Variant::ComplexNumbers.run(&small_grid, max_iter));
    let (_, small_lanes) =
        timing::measure(runs, || Variant::Lanes(Isa::Host).run(&small_grid, max_iter));
    let small_checksum = numerics::julia::checksum(&small_counts);
    let args = [
        width.to_string(),
        runs.to_string(),
        max_iter.to_string(),
        small.to_string(),
        rust.checksum.to_string(),
        small_checksum.to_string(),
    ];
    let rust_row = |variant: Variant| Some((variant.label(), rust.of(variant)));
    let pairs = [
        ("pure Python", Some(("1 num-complex, same width", &small_complex))),
        ("NumPy", Some(("3b lanes, host CPU, same width", &small_lanes))),
        ("Cython", rust_row(Variant::TwoFloats)),
        ("Numba @njit", rust_row(Variant::TwoFloats)),
        ("Numba parallel=True, prange", rust_row(Variant::TwoFloatsParallel)),
    ];
    let stats: Vec<_> = rust.stats.iter().map(|(v, s)| (v.label(), s)).collect();
    side_by_side(twin, &args, &pairs, best(&stats), figure);
}

/// `pip install numerics/extension` into the twins' own environment, with the maturin there
/// (no download, no build isolation); its time is printed apart, as the JIT's and Cython's are.
/// A Python the user named is never installed into: without the module, one line says how.
fn build_module(python: Option<&Path>) {
    let Ok(python) = timing::python_env::find(python, PACKAGES) else {
        return; // no usable Python: the twin says why
    };
    if !python.program.starts_with(timing::python_env::environment_folder()) {
        let has_it = std::process::Command::new(&python.program)
            .args(["-c", "import hpc_rs_numerics"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has_it {
            eprintln!(
                "note: {} lacks hpc_rs_numerics: `{0} -m pip install {EXTENSION}` times the Rust kernels from Python too",
                python.program.display()
            );
        }
        return;
    }
    let folder = timing::python_env::environment_folder();
    let python =
        match timing::python_env::ensure_environment(&folder, &[PACKAGES, &[MATURIN]].concat()) {
            Ok(python) => python,
            Err(e) => return eprintln!("note: no hpc_rs_numerics rows: {e}"),
        };
    // pip runs the environment's maturin by name: its bin folder goes first on PATH, as
    // activating the environment would put it.
    let bin = python.program.parent().expect("bin/python is in a folder").to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(bin).chain(std::env::var_os("PATH").iter().flat_map(std::env::split_paths)),
    )
    .unwrap_or_default();
    let ticker =
        timing::progress::Ticker::start("maturin is building hpc_rs_numerics (cargo, release)");
    let (status, took) = timing::time_call(|| {
        std::process::Command::new(&python.program)
            .env("PATH", &path)
            .args(["-m", "pip", "install", "--no-build-isolation", "--no-deps", "-q"])
            .args(["--disable-pip-version-check", EXTENSION])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .status()
    });
    drop(ticker);
    match status {
        Ok(status) if status.success() => say!(
            "(maturin built numerics/extension into {} as hpc_rs_numerics in {}, left out of every figure)",
            python.program.display(),
            human(took)
        ),
        Ok(status) => {
            eprintln!("note: building hpc_rs_numerics failed ({status}); its rows are left out")
        }
        Err(e) => eprintln!("note: building hpc_rs_numerics failed ({e}); its rows are left out"),
    }
}

/// The Rust kernels from Python: what one call costs against Numba's, and two Python threads
/// calling native code that releases the GIL against two running the loop in Python.
fn vs_python_calls(twin: &Twin<'_>, runs: usize, figure: &mut Figure) {
    say!(
        "== From Python: hpc_rs_numerics, these kernels as a Python module (timed inside the interpreter)"
    );
    figure.panel("From Python: hpc_rs_numerics against Numba, one call and two threads");
    let mut singles: Vec<(String, Stats)> = Vec::new();
    let mut gains: Vec<(String, f64)> = Vec::new();
    let each = |_: &timing::python_env::Python, line: Line<'_>| {
        let Line::Measured(python) = line else { return };
        say!("{:<64} {}", python.label, python.stats);
        figure.python(&python.label, &python.stats);
        if let Some(kind) = python.label.strip_suffix(": 2 threads, a call each") {
            let one = singles.iter().find(|(label, _)| label.starts_with(kind));
            if let Some((_, one)) = one {
                // Two calls' work: twice one call's time if the threads take turns.
                let gain = 2.0 * one.median.as_secs_f64() / python.stats.median.as_secs_f64();
                say!("{:<64} -> two calls in {:.2}x one call's time", "", 2.0 / gain);
                gains.push((kind.to_owned(), gain));
            }
        } else {
            singles.push((python.label.clone(), python.stats));
        }
    };
    let args = [GIL_LENGTH, runs as u64, GIL_PURE_LENGTH].map(|v| v.to_string());
    let report = timing::python::run_or_explain(twin, &args, each).unwrap_or_else(|e| cli::fail(e));
    let Some(report) = report else { return };
    for note in &report.notes {
        say!("{note}");
    }
    let median_of = |prefix: &str| {
        report.measured.iter().find(|m| m.label.contains(prefix)).map(|m| m.stats.median)
    };
    if let (Some(rust), Some(numba)) =
        (median_of("1 x 1 input: hpc_rs_numerics"), median_of("1 x 1 input: Numba"))
    {
        for line in call_cost_sentence(rust.as_secs_f64(), numba.as_secs_f64()) {
            say!("{line}");
        }
    }
    for line in gil_sentence(&gains, timing::machine::cores()) {
        say!("{line}");
    }
}

/// What a call into the module costs, beside a Numba call, from the two medians in seconds.
fn call_cost_sentence(rust: f64, numba: f64) -> Vec<String> {
    let (rust_text, numba_text) = (
        human(std::time::Duration::from_secs_f64(rust)),
        human(std::time::Duration::from_secs_f64(numba)),
    );
    let relation = if rust <= numba {
        format!("{:.2}x less than a Numba call's {numba_text}", numba / rust)
    } else {
        format!("{:.2}x a Numba call's {numba_text}", rust / numba)
    };
    vec![
        format!(
            "A call into Rust costs {rust_text} ({relation}): checking the array, releasing and"
        ),
        "  retaking the GIL, making the result. Crossing pays once a call's work is worth more."
            .to_owned(),
    ]
}

/// Whether two threads overlapped, for each kind of loop (`gains`: the work of two calls over
/// the time they took, in one-call times): near 2x where the GIL is released, 1x where not.
fn gil_sentence(gains: &[(String, f64)], cores: usize) -> Vec<String> {
    if gains.is_empty() {
        return Vec::new();
    }
    let verdict = |gain: f64| {
        if gain >= 1.6 {
            "ran at once"
        } else if gain <= 1.25 {
            "took turns"
        } else {
            "overlapped in part"
        }
    };
    let name = |kind: &str| kind.split(", length").next().unwrap_or(kind).to_owned();
    let described: Vec<String> = gains
        .iter()
        .map(|(kind, gain)| format!("{} {gain:.2}x ({})", name(kind), verdict(*gain)))
        .collect();
    let mut lines = vec![format!("Two threads against one: {}.", described.join("; "))];
    let native_overlap =
        gains.iter().filter(|(k, _)| !k.starts_with("pure Python")).all(|(_, g)| *g >= 1.6);
    let python_turns =
        gains.iter().filter(|(k, _)| k.starts_with("pure Python")).all(|(_, g)| *g <= 1.25);
    let text: &[&str] = if cores == 1 {
        &["  On one core no two threads can run at once, GIL or not: re-run on more cores."]
    } else if native_overlap && python_turns {
        &[
            "  Native code that releases the GIL (PyO3's `py.detach`, Numba's nogil=True) runs beside",
            "  other Python threads; Python code needs the GIL, so one thread runs it at a time. That is",
            "  section 2.c's \"the GIL hampers threads\", measured: the cure is native code that lets go",
            "  of it, not more threads.",
        ]
    } else {
        &[
            "  Not the expected picture (native code about 2x, the Python loop about 1x): another",
            "  program may be using the cores. Re-run to compare: `cargo run -p numerics -- --vs-python`.",
        ]
    };
    lines.extend(text.iter().map(|l| (*l).to_owned()));
    lines
}

/// Runs the twin and prints one line per Python variant as soon as it is measured: its
/// median, the Rust variant that plays its part, and the ratio; then the twin's notes and the
/// fastest of each side. Without a Python for it, one line on stderr says so.
fn side_by_side(
    twin: &Twin<'_>,
    args: &[String],
    pairs: &[(&str, Option<(&str, &Stats)>)],
    rust_best: (&str, &Stats),
    figure: &mut Figure,
) {
    let mut rows = 0;
    let each = |_: &timing::python_env::Python, line: Line<'_>| {
        let Line::Measured(python) = line else { return }; // notes come after the table
        if rows == 0 {
            figure.panel(
                "Python, and the Rust counterpart of each (Python timed inside the interpreter)",
            );
            say!("{:<44} {:>10}  {:<36} {:>10}", "Python (median)", "", "Rust counterpart", "");
        }
        rows += 1;
        let counterpart = pairs.iter().find(|(prefix, _)| python.label.starts_with(prefix));
        let Some((_, Some((rust_label, rust)))) = counterpart else {
            say!("{:<44} {:>10}", python.label, human(python.stats.median));
            figure.python(&python.label, &python.stats);
            return;
        };
        figure.pair(rust_label, rust, &python.label, &python.stats);
        say!(
            "{:<44} {:>10}  {:<36} {:>10}  {}",
            python.label,
            human(python.stats.median),
            rust_label,
            human(rust.median),
            timing::rust_against_python(rust, &python.stats)
        );
    };
    let report = timing::python::run_or_explain(twin, args, each).unwrap_or_else(|e| cli::fail(e));
    let Some(report) = report else { return };
    for note in &report.notes {
        say!("{note}");
    }
    fastest_of_each(&report.measured, rust_best);
}

/// The module's row against the fastest Python way, and the fastest of each side.
fn fastest_of_each(measured: &[timing::python::Measured], rust_best: (&str, &Stats)) {
    let (module, python): (Vec<_>, Vec<_>) =
        measured.iter().partition(|m| m.label.starts_with("hpc_rs_numerics"));
    let full_size: Vec<_> = python
        .into_iter()
        .filter(|m| !m.label.contains("(N=") && !m.label.contains("(width"))
        .collect();
    let python_best = full_size.iter().min_by_key(|m| m.stats.median);
    if let (Some(module), Some(python_best)) = (module.first(), python_best) {
        say!(
            "From Python, {} (Rust) took {}: {} than the fastest Python way, {} ({}).",
            module.label,
            human(module.stats.median),
            module.stats.speedup_over(&python_best.stats).sentence("faster", "slower"),
            python_best.label,
            human(python_best.stats.median)
        );
    }
    if let Some(python_best) = python_best {
        say!(
            "Fastest of each at the same size: Rust {} {}, Python {} {}: {}.",
            rust_best.0.trim(),
            human(rust_best.1.median),
            python_best.label,
            human(python_best.stats.median),
            timing::rust_against_python(rust_best.1, &python_best.stats)
        );
    }
}

fn best<'a>(stats: &[(&'static str, &'a Stats)]) -> (&'static str, &'a Stats) {
    *stats.iter().min_by_key(|(_, s)| s.median).expect("at least one variant")
}

// ---- helpers ----

/// The parallel variants' sentence, chosen from what they measured: the scalar loop and the
/// vector-lane loop, each `[serial, parallel]` in seconds.
fn explain_scaling(scalar: [f64; 2], lanes: [f64; 2], rerun: &str) {
    // rayon's pool has as many threads as cores, unless RAYON_NUM_THREADS says otherwise.
    let threads = rayon::current_num_threads();
    let verdict =
        |what, [serial, parallel]: [f64; 2]| Verdict::threads(what, serial / parallel, threads);
    for line in scaling_sentence(
        threads,
        verdict("the scalar loop", scalar),
        verdict("the lanes", lanes),
        rerun,
    ) {
        say!("{line}");
    }
}

fn scaling_sentence(threads: usize, scalar: Verdict, lanes: Verdict, rerun: &str) -> Vec<String> {
    let mut lines = vec![format!(
        "- On {} with rayon (Numba's prange): the scalar loop {:.2}x, the lanes {:.2}x.",
        timing::plural(threads, "thread"),
        scalar.measured,
        lanes.measured
    )];
    let scales = |v: &Verdict| v.finding() != Finding::Below;
    let text: &[&str] = if !scalar.possible() {
        lines.push(format!("  {}.", scalar.describe()));
        &[]
    } else if scales(&scalar) && scales(&lanes) {
        &["  Both scale with the cores: no GIL, and rows that share nothing."]
    } else if scales(&scalar) && lanes.measured < 0.85 * scalar.measured {
        &[
            "  The scalar loop scales with the cores and the vector one less. The scalar loop waits",
            "  on one chain of dependent operations and leaves most of a core's floating-point units",
            "  idle; the lanes keep them busy, so whatever else competes for those units (a hyper-",
            "  thread sibling, another program, another VM on the host) slows the lanes first.",
        ]
    } else {
        // The loop that fell short is the one named (the scalar one may have scaled).
        let short = if scales(&scalar) { &lanes } else { &scalar };
        lines.push(format!("  {}.", short.describe()));
        &[
            "  Less than the cores promise: other programs may be using them, or the work is too",
            "  small to pay for starting the tasks.",
        ]
    };
    lines.extend(text.iter().map(|line| (*line).to_owned()));
    if scalar.possible() && !(scales(&scalar) && scales(&lanes)) {
        lines.push(format!("  Re-run to compare: `{rerun}`."));
    }
    lines
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
                on("the scalar loop", scalar),
                on("the lanes", lanes),
                "rerun",
            )
            .join("\n")
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

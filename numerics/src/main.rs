//! Notebook takeaways 3 and 5, which the notebook promises and never shows: "leverage NumPy,
//! SciPy & Cython for numerical computations" and "the power of Numba". What plays their parts
//! in Rust - `ndarray` for NumPy, plain compiled loops for Cython and Numba, vector lanes and
//! rayon for Numba's host compilation and `prange` - on two classic workloads.
//!
//! Run: `cargo run -p numerics` (both), `cargo run -p numerics -- distances --n 2000 --dim 16`,
//! `cargo run -p numerics -- julia --width 1000 --png julia.png`; add `--vs-python` for NumPy,
//! SciPy, Cython and Numba in the same run.

mod lesson;
mod options;
mod report;
mod sweeps;

use timing::chart::{Figure, Picture};
use timing::{cli, say};

use lesson::{distances, julia};
use options::Args;

fn main() {
    let args = cli::parse::<Args>();
    let (distances, julia) = options::workloads(&args);
    let picture = Picture::for_svg(&args.timed.svg).unwrap_or_else(|e| cli::usage_error(e));
    let mut session = Session::new(&args);
    say!("== Takeaways 3 and 5: NumPy, SciPy, Cython and Numba, played by Rust");
    say!(
        "   (vector units used here: {}{})",
        lesson::host_vector_units(),
        lesson::vector_units_left_out()
    );
    if let Some((n, dim)) = distances {
        pairwise_distances(&mut session, n, dim);
    }
    if let Some((width, max_iter, png)) = julia {
        julia_set(&mut session, width, max_iter, png);
    }
    if args.timed.python.enabled && args.workload.is_none() {
        from_python(&mut session);
    }
    if let Some(picture) = picture {
        session.figure.save(picture).unwrap_or_else(|e| cli::fail(e));
    }
}

/// Workload 1, SciPy's `cdist` and Numba's first example: the N x N distances between N
/// points, every variant timed, checked against the naive loop and explained.
fn pairwise_distances(session: &mut Session<'_>, n: usize, dim: usize) {
    let runs = session.runs;
    session.workload(
        |figure| distances::lesson(n, dim, runs, figure),
        sweeps::distances,
        report::vs_python_distances,
    );
}

/// Workload 2, the Julia set of "High Performance Python": every variant timed, checked to
/// give the book's counts and explained, with the rows' uneven cost; the picture, if asked.
fn julia_set(session: &mut Session<'_>, width: usize, max_iter: u32, png: Option<Picture>) {
    let runs = session.runs;
    session.workload(
        |figure| julia::lesson(width, max_iter, runs, png, figure),
        sweeps::julia,
        report::vs_python_julia,
    );
}

/// With `--vs-python` and both workloads: the kernels called from Python as a module - what a
/// call costs against Numba's, and two Python threads calling at once, against the GIL.
fn from_python(session: &mut Session<'_>) {
    say!();
    report::vs_python_calls(&mut session.twins, session.runs, &mut session.figure);
}

// ---- what the cells share ----

/// The options, the figure every part draws into, and the Python twins.
struct Session<'a> {
    args: &'a Args,
    runs: usize,
    figure: Figure,
    twins: report::Twins<'a>,
}

impl<'a> Session<'a> {
    fn new(args: &'a Args) -> Session<'a> {
        Session {
            args,
            runs: args.timed.runs.get(),
            figure: Figure::new("numerics: what plays NumPy, SciPy, Cython and Numba in Rust"),
            twins: report::Twins::new(&args.timed.python),
        }
    }

    /// One workload's parts, each after a blank line: its lesson, then (with `--threads LIST`)
    /// its speedup curve, then (with `--vs-python`) its Python twin - each part given what the
    /// lesson measured.
    fn workload<M>(
        &mut self,
        lesson: impl FnOnce(&mut Figure) -> M,
        sweep: impl FnOnce(&[usize], &M) -> timing::Sweep,
        vs_python: impl FnOnce(&mut report::Twins<'a>, &M, &mut Figure),
    ) {
        say!();
        let measured = lesson(&mut self.figure);
        if let Some(counts) = self.args.threads.listed() {
            say!();
            self.figure.curve(&sweep(counts, &measured));
        }
        if self.args.timed.python.enabled {
            say!();
            vs_python(&mut self.twins, &measured, &mut self.figure);
        }
    }
}

//! Workload 1: the N x N matrix of Euclidean distances between N points in D dimensions -
//! SciPy's `cdist(X, X)`, and the classic first example of Numba. Five ways, from the loop a
//! Python programmer would write to every core's vector units.

use std::hint::black_box;

use multiversion::multiversion;
use ndarray::{Array2, ArrayView2, Axis, NewAxis, s};
use rayon::prelude::*;
use timing::{Stats, human, say};

/// N points in D dimensions, row-major: point `i` is `coords[i * dim..(i + 1) * dim]`.
pub struct Points {
    pub n: usize,
    pub dim: usize,
    pub coords: Vec<f64>,
}

/// One variant's result: the N x N distances, row-major.
pub type Distances = Vec<f64>;

/// A way to compute the distances.
type Variant = fn(&Points) -> Distances;

/// The timed variants, in the order they are printed.
const VARIANTS: [(&str, Variant); 7] = [
    ("1 naive loops (Cython, Numba @njit)", naive),
    ("2 ndarray broadcasting (NumPy)", broadcast),
    ("3 BLAS trick |x|^2+|y|^2-2XY^T", blas_trick),
    ("4a lanes, baseline x86-64 / any", lanes_baseline),
    ("4b lanes, host CPU's vector units", lanes_host),
    ("5 naive, rows on all cores (prange)", naive_parallel),
    ("6 lanes, rows on all cores", lanes_parallel),
];

/// What a run measured, for the comparison with Python.
pub struct Measured {
    pub stats: Vec<(&'static str, Stats)>,
    /// The sum of every distance, from the naive variant: what the twin's results are checked
    /// against.
    pub checksum: f64,
}

/// Times every variant on `n` random points in `dim` dimensions, checks each against the
/// naive one, and explains the figures.
pub fn lesson(n: usize, dim: usize, runs: usize) -> Measured {
    let points = random_points(n, dim, SEED);
    let mb = (n * n * 8) as f64 / 1e6;
    say!("== Pairwise distances: {n} points in {dim} dimensions, a {mb:.0} MB result");
    let warmup = timing::after_warmup(runs);
    say!(
        "   ({warmup}; allocating the result is part of every call, as in NumPy)"
    );
    let (reference, naive_stats) = timing::measure(runs, || naive(&points));
    say!("{}  (baseline)", naive_stats.line(VARIANTS[0].0));
    let mut stats = vec![(VARIANTS[0].0, naive_stats)];
    let mut faults = Vec::new();
    for &(label, variant) in &VARIANTS[1..] {
        if label.starts_with("2 ") && broadcast_too_big(n, dim) {
            say!("{label:<34} skipped: its N x N x D temporary would not fit in memory");
            continue;
        }
        let faults_before = timing::minor_page_faults();
        let (result, variant_stats) = timing::measure(runs, || variant(&points));
        let per_call =
            timing::minor_page_faults().saturating_sub(faults_before) / (runs as u64 + 1);
        let check = if label.starts_with("3 ") {
            check_blas_trick(&points, &result, &reference)
        } else {
            check_close(&result, &reference)
        };
        say!(
            "{}  {}  {check}",
            variant_stats.line(label),
            variant_stats.speedup_over(&naive_stats)
        );
        stats.push((label, variant_stats));
        faults.push((label, per_call));
    }
    explain(&points, &stats, &faults);
    Measured { stats, checksum: reference.iter().sum() }
}

/// What the figures say, from the figures.
fn explain(points: &Points, stats: &[(&str, Stats)], faults: &[(&str, u64)]) {
    let faults_of =
        |prefix: &str| faults.iter().find(|(l, _)| l.starts_with(prefix)).map_or(0, |f| f.1);
    let median = |prefix: &str| {
        stats.iter().find(|(l, _)| l.starts_with(prefix)).map(|(_, s)| s.median.as_secs_f64())
    };
    let naive = median("1 ").expect("always measured");
    let baseline = median("4a").expect("always measured");
    let host = median("4b").expect("always measured");
    say!("What it shows:");
    say!(
        "- (1) is the loop pure Python would run, compiled: Cython and Numba give Python this. Its sum"
    );
    say!("  over D is one chain of dependent additions, so it cannot use vector lanes.");
    if let Some(broadcast) = median("2 ") {
        let gb = (points.n * points.n * points.dim * 8) as f64 / 1e9;
        say!(
            "- (2) is NumPy's style: it materialises an N x N x D array ({gb:.2} GB here) before summing,"
        );
        say!(
            "  and takes {} page faults a call to get that memory: {}.",
            faults_of("2 "),
            versus(broadcast, naive, "the naive loop")
        );
        say!(
            "  NumPy asks Linux for 2 MB pages (madvise) for arrays of 4 MB and more, 512 times fewer"
        );
        say!("  faults: that, not arithmetic, is why NumPy's broadcasting can beat this one.");
    }
    let blas = median("3 ").expect("always measured");
    say!(
        "- (3) turns the work into a matrix product ({}) but subtracts",
        versus(blas, naive, "the naive loop")
    );
    say!("  large nearly-equal numbers: close points lose digits (see its check).");
    say!(
        "- (4a) keeps 8 running sums, one per output column, which the compiler maps to vector lanes:"
    );
    say!(
        "  {} on the baseline instruction set every x86-64 CPU has.",
        versus(baseline, naive, "the naive loop")
    );
    say!(
        "  (4b) is the same source compiled also for {} and picked at run",
        crate::host_vector_units()
    );
    say!("  time, as Numba compiles for the host: {}.", versus(host, baseline, "(4a)"));
    crate::explain_scaling(
        [naive, median("5 ").expect("always measured")],
        [host, median("6 ").expect("always measured")],
        "cargo run -p numerics -- distances",
    );
    allocation_share(points.n, host, faults_of("4b"));
}

/// How much of a call is getting the N x N result's memory: the lesson of `comprehensions`.
fn allocation_share(n: usize, host_secs: f64, host_faults: u64) {
    let len = n * n;
    let (_, fresh) = timing::measure(3, || {
        let mut buffer = vec![0.0_f64; len];
        buffer.iter_mut().for_each(|x| *x = black_box(1.0));
        buffer
    });
    let mut touched = vec![0.0_f64; len];
    let (_, rewrite) = timing::measure(3, || {
        touched.iter_mut().for_each(|x| *x = black_box(2.0));
    });
    let cost = fresh.median.saturating_sub(rewrite.median);
    let share = 100.0 * cost.as_secs_f64() / host_secs;
    let mb = (len * 8) as f64 / 1e6;
    say!(
        "- Getting the {mb:.0} MB result costs about {} a call ({share:.0}% of (4b)): allocating and",
        human(cost)
    );
    say!(
        "  writing it takes {}, rewriting memory already touched {}.",
        human(fresh.median),
        human(rewrite.median)
    );
    let fresh_share = (100 * host_faults * 4096 / (len as u64 * 8)).min(100);
    say!(
        "  (4b) took {host_faults} page faults a call: {fresh_share}% of the result came as fresh pages from"
    );
    say!(
        "  the kernel, the rest was memory the allocator kept from the previous call (which calloc,"
    );
    say!(
        "  behind vec![0.0; n], must zero). Either way the time is spent before any distance is computed."
    );
}

/// `4.21x faster than the naive loop` / `2.00x slower than (4a)`.
fn versus(secs: f64, baseline_secs: f64, baseline: &str) -> String {
    let ratio = baseline_secs / secs.max(1e-12);
    if ratio >= 1.0 {
        format!("{ratio:.2}x faster than {baseline}")
    } else {
        format!("{:.2}x slower than {baseline}", 1.0 / ratio)
    }
}

// ---- the variants ----

/// (1) Two loops over points, one over dimensions: the shape of the pure-Python code, which
/// Cython and Numba compile to about this.
pub fn naive(points: &Points) -> Distances {
    let mut out = vec![0.0; points.n * points.n];
    for (i, row) in out.chunks_exact_mut(points.n).enumerate() {
        naive_row(points, i, row);
    }
    out
}

/// Row `i` of the naive loop: the distance from point i to every point.
fn naive_row(points: &Points, i: usize, row: &mut [f64]) {
    let dim = points.dim;
    let x = &points.coords[i * dim..(i + 1) * dim];
    for (j, y) in points.coords.chunks_exact(dim).enumerate() {
        let mut sum = 0.0;
        for k in 0..dim {
            let d = x[k] - y[k];
            sum += d * d;
        }
        row[j] = sum.sqrt();
    }
}

/// (2) NumPy's broadcasting, in `ndarray`: each line is the NumPy idiom in the comment above it.
pub fn broadcast(points: &Points) -> Distances {
    let x = view(points);
    // diff = X[:, None, :] - X[None, :, :]      (an N x N x D array)
    let mut diff = &x.slice(s![.., NewAxis, ..]) - &x.slice(s![NewAxis, .., ..]);
    // diff **= 2                                 (np.square(diff, out=diff): in place)
    diff.mapv_inplace(|d| d * d);
    // np.sqrt(diff.sum(axis=-1))
    let distances = diff.sum_axis(Axis(2)).mapv_into(f64::sqrt);
    distances.into_raw_vec_and_offset().0
}

/// (3) |x - y|^2 = |x|^2 + |y|^2 - 2 x.y, so the N^2 D work becomes one matrix product
/// (`ndarray`'s `dot`, NumPy's `X @ X.T`). Rounding can make a tiny d^2 negative: clip at 0.
pub fn blas_trick(points: &Points) -> Distances {
    let x = view(points);
    // sq = (X ** 2).sum(axis=1)
    let sq = x.map_axis(Axis(1), |row| row.dot(&row));
    // d2 = sq[:, None] + sq[None, :] - 2 * X @ X.T
    let mut d2: Array2<f64> = x.dot(&x.t()) * -2.0;
    d2 += &sq.slice(s![.., NewAxis]);
    d2 += &sq.slice(s![NewAxis, ..]);
    // np.sqrt(np.maximum(d2, 0))
    d2.mapv_into(|v| v.max(0.0).sqrt()).into_raw_vec_and_offset().0
}

/// (4a) The naive loop turned around so that it vectorizes: 8 output columns at a time, each
/// with its own running sum. The sum over D for one pair is still done in D's order, so the
/// result is bit for bit the naive one; only the 8 independent sums run side by side, in
/// vector lanes. Compiled for the baseline instruction set (SSE2 on x86-64).
pub fn lanes_baseline(points: &Points) -> Distances {
    let columns = transpose(points);
    let mut out = vec![0.0; points.n * points.n];
    lanes_rows(points, &columns, 0, &mut out);
    out
}

/// (4b) The same source, compiled also for wider vector units and chosen at run time.
pub fn lanes_host(points: &Points) -> Distances {
    let columns = transpose(points);
    let mut out = vec![0.0; points.n * points.n];
    lanes_rows_host(points, &columns, 0, &mut out);
    out
}

/// (5) The naive loop with its rows shared among all cores by rayon: exactly what Numba's
/// `@njit(parallel=True)` makes of `prange` over rows. Each task writes its own rows, so no
/// locks: the borrow checker knows the chunks do not overlap.
pub fn naive_parallel(points: &Points) -> Distances {
    let mut out = vec![0.0; points.n * points.n];
    out.par_chunks_mut(points.n).enumerate().for_each(|(i, row)| naive_row(points, i, row));
    out
}

/// (6) (4b) on all cores the same way, 8 rows a task.
pub fn lanes_parallel(points: &Points) -> Distances {
    const ROWS_PER_TASK: usize = 8;
    let columns = transpose(points);
    let n = points.n;
    let mut out = vec![0.0; n * n];
    out.par_chunks_mut(n * ROWS_PER_TASK).enumerate().for_each(|(task, rows)| {
        lanes_rows_host(points, &columns, task * ROWS_PER_TASK, rows);
    });
    out
}

#[multiversion(targets("x86_64+avx2+fma+avx"))]
fn lanes_rows_host(points: &Points, columns: &[f64], first_row: usize, out: &mut [f64]) {
    lanes_rows(points, columns, first_row, out);
}

/// The kernel of (4) and (5): rows `first_row..` of the result into `out`, from the points
/// and their transpose (`columns[k * n + j]` is coordinate k of point j), so that 8
/// neighbouring points' k-th coordinates sit side by side in memory.
#[inline(always)]
fn lanes_rows(points: &Points, columns: &[f64], first_row: usize, out: &mut [f64]) {
    const LANES: usize = 8;
    let (n, dim) = (points.n, points.dim);
    for (row, out_row) in out.chunks_exact_mut(n).enumerate() {
        let i = first_row + row;
        let x = &points.coords[i * dim..(i + 1) * dim];
        let full = n - n % LANES;
        for j0 in (0..full).step_by(LANES) {
            let mut sums = [0.0_f64; LANES];
            for (k, &xk) in x.iter().enumerate() {
                let ys = &columns[k * n + j0..k * n + j0 + LANES];
                for lane in 0..LANES {
                    let d = xk - ys[lane];
                    sums[lane] += d * d;
                }
            }
            for lane in 0..LANES {
                out_row[j0 + lane] = sums[lane].sqrt();
            }
        }
        for j in full..n {
            let sum: f64 = (0..dim).map(|k| x[k] - columns[k * n + j]).fold(0.0, |s, d| s + d * d);
            out_row[j] = sum.sqrt();
        }
    }
}

// ---- checks ----

/// `ok: max relative difference 0` (or the figure), panicking past 1e-9: a variant that
/// disagrees with the naive loop is a bug, not a result.
fn check_close(result: &[f64], reference: &[f64]) -> String {
    let worst = max_relative_difference(result, reference);
    assert!(worst <= 1e-9, "max relative difference {worst:e} against the naive loop");
    format!("ok: max rel. diff {worst:.1e}")
}

/// The largest |a - b| / |b| over every entry (0 where both are 0).
pub fn max_relative_difference(result: &[f64], reference: &[f64]) -> f64 {
    assert_eq!(result.len(), reference.len(), "result of the wrong size");
    result
        .iter()
        .zip(reference)
        .map(|(a, b)| if a == b { 0.0 } else { (a - b).abs() / b.abs().max(f64::MIN_POSITIVE) })
        .fold(0.0, f64::max)
}

/// The BLAS trick's error has a bound, not a relative one: the three terms are computed to
/// about (2D + 4) eps (|x|^2 + |y|^2), and their difference, d^2, can be far smaller. Every
/// pair is checked against that bound; the worst distance error is where d is 0, the diagonal.
fn check_blas_trick(points: &Points, result: &[f64], reference: &[f64]) -> String {
    let (n, dim) = (points.n, points.dim);
    let norm2: Vec<f64> =
        points.coords.chunks_exact(dim).map(|p| p.iter().map(|v| v * v).sum()).collect();
    let mut worst_share = 0.0_f64;
    let mut worst_abs = 0.0_f64;
    for i in 0..n {
        for j in 0..n {
            let (got, want) = (result[i * n + j], reference[i * n + j]);
            let bound = (2 * dim + 4) as f64 * f64::EPSILON * (norm2[i] + norm2[j]);
            let error = (got * got - want * want).abs();
            assert!(error <= bound, "BLAS trick d^2 at ({i},{j}) off by {error:e} > {bound:e}");
            worst_share = worst_share.max(error / bound);
            worst_abs = worst_abs.max((got - want).abs());
        }
    }
    format!(
        "ok: d^2 within (2D+4)eps(|x|^2+|y|^2) ({:.0}% of it at worst); max abs. diff {worst_abs:.1e}",
        100.0 * worst_share
    )
}

/// Whether the broadcasting variant's N x N x D temporary would not fit in memory.
fn broadcast_too_big(n: usize, dim: usize) -> bool {
    let bytes = (n as u128) * (n as u128) * (dim as u128) * 8;
    timing::cli::check_memory(bytes + (n as u128) * (n as u128) * 16, "").is_err()
}

// ---- helpers ----

/// The fixed seed, so every run (and the Python twin) sees the same points.
pub const SEED: u64 = 2024;

/// `n` points with coordinates uniform in [0, 1), from SplitMix64: a generator simple enough
/// that the Python twin makes exactly the same points.
pub fn random_points(n: usize, dim: usize, seed: u64) -> Points {
    let mut state = seed;
    let coords = (0..n * dim).map(|_| unit_interval(splitmix64(&mut state))).collect();
    Points { n, dim, coords }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The top 53 bits as a float in [0, 1): exact, as a double has 53 bits of mantissa.
fn unit_interval(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1_u64 << 53) as f64
}

fn view(points: &Points) -> ArrayView2<'_, f64> {
    ArrayView2::from_shape((points.n, points.dim), &points.coords).expect("n * dim coordinates")
}

/// D x N: coordinate k of every point in one row.
fn transpose(points: &Points) -> Vec<f64> {
    let (n, dim) = (points.n, points.dim);
    let mut columns = vec![0.0; n * dim];
    for (j, point) in points.coords.chunks_exact(dim).enumerate() {
        for (k, &value) in point.iter().enumerate() {
            columns[k * n + j] = value;
        }
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_agrees_with_the_naive_loop_on_small_inputs() {
        for (n, dim) in [(1, 1), (1, 16), (2, 1), (7, 3), (9, 1), (17, 16), (33, 5)] {
            let points = random_points(n, dim, 7);
            let reference = naive(&points);
            for (label, variant) in VARIANTS {
                let result = variant(&points);
                let difference = max_relative_difference(&result, &reference);
                if label.starts_with("3 ") {
                    check_blas_trick(&points, &result, &reference);
                } else if label.starts_with("2 ") {
                    // ndarray sums with several accumulators: another order, another rounding.
                    assert!(difference <= 1e-15, "{label} {n}x{dim}: {difference:e}");
                } else {
                    // The same operations in the same order: bit for bit the naive result.
                    assert_eq!(difference, 0.0, "{label} {n}x{dim}");
                }
            }
        }
    }

    #[test]
    fn the_naive_loop_measures_euclidean_distance() {
        let points = Points { n: 2, dim: 2, coords: vec![0.0, 0.0, 3.0, 4.0] };
        assert_eq!(naive(&points), [0.0, 5.0, 5.0, 0.0]);
    }

    #[test]
    fn the_points_are_the_ones_the_python_twin_makes() {
        // SplitMix64 from seed 2024, the first value, as Python computes it (see the twin).
        let points = random_points(1, 2, SEED);
        assert!(points.coords.iter().all(|c| (0.0..1.0).contains(c)));
        let mut state = SEED;
        assert_eq!(splitmix64(&mut state), 0x9F6D_8FEC_F88E_ECD5);
    }

    #[test]
    fn the_blas_check_catches_an_error_beyond_its_bound() {
        let points = random_points(4, 3, 1);
        let reference = naive(&points);
        let mut wrong = blas_trick(&points);
        wrong[1] += 1e-3;
        let caught = std::panic::catch_unwind(|| check_blas_trick(&points, &wrong, &reference));
        assert!(caught.is_err());
    }
}

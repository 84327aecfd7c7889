//! The N x N matrix of Euclidean distances between N points in D dimensions - SciPy's
//! `cdist(X, X)`, and the classic first example of Numba - five ways, from the loop a Python
//! programmer would write to every core's vector units. The lesson times each of them
//! (`cargo run -p numerics -- distances`); `hpc_rs_numerics.pairwise_distances` calls (6).

use std::borrow::Cow;

use ndarray::{Array2, ArrayView2, Axis, NewAxis, s};
use rayon::prelude::*;

/// N points in D dimensions, row-major: point `i` is `coords[i * dim..(i + 1) * dim]`. The
/// coordinates are borrowed where the caller has them in this layout (a C-ordered NumPy
/// array), owned where they had to be made or copied.
pub struct Points<'a> {
    /// How many points.
    pub n: usize,
    /// How many coordinates each.
    pub dim: usize,
    /// `n * dim` coordinates, point after point.
    pub coords: Cow<'a, [f64]>,
}

impl<'a> Points<'a> {
    /// Points over coordinates the caller keeps: no copy. `None` unless there are exactly
    /// `n * dim` of them.
    pub fn borrowed(n: usize, dim: usize, coords: &'a [f64]) -> Option<Points<'a>> {
        (n.checked_mul(dim) == Some(coords.len())).then_some(Points {
            n,
            dim,
            coords: Cow::Borrowed(coords),
        })
    }
}

/// One variant's result: the N x N distances, row-major.
pub type Distances = Vec<f64>;

// ---- the variants ----

/// (1) Two loops over points, one over dimensions: the shape of the pure-Python code, which
/// Cython and Numba compile to about this.
pub fn naive(points: &Points<'_>) -> Distances {
    let mut out = vec![0.0; points.n * points.n];
    for (i, row) in out.chunks_exact_mut(points.n).enumerate() {
        naive_row(points, i, row);
    }
    out
}

/// Row `i` of the naive loop: the distance from point i to every point.
fn naive_row(points: &Points<'_>, i: usize, row: &mut [f64]) {
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
pub fn broadcast(points: &Points<'_>) -> Distances {
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
pub fn blas_trick(points: &Points<'_>) -> Distances {
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

/// Which instruction set a vector-lane kernel runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// The baseline every CPU of the architecture has (SSE2 on x86-64).
    Baseline,
    /// The same source compiled also for wider vector units (AVX2 and FMA), picked at run
    /// time when this CPU has them: what Numba gains by compiling for the host.
    Host,
}

impl Isa {
    /// Whether this CPU has the wider units that [`Isa::Host`] kernels are compiled for
    /// (x86-64's AVX2 and FMA; the answer is looked up once and cached by the standard
    /// library). Elsewhere the host kernels are the baseline ones.
    pub fn host_has_avx2() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }
}

/// (4) The naive loop turned around so that it vectorizes: 8 output columns at a time, each
/// with its own running sum. The sum over D for one pair is still done in D's order, so the
/// result is bit for bit the naive one; only the 8 independent sums run side by side, in
/// vector lanes.
pub fn lanes(points: &Points<'_>, isa: Isa) -> Distances {
    let columns = transpose(points);
    let mut out = vec![0.0; points.n * points.n];
    rows_kernel(isa)(points, &columns, 0, &mut out);
    out
}

/// (5) The naive loop with its rows shared among all cores by rayon: the part Numba's
/// `@njit(parallel=True)` plays with `prange` over rows, scheduled differently. Numba cuts the
/// rows into one equal block a thread; rayon splits them into tasks that idle threads steal
/// (Numba's docs, user/parallel.rst "Scheduling", 0.57 and later: "approximately equal sized
/// chunks", one "to each configured thread", until `set_parallel_chunksize` says otherwise).
/// Each task writes its own rows, so no locks: the borrow checker knows the chunks do not
/// overlap.
pub fn naive_parallel(points: &Points<'_>) -> Distances {
    let mut out = vec![0.0; points.n * points.n];
    out.par_chunks_mut(points.n).enumerate().for_each(|(i, row)| naive_row(points, i, row));
    out
}

/// (6) (4) for the host CPU on all cores the same way, 8 rows a task. Any N and D, 0
/// included (no points: no distances; no dimensions: every distance 0). Below about 65,000
/// coordinate differences the work stays on the calling thread: waking the pool's threads
/// costs tens of microseconds, more than such a matrix takes.
pub fn lanes_parallel(points: &Points<'_>) -> Distances {
    const ROWS_PER_TASK: usize = 8;
    const WORTH_SHARING: usize = 1 << 16;
    let n = points.n;
    if n == 0 || points.dim == 0 {
        return vec![0.0; n * n];
    }
    if n.saturating_mul(n).saturating_mul(points.dim) < WORTH_SHARING {
        return lanes(points, Isa::Host);
    }
    let columns = transpose(points);
    let mut out = vec![0.0; n * n];
    out.par_chunks_mut(n * ROWS_PER_TASK).enumerate().for_each(|(task, rows)| {
        lanes_rows_host(points, &columns, task * ROWS_PER_TASK, rows);
    });
    out
}

/// The rows kernel compiled for `isa`.
fn rows_kernel(isa: Isa) -> fn(&Points<'_>, &[f64], usize, &mut [f64]) {
    match isa {
        Isa::Baseline => lanes_rows,
        Isa::Host => lanes_rows_host,
    }
}

/// The kernel below for the host: the same source compiled a second time with AVX2 and FMA
/// enabled, called when this CPU has them. (A C compiler's function multiversioning, by hand:
/// Rust compiles a `#[target_feature]` function for those units and leaves the check to us.)
fn lanes_rows_host(points: &Points<'_>, columns: &[f64], first_row: usize, out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if Isa::host_has_avx2() {
        // SAFETY: the function needs AVX2 and FMA, and this CPU has both (checked above).
        #[allow(unsafe_code)]
        return unsafe { lanes_rows_avx2(points, columns, first_row, out) };
    }
    lanes_rows(points, columns, first_row, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2,fma")]
fn lanes_rows_avx2(points: &Points<'_>, columns: &[f64], first_row: usize, out: &mut [f64]) {
    lanes_rows(points, columns, first_row, out);
}

/// The kernel of (4) and (6): rows `first_row..` of the result into `out`, from the points
/// and their transpose (`columns[k * n + j]` is coordinate k of point j), so that 8
/// neighbouring points' k-th coordinates sit side by side in memory.
#[inline(always)]
fn lanes_rows(points: &Points<'_>, columns: &[f64], first_row: usize, out: &mut [f64]) {
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

// ---- comparing results ----

/// The largest |a - b| / |b| over every entry (0 where both are 0).
pub fn max_relative_difference(result: &[f64], reference: &[f64]) -> f64 {
    assert_eq!(result.len(), reference.len(), "result of the wrong size");
    result
        .iter()
        .zip(reference)
        .map(|(a, b)| if a == b { 0.0 } else { (a - b).abs() / b.abs().max(f64::MIN_POSITIVE) })
        .fold(0.0, f64::max)
}

// ---- the points ----

/// The fixed seed, so every run (and the Python twin) sees the same points.
pub const SEED: u64 = 2024;

/// `n` points with coordinates uniform in [0, 1), from SplitMix64: a generator simple enough
/// that the Python twin makes exactly the same points.
pub fn random_points(n: usize, dim: usize, seed: u64) -> Points<'static> {
    let mut state = seed;
    let coords = (0..n * dim).map(|_| unit_interval(splitmix64(&mut state))).collect();
    Points { n, dim, coords: Cow::Owned(coords) }
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

fn view<'a>(points: &'a Points<'_>) -> ArrayView2<'a, f64> {
    ArrayView2::from_shape((points.n, points.dim), &points.coords).expect("n * dim coordinates")
}

/// D x N: coordinate k of every point in one row.
fn transpose(points: &Points<'_>) -> Vec<f64> {
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
    fn the_naive_loop_measures_euclidean_distance() {
        let points = Points::borrowed(2, 2, &[0.0, 0.0, 3.0, 4.0]).unwrap();
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
    fn the_lanes_on_all_cores_take_any_size_and_propagate_nan() {
        assert!(lanes_parallel(&Points::borrowed(0, 3, &[]).unwrap()).is_empty());
        assert_eq!(lanes_parallel(&Points::borrowed(2, 0, &[]).unwrap()), [0.0; 4]);
        // 11 points stay on one thread, 200 are shared among the cores: NaN either way.
        for n in [11, 200] {
            let mut coords = random_points(n, 3, 5).coords.into_owned();
            coords[4 * 3 + 1] = f64::NAN; // point 4
            let points = Points::borrowed(n, 3, &coords).unwrap();
            let out = lanes_parallel(&points);
            for i in 0..n {
                for j in 0..n {
                    let nan = out[i * n + j].is_nan();
                    assert_eq!(nan, i == 4 || j == 4, "n = {n}: ({i}, {j})");
                }
            }
            assert_eq!(lanes(&points, Isa::Baseline).len(), n * n);
        }
        assert!(Points::borrowed(2, 3, &[0.0; 5]).is_none(), "6 coordinates needed");
    }
}

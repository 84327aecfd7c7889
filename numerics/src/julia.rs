//! The Julia set of "High Performance Python" (Gorelick & Ozsvald, chapter 2), the book's
//! running example: for each pixel z of a grid over [-1.8, 1.8]^2, count the steps
//! `z = z*z + c` takes to leave the circle of radius 2, at most `max_iter`. The lesson times
//! each way (`cargo run -p numerics -- julia`); `hpc_rs_numerics.julia` calls (5).

use num_complex::Complex64;
use rayon::prelude::*;

pub use crate::distances::Isa;

/// The book's constant c = -0.62772 - 0.42193i.
pub const BOOK_C: Complex64 = Complex64::new(-0.62772, -0.42193);

/// The book's checksum for width 1000 and 300 iterations: `assert sum(output) == 33219980`.
pub const BOOK_CHECKSUM: u64 = 33_219_980;

/// The grid's coordinates, built as the book builds them (see [`Grid::book`]).
pub struct Grid {
    /// x for each column, left to right.
    pub xs: Vec<f64>,
    /// y for each row, top (1.8) to bottom.
    pub ys: Vec<f64>,
}

/// Iteration counts, row by row.
pub type Counts = Vec<u32>;

// ---- the variants ----

/// (1) The book's pure-Python loop with `num-complex`: `while abs(z) < 2 and n < maxiter`.
pub fn complex_numbers(grid: &Grid, max_iter: u32, c: Complex64) -> Counts {
    let mut counts = Vec::with_capacity(grid.xs.len() * grid.ys.len());
    for &y in &grid.ys {
        for &x in &grid.xs {
            let mut z = Complex64::new(x, y);
            let mut n = 0;
            while z.norm() < 2.0 && n < max_iter {
                z = z * z + c;
                n += 1;
            }
            counts.push(n);
        }
    }
    counts
}

/// (2) The book's Cython version: real and imaginary parts as two doubles, |z|^2 < 4.
/// `z*z + c` written out gives bit for bit what the complex product gives.
pub fn two_floats(grid: &Grid, max_iter: u32, c: Complex64) -> Counts {
    let mut counts = Vec::with_capacity(grid.xs.len() * grid.ys.len());
    for &y in &grid.ys {
        counts.extend(grid.xs.iter().map(|&x| escape_count(x, y, max_iter, c)));
    }
    counts
}

/// One pixel of (2): `while zr*zr + zi*zi < 4 and n < max_iter`. Not inlined: inlined
/// into the row loops it ran 1.5x slower on this project's machine (measured), out of line it
/// is the loop Cython compiles.
#[inline(never)]
fn escape_count(x: f64, y: f64, max_iter: u32, c: Complex64) -> u32 {
    let (mut zr, mut zi, mut n) = (x, y, 0);
    while n < max_iter && zr * zr + zi * zi < 4.0 {
        (zr, zi) = (zr * zr - zi * zi + c.re, 2.0 * zr * zi + c.im);
        n += 1;
    }
    n
}

/// (3) Eight pixels at a time in vector lanes, compiled for `isa`.
pub fn lanes(grid: &Grid, max_iter: u32, c: Complex64, isa: Isa) -> Counts {
    let row_kernel = row_kernel(isa);
    let mut counts = vec![0; grid.xs.len() * grid.ys.len()];
    for (row, &y) in counts.chunks_exact_mut(grid.xs.len()).zip(&grid.ys) {
        row_kernel(&grid.xs, y, max_iter, c.re, c.im, row);
    }
    counts
}

/// (4) (2) with one task per row on rayon's pool: the part Numba's `prange` over rows plays,
/// scheduled differently - idle threads steal rows here, where Numba gives each thread one equal
/// block of them (see `distances::naive_parallel`), which the Julia set's costly middle rows
/// make uneven.
pub fn two_floats_parallel(grid: &Grid, max_iter: u32, c: Complex64) -> Counts {
    let mut counts = vec![0; grid.xs.len() * grid.ys.len()];
    let xs = &grid.xs;
    // `move`: each task gets its own copy of c, a value in registers, not a load through the
    // closure's captured reference on every step.
    counts.par_chunks_mut(xs.len()).zip(&grid.ys).for_each(move |(row, &y)| {
        for (count, &x) in row.iter_mut().zip(xs) {
            *count = escape_count(x, y, max_iter, c);
        }
    });
    counts
}

/// (5) (3) for the host CPU on all cores the same way. Any grid, empty included.
pub fn lanes_parallel(grid: &Grid, max_iter: u32, c: Complex64) -> Counts {
    let mut counts = vec![0; grid.xs.len() * grid.ys.len()];
    if counts.is_empty() {
        return counts;
    }
    let xs = &grid.xs;
    counts.par_chunks_mut(xs.len()).zip(&grid.ys).for_each(move |(row, &y)| {
        lanes_row_host(xs, y, max_iter, c.re, c.im, row);
    });
    counts
}

/// The row kernel compiled for `isa`.
fn row_kernel(isa: Isa) -> fn(&[f64], f64, u32, f64, f64, &mut [u32]) {
    match isa {
        Isa::Baseline => lanes_row,
        Isa::Host => lanes_row_host,
    }
}

/// The row kernel below for the host, compiled a second time for AVX2 and FMA and called when
/// this CPU has them (as `distances`' host kernel).
fn lanes_row_host(xs: &[f64], y: f64, max_iter: u32, cr: f64, ci: f64, counts: &mut [u32]) {
    #[cfg(target_arch = "x86_64")]
    if Isa::host_has_avx2() {
        // SAFETY: the function needs AVX2 and FMA, and this CPU has both (checked above).
        #[allow(unsafe_code)]
        return unsafe { lanes_row_avx2(xs, y, max_iter, cr, ci, counts) };
    }
    lanes_row(xs, y, max_iter, cr, ci, counts);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2,fma")]
fn lanes_row_avx2(xs: &[f64], y: f64, max_iter: u32, cr: f64, ci: f64, counts: &mut [u32]) {
    lanes_row(xs, y, max_iter, cr, ci, counts);
}

/// One row, 8 pixels at a time. Every lane runs the same steps; `alive` masks the lanes whose
/// pixel has escaped, so their count stops while their arithmetic goes on unused (cheaper
/// than a branch per lane). Counts are exactly (2)'s: the same operations in the same order.
#[inline(always)]
fn lanes_row(xs: &[f64], y: f64, max_iter: u32, cr: f64, ci: f64, counts: &mut [u32]) {
    const LANES: usize = 8;
    for (xs, counts) in xs.chunks(LANES).zip(counts.chunks_mut(LANES)) {
        let mut zr = [0.0_f64; LANES];
        let mut zi = [y; LANES];
        let mut alive = [false; LANES];
        zr[..xs.len()].copy_from_slice(xs);
        alive[..xs.len()].fill(true);
        let mut n = [0_u32; LANES];
        for _ in 0..max_iter {
            let mut any = false;
            for lane in 0..LANES {
                let (r2, i2) = (zr[lane] * zr[lane], zi[lane] * zi[lane]);
                let inside = alive[lane] & (r2 + i2 < 4.0);
                alive[lane] = inside;
                // A count cannot pass max_iter, a u32: `wrapping_add` drops the overflow check
                // the dev profile would make, which kept the 8 counts out of one vector register.
                n[lane] = n[lane].wrapping_add(u32::from(inside));
                zi[lane] = 2.0 * zr[lane] * zi[lane] + ci;
                zr[lane] = r2 - i2 + cr;
                any |= inside;
            }
            if !any {
                break;
            }
        }
        counts.copy_from_slice(&n[..counts.len()]);
    }
}

// ---- the grid ----

impl Grid {
    /// The book's grid, by repeated addition of the step (so its size can be one more than
    /// `width` where rounding leaves the last coordinate just short of the edge):
    /// `while ycoord > y1: y.append(ycoord); ycoord += y_step`, and the same for x.
    pub fn book(width: usize) -> Grid {
        let (x1, x2, y1, y2) = (-1.8, 1.8, -1.8, 1.8);
        let (x_step, y_step) = ((x2 - x1) / width as f64, (y1 - y2) / width as f64);
        let mut ys = Vec::with_capacity(width + 1);
        let mut y = y2;
        while y > y1 {
            ys.push(y);
            y += y_step;
        }
        let mut xs = Vec::with_capacity(width + 1);
        let mut x = x1;
        while x < x2 {
            xs.push(x);
            x += x_step;
        }
        Grid { xs, ys }
    }

    /// The book's grid cut to exactly `width` x `width`: the book's own where it has that size
    /// (as at 1000), without the extra row or column its rounding can add.
    pub fn book_square(width: usize) -> Grid {
        let mut grid = Grid::book(width);
        grid.xs.truncate(width);
        grid.ys.truncate(width);
        grid
    }
}

/// The book's checksum: the sum of every pixel's count.
pub fn checksum(counts: &[u32]) -> u64 {
    counts.iter().map(|&n| u64::from(n)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_book_grid_is_1000_by_1000() {
        let grid = Grid::book(1000);
        assert_eq!((grid.xs.len(), grid.ys.len()), (1000, 1000));
        assert_eq!((grid.xs[0], grid.ys[0]), (-1.8, 1.8));
        let square = Grid::book_square(1000);
        assert_eq!((square.xs, square.ys), (grid.xs, grid.ys));
    }

    #[test]
    fn a_square_grid_is_exactly_its_width() {
        for width in 1..=300 {
            let grid = Grid::book_square(width);
            assert_eq!((grid.xs.len(), grid.ys.len()), (width, width), "width {width}");
        }
    }

    #[test]
    fn a_small_grid_has_a_known_checksum() {
        // Computed by the book's pure-Python code at width 100, 300 iterations (the twin's
        // calc_pure_python), so Rust's grid and loop match Python's to the last pixel.
        let grid = Grid::book(100);
        assert_eq!(checksum(&two_floats(&grid, 300, BOOK_C)), 334_236);
        assert_eq!(checksum(&lanes_parallel(&grid, 300, BOOK_C)), 334_236);
    }

    #[test]
    fn another_c_gives_another_picture_and_the_same_counts_from_each_kernel() {
        let grid = Grid::book(40);
        let c = Complex64::new(0.285, 0.01);
        let reference = complex_numbers(&grid, 100, c);
        assert_ne!(reference, complex_numbers(&grid, 100, BOOK_C));
        assert_eq!(lanes_parallel(&grid, 100, c), reference);
        assert_eq!(lanes(&grid, 100, c, Isa::Baseline), reference);
        assert!(lanes_parallel(&Grid { xs: vec![], ys: vec![] }, 10, c).is_empty());
    }
}

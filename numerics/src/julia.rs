//! Workload 2: the Julia set of "High Performance Python" (Gorelick & Ozsvald, chapter 2), the
//! book's running example: for each pixel z of a grid over [-1.8, 1.8]^2, count the steps
//! `z = z*z + c` takes to leave the circle of radius 2, at most `max_iter`.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use multiversion::multiversion;
use num_complex::Complex64;
use rayon::prelude::*;
use timing::{Stats, say};

/// The book's constant c = -0.62772 - 0.42193i.
const C_REAL: f64 = -0.62772;
const C_IMAG: f64 = -0.42193;

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

/// A way to compute the counts, for a grid and a most number of iterations.
type Variant = fn(&Grid, u32) -> Counts;

const VARIANTS: [(&str, Variant); 6] = [
    ("1 num-complex, abs(z) < 2 (Python)", complex_numbers),
    ("2 two f64, |z|^2 < 4 (Cython)", two_floats),
    ("3a 8 pixels in lanes, baseline", lanes_baseline),
    ("3b 8 pixels in lanes, host CPU", lanes_host),
    ("4 two f64, rows on all cores", two_floats_parallel),
    ("5 lanes, rows on all cores", lanes_parallel),
];

/// What a run measured, for the comparison with Python.
pub struct Measured {
    pub stats: Vec<(&'static str, Stats)>,
    pub checksum: u64,
}

/// Times every variant, checks that all give the same counts, prints the book's checksum and
/// explains the figures; writes the picture to `png` if asked.
pub fn lesson(width: usize, max_iter: u32, runs: usize, png: Option<&Path>) -> Measured {
    let grid = Grid::book(width);
    let (w, h) = (grid.xs.len(), grid.ys.len());
    say!("== Julia set: {w} x {h} pixels, c = {C_REAL} {C_IMAG}i, at most {max_iter} iterations");
    let warmup = timing::after_warmup(runs);
    say!("   ({warmup})");
    let (reference, first) = timing::measure(runs, || complex_numbers(&grid, max_iter));
    let checksum = checksum(&reference);
    say!("{}  (baseline)", first.line(VARIANTS[0].0));
    let mut stats = vec![(VARIANTS[0].0, first)];
    for &(label, variant) in &VARIANTS[1..] {
        let (counts, variant_stats) = timing::measure(runs, || variant(&grid, max_iter));
        assert!(counts == reference, "{label}: counts differ from the complex-number loop");
        say!(
            "{}  {}  ok: same counts",
            variant_stats.line(label),
            variant_stats.speedup_over(&first)
        );
        stats.push((label, variant_stats));
    }
    say!("checksum (sum of all iteration counts): {checksum}, the same for every variant");
    if (w, h, max_iter) == (1000, 1000, 300) {
        assert_eq!(checksum, BOOK_CHECKSUM, "the book's checksum");
        say!("  = the book's assert sum(output) == {BOOK_CHECKSUM}");
    }
    explain(&stats);
    load_imbalance(&reference, w);
    if let Some(path) = png {
        write_png(path, &reference, w, h, max_iter)
            .unwrap_or_else(|e| timing::cli::fail(format!("writing {}: {e}", path.display())));
        say!("wrote the picture to {} ({w} x {h} PNG)", path.display());
    }
    Measured { stats, checksum }
}

fn explain(stats: &[(&str, Stats)]) {
    let median = |prefix: &str| {
        let found = stats.iter().find(|(l, _)| l.starts_with(prefix)).expect("measured");
        found.1.median.as_secs_f64()
    };
    let (complex, floats) = (median("1 "), median("2 "));
    let (baseline, host) = (median("3a"), median("3b"));
    say!("What it shows:");
    say!(
        "- (1) abs(z) is a square root (hypot); (2) compares |z|^2 with 4 and needs none: {:.2}x.",
        complex / floats
    );
    say!(
        "- (3) iterates 8 pixels at once in vector lanes; a pixel that escapes is masked off while"
    );
    say!(
        "  the others go on, and the block stops when all 8 have. Numba's scalar loop cannot do this:"
    );
    say!(
        "  {:.2}x over (2) on the baseline instruction set, {:.2}x with {}",
        floats / baseline,
        floats / host,
        crate::host_vector_units()
    );
    say!("  (the same source, picked at run time).");
    crate::explain_scaling(
        [floats, median("4 ")],
        [host, median("5 ")],
        "cargo run -p numerics -- julia",
    );
}

/// Why a fixed split of the rows among threads would not be fair, measured from the counts:
/// rows through the set's middle iterate far longer than rows near the edge.
fn load_imbalance(counts: &[u32], w: usize) {
    let row_work: Vec<u64> =
        counts.chunks_exact(w).map(|row| row.iter().map(|&n| u64::from(n)).sum()).collect();
    let (quietest, busiest) = (row_work.iter().min(), row_work.iter().max());
    let (quietest, busiest) = (quietest.copied().unwrap_or(0), busiest.copied().unwrap_or(0));
    say!(
        "- Load imbalance: a row costs from {quietest} to {busiest} iterations, the middle ones most."
    );
    say!("  Numba's prange gives each thread one equal block of rows; with 4 threads the blocks");
    say!("  would hold {} of the work, and the run lasts as long as", block_shares(&row_work, 4));
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    say!(
        "  the busiest block. With this machine's {cores} the blocks hold {}. rayon instead makes",
        block_shares(&row_work, cores)
    );
    say!(
        "  a task of every row and idle threads steal tasks from busy ones, so every core stays busy"
    );
    say!("  to the end, whatever the picture.");
}

/// The share of all work in each of `blocks` equal blocks of rows: `1% / 49% / 49% / 1%`.
fn block_shares(row_work: &[u64], blocks: usize) -> String {
    let total = row_work.iter().sum::<u64>().max(1) as f64;
    let h = row_work.len();
    let shares: Vec<String> = (0..blocks)
        .map(|b| {
            let block: u64 = row_work[b * h / blocks..(b + 1) * h / blocks].iter().sum();
            format!("{:.0}%", 100.0 * block as f64 / total)
        })
        .collect();
    shares.join(" / ")
}

// ---- the variants ----

/// (1) The book's pure-Python loop with `num-complex`: `while abs(z) < 2 and n < maxiter`.
pub fn complex_numbers(grid: &Grid, max_iter: u32) -> Counts {
    let c = Complex64::new(C_REAL, C_IMAG);
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
pub fn two_floats(grid: &Grid, max_iter: u32) -> Counts {
    let mut counts = Vec::with_capacity(grid.xs.len() * grid.ys.len());
    for &y in &grid.ys {
        counts.extend(grid.xs.iter().map(|&x| escape_count(x, y, max_iter)));
    }
    counts
}

/// One pixel of (2): `while zr*zr + zi*zi < 4 and n < max_iter`.
fn escape_count(x: f64, y: f64, max_iter: u32) -> u32 {
    let (mut zr, mut zi, mut n) = (x, y, 0);
    while n < max_iter && zr * zr + zi * zi < 4.0 {
        (zr, zi) = (zr * zr - zi * zi + C_REAL, 2.0 * zr * zi + C_IMAG);
        n += 1;
    }
    n
}

/// (3a) Eight pixels at a time in vector lanes, compiled for the baseline instruction set.
pub fn lanes_baseline(grid: &Grid, max_iter: u32) -> Counts {
    let mut counts = vec![0; grid.xs.len() * grid.ys.len()];
    for (row, &y) in counts.chunks_exact_mut(grid.xs.len()).zip(&grid.ys) {
        lanes_row(&grid.xs, y, max_iter, row);
    }
    counts
}

/// (3b) The same, compiled also for the host's wider vector units, chosen at run time.
pub fn lanes_host(grid: &Grid, max_iter: u32) -> Counts {
    let mut counts = vec![0; grid.xs.len() * grid.ys.len()];
    for (row, &y) in counts.chunks_exact_mut(grid.xs.len()).zip(&grid.ys) {
        lanes_row_host(&grid.xs, y, max_iter, row);
    }
    counts
}

/// (4) (2) with one task per row on rayon's pool: what Numba's `prange` over rows makes.
pub fn two_floats_parallel(grid: &Grid, max_iter: u32) -> Counts {
    let mut counts = vec![0; grid.xs.len() * grid.ys.len()];
    counts.par_chunks_mut(grid.xs.len()).zip(&grid.ys).for_each(|(row, &y)| {
        for (count, &x) in row.iter_mut().zip(&grid.xs) {
            *count = escape_count(x, y, max_iter);
        }
    });
    counts
}

/// (5) (3b) on all cores the same way.
pub fn lanes_parallel(grid: &Grid, max_iter: u32) -> Counts {
    let mut counts = vec![0; grid.xs.len() * grid.ys.len()];
    counts.par_chunks_mut(grid.xs.len()).zip(&grid.ys).for_each(|(row, &y)| {
        lanes_row_host(&grid.xs, y, max_iter, row);
    });
    counts
}

#[multiversion(targets("x86_64+avx2+fma+avx"))]
fn lanes_row_host(xs: &[f64], y: f64, max_iter: u32, counts: &mut [u32]) {
    lanes_row(xs, y, max_iter, counts);
}

/// One row, 8 pixels at a time. Every lane runs the same steps; `alive` masks the lanes whose
/// pixel has escaped, so their count stops while their arithmetic goes on unused (cheaper
/// than a branch per lane). Counts are exactly (2)'s: the same operations in the same order.
#[inline(always)]
fn lanes_row(xs: &[f64], y: f64, max_iter: u32, counts: &mut [u32]) {
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
                n[lane] += u32::from(inside);
                zi[lane] = 2.0 * zr[lane] * zi[lane] + C_IMAG;
                zr[lane] = r2 - i2 + C_REAL;
                any |= inside;
            }
            if !any {
                break;
            }
        }
        counts.copy_from_slice(&n[..counts.len()]);
    }
}

// ---- helpers ----

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
}

/// The book's checksum: the sum of every pixel's count.
pub fn checksum(counts: &[u32]) -> u64 {
    counts.iter().map(|&n| u64::from(n)).sum()
}

/// The counts as a picture: black inside the set, and a ramp from deep blue through orange to
/// pale yellow for how fast a pixel escaped.
pub fn write_png(
    path: &Path,
    counts: &[u32],
    w: usize,
    h: usize,
    max_iter: u32,
) -> Result<(), String> {
    let file = File::create(path).map_err(|e| e.to_string())?;
    let too_big = |_| "the picture is too large for PNG".to_owned();
    let mut encoder = png::Encoder::new(
        BufWriter::new(file),
        u32::try_from(w).map_err(too_big)?,
        u32::try_from(h).map_err(too_big)?,
    );
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    let pixels: Vec<u8> = counts.iter().flat_map(|&n| colour(n, max_iter)).collect();
    writer.write_image_data(&pixels).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())
}

fn colour(n: u32, max_iter: u32) -> [u8; 3] {
    if n >= max_iter {
        return [0, 0, 0];
    }
    // Square root: most pixels escape within a few steps, and would all look the same.
    let t = (f64::from(n) / f64::from(max_iter)).sqrt();
    let stops = [[10.0, 20.0, 90.0], [230.0, 120.0, 20.0], [255.0, 250.0, 200.0]];
    let (a, b, u) =
        if t < 0.5 { (stops[0], stops[1], t * 2.0) } else { (stops[1], stops[2], t * 2.0 - 1.0) };
    // Each channel is within 0..=255 by construction, so the cast cannot truncate.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    [0, 1, 2].map(|i| (a[i] + (b[i] - a[i]) * u).round() as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_book_grid_is_1000_by_1000() {
        let grid = Grid::book(1000);
        assert_eq!((grid.xs.len(), grid.ys.len()), (1000, 1000));
        assert_eq!((grid.xs[0], grid.ys[0]), (-1.8, 1.8));
    }

    #[test]
    fn every_variant_gives_the_same_counts_at_small_sizes() {
        for (width, max_iter) in [(1, 300), (7, 50), (30, 300), (64, 1)] {
            let grid = Grid::book(width);
            let reference = complex_numbers(&grid, max_iter);
            for (label, variant) in VARIANTS {
                assert_eq!(variant(&grid, max_iter), reference, "{label} at width {width}");
            }
        }
    }

    #[test]
    fn a_small_grid_has_a_known_checksum() {
        // Computed by the book's pure-Python code at width 100, 300 iterations (the twin's
        // calc_pure_python), so Rust's grid and loop match Python's to the last pixel.
        let grid = Grid::book(100);
        assert_eq!(checksum(&two_floats(&grid, 300)), SMALL_CHECKSUM);
    }

    const SMALL_CHECKSUM: u64 = 334_236;

    #[test]
    fn colours_run_from_blue_to_pale_with_the_set_black() {
        assert_eq!(colour(300, 300), [0, 0, 0]);
        assert_eq!(colour(0, 300), [10, 20, 90]);
        let pale = colour(299, 300);
        assert!(pale[0] == 255 && pale[1] >= 240 && pale[2] >= 190, "{pale:?}");
    }
}

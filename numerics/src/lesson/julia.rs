//! Workload 2, timed: the Julia set of "High Performance Python" (Gorelick & Ozsvald,
//! chapter 2). Each variant (the kernels are in `numerics::julia`, shared with the Python
//! module) is timed, checked to give the same counts, and explained from its own figures.

use numerics::julia::{self, BOOK_C, BOOK_CHECKSUM, Counts, Grid, Isa};
use timing::chart::{Figure, Picture};
use timing::{Stats, say};

/// The timed variants, in the order they are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    ComplexNumbers,
    TwoFloats,
    Lanes(Isa),
    TwoFloatsParallel,
    LanesParallel,
}

impl Variant {
    pub const ALL: [Variant; 6] = [
        Variant::ComplexNumbers,
        Variant::TwoFloats,
        Variant::Lanes(Isa::Baseline),
        Variant::Lanes(Isa::Host),
        Variant::TwoFloatsParallel,
        Variant::LanesParallel,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Variant::ComplexNumbers => "1 num-complex, abs(z) < 2 (Python)",
            Variant::TwoFloats => "2 two f64, |z|^2 < 4 (Cython)",
            Variant::Lanes(Isa::Baseline) => "3a 8 pixels in lanes, baseline",
            Variant::Lanes(Isa::Host) => "3b 8 pixels in lanes, host CPU",
            Variant::TwoFloatsParallel => "4 two f64, rows on all cores",
            Variant::LanesParallel => "5 lanes, rows on all cores",
        }
    }

    /// The counts of the book's picture (its constant c), this variant's way.
    pub fn run(self, grid: &Grid, max_iter: u32) -> Counts {
        match self {
            Variant::ComplexNumbers => julia::complex_numbers(grid, max_iter, BOOK_C),
            Variant::TwoFloats => julia::two_floats(grid, max_iter, BOOK_C),
            Variant::Lanes(isa) => julia::lanes(grid, max_iter, BOOK_C, isa),
            Variant::TwoFloatsParallel => julia::two_floats_parallel(grid, max_iter, BOOK_C),
            Variant::LanesParallel => julia::lanes_parallel(grid, max_iter, BOOK_C),
        }
    }
}

/// What a run measured, and at what size: for the sweep over thread counts and the comparison
/// with Python, which run the same workload.
pub struct Measured {
    /// The book's grid `width` pixels wide, at most `max_iter` steps a pixel, each variant
    /// timed `runs` times.
    pub width: usize,
    pub max_iter: u32,
    pub runs: usize,
    pub stats: Vec<(Variant, Stats)>,
    pub checksum: u64,
}

impl Measured {
    pub fn of(&self, variant: Variant) -> &Stats {
        let found = self.stats.iter().find(|(v, _)| *v == variant);
        &found.expect("every variant is measured").1
    }
}

/// Times every variant, checks that all give the same counts, prints the book's checksum and
/// explains the figures; writes the picture to `png` if asked.
pub fn lesson(
    width: usize,
    max_iter: u32,
    runs: usize,
    png: Option<Picture>,
    figure: &mut Figure,
) -> Measured {
    let grid = Grid::book(width);
    let (w, h) = (grid.xs.len(), grid.ys.len());
    say!(
        "== Julia set: {w} x {h} pixels, c = {} {}i, at most {max_iter} iterations",
        BOOK_C.re,
        BOOK_C.im
    );
    let warmup = timing::after_warmup(runs);
    say!("   ({warmup})");
    let first_variant = Variant::ComplexNumbers;
    figure.panel(format!(
        "The Julia set, {} x {} pixels, at most {max_iter} steps",
        grid.xs.len(),
        grid.ys.len()
    ));
    let (reference, first) = timing::measure(runs, || first_variant.run(&grid, max_iter));
    let checksum = julia::checksum(&reference);
    say!("{}", first.baseline_line(first_variant.label()));
    figure.baseline(first_variant.label(), &first);
    let mut stats = vec![(first_variant, first)];
    for variant in Variant::ALL[1..].iter().copied() {
        let label = variant.label();
        let (counts, variant_stats) = timing::measure(runs, || variant.run(&grid, max_iter));
        assert!(counts == reference, "{label}: counts differ from the complex-number loop");
        say!(
            "{}  {}  ok: same counts",
            variant_stats.line(label),
            variant_stats.speedup_over(&first)
        );
        figure.bar(label, &variant_stats);
        stats.push((variant, variant_stats));
    }
    say!("checksum (sum of all iteration counts): {checksum}, the same for every variant");
    if (w, h, max_iter) == (1000, 1000, 300) {
        assert_eq!(checksum, BOOK_CHECKSUM, "the book's checksum");
        say!("  = the book's assert sum(output) == {BOOK_CHECKSUM}");
        say!("    (the book: High Performance Python, Gorelick & Ozsvald, chapter 2)");
    }
    let measured = Measured { width, max_iter, runs, stats, checksum };
    explain(&measured);
    load_imbalance(&reference, w);
    if let Some(png) = png {
        let path = png.path().to_owned();
        let bytes = encode_png(&reference, w, h, max_iter);
        png.save(&bytes).unwrap_or_else(|e| timing::cli::fail(e));
        say!("wrote the picture to {} ({w} x {h} PNG)", path.display());
    }
    measured
}

fn explain(measured: &Measured) {
    let median = |variant| measured.of(variant).median.as_secs_f64();
    let (complex, floats) = (median(Variant::ComplexNumbers), median(Variant::TwoFloats));
    let baseline = median(Variant::Lanes(Isa::Baseline));
    let host = median(Variant::Lanes(Isa::Host));
    say!("What it shows:");
    say!(
        "- (1) abs(z) is a square root (hypot); (2) compares |z|^2 with 4 and needs none: {}.",
        versus(complex / floats)
    );
    say!(
        "- (3) iterates 8 pixels at once in vector lanes; a pixel that escapes is masked off while"
    );
    say!("  the others go on, and the block stops when all 8 have. The Numba twin (julia_loops in");
    say!("  python/julia.py) is written as (2) is: one pixel at a time, each stopping at its own");
    say!("  escape, so it wastes no steps but keeps one pixel in flight where (3) keeps 8.");
    say!(
        "  Its counts add with `wrapping_add`: a plain `+=` carries the overflow check this build"
    );
    say!("  keeps, which kept the 8 counts out of one vector register (see the source).");
    say!(
        "  Against (2): {} on the baseline instruction set, {} with {}.",
        versus(floats / baseline),
        versus(floats / host),
        super::host_vector_units()
    );
    if floats / host < 1.0 {
        say!("  The lanes lost here: with few pixels a row, or few iterations, the masked lanes'");
        say!(
            "  wasted steps cost more than the lanes save. Try the default: `cargo run -p numerics -- julia`."
        );
    }
    super::explain_scaling(
        [floats, median(Variant::TwoFloatsParallel)],
        [host, median(Variant::LanesParallel)],
        "cargo run -p numerics -- julia",
    );
}

/// `2.10x faster` / `1.52x slower`, from a ratio of times (the other over this one).
fn versus(ratio: f64) -> String {
    if ratio >= 1.0 { format!("{ratio:.2}x faster") } else { format!("{:.2}x slower", 1.0 / ratio) }
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
    // Numba's docs, user/parallel.rst "Scheduling" (0.57 and later): by default "approximately
    // equal sized chunks", one "to each configured thread"; `set_parallel_chunksize` changes it.
    say!(
        "  Numba's prange gives each thread one equal block of rows (numba.set_parallel_chunksize"
    );
    say!("  changes that); with 4 threads the blocks");
    say!("  would hold {} of the work, and the run lasts as long as", block_shares(&row_work, 4));
    let cores = timing::machine::cores();
    say!(
        "  the busiest block. With this machine's {cores} the blocks hold {}. rayon instead makes",
        block_shares(&row_work, cores)
    );
    say!(
        "  a task of every row and idle threads steal tasks from busy ones: a block of costly rows"
    );
    say!("  is shared out instead of left to one thread.");
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

// ---- the picture ----

/// The counts as a picture: black inside the set, and a ramp from deep blue through orange to
/// pale yellow for how fast a pixel escaped; encoded in memory (a few MB at most: the width
/// was checked against memory), then saved as a whole by [`Picture::save`], which replaces
/// the old file only once the new one is complete.
pub fn encode_png(counts: &[u32], w: usize, h: usize, max_iter: u32) -> Vec<u8> {
    let side = |v: usize| u32::try_from(v).expect("the width was checked to fit memory");
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, side(w), side(h));
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let pixels: Vec<u8> = counts.iter().flat_map(|&n| colour(n, max_iter)).collect();
    // Writing into a Vec fails only where the header is wrong, which the sizes above rule out.
    let mut writer = encoder.write_header().expect("a PNG header for a checked size");
    writer.write_image_data(&pixels).expect("one RGB triple a pixel");
    writer.finish().expect("an in-memory PNG");
    bytes
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
    fn every_variant_gives_the_same_counts_at_small_sizes() {
        for (width, max_iter) in [(1, 300), (7, 50), (30, 300), (64, 1)] {
            let grid = Grid::book(width);
            let reference = Variant::ComplexNumbers.run(&grid, max_iter);
            for variant in Variant::ALL {
                let label = variant.label();
                assert_eq!(variant.run(&grid, max_iter), reference, "{label} at width {width}");
            }
        }
    }

    #[test]
    fn colours_run_from_blue_to_pale_with_the_set_black() {
        assert_eq!(colour(300, 300), [0, 0, 0]);
        assert_eq!(colour(0, 300), [10, 20, 90]);
        let pale = colour(299, 300);
        assert!(pale[0] == 255 && pale[1] >= 240 && pale[2] >= 190, "{pale:?}");
    }
}

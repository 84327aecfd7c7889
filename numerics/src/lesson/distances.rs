//! Workload 1, timed: the N x N matrix of Euclidean distances between N points in D
//! dimensions - SciPy's `cdist(X, X)`, and the classic first example of Numba. Each variant
//! (the kernels are in `numerics::distances`, shared with the Python module) is timed,
//! checked against the naive loop, and explained from its own figures.

use std::hint::black_box;

use numerics::distances::{self, Distances, Isa, Points, max_relative_difference};
use timing::chart::Figure;
use timing::machine::HugePages;
use timing::{Stats, human, say};

/// The timed variants, in the order they are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Naive,
    Broadcast,
    BlasTrick,
    Lanes(Isa),
    NaiveParallel,
    LanesParallel,
}

impl Variant {
    pub const ALL: [Variant; 7] = [
        Variant::Naive,
        Variant::Broadcast,
        Variant::BlasTrick,
        Variant::Lanes(Isa::Baseline),
        Variant::Lanes(Isa::Host),
        Variant::NaiveParallel,
        Variant::LanesParallel,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Variant::Naive => "1 naive loops (Cython, Numba @njit)",
            Variant::Broadcast => "2 ndarray broadcasting (NumPy)",
            Variant::BlasTrick => "3 BLAS trick |x|^2+|y|^2-2XY^T",
            Variant::Lanes(Isa::Baseline) => "4a lanes, baseline x86-64 / any",
            Variant::Lanes(Isa::Host) => "4b lanes, host CPU's vector units",
            Variant::NaiveParallel => "5 naive, rows on all cores (rayon)",
            Variant::LanesParallel => "6 lanes, rows on all cores",
        }
    }

    pub fn run(self, points: &Points<'_>) -> Distances {
        match self {
            Variant::Naive => distances::naive(points),
            Variant::Broadcast => distances::broadcast(points),
            Variant::BlasTrick => distances::blas_trick(points),
            Variant::Lanes(isa) => distances::lanes(points, isa),
            Variant::NaiveParallel => distances::naive_parallel(points),
            Variant::LanesParallel => distances::lanes_parallel(points),
        }
    }
}

/// What a run measured, and at what size: for the sweep over thread counts and the comparison
/// with Python, which run the same workload.
pub struct Measured {
    /// `n` points in `dim` dimensions, each variant timed `runs` times.
    pub n: usize,
    pub dim: usize,
    pub runs: usize,
    pub stats: Vec<(Variant, Stats)>,
    /// The sum of every distance, from the naive variant: what the twin's results are checked
    /// against.
    pub checksum: f64,
}

impl Measured {
    /// The figures of `variant`, if it was timed (broadcasting is skipped where it would not
    /// fit in memory).
    pub fn of(&self, variant: Variant) -> Option<&Stats> {
        self.stats.iter().find(|(v, _)| *v == variant).map(|(_, s)| s)
    }
}

/// Times every variant on `n` random points in `dim` dimensions, checks each against the
/// naive one, and explains the figures.
pub fn lesson(n: usize, dim: usize, runs: usize, figure: &mut Figure) -> Measured {
    let points = distances::random_points(n, dim, distances::SEED);
    say!(
        "== Pairwise distances: {} in {}, a {} result",
        timing::plural(n, "point"),
        timing::plural(dim, "dimension"),
        timing::bytes(n as u64 * n as u64 * 8)
    );
    let warmup = timing::after_warmup(runs);
    say!("   ({warmup}; allocating the result is part of every call, as in NumPy)");
    figure.panel(format!("Pairwise distances: {n} points in {dim} dimensions"));
    let (reference, naive_stats) = timing::measure(runs, || distances::naive(&points));
    say!("{}", naive_stats.baseline_line(Variant::Naive.label()));
    figure.baseline(Variant::Naive.label(), &naive_stats);
    let mut stats = vec![(Variant::Naive, naive_stats)];
    let mut faults = Vec::new();
    for variant in &Variant::ALL[1..] {
        let label = variant.label();
        if *variant == Variant::Broadcast && broadcast_too_big(n, dim) {
            say!("{label:<34} skipped: its N x N x D temporary would not fit in memory");
            continue;
        }
        let faults_before = timing::machine::minor_page_faults();
        let (result, variant_stats) = timing::measure(runs, || variant.run(&points));
        let per_call =
            timing::machine::minor_page_faults().saturating_sub(faults_before) / (runs as u64 + 1);
        let check = if *variant == Variant::BlasTrick {
            check_blas_trick(&points, &result, &reference)
        } else {
            check_close(&result, &reference)
        };
        say!(
            "{}  {}  {check}",
            variant_stats.line(label),
            variant_stats.speedup_over(&naive_stats)
        );
        figure.bar(label, &variant_stats);
        stats.push((*variant, variant_stats));
        faults.push((*variant, per_call));
    }
    let measured = Measured { n, dim, runs, stats, checksum: reference.iter().sum() };
    explain(&points, &measured, &faults);
    measured
}

/// What the figures say, from the figures.
fn explain(points: &Points<'_>, measured: &Measured, faults: &[(Variant, u64)]) {
    let faults_of = |variant| faults.iter().find(|(v, _)| *v == variant).map_or(0, |f| f.1);
    let median = |variant| measured.of(variant).map(|s| s.median.as_secs_f64());
    let always = |variant| median(variant).expect("always measured");
    let naive = always(Variant::Naive);
    let baseline = always(Variant::Lanes(Isa::Baseline));
    let host = always(Variant::Lanes(Isa::Host));
    // Cython compiles typed loops to C (docs, "Working with NumPy", 3.0); Numba's @njit
    // compiles them with LLVM (docs, "A ~5 minute guide to Numba", 0.60).
    say!("What it shows:");
    say!(
        "- (1) is the loop pure Python would run, compiled: Cython and Numba give Python this. Its sum"
    );
    say!("  over D is one chain of dependent additions, so it cannot use vector lanes.");
    if let Some(broadcast) = median(Variant::Broadcast) {
        explain_broadcast(points, broadcast / naive, faults_of(Variant::Broadcast));
    }
    let blas = always(Variant::BlasTrick);
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
        super::host_vector_units()
    );
    say!(
        "  time, as Numba compiles for the host (which may pick wider units): {}.",
        versus(host, baseline, "(4a)")
    );
    super::explain_scaling(
        [naive, always(Variant::NaiveParallel)],
        [host, always(Variant::LanesParallel)],
        "cargo run -p numerics -- distances",
    );
    allocation_share(points.n, host, faults_of(Variant::Lanes(Isa::Host)));
}

/// (2)'s figures: the temporary it builds, and the page faults that cost it - read against the
/// size of page a fault brings here (4 KiB, or 2 MiB where transparent huge pages are always on).
fn explain_broadcast(points: &Points<'_>, time_over_naive: f64, broadcast_faults: u64) {
    let temporary = points.n as u64 * points.n as u64 * points.dim as u64 * 8;
    say!(
        "- (2) is NumPy's style: it materialises an N x N x D array ({} here) before summing,",
        timing::bytes(temporary)
    );
    say!(
        "  and takes {} a call to get that memory: {}.",
        timing::plural(broadcast_faults, "page fault"),
        versus(time_over_naive, 1.0, "the naive loop")
    );
    let setting = HugePages::now();
    let source = Temporary::read(broadcast_faults, temporary, setting);
    timing::cli::paragraph("  ", pages_sentence(source, setting));
}

/// Where (2)'s temporary came from, as its page faults tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Temporary {
    /// Fresh from the kernel in 4 KiB pages: about one fault a page.
    SmallPages,
    /// Fresh in 2 MiB pages: about one fault each, far fewer than 4 KiB pages would take.
    HugePages,
    /// Mostly memory the allocator already held (or too small to tell).
    Held,
}

impl Temporary {
    /// Read from the faults one call took for a `temporary` of that many bytes: enough faults
    /// to cover half of it in 4 KiB pages say 4 KiB pages whatever the setting; fewer cover it
    /// only in 2 MiB pages, which the kernel gives unasked only where huge pages are `always`.
    fn read(faults: u64, temporary: u64, setting: Option<HugePages>) -> Temporary {
        let covers = |page: u64| faults.saturating_mul(page) >= temporary / 2;
        if temporary < 4_000_000 {
            Temporary::Held
        } else if covers(4096) {
            Temporary::SmallPages
        } else if setting == Some(HugePages::Always) && covers(2 << 20) {
            Temporary::HugePages
        } else {
            Temporary::Held
        }
    }
}

/// What (2)'s faults say about its pages, and about NumPy's, under this transparent-huge-page
/// `setting` (/sys/kernel/mm/transparent_hugepage/enabled). NumPy's side is its source, not this
/// run: numpy/_core/src/multiarray/alloc.c (2.x), `indicate_hugepages`, calls
/// madvise(MADV_HUGEPAGE) on every array of 4 MiB (1 << 22 bytes) and more on Linux, which
/// `hugepage_setup` in numpy/__init__.py turns on for kernels from 4.6 unless
/// NUMPY_MADVISE_HUGEPAGE=0. The lesson never counts NumPy's faults, so no sentence here says
/// that they explain NumPy's time.
fn pages_sentence(source: Temporary, setting: Option<HugePages>) -> &'static str {
    match (source, setting) {
        (Temporary::Held, _) => {
            "At this size the temporary comes mostly from memory the allocator already holds."
        }
        (Temporary::HugePages, _) => {
            "Transparent huge pages are always on here, so a fault brings 2 MiB: the count is small, yet each fault zeroes 2 MiB, and the time is the same memory's. NumPy's arrays get such pages here too, asked for or not."
        }
        (Temporary::SmallPages, Some(HugePages::Always)) => {
            "The count says each fault brought a 4 KiB page, though transparent huge pages are always on here: the kernel falls back to 4 KiB pages where it has no free 2 MiB block at hand."
        }
        (Temporary::SmallPages, Some(HugePages::Madvise)) => {
            "Each fault brought a 4 KiB page: transparent huge pages are set to `madvise` here, so only memory a program marks gets 2 MiB pages, and ndarray does not mark it. NumPy marks every array of 4 MiB and more, so its temporary may come in up to 512 times fewer faults; this lesson did not count NumPy's faults (`--vs-python` does), so any part they play in NumPy's time is assumed here, not measured."
        }
        (Temporary::SmallPages, Some(HugePages::Never)) => {
            "Each fault brought a 4 KiB page: transparent huge pages are off here (`never`), so NumPy's request for 2 MiB pages (madvise) changes nothing and its temporary comes in 4 KiB pages too."
        }
        (Temporary::SmallPages, None) => {
            "The count fits 4 KiB pages. This system does not say whether it has transparent huge pages (no /sys/kernel/mm/transparent_hugepage/enabled), so whether NumPy's request for 2 MiB pages (madvise, made on Linux only) would be granted is not known here."
        }
    }
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
    say!(
        "- Getting the {} result costs about {} a call ({share:.0}% of (4b)): allocating and",
        timing::bytes(len as u64 * 8),
        human(cost)
    );
    say!(
        "  writing it takes {}, rewriting memory already touched {}.",
        human(fresh.median),
        human(rewrite.median)
    );
    let page = HugePages::fault_bytes(HugePages::now());
    // Rounded, not truncated: 1302 faults of 4 KiB over 32.0 MB are 17%, not 16%.
    let fresh_share = ((100 * host_faults * page + len as u64 * 4) / (len as u64 * 8)).min(100);
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

// ---- checks ----

/// `ok: max relative difference 0` (or the figure), panicking past 1e-9: a variant that
/// disagrees with the naive loop is a bug, not a result.
fn check_close(result: &[f64], reference: &[f64]) -> String {
    let worst = max_relative_difference(result, reference);
    assert!(worst <= 1e-9, "max relative difference {worst:e} against the naive loop");
    format!("ok: max rel. diff {worst:.1e}")
}

/// The BLAS trick's error has a bound, not a relative one: the three terms are computed to
/// about (2D + 4) eps (|x|^2 + |y|^2), and their difference, d^2, can be far smaller. Every
/// pair is checked against that bound; the worst distance error is where d is 0, the diagonal.
fn check_blas_trick(points: &Points<'_>, result: &[f64], reference: &[f64]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_agrees_with_the_naive_loop_on_small_inputs() {
        for (n, dim) in [(1, 1), (1, 16), (2, 1), (7, 3), (9, 1), (17, 16), (33, 5)] {
            let points = distances::random_points(n, dim, 7);
            let reference = distances::naive(&points);
            for variant in Variant::ALL {
                let (label, result) = (variant.label(), variant.run(&points));
                let difference = max_relative_difference(&result, &reference);
                if variant == Variant::BlasTrick {
                    check_blas_trick(&points, &result, &reference);
                } else if variant == Variant::Broadcast {
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
    fn the_pages_sentence_follows_the_faults_and_the_setting() {
        use HugePages::{Always, Madvise, Never};
        let temporary = 512 << 20; // 512 MiB: 131,072 pages of 4 KiB, 256 of 2 MiB
        let read = |faults, setting| Temporary::read(faults, temporary, setting);
        assert_eq!(read(131_072, Some(Madvise)), Temporary::SmallPages);
        assert_eq!(read(131_072, Some(Always)), Temporary::SmallPages, "the count decides");
        assert_eq!(read(256, Some(Always)), Temporary::HugePages);
        assert_eq!(read(256, Some(Madvise)), Temporary::Held, "unmarked memory: no 2 MiB pages");
        assert_eq!(read(3, Some(Always)), Temporary::Held);
        assert_eq!(Temporary::read(1, 8, None), Temporary::Held, "too small to tell");
        let said = |source, setting| pages_sentence(source, setting);
        for setting in [Some(Always), Some(Madvise), Some(Never), None] {
            let small = said(Temporary::SmallPages, setting);
            // NumPy's faults are never counted here, so never named as the cause.
            assert!(!small.contains("that, not arithmetic"), "{small}");
            assert!(!small.contains("is why"), "{small}");
        }
        let madvise = said(Temporary::SmallPages, Some(Madvise));
        assert!(madvise.contains("assumed here, not measured"), "{madvise}");
        assert!(madvise.contains("NumPy marks every array of 4 MiB and more"), "{madvise}");
        let never = said(Temporary::SmallPages, Some(Never));
        assert!(never.contains("off here (`never`)") && never.contains("changes nothing"));
        let unknown = said(Temporary::SmallPages, None);
        assert!(unknown.contains("does not say whether") && unknown.contains("not known"));
        let always = said(Temporary::SmallPages, Some(Always));
        assert!(always.contains("4 KiB page, though transparent huge pages are always on"));
        assert!(said(Temporary::HugePages, Some(Always)).contains("a fault brings 2 MiB"));
        assert!(said(Temporary::Held, None).contains("the allocator already holds"));
    }

    #[test]
    fn the_blas_check_catches_an_error_beyond_its_bound() {
        let points = distances::random_points(4, 3, 1);
        let reference = distances::naive(&points);
        let mut wrong = distances::blas_trick(&points);
        wrong[1] += 1e-3;
        let caught = std::panic::catch_unwind(|| check_blas_trick(&points, &wrong, &reference));
        assert!(caught.is_err());
    }
}

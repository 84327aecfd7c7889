//! `--threads LIST`: each workload's lanes on all cores, on a rayon pool of each size, against
//! the same lanes on one thread - a speedup curve, every result checked.

use numerics::distances::Isa;
use timing::{Stats, say};

use crate::lesson::{distances, julia};

/// The distances' lanes on all cores (6), on a pool of each size, against the same lanes on
/// one thread (4b); every result bit for bit (4b)'s.
pub fn distances(counts: &[usize], measured: &distances::Measured) -> timing::Sweep {
    use distances::Variant;
    let distances::Measured { n, dim, runs, .. } = *measured;
    let points = numerics::distances::random_points(n, dim, numerics::distances::SEED);
    let one_thread = measured.of(Variant::Lanes(Isa::Host)).expect("the lesson times (4b)");
    let expected = Variant::Lanes(Isa::Host).run(&points);
    say!("== (6) on a rayon pool of each size, against (4b) on the calling thread");
    let work = || Variant::LanesParallel.run(&points);
    on_pools("distances, lanes on a pool", counts, runs, one_thread, &expected, work)
}

/// The Julia set's lanes on all cores, on a pool of each size, against the same lanes on one
/// thread; every count exactly the one-thread ones.
pub fn julia(counts: &[usize], measured: &julia::Measured) -> timing::Sweep {
    use julia::Variant;
    let julia::Measured { width, max_iter, runs, .. } = *measured;
    let grid = numerics::julia::Grid::book(width);
    let one_thread = measured.of(Variant::Lanes(Isa::Host));
    let expected = Variant::Lanes(Isa::Host).run(&grid, max_iter);
    say!("== the Julia set's lanes on a rayon pool of each size, against the lanes on one thread");
    let work = || Variant::LanesParallel.run(&grid, max_iter);
    on_pools("Julia set, lanes on a pool", counts, runs, one_thread, &expected, work)
}

/// `work` on a rayon pool of each size (started before any timing): its rayon calls use that
/// pool's threads.
fn on_pools<T: PartialEq + std::fmt::Debug + Send>(
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

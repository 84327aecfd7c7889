# Python twin of `cargo run -p numerics -- distances --vs-python`: the same N points (the same
# SplitMix64 generator and seed), their N x N distance matrix in pure Python (at a smaller N),
# NumPy broadcasting, the NumPy BLAS trick, SciPy's cdist, and Numba serial and parallel.
import os

from hpc_rs_twin import arguments, measure, note

USAGE = """distances.py [N [RUNS [DIM [SMALL [CHECKSUM [SMALL_CHECKSUM]]]]]]: N random points in DIM
dimensions (SplitMix64 from seed 2024, as the Rust side makes them), their N x N distances in
pure Python (at N = SMALL), NumPy broadcasting, the BLAS trick, scipy's cdist, Numba serial
and parallel, and hpc_rs_numerics if installed, each timed RUNS times after a warm-up.
CHECKSUM and SMALL_CHECKSUM are the sums of the distances the Rust side found, each result is
checked against them; `-` (the default) checks each against the first variant's instead.
Defaults: 2000 5 16 400 - -. Needs numpy, scipy and numba."""
N, RUNS, DIM, SMALL, CHECKSUM, SMALL_CHECKSUM = arguments(USAGE, "2000", "5", "16", "400", "-", "-")
N, RUNS, DIM, SMALL = int(N), int(RUNS), int(DIM), int(SMALL)
CHECKSUM = None if CHECKSUM == "-" else float(CHECKSUM)
SMALL_CHECKSUM = None if SMALL_CHECKSUM == "-" else float(SMALL_CHECKSUM)

import math
import statistics

try:
    import resource  # Unix: getrusage, for the page faults a call takes
except ImportError:
    resource = None

import numba
import numpy as np
from scipy.spatial.distance import cdist

from shared import distance_loops, jit, project_module

SEED = 2024
MASK = (1 << 64) - 1


def random_points(n, dim, seed):
    """SplitMix64, as the Rust side's random_points: the top 53 bits as a float in [0, 1)."""
    state, coords = seed, []
    for _ in range(n * dim):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        coords.append((z >> 11) / float(1 << 53))
    return [coords[i * dim:(i + 1) * dim] for i in range(n)]


_first_sums = {}


def sums_to(wanted, rel=1e-9):
    """Checks a result's sum against Rust's (`wanted`), or, run alone (None), against the first
    result checked for the same N."""
    def check(result):
        got = sum(map(sum, result)) if isinstance(result, list) else float(np.sum(result))
        n = len(result)
        reference = wanted if wanted is not None else _first_sums.setdefault(n, got)
        if abs(got - reference) > rel * abs(reference):
            raise AssertionError(f"sum of distances {got!r}, expected {reference!r}")
    return check


def pure_python(points):
    out = []
    for x in points:
        row = []
        for y in points:
            s = 0.0
            for k in range(len(x)):
                d = x[k] - y[k]
                s += d * d
            row.append(math.sqrt(s))
        out.append(row)
    return out


def numpy_broadcasting(X):
    diff = X[:, None, :] - X[None, :, :]  # the one N x N x D temporary
    np.square(diff, out=diff)  # in place, as the Rust variant squares: no second temporary
    return np.sqrt(diff.sum(axis=-1))


def counting_faults(fn, counts):
    """`fn`, appending to `counts` the minor page faults each call took (getrusage's ru_minflt:
    the pages the kernel handed this process, 4 KiB or 2 MiB each) - two system calls, microseconds
    against the call."""
    def counted():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        result = fn()
        counts.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
        return result
    return counted if resource is not None else fn


def numpy_blas_trick(X):
    sq = (X ** 2).sum(axis=1)
    d2 = sq[:, None] + sq[None, :] - 2 * X @ X.T
    return np.sqrt(np.maximum(d2, 0))


small_points = random_points(SMALL, DIM, SEED)
measure(f"pure Python loops (N={SMALL})", RUNS, lambda: pure_python(small_points),
        sums_to(SMALL_CHECKSUM))
X = np.array(random_points(N, DIM, SEED))
# The N x N x D difference, then the N x N sums and their square roots (as the Rust side counts).
broadcast_bytes = N * N * DIM * 8 + 2 * N * N * 8
if broadcast_bytes < os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2:
    faults = []
    measure("NumPy broadcasting", RUNS, counting_faults(lambda: numpy_broadcasting(X), faults),
            sums_to(CHECKSUM))
    if faults:
        # The timed calls' median (the first, the warm-up, left out), beside what 4 KiB pages
        # would take: NumPy asks Linux for 2 MiB pages for arrays of 4 MiB and more
        # (numpy/_core/src/multiarray/alloc.c, indicate_hugepages: madvise(MADV_HUGEPAGE)).
        temporary = N * N * DIM * 8
        note(f"(NumPy broadcasting: {statistics.median(faults[1:] or faults):.0f} page faults a"
             f" call; its N x N x D temporary alone is {temporary / 1e6:.1f} MB, which fresh 4 KiB"
             f" pages would bring in {temporary // 4096}: fewer means 2 MiB pages, or memory the"
             f" allocator kept)")
else:
    note(f"(NumPy broadcasting skipped: its arrays need {broadcast_bytes / 1e9:.1f} GB)")
measure("NumPy BLAS trick", RUNS, lambda: numpy_blas_trick(X), sums_to(CHECKSUM, 1e-7))
measure("scipy cdist", RUNS, lambda: cdist(X, X), sums_to(CHECKSUM))
two_points = lambda compiled: compiled(np.ascontiguousarray(X[:2]))
serial = jit("Numba @njit", distance_loops, two_points)
measure("Numba @njit", RUNS, lambda: serial(X), sums_to(CHECKSUM))
parallel = jit("Numba parallel=True", distance_loops, two_points, parallel=True)
measure(f"Numba parallel=True, prange ({numba.get_num_threads()} threads)", RUNS,
        lambda: parallel(X), sums_to(CHECKSUM))


module = project_module()
if module is not None:
    measure("hpc_rs_numerics.pairwise_distances", RUNS,
            lambda: module.pairwise_distances(X), sums_to(CHECKSUM))

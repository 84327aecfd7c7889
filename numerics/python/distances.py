# Python twin of `cargo run -p numerics -- distances --vs-python`: the same N points (the same
# SplitMix64 generator and seed), their N x N distance matrix in pure Python (at a smaller N),
# NumPy broadcasting, the NumPy BLAS trick, SciPy's cdist, and Numba serial and parallel.
import math

import numba
import numpy as np
from scipy.spatial.distance import cdist

N, DIM, SMALL = SIZE, int(sys.argv[3]), int(sys.argv[4])
CHECKSUM, SMALL_CHECKSUM = float(sys.argv[5]), float(sys.argv[6])
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


def sums_to(wanted, rel=1e-9):
    def check(result):
        got = sum(map(sum, result)) if isinstance(result, list) else float(np.sum(result))
        if abs(got - wanted) > rel * abs(wanted):
            raise AssertionError(f"sum of distances {got!r}, Rust's {wanted!r}")
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
    diff = X[:, None, :] - X[None, :, :]
    return np.sqrt((diff ** 2).sum(axis=-1))


def numpy_blas_trick(X):
    sq = (X ** 2).sum(axis=1)
    d2 = sq[:, None] + sq[None, :] - 2 * X @ X.T
    return np.sqrt(np.maximum(d2, 0))


def numba_loops(X):
    n, dim = X.shape
    out = np.empty((n, n))
    for i in numba.prange(n):  # a plain range unless compiled with parallel=True
        for j in range(n):
            s = 0.0
            for k in range(dim):
                d = X[i, k] - X[j, k]
                s += d * d
            out[i, j] = np.sqrt(s)
    return out


def jit(label, **options):
    """Numba compiles on the first call: time that apart, on a 2-point input of the same type."""
    compiled = numba.njit(**options)(numba_loops)
    start = time.perf_counter()
    compiled(np.ascontiguousarray(X[:2]))
    note(f"({label}: the JIT compiled it in {time.perf_counter() - start:.2f} s on its first call, left out above)")
    return compiled


small_points = random_points(SMALL, DIM, SEED)
measure(f"pure Python loops (N={SMALL})", RUNS, lambda: pure_python(small_points),
        sums_to(SMALL_CHECKSUM))
X = np.array(random_points(N, DIM, SEED))
broadcast_bytes = 2 * N * N * DIM * 8
if broadcast_bytes < os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2:
    measure("NumPy broadcasting", RUNS, lambda: numpy_broadcasting(X), sums_to(CHECKSUM))
else:
    note(f"(NumPy broadcasting skipped: its temporaries need {broadcast_bytes / 1e9:.1f} GB)")
measure("NumPy BLAS trick", RUNS, lambda: numpy_blas_trick(X), sums_to(CHECKSUM, 1e-7))
measure("scipy cdist", RUNS, lambda: cdist(X, X), sums_to(CHECKSUM))
serial = jit("Numba @njit")
measure("Numba @njit", RUNS, lambda: serial(X), sums_to(CHECKSUM))
parallel = jit("Numba parallel=True", parallel=True)
measure(f"Numba parallel=True, prange ({numba.get_num_threads()} threads)", RUNS,
        lambda: parallel(X), sums_to(CHECKSUM))


def rust_module():
    """hpc_rs_numerics, the Rust kernels built for Python (numerics/extension), if installed."""
    try:
        import hpc_rs_numerics
    except ImportError:
        note("(hpc_rs_numerics is not installed in this Python: "
             "`pip install ./numerics/extension` to time the Rust kernels from Python too)")
        return None
    return hpc_rs_numerics


module = rust_module()
if module is not None:
    measure("hpc_rs_numerics.pairwise_distances", RUNS,
            lambda: module.pairwise_distances(X), sums_to(CHECKSUM))

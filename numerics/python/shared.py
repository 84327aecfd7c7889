# What the numerics twins share: the naive pairwise-distance loops as Numba users write them
# (compiled by distances.py serial and parallel, and by calls.py for the cost of one call), Numba's
# compile timed apart from the rows, and the project's own module.
import time

import numba
import numpy as np

from hpc_rs_twin import note, optional


def distance_loops(X):
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


def jit(label, function, first_call, **options):
    """`function` compiled by Numba with `options`. Numba compiles on the first call: that call
    (`first_call(compiled)`, on a tiny input of the same types) is timed apart and noted, and left
    out of the rows."""
    compiled = numba.njit(**options)(function)
    start = time.perf_counter()
    first_call(compiled)
    took = time.perf_counter() - start
    note(f"({label}: the JIT compiled it in {took:.2f} s on its first call, left out above)")
    return compiled


def project_module():
    """hpc_rs_numerics, the lesson's Rust kernels built for Python, or None with a note on how
    to install it."""
    how = "`pip install ./numerics/extension` to time the Rust kernels from Python too"
    return optional("hpc_rs_numerics", how)

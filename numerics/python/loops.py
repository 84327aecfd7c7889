# The naive pairwise-distance loops, as Numba users write them: imported by the twins that compile
# them (distances.py serial and parallel, calls.py for the cost of one call), one source for both.
import numba
import numpy as np


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

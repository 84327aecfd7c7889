"""Rust kernels from hpc-rs's numerics lesson: pairwise distances, the Julia set and the
threading cell's three sums. Each releases the GIL while it computes; the first two use every
core."""

import numpy as np
import numpy.typing as npt

def pairwise_distances(points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The Euclidean distance between every pair of rows of `points`, a float64 array of
    shape (n, d): a new C-ordered (n, n) float64 array, equal to
    scipy.spatial.distance.cdist(points, points). Any layout is taken; a C-ordered array is
    read in place. Every core, the GIL released."""

def julia(
    width: int, max_iter: int, c: complex = complex(-0.62772, -0.42193)
) -> npt.NDArray[np.uint32]:
    """The (width, width) iteration counts of High Performance Python's Julia set;
    julia(1000, 300).sum() == 33219980. Every core, the GIL released."""

def three_sums(length: int) -> tuple[int, int, int]:
    """(sum of x, of x**2, of x**3 for x in range(length)), exact; OverflowError past
    length 6074001000. The calling thread alone, the GIL released."""

def three_sums_wrapping(length: int) -> tuple[int, int, int]:
    """The same sums modulo 2**64, as Numba's uint64 loop gives them (wrong from length 92683,
    where the cube sum passes 2**64), and faster. The calling thread alone, the GIL released."""

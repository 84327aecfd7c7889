# Python twin of `cargo run -p numerics -- --vs-python`'s last part: hpc_rs_numerics, the Rust
# kernels built for Python (numerics/extension), called from Python. What one call costs against
# a Numba call, and what releasing the GIL buys: two threads calling native code that releases
# it (hpc_rs_numerics.three_sums, exact, and three_sums_wrapping, which wraps at 2**64 as
# Numba's uint64 does; a Numba @njit(nogil=True) function) against two threads running the
# same loop in Python.
import sys
import threading
import time

from hpc_rs_twin import arguments, expect, measure, report

USAGE = """calls.py [LENGTH [RUNS [PURE_LENGTH]]]: hpc_rs_numerics (pip install
./numerics/extension) from Python: one call on a 1 x 1 input against a Numba call, and the three
sums on one thread and on two at once - three_sums and Numba's nogil loop at LENGTH, the pure-Python
loop at PURE_LENGTH - each timed RUNS times after a warm-up (defaults 200000000, 5, 500000). Needs
numpy, numba and the module."""
LENGTH, RUNS, PURE_LENGTH = map(int, arguments(USAGE, "200000000", "5", "500000"))
CALLS = 10_000  # calls a sample, for the cost of one

import numba
import numpy as np

from shared import distance_loops, project_module


hpc_rs_numerics = project_module()
if hpc_rs_numerics is None:
    sys.exit(0)


def exact(n):
    return tuple(sum(x ** p for x in range(n)) for p in (1, 2, 3)) if n < 10_000 else (
        n * (n - 1) // 2, (n - 1) * n * (2 * n - 1) // 6, (n * (n - 1) // 2) ** 2)


def per_call(label, fn):
    """A call too short to time alone: CALLS of them a sample, reported per call."""
    fn()
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for _ in range(CALLS):
            fn()
        samples.append((time.perf_counter() - start) / CALLS)
    report(label, samples)


numba_distances = numba.njit(distance_loops)  # distances.py's "Numba @njit"


def python_three_sums(n):
    linear = square = cube = 0
    for x in range(n):
        linear += x
        square += x * x
        cube += x * x * x
    return linear, square, cube


@numba.njit(nogil=True)
def numba_three_sums_xor(n, mask):
    # uint64 wraps: the sums modulo 2**64, checked as such (Numba has no exact big ints).
    # `^ mask` (mask is 0) is Rust's black_box: without it LLVM turns the loop into the closed
    # form and returns in a microsecond, whatever n is.
    linear = square = cube = np.uint64(0)
    for i in range(n):
        x = np.uint64(i) ^ mask
        linear += x
        square += x * x
        cube += x * x * x
    return linear, square, cube


def numba_three_sums(n):
    return numba_three_sums_xor(n, np.uint64(0))


def on_two_threads(fn, n):
    results = [None, None]

    def work(slot):
        results[slot] = fn(n)

    threads = [threading.Thread(target=work, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def both(check):
    def check_both(results):
        for result in results:
            check(result)
    return check_both


tiny = np.zeros((1, 1))
numba_distances(tiny)  # compiled here, not timed
per_call("one call on a 1 x 1 input: hpc_rs_numerics.pairwise_distances",
         lambda: hpc_rs_numerics.pairwise_distances(tiny))
per_call("one call on a 1 x 1 input: Numba @njit", lambda: numba_distances(tiny))

want, pure_want = exact(LENGTH), exact(PURE_LENGTH)
wrapped = tuple(v % 2 ** 64 for v in want)
rust_check = lambda result: expect(tuple(result), want)
wrapping_check = lambda result: expect(tuple(result), wrapped)
numba_check = lambda result: expect(tuple(int(v) for v in result), wrapped)
python_check = lambda result: expect(tuple(result), pure_want)
numba_three_sums(10)  # compiled here, not timed
for name, fn, n, check in [
    ("hpc_rs_numerics.three_sums", hpc_rs_numerics.three_sums, LENGTH, rust_check),
    ("hpc_rs_numerics.three_sums_wrapping", hpc_rs_numerics.three_sums_wrapping, LENGTH,
     wrapping_check),
    ("Numba @njit(nogil=True)", numba_three_sums, LENGTH, numba_check),
    ("pure Python loop", python_three_sums, PURE_LENGTH, python_check),
]:
    measure(f"{name}, length {n}: 1 thread", RUNS, lambda: fn(n), check)
    measure(f"{name}, length {n}: 2 threads, a call each", RUNS,
            lambda: on_two_threads(fn, n), both(check))

# Python twin of `cargo run -p numerics -- julia --vs-python`: the Julia set of "High
# Performance Python" chapter 2 - the book's pure Python and a NumPy version (at a smaller
# width), a Cython build of the inner loop (when a C compiler and Python's headers are there),
# and Numba serial and parallel.
import os
import sys
import time

from hpc_rs_twin import arguments, expect, measure, note

USAGE = """julia.py [WIDTH [RUNS [MAX_ITER [SMALL [CHECKSUM [SMALL_CHECKSUM]]]]]]: the Julia set of
High Performance Python - the book's pure Python and NumPy at width SMALL, Cython (with a C compiler
and Python's headers), Numba serial and parallel and hpc_rs_numerics (if installed) at WIDTH - each
timed RUNS times after a warm-up and checked against the sums of the counts (CHECKSUM at WIDTH,
SMALL_CHECKSUM at SMALL; `-`: against the first variant's). Defaults: 1000 5 300 250 33219980 -
(33219980 is the book's own checksum). Needs numpy and numba."""
WIDTH, RUNS, MAX_ITER, SMALL, CHECKSUM, SMALL_CHECKSUM = arguments(
    USAGE, "1000", "5", "300", "250", "33219980", "-")
WIDTH, RUNS, MAX_ITER, SMALL = int(WIDTH), int(RUNS), int(MAX_ITER), int(SMALL)
CHECKSUM = None if CHECKSUM == "-" else int(CHECKSUM)
SMALL_CHECKSUM = None if SMALL_CHECKSUM == "-" else int(SMALL_CHECKSUM)

import atexit
import shutil
import sysconfig
import tempfile

import numba
import numpy as np

from shared import jit, project_module

x1, x2, y1, y2 = -1.8, 1.8, -1.8, 1.8
c_real, c_imag = -0.62772, -0.42193


def grid(desired_width):
    """The book's calc_pure_python: coordinates by repeated addition of the step."""
    x_step = (x2 - x1) / desired_width
    y_step = (y1 - y2) / desired_width
    x, y = [], []
    ycoord = y2
    while ycoord > y1:
        y.append(ycoord)
        ycoord += y_step
    xcoord = x1
    while xcoord < x2:
        x.append(xcoord)
        xcoord += x_step
    return x, y


def calculate_z_serial_purepython(maxiter, zs, cs):
    output = [0] * len(zs)
    for i in range(len(zs)):
        n = 0
        z = zs[i]
        c = cs[i]
        while abs(z) < 2 and n < maxiter:
            z = z * z + c
            n += 1
        output[i] = n
    return output


def calculate_z_numpy(maxiter, zs, cs):
    output = np.zeros(zs.shape, np.int32)
    z = zs.copy()
    for _ in range(maxiter):
        inside = (z.real * z.real + z.imag * z.imag) < 4
        if not inside.any():
            break
        z[inside] = z[inside] * z[inside] + cs[inside]
        output += inside
    return output


def julia_loops(maxiter, xs, ys, cr, ci):
    w = xs.shape[0]
    output = np.empty(ys.shape[0] * w, np.int32)
    for j in numba.prange(ys.shape[0]):  # a plain range unless compiled with parallel=True
        for i in range(w):
            zr, zi, n = xs[i], ys[j], 0
            while n < maxiter and zr * zr + zi * zi < 4.0:
                zr, zi = zr * zr - zi * zi + cr, 2.0 * zr * zi + ci
                n += 1
            output[j * w + i] = n
    return output


CYTHON_SOURCE = """
# cython: boundscheck=False, wraparound=False, language_level=3
def julia_loops(int maxiter, double[::1] xs, double[::1] ys, double cr, double ci, int[::1] output):
    cdef Py_ssize_t i, j, w = xs.shape[0]
    cdef int n
    cdef double zr, zi, t
    for j in range(ys.shape[0]):
        for i in range(w):
            zr = xs[i]
            zi = ys[j]
            n = 0
            while n < maxiter and zr * zr + zi * zi < 4:
                t = zr * zr - zi * zi + cr
                zi = 2 * zr * zi + ci
                zr = t
                n += 1
            output[j * w + i] = n
"""


def build_folder():
    """Where Cython builds: the cache the Rust binary names (under its target directory,
    reused by later runs), or, run alone, a temporary folder removed when the twin ends."""
    cache = os.environ.get("HPC_RS_CACHE")
    if cache:
        folder = os.path.join(cache, "cython-julia")
        os.makedirs(folder, exist_ok=True)
        return folder
    temporary = tempfile.TemporaryDirectory(prefix="hpc-rs-cython-")
    atexit.register(temporary.cleanup)
    return temporary.name


def build_cython():
    """The inner loop compiled by Cython and the C compiler, or None with a note saying why."""
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        note(f"(Cython skipped: no C compiler `{cc}`; install gcc to see it)")
        return None
    if not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")):
        note("(Cython skipped: no Python.h; install Python's headers, e.g. python3-dev)")
        return None
    import pyximport

    build = build_folder()
    source = os.path.join(build, "julia_cython.pyx")
    if not os.path.exists(source) or open(source).read() != CYTHON_SOURCE:
        with open(source, "w") as f:
            f.write(CYTHON_SOURCE)
    sys.path.insert(0, build)
    pyximport.install(build_dir=build, language_level=3)
    start = time.perf_counter()
    import julia_cython

    took = time.perf_counter() - start
    if took > 0.5:
        note(f"(Cython: translating to C and compiling took {took:.1f} s, left out above)")
    else:
        note("(Cython: the module an earlier run built was reused)")
    return julia_cython.julia_loops


_first_counts = {}


def counts_sum_to(wanted):
    """Checks the sum of the counts against Rust's (`wanted`), or, run alone (None), against the
    first result checked at the same size."""
    def check(output):
        got = int(sum(output))
        expect(got, wanted if wanted is not None else _first_counts.setdefault(len(output), got))
    return check


x, y = grid(SMALL)
zs = [complex(xc, yc) for yc in y for xc in x]
cs = [complex(c_real, c_imag)] * len(zs)
measure(f"pure Python (width {SMALL})", RUNS,
        lambda: calculate_z_serial_purepython(MAX_ITER, zs, cs), counts_sum_to(SMALL_CHECKSUM))
zs_np, cs_np = np.array(zs), np.array(cs)
measure(f"NumPy (width {SMALL})", RUNS, lambda: calculate_z_numpy(MAX_ITER, zs_np, cs_np),
        counts_sum_to(SMALL_CHECKSUM))

x, y = grid(WIDTH)
xs, ys = np.array(x), np.array(y)
cython_loops = build_cython()
if cython_loops is not None:
    def run_cython():
        output = np.empty(len(x) * len(y), np.int32)
        cython_loops(MAX_ITER, xs, ys, c_real, c_imag, output)
        return output
    measure("Cython", RUNS, run_cython, counts_sum_to(CHECKSUM))
two_pixels = lambda compiled: compiled(MAX_ITER, xs[:2], ys[:2], c_real, c_imag)
for label, options in [("Numba @njit", {}), ("Numba parallel=True, prange", {"parallel": True})]:
    compiled = jit(label, julia_loops, two_pixels, **options)
    if options:
        label += f" ({numba.get_num_threads()} threads)"
    measure(label, RUNS, lambda: compiled(MAX_ITER, xs, ys, c_real, c_imag),
            counts_sum_to(CHECKSUM))

hpc_rs_numerics = project_module()
if hpc_rs_numerics is not None:
    # Its grid is exactly WIDTH x WIDTH: the book's, without the extra row or column the book's
    # rounding adds at some widths (none at 1000). Checked against Numba's counts on that square.
    counts = np.asarray(compiled(MAX_ITER, xs, ys, c_real, c_imag)).reshape(len(y), len(x))
    square = int(counts[:WIDTH, :WIDTH].sum())
    measure("hpc_rs_numerics.julia", RUNS, lambda: hpc_rs_numerics.julia(WIDTH, MAX_ITER),
            lambda out: expect(int(out.sum()), square))

"""What a user of `pip install ./numerics/extension` relies on, checked against plain NumPy.

Run by the Rust test tests/tests/extension.rs in a fresh environment; also runs alone:
`python numerics/extension/tests/check_module.py` in a Python where the module is installed.
Prints one line per check and exits non-zero at the first that fails.
"""

import sys

if __name__ == "__main__" and "--help" in sys.argv[1:]:
    print(__doc__.strip())  # before the imports: --help needs neither NumPy nor the module
    sys.exit(0)

import importlib.metadata
import pathlib
import threading

import numpy as np

import hpc_rs_numerics as h


def reference_distances(points):
    """The plain way: every pair's difference, squared, summed, rooted."""
    diff = points[:, None, :] - points[None, :, :]
    return np.sqrt((diff * diff).sum(axis=-1))


def ok(what):
    print(f"ok: {what}")


def raises(kind, message, call):
    try:
        call()
    except kind as error:
        if message not in str(error):
            sys.exit(f"FAILED: {kind.__name__} says {error!r}, without {message!r}")
        return
    except Exception as error:  # noqa: BLE001 - the wrong kind is the failure reported
        sys.exit(f"FAILED: expected {kind.__name__} containing {message!r}, got {error!r}")
    sys.exit(f"FAILED: expected {kind.__name__} containing {message!r}, nothing raised")


def check_distances():
    rng = np.random.default_rng(7)
    points = rng.random((37, 5))
    want = reference_distances(points)
    layouts = {
        "C order": points,
        "Fortran order": np.asfortranarray(points),
        "a strided view": rng.random((74, 10))[::2, ::2],
        "a view with negative strides": points[::-1, ::-1],
    }
    frozen = points.copy()
    frozen.flags.writeable = False
    layouts["a read-only array"] = frozen
    for name, array in layouts.items():
        before = array.copy()
        got = h.pairwise_distances(array)
        expected = reference_distances(np.ascontiguousarray(array))
        assert got.dtype == np.float64 and got.flags["C_CONTIGUOUS"], name
        assert got.shape == (len(array), len(array)), (name, got.shape)
        assert np.allclose(got, expected, rtol=1e-12, atol=1e-12), name
        assert np.array_equal(array, before), f"{name}: the input changed"
        ok(f"pairwise_distances on {name}")
    assert np.allclose(h.pairwise_distances(points), want, rtol=1e-12, atol=1e-12)
    assert h.pairwise_distances(np.zeros((0, 3))).shape == (0, 0)
    assert h.pairwise_distances(np.array([[1.0, 2.0]])).tolist() == [[0.0]]
    ok("n = 0 gives a (0, 0) array, n = 1 a single 0")
    with_nan = points[:6].copy()
    with_nan[2, 3] = np.nan
    nan_at = np.isnan(h.pairwise_distances(with_nan))
    expected_nan = np.zeros((6, 6), dtype=bool)
    expected_nan[2, :] = expected_nan[:, 2] = True
    assert np.array_equal(nan_at, expected_nan), nan_at
    ok("a NaN coordinate gives NaN in its row and column, as cdist does")


def check_julia():
    counts = h.julia(1000, 300)
    assert counts.shape == (1000, 1000) and int(counts.sum()) == 33219980, counts.sum()
    ok("julia(1000, 300).sum() == 33219980, the book's checksum")
    assert h.julia(7, 50).shape == (7, 7) and h.julia(1, 5).shape == (1, 1)
    assert int(h.julia(20, 0).sum()) == 0
    other = h.julia(40, 100, complex(0.285, 0.01))
    assert not np.array_equal(other, h.julia(40, 100)), "c changes the picture"
    ok("julia: any width, max_iter 0, another c")


def check_three_sums():
    assert h.three_sums(1_000_000) == (
        499999500000,
        333332833333500000,
        249999500000250000000000,
    )
    assert h.three_sums(0) == (0, 0, 0) and h.three_sums(4) == (6, 14, 36)
    n = 12345
    assert h.three_sums(n) == tuple(sum(x**p for x in range(n)) for p in (1, 2, 3))
    ok("three_sums: the notebook's sums, exact")
    for n in (0, 4, 92682, 92683, 1_000_000):
        exact = h.three_sums(n)
        assert h.three_sums_wrapping(n) == tuple(s % 2**64 for s in exact), n
    assert h.three_sums_wrapping(92683)[2] != h.three_sums(92683)[2], "the cube sum wrapped"
    ok("three_sums_wrapping: the sums modulo 2**64, as Numba's uint64 gives them")


def check_the_gil_is_released():
    """Python code runs in the main thread while another thread is inside three_sums: it
    could not if the call held the GIL."""
    state = {"inside": False, "done": False}

    def worker():
        state["inside"] = True
        h.three_sums(300_000_000)
        state["done"] = True

    thread = threading.Thread(target=worker)
    thread.start()
    while not state["inside"]:
        pass
    steps = 0
    while not state["done"]:
        steps += 1
    thread.join()
    assert steps > 1000, f"only {steps} Python steps ran during the call"
    ok(f"the GIL is released: {steps} Python steps ran while three_sums computed")


def check_bad_input():
    advice = "np.asarray(x, dtype=np.float64)"
    raises(TypeError, "dtype float32", lambda: h.pairwise_distances(np.zeros((2, 2), np.float32)))
    raises(TypeError, "dtype int64", lambda: h.pairwise_distances(np.zeros((2, 2), np.int64)))
    raises(TypeError, "dtype object", lambda: h.pairwise_distances(np.zeros((2, 2), object)))
    raises(TypeError, "not a list", lambda: h.pairwise_distances([[1.0, 2.0]]))
    raises(TypeError, advice, lambda: h.pairwise_distances([[1.0, 2.0]]))
    raises(ValueError, "shape (3,)", lambda: h.pairwise_distances(np.zeros(3)))
    raises(ValueError, "shape (2, 2, 2)", lambda: h.pairwise_distances(np.zeros((2, 2, 2))))
    raises(ValueError, "width must be at least 1", lambda: h.julia(0, 10))
    raises(ValueError, "width must be at least 1", lambda: h.julia(-3, 10))
    raises(ValueError, "max_iter must be 0 or more", lambda: h.julia(10, -1))
    raises(OverflowError, "", lambda: h.julia(10, 2**40))
    raises(ValueError, "length must be 0 or more", lambda: h.three_sums(-1))
    raises(OverflowError, "largest length is 6074001000", lambda: h.three_sums(6074001001))
    raises(ValueError, "length must be 0 or more", lambda: h.three_sums_wrapping(-1))
    ok("bad input: TypeError, ValueError and OverflowError that say what to do")


def check_the_package():
    # maturin installs the stubs (hpc_rs_numerics.pyi) as the package's __init__.pyi.
    files = {pathlib.PurePosixPath(str(f)) for f in importlib.metadata.files("hpc-rs-numerics")}
    package = pathlib.PurePosixPath("hpc_rs_numerics")
    wanted = {package / name for name in ("__init__.pyi", "py.typed")}
    assert wanted <= files, sorted(map(str, files))
    for function in (h.pairwise_distances, h.julia, h.three_sums, h.three_sums_wrapping):
        assert function.__doc__ and len(function.__doc__) > 80, function
    ok("docstrings, type stubs and py.typed are installed")


if __name__ == "__main__":
    check_distances()
    check_julia()
    check_three_sums()
    check_the_gil_is_released()
    check_bad_input()
    check_the_package()
    print("all checks passed")

//! `hpc_rs_numerics`: the `numerics` kernels as a Python module, the way Polars and
//! pydantic-core reach Python users - Rust's answer to writing the hot loop in Cython.
//!
//! `pip install ./numerics/extension`, then `import hpc_rs_numerics`. Each function only turns
//! Python's arguments into the kernel's (refusing what it cannot take with an exception that
//! says what to do), releases the GIL while the kernel runs (`Python::detach`), and turns the
//! result into a NumPy array or Python ints. The kernels are the lesson's own
//! (`numerics::distances`, `numerics::julia`, `numerics::sums`), not a copy.

use pyo3::prelude::*;

/// Rust kernels from hpc-rs's numerics lesson: pairwise distances, the Julia set and the
/// threading cell's three sums. Each releases the GIL while it computes; the first two use every
/// core.
// `gil_used = false`: the module holds no state a thread could race on, so a free-threaded
// Python (3.13t, 3.14t) keeps its GIL off when importing it. (PyO3's default since 0.28, said
// here because a module that does not declare it turns the GIL back on, with a RuntimeWarning.)
#[pymodule(gil_used = false)]
mod hpc_rs_numerics {
    use numerics::distances::{self, Points};
    use numerics::{julia as julia_set, sums};
    use numpy::ndarray::Array2;
    use numpy::{
        Complex64, IntoPyArray, PyArray2, PyArrayDescrMethods, PyArrayMethods, PyUntypedArray,
        PyUntypedArrayMethods,
    };
    use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
    use pyo3::prelude::*;

    /// The widest Julia grid `julia` draws: 50000 x 50000 counts are 10 GB.
    const MAX_WIDTH: i64 = 50_000;

    /// The Euclidean distance between every pair of rows of `points`, a float64 array of shape
    /// (n, d): a new C-ordered (n, n) float64 array, equal to
    /// scipy.spatial.distance.cdist(points, points). Any layout is taken (C or Fortran order,
    /// strided views, read-only arrays); a C-ordered one is read in place, others are copied
    /// into C order first. `points` is never changed; do not change it from another thread
    /// during the call. A NaN coordinate gives NaN in its point's row and column.
    ///
    /// Runs on every core with the GIL released, so other Python threads go on meanwhile.
    #[pyfunction]
    fn pairwise_distances<'py>(
        py: Python<'py>,
        points: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let array = float64_matrix(points)?;
        let readonly = array.try_readonly().map_err(|e| {
            PyValueError::new_err(format!("pairwise_distances cannot read `points`: {e}"))
        })?;
        let (n, dim) = (readonly.shape()[0], readonly.shape()[1]);
        let copy: Vec<f64>;
        let coords = if readonly.is_c_contiguous() {
            readonly.as_slice().expect("a C-contiguous array is one slice")
        } else {
            // Row by row, whatever the strides: the order the kernel reads.
            copy = readonly.as_array().iter().copied().collect();
            &copy
        };
        let points = Points::borrowed(n, dim, coords).expect("n * d coordinates");
        let out = py.detach(|| distances::lanes_parallel(&points));
        let out = Array2::from_shape_vec((n, n), out).expect("n * n distances");
        Ok(out.into_pyarray(py))
    }

    /// julia(width, max_iter, c=complex(-0.62772, -0.42193))
    ///
    /// The Julia set of "High Performance Python", chapter 2: for each point z of a
    /// width x width grid over [-1.8, 1.8]^2 (the book's grid, top row first), how many steps
    /// `z = z*z + c` takes to leave the circle of radius 2, at most `max_iter`. Returns a
    /// (width, width) uint32 array; julia(1000, 300).sum() == 33219980, the book's checksum.
    ///
    /// Runs on every core with the GIL released.
    #[pyfunction]
    // inspect cannot read a complex default from a signature string: the docstring and the
    // type stubs show it instead.
    #[pyo3(signature = (width, max_iter, c = julia_set::BOOK_C), text_signature = None)]
    fn julia(
        py: Python<'_>,
        width: i64,
        max_iter: i64,
        c: Complex64,
    ) -> PyResult<Bound<'_, PyArray2<u32>>> {
        if width < 1 {
            return Err(PyValueError::new_err(format!(
                "julia: width must be at least 1 pixel, not {width}"
            )));
        }
        if width > MAX_WIDTH {
            let gigabytes = (width as f64).powi(2) * 4.0 / 1e9;
            return Err(PyValueError::new_err(format!(
                "julia: width {width} would need {gigabytes:.0} GB of counts; at most {MAX_WIDTH}"
            )));
        }
        if max_iter < 0 {
            return Err(PyValueError::new_err(format!(
                "julia: max_iter must be 0 or more, not {max_iter}"
            )));
        }
        let max_iter = u32::try_from(max_iter).map_err(|_| {
            PyOverflowError::new_err(format!("julia: max_iter {max_iter} is more than 2**32 - 1"))
        })?;
        let width = usize::try_from(width).expect("between 1 and MAX_WIDTH");
        let counts = py.detach(|| {
            let grid = julia_set::Grid::book_square(width);
            julia_set::lanes_parallel(&grid, max_iter, c)
        });
        let counts = Array2::from_shape_vec((width, width), counts).expect("width^2 counts");
        Ok(counts.into_pyarray(py))
    }

    /// The threading cell's three sums (notebook section 2.a): (sum of x, of x**2, of x**3
    /// for x in range(length)), as exact Python ints. A length whose cube sum would not fit
    /// 128 bits (past 6074001000) raises OverflowError before any work.
    ///
    /// Runs on the calling thread alone, with the GIL released: two Python threads calling it
    /// at once run at once, where two running the same loop in Python take turns.
    #[pyfunction]
    fn three_sums(py: Python<'_>, length: i64) -> PyResult<(u128, u128, u128)> {
        let length = u64::try_from(length).map_err(|_| {
            PyValueError::new_err(format!("three_sums: length must be 0 or more, not {length}"))
        })?;
        if sums::closed_forms(length).is_none() {
            return Err(PyOverflowError::new_err(format!(
                "three_sums: the cube sum of range({length}) does not fit 128 bits; the largest \
                 length is 6074001000"
            )));
        }
        let [linear, square, cube] =
            py.detach(|| sums::three_sums(length)).expect("the length was checked");
        Ok((linear, square, cube))
    }

    /// The same three sums in 64-bit unsigned integers, each wrapping at 2**64 - as Numba's
    /// uint64 loop computes them: the exact sums modulo 2**64, which is a wrong answer once
    /// the cube sum passes 2**64 (from a length of 92683). Faster than three_sums, whose
    /// exact 128-bit arithmetic takes several instructions an operation: what exactness costs.
    /// Its loop uses AVX-512's 64-bit vector multiply where the CPU has it (chosen at run
    /// time, as a wheel is built for every x86-64).
    ///
    /// Runs on the calling thread alone, with the GIL released.
    #[pyfunction]
    fn three_sums_wrapping(py: Python<'_>, length: i64) -> PyResult<(u64, u64, u64)> {
        let length = u64::try_from(length).map_err(|_| {
            PyValueError::new_err(format!(
                "three_sums_wrapping: length must be 0 or more, not {length}"
            ))
        })?;
        let [linear, square, cube] = py.detach(|| sums::three_sums_wrapping(length));
        Ok((linear, square, cube))
    }

    /// `points` as a 2-d float64 array, or the exception that says how to make one.
    fn float64_matrix<'a, 'py>(
        points: &'a Bound<'py, PyAny>,
    ) -> PyResult<&'a Bound<'py, PyArray2<f64>>> {
        let convert = "convert it with np.asarray(x, dtype=np.float64)";
        let Ok(array) = points.cast::<PyUntypedArray>() else {
            let kind = points.get_type().qualname()?;
            return Err(PyTypeError::new_err(format!(
                "pairwise_distances takes a float64 NumPy array of shape (n, d), not a {kind}: {convert}"
            )));
        };
        let dtype = array.dtype();
        if !dtype.is_equiv_to(&numpy::dtype::<f64>(points.py())) {
            return Err(PyTypeError::new_err(format!(
                "pairwise_distances takes a float64 array, not one of dtype {dtype}: {convert}"
            )));
        }
        if array.ndim() != 2 {
            let shape: Vec<String> = array.shape().iter().map(usize::to_string).collect();
            let shape = match shape.len() {
                1 => format!("({},)", shape[0]),
                _ => format!("({})", shape.join(", ")),
            };
            return Err(PyValueError::new_err(format!(
                "pairwise_distances takes an array of shape (n, d), one point a row, not one of \
                 shape {shape}"
            )));
        }
        Ok(array.cast::<PyArray2<f64>>()?)
    }
}

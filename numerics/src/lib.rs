//! The kernels of `numerics`: the code the lesson times (`src/main.rs`) and the Python module
//! calls (`numerics/extension`, `import hpc_rs_numerics`). One copy, two front ends: what the
//! lesson measures is exactly what a Python user gets.
//!
//! Nothing here prints or parses arguments; each front end only converts inputs and results.

pub mod distances;
pub mod julia;
pub mod sums;

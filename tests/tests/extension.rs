//! `pip install ./numerics/extension`: the Rust kernels as the Python module
//! `hpc_rs_numerics`, built by maturin into the twins' own virtual environment (made fresh by
//! a clean run, from the package index, with NumPy and maturin), as `numerics --vs-python`
//! builds it, then checked from Python by `numerics/extension/tests/check_module.py` against
//! plain NumPy.
//!
//! The environment lives under the target directory and is reused, and maturin's cargo build
//! reuses the workspace's target directory, so a second run rebuilds nothing.

// A failed step is a failing test: what it should be.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::path::Path;
use std::process::Command;

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

#[test]
fn pip_installs_the_module_and_it_does_what_its_docs_say() {
    common::require_python3!();
    // Into the twins' own environment (NumPy is there, with pandas), where `numerics
    // --vs-python` builds it too, and by the same code (timing::python_env::build_module):
    // maturin's PyO3 then fits the Python the dataflow module was built for, not compiled
    // again for another. Built with the test profile's settings (Cargo.toml's
    // python-module-test), compiled for checking, not for speed; a user's `pip install`
    // builds in release.
    let Some(python) = crate::dataflow::twins_python() else { return };
    crate::dataflow::build_module_into(&python, "numerics/extension", "hpc_rs_numerics");
    common::module_checks_pass(
        &python,
        "numerics/extension/tests/check_module.py",
        &[],
        &[
            "ok: pairwise_distances on Fortran order",
            "ok: a NaN coordinate gives NaN in its row and column, as cdist does",
            "ok: julia(1000, 300).sum() == 33219980, the book's checksum",
            "ok: three_sums: the notebook's sums, exact",
            "ok: the GIL is released:",
            "ok: bad input: TypeError, ValueError and OverflowError that say what to do",
            "ok: docstrings, type stubs and py.typed are installed",
        ],
    );
}

#[test]
fn the_check_script_runs_alone_and_explains_itself() {
    common::require_python3!();
    // --help needs neither NumPy nor the module: plain python3 runs it.
    let help = Command::new("python3")
        .arg(Path::new(WORKSPACE).join("numerics/extension/tests/check_module.py"))
        .arg("--help")
        .output()
        .unwrap();
    succeeded("check_module.py --help", &help);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.starts_with("What a user of `pip install ./numerics/extension` relies on"),
        "{text}"
    );
}

use common::succeeded;

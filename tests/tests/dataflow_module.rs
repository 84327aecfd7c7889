//! `pip install ./dataflow/extension`, as a user does it: the group-by engine as the Python
//! module `hpc_rs_dataflow`, built by maturin into a virtual environment with pyarrow - the
//! one the `dataflow` tests make for its Python twin (pandas, Dask, Polars, DuckDB, pyarrow),
//! where they build the module too: one environment and one build, not two - then checked
//! from Python by `dataflow/extension/tests/check_module.py`: its answers against
//! `dataflow groupby`'s on random files and queries, the Arrow interface, its errors, two
//! threads calling it at once, and Ctrl-C.
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
fn pip_installs_the_module_and_its_answers_are_the_command_line_s() {
    common::require_python3!();
    // Built with the test profile's settings (Cargo.toml's python-module-test), as the numerics
    // module's test builds it: a user's `pip install` builds in release.
    let Some(python) = crate::dataflow::twins_environment() else { return };
    let dataflow = common::binary("dataflow");
    common::module_checks_pass(
        &python,
        "dataflow/extension/tests/check_module.py",
        &[dataflow.as_os_str()],
        &[
            "ok: answers equal the command line's on 12 random files and queries, sorted or not",
            "ok: pyarrow takes the answer as a table, a schema and a stream, any number of times",
            "ok: bad input: FileNotFoundError, ValueError and TypeError that name the argument",
            "ok: the GIL is released: two threads called groupby at once",
            "ok: Ctrl-C raised KeyboardInterrupt",
            "ok: docstrings, type stubs and py.typed are installed",
        ],
    );
}

#[test]
fn the_check_script_runs_alone_and_explains_itself() {
    common::require_python3!();
    let script = Path::new(WORKSPACE).join("dataflow/extension/tests/check_module.py");
    let help = Command::new("python3").arg(&script).arg("--help").output().unwrap();
    common::succeeded("check_module.py --help", &help);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.starts_with("What a user of `pip install ./dataflow/extension` relies on"),
        "{text}"
    );
    // Without the binary to compare with: its usage, and exit 2.
    let bare = Command::new("python3").arg(&script).output().unwrap();
    assert_eq!(bare.status.code(), Some(2));
}

//! `pip install ./numerics/extension`, as a user does it: the Rust kernels as the Python
//! module `hpc_rs_numerics`, built by maturin (fetched from the package index as the build
//! backend) into a fresh virtual environment, then checked from Python by
//! `numerics/extension/tests/check_module.py` against plain NumPy.
//!
//! The environment lives under the target directory and is reused, and maturin's cargo build
//! reuses the workspace's target directory, so a second run rebuilds nothing.

// A failed step is a failing test: what it should be.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

#[test]
fn pip_installs_the_module_and_it_does_what_its_docs_say() {
    if !common::python3_or_skip() {
        return;
    }
    let Some(python) = environment_with_numpy() else { return };
    let install = Command::new(&python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", "--no-deps", "-q"])
        .arg(Path::new(WORKSPACE).join("numerics/extension"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    succeeded("pip install ./numerics/extension", &install);
    let check = Command::new(&python)
        .arg(Path::new(WORKSPACE).join("numerics/extension/tests/check_module.py"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    succeeded("check_module.py", &check);
    let stdout = String::from_utf8_lossy(&check.stdout);
    for wanted in [
        "ok: pairwise_distances on Fortran order",
        "ok: a NaN coordinate gives NaN in its row and column, as cdist does",
        "ok: julia(1000, 300).sum() == 33219980, the book's checksum",
        "ok: three_sums: the notebook's sums, exact",
        "ok: the GIL is released:",
        "ok: bad input: TypeError, ValueError and OverflowError that say what to do",
        "ok: docstrings, type stubs and py.typed are installed",
    ] {
        assert!(stdout.contains(wanted), "{wanted:?} missing from:\n{stdout}");
    }
    assert!(stdout.trim_end().ends_with("all checks passed"), "{stdout}");
}

#[test]
fn the_check_script_runs_alone_and_explains_itself() {
    if !common::python3_or_skip() {
        return;
    }
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

/// A virtual environment under the target directory with NumPy in it, made once; `None` (the
/// test skipped, with the reason) where the package index cannot be reached.
fn environment_with_numpy() -> Option<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| Path::new(WORKSPACE).join("target"), PathBuf::from);
    let folder = target.join("extension-test");
    let python = folder.join("bin/python");
    let ready = folder.join("hpc-rs-ready");
    if ready.is_file() {
        return Some(python);
    }
    let _ = std::fs::remove_dir_all(&folder);
    let venv = Command::new("python3").arg("-m").arg("venv").arg(&folder).output().unwrap();
    succeeded("python3 -m venv", &venv);
    let numpy = Command::new(&python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", "-q", "numpy"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    if !numpy.status.success() && !index_reachable(&python) {
        common::skip("the package index cannot be reached, so maturin and NumPy cannot be had");
        return None;
    }
    succeeded("pip install numpy", &numpy);
    std::fs::write(&ready, "made by tests/tests/extension.rs\n").unwrap();
    Some(python)
}

/// Whether pip can fetch anything at all (a tiny package, not installed).
fn index_reachable(python: &Path) -> bool {
    let scratch = std::env::temp_dir().join(format!("hpc-rs-pip-probe-{}", std::process::id()));
    let probe = Command::new(python)
        .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", "-d"])
        .arg(&scratch)
        .arg("six")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    let _ = std::fs::remove_dir_all(&scratch);
    probe
}

fn succeeded(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what}: {}\n--- stdout:\n{}\n--- stderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

//! `timing::python_env`, the environment every `--vs-python` twin that needs packages runs in,
//! made for real: a fresh virtual environment in a temporary folder, one small pure-Python
//! package installed with its own pip, found there afterwards; a second call reuses it, and a
//! half-made folder is remade. (Here rather than in timing's unit tests, so that its two
//! environments are made while the topics' tests run.)
// A failed step is a failing test: what it should be.
#![allow(clippy::unwrap_used)]

use crate::common;
use std::process::{Command, Stdio};
use timing::python_env::{ENVIRONMENT_FOLDER, READY_MARKER, ensure_environment, find};

#[test]
fn an_environment_is_made_filled_and_reused() {
    common::require_python3!();
    let scratch = tempfile::tempdir().unwrap();
    let index_reachable = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q"])
        .arg("-d")
        .arg(scratch.path())
        .arg("six")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !index_reachable && !common::skip("the package index cannot be reached from here") {
        return;
    }
    let folder = scratch.path().join(ENVIRONMENT_FOLDER);
    let python = ensure_environment(&folder, &["six>=1.0"]).unwrap();
    assert_eq!(python.program, folder.join("bin/python"));
    assert!(folder.join(READY_MARKER).is_file());
    assert_eq!(find(Some(&python.program), &["six>=1.0"]).unwrap(), python);
    // Reused: nothing is missing, so nothing is made or installed again.
    assert_eq!(ensure_environment(&folder, &["six>=1.0"]).unwrap(), python);
    // Half-made (the marker is written last): remade, and six installed again.
    std::fs::remove_file(folder.join(READY_MARKER)).unwrap();
    assert_eq!(ensure_environment(&folder, &["six"]).unwrap(), python);
    assert!(folder.join(READY_MARKER).is_file());
}

//! `notebook/run`, the runner of the companion notebook: the steps it runs inside its virtual
//! environment, on small notebooks of their own - a cell that fails fails the run and is shown
//! on stderr; an `.ipynb` that is not its `.py` (or keeps outputs) is refused. The companion
//! itself is executed by `notebook/run` in CI, after the tests, with every package it needs.

// A failed step is a failing test: what it should be.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const RUNNER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../notebook/run");

/// Three code cells, the second under a heading of its own and failing with a message.
const FAILING: &str = "# %%\nx = 1 + 1\nassert x == 2\n\n\
                       # %% [markdown]\n# ## The failing section\n\n\
                       # %%\nassert x == 3, \"x is not 3\"\n\n\
                       # %%\nprint(\"never run\")\n";

/// A venv with what the runner's steps import (nbclient, ipykernel, jupytext), made once.
fn runner_python() -> Option<PathBuf> {
    if !common::python3_or_skip() {
        return None;
    }
    common::python_environment("notebook-runner-test", &["nbclient", "ipykernel", "jupytext"])
}

/// `source` written as NAME.py in `folder`, and NAME.ipynb made from it by jupytext.
fn pair(python: &Path, folder: &Path, name: &str, source: &str) -> (PathBuf, PathBuf) {
    let py = folder.join(format!("{name}.py"));
    std::fs::write(&py, source).unwrap();
    let made = Command::new(python)
        .args(["-m", "jupytext", "-q", "--to", "ipynb"])
        .arg(&py)
        .output()
        .unwrap();
    common::succeeded("jupytext --to ipynb", &made);
    (py, folder.join(format!("{name}.ipynb")))
}

/// One of the runner's steps, run as the runner runs it: by the venv's python.
fn step(python: &Path, args: &[&Path]) -> Output {
    Command::new(python)
        .arg(RUNNER)
        .arg("--in-environment")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_failing_cell_fails_the_run_and_stderr_shows_its_source_and_error() {
    let Some(python) = runner_python() else { return };
    let folder = tempfile::tempdir().unwrap();
    let (_, ipynb) = pair(&python, folder.path(), "failing", FAILING);
    let out = step(&python, &[Path::new("execute"), &ipynb]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let all = format!("--- stdout:\n{stdout}\n--- stderr:\n{stderr}");
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(stdout.contains("cell 1/3 (the start): ok"), "{all}");
    assert!(stdout.contains("cell 2/3 (The failing section): error"), "{all}");
    assert!(!stdout.contains("cell 3/3"), "the run stops at the failing cell\n{all}");
    assert!(stderr.contains("assert x == 3, \"x is not 3\""), "the cell's source\n{all}");
    assert!(stderr.contains("AssertionError: x is not 3"), "its error\n{all}");
    assert!(!stderr.contains('\x1b'), "no terminal colours in a log\n{all}");
}

#[test]
fn a_notebook_whose_cells_all_pass_runs_to_the_end() {
    let Some(python) = runner_python() else { return };
    let folder = tempfile::tempdir().unwrap();
    let passing = FAILING.replace("x == 3, \"x is not 3\"", "x == 2");
    let (_, ipynb) = pair(&python, folder.path(), "passing", &passing);
    let out = step(&python, &[Path::new("execute"), &ipynb]);
    common::succeeded("notebook/run --in-environment execute", &out);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("cell 3/3 (The failing section): ok"), "{stdout}");
    assert!(stdout.contains("every cell ran and checked itself"), "{stdout}");
}

#[test]
fn an_ipynb_that_is_not_its_py_or_keeps_outputs_is_refused() {
    let Some(python) = runner_python() else { return };
    let folder = tempfile::tempdir().unwrap();
    let (py, ipynb) = pair(&python, folder.path(), "pair", FAILING);
    common::succeeded(
        "the pair as jupytext made it",
        &step(&python, &[Path::new("check"), &py, &ipynb]),
    );
    let made = std::fs::read_to_string(&ipynb).unwrap();

    let edited = made.replace("print(\\\"never run\\\")", "print(\\\"edited\\\")");
    assert_ne!(edited, made, "the edit applies: {made}");
    std::fs::write(&ipynb, &edited).unwrap();
    let out = step(&python, &[Path::new("check"), &py, &ipynb]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let said = text(&out.stderr);
    assert!(
        said.contains("pair.ipynb differs from pair.py at cell 4 (4 cells against 4)"),
        "{said}"
    );

    let executed = made.replacen("\"execution_count\": null", "\"execution_count\": 1", 1);
    std::fs::write(&ipynb, executed).unwrap();
    let out = step(&python, &[Path::new("check"), &py, &ipynb]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let said = text(&out.stderr);
    assert!(
        said.contains("pair.ipynb keeps outputs in cells [1]: commit it without them"),
        "{said}"
    );
}

#[test]
fn the_runner_explains_itself_and_refuses_what_it_does_not_take() {
    common::require_python3!();
    let help = Command::new("python3").arg(RUNNER).arg("--help").output().unwrap();
    common::succeeded("notebook/run --help", &help);
    assert!(text(&help.stdout).starts_with("notebook/run: execute the companion notebook"));
    let bad = Command::new("python3").arg(RUNNER).arg("--bogus").output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(
        text(&bad.stderr),
        "notebook/run: unexpected arguments --bogus; see notebook/run --help\n"
    );
}

//! Which Python runs a twin, and how it gets the packages the twin needs (NumPy, Numba, ...).
//!
//! In order: `--python PATH` (passed in by the binary), then `HPC_RS_PYTHON`, then - for a twin
//! that needs no package - plain `python3`, and otherwise one virtual environment that this
//! module makes under the target directory (`target/python-twins/`, or under
//! `$CARGO_TARGET_DIR`) and installs into with its own pip, once. An interpreter the user named
//! is never installed into: a missing package is reported by name instead.
//!
//! Every failure is an [`EnvError`] whose message is one line saying what failed and what to do;
//! the binaries print it on stderr and still print their Rust figures (exit status 0).

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The environment variable that names an interpreter, as `--python PATH` does.
pub const PYTHON_VARIABLE: &str = "HPC_RS_PYTHON";

/// The folder, under the target directory, of the environment this module makes.
pub const ENVIRONMENT_FOLDER: &str = "python-twins";

/// Written into the environment last: a folder without it was left half-made and is remade.
pub const READY_MARKER: &str = "hpc-rs-ready";

/// How long an interpreter has to answer the check: many times what a Python needs to start and
/// print its version on a busy machine, so one that has not answered is stuck (a hung network
/// mount, a wrapper waiting for input); it is stopped, and the run goes on without it.
pub const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// Prints the interpreter - `python VERSION IMPLEMENTATION BUILD GIL`, such as
/// `python 3.11.7 cpython gil-build gil-on` or `python 3.14.0 cpython free-threaded gil-off` -
/// then each requirement (from argv) that is not installed or out of its range. Only `name`, `name[extras]`, `name>=version` and `name>=low,<high` are
/// understood, which is all the twins declare; anything else is reported as missing rather
/// than guessed at.
const CHECK_SCRIPT: &str = r#"
import re, sys
from importlib import metadata

def numbers(version):
    return tuple(int(n) for n in re.findall(r"\d+", version.split("+")[0])[:3])

def satisfied(requirement):
    m = re.fullmatch(
        r"\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(?:>=\s*([0-9][0-9.]*))?\s*(?:,\s*<\s*([0-9][0-9.]*))?\s*",
        requirement,
    )
    if not m:
        return False
    try:
        have = numbers(metadata.version(m.group(1)))
    except metadata.PackageNotFoundError:
        return False
    low, high = m.group(3), m.group(4)
    return (low is None or have >= numbers(low)) and (high is None or have < numbers(high))

import sysconfig
free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
# 3.13+: whether the GIL is on now (a free-threaded build turns it on for PYTHON_GIL=1, or for
# an extension module that does not say it is safe without it).
gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
print("python", ".".join(map(str, sys.version_info[:3])), sys.implementation.name,
      "free-threaded" if free_threaded else "gil-build", "gil-on" if gil else "gil-off")
for requirement in sys.argv[1:]:
    if not satisfied(requirement):
        print(requirement)
"#;

/// A Python interpreter that has every package a twin declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Python {
    /// The program to run.
    pub program: PathBuf,
    /// Its version, as `3.11.7`.
    pub version: String,
    /// `sys.implementation.name`: `cpython`, `pypy`.
    pub implementation: String,
    /// A free-threaded build (`Py_GIL_DISABLED`: CPython 3.13t, 3.14t), which can run Python
    /// code on several threads at once.
    pub free_threaded: bool,
    /// Whether the GIL is on (always, but on a free-threaded build without `PYTHON_GIL=1`).
    pub gil: bool,
}

impl Python {
    /// `python3` described as the check script would describe a CPython of `version`, a
    /// free-threaded build with its GIL off or a GIL build: for the tests of sentences chosen by
    /// the interpreter.
    pub fn cpython(version: &str, free_threaded: bool) -> Python {
        Python {
            program: "python3".into(),
            version: version.to_owned(),
            implementation: "cpython".to_owned(),
            free_threaded,
            gil: !free_threaded,
        }
    }

    /// `CPython 3.11.7, with the GIL`, `CPython 3.14.0, free-threaded (no GIL)`, or `CPython
    /// 3.14.0, a free-threaded build with its GIL turned on`: what every row and sentence
    /// about Python names.
    pub fn describe(&self) -> String {
        let name = self.name();
        match (self.free_threaded, self.gil) {
            (false, _) => format!("{name} {}, with the GIL", self.version),
            (true, false) => format!("{name} {}, free-threaded (no GIL)", self.version),
            (true, true) => {
                format!("{name} {}, a free-threaded build with its GIL turned on", self.version)
            }
        }
    }

    /// `CPython 3.11` or `CPython 3.14t`: a column's head.
    pub fn short(&self) -> String {
        let minor: String = self.version.split('.').take(2).collect::<Vec<_>>().join(".");
        format!("{} {minor}{}", self.name(), if self.free_threaded { "t" } else { "" })
    }

    /// Whether its version is at least `major.minor`: `(3, 12)` for 3.12.1 or 3.13.0, not 3.11.7.
    pub fn version_at_least(&self, (major, minor): (u32, u32)) -> bool {
        let mut parts = self.version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (major, minor)
    }

    /// Whether two of its threads can run Python code at the same moment: a free-threaded
    /// build with the GIL off. Every sentence about Python threads is chosen by it.
    pub fn threads_run_at_once(&self) -> bool {
        self.free_threaded && !self.gil
    }

    fn name(&self) -> String {
        match self.implementation.as_str() {
            "cpython" => "CPython".to_owned(),
            "pypy" => "PyPy".to_owned(),
            other => other.to_owned(),
        }
    }
}

/// Why there is no Python for a twin. Each message is one line and says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvError {
    /// `python3` (or the named interpreter) does not exist.
    NotFound(PathBuf),
    /// The named program ran but is not Python 3.
    NotPython3(PathBuf),
    /// The program did not answer within the time given (it was stopped).
    NoAnswer(PathBuf, Duration),
    /// The named interpreter lacks these requirements.
    MissingPackages(PathBuf, Vec<String>),
    /// `python3 -m venv` is not available (Debian splits it into `python3-venv`).
    NoVenv,
    /// Making the environment or installing into it failed.
    InstallFailed {
        /// The environment's folder.
        folder: PathBuf,
        /// What could not be installed.
        missing: Vec<String>,
        /// What went wrong, in a few words.
        why: String,
    },
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvError::NotFound(program) => write!(
                f,
                "{} not found: install Python 3, or pass --python PATH to one (or set {PYTHON_VARIABLE}=PATH)",
                program.display()
            ),
            EnvError::NotPython3(program) => write!(
                f,
                "{} is not a Python 3 interpreter: pass --python PATH to one (or unset {PYTHON_VARIABLE})",
                program.display()
            ),
            EnvError::NoAnswer(program, waited) => write!(
                f,
                "{} did not answer within {} s: pass --python PATH to another interpreter (or set {PYTHON_VARIABLE}=PATH)",
                program.display(),
                waited.as_secs()
            ),
            EnvError::MissingPackages(program, missing) => write!(
                f,
                "{} lacks {}: run `{} -m pip install {}`, or leave out --python and {PYTHON_VARIABLE} to let hpc-rs make its own environment",
                program.display(),
                missing.join(", "),
                program.display(),
                quoted(missing)
            ),
            EnvError::NoVenv => write!(
                f,
                "python3 cannot make a virtual environment (no venv/ensurepip module): install it (on Debian or Ubuntu: apt-get install python3-venv), or pass --python PATH to an interpreter with the packages"
            ),
            EnvError::InstallFailed { folder, missing, why } => write!(
                f,
                "could not install {} into {} ({why}): check the connection to the package index and run again, or pass --python PATH to an interpreter that has them",
                missing.join(", "),
                folder.display()
            ),
        }
    }
}

impl std::error::Error for EnvError {}

/// Finds the interpreter for a twin that needs `packages`: the one the user named
/// (`explicit`, else `HPC_RS_PYTHON`), checked; plain `python3` when `packages` is empty;
/// otherwise the environment under the target directory, made and filled on first use.
pub fn find(explicit: Option<&Path>, packages: &[&str]) -> Result<Python, EnvError> {
    match named(explicit) {
        Some(program) => {
            let (python, missing) = check(&program, packages)?;
            if missing.is_empty() {
                Ok(python)
            } else {
                Err(EnvError::MissingPackages(program, missing))
            }
        }
        None if packages.is_empty() => find_within(None, ANSWER_WAIT),
        None => ensure_environment(&environment_folder(), packages),
    }
}

/// The interpreter for a twin that needs no package - the one the user named (`explicit`, else
/// `HPC_RS_PYTHON`), else plain `python3` - given `wait` to answer the check: one that has not
/// answered by then is stopped (killed and reaped) and is [`EnvError::NoAnswer`], naming it.
/// For a caller that must not wait [`ANSWER_WAIT`] for a stuck interpreter.
pub fn find_within(explicit: Option<&Path>, wait: Duration) -> Result<Python, EnvError> {
    let program = named(explicit).unwrap_or_else(|| PathBuf::from("python3"));
    Ok(check_within(&program, &[], wait)?.0)
}

/// The interpreter the user named: `explicit` (`--python PATH`), else `HPC_RS_PYTHON` if set.
fn named(explicit: Option<&Path>) -> Option<PathBuf> {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(PYTHON_VARIABLE).filter(|v| !v.is_empty()).map(PathBuf::from))
}

/// `$CARGO_TARGET_DIR/python-twins` when that is set; else under the target directory this
/// binary was built into; else a folder in the temp dir (see [`crate::target_dir`]).
pub fn environment_folder() -> PathBuf {
    crate::machine::target_dir().join(ENVIRONMENT_FOLDER)
}

/// Makes (or repairs) the environment in `folder` and installs whatever of `packages` it lacks.
/// A lock file beside it keeps two binaries started at once from building it together; a
/// folder without the ready marker (an interrupted creation) is removed and made again, and a
/// package whose install was interrupted is simply found missing and installed again.
pub fn ensure_environment(folder: &Path, packages: &[&str]) -> Result<Python, EnvError> {
    let failed = |missing: &[&str], why: String| EnvError::InstallFailed {
        folder: folder.to_path_buf(),
        missing: missing.iter().map(|s| (*s).to_owned()).collect(),
        why,
    };
    let parent = folder.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent)
        .map_err(|e| failed(packages, format!("{}: {e}", parent.display())))?;
    let _lock = lock_beside(folder).map_err(|e| failed(packages, format!("lock file: {e}")))?;

    let program = folder.join(if cfg!(windows) { "Scripts/python.exe" } else { "bin/python" });
    if !folder.join(READY_MARKER).is_file() {
        if folder.exists() {
            eprintln!("note: {} was left half-made; making it again", folder.display());
            fs::remove_dir_all(folder).map_err(|e| failed(packages, e.to_string()))?;
        }
        make_environment(folder).map_err(|why| match why {
            None => EnvError::NoVenv,
            Some(why) => failed(packages, why),
        })?;
    }
    let (python, missing) =
        check(&program, packages).map_err(|e| failed(packages, e.to_string()))?;
    if missing.is_empty() {
        return Ok(python);
    }
    eprintln!(
        "note: installing {} for the Python twin into {} (once; later runs reuse it, delete the folder to start over)",
        missing.join(", "),
        folder.display()
    );
    // pip quiet but for its errors, and a status line meanwhile: unpacking a large wheel
    // (Numba, SciPy) prints nothing for seconds, and pip's own lines would break into a table.
    let ticker =
        crate::progress::Ticker::start(format!("pip is installing {}", missing.join(", ")));
    // pip compiles every module's bytecode now (half its time), and that is kept: where
    // PYTHONDONTWRITEBYTECODE is set, a module pip left uncompiled is compiled again at every
    // import - pandas, Dask, Polars and DuckDB 2.6 CPU-seconds more a process, and each engine
    // of a comparison starts processes of its own.
    let status = Command::new(&program)
        .args(["-m", "pip", "install", "--disable-pip-version-check", "-q"])
        .args(&missing)
        .stdin(Stdio::null())
        .stdout(to_stderr())
        .status()
        .map_err(|e| failed(packages, e.to_string()))?;
    drop(ticker);
    let (python, still) = check(&program, packages).map_err(|e| failed(packages, e.to_string()))?;
    if !still.is_empty() {
        let still: Vec<&str> = still.iter().map(String::as_str).collect();
        return Err(failed(&still, format!("pip: {status}; its messages are above")));
    }
    Ok(python)
}

/// `python3 -m venv folder`, then the ready marker. `Err(None)`: Python has no venv module.
fn make_environment(folder: &Path) -> Result<(), Option<String>> {
    eprintln!(
        "note: making a Python environment for the twins in {} (once; later runs reuse it)",
        folder.display()
    );
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(folder)
        .stdin(Stdio::null())
        .stdout(to_stderr())
        .status();
    match status {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Some("python3 not found: install Python 3".to_owned()));
        }
        Err(e) => return Err(Some(e.to_string())),
        Ok(status) if !status.success() => {
            let has_venv = Command::new("python3")
                .args(["-c", "import venv, ensurepip"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            let _ = fs::remove_dir_all(folder);
            return Err(if has_venv { Some(format!("python3 -m venv: {status}")) } else { None });
        }
        Ok(_) => {}
    }
    fs::write(folder.join(READY_MARKER), "made by hpc-rs; delete the folder to start over\n")
        .map_err(|e| Some(e.to_string()))
}

/// The requirements in the text of a pip requirements file: one a line, such as
/// `pandas>=2.0`; blank lines and `#` comments skipped. A twin's packages kept in one file
/// that pip (`pip install -r`), its binary (`include_str!`) and its tests read alike.
pub fn requirements(text: &str) -> Vec<&str> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .collect()
}

/// What builds the project's own Python modules (PyO3 crates) into the twins' environment:
/// asked of that environment only, never of a Python the user names.
pub const MATURIN: &str = "maturin>=1.9.4,<2";

/// One of the project's own Python modules: a PyO3 crate beneath a topic that maturin builds,
/// timed from Python beside the topic's twins.
#[derive(Debug, Clone, Copy)]
pub struct Module<'a> {
    /// The crate's folder: `.../numerics/extension` (a `&str`, so that a topic's `const` can
    /// hold it).
    pub folder: &'a str,
    /// The name Python imports: `hpc_rs_numerics`.
    pub name: &'a str,
    /// What the module adds to the comparison, told to a Python that lacks it: `the Rust
    /// kernels` ("... times the Rust kernels from Python too").
    pub times: &'a str,
    /// What the line that reports its build says after "left out of every figure", inside the
    /// same parenthesis: empty, or `; it hands its answer over in memory, ...`.
    pub aside: &'a str,
}

impl Module<'_> {
    /// Its folder as the reader knows it, the topic's and its own: `numerics/extension`.
    pub fn shown(&self) -> String {
        let mut parts: Vec<String> = Path::new(self.folder)
            .components()
            .rev()
            .take(2)
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        parts.reverse();
        parts.join("/")
    }
}

/// Whether the twin's Python - the one the user named (`explicit`, else `HPC_RS_PYTHON`), else
/// the twins' own environment with `packages` - can import `module`. In the own environment it
/// is built first from this working tree ([`build_module`]; whether it is already built is
/// cargo's to know: an unchanged tree compiles nothing). A Python the user named is never
/// installed into: it is asked to import the module, and where it cannot, one line says how.
pub fn ensure_module(explicit: Option<&Path>, packages: &[&str], module: &Module<'_>) -> bool {
    let Ok(python) = find(explicit, packages) else {
        return false; // no usable Python: the twin says why
    };
    let folder = environment_folder();
    if !python.program.starts_with(&folder) {
        return imports(&python.program, module);
    }
    let python = match ensure_environment(&folder, &[packages, &[MATURIN]].concat()) {
        Ok(python) => python.program,
        Err(e) => {
            eprintln!("note: no {} rows: {e}", module.name);
            return false;
        }
    };
    match build_module(&python, module, None) {
        Ok(took) => {
            crate::cli::paragraph(
                "",
                &format!(
                    "(maturin built {} into {} as {} in {}, left out of every figure{})",
                    module.shown(),
                    python.display(),
                    module.name,
                    crate::human(took),
                    module.aside
                ),
            );
            true
        }
        Err(why) => {
            eprintln!("note: building {} failed ({why}); its rows are left out", module.name);
            false
        }
    }
}

/// Whether `python`, one the user named, imports `module`; where it does not, one line says
/// how to install it (nothing is installed into it here).
fn imports(python: &Path, module: &Module<'_>) -> bool {
    let has_it = Command::new(python)
        .args(["-c", &format!("import {}", module.name)])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_it {
        eprintln!(
            "note: {} lacks {}: `{0} -m pip install {}` times {} from Python too",
            python.display(),
            module.name,
            module.folder,
            module.times
        );
    }
    has_it
}

/// `pip install --no-build-isolation --no-deps` of `module`'s folder with `python`, an
/// environment's, and the maturin installed there (no download, no isolated build
/// environment): cargo builds it under `profile` (`Some`: `--profile NAME`; `None`: what
/// `MATURIN_PEP517_ARGS` already says, else maturin's release build), a status line meanwhile
/// and its time taken, for the caller to say apart, as the JIT's and Cython's are. `Err`: why
/// not (pip's own messages are on stderr).
pub fn build_module(
    python: &Path,
    module: &Module<'_>,
    profile: Option<&str>,
) -> Result<Duration, String> {
    let mut pip = Command::new(python);
    pip.args(["-m", "pip", "install", "--no-build-isolation", "--no-deps", "-q"])
        .args(["--disable-pip-version-check"])
        .arg(module.folder)
        .env("PATH", path_with_bin(python))
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if let Some(profile) = profile {
        pip.env(MATURIN_ARGS, format!("--profile {profile}"));
    }
    let profile = profile.map_or_else(
        || maturin_profile(std::env::var(MATURIN_ARGS).ok().as_deref()),
        |name| format!("profile {name}"),
    );
    let ticker = crate::progress::Ticker::start(format!(
        "maturin is building {} (cargo, {profile}; minutes the first time)",
        module.name
    ));
    let (status, took) = crate::time_call(|| pip.status());
    drop(ticker);
    match status {
        Ok(status) if status.success() => Ok(took),
        Ok(status) => Err(status.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// The variable through which pip's build hands maturin its arguments (maturin's PEP 517
/// backend reads it: maturin/__init__.py, `get_maturin_pep517_args`, maturin 1.16).
const MATURIN_ARGS: &str = "MATURIN_PEP517_ARGS";

/// The cargo profile maturin builds in, from its arguments: `--profile NAME` (or
/// `--profile=NAME`) names it, `--release` or nothing is maturin's release build (a PEP 517
/// build is a release build unless told otherwise: PyO3/maturin discussion #1999, its
/// maintainer's answer).
fn maturin_profile(args: Option<&str>) -> String {
    let args: Vec<&str> = args.unwrap_or_default().split_whitespace().collect();
    let named = args.iter().enumerate().find_map(|(i, arg)| match arg.strip_prefix("--profile") {
        Some("") => args.get(i + 1).copied(),
        Some(rest) => rest.strip_prefix('='),
        None => None,
    });
    named.map_or_else(|| "release".to_owned(), |name| format!("profile {name}"))
}

/// `PATH` with the bin folder of `python`'s environment first, as activating the environment
/// would put it: pip runs the environment's maturin by name.
fn path_with_bin(python: &Path) -> std::ffi::OsString {
    let bin = python.parent().unwrap_or(Path::new(".")).to_path_buf();
    let rest = std::env::var_os("PATH");
    std::env::join_paths(std::iter::once(bin).chain(rest.iter().flat_map(std::env::split_paths)))
        .unwrap_or_default()
}

/// Runs the check script with `program`: its version and the requirements it lacks.
fn check(program: &Path, packages: &[&str]) -> Result<(Python, Vec<String>), EnvError> {
    check_within(program, packages, ANSWER_WAIT)
}

/// [`check`], the program stopped where it has not answered within `wait`.
fn check_within(
    program: &Path,
    packages: &[&str],
    wait: Duration,
) -> Result<(Python, Vec<String>), EnvError> {
    let child = Command::new(program)
        .arg("-c")
        .arg(CHECK_SCRIPT)
        .args(packages)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(EnvError::NotFound(program.to_path_buf()));
        }
        Err(_) => return Err(EnvError::NotPython3(program.to_path_buf())),
        Ok(child) => child,
    };
    let Some(status) = wait_at_most(&mut child, wait) else {
        return Err(EnvError::NoAnswer(program.to_path_buf(), wait));
    };
    // Read after the end: its few lines fit in the pipe, so it never waited for a reader.
    let mut stdout = Vec::new();
    let _ = child.stdout.take().expect("piped").read_to_end(&mut stdout);
    let stdout = String::from_utf8_lossy(&stdout);
    let mut lines = stdout.lines();
    let first = lines.next().unwrap_or_default();
    match (status.success(), interpreter(program, first)) {
        (true, Some(python)) => Ok((python, lines.map(str::to_owned).collect())),
        _ => Err(EnvError::NotPython3(program.to_path_buf())),
    }
}

/// How `child` ended, waiting at most `wait`; `None` where it had not, and was then stopped
/// (killed and reaped, so no stuck interpreter outlives the check).
fn wait_at_most(child: &mut Child, wait: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + wait;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// The check script's first line, `python 3.11.7 cpython gil-build gil-on`, as a [`Python`].
fn interpreter(program: &Path, line: &str) -> Option<Python> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let ["python", version, implementation, build, gil] = fields[..] else { return None };
    version.starts_with("3.").then(|| Python {
        program: program.to_path_buf(),
        version: version.to_owned(),
        implementation: implementation.to_owned(),
        free_threaded: build == "free-threaded",
        gil: gil == "gil-on",
    })
}

/// An exclusive lock on `<folder>.lock`, held until the file is dropped. Waiting for it says so.
fn lock_beside(folder: &Path) -> io::Result<File> {
    let mut name = folder.as_os_str().to_owned();
    name.push(".lock");
    let file =
        File::options().create(true).truncate(false).write(true).open(PathBuf::from(name))?;
    if let Err(fs::TryLockError::WouldBlock) = file.try_lock() {
        eprintln!(
            "note: waiting for another hpc-rs binary that is setting up {}",
            folder.display()
        );
        file.lock()?;
    }
    Ok(file)
}

/// A child's stdout sent to our stderr, so a tool's progress never mixes with our results.
fn to_stderr() -> Stdio {
    io::stderr().as_fd().try_clone_to_owned().map_or_else(|_| Stdio::inherit(), Stdio::from)
}

fn quoted(requirements: &[String]) -> String {
    let quoted: Vec<String> = requirements.iter().map(|r| format!("'{r}'")).collect();
    quoted.join(" ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn python3_present() -> bool {
        Command::new("python3").arg("--version").output().is_ok()
    }

    /// Says why a test cannot do its real check here; under CI (`CI=true`), which reaches the
    /// package index and has python3, fails instead. (The tests package has the same rule.)
    pub(crate) fn skip(reason: &str) {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "cannot run under CI: {reason}");
        eprintln!("skipped: {reason}");
    }

    #[test]
    fn a_missing_program_and_a_program_that_is_not_python_are_told_apart() {
        let missing = find(Some(Path::new("/no/such/python")), &[]).unwrap_err();
        assert_eq!(missing, EnvError::NotFound(PathBuf::from("/no/such/python")));
        assert!(missing.to_string().contains("not found: install Python 3, or pass --python"));
        let not_python = find(Some(Path::new("/bin/echo")), &[]).unwrap_err();
        assert_eq!(not_python, EnvError::NotPython3(PathBuf::from("/bin/echo")));
    }

    #[test]
    fn the_check_names_each_requirement_that_is_missing_or_too_old() {
        if !python3_present() {
            skip("no python3 on this machine");
            return;
        }
        let (python, missing) = check(
            Path::new("python3"),
            &["pip", "pip>=9999", "no-such-package-hpc-rs", "x y", "pip>=1,<2", "pip>=1,<9999"],
        )
        .unwrap();
        assert!(python.version.starts_with("3."), "{python:?}");
        assert_eq!(missing, ["pip>=9999", "no-such-package-hpc-rs", "x y", "pip>=1,<2"]);
        let err = find(Some(Path::new("python3")), &["no-such-package-hpc-rs>=1.0"]).unwrap_err();
        assert!(err.to_string().contains("lacks no-such-package-hpc-rs>=1.0"), "{err}");
    }

    #[test]
    fn the_interpreter_is_named_with_its_build() {
        let at = Path::new("python3");
        let gil = interpreter(at, "python 3.11.7 cpython gil-build gil-on").unwrap();
        assert_eq!(gil.describe(), "CPython 3.11.7, with the GIL");
        assert_eq!(gil.short(), "CPython 3.11");
        assert!(!gil.threads_run_at_once());
        let free = interpreter(at, "python 3.14.0 cpython free-threaded gil-off").unwrap();
        assert_eq!(free.describe(), "CPython 3.14.0, free-threaded (no GIL)");
        assert_eq!(free.short(), "CPython 3.14t");
        assert!(free.threads_run_at_once());
        let forced = interpreter(at, "python 3.14.0 cpython free-threaded gil-on").unwrap();
        assert!(forced.describe().ends_with("a free-threaded build with its GIL turned on"));
        assert!(!forced.threads_run_at_once());
        assert!(gil.version_at_least((3, 11)) && !gil.version_at_least((3, 12)));
        assert!(free.version_at_least((3, 12)) && !free.version_at_least((4, 0)));
        assert_eq!(interpreter(at, "python 2.7.18 cpython gil-build gil-on"), None);
        assert_eq!(interpreter(at, "python 3.11.7"), None);
    }

    #[test]
    fn an_interpreter_that_does_not_answer_is_stopped_and_said_to_be() {
        let folder = tempfile::tempdir().unwrap();
        let stuck = folder.path().join("python3");
        fs::write(&stuck, "#!/bin/sh\nexec sleep 30\n").unwrap();
        fs::set_permissions(&stuck, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let wait = Duration::from_millis(200);
        let err = check_within(&stuck, &[], wait).unwrap_err();
        assert_eq!(err, EnvError::NoAnswer(stuck.clone(), wait));
        // The caller's own wait, and the program it asked for named, not "python3".
        let err = find_within(Some(&stuck), wait).unwrap_err();
        assert_eq!(err, EnvError::NoAnswer(stuck.clone(), wait));
        let line = EnvError::NoAnswer(stuck, ANSWER_WAIT).to_string();
        assert!(line.contains("did not answer within 10 s: pass --python PATH"), "{line}");
    }

    #[test]
    fn a_requirements_file_is_read_as_pip_reads_it() {
        let text =
            "# the twin's packages\npandas>=2.0\n\n  dask[dataframe]>=2026.8,<2026.9  # pinned\n";
        assert_eq!(requirements(text), ["pandas>=2.0", "dask[dataframe]>=2026.8,<2026.9"]);
        assert!(requirements("# nothing\n\n").is_empty());
    }

    #[test]
    fn the_status_line_names_the_profile_maturin_builds_in() {
        assert_eq!(maturin_profile(None), "release");
        assert_eq!(maturin_profile(Some("")), "release");
        assert_eq!(maturin_profile(Some("--release --strip")), "release");
        assert_eq!(
            maturin_profile(Some("--profile python-module-test")),
            "profile python-module-test"
        );
        assert_eq!(maturin_profile(Some("--strip --profile=dev")), "profile dev");
    }

    #[test]
    fn a_module_is_shown_by_its_topic_and_folder() {
        let module = Module {
            folder: "/work/hpc-rs/numerics/extension",
            name: "hpc_rs_numerics",
            times: "the Rust kernels",
            aside: "",
        };
        assert_eq!(module.shown(), "numerics/extension");
    }

    #[test]
    fn the_environment_lives_under_the_target_directory() {
        assert_eq!(environment_folder(), crate::machine::target_dir().join("python-twins"));
    }

    #[test]
    fn messages_are_one_line() {
        let errors = [
            EnvError::NotFound("python3".into()),
            EnvError::NotPython3("/bin/sh".into()),
            EnvError::NoAnswer("python3".into(), ANSWER_WAIT),
            EnvError::MissingPackages("python".into(), vec!["numpy>=2.0".into(), "numba".into()]),
            EnvError::NoVenv,
            EnvError::InstallFailed {
                folder: "target/python-twins".into(),
                missing: vec!["numpy".into()],
                why: "pip: exit status: 1".into(),
            },
        ];
        for error in errors {
            assert_eq!(error.to_string().lines().count(), 1, "{error}");
        }
    }
}

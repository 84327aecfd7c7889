//! `--vs-python`: run a Python twin of a binary's workload and set its figures beside Rust's.
//!
//! A twin is a small script kept in the topic's crate (`X/python/twin.py`), run as a file -
//! `python3 X/python/twin.py ARGS...` - so that the processes it starts under the `forkserver`
//! and `spawn` start methods can import it, as they import any script's `__main__`. It imports
//! `hpc_rs_twin` (`timing/python/hpc_rs_twin.py`, put on `PYTHONPATH` here, and reached by a
//! link beside each twin when one runs alone), whose `measure(label, runs, fn, check)` makes a
//! warm-up call, then `runs` timed calls with `time.perf_counter`, each result checked, and
//! prints one tab-separated line `label median min max runs` per measurement. Timing inside the
//! interpreter leaves its start-up out; [`startup`] measures that separately. Which interpreter
//! runs it - its version, and whether it has a GIL - and how it gets packages, is
//! [`crate::python_env`]'s business.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[cfg(feature = "chart")]
use crate::chart::Figure;
use crate::cli::{VsPython, cell};
use crate::python_env::{self, EnvError, Python};
use crate::{Stats, human};

/// Where `hpc_rs_twin.py`, the module every twin imports, lives.
const MODULE_FOLDER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python");

/// What went wrong with a twin.
#[derive(Debug)]
pub enum TwinError {
    /// No interpreter with the packages the twin needs (one line saying what to do).
    Environment(EnvError),
    /// The script failed; the last line it printed on stderr.
    Failed(String),
}

impl std::error::Error for TwinError {}

impl fmt::Display for TwinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TwinError::Environment(why) => write!(f, "no Python comparison: {why}"),
            TwinError::Failed(why) => write!(f, "the Python twin failed: {why}"),
        }
    }
}

/// A Python twin of a workload: its script, the packages it imports, and the interpreter the
/// user named. Made by [`Twin::new`] alone ([`twin!`](crate::twin) for a topic's
/// `python/twin.py` is built on it).
#[derive(Debug, Clone, Copy)]
pub struct Twin<'a> {
    script: &'a str,
    packages: &'a [&'a str],
    python: Option<&'a Path>,
}

impl<'a> Twin<'a> {
    /// The twin `script` (`concat!(env!("CARGO_MANIFEST_DIR"), "/python/NAME.py")`), which
    /// imports `packages` (pip requirements such as `numpy>=2.0`; none where the standard
    /// library is enough), run by the interpreter `--python` names in `vs_python`, or else as
    /// [`python_env::find`] chooses. Whether a twin runs at all (`vs_python.enabled`) is the
    /// topic's choice.
    pub fn new(script: &'a str, packages: &'a [&'a str], vs_python: &'a VsPython) -> Twin<'a> {
        Twin { script, packages, python: vs_python.interpreter.as_deref() }
    }

    /// The interpreter the user named with `--python`, if any.
    pub fn python(&self) -> Option<&'a Path> {
        self.python
    }
}

/// `--vs-python`'s twin of the calling topic - the script `python/twin.py` in its crate, which
/// needs only the standard library - or `None` where `--vs-python` was not given:
/// `timing::twin!(args.timed.python)`. A [`Twin::new`](crate::python::Twin::new) with no
/// packages.
#[macro_export]
macro_rules! twin {
    ($vs_python:expr) => {{
        let vs_python: &$crate::cli::VsPython = &$vs_python;
        vs_python.enabled.then(|| {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/twin.py");
            $crate::python::Twin::new(script, &[], vs_python)
        })
    }};
}

/// One measurement the twin reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// The label the script gave it.
    pub label: String,
    /// Its timings.
    pub stats: Stats,
}

/// Everything a twin printed: its measurements, and notes (`note(text)` in the script) such as
/// a JIT's compile time or why a variant was skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The interpreter that ran it.
    pub python: Python,
    /// Measurements, in the order the script made them.
    pub measured: Vec<Measured>,
    /// Notes, in order.
    pub notes: Vec<String>,
}

/// One line a twin reports, as it arrives.
#[derive(Debug, Clone, Copy)]
pub enum Line<'a> {
    /// A measurement.
    Measured(&'a Measured),
    /// A note (`note(text)` in the script).
    Note(&'a str),
}

/// Finds the twin's interpreter (see [`python_env::find`]), runs the script with `args`, hands
/// each line to `each` as soon as the twin prints it, and returns everything it reported.
/// While the twin works, a status line on a terminal's stderr says how long it has been
/// running, so a long twin never looks like a hang.
///
/// The twin's stdin is a pipe that this process never writes: `hpc_rs_twin` watches it and
/// exits when it closes, so a twin never outlives its parent, however the parent ends.
pub fn run_twin(
    twin: &Twin<'_>,
    args: &[String],
    mut each: impl FnMut(&Python, Line<'_>),
) -> Result<Report, TwinError> {
    let python = python_env::find(twin.python, twin.packages).map_err(TwinError::Environment)?;
    let mut child = start(twin, &python, args)?;
    // Held open, never written, until the twin is done: see above.
    let _parent_alive = child.stdin.take();
    let mut stderr = child.stderr.take().expect("piped");
    // Read beside stdout, so a twin that writes much to stderr never blocks on a full pipe.
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let stdout = child.stdout.take().expect("piped");
    let (report, bad_line) = read_report(stdout, python, &mut each)?;
    let status = child.wait().map_err(|e| TwinError::Failed(e.to_string()))?;
    let stderr = stderr.join().unwrap_or_default();
    if !status.success() {
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message");
        return Err(TwinError::Failed(format!("{} ({status})", last.trim())));
    }
    bad_line.map_or(Ok(report), Err)
}

/// Starts `python` on the twin's script with `args`, `hpc_rs_twin` on its `PYTHONPATH`, its
/// three streams piped.
fn start(twin: &Twin<'_>, python: &Python, args: &[String]) -> Result<Child, TwinError> {
    if !Path::new(twin.script).is_file() {
        return Err(TwinError::Failed(format!(
            "{} is missing: run the binary from its hpc-rs checkout (`cargo run`)",
            twin.script
        )));
    }
    let module_path = std::env::join_paths(
        std::iter::once(std::path::PathBuf::from(MODULE_FOLDER))
            .chain(std::env::var_os("PYTHONPATH").iter().flat_map(std::env::split_paths)),
    )
    .map_err(|e| TwinError::Failed(e.to_string()))?;
    Command::new(&python.program)
        .arg(twin.script)
        .args(args)
        .env("PYTHONPATH", module_path)
        .env("PYTHONDONTWRITEBYTECODE", "1") // no __pycache__ left in the source tree
        // Where a twin keeps what it builds (Cython's module), reused by later runs: under the
        // target directory, never a temporary folder that a killed run would leave behind.
        .env("HPC_RS_CACHE", crate::machine::target_dir().join("python-twins-cache"))
        .env("HPC_RS_TWIN", "1") // hpc_rs_twin then ends the twin when this process goes
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| TwinError::Failed(format!("{}: {e}", python.program.display())))
}

/// The twin's lines until it closes its stdout, each handed to `each` as it arrives: the
/// report, and the first line that was neither a measurement nor a note, if any.
fn read_report(
    stdout: impl Read,
    python: Python,
    each: &mut impl FnMut(&Python, Line<'_>),
) -> Result<(Report, Option<TwinError>), TwinError> {
    let ticker = crate::progress::Ticker::start("the Python twin is running");
    let mut report = Report { python, measured: Vec::new(), notes: Vec::new() };
    let mut bad_line = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| TwinError::Failed(e.to_string()))?;
        ticker.clear();
        if let Some(note) = line.strip_prefix("note\t") {
            each(&report.python, Line::Note(note));
            report.notes.push(note.to_owned());
            continue;
        }
        match parse_line(&line) {
            Ok(measured) => {
                each(&report.python, Line::Measured(&measured));
                ticker.set(format!("the Python twin is running; it measured {}", measured.label));
                report.measured.push(measured);
            }
            Err(e) => bad_line = bad_line.or(Some(e)),
        }
    }
    Ok((report, bad_line))
}

/// The median of three runs of `python -c pass`: what starting the interpreter costs.
pub fn startup(program: &Path) -> Result<Stats, TwinError> {
    let mut failure = None;
    let (_, stats) = crate::measure(3, || {
        if let Err(e) = Command::new(program).args(["-c", "pass"]).status() {
            failure = Some(TwinError::Failed(e.to_string()));
        }
    });
    failure.map_or(Ok(stats), Err)
}

#[cfg(feature = "chart")]
/// Runs the twin, prints its medians beside Rust's for the same workloads (paired in order,
/// each row as soon as the twin has measured it, and each pair added to `figure`), and returns
/// what the twin reported. Without a suitable interpreter it prints one line on stderr saying
/// what to do and returns `Ok(None)`, so the binary carries on (status 0).
pub fn compare(
    twin: &Twin<'_>,
    args: &[String],
    rust: &[(&str, &Stats)],
    figure: &mut Figure,
) -> Result<Option<Report>, TwinError> {
    let report = compare_with(twin, args, figure, |row, _| rust.get(row).copied())?;
    let Some(report) = report else { return Ok(None) };
    if report.measured.len() != rust.len() {
        return Err(TwinError::Failed(format!(
            "{} measurements for {}",
            report.measured.len(),
            rust.len()
        )));
    }
    Ok(Some(report))
}

#[cfg(feature = "chart")]
/// [`compare`] for a twin whose rows vary (a variant skipped where its package or Python
/// version is missing): each Python row is set beside the Rust row of the first `pairs` entry
/// whose label its own starts with, or printed alone where that entry has none.
pub fn compare_by_label(
    twin: &Twin<'_>,
    args: &[String],
    pairs: &[(&str, Option<(&str, &Stats)>)],
    figure: &mut Figure,
) -> Result<Option<Report>, TwinError> {
    compare_with(twin, args, figure, |_, python| {
        pairs.iter().find(|(prefix, _)| python.label.starts_with(prefix)).and_then(|p| p.1)
    })
}

#[cfg(feature = "chart")]
/// The table both comparisons print: a header naming the interpreter, then each Python row
/// beside its Rust counterpart (`counterpart(row, measured)`), or alone; then the twin's notes.
fn compare_with<'r>(
    twin: &Twin<'_>,
    args: &[String],
    figure: &mut Figure,
    mut counterpart: impl FnMut(usize, &Measured) -> Option<(&'r str, &'r Stats)>,
) -> Result<Option<Report>, TwinError> {
    crate::say!(
        "== Rust vs Python on this machine (the same workload, timed inside the interpreter)"
    );
    let mut rows = 0;
    let each = |python_build: &Python, line: Line<'_>| {
        let Line::Measured(python) = line else { return }; // notes come after the table
        if rows == 0 {
            figure.panel(format!(
                "Rust against {}, the same workload (Python timed inside the interpreter)",
                python_build.describe()
            ));
            crate::say!(
                "{:<LABEL_WIDTH$} {:>10} {:>12}",
                "(medians)",
                "Rust",
                python_build.short()
            );
        }
        match counterpart(rows, python) {
            Some((label, rust)) => {
                figure.pair(label, rust, &format!("Python: {}", python.label), &python.stats);
                let label = format!("{label} / {}", python.label);
                crate::say!("{}", compare_line(&label, rust, &python.stats));
            }
            None => {
                figure.python(&python.label, &python.stats);
                let label = cell(&format!("- / {}", python.label), LABEL_WIDTH);
                crate::say!("{label} {:>10} {:>12}", "", human(python.stats.median));
            }
        }
        rows += 1;
    };
    let Some(report) = run_or_explain(twin, args, each)? else { return Ok(None) };
    for note in &report.notes {
        crate::cli::paragraph("", note);
    }
    Ok(Some(report))
}

#[cfg(feature = "chart")]
/// [`compare`] for a fixed number of rows: the interpreter and the twin's measurements as an
/// array, one per Rust row; `Ok(None)` where there is no Python (said on stderr). A twin that
/// fails is an `Err` the topic's `main` ends on (status 1), as on a wrong result.
pub fn compare_each<const N: usize>(
    twin: &Twin<'_>,
    args: &[String],
    rust: &[(&str, &Stats); N],
    figure: &mut Figure,
) -> Result<Option<(Python, [Measured; N])>, TwinError> {
    let Some(report) = compare(twin, args, rust, figure)? else { return Ok(None) };
    let measured = report.measured.try_into().expect("compare checked one Python row per Rust row");
    Ok(Some((report.python, measured)))
}

/// Runs the twin (see [`run_twin`]), each line handed to `each` with the interpreter; where
/// there is no interpreter for it, prints the one line saying why on stderr and returns
/// `Ok(None)`. On success, says which interpreter ran it - its version and whether it has a
/// GIL - and what its start-up costs (left out of its figures, which are timed inside it).
pub fn run_or_explain(
    twin: &Twin<'_>,
    args: &[String],
    mut each: impl FnMut(&Python, Line<'_>),
) -> Result<Option<Report>, TwinError> {
    match run_twin(twin, args, &mut each) {
        Err(TwinError::Environment(why)) => {
            eprintln!("note: no Python comparison: {why}");
            Ok(None)
        }
        Err(other) => Err(other),
        Ok(report) => {
            let startup = startup(&report.python.program)?;
            crate::cli::paragraph(
                "",
                &format!(
                    "(ran on {}: {}; it starts in {}, left out of its figures)",
                    report.python.program.display(),
                    report.python.describe(),
                    human(startup.median)
                ),
            );
            Ok(Some(report))
        }
    }
}

/// The width of a comparison line's label: `Rust's label / Python's label`.
const LABEL_WIDTH: usize = 52;

/// One comparison line: label, Rust's median, Python's median, and who was faster.
pub fn compare_line(label: &str, rust: &Stats, python: &Stats) -> String {
    format!(
        "{} {:>10} {:>12}   {}",
        cell(label, LABEL_WIDTH),
        human(rust.median),
        human(python.median),
        crate::rust_against_python(rust, python)
    )
}

/// What a loop's `new_list.append(x)` runs for its append in one interpreter, as `dis` names the
/// instructions: as compiled, and as the specializing interpreter (PEP 659, CPython 3.11+)
/// rewrites them once the loop is warm. The comprehension beside it appends with one
/// LIST_APPEND, in every CPython (Python/compile.c; Python/codegen.c from 3.14).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendLoop {
    /// As compiled: `LOAD_ATTR (its method form), CALL, POP_TOP`.
    pub generic: &'static str,
    /// As specialized once the loop is warm; `None` where this interpreter does not specialize.
    pub specialized: Option<&'static str>,
    /// One sentence saying what the interpreter makes of them: a direct append once warm, or
    /// a real call each time, and why.
    pub specialization: String,
}

/// [`AppendLoop`] for the interpreter a twin reported (`python`, its version and build); `None`
/// for one that is not CPython, which runs Python its own way. Read from CPython's sources of
/// each version:
/// - 3.10 and before: Lib/opcode.py has LOAD_METHOD and CALL_METHOD, and no specializing
///   interpreter exists.
/// - 3.11: Lib/opcode.py, `_specializations`: LOAD_METHOD_NO_DICT, PRECALL_NO_KW_LIST_APPEND;
///   Python/ceval.c, TARGET(PRECALL_NO_KW_LIST_APPEND), appends and jumps over the CALL and
///   POP_TOP (seen with `dis.dis(f, adaptive=True)` on 3.11.7).
/// - 3.12: Lib/opcode.py makes LOAD_METHOD a pseudo-instruction for LOAD_ATTR (with the method
///   bit in its argument); `_specializations`: LOAD_ATTR_METHOD_NO_DICT, CALL_NO_KW_LIST_APPEND.
/// - 3.13 and later: Python/bytecodes.c, CALL_LIST_APPEND ("secretly a super-instruction": it
///   skips the POP_TOP): the CALL_NO_KW_ names were dropped in 3.13.
/// - 3.13 free-threaded: Include/internal/pycore_code.h sets ENABLE_SPECIALIZATION to 0 where
///   Py_GIL_DISABLED (gh-115999); 3.14 turns it back on ("The specializing adaptive interpreter
///   (PEP 659) is now enabled in free-threaded mode", Doc/whatsnew/3.14.rst).
///
/// Versions after 3.14 are assumed to keep 3.14's names.
pub fn append_loop(python: &Python) -> Option<AppendLoop> {
    if python.implementation != "cpython" {
        return None;
    }
    const ATTR: &str = "LOAD_ATTR (its method form), CALL, POP_TOP";
    let at_least = |minor| python.version_at_least((3, minor));
    let (generic, specialized) = if !at_least(11) {
        ("LOAD_METHOD, CALL_METHOD, POP_TOP", None)
    } else if !at_least(12) {
        (
            "LOAD_METHOD, PRECALL, CALL, POP_TOP",
            Some(
                "LOAD_METHOD_NO_DICT and PRECALL_NO_KW_LIST_APPEND, which appends and skips the CALL and POP_TOP",
            ),
        )
    } else if !at_least(13) {
        (
            ATTR,
            Some(
                "LOAD_ATTR_METHOD_NO_DICT and CALL_NO_KW_LIST_APPEND, which appends and skips the POP_TOP",
            ),
        )
    } else if !at_least(14) && python.free_threaded {
        (ATTR, None)
    } else {
        (
            ATTR,
            Some(
                "LOAD_ATTR_METHOD_NO_DICT and CALL_LIST_APPEND, which appends and skips the POP_TOP",
            ),
        )
    };
    let short = python.short();
    let specialization = match specialized {
        Some(specialized) => format!(
            "Once the loop is warm, {short}'s specializing interpreter rewrites them as {specialized}: the call becomes a direct append (before 3.11 each append was a real call)."
        ),
        None if at_least(11) => format!(
            "{short}, a free-threaded 3.13, does not specialize them (3.14 does): each append is a real call."
        ),
        None => "Before 3.11 CPython had no specializing interpreter: each append is a real call."
            .to_owned(),
    };
    Some(AppendLoop { generic, specialized, specialization })
}

fn parse_line(line: &str) -> Result<Measured, TwinError> {
    let bad = || TwinError::Failed(format!("unexpected line from the twin: {line:?}"));
    let fields: Vec<&str> = line.split('\t').collect();
    let [label, median, min, max, runs] = fields[..] else { return Err(bad()) };
    let seconds = |text: &str| -> Result<Duration, TwinError> {
        let secs: f64 = text.parse().map_err(|_| bad())?;
        Duration::try_from_secs_f64(secs).map_err(|_| bad())
    };
    let stats = Stats {
        min: seconds(min)?,
        median: seconds(median)?,
        max: seconds(max)?,
        runs: runs.parse().map_err(|_| bad())?,
    };
    Ok(Measured { label: label.to_owned(), stats })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_twin_line_becomes_a_measurement() {
        let measured = parse_line("append loop\t0.5\t0.25\t1.5\t3").unwrap();
        assert_eq!(measured.label, "append loop");
        assert_eq!(measured.stats.median, Duration::from_millis(500));
        assert_eq!((measured.stats.min, measured.stats.runs), (Duration::from_millis(250), 3));
        assert!(parse_line("append loop\t0.5").is_err());
        assert!(parse_line("x\tfast\t0\t0\t1").is_err());
    }

    #[test]
    fn a_twin_is_made_from_the_options_by_one_constructor() {
        let chosen = VsPython { enabled: true, interpreter: Some("/opt/python3.14t".into()) };
        let twin = Twin::new("distances.py", &["numpy>=2.0"], &chosen);
        assert_eq!((twin.script, twin.packages), ("distances.py", &["numpy>=2.0"][..]));
        assert_eq!(twin.python(), Some(Path::new("/opt/python3.14t")));
        let topic_twin = crate::twin!(chosen).expect("--vs-python was given");
        assert!(topic_twin.script.ends_with("/python/twin.py"), "{}", topic_twin.script);
        assert!(topic_twin.packages.is_empty());
        assert_eq!(topic_twin.python(), Some(Path::new("/opt/python3.14t")));
        assert!(crate::twin!(VsPython { enabled: false, interpreter: None }).is_none());
    }

    #[test]
    fn the_twins_lines_are_read_in_order_and_a_stray_one_is_kept_as_the_error() {
        let text =
            "note\tcompiled in 1 s\nappend loop\t0.5\t0.25\t1.5\t3\nstray\nsum\t1\t1\t1\t1\n";
        let python = Python {
            program: "python3".into(),
            version: "3.12.0".into(),
            implementation: "cpython".into(),
            free_threaded: false,
            gil: true,
        };
        let mut seen = Vec::new();
        let (report, stray) = read_report(text.as_bytes(), python, &mut |_, line| {
            seen.push(match line {
                Line::Note(note) => format!("note: {note}"),
                Line::Measured(measured) => measured.label.clone(),
            })
        })
        .unwrap();
        assert_eq!(seen, ["note: compiled in 1 s", "append loop", "sum"]);
        assert_eq!(report.notes, ["compiled in 1 s"]);
        assert_eq!(report.measured.len(), 2);
        assert!(stray.is_some_and(|e| e.to_string().contains("\"stray\"")));
    }

    #[cfg(feature = "chart")]
    #[test]
    fn a_failing_twin_is_an_error_for_main_not_an_exit() {
        use crate::python_env::tests::{python3_present, skip};
        if !python3_present() {
            skip("no python3 on this machine");
            return;
        }
        let folder = tempfile::tempdir().unwrap();
        let script = folder.path().join("twin.py");
        let text =
            "import sys\nprint('a\\t0.5\\t0.25\\t1.5\\t3', flush=True)\nsys.exit('it broke')\n";
        std::fs::write(&script, text).unwrap();
        let vs_python = VsPython { enabled: true, interpreter: Some("python3".into()) };
        let twin = Twin::new(script.to_str().unwrap(), &[], &vs_python);
        let rust = Stats::from_samples(&[Duration::from_millis(1)]);
        let mut figure = Figure::new("a twin that fails");
        let failed = compare_each(&twin, &[], &[("a", &rust)], &mut figure);
        assert!(
            matches!(&failed, Err(TwinError::Failed(why)) if why.starts_with("it broke (exit status: 1)")),
            "{failed:?}"
        );
    }

    fn cpython(version: &str, free_threaded: bool) -> Python {
        Python::cpython(version, free_threaded)
    }

    /// Each CPython's append loop is named as it runs it, and what its interpreter makes of it
    /// is said for that version and build.
    #[test]
    fn the_append_loop_is_named_as_each_python_runs_it() {
        let named = |version, free_threaded| append_loop(&cpython(version, free_threaded)).unwrap();
        let old = named("3.10.14", false);
        assert_eq!(old.generic, "LOAD_METHOD, CALL_METHOD, POP_TOP");
        assert_eq!(old.specialized, None, "no specializing interpreter before 3.11");
        assert!(old.specialization.starts_with("Before 3.11 CPython had no specializing"));
        let eleven = named("3.11.7", false);
        assert_eq!(eleven.generic, "LOAD_METHOD, PRECALL, CALL, POP_TOP");
        assert!(eleven.specialized.unwrap().contains("PRECALL_NO_KW_LIST_APPEND"));
        assert!(
            eleven.specialization.starts_with(
                "Once the loop is warm, CPython 3.11's specializing interpreter rewrites them as LOAD_METHOD_NO_DICT"
            ),
            "{}",
            eleven.specialization
        );
        let twelve = named("3.12.4", false);
        assert!(twelve.generic.starts_with("LOAD_ATTR (its method"));
        assert!(twelve.specialized.unwrap().contains("CALL_NO_KW_LIST_APPEND"));
        for (version, free_threaded) in [("3.13.1", false), ("3.14.0", false), ("3.14.0", true)] {
            let calls = named(version, free_threaded).specialized.unwrap();
            assert!(calls.contains("LOAD_ATTR_METHOD_NO_DICT and CALL_LIST_APPEND"), "{version}");
        }
        assert!(named("3.14.0", true).specialization.contains("CPython 3.14t's specializing"));
        let free = named("3.13.1", true);
        assert_eq!(free.specialized, None, "3.13t specializes nothing");
        assert_eq!(
            free.specialization,
            "CPython 3.13t, a free-threaded 3.13, does not specialize them (3.14 does): each append is a real call."
        );
        let pypy = Python { implementation: "pypy".to_owned(), ..cpython("3.10.14", false) };
        assert_eq!(append_loop(&pypy), None);
    }

    #[test]
    fn the_comparison_line_gives_both_medians_and_the_ratio() {
        let rust = Stats::from_samples(&[Duration::from_millis(10)]);
        let python = Stats::from_samples(&[Duration::from_millis(640)]);
        let line = compare_line("cube sum", &rust, &python);
        assert!(line.starts_with("cube sum"), "{line}");
        assert!(line.ends_with("10.0 ms       640 ms   Rust 64.0x faster"), "{line}");
        assert!(compare_line("x", &python, &rust).ends_with("Python 64.0x faster"));
        assert!(compare_line("x", &rust, &rust).ends_with("the same (1.00x)"));
    }
}

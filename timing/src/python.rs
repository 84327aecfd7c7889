//! `--vs-python`: run a Python twin of a binary's workload and set its figures beside Rust's.
//!
//! A twin is a small script kept in the topic's crate. It is run as `python3 -c PRELUDE+SCRIPT
//! ARGS...`, where the prelude (`twin_prelude.py`) gives it `measure(label, runs, fn, check)`:
//! a warm-up call, then `runs` timed calls with `time.perf_counter`, each result checked, and one
//! tab-separated line `label median min max runs` printed per measurement. Timing inside the
//! interpreter leaves its start-up out; [`startup`] measures that separately.

use std::fmt;
use std::io;
use std::process::Command;
use std::time::Duration;

use crate::{Stats, human};

const PRELUDE: &str = include_str!("twin_prelude.py");

/// What went wrong with a twin.
#[derive(Debug)]
pub enum TwinError {
    /// There is no `python3` on this machine.
    Missing,
    /// The script failed; the last line it printed on stderr.
    Failed(String),
}

impl fmt::Display for TwinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TwinError::Missing => write!(f, "python3 not found"),
            TwinError::Failed(why) => write!(f, "the Python twin failed: {why}"),
        }
    }
}

/// One measurement the twin reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// The label the script gave it.
    pub label: String,
    /// Its timings.
    pub stats: Stats,
}

/// Runs `script` (after the prelude) with `args` and returns its measurements in order.
pub fn run_twin(script: &str, args: &[String]) -> Result<Vec<Measured>, TwinError> {
    let source = format!("{PRELUDE}\n{script}");
    let output = Command::new("python3").arg("-c").arg(source).args(args).output();
    let output = match output {
        Ok(output) => output,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(TwinError::Missing),
        Err(e) => return Err(TwinError::Failed(e.to_string())),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message");
        return Err(TwinError::Failed(format!("{} ({})", last.trim(), output.status)));
    }
    String::from_utf8_lossy(&output.stdout).lines().map(parse_line).collect()
}

/// The median of three runs of `python3 -c pass`: what starting the interpreter costs.
pub fn startup() -> Result<Stats, TwinError> {
    let mut failure = None;
    let (_, stats) =
        crate::measure(3, || match Command::new("python3").args(["-c", "pass"]).status() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => failure = Some(TwinError::Missing),
            Err(e) => failure = Some(TwinError::Failed(e.to_string())),
            Ok(_) => {}
        });
    failure.map_or(Ok(stats), Err)
}

/// Runs the twin, prints its medians beside Rust's for the same workloads (paired in order),
/// and returns the twin's measurements. Without `python3` it says so in one line and returns
/// `Ok(None)`, so the binary carries on.
pub fn compare(
    script: &str,
    args: &[String],
    rust: &[(&str, &Stats)],
) -> Result<Option<Vec<Measured>>, TwinError> {
    crate::say!("== Rust vs Python on this machine (python3, the same workload, timed inside it)");
    let measured = match run_twin(script, args) {
        Err(TwinError::Missing) => {
            crate::say!("python3 not found: no comparison (install Python 3 to see one)");
            return Ok(None);
        }
        other => other?,
    };
    if measured.len() != rust.len() {
        return Err(TwinError::Failed(format!(
            "{} measurements for {}",
            measured.len(),
            rust.len()
        )));
    }
    crate::say!("{}", compare_header());
    for ((label, rust), python) in rust.iter().zip(&measured) {
        crate::say!(
            "{}",
            compare_line(&format!("{label} / {}", python.label), rust, &python.stats)
        );
    }
    let startup = startup()?;
    crate::say!("(python3 starts in {}, left out of its figures above)", human(startup.median));
    Ok(Some(measured))
}

/// One comparison line: label, Rust's median, Python's median, and how many times faster Rust
/// was.
pub fn compare_line(label: &str, rust: &Stats, python: &Stats) -> String {
    let ratio = python.median.as_secs_f64() / rust.median.as_secs_f64().max(1e-12);
    let verdict = if ratio >= 1.0 {
        format!("Rust {ratio:.1}x faster")
    } else {
        format!("Python {:.1}x faster", 1.0 / ratio)
    };
    format!("{label:<44} {:>10} {:>10}   {verdict}", human(rust.median), human(python.median))
}

/// The header for [`compare_line`]s.
pub fn compare_header() -> String {
    format!("{:<44} {:>10} {:>10}", "(medians)", "Rust", "Python")
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
    fn the_comparison_line_gives_both_medians_and_the_ratio() {
        let rust = Stats::from_samples(&[Duration::from_millis(10)]);
        let python = Stats::from_samples(&[Duration::from_millis(640)]);
        let line = compare_line("cube sum", &rust, &python);
        assert!(line.starts_with("cube sum"), "{line}");
        assert!(line.ends_with("10.0 ms     640 ms   Rust 64.0x faster"), "{line}");
        assert!(compare_line("x", &python, &rust).ends_with("Python 64.0x faster"));
    }
}

//! Conventions every topic binary shares: bad input is one line on stderr and exit status 2,
//! a size that cannot fit in memory is refused before anything is allocated, and output piped
//! into `head` ends the program quietly instead of panicking.

use std::fmt;
use std::io::{self, Write};
use std::process;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};

/// Most timed runs any binary accepts: more would only make the user wait.
pub const MAX_RUNS: usize = 1000;

/// Prints a line to stdout like `println!`, but a closed pipe (`binary | head -1`) ends the
/// program quietly. Rust ignores SIGPIPE, so a plain `println!` would panic there instead of
/// dying silently as a C or Python program does.
#[macro_export]
macro_rules! say {
    () => { $crate::cli::write_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::cli::write_line(format_args!($($arg)*)) };
}

/// How wide [`paragraph`] wraps: a terminal of 100 columns, with room to spare.
pub const WIDTH: usize = 96;

/// Prints `text` as [`say!`](crate::say) does, wrapped at [`WIDTH`] columns between words:
/// the first line after `indent`, the others after `indent` and two spaces more - the shape of
/// every sentence the topics print about their measurements.
pub fn paragraph(indent: &str, text: &str) {
    for line in wrap(indent, text) {
        write_line(format_args!("{line}"));
    }
}

/// The lines [`paragraph`] prints.
pub fn wrap(indent: &str, text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = indent.to_owned();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            lines.push(std::mem::replace(&mut line, format!("{indent}  ")));
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    if !empty {
        lines.push(line);
    }
    lines
}

/// A table's first cell: `label` padded to `width`, or, where it is longer, the label alone on
/// its line and the row's figures below it, in their column - so a long label never pushes
/// its figures out of line with the rows above (rows are printed as they are measured, before
/// the longest label is known).
pub fn cell(label: &str, width: usize) -> String {
    if label.chars().count() <= width {
        format!("{label:<width$}")
    } else {
        format!("{label}\n{:width$}", "")
    }
}

/// Whether [`say!`](crate::say) writes to stderr: set where stdout carries data, not a report
/// (`dataflow groupby`, whose stdout is the answer a user redirects to a file).
static REPORTS_TO_STDERR: AtomicBool = AtomicBool::new(false);

/// From now on every report ([`say!`](crate::say), [`paragraph`]) goes to stderr, so stdout
/// holds the program's data alone.
pub fn send_reports_to_stderr() {
    REPORTS_TO_STDERR.store(true, Ordering::Relaxed);
}

/// The function behind [`say!`](crate::say).
pub fn write_line(args: fmt::Arguments<'_>) {
    if REPORTS_TO_STDERR.load(Ordering::Relaxed) {
        // A report that cannot reach stderr has nowhere else to go: nothing to do.
        let _ = writeln!(io::stderr().lock(), "{args}");
        return;
    }
    let mut out = io::stdout().lock();
    if let Err(e) = writeln!(out, "{args}") {
        stdout_failed(&e);
    }
}

/// Ends the program after a write to stdout failed: quietly (status 0) where the reader has
/// gone (`| head`), with one line and status 1 otherwise (a full disk).
pub fn stdout_failed(e: &io::Error) -> ! {
    if e.kind() == io::ErrorKind::BrokenPipe {
        process::exit(0)
    }
    eprintln!("error: cannot write to stdout: {e}");
    process::exit(1)
}

/// Parses the command line into `T` with clap: `--help` and `--version` print and exit 0, bad
/// input is [`usage_error`]. The one line every binary's `main` starts with.
pub fn parse<T: clap::Parser>() -> T {
    T::try_parse()
        .unwrap_or_else(|e| if e.use_stderr() { usage_error(clap_line(&e)) } else { e.exit() })
}

/// clap's error as one line, built from what it knows - the argument, the value, why, the
/// choices - rather than from its rendered, several-line text.
fn clap_line(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ErrorKind};
    let context = |kind| e.get(kind).map(ToString::to_string);
    let arg = context(ContextKind::InvalidArg).unwrap_or_default();
    let value = context(ContextKind::InvalidValue).unwrap_or_default();
    let choices = context(ContextKind::ValidValue).map(|v| format!(" [possible values: {v}]"));
    let line = match e.kind() {
        ErrorKind::ValueValidation => {
            let why = std::error::Error::source(e).map(ToString::to_string).unwrap_or_default();
            format!("invalid value '{value}' for '{arg}': {why}")
        }
        ErrorKind::InvalidValue => {
            format!("invalid value '{value}' for '{arg}'{}", choices.unwrap_or_default())
        }
        ErrorKind::UnknownArgument => {
            let tip = context(ContextKind::SuggestedArg)
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default();
            format!("unexpected argument '{arg}'{tip}")
        }
        ErrorKind::MissingRequiredArgument => {
            format!("the following required arguments were not provided: {arg}")
        }
        ErrorKind::InvalidSubcommand => {
            let name = context(ContextKind::InvalidSubcommand).unwrap_or_default();
            let tip = context(ContextKind::SuggestedSubcommand)
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default();
            format!("unrecognized subcommand '{name}'{tip}")
        }
        // Anything rarer: clap's own first line, as it renders it.
        _ => return e.to_string(),
    };
    format!("error: {line}")
}

/// `--runs R`, the same in every topic that times: how many timed runs follow the warm-up.
///
/// These shared options belong to the command that flattens them, and are listed in its help
/// only: a topic whose subcommands all take them makes them global itself
/// (`#[command(mut_args(cli::global))]`), and one with another default says so
/// (`#[command(mut_args(cli::runs_default::<3>))]`).
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct Runs {
    /// Timed runs of each variant, after one warm-up run [default: 5].
    #[arg(long = "runs", value_name = "R", value_parser = runs, allow_hyphen_values = true)]
    count: Option<usize>,
}

/// For `#[command(mut_args(cli::runs_default::<N>))]`: a command whose `--runs` defaults to N,
/// saying so in its help.
pub fn runs_default<const N: usize>(arg: clap::Arg) -> clap::Arg {
    if arg.get_id() != "count" {
        return arg;
    }
    arg.help(format!("Timed runs of each variant, after one warm-up run [default: {N}]"))
}

/// For `#[command(mut_args(cli::global))]`: every option of the command also taken after its
/// subcommands, and listed in their help (for topics whose subcommands share all options).
pub fn global(arg: clap::Arg) -> clap::Arg {
    if arg.get_long().is_some() { arg.global(true) } else { arg }
}

impl Runs {
    /// The runs asked for, or the topic's `default`.
    pub fn or(self, default: usize) -> usize {
        self.count.unwrap_or(default)
    }

    /// The runs asked for, or 5.
    pub fn get(self) -> usize {
        self.or(5)
    }

    /// Refuses `--runs` where it would mean nothing (`why`), not an option accepted and
    /// ignored: the line for [`usage_error`], which the topic's `main` prints.
    pub fn refuse(self, why: &str) -> Result<(), String> {
        refused(self.count.is_some(), "--runs", why)
    }
}

/// The options of every topic that times: `--runs R` and `--svg FILE`, and, for a topic with a
/// Python twin, `--vs-python` and `--python` (`Timed<VsPython>`).
#[cfg(feature = "chart")]
#[derive(clap::Args, Clone, Debug)]
pub struct Timed<Twin: clap::Args = NoTwin> {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub runs: Runs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub svg: Svg,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub python: Twin,
}

/// No Python twin: no options for one.
#[derive(clap::Args, Clone, Debug)]
pub struct NoTwin {}

/// `--vs-python` and `--python PATH`, the same in every topic that has a Python twin.
#[derive(clap::Args, Clone, Debug)]
pub struct VsPython {
    /// Also run the same work in Python, timed inside the interpreter, and print both side by
    /// side (packages a twin needs are installed once into target/python-twins).
    #[arg(long = "vs-python")]
    pub enabled: bool,
    /// The Python for --vs-python, used as it is: nothing is installed into it (also
    /// HPC_RS_PYTHON; a free-threaded build such as python3.14t too) [default: python3, or
    /// target/python-twins where packages are needed].
    #[arg(long = "python", value_name = "PATH")]
    pub interpreter: Option<std::path::PathBuf>,
}

/// `--svg FILE`, the same in every topic that times: the run's measurements as a chart. Only
/// the path: `chart::Picture::for_svg` checks it and writes the picture.
#[cfg(feature = "chart")]
#[derive(clap::Args, Clone, Debug)]
pub struct Svg {
    /// Also draw this run's measurements as an SVG chart in FILE (checked before any work;
    /// written when the run ends).
    #[arg(long = "svg", value_name = "FILE")]
    pub path: Option<std::path::PathBuf>,
}

#[cfg(feature = "chart")]
impl Svg {
    /// Refuses `--svg` where nothing is timed (`why`): the line for [`usage_error`].
    pub fn refuse(&self, why: &str) -> Result<(), String> {
        refused(self.path.is_some(), "--svg", why)
    }
}

/// `Err("FLAG: why")` where the flag was `given`: what every `refuse` returns.
fn refused(given: bool, flag: &str, why: &str) -> Result<(), String> {
    if given { Err(format!("{flag}: {why}")) } else { Ok(()) }
}

/// What `--threads` takes in the topics that sweep: one count (`4`), a list (`1,2,4,8`) or
/// `sweep`, every count from 1 to twice the cores. Each count is from 1 to 1024; at most 64 of
/// them, each once, in rising order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadCounts(pub Vec<usize>);

impl ThreadCounts {
    /// The one count asked for, when the list has one.
    pub fn single(&self) -> Option<usize> {
        match self.0[..] {
            [one] => Some(one),
            _ => None,
        }
    }
}

/// `--threads N|LIST|sweep`, the same in the topics that time parallel work on a choice of
/// threads (threading, pools, numerics).
#[derive(clap::Args, Clone, Debug)]
pub struct Threads {
    /// Threads for the parallel work [default: the number of cores]; a list (1,2,4,8) or
    /// `sweep` (1 to twice the cores) also times it on each count: a speedup curve, with
    /// Amdahl's law fitted to it.
    #[arg(long = "threads", value_name = "N|LIST|sweep", value_parser = thread_counts,
          allow_hyphen_values = true)]
    counts: Option<ThreadCounts>,
}

impl Threads {
    /// The one count asked for, or `default` (a list's runs use the default too).
    pub fn single_or(&self, default: usize) -> usize {
        self.counts.as_ref().and_then(ThreadCounts::single).unwrap_or(default)
    }

    /// The counts to time the work on: a list of two or more.
    pub fn sweep(&self) -> Option<&[usize]> {
        self.counts.as_ref().filter(|c| c.single().is_none()).map(|c| &c.0[..])
    }

    /// Every count given, one or more.
    pub fn listed(&self) -> Option<&[usize]> {
        self.counts.as_ref().map(|c| &c.0[..])
    }

    /// Refuses `--threads` where it would mean nothing (`why`): the line for [`usage_error`].
    pub fn refuse(&self, why: &str) -> Result<(), String> {
        refused(self.counts.is_some(), "--threads", why)
    }
}

/// Parses `--threads` (see [`ThreadCounts`]).
pub fn thread_counts(text: &str) -> Result<ThreadCounts, String> {
    let mut counts: Vec<usize> = if text == "sweep" {
        (1..=2 * crate::machine::cores()).collect()
    } else {
        text.split(',')
            .map(|part| {
                let part = part.trim();
                let n = whole_number::<usize>(part).map_err(|e| {
                    format!("{part:?} {e}: give a count, a list such as 1,2,4, or sweep")
                })?;
                if (1..=1024).contains(&n) {
                    Ok(n)
                } else {
                    Err(format!("{n} threads: give 1 to 1024 (a list such as 1,2,4, or sweep)"))
                }
            })
            .collect::<Result<_, _>>()?
    };
    counts.sort_unstable();
    counts.dedup();
    if counts.len() > 64 {
        return Err(format!("{} thread counts: at most 64", counts.len()));
    }
    Ok(ThreadCounts(counts))
}

impl VsPython {
    /// Refuses `--vs-python` and `--python` where there is no twin (`why`): the line for
    /// [`usage_error`].
    pub fn refuse(&self, why: &str) -> Result<(), String> {
        let flag = if self.enabled { "--vs-python" } else { "--python" };
        refused(self.enabled || self.interpreter.is_some(), flag, why)
    }
}

/// Ends the program because of bad input: one line on stderr, status 2. A message of several
/// lines is cut to its first, keeping a list of possible values where there is one.
pub fn usage_error(message: impl fmt::Display) -> ! {
    eprintln!("{}", one_line(&message.to_string()));
    process::exit(2)
}

/// The line [`usage_error`] prints.
fn one_line(message: &str) -> String {
    let mut lines = message.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("bad arguments");
    let choices = message.lines().map(str::trim).find(|l| l.starts_with("[possible values:"));
    let first = match (choices, first.ends_with(':')) {
        (Some(choices), _) => format!("{first} {choices}"),
        // "the following required arguments were not provided:" names them on the next line.
        (None, true) => format!("{first} {}", lines.next().unwrap_or("")),
        (None, false) => first.to_owned(),
    };
    if first.starts_with("error:") {
        format!("{first} (see --help)")
    } else {
        format!("error: {first} (see --help)")
    }
}

/// Parses a whole number of at least 1, for `--size`-like flags (use with clap's
/// `value_parser` and `allow_hyphen_values`, so that `-5` reaches it and gets this message).
/// It takes what a Python user would write: `1_000_000` and `1e6` (`2.5e6` too) as well as
/// `1000000`.
///
/// ```
/// use timing::cli::positive;
/// assert_eq!(positive::<u64>("9000000"), Ok(9_000_000));
/// assert_eq!(positive::<u64>("9_000_000"), Ok(9_000_000));
/// assert_eq!(positive::<u64>("2.5e6"), Ok(2_500_000));
/// assert!(positive::<u64>("0").unwrap_err().contains("at least 1"));
/// assert!(positive::<u64>("-5").unwrap_err().contains("negative"));
/// assert!(positive::<u64>("ten").unwrap_err().contains("not a whole number"));
/// assert!(positive::<u64>("1.5").unwrap_err().contains("not a whole number"));
/// ```
pub fn positive<T: FromStr + PartialOrd + From<u8>>(text: &str) -> Result<T, String> {
    match whole_number::<T>(text)? {
        value if value >= T::from(1) => Ok(value),
        _ => Err("must be at least 1".to_owned()),
    }
}

/// Parses a whole number, 0 included, written as [`positive`] takes it: for times and counts
/// inside other input (`replay`'s scripts and operators), where 0 means something.
///
/// ```
/// use timing::cli::whole_number;
/// assert_eq!(whole_number::<u64>("0"), Ok(0));
/// assert_eq!(whole_number::<u64>("1e3"), Ok(1000));
/// assert!(whole_number::<u64>("1e30").unwrap_err().contains("too large"));
/// ```
pub fn whole_number<T: FromStr>(text: &str) -> Result<T, String> {
    if text.starts_with('-') {
        return Err("must not be negative".to_owned());
    }
    let Some(digits) = plain_integer(text) else {
        return Err("is not a whole number".to_owned());
    };
    digits.parse::<T>().map_err(|_| "is too large for this program".to_owned())
}

/// `1_000_000`, `1e6` and `2.5e6` as the plain digits `1000000`, `1000000` and `2500000`;
/// `None` for anything that is not a whole number written one of these ways.
fn plain_integer(text: &str) -> Option<String> {
    // Underscores only between digits, as Python allows them.
    let bytes = text.as_bytes();
    let underscores_ok = bytes.iter().enumerate().all(|(i, &b)| {
        b != b'_'
            || (i > 0
                && i + 1 < bytes.len()
                && bytes[i - 1].is_ascii_digit()
                && bytes[i + 1].is_ascii_digit())
    });
    if !underscores_ok {
        return None;
    }
    let text = text.replace('_', "");
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.strip_prefix('+').unwrap_or(e).parse::<u32>().ok()?),
        None => (text.as_str(), 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) || exponent > 40 {
        return None;
    }
    let shift = usize::try_from(exponent).ok()?;
    if fraction.len() > shift && fraction[shift..].bytes().any(|b| b != b'0') {
        return None; // 1.5, 2.25e1: not whole
    }
    let kept = &fraction[..fraction.len().min(shift)];
    Some(format!("{whole}{kept}{}", "0".repeat(shift - kept.len())))
}

/// Parses a whole number from 1 to `MAX`, for flags with a sensible ceiling (threads, trials).
///
/// ```
/// use timing::cli::up_to;
/// assert_eq!(up_to::<64>("8"), Ok(8));
/// assert!(up_to::<64>("65").unwrap_err().contains("more than 64"));
/// ```
pub fn up_to<const MAX: u64>(text: &str) -> Result<u64, String> {
    between::<1, MAX>(text)
}

/// Parses a whole number from `MIN` to `MAX`: `--threads` where one thread would show
/// nothing (a race, a lock to share) takes at least 2.
///
/// ```
/// use timing::cli::between;
/// assert_eq!(between::<2, 64>("2"), Ok(2));
/// assert!(between::<2, 64>("1").unwrap_err().contains("at least 2"));
/// ```
pub fn between<const MIN: u64, const MAX: u64>(text: &str) -> Result<u64, String> {
    match positive::<u64>(text)? {
        n if n > MAX => Err(format!("is more than {MAX}")),
        n if n < MIN => Err(format!("must be at least {MIN}")),
        n => Ok(n),
    }
}

/// Parses `--runs`: at least 1 and at most [`MAX_RUNS`].
pub fn runs(text: &str) -> Result<usize, String> {
    let runs = positive::<usize>(text)?;
    if runs > MAX_RUNS {
        return Err(format!("is more than {MAX_RUNS} runs"));
    }
    Ok(runs)
}

/// Ends the program because something failed that is not the user's input: one line on
/// stderr, status 1.
pub fn fail(message: impl fmt::Display) -> ! {
    eprintln!("error: {message}");
    process::exit(1)
}

/// Refuses a workload that needs more than three quarters of the memory available now, so a
/// large `--size` gets a message instead of the kernel's out-of-memory killer. (Linux hands out
/// address space freely - even `Vec::try_reserve` succeeds - and only fails on first touch.)
///
/// ```
/// assert!(timing::cli::check_memory(1 << 20, "a small vector").is_ok());
/// assert!(timing::cli::check_memory(1 << 70, "a huge vector").is_err());
/// ```
pub fn check_memory(bytes: u128, what: &str) -> Result<(), String> {
    let Some(available) = crate::machine::available_memory() else { return Ok(()) };
    let budget = u128::from(available) / 4 * 3;
    if bytes <= budget {
        return Ok(());
    }
    Err(format!(
        "{what} needs {} but this machine has {} available (limit: {})",
        gigabytes(bytes),
        gigabytes(u128::from(available)),
        gigabytes(budget)
    ))
}

fn gigabytes(bytes: u128) -> String {
    // Precision does not matter for a message; u128 -> f64 is exact enough.
    #[allow(clippy::cast_precision_loss)]
    let gb = bytes as f64 / 1e9;
    format!("{gb:.1} GB")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_label_gets_a_line_of_its_own() {
        assert_eq!(cell("short", 8), "short   ");
        assert_eq!(cell("a longer label", 8), "a longer label\n        ");
        let row = format!("{} {}", cell("a longer label", 8), "1.0 ms");
        assert_eq!(row.lines().last(), Some("         1.0 ms"));
    }

    #[test]
    fn memory_check_names_the_need_and_the_limit() {
        let err = check_memory(u128::MAX, "--size 1e30").unwrap_err();
        assert!(err.starts_with("--size 1e30 needs "), "{err}");
        assert!(err.contains("available"), "{err}");
    }

    #[test]
    fn thread_counts_are_one_a_list_or_a_sweep() {
        assert_eq!(thread_counts("4"), Ok(ThreadCounts(vec![4])));
        assert_eq!(thread_counts("4").unwrap().single(), Some(4));
        assert_eq!(thread_counts("8, 2,4,2"), Ok(ThreadCounts(vec![2, 4, 8])));
        assert_eq!(thread_counts("1,2").unwrap().single(), None);
        let cores = crate::machine::cores();
        assert_eq!(thread_counts("sweep"), Ok(ThreadCounts((1..=2 * cores).collect())));
        assert!(thread_counts("0").unwrap_err().contains("give 1 to 1024"));
        assert!(thread_counts("1025").is_err());
        assert!(thread_counts("2,x").unwrap_err().contains("\"x\" is not a whole number"));
        assert!(
            thread_counts(&(1..=65).map(|n| n.to_string()).collect::<Vec<_>>().join(",")).is_err()
        );
    }

    #[test]
    fn runs_are_bounded() {
        assert_eq!(runs("5"), Ok(5));
        assert!(runs("0").is_err());
        assert!(runs("1001").unwrap_err().contains("1000"));
        assert!(positive::<u64>("99999999999999999999999").unwrap_err().contains("too large"));
    }

    #[test]
    fn numbers_are_read_as_a_python_user_writes_them() {
        assert_eq!(plain_integer("1_000_000").as_deref(), Some("1000000"));
        assert_eq!(plain_integer("1e6").as_deref(), Some("1000000"));
        assert_eq!(plain_integer("1E+3").as_deref(), Some("1000"));
        assert_eq!(plain_integer("2.50e2").as_deref(), Some("250"));
        assert_eq!(plain_integer("12.0").as_deref(), Some("12"));
        for bad in
            ["", "_1", "1_", "1__0", "1e", "e6", ".5", "1.5", "1e-3", "1e99", "0x10", "1,000"]
        {
            assert_eq!(plain_integer(bad), None, "{bad:?}");
        }
        assert!(positive::<u64>("1e30").unwrap_err().contains("too large"));
    }

    #[test]
    fn clap_errors_become_one_line_from_what_clap_knows() {
        use clap::Parser;
        #[derive(Parser, Debug)]
        struct Args {
            #[arg(long, value_parser = positive::<u64>, allow_hyphen_values = true)]
            size: Option<u64>,
            #[arg(long, value_parser = ["panic", "kill"])]
            crash: Option<String>,
            #[arg(long, required = true)]
            op: Vec<String>,
        }
        let line = |args: &[&str]| {
            let all = std::iter::once("topic").chain(args.iter().copied());
            one_line(&clap_line(&Args::try_parse_from(all).unwrap_err()))
        };
        assert_eq!(
            line(&["--op", "x", "--size", "0"]),
            "error: invalid value '0' for '--size <SIZE>': must be at least 1 (see --help)"
        );
        assert_eq!(
            line(&["--op", "x", "--crash", "bogus"]),
            "error: invalid value 'bogus' for '--crash <CRASH>' [possible values: panic, kill] (see --help)"
        );
        assert_eq!(line(&["--op", "x", "--sise", "3"]).lines().count(), 1);
        assert!(
            line(&["--op", "x", "--sise", "3"]).starts_with("error: unexpected argument '--sise'")
        );
        assert!(line(&["--op", "x", "--sise", "3"]).contains("did you mean '--size'?"));
        assert_eq!(
            line(&[]),
            "error: the following required arguments were not provided: --op <OP> (see --help)"
        );
    }

    #[test]
    fn usage_errors_are_one_line_with_the_choices_when_there_are_some() {
        let clap_like = "error: invalid value 'bogus' for '--crash-child <CRASH_CHILD>'\n  [possible values: panic, kill]\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line(clap_like),
            "error: invalid value 'bogus' for '--crash-child <CRASH_CHILD>' [possible values: panic, kill] (see --help)"
        );
        assert_eq!(one_line("--size 5: too big"), "error: --size 5: too big (see --help)");
        let missing = "error: the following required arguments were not provided:\n  --op <NAME[:ARGS]>\n\nUsage: ...";
        assert_eq!(
            one_line(missing),
            "error: the following required arguments were not provided: --op <NAME[:ARGS]> (see --help)"
        );
    }

    #[test]
    fn paragraphs_wrap_between_words_with_a_hanging_indent() {
        let text = "word ".repeat(40);
        let lines = wrap("  ", &text);
        assert!(lines.iter().all(|l| l.chars().count() <= WIDTH), "{lines:?}");
        assert!(lines[0].starts_with("  word") && lines[1].starts_with("    word"), "{lines:?}");
        assert_eq!(lines.concat().split_whitespace().count(), 40, "no word lost");
        assert_eq!(wrap("", "one two"), ["one two"]);
        assert!(wrap("  ", "").is_empty());
        let long = "x".repeat(120);
        assert_eq!(wrap("", &long), std::slice::from_ref(&long), "a long word stays whole");
    }

    #[test]
    fn a_refused_option_is_a_line_for_main_not_an_exit() {
        let why = "lambdas times nothing";
        assert_eq!(Runs { count: None }.refuse(why), Ok(()));
        assert_eq!(Runs { count: Some(3) }.refuse(why), Err(format!("--runs: {why}")));
        let threads = Threads { counts: Some(ThreadCounts(vec![2])) };
        assert_eq!(threads.refuse(why), Err(format!("--threads: {why}")));
        let vs = |enabled, interpreter: Option<&str>| VsPython {
            enabled,
            interpreter: interpreter.map(Into::into),
        };
        assert_eq!(vs(false, None).refuse(why), Ok(()));
        // The flag named is the one given: --vs-python where it was, else --python alone.
        assert_eq!(vs(true, Some("python3")).refuse(why), Err(format!("--vs-python: {why}")));
        assert_eq!(vs(false, Some("python3")).refuse(why), Err(format!("--python: {why}")));
        #[cfg(feature = "chart")]
        assert_eq!(Svg { path: Some("a.svg".into()) }.refuse(why), Err(format!("--svg: {why}")));
    }

    #[test]
    fn gigabytes_has_one_decimal() {
        assert_eq!(gigabytes(72_000_000), "0.1 GB");
        assert_eq!(gigabytes(800_000_000_000), "800.0 GB");
    }
}

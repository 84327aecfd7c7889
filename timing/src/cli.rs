//! Conventions every topic binary shares: bad input is one line on stderr and exit status 2,
//! a size that cannot fit in memory is refused before anything is allocated, and output piped
//! into `head` ends the program quietly instead of panicking.

use std::fmt;
use std::io::{self, Write};
use std::process;
use std::str::FromStr;

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

/// The function behind [`say!`](crate::say).
pub fn write_line(args: fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    match writeln!(out, "{args}") {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => process::exit(0),
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            process::exit(1)
        }
    }
}

/// Ends the program because of bad input: the first line of `message` on stderr, status 2.
/// Multi-line messages (clap's usage block) are cut to their first line.
pub fn usage_error(message: impl fmt::Display) -> ! {
    let message = message.to_string();
    let first = message.lines().find(|l| !l.trim().is_empty()).unwrap_or("bad arguments");
    let first = first.trim();
    if first.starts_with("error:") {
        eprintln!("{first} (see --help)");
    } else {
        eprintln!("error: {first} (see --help)");
    }
    process::exit(2)
}

/// Parses a whole number of at least 1, for `--size`-like flags (use with clap's
/// `value_parser` and `allow_hyphen_values`, so that `-5` reaches it and gets this message).
///
/// ```
/// use timing::cli::positive;
/// assert_eq!(positive::<u64>("9000000"), Ok(9_000_000));
/// assert!(positive::<u64>("0").unwrap_err().contains("at least 1"));
/// assert!(positive::<u64>("-5").unwrap_err().contains("negative"));
/// assert!(positive::<u64>("ten").unwrap_err().contains("not a whole number"));
/// ```
pub fn positive<T: FromStr + PartialOrd + From<u8>>(text: &str) -> Result<T, String> {
    match text.parse::<T>() {
        Ok(value) if value >= T::from(1) => Ok(value),
        Ok(_) => Err("must be at least 1".to_owned()),
        Err(_) if text.starts_with('-') => Err("must not be negative".to_owned()),
        Err(_) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            Err("is too large for this program".to_owned())
        }
        Err(_) => Err("is not a whole number".to_owned()),
    }
}

/// Parses a whole number from 1 to `MAX`, for flags with a sensible ceiling (threads, trials).
///
/// ```
/// use timing::cli::up_to;
/// assert_eq!(up_to::<64>("8"), Ok(8));
/// assert!(up_to::<64>("65").unwrap_err().contains("more than 64"));
/// ```
pub fn up_to<const MAX: u64>(text: &str) -> Result<u64, String> {
    match positive::<u64>(text)? {
        n if n > MAX => Err(format!("is more than {MAX}")),
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
    let Some(available) = available_memory() else { return Ok(()) };
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

/// Bytes of memory the kernel can give without swapping, where the system tells us (Linux).
/// `HPC_RS_MEMORY_AVAILABLE=<bytes>` pretends the machine has that much, to try the limit (the
/// tests use it so that a refusal does not depend on the machine's size).
pub fn available_memory() -> Option<u64> {
    if let Some(pretend) =
        std::env::var("HPC_RS_MEMORY_AVAILABLE").ok().and_then(|v| v.parse().ok())
    {
        return Some(pretend);
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
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
    fn memory_check_names_the_need_and_the_limit() {
        let err = check_memory(u128::MAX, "--size 1e30").unwrap_err();
        assert!(err.starts_with("--size 1e30 needs "), "{err}");
        assert!(err.contains("available"), "{err}");
    }

    #[test]
    fn runs_are_bounded() {
        assert_eq!(runs("5"), Ok(5));
        assert!(runs("0").is_err());
        assert!(runs("1001").unwrap_err().contains("1000"));
        assert!(positive::<u64>("99999999999999999999999").unwrap_err().contains("too large"));
    }

    #[test]
    fn gigabytes_has_one_decimal() {
        assert_eq!(gigabytes(72_000_000), "0.1 GB");
        assert_eq!(gigabytes(800_000_000_000), "800.0 GB");
    }
}

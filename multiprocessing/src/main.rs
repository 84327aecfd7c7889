//! Notebook section 2.d, "MultiProcessing": the three sums in three child processes made with
//! `fork`, what a process costs, where processes pay off against threads, separate and shared
//! memory, results through pipes, and children that crash. Unix only (nix).
//!
//! Run: `cargo run -p multiprocessing` (options: `--size`, `--runs`, `--crash-child panic|kill`,
//! `--vs-python`; see `--help`).

use std::fs::File;
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::num::NonZeroUsize;
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous, munmap};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid, pipe};
use timing::chart::Figure;
use timing::{Stats, cli, say};

/// Section 2.d of the notebook: processes with fork, pipes and shared memory.
#[derive(Parser)]
#[command(about, long_about = None)]
struct Args {
    /// Length of the timed real work, where processes pay off (the notebook's cell always runs
    /// at its `length = 5`) [default: 50000000; 2000000 with --vs-python, which CPython sums
    /// in seconds, not minutes].
    #[arg(long, value_parser = length, allow_hyphen_values = true)]
    size: Option<u64>,
    /// Make the notebook cell's second child crash, to show how the parent reports it.
    #[arg(long, value_enum)]
    crash_child: Option<Crash>,
    #[command(flatten)]
    timed: cli::Timed<cli::VsPython>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Crash {
    /// The child panics: it exits with status 101, as a panicking Rust program does.
    Panic,
    /// The child is killed by SIGKILL, as by the out-of-memory killer or `kill -9`.
    Kill,
}

/// The notebook's three functions, as one function with the power as its parameter.
const SUMS: [(&str, u32); 3] = [("Normal", 1), ("Square", 2), ("Cubic", 3)];

/// The notebook's `length = 5`.
const NOTEBOOK_LENGTH: u64 = 5;

fn main() -> ExitCode {
    let args = cli::parse::<Args>();
    let size = args.size.unwrap_or(if args.timed.python.enabled { 2_000_000 } else { 50_000_000 });
    let picture = args.timed.svg.open();
    say!("== 2.d Multiprocessing with fork");
    let result = (|| -> Result<ExitCode, Failure> {
        if !notebook_cell(args.crash_child)? {
            eprintln!("error: a child process failed (--crash-child); every child was reaped");
            return Ok(ExitCode::FAILURE);
        }
        say!();
        let mut figure = Figure::new("multiprocessing: processes made by fork, against one");
        let tiny = tiny_work(args.timed.runs.get(), &mut figure)?;
        say!();
        let real = real_work(size, args.timed.runs.get(), &mut figure)?;
        say!();
        sweep(size, args.timed.runs.get(), &mut figure)?;
        say!();
        separate_memory()?;
        shared_memory()?;
        results_through_pipes()?;
        if args.timed.python.enabled {
            say!();
            vs_python(
                size,
                args.timed.runs.get(),
                [tiny, real],
                args.timed.python.interpreter.as_deref(),
                &mut figure,
            );
        }
        if let Some(picture) = picture {
            figure.save(picture);
        }
        Ok(ExitCode::SUCCESS)
    })();
    result.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })
}

/// What can stop the lesson, each said as what really happened.
#[derive(Debug)]
enum Failure {
    /// A system call (fork, pipe, waitpid, mmap) failed.
    System(nix::Error),
    /// Reading a child's pipe or flushing stdout failed.
    Io(io::Error),
    /// The process runs more than one thread, so a fork could copy a lock another thread holds.
    NotSingleThreaded,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::System(e) => write!(f, "a system call failed: {e}"),
            Failure::Io(e) => write!(f, "reading a child's result or writing output failed: {e}"),
            Failure::NotSingleThreaded => write!(
                f,
                "refusing to fork: this process still runs more than one thread, and the child would get only the forking one"
            ),
        }
    }
}

impl From<nix::Error> for Failure {
    fn from(e: nix::Error) -> Failure {
        Failure::System(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Io(e)
    }
}

/// `do_multi_processing()`: three children each compute one sum and print it, as in the
/// notebook; the parent waits for each (`waitpid`) and says how it ended. Returns whether every
/// child succeeded.
fn notebook_cell(crash: Option<Crash>) -> Result<bool, Failure> {
    let length = NOTEBOOK_LENGTH;
    say!("[1] three child processes, length {length} (children print in whatever order they run):");
    let outcomes = in_children(SUMS.map(|(name, power)| {
        move || {
            if power == 2 {
                crash_if_asked(crash);
            }
            let sum = power_sum(0..length, power);
            say!("{name} sum of is {sum}");
            sum
        }
    }))?;
    let expected = expected_sums(length);
    let mut all_ok = true;
    for ((name, _), (outcome, want)) in SUMS.iter().zip(outcomes.iter().zip(expected)) {
        let ok =
            outcome.result == Some(want) && outcome.ended == WaitStatus::Exited(outcome.pid, 0);
        all_ok &= ok;
        say!("    {name} child: {}", outcome.describe());
    }
    say!(
        "    (fork copies the whole process, buffers included: stdout is flushed before each fork"
    );
    say!("    and children leave with _exit, so no line prints twice; and fork happens only while");
    say!("    this process runs one thread, since the child gets only the thread that forked)");
    Ok(all_ok)
}

/// The notebook's timing: three processes for tiny work against plain calls, and what one
/// fork+wait costs on its own.
fn tiny_work(runs: usize, figure: &mut Figure) -> Result<[Stats; 2], Failure> {
    let length = NOTEBOOK_LENGTH;
    let warmup = timing::after_warmup(runs);
    say!("[2] the notebook's timing: length {length}, {warmup}");
    figure.panel(format!("[2] the notebook's timing: length {length}"));
    let sequential = time_sequential(length, runs);
    say!("{}", sequential.baseline_line("sequential"));
    figure.baseline("sequential", &sequential);
    let processes = time_processes(length, runs)?;
    say!("{}  {}", processes.line("three processes"), processes.speedup_over(&sequential));
    figure.bar("three processes", &processes);
    let (_, one_fork) =
        timing::measure_without_threads(runs, || in_children([|| 0]).map(|[o]| o.result));
    say!("{}", one_fork.line("one fork + _exit + waitpid"));
    figure.bar("one fork + _exit + waitpid", &one_fork);
    say!("    The notebook: 34.5 ms against 0.52 ms. A process costs a fork, a copy of the page");
    if processes.median > sequential.median * 10 {
        say!("    tables and a wait; for a few additions that is all the time there is.");
    } else {
        say!("    tables and a wait; here that cost came close to the work itself.");
    }
    Ok([sequential, processes])
}

/// Enough work per sum for processes to pay off on the available cores.
fn real_work(length: u64, runs: usize, figure: &mut Figure) -> Result<[Stats; 2], Failure> {
    let cores = timing::machine::cores();
    let cores_text = timing::plural(cores, "core");
    let warmup = timing::after_warmup(runs);
    say!("[3] real work: length {length}, {warmup}, {cores_text}");
    figure.panel(format!("[3] real work: length {length}, {cores_text}"));
    // Processes first, printed at once: the interrupt test expects children right after the
    // heading, and a long run shows a row before the sequential one is measured.
    let processes = time_processes(length, runs)?;
    say!("{}", processes.line("three processes"));
    figure.bar("three processes", &processes);
    let sequential = time_sequential(length, runs);
    say!("{}", sequential.baseline_line("sequential"));
    figure.baseline("sequential", &sequential);
    say!("{:<34} {}", "three processes against sequential", processes.speedup_over(&sequential));
    if cores < SUMS.len() {
        say!("    Three jobs on {cores_text}: some processes share a core, as the threads did in");
        say!("    `cargo run -p threading`; each process also pays for its fork and wait.");
    } else {
        say!(
            "    Three jobs on {cores_text}: each process can have a core; the longest sum sets the"
        );
        say!("    pace, and each process also pays for its fork and wait.");
    }
    Ok([sequential, processes])
}

/// Processes next to threads for the same work, from tiny to real: where each starts to pay.
/// Each row is printed as soon as it is measured.
fn sweep(max_length: u64, runs: usize, figure: &mut Figure) -> Result<(), Failure> {
    say!(
        "[4] where threads and processes start to pay off (median of {runs}, speedup against sequential):"
    );
    say!("    {:>10}  {:>10}  {:>26}  {:>26}", "length", "sequential", "3 threads", "3 processes");
    let lengths = [1_000, 10_000, 100_000, 1_000_000, 10_000_000];
    let mut rows = Vec::new();
    for length in lengths.into_iter().filter(|&l| l <= max_length) {
        let sequential = time_sequential(length, runs);
        let threads = time_threads(length, runs);
        let processes = time_processes(length, runs)?;
        figure.panel(format!("[4] length {length}"));
        figure.baseline("sequential", &sequential);
        figure.bar("3 threads", &threads);
        figure.bar("3 processes", &processes);
        let cell = |s: &Stats| {
            let ratio = s.speedup_over(&sequential).sentence("faster", "slower");
            format!("{} ({ratio})", timing::human(s.median))
        };
        say!(
            "    {length:>10}  {:>10}  {:>26}  {:>26}",
            timing::human(sequential.median),
            cell(&threads),
            cell(&processes)
        );
        rows.push((
            length,
            threads.speedup_over(&sequential).0,
            processes.speedup_over(&sequential).0,
        ));
    }
    for line in sweep_sentence(&rows) {
        say!("{line}");
    }
    Ok(())
}

/// Where each started to pay off (the first length with a gain of 1.1x or more), in words.
fn sweep_sentence(rows: &[(u64, f64, f64)]) -> Vec<String> {
    let first =
        |pick: fn(&(u64, f64, f64)) -> f64| rows.iter().find(|r| pick(r) >= 1.1).map(|r| r.0);
    let (threads, processes) = (first(|r| r.1), first(|r| r.2));
    let largest = rows.last().map_or(0, |r| r.0);
    let lines: Vec<String> = match (threads, processes) {
        (Some(t), Some(p)) if t < p => vec![
            format!("    Threads paid off from length {t}, processes from {p}: a thread costs tens of"),
            "    microseconds to start, a process hundreds - and processes share no memory unless asked.".to_owned(),
        ],
        (Some(t), Some(p)) if t == p => vec![
            format!("    Both paid off from length {t} on this run: below it, starting them costs more than"),
            "    the work; a process still costs more than a thread (see [2]).".to_owned(),
        ],
        (Some(t), Some(p)) => vec![
            format!("    Processes paid off from length {p}, threads only from {t}: against expectation, as a"),
            "    thread starts faster than a process; one slow run can do this. Re-run to compare:".to_owned(),
            "    `cargo run -p multiprocessing`.".to_owned(),
        ],
        (Some(t), None) => vec![
            format!("    Threads paid off from length {t}; processes not up to {largest}: each pays for a fork"),
            "    and a wait, and needs more work per job. Try a larger --size.".to_owned(),
        ],
        (None, Some(p)) => vec![
            format!("    Processes paid off from length {p}, threads not at all up to {largest}: against"),
            "    expectation; another program may be using the cores. Re-run to compare.".to_owned(),
        ],
        (None, None) => vec![
            format!("    Neither paid off up to length {largest}: too little work per job, or busy cores."),
            "    Try a larger --size: `cargo run -p multiprocessing -- --size 50000000`.".to_owned(),
        ],
    };
    lines
}

/// Each process has its own memory. The compiler sees the child's closure mutate `counter`,
/// but `fork` gave the child a copy: the parent's `counter` never changes.
fn separate_memory() -> Result<(), Failure> {
    let mut counter: u128 = 1;
    let [child] = in_children([|| {
        counter = 99;
        counter
    }])?;
    assert_eq!((child.result, counter), (Some(99), 1));
    say!(
        "[5] separate memory: the child set counter = 99 (it sent back {}); the parent's counter is still {counter}",
        child.result.unwrap_or_default()
    );
    Ok(())
}

/// Shared memory as `multiprocessing.Value` does it: an anonymous `MAP_SHARED` mapping that
/// every child sees, holding an atomic counter each of them increments.
fn shared_memory() -> Result<(), Failure> {
    const CHILDREN: usize = 4;
    const INCREMENTS: u64 = 100_000;
    let shared = SharedCounter::new()?;
    let outcomes = in_children([(); CHILDREN].map(|()| {
        || {
            for _ in 0..INCREMENTS {
                shared.get().fetch_add(1, Ordering::Relaxed);
            }
            0
        }
    }))?;
    assert!(outcomes.iter().all(|o| o.ended == WaitStatus::Exited(o.pid, 0)));
    let total = shared.get().load(Ordering::Relaxed);
    assert_eq!(total, CHILDREN as u64 * INCREMENTS);
    say!(
        "    shared memory: {CHILDREN} children x {INCREMENTS} fetch_add on a MAP_SHARED counter = {total}"
    );
    Ok(())
}

/// Results back through pipes (the `multiprocessing.Pipe`/`Queue` analog): the children print
/// nothing, the parent prints their sums in a fixed order.
fn results_through_pipes() -> Result<(), Failure> {
    let length = NOTEBOOK_LENGTH;
    let outcomes = in_children(SUMS.map(|(_, power)| move || power_sum(0..length, power)))?;
    say!("[6] results through pipes, printed by the parent in a fixed order:");
    for ((name, _), (outcome, want)) in SUMS.iter().zip(outcomes.iter().zip(expected_sums(length)))
    {
        assert_eq!(outcome.result, Some(want), "{name}");
        say!("    {name} sum of is {want}");
    }
    Ok(())
}

/// The same two timings in CPython with `multiprocessing.Process`, and each language's own
/// speedup from processes at the real-work length.
fn vs_python(
    real: u64,
    runs: usize,
    rust: [[Stats; 2]; 2],
    python: Option<&std::path::Path>,
    figure: &mut Figure,
) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/twin.py");
    let twin = timing::python::Twin::plain(script, python);
    let args = [NOTEBOOK_LENGTH.to_string(), runs.to_string(), real.to_string()];
    let [[tiny_sequential, tiny_processes], [real_sequential, real_processes]] = &rust;
    let pairs = [
        ("sequential, tiny", tiny_sequential),
        ("three processes, tiny", tiny_processes),
        ("three processes, real", real_processes),
        ("sequential, real", real_sequential),
    ];
    let Some((_, [_, _, python_processes, python_sequential])) =
        timing::python::compare_each(&twin, &args, &pairs, figure)
    else {
        return; // no Python here: said on stderr
    };
    say!(
        "Three processes against sequential at length {real}: Rust {}, Python {}",
        real_processes.speedup_over(real_sequential),
        python_processes.stats.speedup_over(&python_sequential.stats)
    );
}

// ---- processes ----

/// What became of one child: its result (if it sent one through its pipe) and how it ended.
struct Outcome {
    pid: Pid,
    result: Option<u128>,
    ended: WaitStatus,
}

impl Outcome {
    fn describe(&self) -> String {
        let sent = self.result.map_or("sent nothing".to_owned(), |r| format!("sent {r}"));
        match self.ended {
            WaitStatus::Exited(_, code) => format!("exited with status {code}, {sent}"),
            WaitStatus::Signaled(_, signal, _) => format!("killed by {signal:?}, {sent}"),
            other => format!("ended as {other:?}, {sent}"),
        }
    }
}

/// A running child: its pid and the read end of the pipe it sends its result through. If it is
/// dropped without being reaped (the parent is unwinding), it is killed and reaped: no zombie.
struct Child {
    pid: Pid,
    results: Option<File>,
}

/// Runs each job in its own child process, all at once, then reaps them all in order.
fn in_children<const N: usize>(jobs: [impl FnOnce() -> u128; N]) -> Result<[Outcome; N], Failure> {
    io::stdout().flush()?; // nothing buffered is printed twice
    // Checked once per batch: the parent starts no thread between these forks.
    if !single_threaded() {
        return Err(Failure::NotSingleThreaded);
    }
    let mut children = Vec::with_capacity(N);
    for job in jobs {
        children.push(spawn_child(job)?); // on error, `children` drops: the rest are reaped
    }
    let outcomes: Vec<Outcome> = children.into_iter().map(reap).collect::<Result<_, Failure>>()?;
    Ok(outcomes.try_into().unwrap_or_else(|_| unreachable!("one outcome per job")))
}

/// Forks one child running `job`; the caller has checked that this process is single-threaded.
fn spawn_child(job: impl FnOnce() -> u128) -> nix::Result<Child> {
    let (read_end, write_end) = pipe()?;
    let parent = getpid();
    // SAFETY: this process runs one thread (checked by `in_children`: fork happens before any
    // thread is started, or after all have been joined), so no lock is held by a thread that
    // the child would not have; the child only runs `job`, writes its pipe and leaves with
    // `_exit`.
    #[allow(unsafe_code)]
    match unsafe { fork() }? {
        ForkResult::Parent { child } => {
            Ok(Child { pid: child, results: Some(File::from(read_end)) })
        }
        ForkResult::Child => {
            drop(read_end);
            // Die with the parent (Ctrl-C, kill): no orphan keeps running. If the parent is
            // already gone, leave now.
            let orphaned = !die_with_parent() || getppid() != parent;
            let code = if orphaned {
                1
            } else {
                // A panic must not unwind into the parent's code, which this child also holds.
                match panic::catch_unwind(AssertUnwindSafe(job)) {
                    Ok(value) => {
                        i32::from(File::from(write_end).write_all(&value.to_le_bytes()).is_err())
                    }
                    Err(_) => 101,
                }
            };
            let _ = io::stdout().flush();
            // SAFETY: `_exit` ends the child at once, without running the parent's exit handlers
            // or destructors a second time; it is async-signal-safe.
            #[allow(unsafe_code)]
            unsafe {
                nix::libc::_exit(code)
            }
        }
    }
}

/// Reads the child's result to the end of its pipe, then waits for it.
fn reap(mut child: Child) -> Result<Outcome, Failure> {
    let mut bytes = Vec::new();
    if let Some(mut pipe) = child.results.take() {
        pipe.read_to_end(&mut bytes)?;
    }
    let ended = wait_for(child.pid)?;
    let result = <[u8; 16]>::try_from(bytes.as_slice()).ok().map(u128::from_le_bytes);
    let pid = child.pid;
    std::mem::forget(child); // reaped: nothing left for Drop to do
    Ok(Outcome { pid, result, ended })
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = kill(self.pid, Signal::SIGKILL);
        let _ = wait_for(self.pid);
    }
}

fn wait_for(pid: Pid) -> nix::Result<WaitStatus> {
    loop {
        match waitpid(pid, None) {
            Err(nix::Error::EINTR) => continue,
            other => return other,
        }
    }
}

/// Asks the kernel to SIGKILL this child when its parent dies (Linux's PR_SET_PDEATHSIG).
/// Elsewhere there is no such request; a Ctrl-C still reaches the whole process group.
fn die_with_parent() -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).is_ok();
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    return true;
}

/// What `--crash-child` asks the child to do.
fn crash_if_asked(crash: Option<Crash>) {
    match crash {
        Some(Crash::Panic) => {
            panic::set_hook(Box::new(|_| {
                eprintln!("(child) panicked on purpose: --crash-child panic")
            }));
            panic!("--crash-child panic");
        }
        Some(Crash::Kill) => {
            let _ = kill(getpid(), Signal::SIGKILL);
        }
        None => {}
    }
}

/// Whether this process runs a single thread now (Linux: /proc/self/status). A joined thread
/// may take a moment to vanish from the count, so wait briefly for it.
fn single_threaded() -> bool {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let threads = status.lines().find_map(|l| l.strip_prefix("Threads:")).map(str::trim);
        if threads.is_none_or(|t| t == "1") {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::yield_now();
    }
}

// ---- shared memory ----

/// One `AtomicU64` in an anonymous shared mapping: children forked after it is made all see the
/// same page, unlike ordinary memory, which each child gets a private copy of.
struct SharedCounter {
    page: NonNull<nix::libc::c_void>,
}

impl SharedCounter {
    const LEN: NonZeroUsize = NonZeroUsize::new(std::mem::size_of::<AtomicU64>()).unwrap();

    fn new() -> nix::Result<SharedCounter> {
        // SAFETY: a new anonymous mapping aliases no existing memory; the kernel zero-fills it,
        // and zero bytes are a valid AtomicU64.
        #[allow(unsafe_code)]
        let page = unsafe {
            mmap_anonymous(
                None,
                Self::LEN,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }?;
        Ok(SharedCounter { page })
    }

    fn get(&self) -> &AtomicU64 {
        // SAFETY: the mapping is page-aligned, large enough, zero-initialised and lives as long
        // as `self`; all access goes through the atomic, so concurrent use by processes is sound.
        #[allow(unsafe_code)]
        unsafe {
            self.page.cast::<AtomicU64>().as_ref()
        }
    }
}

impl Drop for SharedCounter {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `new` with this length, and no reference from `get`
        // outlives `self`.
        #[allow(unsafe_code)]
        let _ = unsafe { munmap(self.page, Self::LEN.get()) };
    }
}

// ---- the sums and how they are timed ----

/// The sum of x^power over `range`; each x passes through `black_box` so the loop really runs.
fn power_sum(range: Range<u64>, power: u32) -> u128 {
    range.map(|x| u128::from(black_box(x)).pow(power)).sum()
}

/// The closed forms n(n-1)/2, (n-1)n(2n-1)/6 and (n(n-1)/2)^2, computed as `threading` does:
/// checked, so a sum past u128 is a loud error, not a wrong number (`--size` is bounded so
/// that it cannot happen).
fn expected_sums(length: u64) -> [u128; 3] {
    let n = u128::from(length);
    let sums = (|| {
        let linear = n.checked_mul(n.checked_sub(1)?)? / 2;
        let square = (n.checked_sub(1)?).checked_mul(n)?.checked_mul(2 * n - 1)? / 6;
        Some([linear, square, linear.checked_mul(linear)?])
    })();
    sums.expect("--size is at most 6x10^9, where every sum fits u128")
}

fn time_sequential(length: u64, runs: usize) -> Stats {
    let (sums, stats) =
        timing::measure(runs, || SUMS.map(|(_, power)| power_sum(0..length, power)));
    assert_eq!(sums, expected_sums(length));
    stats
}

fn time_threads(length: u64, runs: usize) -> Stats {
    let (sums, stats) = timing::measure(runs, || {
        thread::scope(|s| {
            SUMS.map(|(_, power)| s.spawn(move || power_sum(0..length, power)))
                .map(|h| h.join().expect("sum thread panicked"))
        })
    });
    assert_eq!(sums, expected_sums(length));
    stats
}

fn time_processes(length: u64, runs: usize) -> Result<Stats, Failure> {
    let mut failure = None;
    let (sums, stats) = timing::measure_without_threads(runs, || {
        match in_children(SUMS.map(|(_, power)| move || power_sum(0..length, power))) {
            Ok(outcomes) => outcomes.map(|o| o.result.unwrap_or_default()),
            Err(e) => {
                failure = Some(e);
                [0; 3]
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    assert_eq!(sums, expected_sums(length));
    Ok(stats)
}

/// A length from 1 up to 6x10^9, where the cube sum still fits u128.
fn length(text: &str) -> Result<u64, String> {
    match cli::positive::<u64>(text)? {
        n if n > 6_000_000_000 => {
            Err("is more than 6000000000 (the cube sum would overflow u128)".to_owned())
        }
        n => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_sentence_names_where_each_paid_off() {
        let rows = |t: [f64; 3], p: [f64; 3]| -> Vec<(u64, f64, f64)> {
            [1_000, 100_000, 10_000_000]
                .into_iter()
                .zip(t.into_iter().zip(p))
                .map(|(l, (t, p))| (l, t, p))
                .collect()
        };
        let expected = sweep_sentence(&rows([0.1, 1.5, 1.9], [0.01, 0.5, 1.6])).join(" ");
        assert!(
            expected.contains("Threads paid off from length 100000, processes from 10000000"),
            "{expected}"
        );
        // The case the issue saw: at 1M threads 1.02x, processes 1.30x.
        let odd = sweep_sentence(&rows([0.1, 1.02, 1.5], [0.01, 1.3, 1.6])).join(" ");
        assert!(
            odd.contains("Processes paid off from length 100000, threads only from 10000000"),
            "{odd}"
        );
        assert!(odd.contains("against expectation") && odd.contains("Re-run"), "{odd}");
        let neither = sweep_sentence(&rows([0.1, 0.9, 1.0], [0.01, 0.5, 0.9])).join(" ");
        assert!(neither.contains("Neither paid off up to length 10000000"), "{neither}");
        let same = sweep_sentence(&rows([0.1, 1.2, 1.9], [0.01, 1.2, 1.6])).join(" ");
        assert!(same.contains("Both paid off from length 100000"), "{same}");
    }

    #[test]
    fn failures_say_what_really_happened() {
        assert!(
            Failure::NotSingleThreaded
                .to_string()
                .starts_with("refusing to fork: this process still runs")
        );
        let io = Failure::from(io::Error::from(io::ErrorKind::BrokenPipe)).to_string();
        assert!(io.starts_with("reading a child's result or writing output failed"), "{io}");
        assert!(Failure::from(nix::Error::EAGAIN).to_string().starts_with("a system call failed"));
    }

    #[test]
    fn expected_sums_agree_with_the_loops() {
        for length in [1, 2, 5, 1000] {
            assert_eq!(expected_sums(length), SUMS.map(|(_, p)| power_sum(0..length, p)));
        }
    }
}

//! Notebook section 2.d, "MultiProcessing": the three sums in three child processes made with
//! `fork`, what a process costs, where processes pay off against threads, separate and shared
//! memory, results through pipes, children that crash, and how a process starts - `fork`
//! against a fresh program (`Command`), beside Python's three start methods. No child outlives
//! the program or is left a zombie, even on Ctrl-C. Unix only (nix).
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
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous, munmap};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, kill, sigaction};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid, pipe};
use timing::chart::{Figure, Picture};
use timing::{Stats, cli, say};

mod report;

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
    /// Run as the fresh program [7] starts with `Command`: print the sum of x^POWER for x in
    /// 0..LENGTH and exit.
    #[arg(long, hide = true, num_args = 2, value_names = ["POWER", "LENGTH"])]
    sum_child: Option<Vec<u64>>,
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
    if let Some([power, length]) = args.sum_child.as_deref() {
        return sum_child(*power, *length);
    }
    let size = args.size.unwrap_or(if args.timed.python.enabled { 2_000_000 } else { 50_000_000 });
    let runs = args.timed.runs.get();
    let picture = Picture::for_svg(&args.timed.svg).unwrap_or_else(|e| cli::usage_error(e));
    reap_children_on_interrupt();
    let fork_check = ForkCheck::here();
    say!("== 2.d Multiprocessing with fork");
    let result = (|| -> Result<ExitCode, Failure> {
        if !notebook_cell(args.crash_child, fork_check)? {
            eprintln!("error: a child process failed (--crash-child); every child was reaped");
            return Ok(ExitCode::FAILURE);
        }
        say!();
        let mut figure = Figure::new("multiprocessing: processes made by fork, against one");
        let tiny = tiny_work(runs, &mut figure)?;
        say!();
        let real = real_work(size, runs, &mut figure)?;
        say!();
        let rows = sweep(size, runs, &mut figure)?;
        report::where_each_paid_off(&rows);
        say!();
        separate_memory()?;
        shared_memory()?;
        results_through_pipes()?;
        say!();
        let started = how_a_process_starts(runs, fork_check, &mut figure)?;
        if let Some(twin) = timing::twin!(args.timed.python) {
            say!();
            let measured = report::Measured { tiny, real, started };
            report::vs_python(size, runs, &measured, &twin, &mut figure)
                .unwrap_or_else(|e| cli::fail(e));
        }
        if let Some(picture) = picture {
            figure.save(picture).unwrap_or_else(|e| cli::fail(e));
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
fn notebook_cell(crash: Option<Crash>, fork_check: ForkCheck) -> Result<bool, Failure> {
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
    for line in fork_note(fork_check) {
        say!("    {line}");
    }
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
    let cost = if processes.median > sequential.median * 10 {
        "for a few additions that is all the time there is."
    } else {
        "here that cost came close to the work itself."
    };
    cli::paragraph(
        "    ",
        &format!(
            "The notebook (not measured here): 34.5 ms against 0.52 ms. A process costs a fork, a copy of the page tables and a wait; {cost}"
        ),
    );
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
fn sweep(max_length: u64, runs: usize, figure: &mut Figure) -> Result<Vec<report::Row>, Failure> {
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
    Ok(rows)
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

/// Shared memory, as `multiprocessing.Value` gives it, but anonymous: a `MAP_SHARED` page that
/// only children forked after it see. CPython's `Value` lives in a `heap.Arena`, which on POSIX
/// maps a temporary file - in /dev/shm on Linux when it has room - unlinked at once, so that
/// children started by spawn or forkserver, which inherit no mapping, can be sent its file
/// descriptor and map it too (Lib/multiprocessing/heap.py, 3.8 to 3.14). `Value` puts a lock
/// beside the number, and `v.value += 1` is a read then a write, not atomic: each increment
/// needs `with v.get_lock():`, since Python has no atomic fetch_add on shared memory. Here an
/// `AtomicU64` sits in the page, and each child's `fetch_add` is one indivisible
/// read-modify-write - on x86-64 a `lock`-prefixed instruction (`objdump -d` of this build
/// shows `lock inc`, as the old value goes unused) - with no lock at all.
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
    // CPython: Lib/multiprocessing/heap.py (Arena, POSIX) and sharedctypes.py (Value), 3.8-3.14.
    cli::paragraph(
        "    ",
        "(Python's multiprocessing.Value is shared memory too, with a lock beside it - but not anonymous: a temporary file (in /dev/shm on Linux), unlinked at once, whose descriptor is sent to children started by spawn or forkserver so that they can map it too; this anonymous page reaches only children forked after it. `v.value += 1` is a read then a write, so each needs `with v.get_lock():` - Python has no atomic fetch_add.)",
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

/// [7] How a process starts. `fork` copies this process - its memory, page by page on first
/// write, and only the thread that forked - and the child goes on from the fork. `Command`
/// starts a fresh program (fork or posix_spawn, then exec): it loads the binary and begins at
/// `main`, taking its arguments as text and handing back results through its stdout. The
/// three sums both ways, at the notebook's length.
fn how_a_process_starts(
    runs: usize,
    fork_check: ForkCheck,
    figure: &mut Figure,
) -> Result<[Stats; 2], Failure> {
    let length = NOTEBOOK_LENGTH;
    say!("[7] how a process starts: a copy of this one (fork), or a fresh program (Command)");
    figure.panel(format!("[7] three processes, length {length}: fork or Command"));
    let forked = time_processes(length, runs)?;
    say!("{}", forked.baseline_line("three processes, fork"));
    figure.baseline("three processes, fork", &forked);
    let (sums, started) = timing::measure(runs, || {
        SUMS.map(|(_, power)| start_sum_child(power, length)).map(finish_sum_child)
    });
    let sums = sums.into_iter().collect::<Result<Vec<u128>, Failure>>()?;
    assert_eq!(sums, expected_sums(length), "the fresh programs' sums");
    say!("{}  {}", started.line("three processes, Command (exec)"), started.speedup_over(&forked));
    figure.bar("three processes, Command (exec)", &started);
    report::start_methods(&forked, &started, fork_check);
    Ok([forked, started])
}

/// This binary started afresh with `--sum-child POWER LENGTH`: [7]'s way to start a process.
fn start_sum_child(power: u32, length: u64) -> io::Result<std::process::Child> {
    std::process::Command::new(std::env::current_exe()?)
        .args(["--sum-child", &power.to_string(), &length.to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
}

/// Its sum, read from its stdout once it has ended well.
fn finish_sum_child(child: io::Result<std::process::Child>) -> Result<u128, Failure> {
    let output = child?.wait_with_output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    match (output.status.success(), text.trim().parse()) {
        (true, Ok(sum)) => Ok(sum),
        _ => Err(Failure::Io(io::Error::other(format!(
            "a fresh child ended with {} and printed {text:?}",
            output.status
        )))),
    }
}

/// In the fresh program: the sum, on stdout.
fn sum_child(power: u64, length: u64) -> ExitCode {
    let power = u32::try_from(power).unwrap_or_else(|_| cli::usage_error("--sum-child: a power"));
    say!("{}", power_sum(0..length, power));
    ExitCode::SUCCESS
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
    // Checked once per batch: the parent starts no thread between these forks. Where the count
    // cannot be read (`None`) the rule holds by design alone - every thread this program starts
    // is joined before it forks - and the lesson says it was not checked (`ForkCheck`).
    if single_threaded() == Some(false) {
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
    // Ctrl-C held back until the child is on the list the handler reaps: no child escapes it.
    let interrupts = interrupt_signals();
    interrupts.thread_block()?;
    // SAFETY: this process runs one thread (fork happens before any thread is started, or
    // after all have been joined; `in_children` checks it where /proc shows the count), so no
    // lock is held by a thread that the child would not have; the child only runs `job`,
    // writes its pipe and leaves with `_exit`.
    #[allow(unsafe_code)]
    let forked = unsafe { fork() };
    match forked {
        Err(e) => {
            interrupts.thread_unblock()?;
            Err(e)
        }
        Ok(ForkResult::Parent { child }) => {
            LIVE_CHILDREN.add(child);
            interrupts.thread_unblock()?;
            Ok(Child { pid: child, results: Some(File::from(read_end)) })
        }
        Ok(ForkResult::Child) => {
            drop(read_end);
            // The parent's handler is not the child's: Ctrl-C simply ends it.
            for signal in interrupts.iter() {
                // SAFETY: setting a signal's default disposition; no handler runs here.
                #[allow(unsafe_code)]
                let _ = unsafe { nix::sys::signal::signal(signal, SigHandler::SigDfl) };
            }
            let _ = interrupts.thread_unblock();
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
    let pid = child.pid;
    // From here the pid is `wait_and_unlist`'s: even if it fails after reaping, Drop must not
    // kill a pid that may be another process's by then.
    std::mem::forget(child);
    let ended = wait_and_unlist(pid)?;
    let result = <[u8; 16]>::try_from(bytes.as_slice()).ok().map(u128::from_le_bytes);
    Ok(Outcome { pid, result, ended })
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = kill(self.pid, Signal::SIGKILL);
        let _ = wait_and_unlist(self.pid);
    }
}

// ---- no zombie, even on Ctrl-C ----

/// Every child forked and not yet reaped. A signal handler may only do async-signal-safe
/// things - read and write atomics, `kill`, `waitpid` - so the list is a fixed array of pids
/// (0: a free slot), not a `Vec` behind a lock.
static LIVE_CHILDREN: Children = Children([const { AtomicI32::new(0) }; 64]);

struct Children([AtomicI32; 64]);

impl Children {
    fn add(&self, child: Pid) {
        let free = self.0.iter().find(|slot| {
            slot.compare_exchange(0, child.as_raw(), Ordering::SeqCst, Ordering::SeqCst).is_ok()
        });
        assert!(free.is_some(), "at most 64 children at once");
    }

    fn remove(&self, child: Pid) {
        let slot = self.0.iter().find(|slot| slot.load(Ordering::SeqCst) == child.as_raw());
        if let Some(slot) = slot {
            slot.store(0, Ordering::SeqCst);
        }
    }
}

/// Ctrl-C (SIGINT) and SIGTERM.
fn interrupt_signals() -> SigSet {
    [Signal::SIGINT, Signal::SIGTERM].into_iter().collect()
}

/// On Ctrl-C or SIGTERM, kill and reap every child before dying of the signal, as a process
/// that is not handled does: without it the parent would die first, and its children - killed
/// by their parent-death signal - would wait as zombies until PID 1 reaped them.
fn reap_children_on_interrupt() {
    let action = SigAction::new(
        SigHandler::Handler(reap_children_and_die),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for signal in interrupt_signals().iter() {
        // SAFETY: the handler does only async-signal-safe things (atomics, kill, waitpid,
        // signal, raise), and touches no lock or allocation of the interrupted code.
        #[allow(unsafe_code)]
        let installed = unsafe { sigaction(signal, &action) };
        if let Err(e) = installed {
            cli::fail(format!("cannot handle {signal}: {e}"));
        }
    }
}

extern "C" fn reap_children_and_die(signal: nix::libc::c_int) {
    for slot in &LIVE_CHILDREN.0 {
        let pid = slot.swap(0, Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: kill and waitpid are async-signal-safe; `pid` is a child of ours that
            // nothing has reaped - a child is reaped and taken off the list with this signal
            // held back (`wait_and_unlist`), on the one thread this process runs while it has
            // children - so no other process can have its pid.
            #[allow(unsafe_code)]
            unsafe {
                nix::libc::kill(pid, nix::libc::SIGKILL);
                nix::libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
    }
    // SAFETY: back to the default disposition, then the signal again: the process dies of it,
    // as it would have unhandled (its parent sees "killed by SIGINT"). Both async-signal-safe.
    #[allow(unsafe_code)]
    unsafe {
        nix::libc::signal(signal, nix::libc::SIG_DFL);
        nix::libc::raise(signal);
    }
}

/// Reaps `pid` and takes it off the list, with Ctrl-C and SIGTERM held back in between, as
/// `spawn_child` holds them around fork: once reaped, a pid is free for the system to give to
/// another process, and the handler must not find it listed then. The hold is short: `reap` has
/// read the child's pipe to its end and `Drop` has sent SIGKILL, so the child is ending; a
/// signal that comes meanwhile is handled as soon as the wait ends. (Held back on this thread:
/// the only one while there are children, as `in_children` checks.)
fn wait_and_unlist(pid: Pid) -> nix::Result<WaitStatus> {
    let interrupts = interrupt_signals();
    interrupts.thread_block()?;
    let ended = wait_for(pid);
    LIVE_CHILDREN.remove(pid);
    interrupts.thread_unblock()?;
    ended
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

// ---- fork's one-thread rule ----

/// Whether fork's one-thread rule is checked on this system, which the lesson's sentences say:
/// Linux shows a process's thread count in /proc/self/status; where nothing does, the rule holds
/// by design alone (every thread this program starts is joined before it forks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ForkCheck {
    /// The thread count is read before each batch of forks.
    Counted,
    /// There is no thread count to read: not checked.
    NotChecked,
}

impl ForkCheck {
    fn here() -> ForkCheck {
        if thread_count().is_some() { ForkCheck::Counted } else { ForkCheck::NotChecked }
    }
}

/// [1]'s note: why no line prints twice, and fork's one-thread rule, said checked only where it
/// is.
fn fork_note(check: ForkCheck) -> Vec<&'static str> {
    let mut lines = vec![
        "(fork copies the whole process, buffers included: stdout is flushed before each fork",
        "and children leave with _exit, so no line prints twice; and fork happens only while",
        "this process runs one thread, since the child gets only the thread that forked -",
    ];
    lines.extend_from_slice(match check {
        ForkCheck::Counted => &["checked in /proc/self/status before each batch of forks)"][..],
        ForkCheck::NotChecked => &[
            "not checked here, where no /proc/self/status shows the thread count: it holds by",
            "design, every thread joined before a fork)",
        ],
    });
    lines
}

/// Whether this process runs a single thread now: `Some(true)`; `Some(false)` if more are still
/// counted after a second (a joined thread may take a moment to vanish from the count); `None`
/// where the count cannot be read - not checked, as [`ForkCheck`] makes the lesson say.
fn single_threaded() -> Option<bool> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        match thread_count()? {
            1 => return Some(true),
            _ if Instant::now() > deadline => return Some(false),
            _ => thread::yield_now(),
        }
    }
}

/// How many threads this process runs now, from Linux's /proc/self/status; `None` where the
/// system does not say (another Unix, or /proc not mounted).
fn thread_count() -> Option<u64> {
    threads_in(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// The `Threads:` field of a /proc/<pid>/status text.
fn threads_in(status: &str) -> Option<u64> {
    status.lines().find_map(|l| l.strip_prefix("Threads:"))?.trim().parse().ok()
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
    fn the_fork_note_says_checked_only_where_the_thread_count_was_read() {
        let counted = fork_note(ForkCheck::Counted).join(" ");
        assert!(counted.ends_with("checked in /proc/self/status before each batch of forks)"));
        let unchecked = fork_note(ForkCheck::NotChecked).join(" ");
        assert!(unchecked.contains("not checked here, where no /proc/self/status"), "{unchecked}");
        assert!(!unchecked.contains("checked in /proc"), "{unchecked}");
        // The first line stays whole: the tests package looks for it.
        assert!(fork_note(ForkCheck::NotChecked)[0].starts_with("(fork copies the whole process"));
    }

    #[test]
    fn the_thread_count_is_read_or_said_unknown() {
        assert_eq!(threads_in("Name:\tmultiprocessing\nThreads:\t3\nSigQ:\t0/1\n"), Some(3));
        assert_eq!(threads_in("Name:\tmultiprocessing\n"), None, "no field: not checked");
        assert_eq!(threads_in(""), None);
    }

    /// A child reaped by `wait_and_unlist` is off the list the Ctrl-C handler kills from, and
    /// the signals held back meanwhile are let through again.
    #[test]
    #[allow(clippy::zombie_processes)] // `wait_and_unlist` reaps it, as it reaps a forked child
    fn a_reaped_child_is_unlisted_and_the_signals_unblocked() {
        let child = std::process::Command::new("true").spawn().expect("true runs");
        let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
        LIVE_CHILDREN.add(pid);
        let ended = wait_and_unlist(pid).expect("waitpid");
        assert_eq!(ended, WaitStatus::Exited(pid, 0));
        assert!(LIVE_CHILDREN.0.iter().all(|slot| slot.load(Ordering::SeqCst) != pid.as_raw()));
        let mask = SigSet::thread_get_mask().expect("the signal mask");
        assert!(!mask.contains(Signal::SIGINT) && !mask.contains(Signal::SIGTERM));
    }

    #[test]
    fn expected_sums_agree_with_the_loops() {
        for length in [1, 2, 5, 1000] {
            assert_eq!(expected_sums(length), SUMS.map(|(_, p)| power_sum(0..length, p)));
        }
    }
}

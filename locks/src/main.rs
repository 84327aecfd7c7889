//! Notebook section 2.b, "Threads with Locks": a lock around shared data, the outcome it rules
//! out and the race it does not, why Rust needs locks at all, the deadlock Rust does not
//! prevent, reentrant locks (Python's RLock) and poisoning.
//!
//! Run: `cargo run -p locks` (options: `--trials`, `--size`, `--threads`, `--runs`).
//! `cargo test -p locks` also model-checks the notebook's two threads with loom, with the lock
//! and without it.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use clap::Parser;
use parking_lot::{Mutex, ReentrantMutex};
use timing::chart::{Figure, Picture};
use timing::python_env::{self, EnvError, Python};
use timing::{Stats, cli, say};

/// Section 2.b of the notebook: locks, races and reentrant locks.
#[derive(Parser)]
#[command(about, long_about = None)]
struct Args {
    /// How many times to race the notebook's two threads and tally the outcomes.
    #[arg(long, default_value_t = 10_000, value_parser = cli::up_to::<1_000_000>,
          allow_hyphen_values = true)]
    trials: u64,
    /// Increments each thread makes to the shared counter: the timed workload.
    #[arg(long, visible_alias = "increments", default_value_t = 1_000_000,
          value_parser = cli::up_to::<100_000_000>, allow_hyphen_values = true)]
    size: u64,
    /// Threads incrementing the counter, at least 2 (one thread has nobody to race) [default:
    /// the number of cores, at least 2].
    #[arg(long, value_parser = cli::between::<2, 256>, allow_hyphen_values = true)]
    threads: Option<u64>,
    #[command(flatten)]
    timed: cli::Timed,
}

const ONLY_PREFIX: &str = "YOLO Lmn";
const PREFIX_AND_SUFFIX: &str = "YOLO Lmn ,Bye!!";
/// The outcome the notebook's lock rules out: the suffix thread checked the flag, the prefix
/// thread then updated the string, and the suffix thread wrote back its stale copy.
const STALE_SUFFIX: &str = "Lmn ,Bye!!";

fn main() {
    let args = cli::parse::<Args>();
    let cores = timing::machine::cores() as u64;
    let threads = args.threads.unwrap_or(cores.max(2));

    let picture = Picture::for_svg(&args.timed.svg).unwrap_or_else(|e| cli::usage_error(e));
    say!("== 2.b Threads with locks");
    notebook_cell();
    tally_outcomes(args.trials);
    without_the_lock(args.trials);
    deterministic_order();
    say!();
    let threads_text = timing::plural(threads, "thread");
    say!("== Why locks at all: {threads_text} x {} increments of one counter", args.size);
    let mut figure = Figure::new("locks: one counter, many threads");
    counters(threads, args.size, args.timed.runs.get(), &mut figure);
    // Asked after the counters are timed, so that starting Python does not run beside them.
    cli::paragraph("  ", &python_count_sentence(&readers_python()));
    say!();
    say!("== A deadlock Rust does not prevent: two threads, two locks, opposite orders");
    deadlock_and_lock_order();
    say!();
    say!("== RLock -> parking_lot::ReentrantMutex");
    reentrant_lock_cell();
    recursion_with_reentrant_lock();
    say!();
    say!("== Poisoning: what happens to a lock whose holder panics");
    poisoning();
    if let Some(picture) = picture {
        figure.save(picture).unwrap_or_else(|e| cli::fail(e));
    }
}

/// The notebook's cell: one thread adds the prefix and clears the check flag, the other adds
/// the suffix only if the flag is still set, both under one lock. The lock lives around the data
/// (`Mutex<Greeting>`), so neither thread can touch the string without holding it.
fn notebook_cell() {
    let text = race_once(false);
    assert!(text == ONLY_PREFIX || text == PREFIX_AND_SUFFIX, "impossible outcome {text:?}");
    say!("Final string is {text}");
}

/// The lock makes each thread's check-and-update one step that the other cannot enter; it
/// does not decide which thread goes first. The notebook's "YOLO Lmn" is one of two outcomes;
/// `cargo test -p locks` proves with loom that there are exactly these two.
fn tally_outcomes(trials: u64) {
    let tally = tally(trials, || race_once(false), &[ONLY_PREFIX, PREFIX_AND_SUFFIX]);
    say!("The lock makes each thread's check-and-update one step, but does not order the threads:");
    say!("  \"YOLO Lmn\" is one of two outcomes, as a tally shows.");
    say!("{trials} races (counts vary from run to run; these two outcomes are the only ones):");
    print_tally(&tally);
}

/// The same two threads without the notebook's lock: each access is still safe on its own (the
/// flag an `AtomicBool`, the string behind a lock held for one read or one write), but a
/// thread's check and its update are now separate steps, and another thread's can come between.
/// Python promises nothing either: a free-threaded build runs the two at once, and under the
/// GIL a switch can fall wherever the interpreter checks for one (since 3.10 at calls and
/// backward jumps - rarely between this check and update, but by no guarantee; see
/// `python_count_sentence`). A third outcome appears; `cargo test -p locks` proves with loom
/// that these three are all there are.
fn without_the_lock(trials: u64) {
    let outcomes = [ONLY_PREFIX, PREFIX_AND_SUFFIX, STALE_SUFFIX];
    let tally = tally(trials, race_once_unlocked, &outcomes);
    say!("Without it - each read and write still safe on its own, check and update two steps -");
    say!("  a third outcome is possible: the suffix thread checks the flag, the prefix thread");
    say!("  updates the string, the suffix thread writes back its stale copy:");
    say!("{trials} races without the lock (counts vary; all three can appear):");
    print_tally(&tally);
    say!("  Not a data race - two threads touching the same memory at once, one of them writing,");
    say!("  unsynchronised - which safe Rust does not compile; a race condition, which it does.");
}

/// An order has to be imposed: here the prefix thread is joined before the suffix thread starts.
/// (A `Barrier`, `Condvar` or channel imposes it without giving up the second thread's head start.)
fn deterministic_order() {
    let text = race_once(true);
    assert_eq!(text, ONLY_PREFIX);
    say!("Joined before the second thread starts, always: {text:?}");
}

/// Safe Rust refuses to compile the unsynchronised counter Python lets you write:
///     let mut count = 0;
///     thread::scope(|s| { s.spawn(|| count += 1); s.spawn(|| count += 1); });
///     // error[E0499]: cannot borrow `count` as mutable more than once at a time
/// It does allow a race through an atomic read followed by a separate write: every access is
/// defined, yet increments made in between are overwritten (a lost update).
fn counters(threads: u64, increments: u64, runs: usize, figure: &mut Figure) {
    let expected = threads * increments;
    figure.panel(format!(
        "{} x {increments} increments of one counter",
        timing::plural(threads, "thread")
    ));
    type Counter = fn(threads: u64, increments: u64) -> u64;
    // (label, counter, whether it must be exact)
    let cases: [(&str, Counter, bool); 4] = [
        ("atomic load then store (racy)", count_load_then_store, false),
        ("atomic fetch_add", count_fetch_add, true),
        ("Mutex<u64> locked per increment", count_with_mutex, true),
        ("per-thread sums added at the end", count_local_then_combine, true),
    ];
    let mut correct: Vec<(&str, Stats)> = Vec::new();
    for (label, count, exact) in cases {
        let (total, stats) = timing::measure(runs, || count(threads, increments));
        assert!(total <= expected, "{label} counted {total}, more than {expected}");
        assert!(!exact || total == expected, "{label} counted {total}, not {expected}");
        let verdict = match expected - total {
            0 => "exact".to_owned(),
            lost => format!("{lost} updates lost"),
        };
        say!("{}  count {total} of {expected}: {verdict}", stats.line(label));
        figure.bar(label, &stats);
        if exact {
            correct.push((label, stats));
        }
    }
    let (fastest, _) = correct.iter().min_by_key(|(_, s)| s.median).expect("correct counters");
    if fastest.starts_with("per-thread sums") {
        say!("Fastest correct counter: {fastest}. The fastest lock is the one you don't share.");
    } else {
        say!(
            "Fastest correct counter on this run: {fastest}; sharing nothing usually wins. Re-run"
        );
        say!("  to compare: `cargo run -p locks`.");
    }
    say!("(A plain shared `count += 1` from two threads does not compile in safe Rust: E0499.)");
}

/// Two threads move money between two accounts, each taking the lock of the account it takes
/// from, then the other's - in opposite orders. Each gets its first lock and waits for the
/// other's: a deadlock, which the borrow checker does not rule out (it is about data, not
/// about waiting). `lock()` would wait forever; a timed lock (`try_lock_for`, Python's
/// `acquire(timeout=...)`) lets a thread give up, find the cycle in who waits for whom, and
/// let go, so that the other finishes. The cure: one global order - every thread takes the
/// accounts' locks lowest first.
fn deadlock_and_lock_order() {
    let accounts = [Mutex::new(100_u64), Mutex::new(100_u64)];
    let opposite = transfer_both_ways(&accounts, |from, to| [from, to]);
    let [Err(cycle), Ok(())] = &opposite else {
        panic!("thread 1 gives up first, and thread 2 then finishes: {opposite:?}")
    };
    say!("Each thread locks the account it takes from, then the other:");
    cli::paragraph(
        "  ",
        &format!(
            "{cycle}: a cycle, which lock() would wait on forever. Thread 1's timed lock gave up after {} ms and it let go of account 0; thread 2, which waits longer, then took it and finished its transfer. Thread 1's is not done: it must try again.",
            WAIT.as_millis()
        ),
    );
    let ordered =
        transfer_both_ways(&accounts, |from, to| if from < to { [from, to] } else { [to, from] });
    assert!(ordered.iter().all(Result::is_ok), "one global order cannot deadlock: {ordered:?}");
    let balances = accounts.each_ref().map(|a| *a.lock());
    assert_eq!(balances, [110, 90], "three transfers of 10 done: 1 to 0, then 0 to 1 and back");
    say!("Every thread taking the locks lowest account first, one global order: both transfers");
    say!("  done. Thread 2 waits for account 0 instead of first taking account 1, so no cycle can");
    say!("  form. Balances {balances:?}: the money moved, none lost or made.");
}

/// How long thread 1 waits for a lock before it gives up (thread 2 waits twice as long), and
/// how long a thread holding one lock waits for the other thread to hold one too.
const WAIT: Duration = Duration::from_millis(200);

/// Thread 1 moves 10 from account 0 to 1, thread 2 from 1 to 0, each taking the two locks in
/// the order `order(from, to)` gives. Once each holds its first lock it waits (at most `WAIT`)
/// until the other holds one too - so opposite orders deadlock every time, not now and then;
/// in one global order the other never can, and the wait runs out. A thread that gives up on
/// its second lock names the cycle it found; the other's transfer is done.
fn transfer_both_ways(
    accounts: &[Mutex<u64>; 2],
    order: fn(usize, usize) -> [usize; 2],
) -> [Result<(), String>; 2] {
    let holding = Rendezvous::default();
    // Who holds which account and waits for which: (thread, holds, waits for).
    let waits: Mutex<Vec<(u32, usize, usize)>> = Mutex::new(Vec::new());
    thread::scope(|s| {
        let moves = [(1, 0, 1), (2, 1, 0)].map(|(thread, from, to)| {
            let (holding, waits) = (&holding, &waits);
            s.spawn(move || {
                let [first, second] = order(from, to);
                let mut held = accounts[first].lock();
                holding.arrive_and_wait_for_both();
                waits.lock().push((thread, first, second));
                let Some(mut other) = accounts[second].try_lock_for(WAIT * thread) else {
                    return Err(cycle(&waits.lock(), thread));
                };
                waits.lock().retain(|w| w.0 != thread);
                let (from_balance, to_balance) = if first == from {
                    (&mut *held, &mut *other)
                } else {
                    (&mut *other, &mut *held)
                };
                *from_balance -= 10;
                *to_balance += 10;
                Ok(())
            })
        });
        moves.map(|m| m.join().expect("a transfer thread panicked"))
    })
}

/// The cycle that `thread`, stuck, is part of: each waiting for what the next one holds.
fn cycle(waits: &[(u32, usize, usize)], thread: u32) -> String {
    let mut links = Vec::new();
    let mut at = waits.iter().find(|w| w.0 == thread);
    while let Some(&(who, holds, wants)) = at {
        links.push(format!("thread {who} holds account {holds} and waits for account {wants}"));
        at = waits.iter().find(|w| w.1 == wants && w.0 != who);
        if at.is_some_and(|w| w.0 == thread) {
            return links.join("; ");
        }
    }
    format!("{} (no cycle found)", links.join("; "))
}

/// Where the two transfer threads meet once each holds a lock.
#[derive(Default)]
struct Rendezvous {
    arrived: Mutex<usize>,
    all_here: parking_lot::Condvar,
}

impl Rendezvous {
    /// Counts this thread in, and waits until both are in, at most `WAIT`.
    fn arrive_and_wait_for_both(&self) {
        let mut arrived = self.arrived.lock();
        *arrived += 1;
        self.all_here.notify_all();
        let deadline = std::time::Instant::now() + WAIT;
        while *arrived < 2 && !self.all_here.wait_until(&mut arrived, deadline).timed_out() {}
    }
}

/// Python's RLock: the thread that holds it may take it again. Locked twice -> "2hello".
/// `ReentrantMutex` hands out `&T` only: two guards on one thread would otherwise be two `&mut`
/// to the same data. Mutation therefore goes through a `RefCell` inside, checked at run time.
fn reentrant_lock_cell() {
    let lock = ReentrantMutex::new(RefCell::new(String::new()));
    let outer = lock.lock();
    outer.replace("hello".to_owned());
    let inner = lock.lock(); // same thread: granted at once
    let twice = format!("2{}", inner.borrow());
    inner.replace(twice);
    assert_eq!(*inner.borrow(), "2hello");
    say!("Reentrant lock taken twice on one thread: {:?}", inner.borrow());
    drop((inner, outer));

    // With a plain Mutex the second `lock()` would wait forever for ourselves; `try_lock` shows
    // it without hanging.
    let plain = Mutex::new(String::from("hello"));
    let held = plain.lock();
    let second = plain.try_lock();
    assert!(second.is_none());
    say!("Plain Mutex taken twice on one thread: try_lock -> None (lock() would deadlock)");
    say!(
        "(ReentrantMutex hands out &T only - two guards must not be two &mut - so a RefCell inside"
    );
    say!("  allows the change, checked at run time.)");
    drop(held);
}

/// The notebook's named use case: recursion. Each level takes the same reentrant lock again, so
/// a whole recursive walk runs under one lock while other threads wait for it.
fn recursion_with_reentrant_lock() {
    const THREADS: usize = 4;
    const DEPTH: usize = 5;
    let journal = ReentrantMutex::new(RefCell::new(Vec::new()));
    thread::scope(|s| {
        for id in 0..THREADS {
            let journal = &journal;
            s.spawn(move || record_countdown(journal, id, DEPTH));
        }
    });
    let entries = journal.into_inner().into_inner();
    // Each thread's DEPTH entries are contiguous and count down: nobody got in between.
    let contiguous = entries.chunks(DEPTH).all(|run| {
        run.iter()
            .zip((1..=DEPTH).rev())
            .all(|(&(id, level), want)| id == run[0].0 && level == want)
    });
    assert!(contiguous && entries.len() == THREADS * DEPTH, "{entries:?}");
    say!("{THREADS} threads each recursed {DEPTH} levels deep, re-locking at every level: each");
    say!("  thread's {DEPTH} entries are contiguous ({} entries in all): ok", entries.len());
}

/// std's `Mutex` is poisoned when a thread panics while holding it: later `lock()` calls return
/// an error, because the data may be half-updated (the caller can still take it, knowingly).
/// parking_lot's `Mutex` has no poisoning: the lock is simply released during unwinding.
fn poisoning() {
    let std_lock = std::sync::Mutex::new(0);
    let parking_lot_lock = Mutex::new(0);
    let previous_hook = panic::take_hook(); // keep stderr tidy: these panics are on purpose
    panic::set_hook(Box::new(|_| {}));
    let std_panicked = panic::catch_unwind(|| {
        *std_lock.lock().expect("not yet poisoned") += 1;
        let _guard = std_lock.lock().expect("not yet poisoned");
        panic!("a holder of the std Mutex panics");
    });
    // The compiler knows the difference: std's Mutex is `RefUnwindSafe` (poisoning guards the
    // data), parking_lot's is not, so catching a panic across it needs `AssertUnwindSafe`.
    let parking_lot_panicked = panic::catch_unwind(panic::AssertUnwindSafe(|| {
        *parking_lot_lock.lock() += 1;
        let _guard = parking_lot_lock.lock();
        panic!("a holder of the parking_lot Mutex panics");
    }));
    panic::set_hook(previous_hook);
    assert!(std_panicked.is_err() && parking_lot_panicked.is_err());

    let poisoned = std_lock.lock();
    assert!(poisoned.is_err());
    let recovered = *poisoned.unwrap_or_else(std::sync::PoisonError::into_inner);
    say!(
        "std::sync::Mutex after a panic: lock() -> Err(PoisonError); into_inner recovers {recovered}"
    );
    let value = *parking_lot_lock.lock();
    assert_eq!((recovered, value), (1, 1));
    say!("parking_lot::Mutex after a panic: lock() -> the data, {value} (no poisoning)");
}

// ---- the notebook's two threads ----

/// The notebook's two globals, kept together so one lock guards both.
#[derive(Debug)]
struct Greeting {
    text: String,
    check: bool,
}

fn add_prefix(greeting: &mut Greeting, prefix: &str) {
    greeting.check = false;
    greeting.text = format!("{prefix} {}", greeting.text);
}

fn add_suffix(greeting: &mut Greeting, suffix: &str) {
    if greeting.check {
        greeting.text = format!("{} {suffix}", greeting.text);
    }
}

/// One run of the cell: two scoped threads borrow the `Mutex` (the scope joins them before it
/// ends), each locks it for its step. `join_first` joins the prefix thread before the suffix
/// thread starts, which removes the race.
fn race_once(join_first: bool) -> String {
    let greeting = Mutex::new(Greeting { text: "Lmn".to_owned(), check: true });
    thread::scope(|s| {
        let prefix = s.spawn(|| add_prefix(&mut greeting.lock(), "YOLO"));
        if join_first {
            prefix.join().expect("prefix thread panicked");
        }
        s.spawn(|| add_suffix(&mut greeting.lock(), ",Bye!!"));
    });
    greeting.into_inner().text
}

/// One run of the cell without the notebook's lock: the flag and the string each safe alone,
/// the check and the update apart (a `yield_now` between them, where a Python thread switch
/// could fall). Both threads start together at a barrier.
fn race_once_unlocked() -> String {
    let (check, text) = (AtomicBool::new(true), Mutex::new("Lmn".to_owned()));
    let start = Barrier::new(2);
    thread::scope(|s| {
        s.spawn(|| {
            start.wait();
            check.store(false, Ordering::SeqCst);
            let seen = text.lock().clone();
            thread::yield_now();
            *text.lock() = format!("YOLO {seen}");
        });
        s.spawn(|| {
            start.wait();
            if check.load(Ordering::SeqCst) {
                thread::yield_now();
                let seen = text.lock().clone();
                thread::yield_now();
                *text.lock() = format!("{seen} ,Bye!!");
            }
        });
    });
    text.into_inner()
}

/// How often each outcome came out of `trials` runs of `race`; every outcome is one of
/// `possible`, each of which is listed (if only with 0).
fn tally(
    trials: u64,
    mut race: impl FnMut() -> String,
    possible: &[&str],
) -> BTreeMap<String, u64> {
    let mut tally: BTreeMap<String, u64> = possible.iter().map(|s| ((*s).to_owned(), 0)).collect();
    for _ in 0..trials {
        *tally.entry(race()).or_default() += 1;
    }
    assert_eq!(tally.len(), possible.len(), "only {possible:?} are possible: {tally:?}");
    assert_eq!(tally.values().sum::<u64>(), trials);
    tally
}

fn print_tally(tally: &BTreeMap<String, u64>) {
    for (text, count) in tally {
        say!("  {count:>8}  {text:?}");
    }
}

// ---- the counters ----

/// Each thread runs `add_one(thread's share)` `increments` times; returns the shared total.
fn count_shared<C: Sync>(
    counter: C,
    threads: u64,
    increments: u64,
    add_one: fn(&C),
    total: fn(C) -> u64,
) -> u64 {
    thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| (0..increments).for_each(|_| add_one(std::hint::black_box(&counter))));
        }
    });
    total(counter)
}

/// A read, then a separate write: another thread's store in between is lost.
fn load_then_store(counter: &AtomicU64) {
    let seen = counter.load(Ordering::Relaxed);
    counter.store(seen + 1, Ordering::Relaxed);
}

/// One indivisible read-modify-write: on x86-64 a `lock`-prefixed instruction (`objdump -d` of
/// this build shows `lock inc`, as the old value goes unused; `lock xadd` where it is used).
fn fetch_add(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn count_load_then_store(threads: u64, increments: u64) -> u64 {
    count_shared(AtomicU64::new(0), threads, increments, load_then_store, AtomicU64::into_inner)
}

fn count_fetch_add(threads: u64, increments: u64) -> u64 {
    count_shared(AtomicU64::new(0), threads, increments, fetch_add, AtomicU64::into_inner)
}

fn count_with_mutex(threads: u64, increments: u64) -> u64 {
    count_shared(Mutex::new(0), threads, increments, |c| *c.lock() += 1, Mutex::into_inner)
}

/// Nothing shared while counting: each thread sums locally and hands its sum back through join.
fn count_local_then_combine(threads: u64, increments: u64) -> u64 {
    thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| s.spawn(|| (0..increments).map(|_| std::hint::black_box(1u64)).sum::<u64>()))
            .collect();
        handles.into_iter().map(|h| h.join().expect("counting thread panicked")).sum()
    })
}

// ---- the reader's Python ----

/// How long to wait for the reader's Python to say what it is: a stuck interpreter must not hold
/// the lesson up (python_env's own wait, for a twin, is longer).
const PYTHON_WAIT: Duration = Duration::from_secs(5);

/// The Python a reader would run (`HPC_RS_PYTHON`, else `python3`), asked for its version and
/// build by `python_env`'s one check, given `PYTHON_WAIT` to answer: one that has not is
/// stopped there and then, not left running. `Err`: why not, in words.
fn readers_python() -> Result<Python, String> {
    answered(python_env::find_within(None, PYTHON_WAIT))
}

/// The Python that answered, or why none did, naming the program that was asked.
fn answered(answer: Result<Python, EnvError>) -> Result<Python, String> {
    match answer {
        Ok(python) => Ok(python),
        Err(EnvError::NotFound(program)) => Err(format!("no {} found", program.display())),
        Err(EnvError::NotPython3(program)) => {
            Err(format!("{} did not answer as Python 3", program.display()))
        }
        Err(EnvError::NoAnswer(program, waited)) => {
            Err(format!("{} did not answer within {} s", program.display(), waited.as_secs()))
        }
        Err(other) => Err(other.to_string()),
    }
}

/// What Python's `count += 1` on a shared global does, for the reader's Python: not atomic by
/// any guarantee - a load, an add and a store, three bytecodes - but whether updates are lost
/// in practice depends on the build and version. CPython with the GIL switches threads only
/// where the interpreter checks its eval breaker: since 3.10 at calls and backward jumps, not
/// after every bytecode (3.10 Python/ceval.c: DISPATCH() goes straight to the next opcode,
/// CHECK_EVAL_BREAKER() sits in JUMP_ABSOLUTE and the CALL opcodes; 3.11-3.12 the same with
/// JUMP_BACKWARD and CALL; 3.13-3.14 Python/bytecodes.c, `_CHECK_PERIODIC` in RESUME,
/// JUMP_BACKWARD and CALL). A free-threaded build (3.13t, 3.14t, GIL off) runs the threads at
/// once. Where no Python answered, every case is said.
fn python_count_sentence(python: &Result<Python, String>) -> String {
    const OPENING: &str = "Python's `count += 1` on a shared global is the racy row's load then store: LOAD_GLOBAL, an add, STORE_GLOBAL - not atomic by any guarantee, GIL or not.";
    const WITH_GIL: &str = "CPython with the GIL switches threads only at calls and backward jumps since 3.10, never between that load and store, so a plain loop of it practically never loses an update - until a call comes between them (`count += f()`)";
    const FREE_THREADED: &str =
        "a free-threaded build (3.13t, 3.14t) runs the threads at once and loses updates readily";
    let case = match python {
        Ok(p) if p.threads_run_at_once() => format!(
            "{} here is {}: it runs the threads at once and loses updates readily, as the racy row does.",
            p.program.display(),
            p.describe()
        ),
        Ok(p) if p.implementation != "cpython" => format!(
            "{} here is {}, which switches threads by rules of its own; nothing makes the update atomic there either.",
            p.program.display(),
            p.describe()
        ),
        Ok(p) if !p.version_at_least((3, 10)) => format!(
            "{} here is {}, older than 3.10: a switch may come between almost any two bytecodes, so updates are lost in a long enough loop. Since 3.10 that is rare under the GIL, and {FREE_THREADED}.",
            p.program.display(),
            p.describe()
        ),
        Ok(p) => format!(
            "{} here is {}. {WITH_GIL}; {FREE_THREADED}.",
            p.program.display(),
            p.describe()
        ),
        Err(why) => format!(
            "Asked what Python this is: {why}. So, for each build: {WITH_GIL} - before 3.10 a switch could come between almost any two bytecodes; {FREE_THREADED}."
        ),
    };
    format!("{OPENING} {case}")
}

// ---- helpers ----

fn record_countdown(
    journal: &ReentrantMutex<RefCell<Vec<(usize, usize)>>>,
    id: usize,
    level: usize,
) {
    if level == 0 {
        return;
    }
    let entries = journal.lock();
    entries.borrow_mut().push((id, level));
    thread::yield_now(); // invite another thread in: the lock keeps it out
    record_countdown(journal, id, level - 1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::sync::Arc;

    /// The cell's two threads in loom's model (its own small copy: loom needs its own Mutex
    /// and threads), which runs them in every possible interleaving.
    #[test]
    fn loom_finds_exactly_the_two_possible_final_strings() {
        let seen = Arc::new(std::sync::Mutex::new(BTreeSet::new()));
        let record = Arc::clone(&seen);
        loom::model(move || {
            let greeting =
                Arc::new(loom::sync::Mutex::new(Greeting { text: "Lmn".to_owned(), check: true }));
            let (for_prefix, for_suffix) = (Arc::clone(&greeting), Arc::clone(&greeting));
            let prefix = loom::thread::spawn(move || {
                add_prefix(&mut for_prefix.lock().expect("no panic in the model"), "YOLO");
            });
            let suffix = loom::thread::spawn(move || {
                add_suffix(&mut for_suffix.lock().expect("no panic in the model"), ",Bye!!");
            });
            prefix.join().expect("prefix thread");
            suffix.join().expect("suffix thread");
            let text = greeting.lock().expect("no panic in the model").text.clone();
            record.lock().unwrap().insert(text);
        });
        let seen = seen.lock().unwrap();
        assert_eq!(*seen, BTreeSet::from([ONLY_PREFIX.to_owned(), PREFIX_AND_SUFFIX.to_owned()]));
    }

    /// The same two threads without the notebook's lock, each access safe alone (loom's
    /// atomic and a lock held for one read or write): every interleaving gives one of exactly
    /// three strings - the third, "Lmn ,Bye!!", is what the lock rules out.
    #[test]
    fn loom_finds_exactly_three_outcomes_without_the_lock() {
        let seen = Arc::new(std::sync::Mutex::new(BTreeSet::new()));
        let record = Arc::clone(&seen);
        loom::model(move || {
            let check = Arc::new(loom::sync::atomic::AtomicBool::new(true));
            let text = Arc::new(loom::sync::Mutex::new("Lmn".to_owned()));
            let (prefix_check, prefix_text) = (Arc::clone(&check), Arc::clone(&text));
            let prefix = loom::thread::spawn(move || {
                prefix_check.store(false, Ordering::SeqCst);
                let seen = prefix_text.lock().expect("no panic in the model").clone();
                *prefix_text.lock().expect("no panic in the model") = format!("YOLO {seen}");
            });
            let (suffix_check, suffix_text) = (Arc::clone(&check), Arc::clone(&text));
            let suffix = loom::thread::spawn(move || {
                if suffix_check.load(Ordering::SeqCst) {
                    let seen = suffix_text.lock().expect("no panic in the model").clone();
                    *suffix_text.lock().expect("no panic in the model") = format!("{seen} ,Bye!!");
                }
            });
            prefix.join().expect("prefix thread");
            suffix.join().expect("suffix thread");
            let text = text.lock().expect("no panic in the model").clone();
            record.lock().unwrap().insert(text);
        });
        let seen = seen.lock().unwrap();
        let expected = [ONLY_PREFIX, PREFIX_AND_SUFFIX, STALE_SUFFIX].map(str::to_owned);
        assert_eq!(*seen, BTreeSet::from(expected));
    }

    #[test]
    fn a_cycle_is_followed_from_the_thread_that_gave_up() {
        let waits = [(1, 0, 1), (2, 1, 0)];
        assert_eq!(
            cycle(&waits, 1),
            "thread 1 holds account 0 and waits for account 1; thread 2 holds account 1 and waits for account 0"
        );
        assert!(cycle(&[(1, 0, 1)], 1).ends_with("(no cycle found)"));
    }

    fn python(version: &str, implementation: &str, free_threaded: bool, gil: bool) -> Python {
        let program = "python3".into();
        let (version, implementation) = (version.to_owned(), implementation.to_owned());
        Python { program, version, implementation, free_threaded, gil }
    }

    /// Each kind of Python gets its own sentence about `count += 1`, after the same opening.
    #[test]
    fn count_plus_one_is_judged_for_the_readers_python() {
        let said = |p: Result<Python, String>| python_count_sentence(&p);
        let opening = "Python's `count += 1` on a shared global is the racy row's load then store:";
        let free = said(Ok(python("3.14.0", "cpython", true, false)));
        assert!(free.starts_with(opening), "{free}");
        assert!(free.contains("free-threaded (no GIL): it runs the threads at once"), "{free}");
        assert!(!free.contains("practically never"), "{free}");
        for gil in
            [python("3.12.1", "cpython", false, true), python("3.13.0", "cpython", true, true)]
        {
            let text = said(Ok(gil));
            assert!(text.contains("practically never loses an update"), "{text}");
            assert!(
                text.contains("a free-threaded build (3.13t, 3.14t) runs the threads"),
                "{text}"
            );
        }
        let old = said(Ok(python("3.9.18", "cpython", false, true)));
        assert!(old.contains("older than 3.10: a switch may come between almost any"), "{old}");
        let pypy = said(Ok(python("3.10.14", "pypy", false, true)));
        assert!(pypy.contains("PyPy 3.10.14, with the GIL, which switches threads by"), "{pypy}");
        let none = said(Err("no python3 found".to_owned()));
        assert!(none.contains("Asked what Python this is: no python3 found. So, for each build:"));
        assert!(none.contains("practically never") && none.contains("before 3.10"), "{none}");
    }

    #[test]
    fn a_python_that_did_not_answer_is_said_why() {
        let missing = EnvError::NotFound("python3".into());
        assert_eq!(answered(Err(missing)), Err("no python3 found".to_owned()));
        let echo = EnvError::NotPython3("/bin/echo".into());
        assert_eq!(answered(Err(echo)), Err("/bin/echo did not answer as Python 3".to_owned()));
        // The program that was asked (HPC_RS_PYTHON's), and the wait it was given.
        let late = answered(Err(EnvError::NoAnswer("/opt/python3.14t".into(), PYTHON_WAIT)));
        assert_eq!(late, Err("/opt/python3.14t did not answer within 5 s".to_owned()));
    }

    #[test]
    fn the_cells_steps_in_either_order() {
        let mut greeting = Greeting { text: "Lmn".to_owned(), check: true };
        add_suffix(&mut greeting, ",Bye!!");
        add_prefix(&mut greeting, "YOLO");
        assert_eq!(greeting.text, PREFIX_AND_SUFFIX);
        add_suffix(&mut greeting, ",Bye!!");
        assert_eq!(greeting.text, PREFIX_AND_SUFFIX, "check is cleared after the prefix");
    }
}

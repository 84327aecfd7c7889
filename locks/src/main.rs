//! Notebook section 2.b, "Threads with Locks": a lock around shared data, the race it does not
//! prevent, why Rust needs locks at all, reentrant locks (Python's RLock) and poisoning.
//!
//! Run: `cargo run -p locks` (options: `--trials`, `--size`, `--threads`, `--runs`).
//! `cargo test -p locks` also model-checks the notebook's two threads with loom.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use clap::Parser;
use parking_lot::{Mutex, ReentrantMutex};
use timing::chart::Figure;
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

fn main() {
    let args = cli::parse::<Args>();
    let cores = thread::available_parallelism().map_or(1, usize::from) as u64;
    let threads = args.threads.unwrap_or(cores.max(2));

    let picture = args.timed.svg.open();
    say!("== 2.b Threads with locks");
    notebook_cell();
    tally_outcomes(args.trials);
    deterministic_order();
    say!();
    let threads_text = timing::plural(threads, "thread");
    say!("== Why locks at all: {threads_text} x {} increments of one counter", args.size);
    let mut figure = Figure::new("locks: one counter, many threads");
    counters(threads, args.size, args.timed.runs.get(), &mut figure);
    say!();
    say!("== RLock -> parking_lot::ReentrantMutex");
    reentrant_lock_cell();
    recursion_with_reentrant_lock();
    say!();
    say!("== Poisoning: what happens to a lock whose holder panics");
    poisoning();
    if let Some(picture) = picture {
        figure.save(picture);
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

/// The lock prevents a data race (two writes at once), not an ordering race (which thread goes
/// first). The notebook's "YOLO Lmn" is one of two outcomes; `cargo test -p locks` proves with
/// loom that there are exactly these two.
fn tally_outcomes(trials: u64) {
    let mut tally: BTreeMap<String, u64> =
        [ONLY_PREFIX, PREFIX_AND_SUFFIX].map(|s| (s.to_owned(), 0)).into();
    for _ in 0..trials {
        *tally.entry(race_once(false)).or_default() += 1;
    }
    assert_eq!(tally.len(), 2, "only two outcomes are possible: {tally:?}");
    assert_eq!(tally.values().sum::<u64>(), trials);
    say!("The lock prevents a data race (two writes at once), not an ordering race (which thread");
    say!("  locks first): \"YOLO Lmn\" is one of two outcomes, as a tally shows.");
    say!("{trials} races (counts vary from run to run; these two outcomes are the only ones):");
    for (text, count) in &tally {
        say!("  {count:>8}  {text:?}");
    }
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

fn count_load_then_store(threads: u64, increments: u64) -> u64 {
    count_shared(
        AtomicU64::new(0),
        threads,
        increments,
        |c| {
            let seen = c.load(Ordering::Relaxed);
            c.store(seen + 1, Ordering::Relaxed); // another thread's store in between is lost
        },
        AtomicU64::into_inner,
    )
}

fn count_fetch_add(threads: u64, increments: u64) -> u64 {
    count_shared(
        AtomicU64::new(0),
        threads,
        increments,
        |c| {
            c.fetch_add(1, Ordering::Relaxed);
        },
        AtomicU64::into_inner,
    )
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

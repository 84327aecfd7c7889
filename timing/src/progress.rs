//! One status line on stderr for work that takes a while - a measurement, a Python twin,
//! processes, a long read - so that nothing sits silent: [`Ticker`]. It draws only when stderr is
//! a terminal, and from a thread of its own only where asked ([`Ticker::inline`] for code that
//! forks).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::{bytes, human};

/// A status line on stderr for work that takes a while: `  (what, 3.02 s)`, drawn once a second
/// has passed and at most once a second after that, erased when the ticker is dropped. It
/// draws only when stderr is a terminal, so piped or captured output never sees it.
pub struct Ticker {
    shared: Arc<TickerState>,
    drawer: Option<std::thread::JoinHandle<()>>,
}

struct TickerState {
    /// What the line says, whether it is on the screen now, and when it was last drawn.
    line: std::sync::Mutex<(String, bool, Duration)>,
    stop: AtomicBool,
    started: Instant,
    terminal: bool,
    /// Work done so far, counted by the workers, out of a known total: drawn as
    /// `512.0 MB of 1.02 GB` (or `3000000 of 18000000 rows`).
    count: Option<Count>,
}

/// A counter the work adds to, its total, and what it counts.
struct Count {
    done: Arc<AtomicU64>,
    total: u64,
    unit: Unit,
    /// What the line says once the count is complete and the work goes on (the groups sorted
    /// after the last byte is read), so the line never claims what is over.
    then: Option<String>,
}

/// What a [`Ticker`]'s counter counts.
#[derive(Clone, Copy, Debug)]
pub enum Unit {
    /// Bytes, written as `timing::bytes` writes them.
    Bytes,
    /// Things with this name (`rows`).
    Items(&'static str),
}

impl TickerState {
    /// Draws the line if a second has passed since it was last drawn.
    fn redraw(&self) {
        let elapsed = self.started.elapsed();
        let mut line = self.line.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.terminal && elapsed >= line.2 + Duration::from_secs(1) {
            let text =
                self.count.as_ref().map_or_else(|| line.0.clone(), |count| count.text(&line.0));
            eprint!("\r  ({text}, {})\x1b[K", human(elapsed));
            line.1 = true;
            line.2 = elapsed;
        }
    }
}

impl Count {
    /// The line for `what` at this count: `what: 512.0 MB of 1.02 GB`, or what comes after.
    fn text(&self, what: &str) -> String {
        let done = self.done.load(Ordering::Relaxed).min(self.total);
        if let Some(then) = self.then.as_ref().filter(|_| done == self.total) {
            return then.clone();
        }
        match self.unit {
            Unit::Bytes => format!("{what}: {} of {}", bytes(done), bytes(self.total)),
            Unit::Items(name) => format!("{what}: {done} of {} {name}", self.total),
        }
    }
}

impl Ticker {
    /// Starts the status line `what`, redrawn every second by a thread of its own: for
    /// waiting on work that prints nothing for a while (a Python twin, other processes).
    pub fn start(what: impl Into<String>) -> Ticker {
        Ticker::drawn(Ticker::inline(what))
    }

    /// Starts the status line `what` with a count of the work done: `done`, which the work
    /// adds to, out of `total` (a progress bar, in one line).
    pub fn counting(
        what: impl Into<String>,
        done: Arc<AtomicU64>,
        total: u64,
        unit: Unit,
    ) -> Ticker {
        Ticker::counting_then(what, done, total, unit, None)
    }

    /// [`Ticker::counting`], saying `then` once the count is complete: the work that follows
    /// the counted part (`then`: `sorting the groups`).
    pub fn counting_then(
        what: impl Into<String>,
        done: Arc<AtomicU64>,
        total: u64,
        unit: Unit,
        then: Option<String>,
    ) -> Ticker {
        let mut ticker = Ticker::inline(what);
        Arc::get_mut(&mut ticker.shared).expect("not shared yet").count =
            Some(Count { done, total, unit, then });
        Ticker::drawn(ticker)
    }

    /// `ticker` with the thread that redraws it every second, on a terminal.
    fn drawn(mut ticker: Ticker) -> Ticker {
        if ticker.shared.terminal {
            let shared = Arc::clone(&ticker.shared);
            ticker.drawer = Some(std::thread::spawn(move || {
                while !shared.stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    shared.redraw();
                }
            }));
        }
        ticker
    }

    /// The status line `what` with no thread: it is redrawn only when [`Ticker::set`] is
    /// called, for code that must stay single-threaded.
    pub fn inline(what: impl Into<String>) -> Ticker {
        use std::io::IsTerminal;
        let shared = Arc::new(TickerState {
            line: std::sync::Mutex::new((what.into(), false, Duration::ZERO)),
            stop: AtomicBool::new(false),
            started: Instant::now(),
            terminal: std::io::stderr().is_terminal(),
            count: None,
        });
        Ticker { shared, drawer: None }
    }

    /// Changes what the line says; redrawn now if a second has passed since the last drawing.
    pub fn set(&self, what: impl Into<String>) {
        self.shared.line.lock().unwrap_or_else(std::sync::PoisonError::into_inner).0 = what.into();
        self.shared.redraw();
    }

    /// Erases the line now, before printing something else; it comes back at the next redraw.
    pub fn clear(&self) {
        let mut line = self.shared.line.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if line.1 {
            eprint!("\r\x1b[K");
            line.1 = false;
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(drawer) = self.drawer.take() {
            let _ = drawer.join();
        }
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::{Count, Unit};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn a_complete_count_says_what_follows_it() {
        let done = Arc::new(AtomicU64::new(500));
        let count = Count {
            done: Arc::clone(&done),
            total: 1000,
            unit: Unit::Items("rows"),
            then: Some("sorting the groups".to_owned()),
        };
        assert_eq!(count.text("reading"), "reading: 500 of 1000 rows");
        done.store(1000, Ordering::Relaxed);
        assert_eq!(count.text("reading"), "sorting the groups");
        let plain = Count { then: None, ..count };
        assert_eq!(plain.text("reading"), "reading: 1000 of 1000 rows");
    }
}

//! [3] Backpressure, what RxPY lacks: RxPY pushes, so a fast producer in front of a slow
//! consumer (`observe_on` a scheduler) piles events up in an unbounded queue. Three ways in
//! Rust, each with a million events of 64 bytes and a consumer slower than its producer: an
//! unbounded channel (RxPY's way: memory grows), a bounded one (the producer waits:
//! memory stays flat) and a keep-the-latest one (`watch`: lossy, for when waiting is not
//! allowed, as `sample` does).

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use timing::say;
use tokio::sync::{mpsc, watch};

/// How many events the producer sends.
pub const EVENTS: u64 = 1_000_000;
/// The bounded channel's capacity.
pub const CAPACITY: usize = 1024;

/// One event: 64 bytes, so that a backlog shows in memory.
#[derive(Clone, Copy, Default)]
struct Event {
    id: u64,
    payload: [u64; 7],
}

/// What one strategy did.
#[derive(Debug)]
pub struct Outcome {
    pub delivered: u64,
    pub dropped: u64,
    /// The most events waiting in the channel at once (a count, not a time).
    pub most_queued: u64,
    /// How much the process's peak memory grew, where Linux tells.
    pub peak_growth: Option<u64>,
    pub took: Duration,
}

pub fn lesson() {
    say!(
        "[3] Backpressure: {EVENTS} events of 64 bytes, from a fast producer to a slower consumer"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime starts");
    let strategies: [(&str, Strategy); 3] = [
        ("unbounded channel (RxPY's queue)", Strategy::Unbounded),
        ("bounded channel, capacity 1024", Strategy::Bounded),
        ("keep the latest (watch), lossy", Strategy::Latest),
    ];
    for (label, strategy) in strategies {
        let (mut outcome, peak_growth) =
            timing::peak_memory_growth(|| runtime.block_on(run(strategy, EVENTS)));
        outcome.peak_growth = peak_growth;
        assert_eq!(
            outcome.delivered + outcome.dropped,
            EVENTS,
            "{label}: every event accounted for"
        );
        if strategy == Strategy::Bounded {
            assert!(outcome.most_queued <= CAPACITY as u64, "{label}: {outcome:?}");
        }
        let peak = outcome
            .peak_growth
            .map_or("unknown here".to_owned(), |b| format!("{:.1} MB", b as f64 / 1e6));
        say!(
            "    {label:<34} delivered {:>7}, dropped {:>7}, most queued {:>7}, peak memory +{peak}, {}",
            outcome.delivered,
            outcome.dropped,
            outcome.most_queued,
            timing::human(outcome.took)
        );
    }
    say!("    The unbounded queue holds whatever the consumer has not reached: memory grows with");
    say!("    the backlog. The bounded channel makes `send` wait when 1024 are queued, so the");
    say!("    producer runs at the consumer's pace and memory stays flat. The watch channel keeps");
    say!(
        "    only the newest event: nothing waits, and the consumer skips what it could not take."
    );
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Strategy {
    Unbounded,
    Bounded,
    Latest,
}

/// A producer task sending `events` as fast as it can, and a slow consumer, joined by
/// `strategy`'s channel.
pub async fn run(strategy: Strategy, events: u64) -> Outcome {
    let started = Instant::now();
    let queued = Arc::new(AtomicU64::new(0));
    let most = Arc::new(AtomicU64::new(0));
    let (delivered, dropped) = match strategy {
        Strategy::Unbounded => {
            let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
            let (q, m) = (queued.clone(), most.clone());
            let producer = tokio::spawn(async move {
                for id in 0..events {
                    // Counted before it is sent: the consumer, which counts it off after
                    // receiving it, can then never take the count below zero.
                    let now = q.fetch_add(1, Ordering::Relaxed) + 1;
                    m.fetch_max(now, Ordering::Relaxed);
                    tx.send(Event { id, ..Event::default() }).expect("the consumer is there");
                }
            });
            let mut tally = Tally::default();
            while let Some(event) = rx.recv().await {
                queued.fetch_sub(1, Ordering::Relaxed);
                tally.see(event);
            }
            producer.await.expect("the producer does not panic");
            tally.counts()
        }
        Strategy::Bounded => {
            let (tx, mut rx) = mpsc::channel::<Event>(CAPACITY);
            let m = most.clone();
            let producer = tokio::spawn(async move {
                for id in 0..events {
                    tx.send(Event { id, ..Event::default() }).await.expect("the consumer is there");
                    // What waits in the channel right now: its capacity less what is free.
                    let waiting = (tx.max_capacity() - tx.capacity()) as u64;
                    m.fetch_max(waiting, Ordering::Relaxed);
                }
            });
            let mut tally = Tally::default();
            while let Some(event) = rx.recv().await {
                tally.see(event);
            }
            producer.await.expect("the producer does not panic");
            tally.counts()
        }
        Strategy::Latest => {
            let (tx, mut rx) = watch::channel(None::<Event>);
            let producer = tokio::spawn(async move {
                for id in 0..events {
                    tx.send_replace(Some(Event { id, ..Event::default() }));
                    if id % 1024 == 0 {
                        tokio::task::yield_now().await; // let the runtime breathe, as I/O would
                    }
                }
            });
            let mut tally = Tally::default();
            while rx.changed().await.is_ok() {
                if let Some(event) = *rx.borrow_and_update() {
                    tally.see(event);
                }
            }
            producer.await.expect("the producer does not panic");
            // The newest event is never lost: read it if the loop ended before seeing it.
            let newest = *rx.borrow();
            if let Some(event) = newest
                && tally.next_id != event.id + 1
            {
                tally.see(event);
            }
            most.store(1, Ordering::Relaxed);
            tally.counts()
        }
    };
    Outcome {
        delivered,
        dropped,
        most_queued: most.load(Ordering::Relaxed),
        peak_growth: None,
        took: started.elapsed(),
    }
}

/// What the consumer saw, counted from the events' own ids: one that skips ids counts them as
/// dropped, so `delivered + dropped` is the id after the last one seen, which equals the
/// number sent only if the newest event arrived.
#[derive(Default)]
struct Tally {
    delivered: u64,
    dropped: u64,
    /// The id the next event would have if none were skipped.
    next_id: u64,
}

impl Tally {
    fn see(&mut self, event: Event) {
        assert!(
            event.id >= self.next_id,
            "event {} after {}: out of order",
            event.id,
            self.next_id
        );
        self.dropped += event.id - self.next_id;
        self.delivered += 1;
        self.next_id = event.id + 1;
        consume(event);
    }

    fn counts(&self) -> (u64, u64) {
        (self.delivered, self.dropped)
    }
}

/// A few hundred nanoseconds of work on one event: slower than sending it.
fn consume(event: Event) {
    let mut x = event.id ^ event.payload[0];
    for _ in 0..300 {
        x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407));
    }
    black_box(x);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_bounded_channel_never_holds_more_than_its_capacity() {
        let outcome = run(Strategy::Bounded, 20_000).await;
        assert_eq!((outcome.delivered, outcome.dropped), (20_000, 0));
        assert!(outcome.most_queued <= CAPACITY as u64, "{outcome:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_unbounded_channel_delivers_everything_and_the_watch_keeps_the_last() {
        let unbounded = run(Strategy::Unbounded, 20_000).await;
        assert_eq!((unbounded.delivered, unbounded.dropped), (20_000, 0));
        let latest = run(Strategy::Latest, 20_000).await;
        assert_eq!(latest.delivered + latest.dropped, 20_000);
        assert!(latest.delivered >= 1, "the newest event always arrives");
    }
}

//! [3] Backpressure, what RxPY lacks: RxPY pushes, so a fast producer in front of a slow
//! consumer (`observe_on` a scheduler) piles events up in an unbounded queue. Three ways in
//! Rust, each with a million events of 64 bytes and a consumer slower than its producer: an
//! unbounded channel (RxPY's way: memory grows), a bounded one (the producer waits:
//! memory stays flat) and a keep-the-latest one (`watch`: lossy, for when waiting is not
//! allowed, as `sample` does).

use std::hint::black_box;
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
        // RxPY 4 buffers without bound where a scheduler queues work: reactivex/scheduler/
        // eventloop and the observe_on operator keep a plain queue (reactivex 4.0).
        ("unbounded channel (RxPY's queue)", Strategy::Unbounded),
        ("bounded channel, capacity 1024", Strategy::Bounded),
        ("keep the latest (watch), lossy", Strategy::Latest),
    ];
    let mut growth = Vec::new();
    for (label, strategy) in strategies {
        let (mut outcome, peak_growth) =
            timing::machine::peak_memory_growth(|| runtime.block_on(run(strategy, EVENTS)));
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
        growth.push(outcome.peak_growth);
    }
    for line in memory_sentence(growth[0], growth[1]) {
        say!("    {line}");
    }
    say!(
        "    The watch channel keeps only the newest event: nothing waits, and the consumer skips"
    );
    say!("    what it could not take.");
}

/// What the peaks say of the unbounded and the bounded channel, from their growth in bytes.
fn memory_sentence(unbounded: Option<u64>, bounded: Option<u64>) -> Vec<String> {
    let mb = |bytes: u64| format!("{:.1} MB", bytes as f64 / 1e6);
    let (Some(unbounded), Some(bounded)) = (unbounded, bounded) else {
        return vec![
            "(peak memory is not readable here, so the two cannot be compared)".to_owned(),
        ];
    };
    if unbounded > 1_000_000 && unbounded > 10 * bounded.max(1) {
        vec![
            format!(
                "The unbounded queue grew the peak by {} with its backlog; the bounded",
                mb(unbounded)
            ),
            format!(
                "channel, whose `send` waits when 1024 are queued, by {}: the producer ran at",
                mb(bounded)
            ),
            "the consumer's pace.".to_owned(),
        ]
    } else {
        vec![
            format!("The unbounded queue grew the peak by {} and the bounded one by {}: not the", mb(unbounded), mb(bounded)),
            "backlog expected, so the consumer kept up this time (a busy machine slows the producer".to_owned(),
            "too). Re-run to compare: `cargo run -p reactive`.".to_owned(),
        ]
    }
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
    let event = |id| Event { id, ..Event::default() };
    let ((delivered, dropped), most_queued) = match strategy {
        Strategy::Unbounded => {
            let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
            // `send` never waits: the producer runs ahead, and the queue holds the difference.
            let producer = tokio::spawn(async move {
                for id in 0..events {
                    tx.send(event(id)).expect("the consumer is there");
                }
            });
            let drained = drain(async || (rx.recv().await, rx.len())).await;
            producer.await.expect("the producer does not panic");
            drained
        }
        Strategy::Bounded => {
            let (tx, mut rx) = mpsc::channel::<Event>(CAPACITY);
            // `send(..).await` waits while CAPACITY events are queued: backpressure.
            let producer = tokio::spawn(async move {
                for id in 0..events {
                    tx.send(event(id)).await.expect("the consumer is there");
                }
            });
            let drained = drain(async || (rx.recv().await, rx.len())).await;
            producer.await.expect("the producer does not panic");
            drained
        }
        Strategy::Latest => (keep_latest(events).await, 1),
    };
    Outcome { delivered, dropped, most_queued, peak_growth: None, took: started.elapsed() }
}

/// Receives until the channel closes (`receive` gives the next event and how many still wait
/// behind it): the events' tally, and the most that were queued at once.
async fn drain(mut receive: impl AsyncFnMut() -> (Option<Event>, usize)) -> ((u64, u64), u64) {
    let mut tally = Tally::default();
    let mut most = 0;
    while let (Some(event), waiting) = receive().await {
        most = most.max(waiting as u64); // those still queued behind the one just taken
        tally.see(event);
    }
    (tally.counts(), most)
}

/// The watch channel: the producer overwrites the one slot, the consumer takes the newest.
async fn keep_latest(events: u64) -> (u64, u64) {
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
    tally.counts()
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

    #[test]
    fn the_memory_sentence_follows_the_growth_measured() {
        let grew = memory_sentence(Some(52_600_000), Some(100_000)).join(" ");
        assert!(grew.contains("grew the peak by 52.6 MB") && grew.contains("by 0.1 MB"), "{grew}");
        let kept_up = memory_sentence(Some(300_000), Some(100_000)).join(" ");
        assert!(kept_up.contains("the consumer kept up this time"), "{kept_up}");
        assert!(memory_sentence(None, Some(1))[0].contains("not readable"));
    }

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

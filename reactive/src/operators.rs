//! RxPY's operators over time as tokio streams. `map`, `filter`, `scan` (futures' `StreamExt`) and
//! `merge` (tokio-stream's) exist as adapters already; the ones below do not, or exist with other
//! semantics (tokio-stream's `throttle` spaces items out instead of dropping them, its
//! `chunks_timeout` starts the clock at a chunk's first item and never emits an empty one), so each
//! is written here as a small `Stream` adapter: `stream::unfold` over a state, with
//! `tokio::select!` waiting on the source and a timer at once. `biased;` polls the source first, so
//! an event due at the same instant as a timer is seen before it fires, as in `replay`.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;

use futures_util::stream::{self, Stream, StreamExt};
use tokio::time::{Duration, Instant, sleep_until};

/// A boxed stream, so that operators can be chained and listed side by side.
pub type Boxed<T> = Pin<Box<dyn Stream<Item = T> + Send>>;

/// What RxPY calls a timer that may or may not be set.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// `debounce(d)`: a value goes out once `d` passes without another; on completion a pending
/// value goes out at once.
pub fn debounce<T: Send + 'static>(source: Boxed<T>, d: Duration) -> Boxed<T> {
    let state = (Some(source), None::<(T, Instant)>);
    Box::pin(stream::unfold(state, move |(mut source, mut pending)| async move {
        loop {
            let Some(src) = source.as_mut() else {
                return pending.take().map(|(value, _)| (value, (None, None)));
            };
            tokio::select! {
                biased;
                item = src.next() => match item {
                    Some(value) => pending = Some((value, Instant::now() + d)),
                    None => source = None,
                },
                () = until(pending.as_ref().map(|p| p.1)) => {
                    let (value, _) = pending.take().expect("the timer runs only when pending");
                    return Some((value, (source, None)));
                }
            }
        }
    }))
}

/// `throttle_first(d)`: the first value of each window of `d`; the rest are dropped.
pub fn throttle_first<T: Send + 'static>(source: Boxed<T>, d: Duration) -> Boxed<T> {
    let mut last: Option<Instant> = None;
    Box::pin(source.filter(move |_| {
        let now = Instant::now();
        let keep = last.is_none_or(|last| now - last >= d);
        if keep {
            last = Some(now);
        }
        std::future::ready(keep)
    }))
}

/// `distinct_until_changed()`: a value only when it differs from the one before it.
pub fn distinct_until_changed<T: Clone + PartialEq + Send + 'static>(source: Boxed<T>) -> Boxed<T> {
    let mut last: Option<T> = None;
    Box::pin(source.filter(move |value| {
        let changed = last.as_ref() != Some(value);
        if changed {
            last = Some(value.clone());
        }
        std::future::ready(changed)
    }))
}

/// `sample(d)`: every `d` from the start, the latest value since the last tick, if any; the
/// end waits for the next tick, which still emits the last value.
pub fn sample<T: Send + 'static>(source: Boxed<T>, d: Duration) -> Boxed<T> {
    let state = (Some(source), None::<T>, Instant::now() + d, false);
    Box::pin(stream::unfold(
        state,
        move |(mut source, mut latest, mut tick, finished)| async move {
            if finished {
                return None;
            }
            loop {
                tokio::select! {
                    biased;
                    item = async { source.as_mut()?.next().await }, if source.is_some() => match item {
                        Some(value) => latest = Some(value),
                        None => source = None,
                    },
                    () = sleep_until(tick) => {
                        tick += d;
                        let finished = source.is_none();
                        match latest.take() {
                            Some(value) => return Some((value, (source, None, tick, finished))),
                            None if finished => return None,
                            None => {}
                        }
                    }
                }
            }
        },
    ))
}

/// `buffer_with_time_or_count(d, count)`: a buffer when `count` values are in, or when `d` has
/// passed since it opened, empty or not; on completion the open buffer, even empty.
pub fn buffer_with_time_or_count<T: Send + 'static>(
    source: Boxed<T>,
    d: Duration,
    count: usize,
) -> Boxed<Vec<T>> {
    let state = (Some(source), Vec::new(), Instant::now() + d);
    Box::pin(
        stream::unfold(state, move |(mut source, mut buffer, mut deadline)| async move {
            let src = source.as_mut()?;
            tokio::select! {
                biased;
                item = src.next() => match item {
                    Some(value) => {
                        buffer.push(value);
                        if buffer.len() < count {
                            return Some((None, (source, buffer, deadline)));
                        }
                        deadline = Instant::now() + d;
                        Some((Some(std::mem::take(&mut buffer)), (source, buffer, deadline)))
                    }
                    None => Some((Some(std::mem::take(&mut buffer)), (None, buffer, deadline))),
                },
                () = sleep_until(deadline) => {
                    deadline += d;
                    Some((Some(std::mem::take(&mut buffer)), (source, buffer, deadline)))
                }
            }
        })
        .filter_map(std::future::ready),
    )
}

/// `delay(d)`: every value `d` later, in order, and the end `d` after it came.
pub fn delay<T: Send + 'static>(source: Boxed<T>, d: Duration) -> Boxed<T> {
    // `None` in the queue is the end of the stream, delayed like a value.
    let state = (Some(source), VecDeque::<(Instant, Option<T>)>::new());
    Box::pin(stream::unfold(state, move |(mut source, mut queue)| async move {
        loop {
            let due = queue.front().map(|(at, _)| *at);
            tokio::select! {
                biased;
                item = async { source.as_mut()?.next().await }, if source.is_some() => {
                    if item.is_none() {
                        source = None;
                    }
                    queue.push_back((Instant::now() + d, item));
                }
                () = until(due) => {
                    let (_, item) = queue.pop_front().expect("the timer runs only when queued");
                    return item.map(|value| (value, (source, queue)));
                }
            }
        }
    }))
}

/// `switch_latest` after `map` to a request, RxPY's `flat_map_latest`: each value starts
/// `request(value)`; a new value drops the request still running (dropping a future cancels
/// it), so only the latest answer comes out.
pub fn flat_map_latest<T, R, F>(source: Boxed<T>, request: F) -> Boxed<R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Pin<Box<dyn Future<Output = R> + Send>> + Send + Sync + 'static,
{
    let state = (Some(source), None::<Pin<Box<dyn Future<Output = R> + Send>>>);
    let request = std::sync::Arc::new(request);
    Box::pin(stream::unfold(state, move |(mut source, mut running)| {
        let request = request.clone();
        async move {
            loop {
                if source.is_none() && running.is_none() {
                    return None;
                }
                tokio::select! {
                    biased;
                    item = async { source.as_mut()?.next().await }, if source.is_some() => match item {
                        Some(value) => running = Some(request(value)),
                        None => source = None,
                    },
                    answer = async { running.as_mut().expect("guarded").await }, if running.is_some() => {
                        return Some((answer, (source, None)));
                    }
                }
            }
        }
    }))
}

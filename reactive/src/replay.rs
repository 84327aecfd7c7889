//! `reactive replay`: a timed script through a chain of RxPY operators, in virtual time, with
//! RxPY 4's semantics to the millisecond.
//!
//! Why not tokio here: the rules below are about ties - what happens first when several
//! things are due at the same instant - and tokio's timer wheel does not promise the order of
//! timers that wake together in different tasks. RxPY's `TestScheduler` is one queue ordered by
//! time, then by the order things were scheduled; this module is that queue, and the operators
//! are small state machines pushed into it, as RxPY's are. The lesson (`cargo run -p reactive`)
//! shows the same operators as tokio streams, and checks that both agree on its script.
//!
//! Two rules hold for the whole chain:
//! - at one instant, script events come before any operator timer due then (the script is
//!   scheduled before the chain is subscribed, so its entries are first in the queue);
//! - timers due at the same instant fire in the order they were set.
//!
//! A script with no `|` never completes: the replay stops after virtual time
//! (the last event's time + the sum of every MS argument), inclusive; with a `|`, it stops at
//! the completion's time + that sum, by which every operator here has finished.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;

/// A value in the stream: a token from the script, or a buffer of values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Token(String),
    Buffer(Vec<Value>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Token(token) => write!(f, "{token}"),
            Value::Buffer(values) => {
                let items: Vec<String> = values.iter().map(ToString::to_string).collect();
                write!(f, "[{}]", items.join(","))
            }
        }
    }
}

/// A notification: a value, or the end of the stream (`|`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    Next(Value),
    Complete,
}

/// One line of output: `<ms> <value>` or `<ms> |`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Emission {
    pub ms: u64,
    pub msg: Msg,
}

impl fmt::Display for Emission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.msg {
            Msg::Next(value) => write!(f, "{} {value}", self.ms),
            Msg::Complete => write!(f, "{} |", self.ms),
        }
    }
}

/// The operators `--op` takes, named as in RxPY. Each rule below is RxPY 4's, read from its
/// source (`reactivex/operators/_<name>.py`) and its tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operator {
    /// `debounce(ms)`: a value is emitted once `ms` pass without another; each new value
    /// restarts the wait. On completion a pending value is emitted at once, then `|`.
    Debounce(u64),
    /// `throttle_first(ms)`: a value is emitted if none was in the last `ms` (a value exactly
    /// `ms` after the last emitted one is emitted); the rest are dropped. `|` passes at once.
    ThrottleFirst(u64),
    /// `sample(ms)`: every `ms` from subscription (ms, 2ms, ...) the latest value since the
    /// last tick is emitted, if any. Completion is held until the next tick, which emits the
    /// last value first.
    Sample(u64),
    /// `buffer_with_time_or_count(ms, count)`: a buffer is emitted when it holds `count`
    /// values, or when `ms` have passed since it opened, empty or not; either way the next one
    /// opens then, with a fresh `ms`. On completion the open buffer is emitted, even empty.
    BufferWithTimeOrCount(u64, usize),
    /// `buffer_with_count(n)`: a buffer of every `n` values; on completion the rest, unless
    /// empty.
    BufferWithCount(usize),
    /// `delay(ms)`: every value and the completion `ms` later, in order.
    Delay(u64),
    /// `distinct_until_changed()`: a value equal to the one before it is dropped.
    DistinctUntilChanged,
    /// `take(n)`: the first `n` values, then `|` with the n-th (at once for `take:0`).
    Take(usize),
    /// `skip(n)`: all but the first `n` values.
    Skip(usize),
}

impl Operator {
    /// Parses `NAME[:ARGS]`, as `debounce:20` or `buffer_with_time_or_count:70,3`.
    pub fn parse(spec: &str) -> Result<Operator, String> {
        let (name, args) = spec.split_once(':').unwrap_or((spec, ""));
        let args: Vec<&str> = if args.is_empty() { Vec::new() } else { args.split(',').collect() };
        let bad = |what: &str| format!("--op {spec}: {what}");
        let number = |text: &str, least: u64| -> Result<u64, String> {
            match timing::cli::whole_number::<u64>(text.trim()) {
                Ok(n) if n > MAX_MS => Err(bad(&format!("{text:?} is more than 1e15 ms"))),
                Ok(n) if n >= least => Ok(n),
                _ if least == 1 => {
                    Err(bad(&format!("{text:?} is not a whole number of at least 1")))
                }
                _ => Err(bad(&format!("{text:?} is not a whole number"))),
            }
        };
        let count = |text: &str, least: u64| -> Result<usize, String> {
            usize::try_from(number(text, least)?).map_err(|_| bad("too large"))
        };
        let operator = match (name, args.as_slice()) {
            ("debounce", [ms]) => Operator::Debounce(number(ms, 1)?),
            ("throttle_first", [ms]) => Operator::ThrottleFirst(number(ms, 1)?),
            ("sample", [ms]) => Operator::Sample(number(ms, 1)?),
            ("buffer_with_time_or_count", [ms, n]) => {
                Operator::BufferWithTimeOrCount(number(ms, 1)?, count(n, 1)?)
            }
            ("buffer_with_count", [n]) => Operator::BufferWithCount(count(n, 1)?),
            ("delay", [ms]) => Operator::Delay(number(ms, 1)?),
            ("distinct_until_changed", []) => Operator::DistinctUntilChanged,
            ("take", [n]) => Operator::Take(count(n, 0)?),
            ("skip", [n]) => Operator::Skip(count(n, 0)?),
            (
                "debounce" | "throttle_first" | "sample" | "delay" | "buffer_with_count" | "take"
                | "skip",
                _,
            ) => return Err(bad("takes one number, as NAME:N")),
            ("buffer_with_time_or_count", _) => {
                return Err(bad("takes two numbers, as NAME:MS,COUNT"));
            }
            ("distinct_until_changed", _) => return Err(bad("takes no arguments")),
            _ => {
                return Err(format!(
                    "--op {spec}: unknown operator (known: debounce, throttle_first, sample, \
                     buffer_with_time_or_count, buffer_with_count, delay, distinct_until_changed, \
                     take, skip)"
                ));
            }
        };
        Ok(operator)
    }

    /// Its milliseconds argument, if it has one: what the replay's horizon adds up.
    fn ms(&self) -> u64 {
        match self {
            Operator::Debounce(ms)
            | Operator::ThrottleFirst(ms)
            | Operator::Sample(ms)
            | Operator::BufferWithTimeOrCount(ms, _)
            | Operator::Delay(ms) => *ms,
            _ => 0,
        }
    }
}

/// A script: events in time order, and where it completes, if it does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    pub events: Vec<(u64, String)>,
    pub completes_at: Option<u64>,
}

/// Parses a script: `<ms> <value>` lines, `<ms> |` to complete, blank lines and `#` comments
/// ignored. Errors name the line.
pub fn parse_script(text: &str) -> Result<Script, String> {
    let mut script = Script::default();
    let mut last = 0;
    let mut completed_on = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [ms, value] = fields[..] else {
            return Err(format!(
                "line {number}: expected `<ms> <value>` or `<ms> |`, got {line:?}"
            ));
        };
        let ms = match timing::cli::whole_number::<u64>(ms) {
            Ok(ms) if ms <= MAX_MS => ms,
            Ok(_) | Err(_) if ms.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(format!(
                    "line {number}: time {ms} is past the latest allowed, 1e15 ms"
                ));
            }
            _ => return Err(format!("line {number}: {ms:?} is not a time in whole milliseconds")),
        };
        if let Some(earlier) = completed_on {
            return Err(format!(
                "line {number}: an event after the stream completed on line {earlier}"
            ));
        }
        if ms < last {
            return Err(format!("line {number}: time {ms} goes back before {last}"));
        }
        last = ms;
        if value == "|" {
            script.completes_at = Some(ms);
            completed_on = Some(number);
        } else {
            script.events.push((ms, value.to_owned()));
        }
    }
    Ok(script)
}

/// The latest time a script or an operator may name, 10^15 ms (about 31,700 years): with at
/// most a thousand operators, virtual time then never passes u64's range.
pub const MAX_MS: u64 = 1_000_000_000_000_000;

/// The most operators a chain may have.
pub const MAX_CHAIN: usize = 1000;

/// Runs `script` through `chain` and returns what comes out, in order; a chain longer than
/// [`MAX_CHAIN`] is refused. Every time stays below `MAX_MS * (MAX_CHAIN + 2)`, far from
/// overflowing u64, so the engine's plain additions are safe.
pub fn replay(script: &Script, chain: &[Operator]) -> Result<Vec<Emission>, String> {
    if chain.len() > MAX_CHAIN {
        return Err(format!("{} operators: at most {MAX_CHAIN} in one chain", chain.len()));
    }
    let end = script.completes_at.or(script.events.last().map(|e| e.0)).unwrap_or(0);
    let horizon = end + chain.iter().map(Operator::ms).sum::<u64>();
    let mut engine = Engine {
        stages: chain.iter().cloned().map(Stage::new).collect(),
        queue: BinaryHeap::new(),
        next_seq: 0,
        now: 0,
        out: Vec::new(),
    };
    // The script first: at any instant its events come before the operators' timers.
    for (ms, value) in &script.events {
        engine.schedule_at(*ms, Job::Script(Msg::Next(Value::Token(value.clone()))));
    }
    if let Some(ms) = script.completes_at {
        engine.schedule_at(ms, Job::Script(Msg::Complete));
    }
    engine.subscribe();
    while let Some(Reverse((at, _, job))) = engine.queue.pop() {
        if at > horizon || engine.finished() {
            break;
        }
        engine.now = at;
        match job {
            Job::Script(msg) => engine.deliver(0, msg),
            Job::Timer { stage, token } => engine.fire(stage, token),
        }
    }
    Ok(engine.out)
}

// ---- the virtual-time engine ----

/// What the queue holds: a script notification, or an operator's timer.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Job {
    Script(Msg),
    Timer { stage: usize, token: u64 },
}

// `Msg` and `Value` order only so that `Job` can sit in the heap; the (time, sequence) pair in
// front of it is unique, so their order never decides anything.
impl PartialOrd for Msg {
    fn partial_cmp(&self, other: &Msg) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Msg {
    fn cmp(&self, _: &Msg) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

struct Engine {
    stages: Vec<Stage>,
    /// (time, sequence, job), smallest first: RxPY's virtual-time queue.
    queue: BinaryHeap<Reverse<(u64, u64, Job)>>,
    next_seq: u64,
    now: u64,
    out: Vec<Emission>,
}

/// What an operator asks for when it handles something, carried out in this order.
enum Action {
    Emit(Msg),
    /// A timer `after` ms from now, handed back to the operator with this token.
    Schedule {
        after: u64,
        token: u64,
    },
}

impl Engine {
    fn schedule_at(&mut self, at: u64, job: Job) {
        self.queue.push(Reverse((at, self.next_seq, job)));
        self.next_seq += 1;
    }

    fn finished(&self) -> bool {
        self.out.last().is_some_and(|e| e.msg == Msg::Complete)
    }

    /// Subscription at time 0, as Rx does it: the last operator is subscribed first, and it
    /// subscribes to the one before it, and so on. Where an operator starts its timer in that
    /// walk sets the order of timers due at the same instant: buffer_with_time_or_count starts
    /// its window's timer before it subscribes upstream, sample after (RxPY subscribes to the
    /// source, then to its interval), and take:0 is RxPY's `empty()`, which never subscribes
    /// upstream at all.
    fn subscribe(&mut self) {
        if let Some(last) = self.stages.len().checked_sub(1) {
            self.subscribe_stage(last);
        }
    }

    fn subscribe_stage(&mut self, stage: usize) {
        let upstream = |engine: &mut Engine| {
            if let Some(before) = stage.checked_sub(1) {
                engine.subscribe_stage(before);
            }
        };
        match self.stages[stage].state {
            State::Sample { .. } => {
                upstream(self);
                self.start(stage);
            }
            State::Take { n: 0, .. } => self.start(stage),
            _ => {
                self.start(stage);
                upstream(self);
            }
        }
    }

    /// What `stage` does when subscribed: start a timer, or (take:0) complete.
    fn start(&mut self, stage: usize) {
        let actions = self.stages[stage].subscribe();
        self.apply(stage, actions);
    }

    fn deliver(&mut self, stage: usize, msg: Msg) {
        if stage == self.stages.len() {
            if !self.finished() {
                self.out.push(Emission { ms: self.now, msg });
            }
            return;
        }
        if self.stages[stage].done {
            return; // it completed: later input is ignored, as after Rx disposes its source
        }
        let now = self.now;
        let actions = self.stages[stage].on_msg(now, msg);
        self.apply(stage, actions);
    }

    fn fire(&mut self, stage: usize, token: u64) {
        if self.stages[stage].done {
            return;
        }
        let now = self.now;
        let actions = self.stages[stage].on_timer(now, token);
        self.apply(stage, actions);
    }

    fn apply(&mut self, stage: usize, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Emit(msg) => {
                    if msg == Msg::Complete {
                        self.stages[stage].done = true;
                    }
                    self.deliver(stage + 1, msg);
                }
                Action::Schedule { after, token } => {
                    let at = self.now + after;
                    self.schedule_at(at, Job::Timer { stage, token });
                }
            }
        }
    }
}

/// One operator of the chain, with what it remembers between notifications.
struct Stage {
    state: State,
    /// It completed: later input is ignored, as after Rx disposes its source.
    done: bool,
}

/// Each operator's own memory: what Rx keeps in the closure of its `subscribe`.
enum State {
    /// The value waiting to go out, and which timer is the current one.
    Debounce {
        ms: u64,
        pending: Option<Value>,
        timer: u64,
    },
    /// When a value last went out.
    ThrottleFirst {
        ms: u64,
        last: Option<u64>,
    },
    /// The latest value not yet sampled, and whether completion waits for the next tick.
    Sample {
        ms: u64,
        pending: Option<Value>,
        completed: bool,
    },
    /// The open window's values, and which window (so an old window's timer is ignored).
    BufferWithTimeOrCount {
        ms: u64,
        count: usize,
        buffer: Vec<Value>,
        window: u64,
    },
    BufferWithCount {
        count: usize,
        buffer: Vec<Value>,
    },
    /// (due time, notification) in order, and whether a timer is set for the first.
    Delay {
        ms: u64,
        queue: VecDeque<(u64, Msg)>,
        timer_set: bool,
    },
    DistinctUntilChanged {
        last: Option<Value>,
    },
    Take {
        n: usize,
        seen: usize,
    },
    Skip {
        n: usize,
        seen: usize,
    },
}

impl Stage {
    fn new(op: Operator) -> Stage {
        let state = match op {
            Operator::Debounce(ms) => State::Debounce { ms, pending: None, timer: 0 },
            Operator::ThrottleFirst(ms) => State::ThrottleFirst { ms, last: None },
            Operator::Sample(ms) => State::Sample { ms, pending: None, completed: false },
            Operator::BufferWithTimeOrCount(ms, count) => {
                State::BufferWithTimeOrCount { ms, count, buffer: Vec::new(), window: 0 }
            }
            Operator::BufferWithCount(count) => {
                State::BufferWithCount { count, buffer: Vec::new() }
            }
            Operator::Delay(ms) => State::Delay { ms, queue: VecDeque::new(), timer_set: false },
            Operator::DistinctUntilChanged => State::DistinctUntilChanged { last: None },
            Operator::Take(n) => State::Take { n, seen: 0 },
            Operator::Skip(n) => State::Skip { n, seen: 0 },
        };
        Stage { state, done: false }
    }

    fn subscribe(&mut self) -> Vec<Action> {
        match self.state {
            State::Sample { ms, .. } | State::BufferWithTimeOrCount { ms, .. } => {
                vec![Action::Schedule { after: ms, token: 0 }]
            }
            // RxPY's take(0) is `empty()`, which schedules its completion for now rather than
            // completing during the subscription: timers set after it, due now, come later.
            State::Take { n: 0, .. } => vec![Action::Schedule { after: 0, token: 0 }],
            _ => Vec::new(),
        }
    }

    fn on_msg(&mut self, now: u64, msg: Msg) -> Vec<Action> {
        match (&mut self.state, msg) {
            // delay holds completion back like any value.
            (State::Delay { ms, queue, timer_set }, msg) => {
                queue.push_back((now + *ms, msg));
                if std::mem::replace(timer_set, true) {
                    return Vec::new();
                }
                vec![Action::Schedule { after: *ms, token: 0 }]
            }
            // take(0) never subscribed upstream (see `subscribe_stage`): nothing reaches it.
            (State::Take { n: 0, .. }, _) => Vec::new(),
            (_, Msg::Next(value)) => self.on_next(now, value),
            (_, Msg::Complete) => self.on_complete(),
        }
    }

    fn on_next(&mut self, now: u64, value: Value) -> Vec<Action> {
        use Action::{Emit, Schedule};
        let pass = |value| vec![Emit(Msg::Next(value))];
        match &mut self.state {
            State::Debounce { ms, pending, timer } => {
                *pending = Some(value);
                *timer += 1;
                vec![Schedule { after: *ms, token: *timer }]
            }
            State::ThrottleFirst { ms, last } => {
                if last.is_some_and(|last| now - last < *ms) {
                    return Vec::new();
                }
                *last = Some(now);
                pass(value)
            }
            State::Sample { pending, .. } => {
                *pending = Some(value);
                Vec::new()
            }
            State::BufferWithTimeOrCount { ms, count, buffer, window } => {
                buffer.push(value);
                if buffer.len() < *count {
                    return Vec::new();
                }
                *window += 1; // a new window, and the old window's timer no longer counts
                let full = std::mem::take(buffer);
                vec![Emit(Msg::Next(Value::Buffer(full))), Schedule { after: *ms, token: *window }]
            }
            State::BufferWithCount { count, buffer } => {
                buffer.push(value);
                if buffer.len() < *count {
                    return Vec::new();
                }
                pass(Value::Buffer(std::mem::take(buffer)))
            }
            State::DistinctUntilChanged { last } => {
                if last.as_ref() == Some(&value) {
                    return Vec::new();
                }
                *last = Some(value.clone());
                pass(value)
            }
            State::Take { n, seen } => {
                *seen += 1;
                let mut actions = pass(value);
                if *seen == *n {
                    actions.push(Emit(Msg::Complete));
                }
                actions
            }
            State::Skip { n, seen } => {
                *seen += 1;
                if *seen > *n { pass(value) } else { Vec::new() }
            }
            State::Delay { .. } => unreachable!("on_msg queues delay's notifications"),
        }
    }

    fn on_complete(&mut self) -> Vec<Action> {
        use Action::Emit;
        let mut actions = Vec::new();
        match &mut self.state {
            State::Debounce { pending, timer, .. } => {
                *timer += 1; // the pending timer is cancelled
                actions.extend(pending.take().map(|v| Emit(Msg::Next(v))));
            }
            State::Sample { completed, .. } => {
                *completed = true; // held until the next tick
                return actions;
            }
            State::BufferWithTimeOrCount { buffer, .. } => {
                actions.push(Emit(Msg::Next(Value::Buffer(std::mem::take(buffer)))));
            }
            State::BufferWithCount { buffer, .. } if !buffer.is_empty() => {
                actions.push(Emit(Msg::Next(Value::Buffer(std::mem::take(buffer)))));
            }
            _ => {}
        }
        actions.push(Emit(Msg::Complete));
        actions
    }

    fn on_timer(&mut self, now: u64, token: u64) -> Vec<Action> {
        use Action::{Emit, Schedule};
        match &mut self.state {
            State::Debounce { pending, timer, .. } if token == *timer => {
                pending.take().map(|v| Emit(Msg::Next(v))).into_iter().collect()
            }
            State::Sample { ms, pending, completed } => {
                let mut actions: Vec<Action> =
                    pending.take().map(|v| Emit(Msg::Next(v))).into_iter().collect();
                let next = if *completed {
                    Emit(Msg::Complete)
                } else {
                    Schedule { after: *ms, token: 0 }
                };
                actions.push(next);
                actions
            }
            State::BufferWithTimeOrCount { ms, buffer, window, .. } if token == *window => {
                *window += 1;
                let buffer = std::mem::take(buffer);
                vec![
                    Emit(Msg::Next(Value::Buffer(buffer))),
                    Schedule { after: *ms, token: *window },
                ]
            }
            State::Delay { queue, timer_set, .. } => {
                let mut actions = Vec::new();
                while queue.front().is_some_and(|(due, _)| *due <= now) {
                    let (_, msg) = queue.pop_front().expect("just looked");
                    actions.push(Emit(msg));
                }
                match queue.front() {
                    Some((due, _)) => actions.push(Schedule { after: due - now, token: 0 }),
                    None => *timer_set = false,
                }
                actions
            }
            State::Take { n: 0, .. } => vec![Emit(Msg::Complete)],
            _ => Vec::new(), // a timer that was cancelled
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(script: &str, ops: &[&str]) -> Vec<String> {
        let script = parse_script(script).unwrap();
        let chain: Vec<Operator> = ops.iter().map(|s| Operator::parse(s).unwrap()).collect();
        replay(&script, &chain).unwrap().iter().map(ToString::to_string).collect()
    }

    /// RxPY's own test, test_buffer_with_time_or_count_basic, shifted to subscribe at 0 (its
    /// times less 200): empty buffers on the timer, a count-triggered buffer restarting the
    /// timer, and the open buffer emitted on completion.
    #[test]
    fn buffer_with_time_or_count_matches_rxpys_test() {
        let script = "5 1\n10 2\n40 3\n80 4\n120 5\n150 6\n170 7\n220 8\n270 9\n400 |";
        assert_eq!(
            run(script, &["buffer_with_time_or_count:70,3"]),
            [
                "40 [1,2,3]",
                "110 [4]",
                "170 [5,6,7]",
                "240 [8]",
                "310 [9]",
                "380 []",
                "400 []",
                "400 |"
            ]
        );
    }

    #[test]
    fn timed_operators_at_their_edges() {
        // debounce: b waits 20 quiet ms (to 30); c to 70; d is pending when the stream
        // completes, and flushed then.
        let bursts = "0 a\n10 b\n50 c\n100 d\n105 |";
        assert_eq!(run(bursts, &["debounce:20"]), ["30 b", "70 c", "105 d", "105 |"]);
        // An event exactly when the timer is due comes first and restarts the wait.
        assert_eq!(run("0 a\n20 b", &["debounce:20"]), ["40 b"]);
        // throttle_first takes a value exactly one window later.
        let windows = "0 a\n5 b\n10 c\n25 d\n30 |";
        assert_eq!(run(windows, &["throttle_first:10"]), ["0 a", "10 c", "25 d", "30 |"]);
        // sample ticks at 10, 20, 30, 40, 50: c arrives at 20 before the tick due then, and
        // completion waits for the next tick.
        let ticks = "5 a\n12 b\n20 c\n41 d\n45 |";
        assert_eq!(run(ticks, &["sample:10"]), ["10 a", "20 c", "50 d", "50 |"]);
        // Without completion, ticks until the horizon (41 + 10), inclusive.
        assert_eq!(run("5 a", &["sample:10"]), ["10 a"]);
        // delay shifts values and completion alike.
        assert_eq!(run("0 a\n3 b\n9 |", &["delay:100"]), ["100 a", "103 b", "109 |"]);
    }

    #[test]
    fn counting_operators_at_their_edges() {
        let script = "1 a\n2 a\n3 b\n4 a\n5 |";
        assert_eq!(run(script, &["distinct_until_changed"]), ["1 a", "3 b", "4 a", "5 |"]);
        assert_eq!(run(script, &["take:2"]), ["1 a", "2 a", "2 |"]);
        assert_eq!(run(script, &["take:0"]), ["0 |"]);
        assert_eq!(run(script, &["skip:3"]), ["4 a", "5 |"]);
        assert_eq!(run(script, &["buffer_with_count:3"]), ["3 [a,a,b]", "5 [a]", "5 |"]);
        assert_eq!(run("1 a\n2 b\n3 |", &["buffer_with_count:2"]), ["2 [a,b]", "3 |"]);
    }

    #[test]
    fn empty_and_single_event_scripts() {
        assert_eq!(run("", &["debounce:10"]), Vec::<String>::new());
        assert_eq!(run("7 |", &["sample:5"]), ["10 |"]);
        assert_eq!(run("7 x", &["buffer_with_time_or_count:5,2"]), ["5 []", "10 [x]"]);
    }

    #[test]
    fn chains_pass_each_operators_output_to_the_next() {
        let script = "0 a\n1 a\n2 b\n30 b\n31 c\n60 |";
        assert_eq!(
            run(script, &["distinct_until_changed", "debounce:5", "buffer_with_count:2"]),
            ["36 [b,c]", "60 |"]
        );
        assert_eq!(run(script, &["take:3", "delay:10"]), ["10 a", "11 a", "12 b", "12 |"]);
        assert_eq!(run(script, &["throttle_first:20", "sample:25", "skip:1"]), ["50 b", "75 |"]);
    }

    #[test]
    fn bad_scripts_and_operators_are_named() {
        assert_eq!(
            parse_script("0 a\nten b").unwrap_err(),
            "line 2: \"ten\" is not a time in whole milliseconds"
        );
        assert!(
            parse_script("5 a\n3 b").unwrap_err().starts_with("line 2: time 3 goes back before 5")
        );
        assert!(
            parse_script("1 |\n2 a")
                .unwrap_err()
                .starts_with("line 2: an event after the stream completed on line 1")
        );
        assert!(parse_script("1 a b").unwrap_err().starts_with("line 1: expected `<ms> <value>`"));
        assert!(parse_script("# comment\n\n1 a").is_ok());
        assert!(Operator::parse("bounce:3").unwrap_err().contains("unknown operator"));
        assert!(Operator::parse("debounce").unwrap_err().contains("takes one number"));
        assert!(Operator::parse("debounce:0").unwrap_err().contains("at least 1"));
        assert!(
            Operator::parse("buffer_with_time_or_count:5").unwrap_err().contains("two numbers")
        );
        assert_eq!(Operator::parse("take:0"), Ok(Operator::Take(0)));
    }

    #[test]
    fn times_are_bounded_and_written_as_python_writes_numbers() {
        assert_eq!(Operator::parse("debounce:1e3"), Ok(Operator::Debounce(1000)));
        assert_eq!(Operator::parse("delay:1_000"), Ok(Operator::Delay(1000)));
        assert_eq!(parse_script("2e3 a").unwrap().events, [(2000, "a".to_owned())]);
        assert_eq!(
            parse_script("0 a\n18446744073709551615 b").unwrap_err(),
            "line 2: time 18446744073709551615 is past the latest allowed, 1e15 ms"
        );
        assert!(Operator::parse("delay:18446744073709551615").unwrap_err().contains("1e15"));
        // The largest times and durations allowed replay without overflow.
        let script = parse_script(&format!("0 a\n{MAX_MS} b")).unwrap();
        let chain = [Operator::Delay(MAX_MS), Operator::Debounce(MAX_MS)];
        let out: Vec<String> =
            replay(&script, &chain).unwrap().iter().map(ToString::to_string).collect();
        assert_eq!(out, [format!("{} a", 2 * MAX_MS), format!("{} b", 3 * MAX_MS)]);
        let too_long = vec![Operator::Skip(0); MAX_CHAIN + 1];
        assert!(replay(&script, &too_long).unwrap_err().contains("at most 1000"));
    }
}

//! Notebook takeaway 6, "Build reactive applications using Python", which the notebook promises
//! and never shows. In Python that is RxPY (`reactivex`): observables and operators over time.
//! In Rust it is async streams: tokio, tokio-stream and futures' `Stream`/`StreamExt`.
//!
//! Run: `cargo run -p reactive` (the lesson), `cargo run -p reactive -- replay --op debounce:20
//! < script` (any timed script through RxPY's operators), `cargo run -p reactive -- monitor`
//! (a live CPU monitor built from streams); `--vs-python` compares with RxPY itself.

mod backpressure;
mod marbles;
mod monitor;
mod operators;
mod replay;

use std::fmt::Display;
use std::hint::black_box;
use std::io::{IsTerminal, Read};

use clap::{Parser, Subcommand};
use futures_util::stream::{self, StreamExt};
use marbles::{Marbles, marbles_svg};
use operators::Boxed;
use replay::{Operator, Script};
use timing::chart::{Figure, Picture};
use timing::python::Twin;
use timing::{Stats, cli, say};
use tokio::time::{Duration, Instant, sleep, sleep_until};

/// Takeaway 6: reactive applications, RxPY's operators as Rust async streams.
#[derive(Parser)]
#[command(about, long_about = None)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Events through the timed map -> filter -> scan chain (the twin runs at most 1000000,
    /// where RxPY takes about a second) [default: 100000000].
    #[arg(long, value_parser = cli::up_to::<1_000_000_000>, allow_hyphen_values = true)]
    size: Option<u64>,
    /// Also draw the lesson's operators over time as a marble diagram, DIR/operators.svg
    /// (the folder is made if need be).
    #[arg(long = "svg-dir", value_name = "DIR")]
    svg_dir: Option<std::path::PathBuf>,
    #[command(flatten)]
    timed: cli::Timed<cli::VsPython>,
}

#[derive(Subcommand)]
enum Command {
    /// Reads `<ms> <value>` lines (and `<ms> |`) from stdin and prints what a chain of RxPY
    /// operators emits, in virtual time.
    #[command(after_help = REPLAY_EXAMPLE)]
    Replay {
        /// An operator, applied in the order given: debounce:MS, throttle_first:MS, sample:MS,
        /// buffer_with_time_or_count:MS,COUNT, buffer_with_count:N, delay:MS,
        /// distinct_until_changed, take:N, skip:N.
        #[arg(long = "op", value_name = "NAME[:ARGS]", required = true)]
        ops: Vec<String>,
        /// Also draw the script and each operator's output as marble diagrams in FILE.
        #[command(flatten)]
        svg: cli::Svg,
        #[command(flatten)]
        python: cli::VsPython,
    },
    /// A live monitor of this machine's CPU cores, built from streams (Linux: /proc/stat).
    /// Type `rate MS` to change the sampling interval, `quit` (or Ctrl-C) to stop.
    Monitor {
        /// Stop by itself after this many seconds.
        #[arg(long, value_parser = cli::up_to::<86_400>, allow_hyphen_values = true)]
        duration: Option<u64>,
        /// Busy percentage above which the alert fires.
        #[arg(long, default_value_t = 80, value_parser = cli::up_to::<100>,
              allow_hyphen_values = true)]
        threshold: u64,
        /// Sampling interval in milliseconds.
        #[arg(long, default_value_t = 500, value_parser = cli::between::<10, 60_000>,
              allow_hyphen_values = true)]
        rate: u64,
    },
}

/// `replay --help`'s worked example (checked by the tests).
const REPLAY_EXAMPLE: &str = "Example: values at 0, 30 and 200 ms, completing at 300 ms, through debounce(50 ms):
  printf '0 a\\n30 b\\n200 c\\n300 |\\n' | cargo run -p reactive -- replay --op debounce:50
prints
  80 b
  250 c
  300 |
(b came 30 ms after a, so only b is let through, 50 ms after it; c is let through before completion.)";

/// The packages the twins import: RxPY 4, whose semantics `replay` follows.
const PACKAGES: &[&str] = &["reactivex>=4.0,<5"];

fn main() {
    let args = cli::parse::<Args>();
    if args.command.is_some() {
        refuse_lesson_options(&args);
    }
    match &args.command {
        None => lesson(&args),
        Some(Command::Replay { ops, svg, python }) => {
            let picture = Picture::for_svg(svg).unwrap_or_else(|e| cli::usage_error(e));
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/replay.py");
            replay_stdin(ops, twin(script, python).as_ref(), picture);
        }
        Some(Command::Monitor { duration, threshold, rate }) => {
            monitor::run(
                duration.map(Duration::from_secs),
                *threshold,
                Duration::from_millis(*rate),
            );
        }
    }
}

/// The lesson: operators over time, replay, backpressure, throughput, the monitor.
fn lesson(args: &Args) {
    let picture = Picture::for_svg(&args.timed.svg).unwrap_or_else(|e| cli::usage_error(e));
    let marbles = args.svg_dir.as_deref().map(marbles_picture);
    say!("== Takeaway 6: reactive streams, RxPY's operators as Rust async streams");
    say!();
    operators_over_time(marbles).unwrap_or_else(|e| cli::fail(e));
    say!();
    say!("[2] Any timed script through any chain: `cargo run -p reactive -- replay --op ...`");
    say!("    (see `replay --help`; --vs-python runs the same chain in RxPY and compares)");
    say!();
    backpressure::lesson();
    say!();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/throughput.py");
    let twin = twin(script, &args.timed.python);
    let mut figure = Figure::new("reactive: a chain of operators, compiled and as a stream");
    let size = args.size.unwrap_or(100_000_000);
    throughput(size, args.timed.runs.get(), twin.as_ref(), &mut figure);
    say!();
    say!("[5] A reactive application: `cargo run -p reactive -- monitor` (stop with `quit`)");
    if let Some(picture) = picture {
        figure.save(picture).unwrap_or_else(|e| cli::fail(e));
    }
}

/// The lesson's own options, given before a subcommand: refused, not ignored.
fn refuse_lesson_options(args: &Args) {
    let after = "the lesson's option; a subcommand takes its own after its name";
    for refused in [
        args.timed.runs.refuse(after),
        args.timed.svg.refuse(after),
        args.timed.python.refuse(after),
    ] {
        refused.unwrap_or_else(|e| cli::usage_error(e));
    }
    if args.size.is_some() {
        cli::usage_error(format!("--size: {after}"));
    }
    if args.svg_dir.is_some() {
        cli::usage_error("--svg-dir: only the lesson draws its examples (replay takes --svg FILE)");
    }
}

/// The twin `script`, run with RxPY where --vs-python asks for it.
fn twin<'a>(script: &'a str, python: &'a cli::VsPython) -> Option<Twin<'a>> {
    python.enabled.then(|| Twin::new(script, PACKAGES, python))
}

// ---- 1. operators over time ----

/// The lesson's stream: numbers at their times (ms), ending at 600.
const EVENTS: [(u64, &str); 7] =
    [(0, "1"), (30, "2"), (60, "2"), (200, "3"), (230, "4"), (260, "4"), (500, "5")];
const END: u64 = 600;

/// Each operator on one short stream, as a marble diagram in text: `time:value`, `|` at the
/// end. Time is tokio's paused clock, so the output is the same on every run and machine, and
/// the 600 ms timeline takes no real time at all.
/// `--svg-dir DIR`: the folder made, and its picture checked, before any work.
fn marbles_picture(folder: &std::path::Path) -> timing::chart::Picture {
    std::fs::create_dir_all(folder)
        .map_err(|e| format!("{}: {e}", folder.display()))
        .and_then(|()| timing::chart::Picture::create(&folder.join("operators.svg")))
        .unwrap_or_else(|e| cli::usage_error(format!("--svg-dir: {e}")))
}

/// `Err`: the marble diagram could not be written, in one line.
fn operators_over_time(picture: Option<Picture>) -> Result<(), String> {
    // tokio 1.x docs, tokio::time::pause and #[tokio::test(start_paused = true)]: a paused
    // clock advances only when every task waits on a timer.
    say!("[1] Operators over time, in virtual time (tokio's paused clock; `ms:value`, `|` = end)");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime starts");
    let rows = runtime.block_on(async { marble_rows().await });
    for row in &rows {
        say!("{:<32} {}", row.label, row.marbles.join("  "));
        say!("    {}", row.meaning);
        if let Some(op) = row.same_as {
            let expected = replay_marbles(op);
            assert_eq!(
                row.marbles, expected,
                "{}: tokio and the replay engine disagree",
                row.label
            );
        }
    }
    say!(
        "(every row that `replay` also has - debounce, throttle_first, sample, the buffer, delay,"
    );
    say!(" distinct_until_changed - was checked against it: the same times, the same values)");
    if let Some(picture) = picture {
        let lines: Vec<_> = rows.iter().map(|row| marble_line(row.label, &row.marbles)).collect();
        let svg = marbles_svg("reactive: operators over time", &lines);
        say!("(these rows as a marble diagram: {})", picture.write(&svg)?.display());
    }
    Ok(())
}

/// A row's `ms:value` marbles (`ms:|` the end) as one line of a marble diagram.
fn marble_line(name: &str, marbles: &[String]) -> Marbles {
    let mut line = Marbles { name: name.to_owned(), values: Vec::new(), completed: None };
    for marble in marbles {
        let (ms, value) = marble.split_once(':').expect("marbles are ms:value");
        let ms = ms.parse().expect("marble times are whole milliseconds");
        if value == "|" {
            line.completed = Some(ms);
        } else {
            line.values.push((ms, value.to_owned()));
        }
    }
    line
}

/// `replay --svg FILE`: the script and what comes out after each operator of the chain, as a
/// marble diagram, each line replayed through the chain up to that operator. `Err`: the
/// picture could not be written, in one line.
fn save_marbles(
    picture: Picture,
    script: &Script,
    chain: &[Operator],
    ops: &[String],
) -> Result<(), String> {
    let mut lines = Vec::with_capacity(chain.len() + 1);
    for upto in 0..=chain.len() {
        let emissions =
            replay::replay(script, &chain[..upto]).expect("a shorter chain replays too");
        let name =
            if upto == 0 { "the script".to_owned() } else { format!("-> {}", ops[upto - 1]) };
        lines.push(marbles(name, &emissions));
    }
    let svg = marbles_svg(&format!("replay --op {}", ops.join(" --op ")), &lines);
    // On stderr: stdout is the replay's output, line for line, as the tests and RxPY compare it.
    eprintln!("(the marble diagram: {})", picture.write(&svg)?.display());
    Ok(())
}

/// Emissions as one line of a marble diagram.
fn marbles(name: String, emissions: &[replay::Emission]) -> Marbles {
    let mut line = Marbles { name, values: Vec::new(), completed: None };
    for emission in emissions {
        match &emission.msg {
            replay::Msg::Next(value) => line.values.push((emission.ms, value.to_string())),
            replay::Msg::Complete => line.completed = Some(emission.ms),
        }
    }
    line
}

/// What `replay` makes of the lesson's stream through `op`, as `ms:value` marbles.
fn replay_marbles(op: &str) -> Vec<String> {
    let script = Script {
        events: EVENTS.iter().map(|&(ms, v)| (ms, v.to_owned())).collect(),
        completes_at: Some(END),
    };
    let chain = [Operator::parse(op).expect("the lesson's operators parse")];
    let emissions = replay::replay(&script, &chain).expect("one operator, the lesson's times");
    emissions.iter().map(|e| e.to_string().replacen(' ', ":", 1)).collect()
}

struct Row {
    label: &'static str,
    meaning: &'static str,
    marbles: Vec<String>,
    /// The `replay` operator that must give the same marbles.
    same_as: Option<&'static str>,
}

async fn marble_rows() -> Vec<Row> {
    let mut rows = transforming_rows().await;
    rows.extend(timed_rows().await);
    rows.extend(combining_rows().await);
    rows
}

/// Operators that change, drop or accumulate values, whatever the time.
async fn transforming_rows() -> Vec<Row> {
    let numbers =
        || script_stream(&EVENTS, END).map(|v| v.parse::<u64>().expect("numbers")).boxed();
    let texts = || script_stream(&EVENTS, END);
    vec![
        row("source", "the events as they come", None, texts()).await,
        // futures' `StreamExt::map` and `filter` (futures-util 0.3, src/stream/stream/mod.rs),
        // whose predicate returns a future - hence `ready(..)`; tokio-stream's `filter` takes
        // a plain `bool` closure (tokio-stream 0.1, src/stream_ext.rs), but one `StreamExt` in
        // scope is enough here.
        row(
            "map(x * 10)",
            "each value transformed (futures' map)",
            None,
            numbers().map(|x| x * 10).boxed(),
        )
        .await,
        row(
            "filter(even)",
            "only the values that pass (futures' filter, its test a future)",
            None,
            numbers().filter(|x| std::future::ready(x % 2 == 0)).boxed(),
        )
        .await,
        row(
            "scan(running sum)",
            "an accumulator carried from value to value (futures' scan)",
            None,
            numbers()
                .scan(0, |sum, x| {
                    *sum += x;
                    std::future::ready(Some(*sum))
                })
                .boxed(),
        )
        .await,
        row(
            "distinct_until_changed",
            "a value equal to the one before it is dropped (filter with a remembered value)",
            Some("distinct_until_changed"),
            {
                let mut last: Option<String> = None;
                texts()
                    .filter(move |v| {
                        let changed = last.as_ref() != Some(v);
                        last = Some(v.clone());
                        std::future::ready(changed)
                    })
                    .boxed()
            },
        )
        .await,
    ]
}

/// Operators that work on time: each checked against `replay`'s.
async fn timed_rows() -> Vec<Row> {
    let ms = Duration::from_millis;
    let texts = || script_stream(&EVENTS, END);
    vec![
        row(
            "debounce(100)",
            "out once 100 ms pass quietly: the end of each burst",
            Some("debounce:100"),
            operators::debounce(texts(), ms(100)),
        )
        .await,
        row(
            "throttle_first(100)",
            "the first of each 100 ms window; the rest dropped",
            Some("throttle_first:100"),
            operators::throttle_first(texts(), ms(100)),
        )
        .await,
        row(
            "sample(100)",
            "every 100 ms, the latest value if a new one came",
            Some("sample:100"),
            operators::sample(texts(), ms(100)),
        )
        .await,
        row(
            "buffer_with_time_or_count(150,3)",
            "a list every 3 values or 150 ms, whichever first",
            Some("buffer_with_time_or_count:150,3"),
            operators::buffer_with_time_or_count(texts(), ms(150), 3)
                .map(|b| format!("[{}]", b.join(",")))
                .boxed(),
        )
        .await,
        row(
            "delay(50)",
            "everything 50 ms later, the end too",
            Some("delay:50"),
            operators::delay(texts(), ms(50)),
        )
        .await,
    ]
}

/// Operators that join streams.
async fn combining_rows() -> Vec<Row> {
    let texts = || script_stream(&EVENTS, END);
    let mut rows = Vec::new();
    let other: [(u64, &str); 2] = [(100, "a"), (350, "b")];
    rows.push(
        row(
            "merge(other)",
            // tokio-stream 0.1 docs, StreamExt::merge: items as they come, ends when both end.
            "two streams as one, in time order; ends when both have (tokio-stream's merge)",
            None,
            tokio_stream::StreamExt::merge(texts(), script_stream(&other, 400)).boxed(),
        )
        .await,
    );
    let queries: [(u64, &str); 3] = [(0, "r"), (40, "ru"), (300, "rust")];
    let search =
        |query: String| -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send>> {
            Box::pin(async move {
                sleep(Duration::from_millis(100)).await; // the request takes 100 ms
                format!("results({query})")
            })
        };
    rows.push(
        row(
            "flat_map_latest(search)",
            "type-ahead: each query starts a 100 ms search; a new query cancels the stale one",
            None,
            operators::flat_map_latest(script_stream(&queries, 600), search),
        )
        .await,
    );
    rows
}

/// Runs `stream` to its end on the paused clock and records `ms:value` for each item.
async fn row<T: Display>(
    label: &'static str,
    meaning: &'static str,
    same_as: Option<&'static str>,
    mut stream: Boxed<T>,
) -> Row {
    let start = Instant::now();
    let at = |start: Instant| (Instant::now() - start).as_millis();
    let mut marbles = Vec::new();
    while let Some(value) = stream.next().await {
        marbles.push(format!("{}:{value}", at(start)));
    }
    marbles.push(format!("{}:|", at(start)));
    Row { label, meaning, marbles, same_as }
}

/// `events` as a stream on the clock that started when it was made: each value at its time,
/// the end at `end`.
fn script_stream(events: &[(u64, &str)], end: u64) -> Boxed<String> {
    let start = Instant::now();
    let events: Vec<(u64, String)> = events.iter().map(|&(ms, v)| (ms, v.to_owned())).collect();
    Box::pin(stream::unfold(0, move |i| {
        let next = events.get(i).cloned();
        async move {
            match next {
                Some((ms, value)) => {
                    sleep_until(start + Duration::from_millis(ms)).await;
                    Some((value, i + 1))
                }
                None => {
                    sleep_until(start + Duration::from_millis(end)).await;
                    None
                }
            }
        }
    }))
}

// ---- 2. replay ----

/// `reactive replay`: the script on stdin through the chain; with `--vs-python`, the same
/// through RxPY's `TestScheduler`, compared line by line.
fn replay_stdin(ops: &[String], twin: Option<&Twin<'_>>, picture: Option<Picture>) {
    let chain: Vec<Operator> = ops
        .iter()
        .map(|spec| Operator::parse(spec).unwrap_or_else(|e| cli::usage_error(e)))
        .collect();
    let mut text = String::new();
    if std::io::stdin().is_terminal() {
        eprintln!(
            "type the script: `TIME VALUE` lines in milliseconds (`TIME |` completes it), then Ctrl-D"
        );
    }
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        cli::usage_error(format!("cannot read the script from stdin: {e}"));
    }
    let script = replay::parse_script(&text).unwrap_or_else(|e| cli::usage_error(e));
    let emissions = replay::replay(&script, &chain).unwrap_or_else(|e| cli::usage_error(e));
    let ours: Vec<String> = emissions.iter().map(ToString::to_string).collect();
    for line in &ours {
        say!("{line}");
    }
    if let Some(picture) = picture {
        save_marbles(picture, &script, &chain, ops).unwrap_or_else(|e| cli::fail(e));
    }
    let Some(twin) = twin else { return };
    // The script goes to the twin in a file: its stdin is the pipe that ties it to this process.
    let file = tempfile::Builder::new()
        .prefix("hpc-rs-replay-")
        .tempfile()
        .and_then(|file| std::fs::write(file.path(), &text).map(|()| file))
        .unwrap_or_else(|e| cli::fail(format!("writing the script for the twin: {e}")));
    let path = file.path().to_path_buf();
    let args: Vec<String> = ["--twin", &path.to_string_lossy()]
        .iter()
        .map(|s| (*s).to_owned())
        .chain(ops.iter().cloned())
        .collect();
    let report = timing::python::run_or_explain(twin, &args, |_, _| {});
    drop(file);
    let Some(report) = report.unwrap_or_else(|e| cli::fail(e)) else { return };
    let theirs = report.notes;
    match ours.iter().zip(&theirs).position(|(a, b)| a != b) {
        None if ours.len() == theirs.len() => {
            say!("RxPY TestScheduler: identical, {}", timing::plural(ours.len(), "line"));
        }
        at => {
            let at = at.unwrap_or(ours.len().min(theirs.len()));
            say!(
                "RxPY differs at line {}: Rust {:?}, RxPY {:?}",
                at + 1,
                ours.get(at),
                theirs.get(at)
            );
            cli::fail("the replay and RxPY disagree");
        }
    }
}

// ---- 4. throughput ----

/// `map -> filter -> scan` over `size` events: a plain iterator, the same as an async stream,
/// and with `--vs-python`, as an RxPY pipeline.
fn throughput(size: u64, runs: usize, twin: Option<&Twin<'_>>, figure: &mut Figure) {
    let warmup = timing::after_warmup(runs);
    say!("[4] Throughput: map(x*3) -> filter(even) -> scan(sum) over {size} events ({warmup})");
    figure.panel(format!("map(x*3) -> filter(even) -> scan(sum) over {size} events"));
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime starts");
    let expected = chain_result(size);
    let (sum, iterator) = timing::measure(runs, || iterator_chain(size));
    assert_eq!(sum, expected, "iterator chain");
    say!("{}", iterator.baseline_line("Iterator (a plain loop, compiled)"));
    figure.baseline("Iterator (a plain loop, compiled)", &iterator);
    let (sum, streamed) = timing::measure(runs, || runtime.block_on(stream_chain(size)));
    assert_eq!(sum, expected, "stream chain");
    say!("{}  {}", streamed.line("async Stream (futures)"), streamed.speedup_over(&iterator));
    figure.bar("async Stream (futures)", &streamed);
    say!("verified: both end at the closed form 3m(m-1) = {expected}, m = ceil(n/2)");
    let per_event = |stats: &Stats| stats.median.as_secs_f64() * 1e9 / size as f64;
    let ratio = streamed.median.as_secs_f64() / iterator.median.as_secs_f64().max(1e-12);
    say!(
        "    {:.2} ns an event as an iterator, {:.2} ns as a stream.",
        per_event(&iterator),
        per_event(&streamed)
    );
    if ratio < 1.3 {
        say!(
            "    The stream costs next to nothing more: with nothing to wait for, each poll is inlined."
        );
    } else {
        say!(
            "    The stream costs {ratio:.1}x the loop: every item is a poll through each adapter, which"
        );
        say!("    the compiler inlines less well than a plain loop - still a few ns an event.");
    }
    let Some(twin) = twin else { return };
    let twin_size = size.min(1_000_000);
    let (_, small_stream) = timing::measure(runs, || runtime.block_on(stream_chain(twin_size)));
    let (_, small_iterator) = timing::measure(runs, || iterator_chain(twin_size));
    let args = [twin_size.to_string(), runs.to_string(), chain_result(twin_size).to_string()];
    let rust = [("async Stream", &small_stream), ("Iterator", &small_iterator)];
    say!("    (Rust again at the twin's {twin_size} events, for the comparison below)");
    let report =
        timing::python::compare(twin, &args, &rust, figure).unwrap_or_else(|e| cli::fail(e));
    if let Some([rxpy, _]) = report.as_ref().map(|r| &r.measured[..]) {
        let ns = |stats: &Stats| stats.median.as_secs_f64() * 1e9 / twin_size as f64;
        say!(
            "RxPY takes {:.0} ns an event, the Rust stream {:.1} ns: {:.0}x. RxPY calls a Python function",
            ns(&rxpy.stats),
            ns(&small_stream),
            ns(&rxpy.stats) / ns(&small_stream).max(1e-12)
        );
        say!("  per operator per event, each a dictionary lookup and a frame; the Rust stream's");
        say!("  adapters are compiled code, polled with nothing to wait for.");
    }
}

fn iterator_chain(size: u64) -> u64 {
    (0..size)
        .map(|x| black_box(x) * 3)
        .filter(|x| x % 2 == 0)
        .scan(0, |sum, x| {
            *sum += x;
            Some(*sum)
        })
        .last()
        .unwrap_or(0)
}

async fn stream_chain(size: u64) -> u64 {
    stream::iter(0..size)
        .map(|x| black_box(x) * 3)
        .filter(|x| std::future::ready(x % 2 == 0))
        .scan(0, |sum, x| {
            *sum += x;
            std::future::ready(Some(*sum))
        })
        .fold(0, |_, sum| std::future::ready(sum))
        .await
}

/// The last running sum: 3x for every even x below n, that is 6 (0 + 1 + ... + (m-1)).
fn chain_result(size: u64) -> u64 {
    let m = size.div_ceil(2);
    3 * m * m.saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_result_matches_the_loop() {
        for n in [0, 1, 2, 3, 10, 1001] {
            assert_eq!(chain_result(n), iterator_chain(n), "n = {n}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_tokio_operators_agree_with_the_replay_engine() {
        let rows = marble_rows().await;
        for row in rows.iter().filter(|r| r.same_as.is_some()) {
            let expected = replay_marbles(row.same_as.unwrap());
            assert_eq!(row.marbles, expected, "{}", row.label);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn flat_map_latest_cancels_the_stale_request() {
        let rows = marble_rows().await;
        let search = rows.iter().find(|r| r.label.starts_with("flat_map_latest")).unwrap();
        assert_eq!(search.marbles, ["140:results(ru)", "400:results(rust)", "600:|"]);
        let merge = rows.iter().find(|r| r.label.starts_with("merge")).unwrap();
        assert_eq!(
            merge.marbles,
            ["0:1", "30:2", "60:2", "100:a", "200:3", "230:4", "260:4", "350:b", "500:5", "600:|"]
        );
    }
}

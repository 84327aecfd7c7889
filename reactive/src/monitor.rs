//! [5] `reactive monitor`: a live monitor of this machine's CPU cores, built from streams: a
//! sampling timer reading /proc/stat, each core smoothed over a sliding window, a high-load
//! alert built from the crate's own operators - it fires once the load has stayed above the
//! threshold for a while (`debounce` of the high/low state) and at most once in a while
//! (`throttle_first`) - merged with commands typed on stdin
//! (`rate MS` restarts the sampler at the new interval - a switch to a new timer stream -
//! and `quit`), and Ctrl-C. Run it beside `cargo run -p threading` to watch both cores fill.

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};

use futures_util::stream::{self, StreamExt};
use timing::cli;
use tokio::io::AsyncBufReadExt;
use tokio::time::{Duration, Instant};
use tokio_stream::wrappers::{IntervalStream, LinesStream, UnboundedReceiverStream};

use crate::operators::{Boxed, debounce, distinct_until_changed, throttle_first};

/// Samples averaged per core.
const WINDOW: usize = 4;
/// How long the load must stay high before the alert fires.
const SUSTAIN: Duration = Duration::from_secs(2);
/// At most one alert in this long.
const REPEAT: Duration = Duration::from_secs(10);

/// What reaches the monitor: a tick of the sampler, an alert, a command, or the end.
#[derive(Debug, PartialEq)]
pub enum Input {
    Tick,
    Alert,
    Rate(Duration),
    Quit,
    Unknown(String),
    /// A known command with a value it cannot take: what to type instead.
    Invalid(String),
}

/// What the monitor says.
#[derive(Debug, PartialEq)]
pub enum Output {
    /// Smoothed busy percentage of each core, and their mean.
    Load {
        at: Duration,
        cores: Vec<f64>,
        mean: f64,
    },
    Alert {
        at: Duration,
        mean: f64,
    },
    Note(String),
}

pub fn run(duration: Option<Duration>, threshold: u64, rate: Duration) {
    if read_cpu_times().is_none() {
        cli::fail("no /proc/stat here: the monitor reads Linux's CPU counters");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime starts");
    let terminal = std::io::stdout().is_terminal();
    runtime.block_on(async {
        let stdin = LinesStream::new(tokio::io::BufReader::new(tokio::io::stdin()).lines());
        // When stdin closes (`< /dev/null`, a pipe that ends), commands stop; the monitor goes
        // on until `quit`, Ctrl-C or --duration.
        let commands =
            stdin.filter_map(|line| std::future::ready(line.ok().map(|l| parse_command(&l))));
        let ctrl_c = stream::once(async {
            let _ = tokio::signal::ctrl_c().await;
            Input::Quit
        });
        let inputs: Boxed<Input> = Box::pin(tokio_stream::StreamExt::merge(commands, ctrl_c));
        let cores = read_cpu_times().map_or(0, |c| c.len());
        let cores_text = timing::plural(cores, "core");
        let until = duration.map_or("until `quit` or Ctrl-C".to_owned(), |d| format!("for {} s", d.as_secs()));
        timing::say!(
            "monitoring {cores_text} every {} ms {until}; alert when the mean stays above {threshold}% for {} s",
            rate.as_millis(),
            SUSTAIN.as_secs()
        );
        let mut screen = Screen { terminal, drawn: 0 };
        monitor(inputs, read_cpu_times, threshold as f64, rate, duration, |out| screen.show(&out))
            .await;
    });
    // tokio reads stdin on a blocking thread that cannot be interrupted: dropping the runtime
    // would wait for the next line (forever, on a terminal). The monitor is done; leave it.
    runtime.shutdown_background();
}

/// The monitor itself, independent of where snapshots and commands come from, so that tests
/// drive it with fixed snapshots on a paused clock.
pub async fn monitor(
    mut inputs: Boxed<Input>,
    mut snapshot: impl FnMut() -> Option<Vec<CpuTimes>>,
    threshold: f64,
    rate: Duration,
    duration: Option<Duration>,
    mut show: impl FnMut(Output),
) {
    let start = Instant::now();
    let mut ticks = sampler(rate);
    let mut load = Load::default();
    // Each mean load goes into the alert's stream as it is measured; the alerts come back
    // out of it, in the same loop as the ticks and the commands.
    let (means, measured) = tokio::sync::mpsc::unbounded_channel();
    let mut alerts = alerts(Box::pin(UnboundedReceiverStream::new(measured)), threshold);
    let mut latest_mean = 0.0;
    let deadline = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    loop {
        let input = tokio::select! {
            biased;
            () = &mut deadline => Input::Quit,
            Some(input) = inputs.next() => input,
            Some(()) = ticks.next() => Input::Tick,
            Some(()) = alerts.next() => Input::Alert,
        };
        let at = start.elapsed();
        match input {
            Input::Tick => {
                let Some(times) = snapshot() else { continue };
                let Some((cores, mean)) = load.update(times) else { continue };
                latest_mean = mean;
                // The receiver lives as long as `alerts`, in this function.
                means.send(mean).expect("the alert stream is alive");
                show(Output::Load { at, cores, mean });
            }
            Input::Alert => show(Output::Alert { at, mean: latest_mean }),
            // A switch: the old timer stream is dropped, a new one starts now.
            Input::Rate(every) => {
                ticks = sampler(every);
                show(Output::Note(format!("sampling every {} ms", every.as_millis())));
            }
            Input::Quit => break,
            Input::Unknown(text) => {
                show(Output::Note(format!("unknown command {text:?}: type `rate MS` or `quit`")))
            }
            Input::Invalid(advice) => show(Output::Note(advice)),
        }
    }
}

/// The alert, as RxPY would write it: whether the mean is above the threshold, kept only when
/// that changes (`distinct_until_changed`); a change that holds for SUSTAIN without another
/// (`debounce`) and is "high" is an alert; at most one alert in REPEAT (`throttle_first`), so
/// a load that flickers around the threshold does not flood the screen. A load that stays
/// high alerts once; it must drop and stay high again to alert again.
fn alerts(means: Boxed<f64>, threshold: f64) -> Boxed<()> {
    let high = distinct_until_changed(Box::pin(means.map(move |mean| mean > threshold)));
    let sustained = debounce(high, SUSTAIN).filter(|&high| std::future::ready(high));
    throttle_first(Box::pin(sustained.map(|_| ())), REPEAT)
}

/// A tick every `every`, the first one `every` from now.
fn sampler(every: Duration) -> Boxed<()> {
    let interval = tokio::time::interval_at(Instant::now() + every, every);
    Box::pin(IntervalStream::new(interval).map(|_| ()))
}

fn parse_command(line: &str) -> Input {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words[..] {
        ["quit"] | ["q"] => Input::Quit,
        ["rate", ms] => match ms.parse::<u64>() {
            Ok(ms) if (10..=60_000).contains(&ms) => Input::Rate(Duration::from_millis(ms)),
            _ => Input::Invalid(format!(
                "rate {ms:?}: type a whole number of milliseconds from 10 to 60000, as in `rate 500`"
            )),
        },
        _ => Input::Unknown(line.to_owned()),
    }
}

// ---- the load, smoothed, and the alert ----

/// One core's counters from /proc/stat, in clock ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub busy: u64,
    pub total: u64,
}

#[derive(Default)]
struct Load {
    previous: Option<Vec<CpuTimes>>,
    windows: Vec<VecDeque<f64>>,
}

impl Load {
    /// A new snapshot: each core's busy share since the last one, smoothed over the window,
    /// and their mean; nothing for the first snapshot, which has no "since".
    fn update(&mut self, times: Vec<CpuTimes>) -> Option<(Vec<f64>, f64)> {
        let previous = self.previous.replace(times.clone())?;
        if previous.len() != times.len() {
            self.windows.clear();
        }
        self.windows.resize_with(times.len(), VecDeque::new);
        let mut cores = Vec::with_capacity(times.len());
        for ((window, old), new) in self.windows.iter_mut().zip(&previous).zip(&times) {
            let total = new.total.saturating_sub(old.total).max(1);
            let busy = new.busy.saturating_sub(old.busy);
            window.push_back(100.0 * busy as f64 / total as f64);
            if window.len() > WINDOW {
                window.pop_front();
            }
            cores.push(window.iter().sum::<f64>() / window.len() as f64);
        }
        let mean = cores.iter().sum::<f64>() / cores.len().max(1) as f64;
        Some((cores, mean))
    }
}

/// Each core's counters (`cpuN` lines of /proc/stat), or `None` where there is no such file.
fn read_cpu_times() -> Option<Vec<CpuTimes>> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cores: Vec<CpuTimes> = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .map(|line| {
            let fields: Vec<u64> =
                line.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
            let total: u64 = fields.iter().take(8).sum(); // guest time is already in user
            let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
            CpuTimes { busy: total - idle, total }
        })
        .collect();
    (!cores.is_empty()).then_some(cores)
}

// ---- showing it ----

struct Screen {
    terminal: bool,
    /// Lines of the last drawing, to move back over on a terminal.
    drawn: usize,
}

impl Screen {
    fn show(&mut self, output: &Output) {
        let mut out = std::io::stdout().lock();
        let result = match output {
            Output::Load { at, cores, mean } if self.terminal => {
                let mut text = String::new();
                if self.drawn > 0 {
                    text.push_str(&format!("\x1b[{}A", self.drawn));
                }
                for (i, busy) in cores.iter().enumerate() {
                    text.push_str(&format!("cpu{i:<3} {} {busy:5.1}%\x1b[K\n", bar(*busy)));
                }
                text.push_str(&format!(
                    "mean   {} {mean:5.1}%  ({:.1} s; `rate MS`, `quit`)\x1b[K\n",
                    bar(*mean),
                    at.as_secs_f64()
                ));
                self.drawn = cores.len() + 1;
                out.write_all(text.as_bytes())
            }
            Output::Load { at, cores, mean } => {
                let each: Vec<String> =
                    cores.iter().enumerate().map(|(i, b)| format!("cpu{i} {b:5.1}%")).collect();
                writeln!(out, "{:7.2}s  {}  mean {mean:5.1}%", at.as_secs_f64(), each.join("  "))
            }
            Output::Alert { at, mean } => {
                self.drawn = 0;
                writeln!(
                    out,
                    "{:7.2}s  ALERT: mean load {mean:.1}% has stayed high for {} s",
                    at.as_secs_f64(),
                    SUSTAIN.as_secs()
                )
            }
            Output::Note(note) => {
                self.drawn = 0;
                writeln!(out, "{note}")
            }
        };
        if result.and_then(|()| out.flush()).is_err() {
            std::process::exit(0); // stdout closed (piped into head): end quietly
        }
    }
}

fn bar(percent: f64) -> String {
    // The share of 20 cells, rounded: within 0..=20 by construction.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let full = ((percent.clamp(0.0, 100.0) / 5.0).round()) as usize;
    format!("[{}{}]", "#".repeat(full), ".".repeat(20 - full))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Two cores whose counters grow by `busy` of every 100 ticks between snapshots.
    fn snapshots(busy: [u64; 2]) -> impl FnMut() -> Option<Vec<CpuTimes>> {
        let mut n = 0;
        move || {
            n += 1;
            Some(busy.iter().map(|&b| CpuTimes { busy: b * n, total: 100 * n }).collect())
        }
    }

    /// Runs the monitor on a paused clock with fixed snapshots and `inputs` at their times
    /// (ms), for at most `seconds`, and returns everything it showed.
    async fn drive(inputs: Vec<(u64, Input)>, busy: [u64; 2], seconds: u64) -> Vec<Output> {
        let start = Instant::now();
        let timed: Boxed<Input> = Box::pin(
            stream::unfold(inputs.into_iter(), move |mut rest| async move {
                let (ms, input) = rest.next()?;
                tokio::time::sleep_until(start + Duration::from_millis(ms)).await;
                Some((input, rest))
            })
            .chain(stream::pending()),
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let rate = Duration::from_millis(500);
        let until = Some(Duration::from_secs(seconds));
        monitor(timed, snapshots(busy), 80.0, rate, until, move |out| {
            record.lock().unwrap().push(out)
        })
        .await;
        Arc::try_unwrap(seen).unwrap().into_inner().unwrap()
    }

    fn load_times(outputs: &[Output]) -> Vec<u128> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Load { at, .. } => Some(at.as_millis()),
                _ => None,
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_load_that_stays_high_alerts_once_after_two_seconds() {
        let outputs = drive(Vec::new(), [90, 95], 15).await;
        let alerts: Vec<(u128, f64)> = outputs
            .iter()
            .filter_map(|o| match o {
                Output::Alert { at, mean } => Some((at.as_millis(), *mean)),
                _ => None,
            })
            .collect();
        // Loads from the second tick (1.0 s); high from then on; the alert 2 s later.
        assert_eq!(alerts, [(3000, 92.5)]);
        let Some(Output::Load { cores, mean, .. }) = outputs.first() else { panic!("{outputs:?}") };
        assert_eq!((cores.as_slice(), *mean), ([90.0, 95.0].as_slice(), 92.5));
    }

    /// The times (ms) at which the alert stream fires for mean loads given at times (ms); the
    /// loads end at 30 s (the end flushes a pending debounce, as the monitor's never does).
    async fn alert_times(means: &[(u64, f64)]) -> Vec<u128> {
        let start = Instant::now();
        let at = move |ms| tokio::time::sleep_until(start + Duration::from_millis(ms));
        let timed = stream::iter(means.to_vec()).then(move |(ms, mean)| async move {
            at(ms).await;
            Some(mean)
        });
        let end = stream::once(async move {
            at(30_000).await;
            None
        });
        let means: Boxed<f64> = Box::pin(timed.chain(end).filter_map(std::future::ready));
        alerts(means, 80.0).map(|()| start.elapsed().as_millis()).collect().await
    }

    #[tokio::test(start_paused = true)]
    async fn the_alert_is_a_debounced_high_state_throttled_to_one_in_ten_seconds() {
        // High from 0: one alert at 2 s, however many high samples follow.
        assert_eq!(
            alert_times(&[(0, 90.0), (500, 95.0), (1000, 99.0), (5000, 90.0)]).await,
            [2000]
        );
        // A drop before 2 s restarts the wait.
        assert_eq!(alert_times(&[(0, 90.0), (1500, 10.0), (2000, 90.0)]).await, [4000]);
        // High again 4 s after an alert: sustained at 6 s, inside the 10 s, so dropped; high
        // again at 12.5 s: alerted at 14.5 s.
        let flicker = [(0, 90.0), (3000, 10.0), (4000, 90.0), (7000, 10.0), (12_500, 90.0)];
        assert_eq!(alert_times(&flicker).await, [2000, 14_500]);
        // At the threshold is not above it.
        assert_eq!(alert_times(&[(0, 80.0), (9000, 80.0)]).await, Vec::<u128>::new());
    }

    #[tokio::test(start_paused = true)]
    async fn low_load_never_alerts() {
        let outputs = drive(Vec::new(), [10, 20], 15).await;
        assert!(!outputs.iter().any(|o| matches!(o, Output::Alert { .. })));
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_command_restarts_the_sampler_at_the_new_interval() {
        let inputs = vec![(1200, Input::Rate(Duration::from_millis(100))), (1650, Input::Quit)];
        let outputs = drive(inputs, [10, 20], 60).await;
        assert_eq!(load_times(&outputs), [1000, 1300, 1400, 1500, 1600]);
        assert!(outputs.contains(&Output::Note("sampling every 100 ms".to_owned())));
    }

    #[test]
    fn commands_are_parsed() {
        assert_eq!(parse_command("rate 250"), Input::Rate(Duration::from_millis(250)));
        assert_eq!(parse_command(" quit "), Input::Quit);
        let advice = "type a whole number of milliseconds from 10 to 60000, as in `rate 500`";
        assert_eq!(parse_command("rate 1"), Input::Invalid(format!("rate \"1\": {advice}")));
        assert_eq!(parse_command("rate 0"), Input::Invalid(format!("rate \"0\": {advice}")));
        assert_eq!(parse_command("faster"), Input::Unknown("faster".to_owned()));
    }

    #[test]
    fn bars_fill_with_the_load() {
        assert_eq!(bar(0.0), "[....................]");
        assert_eq!(bar(50.0), "[##########..........]");
        assert_eq!(bar(120.0), "[####################]");
    }
}

//! [5] `reactive monitor`: a live monitor of this machine's CPU cores, built from streams: a
//! sampling timer reading /proc/stat, each core smoothed over a sliding window, a high-load
//! alert that fires only after the load has stayed above the threshold for a while (debounce)
//! and repeats at most once in a while (throttle_first), merged with commands typed on stdin
//! (`rate MS` restarts the sampler at the new interval - a switch to a new timer stream -
//! and `quit`), and Ctrl-C. Run it beside `cargo run -p threading` to watch both cores fill.

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};

use futures_util::stream::{self, StreamExt};
use timing::cli;
use tokio::io::AsyncBufReadExt;
use tokio::time::{Duration, Instant};
use tokio_stream::wrappers::{IntervalStream, LinesStream};

use crate::operators::Boxed;

/// Samples averaged per core.
const WINDOW: usize = 4;
/// How long the load must stay high before the alert fires.
const SUSTAIN: Duration = Duration::from_secs(2);
/// At most one alert in this long.
const REPEAT: Duration = Duration::from_secs(10);

/// What reaches the monitor: a tick of the sampler, a command, or the end.
#[derive(Debug, PartialEq)]
pub enum Input {
    Tick,
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
    let mut load = Load::new(threshold);
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
        };
        let at = start.elapsed();
        match input {
            Input::Tick => {
                let Some(times) = snapshot() else { continue };
                show_all(&mut show, load.update(Instant::now(), at, times));
            }
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

fn show_all(show: &mut impl FnMut(Output), outputs: Vec<Output>) {
    for output in outputs {
        show(output);
    }
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

struct Load {
    threshold: f64,
    previous: Option<Vec<CpuTimes>>,
    windows: Vec<VecDeque<f64>>,
    above_since: Option<Instant>,
    last_alert: Option<Instant>,
}

impl Load {
    fn new(threshold: f64) -> Load {
        Load { threshold, previous: None, windows: Vec::new(), above_since: None, last_alert: None }
    }

    /// A new snapshot: each core's busy share since the last one, smoothed over the window;
    /// an alert once the mean has stayed above the threshold for SUSTAIN (a debounce of the
    /// "high" state), at most once every REPEAT (a throttle_first of the alerts).
    fn update(&mut self, now: Instant, at: Duration, times: Vec<CpuTimes>) -> Vec<Output> {
        let Some(previous) = self.previous.replace(times.clone()) else { return Vec::new() };
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
        let mut outputs = vec![Output::Load { at, cores, mean }];
        if mean > self.threshold {
            let since = *self.above_since.get_or_insert(now);
            let sustained = now - since >= SUSTAIN;
            let quiet = self.last_alert.is_none_or(|last| now - last >= REPEAT);
            if sustained && quiet {
                self.last_alert = Some(now);
                outputs.push(Output::Alert { at, mean });
            }
        } else {
            self.above_since = None;
        }
        outputs
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
    async fn the_alert_waits_for_sustained_load_and_repeats_at_most_every_ten_seconds() {
        let outputs = drive(Vec::new(), [90, 95], 15).await;
        let alerts: Vec<u128> = outputs
            .iter()
            .filter_map(|o| match o {
                Output::Alert { at, .. } => Some(at.as_millis()),
                _ => None,
            })
            .collect();
        // Loads from the second tick (1.0 s); high from then on; the alert 2 s later, then
        // again 10 s after that.
        assert_eq!(alerts, [3000, 13000]);
        let Some(Output::Load { cores, mean, .. }) = outputs.first() else { panic!("{outputs:?}") };
        assert_eq!((cores.as_slice(), *mean), ([90.0, 95.0].as_slice(), 92.5));
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

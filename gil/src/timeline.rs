//! Who held the GIL, when (`--svg FILE` also writes `FILE-timeline.svg`): one short run of
//! each case with every hold written down, checked - under the GIL no two threads' holds
//! overlap - and drawn one row a thread on `timing::chart`'s canvas.

use std::thread;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use timing::chart::Picture;
use timing::{cli, say};

use crate::{Gil, cube_sum, cube_sum_closed_form, cube_sum_on_threads};

/// `--svg FILE`'s companion, `FILE-timeline.svg` beside it, checked before any work.
pub fn picture_beside(chart: &Picture) -> Picture {
    let stem = chart.path().file_stem().unwrap_or_default().to_string_lossy();
    let path = chart.path().with_file_name(format!("{stem}-timeline.svg"));
    Picture::create(&path).unwrap_or_else(|e| cli::usage_error(format!("--svg: {e}")))
}

/// One short run of each case with every hold written down, drawn as a timeline, and what it
/// shows, from the holds: under the GIL no two holds overlap (checked); free, how much of the
/// time both threads ran. `Err`: the picture could not be written, in one line.
pub fn draw(interval: Duration, threads: u64, picture: Picture) -> Result<(), String> {
    const SIZE: u64 = 8_000_000;
    let recording = || Gil { timeline: Some(Timeline::start()), ..Gil::new(interval, true) };
    let free = Timeline::start();
    crate::on_threads(threads, |i| {
        let from = Instant::now();
        let sum = cube_sum(SIZE * i / threads..SIZE * (i + 1) / threads);
        free.record(from, Instant::now());
        sum
    });
    let cpu = recording();
    assert_eq!(cube_sum_on_threads(SIZE, threads, Some(&cpu)), cube_sum_closed_form(SIZE));
    let io = recording();
    crate::on_threads(threads, |_| crate::io_requests(&io, 4, true));
    let convoy = recording();
    crate::io_beside_cpu(&convoy, 4);
    let held = |gil: &Gil| gil.timeline.as_ref().expect("a recording GIL").holds();
    let cases = [
        ("free threads, no GIL: each thread's run", free.holds()),
        ("CPU-bound under the GIL: the holds take turns, switch by switch", held(&cpu)),
        ("I/O-bound under the GIL: held only between waits", held(&io)),
        ("the convoy: an I/O thread beside a CPU-bound one", held(&convoy)),
    ];
    for (case, holds) in &cases[1..] {
        let overlap = longest_overlap(holds);
        assert_eq!(overlap, Duration::ZERO, "{case}: two threads held the GIL at once");
    }
    say!("Who holds the GIL, when ({}):", picture.path().display());
    say!("  under the GIL the longest overlap of two holds was 0 ns in every case (checked):");
    say!(
        "  one thread at a time; free, the threads ran at once for {:.0}% of the time.",
        overlap_share(&cases[0].1) * 100.0
    );
    let panels: Vec<Lanes> = cases.iter().map(|(case, holds)| lanes(case, holds)).collect();
    picture.write(&timeline_svg("gil: who holds the GIL, when", &panels))?;
    Ok(())
}

/// Holds written down as they happen: which thread held the GIL (or, free, ran), from when to
/// when.
pub struct Timeline {
    epoch: Instant,
    holds: Mutex<Vec<Hold>>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hold {
    pub thread: thread::ThreadId,
    start: Duration,
    end: Duration,
}

impl Timeline {
    pub fn start() -> Timeline {
        Timeline { epoch: Instant::now(), holds: Mutex::new(Vec::new()) }
    }

    pub fn record(&self, from: Instant, to: Instant) {
        let (start, end) = (from - self.epoch, to - self.epoch);
        self.holds.lock().push(Hold { thread: thread::current().id(), start, end });
    }

    pub fn holds(&self) -> Vec<Hold> {
        let mut holds = self.holds.lock().clone();
        holds.sort_by_key(|h| h.start);
        holds
    }
}

/// The longest time two holds of different threads overlapped (holds sorted by start).
pub fn longest_overlap(holds: &[Hold]) -> Duration {
    let mut longest = Duration::ZERO;
    for (i, a) in holds.iter().enumerate() {
        for b in holds[i + 1..].iter().take_while(|b| b.start < a.end) {
            if b.thread != a.thread {
                longest = longest.max(a.end.min(b.end) - b.start);
            }
        }
    }
    longest
}

/// The share of the span from the first start to the last end during which two or more
/// threads ran at once.
fn overlap_share(holds: &[Hold]) -> f64 {
    let mut edges: Vec<(Duration, i32)> =
        holds.iter().flat_map(|h| [(h.start, 1), (h.end, -1)]).collect();
    edges.sort();
    let (mut running, mut together, mut last) = (0, Duration::ZERO, Duration::ZERO);
    for (at, change) in edges {
        if running >= 2 {
            together += at - last;
        }
        running += change;
        last = at;
    }
    let span = holds.iter().map(|h| h.end).max().unwrap_or_default()
        - holds.iter().map(|h| h.start).min().unwrap_or_default();
    together.as_secs_f64() / span.as_secs_f64().max(1e-12)
}

/// A timeline's group of rows: what ran when, one row a thread.
struct Lanes {
    title: String,
    /// Each row's name and its busy spans, from the start of the case.
    rows: Vec<(String, Vec<(Duration, Duration)>)>,
}

/// A case's holds as the timeline's rows: one a thread, in the order they first held it.
fn lanes(case: &str, holds: &[Hold]) -> Lanes {
    let mut threads: Vec<thread::ThreadId> = Vec::new();
    for hold in holds {
        if !threads.contains(&hold.thread) {
            threads.push(hold.thread);
        }
    }
    let rows = threads
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let spans =
                holds.iter().filter(|h| h.thread == *id).map(|h| (h.start, h.end)).collect();
            (format!("thread {}", i + 1), spans)
        })
        .collect();
    Lanes { title: case.to_owned(), rows }
}

/// The SVG text of a timeline: a panel each group, its rows one under the other on the same
/// time axis (ms), each span a bar - drawn with `timing::chart`'s canvas and rows.
fn timeline_svg(title: &str, groups: &[Lanes]) -> String {
    use plotters::coord::ranged1d::SegmentValue;
    use plotters::prelude::*;
    use timing::chart::{ROW, RUST, Rows, canvas, panel_height, rows_chart};
    let heights: Vec<u32> = groups.iter().map(|g| panel_height(g.rows.len(), 2 * ROW)).collect();
    let caption = timing::chart::caption("one run of each case");
    canvas(title, Some(&caption), &heights, |_, areas| {
        for (area, group) in areas.iter().zip(groups) {
            let n = group.rows.len();
            let end = group
                .rows
                .iter()
                .flat_map(|(_, spans)| spans.iter().map(|s| s.1))
                .max()
                .unwrap_or_default();
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            let names: Vec<String> = group.rows.iter().map(|(name, _)| name.clone()).collect();
            let rows = Rows {
                title: Some(&group.title),
                names: &names,
                x: 0.0..ms(end).max(1e-3),
                x_desc: "time (ms)",
                margins: (120, 40),
            };
            let mut chart = rows_chart(area, &rows)?;
            // A span too short to see (a few microseconds of a 40 ms axis) is drawn 2 pixels
            // wide.
            let plot_width = f64::from(area.dim_in_pixel().0.saturating_sub(180).max(1));
            let narrowest = ms(end) * 2.0 / plot_width;
            for (i, (_, spans)) in group.rows.iter().enumerate() {
                let y = n - 1 - i;
                chart.draw_series(spans.iter().map(|&(from, to)| {
                    let to = ms(to).max(ms(from) + narrowest);
                    let mut bar = Rectangle::new(
                        [(ms(from), SegmentValue::Exact(y)), (to, SegmentValue::Exact(y + 1))],
                        RUST.mix(0.85).filled(),
                    );
                    bar.set_margin(6, 6, 0, 0);
                    bar
                }))?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn overlaps_are_measured_between_threads_only() {
        let other = thread::spawn(|| thread::current().id()).join().unwrap();
        let me = thread::current().id();
        let hold = |thread, start, end| Hold { thread, start: ms(start), end: ms(end) };
        // Taking turns: no overlap; the same thread's adjacent holds do not count.
        let turns = [hold(me, 0, 5), hold(other, 5, 10), hold(me, 10, 12), hold(me, 12, 15)];
        assert_eq!(longest_overlap(&turns), Duration::ZERO);
        assert_eq!(overlap_share(&turns), 0.0);
        // Two threads at once from 2 to 6 ms of 0..8 ms.
        let both = [hold(me, 0, 6), hold(other, 2, 8)];
        assert_eq!(longest_overlap(&both), ms(4));
        assert!((overlap_share(&both) - 0.5).abs() < 1e-12);
    }
}

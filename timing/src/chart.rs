//! `--svg FILE`: the run's measurements as a picture, the way a Python user would draw them with
//! matplotlib's `barh`: a bar at each median, a whisker from the fastest run to the slowest, the
//! baseline marked, Rust and Python in two colours, each bar's ratio at its end, and the
//! machine and command in the caption.
//!
//! Like pyplot's current figure, the measurements go into one figure a process as they are
//! printed - [`Stats::line`](crate::Stats::line) and friends add a bar, [`panel`] starts a new
//! group with its own scale - and `--svg` saves it at the end. Nothing is drawn from fixed data:
//! a bar exists only because its line was printed above.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::Stats;

/// Who ran a measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// This run's Rust code.
    Rust,
    /// The Python twin, timed inside its interpreter.
    Python,
}

/// One measured bar.
#[derive(Clone, Debug)]
pub struct Bar {
    /// The label the run printed for it.
    pub label: String,
    /// Its timings.
    pub stats: Stats,
    /// Rust or Python.
    pub side: Side,
    /// Rust's verdict against the Python bar after it, for a Rust-against-Python pair.
    pub verdict: Option<String>,
}

/// A group of bars drawn on one scale.
#[derive(Clone, Debug, Default)]
pub struct Panel {
    /// What was measured, as the run said it.
    pub title: String,
    /// In the order they were printed.
    pub bars: Vec<Bar>,
    /// The bar the others are compared with, if any.
    pub baseline: Option<usize>,
}

/// A speedup curve: one workload timed on several thread counts.
#[derive(Clone, Debug)]
pub struct Curve {
    /// What was timed.
    pub title: String,
    /// The cores this process could use.
    pub cores: usize,
    /// The one-thread measurement the speedups are over.
    pub baseline: Stats,
    /// Each thread count's measurement.
    pub points: Vec<(usize, Stats)>,
    /// Amdahl's serial fraction fitted to the points, if there were enough.
    pub serial: Option<f64>,
}

static FIGURE: Mutex<Vec<Panel>> = Mutex::new(Vec::new());
static CURVES: Mutex<Vec<Curve>> = Mutex::new(Vec::new());

/// Adds a speedup curve to the run's chart (drawn below the bars).
pub fn curve(
    title: &str,
    cores: usize,
    baseline: &Stats,
    points: &[(usize, Stats)],
    serial: Option<f64>,
) {
    let curve = Curve {
        title: title.to_owned(),
        cores,
        baseline: *baseline,
        points: points.to_vec(),
        serial,
    };
    CURVES.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(curve);
}

/// Every speedup curve recorded so far.
pub fn curves() -> Vec<Curve> {
    CURVES.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
}

fn figure() -> std::sync::MutexGuard<'static, Vec<Panel>> {
    // A panic elsewhere while adding a bar leaves nothing half-done worth refusing.
    FIGURE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts a new group of bars titled `title`: what follows is drawn on a scale of its own.
pub fn panel(title: impl Into<String>) {
    figure().push(Panel { title: title.into(), ..Panel::default() });
}

/// Adds a bar to the current group (an untitled one if none was started). A `baseline` bar
/// becomes the group's reference: the others, before or after it, are drawn with their ratio
/// to it.
pub fn add(label: &str, stats: &Stats, side: Side, baseline: bool) {
    push(Bar { label: label.trim().to_owned(), stats: *stats, side, verdict: None }, baseline);
}

/// Adds the two bars of a Rust-against-Python row, the verdict at the end of Rust's.
pub fn add_pair(rust_label: &str, rust: &Stats, python_label: &str, python: &Stats) {
    // As the comparison tables word it: who was faster, or the same.
    let speedup = rust.speedup_over(python);
    let verdict = match speedup.sentence("faster", "slower") {
        same if same.starts_with("the same") => same,
        faster if speedup.0 >= 1.0 => format!("Rust {faster}"),
        _ => format!("Python {}", python.speedup_over(rust).sentence("faster", "slower")),
    };
    let label = rust_label.trim().to_owned();
    push(Bar { label, stats: *rust, side: Side::Rust, verdict: Some(verdict) }, false);
    add(python_label, python, Side::Python, false);
}

fn push(bar: Bar, baseline: bool) {
    let mut panels = figure();
    if panels.is_empty() {
        panels.push(Panel::default());
    }
    let panel = panels.last_mut().expect("pushed above");
    if baseline {
        panel.baseline = Some(panel.bars.len());
    }
    panel.bars.push(bar);
}

/// What is written at the end of bar `i`: its median, and its ratio to the baseline or Rust's
/// verdict against Python.
fn note(panel: &Panel, i: usize) -> String {
    let bar = &panel.bars[i];
    let median = crate::human(bar.stats.median);
    let base = panel.baseline.map(|b| &panel.bars[b].stats);
    match (&bar.verdict, base) {
        _ if panel.baseline == Some(i) => format!("{median}, the baseline"),
        (Some(verdict), _) => format!("{median}, {verdict}"),
        // Bars printed before the baseline (the parts of the work, each alone) get no ratio:
        // the run printed none for them.
        (None, Some(base)) if bar.side == Side::Rust && panel.baseline.is_some_and(|b| b < i) => {
            format!("{median}, {}", bar.stats.speedup_over(base).sentence("faster", "slower"))
        }
        _ => median,
    }
}

/// Everything recorded so far, groups without bars left out.
pub fn recorded() -> Vec<Panel> {
    figure().iter().filter(|p| !p.bars.is_empty()).cloned().collect()
}

// ---- the file ----

/// A picture to be written to `path`. Made before any work, so that a path that cannot be
/// written is refused at once (a temporary file is made and removed beside it, proving the
/// folder takes files); saved by writing a temporary file beside it and renaming it over
/// `path`, so a reader never sees a half-written picture, and a failed run leaves none.
pub struct Picture {
    path: PathBuf,
    folder: PathBuf,
}

impl Picture {
    /// Checks that `path` can be written.
    pub fn create(path: &Path) -> Result<Picture, String> {
        if path.is_dir() {
            return Err(format!("{} is a folder; name a file such as chart.svg", path.display()));
        }
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let picture = Picture { path: path.to_owned(), folder };
        picture
            .temporary()
            .map_err(|e| format!("cannot write in {}: {e}", picture.folder.display()))?;
        Ok(picture)
    }

    fn temporary(&self) -> std::io::Result<tempfile::NamedTempFile> {
        tempfile::Builder::new().prefix(".hpc-rs-").suffix(".partial").tempfile_in(&self.folder)
    }

    /// Where the picture goes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` and moves it into place.
    pub fn save(self, contents: &[u8]) -> Result<(), String> {
        let why = |e: &std::io::Error| format!("cannot write {}: {e}", self.path.display());
        let mut file = self.temporary().map_err(|e| why(&e))?;
        file.write_all(contents).and_then(|()| file.flush()).map_err(|e| why(&e))?;
        // A temporary file is private (0600); the picture is for anyone who reads the folder.
        let readable = std::os::unix::fs::PermissionsExt::from_mode(0o644);
        file.as_file().set_permissions(readable).map_err(|e| why(&e))?;
        file.persist(&self.path).map_err(|e| why(&e.error))?;
        Ok(())
    }

    /// [`Picture::save`] for `svg`, where a failure ends the program (status 1, one line);
    /// returns where the picture went, for the caller's sentence.
    pub fn write(self, svg: &str) -> PathBuf {
        let path = self.path.clone();
        self.save(svg.as_bytes()).unwrap_or_else(|e| crate::cli::fail(e));
        path
    }

    /// Draws every measurement recorded in this run ([`recorded`]) and saves it; one line on
    /// stdout says where, an error ends the program (status 1).
    pub fn save_measurements(self, title: &str) {
        let panels = recorded();
        if panels.is_empty() {
            crate::cli::fail(format!(
                "--svg {}: this run measured nothing to draw",
                self.path.display()
            ));
        }
        let caption = caption("medians, whiskers from the fastest to the slowest run");
        let svg = measurements_svg(title, &panels, &curves(), &caption);
        let path = self.write(&svg);
        crate::say!("(the measurements above as a chart: {})", path.display());
    }
}

/// The machine and the command, then what the picture shows (`shows`), for the caption.
pub fn caption(shows: &str) -> String {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let cpu = crate::machine::cpu_name().unwrap_or_else(|| "an unnamed CPU".to_owned());
    let program = std::env::args()
        .next()
        .and_then(|p| Path::new(&p).file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!(
        "{} of {cpu}; `{}`; {shows}",
        crate::plural(cores, "core"),
        std::iter::once(program).chain(args).collect::<Vec<_>>().join(" ")
    )
}

// ---- drawing ----

const WIDTH: u32 = 1100;
const ROW: u32 = 26;
const PANEL_EXTRA: u32 = 70;
const TITLE_HEIGHT: u32 = 40;
const CAPTION_HEIGHT: u32 = 30;
const RUST: RGBColor = RGBColor(206, 92, 40);
const PYTHON: RGBColor = RGBColor(55, 118, 171);

/// The unit a panel's axis is in: the one its slowest run reads best in.
fn unit(longest: Duration) -> (&'static str, f64) {
    match longest.as_secs_f64() {
        s if s < 1e-6 => ("ns", 1e9),
        s if s < 1e-3 => ("µs", 1e6),
        s if s < 1.0 => ("ms", 1e3),
        _ => ("s", 1.0),
    }
}

/// The SVG text of the chart: one panel a group, stacked, each on its own scale.
pub fn measurements_svg(title: &str, panels: &[Panel], curves: &[Curve], caption: &str) -> String {
    let heights: Vec<u32> = panels
        .iter()
        .map(|p| panel_height(p.bars.len(), ROW))
        .chain(curves.iter().map(|_| CURVE_HEIGHT))
        .collect();
    let height = TITLE_HEIGHT + CAPTION_HEIGHT + heights.iter().sum::<u32>();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        // Drawing into a string cannot fail: the backend's only errors are I/O ones.
        draw(&root, title, panels, curves, &heights, caption).expect("drawing into a string");
        root.present().expect("drawing into a string");
    }
    svg
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;

fn draw(
    root: &Area<'_>,
    title: &str,
    panels: &[Panel],
    curves: &[Curve],
    heights: &[u32],
    caption: &str,
) -> DrawResult {
    let (top, body) = framed(root, title, caption)?;
    // The legend: which colour is whose.
    let key = i32::try_from(WIDTH).unwrap_or(i32::MAX) - 210;
    for (n, (colour, name)) in [(RUST, "Rust"), (PYTHON, "Python")].into_iter().enumerate() {
        let x = key + 100 * i32::try_from(n).unwrap_or(0);
        top.draw(&Rectangle::new([(x, 12), (x + 14, 26)], colour.mix(0.85).filled()))?;
        top.draw(&Text::new(name, (x + 20, 12), ("sans-serif", 15).into_font()))?;
    }
    let areas = stacked(&body, heights);
    for (area, panel) in areas.iter().zip(panels) {
        draw_panel(area, panel)?;
    }
    for (area, curve) in areas[panels.len()..].iter().zip(curves) {
        draw_curve(area, curve)?;
    }
    Ok(())
}

const CURVE_HEIGHT: u32 = 360;

/// Room for the longest of `labels` at the axis' 12-pixel font (about 6.5 pixels a character),
/// between 120 and 520 pixels.
fn label_width(labels: &[String]) -> u32 {
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    u32::try_from(longest * 13 / 2 + 16).unwrap_or(u32::MAX).clamp(120, 520)
}

/// A white picture with `title` at its top: the title's strip and the rest.
fn titled<'a>(
    root: &Area<'a>,
    title: &str,
) -> Result<(Area<'a>, Area<'a>), DrawingAreaErrorKind<std::io::Error>> {
    root.fill(&WHITE)?;
    let (top, rest) = root.split_vertically(TITLE_HEIGHT);
    top.draw(&Text::new(title.to_owned(), (12, 10), ("sans-serif", 20).into_font()))?;
    Ok((top, rest))
}

/// [`titled`], with `caption` at the bottom: the title's strip and the body between.
fn framed<'a>(
    root: &Area<'a>,
    title: &str,
    caption: &str,
) -> Result<(Area<'a>, Area<'a>), DrawingAreaErrorKind<std::io::Error>> {
    let (top, rest) = titled(root, title)?;
    let (body, bottom) = rest.split_vertically(rest.dim_in_pixel().1 - CAPTION_HEIGHT);
    let style = ("sans-serif", 13).into_font().color(&BLACK.mix(0.7));
    bottom.draw(&Text::new(caption.to_owned(), (12, 8), style))?;
    Ok((top, body))
}

/// `body` cut into panels of `heights` pixels, top to bottom.
fn stacked<'a>(body: &Area<'a>, heights: &[u32]) -> Vec<Area<'a>> {
    let breaks: Vec<u32> = heights[..heights.len().saturating_sub(1)]
        .iter()
        .scan(0, |at, h| {
            *at += h;
            Some(*at)
        })
        .collect();
    body.split_by_breakpoints::<u32, u32, _, _>(Vec::new(), breaks)
}

/// The height of a panel of `rows` rows of `row` pixels each.
fn panel_height(rows: usize, row: u32) -> u32 {
    PANEL_EXTRA.saturating_add(row.saturating_mul(u32::try_from(rows).unwrap_or(u32::MAX)))
}

type RowsChart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<
        plotters::coord::types::RangedCoordf64,
        plotters::coord::ranged1d::SegmentedCoord<plotters::coord::types::RangedCoordusize>,
    >,
>;

/// The axes of a chart with one row a name (the first name on top) over an x axis `x_desc`.
fn rows_mesh(chart: &mut RowsChart<'_, '_>, names: &[String], x_desc: &str) -> DrawResult {
    let n = names.len();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .label_style(("sans-serif", 12))
        .axis_desc_style(("sans-serif", 12))
        .y_labels(n.max(1))
        .y_label_formatter(&|v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) if *i < n => names[n - 1 - *i].clone(),
            _ => String::new(),
        })
        .x_desc(x_desc)
        .x_labels(6)
        .draw()
}

/// The classic speedup plot: measured speedups against threads (whiskers from the slowest run
/// to the fastest), the ideal - one a thread up to the cores, then flat - and Amdahl's curve.
fn draw_curve(area: &Area<'_>, curve: &Curve) -> DrawResult {
    let base = curve.baseline.median.as_secs_f64();
    let speedup = |d: Duration| base / d.as_secs_f64().max(1e-12);
    let most = curve.points.iter().map(|p| p.0).max().unwrap_or(1).max(2);
    let ideal = |n: usize| n.min(curve.cores) as f64;
    let top = curve.points.iter().map(|(_, s)| speedup(s.min)).fold(ideal(most), f64::max) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption(format!("{}: speedup against threads", curve.title), ("sans-serif", 15))
        .margin(6)
        .margin_left(250)
        .margin_right(230)
        .x_label_area_size(32)
        .y_label_area_size(60)
        .build_cartesian_2d(0.5..most as f64 + 0.5, 0.0..top)?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .label_style(("sans-serif", 12))
        .axis_desc_style(("sans-serif", 12))
        .x_labels(most.min(16))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .x_desc("threads")
        .y_desc("speedup over 1 thread")
        .draw()?;
    let counts: Vec<usize> = (1..=most).collect();
    let grey = BLACK.mix(0.4);
    chart
        .draw_series(LineSeries::new(counts.iter().map(|&n| (n as f64, ideal(n))), grey))?
        .label(format!("ideal on {}", crate::plural(curve.cores, "core")))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey));
    if let Some(serial) = curve.serial {
        let amdahl = counts.iter().map(|&n| (n as f64, crate::amdahl(serial, n.min(curve.cores))));
        chart
            .draw_series(LineSeries::new(amdahl, PYTHON))?
            .label(format!("Amdahl, serial fraction {:.1}%", serial * 100.0))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], PYTHON));
    }
    let style = ("sans-serif", 12)
        .into_font()
        .into_text_style(area)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (n, stats) in &curve.points {
        let (x, y) = (*n as f64, speedup(stats.median));
        let (slow, fast) = (speedup(stats.max), speedup(stats.min));
        chart.draw_series([ErrorBar::new_vertical(x, slow, y, fast, RUST.stroke_width(2), 8)])?;
        chart.draw_series([Text::new(format!("{y:.2}x"), (x + 0.08, y), style.clone())])?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}

fn draw_panel(area: &Area<'_>, panel: &Panel) -> DrawResult {
    let n = panel.bars.len();
    let longest = panel.bars.iter().map(|b| b.stats.max).max().unwrap_or_default();
    let (unit_name, per_second) = unit(longest);
    let value = |d: Duration| d.as_secs_f64() * per_second;
    let x_end = value(longest).max(f64::MIN_POSITIVE) * 1.02;
    // The first bar printed is the top row.
    let row = |i: usize| n - 1 - i;
    let labels: Vec<String> = panel.bars.iter().map(|b| b.label.clone()).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 15))
        .margin(6)
        .margin_right(230)
        .x_label_area_size(32)
        .y_label_area_size(label_width(&labels))
        .build_cartesian_2d(0.0..x_end, (0..n).into_segmented())?;
    rows_mesh(&mut chart, &labels, &format!("median time ({unit_name})"))?;
    for (i, bar) in panel.bars.iter().enumerate() {
        let y = row(i);
        let colour = if bar.side == Side::Rust { RUST } else { PYTHON };
        let mut rectangle = Rectangle::new(
            [(0.0, SegmentValue::Exact(y)), (value(bar.stats.median), SegmentValue::Exact(y + 1))],
            colour.mix(if panel.baseline == Some(i) { 0.45 } else { 0.85 }).filled(),
        );
        rectangle.set_margin(4, 4, 0, 0);
        chart.draw_series([rectangle])?;
        chart.draw_series([ErrorBar::new_horizontal(
            SegmentValue::CenterOf(y),
            value(bar.stats.min),
            value(bar.stats.median),
            value(bar.stats.max),
            BLACK.stroke_width(1),
            8,
        )])?;
        let note = note(panel, i);
        let style = ("sans-serif", 13)
            .into_font()
            .into_text_style(area)
            .pos(Pos::new(HPos::Left, VPos::Center));
        chart.draw_series([Text::new(
            note,
            (value(bar.stats.max) + x_end * 0.01, SegmentValue::CenterOf(y)),
            style,
        )])?;
    }
    if let Some(base) = panel.baseline.map(|b| &panel.bars[b]) {
        let x = value(base.stats.median);
        chart.draw_series([PathElement::new(
            vec![(x, SegmentValue::Exact(0)), (x, SegmentValue::Exact(n))],
            BLACK.mix(0.5).stroke_width(1),
        )])?;
    }
    Ok(())
}

// ---- timelines ----

/// A timeline's group of rows: what ran when, one row a thread (or a stream).
#[derive(Clone, Debug)]
pub struct Lanes {
    /// What the rows show.
    pub title: String,
    /// Each row's name and its busy spans, from the start of the case.
    pub rows: Vec<(String, Vec<(Duration, Duration)>)>,
}

/// The SVG text of a timeline: a panel each group, its rows one under the other on the same
/// time axis (ms), each span a bar.
pub fn timeline_svg(title: &str, groups: &[Lanes]) -> String {
    let heights: Vec<u32> = groups.iter().map(|g| panel_height(g.rows.len(), 2 * ROW)).collect();
    let height = TITLE_HEIGHT + CAPTION_HEIGHT + heights.iter().sum::<u32>();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        draw_timeline(&root, title, groups, &heights).expect("drawing into a string");
        root.present().expect("drawing into a string");
    }
    svg
}

fn draw_timeline(root: &Area<'_>, title: &str, groups: &[Lanes], heights: &[u32]) -> DrawResult {
    let (_, body) = framed(root, title, &caption("one run of each case"))?;
    for (area, group) in stacked(&body, heights).iter().zip(groups) {
        let n = group.rows.len();
        let end = group
            .rows
            .iter()
            .flat_map(|(_, spans)| spans.iter().map(|s| s.1))
            .max()
            .unwrap_or_default();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let names: Vec<String> = group.rows.iter().map(|(name, _)| name.clone()).collect();
        let row = |i: usize| n - 1 - i;
        let mut chart = ChartBuilder::on(area)
            .caption(&group.title, ("sans-serif", 15))
            .margin(6)
            .margin_right(40)
            .x_label_area_size(32)
            .y_label_area_size(120)
            .build_cartesian_2d(0.0..ms(end).max(1e-3), (0..n).into_segmented())?;
        rows_mesh(&mut chart, &names, "time (ms)")?;
        // A span too short to see (a few microseconds of a 40 ms axis) is drawn 2 pixels wide.
        let plot_width = f64::from(area.dim_in_pixel().0.saturating_sub(180).max(1));
        let narrowest = ms(end) * 2.0 / plot_width;
        for (i, (_, spans)) in group.rows.iter().enumerate() {
            let y = row(i);
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
}

// ---- marble diagrams ----

/// One line of a marble diagram, as the ReactiveX documentation draws streams: values as
/// labelled circles at their times, the end as a bar.
#[derive(Clone, Debug)]
pub struct Marbles {
    /// The stream: the source, or the operator whose output this is.
    pub name: String,
    /// Each value's time (ms) and text.
    pub values: Vec<(u64, String)>,
    /// When the stream completed, if it did.
    pub completed: Option<u64>,
}

/// The SVG text of a marble diagram: every line on the same time axis (ms), one under the
/// other.
pub fn marbles_svg(title: &str, lines: &[Marbles]) -> String {
    let height = TITLE_HEIGHT + CAPTION_HEIGHT + panel_height(lines.len(), 2 * ROW);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        draw_marbles(&root, title, lines).expect("drawing into a string");
        root.present().expect("drawing into a string");
    }
    svg
}

fn draw_marbles(root: &Area<'_>, title: &str, lines: &[Marbles]) -> DrawResult {
    let (_, rest) = titled(root, title)?;
    let n = lines.len();
    let last = lines
        .iter()
        .flat_map(|l| l.values.iter().map(|v| v.0).chain(l.completed))
        .max()
        .unwrap_or(0);
    // Room after the last event for its circle and the end bar.
    let end = (last as f64 * 1.05).max(last as f64 + 10.0);
    let names: Vec<String> = lines.iter().map(|l| l.name.clone()).collect();
    let row = |i: usize| n - 1 - i;
    let mut chart = ChartBuilder::on(&rest)
        .margin(10)
        .margin_right(30)
        .x_label_area_size(32)
        .y_label_area_size(230)
        .build_cartesian_2d(-end * 0.02..end, (0..n).into_segmented())?;
    rows_mesh(&mut chart, &names, "virtual time (ms)")?;
    let centred = ("sans-serif", 13)
        .into_font()
        .into_text_style(&rest)
        .pos(Pos::new(HPos::Center, VPos::Center));
    for (i, line) in lines.iter().enumerate() {
        let y = || SegmentValue::CenterOf(row(i));
        let stop = line.completed.map_or(end, |c| c as f64);
        chart.draw_series([PathElement::new(
            vec![(0.0, y()), (stop, y())],
            BLACK.mix(0.6).stroke_width(1),
        )])?;
        if let Some(at) = line.completed {
            let (at, half) = (at as f64, end * 0.0015);
            let mut bar = Rectangle::new(
                [
                    (at - half, SegmentValue::Exact(row(i))),
                    (at + half, SegmentValue::Exact(row(i) + 1)),
                ],
                BLACK.filled(),
            );
            bar.set_margin(10, 10, 0, 0);
            chart.draw_series([bar])?;
        }
        for (ms, label) in &line.values {
            let at = || (*ms as f64, y());
            chart.draw_series([Circle::new(at(), 11, PYTHON.mix(0.25).filled())])?;
            chart.draw_series([Circle::new(at(), 11, BLACK.stroke_width(1))])?;
            // A short value inside its circle; a longer one (a buffer, a word) just above it.
            let offset = if label.chars().count() <= 3 { 0 } else { -21 };
            let text =
                EmptyElement::at(at()) + Text::new(label.clone(), (0, offset), centred.clone());
            chart.draw_series([text])?;
        }
    }
    Ok(())
}

//! `--svg FILE`: the run's measurements as a picture, the way a Python user would draw them with
//! matplotlib's object API (`fig, ax = plt.subplots()`, then `ax.barh(...)`): a [`Figure`] is a
//! value the topic makes, adds each measurement to as it prints it, and writes at the end - a
//! bar at each median, a whisker from the fastest run to the slowest, the baseline marked, Rust
//! and Python in two colours, each bar's ratio at its end, the machine and command in the
//! caption. Nothing is drawn from fixed data: a bar exists because the topic measured it.
//!
//! The primitives under it - a framed canvas of stacked panels ([`canvas`]) and a chart of named
//! rows on a time axis ([`rows_chart`]) - are what `gil` draws its timeline of who held the GIL
//! with, and `reactive` its marble diagrams.

use std::io::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{Stats, Sweep};

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
struct Bar {
    label: String,
    stats: Stats,
    side: Side,
    /// Rust's verdict against the Python bar after it, for a Rust-against-Python pair.
    verdict: Option<String>,
}

/// A group of bars drawn on one scale.
#[derive(Clone, Debug, Default)]
struct Panel {
    title: String,
    bars: Vec<Bar>,
    /// The bar the others are compared with, if any.
    baseline: Option<usize>,
}

/// The run's measurements, panel by panel, and its speedup curves: made by the topic, added to
/// as it measures, written with [`Figure::save`].
#[derive(Clone, Debug)]
pub struct Figure {
    title: String,
    panels: Vec<Panel>,
    curves: Vec<Sweep>,
}

impl Figure {
    /// An empty figure titled `title`.
    pub fn new(title: impl Into<String>) -> Figure {
        Figure { title: title.into(), panels: Vec::new(), curves: Vec::new() }
    }

    /// Starts a new group of bars titled `title`: what follows is drawn on a scale of its own.
    pub fn panel(&mut self, title: impl Into<String>) {
        self.panels.push(Panel { title: title.into(), ..Panel::default() });
    }

    /// A bar of Rust's for `stats`, labelled as its line was.
    pub fn bar(&mut self, label: &str, stats: &Stats) {
        self.push(
            Bar { label: label.trim().to_owned(), stats: *stats, side: Side::Rust, verdict: None },
            false,
        );
    }

    /// The bar the panel's others are compared with: each is drawn with its ratio to it.
    pub fn baseline(&mut self, label: &str, stats: &Stats) {
        self.push(
            Bar { label: label.trim().to_owned(), stats: *stats, side: Side::Rust, verdict: None },
            true,
        );
    }

    /// A bar of the Python twin's, alone (no Rust counterpart).
    pub fn python(&mut self, label: &str, stats: &Stats) {
        self.push(
            Bar {
                label: label.trim().to_owned(),
                stats: *stats,
                side: Side::Python,
                verdict: None,
            },
            false,
        );
    }

    /// The two bars of a Rust-against-Python row, the verdict at the end of Rust's.
    pub fn pair(&mut self, rust_label: &str, rust: &Stats, python_label: &str, python: &Stats) {
        let verdict = Some(crate::rust_against_python(rust, python));
        let label = rust_label.trim().to_owned();
        self.push(Bar { label, stats: *rust, side: Side::Rust, verdict }, false);
        self.python(python_label, python);
    }

    /// A speedup curve, drawn below the bars.
    pub fn curve(&mut self, sweep: &Sweep) {
        self.curves.push(sweep.clone());
    }

    fn push(&mut self, bar: Bar, baseline: bool) {
        if self.panels.is_empty() {
            self.panels.push(Panel::default());
        }
        let panel = self.panels.last_mut().expect("pushed above");
        if baseline {
            panel.baseline = Some(panel.bars.len());
        }
        panel.bars.push(bar);
    }

    /// The panels that have bars.
    fn drawn_panels(&self) -> Vec<&Panel> {
        self.panels.iter().filter(|p| !p.bars.is_empty()).collect()
    }

    /// Whether nothing was measured into it.
    pub fn is_empty(&self) -> bool {
        self.drawn_panels().is_empty() && self.curves.is_empty()
    }

    /// Draws the figure and saves it as `picture`; one line on stdout says where. `Err`: the
    /// one line saying why not (nothing measured, or the file not written), for the topic's
    /// `main` to print with [`cli::fail`](crate::cli::fail).
    pub fn save(&self, picture: Picture) -> Result<(), String> {
        if self.is_empty() {
            return Err(format!(
                "--svg {}: this run measured nothing to draw",
                picture.path().display()
            ));
        }
        let svg = self.svg(&caption("medians, whiskers from the fastest to the slowest run"));
        let path = picture.write(&svg)?;
        crate::say!("(the measurements above as a chart: {})", path.display());
        Ok(())
    }

    /// The SVG text of the figure: one panel a group of bars, stacked, each on its own scale,
    /// then the speedup curves.
    pub fn svg(&self, caption: &str) -> String {
        let panels = self.drawn_panels();
        let heights: Vec<u32> = panels
            .iter()
            .map(|p| panel_height(p.bars.len(), ROW))
            .chain(self.curves.iter().map(|_| CURVE_HEIGHT))
            .collect();
        // The legend names only the sides that ran: no "Python" where no twin did.
        let sides: Vec<Side> = [Side::Rust, Side::Python]
            .into_iter()
            .filter(|side| panels.iter().any(|p| p.bars.iter().any(|b| b.side == *side)))
            .collect();
        canvas(&self.title, Some(caption), &heights, |top, areas| {
            legend(top, &sides)?;
            for (area, panel) in areas.iter().zip(&panels) {
                draw_panel(area, panel)?;
            }
            for (area, curve) in areas[panels.len()..].iter().zip(&self.curves) {
                draw_curve(area, curve)?;
            }
            Ok(())
        })
    }
}

/// The colour key at the top right: which colour is whose.
fn legend(top: &Area<'_>, sides: &[Side]) -> DrawResult {
    let key = i32::try_from(WIDTH).unwrap_or(i32::MAX) - 210;
    for (n, side) in sides.iter().enumerate() {
        let (colour, name) = match side {
            Side::Rust => (RUST, "Rust"),
            Side::Python => (PYTHON, "Python"),
        };
        let x = key + 100 * i32::try_from(n).unwrap_or(0);
        top.draw(&Rectangle::new([(x, 12), (x + 14, 26)], colour.mix(0.85).filled()))?;
        top.draw(&Text::new(name, (x + 20, 12), ("sans-serif", 15).into_font()))?;
    }
    Ok(())
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
    /// The picture `--svg FILE` asks for, if it does, made now so that a path that cannot be
    /// written is refused before any work. `Err`: the line for
    /// [`cli::usage_error`](crate::cli::usage_error), `--svg: ` and why.
    pub fn for_svg(svg: &crate::cli::Svg) -> Result<Option<Picture>, String> {
        let Some(path) = svg.path.as_deref() else { return Ok(None) };
        Picture::create(path).map(Some).map_err(|e| format!("--svg: {e}"))
    }

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

    /// [`Picture::save`] for `svg`, returning where the picture went, for the caller's
    /// sentence.
    pub fn write(self, svg: &str) -> Result<PathBuf, String> {
        let path = self.path.clone();
        self.save(svg.as_bytes())?;
        Ok(path)
    }
}

/// The machine and the command, then what the picture shows (`shows`), for the caption.
pub fn caption(shows: &str) -> String {
    let cores = crate::machine::cores();
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

/// Every picture's width in pixels.
pub const WIDTH: u32 = 1100;
/// The height of a bar's row in pixels.
pub const ROW: u32 = 26;
const PANEL_EXTRA: u32 = 70;
const TITLE_HEIGHT: u32 = 40;
const CAPTION_HEIGHT: u32 = 30;
/// Rust's colour.
pub const RUST: RGBColor = RGBColor(206, 92, 40);
/// Python's colour.
pub const PYTHON: RGBColor = RGBColor(55, 118, 171);

/// The unit a panel's axis is in: the one its slowest run reads best in.
fn unit(longest: Duration) -> (&'static str, f64) {
    match longest.as_secs_f64() {
        s if s < 1e-6 => ("ns", 1e9),
        s if s < 1e-3 => ("µs", 1e6),
        s if s < 1.0 => ("ms", 1e3),
        _ => ("s", 1.0),
    }
}

/// The area of a picture that one panel or strip is drawn on.
pub type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
/// What drawing on an [`Area`] returns.
pub type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// The SVG text of a picture `WIDTH` pixels wide: white, `title` at the top, `caption` (if any)
/// at the bottom, and between them panels of `heights` pixels, stacked, handed to `draw` with
/// the title's strip (for a legend).
pub fn canvas(
    title: &str,
    caption: Option<&str>,
    heights: &[u32],
    draw: impl FnOnce(&Area<'_>, &[Area<'_>]) -> DrawResult,
) -> String {
    let captioned = caption.map_or(0, |_| CAPTION_HEIGHT);
    let height = TITLE_HEIGHT + captioned + heights.iter().sum::<u32>();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        // Drawing into a string cannot fail: the backend's only errors are I/O ones.
        let framed = || -> DrawResult {
            let (top, body) = framed(&root, title, caption)?;
            draw(&top, &stacked(&body, heights))
        };
        framed().expect("drawing into a string");
        root.present().expect("drawing into a string");
    }
    svg
}

const CURVE_HEIGHT: u32 = 360;

/// Room for the longest of `labels` at the axis' 12-pixel font (about 6.5 pixels a character),
/// between 120 and 520 pixels.
fn label_width(labels: &[String]) -> u32 {
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    u32::try_from(longest * 13 / 2 + 16).unwrap_or(u32::MAX).clamp(120, 520)
}

/// A white picture with `title` at its top and `caption`, if any, at its bottom: the title's
/// strip and the body between.
fn framed<'a>(
    root: &Area<'a>,
    title: &str,
    caption: Option<&str>,
) -> Result<(Area<'a>, Area<'a>), DrawingAreaErrorKind<std::io::Error>> {
    root.fill(&WHITE)?;
    let (top, rest) = root.split_vertically(TITLE_HEIGHT);
    top.draw(&Text::new(title.to_owned(), (12, 10), ("sans-serif", 20).into_font()))?;
    let Some(caption) = caption else { return Ok((top, rest)) };
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
pub fn panel_height(rows: usize, row: u32) -> u32 {
    PANEL_EXTRA.saturating_add(row.saturating_mul(u32::try_from(rows).unwrap_or(u32::MAX)))
}

/// A chart of named rows over an x axis: [`rows_chart`]'s result.
pub type RowsChart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<
        plotters::coord::types::RangedCoordf64,
        plotters::coord::ranged1d::SegmentedCoord<plotters::coord::types::RangedCoordusize>,
    >,
>;

/// How a chart of named rows is laid out.
pub struct Rows<'n> {
    /// A title above the chart, if any.
    pub title: Option<&'n str>,
    /// The rows' names, the first on top.
    pub names: &'n [String],
    /// The x axis' range and what it measures (`time (ms)`).
    pub x: Range<f64>,
    /// What the x axis measures.
    pub x_desc: &'n str,
    /// Room on the left for the names, and on the right for notes at the bars' ends.
    pub margins: (u32, u32),
}

/// A chart with one row a name (row `i` of the data is `names.len() - 1 - i` on the y axis:
/// the first name on top), its axes drawn.
pub fn rows_chart<'a, 'b>(
    area: &'a Area<'b>,
    rows: &Rows<'_>,
) -> Result<RowsChart<'a, 'b>, DrawingAreaErrorKind<std::io::Error>> {
    let n = rows.names.len();
    let mut builder = ChartBuilder::on(area);
    if let Some(title) = rows.title {
        builder.caption(title, ("sans-serif", 15));
    }
    let mut chart = builder
        .margin(6)
        .margin_right(rows.margins.1)
        .x_label_area_size(32)
        .y_label_area_size(rows.margins.0)
        .build_cartesian_2d(rows.x.clone(), (0..n).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .label_style(("sans-serif", 12))
        .axis_desc_style(("sans-serif", 12))
        .y_labels(n.max(1))
        .y_label_formatter(&|v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) if *i < n => rows.names[n - 1 - *i].clone(),
            _ => String::new(),
        })
        .x_desc(rows.x_desc)
        .x_labels(6)
        .draw()?;
    Ok(chart)
}

/// The classic speedup plot: measured speedups against threads (whiskers from the slowest run
/// to the fastest), the ideal - one a thread up to the cores, then flat - and Amdahl's curve.
fn draw_curve(area: &Area<'_>, curve: &Sweep) -> DrawResult {
    let base = curve.baseline.median.as_secs_f64();
    let speedup = |d: Duration| base / d.as_secs_f64().max(1e-12);
    let most = curve.points.iter().map(|p| p.0).max().unwrap_or(1).max(2);
    let ideal = |n: usize| n.min(curve.cores) as f64;
    let top = curve.points.iter().map(|(_, s)| speedup(s.min)).fold(ideal(most), f64::max) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption(format!("{}: speedup against threads", curve.what), ("sans-serif", 15))
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
    let mut chart = rows_chart(
        area,
        &Rows {
            title: Some(&panel.title),
            names: &labels,
            x: 0.0..x_end,
            x_desc: &format!("median time ({unit_name})"),
            margins: (label_width(&labels), 230),
        },
    )?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Svg;

    #[test]
    fn svg_makes_a_picture_only_where_asked_and_refuses_a_folder_in_a_line() {
        assert!(Picture::for_svg(&Svg { path: None }).expect("nothing to check").is_none());
        let folder = tempfile::tempdir().unwrap();
        let refused = Picture::for_svg(&Svg { path: Some(folder.path().to_owned()) });
        let why = refused.err().expect("a folder is no picture");
        assert!(why.starts_with("--svg: ") && why.contains("is a folder"), "{why}");
        let path = folder.path().join("chart.svg");
        let picture = Picture::for_svg(&Svg { path: Some(path.clone()) }).unwrap();
        assert_eq!(picture.map(|p| p.path().to_owned()), Some(path));
    }

    #[test]
    fn saving_returns_why_not_instead_of_ending_the_program() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("chart.svg");
        let empty = Figure::new("nothing measured").save(Picture::create(&path).unwrap());
        let expected = format!("--svg {}: this run measured nothing to draw", path.display());
        assert_eq!(empty, Err(expected));
        let mut figure = Figure::new("one bar");
        figure.bar("work", &Stats::from_samples(&[Duration::from_millis(2)]));
        // A folder that was there when the picture was made and is gone when it is saved.
        let gone = folder.path().join("gone");
        std::fs::create_dir(&gone).unwrap();
        let picture = Picture::create(&gone.join("chart.svg")).unwrap();
        std::fs::remove_dir(&gone).unwrap();
        let why = figure.save(picture).unwrap_err();
        let cannot = format!("cannot write {}", gone.join("chart.svg").display());
        assert!(why.starts_with(&cannot), "{why}");
        assert_eq!(figure.save(Picture::create(&path).unwrap()), Ok(()));
        assert!(std::fs::read_to_string(&path).unwrap().contains("one bar"));
    }
}

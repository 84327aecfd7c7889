//! Marble diagrams, as the ReactiveX documentation draws streams: each stream a line on one
//! time axis, its values as labelled circles at their times, its end as a bar. Drawn on
//! `timing::chart`'s canvas and rows, as every picture of the project is.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use timing::chart::{PYTHON, ROW, Rows, canvas, panel_height, rows_chart};

/// One line of a marble diagram.
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
    let height = panel_height(lines.len(), 2 * ROW);
    canvas(title, None, &[height], |_, areas| {
        let area = &areas[0];
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
        let rows = Rows {
            title: None,
            names: &names,
            x: -end * 0.02..end,
            x_desc: "virtual time (ms)",
            margins: (230, 30),
        };
        let mut chart = rows_chart(area, &rows)?;
        let centred = ("sans-serif", 13)
            .into_font()
            .into_text_style(area)
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
                // A short value inside its circle; a longer one (a buffer, a word) just above.
                let offset = if label.chars().count() <= 3 { 0 } else { -21 };
                let text =
                    EmptyElement::at(at()) + Text::new(label.clone(), (0, offset), centred.clone());
                chart.draw_series([text])?;
            }
        }
        Ok(())
    })
}

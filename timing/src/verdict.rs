//! The one way a sentence about a measurement is chosen: the measured figure (a speedup, a
//! ratio) set against the bounds the lesson expects of it. Every topic says "within", "below"
//! and "above" the same way, and a figure outside its bounds is news that the sentence names,
//! never a figure printed under a claim it contradicts.
//!
//! ```
//! use timing::verdict::{Finding, Verdict};
//! let two = Verdict::threads_on("even split", 1.95, 2, 2);
//! assert_eq!(two.finding(), Finding::Within);
//! assert_eq!(two.describe(), "even split: 1.95x, within the 1.80x to 2.00x expected of 2 threads on 2 cores");
//! let short = Verdict::threads_on("rayon", 1.31, 2, 2);
//! assert_eq!(short.finding(), Finding::Below);
//! let odd = Verdict::new("under the GIL", 1.40, (0.8, 1.1), "one holder at a time allows");
//! assert_eq!(odd.describe(), "under the GIL: 1.40x, above the 0.80x to 1.10x one holder at a time allows");
//! ```

use crate::plural;

/// Where a measured figure falls against its bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finding {
    /// Less than the lesson expects: something held the work back (another program on the
    /// cores, too little work to pay for starting threads).
    Below,
    /// What the lesson expects.
    Within,
    /// More than the bounds allow: the baseline was slowed, or something else the lesson does
    /// not model happened. News, to be said.
    Above,
}

/// A figure within this share of a bound counts as on it: timings on a shared machine move by
/// a few percent from run to run.
pub const TOLERANCE: f64 = 0.03;

/// A measured figure and the range the lesson expects it in.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// What was measured: `one thread per sum`.
    pub what: String,
    /// The figure, as a ratio: `1.47` for 1.47x.
    pub measured: f64,
    /// The lowest figure the lesson expects.
    pub low: f64,
    /// The highest figure the bounds allow.
    pub high: f64,
    /// What sets the bounds, ending the sentence: `expected of 2 threads on 2 cores`.
    pub bounds: String,
}

impl Verdict {
    /// `measured` against `low..=high`, which `bounds` explains.
    pub fn new(
        what: impl Into<String>,
        measured: f64,
        (low, high): (f64, f64),
        bounds: impl Into<String>,
    ) -> Verdict {
        Verdict { what: what.into(), measured, low, high, bounds: bounds.into() }
    }

    /// The gain of work shared among `threads` threads, on the cores this process may use
    /// ([`crate::machine::cores`]).
    pub fn threads(what: impl Into<String>, gain: f64, threads: usize) -> Verdict {
        Verdict::threads_on(what, gain, threads, crate::machine::cores())
    }

    /// The gain of work shared among `threads` threads on `cores` cores: at most one a core;
    /// nine tenths of that counts as reached (starting the threads and sharing the work out
    /// costs a little). With one thread, or one core, nothing can be gained: about 1x.
    pub fn threads_on(what: impl Into<String>, gain: f64, threads: usize, cores: usize) -> Verdict {
        let ideal = threads.min(cores).max(1) as f64;
        let low = if ideal > 1.0 { 0.9 * ideal } else { 0.9 };
        let bounds = format!(
            "expected of {} on {}",
            plural(threads.max(1), "thread"),
            plural(cores.max(1), "core")
        );
        Verdict::new(what, gain, (low, ideal), bounds)
    }

    /// Where the figure falls, with [`TOLERANCE`] on either bound.
    pub fn finding(&self) -> Finding {
        if self.measured < self.low * (1.0 - TOLERANCE) {
            Finding::Below
        } else if self.measured > self.high * (1.0 + TOLERANCE) {
            Finding::Above
        } else {
            Finding::Within
        }
    }

    /// Whether anything could be gained at all: the bounds reach past 1x.
    pub fn possible(&self) -> bool {
        self.high > 1.0
    }

    /// `what: 1.47x, within the 1.22x to 1.99x that ...`: the figure, where it falls, and what
    /// sets the bounds.
    pub fn describe(&self) -> String {
        // Within the tolerance but outside the bounds themselves, said as it is.
        let relation = match self.finding() {
            Finding::Below => "below",
            Finding::Within if self.measured < self.low => "just under",
            Finding::Within if self.measured > self.high => "just over",
            Finding::Within => "within",
            Finding::Above => "above",
        };
        let range = if (self.high - self.low).abs() < 0.005 {
            format!("{:.2}x", self.high)
        } else {
            format!("{:.2}x to {:.2}x", self.low, self.high)
        };
        format!("{}: {:.2}x, {relation} the {range} {}", self.what, self.measured, self.bounds)
    }

    /// The verdict said with what a figure outside its bounds may mean, ending with how to
    /// measure again: `what: 1.40x, above the ... allows: {why} Re-run to compare: `command`.`
    pub fn surprise(&self, why: &str, command: &str) -> String {
        format!("{}: {why} {}", self.describe(), rerun(command))
    }
}

/// Whether every verdict is [`Finding::Within`].
pub fn all_within(verdicts: &[Verdict]) -> bool {
    verdicts.iter().all(|v| v.finding() == Finding::Within)
}

/// `Re-run to compare: `command`.`: what a sentence about a surprising figure ends with.
pub fn rerun(command: &str) -> String {
    format!("Re-run to compare: `{command}`.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_figure_is_below_within_or_above_its_bounds_with_some_tolerance() {
        let at = |m| Verdict::new("x", m, (1.22, 1.99), "b");
        assert_eq!(at(1.20).finding(), Finding::Within, "within 3% of the low bound");
        assert_eq!(at(1.10).finding(), Finding::Below);
        assert_eq!(at(2.03).finding(), Finding::Within, "within 3% of the high bound");
        assert_eq!(at(2.10).finding(), Finding::Above);
        // Counted as within, said as it is.
        assert_eq!(at(1.20).describe(), "x: 1.20x, just under the 1.22x to 1.99x b");
        assert_eq!(at(2.03).describe(), "x: 2.03x, just over the 1.22x to 1.99x b");
        assert_eq!(at(1.5).describe(), "x: 1.50x, within the 1.22x to 1.99x b");
    }

    #[test]
    fn threads_expect_one_a_core_and_nothing_from_one() {
        let v = Verdict::threads_on("t", 1.62, 2, 2);
        assert_eq!((v.low, v.high, v.finding()), (1.8, 2.0, Finding::Below));
        assert!(
            v.describe().ends_with("below the 1.80x to 2.00x expected of 2 threads on 2 cores")
        );
        let four_on_one = Verdict::threads_on("t", 0.97, 4, 1);
        assert_eq!((four_on_one.high, four_on_one.finding()), (1.0, Finding::Within));
        assert!(!four_on_one.possible());
        assert!(four_on_one.describe().contains("expected of 4 threads on 1 core"));
        assert_eq!(Verdict::threads_on("t", 3.7, 8, 4).finding(), Finding::Within);
        assert_eq!(Verdict::threads_on("t", 1.0, 1, 2).high, 1.0, "1 thread: nothing to share");
    }

    #[test]
    fn equal_bounds_are_written_once() {
        let v = Verdict::new("under the GIL", 1.0, (1.0, 1.0), "one holder allows");
        assert_eq!(v.describe(), "under the GIL: 1.00x, within the 1.00x one holder allows");
        assert!(all_within(std::slice::from_ref(&v)));
        assert_eq!(rerun("cargo run -p gil"), "Re-run to compare: `cargo run -p gil`.");
        assert_eq!(
            v.surprise("odd.", "cargo run -p gil"),
            "under the GIL: 1.00x, within the 1.00x one holder allows: odd. Re-run to compare: `cargo run -p gil`."
        );
    }
}

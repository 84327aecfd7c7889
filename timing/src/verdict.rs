//! The one way a sentence about a measurement is chosen: the measured figure (a speedup, a
//! ratio) set against the bounds the lesson expects of it. Every topic says "within", "below"
//! and "above" the same way, and a figure outside its bounds is news that the sentence names,
//! never a figure printed under a claim it contradicts.
//!
//! The figure and the bounds are judged as they are printed, to two decimals: a figure printed
//! equal to a bound is on it, never "over" it. A figure outside its bounds by less than
//! [`TOLERANCE`] is equal to that bound within noise: [`Verdict::place`] tells it apart
//! ([`Place::NearLow`], [`Place::NearHigh`]) so that a sentence meaning one side of the bound is
//! not chosen from it, and [`Verdict::describe`] says so. [`Verdict::finding`] counts it as
//! within, as it always has.
//!
//! CPython's threads against its one thread are judged here once, for every topic that runs a
//! twin of them ([`PythonThreads`]): under a GIL, or free-threaded on one core or more.
//!
//! ```
//! use timing::verdict::{Finding, Place, Verdict};
//! let two = Verdict::threads_on("even split", 1.95, 2, 2);
//! assert_eq!(two.finding(), Finding::Within);
//! assert_eq!(two.describe(), "even split: 1.95x, within the 1.80x to 2.00x expected of 2 threads on 2 cores");
//! let short = Verdict::threads_on("rayon", 1.31, 2, 2);
//! assert_eq!(short.finding(), Finding::Below);
//! let odd = Verdict::new("under the GIL", 1.40, (0.8, 1.1), "one holder at a time allows");
//! assert_eq!(odd.describe(), "under the GIL: 1.40x, above the 0.80x to 1.10x one holder at a time allows");
//! let edge = Verdict::new("collect against push", 1.12, (0.9, 1.1), "of two equal loops");
//! assert_eq!((edge.place(), edge.finding()), (Place::NearHigh, Finding::Within));
//! assert_eq!(edge.describe(), "collect against push: 1.12x, equal within noise (3%) to the top of the 0.90x to 1.10x of two equal loops");
//! ```

use crate::{Stats, plural};

/// Where a measured figure falls against its bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finding {
    /// Less than the lesson expects: something held the work back (another program on the
    /// cores, too little work to pay for starting threads).
    Below,
    /// What the lesson expects - or equal to a bound within noise ([`Verdict::place`] tells
    /// the two apart).
    Within,
    /// More than the bounds allow: the baseline was slowed, or something else the lesson does
    /// not model happened. News, to be said.
    Above,
}

/// Where a figure falls, finer than [`Finding`]: inside its bounds, or outside one of them by
/// less than [`TOLERANCE`] - equal to that bound within noise, which is evidence for neither
/// side of it - or clearly outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// Under the low bound by more than the noise.
    Below,
    /// Under the low bound by less than the noise: equal to it within noise.
    NearLow,
    /// Inside the bounds, as printed.
    Inside,
    /// Over the high bound by less than the noise: equal to it within noise.
    NearHigh,
    /// Over the high bound by more than the noise.
    Above,
}

impl Place {
    /// The coarse finding: a figure equal to a bound within noise counts as within.
    pub fn finding(self) -> Finding {
        match self {
            Place::Below => Finding::Below,
            Place::NearLow | Place::Inside | Place::NearHigh => Finding::Within,
            Place::Above => Finding::Above,
        }
    }
}

/// A figure within this share of a bound counts as on it: timings on a shared machine move by
/// a few percent from run to run.
pub const TOLERANCE: f64 = 0.03;

/// `x` as a sentence prints it, `{:.2}`, read back: what is judged is what is printed.
fn as_printed(x: f64) -> f64 {
    format!("{x:.2}").parse().unwrap_or(x)
}

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
    /// `measured` against the bounds `low..=high` (given in either order: kept ordered, so that
    /// no sentence says "below the 1.10x to 1.00x"), which `bounds` explains.
    pub fn new(
        what: impl Into<String>,
        measured: f64,
        (low, high): (f64, f64),
        bounds: impl Into<String>,
    ) -> Verdict {
        let (low, high) = if low <= high { (low, high) } else { (high, low) };
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

    /// Where the figure falls, with [`TOLERANCE`] on either bound counted as within: see
    /// [`Verdict::place`] to tell a figure within noise of a bound from one inside the bounds.
    pub fn finding(&self) -> Finding {
        self.place().finding()
    }

    /// Where the figure falls: the figure and the bounds compared as printed (two decimals),
    /// a figure outside a bound by less than [`TOLERANCE`] of it equal to it within noise.
    pub fn place(&self) -> Place {
        let (low, high) = self.printed_bounds();
        let measured = as_printed(self.measured);
        if measured < low * (1.0 - TOLERANCE) {
            Place::Below
        } else if measured < low {
            Place::NearLow
        } else if measured > high * (1.0 + TOLERANCE) {
            Place::Above
        } else if measured > high {
            Place::NearHigh
        } else {
            Place::Inside
        }
    }

    /// Whether the figure is outside its bounds by less than the noise: equal to a bound within
    /// noise, so no sentence meaning one side of that bound should be chosen from it.
    pub fn within_noise_of_a_bound(&self) -> bool {
        matches!(self.place(), Place::NearLow | Place::NearHigh)
    }

    /// The bounds as printed, ordered (the fields are public, so a literal could swap them).
    fn printed_bounds(&self) -> (f64, f64) {
        let (low, high) = (as_printed(self.low), as_printed(self.high));
        (low.min(high), low.max(high))
    }

    /// Whether a speedup's range over the runs ([`spread`]: its worst and best pairing of runs)
    /// reaches the bounds: where it does, a median outside them is run-to-run noise, not news.
    pub fn spread_reaches_bounds(&self, (worst, best): (f64, f64)) -> bool {
        let (low, high) = self.printed_bounds();
        as_printed(worst) <= high && as_printed(best) >= low
    }

    /// The verdict of a median outside its bounds whose runs' [`spread`] reaches them, said as
    /// noise and ending with how to narrow it: `what: 0.83x, below the ..., by median; but its
    /// runs range from 0.69x to 1.10x: run-to-run noise, not a finding. More runs narrow it: ...`
    pub fn noise(&self, (worst, best): (f64, f64), command: &str) -> String {
        format!(
            "{}, by median; but its runs range from {worst:.2}x to {best:.2}x: run-to-run noise, not a finding. More runs narrow it: `{command}`.",
            self.describe()
        )
    }

    /// Whether anything could be gained at all: the bounds reach past 1x.
    pub fn possible(&self) -> bool {
        self.low.max(self.high) > 1.0
    }

    /// `what: 1.47x, within the 1.22x to 1.99x that ...`: the figure, where it falls, and what
    /// sets the bounds; a figure within noise of a bound is said to be equal to it within noise.
    pub fn describe(&self) -> String {
        let (low, high) = self.printed_bounds();
        let one_value = high - low < 0.005;
        let range =
            if one_value { format!("{high:.2}x") } else { format!("{low:.2}x to {high:.2}x") };
        let noise = format!("equal within noise ({:.0}%) to", TOLERANCE * 100.0);
        let relation = match self.place() {
            Place::Below => "below".to_owned(),
            Place::NearLow | Place::NearHigh if one_value => noise,
            Place::NearLow => format!("{noise} the low end of"),
            Place::Inside => "within".to_owned(),
            Place::NearHigh => format!("{noise} the top of"),
            Place::Above => "above".to_owned(),
        };
        format!("{}: {:.2}x, {relation} the {range} {}", self.what, self.measured, self.bounds)
    }

    /// The verdict said with what a figure outside its bounds may mean, ending with how to
    /// measure again: `what: 1.40x, above the ... allows: {why} Re-run to compare: `command`.`
    pub fn surprise(&self, why: &str, command: &str) -> String {
        format!("{}: {why} {}", self.describe(), rerun(command))
    }
}

/// The range the speedup of `measured` over `baseline` spans across their runs: the worst
/// pairing (the baseline's fastest run against the slowest measured one) and the best.
pub fn spread(baseline: &Stats, measured: &Stats) -> (f64, f64) {
    let ratio = |base: std::time::Duration, other: std::time::Duration| {
        base.as_secs_f64() / other.as_secs_f64().max(1e-12)
    };
    (ratio(baseline.min, measured.max), ratio(baseline.max, measured.min))
}

/// Whether every verdict is [`Finding::Within`].
pub fn all_within(verdicts: &[Verdict]) -> bool {
    verdicts.iter().all(|v| v.finding() == Finding::Within)
}

/// `Re-run to compare: `command`.`: what a sentence about a surprising figure ends with.
pub fn rerun(command: &str) -> String {
    format!("Re-run to compare: `{command}`.")
}

// ---- CPython's threads against one thread ----

/// What CPython's threads under its GIL gain over one thread: nothing, give or take a few
/// percent - one thread runs Python code at a time, and the hand-overs cost microseconds.
pub const UNDER_GIL: (f64, f64) = (0.9, 1.05);

/// How much longer than sequential taking turns on the GIL can itself make CPU-bound threads:
/// a waiting thread asks for the GIL once a switch interval (5 ms, CPython's default, which the
/// twins keep: `sys.getswitchinterval()`, Python/ceval_gil.c), and the hand-over takes
/// microseconds where a core is free - a fraction of a percent - with a cold cache or a thread
/// moved between cores after it. A quarter longer is this lesson's generous allowance for all
/// of that together (a judgement, not a CPython figure); beyond it only a busy core accounts
/// for the loss.
const TAKING_TURNS_AT_MOST: f64 = 1.25;

/// CPython's CPU-bound threads against its one thread, as a twin measured them: the one
/// judgement every topic makes of them, under a GIL ([`PythonThreads::under_gil`]) or without
/// one ([`PythonThreads::without_gil`]), so that the same figures read the same everywhere.
#[derive(Clone, Copy, Debug)]
pub struct PythonThreads<'a> {
    /// What ran, ending the subject: `CPython 3.11.7, with the GIL: its three threads`.
    pub what: &'a str,
    /// The one thread's runs.
    pub sequential: &'a Stats,
    /// The threads' runs.
    pub threads: &'a Stats,
    /// The command that measures again with more runs, which a noisy figure ends with.
    pub more_runs: &'a str,
}

impl PythonThreads<'_> {
    fn ratio(&self) -> f64 {
        self.threads.speedup_over(self.sequential).0
    }

    /// Under the GIL: about 1x ([`UNDER_GIL`]); a figure outside that is noise where the runs'
    /// [`spread`] reaches the bounds, and otherwise a loss or a gain that the sentence sizes up.
    // Source: CPython's Python/ceval_gil.c (3.12): a thread runs Python code only while it
    // holds the GIL, dropped on request each switch interval and around blocking calls.
    pub fn under_gil(&self) -> String {
        let verdict = Verdict::new(
            self.what,
            self.ratio(),
            UNDER_GIL,
            "that one thread running Python at a time allows",
        );
        let spread = spread(self.sequential, self.threads);
        match verdict.place() {
            Place::Inside => format!(
                "{}: no gain, as in the notebook (527 ms against 542 ms, not measured here): the GIL lets one thread run Python code at a time.",
                verdict.describe()
            ),
            // Neither a gain nor a loss to explain: a few percent either way is noise.
            Place::NearLow | Place::NearHigh => format!(
                "{}: about as long as one after another - the GIL lets one thread run Python code at a time.",
                verdict.describe()
            ),
            Place::Below | Place::Above if verdict.spread_reaches_bounds(spread) => {
                verdict.noise(spread, self.more_runs)
            }
            Place::Below => self.slower_under_gil(&verdict),
            Place::Above => verdict.surprise(
                "a gain the GIL does not allow, so the sequential runs were slowed (another program, a cold cache) or time was spent with the GIL released.",
                self.more_runs,
            ),
        }
    }

    /// Threads under the GIL clearly slower than one after another: the sentence follows the
    /// size of the loss, as the hand-overs themselves cost almost nothing.
    fn slower_under_gil(&self, verdict: &Verdict) -> String {
        let longer = 1.0 / verdict.measured.max(1e-12);
        let percent = (longer - 1.0) * 100.0;
        let handovers = "The GIL's hand-overs cost almost none of it: a waiting thread asks for the GIL once a 5 ms switch interval (CPython's default, which the twin keeps), and where a core is free the hand-over takes microseconds.";
        if longer <= TAKING_TURNS_AT_MOST {
            return format!(
                "{}: slower than one after another, the threads taking {percent:.0}% longer. {handovers} The rest is what taking turns costs besides - each turn starts with caches holding another thread's data, and the OS may move a thread between cores - or another program using the cores.",
                verdict.describe()
            );
        }
        // CPython's FORCE_SWITCHING (Python/ceval_gil.c, Include/internal/pycore_gil.h): the
        // thread that drops the GIL on request waits until another thread has taken it.
        verdict.surprise(
            &format!(
                "slower than one after another, the threads taking {percent:.0}% longer: far more than taking turns costs. {handovers} A loss this size means busy cores: the thread handed the GIL waits for a core - a scheduler time slice, milliseconds - and until it gets one no thread runs Python, as the one that let go waits for the switch. Another program on the cores is the likely cause."
            ),
            self.more_runs,
        )
    }

    /// A free-threaded build with the GIL off: on one core its threads take turns, GIL or
    /// not, so about 1x whatever `reach` says; on more they may run at once, within `reach`
    /// (the gain the work can reach on `cores` cores, which the topic's split of it sets).
    pub fn without_gil(&self, reach: (f64, f64), cores: usize) -> String {
        let one_core = cores <= 1;
        let verdict = Verdict::new(
            self.what,
            self.ratio(),
            if one_core { (0.9, 1.0) } else { reach },
            format!("that threads without a GIL on {} allow", plural(cores.max(1), "core")),
        );
        let turns = if one_core { " and on one core taking turns costs little" } else { "" };
        match verdict.place() {
            Place::Above => verdict.surprise(
                "a gain the cores do not allow, so the sequential runs were slowed (another program, a cold cache).",
                self.more_runs,
            ),
            Place::Below => verdict.surprise(
                &format!("no GIL stops these threads{turns}, so what held them back is elsewhere: another program running beside them, or what a free-threaded interpreter pays to share objects between threads (reference counts, per-object locks)."),
                self.more_runs,
            ),
            _ if one_core => {
                format!("{}: on one core threads take turns, GIL or not.", verdict.describe())
            }
            // Equal to the least expected within noise: not evidence that they ran at once.
            Place::NearLow => format!(
                "{}: too close to call whether the threads ran at once. More runs narrow it: `{}`.",
                verdict.describe(),
                self.more_runs
            ),
            Place::Inside | Place::NearHigh => format!(
                "{}: no GIL, so the threads ran Python code at once, as Rust's do. The notebook's \"no gain\" was its GIL's.",
                verdict.describe()
            ),
        }
    }
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
        // Counted as within, said as equal to the bound within noise: neither inside nor out.
        assert_eq!(
            at(1.20).describe(),
            "x: 1.20x, equal within noise (3%) to the low end of the 1.22x to 1.99x b"
        );
        assert_eq!(
            at(2.03).describe(),
            "x: 2.03x, equal within noise (3%) to the top of the 1.22x to 1.99x b"
        );
        assert_eq!(at(1.5).describe(), "x: 1.50x, within the 1.22x to 1.99x b");
        assert_eq!(at(1.10).describe(), "x: 1.10x, below the 1.22x to 1.99x b");
        assert_eq!(at(2.10).describe(), "x: 2.10x, above the 1.22x to 1.99x b");
    }

    #[test]
    fn a_figure_within_noise_of_a_bound_is_told_apart_from_one_inside() {
        let at = |m| Verdict::new("x", m, (0.9, 1.1), "b");
        let places = [0.85, 0.88, 1.0, 1.12, 1.2].map(|m| at(m).place());
        assert_eq!(
            places,
            [Place::Below, Place::NearLow, Place::Inside, Place::NearHigh, Place::Above]
        );
        assert!(at(1.12).within_noise_of_a_bound() && at(0.88).within_noise_of_a_bound());
        assert!(!at(1.0).within_noise_of_a_bound() && !at(1.2).within_noise_of_a_bound());
        let single = Verdict::new("x", 1.02, (1.0, 1.0), "b");
        assert_eq!(single.describe(), "x: 1.02x, equal within noise (3%) to the 1.00x b");
    }

    #[test]
    fn a_figure_is_judged_as_it_is_printed() {
        // Printed 2.00x against a top of 2.00x: on it, not over it.
        let on_top = Verdict::new("x", 2.004, (1.6, 2.0), "b");
        assert_eq!(
            (on_top.place(), on_top.describe()),
            (Place::Inside, "x: 2.00x, within the 1.60x to 2.00x b".to_owned())
        );
        // A bound computed as 1.1049 is printed 1.10x; a figure printed 1.10x is on it.
        let on_low = Verdict::new("x", 1.1012, (1.1049, 1.99), "b");
        assert_eq!(on_low.place(), Place::Inside, "{}", on_low.describe());
        assert_eq!(Verdict::new("x", 2.006, (1.6, 2.0), "b").place(), Place::NearHigh);
    }

    #[test]
    fn a_spread_that_reaches_the_bounds_is_noise() {
        let ms = |min, median, max| {
            let ms = std::time::Duration::from_millis;
            Stats { min: ms(min), median: ms(median), max: ms(max), runs: 5 }
        };
        let (worst, best) = spread(&ms(90, 100, 110), &ms(100, 120, 130));
        assert_eq!((format!("{worst:.2}"), format!("{best:.2}")), ("0.69".into(), "1.10".into()));
        let v = Verdict::new("x", 100.0 / 120.0, (0.9, 1.05), "b");
        assert!(v.spread_reaches_bounds((worst, best)));
        assert!(!v.spread_reaches_bounds(spread(&ms(99, 100, 101), &ms(119, 120, 121))));
        // Printed 0.90x reaches a 0.90x bound.
        assert!(v.spread_reaches_bounds((0.5, 0.8996)));
        assert_eq!(
            v.noise((worst, best), "cargo run -p x"),
            "x: 0.83x, below the 0.90x to 1.05x b, by median; but its runs range from 0.69x to 1.10x: run-to-run noise, not a finding. More runs narrow it: `cargo run -p x`."
        );
    }

    #[test]
    fn bounds_are_ordered_whichever_way_they_are_given() {
        // A free-threaded Python on one core once set 1.10x over 1.00x.
        let v = Verdict::new("x", 0.8, (1.1, 1.0), "b");
        assert_eq!((v.low, v.high), (1.0, 1.1));
        assert_eq!(v.describe(), "x: 0.80x, below the 1.00x to 1.10x b");
        assert_eq!(Verdict::new("x", 1.05, (1.1, 1.0), "b").place(), Place::Inside);
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
    /// CPython's threads as a topic judges them: sequential and threaded runs as
    /// median/min/max ms, judged under the GIL or without it on `cores` cores.
    fn python_threads(runs: [(u64, u64, u64); 2], gil: bool, cores: usize) -> String {
        let [sequential, threads] = runs.map(|(median, min, max)| {
            let ms = std::time::Duration::from_millis;
            Stats { min: ms(min), median: ms(median), max: ms(max), runs: 5 }
        });
        let judged = PythonThreads {
            what: "py",
            sequential: &sequential,
            threads: &threads,
            more_runs: "again",
        };
        if gil { judged.under_gil() } else { judged.without_gil((1.8, 2.0), cores) }
    }

    #[test]
    fn cpythons_threads_under_its_gil_are_judged_by_side_size_and_spread() {
        // (sequential and threads as median/min/max ms, what the sentence must say)
        let cases = [
            ([(100, 99, 101), (102, 101, 103)], "0.98x, within the 0.90x to 1.05x"),
            ([(100, 99, 101), (102, 101, 103)], "no gain, as in the notebook"),
            ([(108, 107, 109), (100, 99, 101)], "about as long as one after another"),
            ([(88, 87, 89), (100, 99, 101)], "about as long as one after another"),
            ([(100, 90, 110), (120, 100, 130)], "0.83x, below the 0.90x to 1.05x"),
            ([(100, 90, 110), (120, 100, 130)], "run-to-run noise, not a finding"),
            ([(140, 100, 150), (100, 98, 145)], "run-to-run noise, not a finding"),
            ([(100, 99, 101), (120, 119, 121)], "taking 20% longer. The GIL's hand-overs"),
            ([(100, 99, 101), (150, 148, 152)], "taking 50% longer: far more than"),
            ([(140, 135, 150), (100, 98, 105)], "a gain the GIL does not allow"),
        ];
        for (runs, wanted) in cases {
            let said = python_threads(runs, true, 2);
            assert!(said.contains(wanted), "{wanted:?} in {said}");
        }
    }

    #[test]
    fn cpythons_threads_without_a_gil_take_turns_on_one_core_and_scale_on_more() {
        // (cores, sequential and threads as median/min/max ms, what it must say, must not)
        let cases = [
            // One core, inside its bounds: turns, whatever the threads reach on more cores.
            (1, [(100, 99, 101), (104, 103, 105)], "within the 0.90x to 1.00x", "at once"),
            (1, [(100, 99, 101), (104, 103, 105)], "on one core threads take turns", "at once"),
            (
                1,
                [(100, 99, 101), (125, 124, 126)],
                "on one core taking turns costs little",
                "at once",
            ),
            (1, [(150, 149, 151), (100, 99, 101)], "a gain the cores do not allow", "at once"),
            (2, [(196, 195, 197), (100, 99, 101)], "ran Python code at once", "take turns"),
            (2, [(176, 175, 177), (100, 99, 101)], "too close to call", "ran Python code at once"),
            (2, [(130, 129, 131), (100, 99, 101)], "no GIL stops these threads", "one core"),
            (2, [(250, 249, 251), (100, 99, 101)], "a gain the cores do not allow", "at once"),
        ];
        for (cores, runs, wanted, unwanted) in cases {
            let said = python_threads(runs, false, cores);
            assert!(said.contains(wanted) && !said.contains(unwanted), "{wanted:?} in {said}");
        }
    }
}

//! The lesson's kernels beside NumPy, SciPy, Cython and Numba, and called from Python as the
//! module `hpc_rs_numerics`: the tables, and what they say, chosen from the figures and from
//! the interpreter's build (with a GIL, or free-threaded).

use numerics::distances::Isa;
use timing::chart::Figure;
use timing::python::{Line, Measured, Twin};
use timing::python_env::Python;
use timing::verdict::{self, Finding, Verdict};
use timing::{Stats, cli, human, say};

use crate::lesson::{distances, julia};

/// The packages the twins import: pip requirements, installed once (see `timing::python_env`).
const PACKAGES: &[&str] =
    &["numpy>=2.0", "scipy>=1.11", "numba>=0.60", "cython>=3.0", "setuptools>=65"];

/// The Python module of these kernels (a PyO3 crate that maturin builds), `hpc_rs_numerics`:
/// built from this working tree into the twins' own environment, or looked for in a Python the
/// user named, which is never installed into (timing::python_env::ensure_module).
const MODULE: timing::python_env::Module<'static> = timing::python_env::Module {
    folder: concat!(env!("CARGO_MANIFEST_DIR"), "/extension"),
    name: "hpc_rs_numerics",
    times: "the Rust kernels",
    aside: "",
};

/// The twins' scripts, one a part.
const DISTANCES_TWIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/distances.py");
const JULIA_TWIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/julia.py");
const CALLS_TWIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/calls.py");

/// The lengths of the GIL comparison: three_sums and Numba's loop, and the pure-Python loop
/// (about 40 times slower a step).
const GIL_LENGTH: u64 = 200_000_000;
const GIL_PURE_LENGTH: u64 = 500_000;

/// The sizes the pure-Python twins run at, where the defaults would take them minutes.
const PYTHON_SMALL_N: usize = 400;
const PYTHON_SMALL_WIDTH: usize = 250;

/// This run's Python twins: all run by one interpreter (the one named with `--python`, or the
/// project's own environment), into which the module is built once, before the first twin.
pub struct Twins<'a> {
    vs_python: &'a cli::VsPython,
    module_built: bool,
}

impl<'a> Twins<'a> {
    pub fn new(vs_python: &'a cli::VsPython) -> Twins<'a> {
        Twins { vs_python, module_built: false }
    }

    /// The twin running `script`, the module built first if no twin has run yet (that first
    /// twin times it).
    fn twin(&mut self, script: &'a str) -> Twin<'a> {
        let twin = Twin::new(script, PACKAGES, self.vs_python);
        if !std::mem::replace(&mut self.module_built, true) {
            // Without it, the calls twin says so and leaves its rows out.
            timing::python_env::ensure_module(twin.python(), PACKAGES, &MODULE);
        }
        twin
    }
}

/// NumPy, SciPy and Numba on the same points. Pure Python runs at a smaller N, where Rust's
/// naive loop is timed again for a fair pair.
pub fn vs_python_distances(twins: &mut Twins<'_>, rust: &distances::Measured, figure: &mut Figure) {
    let distances::Measured { n, dim, runs, .. } = *rust;
    let small = n.min(PYTHON_SMALL_N);
    let small_points = numerics::distances::random_points(small, dim, numerics::distances::SEED);
    let (small_result, small_naive) =
        timing::measure(runs, || numerics::distances::naive(&small_points));
    let small_checksum: f64 = small_result.iter().sum();
    let mut args: Vec<String> = [n, runs, dim, small].map(|v| v.to_string()).to_vec();
    args.extend([format!("{:?}", rust.checksum), format!("{small_checksum:?}")]);
    use distances::Variant;
    let rust_row = |variant: Variant| rust.of(variant).map(|stats| (variant.label(), stats));
    let pairs = [
        ("pure Python loops", Some(("1 naive loops, same N", &small_naive))),
        ("NumPy broadcasting", rust_row(Variant::Broadcast)),
        ("NumPy BLAS trick", rust_row(Variant::BlasTrick)),
        ("scipy cdist", rust_row(Variant::Lanes(Isa::Host))),
        ("Numba @njit", rust_row(Variant::Naive)),
        ("Numba parallel=True, prange", rust_row(Variant::NaiveParallel)),
        ("hpc_rs_numerics", rust_row(Variant::LanesParallel)),
    ];
    let stats: Vec<_> = rust.stats.iter().map(|(v, s)| (v.label(), s)).collect();
    compare_workload(&twins.twin(DISTANCES_TWIN), &args, &pairs, best(&stats), figure);
}

/// Pure Python, NumPy, Cython and Numba on the book's grid. Pure Python and NumPy run at a
/// smaller width, where Rust is timed again.
pub fn vs_python_julia(twins: &mut Twins<'_>, rust: &julia::Measured, figure: &mut Figure) {
    let julia::Measured { width, max_iter, runs, .. } = *rust;
    let small = width.min(PYTHON_SMALL_WIDTH);
    use julia::Variant;
    let small_grid = numerics::julia::Grid::book(small);
    let (small_counts, small_complex) =
        timing::measure(runs, || Variant::ComplexNumbers.run(&small_grid, max_iter));
    let (_, small_lanes) =
        timing::measure(runs, || Variant::Lanes(Isa::Host).run(&small_grid, max_iter));
    let small_checksum = numerics::julia::checksum(&small_counts);
    let args = [width, runs, max_iter as usize, small].map(|v| v.to_string());
    let args = [&args[..], &[rust.checksum.to_string(), small_checksum.to_string()]].concat();
    let rust_row = |variant: Variant| Some((variant.label(), rust.of(variant)));
    let pairs = [
        ("pure Python", Some(("1 num-complex, same width", &small_complex))),
        ("NumPy", Some(("3b lanes, host CPU, same width", &small_lanes))),
        ("Cython", rust_row(Variant::TwoFloats)),
        ("Numba @njit", rust_row(Variant::TwoFloats)),
        ("Numba parallel=True, prange", rust_row(Variant::TwoFloatsParallel)),
        ("hpc_rs_numerics", rust_row(Variant::LanesParallel)),
    ];
    let stats: Vec<_> = rust.stats.iter().map(|(v, s)| (v.label(), s)).collect();
    compare_workload(&twins.twin(JULIA_TWIN), &args, &pairs, best(&stats), figure);
}

/// A workload's table - each Python way beside the Rust variant that plays its part - and the
/// fastest of each side.
fn compare_workload(
    twin: &Twin<'_>,
    args: &[String],
    pairs: &[(&str, Option<(&str, &Stats)>)],
    rust_best: (&str, &Stats),
    figure: &mut Figure,
) {
    let report = timing::python::compare_by_label(twin, args, pairs, figure)
        .unwrap_or_else(|e| cli::fail(e));
    if let Some(report) = report {
        fastest_of_each(&report.measured, rust_best);
    }
}

/// The module's row against the fastest Python way, and the fastest of each side.
fn fastest_of_each(measured: &[Measured], rust_best: (&str, &Stats)) {
    let (module, python): (Vec<_>, Vec<_>) =
        measured.iter().partition(|m| m.label.starts_with("hpc_rs_numerics"));
    let full_size: Vec<_> = python
        .into_iter()
        .filter(|m| !m.label.contains("(N=") && !m.label.contains("(width"))
        .collect();
    let python_best = full_size.iter().min_by_key(|m| m.stats.median);
    if let (Some(module), Some(python_best)) = (module.first(), python_best) {
        cli::paragraph(
            "",
            &format!(
                "From Python, {} (Rust) took {}: {} than the fastest Python way, {} ({}).",
                module.label,
                human(module.stats.median),
                module.stats.speedup_over(&python_best.stats).sentence("faster", "slower"),
                python_best.label,
                human(python_best.stats.median)
            ),
        );
    }
    if let Some(python_best) = python_best {
        cli::paragraph(
            "",
            &format!(
                "Fastest of each at the same size: Rust {} {}, Python {} {}: {}.",
                rust_best.0.trim(),
                human(rust_best.1.median),
                python_best.label,
                human(python_best.stats.median),
                timing::rust_against_python(rust_best.1, &python_best.stats)
            ),
        );
    }
}

fn best<'a>(stats: &[(&'static str, &'a Stats)]) -> (&'static str, &'a Stats) {
    *stats.iter().min_by_key(|(_, s)| s.median).expect("at least one variant")
}

// ---- the module from Python: a call, and two threads ----

/// The Rust kernels from Python: what one call costs against Numba's, and two Python threads
/// each making a call - into Rust, exact (u128) and wrapping (u64), into Numba's nogil loop, and
/// into the same loop in Python - against one call alone.
pub fn vs_python_calls(twins: &mut Twins<'_>, runs: usize, figure: &mut Figure) {
    let twin = twins.twin(CALLS_TWIN);
    say!(
        "== From Python: hpc_rs_numerics, these kernels as a Python module (timed inside the interpreter)"
    );
    figure.panel("From Python: hpc_rs_numerics against Numba, one call and two threads");
    let mut singles: Vec<(String, Stats)> = Vec::new();
    let mut kinds: Vec<Kind> = Vec::new();
    let each = |_: &Python, line: Line<'_>| {
        let Line::Measured(python) = line else { return };
        say!("{} {}", cli::cell(&python.label, 64), python.stats);
        figure.python(&python.label, &python.stats);
        if let Some(kind) = python.label.strip_suffix(": 2 threads, a call each") {
            if let Some((_, one)) = singles.iter().find(|(label, _)| label.starts_with(kind)) {
                let kind = Kind { name: kind.to_owned(), one: *one, two: python.stats };
                say!("{:<64} -> two calls in {:.2}x one call's time", "", kind.two_over_one());
                kinds.push(kind);
            }
        } else {
            singles.push((python.label.clone(), python.stats));
        }
    };
    let args = [GIL_LENGTH, runs as u64, GIL_PURE_LENGTH].map(|v| v.to_string());
    let report =
        timing::python::run_or_explain(&twin, &args, each).unwrap_or_else(|e| cli::fail(e));
    let Some(report) = report else { return };
    for note in &report.notes {
        cli::paragraph("", note);
    }
    let median_of = |prefix: &str| {
        report.measured.iter().find(|m| m.label.contains(prefix)).map(|m| m.stats.median)
    };
    if let (Some(rust), Some(numba)) =
        (median_of("1 x 1 input: hpc_rs_numerics"), median_of("1 x 1 input: Numba"))
    {
        cli::paragraph("", &call_cost_sentence(rust.as_secs_f64(), numba.as_secs_f64()));
    }
    if let Some(sentence) = exactness_sentence(&kinds, numerics::sums::wrapping_has_avx512()) {
        cli::paragraph("", &sentence);
    }
    for sentence in threads_sentences(&kinds, &report.python, timing::machine::cores()) {
        cli::paragraph("", &sentence);
    }
}

/// One kind of call timed from one thread and from two at once.
struct Kind {
    name: String,
    one: Stats,
    two: Stats,
}

impl Kind {
    /// Two calls' time over one call's: 1x where the two threads ran at once, 2x where they
    /// took turns - the one figure every sentence about it uses.
    fn two_over_one(&self) -> f64 {
        self.two.median.as_secs_f64() / self.one.median.as_secs_f64().max(1e-12)
    }

    /// What its figure says: near 1x the two calls ran at once, from about 1.6x they took turns
    /// (the turns' verdict, below), in between they overlapped in part.
    fn how(&self) -> &'static str {
        if self.ran_at_once() {
            "ran at once"
        } else if self.turns().finding() != Finding::Below {
            "took turns"
        } else {
            "overlapped in part"
        }
    }

    fn ran_at_once(&self) -> bool {
        self.two_over_one() <= 1.25
    }

    /// Its figure against what two threads taking turns give: each call waits while the other
    /// runs, so two calls take about twice one call's time (1.6x and more counted so: a few
    /// runs slowed or sped by other programs move a median that much).
    fn turns(&self) -> Verdict {
        let bounds = "of two calls taking turns";
        Verdict::new(self.short_name(), self.two_over_one(), (1.6, 2.0), bounds)
    }

    /// Whether its two-thread runs spread widely: one slow run, not the threads, set it.
    fn noisy(&self) -> bool {
        self.two.max.as_secs_f64() > 1.3 * self.two.min.as_secs_f64()
    }

    fn short_name(&self) -> &str {
        self.name.split(", length").next().unwrap_or(&self.name)
    }
}

/// What a call into the module costs, beside a Numba call, from the two medians in seconds.
fn call_cost_sentence(rust: f64, numba: f64) -> String {
    let (rust_text, numba_text) = (
        human(std::time::Duration::from_secs_f64(rust)),
        human(std::time::Duration::from_secs_f64(numba)),
    );
    let relation = if rust <= numba {
        format!("{:.2}x less than a Numba call's {numba_text}", numba / rust)
    } else {
        format!("{:.2}x a Numba call's {numba_text}", rust / numba)
    };
    format!(
        "A call into Rust costs {rust_text} ({relation}): checking the array, releasing and retaking the GIL, making the result. Crossing pays once a call's work is worth more."
    )
}

/// Why Rust's exact sums take longer than Numba's loop: Numba's uint64 wraps at 2**64 (a wrong
/// answer at this length), Rust's u128 is exact; the wrapping Rust kernel is the fair pair,
/// run in its AVX-512 copy where the CPU has one (`avx512`), as Numba compiles for this CPU.
fn exactness_sentence(kinds: &[Kind], avx512: bool) -> Option<String> {
    let one = |prefix: &str| kinds.iter().find(|k| k.name.starts_with(prefix)).map(|k| k.one);
    let exact = one("hpc_rs_numerics.three_sums,")?;
    let wrapping = one("hpc_rs_numerics.three_sums_wrapping")?;
    let numba = one("Numba")?;
    // Numba targets the host CPU by default (docs, "Notes on Numba's CPU target", NUMBA_CPU_NAME,
    // 0.60): on an AVX-512 CPU its loops may use AVX-512.
    let copy = if avx512 {
        "its AVX-512 copy, picked at run time since this CPU has AVX-512; Numba compiles for the CPU it runs on"
    } else {
        "its baseline copy: this CPU lacks AVX-512, whose 64-bit vector multiply the AVX-512 copy uses"
    };
    Some(format!(
        "One call, one thread: Rust's exact three_sums {} against Numba's {}: Numba's uint64 wraps at 2**64, so at length {GIL_LENGTH} its cube sum is the true one modulo 2**64 - a wrong answer - where Rust's u128 is exact, at several instructions an operation. Wrapping as Numba does, Rust's three_sums_wrapping took {} ({copy}): {}.",
        human(exact.median),
        human(numba.median),
        human(wrapping.median),
        timing::rust_against_python(&wrapping, &numba).replacen("Python", "Numba", 1)
    ))
}

/// Whether two threads ran at once, for each kind of loop - near 1x two calls' time where the
/// GIL is released (or absent), 2x where the threads take turns - each said once, with the
/// figure it was read from; and what the run as a whole shows, chosen from all of them and the
/// interpreter's build.
fn threads_sentences(kinds: &[Kind], python: &Python, cores: usize) -> Vec<String> {
    if kinds.is_empty() {
        return Vec::new();
    }
    let described: Vec<String> = kinds
        .iter()
        .map(|k| format!("{} {:.2}x ({})", k.short_name(), k.two_over_one(), k.how()))
        .collect();
    let mut said =
        vec![format!("Two threads, a call each, in one call's time: {}.", described.join("; "))];
    if cores == 1 {
        said.push(
            "On one core no two threads can run at once, GIL or not: re-run on more cores."
                .to_owned(),
        );
        return said;
    }
    let (python_loops, native): (Vec<&Kind>, Vec<&Kind>) =
        kinds.iter().partition(|k| k.name.starts_with("pure Python"));
    // No native row (the module or Numba not measured): "all of them ran at once" would be
    // vacuously true, so only what the Python loop shows is said.
    said.push(if native.is_empty() {
        no_native_sentence(python_loops.first().copied(), python)
    } else if native.iter().all(|k| k.ran_at_once()) {
        native_at_once_sentence(python_loops.first().copied(), python)
    } else {
        native_held_back_sentence(&native)
    });
    said
}

/// The command that measures the calls again.
const RERUN_CALLS: &str = "cargo run -p numerics -- --vs-python";

/// What releasing the GIL is, for native code. PyO3 0.30's `Python::detach` "temporarily
/// releases the GIL, thus allowing other Python threads to run" (its doc comment, pyo3
/// 0.30.1 src/marker.rs; `allow_threads` before 0.26); Numba "will release the GIL when
/// entering such a compiled function if you passed nogil=True" (Numba's docs,
/// docs/source/user/jit.rst, "nogil", the same in 0.60, the least the twins install).
const NATIVE: &str = "Native code that releases the GIL (PyO3's `py.detach`, Numba's nogil=True)";

/// Every native loop ran at once: what that shows beside the Python loop's figure - the GIL's
/// turns where the Python loop took them, no GIL on a free-threaded build - and, where the
/// Python loop has no row or did not take turns under a GIL, only what was measured.
fn native_at_once_sentence(python_loop: Option<&Kind>, python: &Python) -> String {
    if python.threads_run_at_once() {
        return format!(
            "{}: no GIL, so the Python loop's threads can run at once too, not only native code's.",
            python.describe()
        );
    }
    let native = format!("{NATIVE} ran at once beside another Python thread");
    let Some(python_loop) = python_loop else {
        return format!(
            "{native}; the pure-Python loop has no two-thread row here, so Python code taking turns for the GIL was not measured. {}",
            verdict::rerun(RERUN_CALLS)
        );
    };
    if let Some(surprise) = fewer_turns_than_a_gil(python_loop) {
        return format!("{native}. {surprise}");
    }
    format!(
        "{NATIVE} runs beside other Python threads; Python code needs the GIL, so one thread runs it at a time. That is section 2.c's \"the GIL hampers threads\", measured: the cure is native code that lets go of it, not more threads."
    )
}

/// No native call has a two-thread row (the module or Numba was not measured): what the
/// Python loop shows alone, and that native code beside it was not measured.
fn no_native_sentence(python_loop: Option<&Kind>, python: &Python) -> String {
    let unmeasured = format!(
        "No native call has a two-thread row here, so whether native code that releases the GIL runs beside Python threads was not measured. {}",
        verdict::rerun(RERUN_CALLS)
    );
    if python.threads_run_at_once() {
        return format!(
            "{}: no GIL, so the Python loop's threads can run at once. {unmeasured}",
            python.describe()
        );
    }
    match python_loop.map(|k| (k, fewer_turns_than_a_gil(k))) {
        Some((_, Some(surprise))) => format!("{surprise} {unmeasured}"),
        Some((_, None)) => format!(
            "The pure-Python loop took turns: Python code needs the GIL, so one thread runs it at a time. {unmeasured}"
        ),
        None => unmeasured,
    }
}

/// Under a GIL, the pure-Python loop's figure where it is below the turns the GIL forces, said
/// as a surprise; `None` where it took turns.
fn fewer_turns_than_a_gil(python_loop: &Kind) -> Option<String> {
    let turns = Verdict { what: "The pure-Python loop".to_owned(), ..python_loop.turns() };
    let why = "under a GIL one thread runs Python code at a time, so two calls take about twice one call's time; less means one call's own time was slowed (a slow run in its median, another program on the cores).";
    (turns.finding() == Finding::Below).then(|| turns.surprise(why, RERUN_CALLS))
}

/// Some native loop did not run at once, though each releases the GIL: another that did shows
/// the cores were free (then a wide spread says noise), or none did (the cores were busy).
fn native_held_back_sentence(native: &[&Kind]) -> String {
    let (free, slow): (Vec<&Kind>, Vec<&Kind>) = native.iter().partition(|k| k.ran_at_once());
    let names: Vec<&str> = slow.iter().map(|k| k.short_name()).collect();
    let rerun = verdict::rerun(RERUN_CALLS);
    match free.first() {
        Some(free) if slow.iter().all(|k| k.noisy()) => format!(
            "{} ran at once on the same cores, so they were free; {}'s two-thread runs spread widely (one slow run sets such a median): noise rather than the GIL, which it releases. {rerun}",
            free.short_name(),
            names.join(" and ")
        ),
        Some(free) => format!(
            "{} ran at once on the same cores, so they were free; {} did not, though it releases the GIL. {rerun}",
            free.short_name(),
            names.join(" and ")
        ),
        None => {
            format!("No native loop ran at once: another program may be using the cores. {rerun}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn kind(name: &str, one_ms: u64, two_ms: u64, spread_ms: u64) -> Kind {
        let ms = Duration::from_millis;
        let one = Stats { min: ms(one_ms), median: ms(one_ms), max: ms(one_ms), runs: 5 };
        let two =
            Stats { min: ms(two_ms), median: ms(two_ms), max: ms(two_ms + spread_ms), runs: 5 };
        Kind { name: format!("{name}, length 200000000"), one, two }
    }

    fn python(free_threaded: bool) -> Python {
        Python {
            program: "python".into(),
            version: "3.14.0".into(),
            implementation: "cpython".into(),
            free_threaded,
            gil: !free_threaded,
        }
    }

    #[test]
    fn each_kind_is_said_once_with_the_figure_it_was_read_from() {
        let kinds = [
            kind("hpc_rs_numerics.three_sums", 21, 30, 18),
            kind("Numba @njit(nogil=True)", 6, 6, 1),
            kind("pure Python loop", 63, 120, 5),
        ];
        let said = threads_sentences(&kinds, &python(false), 2).join(" ");
        // One figure per kind: the same number in the row and in the sentence.
        assert!(said.contains("hpc_rs_numerics.three_sums 1.43x (overlapped in part)"), "{said}");
        assert!(said.contains("Numba @njit(nogil=True) 1.00x (ran at once)"), "{said}");
        // Numba ran at once on the same cores: not "another program".
        assert!(!said.contains("another program"), "{said}");
        assert!(said.contains("ran at once on the same cores, so they were free"), "{said}");
        assert!(said.contains("spread widely"), "{said}");
        let expected = [
            kind("hpc_rs_numerics.three_sums", 21, 22, 1),
            kind("Numba @njit(nogil=True)", 6, 6, 1),
            kind("pure Python loop", 63, 120, 5),
        ];
        let said = threads_sentences(&expected, &python(false), 2).join(" ");
        assert!(said.contains("the cure is native code that lets go"), "{said}");
        let free = threads_sentences(&expected[..2], &python(true), 2).join(" ");
        assert!(free.contains("free-threaded (no GIL): no GIL"), "{free}");
    }

    #[test]
    fn native_code_at_once_beside_a_python_loop_that_did_not_take_turns_is_said_whole() {
        let native = || {
            vec![
                kind("hpc_rs_numerics.three_sums", 21, 22, 1),
                kind("Numba @njit(nogil=True)", 6, 6, 1),
            ]
        };
        // No pure-Python row (the twin stopped before it): the GIL's turns were not measured.
        let said = threads_sentences(&native(), &python(false), 2).join(" ");
        assert!(said.contains("ran at once beside another Python thread"), "{said}");
        assert!(said.contains("Python code taking turns for the GIL was not measured"), "{said}");
        assert!(!said.contains("'s two-thread runs") && !said.contains("the cure is"), "{said}");
        // A pure-Python loop under 1.6x on a GIL build: its figure against what turns take.
        let mut overlapped = native();
        overlapped.push(kind("pure Python loop", 63, 82, 5));
        let said = threads_sentences(&overlapped, &python(false), 2).join(" ");
        assert!(said.contains("pure Python loop 1.30x (overlapped in part)"), "{said}");
        assert!(said.contains("The pure-Python loop: 1.30x, below the 1.60x to 2.00x"), "{said}");
        assert!(said.contains("one call's own time was slowed") && said.contains("Re-run"));
        assert!(!said.contains("'s two-thread runs") && !said.contains("the cure is"), "{said}");
        // Twice one call's time, and a little under it: the threads took turns. No native row
        // here, so nothing is said of native code but that it was not measured.
        for (two_ms, figure) in [(120, "1.90x"), (100, "1.59x")] {
            let took_turns = [kind("pure Python loop", 63, two_ms, 5)];
            let said = threads_sentences(&took_turns, &python(false), 2).join(" ");
            assert!(said.contains(&format!("pure Python loop {figure} (took turns)")), "{said}");
            assert!(
                said.contains("The pure-Python loop took turns: Python code needs the GIL, so one thread runs it at a time. No native call has a two-thread row here"),
                "{said}"
            );
            assert!(!said.contains("ran at once") && !said.contains("the cure is"), "{said}");
        }
    }

    #[test]
    fn without_native_rows_native_code_is_said_unmeasured_not_at_once() {
        let unmeasured = "No native call has a two-thread row here, so whether native code that releases the GIL runs beside Python threads was not measured. Re-run to compare:";
        // Under 1.6x on a GIL build: its figure against what turns take, native code unmeasured.
        let overlapped = [kind("pure Python loop", 63, 82, 5)];
        let said = threads_sentences(&overlapped, &python(false), 2).join(" ");
        assert!(said.contains("The pure-Python loop: 1.30x, below the 1.60x to 2.00x"), "{said}");
        assert!(said.contains(unmeasured), "{said}");
        assert!(!said.contains("ran at once beside") && !said.contains("the cure is"), "{said}");
        // A free-threaded build: no GIL, and native code still unmeasured.
        let free = threads_sentences(&overlapped, &python(true), 2).join(" ");
        assert!(free.contains("free-threaded (no GIL): no GIL, so the Python loop's threads can run at once. No native call"), "{free}");
        assert!(!free.contains("not only native code's"), "{free}");
    }

    #[test]
    fn exactness_is_named_as_the_price_of_the_gap() {
        let kinds = [
            kind("hpc_rs_numerics.three_sums", 21, 22, 1),
            kind("hpc_rs_numerics.three_sums_wrapping", 5, 5, 1),
            kind("Numba @njit(nogil=True)", 6, 6, 1),
        ];
        let said = exactness_sentence(&kinds, true).unwrap();
        assert!(said.contains("Numba's uint64 wraps at 2**64") && said.contains("u128 is exact"));
        assert!(said.contains("three_sums_wrapping took 5.00 ms (its AVX-512 copy"), "{said}");
        assert!(said.contains("): Rust 1.20x faster"), "{said}");
        let said = exactness_sentence(&kinds, false).unwrap();
        assert!(said.contains("(its baseline copy: this CPU lacks AVX-512"), "{said}");
    }
}

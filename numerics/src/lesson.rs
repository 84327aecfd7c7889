//! The two workloads as the lesson times them: every variant, checked and explained; and what
//! both say the same way - the vector units they run on, and how their rows scale on rayon.

pub mod distances;
pub mod julia;

use numerics::distances::Isa;
use timing::cli;
use timing::verdict::{Finding, Verdict};

/// What this CPU has beyond the vector units the kernels use: AVX-512, which they leave out
/// (on this project's machine it was no faster than AVX2 on one core and slower on two) and
/// Numba, compiling for the host, would use.
pub fn vector_units_left_out() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512f") {
        return "; this CPU also has AVX-512, which Numba compiling for the host would use and these kernels leave out";
    }
    ""
}

/// The vector units the host kernels run on with this CPU (the widest they use).
pub fn host_vector_units() -> &'static str {
    if Isa::host_has_avx2() {
        "AVX2 and FMA, 4 doubles a register"
    } else if cfg!(target_arch = "x86_64") {
        "SSE2 only, 2 doubles a register: the host variants are the baseline ones"
    } else {
        "this architecture's baseline: the host variants are the baseline ones"
    }
}

/// The parallel variants' sentence, chosen from what they measured: the scalar loop and the
/// vector-lane loop, each `[serial, parallel]` in seconds.
fn explain_scaling(scalar: [f64; 2], lanes: [f64; 2], rerun: &str) {
    // rayon's pool has as many threads as cores, unless RAYON_NUM_THREADS says otherwise.
    let threads = rayon::current_num_threads();
    let verdict =
        |what, [serial, parallel]: [f64; 2]| Verdict::threads(what, serial / parallel, threads);
    let (scalar, lanes) = (verdict("the scalar loop", scalar), verdict("the lanes", lanes));
    cli::paragraph("", &scaling_sentence(threads, &scalar, &lanes, rerun));
}

fn scaling_sentence(threads: usize, scalar: &Verdict, lanes: &Verdict, rerun: &str) -> String {
    // Numba's docs, user/parallel.rst "Scheduling" (0.57 and later): by default "approximately
    // equal sized chunks", one "to each configured thread".
    let measured = format!(
        "- On {} with rayon, which hands out rows by work stealing where Numba's prange splits them into equal blocks: the scalar loop {:.2}x, the lanes {:.2}x.",
        timing::plural(threads, "thread"),
        scalar.measured,
        lanes.measured
    );
    let scales = |v: &Verdict| v.finding() != Finding::Below;
    let said = if !scalar.possible() {
        format!("{}.", scalar.describe())
    } else if let Some(above) = [scalar, lanes].into_iter().find(|v| v.finding() == Finding::Above)
    {
        // More than one thread a core can give: news, not scaling.
        above.surprise(
            "more than the threads can give: the one-thread runs were likely slowed.",
            rerun,
        )
    } else if scales(scalar) && scales(lanes) {
        "Both scale with the cores: no GIL, and rows that share nothing.".to_owned()
    } else if scales(scalar) && lanes.measured < 0.85 * scalar.measured {
        format!(
            "The scalar loop scales with the cores and the vector one less. The scalar loop waits on one chain of dependent operations and leaves most of a core's floating-point units idle; the lanes keep them busy, so whatever else competes for those units (a hyper-thread sibling, another program, another VM on the host) slows the lanes first. Re-run to compare: `{rerun}`."
        )
    } else {
        // The loop that fell short is the one named (the scalar one may have scaled).
        let short = if scales(scalar) { lanes } else { scalar };
        format!(
            "Of these, {}. Less than the cores promise: other programs may be using them, or the work is too small to pay for starting the tasks. Re-run to compare: `{rerun}`.",
            short.describe()
        )
    };
    format!("{measured} {said}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scaling_sentence_follows_the_measurement() {
        let sentence = |threads, scalar, lanes, cores| {
            let on = |what, gain| Verdict::threads_on(what, gain, threads, cores);
            scaling_sentence(
                threads,
                &on("the scalar loop", scalar),
                &on("the lanes", lanes),
                "rerun",
            )
        };
        // Above two threads' 2.00x (2.19x was printed as scaling): news, with the re-run.
        let above = sentence(2, 2.19, 1.9, 2);
        assert!(above.contains("2.19x, above") && above.contains("`rerun`"), "{above}");
        assert!(!above.contains("Both scale"), "{above}");
        let both = sentence(2, 1.95, 1.9, 2);
        assert!(both.contains("scalar loop 1.95x, the lanes 1.90x") && both.contains("Both scale"));
        assert!(!both.contains("Re-run"));
        let lanes_behind = sentence(2, 1.9, 1.3, 2);
        assert!(lanes_behind.contains("the vector one less") && lanes_behind.contains("`rerun`"));
        let short = sentence(2, 1.62, 1.6, 2);
        assert!(short.contains("the scalar loop: 1.62x, below the 1.80x to 2.00x"), "{short}");
        assert!(!short.contains("Both scale"), "1.62x of 2 is not scaling");
        let lanes_short = sentence(2, 1.91, 1.68, 2);
        assert!(
            lanes_short.contains("the lanes: 1.68x, below the 1.80x to 2.00x"),
            "{lanes_short}"
        );
        assert!(!lanes_short.contains("the scalar loop: "), "it scaled: {lanes_short}");
        let neither = sentence(4, 1.2, 1.1, 4);
        assert!(neither.contains("Less than the cores promise") && neither.contains("`rerun`"));
        let one = sentence(4, 1.0, 0.98, 1);
        assert!(one.contains("expected of 4 threads on 1 core"), "{one}");
        assert!(!one.contains("Re-run"));
        let rayon_one = sentence(1, 0.99, 0.98, 2);
        assert!(
            rayon_one.contains("On 1 thread with rayon")
                && rayon_one.contains("1 thread on 2 cores")
        );
    }
}

//! `reactive replay` against RxPY 4 itself: seeded random scripts through random chains of one
//! to three operators, each run by the binary and by RxPY's TestScheduler
//! (`reactive/python/replay.py --batch`, reactivex from the package index in a reused
//! environment under the target directory). Times sit on a 10 ms grid and the operators' times
//! are multiples of 10, so events, completions and timers often fall due at the same instant:
//! the ties where the two could part.

// A failed step is a failing test: what it should be.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

const CASES: usize = 500;
const SEED: u64 = 0x5EED_2026;

#[test]
fn replay_equals_rxpys_test_scheduler_on_random_chains() {
    common::require_python3!();
    let Some(python) = common::python_environment("rxpy-test", &["reactivex>=4,<5"]) else {
        return;
    };
    let mut random = SEED;
    let cases: Vec<(Vec<String>, String)> =
        (0..CASES).map(|_| (random_chain(&mut random), random_script(&mut random))).collect();
    let mut batch = String::new();
    for (ops, script) in &cases {
        let _ = write!(batch, "ops: {}\n{script}\n==\n", ops.join(" "));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cases.txt");
    std::fs::write(&file, &batch).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reactive/python/replay.py");
    let rxpy = Command::new(&python).arg(script).arg("--batch").arg(&file).output().unwrap();
    common::succeeded("replay.py --batch", &rxpy);
    let theirs: Vec<&str> = std::str::from_utf8(&rxpy.stdout).unwrap().split("==\n").collect();
    assert_eq!(theirs.len(), CASES + 1, "one output a case");
    for (i, (ops, script)) in cases.iter().enumerate() {
        let ours = rust_replay(ops, script);
        assert_eq!(
            ours,
            theirs[i],
            "case {i}: `reactive replay --op {}` differs from RxPY on the script:\n{script}",
            ops.join(" --op ")
        );
    }
}

/// What `reactive replay` prints for `script` through `ops`.
fn rust_replay(ops: &[String], script: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(common::binary("reactive"))
        .arg("replay")
        .args(ops.iter().flat_map(|op| ["--op", op.as_str()]))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    common::succeeded(&format!("reactive replay {ops:?}"), &output);
    String::from_utf8(output.stdout).unwrap()
}

/// Up to six events on a 10 ms grid (ties allowed), values from three letters (so that
/// distinct_until_changed has repeats), and half the time a completion, often at the same
/// instant as the last event.
fn random_script(random: &mut u64) -> String {
    let mut script = String::new();
    let mut at = 0;
    for _ in 0..below(random, 9) {
        at += 10 * below(random, 4);
        let value = ["a", "b", "c"][usize::try_from(below(random, 3)).unwrap()];
        let _ = writeln!(script, "{at} {value}");
    }
    if below(random, 2) == 0 {
        let _ = writeln!(script, "{} |", at + 10 * below(random, 3));
    }
    script
}

/// One to three operators, timed ones with 10, 20 or 30 ms.
fn random_chain(random: &mut u64) -> Vec<String> {
    (0..=below(random, 3))
        .map(|_| {
            let ms = 10 * (1 + below(random, 3));
            let n = below(random, 3);
            match below(random, 9) {
                0 => format!("debounce:{ms}"),
                1 => format!("throttle_first:{ms}"),
                2 => format!("sample:{ms}"),
                3 => format!("buffer_with_time_or_count:{ms},{}", n + 1),
                4 => format!("buffer_with_count:{}", n + 1),
                5 => format!("delay:{ms}"),
                6 => "distinct_until_changed".to_owned(),
                7 => format!("take:{n}"),
                _ => format!("skip:{n}"),
            }
        })
        .collect()
}

/// A number in 0..n from SplitMix64: the same cases on every machine and every run.
fn below(state: &mut u64, n: u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) % n
}

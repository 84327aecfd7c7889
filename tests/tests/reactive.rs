//! `cargo run -p reactive`: notebook takeaway 6, RxPY's operators as Rust async streams.

use crate::common;
use common::{check_cli_conventions, run, run_with_stdin, small_run};

#[test]
fn every_operator_prints_its_marbles_in_virtual_time() {
    small_run("reactive").lines_in_order(&[
        "source                           0:1  30:2  60:2  200:3  230:4  260:4  500:5  600:|",
        "scan(running sum)                0:1  30:3  60:5  200:8  230:12  260:16  500:21  600:|",
        "distinct_until_changed           0:1  30:2  200:3  230:4  500:5  600:|",
        "debounce(100)                    160:2  360:4  600:5  600:|",
        "throttle_first(100)              0:1  200:3  500:5  600:|",
        "sample(100)                      100:2  200:3  300:4  500:5  600:|",
        "buffer_with_time_or_count(150,3) 60:[1,2,2]  210:[3]  360:[4,4]  510:[5]  600:[]  600:|",
        "delay(50)                        50:1  80:2  110:2  250:3  280:4  310:4  550:5  650:|",
        "merge(other)                     0:1  30:2  60:2  100:a  200:3  230:4  260:4  350:b  500:5  600:|",
        "flat_map_latest(search)          140:results(ru)  400:results(rust)  600:|",
    ]);
}

#[test]
fn backpressure_accounts_for_every_event_and_the_bounded_queue_stays_bounded() {
    let out = small_run("reactive");
    let bounded = out.line_starting("bounded channel, capacity 1024");
    let most: u64 = bounded
        .split("most queued")
        .nth(1)
        .and_then(|rest| rest.trim().split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap();
    out.check(most <= 1024, "the bounded channel never holds more than 1024");
    out.check(bounded.contains("delivered 1000000, dropped       0"), "bounded loses nothing");
    let unbounded = out.line_starting("unbounded channel (RxPY's queue)");
    out.check(unbounded.contains("delivered 1000000, dropped       0"), "unbounded loses nothing");
    let latest = out.line_starting("keep the latest (watch), lossy");
    let numbers: Vec<u64> =
        latest.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect();
    out.check(numbers[0] + numbers[1] == 1_000_000, "delivered + dropped = every event");
}

#[test]
fn throughput_is_verified_on_both_sides() {
    small_run("reactive").contains_in_order(&[
        "[4] Throughput: map(x*3) -> filter(even) -> scan(sum) over 1000 events",
        "Iterator (a plain loop, compiled)",
        "async Stream (futures)",
        // m = 500: 3 * 500 * 499.
        "verified: both end at the closed form 3m(m-1) = 748500, m = ceil(n/2)",
    ]);
}

#[test]
fn replay_chains_operators_and_stops_at_the_horizon_without_completion() {
    let script = "# a comment\n0 a\n\n1 a\n2 b\n30 b\n31 c\n60 |\n";
    let chain = [
        "replay",
        "--op",
        "distinct_until_changed",
        "--op",
        "debounce:5",
        "--op",
        "buffer_with_count:2",
    ];
    let out = run_with_stdin("reactive", &chain, script);
    out.success();
    out.check(out.stdout == "36 [b,c]\n60 |\n", "three operators in a row");
    // No `|`: sample ticks up to the last event + 10, inclusive, and never completes.
    let out = run_with_stdin("reactive", &["replay", "--op", "sample:10"], "5 a\n20 b\n");
    out.success();
    out.check(out.stdout == "10 a\n20 b\n", "ticks at 10, 20, 30 and no end");
}

#[test]
fn bad_replay_input_names_the_line_or_the_operator() {
    let op = ["replay", "--op", "debounce:5"];
    run_with_stdin("reactive", &op, "0 a\n3 b c\n")
        .usage_error("line 2: expected `<ms> <value>` or `<ms> |`");
    run_with_stdin("reactive", &op, "10 a\n5 b\n")
        .usage_error("line 2: time 5 goes back before 10");
    run_with_stdin("reactive", &op, "1 |\n2 a\n")
        .usage_error("line 2: an event after the stream completed on line 1");
    run_with_stdin("reactive", &op, "-1 a\n").usage_error("line 1: \"-1\" is not a time");
    run_with_stdin("reactive", &["replay", "--op", "bounce:5"], "")
        .usage_error("--op bounce:5: unknown operator");
    run_with_stdin("reactive", &["replay", "--op", "sample:0"], "").usage_error("--op sample:0");
    run_with_stdin("reactive", &["replay", "--op", "buffer_with_time_or_count:5"], "")
        .usage_error("takes two numbers");
    run_with_stdin("reactive", &["replay"], "").usage_error("--op");
    // Times past u64 or past the bound, in the script or an operator: refused, not wrapped.
    run_with_stdin("reactive", &["replay", "--op", "delay:10"], "0 1\n18446744073709551615 2\n")
        .usage_error("line 2: time 18446744073709551615 is past the latest allowed, 1e15 ms");
    run_with_stdin("reactive", &["replay", "--op", "delay:18446744073709551615"], "0 a\n")
        .usage_error("is more than 1e15 ms");
}

#[test]
fn replay_takes_numbers_as_python_writes_them() {
    let out = run_with_stdin("reactive", &["replay", "--op", "debounce:1e3"], "0 a\n5e3 b\n");
    out.success();
    out.check(out.stdout == "1000 a\n6000 b\n", "1e3 ms of quiet after each");
}

#[test]
fn replays_help_example_prints_what_it_says() {
    let help = run("reactive", &["replay", "--help"]);
    help.success();
    let example: Vec<&str> = help
        .stdout
        .lines()
        .skip_while(|l| l.trim() != "prints")
        .skip(1)
        .take(3)
        .map(str::trim)
        .collect();
    let out =
        run_with_stdin("reactive", &["replay", "--op", "debounce:50"], "0 a\n30 b\n200 c\n300 |\n");
    out.success();
    out.check(out.stdout.lines().collect::<Vec<_>>() == example, "the help's printed lines");
    help.check(help.stdout.contains("printf '0 a\\n30 b\\n200 c\\n300 |\\n'"), "its input");
}

#[test]
fn replay_vs_python_names_a_missing_reactivex() {
    common::require_python3!();
    // python3 without its site-packages (-S): a real Python 3 without reactivex.
    let bare = common::bare_python();
    let bare = bare.path.as_str();
    let out = run_with_stdin(
        "reactive",
        &["replay", "--op", "take:1", "--vs-python", "--python", bare],
        "5 x\n9 y\n",
    );
    out.check(out.code == Some(0), "exit status 0");
    out.check(out.stdout == "5 x\n5 |\n", "the Rust output still printed");
    out.check(out.stderr.contains(&format!("{bare} lacks reactivex>=4.0,<5")), "names the package");
}

#[test]
fn the_monitor_prints_plain_lines_off_a_terminal_and_stops_after_its_duration() {
    let out = run_with_stdin("reactive", &["monitor", "--duration", "1", "--rate", "200"], "");
    out.success();
    // However many cores this machine has: the count is the one the samples show.
    let header = out.line_starting("monitoring ");
    let cores: usize = header["monitoring ".len()..].split(' ').next().unwrap().parse().unwrap();
    out.check(
        header.ends_with("every 200 ms for 1 s; alert when the mean stays above 80% for 2 s"),
        "the header",
    );
    let samples = out.lines_starting("0.");
    out.check(
        !samples.is_empty()
            && samples
                .iter()
                .all(|l| l.contains("mean") && (0..cores).all(|c| l.contains(&format!("cpu{c}")))),
        "load lines",
    );
}

#[test]
fn monitor_commands_change_the_rate_and_quit() {
    let out = run_with_stdin(
        "reactive",
        &["monitor", "--rate", "100"],
        "rate 50\nrate 0\nfaster\nquit\n",
    );
    out.success();
    out.lines_in_order(&[
        "sampling every 50 ms",
        "rate \"0\": type a whole number of milliseconds from 10 to 60000, as in `rate 500`",
        "unknown command \"faster\": type `rate MS` or `quit`",
    ]);
}

#[test]
fn the_monitor_ends_at_its_duration_while_stdin_stays_open() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    // stdin is a pipe this test holds open and never writes to, as a terminal would be.
    let mut child = Command::new(common::binary("reactive"))
        .args(["monitor", "--duration", "1", "--rate", "200"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(20) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(status.is_some_and(|s| s.success()), "still running after 20 s: {status:?}");
}

#[test]
fn bad_arguments_follow_the_conventions() {
    check_cli_conventions("reactive");
    common::check_bad_values("reactive", "--size", &["0", "-1", "x"]);
    common::check_bad_values("reactive", "--runs", &["0"]);
    run("reactive", &["monitor", "--rate", "5"]).usage_error("--rate");
    run("reactive", &["monitor", "--threshold", "101"]).usage_error("--threshold");
    run("reactive", &["monitor", "--vs-python"]).usage_error("unexpected argument '--vs-python'");
    run("reactive", &["--vs-python", "monitor"]).usage_error("--vs-python: the lesson's option");
    run_with_stdin("reactive", &["replay", "--op", "take:1", "--runs", "3"], "")
        .usage_error("unexpected argument '--runs'");
}

#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    common::check_closed_pipe("reactive", &["--size", "1000", "--runs", "1"]);
    common::check_closed_pipe("reactive", &["monitor", "--duration", "1", "--rate", "100"]);
}

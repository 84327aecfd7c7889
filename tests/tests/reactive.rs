//! `cargo run -p reactive`: notebook takeaway 6, RxPY's operators as Rust async streams.

mod common;
use common::{check_cli_conventions, run, run_with_stdin};

fn lesson() -> common::Run {
    let out = run("reactive", &["--size", "1000", "--runs", "1"]);
    out.success();
    out
}

#[test]
fn every_operator_prints_its_marbles_in_virtual_time() {
    lesson().lines_in_order(&[
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
    let out = lesson();
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
    lesson().contains_in_order(&[
        "[4] Throughput: map(x*3) -> filter(even) -> scan(sum) over 1000 events",
        "Iterator (a plain loop, compiled)",
        "async Stream (futures)",
        // m = 500: 3 * 500 * 499.
        "verified: both end at the closed form 3m(m-1) = 748500, m = ceil(n/2)",
    ]);
}

/// RxPY's own test of buffer_with_time_or_count (test_buffer_with_time_or_count_basic),
/// subscribed at 0 instead of 200.
#[test]
fn replay_matches_rxpys_buffer_test() {
    let script = "5 1\n10 2\n40 3\n80 4\n120 5\n150 6\n170 7\n220 8\n270 9\n400 |\n";
    let out =
        run_with_stdin("reactive", &["replay", "--op", "buffer_with_time_or_count:70,3"], script);
    out.success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    out.check(
        lines
            == [
                "40 [1,2,3]",
                "110 [4]",
                "170 [5,6,7]",
                "240 [8]",
                "310 [9]",
                "380 []",
                "400 []",
                "400 |",
            ],
        "RxPY's expected messages",
    );
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
}

#[test]
fn replay_vs_python_names_a_missing_reactivex() {
    if !common::python3_present() {
        eprintln!("skipped: no python3");
        return;
    }
    // python3 without its site-packages (-S): a real Python 3 without reactivex.
    let bare = common::bare_python("reactive");
    let bare = bare.as_str();
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
    out.lines_in_order(&[
        "monitoring 2 cores every 200 ms for 1 s; alert when the mean stays above 80% for 2 s",
    ]);
    let samples = out.lines_starting("0.");
    out.check(
        !samples.is_empty() && samples.iter().all(|l| l.contains("cpu0") && l.contains("mean")),
        "load lines",
    );
}

#[test]
fn monitor_commands_change_the_rate_and_quit() {
    let out = run_with_stdin("reactive", &["monitor", "--rate", "100"], "rate 50\nfaster\nquit\n");
    out.success();
    out.lines_in_order(&[
        "sampling every 50 ms",
        "unknown command \"faster\": type `rate MS` or `quit`",
    ]);
}

#[test]
fn bad_arguments_follow_the_conventions() {
    check_cli_conventions("reactive");
    common::check_bad_values("reactive", "--size", &["0", "-1", "x"]);
    common::check_bad_values("reactive", "--runs", &["0"]);
    run("reactive", &["monitor", "--rate", "5"]).usage_error("--rate");
    run("reactive", &["monitor", "--threshold", "101"]).usage_error("--threshold");
}

#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    common::check_closed_pipe("reactive", &["--size", "1000", "--runs", "1"]);
    common::check_closed_pipe("reactive", &["monitor", "--duration", "1", "--rate", "100"]);
}

# Python twin of `cargo run -p reactive -- replay --op ... --vs-python`: the same script through
# the same operators in RxPY, on its TestScheduler (virtual time, one queue ordered by time,
# then by scheduling order). The script is scheduled before the chain is subscribed, so at any
# instant its events come before the operators' timers, as on the Rust side.
#
# Also runs alone (needs reactivex 4):
#   python reactive/python/replay.py --op debounce:50 < script.txt
#   python reactive/python/replay.py --batch cases.txt   (cases separated by `==` lines, each
#                                                          an `ops: ...` line, then its script)
import sys

USAGE = __doc__ = """replay.py: a timed script through RxPY 4 operators on its TestScheduler.

  replay.py --op NAME[:ARGS] [--op ...] < SCRIPT   prints what the chain emits, `ms value` lines
  replay.py --batch FILE                          many cases: `ops: NAME[:ARGS] ...`, then the
                                                  script, cases separated by `==`; prints each
                                                  case's output followed by `==`

A script is `<ms> <value>` lines and `<ms> |` to complete, as `reactive replay` reads it."""


def parse(text):
    """The script (already checked by the Rust side): events, and the completion time."""
    events, completes_at = [], None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        ms, value = line.split()
        if value == "|":
            completes_at = int(ms)
        else:
            events.append((int(ms), value))
    return events, completes_at


def operator(spec):
    from reactivex import operators as ops

    name, _, args = spec.partition(":")
    n = [int(a) for a in args.split(",")] if args else []
    return {
        "debounce": lambda: ops.debounce(n[0]),
        "throttle_first": lambda: ops.throttle_first(n[0]),
        "sample": lambda: ops.sample(n[0]),
        "buffer_with_time_or_count": lambda: ops.buffer_with_time_or_count(n[0], n[1]),
        "buffer_with_count": lambda: ops.buffer_with_count(n[0]),
        "delay": lambda: ops.delay(n[0]),
        "distinct_until_changed": lambda: ops.distinct_until_changed(),
        "take": lambda: ops.take(n[0]),
        "skip": lambda: ops.skip(n[0]),
    }[name]()


def show(value):
    if isinstance(value, list):
        return "[" + ",".join(show(v) for v in value) + "]"
    return str(value)


def replay(text, specs):
    """What the chain `specs` emits for the script `text`, as `ms value` lines."""
    from reactivex.subject import Subject
    from reactivex.testing import TestScheduler

    events, completes_at = parse(text)
    scheduler = TestScheduler()
    source = Subject()
    for ms, value in events:
        scheduler.schedule_absolute(ms, lambda _s, _st, v=value: source.on_next(v))
    if completes_at is not None:
        scheduler.schedule_absolute(completes_at, lambda _s, _st: source.on_completed())
    lines = []
    source.pipe(*[operator(s) for s in specs]).subscribe(
        on_next=lambda v: lines.append(f"{int(scheduler.clock)} {show(v)}"),
        on_completed=lambda: lines.append(f"{int(scheduler.clock)} |"),
        scheduler=scheduler,
    )
    end = completes_at if completes_at is not None else (events[-1][0] if events else 0)
    timed = ("debounce", "throttle_first", "sample", "delay", "buffer_with_time_or_count")
    ms_args = sum(int(s.partition(":")[2].split(",")[0]) for s in specs
                  if s.split(":")[0] in timed)
    run_until(scheduler, end + ms_args)
    return lines


def run_until(scheduler, horizon):
    """`advance_to(horizon)`, inclusive. advance_to does nothing when the clock is already
    there - a horizon of 0, where events at 0 are still due - so those run the same way, in
    the queue's order."""
    due = scheduler.to_datetime(horizon)
    if scheduler.now != due:
        scheduler.advance_to(horizon)
        return
    queue = scheduler._queue  # what advance_to's own loop takes from
    while queue and queue.peek().duetime <= due:
        item = queue.dequeue()
        if not item.is_cancelled():
            item.invoke()


def batch(path):
    with open(path) as f:
        cases = f.read().split("\n==\n")
    for case in cases:
        if not case.strip():
            continue
        first, _, script = case.partition("\n")
        specs = first.removeprefix("ops:").split()
        for line in replay(script, specs):
            print(line)
        print("==")


def standalone(argv):
    if not argv or "--help" in argv or "-h" in argv:
        print(USAGE)
        return 0 if argv else 2
    if argv[0] == "--batch" and len(argv) == 2:
        batch(argv[1])
        return 0
    specs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--op"]
    if not specs or len(specs) * 2 != len(argv):
        print("replay.py: give --op NAME[:ARGS] one or more times, or --batch FILE (see --help)",
              file=sys.stderr)
        return 2
    for line in replay(sys.stdin.read(), specs):
        print(line)
    return 0


def twin(path, specs):
    """Run by `reactive replay --vs-python` (`--twin FILE OP...`): each line as a note, which the
    Rust side compares with its own, line by line."""
    from hpc_rs_twin import note

    with open(path) as f:
        for line in replay(f.read(), specs):
            note(line)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--twin"] and len(sys.argv) >= 3:
        sys.exit(twin(sys.argv[2], sys.argv[3:]))
    sys.exit(standalone(sys.argv[1:]))

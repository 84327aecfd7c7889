# Python twin of `cargo run -p reactive -- replay --op ... --vs-python`: the same script through
# the same operators in RxPY, on its TestScheduler (virtual time, one queue ordered by time,
# then by scheduling order). The script is scheduled before the chain is subscribed, so at any
# instant its events come before the operators' timers, as on the Rust side.
import reactivex
from reactivex import operators as ops
from reactivex.subject import Subject
from reactivex.testing import TestScheduler

PATH, SPECS = sys.argv[3], sys.argv[4:]


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


with open(PATH) as f:
    events, completes_at = parse(f.read())
scheduler = TestScheduler()
source = Subject()
for ms, value in events:
    scheduler.schedule_absolute(ms, lambda _s, _st, v=value: source.on_next(v))
if completes_at is not None:
    scheduler.schedule_absolute(completes_at, lambda _s, _st: source.on_completed())
lines = []
source.pipe(*[operator(s) for s in SPECS]).subscribe(
    on_next=lambda v: lines.append(f"{int(scheduler.clock)} {show(v)}"),
    on_completed=lambda: lines.append(f"{int(scheduler.clock)} |"),
    scheduler=scheduler,
)
end = completes_at if completes_at is not None else (events[-1][0] if events else 0)
ms_args = sum(int(s.partition(":")[2].split(",")[0]) for s in SPECS
              if s.split(":")[0] in ("debounce", "throttle_first", "sample", "delay",
                                     "buffer_with_time_or_count"))
scheduler.advance_to(end + ms_args)
for line in lines:
    note(line)

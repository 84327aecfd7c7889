# Python twin of `cargo run -p reactive -- --vs-python`: the map -> filter -> scan chain over
# SIZE events in RxPY, from an iterable (rx.from_iterable; rx.range schedules every item and
# is far slower), and the same as a plain Python loop for scale.
from hpc_rs_twin import arguments, expect, measure

USAGE = """throughput.py [SIZE [RUNS [EXPECTED]]]: map(x*3) -> filter(even) -> scan(sum) over SIZE
events in RxPY 4 and as a plain loop, each timed RUNS times after a warm-up and checked against
EXPECTED (defaults 1000000, 5, and the closed form 3m(m-1), m = ceil(SIZE/2)). Needs reactivex."""
N, RUNS, EXPECTED = arguments(USAGE, "1000000", "5", "-")
N, RUNS = int(N), int(RUNS)
# Rust's closed form 3m(m-1), m = ceil(n/2), when not given.
EXPECTED = int(EXPECTED) if EXPECTED != "-" else 3 * ((N + 1) // 2) * ((N + 1) // 2 - 1)

import reactivex
from reactivex import operators as ops


def rxpy_chain():
    last = [None]
    reactivex.from_iterable(range(N)).pipe(
        ops.map(lambda x: x * 3),
        ops.filter(lambda x: x % 2 == 0),
        ops.scan(lambda total, x: total + x, 0),
    ).subscribe(on_next=lambda total: last.__setitem__(0, total))
    return last[0]


def plain_loop():
    total = 0
    for x in range(N):
        y = x * 3
        if y % 2 == 0:
            total += y
    return total


measure("RxPY from_iterable", RUNS, rxpy_chain, lambda r: expect(r, EXPECTED))
measure("plain Python loop", RUNS, plain_loop, lambda r: expect(r, EXPECTED))

# Python twin of `cargo run -p threading -- --vs-python`: the notebook's three sums, one after
# another and on three threads - which take turns where the GIL is on (every build before 3.13,
# and a free-threaded one that turned it back on) and can run at once on a free-threaded build
# without it (3.13t, 3.14t). gil_enabled() reads which: sys._is_gil_enabled() where present.
from hpc_rs_twin import arguments, expect, gil_enabled, measure

USAGE = """twin.py [SIZE [RUNS]]: the notebook's three sums over range(SIZE), one after another and
on three threads, each way timed RUNS times after a warm-up (defaults 1000000 and 5)."""
N, RUNS = map(int, arguments(USAGE, "1000000", "5"))

from threading import Thread


def simple_func(length):
    sum_f1 = 0
    for x in range(0, length):
        sum_f1 += x
    return sum_f1


def simple_sqrt(length):
    sum_f2 = 0
    for x in range(0, length):
        sum_f2 += x * x
    return sum_f2


def simple_cubic(length):
    sum_f3 = 0
    for x in range(0, length):
        sum_f3 += x * x * x
    return sum_f3


FUNCTIONS = [simple_func, simple_sqrt, simple_cubic]


def without_threading():
    return [f(N) for f in FUNCTIONS]


def do_threading():
    sums = [None] * 3

    def run(i, f):
        sums[i] = f(N)

    threads = [Thread(target=run, args=(i, f)) for i, f in enumerate(FUNCTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sums


linear = N * (N - 1) // 2
EXPECTED = [linear, (N - 1) * N * (2 * N - 1) // 6, linear * linear]
measure("sequential", RUNS, without_threading, lambda sums: expect(sums, EXPECTED))
label = "three threads under its GIL" if gil_enabled() else "three threads, no GIL"
measure(label, RUNS, do_threading, lambda sums: expect(sums, EXPECTED))

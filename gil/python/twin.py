# Python twin of `cargo run -p gil -- --vs-python`: the cube sum on one thread and split over
# THREADS threads - under CPython's real GIL, or at once on a free-threaded build.
from hpc_rs_twin import arguments, expect, gil_enabled, measure

USAGE = """twin.py [SIZE [RUNS [THREADS]]]: the cube sum of range(SIZE) on one thread and split
over THREADS threads under CPython's GIL, each timed RUNS times after a warm-up (defaults
5000000, 5, 2)."""
N, RUNS, THREADS = map(int, arguments(USAGE, "5000000", "5", "2"))

from threading import Thread


def cube_sum(start, end):
    total = 0
    for x in range(start, end):
        total += x * x * x
    return total


def sequential():
    return cube_sum(0, N)


def threaded():
    parts = [0] * THREADS

    def run(i):
        parts[i] = cube_sum(N * i // THREADS, N * (i + 1) // THREADS)

    threads = [Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(parts)


EXPECTED = (N * (N - 1) // 2) ** 2
measure("sequential", RUNS, sequential, lambda s: expect(s, EXPECTED))
label = "threads under its GIL" if gil_enabled() else "threads, no GIL (free-threaded)"
measure(label, RUNS, threaded, lambda s: expect(s, EXPECTED))

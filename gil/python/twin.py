# Python twin of `cargo run -p gil -- --vs-python`: the cube sum on one thread and split over
# THREADS threads - under CPython's GIL, which runs them one at a time, or at once on a
# free-threaded build with the GIL off (3.13t, 3.14t): which, this interpreter says.
from hpc_rs_twin import arguments, expect, gil_enabled, measure

# How the threads run, by this interpreter: gil_enabled() is sys._is_gil_enabled() where it
# exists (3.13+), and True before it (every build had the GIL).
HOW_THREADS_RUN = (
    "under this Python's GIL, which runs them one at a time"
    if gil_enabled()
    else "at once: this Python is free-threaded, with the GIL off"
)
USAGE = f"""twin.py [SIZE [RUNS [THREADS]]]: the cube sum of range(SIZE) on one thread and split
over THREADS threads, each way timed RUNS times after a warm-up (defaults 5000000, 5, 2).
The threads run {HOW_THREADS_RUN}."""
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
# The label names the build: `cargo run -p gil` sets this row beside its simulated GIL threads
# or its free threads by it, so no interpreter is started beforehand just to ask.
label = "threads under its GIL" if gil_enabled() else "threads, no GIL (free-threaded)"
measure(label, RUNS, threaded, lambda s: expect(s, EXPECTED))

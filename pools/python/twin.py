# Python twin of `cargo run -p pools -- --vs-python`: the cube sum of 0..SIZE as a map over
# TASKS chunks - a plain loop, ThreadPoolExecutor (one thread runs Python at a time: the GIL),
# ProcessPoolExecutor and multiprocessing.Pool (processes, each with its own GIL). Each pooled
# call starts its pool and pickles the chunks and the results, as a script would.
import os

from hpc_rs_twin import arguments, die_with_parent, expect, measure

USAGE = """twin.py [SIZE [RUNS [THREADS [TASKS]]]]: the cube sum of range(SIZE) as a map over TASKS chunks:
a plain loop, ThreadPoolExecutor, ProcessPoolExecutor and multiprocessing.Pool with THREADS
workers, each timed RUNS times after a warm-up (defaults 4000000, 5, the cores, 16)."""
N, RUNS, THREADS, TASKS = map(int, arguments(USAGE, "4000000", "5", str(os.cpu_count() or 1), "16"))
CHUNKS = [(N * i // TASKS, N * (i + 1) // TASKS) for i in range(TASKS)]

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor


def cube_sum(chunk):
    start, end = chunk
    total = 0
    for x in range(start, end):
        total += x * x * x
    return total


def sequential():
    return sum(map(cube_sum, CHUNKS))


def thread_pool():
    with ThreadPoolExecutor(THREADS) as executor:
        return sum(executor.map(cube_sum, CHUNKS))


def process_pool():
    with ProcessPoolExecutor(THREADS, initializer=die_with_parent) as executor:
        return sum(executor.map(cube_sum, CHUNKS))


def pool_map():
    with multiprocessing.Pool(THREADS, initializer=die_with_parent) as pool:
        return sum(pool.map(cube_sum, CHUNKS))


if __name__ == "__main__":  # a pool's children must not run this again
    EXPECTED = (N * (N - 1) // 2) ** 2
    check = lambda total: expect(total, EXPECTED)
    measure("plain map", RUNS, sequential, check)
    measure("ThreadPoolExecutor.map", RUNS, thread_pool, check)
    measure("ProcessPoolExecutor.map", RUNS, process_pool, check)
    measure("multiprocessing.Pool.map", RUNS, pool_map, check)

    def start_process_pool():
        with ProcessPoolExecutor(THREADS, initializer=die_with_parent) as executor:
            return list(executor.map(abs, range(THREADS)))  # one tiny task a process

    measure("ProcessPoolExecutor start", RUNS, start_process_pool,
            lambda r: expect(r, list(range(THREADS))))

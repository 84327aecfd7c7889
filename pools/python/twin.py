# Python twin of `cargo run -p pools -- --vs-python`: the cube sum of 0..SIZE as a map over
# TASKS chunks - a plain loop, ThreadPoolExecutor (with the GIL one thread runs Python at a
# time), InterpreterPoolExecutor where this Python has it (3.14+: threads, each in an
# interpreter with its own GIL), ProcessPoolExecutor and multiprocessing.Pool (processes, each
# with its own interpreter). Each pooled call starts its pool and sends the chunks and the
# results, as a script would. Under the spawn and forkserver start methods, and in each
# subinterpreter, this module is imported again: everything but the functions stays under the
# __main__ guard.
import concurrent.futures
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from hpc_rs_twin import START_METHOD, arguments, die_with_parent, expect, measure, note

USAGE = """twin.py [SIZE [RUNS [THREADS [TASKS]]]]: the cube sum of range(SIZE) as a map over TASKS
chunks: a plain loop, ThreadPoolExecutor, InterpreterPoolExecutor (3.14+), ProcessPoolExecutor and
multiprocessing.Pool with THREADS workers, each timed RUNS times after a warm-up (defaults 4000000,
5, the cores, 16)."""


def cube_sum(chunk):
    start, end = chunk
    total = 0
    for x in range(start, end):
        total += x * x * x
    return total


def sequential(chunks):
    return sum(map(cube_sum, chunks))


def with_pool(make_pool, chunks):
    """The map on a pool that `make_pool` starts, as a script would: started, used, shut down."""
    with make_pool() as pool:
        return sum(pool.map(cube_sum, chunks))


def main():
    size, runs, threads, tasks = map(
        int, arguments(USAGE, "4000000", "5", str(os.cpu_count() or 1), "16"))
    chunks = [(size * i // tasks, size * (i + 1) // tasks) for i in range(tasks)]
    expected = (size * (size - 1) // 2) ** 2
    check = lambda total: expect(total, expected)
    measure("plain map", runs, lambda: sequential(chunks), check)
    measure("ThreadPoolExecutor.map", runs,
            lambda: with_pool(lambda: ThreadPoolExecutor(threads), chunks), check)
    interpreters = getattr(concurrent.futures, "InterpreterPoolExecutor", None)
    if interpreters is None:
        note("(InterpreterPoolExecutor: not in this Python; 3.14 added it - threads, each running "
             "its own interpreter with its own GIL - and `cargo run -p pools -- --vs-python` times "
             "it there)")
    else:
        measure("InterpreterPoolExecutor.map", runs,
                lambda: with_pool(lambda: interpreters(threads), chunks), check)
    processes = lambda: ProcessPoolExecutor(threads, initializer=die_with_parent)
    measure(f"ProcessPoolExecutor.map ({START_METHOD})", runs,
            lambda: with_pool(processes, chunks), check)
    pool = lambda: multiprocessing.Pool(threads, initializer=die_with_parent)
    measure(f"multiprocessing.Pool.map ({START_METHOD})", runs,
            lambda: with_pool(pool, chunks), check)

    def start_process_pool():
        with ProcessPoolExecutor(threads, initializer=die_with_parent) as executor:
            return list(executor.map(abs, range(threads)))  # one tiny task a process

    measure(f"ProcessPoolExecutor start ({START_METHOD})", runs, start_process_pool,
            lambda r: expect(r, list(range(threads))))


if __name__ == "__main__":
    main()

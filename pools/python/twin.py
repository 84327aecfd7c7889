# Python twin of `cargo run -p pools -- --vs-python`: the cube sum of 0..SIZE as a map over
# TASKS chunks - a plain loop, ThreadPoolExecutor (one thread runs Python at a time: the GIL),
# ProcessPoolExecutor and multiprocessing.Pool (processes, each with its own GIL). Each pooled
# call starts its pool and pickles the chunks and the results, as a script would.
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

N, THREADS, TASKS = SIZE, int(sys.argv[3]), int(sys.argv[4])
CHUNKS = [(N * i // TASKS, N * (i + 1) // TASKS) for i in range(TASKS)]


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

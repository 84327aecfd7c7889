# Python twin of `cargo run -p multiprocessing -- --vs-python`: the notebook's three sums in
# three processes (fork, as on Linux by default) against plain calls, at two lengths.
from hpc_rs_twin import arguments, die_with_parent, expect, measure

USAGE = """twin.py [TINY [RUNS [REAL]]]: the notebook's three sums in three processes against plain calls,
at length TINY and at length REAL, each timed RUNS times after a warm-up (defaults 5, 5,
2000000)."""
TINY, RUNS, REAL = map(int, arguments(USAGE, "5", "5", "2000000"))

import multiprocessing

fork = multiprocessing.get_context("fork")


def power_sum(length, power, sender=None):
    if sender is not None:  # in a child process
        die_with_parent()
    total = 0
    for x in range(0, length):
        total += x**power
    if sender is not None:
        sender.send(total)
    return total


def sequential(length):
    return lambda: [power_sum(length, p) for p in (1, 2, 3)]


def processes(length):
    def run():
        pipes = [fork.Pipe(duplex=False) for _ in range(3)]
        children = [
            fork.Process(target=power_sum, args=(length, p, sender))
            for p, (_, sender) in zip((1, 2, 3), pipes)
        ]
        for child in children:
            child.start()
        sums = [receiver.recv() for receiver, _ in pipes]
        for child in children:
            child.join()
        return sums

    return run


def expected(n):
    linear = n * (n - 1) // 2
    return [linear, (n - 1) * n * (2 * n - 1) // 6, linear * linear]


want = expected(TINY)
measure("sequential", RUNS, sequential(TINY), lambda s: expect(s, want))
measure("three processes", RUNS, processes(TINY), lambda s: expect(s, want))
want = expected(REAL)  # processes first, as on the Rust side: children start without delay
measure("three processes", RUNS, processes(REAL), lambda s: expect(s, want))
measure("sequential", RUNS, sequential(REAL), lambda s: expect(s, want))

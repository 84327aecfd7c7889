# Python twin of `cargo run -p multiprocessing -- --vs-python`: the notebook's three sums in
# three processes against plain calls - at the notebook's length under each of the three start
# methods (fork, forkserver, spawn), and at a real length under the default one (fork on Linux
# up to 3.13, forkserver from 3.14; HPC_RS_START_METHOD picks another).
import multiprocessing
import warnings

from hpc_rs_twin import START_METHOD, arguments, die_with_parent, expect, measure, note

USAGE = """twin.py [TINY [RUNS [REAL]]]: the notebook's three sums in three processes against plain
calls, at length TINY under each start method (fork, forkserver, spawn) and at length REAL under the
default one, each timed RUNS times after a warm-up (defaults 5, 5, 2000000)."""


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


def processes(length, method):
    """The three sums in three processes started by `method`, their results through pipes.
    (Under spawn and forkserver, power_sum and its arguments reach the child pickled: it must
    be importable from this module, which the child imports again.)"""
    context = multiprocessing.get_context(method)

    def run():
        pipes = [context.Pipe(duplex=False) for _ in range(3)]
        children = [
            context.Process(target=power_sum, args=(length, p, sender))
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


def fork_warning():
    """What forking says here: 3.12 and later warn when the process runs other threads (the
    twin's watcher thread is one, when the Rust binary runs it)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        child = multiprocessing.get_context("fork").Process(target=abs, args=(0,))
        child.start()
        child.join()
    said = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    if said:
        note(f"(fork warned here, in a process that runs other threads: {said[0]})")


if __name__ == "__main__":  # spawn and forkserver import this module again in each child
    TINY, RUNS, REAL = map(int, arguments(USAGE, "5", "5", "2000000"))
    want = expected(TINY)
    measure("sequential", RUNS, sequential(TINY), lambda s: expect(s, want))
    for method in ("fork", "forkserver", "spawn"):
        measure(f"three processes ({method})", RUNS, processes(TINY, method),
                lambda s: expect(s, want))
    want = expected(REAL)  # processes first, as on the Rust side: children start without delay
    measure(f"three processes ({START_METHOD})", RUNS, processes(REAL, START_METHOD),
            lambda s: expect(s, want))
    measure("sequential", RUNS, sequential(REAL), lambda s: expect(s, want))
    fork_warning()

# Python twin of `cargo run -p comprehensions -- --vs-python`: the notebook's two cells.
from hpc_rs_twin import arguments, expect, measure

USAGE = """twin.py [SIZE [RUNS]]: the notebook's squares of 0..SIZE, as an append loop and as a list
comprehension, each timed RUNS times after a warm-up (defaults 9000000 and 5)."""
N, RUNS = map(int, arguments(USAGE, "9000000", "5"))

def append_loop():
    new_list = []
    for x in range(0, N):
        new_list.append(x**2)
    return new_list


def comprehension():
    return [elem**2 for elem in range(0, N)]


def check(squares):
    expect((len(squares), squares[-1]), (N, (N - 1) ** 2))
    expect(sum(squares), (N - 1) * N * (2 * N - 1) // 6)


measure("append loop", RUNS, append_loop, check)
measure("list comprehension", RUNS, comprehension, check)

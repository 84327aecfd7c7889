# Python twin of `cargo run -p decorators -- --vs-python`: create_big_list and
# create_big_list_faster from the notebook (undecorated: measure does the timing).
from hpc_rs_twin import arguments, expect, measure

USAGE = """twin.py [SIZE [RUNS]]: create_big_list and create_big_list_faster over 0..SIZE, each
timed RUNS times after a warm-up (defaults 10000000 and 5)."""
N, RUNS = map(int, arguments(USAGE, "10000000", "5"))

def create_big_list():
    new_list = []
    for x in range(0, N):
        new_list.append(x)
    return new_list


def create_big_list_faster():
    return [x for x in range(0, N)]


def check(numbers):
    expect((len(numbers), numbers[-1]), (N, N - 1))


measure("append loop", RUNS, create_big_list, check)
measure("list comprehension", RUNS, create_big_list_faster, check)

# Prelude of every Python twin (see timing/src/python.rs): one way to time a workload, the
# same as the Rust side's `timing::measure` - a warm-up call, then timed calls, median.
import sys
import time


def measure(label, runs, fn, check):
    check(fn())  # warm-up, and the result is checked as in Rust
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
        check(result)
        del result  # free it before the next run, as Rust drops it
    samples.sort()
    n = len(samples)
    median = samples[n // 2] if n % 2 else (samples[n // 2 - 1] + samples[n // 2]) / 2
    print(f"{label}\t{median}\t{samples[0]}\t{samples[-1]}\t{n}", flush=True)


def expect(actual, wanted):
    if actual != wanted:
        raise AssertionError(f"{actual!r} != {wanted!r}")


SIZE, RUNS = int(sys.argv[1]), int(sys.argv[2])

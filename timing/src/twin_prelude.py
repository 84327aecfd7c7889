# Prelude of every Python twin (see timing/src/python.rs): one way to time a workload, the
# same as the Rust side's `timing::measure` - a warm-up call, then timed calls, median.
import os
import sys
import threading
import time


def _exit_when_parent_goes():
    # stdin is a pipe the Rust binary holds open and never writes: end of file means it is
    # gone (finished, killed, Ctrl-C), so the twin ends too instead of running on, orphaned.
    # (os.read on the raw descriptor: a daemon thread inside the buffered sys.stdin would
    # abort the interpreter at its normal exit.)
    while os.read(0, 4096):
        pass
    os._exit(1)


# Only under the Rust binary: a twin run alone keeps its stdin (a terminal, say) to itself.
if os.environ.get("HPC_RS_TWIN") == "1":
    threading.Thread(target=_exit_when_parent_goes, daemon=True).start()


def arguments(usage, *defaults):
    """The twin's arguments as strings: those the Rust binary passed, or - run alone - those on
    the command line, with `defaults` for the rest; `--help` prints `usage` and exits."""
    given = sys.argv[1:]
    if "--help" in given or "-h" in given:
        print(usage.strip())
        sys.exit(0)
    if len(given) < len(defaults) and any(d is None for d in defaults[len(given):]):
        print(f"{sys.argv[0]}: needs more arguments (see --help)", file=sys.stderr)
        sys.exit(2)
    return given + list(defaults[len(given):])


def die_with_parent():
    """Call first thing in a child process the twin starts (a multiprocessing target or a pool's
    initializer): the child is killed when the twin ends, as the Rust children are (Linux's
    PR_SET_PDEATHSIG); elsewhere a Ctrl-C still reaches the whole process group."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def measure(label, runs, fn, check):
    check(fn())  # warm-up, and the result is checked as in Rust
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
        check(result)
        # Free it before the next run; Rust's `measure` instead keeps the previous value until
        # the next run has returned, and drops it outside the timed region.
        del result
    return report(label, samples)


def report(label, samples):
    """The one line a measurement is reported in: label, median, min, max, runs (seconds)."""
    samples = sorted(samples)
    n = len(samples)
    median = samples[n // 2] if n % 2 else (samples[n // 2 - 1] + samples[n // 2]) / 2
    print(f"{label}\t{median}\t{samples[0]}\t{samples[-1]}\t{n}", flush=True)
    return median


def note(text):
    """A line the Rust side prints under the comparison (a compile time, a skipped variant)."""
    print(f"note\t{text}", flush=True)


def optional(module, how):
    """`module` imported, or - where this Python lacks it - None, with a note saying `how` to
    get it (the rows that need it are left out, the others run)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        note(f"({module} is not installed in this Python: {how})")
        return None


def expect(actual, wanted):
    if actual != wanted:
        raise AssertionError(f"{actual!r} != {wanted!r}")


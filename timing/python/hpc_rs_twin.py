"""What every Python twin of hpc-rs imports (see timing/src/python.rs): one way to time a
workload, the same as the Rust side's `timing::measure` - a warm-up call, then timed calls,
median - and one line per measurement for the Rust side to read.

Also: the twin ends when the Rust binary that started it does (`HPC_RS_TWIN=1`), the processes
it starts end with it (`die_with_parent`), and `HPC_RS_START_METHOD` (fork, forkserver or spawn)
picks how `multiprocessing` starts them: 3.14 made forkserver Linux's default, macOS and Windows
use spawn.
"""

import multiprocessing
import os
import sys
import sysconfig
import threading
import time

__all__ = [
    "START_METHOD",
    "arguments",
    "die_with_parent",
    "expect",
    "gil_enabled",
    "interpreter",
    "measure",
    "note",
    "optional",
    "peak_memory",
    "report",
]


def _exit_when_parent_goes():
    # stdin is a pipe the Rust binary holds open and never writes: end of file means it is
    # gone (finished, killed, Ctrl-C), so the twin ends too instead of running on, orphaned.
    # (os.read on the raw descriptor: a daemon thread inside the buffered sys.stdin would
    # abort the interpreter at its normal exit.)
    while os.read(0, 4096):
        pass
    os._exit(1)


# Only in the twin the Rust binary started: a twin run alone keeps its stdin (a terminal, say)
# to itself. The variable is removed at once, so that processes the twin starts with spawn or
# forkserver - which import this module again - start no watcher of their own.
if os.environ.pop("HPC_RS_TWIN", None) == "1":
    threading.Thread(target=_exit_when_parent_goes, daemon=True).start()

# How multiprocessing starts processes here: fork, forkserver or spawn, as asked, or the
# platform's default (fork on Linux up to 3.13, forkserver from 3.14; spawn on macOS, Windows).
if os.environ.get("HPC_RS_START_METHOD") and multiprocessing.parent_process() is None:
    multiprocessing.set_start_method(os.environ["HPC_RS_START_METHOD"], force=True)
START_METHOD = multiprocessing.get_start_method()


def gil_enabled():
    """Whether this interpreter runs with a GIL now (always before 3.13; on a free-threaded
    build only with PYTHON_GIL=1, or once an extension module that needs it is imported)."""
    return sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True


_GIL_AT_START = gil_enabled()
_gil_change_said = False


def interpreter():
    """`CPython 3.11.7, with the GIL` or `CPython 3.14.0, free-threaded (no GIL)`: as the Rust
    side names the interpreter."""
    implementation = sys.implementation.name
    name = {"cpython": "CPython", "pypy": "PyPy"}.get(implementation, implementation)
    version = ".".join(map(str, sys.version_info[:3]))
    if not sysconfig.get_config_var("Py_GIL_DISABLED"):
        return f"{name} {version}, with the GIL"
    if gil_enabled():
        return f"{name} {version}, a free-threaded build with its GIL turned on"
    return f"{name} {version}, free-threaded (no GIL)"


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
    initializer): the child is killed when its parent ends, as the Rust children are (Linux's
    PR_SET_PDEATHSIG). Under forkserver the parent is the fork server, which ends with the twin.
    Elsewhere a Ctrl-C still reaches the whole process group."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def measure(label, runs, fn, check, peak=None):
    """Times `fn`: a warm-up call, then `runs` timed calls, each result passed to `check`
    outside the timed region. With `peak` - the bytes the process held for the work before it
    began (the interpreter and the library: `resident_memory()` taken then) - the label ends
    with that plus the most a timed call raised the process's memory, ` [346 MB]`: the call's
    own peak, not what checking its result took (Linux: the high-water mark is reset before
    each call)."""
    check(fn())  # warm-up, and the result is checked as in Rust
    samples, grew = [], 0
    for _ in range(runs):
        if peak is not None:
            before = resident_memory()
            _reset_peak_memory()
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
        if peak is not None:
            grew = max(grew, peak_memory() - before)
        check(result)
        # Free it before the next run, as Rust's db-benchmark does.
        del result
    if peak is not None:
        label += f" [{(peak + grew) / 1e6:.0f} MB]"
    return report(label, samples)


def _reset_peak_memory():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM, the peak resident memory
    except OSError:
        pass


def _status_bytes(field):
    """A size in /proc/self/status (`VmRSS`, `VmHWM`) in bytes; None where it is not there."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def resident_memory():
    """This process's resident memory now, in bytes (0 where /proc is not there)."""
    return _status_bytes("VmRSS") or 0


def peak_memory():
    """This process's peak resident memory in bytes (since the last reset, on Linux)."""
    peak = _status_bytes("VmHWM")
    if peak is not None:
        return peak
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def report(label, samples):
    """The one line a measurement is reported in: label, median, min, max, runs (seconds)."""
    samples = sorted(samples)
    n = len(samples)
    median = samples[n // 2] if n % 2 else (samples[n // 2 - 1] + samples[n // 2]) / 2
    print(f"{label}\t{median}\t{samples[0]}\t{samples[-1]}\t{n}", flush=True)
    global _gil_change_said
    if gil_enabled() != _GIL_AT_START and not _gil_change_said:
        _gil_change_said = True
        note(f"(the GIL was turned {'on' if gil_enabled() else 'off'} while the twin ran: "
             f"an extension module that needs it, on a free-threaded build; now {interpreter()})")
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

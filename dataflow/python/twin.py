# Python twin of `dataflow --vs-python` (the default run, `groupby`, `db-benchmark`): the same
# group-by questions on the same files in pandas (everything read into memory), Dask (its
# threads scheduler, or a LocalCluster of 2 worker processes), and the two engines a Python
# user picks today for a gigabyte of CSV: Polars (its streaming engine, Rust under Python)
# and DuckDB. Each engine runs in a fresh Python process of its own (engines.py), so that its
# peak memory is its own; each answer is checked against Rust's. An engine that prints nothing
# for longer than its time limit is stopped and said to have failed: a Dask cluster can wait
# forever (below), and the run goes on without it.
import glob
import os
import selectors
import subprocess
import sys
import tempfile
import time

from hpc_rs_twin import arguments, die_with_parent, note

USAGE = """twin.py THREADS RUNS SEP ANSWERS ENGINES QUESTIONS MEMORY FILE...: each of the
comma-separated ENGINES (pandas, dask-threads, dask-cluster, polars, polars-1, duckdb,
duckdb-1, module, module-any: the module with sort=False) on each of the group-by QUESTIONS
(`name|key,key|spec+spec|contract,contract;...`, a spec `size` or `column:func`, a contract
`memory` or `csv`: the answer in memory, or written to a CSV file) over the CSV FILEs (fields
separated by SEP), timed RUNS times after a warm-up on THREADS threads (one for the -1 forms),
each answer checked against ANSWERS/i.csv, Rust's answer to question i; each engine in a fresh
process for each contract. MEMORY: bytes that DuckDB and a Dask LocalCluster may use, or
`none`. Needs pandas, dask, distributed, polars and duckdb (those an engine needs; module needs
hpc_rs_dataflow, `pip install ./dataflow/extension`; Polars for the checks). An engine that
prints nothing for its time limit is stopped: (RUNS + 2) times a call's allowance, a minute
or a second a megabyte of the FILEs, the longer; HPC_RS_TWIN_TIME_LIMIT sets it in seconds, for
every engine (`600`) or for one (`dask-cluster=600`), comma-separated."""
ENGINES_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "engines.py")


def contracts_of(question):
    """A question's contracts (`name|keys|specs|memory,csv`), `memory` where it names none."""
    fields = question.split("|")
    return fields[3].split(",") if len(fields) > 3 else ["memory"]


def in_contract(questions, contract):
    """QUESTIONS with each question asked in `contract` alone, or in none (an empty field) where
    it is not asked in it: every question keeps its place, and so its answer ANSWERS/i.csv."""
    kept = []
    for question in questions.split(";"):
        fields = question.split("|")[:3]
        kept.append("|".join(fields + [contract if contract in contracts_of(question) else ""]))
    return ";".join(kept)


# The variable that sets the engines' time limits (see USAGE).
LIMIT_VARIABLE = "HPC_RS_TWIN_TIME_LIMIT"


def default_limit(patterns, runs):
    """How long an engine may go without printing a line, as this run's size asks: a row takes
    a warm-up call and RUNS timed calls, and the engine's start and the check take about one
    more; each call is allowed a minute, or a second a megabyte of the files, the longer - many
    times what the slowest engine took on this project's machine (Dask's cluster, q6 of
    db-benchmark on 200,000 rows, 10 MB: 1.3 s a call). A Dask LocalCluster whose workers paused at
    their memory limit, or were restarted past it until the scheduler lost track of a task,
    waits without end and without a word (distributed 2026.8, 200,000 rows: seen here at 250 MB
    a worker with pausing on, and in a script of Dask alone at 150 MB with it off): this is what
    ends it."""
    files = {f for p in patterns for f in glob.glob(p)}
    allowance = max(60.0, sum(os.path.getsize(f) for f in files) / 1e6)
    return allowance * (int(runs) + 2), f"{int(runs) + 2} calls' allowance of {allowance:.0f} s"


def time_limits(setting, default):
    """engine -> (its time limit in seconds, where it comes from): `default`, or what the
    setting (LIMIT_VARIABLE's value) gives every engine (`600`) or one (`dask-cluster=600`)."""
    every, one = default, {}
    for entry in filter(None, (e.strip() for e in setting.split(","))):
        engine, _, seconds = entry.rpartition("=")
        try:
            limit = (float(seconds), LIMIT_VARIABLE)
        except ValueError:
            raise SystemExit(f"twin.py: {LIMIT_VARIABLE}: {entry!r} is neither SECONDS nor "
                             "ENGINE=SECONDS") from None
        if engine:
            one[engine] = limit
        else:
            every = limit
    return lambda engine: one.get(engine, every)


def copy_lines(stream, limit):
    """Copies `stream`'s lines to our stdout, each as it comes, until its end (True) or until
    `limit` seconds have passed without a line (False)."""
    fd, pending = stream.fileno(), b""
    deadline = time.monotonic() + limit
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                return False
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            if lines:
                sys.stdout.write(b"".join(line + b"\n" for line in lines).decode(errors="replace"))
                sys.stdout.flush()
                deadline = time.monotonic() + limit
    if pending:
        sys.stdout.write(pending.decode(errors="replace") + "\n")
        sys.stdout.flush()
    return True


def run_engine(command, limit):
    """Runs an engine's process, its lines passed on to our stdout as each comes; where it has
    printed nothing for `limit` seconds it is killed - and the processes of a Dask cluster with
    it, which end when the pipe their parent holds open closes (distributed/process.py,
    `_immediate_exit_when_closed`, 2026.8). It stays in our process group, so that a Ctrl-C
    still reaches it where Linux's PR_SET_PDEATHSIG is missing. (Its exit status, None where it
    was stopped; the last line of its stderr.)"""
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=errors, preexec_fn=die_with_parent)
        with child.stdout:
            finished = copy_lines(child.stdout, limit)
        if not finished:
            child.kill()
        code = child.wait()
        errors.seek(0)
        last = (errors.read().decode(errors="replace").strip().splitlines() or [""])[-1]
    return (code if finished else None), last


def main():
    threads, runs, sep, answers, engines, questions, memory, *patterns = arguments(
        USAGE, None, None, None, None, None, None, None, None)
    contracts = list(dict.fromkeys(c for q in questions.split(";") for c in contracts_of(q)))
    limits = time_limits(os.environ.get(LIMIT_VARIABLE, ""), default_limit(patterns, runs))
    # An engine's contracts each in a process of their own: a peak is then the contract's, not
    # what the one before left in the allocator (a freed frame is seldom given back to the
    # system).
    for engine in engines.split(","):
        for contract in contracts:
            what = engine if contract == "memory" else f"{engine}, to CSV"
            limit, source = limits(engine)
            code, last = run_engine(
                [sys.executable, ENGINES_SCRIPT, engine, threads, runs, sep, answers,
                 in_contract(questions, contract), memory, *patterns], limit)
            if code is None:
                said = f"; its last message: {' '.join(last.split())[:300]}" if last else ""
                note(f"({what}: stopped, and its remaining rows left out: it printed nothing "
                     f"for {limit:g} s, its time limit ({source}){said})")
            elif code != 0 and "AssertionError" in last:
                raise RuntimeError(f"{what}: {last}")  # a wrong answer
            elif code != 0:
                # Killed (the kernel's out-of-memory killer sends SIGKILL), or failed on its own.
                how = f"killed by signal {-code}" if code < 0 else last
                note(f"({what}: ended without its remaining rows: {how})")


# Imported too, by the tests of its time limits.
if __name__ == "__main__":
    main()

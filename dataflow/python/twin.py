# Python twin of `dataflow --vs-python` (the default run, `groupby`, `db-benchmark`): the same
# group-by questions on the same files in pandas (everything read into memory), Dask (its
# threads scheduler, or a LocalCluster of 2 worker processes), and the two engines a Python
# user picks today for a gigabyte of CSV: Polars (its streaming engine, Rust under Python)
# and DuckDB. Each engine runs in a fresh Python process of its own (engines.py), so that its
# peak memory is its own; each answer is checked against Rust's.
import os
import subprocess
import sys

from hpc_rs_twin import arguments, die_with_parent, note

USAGE = """twin.py THREADS RUNS SEP ANSWERS ENGINES QUESTIONS MEMORY FILE...: each of the
comma-separated ENGINES (pandas, dask-threads, dask-cluster, polars, polars-1, duckdb,
duckdb-1) on each of the group-by QUESTIONS (`name|key,key|spec+spec|contract,contract;...`,
a spec `size` or `column:func`, a contract `memory` or `csv`: the answer in memory, or
written to a CSV file) over the CSV FILEs (fields separated by SEP), timed RUNS times after a
warm-up on THREADS threads (one for the -1 forms), each answer checked against ANSWERS/i.csv,
Rust's answer to question i. MEMORY: bytes that DuckDB and a Dask LocalCluster may use, or
`none`. Needs pandas, dask, distributed, polars and duckdb (those an engine needs; Polars for
the checks)."""
THREADS, RUNS, SEP, ANSWERS, ENGINES, QUESTIONS, MEMORY, *PATTERNS = arguments(
    USAGE, None, None, None, None, None, None, None, None)

ENGINES_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "engines.py")
for engine in ENGINES.split(","):
    # The engine's lines go straight to our stdout, each as soon as it is measured.
    child = subprocess.run(
        [sys.executable, ENGINES_SCRIPT, engine, THREADS, RUNS, SEP, ANSWERS, QUESTIONS, MEMORY,
         *PATTERNS],
        stdout=sys.stdout, stderr=subprocess.PIPE, text=True, preexec_fn=die_with_parent)
    last = (child.stderr.strip().splitlines() or [""])[-1]
    if child.returncode != 0 and "AssertionError" in last:
        raise RuntimeError(f"{engine}: {last}")  # a wrong answer
    if child.returncode != 0:
        # Killed (the kernel's out-of-memory killer sends SIGKILL), or failed on its own.
        how = f"killed by signal {-child.returncode}" if child.returncode < 0 else last
        note(f"({engine}: ended without its remaining rows: {how})")

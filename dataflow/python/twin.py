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
duckdb-1, module) on each of the group-by QUESTIONS
(`name|key,key|spec+spec|contract,contract;...`, a spec `size` or `column:func`, a contract
`memory` or `csv`: the answer in memory, or written to a CSV file) over the CSV FILEs (fields
separated by SEP), timed RUNS times after a warm-up on THREADS threads (one for the -1 forms),
each answer checked against ANSWERS/i.csv, Rust's answer to question i; each engine in a fresh
process for each contract. MEMORY: bytes that DuckDB and a Dask LocalCluster may use, or
`none`. Needs pandas, dask, distributed, polars and duckdb (those an engine needs; module needs
hpc_rs_dataflow, `pip install ./dataflow/extension`; Polars for the checks)."""
THREADS, RUNS, SEP, ANSWERS, ENGINES, QUESTIONS, MEMORY, *PATTERNS = arguments(
    USAGE, None, None, None, None, None, None, None, None)

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


CONTRACTS = list(dict.fromkeys(c for q in QUESTIONS.split(";") for c in contracts_of(q)))
# An engine's contracts each in a process of their own: a peak is then the contract's, not
# what the one before left in the allocator (a freed frame is seldom given back to the system).
for engine in ENGINES.split(","):
    for contract in CONTRACTS:
        what = engine if contract == "memory" else f"{engine}, to CSV"
        # The engine's lines go straight to our stdout, each as soon as it is measured.
        child = subprocess.run(
            [sys.executable, ENGINES_SCRIPT, engine, THREADS, RUNS, SEP, ANSWERS,
             in_contract(QUESTIONS, contract), MEMORY, *PATTERNS],
            stdout=sys.stdout, stderr=subprocess.PIPE, text=True, preexec_fn=die_with_parent)
        last = (child.stderr.strip().splitlines() or [""])[-1]
        if child.returncode != 0 and "AssertionError" in last:
            raise RuntimeError(f"{what}: {last}")  # a wrong answer
        if child.returncode != 0:
            # Killed (the kernel's out-of-memory killer sends SIGKILL), or failed on its own.
            how = f"killed by signal {-child.returncode}" if child.returncode < 0 else last
            note(f"({what}: ended without its remaining rows: {how})")

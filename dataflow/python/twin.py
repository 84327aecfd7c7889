# Python twin of `cargo run -p dataflow -- --vs-python`: the same group-by on the same files in
# pandas (everything read into memory), Dask with its threads scheduler, a Dask LocalCluster
# of 2 worker processes, and the two engines a Python user picks today for a gigabyte of CSV:
# Polars (its streaming engine, Rust under Python) and DuckDB, each on 1 thread and on all.
# Each runs in a fresh Python process of its own, so that its peak memory is its own; each
# result is checked against Rust's answer.
import os
import sys
import time

from hpc_rs_twin import arguments, die_with_parent, note, report

USAGE = """twin.py THREADS RUNS ANSWER BY VALUE SEP FILE...: df.groupby(BY)[VALUE].agg([...]) over
the CSV FILEs (patterns such as 'data/*.csv', fields separated by SEP) in pandas, Dask's
threads, a Dask LocalCluster of 2 processes, Polars' streaming engine and DuckDB (each on 1
thread and on THREADS), each in a fresh Python process, timed RUNS times after a warm-up and
checked against ANSWER, a CSV of the expected table (the one `dataflow groupby` prints).
Needs pandas, dask, distributed, polars and duckdb."""
THREADS, RUNS, ANSWER, BY, VALUE, SEP, *PATTERNS = arguments(
    USAGE, None, None, None, None, None, None, None)
THREADS, RUNS = int(THREADS), int(RUNS)

import json
import subprocess

VARIANT = r'''
import csv, glob, json, os, resource, sys, time
mode, threads, runs, answer, by, value, sep = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:8]
patterns = sys.argv[8:]
# pandas' missing markers, as the Rust side reads them, for the engines that take a list.
MISSING = ["", "NA", "NaN", "nan", "null"]

with open(answer) as f:
    WANT = {row[by]: row for row in csv.DictReader(f)}  # Rust's answer, read once

def check(table):
    """`table`: {key: {"size", "count", "sum", "min", "max"}} for every key."""
    want = WANT
    got = table
    assert set(got) == set(want), f"keys differ: {sorted(set(got) ^ set(want))[:5]}"
    for key, row in want.items():
        r = got[key]
        assert int(r["size"]) == int(row["size"]) and int(r["count"]) == int(row["count"]), key
        if int(row["count"]) > 0:
            s, w = float(r["sum"]), float(row["sum"])
            assert abs(s - w) <= 1e-9 * max(1.0, abs(w)), f"{key}: sum {s} != {w}"
            assert float(r["min"]) == float(row["min"]) and float(r["max"]) == float(row["max"]), key

def rows(frame):
    """A pandas frame indexed by key, as check takes it."""
    return {str(k): r for k, r in frame.iterrows()}

AGG = ["size", "count", "sum", "mean", "min", "max"]
files = sorted(f for p in patterns for f in glob.glob(p))
client = None
if mode == "pandas":
    import pandas as pd
    def run():
        frame = pd.concat([pd.read_csv(f, dtype={by: str}, sep=sep) for f in files])
        return rows(frame.groupby(by)[value].agg(AGG))
elif mode == "polars":
    os.environ["POLARS_MAX_THREADS"] = str(threads)  # read once, at import
    import polars as pl
    assert pl.thread_pool_size() == threads, pl.thread_pool_size()
    def run():
        column = pl.col(value)
        query = (pl.scan_csv(files, separator=sep, null_values=MISSING,
                             schema_overrides={by: pl.Utf8, value: pl.Float64})
                 .filter(pl.col(by).is_not_null())
                 .group_by(by)
                 .agg(pl.len().alias("size"), column.count().alias("count"),
                      column.sum().alias("sum"), column.min().alias("min"), column.max().alias("max")))
        return {r[by]: r for r in query.collect(engine="streaming").iter_rows(named=True)}
elif mode == "duckdb":
    import duckdb
    connection = duckdb.connect()
    connection.execute(f"SET threads = {threads}")
    connection.execute("SET enable_progress_bar = false")  # it would draw on stdout, where the result goes
    def run():
        source = "read_csv($files, delim = $sep, nullstr = $missing, types = {'%s': 'VARCHAR', '%s': 'DOUBLE'})" % (by, value)
        sql = (f'SELECT "{by}" AS key, count(*) AS size, count("{value}") AS count, sum("{value}") AS sum, '
               f'min("{value}") AS min, max("{value}") AS max FROM {source} WHERE "{by}" IS NOT NULL GROUP BY "{by}"')
        result = connection.execute(sql, {"files": files, "sep": sep, "missing": MISSING})
        names = [d[0] for d in result.description]
        return {r[0]: dict(zip(names, r)) for r in result.fetchall()}
else:
    import pandas as pd
    import dask
    import dask.dataframe as dd
    if mode == "cluster":
        from distributed import Client, LocalCluster
        started = time.perf_counter()
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
        startup = time.perf_counter() - started
    def run():
        frame = dd.read_csv(files, dtype={by: str, value: "float64"}, blocksize="64MB", sep=sep)
        table = frame.groupby(by)[value].agg(AGG)
        return rows(table.compute(scheduler="threads") if mode == "threads" else table.compute())
check(run())  # warm-up, checked
samples = []
for _ in range(runs):
    t = time.perf_counter()
    table = run()
    samples.append(time.perf_counter() - t)
    check(table)
peaks = [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024]
if client is not None:
    workers = client.run(lambda: __import__("resource").getrusage(__import__("resource").RUSAGE_SELF).ru_maxrss * 1024)
    peaks += list(workers.values())
    client.close()
print(json.dumps({"samples": samples, "peaks": peaks, "startup": startup if mode == "cluster" else 0}))
'''

def threads_label(n):
    return f"{n} thread" + ("" if n == 1 else "s")

VARIANTS = [("pandas (all in memory)", "pandas", 1), ("Dask, threads scheduler", "threads", THREADS),
            ("Dask LocalCluster, 2 processes", "cluster", 2)]
for engine, mode in [("Polars streaming", "polars"), ("DuckDB", "duckdb")]:
    VARIANTS += [(f"{engine}, {threads_label(n)}", mode, n) for n in (1, THREADS)]
for label, mode, threads in VARIANTS:
    child = subprocess.run(
        [sys.executable, "-c", VARIANT, mode, str(threads), str(RUNS), ANSWER, BY, VALUE, SEP, *PATTERNS],
        capture_output=True, text=True, preexec_fn=die_with_parent)
    if child.returncode != 0:
        raise RuntimeError(f"{label}: " + (child.stderr.strip().splitlines() or ["failed"])[-1])
    result = json.loads(child.stdout.strip().splitlines()[-1])
    report(label, result["samples"])
    peaks = ", ".join(f"{p / 1e6:.0f} MB" for p in result["peaks"])
    extra = f"; starting the cluster took {result['startup']:.1f} s, left out" if mode == "cluster" else ""
    note(f"({label}: peak memory {peaks}{' (client, then each worker)' if mode == 'cluster' else ''}{extra})")

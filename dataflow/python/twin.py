# Python twin of `cargo run -p dataflow -- --vs-python`: the same group-by on the same files in
# pandas (everything read into memory), Dask with its threads scheduler, and a Dask
# LocalCluster of 2 worker processes. Each runs in a fresh Python process of its own, so that
# its peak memory is its own; each result is checked against Rust's answer.
if "measure" not in globals():  # run alone: first the prelude the Rust binary puts in front
    import pathlib

    exec((pathlib.Path(__file__).resolve().parents[2] / "timing/src/twin_prelude.py").read_text())

USAGE = """twin.py 0 RUNS ANSWER BY VALUE FILE...: df.groupby(BY)[VALUE].agg([...]) over the CSV
FILEs (patterns such as 'data/*.csv') in pandas, Dask's threads and a Dask LocalCluster of
2 processes, each in a fresh Python process, timed RUNS times after a warm-up and checked
against ANSWER, a CSV of the expected table (the one `dataflow groupby` prints). The first
argument is unused (the Rust side's size). Needs pandas, dask and distributed."""
_, RUNS, ANSWER, BY, VALUE, *PATTERNS = arguments(USAGE, None, None, None, None, None, None)
RUNS = int(RUNS)

import json
import subprocess

VARIANT = r'''
import csv, glob, json, resource, sys, time
mode, runs, answer, by, value = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
patterns = sys.argv[6:]
import pandas as pd

def expected():
    with open(answer) as f:
        return {row[by]: row for row in csv.DictReader(f)}

def check(table):
    want = expected()
    got = {str(k): r for k, r in table.iterrows()}
    assert set(got) == set(want), f"keys differ: {sorted(set(got) ^ set(want))[:5]}"
    for key, row in want.items():
        r = got[key]
        assert int(r["size"]) == int(row["size"]) and int(r["count"]) == int(row["count"]), key
        if int(row["count"]) > 0:
            s, w = float(r["sum"]), float(row["sum"])
            assert abs(s - w) <= 1e-9 * max(1.0, abs(w)), f"{key}: sum {s} != {w}"
            assert float(r["min"]) == float(row["min"]) and float(r["max"]) == float(row["max"]), key

AGG = ["size", "count", "sum", "mean", "min", "max"]
files = sorted(f for p in patterns for f in glob.glob(p))
client = None
if mode == "pandas":
    def run():
        frame = pd.concat([pd.read_csv(f, dtype={by: str}) for f in files])
        return frame.groupby(by)[value].agg(AGG)
else:
    import dask
    import dask.dataframe as dd
    if mode == "cluster":
        from distributed import Client, LocalCluster
        started = time.perf_counter()
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
        startup = time.perf_counter() - started
    def run():
        frame = dd.read_csv(files, dtype={by: str, value: "float64"}, blocksize="64MB")
        table = frame.groupby(by)[value].agg(AGG)
        return table.compute(scheduler="threads") if mode == "threads" else table.compute()
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

for label, mode in [("pandas (all in memory)", "pandas"), ("Dask, threads scheduler", "threads"),
                    ("Dask LocalCluster, 2 processes", "cluster")]:
    child = subprocess.run(
        [sys.executable, "-c", VARIANT, mode, str(RUNS), ANSWER, BY, VALUE, *PATTERNS],
        capture_output=True, text=True, preexec_fn=die_with_parent)
    if child.returncode != 0:
        raise RuntimeError(f"{label}: " + (child.stderr.strip().splitlines() or ["failed"])[-1])
    result = json.loads(child.stdout.strip().splitlines()[-1])
    report(label, result["samples"])
    peaks = ", ".join(f"{p / 1e6:.0f} MB" for p in result["peaks"])
    extra = f"; starting the cluster took {result['startup']:.1f} s, left out" if mode == "cluster" else ""
    note(f"({label}: peak memory {peaks}{' (client, then each worker)' if mode == 'cluster' else ''}{extra})")

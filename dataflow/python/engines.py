# One Python engine on every question of a `dataflow` comparison, in a process of its own (so
# that its peak memory is its own): pandas, Dask (threads scheduler or a LocalCluster of 2
# worker processes), Polars' streaming engine, DuckDB. Each question is timed end to end from
# the CSV files, as the dataflow's is; each answer is checked against Rust's outside the timed
# region. Run by twin.py; alone too: `python3 dataflow/python/engines.py --help`.
import csv
import glob
import math
import os
import time

from hpc_rs_twin import arguments, measure, note, resident_memory

USAGE = """engines.py ENGINE THREADS RUNS SEP ANSWERS QUESTIONS MEMORY FILE...: the group-by
QUESTIONS (`name|key,key|spec+spec;...`, each spec `size` or `column:func` with func one of
count, sum, mean, min, max, var, std, median) over the CSV FILEs (patterns such as
'data/*.csv', fields separated by SEP) in ENGINE - pandas, dask-threads, dask-cluster,
polars, polars-1, duckdb or duckdb-1 (the -1 forms on one thread, the others on THREADS) -
each timed RUNS times after a warm-up and checked against Rust's answer to question i,
ANSWERS/i.csv. MEMORY: the bytes DuckDB (its memory_limit) and a Dask LocalCluster (its
workers' memory_limit, shared) may use, or `none`; pandas and Polars take no such limit."""
# pandas' missing markers, as the Rust side reads them.
MISSING = ["", "NA", "NaN", "nan", "null"]


def threads_text(n):
    return f"{n} thread" + ("" if n == 1 else "s")


class Question:
    def __init__(self, index, text, answers):
        self.index = index
        self.name, keys, specs = text.split("|")
        self.keys = keys.split(",")
        # (column, func) for each output, in order; (None, "size") for size.
        self.outputs = [(None, "size") if s == "size" else tuple(s.rsplit(":", 1))
                        for s in specs.split("+")]
        self.values = list(dict.fromkeys(c for c, _ in self.outputs if c is not None))
        with open(os.path.join(answers, f"{index}.csv"), newline="") as f:
            rows = list(csv.reader(f))[1:]
        n = len(self.keys)
        self.want = {tuple(r[:n]): r[n:] for r in rows}

    def named(self):
        """pandas' and Dask's named aggregations, `o0=(column, func)`. Size counts rows, so any
        column gives it: a value column where there is one - Dask's shuffled aggregation (a
        median makes one) drops the keys from the columns it aggregates, so size on a key
        fails there with KeyError "Label(s) [key] do not exist" (dask 2026.8)."""
        size_on = self.values[0] if self.values else self.keys[0]
        return {f"o{i}": (c or size_on, f) for i, (c, f) in enumerate(self.outputs)}

    def dtypes(self):
        return {k: str for k in self.keys} | {v: "float64" for v in self.values}


def same(func, got, want):
    """Whether one output matches Rust's printed field: counts exactly; min and max exactly;
    sums, means, variances and medians within 1e-9 relative; an empty field is missing."""
    missing = got is None or (isinstance(got, float) and math.isnan(got))
    if want == "":
        return missing
    if func == "sum" and missing:
        return float(want) == 0  # DuckDB's sum of no value is NULL; pandas' and Rust's 0
    if missing:
        return False
    if func in ("size", "count"):
        return int(got) == int(want)
    if func in ("min", "max"):
        return float(got) == float(want)
    w = float(want)
    return abs(float(got) - w) <= 1e-9 * max(1.0, abs(w))


def checker(question, label):
    def check(table):
        """`table`: {key tuple: [output values]}, every group, as an engine answered."""
        want = question.want
        if set(table) != set(want):
            diff = sorted(set(table) ^ set(want))[:5]
            raise AssertionError(f"{label}: the groups differ, such as {diff}")
        for key, values in table.items():
            for (column, func), got, w in zip(question.outputs, values, want[key]):
                if not same(func, got, w):
                    raise AssertionError(f"{label}: {key} {column or ''} {func}: {got!r} != {w!r}")
    return check


def frame_table(result):
    """A pandas frame indexed by the keys, as {key tuple: [outputs]}."""
    return {(k if isinstance(k, tuple) else (k,)): list(row)
            for k, row in zip(result.index, result.itertuples(index=False))}


def rows_table(question):
    n = len(question.keys)
    return lambda rows: {tuple(row[:n]): list(row[n:]) for row in rows}


# ---- the engines: each makes run(question) -> result (timed) and table(question, result) ----

def pandas_engine(files, sep, threads):
    import pandas as pd

    def run(q):
        frame = pd.concat([pd.read_csv(f, sep=sep, dtype=q.dtypes(), keep_default_na=False,
                                       na_values=MISSING) for f in files])
        return frame.groupby(q.keys, dropna=True, sort=False).agg(**q.named())

    return "pandas (all in memory)", run, lambda q, result: frame_table(result)


def dask_engine(files, sep, threads, cluster, memory):
    import dask.dataframe as dd

    client = None
    label = f"Dask, threads scheduler, {threads_text(threads)}"
    if cluster:
        from distributed import Client, LocalCluster
        label = "Dask LocalCluster, 2 processes"
        if memory is not None:
            label += f", memory_limit {memory // 2_000_000} MB each"
        label += " (the peak: its client's; the workers' are their own)"
        started = time.perf_counter()
        # Each worker's share of the limit; past 60% of it a worker spills to disk, past 95%
        # the nanny restarts it (Dask's defaults).
        limit = "auto" if memory is None else memory // 2
        client = Client(LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=None, memory_limit=limit))
        note(f"({label}: starting the cluster took {time.perf_counter() - started:.1f} s, "
             "left out of its figures)")

    def run(q):
        frame = dd.read_csv(files, sep=sep, dtype=q.dtypes(), blocksize="64MB",
                            keep_default_na=False, na_values=MISSING)
        grouped = frame.groupby(q.keys, dropna=True).agg(**q.named())
        if client is not None:
            return grouped.compute()
        return grouped.compute(scheduler="threads", num_workers=threads)

    return label, run, lambda q, result: frame_table(result)


def polars_engine(files, sep, threads):
    os.environ["POLARS_MAX_THREADS"] = str(threads)  # read once, at import
    import polars as pl

    assert pl.thread_pool_size() == threads, pl.thread_pool_size()

    def expression(column, func):
        if func == "size":
            return pl.len()
        c = pl.col(column)
        return {"count": c.count(), "sum": c.sum(), "mean": c.mean(), "min": c.min(),
                "max": c.max(), "var": c.var(ddof=1), "std": c.std(ddof=1),
                "median": c.median()}[func]

    def run(q):
        schema = {k: pl.Utf8 for k in q.keys} | {v: pl.Float64 for v in q.values}
        exprs = [expression(c, f).alias(f"o{i}") for i, (c, f) in enumerate(q.outputs)]
        query = (pl.scan_csv(files, separator=sep, null_values=MISSING, schema_overrides=schema)
                 .filter(pl.all_horizontal([pl.col(k).is_not_null() for k in q.keys]))
                 .group_by(q.keys)
                 .agg(exprs))
        return query.collect(engine="streaming")

    label = f"Polars streaming, {threads_text(threads)}"
    return label, run, lambda q, result: rows_table(q)(result.iter_rows())


def duckdb_engine(files, sep, threads, memory):
    import duckdb

    config = {"threads": threads}
    if memory is not None:
        config["memory_limit"] = f"{memory // 1_000_000}MB"  # past it, DuckDB spills to disk
    connection = duckdb.connect(config=config)
    connection.execute("SET enable_progress_bar = false")  # it would draw on stdout
    functions = {"count": "count", "sum": "sum", "mean": "avg", "min": "min", "max": "max",
                 "var": "var_samp", "std": "stddev_samp", "median": "median"}

    def identifier(name):
        return '"' + name.replace('"', '""') + '"'

    def run(q):
        keys = ", ".join(identifier(k) for k in q.keys)
        outputs = ", ".join("count(*)" if f == "size" else f"{functions[f]}({identifier(c)})"
                            for c, f in q.outputs)
        present = " AND ".join(f"{identifier(k)} IS NOT NULL" for k in q.keys)
        # Only identifiers (quoted) are spliced into the SQL; every value is a parameter.
        sql = (f"SELECT {keys}, {outputs} FROM read_csv($files, delim = $sep, header = true, "
               f"nullstr = $missing, types = $types) WHERE {present} GROUP BY {keys}")
        types = {k: "VARCHAR" for k in q.keys} | {v: "DOUBLE" for v in q.values}
        parameters = {"files": files, "sep": sep, "missing": MISSING, "types": types}
        # The answer in Arrow, DuckDB's own columnar form, as Polars' and pandas' frames are
        # theirs: fetchall() would make a Python tuple a group (seconds at millions of groups).
        return connection.sql(sql, params=parameters).to_arrow_table()

    label = f"DuckDB, {threads_text(threads)}"
    if memory is not None:
        label += f", memory_limit {memory // 1_000_000} MB"
    def table(q, result):
        return rows_table(q)(zip(*(column.to_pylist() for column in result.columns)))

    return label, run, table


def main():
    engine, threads, runs, sep, answers, questions, memory, *patterns = arguments(
        USAGE, None, None, None, None, None, None, None, None)
    threads = 1 if engine.endswith("-1") else int(threads)
    memory = None if memory == "none" else int(memory)
    engine = engine.removesuffix("-1")
    files = sorted({f for p in patterns for f in glob.glob(p)})
    make = {
        "pandas": lambda: pandas_engine(files, sep, threads),
        "dask-threads": lambda: dask_engine(patterns, sep, threads, False, memory),
        "dask-cluster": lambda: dask_engine(patterns, sep, threads, True, memory),
        "polars": lambda: polars_engine(files, sep, threads),
        "duckdb": lambda: duckdb_engine(files, sep, threads, memory),
    }[engine]
    label, run, table = make()
    # What the engine holds before any question: the interpreter, its library, a cluster's
    # client. Rust's answers, read for the checks, are left out of its peak.
    baseline = resident_memory()
    for i, text in enumerate(questions.split(";")):
        q = Question(i, text, answers)
        row = f"{q.name} {label}".strip()
        check = checker(q, row)
        try:
            measure(row, int(runs), lambda: run(q), lambda result: check(table(q, result)),
                    peak=baseline)
        except AssertionError:
            raise  # a wrong answer is a bug to see, not an outcome to report
        except Exception as e:  # the engine's own failure - out of memory, a lost worker
            note(f"({row}: failed, {type(e).__name__}: {' '.join(str(e).split())[:300]})")


# Dask's LocalCluster starts its workers as processes that import this file again: only the
# process run as a script does the work.
if __name__ == "__main__":
    main()

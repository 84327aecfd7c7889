# One Python engine on every question of a `dataflow` comparison, in a process of its own (so
# that its peak memory is its own): pandas, Dask (threads scheduler or a LocalCluster of 2
# worker processes), Polars' streaming engine, DuckDB. Each question is timed end to end from
# the CSV files, as the dataflow's is, in one contract or both: the answer handed over in
# memory (a frame, an Arrow table), and the answer written to a CSV file, as a user runs it.
# Each answer - the CSV file read back - is checked against Rust's outside the timed region,
# as sorted columns. Run by twin.py; alone too: `python3 dataflow/python/engines.py --help`.
import glob
import os
import time
from collections import namedtuple

from hpc_rs_twin import arguments, measure, note, resident_memory

USAGE = """engines.py ENGINE THREADS RUNS SEP ANSWERS QUESTIONS MEMORY FILE...: the group-by
QUESTIONS (`name|key,key|spec+spec|contract,contract;...`, each spec `size` or `column:func`
with func one of count, sum, mean, min, max, var, std, median; each contract `memory` - the
answer handed over in memory - or `csv` - the answer written to a CSV file; `memory` where the
field is missing, none where it is empty) over the CSV FILEs (patterns such as 'data/*.csv',
fields separated by SEP) in ENGINE - pandas, dask-threads, dask-cluster, polars, polars-1,
duckdb, duckdb-1, module - this project's engine from Python, hpc_rs_dataflow, in memory only -
or module-any, the module with sort=False (its groups in any order; the -1 forms on one
thread, the others on THREADS) - each timed RUNS times after a warm-up and
checked against Rust's answer to question i, ANSWERS/i.csv (the CSV answers are written into
ANSWERS too, and removed). MEMORY: the bytes DuckDB (its memory_limit) and a Dask LocalCluster
(its workers' memory_limit, shared) may use, or `none`; pandas and Polars take no such limit.
The checks need Polars."""
# pandas' missing markers, as the Rust side reads them.
MISSING = ["", "NA", "NaN", "nan", "null"]
# What the CSV contract's rows are called after the question's name, as compare.rs's CSV_ROW
# says it.
CSV_ROW = "CSV to CSV:"
# The outputs every engine computes exactly as Rust does: compared with ==, the others within
# 1e-9 relative (engines other than this one sum floats in their own order, rounding each step).
EXACT = ("size", "count", "min", "max")


def threads_text(n):
    return f"{n} thread" + ("" if n == 1 else "s")


class Question:
    def __init__(self, index, text, answers, offered=("memory", "csv")):
        self.index = index
        self.name, keys, specs, *contracts = text.split("|")
        self.keys = keys.split(",")
        # (column, func) for each output, in order; (None, "size") for size.
        self.outputs = [(None, "size") if s == "size" else tuple(s.rsplit(":", 1))
                        for s in specs.split("+")]
        self.values = list(dict.fromkeys(c for c, _ in self.outputs if c is not None))
        # None where the field is empty: the question is not asked here (twin.py runs each
        # contract in a process of its own).
        asked = contracts[0].split(",") if contracts else ["memory"]
        self.contracts = [c for c in asked if c in offered]
        path = os.path.join(answers, f"{index}.csv")
        self.want = rust_answer(path, len(self.keys)) if self.contracts else None

    def named(self):
        """pandas' and Dask's named aggregations, `o0=(column, func)`. Size counts rows, so any
        column gives it: a value column where there is one - Dask's shuffled aggregation (a
        median makes one) drops the keys from the columns it aggregates, so size on a key
        fails there with KeyError "Label(s) [key] do not exist" (dask 2026.8)."""
        size_on = self.values[0] if self.values else self.keys[0]
        return {f"o{i}": (c or size_on, f) for i, (c, f) in enumerate(self.outputs)}

    def dtypes(self):
        return {k: str for k in self.keys} | {v: "float64" for v in self.values}

    def row(self, label, contract):
        """The row's label: `q1 Polars streaming, 2 threads` in memory, `q1 CSV to CSV:
        Polars streaming, 2 threads` to a file."""
        parts = [self.name, CSV_ROW if contract == "csv" else "", label]
        return " ".join(p for p in parts if p)


# ---- the checks: an answer as sorted columns, against Rust's ----
# Polars reads, sorts and compares whole columns: seconds for ten million groups, where a
# Python tuple a group took minutes.

def columns(frame, n_keys, sort=True):
    """An answer as Polars columns sorted by key: its keys as strings k0.., its outputs as
    float64 o0.. (any engine's frame or table, or a CSV file read as text)."""
    import polars as pl

    names = frame.columns
    keys = [pl.col(c).cast(pl.Utf8).alias(f"k{i}") for i, c in enumerate(names[:n_keys])]
    values = [pl.col(c).cast(pl.Float64).alias(f"o{i}") for i, c in enumerate(names[n_keys:])]
    frame = frame.select(keys + values)
    return frame.sort([f"k{i}" for i in range(n_keys)]) if sort else frame


def read_csv(path):
    """A CSV answer, every field as text (an empty one as null): parsed by the checks as Rust's
    printed fields are, whoever wrote it."""
    import polars as pl

    return pl.read_csv(path, infer_schema=False)


def rust_answer(path, n_keys):
    """Rust's answer sorted by key: (its columns as columns() makes them, its fields as text for
    the messages)."""
    import polars as pl

    text = read_csv(path)
    names = text.columns
    text = text.select([pl.col(c).alias(f"k{i}") for i, c in enumerate(names[:n_keys])]
                       + [pl.col(c).alias(f"o{i}") for i, c in enumerate(names[n_keys:])])
    text = text.sort([f"k{i}" for i in range(n_keys)])
    return columns(text, n_keys, sort=False), text


def first_wrong(func, got, want, text):
    """The first row where an output does not match Rust's printed field, or None: counts,
    min and max exactly; sums, means, variances and medians within 1e-9 relative; an empty
    field is missing (None or NaN in the engine's answer)."""
    import polars as pl

    g, w = pl.col("got"), pl.col("want")
    got_missing = g.fill_nan(None).is_null()
    want_missing = pl.col("text").fill_null("") == ""
    if func in EXACT:
        close = g == w
    else:
        close = (g - w).abs() <= 1e-9 * pl.max_horizontal(w.abs(), pl.lit(1.0))
    # DuckDB's sum of no value is NULL; pandas' and Rust's 0.
    zero_sum = (w == 0) if func == "sum" else pl.lit(False)
    ok = pl.when(want_missing).then(got_missing).when(got_missing).then(zero_sum).otherwise(close)
    frame = pl.DataFrame({"got": got, "want": want, "text": text}).with_row_index("row")
    wrong = frame.filter(~ok.fill_null(False))["row"]
    return wrong[0] if len(wrong) else None


def group_difference(got, want, keys):
    """A few groups that one answer has and the other lacks, as key tuples in key order."""
    import polars as pl

    only = pl.concat([got.select(keys).join(want.select(keys), on=keys, how="anti"),
                      want.select(keys).join(got.select(keys), on=keys, how="anti")])
    differ = only.unique().sort(keys).head(5).rows()
    if differ:
        return f"such as {differ}"
    return f"{got.height} rows against Rust's {want.height}, of the same groups: one given twice"


def checker(question, label):
    want, text = question.want
    keys = [f"k{i}" for i in range(len(question.keys))]

    def check(got):
        """`got`: the answer as columns() makes it - every group, as an engine answered."""
        if got.height != want.height or not got.select(keys).equals(want.select(keys)):
            raise AssertionError(
                f"{label}: the groups differ, {group_difference(got, want, keys)}")
        for i, (column, func) in enumerate(question.outputs):
            o = f"o{i}"
            row = first_wrong(func, got[o], want[o], text[o])
            if row is not None:
                key = tuple(want.row(row)[:len(keys)])
                raise AssertionError(f"{label}: {key} {column or ''} {func}: "
                                     f"{got[o][row]!r} != {text[o][row] or ''!r}")
    return check


# ---- the engines: each makes, for a question, its answer in memory (timed), that answer as
# a Polars frame (for the checks), and its answer written to a CSV file (timed) ----

Engine = namedtuple("Engine", "label run frame write")


def pandas_frame(q, result):
    """A pandas frame indexed by the keys, as a Polars frame (keys as columns)."""
    import polars as pl

    return pl.from_pandas(result.reset_index())


def pandas_engine(files, sep, threads):
    import pandas as pd

    def run(q):
        frame = pd.concat([pd.read_csv(f, sep=sep, dtype=q.dtypes(), keep_default_na=False,
                                       na_values=MISSING) for f in files])
        return frame.groupby(q.keys, dropna=True, sort=False).agg(**q.named())

    return Engine("pandas (all in memory)", run, pandas_frame,
                  lambda q, path: run(q).to_csv(path))


def dask_engine(files, sep, threads, cluster, memory):
    import dask
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
        # the nanny restarts it (Dask's defaults). Dask would also pause a worker past 80%
        # until its memory falls - which memory held by the worker's own interpreter and
        # libraries never does, so at a small limit (250 MB a worker, 200,000 rows) the
        # computation waited without end. Pausing is off here (its threshold False, "to turn
        # off the behavior entirely": distributed/distributed.yaml, worker.memory, 2026.8; the
        # nanny hands its config to the workers it starts, distributed/nanny.py): such a worker
        # runs on, and is restarted past 95%, and a task whose workers died 3 times fails the
        # computation with KilledWorker (scheduler.allowed-failures: 3, same file) - as q10
        # did here at 250 MB a worker. (A script of Dask alone at 150 MB a worker once waited
        # without end after some 20 restarts instead: twin.py's time limit ends such a wait.)
        dask.config.set({"distributed.worker.memory.pause": False})
        limit = "auto" if memory is None else memory // 2
        client = Client(LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=None, memory_limit=limit))
        note(f"({label}: starting the cluster took {time.perf_counter() - started:.1f} s, "
             "left out of its figures; its workers do not pause at 80% of their memory "
             "limit, as Dask's do by default, but are restarted past 95%)")
    # With a client, its cluster computes (Dask's default once a Client exists).
    scheduler = {} if client is not None else {"scheduler": "threads", "num_workers": threads}

    def grouped(q):
        frame = dd.read_csv(files, sep=sep, dtype=q.dtypes(), blocksize="64MB",
                            keep_default_na=False, na_values=MISSING)
        return frame.groupby(q.keys, dropna=True).agg(**q.named())

    def write(q, path):
        # One file, as the others write: each partition appended in turn (single_file=True,
        # dask/dataframe/io/csv.py to_csv, 2026.8).
        grouped(q).to_csv(path, single_file=True, compute_kwargs=scheduler)

    return Engine(label, lambda q: grouped(q).compute(**scheduler), pandas_frame, write)


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

    def query(q):
        schema = {k: pl.Utf8 for k in q.keys} | {v: pl.Float64 for v in q.values}
        exprs = [expression(c, f).alias(f"o{i}") for i, (c, f) in enumerate(q.outputs)]
        return (pl.scan_csv(files, separator=sep, null_values=MISSING, schema_overrides=schema)
                .filter(pl.all_horizontal([pl.col(k).is_not_null() for k in q.keys]))
                .group_by(q.keys)
                .agg(exprs))

    def write(q, path):
        # sink_csv, not collect().write_csv(): the streaming engine writes the answer as it
        # comes, with no frame of the whole answer first - what Polars offers for an answer
        # larger than memory ("This allows streaming results that are larger than RAM to be
        # written to disk": docs.pola.rs, polars.LazyFrame.sink_csv, Polars 1.x).
        query(q).sink_csv(path, engine="streaming")

    label = f"Polars streaming, {threads_text(threads)}"
    return Engine(label, lambda q: query(q).collect(engine="streaming"),
                  lambda q, result: result, write)


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

    def select(q):
        keys = ", ".join(identifier(k) for k in q.keys)
        # Each output named as in the other engines, o0, o1...: two alike stay two columns.
        outputs = ", ".join(("count(*)" if f == "size" else f"{functions[f]}({identifier(c)})")
                            + f' AS "o{i}"' for i, (c, f) in enumerate(q.outputs))
        present = " AND ".join(f"{identifier(k)} IS NOT NULL" for k in q.keys)
        # Only identifiers (quoted) are spliced into the SQL; every value is a parameter.
        sql = (f"SELECT {keys}, {outputs} FROM read_csv($files, delim = $sep, header = true, "
               f"nullstr = $missing, types = $types) WHERE {present} GROUP BY {keys}")
        types = {k: "VARCHAR" for k in q.keys} | {v: "DOUBLE" for v in q.values}
        return sql, {"files": files, "sep": sep, "missing": MISSING, "types": types}

    def run(q):
        sql, parameters = select(q)
        # The answer in Arrow, DuckDB's own columnar form, as Polars' and pandas' frames are
        # theirs: fetchall() would make a Python tuple a group (seconds at millions of groups).
        return connection.sql(sql, params=parameters).to_arrow_table()

    def write(q, path):
        sql, parameters = select(q)
        # COPY's file is a string literal, never a parameter: DuckDB's parser refuses one
        # there (duckdb/duckdb#10697) and 1.5 fails on it (duckdb/duckdb#21578). The path is
        # this twin's own, quoted.
        target = "'" + path.replace("'", "''") + "'"
        connection.execute(f"COPY ({sql}) TO {target} (HEADER)", parameters)

    def frame(q, result):
        import polars as pl

        return pl.from_arrow(result)

    label = f"DuckDB, {threads_text(threads)}"
    if memory is not None:
        label += f", memory_limit {memory // 1_000_000} MB"
    return Engine(label, run, frame, write)


def module_engine(files, sep, threads, memory, sort=True):
    """This project's own engine from Python, the module hpc_rs_dataflow (dataflow/extension):
    its answer in memory, as Arrow. No writer: its CSV contract is the command line's, which
    the Rust side times."""
    import hpc_rs_dataflow

    def run(q):
        # agg as pandas' .agg takes it; one entry an output, so the columns come in its order.
        agg = ["size" if f == "size" else {c: f} for c, f in q.outputs]
        return hpc_rs_dataflow.groupby(files, q.keys, agg, workers=threads, memory_limit=memory,
                                       sep=sep, sort=sort)

    def frame(q, result):
        import polars as pl

        return pl.DataFrame(result)  # through the Arrow PyCapsule interface, no copy

    order = "" if sort else " sort=False"
    return Engine(f"hpc_rs_dataflow{order}, {threads_text(threads)}", run, frame, None)


def contract_measure(engine, q, contract, path):
    """What measure() takes for one question in one contract: the timed call, and the check of
    what it gave (the CSV file read back)."""
    n = len(q.keys)
    if contract == "memory":
        return (lambda: engine.run(q)), (lambda result: columns(engine.frame(q, result), n))
    return (lambda: engine.write(q, path)), (lambda _: columns(read_csv(path), n))


def main():
    engine, threads, runs, sep, answers, questions, memory, *patterns = arguments(
        USAGE, None, None, None, None, None, None, None, None)
    threads = 1 if engine.endswith("-1") else int(threads)
    memory = None if memory == "none" else int(memory)
    written = os.path.join(answers, f"{engine}-answer.csv")  # the CSV contract's file
    engine = engine.removesuffix("-1")
    files = sorted({f for p in patterns for f in glob.glob(p)})
    make = {
        "pandas": lambda: pandas_engine(files, sep, threads),
        "dask-threads": lambda: dask_engine(patterns, sep, threads, False, memory),
        "dask-cluster": lambda: dask_engine(patterns, sep, threads, True, memory),
        "polars": lambda: polars_engine(files, sep, threads),
        "duckdb": lambda: duckdb_engine(files, sep, threads, memory),
        "module": lambda: module_engine(files, sep, threads, memory),
        "module-any": lambda: module_engine(files, sep, threads, memory, sort=False),
    }[engine]
    engine = make()
    # What the engine holds before any question: the interpreter, its library, a cluster's
    # client. Polars, imported for the checks, and Rust's answers, read for them, are left out
    # of its peak.
    baseline = resident_memory()
    for i, text in enumerate(questions.split(";")):
        q = Question(i, text, answers, ("memory", "csv") if engine.write else ("memory",))
        for contract in q.contracts:
            row = q.row(engine.label, contract)
            check = checker(q, row)
            run, as_columns = contract_measure(engine, q, contract, written)
            try:
                measure(row, int(runs), run, lambda result: check(as_columns(result)),
                        peak=baseline)
            except AssertionError:
                raise  # a wrong answer is a bug to see, not an outcome to report
            except Exception as e:  # the engine's own failure - out of memory, a lost worker
                note(f"({row}: failed, {type(e).__name__}: {' '.join(str(e).split())[:300]})")
            finally:
                if os.path.exists(written):
                    os.remove(written)


# Dask's LocalCluster starts its workers as processes that import this file again: only the
# process run as a script does the work.
if __name__ == "__main__":
    main()

"""What a user of `pip install ./dataflow/extension` relies on, checked against the command line.

Run by the Rust test tests/tests/dataflow_module.rs in a fresh environment with pyarrow; also
runs alone: `python dataflow/extension/tests/check_module.py PATH/TO/dataflow` in a Python where
the module and pyarrow are installed (the argument: the `dataflow` binary, whose `groupby` the
module's answers are compared with). Prints one line per check and exits non-zero at the first
that fails.
"""

import sys

if __name__ == "__main__" and ("--help" in sys.argv[1:] or len(sys.argv) != 2):
    print(__doc__.strip())  # before the imports: --help needs neither pyarrow nor the module
    sys.exit(0 if "--help" in sys.argv[1:] else 2)

import csv
import importlib.metadata
import io
import os
import pathlib
import random
import signal
import subprocess
import tempfile
import threading
import time

import pyarrow as pa

import hpc_rs_dataflow as hd

DATAFLOW = sys.argv[1]
FUNCS = ["count", "sum", "mean", "min", "max", "var", "std", "median"]


def ok(what):
    print(f"ok: {what}", flush=True)


def fail(what):
    sys.exit(f"FAILED: {what}")


def raises(kind, message, call):
    try:
        call()
    except kind as error:
        if message not in str(error):
            fail(f"{kind.__name__} says {error!r}, without {message!r}")
        return
    except Exception as error:  # noqa: BLE001 - the wrong kind is the failure reported
        fail(f"{type(error).__name__} ({error}) where {kind.__name__} was due")
    fail(f"no {kind.__name__} (wanted one saying {message!r})")


# ---- random files and queries ----


def random_key(rng):
    """Keys as files have them: short codes, ids sharing a long prefix, quoted text with
    commas and quotes, missing markers, non-ASCII."""
    kind = rng.randrange(6)
    if kind == 0:
        return rng.choice(["BOS", "JFK", "SFO", "007", "7", "NA", ""])
    if kind == 1:
        return f"user-{rng.randrange(40):020d}"
    if kind == 2:
        return rng.choice(['a,b', 'say "hi"', "x y", "é", "日本"])
    return f"k{rng.randrange(25)}"


def random_value(rng):
    kind = rng.randrange(8)
    if kind == 0:
        return rng.choice(["", "NA", "nan"])
    if kind == 1:
        return str(rng.randrange(-(2**40), 2**40))
    if kind == 2:
        return repr(rng.uniform(-1e6, 1e6))
    return f"{rng.randrange(-100000, 100000) / 100:.2f}"


def write_files(folder, rng, rows, files):
    """`files` CSV files with columns k1, k2, v1, v2 (csv's quoting), `rows` rows in all."""
    for f in range(files):
        with open(folder / f"part{f}.csv", "w", newline="") as out:
            w = csv.writer(out, lineterminator="\n")
            w.writerow(["k1", "k2", "v1", "v2"])
            for _ in range(rows // files):
                w.writerow([random_key(rng), random_key(rng), random_value(rng), random_value(rng)])


def random_query(rng):
    by = rng.choice([["k1"], ["k2"], ["k1", "k2"], ["k2", "k1"]])
    agg = {}
    for column in rng.sample(["v1", "v2"], rng.randrange(1, 3)):
        funcs = rng.sample(FUNCS, rng.randrange(1, 4))
        agg[column] = funcs[0] if len(funcs) == 1 and rng.random() < 0.5 else funcs
    return by, ([agg, "size"] if rng.random() < 0.4 else agg)


def cli_args(by, agg):
    args = ["--by", ",".join(by)]
    for item in agg if isinstance(agg, list) else [agg]:
        if item == "size":
            args += ["--agg", "size"]
            continue
        for column, funcs in item.items():
            funcs = [funcs] if isinstance(funcs, str) else funcs
            args += ["--agg", f"{column}:{','.join(funcs)}"]
    return args


def cli_answer(pattern, by, agg, workers):
    out = subprocess.run(
        [DATAFLOW, "groupby", pattern, "--workers", str(workers)] + cli_args(by, agg),
        capture_output=True,
        text=True,
        check=True,
    )
    return list(csv.reader(io.StringIO(out.stdout)))


def same_answer(table, rows, what):
    """The module's Arrow table against the command line's CSV: the same header, keys as the
    same strings, counts equal, floats equal to the last bit (an empty field: null)."""
    header, body = rows[0], rows[1:]
    if table.column_names != header:
        fail(f"{what}: columns {table.column_names} against {header}")
    if table.num_rows != len(body):
        fail(f"{what}: {table.num_rows} groups against {len(body)}")
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    for r, row in enumerate(body):
        for c, text in enumerate(row):
            got = columns[c][r]
            if isinstance(got, str):
                same = got == text
            elif got is None:
                same = text == ""
            elif isinstance(got, int):
                same = str(got) == text
            else:
                same = text != "" and (float(text) == got or (got != got and text == "NaN"))
            if not same:
                fail(f"{what}: row {r} column {header[c]}: {got!r} against {text!r}")


def answers_equal_the_command_line_s(folder):
    rng = random.Random(20261207)
    for case in range(12):
        data = folder / f"case{case}"
        data.mkdir()
        write_files(data, rng, rows=rng.choice([7, 60, 400, 3000]), files=rng.randrange(1, 4))
        pattern = str(data / "*.csv")
        by, agg = random_query(rng)
        workers = rng.randrange(1, 4)
        blocksize = rng.choice([None, 4096])
        table = pa.table(hd.groupby(pattern, by, agg, workers=workers, blocksize=blocksize))
        want = cli_answer(pattern, by, agg, workers)
        same_answer(table, want, f"case {case} ({by}, {agg})")
        # sort=False: the same groups, in the order the workers' tables held them.
        unsorted = pa.table(hd.groupby(pattern, by, agg, workers=workers, blocksize=blocksize, sort=False))
        same_answer(in_order_of(unsorted, want), want, f"case {case} ({by}, {agg}), sort=False")
    ok("answers equal the command line's on 12 random files and queries, sorted or not")


def in_order_of(table, rows):
    """`table`'s rows in the order of the command line's answer `rows`, matched by their keys
    (each key once): an answer in any order, put in key order to be compared."""
    keys = len([name for name in rows[0] if table.schema.field(name).type == pa.string()])
    where = {tuple(row[:keys]): i for i, row in enumerate(rows[1:])}
    got = list(zip(*(table.column(i).to_pylist() for i in range(keys))))
    order = sorted(range(table.num_rows), key=lambda r: where.get(got[r], -1))
    return table.take(order)


def arrow_consumers_take_it(folder):
    pattern = str(folder / "case3" / "*.csv")
    answer = hd.groupby(pattern, "k1", {"v1": ["sum", "mean"]})
    table = pa.table(answer)
    again = pa.table(answer)  # the answer can be read more than once
    if table != again or len(answer) != table.num_rows or answer.columns != table.column_names:
        fail("reading the answer twice, or its len and columns")
    schema = pa.schema(answer)
    if schema.field("k1").type != pa.string() or schema.field("v1_sum").type != pa.float64():
        fail(f"schema {schema}")
    reader = pa.RecordBatchReader.from_stream(answer)
    if reader.read_all() != table:
        fail("a RecordBatchReader from the stream")
    ok("pyarrow takes the answer as a table, a schema and a stream, any number of times")


def many_groups_come_as_record_batches(folder):
    """More groups than one piece of the engine's merge (65,536): the answer is a stream of
    several record batches of one schema - nullable where only the last piece holds a null - and
    it is the command line's, whether the groups stayed in memory or spilled to files."""
    data = folder / "many"
    data.mkdir()
    groups = 150_000
    with open(data / "many.csv", "w") as out:
        out.write("g,v\n")
        # The last group's only value is missing: its mean is null, in the last batch alone.
        out.writelines(f"g{i:07d},{'' if i == groups - 1 else i / 100}\n" for i in range(groups))
    pattern = str(data / "*.csv")
    agg = {"v": ["sum", "mean"]}
    want = cli_answer(pattern, ["g"], agg, 2)
    for memory_limit, sort in ((None, True), (1 << 20, True), (None, False), (1 << 20, False)):
        answer = hd.groupby(pattern, "g", agg, workers=2, memory_limit=memory_limit, sort=sort)
        batches = list(pa.RecordBatchReader.from_stream(answer))
        if len(batches) < 2 or len({b.schema for b in batches}) != 1:
            fail(f"{len(batches)} record batches, of {len({b.schema for b in batches})} schemas")
        if not pa.schema(answer).field("v_mean").nullable:
            fail("the mean's nulls: the schema allows them")
        if sort and batches[0].column("v_mean").null_count:
            fail("the mean's nulls: in key order, only the last batch has one")
        table = pa.Table.from_batches(batches)
        keys = table.column("g").to_pylist()
        if not sort and memory_limit is None and keys == sorted(keys):
            fail("sort=False: the groups in key order, not as the tables held them")
        same_answer(table if sort else in_order_of(table, want), want,
                    f"{groups} groups, memory_limit {memory_limit}, sort={sort}")
    ok(f"{groups:,} groups come as several record batches, in memory and spilled, sorted or not: the command line's answer")


def bad_arguments_say_what_and_where(folder):
    pattern = str(folder / "case0" / "*.csv")
    raises(FileNotFoundError, "no file matches", lambda: hd.groupby(str(folder / "none*.csv"), "k1", {"v1": "sum"}))
    raises(FileNotFoundError, "nothing.csv", lambda: hd.groupby(str(folder / "nothing.csv"), "k1", {"v1": "sum"}))
    raises(ValueError, 'no column "k9"', lambda: hd.groupby(pattern, "k9", {"v1": "sum"}))
    raises(ValueError, '"summ"', lambda: hd.groupby(pattern, "k1", {"v1": "summ"}))
    raises(ValueError, "agg", lambda: hd.groupby(pattern, "k1", "sum"))
    raises(TypeError, "by: a column name", lambda: hd.groupby(pattern, 3, {"v1": "sum"}))
    raises(TypeError, "agg: a dict", lambda: hd.groupby(pattern, "k1", 3))
    raises(TypeError, "files: a path", lambda: hd.groupby(3, "k1", {"v1": "sum"}))
    raises(ValueError, "memory_limit", lambda: hd.groupby(pattern, "k1", {"v1": "sum"}, memory_limit="5 parsecs"))
    raises(ValueError, "workers: 1 to", lambda: hd.groupby(pattern, "k1", {"v1": "sum"}, workers=0))
    raises(ValueError, "sep", lambda: hd.groupby(pattern, "k1", {"v1": "sum"}, sep=",,"))
    raises(TypeError, "sort: True or False, not str", lambda: hd.groupby(pattern, "k1", {"v1": "sum"}, sort="no"))
    ok("bad input: FileNotFoundError, ValueError and TypeError that name the argument")


def big_files(folder):
    """Enough rows for a run that takes a while: 200,000 groups of user ids."""
    data = folder / "big"
    data.mkdir()
    rng = random.Random(7)
    for f in range(4):
        with open(data / f"part{f}.csv", "w") as out:
            out.write("user,amount\n")
            out.writelines(f"u{rng.randrange(200_000):07d},{rng.randrange(10_000) / 100}\n" for _ in range(250_000))
    return str(data / "*.csv")


def threads_run_at_once(pattern):
    """Two Python threads calling groupby at once both get their answers, and while they run
    a third thread keeps counting: the GIL is released."""
    answers, ticks, running = {}, [0], [True]

    def count():
        while running[0]:
            ticks[0] += 1
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    calls = [
        threading.Thread(target=lambda i=i: answers.__setitem__(i, pa.table(hd.groupby(pattern, "user", {"amount": "sum"}, workers=1))))
        for i in range(2)
    ]
    started = time.perf_counter()
    for t in calls:
        t.start()
    for t in calls:
        t.join()
    took = time.perf_counter() - started
    running[0] = False
    counter.join()
    if len(answers) != 2 or answers[0] != answers[1]:
        fail("two threads calling groupby at once")
    if ticks[0] < 10 * took:  # a tick a millisecond: at most a hundredth of the time held
        fail(f"the counting thread ticked {ticks[0]} times in {took:.2f} s: the GIL was held")
    ok(f"the GIL is released: two threads called groupby at once and a third ticked {ticks[0]} times in {took:.2f} s")


def ctrl_c_interrupts_and_leaves_no_spill_folder(pattern, folder):
    spill = folder / "spill"
    spill.mkdir()
    # Python raises KeyboardInterrupt on SIGINT only where its parent left SIGINT alone: a
    # shell's background job ignores it, and so would this script - the handler made explicit.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # 64 kB for 200,000 groups: they spill; blocks of 64 kB make many ranges to stop between.
    run = lambda: hd.groupby(pattern, "user", {"amount": ["sum", "median"]}, workers=2, memory_limit=65536, blocksize=65536, spill_dir=spill)
    started = time.perf_counter()
    run()
    whole = time.perf_counter() - started
    running = threading.Event()
    running.set()
    # Ctrl-C 0.1 s in, unless the run is over by then (a Ctrl-C after it would land elsewhere).
    timer = threading.Timer(0.1, lambda: running.is_set() and os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    started = time.perf_counter()
    try:
        run()
    except KeyboardInterrupt:
        took = time.perf_counter() - started
    else:
        running.clear()
        fail(f"no KeyboardInterrupt: the run ended before Ctrl-C (it takes {whole:.2f} s)")
    timer.join()
    # Within a second, and well before the run would have ended: it stopped, not finished.
    if took > 0.1 + 1.0 or took > 0.1 + (whole - 0.1) / 2:
        fail(f"KeyboardInterrupt {took - 0.1:.2f} s after Ctrl-C, in a run of {whole:.2f} s")
    left = list(spill.iterdir())
    if left:
        fail(f"spill files left: {left}")
    ok(f"Ctrl-C raised KeyboardInterrupt {took - 0.1:.2f} s after it, in a run of {whole:.2f} s, and left no spill folder")


def docs_and_stubs():
    if "read_csv(files).groupby(by).agg(agg)" not in hd.groupby.__doc__:
        fail("groupby's docstring")
    # maturin installs the stubs (hpc_rs_dataflow.pyi) as the package's __init__.pyi.
    files = {pathlib.PurePosixPath(str(f)) for f in importlib.metadata.files("hpc-rs-dataflow")}
    package = pathlib.PurePosixPath("hpc_rs_dataflow")
    wanted = {package / name for name in ("__init__.pyi", "py.typed")}
    if not wanted <= files:
        fail(f"type stubs not installed: {sorted(map(str, files))}")
    if not hd.Answer.__doc__ or "pyarrow.table(answer)" not in hd.Answer.__doc__:
        fail("Answer's docstring")
    ok("docstrings, type stubs and py.typed are installed")


def main():
    with tempfile.TemporaryDirectory(prefix="hpc-rs-dataflow-module-") as scratch:
        folder = pathlib.Path(scratch)
        answers_equal_the_command_line_s(folder)
        arrow_consumers_take_it(folder)
        many_groups_come_as_record_batches(folder)
        bad_arguments_say_what_and_where(folder)
        pattern = big_files(folder)
        threads_run_at_once(pattern)
        ctrl_c_interrupts_and_leaves_no_spill_folder(pattern, folder)
        docs_and_stubs()
    print("all checks passed")


if __name__ == "__main__":
    main()

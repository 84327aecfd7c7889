# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # hpc-rs: the companion notebook
#
# The tutorial *High Performance Computing, distributed, concurrent and parallel programming in
# Python*, section by section: each section's Python cell as the tutorial has it (at a smaller
# size where it takes seconds), then the Rust that answers it - the Rust kernels imported as
# Python modules (`hpc_rs_numerics`, `hpc_rs_dataflow`), and, where the lesson is a Rust program,
# the `cargo run` command and what it prints. Every cell checks its answer with an `assert`.
#
# `notebook/run` executes it all from a fresh clone; `notebook/run --lab` opens it in JupyterLab
# with the packages and both modules installed.

# %%
import contextlib
import io
import json
import os
import pathlib
import shlex
import subprocess
import time

# The repository: the first folder up from here whose Cargo.toml is the workspace's.
ROOT = next(p for p in (pathlib.Path.cwd(), *pathlib.Path.cwd().parents)
            if (p / "Cargo.toml").is_file() and "[workspace]" in (p / "Cargo.toml").read_text())
# notebook/run builds every topic once, as `cargo test --workspace` builds them (in its test
# profile), and names the binaries here; by hand, the cells run `cargo run -p topic`.
BUILT = json.loads(os.environ.get("HPC_RS_TOPIC_BINARIES") or "{}")
# How the two modules were built, where notebook/run built them; otherwise pip's default.
MODULE_PROFILE = os.environ.get("HPC_RS_MODULE_PROFILE", "release (assumed: pip's default)")
CORES = len(os.sched_getaffinity(0))


def cargo_run(topic, *args, stdin=None):
    """`cargo run -p topic -- args` in the repository: its stdout, once it has succeeded."""
    print("$", shlex.join(["cargo", "run", "-p", topic, *(["--", *args] if args else [])]))
    program = [BUILT[topic]] if topic in BUILT else ["cargo", "run", "-q", "-p", topic, "--"]
    done = subprocess.run([*program, *args], cwd=ROOT, input=stdin, capture_output=True,
                          text=True)
    assert done.returncode == 0, f"exit status {done.returncode}:\n{done.stderr}"
    return done.stdout


def excerpt(text, first, lines=1):
    """Prints `lines` lines of `text` from the first that starts with `first`."""
    rows = text.splitlines()
    at = next(i for i, row in enumerate(rows) if row.lstrip().startswith(first))
    print("\n".join(rows[at:at + lines]))


def printed(call, *args):
    """The lines `call(*args)` printed - the tutorial's cells print their answers - shown too."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        call(*args)
    print(out.getvalue(), end="")
    return out.getvalue().splitlines()


def fastest(call, runs=3):
    """The fastest of `runs` calls, in seconds, and the last call's result."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return min(times), result


print(f"repository {ROOT}; {CORES} cores for this process")
if BUILT:
    print("The topics were built in the test profile, at opt-level 1: the times they print are "
          "not Rust's best; `cargo run -p X` compiles them at opt-level 3.")

# %% [markdown]
# ## 1.a Lambda expressions
#
# The tutorial's cells, each answer asserted:

# %%
# sqrt of a number  (the tutorial's comment: it squares)
my_sqr_func = lambda x: x*x
assert my_sqr_func(5) == 25
my_adder = lambda x,y : x+y
assert my_adder(3,4) == 7
my_list = [1, 2, 3, 4]
my_sqr_list = map(my_sqr_func, my_list)
assert list(my_sqr_list) == [1, 4, 9, 16]
my_str_list = ['hello', 'bye','Damn', 'Yolo']
my_filtered_list = list(filter(lambda x : len(x)%2 == 0,my_str_list))
assert my_filtered_list == ['Damn', 'Yolo']
my_dict_list = [{'Name':'lmn', 'Age':25}, {'Name':'shinchan','Age':12}, {'Name':'Himavari','Age':6}]
by_age = sorted(my_dict_list, key = lambda x : x['Age'])
by_name = sorted(my_dict_list, key = lambda x : x['Name'])
assert [d['Name'] for d in by_age] == ['Himavari', 'shinchan', 'lmn']
assert [d['Name'] for d in by_name] == ['Himavari', 'lmn', 'shinchan']
add_prefix = lambda suffix : (lambda my_str : my_str + ' ' + suffix)
add_world = add_prefix("World")
assert add_world("Hello") == 'Hello World'

# %% [markdown]
# In Rust a lambda is a closure, `|x| x * x`, and its type says what it does with what it
# captures: `Fn` reads it, `FnMut` changes it, `FnOnce` moves it away - which Python never asks.
# `map` and `filter` build lazy iterators there too. `lambdas` is the section, cell by cell:

# %%
out = cargo_run("lambdas")
assert "[1] square(5) = 25" in out
assert '[6] add_suffix("World")("Hello") = "Hello World"' in out
excerpt(out, "[1] square(5)", 3)
excerpt(out, "== The Rust twist", 4)

# %% [markdown]
# ## 1.b Comprehensions for speed ups

# %%
my_list = [1, 2, 3, 4, 5]
assert [elem*100 for elem in my_list] == [100, 200, 300, 400, 500]
assert {elem : elem*100 for elem in my_list} == {1: 100, 2: 200, 3: 300, 4: 400, 5: 500}

# %% [markdown]
# The tutorial's timing at a tenth of its 9,000,000, so that it takes a second:

# %%
N = 900_000
start = time.time()
new_list = []
for x in range(0,N):
    new_list.append(x**2)
end = time.time()
print("Time taken is {}".format(end-start))
assert len(new_list) == N and new_list[-1] == (N - 1)**2

start = time.time()
new_list = []
new_list = [elem**2 for elem in range(0,N)]
end = time.time()
print("Time taken is {}".format(end-start))
assert len(new_list) == N and new_list[-1] == (N - 1)**2

# %% [markdown]
# Rust's comprehension is an iterator chain ended by `collect`, which knows the length up front
# and allocates once. `comprehensions` times five ways to build the squares and says where the
# time goes (at the tutorial's 9 million, in the kernel's page faults more than in the loop):

# %%
out = cargo_run("comprehensions", "--size", "1e5", "--runs", "1")
assert "verified all five: length 100000, last element 9999800001" in out
excerpt(out, "== Timing", 7)

# %% [markdown]
# ## 1.c Generators & Iterators

# %%
class myIter:
    def __init__(self, start, final_n, multiplier):
        self.start = start
        self.final_n = final_n
        self.multiplier = multiplier

    def __iter__(self):
        self.curr_n = self.start
        return self

    def __next__(self):
        if self.curr_n <= self.final_n:
            multiple = self.curr_n
            self.curr_n += self.multiplier
            return multiple
        else:
            raise StopIteration

my_iter_init = myIter(1,100,5)
iter(my_iter_init)
assert next(my_iter_init) == 1

# %% [markdown]
# The tutorial's `[x for x in range(1,200000000000000000000000000000,5)]` ran until it was
# interrupted; it is not run here. The lazy iterator over the same range answers at once:

# %%
my_iter_init = myIter(1,200000000000000000000000000000,5)
iter(my_iter_init)
assert next(my_iter_init) == 1
next(my_iter_init)
next(my_iter_init)
assert next(my_iter_init) == 16

# %%
def my_gen():
    x = 5
    y = 6
    print("Processing Halted1")
    yield x,y
    print("Processing Resumed2")
    x += y
    print("Processing Halted2")
    yield x,y
    print("Processing Resumed3")
    x += 1
    y += 10
    print("Processing Halted3")
    yield x,y

pairs = []
for x,y in my_gen():
    print(x,y)
    pairs.append((x, y))
assert pairs == [(5, 6), (11, 6), (12, 16)]

# %% [markdown]
# `Iterator::next` is `__next__`, and `None` is `StopIteration`. Asked for that eager list, Rust
# refuses at once - 4x10^28 elements do not fit a `usize` - where Python froze. Stable Rust has no
# `yield`: a generator is written as the state machine it compiles to.

# %%
out = cargo_run("iterators", "--size", "1e5", "--runs", "1")
assert "[3] lazy myIter(1, 2x10^29, 5): next -> 1, three more -> 16" in out
excerpt(out, "[2] eager list", 4)
excerpt(out, "[3] lazy", 1)

# %% [markdown]
# ## Decorators

# %%
def my_simple_function():
    print("I am a normal function")

def my_decorator(my_fn):
    def wrapped_function():
        print("This is the start of decorated function!")
        my_fn()
        print("This is the end of decorated function!")
    return wrapped_function

yo_fn = my_decorator(my_simple_function)
assert printed(yo_fn) == ["This is the start of decorated function!",
                          "I am a normal function", "This is the end of decorated function!"]

@my_decorator
def my_new_function():
    print("I do nothing")

assert printed(my_new_function)[1] == "I do nothing"

# %%
def my_better_decorator(my_fn):
    def modified_function(*args, **kwargs):
        print("This is the start of decorated function!")
        my_fn(*args, **kwargs)
        print("This is the end of decorated function!")
    return modified_function

@my_better_decorator
def my_adder(x,y):
    print("Sum of x,y is {}".format(x + y))

assert printed(my_adder, 6, 7)[1] == "Sum of x,y is 13"

# %% [markdown]
# The timing decorator, at 1,000,000 where the tutorial built 100,000,000:

# %%
def time_decor(my_fun):
    def modified_func(*args, **kwargs):
        start = time.time()
        my_fun(*args, **kwargs)
        end = time.time()
        print("Time taken in seconds {}".format(end - start))
    return modified_func

@time_decor
def create_big_list(size):
    new_list = []
    for x in range(0,size):
        new_list.append(x)
    return new_list

@time_decor
def create_big_list_faster(size):
    return [x for x in range(0,size)]

# The tutorial's decorator drops what the function returns: nothing is left to check.
assert create_big_list(1_000_000) is None
assert create_big_list_faster(1_000_000) is None

# %% [markdown]
# A Rust decorator is a function from closure to closure, and `@` is an attribute macro
# (`#[decorate(time_decor)]`). Rust has no `*args`, so a decorator is generic over one argument;
# `decorators`' `time_decor` returns the list it timed, so it can be checked:

# %%
out = cargo_run("decorators", "--size", "1e5", "--runs", "1")
assert "verified: both lists have length 100000 and end with 99999" in out
excerpt(out, "[3] #[decorate(my_decorator)]", 4)
excerpt(out, "(the notebook's time_decor threw the list away", 1)

# %% [markdown]
# # 2. Parallel Programming in Python
# ## 2.a Threading module
#
# The tutorial's three sums, on three threads and one after another, at its length (the functions
# print; `printed` keeps what they print, to check it):

# %%
from threading import Thread

def simple_func(length):
    sum_f1 = 0
    for x in range(0,length):
        sum_f1 += x
    print("Normal sum of is {}".format(sum_f1))

def simple_sqrt(length):
    sum_f2 = 0
    for x in range(0,length):
        sum_f2 += x*x
    print("Square sum of is {}".format(sum_f2))

def simple_cubic(length):
    sum_f3 = 0
    for x in range(0,length):
        sum_f3 += x*x*x
    print("Cubic sum of is {}".format(sum_f3))

def do_threading(length = 1000000):
    thread_simple = Thread(target=simple_func, args=(length,))
    thread_sqrt = Thread(target=simple_sqrt, args=(length,))
    thread_cubic = Thread(target=simple_cubic, args=(length,))

    # Start your threads
    thread_simple.start()
    thread_sqrt.start()
    thread_cubic.start()

    # wait for the threads to finish
    thread_simple.join()
    thread_sqrt.join()
    thread_cubic.join()
def without_threading(length = 1000000):
    simple_func(length)
    simple_sqrt(length)
    simple_cubic(length)

SUMS = ["Normal sum of is 499999500000", "Square sum of is 333332833333500000",
        "Cubic sum of is 249999500000250000000000"]
threaded, lines = fastest(lambda: printed(do_threading), runs=1)
assert sorted(lines) == sorted(SUMS)  # the threads print in whatever order they end
alone, lines = fastest(lambda: printed(without_threading), runs=1)
assert lines == SUMS
print(f"three threads {threaded:.3f} s, one after another {alone:.3f} s")

# %% [markdown]
# Rust has no GIL: its threads run at once on as many cores as there are. The same three sums as
# the `numerics` kernel `three_sums`, from Python - exact, in u128 where the cube sum passes u64's
# 1.8x10^19 (Python's ints grow instead):

# %%
import hpc_rs_numerics as hn

took, sums = fastest(lambda: hn.three_sums(1_000_000))
assert sums == (499999500000, 333332833333500000, 249999500000250000000000)
print(f"hpc_rs_numerics.three_sums(1_000_000) = {sums} in {took * 1e3:.2f} ms "
      f"(built in the {MODULE_PROFILE} profile)")

# %% [markdown]
# `threading` is the section in Rust: `spawn` and `join`, `thread::scope` for threads that
# borrow, rayon, each against the closed forms:

# %%
out = cargo_run("threading", "--size", "1e5", "--runs", "1")
assert ("verified: every variant's sums equal the closed forms n(n-1)/2, (n-1)n(2n-1)/6, "
        "(n(n-1)/2)^2") in out
excerpt(out, "do_threading() - one thread per sum", 4)
excerpt(out, "the same with std::thread::scope", 1)

# %% [markdown]
# ## 2.b Threads with Locks

# %%
from threading import Thread,Lock
# define lock
thread_lock = Lock()

my_global_string = "Lmn"
global_check = True
def add_prefix(prefix_to_add):
    global my_global_string,global_check
    # Acquire the lock over the data shared between threads.
    thread_lock.acquire()
    global_check = False

    my_global_string = prefix_to_add + " " + my_global_string

    thread_lock.release()

def add_suffix(suffix_to_add):
    global my_global_string,global_check
    # Acquire the lock over the data shared between threads.
    thread_lock.acquire()
    #global_check = False
    if global_check:
        my_global_string =  my_global_string + " " + suffix_to_add

    thread_lock.release()


def do_threading():
    thread_prefix = Thread(target=add_prefix, args=("YOLO",))
    thread_suffix = Thread(target=add_suffix, args=(",Bye!!",))


    # Start your threads
    thread_prefix.start()
    thread_suffix.start()

    # wait for the threads to finish
    thread_prefix.join()
    thread_suffix.join()

    global my_global_string
    print("Final string is {}".format(my_global_string))

# The tutorial printed "YOLO Lmn"; which thread takes the lock first is not fixed, so either
# outcome can come.
assert printed(do_threading) in (["Final string is YOLO Lmn"], ["Final string is YOLO Lmn ,Bye!!"])

# %%
from threading import RLock,Lock
my_lock = RLock()
# my_lock = Lock()
# if you try it with lock it gets blocked and wont finish executing.
my_lock.acquire()
my_global = 'hello'

my_lock.acquire()
my_global = '2'+ 'hello'

assert my_global == '2hello'
my_lock.release()  # not in the tutorial: an RLock is released as often as it was taken
my_lock.release()

# %% [markdown]
# In Rust the lock owns the data (`Mutex<String>`): there is no way to reach the string without
# taking it, and forgetting to unlock is impossible - the guard unlocks when it goes out of scope.
# `locks` tallies the outcomes the tutorial's race can have, loses counter updates on purpose, and
# takes the RLock's place with parking_lot's `ReentrantMutex`:

# %%
out = cargo_run("locks", "--trials", "200", "--size", "1e4", "--runs", "1")
exact = [" ".join(row.split()[:2]) for row in out.splitlines() if row.endswith("of 20000: exact")]
assert {"atomic fetch_add", "Mutex<u64> locked", "per-thread sums"} <= set(exact), exact
assert 'Reentrant lock taken twice on one thread: "2hello"' in out
excerpt(out, "200 races (counts vary", 3)
excerpt(out, "atomic load then store (racy)", 4)
excerpt(out, "Reentrant lock taken twice", 2)

# %% [markdown]
# ## 2.c Global Interpreter Lock (GIL)
#
# CPython's GIL lets one thread run Python at a time; native code may let go of it while it
# computes (Python's docs: the glossary's *global interpreter lock*, and the C API's *Releasing
# the GIL from extension code*). Every `hpc_rs_numerics` function does (PyO3's
# `Python::detach`), so two Python threads
# calling `three_sums` are both inside it at once - which a call that held the GIL could never
# be: the second would begin only when the first had ended. Whether they also ran on two cores
# at once is the ratio printed below, which depends on the cores this machine gives them.

# %%
import threading

def timed_call(n, spans, slot):
    start = time.perf_counter()
    result = hn.three_sums(n)
    spans[slot] = (start, time.perf_counter(), result)

# A length that keeps one call busy for about 0.2 s on this machine, whatever its speed.
n = 1_000_000
while True:
    alone = [None]
    timed_call(n, alone, 0)
    if alone[0][1] - alone[0][0] > 0.2 or n > 2_000_000_000:
        break
    n *= 2

both = [None, None]
threads = [threading.Thread(target=timed_call, args=(n, both, slot)) for slot in (0, 1)]
start = time.perf_counter()
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
together = time.perf_counter() - start

(start_0, end_0, sums_0), (start_1, end_1, sums_1) = both
assert sums_0 == sums_1 == alone[0][2] == hn.three_sums(n)
inside_both = min(end_0, end_1) - max(start_0, start_1)
shorter = min(end_0 - start_0, end_1 - start_1)
assert inside_both > shorter / 2, f"inside together {inside_both:.3f} s of {shorter:.3f} s"
one = alone[0][1] - alone[0][0]
print(f"three_sums({n:_}): one call {one:.3f} s; two threads, a call each, {together:.3f} s, "
      f"inside it together for {inside_both:.3f} s: {2 * one / together:.2f}x the calls a "
      f"second of one thread, with {CORES} cores for this process")

# %% [markdown]
# `gil` simulates the GIL in Rust, with CPython's drop requests and switch interval: CPU-bound
# threads under it gain nothing, I/O-bound ones that release it overlap, and an I/O thread beside
# a CPU-bound one waits a switch interval a request (the convoy effect):

# %%
out = cargo_run("gil", "--size", "1e5", "--runs", "1", "--threads", "2")
assert "verified: every sum equals (n(n-1)/2)^2 = 24999500002500000000" in out
assert "GIL released while waiting" in out
excerpt(out, "CPU-bound:", 5)
excerpt(out, "I/O-bound:", 4)

# %% [markdown]
# ## 2.d MultiProcessing
#
# The tutorial's processes, with the same three functions as 2.a. They are forked, as they were on
# the tutorial's Linux: from Python 3.14 Linux's default is forkserver, whose server imports
# `__main__` again - here the kernel's, where these functions are not (Python's docs,
# Doc/library/multiprocessing.rst, "Contexts and start methods", 3.14). From 3.12 Python warns that
# forking a process with threads, as a kernel is, may deadlock the child (Doc/whatsnew/3.12.rst).

# %%
from multiprocessing import get_context

Process = get_context("fork").Process

def do_multi_processing():
    length = 5
    process_simple = Process(target = simple_func,args = (length,))
    process_square = Process(target = simple_sqrt,args = (length,))
    process_cubic = Process(target = simple_cubic,args = (length,))


    # Start your process
    process_simple.start()
    process_square.start()
    process_cubic.start()

    # wait for the processes to finish
    process_simple.join()
    process_square.join()
    process_cubic.join()
    return process_simple, process_square, process_cubic  # not in the tutorial: to check them


def nornal_sequentiial_fn():
    length = 5
    simple_func(length)
    simple_sqrt(length)
    simple_cubic(length)

took, processes = fastest(do_multi_processing, runs=1)
assert [p.exitcode for p in processes] == [0, 0, 0]
print(f"three processes: {took * 1e3:.1f} ms")
took, lines = fastest(lambda: printed(nornal_sequentiial_fn), runs=1)
assert lines == ["Normal sum of is 10", "Square sum of is 30", "Cubic sum of is 100"]
print(f"one after another: {took * 1e3:.3f} ms")

# %% [markdown]
# The children's sums never come back to the parent: each prints its own. `multiprocessing`
# forks with nix, sends each sum back through a pipe, shows that a child's memory is its own,
# and reaps every child, even on Ctrl-C:

# %%
out = cargo_run("multiprocessing", "--size", "1e5", "--runs", "1")
assert "    Normal child: exited with status 0, sent 10" in out
assert ("[5] separate memory: the child set counter = 99 (it sent back 99); the parent's counter "
        "is still 1") in out
excerpt(out, "Normal child: exited", 3)
excerpt(out, "[5] separate memory", 2)

# %% [markdown]
# # The takeaways the tutorial names
# ## 3 and 5: NumPy, SciPy, Cython and Numba
#
# `hpc_rs_numerics` holds the `numerics` lesson's kernels, built for Python by PyO3 and maturin:
# NumPy arrays in and out, every core, the GIL released. Beside NumPy and Numba, on small inputs
# (the times are this run's, the Rust kernels built in the profile printed with them):

# %%
import numba
import numpy as np

def distance_loops(X):
    n, dim = X.shape
    out = np.empty((n, n))
    for i in numba.prange(n):
        for j in range(n):
            s = 0.0
            for k in range(dim):
                d = X[i, k] - X[j, k]
                s += d * d
            out[i, j] = np.sqrt(s)
    return out

numba_distances = numba.njit(parallel=True)(distance_loops)
points = np.random.default_rng(7).random((400, 16))
numba_distances(points[:2])  # Numba compiles on the first call

rows = {
    "NumPy broadcasting": lambda: np.sqrt(((points[:, None, :] - points[None, :, :])**2).sum(-1)),
    "Numba parallel=True, prange": lambda: numba_distances(points),
    f"hpc_rs_numerics ({MODULE_PROFILE})": lambda: hn.pairwise_distances(points),
}
want = None
for label, call in rows.items():
    took, got = fastest(call)
    want = got if want is None else want
    assert got.shape == (400, 400) and np.allclose(got, want, rtol=1e-12, atol=1e-12), label
    print(f"{label:<45} {took * 1e3:8.2f} ms")

# %% [markdown]
# The Julia set of *High Performance Python*, chapter 2, and its checksum:

# %%
x1, x2, y1, y2 = -1.8, 1.8, -1.8, 1.8
c_real, c_imag = -0.62772, -0.42193

@numba.njit
def julia_loops(maxiter, xs, ys, cr, ci):
    w = xs.shape[0]
    output = np.empty(ys.shape[0] * w, np.int32)
    for j in range(ys.shape[0]):
        for i in range(w):
            zr, zi, n = xs[i], ys[j], 0
            while n < maxiter and zr * zr + zi * zi < 4.0:
                zr, zi = zr * zr - zi * zi + cr, 2.0 * zr * zi + ci
                n += 1
            output[j * w + i] = n
    return output

# The book's grid, by repeated addition of the step: 1000 x 1000 at width 1000.
x, y = [], []
xcoord, ycoord = x1, y2
while xcoord < x2:
    x.append(xcoord)
    xcoord += (x2 - x1) / 1000
while ycoord > y1:
    y.append(ycoord)
    ycoord += (y1 - y2) / 1000
xs, ys = np.array(x), np.array(y)
julia_loops(10, xs[:2], ys[:2], c_real, c_imag)  # compiled on the first call

took_numba, counts = fastest(lambda: julia_loops(300, xs, ys, c_real, c_imag))
took_rust, picture = fastest(lambda: hn.julia(1000, 300))
assert int(counts.sum()) == int(picture.sum()) == 33219980  # the book's checksum
print(f"Numba @njit, one core {took_numba * 1e3:.1f} ms; hpc_rs_numerics.julia, every core "
      f"({MODULE_PROFILE}) {took_rust * 1e3:.1f} ms")

# %% [markdown]
# Numba compiles the tutorial's sums with fixed-width integers that wrap on overflow (Numba's
# docs, docs/source/reference/pysemantics.rst, "Integer width"): at the tutorial's own length the
# cube sum passes 2**64 and Numba's answer is silently wrong. Rust's `three_sums` is exact;
# `three_sums_wrapping` does what Numba does, on purpose, and says so in its name. Both Numba's
# `nogil=True` and the Rust kernel let go of the GIL (Numba's docs, docs/source/user/jit.rst,
# "nogil").

# %%
@numba.njit(nogil=True)
def numba_three_sums(n):
    linear = square = cube = np.uint64(0)
    for i in range(n):
        x = np.uint64(i)
        linear += x
        square += x * x
        cube += x * x * x
    return linear, square, cube

exact = hn.three_sums(1_000_000)
wrapped = tuple(int(s) for s in numba_three_sums(1_000_000))
assert wrapped == hn.three_sums_wrapping(1_000_000) == tuple(s % 2**64 for s in exact)
assert wrapped[2] != exact[2]
print(f"cube sum: exact {exact[2]}, Numba's uint64 {wrapped[2]}")

# %% [markdown]
# `cargo run -p numerics -- --vs-python` times all of it - with SciPy's `cdist` and Cython too -
# at full size, on every core, in the dev profile.

# %% [markdown]
# ## 4: Dask, a group-by larger than memory
#
# `hpc_rs_dataflow` is the `dataflow` engine as a Python module: `groupby(files, by, agg)` reads
# CSV files cut into byte ranges, as Dask's `read_csv` does (its `blocksize`), on worker threads
# with the GIL released, within a memory budget (spilling to disk past it), and hands the answer
# over through the Arrow PyCapsule interface
# (arrow.apache.org/docs/format/CDataInterface/PyCapsuleInterface.html), which pyarrow, Polars and
# DuckDB take. Keys are text. A small data set of random keys and values, four files:

# %%
import glob
import shutil
import tempfile

folder = pathlib.Path(tempfile.mkdtemp(prefix="hpc-rs-notebook-"))
rng = np.random.default_rng(44)
for part in range(4):
    with open(folder / f"part-{part}.csv", "w") as f:
        f.write("id1,id2,v1,v3\n")
        for _ in range(2500):
            f.write(f"id{rng.integers(1, 13):03d},{rng.integers(1, 6)},{rng.integers(1, 6)},"
                    f"{rng.random() * 100:.6f}\n")
pattern = str(folder / "*.csv")
files = sorted(glob.glob(pattern))
assert len(files) == 4

# %% [markdown]
# pandas first, all in memory, as the reference every other answer must equal:

# %%
import pandas as pd

KEYS = {"id1": str, "id2": str}
frame = pd.concat(pd.read_csv(f, dtype=KEYS) for f in files)
want = (frame.groupby("id1")
        .agg(v1_sum=("v1", "sum"), v3_mean=("v3", "mean"), v3_std=("v3", "std"))
        .reset_index())

def same_as_pandas(got, label, want=want, keys=("id1",)):
    """`got`, any engine's answer as a pandas frame, equals pandas' to 1e-12."""
    got = got.sort_values(list(keys)).reset_index(drop=True)
    assert list(got.columns) == list(want.columns), (label, list(got.columns))
    for column in want.columns:
        if column in keys:
            assert got[column].astype(str).tolist() == want[column].tolist(), (label, column)
        else:
            assert np.allclose(got[column].astype(float), want[column].astype(float),
                               rtol=1e-12, atol=0), (label, column)
    print(f"{label}: {len(got)} groups, the same as pandas'")

print(want.head(3))

# %% [markdown]
# The Rust module, its answer taken by pyarrow and by Polars:

# %%
import hpc_rs_dataflow as hd
import polars as pl
import pyarrow as pa

answer = hd.groupby(pattern, "id1", {"v1": "sum", "v3": ["mean", "std"]})
table = pa.table(answer)
assert table.column_names == ["id1", "v1_sum", "v3_mean", "v3_std"]
assert table.column("id1").to_pylist() == sorted(table.column("id1").to_pylist())  # key order
same_as_pandas(table.to_pandas(), "hpc_rs_dataflow -> pyarrow")
same_as_pandas(pl.DataFrame(hd.groupby(files, "id1", {"v1": "sum", "v3": ["mean", "std"]}))
               .to_pandas(), "hpc_rs_dataflow -> Polars")

# %% [markdown]
# Its sums are exact (rounded once, as `math.fsum` rounds), so the answer is the same to the last
# bit on one worker or several:

# %%
on_one = pa.table(hd.groupby(pattern, "id1", {"v1": "sum", "v3": ["mean", "std"]}, workers=1))
on_two = pa.table(hd.groupby(pattern, "id1", {"v1": "sum", "v3": ["mean", "std"]}, workers=2))
assert on_one.equals(on_two) and on_one.equals(table)

# %% [markdown]
# Dask, Polars and DuckDB on the same files, each asserted equal to pandas':

# %%
import dask.dataframe as dd
import duckdb

dask_answer = (dd.read_csv(pattern, dtype=KEYS).groupby("id1")
               .agg(v1_sum=("v1", "sum"), v3_mean=("v3", "mean"), v3_std=("v3", "std"))
               .compute().reset_index())
same_as_pandas(dask_answer, "Dask")

polars_answer = (pl.scan_csv(pattern, schema_overrides={"id1": pl.Utf8, "id2": pl.Utf8})
                 .group_by("id1")
                 .agg(pl.col("v1").sum().alias("v1_sum"), pl.col("v3").mean().alias("v3_mean"),
                      pl.col("v3").std().alias("v3_std"))
                 .collect())
same_as_pandas(polars_answer.to_pandas(), "Polars")

duckdb_answer = duckdb.sql(
    "SELECT id1, sum(v1) AS v1_sum, avg(v3) AS v3_mean, stddev_samp(v3) AS v3_std "
    "FROM read_csv($pattern, types = {'id1': 'VARCHAR'}) GROUP BY id1",
    params={"pattern": pattern}).df()
same_as_pandas(duckdb_answer, "DuckDB")

# %% [markdown]
# Two keys and `size` (the rows of each group), and DuckDB querying the module's answer as it is
# (a Python variable that has `__arrow_c_stream__`):

# %%
want_two = (frame.groupby(["id1", "id2"])
            .agg(size=("v1", "size"), v3_min=("v3", "min"), v3_max=("v3", "max"),
                 v3_median=("v3", "median"))
            .reset_index())
two_keys = hd.groupby(pattern, ["id1", "id2"], ["size", {"v3": ["min", "max", "median"]}])
assert two_keys.columns == ["id1", "id2", "size", "v3_min", "v3_max", "v3_median"]
same_as_pandas(pa.table(two_keys).to_pandas(), "hpc_rs_dataflow, two keys", want_two,
               ("id1", "id2"))
biggest = duckdb.sql("SELECT id1, id2, size FROM two_keys ORDER BY size DESC, id1, id2 LIMIT 1")
assert biggest.fetchall()[0][2] == want_two["size"].max()

# %% [markdown]
# The same question from the command line, CSV to CSV, as `cargo run -p dataflow -- groupby`
# asks it - on threads here, and with `--processes` or `--hostfile` on several processes or
# machines:

# %%
out = cargo_run("dataflow", "groupby", pattern, "--by", "id1", "--agg", "v1:sum",
                "--agg", "v3:mean,std")
same_as_pandas(pd.read_csv(io.StringIO(out), dtype=KEYS), "dataflow groupby (command line)")
print("\n".join(out.splitlines()[:3]))
shutil.rmtree(folder)  # the data set's files

# %% [markdown]
# ## 6: reactive applications
#
# RxPY's operators as tokio streams, in virtual time (tokio's paused clock), so each operator's
# output is exact to the millisecond; `cargo run -p reactive -- replay` runs any script through any
# chain, and `--vs-python` checks it against RxPY:

# %%
out = cargo_run("reactive", "--size", "1e5", "--runs", "1")
assert "verified: both end at the closed form 3m(m-1) = 7499850000, m = ceil(n/2)" in out
excerpt(out, "source ", 1)
excerpt(out, "debounce(100)", 4)

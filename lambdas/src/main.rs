//! Notebook section 1.a, "Lambda Expressions", as Rust closures.
//!
//! Run: `cargo run -p lambdas`. Each notebook cell is one function below, in notebook order;
//! then the Rust twist: how a closure captures, what type it has, and why iterators are lazy.

use std::cell::Cell;

use clap::Parser;
use timing::say;

/// Section 1.a of the notebook (lambdas, map, filter, sorted, nested lambdas, reduce) in Rust.
#[derive(Parser)]
#[command(about, long_about = None)]
struct Args {
    /// Not taken: this topic times nothing (accepted only to say so).
    #[arg(long, hide = true, allow_hyphen_values = true)]
    size: Option<String>,
    /// Not taken: this topic times nothing (accepted only to say so).
    #[arg(long, hide = true, allow_hyphen_values = true)]
    runs: Option<String>,
}

fn main() {
    let args = timing::cli::parse::<Args>();
    for (flag, given) in [("--size", &args.size), ("--runs", &args.runs)] {
        if given.is_some() {
            timing::cli::usage_error(format!(
                "{flag}: lambdas times nothing, so it takes no {flag} (the timed topics do)"
            ));
        }
    }
    say!("== 1.a Lambda expressions -> Rust closures");
    square_cell();
    adder_cell();
    map_cell();
    filter_cell();
    sort_cell();
    nested_cell();
    reduce_cell();

    say!();
    say!("== The Rust twist");
    capture_modes();
    closure_types();
    lazy_iterators();
    sort_by_key_or_cmp();
}

/// `my_sqr_func = lambda x: x*x`. The notebook comments it "sqrt of a number", but it squares,
/// so here it is named for what it does.
fn square_cell() {
    let square = |x: i64| x * x;
    let result = square(5);
    assert_eq!(result, 25);
    say!("[1] square(5) = {result}    (notebook: my_sqr_func, commented \"sqrt\" but it squares)");
}

/// `my_adder = lambda x, y: x + y`, with no types written, as in Python. A closure's argument
/// types are inferred from its first use and then fixed: `add(3, 4)` makes `x` and `y` `i32`
/// (an integer literal's type when nothing else decides it). The Python lambda adds floats or
/// strings next as readily; here a second use with another type does not compile, though the
/// same closure first used with floats would add them:
///     add(0.5, 0.25);
///     // error[E0308]: arguments to this function are incorrect:
///     //               expected integer, found floating-point number
/// (A `fn` must write its argument types; only closures infer them.)
fn adder_cell() {
    let add = |x, y| x + y;
    let result = add(3, 4);
    assert_eq!(result, 7_i32);
    say!("[2] add(3, 4) = {result}");
    say!(
        "    (no types written: that first call made x and y i32, so add(0.5, 0.25) would not compile)"
    );
}

/// `list(map(my_sqr_func, my_list))`: `map` is lazy in both languages; `collect` plays `list`.
fn map_cell() {
    let numbers = [1, 2, 3, 4];
    let squares: Vec<i64> = numbers.iter().map(|&x| square(x)).collect();
    assert_eq!(squares, [1, 4, 9, 16]);
    say!("[3] map square over {numbers:?} = {squares:?}");
}

/// `list(filter(lambda x: len(x) % 2 == 0, my_str_list))`.
fn filter_cell() {
    let words = ["hello", "bye", "Damn", "Yolo"];
    let even_length: Vec<&str> = words.into_iter().filter(|w| w.len() % 2 == 0).collect();
    assert_eq!(even_length, ["Damn", "Yolo"]);
    say!("[4] filter even length from {words:?} = {even_length:?}");
}

/// `sorted(my_dict_list, key=lambda x: x['Age'])`, then by name. The notebook shows only the
/// second result (a cell displays its last value); both are printed here.
fn sort_cell() {
    let mut people = notebook_people();
    people.sort_by_key(|p| p.age);
    assert_eq!(names(&people), ["Himavari", "shinchan", "lmn"]);
    say!("[5] sorted by age  = {people:?}");

    // Strings compare byte by byte, as in Python: 'H' (72) < 'l' (108) < 's' (115).
    people.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(names(&people), ["Himavari", "lmn", "shinchan"]);
    say!("    sorted by name = {people:?}");
}

/// `add_prefix = lambda suffix: (lambda my_str: my_str + ' ' + suffix)`. The notebook calls it
/// `add_prefix`, but what it adds is a suffix.
fn nested_cell() {
    let add_world = add_suffix("World");
    let result = add_world("Hello");
    assert_eq!(result, "Hello World");
    say!("[6] add_suffix(\"World\")(\"Hello\") = {result:?}");
    say!("    (the notebook calls it add_prefix, but it appends: \"Hello\" + \" \" + \"World\")");
}

/// `functools.reduce`, which the notebook names but never shows. Rust's `reduce` returns `None`
/// on an empty list where Python raises `TypeError`; `fold` takes a start value instead, and
/// `sum`/`product` are the common folds by name.
fn reduce_cell() {
    let numbers = [1, 2, 3, 4];
    let sum = numbers.into_iter().reduce(|acc, x| acc + x);
    let product = numbers.into_iter().reduce(|acc, x| acc * x);
    assert_eq!((sum, product), (Some(10), Some(24)));
    assert_eq!((numbers.iter().sum::<i64>(), numbers.iter().product::<i64>()), (10, 24));
    let empty: [i64; 0] = [];
    assert_eq!(empty.into_iter().reduce(|acc, x| acc * x), None);
    say!(
        "[7] reduce over {numbers:?}: sum = {}, product = {}",
        sum.unwrap_or(0),
        product.unwrap_or(0)
    );
}

/// A closure borrows what it uses, borrows it mutably, or takes it (`move`); that choice
/// decides which of the traits `Fn`, `FnMut`, `FnOnce` it implements. Python lambdas always
/// hold references to the enclosing variables, so none of this is visible there.
fn capture_modes() {
    let greeting = String::from("Hello");
    let greet = |name: &str| format!("{greeting} {name}"); // borrows `greeting`: Fn
    let twice = call_twice(|| greet("Lmn"));
    say!("Fn     (shared borrow, call any number of times): {twice:?}");

    let mut ticks = 0;
    let mut tick = || ticks += 1; // mutates `ticks`: FnMut, needs `let mut tick`
    tick();
    tick();
    assert_eq!(ticks, 2);
    say!("FnMut  (mutable borrow, one caller at a time):    ticks = {ticks}");

    let names = vec![String::from("shinchan"), String::from("Himavari")];
    let hand_over = move || names; // gives its captured Vec away: FnOnce
    let taken = hand_over();
    // hand_over(); // error[E0382]: use of moved value: `hand_over`
    assert_eq!(taken.len(), 2);
    say!("FnOnce (moves its capture out, callable once):    {taken:?}");
}

/// Every closure has its own anonymous type. A function returns one as `impl Fn` (see
/// `add_suffix`); different closures in one `Vec` need a box: `Box<dyn Fn>`.
fn closure_types() {
    let offset = 10;
    type Operation = Box<dyn Fn(i64) -> i64>;
    let operations: Vec<(&str, Operation)> = vec![
        ("square", Box::new(square)),
        ("double", Box::new(|x| 2 * x)),
        ("add 10", Box::new(move |x| x + offset)),
    ];
    let results: Vec<String> =
        operations.iter().map(|(name, op)| format!("{name}(5) = {}", op(5))).collect();
    assert_eq!(results, ["square(5) = 25", "double(5) = 10", "add 10(5) = 15"]);
    say!("Box<dyn Fn> lets one Vec hold different closures: {}", results.join(", "));
}

/// An iterator chain does nothing until something consumes it (`collect`, `sum`, `for`).
fn lazy_iterators() {
    let calls = Cell::new(0);
    let chain = [1, 2, 3, 4].into_iter().map(|x| {
        calls.set(calls.get() + 1);
        x * x
    });
    let before = calls.get();
    let total: i64 = chain.sum();
    assert_eq!((before, calls.get(), total), (0, 4, 30));
    say!("Lazy: building the map chain ran the closure {before} times; sum() ran it 4 times");
}

/// `sort_by_key` wants a key it can return by value. An `age` is copied out; a `name` cannot be
/// borrowed out of the element the key closure was lent:
///     people.sort_by_key(|p| &p.name); // error: lifetime may not live long enough
/// So compare in place with `sort_by` and `cmp` (no allocation), or clone each key with
/// `sort_by_cached_key(|p| p.name.clone())` (one allocation per element).
fn sort_by_key_or_cmp() {
    let mut by_cmp = notebook_people();
    by_cmp.sort_by(|a, b| a.name.cmp(&b.name));
    let mut by_cloned_key = notebook_people();
    by_cloned_key.sort_by_cached_key(|p| p.name.clone());
    assert_eq!(by_cmp, by_cloned_key);
    say!(
        "sort_by(|a, b| a.name.cmp(&b.name)) == sort_by_cached_key(|p| p.name.clone()): {:?}",
        names(&by_cmp)
    );
}

// ---- helpers ----

#[derive(Debug, Clone, PartialEq)]
struct Person {
    name: String,
    age: u32,
}

fn notebook_people() -> Vec<Person> {
    [("lmn", 25), ("shinchan", 12), ("Himavari", 6)]
        .into_iter()
        .map(|(name, age)| Person { name: name.to_owned(), age })
        .collect()
}

fn names(people: &[Person]) -> Vec<&str> {
    people.iter().map(|p| p.name.as_str()).collect()
}

fn square(x: i64) -> i64 {
    x * x
}

/// Returns a closure that appends `suffix`. `move` hands the closure its own copy of `suffix`,
/// which must outlive this call; `impl Fn` names the closure's otherwise unnameable type.
fn add_suffix(suffix: &str) -> impl Fn(&str) -> String {
    let suffix = suffix.to_owned();
    move |text| format!("{text} {suffix}")
}

fn call_twice(f: impl Fn() -> String) -> String {
    let first = f();
    assert_eq!(first, f());
    first
}

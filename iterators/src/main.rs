//! Notebook section 1.c, "Generators & Iterators": the notebook's `myIter` as a Rust `Iterator`,
//! the eager list that froze the notebook, the lazy one that did not, and `my_gen` written as the
//! state machine a generator compiles to.
//!
//! Run: `cargo run -p iterators` (option: `--size N` for the lazy-versus-eager memory cell).

use std::hint::black_box;
use std::iter;

use clap::Parser;
use num_bigint::BigUint;
use num_traits::CheckedAdd;
use timing::chart::{Figure, Picture};
use timing::{cli, say};

/// Section 1.c of the notebook: iterators, laziness, overflow and generators.
#[derive(Parser)]
#[command(about, long_about = None)]
struct Args {
    /// Length of the lazy-versus-eager sum of squares, the timed workload (8 bytes a number
    /// when collected).
    #[arg(long, default_value_t = 100_000_000, value_parser = cli::positive::<u64>,
          allow_hyphen_values = true)]
    size: u64,
    #[command(flatten)]
    timed: cli::Timed,
}

fn main() {
    let args = cli::parse::<Args>();
    // Squares must fit u64 (x < 2^32) and the collected Vec must fit in memory.
    if args.size > 1 << 32 {
        cli::usage_error(format!("--size {}: squares past 2^32 do not fit u64", args.size));
    }
    let bytes = u128::from(args.size) * 8;
    cli::check_memory(bytes, &format!("--size {}", args.size))
        .unwrap_or_else(|e| cli::usage_error(e));

    let picture = Picture::for_svg(&args.timed.svg).unwrap_or_else(|e| cli::usage_error(e));
    say!("== 1.c Iterators and generators");
    my_iter_cell();
    eager_list_cell();
    lazy_iter_cell();
    past_u128_cell();
    say!();
    generator_cell();
    say!();
    let mut figure = Figure::new("iterators: lazy and eager");
    lazy_versus_eager_memory(args.size, args.timed.runs.get(), &mut figure);
    if let Some(picture) = picture {
        figure.save(picture).unwrap_or_else(|e| cli::fail(e));
    }
}

/// `myIter(1, 100, 5)`: `iter()` then `next()` gives 1. Python's `__iter__` is Rust's
/// `IntoIterator::into_iter` (here: `MyIter::into_iter`), `__next__` is `Iterator::next`, and
/// `raise StopIteration` is returning `None`.
fn my_iter_cell() {
    let mut multiples = MyIter::new(1u64, 100, 5).into_iter();
    let first = multiples.next();
    assert_eq!(first, Some(1));
    say!("[1] next(myIter(1, 100, 5)) = {}", first.unwrap_or_default());
    let all: Vec<u64> = MyIter::new(1, 100, 5).into_iter().collect();
    assert_eq!((all.len(), all.last()), (20, Some(&96)));
    say!("    the whole sequence: {all:?}");
    say!("    (__iter__ is IntoIterator::into_iter, __next__ is Iterator::next,");
    say!("    StopIteration is None)");
}

/// `myIter(start, final_n, multiplier)`: a description of a sequence, like a Python iterable.
struct MyIter<T> {
    start: T,
    final_n: T,
    multiplier: T,
}

impl<T> MyIter<T> {
    fn new(start: T, final_n: T, multiplier: T) -> Self {
        MyIter { start, final_n, multiplier }
    }
}

/// `__iter__`: make the cursor that walks the sequence.
impl<T: Clone + PartialOrd + CheckedAdd> IntoIterator for MyIter<T> {
    type Item = T;
    type IntoIter = Multiples<T>;
    fn into_iter(self) -> Multiples<T> {
        Multiples { current: Some(self.start), final_n: self.final_n, multiplier: self.multiplier }
    }
}

/// The cursor. `current` becomes `None` past `final_n` or when the next value would overflow T.
struct Multiples<T> {
    current: Option<T>,
    final_n: T,
    multiplier: T,
}

/// `__next__`: return the current multiple and step on; `None` plays `raise StopIteration`.
impl<T: Clone + PartialOrd + CheckedAdd> Iterator for Multiples<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        let multiple = self.current.take().filter(|n| *n <= self.final_n)?;
        self.current = multiple.checked_add(&self.multiplier);
        Some(multiple)
    }
}

/// `[x for x in range(1, 200000000000000000000000000000, 5)]` never finished. 2x10^29 does not
/// fit u64 (at most 1.8x10^19), so Rust needs u128 - and then the list cannot exist: its
/// length, 4x10^28, does not fit `usize`, the type of every length and index. Two refusals,
/// both at once: this program's own check of the length, and what a real `collect()` does,
/// shown by catching it - it panics with "capacity overflow" before allocating anything, since
/// its size hint (the range's length, saturated at `usize::MAX`, divided by the step) already
/// asks for more than `isize::MAX` bytes.
fn eager_list_cell() {
    let (start, end, step) = (1u128, 200_000_000_000_000_000_000_000_000_000u128, 5u128);
    let count = (end - start).div_ceil(step);
    let bytes = count.checked_mul(16).expect("4x10^28 x 16 fits u128");
    assert!(usize::try_from(count).is_err(), "no usize holds 4x10^28");
    say!(
        "[2] eager list of range(1, 2x10^29, 5): {} u128 numbers, {} bytes",
        scientific(count),
        scientific(bytes)
    );
    say!(
        "    this program's check: {} elements do not fit usize (at most {})",
        scientific(count),
        scientific(usize::MAX as u128)
    );
    let numbers = (start..end).step_by(5);
    let hint = numbers.size_hint().0;
    let message = panic_message_of(|| numbers.collect::<Vec<u128>>().len());
    assert_eq!(message.as_deref(), Some("capacity overflow"), "collect's own refusal");
    say!(
        "    (start..end).step_by(5).collect(): panics at once, \"capacity overflow\" (caught here):"
    );
    say!(
        "    its size hint, {} elements (usize::MAX / 5), already needs more than isize::MAX",
        scientific(hint as u128)
    );
    say!(
        "    bytes; nothing was allocated. (2x10^29 needs u128: u64 stops at 1.8x10^19, and Rust's"
    );
    say!("    integers do not grow like Python's.)");
}

/// The same range, lazily: nothing is computed until `next` asks. 1, then 6, 11, 16.
fn lazy_iter_cell() {
    let mut lazy = MyIter::new(1u128, 200_000_000_000_000_000_000_000_000_000, 5).into_iter();
    let first = lazy.next();
    let fourth = lazy.nth(2); // `nth(2)` skips two, as the notebook's two extra `next` calls
    assert_eq!((first, fourth), (Some(1), Some(16)));
    say!(
        "[3] lazy myIter(1, 2x10^29, 5): next -> {}, three more -> {}",
        first.unwrap_or_default(),
        fourth.unwrap_or_default()
    );
}

/// Python's ints never overflow; Rust's have a width. The iterator is generic, so it runs on
/// u64 (and stops instead of wrapping at the top) and on `BigUint`, past u128's 3.4x10^38.
fn past_u128_cell() {
    let near_top: Vec<u64> = MyIter::new(u64::MAX - 7, u64::MAX, 5).into_iter().collect();
    assert_eq!(near_top, [u64::MAX - 7, u64::MAX - 2]);
    say!("[4] u64 near its maximum stops instead of overflowing: {near_top:?}");
    let start = BigUint::from(10u32).pow(40) + 1u32;
    assert!(u128::try_from(&start).is_err(), "10^40 does not fit u128");
    let end = &start + 20u32;
    let big: Vec<BigUint> = MyIter::new(start, end, BigUint::from(5u32)).into_iter().collect();
    let printed: Vec<String> = big.iter().map(ToString::to_string).collect();
    assert_eq!(
        printed.last().map(String::as_str),
        Some("10000000000000000000000000000000000000021")
    );
    say!("    BigUint from 10^40 + 1 (past u128), step 5:");
    for value in printed {
        say!("      {value}");
    }
}

/// `for x, y in my_gen(): print(x, y)`, with the generator's own prints interleaved with the
/// loop's, exactly as the notebook printed them. Stable Rust has no `yield`, so `my_gen` is
/// written twice: as the state machine a generator compiles to, and with `iter::from_fn`.
fn generator_cell() {
    say!("[5] my_gen as an enum state machine (stable Rust has no `yield`; this is what one");
    say!("    compiles to):");
    for (x, y) in MyGen::Start {
        say!("{x} {y}");
    }
    say!("    my_gen with iter::from_fn:");
    for (x, y) in my_gen_from_fn() {
        say!("{x} {y}");
    }
}

/// `my_gen` as a state machine: each variant is a point where the generator is suspended,
/// holding the locals it still needs. This is what the compiler builds from a `gen` block:
///
/// ```text
/// // nightly Rust (#![feature(gen_blocks)]):
/// let my_gen = gen {
///     let (mut x, mut y) = (5, 6);
///     println!("Processing Halted1");
///     yield (x, y);
///     println!("Processing Resumed2");
///     x += y;
///     println!("Processing Halted2");
///     yield (x, y);
///     ...
/// };
/// ```
enum MyGen {
    Start,
    AfterFirst { x: i64, y: i64 },
    AfterSecond { x: i64, y: i64 },
    Done,
}

impl Iterator for MyGen {
    type Item = (i64, i64);
    fn next(&mut self) -> Option<(i64, i64)> {
        let (state, item) = match *self {
            MyGen::Start => {
                let (x, y) = (5, 6);
                say!("Processing Halted1");
                (MyGen::AfterFirst { x, y }, Some((x, y)))
            }
            MyGen::AfterFirst { x, y } => {
                say!("Processing Resumed2");
                let x = x + y;
                say!("Processing Halted2");
                (MyGen::AfterSecond { x, y }, Some((x, y)))
            }
            MyGen::AfterSecond { x, y } => {
                say!("Processing Resumed3");
                let (x, y) = (x + 1, y + 10);
                say!("Processing Halted3");
                (MyGen::Done, Some((x, y)))
            }
            MyGen::Done => (MyGen::Done, None),
        };
        *self = state;
        item
    }
}

/// The same generator as a closure: the captured `step`, `x` and `y` are its suspended state.
fn my_gen_from_fn() -> impl Iterator<Item = (i64, i64)> {
    let (mut step, mut x, mut y) = (0, 5, 6);
    iter::from_fn(move || {
        step += 1;
        match step {
            1 => say!("Processing Halted1"),
            2 => {
                say!("Processing Resumed2");
                x += y;
                say!("Processing Halted2");
            }
            3 => {
                say!("Processing Resumed3");
                x += 1;
                y += 10;
                say!("Processing Halted3");
            }
            _ => return None,
        }
        Some((x, y))
    })
}

/// The sum of squares over 0..size through a lazy chain and through a collected `Vec`: the
/// same result, about 0 MB against 8 bytes a number.
fn lazy_versus_eager_memory(size: u64, runs: usize, figure: &mut Figure) {
    let warmup = timing::after_warmup(runs);
    say!("[6] sum of squares of 0..{size}, lazy chain against collected Vec ({warmup}):");
    let expected = {
        let n = u128::from(size);
        (n - 1) * n * (2 * n - 1) / 6
    };
    // A warm-up run first: a process's first touch of fresh memory can cost several times
    // more (a virtual machine backing its pages), which is not what this cell is about.
    let ((lazy, lazy_time), lazy_peak) = timing::machine::peak_memory_growth(|| {
        timing::measure(runs, || (0..size).map(|x| u128::from(black_box(x) * x)).sum::<u128>())
    });
    let ((eager, eager_time), eager_peak) = timing::machine::peak_memory_growth(|| {
        timing::measure(runs, || {
            let squares: Vec<u64> = (0..size).map(|x| black_box(x) * x).collect();
            squares.iter().map(|&s| u128::from(s)).sum::<u128>()
        })
    });
    assert_eq!((lazy, eager), (expected, expected));
    figure.panel(format!("[6] sum of squares of 0..{size}"));
    figure.baseline("lazy chain", &lazy_time);
    figure.bar("collected Vec", &eager_time);
    say!("    {}", lazy_time.baseline_line("lazy chain"));
    say!("        sum {lazy}, peak memory {}", megabytes(lazy_peak));
    say!("    {}  {}", eager_time.line("collected Vec"), eager_time.speedup_over(&lazy_time));
    say!("        sum {eager}, peak memory {}", megabytes(eager_peak));
    say!("    (both equal (n-1)n(2n-1)/6; the Vec needs 8 bytes for each of the {size} numbers)");
}

// ---- helpers ----

/// The message `work` panics with, caught (and kept off stderr); `None` if it returns.
fn panic_message_of<T>(work: impl FnOnce() -> T) -> Option<String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {})); // the panic is on purpose: keep stderr tidy
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    std::panic::set_hook(hook);
    let payload = caught.err()?;
    let text = payload.downcast_ref::<&str>().map(|s| (*s).to_owned());
    Some(text.or_else(|| payload.downcast_ref::<String>().cloned()).unwrap_or_default())
}

/// A large number as a person reads it, to two significant digits: `6.4x10^29`, `4x10^28`.
fn scientific(n: u128) -> String {
    if n < 1_000_000 {
        return n.to_string();
    }
    // Two significant digits are all a reader takes in; f64 holds them exactly enough.
    #[allow(clippy::cast_precision_loss)]
    let text = format!("{:.1e}", n as f64);
    text.replace(".0e", "e").replace('e', "x10^")
}

fn megabytes(bytes: Option<u64>) -> String {
    bytes.map_or("unknown on this system".to_owned(), |b| format!("{:.1} MB", b as f64 / 1e6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_numbers_print_in_scientific_notation() {
        assert_eq!(scientific(640_000_000_000_000_000_000_000_000_000), "6.4x10^29");
        assert_eq!(scientific(40_000_000_000_000_000_000_000_000_000), "4x10^28");
        assert_eq!(scientific(1_960_000), "2x10^6");
        assert_eq!(scientific(999_999), "999999");
    }
}

//! A group's aggregates, kept so that partial answers - one worker's, one spill file's - can be
//! merged in any order with the same result, and printed as pandas prints them.
//!
//! A float sum depends on the order of its additions, so the same data split among 1 worker,
//! 2 threads or 2 processes would give sums differing in the last digits. Sums are therefore
//! kept exactly and rounded once, when printed, as Python's `math.fsum` rounds: the answer is
//! the same however the rows were shared out. A value is an integer times a power of two, so
//! an exact sum is an integer too: [`Exact`] keeps it in a fixed 128 or 256 bits - no heap,
//! 24 or 40 bytes a group - and only a group whose values span more than that (1e-300 beside
//! 1e300, an infinity) moves to [`ExactSum`], which grows as it needs. The variance comes
//! from the exact sums of the values and of their squares (each square its mantissa squared,
//! exactly), in integers, so that no digit cancels: the same to the last digit on any split.

use num_bigint::{BigInt, BigUint, Sign};

use crate::query::Func;
use crate::wire::{Put, Reader};

/// A value column's sum: 128 bits.
pub type Sum = Exact<2>;
/// A value column's sum of squares: 256 bits, since a square has twice a value's digits.
pub type Squares = Exact<4>;

/// An exact sum: `limbs` (two's complement, least significant first) times 2^`lsb`, or, where
/// that cannot hold it, a growing [`ExactSum`].
#[derive(Clone, Debug, PartialEq)]
pub enum Exact<const L: usize> {
    /// The usual kind: the integer in `L` limbs of 64 bits, held in place (no heap).
    Fixed {
        /// The integer, two's complement, least significant limb first.
        limbs: [u64; L],
        /// The exponent of the integer's lowest bit; `i16::MAX` (`NO_VALUE`) until a value
        /// other than +0.0 is added.
        lsb: i16,
        /// A +0.0 was added (the sum of zeros alone is -0.0 only when every zero was -0.0).
        positive_zero: bool,
    },
    /// The growing kind, on the heap: a sum whose values span more than the limbs hold, or
    /// that was given -0.0, an infinity or NaN.
    Big(Box<ExactSum>),
}

/// `lsb` before any value but zeros was added.
const NO_VALUE: i16 = i16::MAX;

impl<const L: usize> Default for Exact<L> {
    fn default() -> Self {
        Exact::Fixed { limbs: [0; L], lsb: NO_VALUE, positive_zero: false }
    }
}

impl<const L: usize> Exact<L> {
    /// The widest integer kept before it moves to [`ExactSum`]: three bits short of the
    /// limbs, so that the sum of two such never overflows.
    #[allow(clippy::cast_possible_truncation)] // L is 2 or 4
    const ROOM: u32 = 64 * L as u32 - 3;

    /// Adds `x` exactly: the usual case - a normal value no finer than the sum's lowest bit
    /// (or finer only in trailing zeros), the sum far from the top - as one 128-bit addition,
    /// read straight from the float's bits; any other by `Exact::add_any`.
    #[inline]
    pub fn add(&mut self, x: f64) {
        if let Exact::Fixed { limbs, lsb, .. } = self {
            // The first value: the sum is x, as [`split`] gives it - an odd integer times a
            // power of two, no finer than it must be, so that a sum of a few values at one
            // scale still fits a float (9 bytes on the wire) and the limbs' room is kept.
            if *lsb == NO_VALUE
                && let Some((negative, mantissa, exponent)) = split(x)
            {
                let m = i128::from(mantissa);
                (*limbs, *lsb) = (from_i128(if negative { -m } else { m }), exponent);
                return;
            }
            let bits = x.to_bits();
            let biased = i32::from(u16::try_from((bits >> 52) & 0x7ff).expect("11 bits"));
            if biased != 0 && biased != 0x7ff && *lsb != NO_VALUE {
                // x = mantissa × 2^(biased - 1075), the mantissa's top bit implied.
                let mantissa = bits & ((1 << 52) - 1) | 1 << 52;
                let shift = biased - 1075 - i32::from(*lsb);
                let term = if (0..64).contains(&shift) {
                    Some(i128::from(mantissa) << shift) // below 2^117
                } else if (-52..0).contains(&shift)
                    && mantissa.trailing_zeros() >= shift.unsigned_abs()
                {
                    Some(i128::from(mantissa >> shift.unsigned_abs()))
                } else {
                    None
                };
                if let Some(term) = term
                    && let Some(sum) = as_i128(limbs)
                {
                    *limbs = from_i128(if bits >> 63 == 1 { sum - term } else { sum + term });
                    return;
                }
            }
        }
        self.add_any(x);
    }

    /// Adds `x`^2 exactly. The usual case - a square that is a normal float, no finer than
    /// the sum's lowest bit and far from the top - as one addition of its mantissa squared
    /// (below 2^106) at twice its exponent, into three limbs; any other as two floats, the
    /// nearest to it and that rounding's error (`mul_add`: exact), each by [`Exact::add`].
    /// The two ways give the same sum: the squares' exact sum, however they reach it (the
    /// state may differ in its record of a +0.0 added - the second float of an exact square -
    /// and so in its bytes on the wire, never in its value). The two floats went through
    /// [`Exact::add_any`] for every value: db-benchmark's q6, a median and a std, took
    /// 1.10-1.12 s that way and 0.98-1.03 s this way.
    #[inline]
    pub fn add_square(&mut self, x: f64) {
        let nearest = x * x;
        if let Exact::Fixed { limbs, lsb, .. } = self
            && L >= 3
            && nearest.is_normal()
            && let Some((_, mantissa, exponent)) = split(x)
            // The square's lowest bit. Below 2^-1074 the two floats could not hold it (their
            // error would be rounded): those take the two floats' way, as they always did.
            && let at = 2 * i32::from(exponent)
            && at >= -1074
        {
            #[allow(clippy::cast_possible_wrap)] // below 2^106
            let square = (u128::from(mantissa) * u128::from(mantissa)) as i128;
            if *lsb == NO_VALUE {
                (*limbs, *lsb) = (from_i128(square), i16::try_from(at).expect("below 2048"));
                return;
            }
            let shift = at - i32::from(*lsb);
            // The sum within 2^190 (its fourth limb only a sign, its third below 2^62), the
            // term below 2^(106 + 84): their sum fits three limbs and a sign, within the room
            // (`ROOM`) that keeps a merge of two sums from wrapping.
            let extension = if is_negative(limbs) { u64::MAX } else { 0 };
            let small =
                limbs[3..].iter().all(|&l| l == extension) && (limbs[2] ^ extension) >> 62 == 0;
            if (0..=84).contains(&shift) && small {
                #[allow(clippy::cast_sign_loss)] // 0 to 84
                let term = shl_square::<L>(square as u128, shift as u32);
                *limbs = add(limbs, &term);
                return;
            }
        }
        self.add(nearest);
        self.add(x.mul_add(x, -nearest));
    }

    /// Adds any `x` exactly, the sum moving to a finer lowest bit or to [`ExactSum`] as needed.
    fn add_any(&mut self, x: f64) {
        let Exact::Fixed { limbs, lsb, positive_zero } = self else {
            let Exact::Big(big) = self else { unreachable!() };
            return big.add(x);
        };
        if x == 0.0 && x.is_sign_positive() {
            *positive_zero = true;
            return;
        }
        let Some((negative, mantissa, exponent)) = split(x) else {
            return self.make_big().add(x); // -0.0, an infinity or NaN: the growing sum's
        };
        if *lsb == NO_VALUE {
            *lsb = exponent;
        }
        let shift = i32::from(exponent) - i32::from(*lsb);
        // The usual case - a value no finer than the sum's lowest bit, both far from the top -
        // as one 128-bit addition.
        if (0..64).contains(&shift) {
            #[allow(clippy::cast_possible_wrap)]
            let sum = (u128::from(limbs[1]) << 64 | u128::from(limbs[0])) as i128;
            let extension = if sum < 0 { u64::MAX } else { 0 };
            if sum.unsigned_abs() < 1 << 120 && limbs[2..].iter().all(|&l| l == extension) {
                let term = i128::from(mantissa) << shift; // below 2^117
                let sum = if negative { sum - term } else { sum + term };
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                {
                    limbs[0] = sum as u64;
                    limbs[1] = (sum >> 64) as u64;
                }
                let extension = if sum < 0 { u64::MAX } else { 0 };
                limbs[2..].iter_mut().for_each(|l| *l = extension);
                return;
            }
        }
        if shift < 0 {
            // A finer value than any before: the sum moves up to make room for its bits.
            let up = shift.unsigned_abs();
            if bits(limbs) + up > Self::ROOM {
                return self.make_big().add(x);
            }
            *limbs = shl(limbs, up);
            *lsb = exponent;
        }
        let shift = u32::try_from(shift.max(0)).expect("not negative");
        if 64 - mantissa.leading_zeros() + shift > Self::ROOM || bits(limbs) > Self::ROOM {
            return self.make_big().add(x);
        }
        let mut term = shl(&widen(mantissa), shift);
        if negative {
            term = negate(&term);
        }
        *limbs = add(limbs, &term);
    }

    /// Folds another partial sum of the same group into this one.
    pub fn merge(&mut self, other: &Self) {
        match (&mut *self, other) {
            (Exact::Big(big), Exact::Big(theirs)) => big.merge(theirs),
            (Exact::Big(big), fixed) => big.merge(&fixed.clone().into_big()),
            (_, Exact::Big(theirs)) => self.make_big().merge(theirs),
            (
                Exact::Fixed { limbs, lsb, positive_zero },
                Exact::Fixed { limbs: theirs, lsb: their_lsb, positive_zero: their_zero },
            ) => {
                *positive_zero |= *their_zero;
                if *their_lsb == NO_VALUE {
                    return;
                }
                if *lsb == NO_VALUE {
                    (*limbs, *lsb) = (*theirs, *their_lsb);
                    return;
                }
                // The usual case - the same exponent or near, both far from the top - as one
                // 128-bit addition.
                if let (Some(mine), Some(other)) = (as_i128(limbs), as_i128(theirs)) {
                    let (low, high) = ((*lsb).min(*their_lsb), (*lsb).max(*their_lsb));
                    let up = u32::try_from(high - low).expect("high is the higher");
                    let (coarse, fine) = if *lsb == high { (mine, other) } else { (other, mine) };
                    if up < 64 && coarse.unsigned_abs() < 1 << (120 - up) {
                        *limbs = from_i128((coarse << up) + fine);
                        *lsb = low;
                        return;
                    }
                }
                // Both at the finer of the two exponents.
                let low = (*lsb).min(*their_lsb);
                let up = |l: &[u64; L], at: i16| shift_to(l, at, low);
                match (up(limbs, *lsb), up(theirs, *their_lsb)) {
                    (Some(mine), Some(theirs)) => {
                        (*limbs, *lsb) = (add(&mine, &theirs), low);
                    }
                    _ => self.make_big().merge(&other.clone().into_big()),
                }
            }
        }
    }

    /// The sum, correctly rounded.
    pub fn value(&self) -> f64 {
        match self {
            Exact::Big(big) => big.value(),
            Exact::Fixed { limbs, lsb, .. } => {
                if *lsb == NO_VALUE {
                    return 0.0;
                }
                // Most sums: an integer of 128 bits at a usual exponent. Rust's `as` rounds an
                // integer to the nearest float (ties to even), and a power of two then scales
                // it exactly (the result is neither subnormal nor infinite): rounded once.
                if let Some(wide) = as_i128(limbs).filter(|_| (-1000..900).contains(lsb)) {
                    return nearest_f64(wide) * power_of_two(i32::from(*lsb));
                }
                let (negative, magnitude) = sign_magnitude(limbs);
                if magnitude.iter().all(|&l| l == 0) {
                    return 0.0;
                }
                match round(&magnitude, i32::from(*lsb)) {
                    Some(x) if negative => -x,
                    Some(x) => x,
                    None => self.clone().into_big().value(), // near the ends of f64's range
                }
            }
        }
    }

    /// The exact sum as an integer times a power of two, `None` where an infinity (or NaN)
    /// was added.
    pub fn exact(&self) -> Option<(BigInt, i32)> {
        match self {
            Exact::Big(big) => big.exact(),
            Exact::Fixed { lsb: NO_VALUE, .. } => Some((BigInt::ZERO, 0)),
            Exact::Fixed { limbs, lsb, .. } => {
                let (negative, magnitude) = sign_magnitude(limbs);
                let sign = if negative { Sign::Minus } else { Sign::Plus };
                let digits: Vec<u32> =
                    magnitude.iter().flat_map(|&l| [low_half(l), low_half(l >> 32)]).collect();
                Some((BigInt::from_biguint(sign, BigUint::from_slice(&digits)), i32::from(*lsb)))
            }
        }
    }

    /// Makes this the growing kind, and returns it.
    fn make_big(&mut self) -> &mut ExactSum {
        if let Exact::Fixed { .. } = self {
            *self = Exact::Big(Box::new(std::mem::take(self).into_big()));
        }
        let Exact::Big(big) = self else { unreachable!() };
        big
    }

    fn into_big(self) -> ExactSum {
        match self {
            Exact::Big(big) => *big,
            Exact::Fixed { limbs, lsb, positive_zero } => {
                let mut big = ExactSum::default();
                if positive_zero {
                    big.add(0.0);
                }
                if lsb != NO_VALUE {
                    let (negative, magnitude) = sign_magnitude(&limbs);
                    big.add_integer(negative, &magnitude, i32::from(lsb));
                }
                big
            }
        }
    }

    /// Appends the sum to a batch (`wire`), bit for bit, for its owner or a spill file: as
    /// the one float it equals where there is one (9 bytes, not 19 or 35 - a row passing
    /// through to its owner, or a group of a few values at one scale), else as its limbs.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Exact::Fixed { limbs, lsb, positive_zero: false }
                if as_i128(limbs).is_some_and(|w| w != 0 && w.unsigned_abs() < 1 << 53)
                    && (-1000..900).contains(lsb) =>
            {
                out.push(3);
                out.put_f64(self.value()); // exact: 53 bits at a normal exponent
            }
            Exact::Fixed { limbs, lsb, positive_zero } => {
                out.push(u8::from(*positive_zero));
                out.extend_from_slice(&lsb.to_le_bytes());
                if *lsb != NO_VALUE {
                    limbs.iter().for_each(|&l| out.put_u64(l));
                }
            }
            Exact::Big(big) => {
                out.push(2);
                big.encode(out);
            }
        }
    }

    /// Merges the sum that [`Exact::encode`] wrote at `r` into this one: one that travelled
    /// as a float is added as one, without making a sum of it first.
    pub fn merge_encoded(&mut self, r: &mut Reader<'_>) {
        if r.peek() == Some(3) {
            r.take(1);
            self.add(r.f64());
        } else {
            self.merge(&Self::decode(r));
        }
    }

    /// Reads back a sum that [`Exact::encode`] wrote.
    pub fn decode(r: &mut Reader<'_>) -> Self {
        let tag = r.take(1)[0];
        if tag == 2 {
            return Exact::Big(Box::new(ExactSum::decode(r)));
        }
        if tag == 3 {
            let mut one = Exact::default();
            one.add(r.f64());
            return one;
        }
        let lsb = i16::from_le_bytes(r.take(2).try_into().expect("2 bytes"));
        let mut limbs = [0; L];
        if lsb != NO_VALUE {
            limbs.iter_mut().for_each(|l| *l = r.u64());
        }
        Exact::Fixed { limbs, lsb, positive_zero: tag == 1 }
    }
}

/// A nonzero finite `x` as its sign, an odd mantissa and an exponent: x = ±mantissa × 2^exponent.
/// `None` for -0.0, the infinities and NaN.
fn split(x: f64) -> Option<(bool, u64, i16)> {
    if !x.is_finite() || x == 0.0 {
        return None;
    }
    let bits = x.to_bits();
    let biased = i16::try_from((bits >> 52) & 0x7ff).expect("11 bits");
    let fraction = bits & ((1 << 52) - 1);
    let (mantissa, exponent) =
        if biased == 0 { (fraction, -1074) } else { (fraction | 1 << 52, biased - 1075) };
    let zeros = mantissa.trailing_zeros();
    let exponent = exponent + i16::try_from(zeros).expect("below 64");
    Some((bits >> 63 == 1, mantissa >> zeros, exponent))
}

/// The float nearest `wide` (ties to even), as `wide as f64` gives it, by the CPU's own
/// conversion of 64 bits (128-bit conversion is a library routine, `__floattidf`): a wider
/// integer keeps its top 64 bits, and a 1 in the last of them where any bit below them is
/// set - all that rounding to 53 bits needs to know of them (above, at or below half).
fn nearest_f64(wide: i128) -> f64 {
    #[allow(clippy::cast_precision_loss)] // rounded to nearest, as wanted
    if let Ok(narrow) = i64::try_from(wide) {
        return narrow as f64;
    }
    let magnitude = wide.unsigned_abs();
    let dropped = 64 - magnitude.leading_zeros(); // at least 2^63: 64 to 128 bits
    #[allow(clippy::cast_possible_truncation)] // the top 64 bits, as meant
    let top = (magnitude >> dropped) as u64 | u64::from(magnitude & ((1 << dropped) - 1) != 0);
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_wrap)]
    let x = top as f64 * power_of_two(dropped as i32);
    if wide < 0 { -x } else { x }
}

/// The integer as an i128, where it is one below 2^120 in magnitude (the limbs past the
/// second only its sign).
fn as_i128<const L: usize>(limbs: &[u64; L]) -> Option<i128> {
    #[allow(clippy::cast_possible_wrap)]
    let wide = (u128::from(limbs[1]) << 64 | u128::from(limbs[0])) as i128;
    let extension = if wide < 0 { u64::MAX } else { 0 };
    (limbs[2..].iter().all(|&l| l == extension) && wide.unsigned_abs() < 1 << 120).then_some(wide)
}

/// An i128 as limbs, its sign extended.
fn from_i128<const L: usize>(x: i128) -> [u64; L] {
    let extension = if x < 0 { u64::MAX } else { 0 };
    let mut limbs = [extension; L];
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    {
        limbs[0] = x as u64;
        limbs[1] = (x >> 64) as u64;
    }
    limbs
}

/// The low 32 bits.
fn low_half(x: u64) -> u32 {
    u32::try_from(x & 0xffff_ffff).expect("32 bits")
}

/// A limb index as a count of bits' worth of limbs (a handful: it fits).
fn limb_count(i: usize) -> u32 {
    u32::try_from(i).expect("a few limbs")
}

fn widen<const L: usize>(x: u64) -> [u64; L] {
    let mut limbs = [0; L];
    limbs[0] = x;
    limbs
}

fn is_negative<const L: usize>(limbs: &[u64; L]) -> bool {
    limbs[L - 1] >> 63 == 1
}

fn negate<const L: usize>(limbs: &[u64; L]) -> [u64; L] {
    add(&limbs.map(|l| !l), &widen(1))
}

fn add<const L: usize>(a: &[u64; L], b: &[u64; L]) -> [u64; L] {
    let mut out = [0; L];
    let mut carry = false;
    for i in 0..L {
        let (sum, c1) = a[i].overflowing_add(b[i]);
        let (sum, c2) = sum.overflowing_add(u64::from(carry));
        out[i] = sum;
        carry = c1 || c2;
    }
    out
}

/// `x` times 2^`n`, for `x` below 2^106 and `n` at most 84: below 2^190, three limbs (of
/// `L` >= 3). [`shl`]'s work for the one case of a square, as straight-line code: that loop
/// over four limbs, not inlined, was 4% of db-benchmark's q6.
#[inline]
#[allow(clippy::cast_possible_truncation)] // the halves of x
fn shl_square<const L: usize>(x: u128, n: u32) -> [u64; L] {
    let (low, high) = (x as u64, (x >> 64) as u64);
    let mut out = [0; L];
    // Within a limb: `part` bits up, the bits that leave a limb into the next (none for a
    // part of 0, hence the shift in two steps).
    let (whole, part) = ((n / 64) as usize, n % 64);
    let spill = |limb: u64| (limb >> 1) >> (63 - part);
    out[whole] = low << part;
    out[whole + 1] = high << part | spill(low);
    if whole == 0 {
        out[2] = spill(high);
    }
    out
}

/// `limbs` times 2^`n` (the caller has checked that it fits).
fn shl<const L: usize>(limbs: &[u64; L], n: u32) -> [u64; L] {
    let (whole, part) = ((n / 64) as usize, n % 64);
    let mut out = [0; L];
    for (i, limb) in out.iter_mut().enumerate().skip(whole) {
        let from = i - whole;
        *limb = limbs[from] << part;
        if part > 0 && from > 0 {
            *limb |= limbs[from - 1] >> (64 - part);
        }
    }
    out
}

/// The bits of the integer's magnitude (a bound: one more for some negative numbers).
fn bits<const L: usize>(limbs: &[u64; L]) -> u32 {
    let (_, magnitude) = sign_magnitude(limbs);
    let top = magnitude.iter().rposition(|&l| l != 0);
    top.map_or(0, |i| 64 * limb_count(i) + 64 - magnitude[i].leading_zeros())
}

fn sign_magnitude<const L: usize>(limbs: &[u64; L]) -> (bool, [u64; L]) {
    if is_negative(limbs) { (true, negate(limbs)) } else { (false, *limbs) }
}

/// `limbs` at exponent `at` moved down to exponent `low`, or `None` if it would not fit.
fn shift_to<const L: usize>(limbs: &[u64; L], at: i16, low: i16) -> Option<[u64; L]> {
    let up = u32::try_from(i32::from(at) - i32::from(low)).expect("low is the lower");
    (bits(limbs) + up <= Exact::<L>::ROOM).then(|| shl(limbs, up))
}

/// `magnitude` × 2^`lsb` as the nearest float, or `None` where the answer lies near the
/// ends of f64's range (subnormal or past its largest), left to [`ExactSum`].
fn round(magnitude: &[u64], lsb: i32) -> Option<f64> {
    let top = magnitude.iter().rposition(|&l| l != 0)?;
    let width = 64 * limb_count(top) + 64 - magnitude[top].leading_zeros();
    // The top 64 bits, the lowest made 1 if any bit below them is (round half to even then
    // sees a tie only where there is one).
    let (head, dropped) = if width <= 64 {
        (magnitude[0] << (64 - width) >> (64 - width), 0)
    } else {
        let drop = width - 64;
        let (whole, part) = ((drop / 64) as usize, drop % 64);
        let mut head = magnitude[whole] >> part;
        if part > 0 && whole + 1 < magnitude.len() {
            head |= magnitude[whole + 1] << (64 - part);
        }
        let below = magnitude[..whole].iter().any(|&l| l != 0)
            || (part > 0 && magnitude[whole] << (64 - part) != 0);
        (head | u64::from(below), drop)
    };
    let exponent = lsb + i32::try_from(dropped).expect("small");
    // The float's exponent, about exponent + 63: far below, a subnormal result would be rounded
    // twice. Above there is no second rounding: scaling by a power of two is exact, and past
    // f64's largest it is infinity, which is what the value rounds to (head is at least 2^63).
    if exponent < -1000 {
        return None;
    }
    #[allow(clippy::cast_precision_loss)] // the one rounding, to nearest even
    let head = head as f64;
    Some(head * power_of_two(exponent))
}

/// The sample variance (ddof=1) of `count` values whose exact sum is `sum` and whose squares'
/// exact sum is `squares`: (n S2 - S1^2) / (n (n - 1)), in integers, rounded once. `None` for
/// fewer than two values (pandas' NaN, printed empty); NaN where an infinity was added.
pub fn variance(count: u64, sum: &Sum, squares: &Squares) -> Option<f64> {
    if count < 2 {
        return None;
    }
    let (Some((a, a_exp)), Some((b, b_exp))) = (sum.exact(), squares.exact()) else {
        return Some(f64::NAN);
    };
    // S1 = a 2^a_exp, S2 = b 2^b_exp: n S2 - S1^2 at the lower of their exponents.
    let low = b_exp.min(2 * a_exp);
    let n = BigInt::from(count);
    let up = |x: BigInt, by: i32| x << u32::try_from(by - low).expect("low is the lowest");
    let numerator = up(n.clone() * b, b_exp) - up(&a * &a, 2 * a_exp);
    let denominator = BigUint::from(count) * BigUint::from(count - 1);
    Some(divide(&numerator, &denominator, low))
}

/// numerator / denominator × 2^exponent, correctly rounded.
fn divide(numerator: &BigInt, denominator: &BigUint, exponent: i32) -> f64 {
    let magnitude = numerator.magnitude();
    if magnitude.bits() == 0 {
        return 0.0;
    }
    // A quotient of at least 65 bits, and whether anything was left over.
    let shift = 65 + i64::try_from(denominator.bits()).expect("small")
        - i64::try_from(magnitude.bits()).expect("small");
    let shift = shift.max(0);
    let shifted = magnitude << u64::try_from(shift).expect("not negative");
    let (quotient, remainder) = (&shifted / denominator, &shifted % denominator);
    let digits = quotient.to_u64_digits();
    let mut limbs = digits.clone();
    if remainder.bits() > 0 {
        limbs[0] |= 1; // sticky: the quotient is not exact
    }
    let exponent = exponent - i32::try_from(shift).expect("small");
    let value = round(&limbs, exponent).unwrap_or_else(|| {
        // Far outside the usual range: rounded twice, near enough for a variance there.
        #[allow(clippy::cast_precision_loss)]
        let approx = digits.iter().rev().fold(0.0, |acc, &d| acc * 2f64.powi(64) + d as f64);
        approx * 2f64.powi(exponent)
    });
    if numerator.sign() == Sign::Minus { -value } else { value }
}

/// The median of `values` (reordered here): the middle one, or the mean of the two middle ones
/// for an even count, as pandas gives it; `None` for none.
pub fn median(values: &mut [f64]) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    // The middle value by selection, not a sort: linear in the values, not n log n.
    let (lower, &mut middle, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        return Some(middle);
    }
    // An even count: the middle two are the lower half's greatest and that middle value.
    let below = lower.iter().copied().max_by(f64::total_cmp).expect("n >= 2: a lower half");
    let (a, b) = (below, middle);
    let mean = (a + b) / 2.0;
    Some(if mean.is_infinite() && a.is_finite() && b.is_finite() {
        a / 2.0 + b / 2.0
    } else {
        mean
    })
}

/// A sum kept exactly, rounded only when read: a fixed-point integer in base 2^32 wide enough
/// for any float, `Σ limbs[i] × 2^(32 (first + i) - 1074)` (2^-1074 is the smallest float).
/// Adding a float is adding its 53-bit mantissa, shifted, into three limbs: a few integer
/// additions, exact, in any order. (A limb may grow past 32 bits between carries: an i64 has
/// room for 2^30 additions of 2^32 and more.) Only the limbs the values reach are kept: a
/// column of delays in one decimal needs about five.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExactSum {
    limbs: Vec<i64>,
    /// The index of `limbs[0]`.
    first: usize,
    /// Additions since the last carry.
    pending: u32,
    /// The sum of the zeros added, while no other value was: -0.0 when all were -0.0, as
    /// `math.fsum` gives it.
    zeros: Option<f64>,
    nonzero: bool,
    /// The sum of any infinities (or NaN for +inf + -inf), which the integer cannot hold.
    special: Option<f64>,
}

/// How many additions may come between carries before a limb could pass i64.
const CARRY_EVERY: u32 = 1 << 30;

impl ExactSum {
    /// Adds `x` exactly.
    pub fn add(&mut self, x: f64) {
        if !x.is_finite() {
            self.special = Some(self.special.map_or(x, |s| s + x));
            return;
        }
        if x == 0.0 {
            self.zeros = Some(self.zeros.map_or(x, |z| z + x));
            return;
        }
        self.nonzero = true;
        // x = mantissa × 2^(shift - 1074): the float's bits, the implicit leading 1 added.
        let bits = x.to_bits();
        let exponent = usize::try_from((bits >> 52) & 0x7ff).expect("11 bits");
        let fraction = bits & ((1 << 52) - 1);
        let (mantissa, shift) =
            if exponent == 0 { (fraction, 0) } else { (fraction | 1 << 52, exponent - 1) };
        let wide = u128::from(mantissa) << (shift % 32); // below 2^85: three limbs
        let limb = shift / 32;
        if limb < self.first || limb + 3 > self.first + self.limbs.len() {
            self.reach(limb, limb + 2);
        }
        let at = limb - self.first;
        let sign = if bits >> 63 == 1 { -1 } else { 1 };
        // Each part below 2^32 (the top one below 2^21): the casts keep every bit.
        #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
        let parts = [wide as u32 as i64, (wide >> 32) as u32 as i64, (wide >> 64) as i64];
        if let Some([a, b, c]) = self.limbs.get_mut(at..at + 3) {
            *a += sign * parts[0];
            *b += sign * parts[1];
            *c += sign * parts[2];
        }
        self.pending += 1;
        if self.pending == CARRY_EVERY {
            self.carry();
        }
    }

    /// Folds another partial sum of the same group into this one, exactly: limbs added to
    /// limbs, then carried.
    pub fn merge(&mut self, other: &ExactSum) {
        if let Some(special) = other.special {
            self.add(special);
        }
        if let Some(zero) = other.zeros {
            self.add(zero);
        }
        self.nonzero |= other.nonzero;
        if other.limbs.is_empty() {
            return;
        }
        // Both below 2^62 a limb after a carry of ours: the sum fits an i64.
        self.carry();
        self.reach(other.first, other.first + other.limbs.len() - 1);
        let at = other.first - self.first;
        for (i, &limb) in other.limbs.iter().enumerate() {
            self.limbs[at + i] += limb;
        }
        self.carry();
    }

    /// The exact sum, correctly rounded: the limbs, each a float exactly, summed by
    /// `math.fsum`'s method.
    pub fn value(&self) -> f64 {
        if let Some(special) = self.special {
            return special;
        }
        let mut exact = self.clone();
        exact.carry();
        let terms: Vec<f64> = exact
            .limbs
            .iter()
            .enumerate()
            .filter(|&(_, &limb)| limb != 0)
            .map(|(i, &limb)| {
                let scale = i32::try_from(32 * (exact.first + i)).expect("small") - 1074;
                #[allow(clippy::cast_precision_loss)] // below 2^32 but the top one: exact
                let limb = limb as f64;
                limb * power_of_two(scale)
            })
            .collect();
        if terms.is_empty() {
            return if self.nonzero { 0.0 } else { self.zeros.unwrap_or(0.0) };
        }
        fsum(&terms)
    }

    /// Adds `magnitude` (least significant 64 bits first) times 2^`lsb`, negated if
    /// `negative`: the integer of an [`Exact`] that outgrew its limbs. `lsb` is at least
    /// -1074, as every float's lowest bit is. That sum had a value other than a zero, even
    /// where its values cancelled: a -0.0 added now leaves it +0.0, as `math.fsum` does
    /// (`math.fsum([-2.0**63, 2.0**63, -0.0])` is 0.0 in CPython 3.11, run here).
    fn add_integer(&mut self, negative: bool, magnitude: &[u64], lsb: i32) {
        self.nonzero = true;
        let sign = if negative { -1 } else { 1 };
        for (i, &limb) in magnitude.iter().enumerate() {
            for (half, chunk) in [(0, limb & 0xffff_ffff), (1, limb >> 32)] {
                if chunk == 0 {
                    continue;
                }
                let at = usize::try_from(lsb + 1074).expect("lsb >= -1074") + 64 * i + 32 * half;
                let wide = u128::from(chunk) << (at % 32);
                let limb = at / 32;
                self.reach(limb, limb + 1);
                let index = limb - self.first;
                #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
                {
                    self.limbs[index] += sign * (wide as u32 as i64);
                    self.limbs[index + 1] += sign * ((wide >> 32) as i64);
                }
                self.pending += 1;
                if self.pending >= CARRY_EVERY {
                    self.carry();
                }
            }
        }
    }

    /// The exact sum as an integer times a power of two; `None` where an infinity or NaN was
    /// added.
    pub fn exact(&self) -> Option<(BigInt, i32)> {
        if self.special.is_some() {
            return None;
        }
        let mut integer = BigInt::ZERO;
        for &limb in self.limbs.iter().rev() {
            integer = (integer << 32u32) + BigInt::from(limb);
        }
        let exponent = i32::try_from(32 * self.first).expect("small") - 1074;
        Some((integer, exponent))
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.put_len(self.limbs.len() as u64);
        out.put_len(self.first as u64);
        self.limbs.iter().for_each(|&l| out.put_u64(l as u64));
        out.put_u64(u64::from(self.pending));
        out.put_f64(self.zeros.unwrap_or(f64::NAN));
        out.push(
            u8::from(self.zeros.is_some())
                | u8::from(self.nonzero) << 1
                | u8::from(self.special.is_some()) << 2,
        );
        out.put_f64(self.special.unwrap_or(0.0));
    }

    fn decode(r: &mut Reader<'_>) -> ExactSum {
        let n = usize::try_from(r.len()).expect("small");
        let first = usize::try_from(r.len()).expect("small");
        let limbs = (0..n).map(|_| r.u64() as i64).collect();
        let pending = u32::try_from(r.u64()).expect("below 2^30");
        let zeros = r.f64();
        let flags = r.take(1)[0];
        let special = r.f64();
        ExactSum {
            limbs,
            first,
            pending,
            zeros: (flags & 1 == 1).then_some(zeros),
            nonzero: flags & 2 == 2,
            special: (flags & 4 == 4).then_some(special),
        }
    }

    /// Makes the limbs `from..=to` exist.
    fn reach(&mut self, from: usize, to: usize) {
        if self.limbs.is_empty() {
            self.first = from;
            self.limbs = vec![0; to - from + 1];
            return;
        }
        if from < self.first {
            self.limbs.splice(0..0, std::iter::repeat_n(0, self.first - from));
            self.first = from;
        }
        let last = self.first + self.limbs.len() - 1;
        if to > last {
            self.limbs.resize(self.limbs.len() + (to - last), 0);
        }
    }

    /// Carries each limb's bits past 32 into the next: every limb in 0..2^32 but the top one,
    /// which keeps the sign.
    fn carry(&mut self) {
        self.pending = 0;
        for i in 0..self.limbs.len().saturating_sub(1) {
            let carry = self.limbs[i] >> 32;
            self.limbs[i] -= carry << 32;
            self.limbs[i + 1] += carry;
        }
        while let Some(&top) = self.limbs.last() {
            if top.unsigned_abs() < 1 << 31 {
                break;
            }
            let carry = top >> 32;
            let end = self.limbs.len() - 1;
            self.limbs[end] -= carry << 32;
            self.limbs.push(carry);
        }
    }
}

/// 2^n as a float, for n from -1074 (the smallest subnormal) up; infinite past 1023.
fn power_of_two(n: i32) -> f64 {
    if n < -1022 {
        return f64::from_bits(1 << (n + 1074)); // a subnormal: one bit of the fraction
    }
    if n > 1023 {
        return f64::INFINITY;
    }
    f64::from_bits(u64::try_from(n + 1023).expect("positive") << 52)
}

/// The correctly rounded sum of `terms` (Shewchuk's non-overlapping partials, as Python's
/// `math.fsum`).
fn fsum(terms: &[f64]) -> f64 {
    let mut partials: Vec<f64> = Vec::new();
    for &term in terms {
        let mut x = term;
        let mut kept = 0;
        for i in 0..partials.len() {
            let mut y = partials[i];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        partials.truncate(kept);
        partials.push(x);
    }
    let p = &partials;
    let Some(mut n) = p.len().checked_sub(1) else { return 0.0 };
    let mut hi = p[n];
    let mut lo = 0.0;
    while n > 0 {
        let x = hi;
        n -= 1;
        let y = p[n];
        hi = x + y;
        lo = y - (hi - x);
        if lo != 0.0 {
            break;
        }
    }
    // Round half-even across the boundary of the remaining partials.
    if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
        let y = lo * 2.0;
        let x = hi + y;
        if y == x - hi {
            hi = x;
        }
    }
    hi
}

/// One group's `func` of all its values at once, as the answer prints it - pandas' figure,
/// empty where pandas gives NaN (a mean, min, max or median of no value; a variance of fewer
/// than two). The plain way, every value in one place: what the property tests' reference and
/// the lesson's small dataflow compute, and what the engine's partial aggregates must equal.
pub fn of_all_values(func: Func, values: &mut [f64]) -> String {
    let (mut sum, mut squares) = (Sum::default(), Squares::default());
    for &v in values.iter() {
        sum.add(v);
        squares.add(v * v);
        squares.add(v.mul_add(v, -(v * v)));
    }
    let n = values.len() as u64;
    let number = |x: f64| x.to_string();
    match func {
        Func::Count => n.to_string(),
        Func::Sum => number(sum.value()),
        Func::Mean if n == 0 => String::new(),
        Func::Mean => number(sum.value() / n as f64),
        // -0 before +0, as total_cmp orders them.
        Func::Min => values.iter().copied().min_by(f64::total_cmp).map(number).unwrap_or_default(),
        Func::Max => values.iter().copied().max_by(f64::total_cmp).map(number).unwrap_or_default(),
        Func::Var => variance(n, &sum, &squares).map(number).unwrap_or_default(),
        Func::Std => variance(n, &sum, &squares).map(|v| number(v.sqrt())).unwrap_or_default(),
        Func::Median => median(values).map(number).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_sum_is_exact_and_the_same_in_any_order() {
        let values = [0.1, 0.2, 0.3, 1e16, -1e16, 1e-3, 7.5];
        let mut forward = ExactSum::default();
        values.iter().for_each(|&v| forward.add(v));
        let mut backward = ExactSum::default();
        values.iter().rev().for_each(|&v| backward.add(v));
        let (mut left, mut right) = (ExactSum::default(), ExactSum::default());
        values[..3].iter().for_each(|&v| left.add(v));
        values[3..].iter().for_each(|&v| right.add(v));
        right.merge(&left);
        assert_eq!(forward.value(), backward.value());
        assert_eq!(forward.value(), right.value());
        // The plain loop loses the 0.6 to the 1e16 and back: the exact sum does not.
        assert_eq!(forward.value(), 8.101);
        assert_ne!(values.iter().sum::<f64>(), 8.101);
    }

    /// A float of any size: subnormal or tiny, around 1, a fraction, or anything up to about
    /// 1e300; either sign, any mantissa.
    fn any_size() -> impl Strategy<Value = f64> {
        let exponent = prop_oneof![0_u64..3, 1023_u64..1043, 964_u64..1024, 0_u64..2020];
        (any::<bool>(), 0_u64..1 << 52, exponent).prop_map(|(negative, mantissa, exponent)| {
            f64::from_bits(u64::from(negative) << 63 | exponent << 52 | mantissa)
        })
    }

    /// A sum equal to one float travels as that float (a row passing through to its owner),
    /// and comes back the same sum; one that is not, as its limbs.
    #[test]
    fn a_sum_of_one_float_travels_in_nine_bytes() {
        let few_at_one_scale = [(&[1.0, 2.0][..], 9), (&[4.0, 4.0, 8.0], 9), (&[1.5, 2.5, 3.5], 9)];
        let others = [(&[2.5][..], 9), (&[-3.0, 1.0], 9), (&[0.1, 0.2], 19), (&[0.0], 3)];
        for (values, wire) in few_at_one_scale.into_iter().chain(others) {
            let mut sum = Sum::default();
            values.iter().for_each(|&v| sum.add(v));
            let mut bytes = Vec::new();
            sum.encode(&mut bytes);
            assert_eq!(bytes.len(), wire, "{values:?}");
            let back = Sum::decode(&mut Reader::new(&bytes));
            assert_eq!(back.value().to_bits(), sum.value().to_bits(), "{values:?}");
            let (mut twice, mut again) = (sum.clone(), back);
            twice.merge(&sum);
            again.merge(&sum);
            assert_eq!(twice.value().to_bits(), again.value().to_bits(), "{values:?}");
        }
    }

    #[test]
    fn infinities_and_empty_sums() {
        let mut sum = ExactSum::default();
        assert_eq!(sum.value(), 0.0);
        sum.add(f64::INFINITY);
        sum.add(1.0);
        assert_eq!(sum.value(), f64::INFINITY);
        sum.add(f64::NEG_INFINITY);
        assert!(sum.value().is_nan());
    }

    /// 128-bit integers round to a float as Rust's own conversion rounds them: near powers
    /// of two, at and around halfway points, at the ends of i128.
    #[test]
    fn wide_integers_round_as_the_conversion_does() {
        let mut next = crate::testdata::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut wide = vec![i128::MIN, i128::MAX, i128::MIN + 1, 0, -1, 1 << 63, -(1 << 63)];
        for bits in 60..127 {
            let power = 1_i128 << bits;
            // A power of two, around it, and halfway between floats above it (53 bits kept).
            let half = power >> 53;
            wide.extend([power, power - 1, power + 1, power + half, power + half + 1]);
            wide.extend([power + 3 * half, power + 3 * half - 1, -(power + half)]);
        }
        for _ in 0..100_000 {
            #[allow(clippy::cast_possible_wrap)]
            let r = (i128::from(next()) << 64 | i128::from(next())) >> (next() % 64);
            wide.push(r);
        }
        for w in wide {
            #[allow(clippy::cast_precision_loss)]
            let expected = w as f64;
            assert_eq!(nearest_f64(w).to_bits(), expected.to_bits(), "{w}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// The fixed-size sums give fsum's answer to the bit, whole or merged from halves, for
        /// values of every size - those that outgrow 128 bits by moving to the growing kind -
        /// and survive a trip through the wire; and for integers and short decimals, whose
        /// trailing zeros [`Exact::add`]'s usual case drops.
        #[test]
        fn fixed_sums_round_as_fsum_does(
            values in proptest::collection::vec(prop_oneof![
                any_size(),
                -1e4..1e4_f64,
                (-1_000_000_i32..1_000_000).prop_map(f64::from),
                (-1_000_000_i32..1_000_000).prop_map(|i| f64::from(i) / 1e3),
            ], 1..40),
        ) {
            let count = values.len();
            let mut whole = Sum::default();
            values.iter().for_each(|&v| whole.add(v));
            let (mut left, mut right) = (Sum::default(), Sum::default());
            values[..count / 2].iter().rev().for_each(|&v| left.add(v));
            values[count / 2..].iter().for_each(|&v| right.add(v));
            let mut bytes = Vec::new();
            left.encode(&mut bytes);
            let left = Sum::decode(&mut Reader::new(&bytes));
            right.merge(&left);
            let expected = fsum(&values);
            prop_assert_eq!(whole.value().to_bits(), expected.to_bits(), "whole");
            prop_assert_eq!(right.value().to_bits(), expected.to_bits(), "merged");
        }

        /// The median by selection is the median of the sorted values, to the bit: odd and
        /// even counts, repeated values, zeros of both signs.
        #[test]
        fn the_median_is_the_sorted_values_middle(
            values in proptest::collection::vec(
                prop_oneof![-1e3..1e3_f64, Just(0.0), Just(-0.0), Just(1.5)], 1..60),
        ) {
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let n = sorted.len();
            let expected = if n % 2 == 1 {
                sorted[n / 2]
            } else {
                (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
            };
            let got = median(&mut values.clone()).unwrap();
            prop_assert_eq!(got.to_bits(), expected.to_bits());
        }

        /// The variance from exact sums equals the one computed from the exact rationals,
        /// however the values are split, to the bit.
        #[test]
        fn the_variance_is_the_same_on_any_split(
            values in proptest::collection::vec(-1e6..1e6_f64, 2..30),
            cut in 0_usize..30,
        ) {
            let state = |vs: &[f64]| {
                let (mut sum, mut squares) = (Sum::default(), Squares::default());
                for &v in vs {
                    sum.add(v);
                    add_square(&mut squares, v);
                }
                (sum, squares)
            };
            let (sum, squares) = state(&values);
            let cut = cut.min(values.len());
            let (mut s1, mut q1) = state(&values[..cut]);
            let (s2, q2) = state(&values[cut..]);
            s1.merge(&s2);
            q1.merge(&q2);
            let n = values.len() as u64;
            let whole = variance(n, &sum, &squares).unwrap();
            prop_assert_eq!(whole.to_bits(), variance(n, &s1, &q1).unwrap().to_bits());
            // Near the two-pass float answer.
            let mean = values.iter().sum::<f64>() / n as f64;
            let two_pass = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
            prop_assert!((whole - two_pass).abs() <= 1e-9 * two_pass.abs().max(1e-300), "{} {}", whole, two_pass);
        }
    }

    /// A square added whole (its mantissa squared) makes the same exact sum as the two floats
    /// it used to be added as - for values of every size: decimals, tiny ones whose squares
    /// the floats cannot hold exactly, huge ones whose squares overflow, zeros, NaN - and so
    /// the same sum, variance and encoding round trip.
    #[test]
    fn squares_added_whole_are_the_two_floats_sum() {
        let mut next = crate::testdata::xorshift(0x853c_49e6_748f_ea9b);
        let unit = |bits: u64| (bits >> 11) as f64 / (1_u64 << 53) as f64;
        let draw = |next: &mut dyn FnMut() -> u64| match next() % 8 {
            0 => 0.0,
            1 => f64::from_bits(next()), // any exponent, subnormals, NaN, infinities
            2 => (unit(next()) - 0.5) * 2.0_f64.powi(-537 + (next() % 8) as i32 - 4),
            3 => unit(next()) * 2.0_f64.powi(508 + (next() % 8) as i32),
            4 => unit(next()) * 2.0_f64.powi((next() % 400) as i32 - 200),
            _ => ((next() % 200_000_000) as f64 - 1e8) / 1e6, // decimals, as db-benchmark's
        };
        let normal = |exact: Option<(BigInt, i32)>| {
            exact.map(|(n, e)| {
                let zeros = n.trailing_zeros().unwrap_or(0);
                (n >> zeros, e + i32::try_from(zeros).expect("small"))
            })
        };
        for _ in 0..3_000 {
            let (mut whole, mut floats, mut sum) =
                (Squares::default(), Squares::default(), Sum::default());
            for _ in 0..1 + next() % 40 {
                let x = draw(&mut next);
                whole.add_square(x);
                add_square(&mut floats, x);
                sum.add(x);
            }
            assert_eq!(normal(whole.exact()), normal(floats.exact()), "{whole:?} {floats:?}");
            assert_eq!(whole.value().to_bits(), floats.value().to_bits());
            let n = 7;
            let (a, b) = (variance(n, &sum, &whole), variance(n, &sum, &floats));
            assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits));
            let mut wire = Vec::new();
            whole.encode(&mut wire);
            let mut back = Squares::default();
            back.merge_encoded(&mut Reader::new(&wire));
            assert_eq!(normal(back.exact()), normal(floats.exact()));
        }
    }

    /// x^2 added exactly: the float nearest it and the (exact) float error of that rounding.
    fn add_square(squares: &mut Squares, x: f64) {
        let p = x * x;
        squares.add(p);
        squares.add(x.mul_add(x, -p));
    }

    #[test]
    fn variance_and_median_as_pandas_gives_them() {
        let values = [1.5, -2.0, 3.0, 0.1];
        let (mut sum, mut squares) = (Sum::default(), Squares::default());
        values.iter().for_each(|&v| {
            sum.add(v);
            add_square(&mut squares, v);
        });
        // The exact variance of these floats, rounded once (Python's statistics.variance too).
        assert_eq!(variance(4, &sum, &squares), Some(4.523333333333333));
        assert_eq!(variance(1, &sum, &squares), None, "one value: NaN in pandas");
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut [f64::MAX, f64::MAX]), Some(f64::MAX));
        assert_eq!(median(&mut []), None);
        let mut constant = (Sum::default(), Squares::default());
        for _ in 0..5 {
            constant.0.add(0.1);
            add_square(&mut constant.1, 0.1);
        }
        assert_eq!(variance(5, &constant.0, &constant.1), Some(0.0), "no cancellation error");
    }

    /// Values that cancel, then a -0.0 (which moves the sum to the growing kind): +0.0, as
    /// `math.fsum([-2.0**63, 2.0**63, -0.0])` gives; found by the scan's property test.
    #[test]
    fn a_sum_that_cancelled_stays_positive_zero_after_a_negative_zero() {
        let mut sum = Sum::default();
        for x in [-(2.0_f64.powi(63)), 2.0_f64.powi(63), -0.0] {
            sum.add(x);
        }
        assert_eq!(sum.value().to_bits(), 0.0_f64.to_bits());
        assert_eq!(fsum(&[-(2.0_f64.powi(63)), 2.0_f64.powi(63), -0.0]).to_bits(), 0);
    }

    #[test]
    fn zeros_keep_their_sign_as_fsum_does() {
        let sum_of = |values: &[f64]| {
            let mut s = Sum::default();
            values.iter().for_each(|&v| s.add(v));
            s.value()
        };
        assert!(sum_of(&[-0.0, -0.0]).is_sign_negative());
        assert!(sum_of(&[0.0, -0.0]).is_sign_positive());
        assert!(sum_of(&[-0.0, 0.0]).is_sign_positive());
        assert_eq!(sum_of(&[1.0, -1.0]), 0.0);
    }
}

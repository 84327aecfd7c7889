//! One group's aggregate - pandas' `size`, `count`, `sum`, `mean`, `min`, `max` - built from
//! partial aggregates that can be merged in any order with the same result.
//!
//! A float sum depends on the order of its additions, so the same data split among 1 worker,
//! 2 threads or 2 processes would give sums differing in the last digits. [`ExactSum`] keeps
//! the sum exactly (as an integer wide enough for any float) and rounds once at the end, as
//! Python's `math.fsum` does: the answer is the same however the rows were shared out.

use serde::{Deserialize, Serialize};

/// A group's partial or final aggregate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Agg {
    /// Rows in the group (pandas' `size`).
    pub size: u64,
    /// Rows whose value is not missing (pandas' `count`).
    pub count: u64,
    pub sum: ExactSum,
    pub min: f64,
    pub max: f64,
}

impl Default for Agg {
    fn default() -> Agg {
        Agg {
            size: 0,
            count: 0,
            sum: ExactSum::default(),
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Agg {
    /// One row of the group, with its value or `None` where missing.
    pub fn add(&mut self, value: Option<f64>) {
        self.size += 1;
        if let Some(value) = value {
            self.count += 1;
            self.sum.add(value);
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
    }

    /// Folds another partial aggregate of the same group into this one.
    pub fn merge(&mut self, other: &Agg) {
        self.size += other.size;
        self.count += other.count;
        self.sum.merge(&other.sum);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// `size,count,sum,mean,min,max`: floats as the shortest decimals that read back to the
    /// same number; a group with no value has count 0, sum 0 and empty mean, min and max
    /// (pandas prints NaN there).
    pub fn fields(&self) -> [String; 6] {
        let sum = self.sum.value();
        if self.count == 0 {
            return [
                self.size.to_string(),
                "0".into(),
                "0".into(),
                String::new(),
                String::new(),
                String::new(),
            ];
        }
        // The mean is computed from the exact sum, rounded once: the same for any split.
        #[allow(clippy::cast_precision_loss)]
        let mean = sum / self.count as f64;
        [
            self.size.to_string(),
            self.count.to_string(),
            sum.to_string(),
            mean.to_string(),
            self.min.to_string(),
            self.max.to_string(),
        ]
    }
}

/// A sum kept exactly, rounded only when read: a fixed-point integer in base 2^32 wide enough
/// for any float, `Σ limbs[i] × 2^(32 (first + i) - 1074)` (2^-1074 is the smallest float).
/// Adding a float is adding its 53-bit mantissa, shifted, into three limbs: a few integer
/// additions, exact, in any order. (A limb may grow past 32 bits between carries: an i64 has
/// room for 2^30 additions of 2^32 and more.) Only the limbs the values reach are kept: a
/// column of delays in one decimal needs about five.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
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

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Floats of every size, summed whole, and in halves (one reversed) merged: always
        /// fsum's answer, to the bit.
        #[test]
        fn the_integer_sum_rounds_as_fsum_of_the_values_does(
            values in proptest::collection::vec(any_size(), 1..51),
        ) {
            let count = values.len();
            let mut whole = ExactSum::default();
            values.iter().for_each(|&v| whole.add(v));
            let (mut left, mut right) = (ExactSum::default(), ExactSum::default());
            values[..count / 2].iter().rev().for_each(|&v| left.add(v));
            values[count / 2..].iter().for_each(|&v| right.add(v));
            right.merge(&left);
            let expected = fsum(&values);
            prop_assert_eq!(whole.value().to_bits(), expected.to_bits(), "whole");
            prop_assert_eq!(right.value().to_bits(), expected.to_bits(), "merged");
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

    #[test]
    fn a_group_prints_like_pandas_agg() {
        let mut agg = Agg::default();
        for v in [Some(1.5), None, Some(-2.0), Some(3.0)] {
            agg.add(v);
        }
        assert_eq!(agg.fields(), ["4", "3", "2.5", "0.8333333333333334", "-2", "3"]);
        let mut empty = Agg::default();
        empty.add(None);
        assert_eq!(empty.fields(), ["1", "0", "0", "", "", ""]);
    }
}

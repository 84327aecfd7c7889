//! One group's aggregate - pandas' `size`, `count`, `sum`, `mean`, `min`, `max` - built from
//! partial aggregates that can be merged in any order with the same result.
//!
//! A float sum depends on the order of its additions, so the same data split among 1 worker,
//! 2 threads or 2 processes would give sums differing in the last digits. [`ExactSum`] keeps
//! the sum exactly (Shewchuk's non-overlapping partials, as Python's `math.fsum`) and rounds
//! once at the end: the answer is the same however the rows were shared out.

use serde::{Deserialize, Serialize};

/// A group's partial or final aggregate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

/// A sum kept exactly as a list of non-overlapping floats, rounded only when read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExactSum {
    partials: Vec<f64>,
    /// The sum of any infinities (or NaN for +inf + -inf), which the partials cannot hold.
    special: Option<f64>,
}

impl ExactSum {
    /// Adds `x` exactly: each partial's rounding error becomes a new, smaller partial.
    pub fn add(&mut self, mut x: f64) {
        if !x.is_finite() {
            self.special = Some(self.special.map_or(x, |s| s + x));
            return;
        }
        let mut kept = 0;
        for i in 0..self.partials.len() {
            let mut y = self.partials[i];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        self.partials.truncate(kept);
        self.partials.push(x);
    }

    pub fn merge(&mut self, other: &ExactSum) {
        for &partial in &other.partials {
            self.add(partial);
        }
        if let Some(special) = other.special {
            self.add(special);
        }
    }

    /// The exact sum, correctly rounded (`math.fsum`'s last step).
    pub fn value(&self) -> f64 {
        if let Some(special) = self.special {
            return special;
        }
        let p = &self.partials;
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
}

#[cfg(test)]
mod tests {
    use super::*;

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

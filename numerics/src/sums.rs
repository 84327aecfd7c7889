//! The threading cell's three sums (notebook section 2.a) - `sum(range(n))`, the sum of the
//! squares and of the cubes - as native code that a Python thread can run without the GIL:
//! `hpc_rs_numerics.three_sums`. It runs on the calling thread alone, so that two Python
//! threads calling it at once show what releasing the GIL buys (`numerics --vs-python`).

use std::hint::black_box;

/// The sums of x, x^2 and x^3 for x in `0..length`, exact (u128, as Python's ints are); `None`
/// where the cube sum would not fit u128 (a length past about 6.1e9), found before any work.
pub fn three_sums(length: u64) -> Option<[u128; 3]> {
    closed_forms(length)?; // the largest partial sums are the final ones: none can overflow
    let mut sums = [0_u128; 3];
    for x in 0..length {
        // black_box: without it the compiler would turn the loop into the closed form.
        let x = u128::from(black_box(x));
        sums[0] += x;
        sums[1] += x * x;
        sums[2] += x * x * x;
    }
    Some(sums)
}

/// n(n-1)/2, (n-1)n(2n-1)/6 and (n(n-1)/2)^2: what the loop must give, or `None` where the
/// last does not fit u128.
pub fn closed_forms(length: u64) -> Option<[u128; 3]> {
    let n = u128::from(length);
    let linear = n.checked_mul(n.saturating_sub(1))? / 2;
    let square = n.saturating_sub(1).checked_mul(n)?.checked_mul((2 * n).saturating_sub(1))? / 6;
    Some([linear, square, linear.checked_mul(linear)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notebooks_sums_at_one_million() {
        let sums = three_sums(1_000_000).unwrap();
        assert_eq!(
            sums,
            [499_999_500_000, 333_332_833_333_500_000, 249_999_500_000_250_000_000_000]
        );
    }

    #[test]
    fn small_lengths_and_the_overflow_edge() {
        assert_eq!(three_sums(0), Some([0, 0, 0]));
        assert_eq!(three_sums(1), Some([0, 0, 0]));
        assert_eq!(three_sums(3), Some([3, 5, 9]));
        for length in [0, 1, 2, 10, 1000] {
            assert_eq!(three_sums(length), closed_forms(length), "{length}");
        }
        // The cube sum (n(n-1)/2)^2 fits u128 while n(n-1)/2 fits u64.
        assert!(closed_forms(6_074_001_000).is_some());
        assert!(closed_forms(6_074_001_001).is_none());
        assert!(closed_forms(u64::MAX).is_none());
        assert_eq!(three_sums(u64::MAX), None, "refused at once, not after years of work");
    }
}

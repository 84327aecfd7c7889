//! The threading cell's three sums (notebook section 2.a) - `sum(range(n))`, the sum of the
//! squares and of the cubes - as native code that a Python thread can run without the GIL:
//! `hpc_rs_numerics.three_sums`. It runs on the calling thread alone, so that two Python
//! threads calling it at once show what releasing the GIL buys (`numerics --vs-python`).
//!
//! Two ways: exact, in u128, as Python's ints are (`three_sums`); and in u64 wrapping at 2^64
//! (`three_sums_wrapping`), as Numba's `uint64` loop computes them - a different, wrong answer
//! once the cube sum passes 2^64 (from a length of 92,683), and faster: 64-bit multiplications
//! and additions where u128 needs several instructions each.

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

/// The same sums in u64, each wrapping at 2^64 as Numba's `uint64` arithmetic (and C's
/// unsigned arithmetic) does: the exact sums modulo 2^64.
///
/// Each x is XORed with a zero the compiler cannot see through, as the Numba twin does:
/// the loop cannot become the closed form, yet stays free to use SIMD lanes, as Numba's does
/// (a `black_box` on each x would forbid those, and Rust would lose by a factor of lanes
/// rather than by what wrapping saves).
///
/// Numba compiles for the CPU it runs on; a Rust library (and a Python wheel) is compiled
/// for every CPU of its architecture, whose baseline on x86-64 has no 64-bit vector multiply.
/// So the loop is compiled twice, and the copy for AVX-512 (which has one) is chosen at run
/// time where this CPU has it: on such a CPU it is about twice as fast.
pub fn three_sums_wrapping(length: u64) -> [u64; 3] {
    #[cfg(target_arch = "x86_64")]
    if wrapping_has_avx512() {
        // SAFETY: the function needs AVX-512 F and DQ, and this CPU has both (checked above).
        #[allow(unsafe_code)]
        return unsafe { three_sums_wrapping_avx512(length) };
    }
    three_sums_wrapping_loop(length)
}

/// Whether [`three_sums_wrapping`] runs its AVX-512 copy on this CPU.
pub fn wrapping_has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
fn three_sums_wrapping_avx512(length: u64) -> [u64; 3] {
    three_sums_wrapping_loop(length)
}

#[inline(always)]
fn three_sums_wrapping_loop(length: u64) -> [u64; 3] {
    let mask = black_box(0_u64);
    let mut sums = [0_u64; 3];
    for x in 0..length {
        let x = x ^ mask;
        sums[0] = sums[0].wrapping_add(x);
        sums[1] = sums[1].wrapping_add(x.wrapping_mul(x));
        sums[2] = sums[2].wrapping_add(x.wrapping_mul(x).wrapping_mul(x));
    }
    sums
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
    fn the_wrapping_sums_are_the_exact_ones_modulo_two_to_the_64() {
        for length in [0, 1, 3, 92_682, 92_683, 1_000_000] {
            let exact = closed_forms(length).unwrap();
            // u128 to u64 keeps the low 64 bits: the sum modulo 2^64.
            #[allow(clippy::cast_possible_truncation)]
            let wrapped = exact.map(|s| s as u64);
            assert_eq!(three_sums_wrapping(length), wrapped, "{length}");
            assert_eq!(three_sums_wrapping_loop(length), wrapped, "{length}: the baseline copy");
        }
        // From 92,683 on, the cube sum passes 2^64: the wrapped answer is no longer the sum.
        assert_eq!(u128::from(three_sums_wrapping(92_682)[2]), closed_forms(92_682).unwrap()[2]);
        assert_ne!(u128::from(three_sums_wrapping(92_683)[2]), closed_forms(92_683).unwrap()[2]);
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

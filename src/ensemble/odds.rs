//! Proportions with their Wilson 95% intervals, and durations as median and range: how every
//! figure of an ensemble is stated.

use serde::{Deserialize, Serialize};

/// z for a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

/// `count` of `n`, with the Wilson score 95% interval of the proportion.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Proportion {
    pub count: usize,
    pub n: usize,
    pub low: f64,
    pub high: f64,
}

impl Proportion {
    pub fn of(count: usize, n: usize) -> Proportion {
        let (low, high) = wilson(count, n);
        Proportion { count, n, low, high }
    }

    /// Whether two proportions' intervals overlap (the difference is within the noise).
    pub fn overlaps(&self, other: &Proportion) -> bool {
        self.low <= other.high && other.low <= self.high
    }
}

impl std::fmt::Display for Proportion {
    /// "9 of 10 [0.60–0.98]".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} of {} [{:.2}–{:.2}]", self.count, self.n, self.low, self.high)
    }
}

/// The Wilson score interval (Wilson 1927) at 95%: unlike the normal approximation it stays
/// within [0, 1] and is not degenerate at 0 of N or N of N. (0, 1) when n is 0.
pub fn wilson(count: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (k, n) = (count as f64, n as f64);
    let p = k / n;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// A duration (or any figure) over the runs: median, lowest, highest and how many.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub median: f64,
    pub low: f64,
    pub high: f64,
    pub n: usize,
}

impl Spread {
    /// `None` for no values.
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            low: v[0],
            high: v[n - 1],
            n,
        })
    }

    /// Whether two ranges overlap.
    pub fn overlaps(&self, other: &Spread) -> bool {
        self.low <= other.high && other.low <= self.high
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_intervals_match_published_values() {
        // Newcombe (1998), Table I: 81 of 263 → 0.2553–0.3662; 15 of 148 → 0.0624–0.1605.
        let (lo, hi) = wilson(81, 263);
        assert!((lo - 0.2553).abs() < 5e-4 && (hi - 0.3662).abs() < 5e-4, "{lo} {hi}");
        let (lo, hi) = wilson(15, 148);
        assert!((lo - 0.0624).abs() < 5e-4 && (hi - 0.1605).abs() < 5e-4, "{lo} {hi}");
        // The extremes stay inside [0, 1] and are not degenerate.
        let (lo, hi) = wilson(0, 10);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.2775).abs() < 5e-4, "{hi}");
        let (lo, hi) = wilson(10, 10);
        assert!((lo - 0.7225).abs() < 5e-4 && hi > 0.999_999, "{lo} {hi}");
        assert_eq!(wilson(0, 0), (0.0, 1.0));
    }

    #[test]
    fn proportions_print_with_their_interval_and_overlap_is_the_noise() {
        let nine = Proportion::of(9, 10);
        assert_eq!(nine.to_string(), "9 of 10 [0.60–0.98]");
        assert!(nine.overlaps(&Proportion::of(6, 10)));
        assert!(!nine.overlaps(&Proportion::of(1, 10)));
    }

    #[test]
    fn a_spread_is_the_median_and_range() {
        let s = Spread::of(&[30.0, 10.0, 20.0, 40.0]).unwrap();
        assert_eq!((s.median, s.low, s.high, s.n), (25.0, 10.0, 40.0, 4));
        assert!(Spread::of(&[]).is_none());
    }
}

//! The offered-load curve: points on the incident clock, linear between them.

use super::clock::ClockTime;

/// What the numbers of a load curve mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadUnit {
    /// Arrivals (users) per real second.
    ArrivalsPerSecond,
    /// A fraction of the store's measured capacity for the scenario's mix (1.0 = saturated).
    Capacity,
}

/// Offered load over the incident clock; linear between points, flat beyond the ends.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadCurve {
    pub unit: LoadUnit,
    /// (time, value) sorted by time; at least one point.
    pub points: Vec<(ClockTime, f64)>,
}

impl LoadCurve {
    /// The value at incident-clock second `sim_secs` (seconds since midnight).
    pub fn value_at(&self, sim_secs: f64) -> f64 {
        let first = self.points[0];
        if sim_secs <= f64::from(first.0.secs()) {
            return first.1;
        }
        for pair in self.points.windows(2) {
            let (t0, v0) = (f64::from(pair[0].0.secs()), pair[0].1);
            let (t1, v1) = (f64::from(pair[1].0.secs()), pair[1].1);
            if sim_secs <= t1 {
                let frac = if t1 > t0 { (sim_secs - t0) / (t1 - t0) } else { 1.0 };
                return v0 + (v1 - v0) * frac;
            }
        }
        self.points[self.points.len() - 1].1
    }

    pub fn max_value(&self) -> f64 {
        self.points.iter().map(|p| p.1).fold(0.0, f64::max)
    }

    /// The same curve in arrivals per second, given the measured capacity (arrivals/s).
    pub fn resolved(&self, capacity_per_s: Option<f64>) -> LoadCurve {
        match (self.unit, capacity_per_s) {
            (LoadUnit::Capacity, Some(cap)) => LoadCurve {
                unit: LoadUnit::ArrivalsPerSecond,
                points: self.points.iter().map(|&(t, v)| (t, v * cap)).collect(),
            },
            _ => self.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> ClockTime {
        s.parse().unwrap()
    }

    #[test]
    fn interpolates_linearly_and_is_flat_outside() {
        let curve = LoadCurve {
            unit: LoadUnit::ArrivalsPerSecond,
            points: vec![(t("12:00"), 100.0), (t("13:00"), 300.0)],
        };
        assert_eq!(curve.value_at(f64::from(t("11:00").secs())), 100.0);
        assert_eq!(curve.value_at(f64::from(t("12:30").secs())), 200.0);
        assert_eq!(curve.value_at(f64::from(t("14:00").secs())), 300.0);
    }

    #[test]
    fn capacity_fractions_resolve_to_rates() {
        let curve = LoadCurve {
            unit: LoadUnit::Capacity,
            points: vec![(t("12:00"), 0.5)],
        };
        let resolved = curve.resolved(Some(2000.0));
        assert_eq!(resolved.unit, LoadUnit::ArrivalsPerSecond);
        assert_eq!(resolved.points[0].1, 1000.0);
    }
}

//! The seeded arrival schedule: a time-varying Poisson process that follows the load curve.
//!
//! Pure and deterministic: the same scenario and seed give the same arrivals, with no runtime.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Exp1};

use crate::scenario::{IncidentClock, LoadCurve, LoadUnit, Mix, Op};

/// One user arriving to do one operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    /// Intended start, in real time since the run started.
    pub offset: Duration,
    pub op: Op,
    /// Seeds this user's choices (customer, cart, retry jitter).
    pub seed: u64,
}

/// Arrivals in time order, generated lazily by thinning a Poisson process at the curve's peak.
pub struct ArrivalSchedule {
    rng: StdRng,
    curve: LoadCurve,
    clock: IncidentClock,
    mix: Mix,
    peak_rate: f64,
    now_s: f64,
    end_s: f64,
    /// Arrivals generated so far, kept or not: the k-th goes to shard k mod `shard.1`.
    generated: u64,
    shard: (u64, u64),
}

impl ArrivalSchedule {
    /// `curve` must be in arrivals per second (see [`LoadCurve::resolved`]).
    pub fn new(curve: LoadCurve, clock: IncidentClock, mix: &Mix, seed: u64) -> Self {
        assert_eq!(
            curve.unit,
            LoadUnit::ArrivalsPerSecond,
            "resolve capacity fractions first"
        );
        ArrivalSchedule {
            rng: StdRng::seed_from_u64(seed),
            peak_rate: curve.max_value(),
            end_s: clock.real_duration().as_secs_f64(),
            curve,
            clock,
            mix: mix.clone(),
            now_s: 0.0,
            generated: 0,
            shard: (0, 1),
        }
    }

    /// Only shard `index` of `of`: every `of`-th arrival, so `of` shards together are exactly
    /// this schedule (same times, operations and seeds), with no arrival twice.
    pub fn only_shard(mut self, index: u32, of: u32) -> Self {
        assert!(index < of, "shard {index} of {of}");
        self.shard = (u64::from(index), u64::from(of));
        self
    }

    fn rate_at(&self, real_s: f64) -> f64 {
        self.curve
            .value_at(self.clock.sim_secs_at(Duration::from_secs_f64(real_s)))
    }
}

impl Iterator for ArrivalSchedule {
    type Item = Arrival;

    fn next(&mut self) -> Option<Arrival> {
        loop {
            let arrival = self.next_of_all()?;
            self.generated += 1;
            if (self.generated - 1) % self.shard.1 == self.shard.0 {
                return Some(arrival);
            }
        }
    }
}

impl ArrivalSchedule {
    /// The next arrival of the whole schedule, before sharding.
    fn next_of_all(&mut self) -> Option<Arrival> {
        if self.peak_rate <= 0.0 {
            return None;
        }
        loop {
            let gap: f64 = Exp1.sample(&mut self.rng);
            self.now_s += gap / self.peak_rate;
            if self.now_s >= self.end_s {
                return None;
            }
            let keep: f64 = self.rng.random();
            if keep * self.peak_rate < self.rate_at(self.now_s) {
                let op = self.mix.pick(self.rng.random());
                let seed = self.rng.random();
                return Some(Arrival {
                    offset: Duration::from_secs_f64(self.now_s),
                    op,
                    seed,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> IncidentClock {
        IncidentClock {
            date: "2024-06-08".into(),
            start: "12:00".parse().unwrap(),
            end: "13:00".parse().unwrap(),
            speed: 60.0,
        }
    }

    fn curve(points: &[(&str, f64)]) -> LoadCurve {
        LoadCurve {
            unit: LoadUnit::ArrivalsPerSecond,
            points: points.iter().map(|&(t, v)| (t.parse().unwrap(), v)).collect(),
        }
    }

    fn mix() -> Mix {
        Mix {
            weights: [0.6, 0.35, 0.05],
        }
    }

    #[test]
    fn same_seed_gives_the_same_schedule() {
        let c = curve(&[("12:00", 200.0), ("13:00", 800.0)]);
        let a: Vec<Arrival> = ArrivalSchedule::new(c.clone(), clock(), &mix(), 7).collect();
        let b: Vec<Arrival> = ArrivalSchedule::new(c.clone(), clock(), &mix(), 7).collect();
        let other: Vec<Arrival> = ArrivalSchedule::new(c, clock(), &mix(), 8).collect();
        assert!(a.len() > 10_000);
        assert_eq!(a, b);
        assert_ne!(a, other);
    }

    #[test]
    fn shards_partition_the_schedule_exactly() {
        let c = curve(&[("12:00", 200.0), ("13:00", 800.0)]);
        let all: Vec<Arrival> = ArrivalSchedule::new(c.clone(), clock(), &mix(), 7).collect();
        let mut joined: Vec<Arrival> = (0..3)
            .flat_map(|k| ArrivalSchedule::new(c.clone(), clock(), &mix(), 7).only_shard(k, 3))
            .collect();
        joined.sort_by(|a, b| a.offset.cmp(&b.offset).then(a.seed.cmp(&b.seed)));
        assert_eq!(joined, all);
        let first = ArrivalSchedule::new(c, clock(), &mix(), 7).only_shard(0, 3).count();
        assert!(first.abs_diff(all.len() / 3) <= 1, "{first} of {}", all.len());
    }

    #[test]
    fn arrivals_follow_the_curve_and_the_mix() {
        // 60 real seconds; rate ramps 200 → 800/s, so about 30,000 arrivals, 3× more at the end.
        let arrivals: Vec<Arrival> =
            ArrivalSchedule::new(curve(&[("12:00", 200.0), ("13:00", 800.0)]), clock(), &mix(), 1).collect();
        let n = arrivals.len() as f64;
        assert!((n - 30_000.0).abs() < 900.0, "got {n} arrivals");
        let first = arrivals.iter().filter(|a| a.offset.as_secs_f64() < 10.0).count() as f64;
        let last = arrivals.iter().filter(|a| a.offset.as_secs_f64() >= 50.0).count() as f64;
        // expected 2,500 and 7,500
        assert!(
            (first - 2_500.0).abs() < 250.0 && (last - 7_500.0).abs() < 450.0,
            "{first} {last}"
        );
        let checkouts = arrivals.iter().filter(|a| a.op == Op::Checkout).count() as f64;
        assert!((checkouts / n - 0.35).abs() < 0.02);
        assert!(arrivals.windows(2).all(|w| w[0].offset <= w[1].offset));
    }
}

#[cfg(test)]
mod scenario_tests {
    use super::*;
    use crate::scenario::Scenario;

    /// The shipped smoke scenario, resolved at a fixed capacity, gives the same arrivals every
    /// time for its seed, and different ones for another seed.
    #[test]
    fn the_smoke_scenario_and_its_seed_fix_the_schedule() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/smoke.toml");
        let s = Scenario::load(&path).unwrap();
        let schedule = |seed| -> Vec<Arrival> {
            ArrivalSchedule::new(s.load.resolved(Some(2000.0)), s.clock.clone(), &s.mix, seed).collect()
        };
        let a = schedule(s.run.seed);
        assert!(a.len() > 20_000, "{} arrivals", a.len());
        assert_eq!(a, schedule(s.run.seed));
        assert_ne!(a, schedule(s.run.seed + 1));
    }
}

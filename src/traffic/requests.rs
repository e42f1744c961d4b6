//! Turns an arrival into a concrete request: which customer, which products, which range.

use rand::{Rng, RngExt};
use rand_distr::{Distribution, Zipf};

use crate::scenario::{IncidentClock, Op, Scenario};
use crate::store::{CartItem, Request};

/// Builds requests with the scenario's data sizes, cart shape and Zipf product popularity.
#[derive(Debug, Clone)]
pub struct RequestFactory {
    customers: u64,
    popularity: Popularity,
    items: (u32, u32),
    clock: IncidentClock,
    midnight_unix: i64,
    report_range_s: i64,
}

impl RequestFactory {
    pub fn new(scenario: &Scenario) -> Self {
        RequestFactory {
            customers: scenario.data.customers,
            popularity: Popularity::new(scenario.data.products, scenario.checkout.zipf_s),
            items: (scenario.checkout.items_min, scenario.checkout.items_max),
            clock: scenario.clock.clone(),
            midnight_unix: scenario.clock.midnight_unix(),
            report_range_s: i64::from(scenario.run.report_range_minutes) * 60,
        }
    }

    /// Unix seconds on the incident clock `real_s` real seconds into the run.
    fn incident_unix(&self, real: std::time::Duration) -> i64 {
        self.midnight_unix + self.clock.sim_secs_at(real) as i64
    }

    /// A request of kind `op` made `real` into the run, its choices drawn from `rng`.
    pub fn build<R: Rng + ?Sized>(&self, op: Op, real: std::time::Duration, rng: &mut R) -> Request {
        let now_unix = self.incident_unix(real);
        match op {
            Op::Browse => Request::Browse {
                product_id: self.popularity.sample(rng),
                customer_id: rng.random_range(1..=self.customers as i64),
            },
            Op::Checkout => {
                let n = rng.random_range(self.items.0..=self.items.1);
                let mut items: Vec<CartItem> = Vec::with_capacity(n as usize);
                while items.len() < n as usize {
                    let product_id = self.popularity.sample(rng);
                    // Products in a cart are distinct, and locked in id order (no deadlocks).
                    if !items.iter().any(|i| i.product_id == product_id) {
                        items.push(CartItem {
                            product_id,
                            qty: rng.random_range(1..=3),
                        });
                    }
                }
                items.sort_by_key(|i| i.product_id);
                Request::Checkout {
                    customer_id: rng.random_range(1..=self.customers as i64),
                    items,
                    now_unix,
                }
            }
            Op::Report => Request::Report {
                since_unix: now_unix - self.report_range_s,
                until_unix: now_unix,
            },
        }
    }
}

/// Zipf product popularity: product k (from 1) with weight 1/k^s. Up to a million products,
/// Walker's alias table answers with one uniform index and one comparison (the generator's hot
/// path: `powf` rejection sampling cost more than the rest of a request); beyond that,
/// `rand_distr`'s Zipf sampler.
#[derive(Debug, Clone)]
enum Popularity {
    /// Per product (index k − 1): the chance to keep it, else its alias.
    Alias(Vec<(f64, u32)>),
    Sampler(Zipf<f64>),
}

impl Popularity {
    const MAX_TABLE: u64 = 1_000_000;

    fn new(products: u64, s: f64) -> Self {
        if products > Self::MAX_TABLE {
            let zipf = Zipf::new(products as f64, s).expect("validated: products > 0 and zipf_s > 0");
            return Popularity::Sampler(zipf);
        }
        let n = products as usize;
        let weights: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-s)).collect();
        let total: f64 = weights.iter().sum();
        // Vose's construction: scaled weights split into those below and above the mean.
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut table = vec![(1.0, 0u32); n];
        let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(l), Some(&g)) = (small.pop(), large.last()) {
            table[l] = (scaled[l], g as u32);
            scaled[g] -= 1.0 - scaled[l];
            if scaled[g] < 1.0 {
                large.pop();
                small.push(g);
            }
        }
        for i in large.into_iter().chain(small) {
            table[i] = (1.0, i as u32);
        }
        Popularity::Alias(table)
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> i64 {
        match self {
            Popularity::Alias(table) => {
                let i = rng.random_range(0..table.len());
                let (keep, alias) = table[i];
                let k = if rng.random::<f64>() < keep { i } else { alias as usize };
                k as i64 + 1
            }
            Popularity::Sampler(zipf) => zipf.sample(rng) as i64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_popularity_table_draws_as_zipf_does() {
        let (products, s) = (1000, 1.1);
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        let table = Popularity::new(products, s);
        let zipf = Popularity::Sampler(Zipf::new(products as f64, s).unwrap());
        let share = |p: &Popularity, rng: &mut rand::rngs::SmallRng, k: i64| {
            (0..200_000).filter(|_| p.sample(rng) <= k).count() as f64 / 200_000.0
        };
        for k in [1, 10, 100, 1000] {
            let (a, b) = (share(&table, &mut rng, k), share(&zipf, &mut rng, k));
            assert!((a - b).abs() < 0.01, "P(product <= {k}): table {a:.4}, zipf {b:.4}");
        }
        let all: Vec<i64> = (0..10_000).map(|_| table.sample(&mut rng)).collect();
        assert!(all.iter().all(|&k| (1..=1000).contains(&k)));
    }
}

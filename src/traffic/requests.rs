//! Turns an arrival into a concrete request: which customer, which products, which range.

use rand::RngExt;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Zipf};

use crate::scenario::{IncidentClock, Op, Scenario};
use crate::store::{CartItem, Request};

/// Builds requests with the scenario's data sizes, cart shape and Zipf product popularity.
#[derive(Debug, Clone)]
pub struct RequestFactory {
    customers: u64,
    popularity: Zipf<f64>,
    items: (u32, u32),
    clock: IncidentClock,
    midnight_unix: i64,
    report_range_s: i64,
}

impl RequestFactory {
    pub fn new(scenario: &Scenario) -> Self {
        RequestFactory {
            customers: scenario.data.customers,
            popularity: Zipf::new(scenario.data.products as f64, scenario.checkout.zipf_s)
                .expect("validated: products > 0 and zipf_s > 0"),
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
    pub fn build(&self, op: Op, real: std::time::Duration, rng: &mut StdRng) -> Request {
        let now_unix = self.incident_unix(real);
        match op {
            Op::Browse => Request::Browse {
                product_id: self.popularity.sample(rng) as i64,
                customer_id: rng.random_range(1..=self.customers as i64),
            },
            Op::Checkout => {
                let n = rng.random_range(self.items.0..=self.items.1);
                let mut items: Vec<CartItem> = Vec::with_capacity(n as usize);
                while items.len() < n as usize {
                    let product_id = self.popularity.sample(rng) as i64;
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

//! Traffic: the seeded arrival schedule (pure), the users' requests, the open-loop engine that
//! sends them, and the closed-loop capacity probe.

mod admission;
mod engine;
mod pacer;
mod probe;
mod requests;
mod schedule;

pub use admission::{Guards, RetryBudget, Shedder};
pub use engine::{Engine, RetryPolicy};
pub use probe::{Probe, ProbeFailed, capacity_for, closed_loop, measure_capacity};
pub use requests::RequestFactory;
pub use schedule::{Arrival, ArrivalSchedule};

//! Faults: reversible migrations applied on the incident clock, and always rolled back.

mod catalog;
mod injector;
pub mod migration_dir;

pub use catalog::{Fault, find, list};
pub use injector::{Injector, TimelineStep};

//! outage-sim: replay a production database outage end to end on a real database.
//!
//! The flow of a run (docs/development.md): `scenario` → `traffic` → `store`, with `faults` applying
//! DDL on the incident clock and `metrics` recording every window into `results`; `analysis`,
//! `charts` and `report` read only the results.

pub mod analysis;
pub mod calibrate;
pub mod charts;
pub mod cli;
pub mod commands;
pub mod console;
pub mod ensemble;
pub mod error;
pub mod exporter;
pub mod faults;
pub mod merge;
pub mod metrics;
pub mod plan;
pub mod progress;
pub mod region;
pub mod replay;
pub mod report;
pub mod results;
pub mod scenario;
pub mod session;
pub mod store;
pub mod traffic;
pub mod training;
pub mod whatif;

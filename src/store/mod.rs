//! The database boundary: one type per backend behind the small [`Store`] trait.
//!
//! A store owns its schema, seeding, the SQL of each operation and its monitor. It knows
//! nothing of traffic: it executes one [`Request`] at a time, as many at once as it is asked.

pub mod sqlite;
mod url;

pub use url::{DbUrl, redact};

use std::future::Future;

/// One product in a cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CartItem {
    pub product_id: i64,
    pub qty: i64,
}

/// One user operation with its parameters, chosen by the caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Look at a product and its stock, and at the customer's recent orders.
    Browse { product_id: i64, customer_id: i64 },
    /// Reserve stock, create the order (pending), its items and payment, mark it paid.
    Checkout {
        customer_id: i64,
        items: Vec<CartItem>,
        now_unix: i64,
    },
    /// Revenue by status and hour over `[since_unix, until_unix)`.
    Report { since_unix: i64, until_unix: i64 },
}

/// Why a request failed inside the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported it was locked or busy.
    #[error("database busy: {0}")]
    Busy(sqlx::Error),
    #[error(transparent)]
    Other(#[from] sqlx::Error),
}

/// A real database that can serve the workload and take fault DDL.
pub trait Store: Send + Sync + 'static {
    /// `sqlite`, `postgres` or `mysql`; also the fault catalog's folder name.
    fn dialect(&self) -> &'static str;

    /// Runs one operation to completion (or until the caller drops the future).
    fn execute(&self, request: &Request) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Runs fault DDL the way an operator would: it waits its turn for the write lock like any
    /// writer, calls `locked` once it holds it, then runs `sql` (one or more statements).
    fn run_ddl(&self, sql: &str, locked: &(dyn Fn() + Sync)) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Whether this database was prepared by outage-sim (faults are applied only then).
    fn is_prepared(&self) -> impl Future<Output = Result<bool, sqlx::Error>> + Send;

    /// One monitor sample: (metric, value) pairs for `db.csv`.
    fn sample(&self) -> impl Future<Output = Vec<(&'static str, f64)>> + Send;
}

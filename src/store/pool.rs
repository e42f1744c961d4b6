//! The traffic connections of a server store. sqlx's own pool pings every connection it takes
//! back: one more round trip per request, during which the connection serves nobody. With the
//! hottest inventory rows locked by most checkouts, every idle round trip is throughput lost
//! (docs/benchmarks.md has the pairs against pgbench). This pool takes a connection back
//! as the request left it; only after an error is it tested (which also sends the queued
//! rollback, so a failed transaction never keeps its row locks while its connection idles),
//! and one that broke is dropped.

use deadpool::managed;
use futures_util::future::BoxFuture;
use sqlx::{ConnectOptions, Connection};

/// Opens connections with the store's options; takes them back untested.
pub struct Connector<C: Connection>(C::Options);

impl<C: Connection> managed::Manager for Connector<C> {
    type Type = C;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<C, sqlx::Error> {
        self.0.connect().await
    }

    async fn recycle(&self, _: &mut C, _: &managed::Metrics) -> managed::RecycleResult<sqlx::Error> {
        Ok(())
    }
}

/// At most `size` connections, opened when first needed.
pub struct Traffic<C: Connection> {
    pool: managed::Pool<Connector<C>>,
}

impl<C: Connection> Clone for Traffic<C> {
    fn clone(&self) -> Self {
        Traffic {
            pool: self.pool.clone(),
        }
    }
}

/// One request's work on a connection.
pub type Run<C> = fn(&mut C, crate::store::Request) -> BoxFuture<'_, Result<(), sqlx::Error>>;

impl<C: Connection> Traffic<C> {
    pub fn new(options: C::Options, size: u32) -> Self {
        let pool = managed::Pool::builder(Connector(options))
            .max_size(size as usize)
            .build()
            .expect("a pool without timeouts needs no runtime");
        Traffic { pool }
    }

    /// Runs `request` on a connection, waiting for one until `wait_until`.
    pub async fn run(
        &self,
        wait_until: tokio::time::Instant,
        request: crate::store::Request,
        run: Run<C>,
    ) -> Result<(), sqlx::Error> {
        let mut conn = match tokio::time::timeout_at(wait_until, self.pool.get()).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(managed::PoolError::Backend(e))) => return Err(e),
            Ok(Err(e)) => return Err(sqlx::Error::Protocol(format!("traffic pool: {e}"))),
            Err(_) => return Err(sqlx::Error::PoolTimedOut),
        };
        let result = run(&mut conn, request).await;
        if let Err(e) = &result
            && (broken(e) || conn.ping().await.is_err())
        {
            drop(managed::Object::take(conn));
        }
        result
    }

    /// Closes the idle connections gracefully; those in use close when their request ends.
    pub async fn close(&self) {
        for conn in self.pool.retain(|_, _| false).removed {
            let _ = conn.close().await;
        }
        self.pool.close();
    }
}

/// Whether an error means the connection itself is gone (its socket, or the server ended
/// the session), not only the request.
fn broken(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_) => true,
        // Class 08 is a connection exception, 57P0x PostgreSQL's shutdown or termination.
        sqlx::Error::Database(d) => d.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_errors_of_the_connection_itself_drop_it() {
        assert!(broken(&sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into())));
        assert!(broken(&sqlx::Error::Protocol("unexpected message".into())));
        assert!(!broken(&sqlx::Error::RowNotFound));
        assert!(!broken(&sqlx::Error::PoolTimedOut));
    }
}

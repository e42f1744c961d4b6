//! Opening the store a command works on, whichever backend `--db` names: a copy of the cached
//! SQLite base (or the user's SQLite file), or outage-sim's schema on a server, seeded or reset.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;

use super::mysql::MysqlStore;
use super::postgres::PostgresStore;
use super::seed::History;
use super::sqlite::{self, RunFile, SqliteStore};
use super::{DbUrl, ServerStore, prepare_shown, redact};
use crate::error::BadInput;
use crate::scenario::Scenario;

/// An open store of one of the backends; [`with_store!`](crate::with_store) runs generic code
/// on whichever it is.
pub enum Opened {
    Sqlite(Arc<SqliteStore>),
    Postgres(Arc<PostgresStore>),
    Mysql(Arc<MysqlStore>),
}

/// Runs `$body` with `$store` bound to the `Arc` of the store in `$opened`, whatever its type.
#[macro_export]
macro_rules! with_store {
    ($opened:expr, $store:ident => $body:expr) => {
        match $opened {
            $crate::store::Opened::Sqlite($store) => $body,
            $crate::store::Opened::Postgres($store) => $body,
            $crate::store::Opened::Mysql($store) => $body,
        }
    };
}

/// What the store is, for `meta.json` and messages: its URL (any password replaced by `***`)
/// and, on a server, outage-sim's schema there.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub schema: Option<String>,
}

/// Where to open a store.
pub struct Where<'a> {
    pub db: Option<DbUrl>,
    /// outage-sim's schema on a server.
    pub schema: &'a str,
    /// Where SQLite base databases are cached.
    pub cache: &'a Path,
    /// Where the copy of the SQLite base goes (without `--db sqlite:FILE`).
    pub copy: &'a Path,
    /// Seed or reset the data first. False for the shards after the first of a sharded run:
    /// they share the database as shard 0 (or `prepare`) left it, and must not reset it under
    /// each other.
    pub prepare: bool,
    /// With `--db sqlite:FILE`: work on a copy of it at `copy` (each run of an ensemble starts
    /// from the same data), not on the file itself.
    pub copy_own: bool,
}

/// Opens the store `at` names, seeded with the scenario's history (or reset to it), with the
/// scenario's pool.
pub async fn open(at: Where<'_>, scenario: &Scenario) -> Result<(Opened, Target)> {
    let history = History::of(scenario);
    let limits = &scenario.limits;
    match at.db {
        None | Some(DbUrl::Sqlite(_)) => {
            let own = match &at.db {
                Some(DbUrl::Sqlite(path)) => Some(path.as_path()),
                _ => None,
            };
            let file = match own {
                Some(f) if !at.prepare && !f.exists() => {
                    let msg = format!(
                        "{} does not exist: prepare it once before the shards start (outage-sim prepare SCENARIO --db sqlite:{})",
                        f.display(),
                        f.display()
                    );
                    return Err(BadInput(msg).into());
                }
                Some(own) if at.copy_own => RunFile::CopyOfOwn { own, copy: at.copy },
                Some(f) => RunFile::Own(f),
                None => RunFile::CopyOfBase {
                    cache: at.cache,
                    copy: at.copy,
                },
            };
            let store = sqlite::open_for_run(&history, file, limits.pool_size).await?;
            let worked_on = if at.copy_own { None } else { own };
            let url = DbUrl::Sqlite(worked_on.unwrap_or(at.copy).to_path_buf()).to_string();
            Ok((Opened::Sqlite(Arc::new(store)), Target { url, schema: None }))
        }
        Some(DbUrl::Postgres(url)) => {
            let store = on_server::<PostgresStore>(&url, at.schema, scenario, (&history, at.prepare)).await?;
            Ok((Opened::Postgres(store), server_target(&url, at.schema)))
        }
        Some(DbUrl::Mysql(url)) => {
            let store = on_server::<MysqlStore>(&url, at.schema, scenario, (&history, at.prepare)).await?;
            Ok((Opened::Mysql(store), server_target(&url, at.schema)))
        }
    }
}

fn server_target(url: &str, schema: &str) -> Target {
    Target {
        url: redact(url),
        schema: Some(schema.to_string()),
    }
}

/// Connects, then seeds or resets outage-sim's schema, or (`prepare` false) checks that it was
/// prepared; closes the store if that fails.
async fn on_server<S: ServerStore>(
    url: &str,
    schema: &str,
    scenario: &Scenario,
    (history, prepare): (&History, bool),
) -> Result<Arc<S>> {
    let limits = &scenario.limits;
    let store = S::connect(url, schema, limits.pool_size, limits.pool_wait).await?;
    let ready = if prepare {
        prepare_shown(&store, url, history).await.map(drop)
    } else {
        match store.is_prepared().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(BadInput(format!(
                "schema {schema} is not prepared: shard 0 or `outage-sim prepare` prepares it before the other shards start"
            ))
            .into()),
            Err(e) => Err(anyhow::Error::from(e)),
        }
    };
    if let Err(e) = ready {
        store.close().await;
        return Err(e);
    }
    Ok(Arc::new(store))
}

//! A migration tried on an empty copy of outage-sim's schema before any load starts: the same
//! tables and indexes, a handful of rows. One that cannot apply (a syntax error, a missing
//! column) or cannot be rolled back is found in seconds, not under the peak.

use std::path::Path;

use anyhow::Result;

use super::{Fault, migration_dir};
use crate::error::BadInput;
use crate::scenario::{DataSize, Scenario};
use crate::store::{self, DbUrl, Store, error_text};
use crate::with_store;

/// Applies `fault` (the migration in `dir`) to an empty copy of the schema, then rolls it back.
/// On a server the copy is the schema `<schema>_precheck`, seeded anew each time; on SQLite a
/// file that is deleted after.
pub async fn on_empty_copy(
    dir: &Path,
    fault: &Fault,
    scenario: &Scenario,
    db: Option<&DbUrl>,
    schema: &str,
) -> Result<()> {
    let mut empty = scenario.clone();
    empty.data = DataSize {
        orders: 10,
        customers: 10,
        products: 10,
        history_days: 1,
    };
    // A seed of its own each time, so the copy is seeded anew, never reset from a copy a
    // killed pre-check left the migration applied in.
    empty.run.data_seed = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64;
    let file = std::env::temp_dir().join(format!("outage-sim-precheck-{}.db", std::process::id()));
    store::sqlite::remove_files(&file);
    let scratch = format!("{schema}_precheck");
    let at = store::Where {
        db: Some(match db {
            None | Some(DbUrl::Sqlite(_)) => DbUrl::Sqlite(file.clone()),
            Some(server) => server.clone(),
        }),
        schema: &scratch,
        cache: Path::new(""),
        copy: &file,
        prepare: true,
        copy_own: false,
    };
    let opened = store::open(at, &empty).await;
    let tried = match opened {
        Ok((opened, _)) => with_store!(opened, store => {
            let tried = up_and_down(&*store, dir, fault).await;
            store.close().await;
            tried
        }),
        Err(e) => Err(e.context("preparing an empty copy of the schema to try the migration on")),
    };
    store::sqlite::remove_files(&file);
    tried
}

async fn up_and_down<S: Store>(store: &S, dir: &Path, fault: &Fault) -> Result<()> {
    if let Err(e) = store.run_ddl(&fault.up, None, &|_| {}).await {
        let detail = error_text(&e, &fault.up);
        // What part of a migration of several statements ran is rolled back, as in a run.
        let _ = store.run_ddl(&fault.down, None, &|_| {}).await;
        let msg = format!(
            "{} (tried on an empty copy of the schema, before any load)",
            migration_dir::failed(dir, &detail)
        );
        return Err(BadInput(msg).into());
    }
    if let Err(e) = store.run_ddl(&fault.down, None, &|_| {}).await {
        let msg = format!(
            "{}: the migration applied on an empty copy of the schema, but its down files failed to roll it back: {}",
            dir.display(),
            error_text(&e, &fault.down)
        );
        return Err(BadInput(msg).into());
    }
    Ok(())
}

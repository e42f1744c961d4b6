//! `outage-sim prepare`: create and seed the database a scenario runs on, and nothing else.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::PrepareArgs;
use crate::store::mysql::MysqlStore;
use crate::store::postgres::PostgresStore;
use crate::store::seed::History;
use crate::store::sqlite::{self, RunFile};
use crate::store::{DbUrl, ServerStore, Store, prepare_shown, redact};

pub async fn prepare(args: PrepareArgs) -> Result<ExitCode> {
    let db = super::parse_db(args.db.db.as_deref())?;
    let scenario = crate::scenario::Scenario::load(&args.scenario)?;
    let history = History::of(&scenario);
    match db {
        None => {
            let seeding = crate::progress::bar(history.data.orders, "{msg:>18} [{bar:40}] {pos}/{len} orders ({eta})");
            let file = sqlite::ensure_base(&args.db.cache, &history, &seeding).await?;
            seeding.finish_and_clear();
            println!("prepared {} (the SQLite base every run copies)", file.display());
        }
        Some(DbUrl::Sqlite(file)) => {
            anyhow::ensure!(
                !file.exists(),
                super::BadInput(format!(
                    "{} exists; outage-sim prepares only a new file",
                    file.display()
                ))
            );
            sqlite::open_for_run(&history, RunFile::Own(&file), 1)
                .await?
                .close()
                .await;
            println!("prepared {}", file.display());
        }
        Some(DbUrl::Postgres(url)) => prepare_on::<PostgresStore>(&args, &history, &url).await?,
        Some(DbUrl::Mysql(url)) => prepare_on::<MysqlStore>(&args, &history, &url).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Seeds (or resets) outage-sim's schema on a server.
async fn prepare_on<S: ServerStore>(args: &PrepareArgs, history: &History, url: &str) -> Result<()> {
    let store = S::connect(url, &args.db.schema, 2, std::time::Duration::from_secs(10)).await?;
    let prepared = prepare_shown(&store, url, history).await;
    store.close().await;
    prepared?;
    println!("prepared {} {} on {}", S::SCHEMA_KIND, args.db.schema, redact(url));
    Ok(())
}

//! Persistence. Functions here take `&impl ConnectionTrait`, so the same code runs on the pool or
//! inside a transaction. The module is `store`, not `query`, so it never clashes with GraphQL.

use std::time::Duration;

use migration::MigratorTrait;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::configuration::{redact_url, Backend, DatabaseSettings};

pub mod accounts;
pub mod calendar;
pub mod case_rows;
pub mod cases;
pub mod demo;
pub mod directory;
pub mod files;
pub mod inbox;
pub mod organisations;
pub mod persisted;
pub mod regulation;
pub mod reports;
pub mod rollup;

/// Why the database could not be used at start-up.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no supported database.
    #[error("database URL {0} is not sqlite:// or postgres://")]
    UnsupportedUrl(String),
    /// The database did not answer or refused the connection.
    #[error("cannot connect to the database at {url}: {reason}")]
    Connect {
        /// The URL, password redacted.
        url: String,
        /// The driver's explanation.
        reason: String,
    },
    /// A migration failed; the schema is as it was before it.
    #[error("database migration failed: {0}")]
    Migrate(String),
}

/// Opens the pool. SQLite: WAL journal, foreign keys on, a busy timeout, `synchronous=NORMAL`
/// (safe with WAL). PostgreSQL: a bounded pool with an acquire timeout.
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, StoreError> {
    let backend = Backend::of(&settings.url)
        .ok_or_else(|| StoreError::UnsupportedUrl(redact_url(&settings.url)))?;
    let mut opts = ConnectOptions::new(settings.url.clone());
    opts.max_connections(settings.max_connections)
        .min_connections(0)
        .acquire_timeout(settings.acquire_timeout)
        .connect_timeout(settings.acquire_timeout)
        .idle_timeout(Duration::from_secs(300))
        .sqlx_logging(std::env::var("QYZMET_SQL_LOG").is_ok())
        .sqlx_slow_statements_logging_settings(log::LevelFilter::Warn, Duration::from_millis(500));
    if backend == Backend::Sqlite {
        let busy = settings.acquire_timeout;
        opts.map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(busy)
                .synchronous(SqliteSynchronous::Normal)
        });
    }
    Database::connect(opts)
        .await
        .map_err(|e| StoreError::Connect {
            url: redact_url(&settings.url),
            reason: driver_reason(&e),
        })
}

/// Begins a transaction that writes. On SQLite it is `BEGIN IMMEDIATE`: it takes the write lock
/// at once, waiting its turn (the busy timeout) behind a running writer, instead of starting as
/// a reader and failing with "database is locked" when it first writes after another writer
/// committed — SQLite cannot wait in that case. On PostgreSQL an ordinary transaction. Every
/// write transaction in qyzmet begins here.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Applies every pending migration, each in its own transaction where the database allows it.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), StoreError> {
    migration::Migrator::up(db, None)
        .await
        .map_err(|e| StoreError::Migrate(driver_reason(&e)))
}

/// Checks that the database answers, for `/readyz`.
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.ping().await.is_ok()
}

/// Whether this node can serve, for `/readyz`: the database answers, every migration this build
/// knows is applied (a database recreated empty under a running server is not ready), and the
/// reference data is there (regions, a working calendar, regulations). `Err` says what is
/// missing, for the operator.
pub async fn ready(db: &DatabaseConnection) -> Result<(), String> {
    use sea_orm::{ConnectionTrait, Statement};
    if !ping(db).await {
        return Err("database unavailable".into());
    }
    let applied = migration::Migrator::get_applied_migrations(db)
        .await
        .map_err(|_| "migrations unknown".to_owned())?
        .len();
    let known = migration::Migrator::migrations().len();
    if applied < known {
        return Err(format!("{applied} of {known} migrations applied"));
    }
    for (table, what) in [
        ("region", "regions"),
        ("calendar_version", "working calendar"),
        ("regulation", "regulations"),
    ] {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .map_err(|_| format!("{what} unreadable"))?;
        let n: i64 = row
            .and_then(|r| r.try_get::<i64>("", "n").ok())
            .unwrap_or(0);
        if n == 0 {
            return Err(format!("no {what} loaded"));
        }
    }
    Ok(())
}

// Driver messages at start-up go to the operator's terminal, never to a client; strip SeaORM's
// wrapper so the useful part (e.g. "Connection refused") is what is read.
fn driver_reason(e: &DbErr) -> String {
    let text = e.to_string();
    text.rsplit_once("Error: ")
        .map(|(_, tail)| tail.to_owned())
        .unwrap_or(text)
}

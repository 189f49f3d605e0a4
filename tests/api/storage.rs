//! Migrations create the same tables and indexes on SQLite and PostgreSQL and can be re-run.

use api::configuration::Backend;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, Statement};

use crate::helpers::{spawn_app, test_backend};

const TABLES: [&str; 4] = ["region", "organisation", "regulation", "calendar_version"];
const INDEXES: [&str; 5] = [
    "ix_organisation_region_kind",
    "ux_regulation_code_version",
    "ux_regulation_code_hash",
    "ix_regulation_service",
    "ix_regulation_region",
];

async fn names(db: &sea_orm::DatabaseConnection, sqlite: &str, postgres: &str) -> Vec<String> {
    let backend = db.get_database_backend();
    let sql = match test_backend() {
        Backend::Sqlite => sqlite,
        Backend::Postgres => postgres,
    };
    db.query_all_raw(Statement::from_string(backend, sql))
        .await
        .expect("catalog query")
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).expect("a name"))
        .collect()
}

#[actix_web::test]
async fn migrations_create_every_table_and_index() {
    let app = spawn_app().await;
    let tables = names(
        &app.db,
        "SELECT name FROM sqlite_master WHERE type = 'table'",
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
    )
    .await;
    for t in TABLES {
        assert!(
            tables.iter().any(|n| n == t),
            "table {t} missing from {tables:?}"
        );
    }
    let indexes = names(
        &app.db,
        "SELECT name FROM sqlite_master WHERE type = 'index'",
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'",
    )
    .await;
    for i in INDEXES {
        assert!(
            indexes.iter().any(|n| n == i),
            "index {i} missing from {indexes:?}"
        );
    }
}

#[actix_web::test]
async fn migrations_are_all_applied_and_rerunning_them_changes_nothing() {
    let app = spawn_app().await;
    let pending = Migrator::get_pending_migrations(&app.db)
        .await
        .expect("status");
    assert!(pending.is_empty());
    Migrator::up(&app.db, None)
        .await
        .expect("a second run is a no-op");
    let applied = Migrator::get_applied_migrations(&app.db)
        .await
        .expect("status");
    assert_eq!(applied.len(), Migrator::migrations().len());
}

#[actix_web::test]
async fn sqlite_runs_in_wal_mode_with_foreign_keys_on() {
    if test_backend() != Backend::Sqlite {
        return; // A SQLite-only property; PostgreSQL enforces foreign keys always.
    }
    let app = spawn_app().await;
    let mode = names(&app.db, "PRAGMA journal_mode", "").await;
    assert_eq!(mode, ["wal"]);
    let backend = app.db.get_database_backend();
    let row = app
        .db
        .query_one_raw(Statement::from_string(backend, "PRAGMA foreign_keys"))
        .await
        .expect("pragma")
        .expect("a row");
    assert_eq!(row.try_get_by_index::<i32>(0).expect("int"), 1);
}

#[actix_web::test]
async fn a_foreign_key_violation_is_refused_and_writes_nothing() {
    let app = spawn_app().await;
    let count = || async {
        entity::organisation::Entity::find()
            .count(&app.db)
            .await
            .expect("count")
    };
    let before = count().await;
    let backend = app.db.get_database_backend();
    let insert =
        "INSERT INTO organisation (code, kind, name_kk, name_en, region_code, created_at) \
                  VALUES ('x', 'PROVIDER', 'x', 'x', 'no-such-region', CURRENT_TIMESTAMP)";
    let result = app
        .db
        .execute_raw(Statement::from_string(backend, insert))
        .await;
    assert!(
        result.is_err(),
        "an organisation in an unknown region must be refused"
    );
    assert_eq!(count().await, before);
}

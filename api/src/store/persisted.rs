//! Automatic persisted queries, stored so that every node serving one database knows a query
//! registered on any of them.

use chrono::{DateTime, Utc};
use entity::persisted_query;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::error::ApiError;

/// The most queries kept; beyond it the oldest are forgotten (a client whose query was
/// forgotten registers it again: that is the protocol's ordinary miss).
pub const MAX_STORED: u64 = 10_000;

/// The most bytes of query text kept in the table; beyond it the oldest are forgotten.
pub const MAX_STORED_BYTES: i64 = 32 * 1024 * 1024;

/// The query text registered under `hash`, if any.
pub async fn find(db: &impl ConnectionTrait, hash: &str) -> Result<Option<String>, ApiError> {
    Ok(persisted_query::Entity::find_by_id(hash.to_owned())
        .one(db)
        .await?
        .map(|q| q.query))
}

/// Registers `query` under `hash` (already checked to be its SHA-256); keeps at most
/// [`MAX_STORED`], forgetting the oldest.
pub async fn remember(
    db: &impl ConnectionTrait,
    hash: &str,
    query: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    persisted_query::Entity::insert(persisted_query::ActiveModel {
        hash: Set(hash.to_owned()),
        query: Set(query.to_owned()),
        created_at: Set(now),
    })
    .on_conflict_do_nothing_on([persisted_query::Column::Hash])
    .exec(db)
    .await?;
    let stored = persisted_query::Entity::find().count(db).await?;
    forget_beyond_bytes(db, MAX_STORED_BYTES).await?;
    if stored > MAX_STORED {
        let oldest = Query::select()
            .column(persisted_query::Column::Hash)
            .from(persisted_query::Entity)
            .order_by(persisted_query::Column::CreatedAt, sea_orm::Order::Asc)
            .order_by(persisted_query::Column::Hash, sea_orm::Order::Asc)
            .limit(stored - MAX_STORED)
            .to_owned();
        persisted_query::Entity::delete_many()
            .filter(Expr::col(persisted_query::Column::Hash).in_subquery(oldest))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Forgets the oldest queries while the table holds more than `max_bytes` of text
/// ([`MAX_STORED_BYTES`] when registering): the newest ones whose running total stays within
/// the bound are kept.
pub async fn forget_beyond_bytes(
    db: &impl ConnectionTrait,
    max_bytes: i64,
) -> Result<(), ApiError> {
    let backend = db.get_database_backend();
    let length = match backend {
        sea_orm::DatabaseBackend::Postgres => "OCTET_LENGTH(query)",
        _ => "LENGTH(CAST(query AS BLOB))",
    };
    let total: i64 = db
        .query_one_raw(sea_orm::Statement::from_string(
            backend,
            format!("SELECT CAST(COALESCE(SUM({length}), 0) AS BIGINT) AS n FROM persisted_query"),
        ))
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    if total <= max_bytes {
        return Ok(());
    }
    // Newest first; everything after the bound is reached goes.
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            backend,
            format!(
                "SELECT hash, CAST({length} AS BIGINT) AS n FROM persisted_query \
                 ORDER BY created_at DESC, hash DESC"
            ),
        ))
        .await?;
    let mut kept = 0i64;
    let mut forget = Vec::new();
    for row in rows {
        let hash: String = row.try_get("", "hash")?;
        let n: i64 = row.try_get("", "n")?;
        if kept + n <= max_bytes && forget.is_empty() {
            kept += n;
        } else {
            forget.push(hash);
        }
    }
    for chunk in forget.chunks(500) {
        persisted_query::Entity::delete_many()
            .filter(Expr::col(persisted_query::Column::Hash).is_in(chunk.to_vec()))
            .exec(db)
            .await?;
    }
    Ok(())
}

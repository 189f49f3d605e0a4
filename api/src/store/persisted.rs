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

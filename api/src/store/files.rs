//! Attachments: which case a stored file belongs to, under what name, who attached it and when.
//! Attaching is one transaction: the row and an event in the case's chain carrying the file's
//! SHA-256, so the chain proves which content was attached.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use entity::{case_file, service_case};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::json;

use crate::error::ApiError;
use crate::files::Stored;
use crate::state::AppState;

/// The most attachments listed on one case.
pub const MAX_LISTED: u64 = 500;

/// An accepted signature on a file: whose (IIN) and when.
pub type Signed = Option<(String, DateTime<Utc>)>;

/// Records an attachment of `stored` to `case_id` by `actor` (with its accepted signature, if
/// any), with its event; returns the row.
pub async fn attach(
    state: &AppState,
    case_id: i64,
    name: &str,
    stored: &Stored,
    signed: Signed,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<case_file::Model, ApiError> {
    let _writer = match &state.write_lock {
        Some(l) => Some(l.lock().await),
        None => None,
    };
    let txn = crate::store::begin_write(&state.db).await?;
    // The case row is held while the event is appended, as a move holds it: the chain never
    // forks. (SQLite's write transaction already holds the whole database.)
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        service_case::Entity::find_by_id(case_id)
            .select_only()
            .column(service_case::Column::Id)
            .lock_exclusive()
            .into_tuple::<i64>()
            .one(&txn)
            .await?;
    }
    let row = case_file::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        case_id: Set(case_id),
        name: Set(name.to_owned()),
        sha256: Set(stored.sha256.clone()),
        size: Set(stored.size as i64),
        media_type: Set(stored.kind.media_type().to_owned()),
        uploaded_by: Set(actor.to_owned()),
        uploaded_at: Set(now),
        signer_iin: Set(signed.as_ref().map(|(iin, _)| iin.clone())),
        signed_at: Set(signed.as_ref().map(|(_, at)| *at)),
    };
    let written = case_file::Entity::insert(row)
        .exec_with_returning(&txn)
        .await?;
    crate::store::cases::append_event(
        &txn,
        case_id,
        "FILE_ATTACHED",
        json!({
            "file": written.id, "name": name, "sha256": stored.sha256,
            "size": stored.size, "mediaType": stored.kind.media_type(),
            "signedBy": signed.as_ref().map(|(iin, _)| iin),
            "signedAt": signed.as_ref().map(|(_, at)| at.to_rfc3339()),
        }),
        actor,
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(written)
}

/// A case's attachments, oldest first (at most [`MAX_LISTED`]).
pub async fn of_case<C: ConnectionTrait>(
    db: &C,
    case_id: i64,
) -> Result<Vec<case_file::Model>, ApiError> {
    Ok(case_file::Entity::find()
        .filter(case_file::Column::CaseId.eq(case_id))
        .order_by_asc(case_file::Column::Id)
        .limit(MAX_LISTED)
        .all(db)
        .await?)
}

/// One attachment.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<Option<case_file::Model>, ApiError> {
    Ok(case_file::Entity::find_by_id(id).one(db).await?)
}

/// Of `hashes`, those some attachment names (what the file store's sweep keeps).
pub async fn referenced<C: ConnectionTrait>(
    db: &C,
    hashes: Vec<String>,
) -> Result<HashSet<String>, ApiError> {
    let named: Vec<String> = case_file::Entity::find()
        .select_only()
        .column(case_file::Column::Sha256)
        .filter(case_file::Column::Sha256.is_in(hashes))
        .into_tuple()
        .all(db)
        .await?;
    Ok(named.into_iter().collect())
}

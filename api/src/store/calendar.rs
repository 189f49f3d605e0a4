//! Calendar versions: every version ever loaded is kept; the newest is in force.

use chrono::Utc;
use domain::calendar::WorkingCalendar;
use entity::calendar_version::{ActiveModel, Column, Entity, Model};
use sea_orm::ColumnTrait;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, SqlErr,
};

use crate::error::ApiError;

/// Outcome of importing a calendar file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    /// The version the content is stored under.
    pub version: u32,
    /// False when the same content was already stored (nothing written).
    pub created: bool,
}

/// Hex SHA-256 of a document.
pub fn content_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn calendar_error(e: domain::calendar::CalendarError) -> ApiError {
    ApiError::Rule {
        code: e.code(),
        message: e.to_string(),
    }
}

/// Validates a calendar file without storing it.
pub fn check(text: &str) -> Result<WorkingCalendar, ApiError> {
    WorkingCalendar::from_toml(text, 0).map_err(calendar_error)
}

/// Stores a calendar file as the next version, unless identical content is stored already.
/// The file is compiled and checked first; a file that does not compile writes nothing.
pub async fn import(
    db: &DatabaseConnection,
    text: &str,
    source: &str,
) -> Result<Imported, ApiError> {
    let compiled = check(text)?;
    let hash = content_hash(text);
    // Two importers racing for the same next version: the loser retries on the fresh maximum.
    for _ in 0..5 {
        let txn = crate::store::begin_write(db).await?;
        if let Some(existing) = Entity::find()
            .filter(Column::ContentHash.eq(hash.clone()))
            .one(&txn)
            .await?
        {
            txn.commit().await?;
            return Ok(Imported {
                version: existing.version as u32,
                created: false,
            });
        }
        let latest = Entity::find()
            .order_by_desc(Column::Version)
            .one(&txn)
            .await?;
        let version = latest.map_or(1, |m| m.version + 1);
        let (first, last) = compiled.years();
        let row = ActiveModel {
            version: Set(version),
            content_hash: Set(hash.clone()),
            first_year: Set(first),
            last_year: Set(last),
            document: Set(text.to_owned()),
            source: Set(source.to_owned()),
            loaded_at: Set(Utc::now()),
        };
        match Entity::insert(row).exec_without_returning(&txn).await {
            Ok(_) => {
                txn.commit().await?;
                return Ok(Imported {
                    version: version as u32,
                    created: true,
                });
            }
            Err(e) if is_unique_violation(&e) => {
                txn.rollback().await?;
                continue;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict(
        "another calendar import is in progress; try again".into(),
    ))
}

pub(crate) fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// All stored versions, oldest first (without their documents' compiled form).
pub async fn versions(db: &impl ConnectionTrait) -> Result<Vec<Model>, ApiError> {
    Ok(Entity::find().order_by_asc(Column::Version).all(db).await?)
}

/// The newest version, compiled.
pub async fn latest(db: &impl ConnectionTrait) -> Result<Option<WorkingCalendar>, ApiError> {
    let Some(row) = Entity::find()
        .order_by_desc(Column::Version)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    WorkingCalendar::from_toml(&row.document, row.version as u32)
        .map(Some)
        .map_err(calendar_error)
}

/// One version, compiled: due dates record the version they used, so it must stay readable.
pub async fn version(
    db: &impl ConnectionTrait,
    version: u32,
) -> Result<Option<WorkingCalendar>, ApiError> {
    let Some(row) = Entity::find_by_id(version as i32).one(db).await? else {
        return Ok(None);
    };
    WorkingCalendar::from_toml(&row.document, row.version as u32)
        .map(Some)
        .map_err(calendar_error)
}

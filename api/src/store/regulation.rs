//! Regulation versions. A regulation is identified by code + version; loading changed content
//! stores the next version and keeps the old one; identical content is recognised by its hash
//! and stores nothing. Cases (a later issue) pin the version in force at registration.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use domain::regulation::{check_unique, Regulation, RegulationError};
use entity::{region, regulation};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder,
};

use crate::error::ApiError;
use crate::store::calendar::{content_hash, is_unique_violation};

/// Outcome of importing one regulation file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    /// The regulation's code.
    pub code: String,
    /// The version its content is stored under.
    pub version: i32,
    /// False when the same content was stored already (nothing written).
    pub created: bool,
}

fn invalid(e: RegulationError) -> ApiError {
    ApiError::Rule {
        code: e.code(),
        message: e.to_string(),
    }
}

/// Validates one file without storing it.
pub fn check(file: &str, text: &str) -> Result<Regulation, ApiError> {
    Regulation::parse_new(file, text).map_err(invalid)
}

/// Imports a set of files all-or-nothing: every file is parsed and validated, codes must be
/// unique across the set, regions must exist; then all are stored in one transaction. A broken
/// file anywhere stores nothing at all.
pub async fn import_all(
    db: &DatabaseConnection,
    files: &[(String, String)],
    source: &str,
) -> Result<Vec<Imported>, ApiError> {
    let parsed = files
        .iter()
        .map(|(file, text)| check(file, text).map(|r| (file.clone(), r)))
        .collect::<Result<Vec<_>, _>>()?;
    check_unique(&parsed).map_err(invalid)?;

    // Racing importers: the loser of a version number retries on the fresh maximum.
    for _ in 0..5 {
        let txn = crate::store::begin_write(db).await?;
        let mut out = Vec::with_capacity(parsed.len());
        let mut raced = false;
        for ((file, r), (_, text)) in parsed.iter().zip(files) {
            if region::Entity::find_by_id(r.region.clone())
                .one(&txn)
                .await?
                .is_none()
            {
                return Err(ApiError::Rule {
                    code: "INVALID_REGULATION",
                    message: format!("{file}: region: unknown region {:?}", r.region),
                });
            }
            let hash = content_hash(text);
            let same = regulation::Entity::find()
                .filter(regulation::Column::Code.eq(r.code.clone()))
                .filter(regulation::Column::ContentHash.eq(hash.clone()))
                .one(&txn)
                .await?;
            if let Some(row) = same {
                out.push(Imported {
                    code: r.code.clone(),
                    version: row.version,
                    created: false,
                });
                continue;
            }
            let latest = regulation::Entity::find()
                .filter(regulation::Column::Code.eq(r.code.clone()))
                .order_by_desc(regulation::Column::Version)
                .one(&txn)
                .await?;
            let version = latest.map_or(1, |m| m.version + 1);
            let row = regulation::ActiveModel {
                id: sea_orm::ActiveValue::NotSet,
                code: Set(r.code.clone()),
                version: Set(version),
                service_code: Set(r.service.clone()),
                region_code: Set(r.region.clone()),
                content_hash: Set(hash),
                document: Set(text.clone()),
                source: Set(format!("{source}: {file}")),
                loaded_at: Set(Utc::now()),
            };
            match regulation::Entity::insert(row)
                .exec_without_returning(&txn)
                .await
            {
                Ok(_) => out.push(Imported {
                    code: r.code.clone(),
                    version,
                    created: true,
                }),
                Err(e) if is_unique_violation(&e) => {
                    raced = true;
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if raced {
            txn.rollback().await?;
            continue;
        }
        txn.commit().await?;
        return Ok(out);
    }
    Err(ApiError::Conflict(
        "another regulation import is in progress; try again".into(),
    ))
}

/// A stored version with its parsed content.
#[derive(Clone, Debug)]
pub struct StoredRegulation {
    /// The row (code, version, hash, source, loaded_at…).
    pub row: regulation::Model,
    /// The parsed regulation.
    pub regulation: Arc<Regulation>,
}

/// Parses stored documents once per content hash; the database stays the truth.
#[derive(Clone, Default)]
pub struct RegulationCache(
    Arc<Mutex<HashMap<String, Arc<Regulation>>>>,
    Arc<Mutex<HashMap<(String, i32), StoredRegulation>>>,
);

impl RegulationCache {
    fn parsed(&self, row: &regulation::Model) -> Result<Arc<Regulation>, ApiError> {
        if let Ok(map) = self.0.lock() {
            if let Some(r) = map.get(&row.content_hash) {
                return Ok(r.clone());
            }
        }
        let parsed =
            Arc::new(Regulation::parse(&row.source, &row.document).map_err(ApiError::internal)?);
        if let Ok(mut map) = self.0.lock() {
            map.insert(row.content_hash.clone(), parsed.clone());
        }
        Ok(parsed)
    }

    fn wrap(&self, row: regulation::Model) -> Result<StoredRegulation, ApiError> {
        Ok(StoredRegulation {
            regulation: self.parsed(&row)?,
            row,
        })
    }

    /// The newest version of every regulation, optionally by region and service, by code.
    pub async fn latest(
        &self,
        db: &impl ConnectionTrait,
        region: Option<&str>,
        service: Option<&str>,
    ) -> Result<Vec<StoredRegulation>, ApiError> {
        let mut q = regulation::Entity::find()
            .order_by_asc(regulation::Column::Code)
            .order_by_desc(regulation::Column::Version);
        if let Some(r) = region {
            q = q.filter(regulation::Column::RegionCode.eq(r));
        }
        if let Some(s) = service {
            q = q.filter(regulation::Column::ServiceCode.eq(s));
        }
        let mut newest: BTreeMap<String, regulation::Model> = BTreeMap::new();
        for row in q.all(db).await? {
            newest.entry(row.code.clone()).or_insert(row);
        }
        newest.into_values().map(|row| self.wrap(row)).collect()
    }

    /// One version, or the newest when `version` is `None`.
    pub async fn get(
        &self,
        db: &impl ConnectionTrait,
        code: &str,
        version: Option<i32>,
    ) -> Result<Option<StoredRegulation>, ApiError> {
        // A stored version never changes: pinned lookups are answered from memory.
        if let Some(v) = version {
            if let Some(hit) = self
                .1
                .lock()
                .ok()
                .and_then(|m| m.get(&(code.to_owned(), v)).cloned())
            {
                return Ok(Some(hit));
            }
        }
        let mut q = regulation::Entity::find().filter(regulation::Column::Code.eq(code));
        if let Some(v) = version {
            q = q.filter(regulation::Column::Version.eq(v));
        }
        match q.order_by_desc(regulation::Column::Version).one(db).await? {
            Some(row) => {
                let stored = self.wrap(row)?;
                if let Ok(mut m) = self.1.lock() {
                    m.insert(
                        (stored.row.code.clone(), stored.row.version),
                        stored.clone(),
                    );
                }
                Ok(Some(stored))
            }
            None => Ok(None),
        }
    }

    /// Every stored version of one regulation, oldest first.
    pub async fn versions(
        &self,
        db: &impl ConnectionTrait,
        code: &str,
    ) -> Result<Vec<StoredRegulation>, ApiError> {
        regulation::Entity::find()
            .filter(regulation::Column::Code.eq(code))
            .order_by_asc(regulation::Column::Version)
            .all(db)
            .await?
            .into_iter()
            .map(|row| self.wrap(row))
            .collect()
    }
}

/// The bundled regulation files as (name, text).
pub fn bundled() -> Vec<(String, String)> {
    domain::regulation::BUNDLED_REGULATIONS
        .iter()
        .map(|(f, t)| ((*f).to_owned(), (*t).to_owned()))
        .collect()
}

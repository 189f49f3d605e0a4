//! Organisation rows kept in memory by id. Rows are never changed while a server runs (they are
//! created by the directory sync at start or by `createOrganisation`, and the sync fills a
//! missing Russian name only before serving), so a row once read stays true; a new organisation
//! made on another node is read on first use. If organisations ever become editable at run
//! time, this cache must be dropped on the edit (and other nodes told).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use entity::organisation;
use sea_orm::{ConnectionTrait, EntityTrait};

use crate::error::ApiError;

/// More organisations than Kazakhstan has providers and branches; beyond it the cache starts
/// over (bounded memory whatever happens).
const MAX_ROWS: usize = 100_000;

/// The cache (cheap to clone: shared).
#[derive(Clone, Default)]
pub struct Organisations(Arc<RwLock<HashMap<i64, Arc<organisation::Model>>>>);

impl Organisations {
    /// The organisation with `id`, from memory or else the database.
    pub async fn get(
        &self,
        db: &impl ConnectionTrait,
        id: i64,
    ) -> Result<Option<Arc<organisation::Model>>, ApiError> {
        if let Some(o) = self.0.read().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(Some(o));
        }
        let Some(row) = organisation::Entity::find_by_id(id).one(db).await? else {
            return Ok(None);
        };
        let row = Arc::new(row);
        if let Ok(mut m) = self.0.write() {
            if m.len() >= MAX_ROWS {
                m.clear();
            }
            m.insert(id, row.clone());
        }
        Ok(Some(row))
    }
}

/// The names of the organisations with `codes`, in `lang`, by code (for printed documents).
pub async fn names(
    db: &impl ConnectionTrait,
    codes: std::collections::BTreeSet<String>,
    lang: domain::language::Language,
) -> Result<HashMap<String, String>, ApiError> {
    use sea_orm::{ColumnTrait, QueryFilter};
    if codes.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = organisation::Entity::find()
        .filter(organisation::Column::Code.is_in(codes))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|o| {
            let name = domain::language::name(lang, &o.name_kk, o.name_ru.as_deref(), &o.name_en);
            (o.code, name)
        })
        .collect())
}

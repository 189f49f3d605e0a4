//! Batched reads for fields that many objects of one answer ask for: the organisation of every
//! case and timeline stop of an inbox page, the assignee of every case. One query per batch
//! instead of one per object (async-graphql's DataLoader, without a cache: a request never sees
//! an organisation older than the request).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::Context;
use entity::{app_user, organisation};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::error::ApiError;

/// Organisations by id.
pub struct Organisations(DatabaseConnection);

impl Loader<i64> for Organisations {
    type Value = organisation::Model;
    type Error = Arc<sea_orm::DbErr>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        Ok(organisation::Entity::find()
            .filter(organisation::Column::Id.is_in(keys.iter().copied()))
            .all(&self.0)
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect())
    }
}

/// Staff users by id.
pub struct Users(DatabaseConnection);

impl Loader<i64> for Users {
    type Value = app_user::Model;
    type Error = Arc<sea_orm::DbErr>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        Ok(app_user::Entity::find()
            .filter(app_user::Column::Id.is_in(keys.iter().copied()))
            .all(&self.0)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect())
    }
}

/// A case's steps in order, by case id (a timeline).
pub struct Timelines(DatabaseConnection);

impl Loader<i64> for Timelines {
    type Value = Vec<entity::case_step::Model>;
    type Error = Arc<sea_orm::DbErr>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        use entity::case_step;
        use sea_orm::QueryOrder;
        let mut out: HashMap<i64, Self::Value> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for s in case_step::Entity::find()
            .filter(case_step::Column::CaseId.is_in(keys.iter().copied()))
            .order_by_asc(case_step::Column::CaseId)
            .order_by_asc(case_step::Column::Seq)
            .all(&self.0)
            .await?
        {
            out.entry(s.case_id).or_default().push(s);
        }
        Ok(out)
    }
}

/// The loaders of one request (or one subscription socket), attached as request data.
pub struct Loaders {
    organisations: DataLoader<Organisations>,
    users: DataLoader<Users>,
    timelines: DataLoader<Timelines>,
}

impl Loaders {
    /// Loaders reading from `db`.
    pub fn new(db: &DatabaseConnection) -> Loaders {
        Loaders {
            organisations: DataLoader::new(Organisations(db.clone()), tokio::spawn),
            users: DataLoader::new(Users(db.clone()), tokio::spawn),
            timelines: DataLoader::new(Timelines(db.clone()), tokio::spawn),
        }
    }
}

fn db_error(e: Arc<sea_orm::DbErr>) -> ApiError {
    if crate::error::unavailable(&e) {
        ApiError::Unavailable(Box::new(std::io::Error::other(e.to_string())))
    } else {
        ApiError::internal(std::io::Error::other(e.to_string()))
    }
}

fn loaders<'a>(ctx: &Context<'a>) -> Result<&'a Loaders, ApiError> {
    ctx.data::<Loaders>()
        .map_err(|_| ApiError::internal(std::io::Error::other("loaders not attached")))
}

/// An organisation, batched with the others this answer needs.
pub async fn organisation(
    ctx: &Context<'_>,
    id: i64,
) -> Result<Option<organisation::Model>, ApiError> {
    loaders(ctx)?
        .organisations
        .load_one(id)
        .await
        .map_err(db_error)
}

/// A staff user, batched with the others this answer needs.
pub async fn user(ctx: &Context<'_>, id: i64) -> Result<Option<app_user::Model>, ApiError> {
    loaders(ctx)?.users.load_one(id).await.map_err(db_error)
}

/// A case's steps in order, batched with the other cases' of this answer.
pub async fn timeline(
    ctx: &Context<'_>,
    case_id: i64,
) -> Result<Vec<entity::case_step::Model>, ApiError> {
    Ok(loaders(ctx)?
        .timelines
        .load_one(case_id)
        .await
        .map_err(db_error)?
        .unwrap_or_default())
}

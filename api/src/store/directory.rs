//! Regions and organisations.

use domain::region::Region;
use entity::region;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};

use crate::error::ApiError;

/// Makes the `region` table match the directory file: inserts new regions, updates changed
/// names or zones; never deletes (organisations and regulations refer to regions).
pub async fn sync_regions(db: &DatabaseConnection, regions: &[Region]) -> Result<(), ApiError> {
    let txn = crate::store::begin_write(db).await?;
    for r in regions {
        let row = region::ActiveModel {
            code: Set(r.code.clone()),
            iso_code: Set(r.iso_code.clone()),
            kind: Set(r.kind.as_str().to_owned()),
            name_kk: Set(r.name_kk.clone()),
            name_en: Set(r.name_en.clone()),
            name_ru: Set(r.name_ru.clone()),
            time_zone: Set(r.time_zone.clone()),
        };
        match region::Entity::find_by_id(r.code.clone()).one(&txn).await? {
            None => {
                region::Entity::insert(row)
                    .exec_without_returning(&txn)
                    .await?;
            }
            Some(existing) => {
                let same = existing.iso_code == r.iso_code
                    && existing.kind == r.kind.as_str()
                    && existing.name_kk == r.name_kk
                    && existing.name_en == r.name_en
                    && existing.name_ru == r.name_ru
                    && existing.time_zone == r.time_zone;
                if !same {
                    region::Entity::update(row).exec(&txn).await?;
                }
            }
        }
    }
    txn.commit().await?;
    Ok(())
}

/// An organisation's working hours: its own when set, else the default for its kind.
pub fn working_hours(
    org: &entity::organisation::Model,
) -> Result<domain::deadline::WorkingHours, serde_json::Error> {
    match &org.working_hours {
        Some(json) => serde_json::from_str(json),
        None => Ok(domain::organisation::default_hours(&org.kind)),
    }
}

/// Inserts the directory's organisations that are not stored yet (by code). Existing rows are
/// left alone: administrators may have changed them since.
pub async fn sync_organisations(
    db: &DatabaseConnection,
    entries: &[domain::organisation::OrganisationEntry],
) -> Result<(), ApiError> {
    use entity::organisation;
    use sea_orm::{ColumnTrait, QueryFilter};
    let txn = crate::store::begin_write(db).await?;
    for o in entries {
        let existing = organisation::Entity::find()
            .filter(organisation::Column::Code.eq(o.code.clone()))
            .one(&txn)
            .await?;
        if let Some(row) = existing {
            // A Russian name the directory gained since is filled in; nothing else is touched.
            if row.name_ru.is_none() && o.name_ru.is_some() {
                organisation::Entity::update(organisation::ActiveModel {
                    id: Set(row.id),
                    name_ru: Set(o.name_ru.clone()),
                    ..Default::default()
                })
                .exec(&txn)
                .await?;
            }
            continue;
        }
        let hours = o
            .working_hours
            .map(|h| serde_json::to_string(&h))
            .transpose()
            .map_err(ApiError::internal)?;
        let row = organisation::ActiveModel {
            id: sea_orm::ActiveValue::NotSet,
            code: Set(o.code.clone()),
            kind: Set(o.kind.clone()),
            name_kk: Set(o.name_kk.clone()),
            name_en: Set(o.name_en.clone()),
            name_ru: Set(o.name_ru.clone()),
            region_code: Set(o.region.clone()),
            district: Set(o.district.clone()),
            working_hours: Set(hours),
            created_at: Set(chrono::Utc::now()),
        };
        organisation::Entity::insert(row)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

//! Regions and organisations.

use domain::region::Region;
use entity::region;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, TransactionTrait};

use crate::error::ApiError;

/// Makes the `region` table match the directory file: inserts new regions, updates changed
/// names or zones; never deletes (organisations and regulations refer to regions).
pub async fn sync_regions(db: &DatabaseConnection, regions: &[Region]) -> Result<(), ApiError> {
    let txn = db.begin().await?;
    for r in regions {
        let row = region::ActiveModel {
            code: Set(r.code.clone()),
            iso_code: Set(r.iso_code.clone()),
            kind: Set(r.kind.as_str().to_owned()),
            name_kk: Set(r.name_kk.clone()),
            name_en: Set(r.name_en.clone()),
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
    use domain::deadline::WorkingHours;
    match &org.working_hours {
        Some(json) => serde_json::from_str(json),
        None if org.kind == "STATE_CORPORATION" => Ok(WorkingHours::corporation_default()),
        None => Ok(WorkingHours::provider_default()),
    }
}

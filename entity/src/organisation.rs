//! An organisation: a service provider or a State Corporation branch.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organisation")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub code: String,
    pub kind: String,
    pub name_kk: String,
    pub name_en: String,
    pub name_ru: Option<String>,
    pub region_code: String,
    pub district: Option<String>,
    /// JSON of the organisation's own working hours; `None` uses the default for its kind.
    pub working_hours: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! One stop of a case: who held it, when it started, when it was due, when it finished.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "case_step")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub case_id: i64,
    pub seq: i32,
    pub stage: String,
    pub step_order: Option<i32>,
    pub leg: Option<String>,
    pub mailbox: String,
    pub organisation_id: i64,
    pub actor_id: Option<i64>,
    pub actor_name: Option<String>,
    pub started_at: DateTimeUtc,
    pub due_at: Option<DateTimeUtc>,
    pub allowed_minutes: Option<i64>,
    pub finished_at: Option<DateTimeUtc>,
    pub on_time: Option<bool>,
    pub outcome: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub comment: Option<String>,
    pub used_minutes: Option<i64>,
    pub risk_at: Option<DateTimeUtc>,
    pub risk_announced_at: Option<DateTimeUtc>,
    pub overdue_announced_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! A case: one application travelling through its pinned regulation.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "service_case")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub number: String,
    pub regulation_id: i64,
    pub regulation_code: String,
    pub regulation_version: i32,
    pub service_code: String,
    pub region_code: String,
    pub provider_id: i64,
    pub corporation_id: Option<i64>,
    pub channel: String,
    pub status: String,
    pub stage: String,
    pub route_index: Option<i32>,
    pub current_mailbox: Option<String>,
    pub current_org_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub applicant_iin: String,
    pub applicant_name: String,
    /// The applicant's name lower-cased with single spaces, for prefix search.
    pub applicant_name_key: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub applicant_contacts: String,
    pub applicant_id: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub attributes: String,
    #[sea_orm(column_type = "Text")]
    pub documents: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub receipt: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub result: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub refusal: Option<String>,
    pub refusal_prepared: bool,
    pub registered_at: DateTimeUtc,
    pub term_due_at: Option<DateTimeUtc>,
    pub provider_due_at: Option<DateTimeUtc>,
    pub step_started_at: Option<DateTimeUtc>,
    pub step_due_at: Option<DateTimeUtc>,
    pub storage_due_at: Option<DateTimeUtc>,
    pub calendar_version: i32,
    pub idempotency_key: Option<String>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
    pub result_at: Option<DateTimeUtc>,
    pub result_on_time: Option<bool>,
    #[sea_orm(column_type = "Double", nullable)]
    pub result_working_days: Option<f64>,
    pub returned_unclaimed: bool,
    /// The provider's registration of a portal or State Corporation application (JSON).
    #[sea_orm(column_type = "Text", nullable)]
    pub registration: Option<String>,
    /// SHA-256 of the application as submitted, to tell a retry from a reused key.
    pub request_hash: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! SeaORM entities, nothing else: no GraphQL derives, no behaviour.

pub mod app_user;
pub mod applicant;
pub mod calendar_version;
pub mod case_event;
pub mod case_file;
pub mod case_step;
pub mod login_throttle;
pub mod notification_outbox;
pub mod organisation;
pub mod persisted_query;
pub mod refresh_token;
pub mod region;
pub mod regulation;
pub mod service_case;

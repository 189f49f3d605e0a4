//! SeaORM entities, nothing else: no GraphQL derives, no behaviour.

pub mod calendar_version;
pub mod organisation;
pub mod region;
pub mod regulation;

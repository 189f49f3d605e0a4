//! qyzmet's pure rules: no I/O, no clock. Time is passed in (`now`), never read here.

pub mod calendar;
pub mod case;
pub mod deadline;
pub mod der_shape;
pub mod documents;
pub mod engine;
pub mod files;
pub mod identity;
pub mod inbox;
pub mod language;
pub mod organisation;
pub mod printable;
pub mod refusal;
pub mod region;
pub mod regulation;
pub mod report;
pub mod signatures;
pub mod tally;
pub mod view;

/// The working calendar shipped with qyzmet (version 1 when a database is first created).
pub const BUNDLED_CALENDAR: &str = include_str!("../../data/calendar/kz.toml");

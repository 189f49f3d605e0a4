//! qyzmet's server: configuration, storage, the GraphQL API over actix-web, and the commands of
//! the `qyzmet` binary.

pub mod admission;
pub mod auth;
pub mod background;
pub mod cli;
pub mod clock;
pub mod configuration;
pub mod error;
pub mod events;
pub mod fanout;
pub mod file_routes;
pub mod files;
pub mod generate;
pub mod graphiql;
pub mod graphql;
pub mod http;
pub mod links;
pub mod mailbox;
pub mod metrics;
pub mod multipart;
pub mod network;
pub mod pdf;
pub mod persisted;
pub mod shared;
pub mod signatures;
pub mod socket;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod throttle;
pub mod verify;

//! End-to-end tests: one binary, a real server over a fresh database per test.

mod helpers;

mod auth;
mod background;
mod binary;
mod calendar;
mod cases;
mod catalog;
mod files;
mod frontend;
mod generate;
mod hardening;
mod health;
mod limits;
mod nodes;
mod printable;
mod refusals;
mod reports;
mod resilience;
mod schema_contract;
mod signatures;
mod soak;
mod storage;
mod subscriptions;
mod tally;
mod upgrade;
mod verify;
mod web_client;

//! The GraphQL schema: roots merged from one object per area, built once and shared.

use async_graphql::{MergedObject, Schema};

use crate::configuration::Limits;
use crate::state::AppState;

pub mod admin;
pub mod auth;
pub mod calendar;
pub mod case_mutations;
pub mod cases;
pub mod catalog;
pub mod channel;
pub mod documents;
pub mod files;
pub mod guard;
pub mod language;
pub mod loaders;
pub mod refusals;
pub mod reports;
pub mod scalars;
pub mod subscription;
mod system;
pub mod verify;

/// The shared state from the schema's data.
pub(crate) fn state<'a>(
    ctx: &async_graphql::Context<'a>,
) -> Result<&'a AppState, crate::error::ApiError> {
    ctx.data::<AppState>().map_err(|_| {
        crate::error::ApiError::internal(std::io::Error::other("schema built without state"))
    })
}

/// This server's mailbox actors.
pub(crate) fn mailboxes<'a>(
    ctx: &async_graphql::Context<'a>,
) -> Result<&'a crate::mailbox::Mailboxes, crate::error::ApiError> {
    ctx.data::<crate::mailbox::Mailboxes>().map_err(|_| {
        crate::error::ApiError::internal(std::io::Error::other("mailboxes not attached"))
    })
}

/// Every query, merged from the areas.
#[derive(MergedObject, Default)]
pub struct Query(
    system::SystemQuery,
    auth::ViewerQuery,
    catalog::CatalogQuery,
    calendar::CalendarQuery,
    cases::CaseQuery,
    reports::ReportQuery,
    admin::AdminQuery,
    language::LanguageQuery,
    verify::VerifyQuery,
);

/// Every mutation, merged from the areas.
#[derive(MergedObject, Default)]
pub struct Mutation(
    auth::AuthMutation,
    case_mutations::CaseMutation,
    files::FileMutation,
    admin::AdminMutation,
);

/// The schema type served at `/graphql`.
pub type QyzmetSchema = Schema<Query, Mutation, subscription::Subscription>;

/// Builds the schema with the request limits applied and the shared state attached.
pub fn build_schema(
    state: AppState,
    mailboxes: crate::mailbox::Mailboxes,
    files: crate::files::FileStore,
    trust: crate::signatures::Trust,
    public: crate::throttle::PublicLimiter,
    limits: &Limits,
) -> QyzmetSchema {
    let builder = Schema::build(
        Query::default(),
        Mutation::default(),
        subscription::Subscription,
    )
    // Ordinary queries are held to `max_query_depth` by the guard; async-graphql's own depth
    // limit is the introspection query's.
    .limit_depth(limits.max_query_depth.max(guard::INTROSPECTION_DEPTH))
    .limit_complexity(limits.max_query_complexity)
    .limit_recursive_depth(64)
    .extension(guard::RequestGuard {
        max_cost: limits.max_query_cost,
        max_depth: limits.max_query_depth,
    })
    .data(state)
    .data(mailboxes)
    .data(files)
    .data(trust)
    .data(public);
    if limits.introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

/// The SDL of the schema, as written to `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(
        Query::default(),
        Mutation::default(),
        subscription::Subscription,
    )
    .finish()
    .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}

//! `ApiError`: the one error type resolvers return. It alone turns into a GraphQL error, with a
//! stable CONSTANT_CASE `extensions.code`. Internal causes (database, I/O) are logged with their
//! cause chain and reach the client only as a generic message.

use std::error::Error as StdError;
use std::fmt;

use async_graphql::ErrorExtensions;

/// Every error a client can see.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request carries a value that is not acceptable.
    #[error("{0}")]
    BadUserInput(String),
    /// The thing asked for does not exist, or is outside the caller's scope.
    #[error("{0}")]
    NotFound(String),
    /// No valid credentials.
    #[error("authentication required")]
    Unauthenticated,
    /// Valid credentials without the right to do this.
    #[error("not allowed")]
    Forbidden,
    /// Someone else changed the thing first; nothing was written.
    #[error("{0}")]
    Conflict(String),
    /// A rule of the domain refused the request; the code is the rule's own.
    #[error("{message}")]
    Rule {
        /// Stable machine-readable code, e.g. `CALENDAR_NOT_AVAILABLE`.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// Anything the client cannot fix. Never shown; logged instead.
    #[error("internal error")]
    Internal(#[source] Box<dyn StdError + Send + Sync>),
}

impl ApiError {
    /// The stable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadUserInput(_) => "BAD_USER_INPUT",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::Unauthenticated => "UNAUTHENTICATED",
            ApiError::Forbidden => "FORBIDDEN",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::Rule { code, .. } => code,
            ApiError::Internal(_) => "INTERNAL",
        }
    }

    /// Wraps an internal failure.
    pub fn internal(e: impl StdError + Send + Sync + 'static) -> ApiError {
        ApiError::Internal(Box::new(e))
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        ApiError::internal(e)
    }
}

impl From<sea_orm::TransactionError<ApiError>> for ApiError {
    fn from(e: sea_orm::TransactionError<ApiError>) -> Self {
        match e {
            sea_orm::TransactionError::Connection(db) => ApiError::internal(db),
            sea_orm::TransactionError::Transaction(api) => api,
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        if let ApiError::Internal(cause) = &e {
            tracing::error!(error = %ErrorChain(cause.as_ref()), "internal error");
        }
        let code = e.code();
        async_graphql::Error::new(e.to_string()).extend_with(|_, ext| ext.set("code", code))
    }
}

/// Displays an error with every cause, for logs.
pub struct ErrorChain<'a>(pub &'a (dyn StdError + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Gives request-level errors that async-graphql raises itself (parse, validation, limits) a
/// stable code too, so that every error a client sees carries one.
pub fn code_request_errors(resp: &mut async_graphql::Response) {
    for err in &mut resp.errors {
        let has_code = err
            .extensions
            .as_ref()
            .is_some_and(|ext| ext.get("code").is_some());
        if has_code {
            continue;
        }
        let code = if err.message.contains("nested too deep") {
            "QUERY_TOO_DEEP"
        } else if err.message.contains("too complex") {
            "QUERY_TOO_COMPLEX"
        } else if err.message.starts_with("Invalid value for argument")
            || err.message.starts_with("Failed to parse")
        {
            "BAD_USER_INPUT"
        } else if err.path.is_empty() && err.message.contains("-->") {
            "GRAPHQL_PARSE_FAILED"
        } else if err.path.is_empty() {
            "GRAPHQL_VALIDATION_FAILED"
        } else {
            // An error raised inside a resolver without going through ApiError: treat as
            // internal and do not pass its text on.
            tracing::error!(message = %err.message, "uncoded resolver error");
            err.message = "internal error".to_owned();
            "INTERNAL"
        };
        err.extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_errors_reach_the_client_as_a_generic_internal_error() {
        let db = sea_orm::DbErr::Custom("relation \"secret_table\" does not exist".into());
        let gql: async_graphql::Error = ApiError::from(db).into();
        assert_eq!(gql.message, "internal error");
        let ext = gql.extensions.expect("extensions set");
        assert_eq!(
            ext.get("code"),
            Some(&async_graphql::Value::from("INTERNAL"))
        );
    }

    #[test]
    fn every_variant_has_a_constant_case_code() {
        let all = [
            ApiError::BadUserInput("x".into()),
            ApiError::NotFound("x".into()),
            ApiError::Unauthenticated,
            ApiError::Forbidden,
            ApiError::Conflict("x".into()),
            ApiError::Rule {
                code: "CALENDAR_NOT_AVAILABLE",
                message: "x".into(),
            },
            ApiError::internal(std::io::Error::other("x")),
        ];
        for e in all {
            let code = e.code();
            assert!(
                code.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "{code}"
            );
        }
    }
}

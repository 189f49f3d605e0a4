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
    /// An uploaded file (or request) is larger than the limit, in bytes; nothing was kept.
    #[error("larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// This client asked too often; the same request may be sent again after `retry_after_secs`
    /// (HTTP 429 with `Retry-After`; `extensions.retryAfter`).
    #[error("too many requests from this address; try again in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until the next request is allowed.
        retry_after_secs: u64,
    },
    /// The database cannot be reached or is too busy to answer in time: nothing was done, and
    /// the same request may be retried (HTTP 503 with `Retry-After`). A session stays valid.
    #[error("the service is unavailable for a moment; retry shortly")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync>),
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
            ApiError::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            ApiError::RateLimited { .. } => "RATE_LIMITED",
            ApiError::Unavailable(_) => "SERVICE_UNAVAILABLE",
            ApiError::Internal(_) => "INTERNAL",
        }
    }

    /// The error answered outside GraphQL (CSV reports, file downloads, the verification page)
    /// as `{"errors": [{message, extensions: {code}}]}` with its HTTP status; internal and
    /// database causes are logged, never sent.
    pub fn into_http(self) -> actix_web::HttpResponse {
        use actix_web::HttpResponse;
        let code = self.code();
        let message = match &self {
            ApiError::Internal(cause) => {
                tracing::error!(error = %ErrorChain(cause.as_ref()), "internal error");
                "internal error".to_owned()
            }
            ApiError::Unavailable(cause) => {
                tracing::warn!(error = %ErrorChain(cause.as_ref()), "database unavailable");
                self.to_string()
            }
            other => other.to_string(),
        };
        let body = serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
        match code {
            "UNAUTHENTICATED" => HttpResponse::Unauthorized().json(body),
            "FORBIDDEN" => HttpResponse::Forbidden().json(body),
            "NOT_FOUND" => HttpResponse::NotFound().json(body),
            "PAYLOAD_TOO_LARGE" => HttpResponse::PayloadTooLarge().json(body),
            "RATE_LIMITED" => {
                let wait = match &self {
                    ApiError::RateLimited { retry_after_secs } => *retry_after_secs,
                    _ => 1,
                };
                HttpResponse::TooManyRequests()
                    .insert_header((actix_web::http::header::RETRY_AFTER, wait.to_string()))
                    .json(body)
            }
            "SERVICE_UNAVAILABLE" => HttpResponse::ServiceUnavailable()
                .insert_header((actix_web::http::header::RETRY_AFTER, "1"))
                .json(body),
            "INTERNAL" => HttpResponse::InternalServerError().json(body),
            _ => HttpResponse::BadRequest().json(body),
        }
    }

    /// Wraps an internal failure.
    pub fn internal(e: impl StdError + Send + Sync + 'static) -> ApiError {
        ApiError::Internal(Box::new(e))
    }
}

/// An IIN that does not parse, as the client sees it.
pub fn iin_error(e: domain::identity::IinError) -> ApiError {
    ApiError::Rule {
        code: "INVALID_IIN",
        message: e.to_string(),
    }
}

/// A domain refusal as the client sees it.
pub fn case_error(e: domain::case::CaseError) -> ApiError {
    match e {
        domain::case::CaseError::NotYourTurn => ApiError::Forbidden,
        domain::case::CaseError::BadInput(m) => ApiError::BadUserInput(m),
        e => ApiError::Rule {
            code: e.code(),
            message: e.to_string(),
        },
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        if unavailable(&e) {
            ApiError::Unavailable(Box::new(e))
        } else {
            ApiError::internal(e)
        }
    }
}

/// Whether a database error means "not now" rather than "wrong": no connection could be had
/// (the pool timed out, the server is down or restarting, the socket broke), or SQLite stayed
/// busy past its timeout. Such a request changed nothing and may be retried.
pub fn unavailable(e: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    let sqlx = match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(RuntimeErr::SqlxError(x)) | DbErr::Query(RuntimeErr::SqlxError(x)) => x,
        _ => return false,
    };
    match sqlx.as_ref() {
        sea_orm::sqlx::Error::Io(_)
        | sea_orm::sqlx::Error::PoolTimedOut
        | sea_orm::sqlx::Error::PoolClosed
        | sea_orm::sqlx::Error::WorkerCrashed
        | sea_orm::sqlx::Error::Tls(_) => true,
        sea_orm::sqlx::Error::Database(d) => {
            let code = d.code();
            let code = code.as_deref().unwrap_or_default();
            // SQLite: SQLITE_BUSY (5) and its extended codes, SQLITE_LOCKED (6).
            // PostgreSQL: class 08 (connection exception), 57P01–57P03 (shutting down, cannot
            // connect now), 53300 (too many connections).
            matches!(code, "5" | "6" | "261" | "517" | "262" | "53300")
                || code.starts_with("08")
                || code.starts_with("57P0")
        }
        _ => false,
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
        match &e {
            ApiError::Internal(cause) => {
                tracing::error!(error = %ErrorChain(cause.as_ref()), "internal error");
            }
            ApiError::Unavailable(cause) => {
                tracing::warn!(error = %ErrorChain(cause.as_ref()), "database unavailable");
            }
            _ => {}
        }
        let code = e.code();
        let limit = match &e {
            ApiError::PayloadTooLarge { limit } => Some(*limit),
            _ => None,
        };
        let retry_after = match &e {
            ApiError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        async_graphql::Error::new(e.to_string()).extend_with(|_, ext| {
            ext.set("code", code);
            if let Some(limit) = limit {
                ext.set("limit", limit);
            }
            if let Some(secs) = retry_after {
                ext.set("retryAfter", secs);
            }
        })
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
            || err.message.starts_with("Expected input type")
            || (err.message.starts_with("Variable ") && err.message.ends_with(" is not defined."))
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
    fn an_unreachable_database_is_unavailable_not_internal() {
        let acquire = sea_orm::DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout);
        assert_eq!(ApiError::from(acquire).code(), "SERVICE_UNAVAILABLE");
        let refused = sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(std::sync::Arc::new(
            sea_orm::sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        )));
        let gql: async_graphql::Error = ApiError::from(refused).into();
        assert!(!gql.message.contains("refused"), "{}", gql.message);
        assert_eq!(
            gql.extensions.expect("code").get("code"),
            Some(&async_graphql::Value::from("SERVICE_UNAVAILABLE"))
        );
        let other = sea_orm::DbErr::Custom("bad".into());
        assert_eq!(ApiError::from(other).code(), "INTERNAL");
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
            ApiError::Unavailable(Box::new(std::io::Error::other("x"))),
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

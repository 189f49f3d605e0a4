//! Who is calling, and what they may do. Every request is authenticated once, in the HTTP
//! handler; every guarded field and mutation asks [`require`] (or the [`Requires`] guard),
//! the one place where roles are checked.

pub mod password;
pub mod token;

use async_graphql::{Context, Guard};
use domain::identity::Role;
use entity::{app_user, applicant};
use sea_orm::EntityTrait;

use crate::error::ApiError;
use crate::state::AppState;

/// An authenticated caller, as the database says now (not as an old token claimed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// Who.
    pub subject: Subject,
    /// Their role.
    pub role: Role,
    /// Their organisation (staff of an organisation).
    pub organisation_id: Option<i64>,
    /// The organisation's code.
    pub organisation_code: Option<String>,
    /// Their region: the organisation's, or an analyst's; none for national roles.
    pub region: Option<String>,
    /// A staff user's username (what the case records as the actor); none for an applicant.
    pub username: Option<String>,
}

impl Principal {
    /// The name a case records for what this caller does: a staff user's username, or the
    /// account's subject (an applicant).
    pub fn actor_name(&self) -> String {
        self.username
            .clone()
            .unwrap_or_else(|| self.subject.claim())
    }
}

/// The two kinds of account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// A staff user, by id.
    User(i64),
    /// An applicant, by id.
    Applicant(i64),
}

impl Subject {
    /// The `sub` claim.
    pub fn claim(&self) -> String {
        match self {
            Subject::User(id) => format!("user:{id}"),
            Subject::Applicant(id) => format!("applicant:{id}"),
        }
    }

    /// Reads `user:ID` or `applicant:ID`.
    pub fn parse(sub: &str) -> Option<Subject> {
        let (kind, id) = sub.split_once(':')?;
        let id = id.parse().ok()?;
        match kind {
            "user" => Some(Subject::User(id)),
            "applicant" => Some(Subject::Applicant(id)),
            _ => None,
        }
    }

    /// The stored kind name.
    pub fn kind(&self) -> &'static str {
        match self {
            Subject::User(_) => "user",
            Subject::Applicant(_) => "applicant",
        }
    }

    /// The id.
    pub fn id(&self) -> i64 {
        match self {
            Subject::User(id) | Subject::Applicant(id) => *id,
        }
    }
}

/// The outcome of authenticating a request.
#[derive(Clone, Debug)]
pub enum Auth {
    /// No credentials: public fields only.
    Anonymous,
    /// Credentials that do not hold (expired, forged, revoked, deactivated account).
    Rejected,
    /// A valid caller.
    Principal(Principal),
    /// The token is well signed but the account could not be looked up (the database is
    /// unreachable): `SERVICE_UNAVAILABLE`, never `UNAUTHENTICATED`, so clients keep the session
    /// and retry.
    Unavailable,
}

/// The caller's network address, for login throttling.
#[derive(Clone, Debug)]
pub struct ClientAddr(pub String);

/// Authenticates a bearer token against the keys and the database.
pub async fn authenticate(state: &AppState, authorization: Option<&str>) -> Auth {
    let Some(header) = authorization else {
        return Auth::Anonymous;
    };
    let Some(token) = header.strip_prefix("Bearer ").map(str::trim) else {
        return Auth::Rejected;
    };
    let claims = match state.tokens.verify(token) {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(reason = %e, "access token refused");
            return Auth::Rejected;
        }
    };
    let Some(subject) = Subject::parse(&claims.sub) else {
        return Auth::Rejected;
    };
    match load_principal(state, subject).await {
        Ok(Some(p)) if p.role.as_str() == claims.role => Auth::Principal(p),
        // A role changed since the token was issued: the token no longer describes the caller.
        Ok(_) => Auth::Rejected,
        Err(e) => {
            tracing::warn!(error = %crate::error::ErrorChain(&e), "authentication lookup failed");
            Auth::Unavailable
        }
    }
}

/// The current principal for a subject, or `None` when the account is gone or inactive.
pub async fn load_principal(
    state: &AppState,
    subject: Subject,
) -> Result<Option<Principal>, ApiError> {
    match subject {
        Subject::User(id) => {
            let Some(user) = app_user::Entity::find_by_id(id).one(&state.db).await? else {
                return Ok(None);
            };
            let Some(role) = Role::parse(&user.role).filter(|_| user.active) else {
                return Ok(None);
            };
            let org = match user.organisation_id {
                Some(org_id) => state.organisations.get(&state.db, org_id).await?,
                None => None,
            };
            Ok(Some(Principal {
                subject,
                role,
                organisation_id: org.as_ref().map(|o| o.id),
                organisation_code: org.as_ref().map(|o| o.code.clone()),
                region: org.map(|o| o.region_code.clone()).or(user.region_code),
                username: Some(user.username),
            }))
        }
        Subject::Applicant(id) => Ok(applicant::Entity::find_by_id(id)
            .one(&state.db)
            .await?
            .filter(|a| a.active)
            .map(|_| Principal {
                subject,
                role: Role::Applicant,
                organisation_id: None,
                organisation_code: None,
                region: None,
                username: None,
            })),
    }
}

/// The caller, when their role is one of `roles`. `UNAUTHENTICATED` without valid credentials,
/// `FORBIDDEN` with the wrong role.
pub fn require<'a>(ctx: &Context<'a>, roles: &[Role]) -> Result<&'a Principal, ApiError> {
    match ctx.data_opt::<Auth>() {
        Some(Auth::Principal(p)) if roles.contains(&p.role) => Ok(p),
        Some(Auth::Principal(_)) => Err(ApiError::Forbidden),
        Some(Auth::Unavailable) => Err(unavailable()),
        _ => Err(ApiError::Unauthenticated),
    }
}

/// The answer while the accounts cannot be read.
pub fn unavailable() -> ApiError {
    ApiError::Unavailable(Box::new(std::io::Error::other(
        "the account could not be looked up",
    )))
}

/// A field guard: the caller must hold one of these roles.
pub struct Requires(pub &'static [Role]);

impl Guard for Requires {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        require(ctx, self.0).map(|_| ()).map_err(Into::into)
    }
}

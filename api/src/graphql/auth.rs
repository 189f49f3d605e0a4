//! Logging in and out: staff by username, applicants by IIN; access JWTs and rotating refresh
//! tokens.

use async_graphql::{Context, Enum, Object, SimpleObject};
use chrono::Utc;
use domain::identity::Iin;
use sea_orm::EntityTrait;

use crate::auth::{load_principal, password, ClientAddr, Principal, Subject};
use crate::error::ApiError;
use crate::graphql::scalars::Instant;
use crate::graphql::state;
use crate::state::AppState;
use crate::store::accounts::{self, RefreshRefused, MAX_FAILURES};

/// A role.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::identity::Role")]
pub enum Role {
    /// Registers applications and issues results at a provider's office.
    OfficeClerk,
    /// Resolves (assigns an executor) and signs.
    Head,
    /// Prepares results and reasoned refusals.
    Executor,
    /// Works at a State Corporation branch counter.
    CorporationOperator,
    /// Reads reports for one region, or nationally.
    Analyst,
    /// Administers organisations, users, regulations and the calendar.
    Admin,
    /// A citizen following their own applications.
    Applicant,
}

/// A logged-in session.
#[derive(SimpleObject)]
pub struct Session {
    /// Short-lived access token (JWT): send as `Authorization: Bearer …`.
    access_token: String,
    /// When the access token expires.
    access_token_expires_at: Instant,
    /// Opaque refresh token: exchange it with `refreshToken` for a new session; single use.
    refresh_token: String,
    /// The caller's role.
    role: Role,
    /// The caller's organisation code, for staff of an organisation.
    organisation: Option<String>,
    /// The caller's region code, where they have one.
    region: Option<String>,
}

/// Login and session mutations. Public.
#[derive(Default)]
pub struct AuthMutation;

const INVALID_LOGIN: &str = "invalid credentials";

async fn session(
    state: &AppState,
    principal: Principal,
    family: Option<String>,
    refresh: Option<String>,
) -> Result<Session, ApiError> {
    let now = Utc::now();
    let (access_token, expires) = state.tokens.issue(
        principal.subject.claim(),
        principal.role.as_str(),
        principal.organisation_code.clone(),
        principal.region.clone(),
        now,
    )?;
    let refresh_token = match refresh {
        Some(r) => r,
        None => {
            accounts::issue_refresh(
                &state.db,
                &principal.subject,
                family,
                state.tokens.refresh_ttl,
                now,
            )
            .await?
        }
    };
    Ok(Session {
        access_token,
        access_token_expires_at: expires.into(),
        refresh_token,
        role: principal.role.into(),
        organisation: principal.organisation_code,
        region: principal.region,
    })
}

/// Checks a password off the async threads (argon2 is deliberately slow).
async fn verify_password(password: String, hash: Option<String>) -> Result<bool, ApiError> {
    actix_web::rt::task::spawn_blocking(move || match hash {
        Some(h) => password::verify(&password, &h),
        None => {
            // Spend the same time on an unknown account as on a known one.
            let _ = password::verify(&password, password::decoy());
            false
        }
    })
    .await
    .map_err(ApiError::internal)
}

/// Shared login flow: throttle, verify, count failures, issue a session.
async fn login_with(
    ctx: &Context<'_>,
    account_key: String,
    found: Option<(Subject, String, bool)>,
    password: String,
) -> Result<Session, ApiError> {
    let state = state(ctx)?;
    let addr = ctx
        .data_opt::<ClientAddr>()
        .map(|a| a.0.clone())
        .unwrap_or_default();
    let address_key = format!("addr:{addr}");
    let keys = vec![account_key.clone(), address_key.clone()];
    let now = Utc::now();
    // The attempt is counted before the password is checked, atomically: a parallel burst
    // checks at most the limit.
    let attempt = accounts::take_attempt(&state.db, &keys, now).await?;
    if !attempt.allowed {
        return Err(too_many());
    }
    let (subject, hash, active) = match found {
        Some((s, h, a)) => (Some(s), Some(h), a),
        None => (None, None, false),
    };
    let ok = verify_password(password, hash).await? && active;
    let principal = match (ok, subject) {
        (true, Some(subject)) => load_principal(state, subject).await?,
        _ => None,
    };
    let Some(principal) = principal else {
        // Slow down each further attempt, then lock.
        let pause = 200 * u64::try_from(attempt.number.clamp(1, MAX_FAILURES)).unwrap_or(1);
        actix_web::rt::time::sleep(std::time::Duration::from_millis(pause)).await;
        if attempt.locks {
            return Err(too_many());
        }
        return Err(ApiError::Rule {
            code: "UNAUTHENTICATED",
            message: INVALID_LOGIN.into(),
        });
    };
    accounts::succeeded(&state.db, &account_key, &address_key).await?;
    tracing::info!(subject = %principal.subject.claim(), role = principal.role.as_str(), "login");
    session(state, principal, None, None).await
}

fn too_many() -> ApiError {
    ApiError::Rule {
        code: "TOO_MANY_ATTEMPTS",
        message: format!(
            "too many failed logins; try again in {} minutes",
            accounts::LOCK_MINUTES
        ),
    }
}

#[Object]
impl AuthMutation {
    /// Staff login. A wrong name or password answers `UNAUTHENTICATED` without saying which;
    /// repeated failures are slowed, then locked for a while (`TOO_MANY_ATTEMPTS`).
    async fn login(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Username.", validator(chars_max_length = 64))] username: String,
        #[graphql(
            desc = "Password (at most 256 characters).",
            validator(chars_max_length = 256)
        )]
        password: String,
    ) -> Result<Session, ApiError> {
        let username = username.trim().to_lowercase();
        let user = accounts::find_user(&state(ctx)?.db, &username).await?;
        let found = user.map(|u| (Subject::User(u.id), u.password_hash, u.active));
        login_with(ctx, format!("user:{username}"), found, password).await
    }

    /// Applicant login by IIN and password, as on the portal. An IIN that fails its check
    /// digit answers `INVALID_IIN`.
    async fn applicant_login(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Individual identification number (12 digits).",
            validator(chars_max_length = 12)
        )]
        iin: String,
        #[graphql(
            desc = "Password (at most 256 characters).",
            validator(chars_max_length = 256)
        )]
        password: String,
    ) -> Result<Session, ApiError> {
        let iin = Iin::parse(&iin).map_err(crate::error::iin_error)?;
        let applicant = accounts::find_applicant(&state(ctx)?.db, &iin).await?;
        let found = applicant.map(|a| (Subject::Applicant(a.id), a.password_hash, a.active));
        login_with(ctx, format!("iin:{}", iin.as_str()), found, password).await
    }

    /// Exchanges a refresh token for a new session. Each refresh token works once: presenting
    /// one again revokes every session descended from the same login.
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The refresh token of the current session.",
            validator(chars_max_length = 128)
        )]
        refresh_token: String,
    ) -> Result<Session, ApiError> {
        let state = state(ctx)?;
        let rotated = accounts::rotate(
            &state.db,
            &refresh_token,
            &|raw| state.tokens.successor(raw),
            state.tokens.refresh_ttl,
            state.clock.now(),
        )
        .await?;
        let (subject, next) = match rotated {
            Ok(pair) => pair,
            Err(RefreshRefused::Invalid) | Err(RefreshRefused::Reused) => {
                return Err(ApiError::Unauthenticated)
            }
        };
        let Some(principal) = load_principal(state, subject.clone()).await? else {
            accounts::revoke_subject(&state.db, &subject).await?;
            return Err(ApiError::Unauthenticated);
        };
        session(state, principal, None, Some(next)).await
    }

    /// Ends a session: its refresh token and every token rotated from the same login stop
    /// working. Access tokens already issued expire on their own (15 minutes by default).
    async fn logout(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The refresh token of the session to end.")] refresh_token: String,
    ) -> Result<bool, ApiError> {
        accounts::logout(&state(ctx)?.db, &refresh_token, Utc::now()).await
    }
}

/// The caller: who they are and where they work, for a client's header and navigation.
#[derive(SimpleObject)]
pub struct Viewer {
    /// The staff user's login name; null for an applicant.
    username: Option<String>,
    /// The applicant's IIN; null for staff.
    iin: Option<String>,
    /// The applicant's full name as registered; null for staff.
    full_name: Option<String>,
    /// The name to greet the caller by: a staff user's display name (their username when none
    /// is set), an applicant's full name.
    display_name: String,
    /// The role.
    role: Role,
    /// The organisation's code, for staff of an organisation.
    organisation: Option<String>,
    /// The region's code: the organisation's, or a regional analyst's; null for national roles.
    region: Option<String>,
    /// The mailboxes this caller works (their `inbox` and `mailboxChanged` arguments); empty for
    /// analysts, administrators and applicants.
    mailboxes: Vec<crate::graphql::catalog::Mailbox>,
}

/// A colleague in the caller's organisation, as the staff directory lists them.
#[derive(SimpleObject)]
pub struct Colleague {
    /// Login name: what `assignExecutor` and the inbox's `assignee` filter take.
    username: String,
    /// The name to show.
    display_name: String,
    /// Role.
    role: Role,
    /// Open cases assigned to them now (a head's view of the workload before assigning).
    open_assigned: i64,
}

/// The caller's own account.
#[derive(Default)]
pub struct ViewerQuery;

#[Object]
impl ViewerQuery {
    /// Who is calling: their account, role, organisation, region and mailboxes.
    /// `UNAUTHENTICATED` without a valid token.
    async fn me(&self, ctx: &Context<'_>) -> Result<Viewer, ApiError> {
        let p = match ctx.data_opt::<crate::auth::Auth>() {
            Some(crate::auth::Auth::Principal(p)) => p,
            Some(crate::auth::Auth::Unavailable) => return Err(crate::auth::unavailable()),
            _ => return Err(ApiError::Unauthenticated),
        };
        let db = &state(ctx)?.db;
        let (username, iin, full_name, display_name) = match p.subject {
            Subject::User(id) => {
                let u = entity::app_user::Entity::find_by_id(id)
                    .one(db)
                    .await?
                    .ok_or(ApiError::Unauthenticated)?;
                (
                    Some(u.username.clone()),
                    None,
                    None,
                    accounts::display_name(&u),
                )
            }
            Subject::Applicant(id) => {
                let a = entity::applicant::Entity::find_by_id(id)
                    .one(db)
                    .await?
                    .ok_or(ApiError::Unauthenticated)?;
                (None, Some(a.iin), Some(a.full_name.clone()), a.full_name)
            }
        };
        use domain::regulation::Mailbox as M;
        let mailboxes = [M::Office, M::Head, M::Executor, M::Corporation]
            .into_iter()
            .filter(|m| domain::engine::mailbox_role(*m) == p.role)
            .map(Into::into)
            .collect();
        Ok(Viewer {
            username,
            iin,
            full_name,
            display_name,
            role: p.role.into(),
            organisation: p.organisation_code.clone(),
            region: p.region.clone(),
            mailboxes,
        })
    }

    /// The active staff of the caller's own organisation, of one role or all, by display name
    /// (at most 1,000): the executors a head assigns cases to, with their open workload. Staff
    /// of an organisation only; others get `FORBIDDEN`.
    async fn colleagues(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this role, e.g. `EXECUTOR`; all roles when omitted.")] role: Option<
            Role,
        >,
    ) -> Result<Vec<Colleague>, ApiError> {
        use domain::identity::Role as R;
        let p = crate::auth::require(
            ctx,
            &[R::OfficeClerk, R::Head, R::Executor, R::CorporationOperator],
        )?;
        let org = p.organisation_id.ok_or(ApiError::Forbidden)?;
        let list = accounts::colleagues(&state(ctx)?.db, org, role.map(Into::into)).await?;
        list.into_iter()
            .map(|(u, open_assigned)| {
                let role = R::parse(&u.role).ok_or_else(|| {
                    ApiError::internal(std::io::Error::other(format!("stored role {:?}", u.role)))
                })?;
                Ok(Colleague {
                    display_name: accounts::display_name(&u),
                    username: u.username,
                    role: role.into(),
                    open_assigned,
                })
            })
            .collect()
    }
}

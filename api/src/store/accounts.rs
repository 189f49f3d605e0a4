//! Accounts, refresh-token families and the login throttle.

use chrono::{DateTime, Utc};
use domain::identity::{Iin, Role};
use entity::{app_user, applicant, login_throttle, organisation, refresh_token, region};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Statement,
};

use crate::auth::token::random_hex;
use crate::auth::{password, Subject};
use crate::error::ApiError;
use crate::store::calendar::{content_hash, is_unique_violation};

/// A staff account to create.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Initial password (hashed before storing; never logged).
    pub password: String,
    /// Role.
    pub role: Role,
    /// Organisation code, for roles that work in one.
    pub organisation: Option<String>,
    /// Region code, for a regional analyst; none for a national analyst.
    pub region: Option<String>,
    /// The name colleagues see; the username when not given.
    pub display_name: Option<String>,
    /// The IIN their signature certificates carry, for those who sign results.
    pub iin: Option<domain::identity::Iin>,
}

fn check_username(username: &str) -> Result<(), ApiError> {
    let ok = (3..=64).contains(&username.len())
        && username
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadUserInput(
            "a username is 3–64 characters: lowercase letters, digits, '.', '-', '_'".into(),
        ))
    }
}

/// Resolves the organisation and region a role needs, checking they fit together.
async fn placement(
    db: &impl ConnectionTrait,
    role: Role,
    organisation: Option<&str>,
    region: Option<&str>,
) -> Result<(Option<i64>, Option<String>), ApiError> {
    if role == Role::Applicant {
        return Err(ApiError::BadUserInput(
            "applicants are not staff users".into(),
        ));
    }
    let org = match organisation {
        Some(code) => Some(
            organisation::Entity::find()
                .filter(organisation::Column::Code.eq(code))
                .one(db)
                .await?
                .ok_or_else(|| ApiError::BadUserInput(format!("unknown organisation {code:?}")))?,
        ),
        None => None,
    };
    if role.needs_organisation() {
        let Some(org) = &org else {
            return Err(ApiError::BadUserInput(format!(
                "a {} belongs to an organisation",
                role.as_str()
            )));
        };
        let corporation = org.kind == domain::organisation::STATE_CORPORATION;
        if corporation != (role == Role::CorporationOperator) {
            return Err(ApiError::BadUserInput(format!(
                "a {} cannot work at a {} organisation",
                role.as_str(),
                org.kind
            )));
        }
    }
    if role == Role::Analyst {
        if let Some(code) = region {
            if region::Entity::find_by_id(code.to_owned())
                .one(db)
                .await?
                .is_none()
            {
                return Err(ApiError::BadUserInput(format!("unknown region {code:?}")));
            }
        }
        return Ok((org.map(|o| o.id), region.map(str::to_owned)));
    }
    if region.is_some() {
        return Err(ApiError::BadUserInput(
            "only analysts have a region of their own".into(),
        ));
    }
    Ok((org.map(|o| o.id), None))
}

/// Creates a staff user. `CONFLICT` when the username is taken.
pub async fn create_user(
    db: &DatabaseConnection,
    new: &NewUser,
) -> Result<app_user::Model, ApiError> {
    check_username(&new.username)?;
    password::check_strength(&new.password)?;
    let (organisation_id, region_code) = placement(
        db,
        new.role,
        new.organisation.as_deref(),
        new.region.as_deref(),
    )
    .await?;
    let now = Utc::now();
    let row = app_user::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        username: Set(new.username.clone()),
        password_hash: Set(password::hash(&new.password)?),
        role: Set(new.role.as_str().to_owned()),
        organisation_id: Set(organisation_id),
        region_code: Set(region_code),
        active: Set(true),
        display_name: Set(new.display_name.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        iin: Set(new.iin.as_ref().map(|i| i.as_str().to_owned())),
    };
    match app_user::Entity::insert(row).exec_with_returning(db).await {
        Ok(m) => Ok(m),
        Err(e) if is_unique_violation(&e) => Err(ApiError::Conflict(format!(
            "the username {:?} is taken",
            new.username
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Changes a user's role (and organisation/region to fit it); ends their sessions.
pub async fn change_role(
    db: &DatabaseConnection,
    username: &str,
    role: Role,
    organisation: Option<&str>,
    region: Option<&str>,
) -> Result<app_user::Model, ApiError> {
    let txn = crate::store::begin_write(db).await?;
    let user = find_user(&txn, username)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no user {username:?}")))?;
    let (organisation_id, region_code) = placement(&txn, role, organisation, region).await?;
    let id = user.id;
    let mut active: app_user::ActiveModel = user.into();
    active.role = Set(role.as_str().to_owned());
    active.organisation_id = Set(organisation_id);
    active.region_code = Set(region_code);
    active.updated_at = Set(Utc::now());
    let updated = app_user::Entity::update(active).exec(&txn).await?;
    revoke_subject(&txn, &Subject::User(id)).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Deactivates a user and revokes every refresh token they hold.
pub async fn deactivate(
    db: &DatabaseConnection,
    username: &str,
) -> Result<app_user::Model, ApiError> {
    let txn = crate::store::begin_write(db).await?;
    let user = find_user(&txn, username)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no user {username:?}")))?;
    let id = user.id;
    let mut active: app_user::ActiveModel = user.into();
    active.active = Set(false);
    active.updated_at = Set(Utc::now());
    let updated = app_user::Entity::update(active).exec(&txn).await?;
    revoke_subject(&txn, &Subject::User(id)).await?;
    txn.commit().await?;
    Ok(updated)
}

/// A user by username.
pub async fn find_user(
    db: &impl ConnectionTrait,
    username: &str,
) -> Result<Option<app_user::Model>, ApiError> {
    Ok(app_user::Entity::find()
        .filter(app_user::Column::Username.eq(username))
        .one(db)
        .await?)
}

/// The name a staff user is shown by: their display name, else their username.
pub fn display_name(u: &app_user::Model) -> String {
    u.display_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| u.username.clone())
}

/// The display names of the staff accounts with `usernames`, by username (for printed
/// documents, which name employees as the paper forms do).
pub async fn display_names(
    db: &impl sea_orm::ConnectionTrait,
    usernames: std::collections::BTreeSet<String>,
) -> Result<std::collections::HashMap<String, String>, ApiError> {
    if usernames.is_empty() {
        return Ok(Default::default());
    }
    let rows = app_user::Entity::find()
        .filter(app_user::Column::Username.is_in(usernames))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|u| (u.username.clone(), display_name(&u)))
        .collect())
}

/// An organisation's active staff of one role (or all roles), by display name, each with the
/// number of cases assigned to them that are still open (a head's view before assigning).
pub async fn colleagues(
    db: &impl ConnectionTrait,
    organisation: i64,
    role: Option<Role>,
) -> Result<Vec<(app_user::Model, i64)>, ApiError> {
    use entity::service_case;
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func};
    use sea_orm::QuerySelect;
    /// An organisation's staff is at most a few hundred; the list is bounded all the same.
    const MAX_COLLEAGUES: u64 = 1000;
    let mut q = app_user::Entity::find()
        .filter(app_user::Column::OrganisationId.eq(organisation))
        .filter(app_user::Column::Active.eq(true))
        .order_by_asc(app_user::Column::Username)
        .limit(MAX_COLLEAGUES);
    if let Some(role) = role {
        q = q.filter(app_user::Column::Role.eq(role.as_str()));
    }
    let users = q.all(db).await?;
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let load: Vec<(i64, i64)> = if ids.is_empty() {
        Vec::new()
    } else {
        service_case::Entity::find()
            .select_only()
            .column(service_case::Column::AssigneeId)
            .column_as(
                Expr::expr(Func::count(Expr::col(service_case::Column::Id)))
                    .cast_as(Alias::new("BIGINT")),
                "n",
            )
            .filter(service_case::Column::AssigneeId.is_in(ids))
            .filter(service_case::Column::ClosedAt.is_null())
            .group_by(service_case::Column::AssigneeId)
            .into_tuple()
            .all(db)
            .await?
    };
    let mut out: Vec<(app_user::Model, i64)> = users
        .into_iter()
        .map(|u| {
            let n = load
                .iter()
                .find(|(id, _)| *id == u.id)
                .map_or(0, |(_, n)| *n);
            (u, n)
        })
        .collect();
    out.sort_by_key(|(u, _)| display_name(u).to_lowercase());
    Ok(out)
}

/// Users, optionally of one organisation, by username.
pub async fn users(
    db: &impl ConnectionTrait,
    organisation_id: Option<i64>,
) -> Result<Vec<app_user::Model>, ApiError> {
    let mut q = app_user::Entity::find().order_by_asc(app_user::Column::Username);
    if let Some(id) = organisation_id {
        q = q.filter(app_user::Column::OrganisationId.eq(id));
    }
    Ok(q.all(db).await?)
}

/// Creates an applicant account. `CONFLICT` when the IIN has one.
pub async fn create_applicant(
    db: &DatabaseConnection,
    iin: &Iin,
    full_name: &str,
    password: &str,
) -> Result<applicant::Model, ApiError> {
    password::check_strength(password)?;
    if full_name.trim().is_empty() {
        return Err(ApiError::BadUserInput("a full name is required".into()));
    }
    let row = applicant::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        iin: Set(iin.as_str().to_owned()),
        full_name: Set(full_name.trim().to_owned()),
        password_hash: Set(password::hash(password)?),
        active: Set(true),
        created_at: Set(Utc::now()),
    };
    match applicant::Entity::insert(row).exec_with_returning(db).await {
        Ok(m) => Ok(m),
        Err(e) if is_unique_violation(&e) => {
            Err(ApiError::Conflict("this IIN already has an account".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// An applicant by IIN.
pub async fn find_applicant(
    db: &impl ConnectionTrait,
    iin: &Iin,
) -> Result<Option<applicant::Model>, ApiError> {
    Ok(applicant::Entity::find()
        .filter(applicant::Column::Iin.eq(iin.as_str()))
        .one(db)
        .await?)
}

/// Issues a refresh token in `family` (a new family when `None`); returns the raw token, which
/// is never stored.
pub async fn issue_refresh(
    db: &impl ConnectionTrait,
    subject: &Subject,
    family: Option<String>,
    ttl: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let raw = random_hex(32)?;
    store_refresh(db, subject, family, ttl, now, raw).await
}

/// Stores the hash of the refresh token `raw` and returns it.
async fn store_refresh(
    db: &impl ConnectionTrait,
    subject: &Subject,
    family: Option<String>,
    ttl: chrono::Duration,
    now: DateTime<Utc>,
    raw: String,
) -> Result<String, ApiError> {
    let family = match family {
        Some(f) => f,
        None => random_hex(16)?,
    };
    let row = refresh_token::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        token_hash: Set(content_hash(&raw)),
        family: Set(family),
        subject: Set(subject.kind().to_owned()),
        subject_id: Set(subject.id()),
        expires_at: Set(now + ttl),
        used_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(now),
    };
    refresh_token::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(raw)
}

/// Why a refresh token was refused (all answer `UNAUTHENTICATED` to the client).
#[derive(Debug, PartialEq, Eq)]
pub enum RefreshRefused {
    /// Unknown, expired or revoked.
    Invalid,
    /// Presented a second time: the whole family is now revoked.
    Reused,
}

/// How long a refresh token presented again still gives the session its first use gave: two
/// tabs (or a retry after a lost answer) refreshing at once keep the login.
pub const REFRESH_GRACE_SECONDS: i64 = 30;

/// Rotates a refresh token: marks it used and issues its successor in the same family. The
/// successor is derived from the token (`successor`), so the same token presented again within
/// [`REFRESH_GRACE_SECONDS`] of its first use gives the same successor — while that is unused —
/// instead of a second session. Later, or once the successor was used, a token presented again
/// revokes the whole family.
pub async fn rotate(
    db: &DatabaseConnection,
    raw: &str,
    successor: &(dyn Fn(&str) -> String + Sync),
    ttl: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<Result<(Subject, String), RefreshRefused>, ApiError> {
    let txn = crate::store::begin_write(db).await?;
    let by_hash = |hash: String| {
        refresh_token::Entity::find().filter(refresh_token::Column::TokenHash.eq(hash))
    };
    let Some(row) = by_hash(content_hash(raw)).one(&txn).await? else {
        return Ok(Err(RefreshRefused::Invalid));
    };
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Ok(Err(RefreshRefused::Invalid));
    }
    let subject = match row.subject.as_str() {
        "user" => Subject::User(row.subject_id),
        _ => Subject::Applicant(row.subject_id),
    };
    let next = successor(raw);
    // Mark used only if nobody did first: a concurrent second use waits here and then finds it
    // used.
    let marked = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if marked.rows_affected == 1 {
        let next = store_refresh(&txn, &subject, Some(row.family.clone()), ttl, now, next).await?;
        txn.commit().await?;
        return Ok(Ok((subject, next)));
    }
    // Used before. Within the grace window, and while its successor is unused, the same
    // successor again.
    let used_at = by_hash(content_hash(raw))
        .one(&txn)
        .await?
        .and_then(|r| r.used_at);
    let in_grace = used_at.is_some_and(|u| (now - u).num_seconds() <= REFRESH_GRACE_SECONDS);
    if in_grace {
        let unused = by_hash(content_hash(&next))
            .one(&txn)
            .await?
            .is_some_and(|s| s.used_at.is_none() && s.revoked_at.is_none());
        if unused {
            txn.commit().await?;
            return Ok(Ok((subject, next)));
        }
    }
    revoke_family(&txn, &row.family, now).await?;
    txn.commit().await?;
    tracing::warn!(family = %row.family, "refresh token reused: family revoked");
    Ok(Err(RefreshRefused::Reused))
}

/// Revokes the family a raw token belongs to (logout). Unknown tokens are ignored.
pub async fn logout(
    db: &DatabaseConnection,
    raw: &str,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let Some(row) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(content_hash(raw)))
        .one(db)
        .await?
    else {
        return Ok(false);
    };
    revoke_family(db, &row.family, now).await?;
    Ok(true)
}

async fn revoke_family(
    db: &impl ConnectionTrait,
    family: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::Family.eq(family))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Revokes every refresh token of a subject.
pub async fn revoke_subject(db: &impl ConnectionTrait, subject: &Subject) -> Result<(), ApiError> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::Subject.eq(subject.kind()))
        .filter(refresh_token::Column::SubjectId.eq(subject.id()))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Failures before an account is locked.
pub const MAX_FAILURES: i32 = 5;
/// Failures before an address is locked: higher, because a State Corporation hall or a school
/// may send many people's logins from one address.
pub const MAX_ADDRESS_FAILURES: i32 = 20;

fn limit(key: &str) -> i32 {
    if key.starts_with("addr:") {
        MAX_ADDRESS_FAILURES
    } else {
        MAX_FAILURES
    }
}
/// How long a lock lasts.
pub const LOCK_MINUTES: i64 = 15;

/// One login attempt, taken before the password is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The password may be checked: no key was at its limit.
    pub allowed: bool,
    /// This attempt's number on the account key, for slowing down.
    pub number: i32,
    /// The account or the address is locked from now on (this attempt reached a limit).
    pub locks: bool,
}

/// Takes one attempt on every key (the account, the address), atomically, *before* the password
/// is checked: each key's count is raised by one upsert that returns the new count, so a burst
/// of parallel guesses cannot check more passwords than the limit — every attempt past it is
/// refused without a check. A key locks when its count reaches the limit, for
/// [`LOCK_MINUTES`]; a lock that has run out starts the count again. A successful login gives
/// its attempt back ([`succeeded`]).
pub async fn take_attempt(
    db: &impl ConnectionTrait,
    keys: &[String],
    now: DateTime<Utc>,
) -> Result<Attempt, ApiError> {
    let backend = db.get_database_backend();
    let until = now + chrono::Duration::minutes(LOCK_MINUTES);
    let mut attempt = Attempt {
        allowed: true,
        number: 0,
        locks: false,
    };
    for key in keys {
        let limit = limit(key);
        let expired =
            "login_throttle.locked_until IS NOT NULL AND login_throttle.locked_until <= $3";
        let sql = format!(
            "INSERT INTO login_throttle (key, failures, locked_until, last_failure_at) \
             VALUES ($1, 1, NULL, $3) \
             ON CONFLICT (key) DO UPDATE SET \
             failures = CASE WHEN {expired} THEN 1 ELSE login_throttle.failures + 1 END, \
             locked_until = CASE WHEN {expired} THEN NULL \
                 WHEN login_throttle.locked_until IS NOT NULL THEN login_throttle.locked_until \
                 WHEN login_throttle.failures + 1 >= $2 THEN $4 ELSE NULL END, \
             last_failure_at = $3 \
             RETURNING failures"
        );
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [key.clone().into(), limit.into(), now.into(), until.into()],
            ))
            .await?
            .ok_or_else(|| ApiError::internal(std::io::Error::other("upsert returned nothing")))?;
        let n: i32 = row.try_get("", "failures")?;
        attempt.allowed &= n <= limit;
        attempt.locks |= n == limit;
        if !key.starts_with("addr:") {
            attempt.number = n;
        }
    }
    Ok(attempt)
}

/// A login succeeded: the account's count is cleared, and the attempt taken on the address is
/// given back (lifting the address's lock if this attempt had set it).
pub async fn succeeded(
    db: &impl ConnectionTrait,
    account_key: &str,
    address_key: &str,
) -> Result<(), ApiError> {
    clear(db, account_key).await?;
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE login_throttle SET failures = failures - 1, \
         locked_until = CASE WHEN failures - 1 < $2 THEN NULL ELSE locked_until END \
         WHERE key = $1 AND failures > 0",
        [address_key.into(), MAX_ADDRESS_FAILURES.into()],
    ))
    .await?;
    Ok(())
}

/// Clears the counter of a key after a successful login.
pub async fn clear(db: &impl ConnectionTrait, key: &str) -> Result<(), ApiError> {
    login_throttle::Entity::delete_by_id(key.to_owned())
        .exec(db)
        .await?;
    Ok(())
}

/// Registers the IIN a staff member's electronic signature carries (to match their signatures
/// to them), or removes it (`None`: their signatures are refused from then on);
/// `NOT_FOUND` for an unknown username.
pub async fn set_iin<C: sea_orm::ConnectionTrait>(
    db: &C,
    username: &str,
    iin: Option<&domain::identity::Iin>,
) -> Result<(), ApiError> {
    let updated = app_user::Entity::update_many()
        .col_expr(
            app_user::Column::Iin,
            sea_orm::sea_query::Expr::value(iin.map(|i| i.as_str().to_owned())),
        )
        .col_expr(
            app_user::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(app_user::Column::Username.eq(username))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Err(ApiError::NotFound(format!("no user {username:?}")));
    }
    Ok(())
}

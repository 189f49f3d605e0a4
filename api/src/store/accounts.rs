//! Accounts, refresh-token families and the login throttle.

use chrono::{DateTime, Utc};
use domain::identity::{Iin, Role};
use entity::{app_user, applicant, login_throttle, organisation, refresh_token, region};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, TransactionTrait,
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
        created_at: Set(now),
        updated_at: Set(now),
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
    let txn = db.begin().await?;
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
    let txn = db.begin().await?;
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

/// Rotates a refresh token: marks it used and issues its successor in the same family. A
/// token presented twice revokes the whole family.
pub async fn rotate(
    db: &DatabaseConnection,
    raw: &str,
    ttl: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<Result<(Subject, String), RefreshRefused>, ApiError> {
    let txn = db.begin().await?;
    let Some(row) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(content_hash(raw)))
        .one(&txn)
        .await?
    else {
        return Ok(Err(RefreshRefused::Invalid));
    };
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Ok(Err(RefreshRefused::Invalid));
    }
    let subject = match row.subject.as_str() {
        "user" => Subject::User(row.subject_id),
        _ => Subject::Applicant(row.subject_id),
    };
    // Mark used only if nobody did first: a concurrent second use is a reuse too.
    let marked = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if marked.rows_affected != 1 {
        revoke_family(&txn, &row.family, now).await?;
        txn.commit().await?;
        tracing::warn!(family = %row.family, "refresh token reused: family revoked");
        return Ok(Err(RefreshRefused::Reused));
    }
    let next = issue_refresh(&txn, &subject, Some(row.family.clone()), ttl, now).await?;
    txn.commit().await?;
    Ok(Ok((subject, next)))
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

/// Whether any of the keys is locked now.
pub async fn locked(
    db: &impl ConnectionTrait,
    keys: &[String],
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let rows = login_throttle::Entity::find()
        .filter(login_throttle::Column::Key.is_in(keys.iter().cloned()))
        .all(db)
        .await?;
    Ok(rows.iter().any(|r| r.locked_until.is_some_and(|t| t > now)))
}

/// Counts a failure for each key, locking a key at its limit; returns whether any key is now
/// locked, and the account key's count (for slowing down).
pub async fn record_failure(
    db: &DatabaseConnection,
    keys: &[String],
    now: DateTime<Utc>,
) -> Result<(bool, i32), ApiError> {
    let txn = db.begin().await?;
    let mut any_locked = false;
    let mut highest = 0;
    for key in keys {
        let existing = login_throttle::Entity::find_by_id(key.clone())
            .one(&txn)
            .await?;
        // A lock that has run out starts the count again.
        let failures = match &existing {
            Some(r) if r.locked_until.is_some_and(|t| t <= now) => 1,
            Some(r) => r.failures + 1,
            None => 1,
        };
        let locked_until =
            (failures >= limit(key)).then(|| now + chrono::Duration::minutes(LOCK_MINUTES));
        any_locked |= locked_until.is_some();
        let row = login_throttle::ActiveModel {
            key: Set(key.clone()),
            failures: Set(failures),
            locked_until: Set(locked_until),
            last_failure_at: Set(now),
        };
        if existing.is_some() {
            login_throttle::Entity::update(row).exec(&txn).await?;
        } else {
            login_throttle::Entity::insert(row)
                .exec_without_returning(&txn)
                .await?;
        }
        if !key.starts_with("addr:") {
            highest = highest.max(failures);
        }
    }
    txn.commit().await?;
    Ok((any_locked, highest))
}

/// Clears the counter of a key after a successful login.
pub async fn clear(db: &impl ConnectionTrait, key: &str) -> Result<(), ApiError> {
    login_throttle::Entity::delete_by_id(key.to_owned())
        .exec(db)
        .await?;
    Ok(())
}

//! Administration: organisations, users, regulation and calendar versions. `ADMIN` only.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::Utc;
use domain::deadline::WorkingHours;
use domain::identity::Role as DomainRole;
use entity::{app_user, organisation};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::auth::{Requires, Subject};
use crate::error::ApiError;
use crate::graphql::auth::Role;
use crate::graphql::catalog::Organisation;
use crate::graphql::scalars::{Instant, LocalTime};
use crate::graphql::state;
use crate::store::{self, accounts};

const ADMIN: &[DomainRole] = &[DomainRole::Admin];

/// A staff account.
#[derive(SimpleObject)]
pub struct User {
    /// Login name.
    username: String,
    /// The name colleagues see (the username when none is set).
    display_name: String,
    /// Role.
    role: Role,
    /// Organisation code, for staff of an organisation.
    organisation: Option<String>,
    /// Region code of a regional analyst.
    region: Option<String>,
    /// False once deactivated: the account can no longer log in or use its tokens.
    active: bool,
    /// The IIN their signature certificates carry (registered for those who sign results);
    /// null: signatures in their name are refused (`SIGNER_MISMATCH`).
    iin: Option<String>,
    /// When the account was created.
    created_at: Instant,
}

async fn user_view(db: &sea_orm::DatabaseConnection, u: app_user::Model) -> Result<User, ApiError> {
    let organisation = match u.organisation_id {
        Some(id) => organisation::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|o| o.code),
        None => None,
    };
    let role = DomainRole::parse(&u.role).ok_or_else(|| {
        ApiError::internal(std::io::Error::other(format!("stored role {:?}", u.role)))
    })?;
    Ok(User {
        display_name: accounts::display_name(&u),
        username: u.username,
        role: role.into(),
        organisation,
        region: u.region_code,
        active: u.active,
        iin: u.iin,
        created_at: u.created_at.into(),
    })
}

/// The result of loading a regulation file.
#[derive(SimpleObject)]
pub struct RegulationImport {
    /// Regulation code.
    code: String,
    /// The version the content is stored under.
    version: i32,
    /// False when identical content was stored already.
    created: bool,
}

/// The result of loading a calendar file.
#[derive(SimpleObject)]
pub struct CalendarImport {
    /// The version the content is stored under; the newest is in force.
    version: i32,
    /// False when identical content was stored already.
    created: bool,
}

/// Daily working hours, local time `HH:MM`.
#[derive(InputObject)]
pub struct WorkingHoursInput {
    /// Opening time.
    open: LocalTime,
    /// Closing time.
    close: LocalTime,
    /// Start of lunch, if any.
    lunch_start: Option<LocalTime>,
    /// End of lunch, if any.
    lunch_end: Option<LocalTime>,
}

/// A new organisation.
#[derive(InputObject)]
pub struct CreateOrganisationInput {
    /// Stable code: lowercase letters, digits and dashes (at most 64 characters).
    #[graphql(validator(chars_max_length = 64))]
    code: String,
    /// A provider kind (`SCHOOL`, `COLLEGE`, `EDUCATION_ORGANISATION`, `EDUCATION_DEPARTMENT`, `LOCAL_EXECUTIVE_BODY`, `RURAL_AKIM`) or `STATE_CORPORATION`.
    kind: String,
    /// Region code.
    #[graphql(validator(chars_max_length = 32))]
    region: String,
    /// District or city (at most 200 characters).
    #[graphql(validator(chars_max_length = 200))]
    district: Option<String>,
    /// Name in Kazakh (at most 500 characters).
    #[graphql(validator(chars_max_length = 500))]
    name_kk: String,
    /// Name in English (at most 500 characters).
    #[graphql(validator(chars_max_length = 500))]
    name_en: String,
    /// Name in Russian (at most 500 characters).
    #[graphql(validator(chars_max_length = 500))]
    name_ru: Option<String>,
    /// Own working hours; the default for the kind when omitted.
    working_hours: Option<WorkingHoursInput>,
}

/// A new staff user.
#[derive(InputObject)]
pub struct CreateUserInput {
    /// Login name: 3–64 lowercase letters, digits, '.', '-', '_'.
    #[graphql(validator(chars_max_length = 64))]
    username: String,
    /// Initial password, 10–256 characters.
    #[graphql(validator(chars_max_length = 256))]
    password: String,
    /// Role (not `APPLICANT`).
    role: Role,
    /// Organisation code; required for clerks, heads, executors and operators.
    organisation: Option<String>,
    /// Region code for a regional analyst; omit for a national analyst.
    region: Option<String>,
    /// The name colleagues see ("Гүлнар Сейітова"), at most 200 characters; the username when
    /// omitted.
    #[graphql(validator(chars_max_length = 200))]
    display_name: Option<String>,
    /// The IIN the user's electronic signature (ЭЦҚ) carries, so that what they sign (a head's
    /// result) can be matched to them; without it their signatures are `SIGNER_MISMATCH`.
    #[graphql(validator(chars_max_length = 12))]
    iin: Option<String>,
}

/// Administration queries.
#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Staff users, optionally of one organisation.
    #[graphql(guard = "Requires(ADMIN)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Organisation code.")] organisation: Option<String>,
    ) -> Result<Vec<User>, ApiError> {
        let state = state(ctx)?;
        let org_id = match organisation {
            Some(code) => Some(
                organisation::Entity::find()
                    .filter(organisation::Column::Code.eq(code.clone()))
                    .one(&state.db)
                    .await?
                    .ok_or_else(|| ApiError::NotFound(format!("no organisation {code:?}")))?
                    .id,
            ),
            None => None,
        };
        let mut out = Vec::new();
        for u in accounts::users(&state.db, org_id).await? {
            out.push(user_view(&state.db, u).await?);
        }
        Ok(out)
    }
}

/// Administration mutations.
#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Creates an organisation (a provider or a State Corporation branch).
    #[graphql(guard = "Requires(ADMIN)")]
    async fn create_organisation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The organisation.")] input: CreateOrganisationInput,
    ) -> Result<Organisation, ApiError> {
        let state = state(ctx)?;
        let code_ok = !input.code.is_empty()
            && input
                .code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !code_ok {
            return Err(ApiError::BadUserInput(
                "code: lowercase letters, digits and dashes".into(),
            ));
        }
        if !domain::organisation::is_known_kind(&input.kind) {
            return Err(ApiError::BadUserInput(format!(
                "unknown kind {:?}",
                input.kind
            )));
        }
        if !state.regions.contains_key(&input.region) {
            return Err(ApiError::BadUserInput(format!(
                "unknown region {:?}",
                input.region
            )));
        }
        if input.name_kk.trim().is_empty() || input.name_en.trim().is_empty() {
            return Err(ApiError::BadUserInput(
                "names in Kazakh and English are required".into(),
            ));
        }
        let hours = match input.working_hours {
            Some(h) => {
                let lunch = match (h.lunch_start, h.lunch_end) {
                    (Some(a), Some(b)) => Some((a.0, b.0)),
                    (None, None) => None,
                    _ => {
                        return Err(ApiError::BadUserInput(
                            "give both lunchStart and lunchEnd, or neither".into(),
                        ))
                    }
                };
                let checked = WorkingHours::new(h.open.0, h.close.0, lunch)
                    .map_err(|e| ApiError::BadUserInput(e.to_string()))?;
                Some(serde_json::to_string(&checked).map_err(ApiError::internal)?)
            }
            None => None,
        };
        let row = organisation::ActiveModel {
            id: sea_orm::ActiveValue::NotSet,
            code: Set(input.code.clone()),
            kind: Set(input.kind),
            name_kk: Set(input.name_kk.trim().to_owned()),
            name_en: Set(input.name_en.trim().to_owned()),
            name_ru: Set(input
                .name_ru
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned)),
            region_code: Set(input.region),
            district: Set(input.district),
            working_hours: Set(hours),
            created_at: Set(Utc::now()),
        };
        match organisation::Entity::insert(row)
            .exec_with_returning(&state.db)
            .await
        {
            Ok(m) => Organisation::try_from(m),
            Err(e) if store::calendar::is_unique_violation(&e) => Err(ApiError::Conflict(format!(
                "the code {:?} is taken",
                input.code
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates a staff user in an organisation (or a national role).
    #[graphql(guard = "Requires(ADMIN)")]
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user.")] input: CreateUserInput,
    ) -> Result<User, ApiError> {
        let state = state(ctx)?;
        let iin = input
            .iin
            .as_deref()
            .map(domain::identity::Iin::parse)
            .transpose()
            .map_err(crate::error::iin_error)?;
        let new = accounts::NewUser {
            username: input.username.trim().to_lowercase(),
            password: input.password,
            role: input.role.into(),
            organisation: input.organisation,
            region: input.region,
            display_name: input
                .display_name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned),
            iin,
        };
        let created = accounts::create_user(&state.db, &new).await?;
        user_view(&state.db, created).await
    }

    /// Registers the IIN a staff member's signature certificates carry, so that the results
    /// they sign are accepted as theirs (a new certificate, or a head appointed before IINs were
    /// registered); null removes it, and their signatures are refused from then on. Bad IIN:
    /// `INVALID_IIN`; unknown username: `NOT_FOUND`.
    #[graphql(guard = "Requires(ADMIN)")]
    async fn set_user_iin(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Username.")] username: String,
        #[graphql(desc = "The IIN (12 digits, checksum valid), or null to remove it.")] iin: Option<
            String,
        >,
    ) -> Result<User, ApiError> {
        let state = state(ctx)?;
        let iin = iin
            .as_deref()
            .map(domain::identity::Iin::parse)
            .transpose()
            .map_err(crate::error::iin_error)?;
        let username = username.trim().to_lowercase();
        accounts::set_iin(&state.db, &username, iin.as_ref()).await?;
        let user = accounts::find_user(&state.db, &username)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no user {username:?}")))?;
        user_view(&state.db, user).await
    }

    /// Changes a user's role (with the organisation or region it needs); their sessions end.
    #[graphql(guard = "Requires(ADMIN)")]
    async fn change_role(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Username.")] username: String,
        #[graphql(desc = "The new role.")] role: Role,
        #[graphql(desc = "Organisation code, for roles that work in one.")] organisation: Option<
            String,
        >,
        #[graphql(desc = "Region code, for a regional analyst.")] region: Option<String>,
    ) -> Result<User, ApiError> {
        let state = state(ctx)?;
        let updated = accounts::change_role(
            &state.db,
            &username,
            role.into(),
            organisation.as_deref(),
            region.as_deref(),
        )
        .await?;
        user_view(&state.db, updated).await
    }

    /// Deactivates a user: they can no longer log in, and every session of theirs ends.
    #[graphql(guard = "Requires(ADMIN)")]
    async fn deactivate_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Username.")] username: String,
    ) -> Result<User, ApiError> {
        let state = state(ctx)?;
        if let Some(crate::auth::Auth::Principal(p)) = ctx.data_opt::<crate::auth::Auth>() {
            let me = accounts::find_user(&state.db, &username).await?;
            if me.is_some_and(|u| p.subject == Subject::User(u.id)) {
                return Err(ApiError::BadUserInput(
                    "an administrator cannot deactivate themselves".into(),
                ));
            }
        }
        let updated = accounts::deactivate(&state.db, &username).await?;
        user_view(&state.db, updated).await
    }

    /// Loads a regulation file (TOML): changed content becomes the next version, identical
    /// content changes nothing, a broken file stores nothing (`INVALID_REGULATION`).
    #[graphql(guard = "Requires(ADMIN)")]
    async fn import_regulation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A name for the file, used in errors, e.g. `atyrau-new.toml`.")] file_name: String,
        #[graphql(desc = "The file's contents.")] document: String,
    ) -> Result<RegulationImport, ApiError> {
        let state = state(ctx)?;
        let imported =
            store::regulation::import_all(&state.db, &[(file_name, document)], "admin import")
                .await?;
        let first = imported
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::internal(std::io::Error::other("import returned nothing")))?;
        Ok(RegulationImport {
            code: first.code,
            version: first.version,
            created: first.created,
        })
    }

    /// Loads a working-calendar file (TOML, as `data/calendar/kz.toml`) as the next version; it
    /// is checked against its own balances first and is in force on this node at once.
    #[graphql(guard = "Requires(ADMIN)")]
    async fn import_calendar(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The file's contents.")] document: String,
    ) -> Result<CalendarImport, ApiError> {
        let state = state(ctx)?;
        let imported = store::calendar::import(&state.db, &document, "admin import").await?;
        if let Some(cal) = store::calendar::latest(&state.db).await? {
            state.calendar.offer(cal);
        }
        Ok(CalendarImport {
            version: imported.version as i32,
            created: imported.created,
        })
    }
}

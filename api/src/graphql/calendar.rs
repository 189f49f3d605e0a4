//! The working calendar and legal deadlines. Public: no login needed.

use async_graphql::{Context, Enum, Object, SimpleObject};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};
use domain::calendar::DayOff as DomainDayOff;
use domain::deadline::{DurationUnit as DomainUnit, LegalDuration, WorkingClock, WorkingHours};
use entity::organisation;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::error::ApiError;
use crate::graphql::scalars::{Date, Instant};
use crate::graphql::state;
use crate::store;

/// Queries about working time.
#[derive(Default)]
pub struct CalendarQuery;

/// The unit of a legal duration.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum DurationUnit {
    /// Working minutes: inside working hours, outside lunch, on working days.
    Minutes,
    /// Working hours: 60 working minutes each.
    Hours,
    /// Working days: the day of receipt is not counted; due at the close of the n-th working day after it.
    WorkingDays,
    /// Calendar days: the day of receipt is not counted; due at the close of the n-th day after it, or of the next working day.
    CalendarDays,
}

impl From<DurationUnit> for DomainUnit {
    fn from(u: DurationUnit) -> Self {
        match u {
            DurationUnit::Minutes => DomainUnit::Minutes,
            DurationUnit::Hours => DomainUnit::Hours,
            DurationUnit::WorkingDays => DomainUnit::WorkingDays,
            DurationUnit::CalendarDays => DomainUnit::CalendarDays,
        }
    }
}

impl From<DomainUnit> for DurationUnit {
    fn from(u: DomainUnit) -> Self {
        match u {
            DomainUnit::Minutes => DurationUnit::Minutes,
            DomainUnit::Hours => DurationUnit::Hours,
            DomainUnit::WorkingDays => DurationUnit::WorkingDays,
            DomainUnit::CalendarDays => DurationUnit::CalendarDays,
        }
    }
}

/// Why a weekday is not worked.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum DayOffReason {
    /// A public holiday (or Kurban Ait, or 7 January) on its own date.
    Holiday,
    /// The working day after a holiday that fell on a Saturday or Sunday.
    MovedHoliday,
    /// A day off given by a transfer (government decree or Ministry of Labour order).
    Transfer,
}

/// A weekday that is not a working day.
#[derive(SimpleObject)]
pub struct DayOff {
    /// The date.
    date: Date,
    /// Why it is not worked.
    reason: DayOffReason,
    /// The holiday's key (`nauryz`, `kurban_ait`…); null for a transfer.
    holiday_key: Option<String>,
    /// Name in Kazakh.
    name_kk: String,
    /// Name in English.
    name_en: String,
    /// For a moved holiday: the Saturday or Sunday it fell on.
    moved_from: Option<Date>,
    /// For a transfer: the decree or order.
    act: Option<String>,
    /// For a transfer: the weekend day worked instead.
    worked_instead: Option<Date>,
}

/// A Saturday or Sunday made a working day by a transfer.
#[derive(SimpleObject)]
pub struct WorkedWeekendDay {
    /// The date.
    date: Date,
    /// The decree or order.
    act: String,
}

/// One year of the working calendar (five-day week).
#[derive(SimpleObject)]
pub struct WorkingCalendarYear {
    /// The year.
    year: i32,
    /// The calendar version these facts come from.
    calendar_version: i32,
    /// True while the year's facts are not final (e.g. Kurban Ait not yet announced).
    provisional: bool,
    /// Number of working days in the year.
    working_days: i32,
    /// Monday-to-Friday dates that are not worked, with the reason.
    non_working_weekdays: Vec<DayOff>,
    /// Saturdays and Sundays that are worked.
    working_weekend_days: Vec<WorkedWeekendDay>,
}

/// Daily working hours, local time `HH:MM`.
#[derive(SimpleObject, Clone)]
pub struct WorkingHoursInfo {
    /// Opening time.
    open: String,
    /// Closing time (the close of business).
    close: String,
    /// Start of lunch, if there is a lunch break.
    lunch_start: Option<String>,
    /// End of lunch, if there is a lunch break.
    lunch_end: Option<String>,
    /// Working minutes in one working day.
    minutes_per_day: i32,
}

impl From<WorkingHours> for WorkingHoursInfo {
    fn from(h: WorkingHours) -> Self {
        let f = |t: chrono::NaiveTime| t.format("%H:%M").to_string();
        WorkingHoursInfo {
            open: f(h.open),
            close: f(h.close),
            lunch_start: h.lunch.map(|(a, _)| f(a)),
            lunch_end: h.lunch.map(|(_, b)| f(b)),
            minutes_per_day: h.minutes_per_day() as i32,
        }
    }
}

/// A computed legal deadline.
#[derive(SimpleObject)]
pub struct LegalDeadline {
    /// The due instant, in the organisation's local time with its UTC offset.
    due: DateTime<FixedOffset>,
    /// The IANA time zone of the region.
    time_zone: String,
    /// The working calendar version the deadline was computed on.
    calendar_version: i32,
    /// True when the due date lies in a provisional calendar year.
    provisional: bool,
    /// The working hours used.
    working_hours: WorkingHoursInfo,
}

/// A stored version of the working calendar.
#[derive(SimpleObject)]
pub struct CalendarVersion {
    /// Version number; every due date records the one it used.
    version: i32,
    /// First year covered.
    first_year: i32,
    /// Last year covered.
    last_year: i32,
    /// SHA-256 of the calendar file.
    content_hash: String,
    /// Where the file came from.
    source: String,
    /// When it was stored.
    loaded_at: Instant,
    /// Whether this is the version in force.
    in_force: bool,
}

fn rule(e: impl Into<domain::deadline::DeadlineError>) -> ApiError {
    let e = e.into();
    ApiError::Rule {
        code: e.code(),
        message: e.to_string(),
    }
}

fn day_off(cal: &domain::calendar::WorkingCalendar, date: NaiveDate, why: &DomainDayOff) -> DayOff {
    let names = |key: &str| match cal.holiday(key) {
        Some(h) => (h.name_kk.clone(), h.name_en.clone()),
        None if key == "kurban_ait" => ("Құрбан айт".to_owned(), "Kurban Ait".to_owned()),
        None => (key.to_owned(), key.to_owned()),
    };
    match why {
        DomainDayOff::Holiday { key } => {
            let (kk, en) = names(key);
            DayOff {
                date: date.into(),
                reason: DayOffReason::Holiday,
                holiday_key: Some(key.clone()),
                name_kk: kk,
                name_en: en,
                moved_from: None,
                act: None,
                worked_instead: None,
            }
        }
        DomainDayOff::Moved { key, from } => {
            let (kk, en) = names(key);
            DayOff {
                date: date.into(),
                reason: DayOffReason::MovedHoliday,
                holiday_key: Some(key.clone()),
                name_kk: kk,
                name_en: en,
                moved_from: Some((*from).into()),
                act: None,
                worked_instead: None,
            }
        }
        DomainDayOff::Transfer { act, worked } => DayOff {
            date: date.into(),
            reason: DayOffReason::Transfer,
            holiday_key: None,
            name_kk: "Демалыс күнін ауыстыру".to_owned(),
            name_en: "Day off transferred".to_owned(),
            moved_from: None,
            act: Some(act.clone()),
            worked_instead: Some((*worked).into()),
        },
    }
}

#[Object]
impl CalendarQuery {
    /// The working calendar of one year: its days off with their reasons, worked weekend days
    /// and the number of working days. A year outside the data gives `CALENDAR_NOT_AVAILABLE`.
    async fn working_calendar(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The year, e.g. 2025.")] year: i32,
    ) -> Result<WorkingCalendarYear, ApiError> {
        let state = state(ctx)?;
        let cal = state.calendar.current();
        let working_days = cal.working_days_in(year).map_err(rule)?;
        let non_working_weekdays = cal
            .non_working_weekdays(year)
            .map_err(rule)?
            .into_iter()
            .map(|(d, why)| day_off(&cal, d, why))
            .collect();
        let working_weekend_days = cal
            .working_weekend_days(year)
            .map_err(rule)?
            .into_iter()
            .map(|(date, act)| WorkedWeekendDay {
                date: date.into(),
                act: act.to_owned(),
            })
            .collect();
        Ok(WorkingCalendarYear {
            year,
            calendar_version: cal.version() as i32,
            provisional: cal.is_provisional(year),
            working_days: working_days as i32,
            non_working_weekdays,
            working_weekend_days,
        })
    }

    /// The legal deadline of work of the given duration that arrives at `start`, on the working
    /// calendar in force, in the region's time zone and the providers' default working hours
    /// (09:00–18:30, lunch 13:00–14:30) unless an organisation is named.
    async fn legal_deadline(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "When the work arrives (RFC 3339 with offset).")] start: DateTime<
            FixedOffset,
        >,
        #[graphql(desc = "How many units; at least 1.")] value: i32,
        #[graphql(desc = "The unit of the duration.")] unit: DurationUnit,
        #[graphql(desc = "Region code, e.g. `mangystau` (see `regions`).")] region: String,
        #[graphql(
            desc = "Organisation code whose working hours apply; the provider default when omitted."
        )]
        organisation: Option<String>,
    ) -> Result<LegalDeadline, ApiError> {
        let state = state(ctx)?;
        let value = u32::try_from(value)
            .ok()
            .filter(|v| *v >= 1)
            .ok_or_else(|| {
                ApiError::BadUserInput(format!("value must be at least 1, got {value}"))
            })?;
        let region = state
            .regions
            .get(&region)
            .ok_or_else(|| ApiError::BadUserInput(format!("unknown region {region:?}")))?;
        let tz = region.tz().map_err(ApiError::internal)?;
        let hours = match organisation {
            None => WorkingHours::provider_default(),
            Some(code) => {
                let org = organisation::Entity::find()
                    .filter(organisation::Column::Code.eq(code.clone()))
                    .one(&state.db)
                    .await?
                    .ok_or_else(|| ApiError::NotFound(format!("no organisation {code:?}")))?;
                if org.region_code != region.code {
                    return Err(ApiError::BadUserInput(format!(
                        "organisation {code:?} is in region {:?}, not {:?}",
                        org.region_code, region.code
                    )));
                }
                store::directory::working_hours(&org).map_err(ApiError::internal)?
            }
        };
        let cal = state.calendar.current();
        let clock = WorkingClock::new(&cal, hours, tz);
        let duration = LegalDuration::new(value, unit.into()).map_err(rule)?;
        let due = clock
            .deadline(start.with_timezone(&Utc), duration)
            .map_err(rule)?;
        let local = due.at.with_timezone(&tz);
        Ok(LegalDeadline {
            due: local.fixed_offset(),
            time_zone: tz.name().to_owned(),
            calendar_version: due.calendar_version as i32,
            provisional: cal.is_provisional(local.year()),
            working_hours: hours.into(),
        })
    }

    /// Every stored version of the working calendar, oldest first.
    async fn calendar_versions(&self, ctx: &Context<'_>) -> Result<Vec<CalendarVersion>, ApiError> {
        let state = state(ctx)?;
        let in_force = state.calendar.current().version() as i32;
        Ok(store::calendar::versions(&state.db)
            .await?
            .into_iter()
            .map(|m| CalendarVersion {
                in_force: m.version == in_force,
                version: m.version,
                first_year: m.first_year,
                last_year: m.last_year,
                content_hash: m.content_hash,
                source: m.source,
                loaded_at: m.loaded_at.into(),
            })
            .collect())
    }
}

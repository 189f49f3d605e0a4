//! Legal deadlines on the working calendar, in an organisation's working hours and local time.
//!
//! The rules (also in docs/deadlines-and-regulations.md):
//! - `MINUTES`/`HOURS` count working minutes only: inside working hours, outside lunch, on
//!   working days. Work that arrives outside working time starts at the next opening.
//! - `WORKING_DAYS` n: the day of receipt is not counted; it is the next working day when the
//!   work arrives after closing time or on a day off. The deadline is the close of business
//!   of the n-th working day after the day of receipt.
//! - `CALENDAR_DAYS` n: the day of receipt (adjusted the same way) is not counted; the deadline
//!   is the close of business of the n-th calendar day after it, moved to the close of the next
//!   working day when that day is not a working day.
//! - A case's legal term starts at registration. For State Corporation cases the day of
//!   acceptance is not counted (for minute and hour terms the clock starts at the next working
//!   day's opening), and the provider must return the result by the close of the working day
//!   before the term's last day.
//!
//! Everything is arithmetic on a "working-minute position": the number of working minutes from
//! the calendar's first day to an instant. Positions make every computation O(1), whatever the
//! term, and make elapsed working time a subtraction.

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::calendar::{CalendarError, WorkingCalendar};

/// The unit of a legal duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DurationUnit {
    /// Working minutes.
    Minutes,
    /// Working hours (60 working minutes).
    Hours,
    /// Working days, counted from the day after receipt.
    WorkingDays,
    /// Calendar days, counted from the day after receipt.
    CalendarDays,
}

/// A duration as a regulation states it: value and unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LegalDuration {
    /// How many units; never zero.
    pub value: u32,
    /// The unit.
    pub unit: DurationUnit,
}

impl LegalDuration {
    /// A duration; zero is refused (no legal step takes no time).
    pub fn new(value: u32, unit: DurationUnit) -> Result<LegalDuration, DeadlineError> {
        if value == 0 {
            return Err(DeadlineError::ZeroDuration);
        }
        Ok(LegalDuration { value, unit })
    }
}

/// Why a deadline cannot be computed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeadlineError {
    /// The calendar does not cover the dates involved.
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    /// A duration of zero.
    #[error("a legal duration must be greater than zero")]
    ZeroDuration,
    /// Working hours that make no sense.
    #[error("invalid working hours: {0}")]
    InvalidHours(String),
}

impl DeadlineError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            DeadlineError::Calendar(e) => e.code(),
            DeadlineError::ZeroDuration => "INVALID_DURATION",
            DeadlineError::InvalidHours(_) => "INVALID_WORKING_HOURS",
        }
    }
}

/// An organisation's daily working hours (the same on every working day).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkingHours {
    /// Opening time.
    pub open: NaiveTime,
    /// Closing time: the close of business.
    pub close: NaiveTime,
    /// Lunch break, if any: start and end.
    pub lunch: Option<(NaiveTime, NaiveTime)>,
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
}

impl WorkingHours {
    /// Checked constructor: opening before closing, lunch strictly inside.
    pub fn new(
        open: NaiveTime,
        close: NaiveTime,
        lunch: Option<(NaiveTime, NaiveTime)>,
    ) -> Result<WorkingHours, DeadlineError> {
        if open >= close {
            return Err(DeadlineError::InvalidHours(format!(
                "opening {open} is not before closing {close}"
            )));
        }
        if let Some((from, to)) = lunch {
            if !(open < from && from < to && to < close) {
                return Err(DeadlineError::InvalidHours(format!(
                    "lunch {from}–{to} is not inside {open}–{close}"
                )));
            }
        }
        Ok(WorkingHours { open, close, lunch })
    }

    /// Service providers: 09:00–18:30, lunch 13:00–14:30 (480 working minutes).
    pub fn provider_default() -> WorkingHours {
        WorkingHours {
            open: hm(9, 0),
            close: hm(18, 30),
            lunch: Some((hm(13, 0), hm(14, 30))),
        }
    }

    /// State Corporation branches: 09:00–18:00 without a break (540 working minutes).
    pub fn corporation_default() -> WorkingHours {
        WorkingHours {
            open: hm(9, 0),
            close: hm(18, 0),
            lunch: None,
        }
    }

    /// Working minutes in one working day.
    pub fn minutes_per_day(&self) -> u32 {
        minutes(self.open, self.close) - self.lunch.map_or(0, |(a, b)| minutes(a, b))
    }

    /// Working minutes from opening until `t`, within `0..=minutes_per_day()`.
    fn offset_of(&self, t: NaiveTime) -> u32 {
        let t = t.clamp(self.open, self.close);
        match self.lunch {
            Some((from, _)) if t <= from => minutes(self.open, t),
            Some((from, to)) if t <= to => minutes(self.open, from),
            Some((from, to)) => minutes(self.open, from) + minutes(to, t),
            None => minutes(self.open, t),
        }
    }

    /// The time at `offset` working minutes after opening; an offset that ends exactly at the
    /// start of lunch is the start of lunch (work due then is due before the break).
    fn time_at(&self, offset: u32) -> NaiveTime {
        let add = |t: NaiveTime, m: u32| t + chrono::Duration::minutes(i64::from(m));
        match self.lunch {
            Some((from, to)) => {
                let morning = minutes(self.open, from);
                if offset <= morning {
                    add(self.open, offset)
                } else {
                    add(to, offset - morning)
                }
            }
            None => add(self.open, offset),
        }
    }
}

fn minutes(a: NaiveTime, b: NaiveTime) -> u32 {
    u32::try_from((b - a).num_minutes()).unwrap_or(0)
}

/// Which legal term a case runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intake {
    /// Applied at the provider's office or on the portal: the term starts at registration.
    Provider,
    /// Applied at the State Corporation: the day of acceptance is not counted.
    StateCorporation,
}

/// A computed due instant and the calendar version it was computed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    /// The instant, in UTC.
    pub at: DateTime<Utc>,
    /// The calendar version used.
    pub calendar_version: u32,
}

/// A case's legal term and, for State Corporation cases, the provider's own deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaseTerm {
    /// When the result is legally due to the applicant.
    pub due: Due,
    /// When the provider must hand the result to the State Corporation (one day earlier).
    pub provider_due: Option<Due>,
}

/// Elapsed working time between two instants.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Elapsed {
    /// Working minutes.
    pub working_minutes: u64,
    /// The same in working days (minutes / working minutes per day).
    pub working_days: f64,
}

/// A calendar seen through one organisation's working hours and time zone.
#[derive(Clone, Copy, Debug)]
pub struct WorkingClock<'a> {
    calendar: &'a WorkingCalendar,
    hours: WorkingHours,
    tz: Tz,
    per_day: u64,
}

impl<'a> WorkingClock<'a> {
    /// A clock for an organisation.
    pub fn new(calendar: &'a WorkingCalendar, hours: WorkingHours, tz: Tz) -> WorkingClock<'a> {
        WorkingClock {
            calendar,
            hours,
            tz,
            per_day: u64::from(hours.minutes_per_day()),
        }
    }

    fn due(&self, at: DateTime<Utc>) -> Due {
        Due {
            at,
            calendar_version: self.calendar.version(),
        }
    }

    fn local(&self, at: DateTime<Utc>) -> NaiveDateTime {
        at.with_timezone(&self.tz).naive_local()
    }

    fn instant(&self, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        let local = date.and_time(time);
        match self.tz.from_local_datetime(&local) {
            chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
            chrono::LocalResult::Ambiguous(early, _) => early.with_timezone(&Utc),
            // A wall-clock time skipped by a zone change: the instant an hour later exists.
            chrono::LocalResult::None => self
                .tz
                .from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
                .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc)),
        }
    }

    fn close_of(&self, index: usize) -> DateTime<Utc> {
        self.instant(self.calendar.date_of(index), self.hours.close)
    }

    /// The close of business of `date`, or of the last working day before it when `date` is
    /// not a working day: the end of a term that runs "no later than" that day.
    pub fn close_by(&self, date: NaiveDate) -> Result<DateTime<Utc>, CalendarError> {
        let index = self.calendar.index(date)?;
        if self.calendar.is_working_index(index) {
            return Ok(self.close_of(index));
        }
        let before = self.calendar.working_before(index);
        let ordinal = before
            .checked_sub(1)
            .ok_or_else(|| self.calendar.not_available(self.calendar.years().0 - 1))?;
        Ok(self.close_of(self.calendar.nth_working(ordinal)?))
    }

    /// Working minutes from the calendar's first day to `at`.
    pub fn position(&self, at: DateTime<Utc>) -> Result<u64, CalendarError> {
        let local = self.local(at);
        let index = self.calendar.index(local.date())?;
        let before = u64::from(self.calendar.working_before(index)) * self.per_day;
        if self.calendar.is_working_index(index) {
            Ok(before + u64::from(self.hours.offset_of(local.time())))
        } else {
            Ok(before)
        }
    }

    /// The instant at a position; a position on a day boundary is the close of the earlier day.
    fn at_position(&self, position: u64) -> Result<DateTime<Utc>, CalendarError> {
        if position == 0 {
            let first = self.calendar.nth_working(0)?;
            return Ok(self.instant(self.calendar.date_of(first), self.hours.open));
        }
        let ordinal = (position - 1) / self.per_day;
        let offset = position - ordinal * self.per_day;
        let ordinal = u32::try_from(ordinal).map_err(|_| self.calendar.not_available(i32::MAX))?;
        let index = self.calendar.nth_working(ordinal)?;
        let offset = u32::try_from(offset).unwrap_or(u32::MAX);
        Ok(self.instant(self.calendar.date_of(index), self.hours.time_at(offset)))
    }

    /// Ordinal of the working day of receipt: today when `at` is on a working day before
    /// closing, else the next working day.
    fn receipt_ordinal(&self, at: DateTime<Utc>) -> Result<(u32, usize), CalendarError> {
        let local = self.local(at);
        let index = self.calendar.index(local.date())?;
        let before = self.calendar.working_before(index);
        // Work handed over at closing time exactly is still received that day, so that n working
        // days followed by m working days end where n + m do.
        let ordinal = if self.calendar.is_working_index(index) && local.time() <= self.hours.close {
            before
        } else {
            // On a working day after closing, `before` counts today's day as not yet passed:
            // the next working day is ordinal `before + 1`; on a day off it is `before`.
            before + u32::from(self.calendar.is_working_index(index))
        };
        Ok((ordinal, self.calendar.nth_working(ordinal)?))
    }

    /// The deadline for work of `duration` that arrives at `start`.
    pub fn deadline(
        &self,
        start: DateTime<Utc>,
        duration: LegalDuration,
    ) -> Result<Due, DeadlineError> {
        let n = duration.value;
        if n == 0 {
            return Err(DeadlineError::ZeroDuration);
        }
        let at = match duration.unit {
            DurationUnit::Minutes | DurationUnit::Hours => {
                let m = u64::from(n)
                    * if duration.unit == DurationUnit::Hours {
                        60
                    } else {
                        1
                    };
                self.at_position(self.position(start)? + m)?
            }
            DurationUnit::WorkingDays => {
                let (ordinal, _) = self.receipt_ordinal(start)?;
                self.close_of(self.calendar.nth_working(ordinal + n)?)
            }
            DurationUnit::CalendarDays => {
                let (_, receipt) = self.receipt_ordinal(start)?;
                let target = self.calendar.index(
                    self.calendar
                        .date_of(receipt)
                        .checked_add_days(Days::new(u64::from(n)))
                        .ok_or_else(|| self.calendar.not_available(i32::MAX))?,
                )?;
                let next_working = self.calendar.working_before(target);
                let day = if self.calendar.is_working_index(target) {
                    target
                } else {
                    self.calendar.nth_working(next_working)?
                };
                self.close_of(day)
            }
        };
        Ok(self.due(at))
    }

    /// A case's legal term from its registration (or acceptance at the State Corporation).
    pub fn case_term(
        &self,
        registered: DateTime<Utc>,
        term: LegalDuration,
        intake: Intake,
    ) -> Result<CaseTerm, DeadlineError> {
        let due = match (intake, term.unit) {
            (Intake::StateCorporation, DurationUnit::Minutes | DurationUnit::Hours) => {
                // The day of acceptance is not counted: the clock starts at the next opening.
                let today = self.calendar.index(self.local(registered).date())?;
                let next = self.calendar.working_before(today)
                    + u32::from(self.calendar.is_working_index(today));
                let day = self.calendar.nth_working(next)?;
                self.deadline(
                    self.instant(self.calendar.date_of(day), self.hours.open),
                    term,
                )?
            }
            _ => self.deadline(registered, term)?,
        };
        let provider_due = match intake {
            Intake::Provider => None,
            Intake::StateCorporation => {
                let due_index = self.calendar.index(self.local(due.at).date())?;
                let ordinal = self.calendar.working_before(due_index);
                let day_before = match ordinal.checked_sub(1) {
                    Some(o) => self.calendar.nth_working(o)?,
                    None => {
                        return Err(self
                            .calendar
                            .not_available(self.calendar.years().0 - 1)
                            .into())
                    }
                };
                Some(self.due(self.close_of(day_before)))
            }
        };
        Ok(CaseTerm { due, provider_due })
    }

    /// Working time elapsed from `from` to `to` (zero when `to` is not later).
    pub fn elapsed(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Elapsed, CalendarError> {
        let m = self.position(to)?.saturating_sub(self.position(from)?);
        Ok(Elapsed {
            working_minutes: m,
            working_days: m as f64 / self.per_day as f64,
        })
    }

    /// Share of the allowed working time used by `now`: 0.0 at `start`, 1.0 at `due`, above 1.0
    /// when overdue. An allowance of zero working minutes counts as fully used at once.
    pub fn share_used(
        &self,
        start: DateTime<Utc>,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<f64, CalendarError> {
        let allowed = self.elapsed(start, due)?.working_minutes;
        let used = self.elapsed(start, now)?.working_minutes;
        Ok(if allowed == 0 {
            1.0
        } else {
            used as f64 / allowed as f64
        })
    }
}

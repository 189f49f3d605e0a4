//! The working calendar: which days are working days, derived from rules and announced facts
//! (holidays with the years they apply, the weekend-moving rule and its exceptions, Kurban Ait
//! dates, transfers by decree or order) in a versioned data file. See `data/calendar/kz.toml`.
//!
//! Compiled once into per-day tables so that every question the deadline engine asks — is this a
//! working day, how many working days lie before it, which is the n-th working day after it — is
//! answered in constant time.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::Deserialize;

/// Why a calendar cannot be used or built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// A date outside the years the calendar covers: qyzmet refuses to guess.
    #[error("the working calendar has no data for {year} (it covers {first}–{last})")]
    NotAvailable {
        /// The year asked about.
        year: i32,
        /// First year covered.
        first: i32,
        /// Last year covered.
        last: i32,
    },
    /// The calendar file is malformed or inconsistent.
    #[error("calendar {field}: {reason}")]
    Invalid {
        /// The field (path in the file) at fault.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl CalendarError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CalendarError::NotAvailable { .. } => "CALENDAR_NOT_AVAILABLE",
            CalendarError::Invalid { .. } => "INVALID_CALENDAR",
        }
    }
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> CalendarError {
    CalendarError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The calendar file as written (TOML).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarDocument {
    /// Human-readable name.
    pub name: String,
    /// First year covered.
    pub first_year: i32,
    /// Last year covered.
    pub last_year: i32,
    /// Years whose facts are not yet final.
    #[serde(default)]
    pub provisional_years: Vec<i32>,
    /// Public holidays.
    #[serde(default, rename = "holiday")]
    pub holidays: Vec<HolidayRule>,
    /// Announced first days of Kurban Ait.
    #[serde(default)]
    pub kurban_ait: Vec<AnnouncedDay>,
    /// Transfers of days off.
    #[serde(default, rename = "transfer")]
    pub transfers: Vec<Transfer>,
    /// Official working-day balances; loading fails when the rules disagree.
    #[serde(default, rename = "balance")]
    pub balances: Vec<Balance>,
}

/// A public holiday and the years it applies.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolidayRule {
    /// Stable key, e.g. `nauryz`.
    pub key: String,
    /// Name in Kazakh.
    pub name_kk: String,
    /// Name in English.
    pub name_en: String,
    /// Dates as `MM-DD`.
    pub dates: Vec<String>,
    /// Whether a Saturday/Sunday occurrence gives the next working day off.
    pub moves: bool,
    /// First year it applies (inclusive).
    pub from: Option<i32>,
    /// Last year it applies (inclusive).
    pub until: Option<i32>,
    /// Where the rule comes from.
    pub source: String,
}

/// A day announced per year (Kurban Ait).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnouncedDay {
    /// The date.
    pub date: NaiveDate,
    /// Where it was announced.
    pub source: String,
}

/// A transfer: `work` becomes a working day, `rest` a day off.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// The day worked (usually a Saturday or Sunday).
    pub work: NaiveDate,
    /// The day given off.
    pub rest: NaiveDate,
    /// The decree or order.
    pub act: String,
}

/// An official count of working days in a year.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Balance {
    /// The year.
    pub year: i32,
    /// Its working days on a five-day week.
    pub working_days: u32,
    /// Where the figure comes from.
    pub source: String,
}

/// Why a weekday is not worked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DayOff {
    /// A holiday on its own date.
    Holiday {
        /// The holiday's key.
        key: String,
    },
    /// The working day after a holiday that fell on a Saturday or Sunday.
    Moved {
        /// The holiday's key.
        key: String,
        /// The weekend date it fell on.
        from: NaiveDate,
    },
    /// A day off given by a transfer.
    Transfer {
        /// The act.
        act: String,
        /// The weekend day worked instead.
        worked: NaiveDate,
    },
}

/// A compiled, immutable calendar.
#[derive(Clone, Debug)]
pub struct WorkingCalendar {
    version: u32,
    document: CalendarDocument,
    epoch: NaiveDate,
    /// `working[i]`: day `epoch + i` is a working day.
    working: Vec<bool>,
    /// `before[i]`: number of working days in `[epoch, epoch + i)`; one longer than `working`.
    before: Vec<u32>,
    /// Day indexes of the working days, in order.
    ordinals: Vec<u32>,
    days_off: BTreeMap<NaiveDate, DayOff>,
    worked_weekends: BTreeMap<NaiveDate, String>,
}

const KURBAN_AIT_KEY: &str = "kurban_ait";

impl WorkingCalendar {
    /// Parses and compiles a calendar file; `version` is the number it is stored under.
    pub fn from_toml(text: &str, version: u32) -> Result<WorkingCalendar, CalendarError> {
        let document: CalendarDocument =
            toml::from_str(text).map_err(|e| invalid("file", e.to_string()))?;
        WorkingCalendar::compile(document, version)
    }

    /// Compiles a parsed calendar, checking it against its own balances.
    pub fn compile(
        document: CalendarDocument,
        version: u32,
    ) -> Result<WorkingCalendar, CalendarError> {
        let (first, last) = (document.first_year, document.last_year);
        if !(1990..=2100).contains(&first) || last < first || last - first > 100 {
            return Err(invalid(
                "first_year/last_year",
                format!("{first}–{last} is not a range of years"),
            ));
        }
        let epoch = ymd(first, 1, 1)?;
        let end = ymd(last + 1, 1, 1)?;
        let len = (end - epoch).num_days() as usize;
        let index = |d: NaiveDate| -> Option<usize> {
            let i = (d - epoch).num_days();
            (0..len as i64).contains(&i).then_some(i as usize)
        };
        let in_range = |field: &str, d: NaiveDate| -> Result<usize, CalendarError> {
            index(d).ok_or_else(|| invalid(field, format!("{d} is outside {first}–{last}")))
        };

        // 1. Holidays on their own dates, for the years they apply.
        let mut on_date: BTreeMap<NaiveDate, (String, bool)> = BTreeMap::new();
        let mut keys = BTreeSet::new();
        for (n, h) in document.holidays.iter().enumerate() {
            let field = format!("holiday[{n}] ({})", h.key);
            if !keys.insert(h.key.as_str()) {
                return Err(invalid(field, "duplicate key"));
            }
            if h.dates.is_empty() {
                return Err(invalid(field, "no dates"));
            }
            for year in first..=last {
                if h.from.is_some_and(|f| year < f) || h.until.is_some_and(|u| year > u) {
                    continue;
                }
                for md in &h.dates {
                    let date =
                        month_day(year, md).map_err(|r| invalid(format!("{field}.dates"), r))?;
                    on_date.insert(date, (h.key.clone(), h.moves));
                }
            }
        }
        let mut kurban_years = BTreeSet::new();
        for (n, k) in document.kurban_ait.iter().enumerate() {
            let field = format!("kurban_ait[{n}]");
            in_range(&field, k.date)?;
            if !kurban_years.insert(k.date.year()) {
                return Err(invalid(
                    field,
                    format!("a second date for {}", k.date.year()),
                ));
            }
            on_date.insert(k.date, (KURBAN_AIT_KEY.to_owned(), false));
        }
        if let Some(year) = (first..=last).find(|y| !kurban_years.contains(y)) {
            return Err(invalid("kurban_ait", format!("no date for {year}")));
        }

        let mut working: Vec<bool> = (0..len)
            .map(|i| !is_weekend(epoch + Days::new(i as u64)))
            .collect();
        let mut days_off = BTreeMap::new();
        for (date, (key, _)) in &on_date {
            if let Some(i) = index(*date) {
                if working[i] {
                    days_off.insert(*date, DayOff::Holiday { key: key.clone() });
                }
                working[i] = false;
            }
        }

        // 2. Moved days: each weekend holiday gives the next day that is neither a weekend, nor
        // a holiday, nor already a moved day.
        for (date, (key, moves)) in &on_date {
            if !moves || !is_weekend(*date) {
                continue;
            }
            let mut d = *date + Days::new(1);
            while is_weekend(d) || on_date.contains_key(&d) || days_off.contains_key(&d) {
                d = d + Days::new(1);
            }
            if let Some(i) = index(d) {
                working[i] = false;
                days_off.insert(
                    d,
                    DayOff::Moved {
                        key: key.clone(),
                        from: *date,
                    },
                );
            }
        }

        // 3. Transfers: rest days off, then work days on (a work day always wins).
        let mut worked_weekends = BTreeMap::new();
        for (n, t) in document.transfers.iter().enumerate() {
            let field = format!("transfer[{n}]");
            let rest = in_range(&format!("{field}.rest"), t.rest)?;
            in_range(&format!("{field}.work"), t.work)?;
            if is_weekend(t.rest) {
                return Err(invalid(
                    format!("{field}.rest"),
                    format!("{} is already a weekend day", t.rest),
                ));
            }
            working[rest] = false;
            days_off.insert(
                t.rest,
                DayOff::Transfer {
                    act: t.act.clone(),
                    worked: t.work,
                },
            );
        }
        for t in &document.transfers {
            if let Some(i) = index(t.work) {
                working[i] = true;
                days_off.remove(&t.work);
                if is_weekend(t.work) {
                    worked_weekends.insert(t.work, t.act.clone());
                }
            }
        }

        let mut before = Vec::with_capacity(len + 1);
        let mut ordinals = Vec::new();
        before.push(0u32);
        for (i, w) in working.iter().enumerate() {
            if *w {
                ordinals.push(i as u32);
            }
            before.push(ordinals.len() as u32);
        }

        let calendar = WorkingCalendar {
            version,
            epoch,
            working,
            before,
            ordinals,
            days_off,
            worked_weekends,
            document,
        };
        for (n, b) in calendar.document.balances.iter().enumerate() {
            let counted = calendar.working_days_in(b.year).map_err(|_| {
                invalid(
                    format!("balance[{n}]"),
                    format!("{} is outside the calendar", b.year),
                )
            })?;
            if counted != b.working_days {
                return Err(invalid(
                    format!("balance[{n}] ({})", b.year),
                    format!(
                        "the rules give {counted} working days, the balance says {}",
                        b.working_days
                    ),
                ));
            }
        }
        Ok(calendar)
    }

    /// The version this calendar is stored under.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The parsed document.
    pub fn document(&self) -> &CalendarDocument {
        &self.document
    }

    /// First and last year covered.
    pub fn years(&self) -> (i32, i32) {
        (self.document.first_year, self.document.last_year)
    }

    /// Whether a year's facts are provisional.
    pub fn is_provisional(&self, year: i32) -> bool {
        self.document.provisional_years.contains(&year)
    }

    pub(crate) fn not_available(&self, year: i32) -> CalendarError {
        CalendarError::NotAvailable {
            year,
            first: self.document.first_year,
            last: self.document.last_year,
        }
    }

    /// Index of a date in the tables.
    pub(crate) fn index(&self, date: NaiveDate) -> Result<usize, CalendarError> {
        let i = (date - self.epoch).num_days();
        if (0..self.working.len() as i64).contains(&i) {
            Ok(i as usize)
        } else {
            Err(self.not_available(date.year()))
        }
    }

    pub(crate) fn date_of(&self, index: usize) -> NaiveDate {
        self.epoch + Days::new(index as u64)
    }

    pub(crate) fn is_working_index(&self, index: usize) -> bool {
        self.working[index]
    }

    /// Working days strictly before the day at `index`.
    pub(crate) fn working_before(&self, index: usize) -> u32 {
        self.before[index]
    }

    /// Day index of the working day with ordinal `n` (0-based from the first covered day).
    pub(crate) fn nth_working(&self, n: u32) -> Result<usize, CalendarError> {
        self.ordinals
            .get(n as usize)
            .map(|i| *i as usize)
            .ok_or_else(|| self.not_available(self.document.last_year + 1))
    }

    /// Whether `date` is a working day.
    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        Ok(self.working[self.index(date)?])
    }

    /// Number of working days in a year.
    pub fn working_days_in(&self, year: i32) -> Result<u32, CalendarError> {
        let start = self.index(ymd(year, 1, 1).map_err(|_| self.not_available(year))?)?;
        let end = start + if is_leap(year) { 366 } else { 365 };
        Ok(self.before[end] - self.before[start])
    }

    /// Weekdays that are not worked in a year, with the reason.
    pub fn non_working_weekdays(
        &self,
        year: i32,
    ) -> Result<Vec<(NaiveDate, &DayOff)>, CalendarError> {
        self.ensure_year(year)?;
        Ok(self
            .days_off
            .range(year_range(year))
            .map(|(d, r)| (*d, r))
            .collect())
    }

    /// Saturdays and Sundays worked by transfer in a year, with the act.
    pub fn working_weekend_days(&self, year: i32) -> Result<Vec<(NaiveDate, &str)>, CalendarError> {
        self.ensure_year(year)?;
        Ok(self
            .worked_weekends
            .range(year_range(year))
            .map(|(d, a)| (*d, a.as_str()))
            .collect())
    }

    /// The holiday rule with this key (Kurban Ait has none: its dates are announced).
    pub fn holiday(&self, key: &str) -> Option<&HolidayRule> {
        self.document.holidays.iter().find(|h| h.key == key)
    }

    fn ensure_year(&self, year: i32) -> Result<(), CalendarError> {
        let (first, last) = self.years();
        if (first..=last).contains(&year) {
            Ok(())
        } else {
            Err(self.not_available(year))
        }
    }
}

fn year_range(year: i32) -> std::ops::RangeInclusive<NaiveDate> {
    let from = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(NaiveDate::MIN);
    let to = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(NaiveDate::MAX);
    from..=to
}

fn is_leap(year: i32) -> bool {
    NaiveDate::from_ymd_opt(year, 2, 29).is_some()
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

fn ymd(y: i32, m: u32, d: u32) -> Result<NaiveDate, CalendarError> {
    NaiveDate::from_ymd_opt(y, m, d)
        .ok_or_else(|| invalid("date", format!("{y}-{m}-{d} is not a date")))
}

fn month_day(year: i32, md: &str) -> Result<NaiveDate, String> {
    let (m, d) = md
        .split_once('-')
        .ok_or_else(|| format!("{md:?} is not MM-DD"))?;
    let (m, d): (u32, u32) = (
        m.parse().map_err(|_| format!("{md:?} is not MM-DD"))?,
        d.parse().map_err(|_| format!("{md:?} is not MM-DD"))?,
    );
    NaiveDate::from_ymd_opt(year, m, d).ok_or_else(|| format!("{md:?} is not a date in {year}"))
}

//! When applications are accepted, and the terms of a service stated by days of the year.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// A period of the year in which applications are accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptanceWindow {
    /// Which applications it governs (an application attribute value, e.g. `first_grade`).
    pub applies_to: String,
    /// Description in Kazakh, from the act.
    pub label_kk: String,
    /// Description in English.
    pub label_en: String,
    /// First day, `MM-DD` (inclusive).
    pub from: String,
    /// Last day, `MM-DD` (inclusive).
    pub until: String,
    /// The paragraph of the act.
    pub paragraph: String,
    /// True when the act states the period as the *term of the service* (мемлекеттік қызметті
    /// көрсету мерзімдері), not only as when applications are taken: then the legal result
    /// date of an application in it is no later than the close of business of its last day.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub term_of_service: bool,
}

impl AcceptanceWindow {
    /// The last day of the window that `date` falls in (the window's `until` on or after it).
    pub fn last_day(&self, date: NaiveDate) -> Option<NaiveDate> {
        let (m, d) = parse_md(&self.until).ok()?;
        let this_year = NaiveDate::from_ymd_opt(date.year(), m, d)
            .or_else(|| NaiveDate::from_ymd_opt(date.year(), m, d - 1))?;
        if this_year >= date {
            Some(this_year)
        } else {
            NaiveDate::from_ymd_opt(date.year() + 1, m, d)
                .or_else(|| NaiveDate::from_ymd_opt(date.year() + 1, m, d - 1))
        }
    }

    /// Whether `date` falls inside the window (windows may run across New Year).
    pub fn contains(&self, date: NaiveDate) -> bool {
        let key = (date.month(), date.day());
        let (Ok(from), Ok(until)) = (parse_md(&self.from), parse_md(&self.until)) else {
            return false;
        };
        if from <= until {
            from <= key && key <= until
        } else {
            key >= from || key <= until
        }
    }
}

pub(super) fn parse_md(md: &str) -> Result<(u32, u32), String> {
    let (m, d) = md
        .split_once('-')
        .ok_or_else(|| format!("{md:?} is not MM-DD"))?;
    let m: u32 = m.parse().map_err(|_| format!("{md:?} is not MM-DD"))?;
    let d: u32 = d.parse().map_err(|_| format!("{md:?} is not MM-DD"))?;
    // 2024 is a leap year, so 02-29 is accepted.
    NaiveDate::from_ymd_opt(2024, m, d)
        .ok_or_else(|| format!("{md:?} is not a day of the year"))?;
    Ok((m, d))
}

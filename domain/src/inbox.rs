//! The inbox's rules: what a search text means, how names are compared, which sorts exist and
//! what "due today" is. The store turns these into queries; nothing here reads a database.

use chrono::{DateTime, Days, TimeZone, Utc};
use chrono_tz::Tz;

/// The shortest name prefix searched: one letter would match half a mailbox.
pub const MIN_NAME_PREFIX: usize = 2;

/// What a clerk typed into the inbox's search box.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Search {
    /// Twelve digits: an applicant's IIN, matched exactly.
    Iin(String),
    /// A registration number (`KZ47-20261130-0000123`), matched exactly, upper-cased.
    Number(String),
    /// The start of an applicant's name, as a [`name_key`] prefix.
    NamePrefix(String),
}

/// Why a search text is not searched.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// Nothing but spaces, or a name prefix shorter than [`MIN_NAME_PREFIX`] letters.
    #[error("type at least {MIN_NAME_PREFIX} letters of a name, a registration number or an IIN")]
    TooShort,
}

impl Search {
    /// Reads a search text: twelve digits are an IIN; a text that starts with the two letters
    /// and digits of a region code and holds a dash is a registration number; anything else is
    /// the start of a name (its words in order, any letter case).
    pub fn parse(text: &str) -> Result<Search, SearchError> {
        let t = text.trim();
        if t.len() == 12 && t.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Search::Iin(t.to_owned()));
        }
        let upper = t.to_uppercase();
        let looks_numbered = upper.starts_with("KZ")
            && upper.contains('-')
            && upper
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        if looks_numbered {
            return Ok(Search::Number(upper));
        }
        let key = name_key(t);
        if key.chars().filter(|c| c.is_alphabetic()).count() < MIN_NAME_PREFIX {
            return Err(SearchError::TooShort);
        }
        Ok(Search::NamePrefix(key))
    }
}

/// A name as it is searched: lower-cased (Kazakh and Russian letters included), words separated
/// by one space, no leading or trailing space.
pub fn name_key(name: &str) -> String {
    name.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The upper bound of a prefix range: every key that starts with `prefix` is `>= prefix` and
/// `< prefix_end(prefix)` when compared bytewise (binary or "C" collation).
pub fn prefix_end(prefix: &str) -> String {
    format!("{prefix}{}", char::MAX)
}

/// The orders an inbox can be read in. Ties are broken by case id, in the same direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum InboxSort {
    /// The most urgent step first (the default): what to do next.
    #[default]
    DueSoonest,
    /// The step due last first.
    DueLatest,
    /// The oldest application first: first come, first served.
    RegisteredOldest,
    /// The newest application first.
    RegisteredNewest,
}

impl InboxSort {
    /// Whether the sort key is the step's due time (else the registration time).
    pub fn by_due(self) -> bool {
        matches!(self, InboxSort::DueSoonest | InboxSort::DueLatest)
    }

    /// Whether the order is ascending.
    pub fn ascending(self) -> bool {
        matches!(self, InboxSort::DueSoonest | InboxSort::RegisteredOldest)
    }

    /// A one-letter tag carried in cursors, so that a cursor is never read under another sort.
    pub fn tag(self) -> char {
        match self {
            InboxSort::DueSoonest => 'd',
            InboxSort::DueLatest => 'D',
            InboxSort::RegisteredOldest => 'r',
            InboxSort::RegisteredNewest => 'R',
        }
    }
}

/// "Due today" for an organisation in zone `tz` at `now`: steps due from now until the end of
/// the local day (those due earlier are overdue, counted apart).
pub fn due_today(now: DateTime<Utc>, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let local = now.with_timezone(&tz).date_naive();
    let next = local.checked_add_days(Days::new(1)).unwrap_or(local);
    let end = next
        .and_hms_opt(0, 0, 0)
        .and_then(|t| tz.from_local_datetime(&t).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now);
    (now, end.max(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_is_an_iin_a_number_or_a_name() {
        assert_eq!(
            Search::parse(" 850305400120 "),
            Ok(Search::Iin("850305400120".into()))
        );
        assert_eq!(
            Search::parse("kz47-20261130-0000123"),
            Ok(Search::Number("KZ47-20261130-0000123".into()))
        );
        assert_eq!(
            Search::parse("  Серікова   Айгерим "),
            Ok(Search::NamePrefix("серікова айгерим".into()))
        );
        // Kazakh capitals lower-case to their own letters.
        assert_eq!(
            Search::parse("ӘБЕНОВ Ұ"),
            Ok(Search::NamePrefix("әбенов ұ".into()))
        );
        // A name that starts like a region code is still a name (no dash, or other letters).
        assert_eq!(
            Search::parse("Kzhanov"),
            Ok(Search::NamePrefix("kzhanov".into()))
        );
        assert_eq!(Search::parse("  "), Err(SearchError::TooShort));
        assert_eq!(Search::parse("а"), Err(SearchError::TooShort));
        assert_eq!(Search::parse("12345"), Err(SearchError::TooShort));
    }

    #[test]
    fn the_prefix_range_holds_every_key_with_the_prefix_and_nothing_after() {
        let end = prefix_end("сері");
        for key in ["сері", "серікова айгерим", "серіқ", "сері\u{fffd}"]
        {
            assert!(key >= "сері" && key < end.as_str(), "{key}");
        }
        for key in ["серж", "серк", "сер", "т"] {
            assert!(!(key >= "сері" && key < end.as_str()), "{key}");
        }
    }

    #[test]
    fn due_today_ends_at_local_midnight() {
        let tz: Tz = "Asia/Almaty".parse().expect("zone");
        // 10:00 local (UTC+5) on 30 November 2026.
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 5, 0, 0).unwrap();
        let (from, to) = due_today(now, tz);
        assert_eq!(from, now);
        assert_eq!(to, Utc.with_ymd_and_hms(2026, 11, 30, 19, 0, 0).unwrap());
        // 23:30 local: half an hour left.
        let late = Utc.with_ymd_and_hms(2026, 11, 30, 18, 30, 0).unwrap();
        assert_eq!(due_today(late, tz).1, to);
    }
}

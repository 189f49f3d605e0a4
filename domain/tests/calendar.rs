//! The working calendar against the compiled per-year lists and the official balances.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, Weekday};
use domain::calendar::{CalendarError, DayOff, WorkingCalendar};
use domain::BUNDLED_CALENDAR;
use serde::Deserialize;

fn calendar() -> WorkingCalendar {
    WorkingCalendar::from_toml(BUNDLED_CALENDAR, 1).expect("the bundled calendar compiles")
}

fn date(s: &str) -> NaiveDate {
    s.parse().expect("a date literal")
}

#[derive(Deserialize)]
struct Expected {
    year: Vec<ExpectedYear>,
}

#[derive(Deserialize)]
struct ExpectedYear {
    year: i32,
    holidays: Vec<NaiveDate>,
    transfers: Vec<ExpectedTransfer>,
    working_days_5day: u32,
}

#[derive(Deserialize)]
struct ExpectedTransfer {
    work: NaiveDate,
    rest: NaiveDate,
}

#[test]
fn every_year_2015_to_2027_matches_the_compiled_lists_day_for_day() {
    let cal = calendar();
    let expected: Expected =
        toml::from_str(include_str!("fixtures/kz-calendar-expected.toml")).expect("fixture parses");
    assert_eq!(expected.year.len(), 13);
    for y in &expected.year {
        // (holidays ∪ transfers.rest) − transfers.work, as the fixture's semantics say.
        let mut off: BTreeSet<NaiveDate> = y.holidays.iter().copied().collect();
        off.extend(y.transfers.iter().map(|t| t.rest));
        for t in &y.transfers {
            off.remove(&t.work);
        }
        let got: BTreeSet<NaiveDate> = cal
            .non_working_weekdays(y.year)
            .expect("covered")
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        assert_eq!(got, off, "non-working weekdays of {}", y.year);

        let worked: BTreeSet<NaiveDate> = y
            .transfers
            .iter()
            .map(|t| t.work)
            .filter(|d| matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
            .collect();
        let got: BTreeSet<NaiveDate> = cal
            .working_weekend_days(y.year)
            .expect("covered")
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        assert_eq!(got, worked, "worked weekend days of {}", y.year);
        assert_eq!(
            cal.working_days_in(y.year),
            Ok(y.working_days_5day),
            "{}",
            y.year
        );
    }
}

#[test]
fn official_balances_hold() {
    let cal = calendar();
    for (year, days) in [
        (2015, 245),
        (2017, 245),
        (2019, 246),
        (2024, 248),
        (2025, 246),
    ] {
        assert_eq!(cal.working_days_in(year), Ok(days), "{year}");
    }
}

#[test]
fn known_days_are_what_the_law_made_them() {
    let cal = calendar();
    let cases = [
        ("2015-03-23", false, "Nauryz on a Monday"),
        ("2015-03-24", false, "Nauryz Saturday moved"),
        ("2015-03-25", false, "Nauryz Sunday moved"),
        ("2021-03-24", false, "Nauryz 21 Mar (Sun) moved past 23 Mar"),
        (
            "2019-08-12",
            true,
            "Kurban Ait on Sunday 11 Aug is not moved",
        ),
        (
            "2022-07-11",
            true,
            "Kurban Ait on Saturday 9 Jul is not moved",
        ),
        ("2023-01-09", true, "7 January on a Saturday is not moved"),
        ("2024-06-17", false, "Kurban Ait 2024 was Monday 17 June"),
        ("2024-06-16", false, "a Sunday anyway"),
        ("2023-07-01", true, "Saturday worked by the 2023 transfer"),
        ("2023-07-07", false, "the Friday given for it"),
        (
            "2020-05-11",
            true,
            "moved Victory Day turned back into a working day",
        ),
        ("2020-05-08", false, "given off instead"),
        ("2020-01-05", true, "a Sunday worked"),
        ("2022-12-01", true, "First President Day abolished for 2022"),
        (
            "2021-12-01",
            false,
            "First President Day still a holiday in 2021",
        ),
        (
            "2022-12-19",
            true,
            "17 Dec no longer a holiday: no moved day",
        ),
        ("2022-10-25", false, "Republic Day restored in 2022"),
        ("2022-10-22", true, "Saturday worked for 24 Oct 2022"),
        ("2022-10-24", false, "Monday given off"),
        ("2025-09-01", false, "30 Aug 2025 (Sat) moved"),
        ("2026-08-31", true, "30 Aug is no longer a holiday in 2026"),
        ("2026-10-26", false, "Republic Day 2026 (Sun) moved"),
        (
            "2027-03-15",
            false,
            "Constitution Day from 2027 (provisional)",
        ),
    ];
    for (d, working, why) in cases {
        assert_eq!(cal.is_working_day(date(d)), Ok(working), "{d}: {why}");
    }
}

#[test]
fn reasons_name_the_holiday_the_move_and_the_act() {
    let cal = calendar();
    let days = cal.non_working_weekdays(2016).expect("covered");
    let reason = |d: &str| {
        days.iter()
            .find(|(x, _)| *x == date(d))
            .map(|(_, r)| (*r).clone())
    };
    assert_eq!(
        reason("2016-03-08"),
        Some(DayOff::Holiday {
            key: "womens_day".into()
        })
    );
    assert_eq!(
        reason("2016-01-04"),
        Some(DayOff::Moved {
            key: "new_year".into(),
            from: date("2016-01-02")
        })
    );
    assert!(matches!(
        reason("2016-03-07"),
        Some(DayOff::Transfer { act, worked }) if act.contains("No. 67") && worked == date("2016-03-05")
    ));
}

#[test]
fn only_2027_is_provisional() {
    let cal = calendar();
    assert!(cal.is_provisional(2027));
    assert!((2015..=2026).all(|y| !cal.is_provisional(y)));
}

#[test]
fn a_year_outside_the_data_is_not_available_never_a_guess() {
    let cal = calendar();
    let err = cal.working_days_in(2028).expect_err("2028 is not covered");
    assert_eq!(err.code(), "CALENDAR_NOT_AVAILABLE");
    assert!(matches!(
        err,
        CalendarError::NotAvailable { year: 2028, .. }
    ));
    assert!(cal.is_working_day(date("2014-12-31")).is_err());
}

#[test]
fn a_file_that_disagrees_with_its_balance_does_not_load() {
    let broken = BUNDLED_CALENDAR.replace("date = \"2024-06-17\"", "date = \"2024-06-16\"");
    let err = WorkingCalendar::from_toml(&broken, 2).expect_err("balance 248 no longer holds");
    assert!(err.to_string().contains("2024"), "{err}");
    assert_eq!(err.code(), "INVALID_CALENDAR");
}

#[test]
fn malformed_files_name_the_field() {
    let missing_kurban = BUNDLED_CALENDAR.replace(
        "[[kurban_ait]]\ndate = \"2018-08-21\"\nsource = \"production calendar 2018; mgorod.kz\"\n",
        "",
    );
    assert_ne!(missing_kurban, BUNDLED_CALENDAR);
    let err = WorkingCalendar::from_toml(&missing_kurban, 2).expect_err("2018 has no Kurban Ait");
    assert!(
        err.to_string().contains("kurban_ait") && err.to_string().contains("2018"),
        "{err}"
    );

    let bad_date = BUNDLED_CALENDAR.replace("dates = [\"03-08\"]", "dates = [\"03-32\"]");
    let err = WorkingCalendar::from_toml(&bad_date, 2).expect_err("no 32 March");
    assert!(err.to_string().contains("womens_day"), "{err}");

    let err = WorkingCalendar::from_toml("name = 1", 2).expect_err("not a calendar");
    assert_eq!(err.code(), "INVALID_CALENDAR");
}

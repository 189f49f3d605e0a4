//! Legal deadlines with real dates, hand-computed, and properties that must hold for all dates.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use domain::calendar::WorkingCalendar;
use domain::deadline::{DurationUnit, Intake, LegalDuration, WorkingClock, WorkingHours};
use domain::BUNDLED_CALENDAR;
use proptest::prelude::*;

use DurationUnit::{CalendarDays, Hours, Minutes, WorkingDays};

fn calendar() -> &'static WorkingCalendar {
    static CALENDAR: std::sync::OnceLock<WorkingCalendar> = std::sync::OnceLock::new();
    CALENDAR.get_or_init(|| WorkingCalendar::from_toml(BUNDLED_CALENDAR, 7).expect("compiles"))
}

const AQTAU: Tz = chrono_tz::Asia::Aqtau;
const ALMATY: Tz = chrono_tz::Asia::Almaty;

fn local(tz: Tz, s: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("a local time literal");
    tz.from_local_datetime(&naive)
        .single()
        .expect("unambiguous")
        .with_timezone(&Utc)
}

fn show(tz: Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M %a").to_string()
}

fn d(value: u32, unit: DurationUnit) -> LegalDuration {
    LegalDuration::new(value, unit).expect("non-zero")
}

/// (what, start in local time, duration, expected due in local time)
const PROVIDER_CASES: &[(&str, &str, u32, DurationUnit, &str)] = &[
    (
        "15 minutes inside the morning",
        "2025-03-20 10:00",
        15,
        Minutes,
        "2025-03-20 10:15 Thu",
    ),
    (
        "30 minutes across lunch",
        "2025-03-20 12:45",
        30,
        Minutes,
        "2025-03-20 14:45 Thu",
    ),
    (
        "15 minutes ending as lunch begins",
        "2025-03-20 12:45",
        15,
        Minutes,
        "2025-03-20 13:00 Thu",
    ),
    (
        "arriving during lunch starts at 14:30",
        "2025-03-20 13:30",
        15,
        Minutes,
        "2025-03-20 14:45 Thu",
    ),
    (
        "30 minutes across closing, then Nauryz and moved days",
        "2025-03-20 18:20",
        30,
        Minutes,
        "2025-03-26 09:20 Wed",
    ),
    (
        "arriving on a Saturday starts at the next opening",
        "2025-03-22 10:00",
        15,
        Minutes,
        "2025-03-26 09:15 Wed",
    ),
    (
        "arriving before opening starts at opening",
        "2025-06-02 07:10",
        15,
        Minutes,
        "2025-06-02 09:15 Mon",
    ),
    (
        "2 hours across closing into a working 31 August 2026",
        "2026-08-31 17:30",
        2,
        Hours,
        "2026-09-01 10:00 Tue",
    ),
    (
        "8 hours are a full working day, not 24 hours",
        "2025-06-02 09:00",
        8,
        Hours,
        "2025-06-02 18:30 Mon",
    ),
    (
        "1 working day, 31 August 2026 is a working day",
        "2026-08-28 11:00",
        1,
        WorkingDays,
        "2026-08-31 18:30 Mon",
    ),
    (
        "1 working day over 30 Aug 2025 moved to 1 Sep",
        "2025-08-29 11:00",
        1,
        WorkingDays,
        "2025-09-02 18:30 Tue",
    ),
    (
        "13 working days over Kurban Ait on a Monday (2024)",
        "2024-06-10 10:00",
        13,
        WorkingDays,
        "2024-06-28 18:30 Fri",
    ),
    (
        "1 working day after closing: received the next working day",
        "2025-03-20 19:00",
        1,
        WorkingDays,
        "2025-03-27 18:30 Thu",
    ),
    (
        "handed over at closing exactly: received that day",
        "2025-06-02 18:30",
        1,
        WorkingDays,
        "2025-06-03 18:30 Tue",
    ),
    (
        "a worked Saturday counts",
        "2023-06-30 10:00",
        1,
        WorkingDays,
        "2023-07-01 18:30 Sat",
    ),
    (
        "3 working days across a worked Saturday",
        "2023-06-30 10:00",
        3,
        WorkingDays,
        "2023-07-04 18:30 Tue",
    ),
    (
        "5 working days over Capital Day and its transfer",
        "2023-07-03 10:00",
        5,
        WorkingDays,
        "2023-07-12 18:30 Wed",
    ),
    (
        "Kurban Ait on a Sunday gives no Monday off",
        "2019-08-09 10:00",
        1,
        WorkingDays,
        "2019-08-12 18:30 Mon",
    ),
    (
        "1 Dec 2022 is a working day after the law change",
        "2022-11-30 10:00",
        1,
        WorkingDays,
        "2022-12-01 18:30 Thu",
    ),
    (
        "1 Dec 2021 was still a holiday",
        "2021-11-30 10:00",
        1,
        WorkingDays,
        "2021-12-02 18:30 Thu",
    ),
    (
        "Saturday 22 Oct 2022 was worked",
        "2022-10-21 10:00",
        1,
        WorkingDays,
        "2022-10-22 18:30 Sat",
    ),
    (
        "Nauryz 2021 with 21 Mar on a Sunday",
        "2021-03-19 10:00",
        1,
        WorkingDays,
        "2021-03-25 18:30 Thu",
    ),
    (
        "2018: two worked Saturdays around the May holidays",
        "2018-04-27 10:00",
        5,
        WorkingDays,
        "2018-05-05 18:30 Sat",
    ),
    (
        "2020: received on a holiday, the moved Victory Day worked is the day of receipt",
        "2020-05-07 10:00",
        1,
        WorkingDays,
        "2020-05-12 18:30 Tue",
    ),
    (
        "2020: the moved Victory Day worked counts",
        "2020-05-06 10:00",
        1,
        WorkingDays,
        "2020-05-11 18:30 Mon",
    ),
    (
        "2016: New Year on a Saturday moved to Monday 4 Jan",
        "2015-12-31 10:00",
        1,
        WorkingDays,
        "2016-01-05 18:30 Tue",
    ),
    (
        "18 calendar days ending on Nauryz move to the next working day",
        "2025-03-03 10:00",
        18,
        CalendarDays,
        "2025-03-26 18:30 Wed",
    ),
    (
        "1 calendar day ending on a Saturday",
        "2025-06-13 10:00",
        1,
        CalendarDays,
        "2025-06-16 18:30 Mon",
    ),
    (
        "calendar days count weekends",
        "2025-06-02 10:00",
        10,
        CalendarDays,
        "2025-06-12 18:30 Thu",
    ),
    (
        "calendar days from a Sunday start on Monday's receipt",
        "2025-06-01 10:00",
        3,
        CalendarDays,
        "2025-06-05 18:30 Thu",
    ),
];

#[test]
fn provider_deadlines_with_real_dates() {
    let cal = calendar();
    let clock = WorkingClock::new(cal, WorkingHours::provider_default(), AQTAU);
    let mut failures = Vec::new();
    for (what, start, value, unit, expected) in PROVIDER_CASES {
        let due = clock
            .deadline(local(AQTAU, start), d(*value, *unit))
            .expect("computes");
        assert_eq!(due.calendar_version, 7);
        let got = show(AQTAU, due.at);
        if got != *expected {
            failures.push(format!(
                "{what}: {start} + {value} {unit:?} = {got}, expected {expected}"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn state_corporation_branches_work_without_lunch_until_18_00() {
    let cal = calendar();
    let clock = WorkingClock::new(cal, WorkingHours::corporation_default(), AQTAU);
    let due = clock
        .deadline(local(AQTAU, "2025-06-02 12:50"), d(15, Minutes))
        .expect("computes");
    assert_eq!(show(AQTAU, due.at), "2025-06-02 13:05 Mon");
    let due = clock
        .deadline(local(AQTAU, "2025-06-02 17:55"), d(15, Minutes))
        .expect("computes");
    assert_eq!(show(AQTAU, due.at), "2025-06-03 09:10 Tue");
    let due = clock
        .deadline(local(AQTAU, "2025-06-02 10:00"), d(1, WorkingDays))
        .expect("computes");
    assert_eq!(show(AQTAU, due.at), "2025-06-03 18:00 Tue");
}

#[test]
fn eastern_regions_moved_to_utc_plus_5_in_march_2024_by_the_zone_data() {
    let cal = calendar();
    let clock = WorkingClock::new(cal, WorkingHours::provider_default(), ALMATY);
    // Thursday 29 Feb 2024, 10:00 in Oskemen was 04:00 UTC (UTC+6)...
    let start = local(ALMATY, "2024-02-29 10:00");
    assert_eq!(start, Utc.with_ymd_and_hms(2024, 2, 29, 4, 0, 0).unwrap());
    // ...and the close of Friday 1 March 2024 was 18:30 at UTC+5, 13:30 UTC.
    let due = clock.deadline(start, d(1, WorkingDays)).expect("computes");
    assert_eq!(due.at, Utc.with_ymd_and_hms(2024, 3, 1, 13, 30, 0).unwrap());
    assert_eq!(show(ALMATY, due.at), "2024-03-01 18:30 Fri");
}

#[test]
fn state_corporation_case_terms_skip_the_day_of_acceptance_and_give_the_provider_a_day_less() {
    let cal = calendar();
    let clock = WorkingClock::new(cal, WorkingHours::provider_default(), AQTAU);
    // Accepted Monday 2 June 2025; Friday 6 June is Kurban Ait.
    let term = clock
        .case_term(
            local(AQTAU, "2025-06-02 11:00"),
            d(5, WorkingDays),
            Intake::StateCorporation,
        )
        .expect("computes");
    assert_eq!(show(AQTAU, term.due.at), "2025-06-10 18:30 Tue");
    let provider = term
        .provider_due
        .expect("a State Corporation case has a provider deadline");
    assert_eq!(show(AQTAU, provider.at), "2025-06-09 18:30 Mon");

    // A minute term at the State Corporation starts at the next working day's opening.
    let term = clock
        .case_term(
            local(AQTAU, "2025-06-02 11:00"),
            d(15, Minutes),
            Intake::StateCorporation,
        )
        .expect("computes");
    assert_eq!(show(AQTAU, term.due.at), "2025-06-03 09:15 Tue");

    // At the provider's office the term simply starts at registration.
    let term = clock
        .case_term(
            local(AQTAU, "2025-06-02 11:00"),
            d(15, Minutes),
            Intake::Provider,
        )
        .expect("computes");
    assert_eq!(show(AQTAU, term.due.at), "2025-06-02 11:15 Mon");
    assert_eq!(term.provider_due, None);
}

#[test]
fn elapsed_working_time_and_share_used() {
    let cal = calendar();
    let clock = WorkingClock::new(cal, WorkingHours::provider_default(), AQTAU);
    // Thursday 10:00 to the next Wednesday 10:00 over Nauryz 2025: Thursday 10:00–13:00 and
    // 14:30–18:30 (420 min), Friday to Tuesday off, Wednesday 09:00–10:00 (60 min).
    let e = clock
        .elapsed(
            local(AQTAU, "2025-03-20 10:00"),
            local(AQTAU, "2025-03-26 10:00"),
        )
        .expect("computes");
    assert_eq!(e.working_minutes, 420 + 60);
    assert!((e.working_days - 1.0).abs() < 1e-9);
    // Lunch is not working time.
    let e = clock
        .elapsed(
            local(AQTAU, "2025-06-02 12:00"),
            local(AQTAU, "2025-06-02 15:00"),
        )
        .expect("computes");
    assert_eq!(e.working_minutes, 60 + 30);
    // A 1-working-day step started Monday 09:00, due Tuesday 18:30 (960 minutes): by Tuesday
    // 09:00, 480 minutes are used.
    let start = local(AQTAU, "2025-06-02 09:00");
    let due = clock
        .deadline(start, d(1, WorkingDays))
        .expect("computes")
        .at;
    let share = clock
        .share_used(start, due, local(AQTAU, "2025-06-03 09:00"))
        .expect("computes");
    assert!((share - 0.5).abs() < 1e-9, "{share}");
    // Wednesday 09:00 is no later in working time than Tuesday 18:30; 10:00 is.
    let at_open = clock
        .share_used(start, due, local(AQTAU, "2025-06-04 09:00"))
        .expect("computes");
    assert!((at_open - 1.0).abs() < 1e-9, "{at_open}");
    let late = clock
        .share_used(start, due, local(AQTAU, "2025-06-04 10:00"))
        .expect("computes");
    assert!(late > 1.0);
}

#[test]
fn dates_outside_the_calendar_are_refused_with_calendar_not_available() {
    let cal = calendar();
    let clock = WorkingClock::new(cal, WorkingHours::provider_default(), AQTAU);
    let err = clock
        .deadline(local(AQTAU, "2014-12-30 10:00"), d(1, WorkingDays))
        .expect_err("2014");
    assert_eq!(err.code(), "CALENDAR_NOT_AVAILABLE");
    let err = clock
        .deadline(local(AQTAU, "2027-12-20 10:00"), d(13, WorkingDays))
        .expect_err("runs into 2028");
    assert_eq!(err.code(), "CALENDAR_NOT_AVAILABLE");
    assert!(LegalDuration::new(0, WorkingDays).is_err());
}

#[test]
fn working_hours_are_checked() {
    let t = |h, m| chrono::NaiveTime::from_hms_opt(h, m, 0).expect("time");
    assert!(WorkingHours::new(t(18, 0), t(9, 0), None).is_err());
    assert!(WorkingHours::new(t(9, 0), t(18, 0), Some((t(12, 0), t(19, 0)))).is_err());
    let h =
        WorkingHours::new(t(8, 30), t(17, 30), Some((t(12, 30), t(13, 30)))).expect("Aktobe 2025");
    assert_eq!(h.minutes_per_day(), 480);
}

fn any_start() -> impl Strategy<Value = DateTime<Utc>> {
    // Any minute from 2015-01-01 to 2026-10-31 (leaving room for terms to end inside 2027).
    let from = Utc
        .with_ymd_and_hms(2015, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp()
        / 60;
    let to = Utc
        .with_ymd_and_hms(2026, 10, 31, 0, 0, 0)
        .unwrap()
        .timestamp()
        / 60;
    (from..to).prop_map(|m| DateTime::from_timestamp(m * 60, 0).expect("in range"))
}

fn any_unit() -> impl Strategy<Value = DurationUnit> {
    prop_oneof![
        Just(Minutes),
        Just(Hours),
        Just(WorkingDays),
        Just(CalendarDays)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn n_then_m_working_days_equals_n_plus_m(start in any_start(), n in 1u32..40, m in 1u32..40) {
        let cal = calendar();
        let clock = WorkingClock::new(cal, WorkingHours::provider_default(), ALMATY);
        let first = clock.deadline(start, d(n, WorkingDays)).unwrap().at;
        let chained = clock.deadline(first, d(m, WorkingDays)).unwrap().at;
        let whole = clock.deadline(start, d(n + m, WorkingDays)).unwrap().at;
        prop_assert_eq!(chained, whole);
    }

    #[test]
    fn n_then_m_working_minutes_equals_n_plus_m(start in any_start(), n in 1u32..3000, m in 1u32..3000) {
        let cal = calendar();
        let clock = WorkingClock::new(cal, WorkingHours::provider_default(), AQTAU);
        let first = clock.deadline(start, d(n, Minutes)).unwrap().at;
        let chained = clock.deadline(first, d(m, Minutes)).unwrap().at;
        let whole = clock.deadline(start, d(n + m, Minutes)).unwrap().at;
        prop_assert_eq!(chained, whole);
    }

    #[test]
    fn deadlines_never_fall_on_a_day_off(start in any_start(), n in 1u32..60, unit in any_unit()) {
        let cal = calendar();
        let clock = WorkingClock::new(cal, WorkingHours::provider_default(), ALMATY);
        let due = clock.deadline(start, d(n, unit)).unwrap().at;
        let day: NaiveDate = due.with_timezone(&ALMATY).date_naive();
        prop_assert!(cal.is_working_day(day).unwrap(), "{} + {} {:?} -> {}", start, n, unit, due);
        prop_assert!(due > start);
    }

    #[test]
    fn a_later_start_never_gives_an_earlier_deadline(
        start in any_start(), later_by in 0i64..20_000, n in 1u32..60, unit in any_unit()
    ) {
        let cal = calendar();
        let clock = WorkingClock::new(cal, WorkingHours::provider_default(), AQTAU);
        let later = start + chrono::Duration::minutes(later_by);
        let a = clock.deadline(start, d(n, unit)).unwrap().at;
        let b = clock.deadline(later, d(n, unit)).unwrap().at;
        prop_assert!(b >= a, "{} -> {}, but later {} -> {}", start, a, later, b);
    }

    #[test]
    fn elapsed_time_up_to_a_minute_deadline_is_the_duration(start in any_start(), n in 1u32..5000) {
        let cal = calendar();
        let clock = WorkingClock::new(cal, WorkingHours::provider_default(), AQTAU);
        let due = clock.deadline(start, d(n, Minutes)).unwrap().at;
        prop_assert_eq!(clock.elapsed(start, due).unwrap().working_minutes, u64::from(n));
    }
}

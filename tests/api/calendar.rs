//! The working calendar and legal deadlines through GraphQL, and calendar versions in storage.

use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app};

async fn working_days(app: &crate::helpers::TestApp, year: i32) -> Value {
    let (_, body) = app
        .graphql(
            "query($y: Int!) { workingCalendar(year: $y) { year workingDays provisional calendarVersion
               nonWorkingWeekdays { date reason holidayKey nameKk nameEn movedFrom act workedInstead }
               workingWeekendDays { date act } } }",
            json!({ "y": year }),
        )
        .await;
    body
}

#[actix_web::test]
async fn working_calendar_gives_the_official_balances() {
    let app = spawn_app().await;
    for (year, days) in [
        (2015, 245),
        (2017, 245),
        (2019, 246),
        (2024, 248),
        (2025, 246),
    ] {
        let body = working_days(&app, year).await;
        assert_eq!(
            body["data"]["workingCalendar"]["workingDays"],
            json!(days),
            "{year}: {body}"
        );
        assert_eq!(body["data"]["workingCalendar"]["provisional"], json!(false));
        assert_eq!(body["data"]["workingCalendar"]["calendarVersion"], json!(1));
    }
    let body = working_days(&app, 2027).await;
    assert_eq!(body["data"]["workingCalendar"]["provisional"], json!(true));
}

#[actix_web::test]
async fn working_calendar_explains_each_day_off() {
    let app = spawn_app().await;
    let body = working_days(&app, 2023).await;
    let year = &body["data"]["workingCalendar"];
    let days = year["nonWorkingWeekdays"].as_array().expect("a list");
    let find = |d: &str| days.iter().find(|x| x["date"] == d).cloned();
    assert_eq!(
        find("2023-03-21"),
        Some(
            json!({ "date": "2023-03-21", "reason": "HOLIDAY", "holidayKey": "nauryz",
            "nameKk": "Наурыз мейрамы", "nameEn": "Nauryz meiramy",
            "movedFrom": null, "act": null, "workedInstead": null })
        )
    );
    assert_eq!(
        find("2023-12-18").map(|d| d["reason"].clone()),
        Some(json!("MOVED_HOLIDAY"))
    );
    assert_eq!(
        find("2023-12-18").map(|d| d["movedFrom"].clone()),
        Some(json!("2023-12-16"))
    );
    assert_eq!(
        find("2023-06-28").map(|d| d["holidayKey"].clone()),
        Some(json!("kurban_ait"))
    );
    assert_eq!(
        find("2023-07-07").map(|d| d["workedInstead"].clone()),
        Some(json!("2023-07-01"))
    );
    assert_eq!(
        year["workingWeekendDays"],
        json!([{ "date": "2023-07-01", "act": "Government Decree of 25 Apr 2023" }])
    );
    assert_eq!(days.len(), 15);

    let body = working_days(&app, 2026).await;
    let days = body["data"]["workingCalendar"]["nonWorkingWeekdays"]
        .as_array()
        .expect("a list");
    assert!(
        days.iter().all(|d| d["date"] != "2026-08-31"),
        "31 Aug 2026 is a working day"
    );
}

#[actix_web::test]
async fn a_year_outside_the_data_is_calendar_not_available() {
    let app = spawn_app().await;
    let body = working_days(&app, 2030).await;
    assert_eq!(error_code(&body), "CALENDAR_NOT_AVAILABLE");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap_or("")
        .contains("2030"));
}

const DEADLINE: &str = "query($s: DateTime!, $v: Int!, $u: DurationUnit!, $r: String!) {
    legalDeadline(start: $s, value: $v, unit: $u, region: $r) {
      due timeZone calendarVersion provisional workingHours { open close lunchStart lunchEnd minutesPerDay } } }";

#[actix_web::test]
async fn legal_deadline_is_computed_in_the_regions_time_and_hours() {
    let app = spawn_app().await;
    let cases = [
        (
            "2024-06-10T10:00:00+05:00",
            13,
            "WORKING_DAYS",
            "atyrau",
            "2024-06-28T18:30:00+05:00",
        ),
        (
            "2025-03-20T12:45:00+05:00",
            30,
            "MINUTES",
            "mangystau",
            "2025-03-20T14:45:00+05:00",
        ),
        (
            "2025-03-03T10:00:00+05:00",
            18,
            "CALENDAR_DAYS",
            "west-kazakhstan",
            "2025-03-26T18:30:00+05:00",
        ),
        // Oskemen was UTC+6 until 1 March 2024 and UTC+5 after.
        (
            "2024-02-29T10:00:00+06:00",
            1,
            "WORKING_DAYS",
            "east-kazakhstan",
            "2024-03-01T18:30:00+05:00",
        ),
        // The start may be given in any offset: 05:00Z is 10:00 in Aqtau.
        (
            "2025-03-20T05:00:00Z",
            15,
            "MINUTES",
            "mangystau",
            "2025-03-20T10:15:00+05:00",
        ),
    ];
    for (start, value, unit, region, due) in cases {
        let (_, body) = app
            .graphql(
                DEADLINE,
                json!({ "s": start, "v": value, "u": unit, "r": region }),
            )
            .await;
        assert_eq!(
            body["data"]["legalDeadline"]["due"],
            json!(due),
            "{start} + {value} {unit}: {body}"
        );
        assert_eq!(body["data"]["legalDeadline"]["calendarVersion"], json!(1));
    }
    let (_, body) = app
        .graphql(
            DEADLINE,
            json!({ "s": "2025-03-20T10:00:00+05:00", "v": 1, "u": "HOURS", "r": "mangystau" }),
        )
        .await;
    assert_eq!(
        body["data"]["legalDeadline"]["workingHours"],
        json!({ "open": "09:00", "close": "18:30", "lunchStart": "13:00", "lunchEnd": "14:30", "minutesPerDay": 480 })
    );
    assert_eq!(
        body["data"]["legalDeadline"]["timeZone"],
        json!("Asia/Aqtau")
    );
}

#[actix_web::test]
async fn bad_deadline_arguments_are_typed_errors() {
    let app = spawn_app().await;
    let ask = |v: i32, u: &str, r: &str, s: &str| json!({ "s": s, "v": v, "u": u, "r": r });
    let (_, body) = app
        .graphql(
            DEADLINE,
            ask(0, "MINUTES", "mangystau", "2025-03-20T10:00:00+05:00"),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let (_, body) = app
        .graphql(
            DEADLINE,
            ask(1, "MINUTES", "atlantis", "2025-03-20T10:00:00+05:00"),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let (_, body) = app
        .graphql(
            DEADLINE,
            ask(1, "WEEKS", "mangystau", "2025-03-20T10:00:00+05:00"),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let (_, body) = app
        .graphql(DEADLINE, ask(1, "MINUTES", "mangystau", "yesterday"))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let (_, body) = app
        .graphql(
            DEADLINE,
            ask(3, "WORKING_DAYS", "mangystau", "2027-12-29T10:00:00+05:00"),
        )
        .await;
    assert_eq!(error_code(&body), "CALENDAR_NOT_AVAILABLE");
}

#[actix_web::test]
async fn a_corrected_calendar_becomes_a_new_version_and_the_old_one_is_kept() {
    let app = spawn_app().await;
    // A hypothetical 2026 transfer: Saturday 3 Jan worked, Monday 5 Jan off; same day count.
    let corrected = domain::BUNDLED_CALENDAR.replace(
        "# Working-day balances",
        "[[transfer]]\nwork = \"2026-01-03\"\nrest = \"2026-01-05\"\nact = \"Order of the Minister of Labour (test)\"\n\n# Working-day balances",
    );
    let imported = api::store::calendar::import(&app.db, &corrected, "test")
        .await
        .expect("imports");
    assert_eq!((imported.version, imported.created), (2, true));
    let again = api::store::calendar::import(&app.db, &corrected, "test")
        .await
        .expect("idempotent");
    assert_eq!((again.version, again.created), (2, false));

    let v1 = api::store::calendar::version(&app.db, 1)
        .await
        .expect("reads")
        .expect("kept");
    let v2 = api::store::calendar::latest(&app.db)
        .await
        .expect("reads")
        .expect("stored");
    assert_eq!(v2.version(), 2);
    let jan5 = chrono::NaiveDate::from_ymd_opt(2026, 1, 5).expect("date");
    assert_eq!(v1.is_working_day(jan5), Ok(true));
    assert_eq!(v2.is_working_day(jan5), Ok(false));

    let (_, body) = app
        .graphql("{ calendarVersions { version inForce source } }", json!({}))
        .await;
    let versions = body["data"]["calendarVersions"].as_array().expect("a list");
    assert_eq!(versions.len(), 2, "{body}");
}

#[actix_web::test]
async fn a_broken_calendar_import_writes_nothing() {
    let app = spawn_app().await;
    let broken = domain::BUNDLED_CALENDAR.replace("working_days = 248", "working_days = 249");
    let err = api::store::calendar::import(&app.db, &broken, "test")
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "INVALID_CALENDAR");
    let versions = api::store::calendar::versions(&app.db)
        .await
        .expect("reads");
    assert_eq!(versions.len(), 1);
}

//! Reports against hand-computed figures. The histories (East Kazakhstan camp vouchers, legal
//! term 5 working days; one Atyrau case) and the arithmetic are in the comments.

use domain::identity::Role;
use serde_json::{json, Value};

use crate::cases::{advance, application, call, open, People};
use crate::helpers::{error_code, spawn_app_with, TestApp};

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("rfc3339")
        .with_timezone(&chrono::Utc)
}

const EK: &str = "oskemen-akimat";
const BRANCH: &str = "gov4c-east-kazakhstan";
const CAMP: &str = "east-kazakhstan-camp-vouchers";

async fn register(people: &mut People<'_>, when: &str, extra: Value) -> Value {
    people.app.clock.set(at(when));
    let clerk = people.staff(EK, Role::OfficeClerk).await;
    let body = open(
        people.app,
        &clerk,
        "registerApplication",
        application(CAMP, None, "850305400120", extra),
    )
    .await;
    body["data"]["r"].clone()
}

async fn finish(
    people: &mut People<'_>,
    mut case: Value,
    when: &str,
    refuse: bool,
    until: &[&str],
) -> Value {
    people.app.clock.set(at(when));
    while !until.contains(&case["status"].as_str().unwrap_or_default()) {
        case = advance(people, &case, EK, Some(BRANCH), refuse).await;
    }
    case
}

/// Builds the histories and leaves the clock at 2025-08-20 10:00 (+05).
async fn histories(app: &TestApp) -> People<'_> {
    let mut people = People::new(app);
    let done = ["COMPLETED", "REFUSED"];
    // A: Mon 2 Jun 10:00, term Tue 10 Jun 18:30; delivered Tue 3 Jun 10:00: on time, 480 min = 1.0 WD.
    let a = register(&mut people, "2025-06-02T10:00:00+05:00", json!({})).await;
    assert_eq!(a["termDueAt"], "2025-06-10T13:30:00+00:00", "{a}");
    finish(&mut people, a, "2025-06-03T10:00:00+05:00", false, &done).await;
    // B: Mon 2 Jun 11:00, delivered Thu 12 Jun 10:00: late; 360 + 3×480 + 3×480 + 60 = 3300 min = 6.875 WD.
    let b = register(&mut people, "2025-06-02T11:00:00+05:00", json!({})).await;
    let b = finish(&mut people, b, "2025-06-12T10:00:00+05:00", false, &done).await;
    assert_eq!(b["status"], "COMPLETED");
    // C: refused at intake — at the camp office only an incomplete package AND expired
    // documents together are grounds (act 002, appendix 3, para 5 action 1).
    let c = register(
        &mut people,
        "2025-06-02T12:00:00+05:00",
        json!({ "documents": [{ "name": "photo", "provided": false }, { "name": "identity document", "expired": true }] }),
    )
    .await;
    assert_eq!(c["status"], "REFUSED_AT_INTAKE");
    // D: Mon 2 Jun 12:30, reasoned refusal delivered Wed 4 Jun 10:00: 30 + 240 + 480 + 60 = 810 min = 1.6875 WD.
    let d = register(&mut people, "2025-06-02T12:30:00+05:00", json!({})).await;
    let d = finish(&mut people, d, "2025-06-04T10:00:00+05:00", true, &done).await;
    assert_eq!(d["status"], "REFUSED");
    // E: Mon 7 Jul (Capital Day moved: a day off) 10:00 → received Tue 8 Jul; term Tue 15 Jul 18:30; left open.
    let e = register(&mut people, "2025-07-07T10:00:00+05:00", json!({})).await;
    assert_eq!(e["termDueAt"], "2025-07-15T13:30:00+00:00", "{e}");
    // F: at the State Corporation Tue 8 Jul 10:00; at the counter Wed 9 Jul 10:00 (on time, 1.0 WD);
    // not collected, returned to the provider on 20 Aug.
    app.clock.set(at("2025-07-08T10:00:00+05:00"));
    let operator = people.staff(BRANCH, Role::CorporationOperator).await;
    let f = open(
        app,
        &operator,
        "acceptAtCorporation",
        application(CAMP, Some(EK), "850305400120", json!({})),
    )
    .await["data"]["r"]
        .clone();
    // The day of acceptance is not counted, and the term ends when the branch closes (18:00),
    // where the voucher is collected; the provider delivers by the branch's close a day before.
    assert_eq!(
        f["termDueAt"], "2025-07-15T13:00:00+00:00",
        "day of acceptance not counted: {f}"
    );
    assert_eq!(f["providerDueAt"], "2025-07-14T13:00:00+00:00");
    let f = finish(
        &mut people,
        f,
        "2025-07-09T10:00:00+05:00",
        false,
        &["RESULT_READY"],
    )
    .await;
    app.clock.set(at("2025-08-20T10:00:00+05:00"));
    let back = call(
        app,
        &operator,
        "returnUncollected(caseId: $c, version: $v)",
        "",
        json!({ "c": f["id"], "v": f["version"] }),
    )
    .await;
    assert_eq!(back["data"]["r"]["status"], "RETURNED_UNCLAIMED", "{back}");
    // G (Atyrau): Mon 2 Jun 10:00, delivered the same day 16:00: 180 + 90 = 270 min = 0.5625 WD.
    app.clock.set(at("2025-06-02T10:00:00+05:00"));
    let clerk = people
        .staff("atyrau-city-education-division", Role::OfficeClerk)
        .await;
    let mut g = open(
        app,
        &clerk,
        "registerApplication",
        application(
            "atyrau-teacher-attestation-intake",
            None,
            "901122600340",
            json!({}),
        ),
    )
    .await["data"]["r"]
        .clone();
    app.clock.set(at("2025-06-02T16:00:00+05:00"));
    while g["status"] != "COMPLETED" {
        g = advance(
            &mut people,
            &g,
            "atyrau-city-education-division",
            None,
            false,
        )
        .await;
    }
    app.clock.set(at("2025-08-20T10:00:00+05:00"));
    people
}

const REPORT: &str = "query($f: ReportFilter, $g: [ReportGroup!]!) { report(filter: $f, groupBy: $g) {
    region service provider channel month received inProgress completed completedOnTime completedLate
    refusedAtIntake refusedWithReasons returnedUnclaimed awaitingCollection overdueNow onTimeRate medianWorkingDays p90WorkingDays } }";

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|x| (x - b).abs() < 1e-9)
}

#[actix_web::test]
async fn the_sla_report_matches_hand_computed_figures() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = histories(&app).await;
    let national = people.user("national", Role::Analyst, None, None).await;
    let (_, body) = app
        .graphql_as(&national, REPORT, json!({ "g": ["REGION"] }))
        .await;
    let rows = body["data"]["report"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(rows.len(), 2, "{body}");
    let atyrau = &rows[0];
    let ek = &rows[1];
    assert_eq!(atyrau["region"], "atyrau");
    assert_eq!(
        (
            atyrau["received"].clone(),
            atyrau["completed"].clone(),
            atyrau["completedOnTime"].clone()
        ),
        (json!(1), json!(1), json!(1))
    );
    assert!(
        // 0.5625 WD, counted in tenths (half up): 0.6.
        close(&atyrau["onTimeRate"], 1.0) && close(&atyrau["medianWorkingDays"], 0.6),
        "{atyrau}"
    );
    assert_eq!(ek["region"], "east-kazakhstan");
    let expect = [
        ("received", 6),
        ("inProgress", 1),
        ("completed", 3),
        ("completedOnTime", 2),
        ("completedLate", 1),
        ("refusedAtIntake", 1),
        ("refusedWithReasons", 1),
        ("returnedUnclaimed", 1),
        // F, stored at the provider: ready, not collected, and not staff time.
        ("awaitingCollection", 1),
        ("overdueNow", 1),
    ];
    for (k, v) in expect {
        assert_eq!(ek[k], json!(v), "{k}: {ek}");
    }
    assert!(close(&ek["onTimeRate"], 2.0 / 3.0), "{ek}");
    // Delivered: A 1.0, F 1.0, D 1.6875, B 6.875 WD; in tenths (half up) 1.0, 1.0, 1.7, 6.9 →
    // median (1.0 + 1.7) / 2 = 1.35, p90 at position 0.9 × 3 = 2.7: 1.7 + 0.7 × 5.2 = 5.34.
    assert!(close(&ek["medianWorkingDays"], 1.35), "{ek}");
    assert!(close(&ek["p90WorkingDays"], 5.34), "{ek}");

    let (_, by_month) = app
        .graphql_as(
            &national,
            REPORT,
            json!({ "f": { "regions": ["east-kazakhstan"] }, "g": ["MONTH", "CHANNEL"] }),
        )
        .await;
    let keyed: Vec<(Value, Value, Value)> = by_month["data"]["report"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["month"].clone(),
                r["channel"].clone(),
                r["received"].clone(),
            )
        })
        .collect();
    assert_eq!(
        keyed,
        [
            (json!("2025-06"), json!("PROVIDER_OFFICE"), json!(4)),
            (json!("2025-07"), json!("PROVIDER_OFFICE"), json!(1)),
            (json!("2025-07"), json!("STATE_CORPORATION"), json!(1)),
        ]
    );
    let (_, july) = app
        .graphql_as(&national, REPORT, json!({ "f": { "from": "2025-07-01T00:00:00+05:00", "to": "2025-08-01T00:00:00+05:00", "providers": [EK] }, "g": ["PROVIDER"] }))
        .await;
    assert_eq!(july["data"]["report"][0]["provider"], EK);
    assert_eq!(july["data"]["report"][0]["received"], 2);

    // A period that starts and ends inside months: 2 Jun 11:30 to 5 Aug. July comes from the
    // rollup, 2–30 June and 1–5 August from the cases themselves. In it: C (refused at intake),
    // D (reasoned refusal, 1.6875 → 1.7 WD), E (open, term 15 Jul: overdue on 20 Aug), F (on time,
    // 1.0 WD, returned unclaimed). Durations 1.0, 1.7 → median 1.35, p90 1.0 + 0.9 × 0.7 = 1.63.
    let (_, mixed) = app
        .graphql_as(&national, REPORT, json!({ "f": { "from": "2025-06-02T11:30:00+05:00", "to": "2025-08-05T00:00:00+05:00", "regions": ["east-kazakhstan"] }, "g": [] }))
        .await;
    let row = &mixed["data"]["report"][0];
    let expect = [
        ("received", 4),
        ("inProgress", 1),
        ("completed", 1),
        ("completedOnTime", 1),
        ("completedLate", 0),
        ("refusedAtIntake", 1),
        ("refusedWithReasons", 1),
        ("returnedUnclaimed", 1),
        // F, stored at the provider: ready, not collected, and not staff time.
        ("awaitingCollection", 1),
        ("overdueNow", 1),
    ];
    for (k, v) in expect {
        assert_eq!(row[k], json!(v), "{k}: {mixed}");
    }
    assert!(close(&row["medianWorkingDays"], 1.35), "{row}");
    assert!(close(&row["p90WorkingDays"], 1.63), "{row}");
    // The same period inside one month only, read entirely from the cases: C and D.
    let (_, june) = app
        .graphql_as(&national, REPORT, json!({ "f": { "from": "2025-06-02T11:30:00+05:00", "to": "2025-06-30T00:00:00+05:00", "regions": ["east-kazakhstan"] }, "g": [] }))
        .await;
    assert_eq!(june["data"]["report"][0]["received"], 2, "{june}");
    assert!(
        close(&june["data"]["report"][0]["medianWorkingDays"], 1.7),
        "{june}"
    );

    // Overdue now, as the clock passes E's term (Tue 15 Jul 18:30 +05): not yet at 18:00, from the
    // open cases due today at 18:31, from the rollup's passed term day on the 16th.
    for (now, overdue) in [
        ("2025-07-15T18:00:00+05:00", 0),
        ("2025-07-15T18:31:00+05:00", 1),
        ("2025-07-16T09:00:00+05:00", 1),
    ] {
        app.clock.set(at(now));
        let (_, body) = app
            .graphql_as(
                &national,
                REPORT,
                json!({ "f": { "regions": ["east-kazakhstan"] }, "g": [] }),
            )
            .await;
        assert_eq!(
            body["data"]["report"][0]["overdueNow"], overdue,
            "{now}: {body}"
        );
    }
}

/// The rollups kept up to date move by move hold exactly what recomputing them from the cases
/// and steps gives.
#[actix_web::test]
async fn the_rollup_maintained_with_each_move_equals_a_rebuild() {
    use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    histories(&app).await;
    const REPORT_ROLLUP: &str = "SELECT month, region_code, service_code, provider_id, channel, \
        tenths, due_day, received, in_progress, completed, completed_on_time, completed_late, \
        refused_at_intake, refused_with_reasons, returned_unclaimed, awaiting_collection \
        FROM report_rollup \
        WHERE received <> 0 OR in_progress <> 0 OR completed <> 0 OR completed_on_time <> 0 \
        OR completed_late <> 0 OR refused_at_intake <> 0 OR refused_with_reasons <> 0 \
        OR returned_unclaimed <> 0 OR awaiting_collection <> 0 ORDER BY 1, 2, 3, 4, 5, 6, 7";
    const STEP_ROLLUP: &str = "SELECT month, region_code, service_code, provider_id, channel, \
        mailbox, stage, share_bucket, steps, late FROM step_rollup ORDER BY 1, 2, 3, 4, 5, 6, 7, 8";
    let snapshot = |sql: &'static str, columns: usize| {
        let db = app.db.clone();
        async move {
            let rows = db
                .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .expect("rollup rows");
            rows.iter()
                .map(|r| {
                    (0..columns)
                        .map(|i| {
                            r.try_get_by_index::<String>(i)
                                .or_else(|_| r.try_get_by_index::<i64>(i).map(|n| n.to_string()))
                                .or_else(|_| r.try_get_by_index::<i32>(i).map(|n| n.to_string()))
                                .expect("text or number")
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect::<Vec<_>>()
        }
    };
    let maintained_steps = snapshot(STEP_ROLLUP, 10).await;
    // The head's resolution alone gives four buckets (A 9600, B 66000, D 16200, F 0 hundredths).
    assert!(
        maintained_steps
            .iter()
            .filter(|r| r.contains(" RESOLUTION "))
            .count()
            >= 4,
        "{maintained_steps:#?}"
    );
    let maintained = snapshot(REPORT_ROLLUP, 16).await;
    // One row per case here: June at the EK office A (10 tenths), B (69), C (−1, refused at
    // intake), D (17); July E (−1, office, due 2025-07-15) and F (10, State Corporation);
    // Atyrau G (6).
    assert_eq!(maintained.len(), 7, "{maintained:#?}");
    let txn = app.db.begin().await.expect("begin");
    api::store::rollup::rebuild(&txn).await.expect("rebuild");
    txn.commit().await.expect("commit");
    assert_eq!(maintained, snapshot(REPORT_ROLLUP, 16).await);
    assert_eq!(maintained_steps, snapshot(STEP_ROLLUP, 10).await);

    // Rollups computed under other counting rules (here: a database from before the
    // awaiting-collection count, with no rules version) are recomputed once, at start.
    assert!(!api::store::rollup::ensure_current(&app.db)
        .await
        .expect("current"));
    for sql in [
        "DELETE FROM rollup_rules",
        "UPDATE report_rollup SET awaiting_collection = 0",
    ] {
        app.db.execute_unprepared(sql).await.expect("older rollups");
    }
    assert_ne!(maintained, snapshot(REPORT_ROLLUP, 16).await);
    assert!(api::store::rollup::ensure_current(&app.db)
        .await
        .expect("recomputed"));
    assert_eq!(maintained, snapshot(REPORT_ROLLUP, 16).await);
    assert!(!api::store::rollup::ensure_current(&app.db)
        .await
        .expect("current"));
}

#[actix_web::test]
async fn step_compliance_shows_where_the_time_went() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = histories(&app).await;
    let analyst = people
        .user("ek-analyst", Role::Analyst, None, Some("east-kazakhstan"))
        .await;
    let (_, body) = app
        .graphql_as(
            &analyst,
            "{ stepCompliance { mailbox stage steps late medianShareUsed p90ShareUsed } }",
            json!({}),
        )
        .await;
    let rows = body["data"]["stepCompliance"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    let resolution = rows
        .iter()
        .find(|r| r["stage"] == "RESOLUTION")
        .expect("resolution row");
    // The head's 5 minutes: A used 480 min (×96), B 3300 (×660), D 810 (×162), F 0.
    assert_eq!(
        (
            resolution["mailbox"].clone(),
            resolution["steps"].clone(),
            resolution["late"].clone()
        ),
        (json!("HEAD"), json!(4), json!(3))
    );
    assert!(close(&resolution["medianShareUsed"], 129.0), "{resolution}");
    assert!(close(&resolution["p90ShareUsed"], 510.6), "{resolution}");
    let prepare = rows
        .iter()
        .find(|r| r["stage"] == "PREPARE")
        .expect("prepare row");
    // B's executor step opened on 12 June, after B's legal result date (10 June): no step is
    // due after that date, so it had no time left to share — not in these figures (which
    // measure the share of an allowance), though late in the overdue lists and the SLA report.
    assert_eq!(
        (prepare["steps"].clone(), prepare["late"].clone()),
        (json!(3), json!(0))
    );

    // The same cases through a period that starts and ends inside months (2 Jun 00:00 to 5 Aug:
    // June and August read from the steps, July from the rollup) give the same rows; a period
    // from 2 Jun 11:30 leaves out A and B (registered at 10:00 and 11:00).
    let q = "query($f: ReportFilter) { stepCompliance(filter: $f) { mailbox stage steps late medianShareUsed p90ShareUsed } }";
    let (_, mixed) = app
        .graphql_as(&analyst, q, json!({ "f": { "from": "2025-06-02T00:00:00+05:00", "to": "2025-08-05T00:00:00+05:00" } }))
        .await;
    assert_eq!(
        mixed["data"]["stepCompliance"],
        body["data"]["stepCompliance"]
    );
    let (_, later) = app
        .graphql_as(&analyst, q, json!({ "f": { "from": "2025-06-02T11:30:00+05:00", "to": "2025-08-05T00:00:00+05:00" } }))
        .await;
    let resolution = later["data"]["stepCompliance"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["stage"] == "RESOLUTION"))
        .unwrap_or_else(|| panic!("{later}"));
    // D (×162) and F (×0): median 81, p90 0 + 0.9 × 162 = 145.8; D was late.
    assert_eq!(
        (resolution["steps"].clone(), resolution["late"].clone()),
        (json!(2), json!(1))
    );
    assert!(close(&resolution["medianShareUsed"], 81.0), "{resolution}");
    assert!(close(&resolution["p90ShareUsed"], 145.8), "{resolution}");
}

#[actix_web::test]
async fn overdue_and_at_risk_lists() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = histories(&app).await;
    let analyst = people
        .user("ek-analyst", Role::Analyst, None, Some("east-kazakhstan"))
        .await;
    let (_, overdue) = app
        .graphql_as(
            &analyst,
            "{ overdueCases { nodes { termDueAt status } hasNextPage } }",
            json!({}),
        )
        .await;
    assert_eq!(
        overdue["data"]["overdueCases"]["nodes"],
        json!([{ "termDueAt": "2025-07-15T13:30:00+00:00", "status": "IN_PROGRESS" }]),
        "{overdue}"
    );
    let (_, risky) = app
        .graphql_as(
            &analyst,
            "{ atRiskCases(threshold: 0.8) { nodes { stage mailbox shareUsed } } }",
            json!({}),
        )
        .await;
    let nodes = risky["data"]["atRiskCases"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{risky}"));
    assert_eq!(nodes.len(), 1, "E's resolution is long overdue: {risky}");
    assert_eq!(nodes[0]["stage"], "RESOLUTION");
    assert!(nodes[0]["shareUsed"].as_f64().is_some_and(|s| s > 1.0));
}

#[actix_web::test]
async fn analysts_see_only_their_region_and_nobody_else_sees_reports() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = histories(&app).await;
    let atyrau = people
        .user("atyrau-analyst", Role::Analyst, None, Some("atyrau"))
        .await;
    let (_, own) = app
        .graphql_as(&atyrau, REPORT, json!({ "g": ["REGION"] }))
        .await;
    let regions: Vec<Value> = own["data"]["report"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["region"].clone())
        .collect();
    assert_eq!(regions, [json!("atyrau")]);
    let (_, other) = app
        .graphql_as(
            &atyrau,
            REPORT,
            json!({ "f": { "regions": ["east-kazakhstan"] }, "g": ["REGION"] }),
        )
        .await;
    assert_eq!(
        other["data"]["report"],
        json!([]),
        "nothing of another region"
    );
    let (_, steps) = app
        .graphql_as(&atyrau, "{ overdueCases { nodes { number } } }", json!({}))
        .await;
    assert_eq!(steps["data"]["overdueCases"]["nodes"], json!([]));

    let clerk = people.staff(EK, Role::OfficeClerk).await;
    let (_, denied) = app.graphql_as(&clerk, REPORT, json!({ "g": [] })).await;
    assert_eq!(error_code(&denied), "FORBIDDEN");
    let (_, anonymous) = app.graphql(REPORT, json!({ "g": [] })).await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
    let (_, bad_group) = app
        .graphql_as(&atyrau, REPORT, json!({ "g": ["WEEKDAY"] }))
        .await;
    assert_eq!(error_code(&bad_group), "BAD_USER_INPUT");
    let (_, bad_filter) = app
        .graphql_as(
            &atyrau,
            REPORT,
            json!({ "f": { "services": ["no-such-service"] }, "g": [] }),
        )
        .await;
    assert_eq!(error_code(&bad_filter), "BAD_USER_INPUT");
}

#[actix_web::test]
async fn the_csv_download_carries_the_same_figures_with_kazakh_names() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = histories(&app).await;
    let national = people.user("national", Role::Analyst, None, None).await;
    let mut resp = app
        .client
        .get(format!(
            "{}/reports/cases.csv?groupBy=REGION,SERVICE&regions=east-kazakhstan",
            app.address
        ))
        .insert_header(("authorization", format!("Bearer {national}")))
        .send()
        .await
        .expect("answers");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv")));
    let bytes = resp.body().await.expect("body");
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 byte-order mark");
    let text = String::from_utf8(bytes[3..].to_vec()).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with(
            "region,region_name_kk,service,service_name_kk,provider,channel,month,received,"
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("east-kazakhstan,Шығыс Қазақстан облысы,camp-vouchers,Мемлекеттік білім беру мекемелеріндегі"),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains(",,,6,1,3,2,1,1,1,1,1,0.6666666666666666,1.35,5.34"),
        "{}",
        lines[1]
    );

    let mut steps = app
        .client
        .get(format!("{}/reports/steps.csv", app.address))
        .insert_header(("authorization", format!("Bearer {national}")))
        .send()
        .await
        .expect("answers");
    assert_eq!(steps.status().as_u16(), 200);
    let body = steps.body().await.expect("body");
    assert!(String::from_utf8_lossy(&body).contains("HEAD,RESOLUTION"));

    let unauth = app
        .client
        .get(format!("{}/reports/cases.csv", app.address))
        .send()
        .await
        .expect("answers");
    assert_eq!(unauth.status().as_u16(), 401);
    let bad = app
        .client
        .get(format!("{}/reports/cases.csv?groupBy=WEEKDAY", app.address))
        .insert_header(("authorization", format!("Bearer {national}")))
        .send()
        .await
        .expect("answers");
    assert_eq!(bad.status().as_u16(), 400);
}

/// A signed link downloads the CSV with no `Authorization` header (a plain `<a href>`): the
/// same bytes as the authorised request, for exactly those parameters, while the account is an
/// analyst; a changed parameter, another report, a made-up token, or a deactivated account is
/// `401`/`403` and gives no data.
#[actix_web::test]
async fn a_signed_link_downloads_the_csv_without_a_header_for_its_parameters_only() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = histories(&app).await;
    let national = people.user("national", Role::Analyst, None, None).await;
    let (_, body) = app
        .graphql_as(
            &national,
            "query($f: ReportFilter) { reportDownload(report: CASES, filter: $f, groupBy: [REGION, CHANNEL]) { url expiresAt } }",
            json!({ "f": { "regions": ["east-kazakhstan"], "channels": ["PORTAL", "PROVIDER_OFFICE"] } }),
        )
        .await;
    let url = body["data"]["reportDownload"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    assert!(url.starts_with("/reports/cases.csv?"), "{url}");
    let fetch = |path: String, bearer: Option<String>| {
        let app = &app;
        async move {
            let mut req = app.client.get(format!("{}{}", app.address, path));
            if let Some(t) = bearer {
                req = req.insert_header(("authorization", format!("Bearer {t}")));
            }
            let mut resp = req.send().await.expect("answers");
            let body = resp.body().limit(1 << 20).await.expect("body");
            (resp.status().as_u16(), body.to_vec())
        }
    };
    let (status, linked) = fetch(url.clone(), None).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&linked));
    let plain = url.split("&token=").next().unwrap_or_default().to_owned();
    let (status, authorised) = fetch(plain.clone(), Some(national.clone())).await;
    assert_eq!(status, 200);
    assert_eq!(linked, authorised, "the link gives what the header gives");
    assert!(String::from_utf8_lossy(&linked).contains("east-kazakhstan"));

    let token = url
        .rsplit_once("token=")
        .map(|(_, t)| t.to_owned())
        .unwrap_or_default();
    let widened = url.replace(
        "regions=east-kazakhstan",
        "regions=east-kazakhstan%2Catyrau",
    );
    assert_ne!(widened, url);
    assert_eq!(fetch(widened, None).await.0, 401, "a changed parameter");
    let other = format!(
        "/reports/steps.csv?{}",
        url.split_once('?').map(|(_, q)| q).unwrap_or_default()
    );
    assert_eq!(fetch(other, None).await.0, 401, "another report");
    assert_eq!(
        fetch(format!("{plain}&token=x{token}"), None).await.0,
        401,
        "a made-up token"
    );
    // The access token itself is not a link.
    assert_eq!(
        fetch(format!("{plain}&token={national}"), None).await.0,
        401
    );

    // Analysts only; and the account is checked when the link is opened.
    let clerk = people.staff("aktau-school-1", Role::OfficeClerk).await;
    let (_, refused) = app
        .graphql_as(
            &clerk,
            "{ reportDownload(report: STEPS, groupBy: []) { url } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
    api::store::accounts::deactivate(&app.db, "national")
        .await
        .expect("deactivated");
    assert_eq!(
        fetch(url, None).await.0,
        401,
        "a deactivated account's link"
    );
}

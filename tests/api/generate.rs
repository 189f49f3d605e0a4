//! The generator writes consistent, verifiable cases that reports read.

use domain::identity::Role;
use serde_json::json;

use crate::cases::People;
use crate::helpers::spawn_app_with;

#[actix_web::test]
async fn generated_cases_are_consistent_and_reported() {
    let app = spawn_app_with(|s| {
        s.fixed_clock = Some(
            chrono::DateTime::parse_from_rfc3339("2026-03-01T10:00:00+05:00")
                .expect("time")
                .into(),
        )
    })
    .await;
    let state = {
        let keys = api::auth::token::TokenKeys::new(
            crate::helpers::TEST_JWT_SECRET.as_bytes(),
            std::time::Duration::from_secs(900),
            std::time::Duration::from_secs(3600),
        );
        api::startup::prepare_state(app.db.clone(), keys, app.clock.clone())
            .await
            .expect("state")
    };
    let done = api::generate::generate(&state, 300, 2025, 7)
        .await
        .expect("generates");
    assert_eq!(done.cases, 300);
    assert!(done.steps > 600, "{done:?}");
    every_generated_case_reads_as_the_engine_wrote_it(&app.db).await;

    let mut people = People::new(&app);
    let national = people.user("national", Role::Analyst, None, None).await;
    let (_, body) = app
        .graphql_as(&national, "{ report(groupBy: []) { received inProgress completed refusedAtIntake refusedWithReasons completedOnTime completedLate } }", json!({}))
        .await;
    let r = &body["data"]["report"][0];
    let n = |k: &str| r[k].as_i64().unwrap_or(-1);
    assert_eq!(n("received"), 300, "{body}");
    // Every case is counted once: in progress, a result, a reasoned refusal or refused at intake.
    assert_eq!(
        n("inProgress") + n("completed") + n("refusedWithReasons") + n("refusedAtIntake"),
        300,
        "{body}"
    );
    assert_eq!(n("completedOnTime") + n("completedLate"), n("completed"));
    assert!(
        n("refusedAtIntake") > 0 && n("refusedWithReasons") > 0 && n("inProgress") > 0,
        "{body}"
    );

    // A generated case reads like any other, with a valid event chain.
    let clerk = people.staff("aktau-school-1", Role::OfficeClerk).await;
    let (_, inbox) = app
        .graphql_as(
            &clerk,
            "{ inbox(mailbox: OFFICE, first: 1) { totalCount } }",
            json!({}),
        )
        .await;
    assert!(inbox["errors"].is_null(), "{inbox}");
    let (_, one) = app
        .graphql_as(
            &national,
            "query { overdueCases(first: 1) { nodes { chainValid timeline { seq } } } }",
            json!({}),
        )
        .await;
    if let Some(c) = one["data"]["overdueCases"]["nodes"].get(0) {
        assert_eq!(c["chainValid"], true, "{one}");
    }
}

/// The generator makes histories with the engine, so every row must read back as a case the
/// engine could have written: typed documents that parse, a receipt carrying the case number,
/// one open step exactly while the case is open, the result issued when it is completed, a
/// verified event chain whose length is the case's version.
async fn every_generated_case_reads_as_the_engine_wrote_it(db: &sea_orm::DatabaseConnection) {
    use domain::case::CaseStatus;
    use entity::{case_event, case_step, service_case};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

    let cases = service_case::Entity::find().all(db).await.expect("cases");
    assert_eq!(cases.len(), 300);
    let mut with_receipt = 0;
    for c in &cases {
        let r = api::store::cases::record(c).expect("a generated case reads as a case record");
        let steps = case_step::Entity::find()
            .filter(case_step::Column::CaseId.eq(c.id))
            .all(db)
            .await
            .expect("steps");
        let open = steps.iter().filter(|s| s.finished_at.is_none()).count();
        assert_eq!(open, usize::from(r.place.is_some()), "{}: {r:?}", c.number);
        let events = case_event::Entity::find()
            .filter(case_event::Column::CaseId.eq(c.id))
            .order_by_asc(case_event::Column::Seq)
            .all(db)
            .await
            .expect("events");
        assert!(api::store::cases::chain_valid(&events), "{}", c.number);
        assert_eq!(events.len() as i32, c.version, "{}", c.number);
        if let Some(receipt) = &r.receipt {
            with_receipt += 1;
            assert_eq!(receipt.number, c.number);
            assert_eq!(receipt.legal_result_date, r.term_due);
        }
        match r.status {
            CaseStatus::Completed => {
                let result = r.result.as_ref().expect("a completed case has its result");
                assert!(result.issued_at.is_some(), "{}", c.number);
                assert!(r.receipt.is_some() && r.delivery.is_some(), "{}", c.number);
            }
            CaseStatus::RefusedAtIntake => {
                assert!(r.receipt.is_none() && r.term_due.is_none(), "{}", c.number);
            }
            _ => {}
        }
    }
    assert!(
        with_receipt > 200,
        "{with_receipt} of 300 cases have a receipt"
    );
}

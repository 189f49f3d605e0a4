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

//! Refusals at intake, on every regulation and channel where an application is accepted at
//! once (the office, the State Corporation counter): given where the act provides one, on its
//! grounds; `REFUSAL_NOT_PROVIDED`, with nothing created, everywhere else.

use domain::identity::Role;
use serde_json::{json, Value};

use crate::cases::{application, open, setting, People};
use crate::helpers::{error_code, spawn_app_with};

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("rfc3339")
        .with_timezone(&chrono::Utc)
}

/// An application with one document missing and/or one expired.
fn documents(missing: bool, expired: bool) -> Value {
    json!({ "documents": [
        { "name": "application" },
        { "name": "photo", "provided": !missing },
        { "name": "identity document", "expired": expired },
    ] })
}

#[actix_web::test]
async fn intake_refusals_are_given_exactly_where_and_on_the_grounds_the_acts_provide() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let (_, body) = app
        .graphql(
            "{ regulations { code applyChannels steps { mailbox } refusals { kind by channels groundCodes allGrounds } } }",
            json!({}),
        )
        .await;
    let regs = body["data"]["regulations"]
        .as_array()
        .expect("regulations")
        .clone();
    let mut refused = Vec::new();
    let mut not_provided = Vec::new();
    for reg in &regs {
        let code = reg["code"].as_str().unwrap_or_default();
        let (provider, branch, when, applies_to) = setting(code);
        app.clock.set(at(when));
        for channel in ["PROVIDER_OFFICE", "STATE_CORPORATION"] {
            if !reg["applyChannels"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c == channel))
            {
                continue;
            }
            let by = if channel == "STATE_CORPORATION" {
                "STATE_CORPORATION"
            } else {
                "PROVIDER"
            };
            let rule = reg["refusals"].as_array().and_then(|r| {
                r.iter()
                    .find(|x| {
                        x["kind"] == "INTAKE_REFUSAL"
                            && x["by"] == by
                            && x["channels"]
                                .as_array()
                                .is_some_and(|c| c.iter().any(|c| c == channel))
                    })
                    .cloned()
            });
            let (token, mutation, at_provider) = if channel == "STATE_CORPORATION" {
                let t = people.staff(branch, Role::CorporationOperator).await;
                (t, "acceptAtCorporation", Some(provider))
            } else {
                let role = if reg["steps"][0]["mailbox"] == "EXECUTOR" {
                    Role::Executor
                } else {
                    Role::OfficeClerk
                };
                (
                    people.staff(provider, role).await,
                    "registerApplication",
                    None,
                )
            };
            let attempt = |missing: bool, expired: bool| {
                let mut extra = documents(missing, expired);
                extra["appliesTo"] = json!(applies_to);
                application(code, at_provider, "850305400120", extra)
            };
            let what = format!("{code} via {channel}");
            let grounds = |g: &str| {
                rule.as_ref()
                    .and_then(|r| r["groundCodes"].as_array())
                    .is_some_and(|c| c.iter().any(|c| c == g))
            };
            let all = rule.as_ref().is_some_and(|r| r["allGrounds"] == true);
            // Every combination of grounds: refused when the rule's grounds hold, otherwise
            // REFUSAL_NOT_PROVIDED.
            for (missing, expired) in [(true, false), (false, true), (true, true)] {
                let holds = rule.is_some()
                    && if all {
                        (missing || !grounds("INCOMPLETE_PACKAGE"))
                            && (expired || !grounds("EXPIRED_DOCUMENTS"))
                    } else {
                        (missing && grounds("INCOMPLETE_PACKAGE"))
                            || (expired && grounds("EXPIRED_DOCUMENTS"))
                    };
                let body = open(&app, &token, mutation, attempt(missing, expired)).await;
                let tried = format!("{what} (missing {missing}, expired {expired})");
                if holds {
                    assert_eq!(
                        body["data"]["r"]["status"], "REFUSED_AT_INTAKE",
                        "{tried}: {body}"
                    );
                    refused.push(tried);
                } else {
                    assert_eq!(error_code(&body), "REFUSAL_NOT_PROVIDED", "{tried}: {body}");
                    assert!(
                        body["data"].is_null() || body["data"]["r"].is_null(),
                        "{tried}"
                    );
                    not_provided.push(tried);
                }
            }
        }
    }
    // The counts follow the acts: e.g. camp vouchers refuse at the counter only for an
    // incomplete package and at the office only for both grounds; no Mangystau or West
    // Kazakhstan office refuses at intake.
    assert!(refused
        .iter()
        .any(|r| r
            == "east-kazakhstan-camp-vouchers via PROVIDER_OFFICE (missing true, expired true)"));
    assert!(not_provided
        .iter()
        .any(|r| r
            == "east-kazakhstan-camp-vouchers via PROVIDER_OFFICE (missing true, expired false)"));
    assert!(not_provided.iter().any(|r| r
        == "east-kazakhstan-camp-vouchers via STATE_CORPORATION (missing false, expired true)"));
    assert!(not_provided.iter().any(|r| {
        r == "atyrau-teacher-attestation-intake via STATE_CORPORATION (missing false, expired true)"
    }));
    assert!(refused.iter().any(|r| r
        == "atyrau-teacher-attestation-intake via PROVIDER_OFFICE (missing false, expired true)"));
    assert!(!refused
        .iter()
        .any(|r| r.starts_with("mangystau") && r.contains("PROVIDER_OFFICE")));
    assert!(!refused
        .iter()
        .any(|r| r.starts_with("west-kazakhstan") && r.contains("PROVIDER_OFFICE")));
    // 19 regulation × channel pairs take applications at the office or the counter.
    assert_eq!(
        refused.len() + not_provided.len(),
        3 * 19,
        "{refused:#?} {not_provided:#?}"
    );
    // REFUSAL_NOT_PROVIDED created nothing: the only cases are the ones refused at intake.
    use sea_orm::{EntityTrait, PaginatorTrait};
    let cases = entity::service_case::Entity::find()
        .count(&app.db)
        .await
        .expect("counted");
    assert_eq!(cases, refused.len() as u64);
}

//! The case engine end to end: every regulation on every channel it allows, to a result and to
//! each refusal; due times; scope; conflicts; storage and redelivery.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::identity::Role;
use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app_with, TestApp};
use sea_orm::ConnectionTrait;

pub const PASSWORD: &str = "correct horse battery staple";

/// Users and tokens of a test server, created on demand.
pub struct People<'a> {
    pub app: &'a TestApp,
    tokens: HashMap<String, String>,
}

impl<'a> People<'a> {
    pub fn new(app: &'a TestApp) -> People<'a> {
        People {
            app,
            tokens: HashMap::new(),
        }
    }

    /// A logged-in staff user `{org}-{role}`, created if needed.
    pub async fn staff(&mut self, org: &str, role: Role) -> String {
        let name = format!("{org}-{}", role.as_str().to_lowercase().replace('_', "-"));
        self.user(&name, role, Some(org), None).await
    }

    pub async fn user(
        &mut self,
        name: &str,
        role: Role,
        org: Option<&str>,
        region: Option<&str>,
    ) -> String {
        if let Some(t) = self.tokens.get(name) {
            return t.clone();
        }
        let new = api::store::accounts::NewUser {
            username: name.into(),
            password: PASSWORD.into(),
            role,
            organisation: org.map(str::to_owned),
            region: region.map(str::to_owned),
            display_name: None,
            iin: None,
        };
        api::store::accounts::create_user(&self.app.db, &new)
            .await
            .expect("user created");
        let (_, body) = self
            .app
            .graphql(
                "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }",
                json!({ "u": name, "p": PASSWORD }),
            )
            .await;
        let t = body["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_owned();
        self.tokens.insert(name.to_owned(), t.clone());
        t
    }

    pub async fn applicant(&mut self, iin: &str) -> String {
        if let Some(t) = self.tokens.get(iin) {
            return t.clone();
        }
        let parsed = domain::identity::Iin::parse(iin).expect("valid IIN");
        api::store::accounts::create_applicant(&self.app.db, &parsed, "Test Applicant", PASSWORD)
            .await
            .expect("created");
        let (_, body) = self
            .app
            .graphql(
                "mutation($i: String!, $p: String!) { applicantLogin(iin: $i, password: $p) { accessToken } }",
                json!({ "i": iin, "p": PASSWORD }),
            )
            .await;
        let t = body["data"]["applicantLogin"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_owned();
        self.tokens.insert(iin.to_owned(), t.clone());
        t
    }
}

pub const CASE_FIELDS: &str = "id number version channel status stage currentMailbox pathPosition provider corporation assignee
    registeredAt termDueAt providerDueAt stepDueAt storageDueAt calendarVersion chainValid progress
    receipt { number channel documents legalResultDate acceptedAt acceptedOrganisation acceptedBy }
    registration { registeredAt organisation registeredBy }
    result { documents { code nameEn } signedBy signedAt issuedAt issuedBy }
    refusalReceipt { missing expired issuedAt issuedBy }
    reasonedRefusal { grounds signed preparedBy signedBy signedAt }
    availableActions { action mutation needs dueAt refusal { kind by groundCodes allGrounds paragraph } }
    regulation { code version }
    timeline { seq stage mailbox organisation stepOrder leg actor startedAt dueAt finishedAt onTime late outcome comment }";

pub async fn call(app: &TestApp, token: &str, mutation: &str, args: &str, vars: Value) -> Value {
    let q = format!("mutation($c: ID!, $v: Int!{args}) {{ r: {mutation} {{ {CASE_FIELDS} }} }}");
    let (_, body) = app.graphql_as(token, &q, vars).await;
    body
}

pub fn application(reg: &str, provider: Option<&str>, iin: &str, extra: Value) -> Value {
    let mut input = json!({
        "regulation": reg,
        "applicant": { "iin": iin, "fullName": "Айгерим Нұрланқызы Серікова", "phone": "+7 701 000 0000" },
        "documents": [{ "name": "application" }, { "name": "identity document" }],
    });
    if let Some(p) = provider {
        input["provider"] = json!(p);
    }
    if let Value::Object(m) = extra {
        for (k, v) in m {
            input[k] = v;
        }
    }
    input
}

pub async fn open(app: &TestApp, token: &str, mutation: &str, input: Value) -> Value {
    let q = format!(
        "mutation($i: ApplicationInput!) {{ r: {mutation}(input: $i) {{ {CASE_FIELDS} }} }}"
    );
    let (_, body) = app.graphql_as(token, &q, json!({ "i": input })).await;
    body
}

/// Moves a case one stop with the user whose turn it is; returns the new case.
pub async fn advance(
    people: &mut People<'_>,
    case: &Value,
    provider: &str,
    corporation: Option<&str>,
    refuse: bool,
) -> Value {
    let app = people.app;
    let vars = json!({ "c": case["id"], "v": case["version"] });
    let mailbox = case["currentMailbox"].as_str().unwrap_or_default();
    let body = match case["stage"].as_str().unwrap_or_default() {
        "INTAKE" => {
            let role = if mailbox == "EXECUTOR" {
                Role::Executor
            } else {
                Role::OfficeClerk
            };
            let t = people.staff(provider, role).await;
            call(app, &t, "completeIntake(caseId: $c, version: $v)", "", vars).await
        }
        "RESOLUTION" => {
            let executor = people.staff(provider, Role::Executor).await;
            let _ = executor;
            let t = people.staff(provider, Role::Head).await;
            let mut v = vars;
            v["e"] = json!(format!("{provider}-executor"));
            call(
                app,
                &t,
                "assignExecutor(caseId: $c, version: $v, executor: $e)",
                ", $e: String!",
                v,
            )
            .await
        }
        "PREPARE" => {
            let t = people.staff(provider, Role::Executor).await;
            // The refusal the act provides here, as the case offers it to the executor.
            let offered = if refuse {
                let (_, seen) = app
                    .graphql_as(
                        &t,
                        "query($c: ID!) { case(id: $c) { availableActions { action refusal { kind by } } } }",
                        json!({ "c": case["id"] }),
                    )
                    .await;
                seen["data"]["case"]["availableActions"]
                    .as_array()
                    .and_then(|a| a.iter().find(|x| x["action"] == "PREPARE_RESULT"))
                    .map(|x| x["refusal"].clone())
                    .unwrap_or_else(|| panic!("the executor may prepare: {seen}"))
            } else {
                Value::Null
            };
            if refuse && offered.is_null() {
                // Not provided: refused whole, and the version is unchanged (the result
                // prepared next with the same version succeeds).
                let mut v = vars.clone();
                v["g"] = json!("Standard para 10: the grounds are not met");
                let body = call(
                    app,
                    &t,
                    "prepareResult(caseId: $c, version: $v, refusalGrounds: $g)",
                    ", $g: String",
                    v,
                )
                .await;
                assert_eq!(error_code(&body), "REFUSAL_NOT_PROVIDED", "{body}");
                call(app, &t, "prepareResult(caseId: $c, version: $v)", "", vars).await
            } else if refuse {
                assert_eq!(offered["kind"], "REASONED_REFUSAL", "{case}");
                assert_eq!(offered["by"], "PROVIDER", "{case}");
                let mut v = vars;
                v["g"] = json!("Standard para 10: the grounds are not met");
                call(
                    app,
                    &t,
                    "prepareResult(caseId: $c, version: $v, refusalGrounds: $g)",
                    ", $g: String",
                    v,
                )
                .await
            } else {
                call(app, &t, "prepareResult(caseId: $c, version: $v)", "", vars).await
            }
        }
        "SIGN" => {
            let t = people.staff(provider, Role::Head).await;
            call(app, &t, "signResult(caseId: $c, version: $v)", "", vars).await
        }
        "ISSUE" => {
            let t = people.staff(provider, Role::OfficeClerk).await;
            call(app, &t, "issueResult(caseId: $c, version: $v)", "", vars).await
        }
        "CORPORATION_TRANSFER" => {
            let t = people
                .staff(corporation.expect("a branch"), Role::CorporationOperator)
                .await;
            call(
                app,
                &t,
                "deliverToProvider(caseId: $c, version: $v)",
                "",
                vars,
            )
            .await
        }
        "RESULT_BACK" => {
            let t = people
                .staff(corporation.expect("a branch"), Role::CorporationOperator)
                .await;
            call(app, &t, "receiveResult(caseId: $c, version: $v)", "", vars).await
        }
        "CORPORATION_ISSUE" => {
            let t = people
                .staff(corporation.expect("a branch"), Role::CorporationOperator)
                .await;
            call(
                app,
                &t,
                "issueAtCorporation(caseId: $c, version: $v)",
                "",
                vars,
            )
            .await
        }
        other => panic!("no move from stage {other}: {case}"),
    };
    let next = body["data"]["r"].clone();
    assert!(next.is_object(), "moving {} failed: {body}", case["stage"]);
    next
}

/// Provider, branch and a date inside the acceptance window, per regulation.
pub fn setting(
    reg: &str,
) -> (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
) {
    // (provider, branch, a working-day local time inside any window, appliesTo)
    match reg {
        "mangystau-school-admission" => (
            "aktau-school-1",
            "gov4c-mangystau",
            "2025-06-02T10:00:00+05:00",
            Some("first_grade"),
        ),
        "mangystau-externat-permission" => (
            "aktau-akimat",
            "gov4c-mangystau",
            "2025-10-01T10:00:00+05:00",
            None,
        ),
        "mangystau-secondary-education-duplicates" => (
            "aktau-school-1",
            "gov4c-mangystau",
            "2025-06-02T10:00:00+05:00",
            None,
        ),
        "west-kazakhstan-externat-permission" => (
            "oral-education-department",
            "gov4c-west-kazakhstan",
            "2025-10-01T10:00:00+05:00",
            None,
        ),
        "west-kazakhstan-secondary-education-duplicates" => (
            "oral-school-1",
            "gov4c-west-kazakhstan",
            "2025-06-02T10:00:00+05:00",
            None,
        ),
        "west-kazakhstan-college-document-acceptance" => (
            "oral-college-1",
            "gov4c-west-kazakhstan",
            "2025-07-01T10:00:00+05:00",
            Some("full_time"),
        ),
        "west-kazakhstan-college-dormitory" => (
            "oral-college-1",
            "gov4c-west-kazakhstan",
            "2025-06-02T10:00:00+05:00",
            None,
        ),
        "west-kazakhstan-vocational-education-duplicates" => (
            "oral-college-1",
            "gov4c-west-kazakhstan",
            "2025-06-02T10:00:00+05:00",
            None,
        ),
        "east-kazakhstan-guardianship-orphans"
        | "east-kazakhstan-camp-vouchers"
        | "east-kazakhstan-foster-family-placement" => (
            "oskemen-akimat",
            "gov4c-east-kazakhstan",
            "2025-06-02T10:00:00+05:00",
            None,
        ),
        "east-kazakhstan-rural-school-transport" => (
            "east-kazakhstan-rural-akim-1",
            "gov4c-east-kazakhstan",
            "2025-06-02T10:00:00+05:00",
            None,
        ),
        "atyrau-teacher-attestation-intake" => (
            "atyrau-city-education-division",
            "gov4c-atyrau",
            "2025-06-02T10:00:00+05:00",
            None,
        ),
        other => panic!("no setting for {other}"),
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("rfc3339")
        .with_timezone(&Utc)
}

const APPLICANT_IIN: &str = "850305400120";

async fn walk(people: &mut People<'_>, reg: &Value, channel: &str, refuse: bool) -> Value {
    let app = people.app;
    let code = reg["code"].as_str().expect("code");
    let (provider, branch, when, applies_to) = setting(code);
    app.clock.set(at(when));
    let extra = json!({ "appliesTo": applies_to });
    let mut case = match channel {
        "PROVIDER_OFFICE" => {
            let intake_role = if reg["steps"][0]["mailbox"] == "EXECUTOR" {
                Role::Executor
            } else {
                Role::OfficeClerk
            };
            let t = people.staff(provider, intake_role).await;
            open(
                app,
                &t,
                "registerApplication",
                application(code, None, APPLICANT_IIN, extra),
            )
            .await
        }
        "STATE_CORPORATION" => {
            let t = people.staff(branch, Role::CorporationOperator).await;
            open(
                app,
                &t,
                "acceptAtCorporation",
                application(code, Some(provider), APPLICANT_IIN, extra),
            )
            .await
        }
        _ => {
            let t = people.applicant(APPLICANT_IIN).await;
            open(
                app,
                &t,
                "submitApplication",
                application(code, Some(provider), APPLICANT_IIN, extra),
            )
            .await
        }
    }["data"]["r"]
        .clone();
    assert!(case.is_object(), "{code} via {channel}: could not open");
    assert_eq!(case["regulation"], json!({ "code": code, "version": 1 }));
    // A receipt, once issued, never changes (the provider's registration is its own record).
    let mut receipt = case["receipt"].clone();
    let stops = route_stops(reg, channel);
    for _ in 0..20 {
        if ["COMPLETED", "REFUSED", "REFUSED_AT_INTAKE"]
            .contains(&case["status"].as_str().unwrap_or_default())
        {
            assert_eq!(case["pathPosition"], Value::Null, "{code} via {channel}");
            break;
        }
        // The catalog's route shows where the case is: its stop's stage and mailbox.
        let stop = case["pathPosition"]
            .as_u64()
            .and_then(|p| stops.get(p as usize))
            .unwrap_or_else(|| panic!("{code} via {channel}: off the route: {case:#}"));
        assert_eq!(
            (&stop["stage"], &stop["mailbox"]),
            (&case["stage"], &case["currentMailbox"]),
            "{code} via {channel}"
        );
        case = advance(people, &case, provider, Some(branch), refuse).await;
        if receipt.is_null() {
            receipt = case["receipt"].clone();
        } else {
            assert_eq!(
                case["receipt"], receipt,
                "{code} via {channel}: receipt rewritten"
            );
        }
    }
    assert!(receipt.is_object(), "{code} via {channel}: no receipt");
    case
}

/// The stops of a regulation's route on a channel, from the catalog.
fn route_stops(reg: &Value, channel: &str) -> Vec<Value> {
    reg["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .find(|r| r["channel"] == channel)
        .and_then(|r| r["stops"].as_array())
        .cloned()
        .unwrap_or_else(|| panic!("{}: no route via {channel}", reg["code"]))
}

/// Every timeline entry is finished, on time (the clock did not move), due after it started.
fn check_timeline(what: &str, case: &Value, reg: &Value, channel: &str) {
    let timeline = case["timeline"].as_array().expect("timeline");
    assert!(!timeline.is_empty(), "{what}");
    for (i, t) in timeline.iter().enumerate() {
        assert_eq!(t["seq"], json!(i + 1), "{what}");
        assert!(
            t["finishedAt"].is_string(),
            "{what}: step {i} left open: {t}"
        );
        if t["stage"] == "CORPORATION_ISSUE" {
            // Waiting for the applicant at the counter is not staff time: no due, never late.
            assert_eq!(t["onTime"], Value::Null, "{what}: {t}");
            assert_eq!(t["dueAt"], Value::Null, "{what}: {t}");
        } else if t["dueAt"].is_null() {
            // A leg the act does not time, done as the case was created: no deadline, never
            // late or on time.
            assert_eq!(t["onTime"], Value::Null, "{what}: {t}");
        } else {
            assert_eq!(t["onTime"], true, "{what}: {t}");
        }
        assert!(t["actor"].is_string(), "{what}: {t}");
        if let (Some(s), Some(d)) = (t["startedAt"].as_str(), t["dueAt"].as_str()) {
            assert!(at(d) > at(s), "{what}: due after start: {t}");
        }
        // Every stop of the route before the counter is due inside the term: by the
        // provider's deadline where the act sets one, else by the legal result date. (The stop
        // where an office or counter application is accepted is done as it is created.)
        let created = t["seq"] == 1 && channel != "PORTAL";
        let bound = case["providerDueAt"]
            .as_str()
            .or(case["termDueAt"].as_str());
        if let (false, Some(bound), Some(d)) = (created, bound, t["dueAt"].as_str()) {
            assert!(at(d) <= at(bound), "{what}: due after {bound}: {t}");
        }
    }
    // Every provider step of the regulation appears once, in order (the head's two steps too).
    let provider_steps: Vec<i64> = reg["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| channel == "STATE_CORPORATION" || s["mailbox"] != "CORPORATION")
        .map(|s| s["order"].as_i64().unwrap_or(0))
        .collect();
    let seen: Vec<i64> = timeline
        .iter()
        .filter_map(|t| t["stepOrder"].as_i64())
        .collect();
    assert_eq!(seen, provider_steps, "{what}: {timeline:#?}");
    assert_eq!(case["chainValid"], true, "{what}");
}

#[actix_web::test]
async fn every_regulation_runs_on_every_channel_it_allows_to_a_result_and_to_a_reasoned_refusal() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let (_, body) = app
        .graphql(
            "{ regulations { code applyChannels steps { order mailbox kind } refusals { kind channels }
               routes { channel stops { position stage mailbox heldBy atIntake duration { value unit } stepOrder leg produces } } } }",
            json!({}),
        )
        .await;
    let regs = body["data"]["regulations"]
        .as_array()
        .expect("regulations")
        .clone();
    assert_eq!(regs.len(), 13);
    let mut walked = 0;
    let mut not_provided: Vec<String> = Vec::new();
    for reg in &regs {
        let code = reg["code"].as_str().unwrap_or_default();
        for channel in reg["applyChannels"].as_array().expect("channels") {
            let channel = channel.as_str().unwrap_or_default();
            let what = format!("{code} via {channel}");
            let done = walk(&mut people, reg, channel, false).await;
            assert_eq!(done["status"], "COMPLETED", "{what}: {done:#}");
            assert!(done["result"].is_object(), "{what}");
            assert!(
                done["termDueAt"].is_string(),
                "{what}: a legal result date is set at registration"
            );
            check_timeline(&what, &done, reg, channel);
            // The case passed exactly the stops the catalog draws, in order.
            let passed: Vec<(Value, Value)> = done["timeline"]
                .as_array()
                .expect("timeline")
                .iter()
                .map(|t| (t["stage"].clone(), t["mailbox"].clone()))
                .collect();
            let drawn: Vec<(Value, Value)> = route_stops(reg, channel)
                .iter()
                .map(|s| (s["stage"].clone(), s["mailbox"].clone()))
                .collect();
            assert_eq!(passed, drawn, "{what}");
            assert!(
                route_stops(reg, channel)
                    .iter()
                    .all(|s| s["produces"].as_str().is_some_and(|p| !p.is_empty())),
                "{what}: every stop says what it produces"
            );
            if channel == "STATE_CORPORATION" {
                assert!(done["corporation"].is_string(), "{what}");
            }
            walked += 1;
            // A reasoned refusal, where the regulation has an executor step: given where the
            // act provides one, REFUSAL_NOT_PROVIDED (and then a result) elsewhere.
            let provided = reg["refusals"].as_array().is_some_and(|r| {
                r.iter().any(|x| {
                    x["kind"] == "REASONED_REFUSAL"
                        && x["channels"]
                            .as_array()
                            .is_some_and(|c| c.iter().any(|c| c == channel))
                })
            });
            let has_executor = reg["steps"]
                .as_array()
                .is_some_and(|s| s.iter().any(|x| x["kind"] == "PREPARE"));
            if has_executor && !provided {
                let done = walk(&mut people, reg, channel, true).await;
                assert_eq!(done["status"], "COMPLETED", "{what}: {done:#}");
                not_provided.push(what.clone());
            }
            if has_executor && provided {
                let refused = walk(&mut people, reg, channel, true).await;
                assert_eq!(refused["status"], "REFUSED", "{what}: {refused:#}");
                assert_eq!(refused["reasonedRefusal"]["signed"], true, "{what}");
                assert!(
                    refused["reasonedRefusal"]["signedBy"].is_string(),
                    "{what}: the head signs the refusal"
                );
                check_timeline(&format!("{what} (refusal)"), &refused, reg, channel);
            }
        }
    }
    assert_eq!(walked, 26, "13 regulations, 26 channel combinations");
    // The acts provide no reasoned refusal for any Mangystau service (act 000 gives the
    // provider no refusal step; its portal message on documents with violations is a refusal
    // at registration), nor for the West Kazakhstan dormitory, duplicates and vocational
    // duplicates, nor for West Kazakhstan externat on the State Corporation channel (its
    // reasoned refusal, «дәлелді бас тарту», is the portal's).
    not_provided.sort();
    assert_eq!(
        not_provided,
        [
            "mangystau-externat-permission via PORTAL",
            "mangystau-externat-permission via STATE_CORPORATION",
            "mangystau-school-admission via PORTAL",
            "mangystau-school-admission via PROVIDER_OFFICE",
            "mangystau-secondary-education-duplicates via PROVIDER_OFFICE",
            "mangystau-secondary-education-duplicates via STATE_CORPORATION",
            "west-kazakhstan-college-dormitory via PROVIDER_OFFICE",
            "west-kazakhstan-externat-permission via STATE_CORPORATION",
            "west-kazakhstan-secondary-education-duplicates via PROVIDER_OFFICE",
            "west-kazakhstan-secondary-education-duplicates via STATE_CORPORATION",
            "west-kazakhstan-vocational-education-duplicates via PROVIDER_OFFICE",
            "west-kazakhstan-vocational-education-duplicates via STATE_CORPORATION",
        ]
    );
}

#[actix_web::test]
async fn incomplete_documents_are_refused_at_intake_with_a_receipt_naming_them() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let documents = json!({
        "documents": [{ "name": "application" }, { "name": "photo", "provided": false }, { "name": "identity document", "expired": true }]
    });
    // The Mangystau duplicates act gives the provider's office no refusal at intake: refusing
    // there is REFUSAL_NOT_PROVIDED, and no case is created.
    let clerk = people.staff("aktau-school-1", Role::OfficeClerk).await;
    let input = application(
        "mangystau-secondary-education-duplicates",
        None,
        APPLICANT_IIN,
        documents.clone(),
    );
    let not_provided = open(&app, &clerk, "registerApplication", input).await;
    assert_eq!(
        error_code(&not_provided),
        "REFUSAL_NOT_PROVIDED",
        "{not_provided}"
    );
    let (_, mine) = app
        .graphql_as(
            &clerk,
            "{ inbox(mailbox: OFFICE) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(mine["data"]["inbox"]["totalCount"], 0, "{mine}");
    // The East Kazakhstan foster-placement act does (para 5, action 1: incomplete and/or expired).
    let clerk = people.staff("oskemen-akimat", Role::OfficeClerk).await;
    let input = application(
        "east-kazakhstan-foster-family-placement",
        None,
        APPLICANT_IIN,
        documents,
    );
    let case = open(&app, &clerk, "registerApplication", input).await["data"]["r"].clone();
    assert_eq!(case["status"], "REFUSED_AT_INTAKE", "{case}");
    assert_eq!(case["refusalReceipt"]["missing"], json!(["photo"]));
    assert_eq!(
        case["refusalReceipt"]["expired"],
        json!(["identity document"])
    );
    assert_eq!(case["currentMailbox"], Value::Null);
    assert_eq!(case["timeline"][0]["outcome"], "REFUSED_AT_INTAKE");

    // At the State Corporation counter likewise; on the portal the office refuses at registration.
    let operator = people
        .staff("gov4c-mangystau", Role::CorporationOperator)
        .await;
    let input = application(
        "mangystau-secondary-education-duplicates",
        Some("aktau-school-1"),
        APPLICANT_IIN,
        json!({
            "documents": [{ "name": "photo", "provided": false }]
        }),
    );
    let case = open(&app, &operator, "acceptAtCorporation", input).await["data"]["r"].clone();
    assert_eq!(case["status"], "REFUSED_AT_INTAKE");

    let applicant = people.applicant(APPLICANT_IIN).await;
    app.clock.set(at("2025-10-01T10:00:00+05:00"));
    let input = application(
        "mangystau-externat-permission",
        Some("aktau-akimat"),
        APPLICANT_IIN,
        json!({}),
    );
    let submitted = open(&app, &applicant, "submitApplication", input).await["data"]["r"].clone();
    assert_eq!(
        (
            submitted["status"].clone(),
            submitted["currentMailbox"].clone()
        ),
        (json!("SUBMITTED"), json!("OFFICE"))
    );
    let clerk = people.staff("aktau-akimat", Role::OfficeClerk).await;
    let vars =
        json!({ "c": submitted["id"], "v": submitted["version"], "m": ["certificate of study"] });
    let refused = call(
        &app,
        &clerk,
        "completeIntake(caseId: $c, version: $v, missing: $m)",
        ", $m: [String!]",
        vars,
    )
    .await;
    assert_eq!(
        refused["data"]["r"]["status"], "REFUSED_AT_INTAKE",
        "{refused}"
    );
}

#[actix_web::test]
async fn due_times_and_the_legal_result_date_follow_the_working_calendar() {
    // Monday 2 June 2025, 10:00 in Aktau; Friday 6 June is Kurban Ait.
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let clerk = people.staff("aktau-school-1", Role::OfficeClerk).await;
    let input = application(
        "mangystau-school-admission",
        None,
        APPLICANT_IIN,
        json!({ "appliesTo": "first_grade" }),
    );
    let case = open(&app, &clerk, "registerApplication", input).await["data"]["r"].clone();
    assert_eq!(case["status"], "IN_PROGRESS", "{case}");
    // Hand-computed: resolution 1 WD → Tue 3 Jun 18:30; executor 3 WD → Wed 4, Thu 5, (Fri 6 off),
    // Mon 9 Jun 18:30; signing 1 WD → Tue 10 Jun 18:30; issue 15 min → Wed 11 Jun 09:15.
    assert_eq!(case["termDueAt"], "2025-06-11T04:15:00+00:00");
    // One time convention across the API: UTC, documents included.
    assert_eq!(
        case["receipt"]["legalResultDate"],
        "2025-06-11T04:15:00+00:00"
    );
    assert_eq!(
        case["timeline"][0]["dueAt"], "2025-06-02T05:15:00+00:00",
        "intake 15 minutes"
    );
    assert_eq!(
        case["stepDueAt"], "2025-06-03T13:30:00+00:00",
        "the head's 1 working day"
    );
    assert_eq!(case["currentMailbox"], "HEAD");

    // The head acts two days late: the step is marked late, never blocked.
    app.clock.set(at("2025-06-05T11:00:00+05:00"));
    let head = people.staff("aktau-school-1", Role::Head).await;
    people.staff("aktau-school-1", Role::Executor).await;
    let vars = json!({ "c": case["id"], "v": case["version"], "e": "aktau-school-1-executor" });
    let assigned = call(
        &app,
        &head,
        "assignExecutor(caseId: $c, version: $v, executor: $e)",
        ", $e: String!",
        vars,
    )
    .await["data"]["r"]
        .clone();
    assert_eq!(assigned["timeline"][1]["onTime"], false);
    assert_eq!(assigned["timeline"][1]["late"], true);
    assert_eq!(assigned["assignee"], "aktau-school-1-executor");
    // The executor's 3 working days from Thursday 5 June would end Wed 11 June 18:30, after
    // the legal result date (09:15 that day): no stop is due after it, so the executor is.
    assert_eq!(assigned["stepDueAt"], assigned["termDueAt"]);
    assert_eq!(assigned["stepDueAt"], "2025-06-11T04:15:00+00:00");
    assert_eq!(
        assigned["termDueAt"], case["termDueAt"],
        "the legal term does not move"
    );
}

#[actix_web::test]
async fn the_head_returns_a_draft_and_the_term_keeps_running() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let clerk = people.staff("aktau-school-1", Role::OfficeClerk).await;
    let input = application(
        "mangystau-secondary-education-duplicates",
        None,
        APPLICANT_IIN,
        json!({}),
    );
    let mut case = open(&app, &clerk, "registerApplication", input).await["data"]["r"].clone();
    for _ in 0..2 {
        case = advance(&mut people, &case, "aktau-school-1", None, false).await;
    }
    assert_eq!(case["stage"], "SIGN");
    let head = people.staff("aktau-school-1", Role::Head).await;
    let vars = json!({ "c": case["id"], "v": case["version"], "m": "the date of birth is wrong" });
    let returned = call(
        &app,
        &head,
        "returnToExecutor(caseId: $c, version: $v, comment: $m)",
        ", $m: String!",
        vars,
    )
    .await["data"]["r"]
        .clone();
    assert_eq!(returned["stage"], "PREPARE");
    assert_eq!(returned["currentMailbox"], "EXECUTOR");
    let steps = returned["timeline"].as_array().expect("timeline");
    assert_eq!(steps[3]["outcome"], "RETURNED");
    assert_eq!(steps[3]["comment"], "the date of birth is wrong");
    assert_eq!(returned["termDueAt"], case["termDueAt"]);
    let mut c = returned;
    while c["status"] != "COMPLETED" {
        c = advance(&mut people, &c, "aktau-school-1", None, false).await;
    }
    assert_eq!(
        c["timeline"].as_array().map(Vec::len),
        Some(7),
        "intake, resolution, prepare, sign (returned), prepare, sign, issue: {c:#}"
    );
}

#[actix_web::test]
async fn a_result_not_collected_goes_back_to_the_provider_and_returns_on_request() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let operator = people
        .staff("gov4c-mangystau", Role::CorporationOperator)
        .await;
    let input = application(
        "mangystau-secondary-education-duplicates",
        Some("aktau-school-1"),
        APPLICANT_IIN,
        json!({}),
    );
    let mut case = open(&app, &operator, "acceptAtCorporation", input).await["data"]["r"].clone();
    assert!(
        case["providerDueAt"].is_null(),
        "no stated term here: {case}"
    );
    while case["stage"] != "CORPORATION_ISSUE" {
        case = advance(
            &mut people,
            &case,
            "aktau-school-1",
            Some("gov4c-mangystau"),
            false,
        )
        .await;
    }
    assert_eq!(case["status"], "RESULT_READY");
    assert_eq!(
        case["storageDueAt"], "2025-07-02T05:00:00+00:00",
        "one month of storage"
    );
    let vars = |c: &Value| json!({ "c": c["id"], "v": c["version"] });
    let early = call(
        &app,
        &operator,
        "returnUncollected(caseId: $c, version: $v)",
        "",
        vars(&case),
    )
    .await;
    assert_eq!(error_code(&early), "INVALID_TRANSITION");

    app.clock.set(at("2025-07-03T10:00:00+05:00"));
    let back = call(
        &app,
        &operator,
        "returnUncollected(caseId: $c, version: $v)",
        "",
        vars(&case),
    )
    .await["data"]["r"]
        .clone();
    assert_eq!(
        (back["status"].clone(), back["currentMailbox"].clone()),
        (json!("RETURNED_UNCLAIMED"), json!("OFFICE"))
    );
    let requested = call(
        &app,
        &operator,
        "requestRedelivery(caseId: $c, version: $v)",
        "",
        vars(&back),
    )
    .await["data"]["r"]
        .clone();
    assert_eq!(requested["status"], "REDELIVERY");
    // The Mangystau act gives sending a stored result back no duration: no staff deadline is
    // invented (act 002 states one working day; see the East Kazakhstan walk).
    assert!(requested["stepDueAt"].is_null(), "{requested}");
    let clerk = people.staff("aktau-school-1", Role::OfficeClerk).await;
    let redelivered = call(
        &app,
        &clerk,
        "redeliver(caseId: $c, version: $v)",
        "",
        vars(&requested),
    )
    .await["data"]["r"]
        .clone();
    assert_eq!(redelivered["status"], "RESULT_READY");
    let issued = call(
        &app,
        &operator,
        "issueAtCorporation(caseId: $c, version: $v)",
        "",
        vars(&redelivered),
    )
    .await["data"]["r"]
        .clone();
    assert_eq!(issued["status"], "COMPLETED");
    assert_eq!(issued["chainValid"], true);
}

#[actix_web::test]
async fn fifty_simultaneous_attempts_on_one_case_give_one_success_and_the_rest_conflict() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let clerk = people.staff("aktau-school-1", Role::OfficeClerk).await;
    people.staff("aktau-school-1", Role::Executor).await;
    let head = people.staff("aktau-school-1", Role::Head).await;
    let input = application(
        "mangystau-secondary-education-duplicates",
        None,
        APPLICANT_IIN,
        json!({}),
    );
    let case = open(&app, &clerk, "registerApplication", input).await["data"]["r"].clone();
    let q = format!(
        "mutation($c: ID!, $v: Int!, $e: String!) {{ r: assignExecutor(caseId: $c, version: $v, executor: $e) {{ {CASE_FIELDS} }} }}"
    );
    let vars = json!({ "c": case["id"], "v": case["version"], "e": "aktau-school-1-executor" });
    let stale_before = stale_commands(&app).await;
    // The test holds the case's row (PostgreSQL) or the database's write lock (SQLite) for a
    // moment, so the first attempt waits inside its transaction while the others arrive.
    let hold = api::store::begin_write(&app.db).await.expect("begins");
    if app.db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        hold.execute_unprepared(&format!(
            "SELECT id FROM service_case WHERE id = {} FOR UPDATE",
            case["id"].as_str().expect("id")
        ))
        .await
        .expect("locks");
    }
    let attempts = (0..50).map(|_| app.graphql_as(&head, &q, vars.clone()));
    let release = async {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(500)).await;
        hold.commit().await.expect("releases");
    };
    let (results, ()) = futures_util::join!(futures_util::future::join_all(attempts), release);
    // The mailbox runs one command per case at a time: the attempts that queued behind the
    // first expected the version it replaced and were answered without a database round trip.
    // (The counter is the process's; only the queue adds to it, so with no queue it stays.)
    assert!(
        stale_commands(&app).await >= stale_before + 40,
        "the attempts waited in the case's queue"
    );
    let ok = results
        .iter()
        .filter(|(_, b)| b["errors"].is_null())
        .count();
    let conflicts = results
        .iter()
        .filter(|(_, b)| b["errors"][0]["extensions"]["code"] == "CONFLICT")
        .count();
    let others: Vec<&Value> = results
        .iter()
        .map(|(_, b)| b)
        .filter(|b| !b["errors"].is_null() && b["errors"][0]["extensions"]["code"] != "CONFLICT")
        .collect();
    assert_eq!((ok, conflicts), (1, 49), "{others:?}");
    let (_, after) = app
        .graphql_as(
            &head,
            &format!("query($c: ID!) {{ case(id: $c) {{ {CASE_FIELDS} events {{ kind }} }} }}"),
            json!({ "c": case["id"] }),
        )
        .await;
    let c = &after["data"]["case"];
    let resolutions = c["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|t| t["stage"] == "RESOLUTION")
        .count();
    assert_eq!(resolutions, 1, "one resolution step: {c:#}");
    assert_eq!(c["version"], 2);
    assert_eq!(c["events"].as_array().map(Vec::len), Some(2));
    assert_eq!(c["chainValid"], true);
}

/// `qyzmet_mailbox_stale_commands_total` from `/metrics`.
async fn stale_commands(app: &TestApp) -> u64 {
    let (_, text) = app.get("/metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix("qyzmet_mailbox_stale_commands_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no stale command counter in:\n{text}"))
}

#[actix_web::test]
async fn a_retried_registration_with_the_same_idempotency_key_returns_the_same_case() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let clerk = people.staff("aktau-school-1", Role::OfficeClerk).await;
    let input = application(
        "mangystau-secondary-education-duplicates",
        None,
        APPLICANT_IIN,
        json!({ "idempotencyKey": "req-1" }),
    );
    let first = open(&app, &clerk, "registerApplication", input.clone()).await["data"]["r"].clone();
    let again = open(&app, &clerk, "registerApplication", input).await["data"]["r"].clone();
    assert_eq!(first["id"], again["id"]);
    assert_eq!(first["number"], again["number"]);
    // The same key with a different application is refused and changes nothing.
    let other = application(
        "mangystau-secondary-education-duplicates",
        None,
        "901122600340",
        json!({ "idempotencyKey": "req-1" }),
    );
    let reused = open(&app, &clerk, "registerApplication", other).await;
    assert_eq!(
        reused["errors"][0]["extensions"]["code"], "IDEMPOTENCY_KEY_REUSED",
        "{reused}"
    );
    use sea_orm::{EntityTrait, PaginatorTrait};
    assert_eq!(
        entity::service_case::Entity::find()
            .count(&app.db)
            .await
            .expect("count"),
        1
    );
}

#[actix_web::test]
async fn typed_errors_for_windows_channels_iins_and_wrong_turns() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-11-03T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let clerk = people.staff("aktau-school-1", Role::OfficeClerk).await;
    let input = application(
        "mangystau-school-admission",
        None,
        APPLICANT_IIN,
        json!({ "appliesTo": "first_grade" }),
    );
    let body = open(&app, &clerk, "registerApplication", input).await;
    assert_eq!(error_code(&body), "OUTSIDE_ACCEPTANCE_WINDOW");

    let operator = people
        .staff("gov4c-mangystau", Role::CorporationOperator)
        .await;
    let input = application(
        "mangystau-school-admission",
        Some("aktau-school-1"),
        APPLICANT_IIN,
        json!({}),
    );
    assert_eq!(
        error_code(&open(&app, &operator, "acceptAtCorporation", input).await),
        "CHANNEL_NOT_ALLOWED"
    );

    let applicant = people.applicant(APPLICANT_IIN).await;
    let someone_else = application(
        "mangystau-externat-permission",
        Some("aktau-akimat"),
        "901122600340",
        json!({}),
    );
    app.clock.set(at("2025-10-01T10:00:00+05:00"));
    assert_eq!(
        error_code(&open(&app, &applicant, "submitApplication", someone_else).await),
        "IIN_MISMATCH"
    );
    let bad_iin = application(
        "mangystau-secondary-education-duplicates",
        None,
        "850305400121",
        json!({}),
    );
    assert_eq!(
        error_code(&open(&app, &clerk, "registerApplication", bad_iin).await),
        "INVALID_IIN"
    );

    let input = application(
        "mangystau-secondary-education-duplicates",
        None,
        APPLICANT_IIN,
        json!({}),
    );
    let case = open(&app, &clerk, "registerApplication", input).await["data"]["r"].clone();
    // Not the clerk's turn: the case is with the head.
    let vars = json!({ "c": case["id"], "v": case["version"] });
    assert_eq!(
        error_code(
            &call(
                &app,
                &clerk,
                "signResult(caseId: $c, version: $v)",
                "",
                vars.clone()
            )
            .await
        ),
        "FORBIDDEN"
    );
    let head = people.staff("aktau-school-1", Role::Head).await;
    assert_eq!(
        error_code(
            &call(
                &app,
                &head,
                "signResult(caseId: $c, version: $v)",
                "",
                vars.clone()
            )
            .await
        ),
        "INVALID_TRANSITION"
    );
    let stale = json!({ "c": case["id"], "v": 99, "e": "x" });
    assert_eq!(
        error_code(
            &call(
                &app,
                &head,
                "assignExecutor(caseId: $c, version: $v, executor: $e)",
                ", $e: String!",
                stale
            )
            .await
        ),
        "CONFLICT"
    );
}

#[actix_web::test]
async fn scope_hides_cases_outside_it_and_a_head_assigns_only_own_executors() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let clerk = people.staff("aktau-school-1", Role::OfficeClerk).await;
    let input = application(
        "mangystau-secondary-education-duplicates",
        None,
        APPLICANT_IIN,
        json!({}),
    );
    let case = open(&app, &clerk, "registerApplication", input).await["data"]["r"].clone();
    let q = "query($c: ID!) { case(id: $c) { number version } }";
    let vars = json!({ "c": case["id"] });

    let other_clerk = people.staff("oral-school-1", Role::OfficeClerk).await;
    let other_analyst = people
        .user("wk-analyst", Role::Analyst, None, Some("west-kazakhstan"))
        .await;
    let own_analyst = people
        .user("m-analyst", Role::Analyst, None, Some("mangystau"))
        .await;
    let national = people.user("national", Role::Analyst, None, None).await;
    let other_applicant = people.applicant("901122600340").await;
    let owner = people.applicant(APPLICANT_IIN).await;
    for (who, token, expect) in [
        ("another organisation's clerk", &other_clerk, "NOT_FOUND"),
        ("another region's analyst", &other_analyst, "NOT_FOUND"),
        ("another applicant", &other_applicant, "NOT_FOUND"),
    ] {
        let (_, body) = app.graphql_as(token, q, vars.clone()).await;
        assert_eq!(error_code(&body), expect, "{who}: {body}");
    }
    for (who, token) in [
        ("own clerk", &clerk),
        ("own region's analyst", &own_analyst),
        ("national analyst", &national),
        ("the applicant", &owner),
    ] {
        let (_, body) = app.graphql_as(token, q, vars.clone()).await;
        assert_eq!(
            body["data"]["case"]["number"], case["number"],
            "{who}: {body}"
        );
    }
    let (_, mine) = app
        .graphql_as(&owner, "{ myApplications { nodes { number } } }", json!({}))
        .await;
    assert_eq!(
        mine["data"]["myApplications"]["nodes"],
        json!([{ "number": case["number"] }])
    );
    let (_, theirs) = app
        .graphql_as(
            &other_applicant,
            "{ myApplications { nodes { number } } }",
            json!({}),
        )
        .await;
    assert_eq!(theirs["data"]["myApplications"]["nodes"], json!([]));

    // A head assigns only executors of the same organisation; nothing changes otherwise.
    people.staff("oral-school-1", Role::Executor).await;
    let head = people.staff("aktau-school-1", Role::Head).await;
    let foreign = json!({ "c": case["id"], "v": case["version"], "e": "oral-school-1-executor" });
    let body = call(
        &app,
        &head,
        "assignExecutor(caseId: $c, version: $v, executor: $e)",
        ", $e: String!",
        foreign,
    )
    .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let (_, after) = app.graphql_as(&clerk, q, vars).await;
    assert_eq!(
        after["data"]["case"]["version"], case["version"],
        "nothing changed"
    );
}

#[actix_web::test]
async fn the_inbox_is_sorted_by_due_time_paginated_and_counted() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let clerk = people.staff("aktau-school-1", Role::OfficeClerk).await;
    let head = people.staff("aktau-school-1", Role::Head).await;
    let mut numbers = Vec::new();
    for minute in 0..5 {
        app.clock
            .set(at(&format!("2025-06-02T10:0{minute}:00+05:00")));
        let input = application(
            "mangystau-secondary-education-duplicates",
            None,
            APPLICANT_IIN,
            json!({}),
        );
        let c = open(&app, &clerk, "registerApplication", input).await["data"]["r"].clone();
        numbers.push(c["number"].clone());
    }
    app.clock.set(at("2025-06-03T19:00:00+05:00"));
    let page = |after: Value| {
        let app = &app;
        let head = head.clone();
        async move {
            let (_, b) = app
                .graphql_as(&head, "query($a: String) { inbox(mailbox: HEAD, first: 2, after: $a) { totalCount overdueCount endCursor hasNextPage nodes { number overdue } } }", json!({ "a": after }))
                .await;
            b["data"]["inbox"].clone()
        }
    };
    let first = page(Value::Null).await;
    assert_eq!(
        (
            first["totalCount"].clone(),
            first["overdueCount"].clone(),
            first["hasNextPage"].clone()
        ),
        (json!(5), json!(5), json!(true)),
        "{first}"
    );
    let second = page(first["endCursor"].clone()).await;
    let third = page(second["endCursor"].clone()).await;
    assert_eq!(third["hasNextPage"], false);
    let seen: Vec<Value> = [first, second, third]
        .iter()
        .flat_map(|p| p["nodes"].as_array().cloned().unwrap_or_default())
        .map(|n| n["number"].clone())
        .collect();
    assert_eq!(seen, numbers, "all five, oldest due first, none twice");
    let (_, office) = app
        .graphql_as(
            &clerk,
            "{ inbox(mailbox: OFFICE) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(office["data"]["inbox"]["totalCount"], 0);
    let (_, denied) = app
        .graphql_as(
            &clerk,
            "{ inbox(mailbox: CORPORATION) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&denied), "FORBIDDEN");
}

#[actix_web::test]
async fn atyrau_cases_elsewhere_get_six_working_days_for_the_executor() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let provider = "atyrau-city-education-division";
    let clerk = people.staff(provider, Role::OfficeClerk).await;
    let mut dues = Vec::new();
    for location in ["local", "elsewhere"] {
        let input = application(
            "atyrau-teacher-attestation-intake",
            None,
            APPLICANT_IIN,
            json!({ "attributes": [{ "name": "location", "value": location }] }),
        );
        let mut case = open(&app, &clerk, "registerApplication", input).await["data"]["r"].clone();
        case = advance(&mut people, &case, provider, None, false).await; // resolution
        assert_eq!(case["stage"], "PREPARE");
        dues.push(case["stepDueAt"].clone());
    }
    // A value the regulation does not declare is refused, naming the allowed values; so is an
    // application without documents.
    for extra in [
        json!({ "attributes": [{ "name": "location", "value": "Elsewhere" }] }),
        json!({ "attributes": [{ "name": "colour", "value": "red" }] }),
        json!({ "documents": [] }),
    ] {
        let input = application(
            "atyrau-teacher-attestation-intake",
            None,
            APPLICANT_IIN,
            extra,
        );
        let body = open(&app, &clerk, "registerApplication", input).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
    }
    let body = open(
        &app,
        &clerk,
        "registerApplication",
        application(
            "atyrau-teacher-attestation-intake",
            None,
            APPLICANT_IIN,
            json!({ "attributes": [{ "name": "location", "value": "Elsewhere" }] }),
        ),
    )
    .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("local, elsewhere")),
        "{body}"
    );
    // From Monday 2 June 10:00: 2 working days → Wed 4 June; 6 → Wed 11 June (Fri 6 June is Kurban Ait).
    assert_eq!(
        dues,
        [
            json!("2025-06-04T13:30:00+00:00"),
            json!("2025-06-11T13:30:00+00:00")
        ]
    );
}

/// Regression: commands in several mailboxes at once once starved the connection pool (a
/// recount parked inside an actor held its connection while the actor waited for another).
#[actix_web::test]
async fn many_clients_moving_many_cases_through_every_mailbox_all_succeed() {
    let app = spawn_app_with(|s| {
        s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"));
        s.database.max_connections = 4;
    })
    .await;
    let mut people = People::new(&app);
    let org = "aktau-school-1";
    let clerk = people.staff(org, Role::OfficeClerk).await;
    let head = people.staff(org, Role::Head).await;
    let executor = people.staff(org, Role::Executor).await;
    let mut cases = Vec::new();
    for _ in 0..24 {
        let input = application(
            "mangystau-secondary-education-duplicates",
            None,
            APPLICANT_IIN,
            json!({}),
        );
        cases.push(open(&app, &clerk, "registerApplication", input).await["data"]["r"].clone());
    }
    let moves = [
        (
            head.clone(),
            format!("assignExecutor(caseId: $c, version: $v, executor: \"{org}-executor\")"),
        ),
        (
            executor.clone(),
            "prepareResult(caseId: $c, version: $v)".to_owned(),
        ),
        (
            head.clone(),
            "signResult(caseId: $c, version: $v)".to_owned(),
        ),
        (
            clerk.clone(),
            "issueResult(caseId: $c, version: $v)".to_owned(),
        ),
    ];
    let walks = cases.into_iter().map(|c| {
        let (app, moves) = (&app, &moves);
        async move {
            let mut version = c["version"].clone();
            for (token, m) in moves {
                let q = format!("mutation($c: ID!, $v: Int!) {{ r: {m} {{ version status }} }}");
                let (_, b) = app
                    .graphql_as(token, &q, json!({ "c": c["id"], "v": version }))
                    .await;
                version = b["data"]["r"]["version"].clone();
                if version.is_null() {
                    return Err(b);
                }
            }
            Ok(())
        }
    });
    let results = futures_util::future::join_all(walks).await;
    let failures: Vec<_> = results.into_iter().filter_map(Result::err).collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Atyrau via the State Corporation: step 5 registers the result and sends it by courier within
/// its one working day, so the legal result date counts it once (act 004 para 5.5); the act
/// gives the documents' way to the provider no duration, so that leg adds nothing.
#[actix_web::test]
async fn atyrau_via_the_state_corporation_counts_the_courier_inside_step_5() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-09-15T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let operator = people
        .staff("gov4c-atyrau", Role::CorporationOperator)
        .await;
    let input = application(
        "atyrau-teacher-attestation-intake",
        Some("atyrau-city-education-division"),
        APPLICANT_IIN,
        json!({}),
    );
    let case = open(&app, &operator, "acceptAtCorporation", input).await["data"]["r"].clone();
    // By hand from Mon 15 Sep 10:00: no courier time, intake 15 min (10:15), resolution 30 min
    // (10:45), preparation 2 WD (Wed 17th 18:30), signature 30 min (Thu 18th 09:30), step 5
    // one WD (Fri 19th 18:30, UTC+5).
    assert_eq!(case["termDueAt"], "2025-09-19T13:30:00+00:00", "{case}");
    // The untimed courier leg is due by the legal result date, not by a day of its own.
    assert_eq!(case["stage"], "CORPORATION_TRANSFER");
    assert_eq!(case["stepDueAt"], case["termDueAt"]);
    assert_eq!(case["receipt"]["legalResultDate"], case["termDueAt"]);
    assert_eq!(case["receipt"]["acceptedOrganisation"], "gov4c-atyrau");
}

/// What an applicant sees of their case: the status as a public label, the receipt and the
/// legal result date; no draft, note, return comment, staff username or hash.
#[actix_web::test]
async fn the_applicant_sees_no_internal_material() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    // A service whose act provides a reasoned refusal at the office (act 002, para 3).
    let provider = "oskemen-akimat";
    let clerk = people.staff(provider, Role::OfficeClerk).await;
    let input = application(
        "east-kazakhstan-foster-family-placement",
        None,
        APPLICANT_IIN,
        json!({}),
    );
    let mut case = open(&app, &clerk, "registerApplication", input).await["data"]["r"].clone();
    case = advance(&mut people, &case, provider, None, true).await; // assigned
    case = advance(&mut people, &case, provider, None, true).await; // refusal drafted
    assert_eq!(case["stage"], "SIGN");
    let head = people.staff(provider, Role::Head).await;
    let returned = call(
        &app,
        &head,
        "returnToExecutor(caseId: $c, version: $v, comment: $m)",
        ", $m: String!",
        json!({ "c": case["id"], "v": case["version"], "m": "internal remark" }),
    )
    .await["data"]["r"]
        .clone();
    assert_eq!(returned["stage"], "PREPARE", "{returned}");
    // Staff see the draft and who did what.
    assert_eq!(returned["reasonedRefusal"]["signed"], false, "{returned}");
    assert!(returned["assignee"].is_string());
    assert_eq!(
        returned["availableActions"],
        json!([]),
        "the clerk has nothing to do while the executor works"
    );
    let applicant = people.applicant(APPLICANT_IIN).await;
    let fields = CASE_FIELDS.replace("chainValid", "");
    let q = format!("query($c: ID!) {{ case(id: $c) {{ {fields} }} }}");
    let (_, body) = app
        .graphql_as(&applicant, &q, json!({ "c": case["id"] }))
        .await;
    let mine = body["data"]["case"].clone();
    assert!(mine.is_object(), "{body}");
    assert_eq!(mine["progress"], "UNDER_CONSIDERATION");
    assert_eq!(mine["reasonedRefusal"], Value::Null, "no draft");
    assert_eq!(mine["assignee"], Value::Null);
    assert_eq!(mine["availableActions"], json!([]));
    assert_eq!(mine["receipt"]["acceptedBy"], Value::Null);
    assert_eq!(mine["receipt"]["acceptedOrganisation"], provider);
    assert!(mine["receipt"]["legalResultDate"].is_string());
    for t in mine["timeline"].as_array().expect("timeline") {
        assert_eq!(t["actor"], Value::Null, "{t}");
        assert_eq!(t["comment"], Value::Null, "{t}");
        assert_eq!(t["outcome"], Value::Null, "{t}");
    }
    let text = mine.to_string();
    for secret in [
        "internal remark",
        "Standard para 10",
        "-executor",
        "-head",
        "-clerk",
    ] {
        assert!(!text.contains(secret), "{secret:?} leaked: {text}");
    }
    // The event chain and its hashes are staff only.
    let (_, body) = app
        .graphql_as(
            &applicant,
            "query($c: ID!) { case(id: $c) { events { hash } } }",
            json!({ "c": case["id"] }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
}

/// A head's inbox mixes cases to assign and to sign: the stage filter separates them, and a
/// case is found by its number (any case) or its applicant's IIN.
#[actix_web::test]
async fn the_inbox_filters_by_stage_and_finds_by_number_or_iin() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let org = "aktau-school-1";
    let clerk = people.staff(org, Role::OfficeClerk).await;
    let head = people.staff(org, Role::Head).await;
    people.staff(org, Role::Executor).await;
    let reg = "mangystau-secondary-education-duplicates";
    let mut a = open(
        &app,
        &clerk,
        "registerApplication",
        application(reg, None, APPLICANT_IIN, json!({})),
    )
    .await["data"]["r"]
        .clone();
    for iin in ["901122600340", "010715500567"] {
        let r = open(
            &app,
            &clerk,
            "registerApplication",
            application(reg, None, iin, json!({})),
        )
        .await;
        assert!(r["errors"].is_null(), "{r}");
    }
    while a["stage"] != "SIGN" {
        a = advance(&mut people, &a, org, None, false).await;
    }
    let q = "query($f: InboxFilter) { inbox(mailbox: HEAD, filter: $f) { totalCount nodes { number stage } } }";
    let count = |body: &Value| body["data"]["inbox"]["totalCount"].as_i64().unwrap_or(-1);
    let (_, to_sign) = app
        .graphql_as(&head, q, json!({ "f": { "stages": ["SIGN"] } }))
        .await;
    assert_eq!(count(&to_sign), 1, "{to_sign}");
    assert_eq!(to_sign["data"]["inbox"]["nodes"][0]["number"], a["number"]);
    let (_, to_assign) = app
        .graphql_as(&head, q, json!({ "f": { "stages": ["RESOLUTION"] } }))
        .await;
    assert_eq!(count(&to_assign), 2, "{to_assign}");
    let number = a["number"].as_str().unwrap_or_default().to_lowercase();
    let (_, found) = app
        .graphql_as(&head, q, json!({ "f": { "search": number } }))
        .await;
    assert_eq!(count(&found), 1, "{found}");
    let (_, by_iin) = app
        .graphql_as(&head, q, json!({ "f": { "search": "901122600340" } }))
        .await;
    assert_eq!(count(&by_iin), 1, "{by_iin}");
    let (_, none) = app
        .graphql_as(&head, q, json!({ "f": { "search": "KZ00-nothing" } }))
        .await;
    assert_eq!(count(&none), 0, "{none}");
}

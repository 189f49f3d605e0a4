//! Login, tokens, sessions and roles: every forged, stale or misused credential is refused with
//! the right code, and nothing changes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use domain::identity::Role;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app, TestApp, TEST_JWT_SECRET};

const PASSWORD: &str = "correct horse battery staple";

async fn user(app: &TestApp, username: &str, role: Role, org: Option<&str>, region: Option<&str>) {
    let new = api::store::accounts::NewUser {
        username: username.into(),
        password: PASSWORD.into(),
        role,
        organisation: org.map(str::to_owned),
        region: region.map(str::to_owned),
        display_name: None,
        iin: None,
    };
    api::store::accounts::create_user(&app.db, &new)
        .await
        .expect("user created");
}

const LOGIN: &str = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) {
    accessToken accessTokenExpiresAt refreshToken role organisation region } }";

async fn login(app: &TestApp, username: &str) -> Value {
    let (_, body) = app
        .graphql(LOGIN, json!({ "u": username, "p": PASSWORD }))
        .await;
    assert!(body["errors"].is_null(), "login failed: {body}");
    body["data"]["login"].clone()
}

async fn token(app: &TestApp, username: &str) -> String {
    login(app, username).await["accessToken"]
        .as_str()
        .expect("a token")
        .to_owned()
}

const USERS: &str = "{ users { username role active } }";

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

fn header_of(jwt: &str) -> Value {
    let header = jwt.split('.').next().expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url")).expect("JSON")
}

#[actix_web::test]
async fn login_issues_a_short_lived_jwt_with_the_callers_claims() {
    let app = spawn_app().await;
    user(
        &app,
        "clerk",
        Role::OfficeClerk,
        Some("aktau-school-1"),
        None,
    )
    .await;
    let session = login(&app, "clerk").await;
    assert_eq!(session["role"], "OFFICE_CLERK");
    assert_eq!(session["organisation"], "aktau-school-1");
    assert_eq!(session["region"], "mangystau");
    let jwt = session["accessToken"].as_str().expect("token");
    assert_eq!(header_of(jwt)["alg"], "HS256");
    let c = claims_of(jwt);
    assert!(c["sub"].as_str().is_some_and(|s| s.starts_with("user:")));
    assert_eq!(
        (c["role"].clone(), c["org"].clone(), c["region"].clone()),
        (
            json!("OFFICE_CLERK"),
            json!("aktau-school-1"),
            json!("mangystau")
        )
    );
    assert_eq!(
        (c["iss"].clone(), c["aud"].clone()),
        (json!("qyzmet"), json!("qyzmet-api"))
    );
    assert_eq!(
        c["exp"].as_i64().unwrap_or(0) - c["iat"].as_i64().unwrap_or(0),
        15 * 60
    );
    assert!(c["jti"].as_str().is_some_and(|j| j.len() == 32));
    assert_eq!(session["refreshToken"].as_str().map(str::len), Some(64));
}

#[actix_web::test]
async fn a_wrong_password_and_an_unknown_user_look_the_same() {
    let app = spawn_app().await;
    user(
        &app,
        "clerk",
        Role::OfficeClerk,
        Some("aktau-school-1"),
        None,
    )
    .await;
    let (_, wrong) = app
        .graphql(LOGIN, json!({ "u": "clerk", "p": "not the password" }))
        .await;
    let (_, unknown) = app
        .graphql(LOGIN, json!({ "u": "nobody", "p": "not the password" }))
        .await;
    assert_eq!(error_code(&wrong), "UNAUTHENTICATED");
    assert_eq!(
        wrong["errors"][0]["message"],
        unknown["errors"][0]["message"]
    );
    assert_eq!(error_code(&unknown), "UNAUTHENTICATED");
}

#[actix_web::test]
async fn admin_fields_need_a_login_and_the_admin_role() {
    let app = spawn_app().await;
    user(&app, "admin", Role::Admin, None, None).await;
    user(
        &app,
        "clerk",
        Role::OfficeClerk,
        Some("aktau-school-1"),
        None,
    )
    .await;
    let (_, anonymous) = app.graphql(USERS, json!({})).await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
    let clerk = token(&app, "clerk").await;
    let (_, as_clerk) = app.graphql_as(&clerk, USERS, json!({})).await;
    assert_eq!(error_code(&as_clerk), "FORBIDDEN");
    let admin = token(&app, "admin").await;
    let (_, as_admin) = app.graphql_as(&admin, USERS, json!({})).await;
    assert_eq!(
        as_admin["data"]["users"].as_array().map(Vec::len),
        Some(2),
        "{as_admin}"
    );
    // The catalog and the calendar stay public.
    let (_, public) = app
        .graphql(
            "{ regions { code } workingCalendar(year: 2025) { workingDays } }",
            json!({}),
        )
        .await;
    assert!(public["errors"].is_null(), "{public}");
}

fn forged(secret: &str, alg: Algorithm, claims: Value) -> String {
    encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("encodes")
}

#[actix_web::test]
async fn forged_stale_and_tampered_tokens_are_refused() {
    let app = spawn_app().await;
    user(&app, "admin", Role::Admin, None, None).await;
    user(
        &app,
        "clerk",
        Role::OfficeClerk,
        Some("aktau-school-1"),
        None,
    )
    .await;
    let good = claims_of(&token(&app, "admin").await);
    let now = chrono::Utc::now().timestamp();
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let cases = [
        (
            "expired",
            forged(
                TEST_JWT_SECRET,
                Algorithm::HS256,
                with("exp", json!(now - 60)),
            ),
        ),
        (
            "another key",
            forged(
                "another-secret-0123456789-0123456789-xyz",
                Algorithm::HS256,
                good.clone(),
            ),
        ),
        (
            "another algorithm",
            forged(TEST_JWT_SECRET, Algorithm::HS512, good.clone()),
        ),
        (
            "wrong audience",
            forged(
                TEST_JWT_SECRET,
                Algorithm::HS256,
                with("aud", json!("someone-else")),
            ),
        ),
        (
            "wrong issuer",
            forged(
                TEST_JWT_SECRET,
                Algorithm::HS256,
                with("iss", json!("someone-else")),
            ),
        ),
        ("alg none", {
            let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
            let payload = URL_SAFE_NO_PAD.encode(good.to_string());
            format!("{header}.{payload}.")
        }),
        ("tampered role", {
            let clerk = token(&app, "clerk").await;
            let mut parts: Vec<String> = clerk.split('.').map(str::to_owned).collect();
            let mut c = claims_of(&clerk);
            c["role"] = json!("ADMIN");
            parts[1] = URL_SAFE_NO_PAD.encode(c.to_string());
            parts.join(".")
        }),
        ("garbage", "not-a-jwt".to_owned()),
    ];
    for (what, jwt) in cases {
        let (_, body) = app.graphql_as(&jwt, USERS, json!({})).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{what}: {body}");
        assert!(
            body["data"].is_null() || body["data"]["users"].is_null(),
            "{what}"
        );
    }
}

const REFRESH: &str =
    "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }";
const LOGOUT: &str = "mutation($t: String!) { logout(refreshToken: $t) }";

#[actix_web::test]
async fn a_refresh_token_works_once_and_reuse_revokes_the_family() {
    let start = chrono::Utc::now();
    let app = crate::helpers::spawn_app_with(|s| s.fixed_clock = Some(start)).await;
    user(
        &app,
        "clerk",
        Role::OfficeClerk,
        Some("aktau-school-1"),
        None,
    )
    .await;
    let first = login(&app, "clerk").await["refreshToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let (_, rotated) = app.graphql(REFRESH, json!({ "t": first })).await;
    let second = rotated["data"]["refreshToken"]["refreshToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{rotated}"))
        .to_owned();
    assert_ne!(first, second);

    // A second tab presenting the same token within the grace window gets the same session.
    app.clock.set(start + chrono::Duration::seconds(10));
    let (_, again) = app.graphql(REFRESH, json!({ "t": first })).await;
    assert_eq!(
        again["data"]["refreshToken"]["refreshToken"], second,
        "{again}"
    );

    // The old token again after the window: refused, and the whole family with it.
    app.clock
        .set(start + chrono::Duration::seconds(api::store::accounts::REFRESH_GRACE_SECONDS + 1));
    let (_, reused) = app.graphql(REFRESH, json!({ "t": first })).await;
    assert_eq!(error_code(&reused), "UNAUTHENTICATED");
    let (_, after) = app.graphql(REFRESH, json!({ "t": second })).await;
    assert_eq!(
        error_code(&after),
        "UNAUTHENTICATED",
        "the successor dies with the family"
    );
}

/// Within the grace window the same token gives the same successor only while that successor
/// is unused: once the successor was itself used, presenting the old token is a reuse.
#[actix_web::test]
async fn an_old_token_after_its_successor_was_used_revokes_the_family() {
    let app = spawn_app().await;
    user(
        &app,
        "clerk",
        Role::OfficeClerk,
        Some("aktau-school-1"),
        None,
    )
    .await;
    let first = login(&app, "clerk").await["refreshToken"].clone();
    let (_, rotated) = app.graphql(REFRESH, json!({ "t": first })).await;
    let second = rotated["data"]["refreshToken"]["refreshToken"].clone();
    let (_, third) = app.graphql(REFRESH, json!({ "t": second })).await;
    let third = third["data"]["refreshToken"]["refreshToken"].clone();
    assert!(third.is_string());
    let (_, reused) = app.graphql(REFRESH, json!({ "t": first })).await;
    assert_eq!(error_code(&reused), "UNAUTHENTICATED");
    let (_, after) = app.graphql(REFRESH, json!({ "t": third })).await;
    assert_eq!(
        error_code(&after),
        "UNAUTHENTICATED",
        "the family is revoked"
    );
}

#[actix_web::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    user(
        &app,
        "clerk",
        Role::OfficeClerk,
        Some("aktau-school-1"),
        None,
    )
    .await;
    let refresh = login(&app, "clerk").await["refreshToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let (_, out) = app.graphql(LOGOUT, json!({ "t": refresh })).await;
    assert_eq!(out["data"]["logout"], true);
    let (_, again) = app.graphql(REFRESH, json!({ "t": refresh })).await;
    assert_eq!(error_code(&again), "UNAUTHENTICATED");
}

#[actix_web::test]
async fn deactivating_a_user_ends_their_sessions_at_once() {
    let app = spawn_app().await;
    user(&app, "admin", Role::Admin, None, None).await;
    user(&app, "analyst", Role::Admin, None, None).await;
    let admin = token(&app, "admin").await;
    let victim = login(&app, "analyst").await;
    let access = victim["accessToken"].as_str().expect("token");
    let (_, ok) = app.graphql_as(access, USERS, json!({})).await;
    assert!(ok["errors"].is_null());

    let (_, done) = app
        .graphql_as(
            &admin,
            "mutation { deactivateUser(username: \"analyst\") { active } }",
            json!({}),
        )
        .await;
    assert_eq!(done["data"]["deactivateUser"]["active"], false, "{done}");
    let (_, refused) = app.graphql_as(access, USERS, json!({})).await;
    assert_eq!(error_code(&refused), "UNAUTHENTICATED");
    let (_, refresh) = app
        .graphql(REFRESH, json!({ "t": victim["refreshToken"] }))
        .await;
    assert_eq!(error_code(&refresh), "UNAUTHENTICATED");
    let (_, login_again) = app
        .graphql(LOGIN, json!({ "u": "analyst", "p": PASSWORD }))
        .await;
    assert_eq!(error_code(&login_again), "UNAUTHENTICATED");
}

#[actix_web::test]
async fn a_changed_role_invalidates_tokens_issued_for_the_old_one() {
    let app = spawn_app().await;
    user(&app, "admin", Role::Admin, None, None).await;
    user(&app, "boss", Role::Admin, None, None).await;
    let admin = token(&app, "admin").await;
    let boss = token(&app, "boss").await;
    let (_, changed) = app
        .graphql_as(&admin, "mutation { changeRole(username: \"boss\", role: ANALYST, region: \"atyrau\") { role region } }", json!({}))
        .await;
    assert_eq!(
        changed["data"]["changeRole"],
        json!({ "role": "ANALYST", "region": "atyrau" }),
        "{changed}"
    );
    let (_, refused) = app.graphql_as(&boss, USERS, json!({})).await;
    assert_eq!(error_code(&refused), "UNAUTHENTICATED");
}

#[actix_web::test]
async fn repeated_failures_lock_the_account_without_revealing_whether_it_exists() {
    let app = spawn_app().await;
    user(
        &app,
        "clerk",
        Role::OfficeClerk,
        Some("aktau-school-1"),
        None,
    )
    .await;
    for name in ["clerk", "ghost"] {
        let mut codes = Vec::new();
        for _ in 0..6 {
            let (_, body) = app
                .graphql(LOGIN, json!({ "u": name, "p": "wrong password!" }))
                .await;
            codes.push(error_code(&body).to_owned());
        }
        assert_eq!(codes[..4], ["UNAUTHENTICATED"; 4], "{name}");
        assert_eq!(codes[4..], ["TOO_MANY_ATTEMPTS"; 2], "{name}");
    }
    // Locked: even the right password is refused for a while — HTTP 429 saying how long.
    let mut resp = app
        .client
        .post(format!("{}/graphql", app.address))
        .insert_header(("content-type", "application/json"))
        .send_body(
            json!({ "query": LOGIN, "variables": { "u": "clerk", "p": PASSWORD } }).to_string(),
        )
        .await
        .expect("answers");
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("900")
    );
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(error_code(&body), "TOO_MANY_ATTEMPTS");
}

#[actix_web::test]
async fn applicants_log_in_by_a_valid_iin() {
    let app = spawn_app().await;
    let iin = domain::identity::Iin::parse("850305400120").expect("valid");
    api::store::accounts::create_applicant(&app.db, &iin, "Айгерим Серікова", PASSWORD)
        .await
        .expect("created");
    let q = "mutation($i: String!, $p: String!) { applicantLogin(iin: $i, password: $p) { role accessToken } }";
    let (_, bad) = app
        .graphql(q, json!({ "i": "850305400121", "p": PASSWORD }))
        .await;
    assert_eq!(error_code(&bad), "INVALID_IIN");
    let (_, ok) = app
        .graphql(q, json!({ "i": "850305400120", "p": PASSWORD }))
        .await;
    assert_eq!(ok["data"]["applicantLogin"]["role"], "APPLICANT", "{ok}");
    let jwt = ok["data"]["applicantLogin"]["accessToken"]
        .as_str()
        .expect("token");
    let (_, forbidden) = app.graphql_as(jwt, USERS, json!({})).await;
    assert_eq!(error_code(&forbidden), "FORBIDDEN");
}

async fn user_count(app: &TestApp) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    entity::app_user::Entity::find()
        .count(&app.db)
        .await
        .expect("count")
}

#[actix_web::test]
async fn administration_creates_organisations_and_users_and_refuses_everyone_else() {
    let app = spawn_app().await;
    user(&app, "admin", Role::Admin, None, None).await;
    user(&app, "head", Role::Head, Some("aktau-school-1"), None).await;
    let admin = token(&app, "admin").await;
    let head = token(&app, "head").await;
    let create_user =
        "mutation($i: CreateUserInput!) { createUser(input: $i) { username role organisation } }";
    let input = json!({ "i": { "username": "new-exec", "password": PASSWORD, "role": "EXECUTOR", "organisation": "aktau-school-1" } });

    let before = user_count(&app).await;
    let (_, refused) = app.graphql_as(&head, create_user, input.clone()).await;
    assert_eq!(error_code(&refused), "FORBIDDEN");
    assert_eq!(user_count(&app).await, before, "nothing created");

    let (_, created) = app.graphql_as(&admin, create_user, input.clone()).await;
    assert_eq!(
        created["data"]["createUser"],
        json!({ "username": "new-exec", "role": "EXECUTOR", "organisation": "aktau-school-1" })
    );
    let (_, taken) = app.graphql_as(&admin, create_user, input).await;
    assert_eq!(error_code(&taken), "CONFLICT");

    let (_, wrong_place) = app
        .graphql_as(&admin, create_user, json!({ "i": { "username": "op", "password": PASSWORD, "role": "CORPORATION_OPERATOR", "organisation": "aktau-school-1" } }))
        .await;
    assert_eq!(
        error_code(&wrong_place),
        "BAD_USER_INPUT",
        "an operator works at a State Corporation branch"
    );

    let create_org = "mutation($i: CreateOrganisationInput!) { createOrganisation(input: $i) { code kind region { code } workingHours { open close lunchStart } } }";
    let (_, org) = app
        .graphql_as(&admin, create_org, json!({ "i": { "code": "aktobe-school-7", "kind": "SCHOOL", "region": "aktobe",
            "nameKk": "Ақтөбе №7 мектеп", "nameEn": "Aktobe school No. 7", "workingHours": { "open": "08:30:00", "close": "17:30:00", "lunchStart": "12:30:00", "lunchEnd": "13:30:00" } } }))
        .await;
    assert_eq!(
        org["data"]["createOrganisation"],
        json!({ "code": "aktobe-school-7", "kind": "SCHOOL", "region": { "code": "aktobe" }, "workingHours": { "open": "08:30", "close": "17:30", "lunchStart": "12:30" } }),
        "{org}"
    );
    let (_, bad_hours) = app
        .graphql_as(&admin, create_org, json!({ "i": { "code": "x-school", "kind": "SCHOOL", "region": "aktobe",
            "nameKk": "x", "nameEn": "x", "workingHours": { "open": "18:00:00", "close": "09:00:00" } } }))
        .await;
    assert_eq!(error_code(&bad_hours), "BAD_USER_INPUT");
}

#[actix_web::test]
async fn admins_import_regulations_and_calendars_through_the_api() {
    let app = spawn_app().await;
    user(&app, "admin", Role::Admin, None, None).await;
    user(
        &app,
        "clerk",
        Role::OfficeClerk,
        Some("aktau-school-1"),
        None,
    )
    .await;
    let admin = token(&app, "admin").await;
    let clerk = token(&app, "clerk").await;
    let (_, text) = domain::regulation::BUNDLED_REGULATIONS[0];
    let changed = text.replacen(
        "{ value = 3, unit = \"WORKING_DAYS\" }",
        "{ value = 4, unit = \"WORKING_DAYS\" }",
        1,
    );
    let q = "mutation($f: String!, $d: String!) { importRegulation(fileName: $f, document: $d) { code version created } }";
    let vars = json!({ "f": "changed.toml", "d": changed });
    let (_, refused) = app.graphql_as(&clerk, q, vars.clone()).await;
    assert_eq!(error_code(&refused), "FORBIDDEN");
    let (_, ok) = app.graphql_as(&admin, q, vars).await;
    assert_eq!(
        ok["data"]["importRegulation"],
        json!({ "code": "mangystau-school-admission", "version": 2, "created": true })
    );
    let (_, broken) = app
        .graphql_as(
            &admin,
            q,
            json!({ "f": "broken.toml", "d": text.replacen("HEAD", "BOSS", 1) }),
        )
        .await;
    assert_eq!(error_code(&broken), "INVALID_REGULATION");
    assert!(
        broken["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("broken.toml")),
        "{broken}"
    );

    let calendar = domain::BUNDLED_CALENDAR.replace(
        "# Working-day balances",
        "[[transfer]]\nwork = \"2026-01-03\"\nrest = \"2026-01-05\"\nact = \"test order\"\n\n# Working-day balances",
    );
    let cq = "mutation($d: String!) { importCalendar(document: $d) { version created } }";
    let (_, imported) = app.graphql_as(&admin, cq, json!({ "d": calendar })).await;
    assert_eq!(
        imported["data"]["importCalendar"],
        json!({ "version": 2, "created": true }),
        "{imported}"
    );
    let (_, year) = app
        .graphql(
            "{ workingCalendar(year: 2026) { calendarVersion workingWeekendDays { date } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        year["data"]["workingCalendar"]["calendarVersion"], 2,
        "in force at once"
    );
    assert_eq!(
        year["data"]["workingCalendar"]["workingWeekendDays"],
        json!([{ "date": "2026-01-03" }])
    );
}

/// `me` tells a client who is calling and which mailboxes they work; anonymous callers get
/// `UNAUTHENTICATED`.
#[actix_web::test]
async fn me_describes_the_caller() {
    let app = spawn_app().await;
    user(&app, "head", Role::Head, Some("aktau-school-1"), None).await;
    user(
        &app,
        "ek-analyst",
        Role::Analyst,
        None,
        Some("east-kazakhstan"),
    )
    .await;
    let q = "{ me { username iin fullName role organisation region mailboxes } }";
    let (_, body) = app
        .graphql_as(&token(&app, "head").await, q, json!({}))
        .await;
    assert_eq!(
        body["data"]["me"],
        json!({ "username": "head", "iin": null, "fullName": null, "role": "HEAD",
                "organisation": "aktau-school-1", "region": "mangystau", "mailboxes": ["HEAD"] }),
        "{body}"
    );
    let (_, body) = app
        .graphql_as(&token(&app, "ek-analyst").await, q, json!({}))
        .await;
    assert_eq!(body["data"]["me"]["mailboxes"], json!([]), "{body}");
    assert_eq!(body["data"]["me"]["region"], "east-kazakhstan");
    let (_, body) = app.graphql(q, json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
}

//! Findings of the attack probes on the new surfaces (issue 23), each with the test that failed
//! before its fix: cross-site simple requests, the printed origin, persisted queries bounded in
//! bytes, CORS preflights with request ids.

use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app, spawn_app_with, TestApp};

async fn post_as(app: &TestApp, content_type: Option<&str>, body: String) -> (u16, Value) {
    let mut req = app
        .client
        .post(format!("{}/graphql", app.address))
        .insert_header(("origin", "https://evil.example"));
    if let Some(t) = content_type {
        req = req.insert_header(("content-type", t));
    }
    let mut res = req.send_body(body).await.expect("answers");
    let status = res.status().as_u16();
    let bytes = res.body().await.expect("a body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A page on another origin may POST text/plain, a form or multipart without a preflight:
/// nothing such is run — no login attempt is counted, no query registered.
#[actix_web::test]
async fn cross_site_simple_requests_run_nothing() {
    let app = spawn_app().await;
    let login = json!({
        "query": "mutation { login(username: \"admin\", password: \"guess\") { accessToken } }"
    })
    .to_string();
    for content_type in [
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let (status, body) = post_as(&app, content_type, login.clone()).await;
        assert_eq!(
            (status, error_code(&body)),
            (400, "CSRF_PREVENTED"),
            "{content_type:?}: {body}"
        );
    }
    // Multipart without a bearer token (the only way a foreign page sends one unasked) is
    // refused before its body is read.
    let (status, body) = post_as(
        &app,
        Some("multipart/form-data; boundary=b"),
        format!(
            "--b\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{login}\r\n\
             --b\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{}}\r\n--b--\r\n"
        ),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (401, "UNAUTHENTICATED"),
        "{body}"
    );
    // None of the attempts reached the login: the account is not locked after five of them.
    use sea_orm::{EntityTrait, PaginatorTrait};
    let attempts = entity::login_throttle::Entity::find()
        .count(&app.db)
        .await
        .expect("counted");
    assert_eq!(attempts, 0);
    // JSON, as every client sends it, runs (and fails as a wrong password does).
    let (status, body) = post_as(&app, Some("application/json"), login).await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(error_code(&body), "CSRF_PREVENTED");
}

/// Without `public_url` (development only) the printed origin is the request's Host, never a
/// client's forwarded header, so a 3,000-character one neither lands in a QR code nor breaks
/// the document (it answered 500 `INTERNAL`); outside development the server does not start
/// without `public_url`.
#[actix_web::test]
async fn the_printed_origin_is_configured_or_the_hosts_never_a_forwarded_header() {
    use crate::cases::{application, open, People};
    let mut settings = None;
    let dev = spawn_app_with(|s| {
        s.public_url = None;
        s.dev = true;
        s.fixed_clock = Some(
            chrono::DateTime::parse_from_rfc3339("2025-06-02T10:00:00+05:00")
                .expect("rfc3339")
                .with_timezone(&chrono::Utc),
        );
        settings = Some(s.clone());
    })
    .await;
    let mut strict = settings.expect("settings");
    strict.dev = false;
    let refused = api::startup::Application::build(&strict).await;
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("public_url"), "{message}");

    let mut people = People::new(&dev);
    let clerk = people
        .staff("aktau-school-1", domain::identity::Role::OfficeClerk)
        .await;
    let case = open(
        &dev,
        &clerk,
        "registerApplication",
        application(
            "mangystau-secondary-education-duplicates",
            None,
            "850305400120",
            json!({}),
        ),
    )
    .await;
    let (_, b) = dev
        .graphql_as(
            &clerk,
            "query($c: ID!) { case(id: $c) { documentPdf(kind: RECEIPT) { url } } }",
            json!({ "c": case["data"]["r"]["id"] }),
        )
        .await;
    let url = b["data"]["case"]["documentPdf"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_owned();
    for forwarded in ["verify-qyzmet.evil.example".to_owned(), "a".repeat(3000)] {
        let mut res = dev
            .client
            .get(format!("{}{url}", dev.address))
            .insert_header(("x-forwarded-host", forwarded.as_str()))
            .send()
            .await
            .expect("answers");
        assert_eq!(res.status().as_u16(), 200, "{}", forwarded.len());
        let pdf = res.body().limit(1 << 24).await.expect("a body");
        // (Which origin is printed is `network::request_origin`'s unit test.)
        assert!(pdf.starts_with(b"%PDF-"));
    }
}

/// A query longer than the registration limit runs but is not kept; the stored texts stay
/// within their byte bound.
#[actix_web::test]
async fn persisted_queries_are_bounded_in_bytes() {
    let app = spawn_app().await;
    // A valid query padded with a comment past the registration limit.
    let text = format!(
        "query Big {{ apiVersion }}\n#{}",
        "x".repeat(api::persisted::MAX_REGISTERED_BYTES)
    );
    let hash = api::persisted::hash(&text);
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let (status, body) = post_as(
        &app,
        Some("application/json"),
        json!({ "query": text, "extensions": ext }).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["apiVersion"].is_string(), "it runs: {body}");
    let (_, body) = post_as(
        &app,
        Some("application/json"),
        json!({ "extensions": ext }).to_string(),
    )
    .await;
    assert_eq!(
        error_code(&body),
        "PERSISTED_QUERY_NOT_FOUND",
        "not kept: {body}"
    );
    use sea_orm::{EntityTrait, PaginatorTrait};
    let stored = entity::persisted_query::Entity::find()
        .count(&app.db)
        .await
        .expect("counted");
    assert_eq!(stored, 0);
    // The table's byte bound keeps the newest texts that fit and forgets the older ones.
    for i in 0..3 {
        let text = format!("query Q{i} {{ apiVersion }}");
        let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": api::persisted::hash(&text) } });
        let (status, body) = post_as(
            &app,
            Some("application/json"),
            json!({ "query": text, "extensions": ext }).to_string(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let one = "query Q0 { apiVersion }".len() as i64;
    api::store::persisted::forget_beyond_bytes(&app.db, 2 * one)
        .await
        .expect("forgets");
    let kept: Vec<String> = entity::persisted_query::Entity::find()
        .all(&app.db)
        .await
        .expect("read")
        .into_iter()
        .map(|q| q.query)
        .collect();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(
        !kept.iter().any(|q| q.starts_with("query Q0")),
        "the oldest goes: {kept:?}"
    );
}

/// A CORS preflight, allowed or refused, carries a request id like every other answer.
#[actix_web::test]
async fn cors_preflights_carry_a_request_id() {
    let app = spawn_app_with(|s| s.cors_origins = vec!["https://clerk.example.kz".into()]).await;
    for (origin, headers) in [
        (
            "https://clerk.example.kz",
            "authorization, content-type, x-request-id, traceparent, baggage, sentry-trace",
        ),
        ("https://evil.example", "content-type"),
    ] {
        let res = app
            .client
            .request(
                actix_web::http::Method::OPTIONS,
                format!("{}/graphql", app.address),
            )
            .insert_header(("origin", origin))
            .insert_header(("access-control-request-method", "POST"))
            .insert_header(("access-control-request-headers", headers))
            .insert_header(("x-request-id", "preflight-1"))
            .send()
            .await
            .expect("answers");
        assert_eq!(
            res.headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok()),
            Some("preflight-1"),
            "{origin}: {:?}",
            res.headers()
        );
        if origin == "https://clerk.example.kz" {
            assert_eq!(res.status().as_u16(), 200, "tracing headers are allowed");
        }
    }
}

/// Bad input is a typed error on every path, never `INTERNAL`: a missing variable, a string
/// where a file is expected, a forged upload marker (async-graphql would panic reading it), a
/// NUL in a CSV report's parameters (it reached PostgreSQL).
#[actix_web::test]
async fn bad_input_is_never_internal() {
    use crate::cases::People;
    use domain::identity::Role;
    let app = spawn_app().await;
    // A required variable not sent.
    let (_, b) = app
        .graphql(
            "query($c: String!) { regulationVersions(code: $c) { version } }",
            json!(null),
        )
        .await;
    assert_eq!(error_code(&b), "BAD_USER_INPUT", "{b}");
    let mut people = People::new(&app);
    let (clerk, case) = clerk_and_case(&app, &mut people).await;
    let attach = "mutation($c: ID!, $file: Upload!) { attachFile(caseId: $c, file: $file) { id } }";
    for file in [
        "a string",
        "#__graphql_file__:7",
        "#__graphql_file__:x",
        "#__graphql_file__:0",
    ] {
        let (_, b) = app
            .graphql_as(&clerk, attach, json!({ "c": case, "file": file }))
            .await;
        assert_eq!(error_code(&b), "BAD_USER_INPUT", "{file}: {b}");
    }
    let literal = format!(
        "mutation {{ attachFile(caseId: {}, file: \"#__graphql_file__:0\") {{ id }} }}",
        case
    );
    let (_, b) = app.graphql_as(&clerk, &literal, json!({})).await;
    assert_eq!(error_code(&b), "BAD_USER_INPUT", "{b}");
    // A CSV report's parameters follow the same text rules.
    let analyst = people
        .user("hardening-analyst", Role::Analyst, None, None)
        .await;
    let res = app
        .client
        .get(format!("{}/reports/cases.csv?providers=a%00b", app.address))
        .insert_header(("authorization", format!("Bearer {analyst}")))
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status().as_u16(), 400);
}

/// Text limits count characters, as documented, not UTF-8 bytes (which halved them for Kazakh
/// and Russian); an IIN in full-width digits is `INVALID_IIN`, as the schema promises.
#[actix_web::test]
async fn text_limits_count_characters() {
    use crate::cases::{application, open, People};
    use domain::identity::Role;
    let app = spawn_app().await;
    let mut people = People::new(&app);
    let clerk = people.staff("aktau-school-1", Role::OfficeClerk).await;
    let named = |name: String| {
        let mut a = application(
            "mangystau-secondary-education-duplicates",
            None,
            "850305400120",
            json!({}),
        );
        a["applicant"]["fullName"] = json!(name);
        a
    };
    // 200 Cyrillic characters (400 bytes): within the limit of 200.
    let ok = open(&app, &clerk, "registerApplication", named("Ә".repeat(200))).await;
    assert_eq!(ok["data"]["r"]["status"], "IN_PROGRESS", "{ok}");
    let over = open(&app, &clerk, "registerApplication", named("Ә".repeat(201))).await;
    assert_eq!(error_code(&over), "BAD_USER_INPUT", "{over}");
    let mut wide = application(
        "mangystau-secondary-education-duplicates",
        None,
        "８５０３０５４００１２０",
        json!({}),
    );
    wide["applicant"]["iin"] = json!("８５０３０５４００１２０");
    let b = open(&app, &clerk, "registerApplication", wide).await;
    assert_eq!(error_code(&b), "INVALID_IIN", "{b}");
}

/// `verifyDocument` over the subscription socket counts against the connection's address, like
/// `GET /verify` and HTTP GraphQL (socket requests were counted against no address at all).
#[actix_web::test]
async fn document_verification_over_the_socket_counts_against_the_address() {
    use crate::subscriptions::{connect, next, subscribe};
    let app = spawn_app_with(|s| s.limits.verify_per_minute = 2).await;
    for _ in 0..2 {
        let res = app
            .client
            .get(format!("{}/verify/000000000000", app.address))
            .insert_header(("accept", "application/json"))
            .send()
            .await
            .expect("answers");
        assert_eq!(res.status().as_u16(), 200);
    }
    let mut people = crate::cases::People::new(&app);
    let applicant = people.applicant("850305400120").await;
    let mut socket = connect(&app, &applicant).await.expect("accepted");
    subscribe(
        &mut socket,
        "v",
        "{ verifyDocument(number: \"000000000000\") { exists } }",
        json!({}),
    )
    .await;
    let m = next(&mut socket).await.expect("an answer");
    let code = m["payload"]["errors"][0]["extensions"]["code"]
        .as_str()
        .or_else(|| m["payload"][0]["extensions"]["code"].as_str())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(code, "RATE_LIMITED", "{m}");
}

/// The bad inputs the suite knows, through every transport — POST, GET, the subscription
/// socket, the CSV and file routes — answer with a typed error: never `INTERNAL`, never a
/// database's text.
#[actix_web::test]
async fn no_bad_input_answers_internal_on_any_transport() {
    use crate::cases::People;
    use crate::subscriptions::{connect, next};
    use futures_util::SinkExt;
    let app = spawn_app().await;
    let mut people = People::new(&app);
    let (clerk, case) = clerk_and_case(&app, &mut people).await;
    let analyst = people
        .user(
            "corpus-analyst",
            domain::identity::Role::Analyst,
            None,
            None,
        )
        .await;

    let by_id = "query($c: ID!) { case(id: $c) { id number } }";
    let inbox = "query($a: String, $s: String) { inbox(mailbox: OFFICE, first: 5, after: $a, filter: { search: $s }) { totalCount } }";
    let attach = "mutation($c: ID!, $f: Upload!) { attachFile(caseId: $c, file: $f) { id } }";
    let corpus: Vec<(String, Value)> = vec![
        (by_id.into(), json!({ "c": "not-a-number" })),
        (by_id.into(), json!({ "c": "99999999999999999999999" })),
        (by_id.into(), json!({ "c": "-1" })),
        (by_id.into(), json!({ "c": "1\u{0}" })),
        (by_id.into(), json!({})),
        (by_id.into(), Value::Null),
        (by_id.into(), json!({ "c": { "nested": [1, 2] } })),
        ("query($n: String!) { caseByNumber(number: $n) { id } }".into(), json!({ "n": "x".repeat(200_000) })),
        ("query($n: String!) { caseByNumber(number: $n) { id } }".into(), json!({ "n": "KZ47\u{202E}-1' OR 1=1 --" })),
        (inbox.into(), json!({ "a": "garbage-cursor" })),
        (inbox.into(), json!({ "a": "eyJ4Ijo1fQ" })),
        (inbox.into(), json!({ "s": "%_\\'\"; DROP TABLE service_case; --" })),
        (inbox.into(), json!({ "s": "ә" })),
        ("{ inbox(mailbox: OFFICE, first: -1) { totalCount } }".into(), json!({})),
        ("{ inbox(mailbox: OFFICE, first: 100000) { totalCount } }".into(), json!({})),
        ("{ inbox(mailbox: NOPE) { totalCount } }".into(), json!({})),
        (attach.into(), json!({ "c": case, "f": "#__graphql_file__:3" })),
        (attach.into(), json!({ "c": case, "f": 5 })),
        (attach.into(), json!({ "c": case, "f": "a string" })),
        ("{ legalDeadline(start: \"not a date\", value: 1, unit: WORKING_DAYS, region: \"atyrau\") { due } }".into(), json!({})),
        ("{ legalDeadline(start: \"2999-01-01T00:00:00Z\", value: 2000000000, unit: WORKING_DAYS, region: \"atyrau\") { due } }".into(), json!({})),
        ("{ legalDeadline(start: \"2025-01-01T00:00:00Z\", value: 0, unit: MINUTES, region: \"nowhere\") { due } }".into(), json!({})),
        ("{ workingCalendar(year: -5) { workingDays } }".into(), json!({})),
        ("{ workingCalendar(year: 99999999999) { workingDays } }".into(), json!({})),
        ("query($c: String!) { regulationVersions(code: $c) { version } }".into(), Value::Null),
        ("{ verifyDocument(number: \"\") { exists } }".into(), json!({})),
        ("{ __typename ".into(), json!({})),
        ("query { ...Missing }".into(), json!({})),
        ("mutation { login(username: \"a\\u0000\", password: \"x\") { accessToken } }".into(), json!({})),
        ("mutation { refreshToken(refreshToken: \"zzz\") { accessToken } }".into(), json!({})),
    ];
    let leaks = [
        "sqlx",
        "SQL",
        "syntax error",
        "database",
        "relation \"",
        "panicked",
    ];
    let check = |how: &str, q: &str, body: &Value| {
        let text = body.to_string();
        for e in body["errors"].as_array().into_iter().flatten() {
            assert_ne!(e["extensions"]["code"], "INTERNAL", "{how} {q}: {body}");
        }
        for leak in leaks {
            assert!(!text.contains(leak), "{how} {q}: {leak}: {body}");
        }
    };
    let mut socket = connect(&app, &clerk).await.expect("accepted");
    for (i, (q, vars)) in corpus.iter().enumerate() {
        // POST.
        let (status, body) = app.graphql_as(&clerk, q, vars.clone()).await;
        assert_ne!(status, 500, "POST {q}: {body}");
        check("POST", q, &body);
        // Multipart (the operations alone, and with a file for a variable it names).
        let operations = json!({ "query": q, "variables": vars }).to_string();
        let parts = [
            crate::helpers::field("operations", operations.clone()),
            crate::helpers::field("map", r#"{"0":["variables.f"]}"#),
            crate::helpers::file("0", "scan.pdf", b"%PDF-1.7\n".to_vec()),
        ];
        let (status, body) = crate::helpers::post_multipart(&app, &clerk, &parts).await;
        assert_ne!(status, 500, "multipart {q}: {body}");
        check("multipart", q, &body);
        // GET (queries; a mutation is 405).
        let url = format!(
            "{}/graphql?query={}&variables={}",
            app.address,
            urlencoding(q),
            urlencoding(&vars.to_string())
        );
        // (A URL longer than the client sends is the POST's case.)
        if url.len() < 32 * 1024 {
            let mut res = app
                .client
                .get(url)
                .insert_header(("authorization", format!("Bearer {clerk}")))
                .send()
                .await
                .expect("answers");
            assert_ne!(res.status().as_u16(), 500, "GET {q}");
            let bytes = res.body().limit(1 << 22).await.expect("a body");
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            check("GET", q, &body);
        }
        // The socket.
        let msg = json!({ "id": format!("c{i}"), "type": "subscribe", "payload": { "query": q, "variables": vars } });
        socket
            .send(awc::ws::Message::Text(msg.to_string().into()))
            .await
            .expect("sends");
        loop {
            let m = match next(&mut socket).await {
                Ok(m) => m,
                Err(reason) => {
                    // A message over the socket's limit closes it (1009), as documented.
                    assert_eq!(
                        reason.as_ref().map(|r| r.code),
                        Some(awc::ws::CloseCode::Size),
                        "socket {q}: {reason:?}"
                    );
                    socket = connect(&app, &clerk).await.expect("accepted again");
                    break;
                }
            };
            check("socket", q, &m);
            if m["payload"].is_array() {
                for e in m["payload"].as_array().into_iter().flatten() {
                    assert_ne!(e["extensions"]["code"], "INTERNAL", "socket {q}: {m}");
                }
            }
            if m["type"] == "complete" || m["type"] == "error" {
                break;
            }
        }
    }
    // The CSV and file routes.
    for (path, token) in [
        ("/reports/cases.csv?from=garbage", &analyst),
        ("/reports/cases.csv?from=2025-13-45T00:00:00Z", &analyst),
        ("/reports/cases.csv?providers=%00", &analyst),
        (
            "/reports/steps.csv?groupBy=REGION,REGION,REGION&channels=NOPE",
            &analyst,
        ),
        ("/reports/cases.csv?token=garbage", &analyst),
        ("/files/abc", &clerk),
        ("/files/99999999999999999999", &clerk),
        ("/files/-1?token=x", &clerk),
        ("/cases/abc/documents/receipt.pdf", &clerk),
        ("/cases/1/documents/x.pdf?language=zz", &clerk),
        (
            "/cases/99999999999999999999/documents/receipt.pdf?language=ru",
            &clerk,
        ),
        ("/verify/%00", &clerk),
        ("/verify/x%27%20OR%201=1", &clerk),
    ] {
        let mut res = app
            .client
            .get(format!("{}{path}", app.address))
            .insert_header(("authorization", format!("Bearer {token}")))
            .send()
            .await
            .expect("answers");
        assert_ne!(res.status().as_u16(), 500, "{path}");
        let bytes = res.body().limit(1 << 22).await.expect("a body");
        let text = String::from_utf8_lossy(&bytes);
        for leak in leaks {
            assert!(!text.contains(leak), "{path}: {leak}: {text}");
        }
        assert!(!text.contains("INTERNAL"), "{path}: {text}");
    }
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A clerk of Aktau school No. 1 and a case they registered.
async fn clerk_and_case(app: &TestApp, people: &mut crate::cases::People<'_>) -> (String, Value) {
    let clerk = people
        .staff("aktau-school-1", domain::identity::Role::OfficeClerk)
        .await;
    let case = crate::cases::open(
        app,
        &clerk,
        "registerApplication",
        crate::cases::application(
            "mangystau-secondary-education-duplicates",
            None,
            "850305400120",
            json!({}),
        ),
    )
    .await["data"]["r"]["id"]
        .clone();
    (clerk, case)
}

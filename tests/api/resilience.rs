//! What a busy morning, an attacker and a database outage find: parallel guesses, parallel
//! refreshes, a database that cannot be reached. Every answer is a typed one — never `INTERNAL`.

use std::time::Duration;

use api::configuration::Backend;
use domain::identity::Role;
use futures_util::future::join_all;
use sea_orm::{ConnectOptions, ConnectionTrait, Database};
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, test_backend, TestApp};

const PASSWORD: &str = "correct horse battery staple";
const LOGIN: &str = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) {
    accessToken refreshToken } }";
const REFRESH: &str =
    "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }";

async fn clerk(app: &TestApp, username: &str) {
    let new = api::store::accounts::NewUser {
        username: username.into(),
        password: PASSWORD.into(),
        role: Role::OfficeClerk,
        organisation: Some("aktau-school-1".into()),
        region: None,
        display_name: None,
        iin: None,
    };
    api::store::accounts::create_user(&app.db, &new)
        .await
        .expect("user created");
}

fn code(body: &Value) -> String {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("none")
        .to_owned()
}

#[actix_web::test]
async fn a_parallel_burst_of_guesses_checks_at_most_the_limit_and_never_fails_internally() {
    let app = spawn_app_with(|_| {}).await;
    clerk(&app, "clerk").await;
    let guesses = (0..60).map(|i| {
        app.graphql(
            LOGIN,
            json!({ "u": "clerk", "p": format!("wrong guess {i}") }),
        )
    });
    let answers = join_all(guesses).await;
    let codes: Vec<String> = answers.iter().map(|(_, b)| code(b)).collect();
    let checked = codes.iter().filter(|c| *c == "UNAUTHENTICATED").count();
    let refused = codes.iter().filter(|c| *c == "TOO_MANY_ATTEMPTS").count();
    assert_eq!(checked + refused, 60, "{codes:?}");
    // Each UNAUTHENTICATED is a password checked and found wrong; the fifth check locks and
    // answers TOO_MANY_ATTEMPTS itself.
    assert!(
        checked < api::store::accounts::MAX_FAILURES as usize,
        "{checked} passwords checked: {codes:?}"
    );
    // The right password after the burst is refused: the account is locked.
    let (_, body) = app
        .graphql(LOGIN, json!({ "u": "clerk", "p": PASSWORD }))
        .await;
    assert_eq!(code(&body), "TOO_MANY_ATTEMPTS", "{body}");
}

/// Two tabs (here twelve) refreshing one session at once keep the login: every answer is the
/// same successor, none is an error — `INTERNAL` least of all.
#[actix_web::test]
async fn parallel_uses_of_one_refresh_token_give_one_session_and_no_internal_error() {
    let app = spawn_app_with(|_| {}).await;
    clerk(&app, "clerk").await;
    let (_, body) = app
        .graphql(LOGIN, json!({ "u": "clerk", "p": PASSWORD }))
        .await;
    let token = body["data"]["login"]["refreshToken"].clone();
    assert!(token.is_string(), "{body}");
    let answers = join_all((0..12).map(|_| app.graphql(REFRESH, json!({ "t": token })))).await;
    let successors: std::collections::BTreeSet<String> = answers
        .iter()
        .filter_map(|(_, b)| b["data"]["refreshToken"]["refreshToken"].as_str())
        .map(str::to_owned)
        .collect();
    let codes: Vec<String> = answers
        .iter()
        .filter(|(_, b)| !b["errors"].is_null())
        .map(|(_, b)| code(b))
        .collect();
    assert!(codes.is_empty(), "{codes:?}");
    assert_eq!(successors.len(), 1, "one session: {successors:?}");
    // That session goes on.
    let next = successors.into_iter().next().unwrap_or_default();
    let (_, body) = app.graphql(REFRESH, json!({ "t": next })).await;
    assert!(
        body["data"]["refreshToken"]["refreshToken"].is_string(),
        "{body}"
    );
}

/// While the database cannot be reached, a valid session answers a retryable
/// `SERVICE_UNAVAILABLE` (HTTP 503, `Retry-After`), never `UNAUTHENTICATED` or `INTERNAL`; once
/// it is back, the same tokens work. On PostgreSQL the database stops taking connections and
/// the server's are cut; on SQLite another process holds the write lock past the busy timeout.
#[actix_web::test]
async fn an_unreachable_database_answers_service_unavailable_and_sessions_survive() {
    let app = spawn_app_with(|s| s.database.acquire_timeout = Duration::from_secs(1)).await;
    clerk(&app, "clerk").await;
    let (_, body) = app
        .graphql(LOGIN, json!({ "u": "clerk", "p": PASSWORD }))
        .await;
    let access = body["data"]["login"]["accessToken"]
        .as_str()
        .expect("a token")
        .to_owned();
    let refresh = body["data"]["login"]["refreshToken"].clone();
    let inbox = "{ inbox(mailbox: OFFICE, first: 1) { totalCount } }";

    match test_backend() {
        Backend::Postgres => {
            let name = app
                .database_url()
                .rsplit_once('/')
                .map(|(_, n)| n.to_owned())
                .expect("a database name");
            let admin = Database::connect(crate::helpers::pg_admin_url())
                .await
                .expect("admin");
            admin
                .execute_unprepared(&format!(
                    "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false; \
                     SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                ))
                .await
                .expect("outage");
            let (status, body) = app.graphql_as(&access, inbox, json!({})).await;
            assert_eq!(
                (status, code(&body)),
                (503, "SERVICE_UNAVAILABLE".into()),
                "{body}"
            );
            assert!(
                !body.to_string().contains("allow"),
                "no driver text: {body}"
            );
            admin
                .execute_unprepared(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"))
                .await
                .expect("recovery");
        }
        Backend::Sqlite => {
            let mut opts = ConnectOptions::new(app.database_url().to_owned());
            opts.max_connections(1);
            let other = Database::connect(opts).await.expect("another process");
            other
                .execute_unprepared("BEGIN EXCLUSIVE")
                .await
                .expect("write lock");
            let mut resp = app
                .client
                .post(format!("{}/graphql", app.address))
                .insert_header(("content-type", "application/json"))
                .send_body(json!({ "query": REFRESH, "variables": { "t": refresh } }).to_string())
                .await
                .expect("answers");
            let retry = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body: Value = resp.json().await.expect("JSON");
            assert_eq!(
                (resp.status().as_u16(), code(&body)),
                (503, "SERVICE_UNAVAILABLE".into()),
                "{body}"
            );
            assert_eq!(retry.as_deref(), Some("2"));
            other.execute_unprepared("COMMIT").await.expect("released");
        }
    }
    // Back: the access token still works, and so does the refresh token (nothing was used up).
    let mut back = None;
    for _ in 0..20 {
        let (status, body) = app.graphql_as(&access, inbox, json!({})).await;
        if status == 200 {
            back = Some(body);
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(250)).await;
    }
    let body = back.expect("the service recovers");
    assert!(body["errors"].is_null(), "{body}");
    let (_, body) = app.graphql(REFRESH, json!({ "t": refresh })).await;
    assert!(
        body["data"]["refreshToken"]["accessToken"].is_string(),
        "{body}"
    );
}

/// Behind a trusted proxy (a State Corporation hall's gateway), failures from one client lock
/// that client's address, not everyone's; a client that is not a proxy cannot pick its own
/// address with the header.
#[actix_web::test]
async fn behind_a_trusted_proxy_the_lockout_is_per_client() {
    let app = spawn_app_with(|s| {
        s.proxies.trusted = vec!["127.0.0.1/32".parse().expect("cidr")];
    })
    .await;
    clerk(&app, "clerk").await;
    let login_from = |xff: &'static str, user: &'static str, password: &'static str| {
        let app = &app;
        async move {
            let mut resp = app
                .client
                .post(format!("{}/graphql", app.address))
                .insert_header(("content-type", "application/json"))
                .insert_header(("x-forwarded-for", xff))
                .send_body(
                    json!({ "query": LOGIN, "variables": { "u": user, "p": password } })
                        .to_string(),
                )
                .await
                .expect("answers");
            let body: Value = resp.json().await.expect("JSON");
            body
        }
    };
    // 25 failures for unknown accounts from one client behind the proxy lock that address.
    for i in 0..25 {
        let users = ["ghost-a", "ghost-b", "ghost-c", "ghost-d", "ghost-e"];
        login_from("10.9.9.9", users[i % 5], "nope").await;
    }
    let body = login_from("10.9.9.9", "clerk", PASSWORD).await;
    assert_eq!(code(&body), "TOO_MANY_ATTEMPTS", "{body}");
    // Another client in the same hall is not locked out.
    let body = login_from("10.9.9.10", "clerk", PASSWORD).await;
    assert!(body["data"]["login"]["accessToken"].is_string(), "{body}");
}

/// The fencing check: a leader whose database session was cut (an outage, a failover) learns it
/// before its next pass, and another node can take the lock; while it holds the lock, nobody
/// else can.
#[actix_web::test]
async fn a_leader_whose_session_was_cut_knows_it_and_another_takes_over() {
    use api::background::{try_lead, Leadership, WATCHDOG_LOCK};
    let app = spawn_app_with(|_| {}).await;
    let keys = api::auth::token::TokenKeys::new(
        crate::helpers::TEST_JWT_SECRET.as_bytes(),
        Duration::from_secs(900),
        Duration::from_secs(3600),
    );
    let state = api::startup::prepare_state(app.db.clone(), keys, app.clock.clone())
        .await
        .expect("state");
    let mut leader = try_lead(&state, WATCHDOG_LOCK).await.expect("leads");
    assert!(leader.holds(WATCHDOG_LOCK).await);
    match test_backend() {
        Backend::Sqlite => assert!(matches!(leader, Leadership::Alone)),
        Backend::Postgres => {
            assert!(
                try_lead(&state, WATCHDOG_LOCK).await.is_none(),
                "a second leader while the first holds the lock"
            );
            let admin = Database::connect(crate::helpers::pg_admin_url())
                .await
                .expect("admin");
            let name = app
                .database_url()
                .rsplit_once('/')
                .map(|(_, n)| n.to_owned())
                .expect("a database name");
            // Only this test's database: other tests' servers hold the same key in theirs.
            admin
                .execute_unprepared(&format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' \
                     AND granted AND objid = {} \
                     AND database = (SELECT oid FROM pg_database WHERE datname = '{name}')",
                    WATCHDOG_LOCK & 0xffff_ffff
                ))
                .await
                .expect("session cut");
            assert!(
                !leader.holds(WATCHDOG_LOCK).await,
                "the old leader must know it no longer leads"
            );
            let mut next = try_lead(&state, WATCHDOG_LOCK)
                .await
                .expect("another node takes over");
            assert!(next.holds(WATCHDOG_LOCK).await);
        }
    }
}

/// A request that runs past the request timeout is stopped and answered `QUERY_TIMEOUT` (503):
/// here a refresh waits for a table another session holds locked.
#[actix_web::test]
async fn a_request_past_the_timeout_is_stopped_with_query_timeout() {
    let app = spawn_app_with(|s| {
        s.limits.request_timeout = Duration::from_secs(1);
        s.database.acquire_timeout = Duration::from_secs(10);
    })
    .await;
    clerk(&app, "clerk").await;
    let (_, body) = app
        .graphql(LOGIN, json!({ "u": "clerk", "p": PASSWORD }))
        .await;
    let refresh = body["data"]["login"]["refreshToken"].clone();
    let mut opts = ConnectOptions::new(app.database_url().to_owned());
    opts.max_connections(1);
    let other = Database::connect(opts).await.expect("another session");
    let lock = match test_backend() {
        Backend::Sqlite => "BEGIN EXCLUSIVE",
        Backend::Postgres => "BEGIN; LOCK TABLE refresh_token IN ACCESS EXCLUSIVE MODE",
    };
    other.execute_unprepared(lock).await.expect("locked");
    let started = std::time::Instant::now();
    let (status, body) = app.graphql(REFRESH, json!({ "t": refresh })).await;
    assert_eq!(
        (status, code(&body)),
        (503, "QUERY_TIMEOUT".into()),
        "{body}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    other
        .execute_unprepared("ROLLBACK")
        .await
        .expect("released");
}

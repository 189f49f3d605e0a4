//! The `qyzmet` binary itself: start-up errors, serving, graceful stop, restart on the same data.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::TestDatabase;

const BIN: &str = env!("CARGO_BIN_EXE_qyzmet");

/// An empty working directory of its own, so nothing lands in the repository.
pub(crate) fn workdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qyzmet-bin-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

pub(crate) fn qyzmet(dir: &PathBuf) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("QYZMET_DATABASE_URL")
        .env_remove("QYZMET_LISTEN")
        .env_remove("QYZMET_CONFIG")
        .env("QYZMET_LOG", "info")
        .env("QYZMET_JWT_SECRET", crate::helpers::TEST_JWT_SECRET)
        .env("QYZMET_PUBLIC_URL", crate::helpers::TEST_PUBLIC_URL);
    cmd
}

fn run_with_timeout(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().expect("output"),
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                panic!("qyzmet did not exit within {limit:?}");
            }
        }
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub(crate) fn wait_ready(port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = stream.write_all(b"GET /readyz HTTP/1.0\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200") {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

pub(crate) fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[test]
fn a_bad_database_url_stops_start_up_naming_the_setting_and_writes_nothing() {
    let dir = workdir("bad-url");
    let child = qyzmet(&dir)
        .env("DATABASE_URL", "mysql://root@localhost/qyzmet")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let out = run_with_timeout(child, Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&dir).expect("dir").collect();
    assert!(left.is_empty(), "nothing may be written: {left:?}");
}

#[test]
fn an_unreachable_postgresql_is_a_clear_error_not_a_panic() {
    let dir = workdir("no-pg");
    let child = qyzmet(&dir)
        .args([
            "--database",
            "postgres://postgres:hunter2@127.0.0.1:1/qyzmet",
        ])
        .env("QYZMET_DATABASE_ACQUIRE_TIMEOUT_SECS", "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let out = run_with_timeout(child, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot connect to the database"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hunter2"),
        "the password must not be printed: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn serve_stops_gracefully_on_sigterm_and_starts_again_on_the_same_database() {
    let dir = workdir("restart");
    let database = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(TestDatabase::create());
    for round in 0..2 {
        if round == 1 {
            // Between the two runs, an operator imports a corrected calendar.
            let corrected = dir.join("corrected.toml");
            std::fs::write(&corrected, corrected_calendar()).expect("write");
            let out = qyzmet(&dir)
                .args(["calendar", "import", "--database", &database.url])
                .arg(&corrected)
                .output()
                .expect("runs");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(stdout.contains("stored as calendar version 2"), "{stdout}");
        }
        let port = free_port();
        let child = qyzmet(&dir)
            .args(["serve", "--database", &database.url, "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let ready = wait_ready(port);
        sigterm(&child);
        let out = run_with_timeout(child, Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(ready, "round {round}: /readyz never answered 200: {stderr}");
        assert!(out.status.success(), "round {round}: {stderr}");
        assert!(stderr.contains("GraphiQL at http://127.0.0.1:"), "{stderr}");
        assert!(stderr.contains("graceful shutdown"), "{stderr}");
        // The second start keeps what the first stored and what was imported in between.
        let in_force = if round == 0 { "version=1" } else { "version=2" };
        assert!(
            stderr
                .lines()
                .any(|l| l.contains("working calendar in force") && l.contains(in_force)),
            "round {round}: {stderr}"
        );
    }
}

fn corrected_calendar() -> String {
    domain::BUNDLED_CALENDAR.replace(
        "# Working-day balances",
        "[[transfer]]\nwork = \"2026-01-03\"\nrest = \"2026-01-05\"\nact = \"test order\"\n\n# Working-day balances",
    )
}

#[test]
fn calendar_check_refuses_a_broken_file_naming_the_field() {
    let dir = workdir("cal-check");
    let broken = dir.join("broken.toml");
    std::fs::write(
        &broken,
        domain::BUNDLED_CALENDAR.replace("2024-06-17", "2024-06-16"),
    )
    .expect("write");
    let out = qyzmet(&dir)
        .args(["calendar", "check"])
        .arg(&broken)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("balance") && stderr.contains("2024"),
        "{stderr}"
    );

    let good = qyzmet(&dir)
        .args(["calendar", "check"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/calendar/kz.toml"
        ))
        .output()
        .expect("runs");
    assert!(good.status.success());
    assert!(String::from_utf8_lossy(&good.stdout).contains("2024: 248 working days"));
}

#[test]
fn export_schema_writes_the_checked_in_contract() {
    let dir = workdir("export");
    let status = qyzmet(&dir)
        .args(["export-schema", "--output", "out.graphql"])
        .status()
        .expect("runs");
    assert!(status.success());
    let written = std::fs::read_to_string(dir.join("out.graphql")).expect("written");
    assert_eq!(written, api::graphql::sdl());
}

#[test]
fn without_a_jwt_secret_the_server_refuses_to_start_unless_in_development_mode() {
    let dir = workdir("no-secret");
    let out = qyzmet(&dir)
        .env_remove("QYZMET_JWT_SECRET")
        .args(["serve", "--database", "sqlite://x.db?mode=rwc"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("QYZMET_JWT_SECRET"), "{stderr}");

    let out = qyzmet(&dir)
        .env("QYZMET_JWT_SECRET", "too-short")
        .args(["serve", "--database", "sqlite://x.db?mode=rwc"])
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&out.stderr).contains("shorter than 32 bytes"));

    let out = qyzmet(&dir)
        .args(["serve", "--demo"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--demo") && stderr.contains("--dev"),
        "{stderr}"
    );
}

/// POSTs a GraphQL request over a plain TCP connection and returns the response body.
fn post_graphql(port: u16, body: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connects");
    let request = format!(
        "POST /graphql HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("writes");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reads");
    let json = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

#[test]
fn demo_accounts_log_in_and_no_password_or_token_reaches_the_log() {
    let dir = workdir("demo");
    let database = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(TestDatabase::create());
    let password = "demo-Pa55word-for-log-test";
    let port = free_port();
    let child = qyzmet(&dir)
        .env_remove("QYZMET_JWT_SECRET")
        .env("QYZMET_DEMO_PASSWORD", password)
        .env("QYZMET_LOG", "debug")
        .args([
            "serve",
            "--dev",
            "--demo",
            "--database",
            &database.url,
            "--listen",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let ready = wait_ready(port);
    let mut secrets = vec![password.to_owned()];
    let mut logged_in = serde_json::Value::Null;
    if ready {
        let login = serde_json::json!({
            "query": "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken refreshToken role } }",
            "variables": { "u": "atyrau-head", "p": password },
        });
        logged_in = post_graphql(port, &login.to_string());
        for k in ["accessToken", "refreshToken"] {
            if let Some(t) = logged_in["data"]["login"][k].as_str() {
                secrets.push(t.to_owned());
            }
        }
        let refresh = serde_json::json!({
            "query": "mutation($t: String!) { refreshToken(refreshToken: $t) { refreshToken } }",
            "variables": { "t": logged_in["data"]["login"]["refreshToken"] },
        });
        let rotated = post_graphql(port, &refresh.to_string());
        if let Some(t) = rotated["data"]["refreshToken"]["refreshToken"].as_str() {
            secrets.push(t.to_owned());
        }
        let wrong = serde_json::json!({
            "query": "mutation { login(username: \"atyrau-head\", password: \"a wrong Password 1\") { role } }",
        });
        post_graphql(port, &wrong.to_string());
    }
    sigterm(&child);
    let out = run_with_timeout(child, Duration::from_secs(30));
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(ready, "{logs}");
    assert_eq!(logged_in["data"]["login"]["role"], "HEAD", "{logged_in}");
    assert!(
        logs.contains("DEVELOPMENT MODE"),
        "development mode says so: {logs}"
    );
    assert!(logs.contains("demo accounts created"), "{logs}");
    assert!(logs.contains("login"), "the login itself is logged: {logs}");
    assert_eq!(
        secrets.len(),
        4,
        "password, access, refresh, rotated refresh"
    );
    for s in &secrets {
        assert!(!logs.contains(s.as_str()), "a secret reached the log: {s}");
    }
    assert!(!logs.contains("a wrong Password 1"));
}

fn gql(
    port: u16,
    token: Option<&str>,
    query: &str,
    variables: serde_json::Value,
) -> serde_json::Value {
    use std::io::{Read, Write};
    let body = serde_json::json!({ "query": query, "variables": variables }).to_string();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connects");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST /graphql HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("writes");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reads");
    let json = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

fn start_demo(dir: &PathBuf, url: &str, port: u16) -> Child {
    qyzmet(dir)
        .env("QYZMET_DEMO_PASSWORD", "crash-test-Pa55word")
        .args(["serve", "--dev", "--demo", "--database", url, "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn")
}

fn token_of(port: u16, user: &str) -> String {
    let body = gql(
        port,
        None,
        "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }",
        serde_json::json!({ "u": user, "p": "crash-test-Pa55word" }),
    );
    body["data"]["login"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

#[test]
fn a_killed_server_restarted_on_the_same_database_continues_the_case_with_nothing_lost_or_doubled()
{
    let dir = workdir("crash");
    let database = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(TestDatabase::create());
    let port = free_port();
    let mut first = start_demo(&dir, &database.url, port);
    assert!(wait_ready(port), "first start");
    let clerk = token_of(port, "mangystau-clerk");
    let head = token_of(port, "mangystau-head");
    let registered = gql(
        port,
        Some(&clerk),
        "mutation($i: ApplicationInput!) { registerApplication(input: $i) { id version stage } }",
        serde_json::json!({ "i": {
            "regulation": "mangystau-secondary-education-duplicates",
            "applicant": { "iin": "850305400120", "fullName": "Айгерим Серікова" },
            "documents": [{ "name": "application" }],
        } }),
    );
    let case = registered["data"]["registerApplication"].clone();
    assert_eq!(case["stage"], "RESOLUTION", "{registered}");
    let assigned = gql(
        port,
        Some(&head),
        "mutation($c: ID!, $v: Int!) { assignExecutor(caseId: $c, version: $v, executor: \"mangystau-executor\") { version stage } }",
        serde_json::json!({ "c": case["id"], "v": case["version"] }),
    );
    assert_eq!(
        assigned["data"]["assignExecutor"]["stage"], "PREPARE",
        "{assigned}"
    );

    // Killed without warning between two steps.
    first.kill().expect("kill -9");
    let _ = first.wait();

    let mut second = start_demo(&dir, &database.url, port);
    assert!(wait_ready(port), "restart");
    let executor = token_of(port, "mangystau-executor");
    let head = token_of(port, "mangystau-head");
    let clerk = token_of(port, "mangystau-clerk");
    let mut version = assigned["data"]["assignExecutor"]["version"]
        .as_i64()
        .unwrap_or(0);
    for (token, mutation) in [
        (&executor, "prepareResult(caseId: $c, version: $v)"),
        (&head, "signResult(caseId: $c, version: $v)"),
        (&clerk, "issueResult(caseId: $c, version: $v)"),
    ] {
        let body = gql(
            port,
            Some(token),
            &format!("mutation($c: ID!, $v: Int!) {{ r: {mutation} {{ version status }} }}"),
            serde_json::json!({ "c": case["id"], "v": version }),
        );
        version = body["data"]["r"]["version"]
            .as_i64()
            .unwrap_or_else(|| panic!("{mutation}: {body}"));
    }
    let done = gql(
        port,
        Some(&clerk),
        "query($c: ID!) { case(id: $c) { status chainValid timeline { stage finishedAt } events { seq kind } } }",
        serde_json::json!({ "c": case["id"] }),
    );
    sigterm(&second);
    let _ = second.wait();
    let c = &done["data"]["case"];
    assert_eq!(c["status"], "COMPLETED", "{done}");
    assert_eq!(c["chainValid"], true);
    let stages: Vec<&str> = c["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|t| t["stage"].as_str())
        .collect();
    assert_eq!(
        stages,
        ["INTAKE", "RESOLUTION", "PREPARE", "SIGN", "ISSUE"],
        "no lost or doubled step"
    );
    assert_eq!(c["events"].as_array().map(Vec::len), Some(5));
}

/// `rebuild-rollups` puts right a rollup that was changed behind qyzmet's back: after it, the
/// rollups hold exactly what the generator's own recount left there.
#[test]
fn rebuild_rollups_recounts_the_report_rollups_from_the_cases() {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let dir = workdir("rebuild-rollups");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let database = rt.block_on(TestDatabase::create());
    let run = |args: &[&str]| {
        let out = qyzmet(&dir)
            .args(args)
            .args(["--database", &database.url])
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    run(&["generate", "--cases", "60"]);
    let totals = || {
        rt.block_on(async {
            let db = Database::connect(&database.url).await.expect("connect");
            let row = db
                .query_one_raw(Statement::from_string(
                    db.get_database_backend(),
                    "SELECT CAST(COALESCE((SELECT SUM(received) FROM report_rollup), 0) AS BIGINT) AS cases, \
                     CAST(COALESCE((SELECT SUM(in_progress) FROM report_rollup), 0) AS BIGINT) AS open, \
                     CAST(COALESCE((SELECT SUM(steps) FROM step_rollup), 0) AS BIGINT) AS steps",
                ))
                .await
                .expect("query")
                .expect("row");
            let n = |c: &str| row.try_get::<i64>("", c).expect(c);
            (n("cases"), n("open"), n("steps"))
        })
    };
    let generated = totals();
    assert_eq!(generated.0, 60, "{generated:?}");
    assert!(generated.2 > 60, "{generated:?}");
    rt.block_on(async {
        let db = Database::connect(&database.url).await.expect("connect");
        db.execute_unprepared(
            "UPDATE report_rollup SET received = received + 7, in_progress = 0; \
             DELETE FROM step_rollup",
        )
        .await
        .expect("tamper");
    });
    assert_eq!(totals().2, 0, "the step rollup was emptied");
    assert_ne!(totals().0, generated.0);
    let out = run(&["rebuild-rollups"]);
    assert!(out.contains("report rollups rebuilt"), "{out}");
    assert_eq!(totals(), generated);
}

//! Service benchmarks, each beside a peer measured in the same run:
//!
//! - `steps sqlite|postgres [cases] [concurrency]`: case moves through the whole path (HTTP +
//!   GraphQL + mailbox actor + SeaORM) against raw sqlx transactions doing the same writes;
//! - `inbox DATABASE_URL [clients] [requests]`: an inbox page of 50 under concurrent clients,
//!   against the same three queries run raw through sqlx (the server in its own process, whose
//!   resident memory is reported);
//! - `nodes [moves]`: a registration on node A reaching a subscriber on node B (two server
//!   processes on one fresh PostgreSQL database), against a raw `NOTIFY` reaching a raw `LISTEN`;
//! - `report DATABASE_URL [runs]`: a one-year report by region and service through GraphQL,
//!   against the same SQL run raw (and through `psql` on PostgreSQL), and step moves idle
//!   against step moves while reports run.
//!
//! Run with `cargo bench --bench service -- <mode> …` (see BENCHMARKS.md). Fill a database for
//! `inbox` and `report` first with `qyzmet generate --cases N --database URL`.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use api::configuration::{Secret, Settings};
use api::startup::Application;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Database, DatabaseBackend, DatabaseConnection};
use serde_json::{json, Value};

const SECRET: &str = "bench-secret-0123456789-0123456789-abcdef";
const PASSWORD: &str = "bench password 1234";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

struct Server {
    base: String,
    client: awc::Client,
    db: DatabaseConnection,
}

fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(Duration::from_secs(120))
        .connector(awc::Connector::new().limit(64))
        .finish()
}

/// A server in its own process (the release binary), so that its memory is its own.
struct Process {
    child: std::process::Child,
    port: u16,
}

impl Process {
    fn spawn(url: &str, pool: u32) -> Process {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_qyzmet"))
            .env("QYZMET_JWT_SECRET", SECRET)
            .env("QYZMET_LOG", "warn")
            .env("QYZMET_DATABASE_MAX_CONNECTIONS", pool.to_string())
            .args(["serve", "--database", url, "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("the server starts");
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            use std::io::{Read, Write};
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                let _ = s.write_all(b"GET /readyz HTTP/1.0\r\n\r\n");
                let mut answer = String::new();
                let _ = s.read_to_string(&mut answer);
                if answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200") {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "the server never became ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        Process { child, port }
    }

    /// Resident memory now and at its peak, in MiB (`VmRSS`, `VmHWM`).
    fn memory(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                .map_or(f64::NAN, |kib| kib / 1024.0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    async fn server(&self, url: &str) -> Server {
        Server {
            base: format!("http://127.0.0.1:{}", self.port),
            client: client(),
            db: Database::connect(url).await.expect("database"),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(url: &str) -> Server {
    let mut settings = Settings {
        listen: "127.0.0.1:0".parse().expect("address"),
        fixed_clock: Some(at("2025-06-02T10:00:00+05:00")),
        ..Settings::default()
    };
    settings.database.url = url.to_owned();
    settings.database.max_connections = std::env::var("BENCH_POOL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    settings.auth.jwt_secret = Some(Secret::new(SECRET));
    settings.log_filter = "warn".into();
    api::telemetry::init(&std::env::var("BENCH_LOG").unwrap_or_else(|_| "warn".into()));
    let app = Application::build(&settings).await.expect("server builds");
    let db = app.state().db.clone();
    api::store::demo::ensure(&db, PASSWORD)
        .await
        .expect("demo accounts");
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    Server {
        base,
        client: client(),
        db,
    }
}

impl Server {
    async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let body = json!({ "query": query, "variables": variables });
        let send = || {
            let mut req = self.client.post(format!("{}/graphql", self.base));
            if let Some(t) = token {
                req = req.insert_header(("authorization", format!("Bearer {t}")));
            }
            req.send_json(&body)
        };
        // A pooled keep-alive connection the server closed while idle (the psql phase) fails
        // once on reuse; a new one is opened for the retry.
        let mut resp = match send().await {
            Ok(r) => r,
            Err(_) => send().await.expect("answers"),
        };
        resp.json::<Value>().limit(64 << 20).await.expect("json")
    }

    async fn login(&self, user: &str) -> String {
        let body = self
            .gql(None, "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }", json!({ "u": user, "p": PASSWORD }))
            .await;
        body["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_owned()
    }

    async fn register(&self, clerk: &str, n: usize) -> Vec<(String, i64)> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let b = self
                .gql(
                    Some(clerk),
                    "mutation($i: ApplicationInput!) { registerApplication(input: $i) { id version } }",
                    json!({ "i": { "regulation": "mangystau-secondary-education-duplicates",
                        "applicant": { "iin": "850305400120", "fullName": "Bench" }, "documents": [{ "name": "application" }] } }),
                )
                .await;
            let c = &b["data"]["registerApplication"];
            out.push((
                c["id"].as_str().unwrap_or_else(|| panic!("{b}")).to_owned(),
                c["version"].as_i64().unwrap_or(1),
            ));
        }
        out
    }
}

fn stats(name: &str, mut lat: Vec<Duration>, wall: Duration) -> (f64, Duration) {
    lat.sort();
    let q = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    let rate = lat.len() as f64 / wall.as_secs_f64();
    println!(
        "{name:<52} n={:<6} {:>9.1}/s  p50 {:>8.2?}  p95 {:>8.2?}  p99 {:>8.2?}",
        lat.len(),
        rate,
        q(0.5),
        q(0.95),
        q(0.99)
    );
    (rate, q(0.99))
}

const MOVES: [(&str, &str); 4] = [
    (
        "mangystau-head",
        "assignExecutor(caseId: $c, version: $v, executor: \"mangystau-executor\")",
    ),
    (
        "mangystau-executor",
        "prepareResult(caseId: $c, version: $v)",
    ),
    ("mangystau-head", "signResult(caseId: $c, version: $v)"),
    ("mangystau-clerk", "issueResult(caseId: $c, version: $v)"),
];

/// Walks cases through their four moves with `workers` concurrent clients; returns latencies.
async fn engine_steps(
    s: &Rc<Server>,
    tokens: &Arc<Vec<String>>,
    cases: Vec<(String, i64)>,
    workers: usize,
) -> (Vec<Duration>, Duration) {
    let queue = Arc::new(std::sync::Mutex::new(cases));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (s, tokens, queue) = (s.clone(), tokens.clone(), queue.clone());
        handles.push(actix_web::rt::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop());
                let Some((id, mut version)) = next else { break };
                for (i, (_, m)) in MOVES.iter().enumerate() {
                    let t = Instant::now();
                    let b = s
                        .gql(
                            Some(&tokens[i]),
                            &format!("mutation($c: ID!, $v: Int!) {{ r: {m} {{ version }} }}"),
                            json!({ "c": id, "v": version }),
                        )
                        .await;
                    lat.push(t.elapsed());
                    version = b["data"]["r"]["version"]
                        .as_i64()
                        .unwrap_or_else(|| panic!("{m}: {b}"));
                }
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("worker"));
    }
    (all, started.elapsed())
}

/// The peer: the same writes per move as raw sqlx transactions.
async fn raw_steps(
    db: &DatabaseConnection,
    cases: Vec<(String, i64)>,
    workers: usize,
) -> (Vec<Duration>, Duration) {
    let queue = Arc::new(std::sync::Mutex::new(cases));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (db, queue) = (db.clone(), queue.clone());
        handles.push(actix_web::rt::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop());
                let Some((id, version)) = next else { break };
                let id: i64 = id.parse().unwrap_or(0);
                for i in 0..4 {
                    let t = Instant::now();
                    raw_move(&db, id, version as i32 + i, i == 3).await;
                    lat.push(t.elapsed());
                }
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("worker"));
    }
    (all, started.elapsed())
}

/// SQLite has one writer: the peer serialises its transactions too (as qyzmet does), or they
/// fail with "database is locked".
static SQLITE_WRITER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `delivers`: the move that delivers the result, which also moves the case between report
/// rollup rows (two upserts); every move adds its finished step to the step rollup (one).
async fn raw_move(db: &DatabaseConnection, id: i64, version: i32, delivers: bool) {
    let _writer = match db.get_database_backend() {
        DatabaseBackend::Sqlite => Some(SQLITE_WRITER.lock().await),
        _ => None,
    };
    let now = Utc::now();
    let due = now + chrono::Duration::days(1);
    macro_rules! run {
        ($pool:expr, $ph:expr) => {{
            let ph: fn(usize) -> String = $ph;
            let mut tx = $pool.begin().await.expect("begin");
            sqlx_query(&format!("SELECT version FROM service_case WHERE id = {}", ph(1))).bind(id).fetch_one(&mut *tx).await.expect("select");
            sqlx_query(&format!("UPDATE case_step SET finished_at = {}, on_time = {}, outcome = 'BENCH', actor_name = 'bench', used_minutes = 0 WHERE case_id = {} AND finished_at IS NULL", ph(1), ph(2), ph(3)))
                .bind(now).bind(true).bind(id).execute(&mut *tx).await.expect("finish step");
            sqlx_query(&format!("INSERT INTO case_step (case_id, seq, stage, mailbox, organisation_id, started_at, due_at, allowed_minutes) VALUES ({}, {}, 'PREPARE', 'EXECUTOR', 1, {}, {}, 480)", ph(1), ph(2), ph(3), ph(4)))
                .bind(id).bind(100 + version).bind(now).bind(due).execute(&mut *tx).await.expect("insert step");
            let updated = sqlx_query(&format!("UPDATE service_case SET stage = 'PREPARE', current_mailbox = 'EXECUTOR', version = version + 1, step_due_at = {}, updated_at = {} WHERE id = {} AND version = {}", ph(1), ph(2), ph(3), ph(4)))
                .bind(due).bind(now).bind(id).bind(version).execute(&mut *tx).await.expect("update case");
            assert_eq!(updated.rows_affected(), 1, "version check");
            sqlx_query(&format!("SELECT hash FROM case_event WHERE case_id = {} ORDER BY seq DESC LIMIT 1", ph(1))).bind(id).fetch_optional(&mut *tx).await.expect("last event");
            sqlx_query(&format!("INSERT INTO case_event (case_id, seq, kind, payload, actor, at, prev_hash, hash) VALUES ({}, {}, 'BENCH', '{{}}', 'bench', {}, {}, {})", ph(1), ph(2), ph(3), ph(4), ph(5)))
                .bind(id).bind(100 + version).bind(now).bind("0".repeat(64)).bind("1".repeat(64)).execute(&mut *tx).await.expect("insert event");
            sqlx_query(&format!("INSERT INTO step_rollup (month, region_code, service_code, provider_id, channel, mailbox, stage, share_bucket, steps, late) VALUES ('2099-01', 'bench', 'bench', 1, 'bench', 'EXECUTOR', 'PREPARE', {}, 1, 0) ON CONFLICT (month, region_code, service_code, provider_id, channel, mailbox, stage, share_bucket) DO UPDATE SET steps = step_rollup.steps + excluded.steps, late = step_rollup.late + excluded.late", ph(1)))
                .bind(i64::from(version % 7)).execute(&mut *tx).await.expect("step rollup");
            if delivers {
                for (tenths, delta) in [(-1i32, -1i32), (10, 1)] {
                    sqlx_query(&format!("INSERT INTO report_rollup (month, region_code, service_code, provider_id, channel, tenths, due_day, received, in_progress, completed, completed_on_time, completed_late, refused_at_intake, refused_with_reasons, returned_unclaimed) VALUES ('2099-01', 'bench', 'bench', 1, 'bench', {}, '', {}, {}, {}, {}, 0, 0, 0, 0) ON CONFLICT (month, region_code, service_code, provider_id, channel, tenths, due_day) DO UPDATE SET received = report_rollup.received + excluded.received, in_progress = report_rollup.in_progress + excluded.in_progress, completed = report_rollup.completed + excluded.completed, completed_on_time = report_rollup.completed_on_time + excluded.completed_on_time", ph(1), ph(2), ph(3), ph(4), ph(5)))
                        .bind(tenths).bind(delta).bind(delta.min(0)).bind(delta.max(0)).bind(delta.max(0)).execute(&mut *tx).await.expect("report rollup");
                }
            }
            tx.commit().await.expect("commit");
        }};
    }
    match db.get_database_backend() {
        DatabaseBackend::Postgres => run!(db.get_postgres_connection_pool(), |i| format!("${i}")),
        _ => run!(db.get_sqlite_connection_pool(), |_| "?".to_owned()),
    }
}

fn sqlx_query<'a, DB: sea_orm::sqlx::Database>(
    sql: &str,
) -> sea_orm::sqlx::query::Query<'a, DB, <DB as sea_orm::sqlx::Database>::Arguments> {
    sea_orm::sqlx::query::<DB>(sea_orm::sqlx::AssertSqlSafe(sql.to_owned()))
}

async fn fresh_database(kind: &str) -> (String, Option<String>) {
    let name = format!("qyzmet_bench_{}", std::process::id());
    match kind {
        "postgres" => {
            let admin = Database::connect("postgres://postgres@127.0.0.1:5432/postgres")
                .await
                .expect("postgres");
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
                .await
                .expect("drop");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create");
            (
                format!("postgres://postgres@127.0.0.1:5432/{name}"),
                Some(name),
            )
        }
        _ => {
            let path = std::env::temp_dir().join(format!("{name}.db"));
            let _ = std::fs::remove_file(&path);
            (format!("sqlite://{}?mode=rwc", path.display()), None)
        }
    }
}

async fn steps(kind: &str, n: usize, workers: usize) {
    let (url, pg_name) = fresh_database(kind).await;
    let s = Rc::new(start(&url).await);
    let clerk = s.login("mangystau-clerk").await;
    let tokens = Arc::new(vec![
        s.login("mangystau-head").await,
        s.login("mangystau-executor").await,
        s.login("mangystau-head").await,
        clerk.clone(),
    ]);
    println!("# step moves on {kind}: {n} cases × 4 moves, {workers} concurrent clients");
    // Warm-up, not measured.
    let warm = s.register(&clerk, 10).await;
    engine_steps(&s, &tokens, warm, workers).await;
    let a = s.register(&clerk, n).await;
    let b = s.register(&clerk, n).await;
    let (lat, wall) = engine_steps(&s, &tokens, a, workers).await;
    let (engine_rate, engine_p99) = stats("qyzmet: HTTP + GraphQL + actor + SeaORM", lat, wall);
    let (lat, wall) = raw_steps(&s.db, b, workers).await;
    let (raw_rate, raw_p99) = stats("peer: raw sqlx transaction, same writes", lat, wall);
    println!(
        "throughput {:.0}% of raw; p99 {:.2}× raw",
        100.0 * engine_rate / raw_rate,
        engine_p99.as_secs_f64() / raw_p99.as_secs_f64()
    );
    if let Some(name) = pg_name {
        let admin = Database::connect("postgres://postgres@127.0.0.1:5432/postgres")
            .await
            .expect("postgres");
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
}

async fn busiest_head(s: &Server) -> (String, i64) {
    let row = s
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            s.db.get_database_backend(),
            "SELECT o.code AS code, o.id AS id FROM service_case c JOIN organisation o ON o.id = c.current_org_id \
             WHERE c.current_mailbox = 'HEAD' GROUP BY o.code, o.id ORDER BY COUNT(*) DESC LIMIT 1",
        ))
        .await
        .expect("query")
        .expect("a busy head");
    let org: String = row.try_get("", "code").expect("code");
    let org_id: i64 = row.try_get("", "id").expect("id");
    let user = format!("bench-head-{}", std::process::id());
    api::store::accounts::create_user(
        &s.db,
        &api::store::accounts::NewUser {
            username: user.clone(),
            password: PASSWORD.into(),
            role: domain::identity::Role::Head,
            organisation: Some(org),
            region: None,
            display_name: None,
            iin: None,
        },
    )
    .await
    .expect("head");
    (user, org_id)
}

async fn inbox(url: &str, clients: usize, requests: usize) {
    let node = Process::spawn(url, 16);
    let s = Rc::new(node.server(url).await);
    api::store::demo::ensure(&s.db, PASSWORD)
        .await
        .expect("demo accounts");
    let (head, org_id) = busiest_head(&s).await;
    let token = Arc::new(s.login(&head).await);
    let q = "{ inbox(mailbox: HEAD, first: 50) { totalCount overdueCount dueTodayCount stageCounts { stage count } endCursor nodes { id number stepDueAt } } }";
    let first = s.gql(Some(&token), q, json!({})).await;
    println!(
        "# inbox page of 50 ({} cases in the mailbox), {clients} clients × {} requests",
        first["data"]["inbox"]["totalCount"],
        requests / clients
    );
    let run = |raw: bool| {
        let (s, token) = (s.clone(), token.clone());
        async move {
            let started = Instant::now();
            let mut handles = Vec::new();
            for _ in 0..clients {
                let (s, token) = (s.clone(), token.clone());
                handles.push(actix_web::rt::spawn(async move {
                    let mut lat = Vec::new();
                    for _ in 0..requests / clients {
                        let t = Instant::now();
                        if raw {
                            raw_inbox(&s.db, org_id).await;
                        } else {
                            let b = s.gql(Some(&token), q, json!({})).await;
                            assert!(b["errors"].is_null(), "{b}");
                        }
                        lat.push(t.elapsed());
                    }
                    lat
                }));
            }
            let mut all = Vec::new();
            for h in handles {
                all.extend(h.await.expect("client"));
            }
            (all, started.elapsed())
        }
    };
    // Warm-up, not measured: the mailbox's actor reads its tally on first use.
    for _ in 0..20 {
        s.gql(Some(&token), q, json!({})).await;
    }
    let (idle_rss, _) = node.memory();
    let (lat, wall) = run(false).await;
    stats("qyzmet: inbox(first: 50) over HTTP + GraphQL", lat, wall);
    let (rss, peak) = node.memory();
    println!("server memory: {idle_rss:.1} MiB resident before the load, {rss:.1} MiB after, peak {peak:.1} MiB");
    let (lat, wall) = run(true).await;
    stats("peer: the same page and counts, raw SQL", lat, wall);
    let (lat, wall) = {
        let started = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..clients {
            let s = s.clone();
            handles.push(actix_web::rt::spawn(async move {
                let mut lat = Vec::new();
                for _ in 0..requests / clients {
                    let t = Instant::now();
                    raw_page(&s.db, org_id).await;
                    lat.push(t.elapsed());
                }
                lat
            }));
        }
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await.expect("client"));
        }
        (all, started.elapsed())
    };
    stats(
        "peer: the keyset page alone, raw SQL (no counts)",
        lat,
        wall,
    );
}

async fn raw_page(db: &DatabaseConnection, org: i64) {
    let sql = format!("SELECT * FROM service_case WHERE current_org_id = {org} AND current_mailbox = 'HEAD' ORDER BY step_due_at, id LIMIT 51");
    db.query_all_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql,
    ))
    .await
    .expect("raw page");
}

async fn raw_inbox(db: &DatabaseConnection, org: i64) {
    let backend = db.get_database_backend();
    for sql in [
        format!("SELECT COUNT(*) FROM service_case WHERE current_org_id = {org} AND current_mailbox = 'HEAD'"),
        format!("SELECT COUNT(*) FROM service_case WHERE current_org_id = {org} AND current_mailbox = 'HEAD' AND step_due_at < '2025-06-02T05:00:00+00:00'"),
        format!("SELECT * FROM service_case WHERE current_org_id = {org} AND current_mailbox = 'HEAD' ORDER BY step_due_at, id LIMIT 51"),
    ] {
        db.query_all_raw(sea_orm::Statement::from_string(backend, sql)).await.expect("raw inbox");
    }
}

/// A move on node A reaching a subscriber on node B: two server processes on one fresh
/// PostgreSQL database. Measured from A's answer to the event on B (and from the request sent);
/// the peer is a raw `NOTIFY` on one connection reaching a raw `LISTEN` on another.
async fn nodes(moves: usize) {
    use futures_util::{SinkExt, StreamExt};
    let (url, pg_name) = fresh_database("postgres").await;
    let a = Process::spawn(&url, 8);
    let b = Process::spawn(&url, 8);
    let (sa, sb) = (a.server(&url).await, b.server(&url).await);
    api::store::demo::ensure(&sa.db, PASSWORD)
        .await
        .expect("demo accounts");
    let clerk = sa.login("mangystau-clerk").await;
    let head = sb.login("mangystau-head").await;
    let (_, mut socket) = sb
        .client
        .ws(format!("ws://127.0.0.1:{}/graphql", b.port))
        .protocols(["graphql-transport-ws"])
        .connect()
        .await
        .expect("upgrades");
    let text = |v: Value| awc::ws::Message::Text(v.to_string().into());
    socket
        .send(text(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {head}") } })))
        .await
        .expect("init");
    let _ack = socket.next().await;
    socket
        .send(text(json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { mailboxChanged(mailbox: HEAD) { change total case { id } } }" } })))
        .await
        .expect("subscribe");
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    println!(
        "# a registration on node A heard by a subscriber on node B: {moves} one after another"
    );
    let mut after_answer = Vec::with_capacity(moves);
    let mut after_request = Vec::with_capacity(moves);
    let started = Instant::now();
    for i in 0..moves + 20 {
        let t0 = Instant::now();
        let answered = sa.register(&clerk, 1).await;
        let t1 = Instant::now();
        loop {
            let frame = actix_web::rt::time::timeout(Duration::from_secs(10), socket.next())
                .await
                .expect("the event within 10 s")
                .expect("open")
                .expect("a frame");
            if let awc::ws::Frame::Text(t) = frame {
                let v: Value = serde_json::from_slice(&t).expect("json");
                let id = &v["payload"]["data"]["mailboxChanged"]["case"]["id"];
                if id.as_str() == Some(answered[0].0.as_str()) {
                    break;
                }
            }
        }
        let t2 = Instant::now();
        if i >= 20 {
            // The first 20 warm both nodes up.
            after_answer.push(t2.saturating_duration_since(t1));
            after_request.push(t2 - t0);
        }
    }
    let wall = started.elapsed();
    stats("qyzmet: A answered → event on B", after_answer, wall);
    stats(
        "qyzmet: request sent to A → event on B",
        after_request,
        wall,
    );
    for (name, node) in [("A", &a), ("B", &b)] {
        let (rss, peak) = node.memory();
        println!("node {name} memory: {rss:.1} MiB resident, peak {peak:.1} MiB");
    }

    let mut listener = sea_orm::sqlx::postgres::PgListener::connect(&url)
        .await
        .expect("listens");
    listener.listen("bench_peer").await.expect("listens");
    let pool = sea_orm::sqlx::PgPool::connect(&url).await.expect("pool");
    let mut lat = Vec::with_capacity(moves);
    let started = Instant::now();
    for i in 0..moves + 20 {
        sqlx_query::<sea_orm::sqlx::Postgres>("SELECT pg_notify('bench_peer', 'x')")
            .execute(&pool)
            .await
            .expect("notifies");
        let t1 = Instant::now();
        listener.recv().await.expect("heard");
        if i >= 20 {
            lat.push(Instant::now().saturating_duration_since(t1));
        }
    }
    stats(
        "peer: raw NOTIFY answered → raw LISTEN heard",
        lat,
        started.elapsed(),
    );
    drop((a, b));
    if let Some(name) = pg_name {
        let admin = Database::connect("postgres://postgres@127.0.0.1:5432/postgres")
            .await
            .expect("postgres");
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
}

const REPORT_Q: &str = "{ report(filter: { from: \"2025-01-01T00:00:00+05:00\", to: \"2026-01-01T00:00:00+05:00\" }, groupBy: [REGION, SERVICE]) { region service received completed onTimeRate medianWorkingDays p90WorkingDays } }";

const STEPS_Q: &str = "{ stepCompliance(filter: { from: \"2025-01-01T00:00:00+05:00\", to: \"2026-01-01T00:00:00+05:00\" }, groupBy: [REGION, SERVICE]) { mailbox stage region service steps late medianShareUsed p90ShareUsed } }";

async fn report(url: &str, runs: usize) {
    let s = Rc::new(start(url).await);
    let analyst = format!("bench-analyst-{}", std::process::id());
    api::store::accounts::create_user(
        &s.db,
        &api::store::accounts::NewUser {
            username: analyst.clone(),
            password: PASSWORD.into(),
            role: domain::identity::Role::Analyst,
            organisation: None,
            region: None,
            display_name: None,
            iin: None,
        },
    )
    .await
    .expect("analyst");
    let token = s.login(&analyst).await;
    let count =
        s.db.query_one_raw(sea_orm::Statement::from_string(
            s.db.get_database_backend(),
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM service_case",
        ))
        .await
        .expect("count")
        .expect("row");
    println!(
        "# one-year report by region and service over {} cases, {runs} runs",
        count.try_get::<i64>("", "n").unwrap_or(0)
    );
    let warm = s.gql(Some(&token), REPORT_Q, json!({})).await;
    assert!(warm["errors"].is_null(), "{warm}");
    let mut lat = Vec::new();
    let t0 = Instant::now();
    for _ in 0..runs {
        let t = Instant::now();
        s.gql(Some(&token), REPORT_Q, json!({})).await;
        lat.push(t.elapsed());
    }
    stats(
        "qyzmet: report(groupBy: [REGION, SERVICE]) via GraphQL",
        lat,
        t0.elapsed(),
    );
    // The same SQL, raw.
    let filter = api::store::reports::Filter {
        from: Some(at("2025-01-01T00:00:00+05:00")),
        to: Some(at("2026-01-01T00:00:00+05:00")),
        ..Default::default()
    };
    let groups = [
        api::store::reports::Group::Region,
        api::store::reports::Group::Service,
    ];
    // The peers run the very statement qyzmet's report runs (rollup months, raw ends, overdue
    // from the open cases), without the merge into rows, HTTP or GraphQL.
    let statement = api::store::reports::report_statement(
        s.db.get_database_backend(),
        &filter,
        &groups,
        at("2025-06-02T10:00:00+05:00"), // the benchmark server's fixed clock
    );
    let mut lat = Vec::new();
    let t0 = Instant::now();
    for _ in 0..runs {
        let t = Instant::now();
        s.db.query_all_raw(statement.clone())
            .await
            .expect("report statement");
        lat.push(t.elapsed());
    }
    stats(
        "peer: the same statement through the driver, no HTTP/GraphQL",
        lat,
        t0.elapsed(),
    );
    if s.db.get_database_backend() == DatabaseBackend::Postgres {
        psql_timing(url, &format!("{statement};"), runs);
    }
    // Step compliance over the same year and groups, beside its own statement in psql.
    let mut lat = Vec::new();
    let t0 = Instant::now();
    for _ in 0..runs {
        let t = Instant::now();
        let body = s.gql(Some(&token), STEPS_Q, json!({})).await;
        lat.push(t.elapsed());
        assert!(body["errors"].is_null(), "{body}");
    }
    stats(
        "qyzmet: stepCompliance(groupBy: [REGION, SERVICE]) via GraphQL",
        lat,
        t0.elapsed(),
    );
    if s.db.get_database_backend() == DatabaseBackend::Postgres {
        let steps =
            api::store::reports::step_statement(DatabaseBackend::Postgres, &filter, &groups);
        psql_timing(url, &format!("{steps};"), runs);
    }
    // Step moves idle, then while reports run continuously.
    let clerk = s.login("mangystau-clerk").await;
    let tokens = Arc::new(vec![
        s.login("mangystau-head").await,
        s.login("mangystau-executor").await,
        s.login("mangystau-head").await,
        clerk.clone(),
    ]);
    let idle = s.register(&clerk, 125).await;
    let busy = s.register(&clerk, 125).await;
    let spun = s.register(&clerk, 125).await;
    let (lat, wall) = engine_steps(&s, &tokens, idle, 1).await;
    let (_, idle_p99) = stats("step moves, idle", lat, wall);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loader = {
        let (s, stop, token) = (s.clone(), stop.clone(), token.clone());
        actix_web::rt::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                s.gql(Some(&token), REPORT_Q, json!({})).await;
                n += 1;
            }
            n
        })
    };
    let (lat, wall) = engine_steps(&s, &tokens, busy, 1).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reports_run = loader.await.unwrap_or(0);
    let (_, busy_p99) = stats("step moves, while reports run", lat, wall);
    // The peer: the same moves while a plain busy loop occupies one core, which is what any
    // single-threaded load costs the moves on a 2-core machine.
    let stop_spin = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spinner = {
        let stop = stop_spin.clone();
        std::thread::spawn(move || {
            let mut x: u64 = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        })
    };
    let (lat, wall) = engine_steps(&s, &tokens, spun, 1).await;
    stop_spin.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = spinner.join();
    let (_, spin_p99) = stats("peer: step moves while one core spins", lat, wall);
    println!(
        "p99 with one core spinning {:.2}× idle",
        spin_p99.as_secs_f64() / idle_p99.as_secs_f64()
    );
    println!(
        "({reports_run} reports ran meanwhile) p99 under load {:.2}× idle",
        busy_p99.as_secs_f64() / idle_p99.as_secs_f64()
    );
}

fn psql_timing(url: &str, sql: &str, runs: usize) {
    let script = format!(
        "\\timing on\n{}\n",
        std::iter::repeat_n(sql, runs + 1)
            .collect::<Vec<_>>()
            .join("\n")
    );
    let path = std::env::temp_dir().join(format!("qyzmet-report-{}.sql", std::process::id()));
    if std::fs::write(&path, script).is_err() {
        println!("cannot write the psql script");
        return;
    }
    let out = std::process::Command::new("psql")
        .args([url, "-q", "-o", "/dev/null", "-f"])
        .arg(&path)
        .output();
    let _ = std::fs::remove_file(&path);
    let Ok(out) = out else {
        println!("psql not available");
        return;
    };
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let mut ms: Vec<f64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("Time: "))
        .filter_map(|l| l.split(' ').next())
        .filter_map(|v| v.parse().ok())
        .collect();
    if ms.len() > 1 {
        ms.remove(0); // warm-up
    }
    let lat: Vec<Duration> = ms
        .iter()
        .map(|m| Duration::from_secs_f64(m / 1000.0))
        .collect();
    if lat.is_empty() {
        println!("psql printed no timings: {text}");
        return;
    }
    let total = lat.iter().sum();
    stats(
        "peer: the same SQL in psql (\\timing, server time)",
        lat,
        total,
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let arg = |i: usize| args.get(i).cloned();
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        match arg(0).as_deref() {
            Some("steps") => {
                let kind = arg(1).unwrap_or_else(|| "sqlite".into());
                steps(&kind, arg(2).and_then(|v| v.parse().ok()).unwrap_or(200), arg(3).and_then(|v| v.parse().ok()).unwrap_or(8)).await
            }
            Some("inbox") => {
                inbox(&arg(1).expect("DATABASE_URL"), arg(2).and_then(|v| v.parse().ok()).unwrap_or(16), arg(3).and_then(|v| v.parse().ok()).unwrap_or(3200)).await
            }
            Some("nodes") => nodes(arg(1).and_then(|v| v.parse().ok()).unwrap_or(500)).await,
            Some("report") => report(&arg(1).expect("DATABASE_URL"), arg(2).and_then(|v| v.parse().ok()).unwrap_or(20)).await,
            _ => println!("usage: cargo bench --bench service -- steps sqlite|postgres [cases] [concurrency] | inbox URL [clients] [requests] | nodes [moves] | report URL [runs]"),
        }
    });
    // Dropping the runtime with the server's background workers still holding pooled
    // connections makes sqlx panic (sqlx#1389, as in the server binary): the figures are
    // printed, so leave without dropping it.
    std::process::exit(0);
}

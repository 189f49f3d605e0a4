//! `spawn_app()`: a real server on port 0 over a fresh database of its own — a temporary SQLite
//! file by default, or a new PostgreSQL database when `QYZMET_TEST_DB=postgres` — dropped again
//! when the test ends, so tests run in parallel without sharing anything.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use api::configuration::{Backend, Secret, Settings};
use api::startup::Application;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{json, Value};

/// The signing secret of test servers.
pub const TEST_JWT_SECRET: &str = "test-secret-0123456789-0123456789-abcdef";

/// The PostgreSQL server tests create their databases on.
pub fn pg_admin_url() -> String {
    std::env::var("QYZMET_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Which database this run of the suite uses.
pub fn test_backend() -> Backend {
    match std::env::var("QYZMET_TEST_DB").as_deref() {
        Ok("postgres") | Ok("postgresql") => Backend::Postgres,
        Ok("sqlite") | Ok("") | Err(_) => Backend::Sqlite,
        Ok(other) => panic!("QYZMET_TEST_DB={other:?}: expected sqlite or postgres"),
    }
}

fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "qyzmet_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

/// The directory of a test database's attached files, removed with the database.
pub fn files_dir(database_url: &str) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    database_url.hash(&mut h);
    std::env::temp_dir().join(format!("qyzmet-files-{:016x}", h.finish()))
}

/// Installs, once per run, the tools tests use outside Rust (`scripts/test-tools.sh`: the PDF
/// and barcode readers, moto's S3 server); panics with the script's output when it fails.
pub fn test_tools() {
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = std::process::Command::new(root.join("scripts/test-tools.sh"))
            .output()
            .expect("scripts/test-tools.sh runs");
        assert!(
            out.status.success(),
            "scripts/test-tools.sh failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// The address (`http://127.0.0.1:PORT`) of an S3-compatible server for the file-store tests:
/// moto's, installed by `scripts/test-tools.sh`, started once per test run on a free port. It
/// exits with the tests: a shell holds it and kills it when the pipe from this process closes.
/// Each test makes its own bucket ([`s3_bucket`]).
pub fn s3_endpoint() -> String {
    static SERVER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SERVER
        .get_or_init(|| {
            test_tools();
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
            let moto = root.join(".test-tools/moto/bin/moto_server");
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let mut child = std::process::Command::new("sh")
                .arg("-c")
                .arg(r#""$0" -H 127.0.0.1 -p "$1" >/dev/null 2>&1 & pid=$!; cat >/dev/null; kill $pid"#)
                .arg(&moto)
                .arg(port.to_string())
                .stdin(std::process::Stdio::piped())
                .spawn()
                .expect("moto's S3 server starts");
            // The pipe stays open for as long as this process lives.
            std::mem::forget(child.stdin.take());
            std::mem::forget(child);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "moto's S3 server did not listen on {port} within 60 s"
                );
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            format!("http://127.0.0.1:{port}")
        })
        .clone()
}

/// A new, empty bucket on the test S3 server; returns its name.
pub async fn s3_bucket(endpoint: &str) -> String {
    let name = unique_name().replace('_', "-");
    let resp = awc::Client::default()
        .put(format!("{endpoint}/{name}"))
        .send()
        .await
        .expect("the S3 server answers");
    assert!(
        resp.status().is_success(),
        "creating bucket {name}: {}",
        resp.status()
    );
    name
}

/// The keys in `bucket` under `prefix`, listed by the S3 API itself (not through qyzmet).
pub async fn s3_keys(endpoint: &str, bucket: &str, prefix: &str) -> Vec<String> {
    let mut resp = awc::Client::default()
        .get(format!("{endpoint}/{bucket}?list-type=2&prefix={prefix}"))
        .send()
        .await
        .expect("the S3 server answers");
    let body = resp.body().limit(1 << 22).await.expect("a listing");
    let xml = String::from_utf8_lossy(&body);
    xml.split("<Key>")
        .skip(1)
        .filter_map(|k| k.split_once("</Key>").map(|(k, _)| k.to_owned()))
        .collect()
}

/// A database that exists for one test and is removed when dropped.
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(PathBuf),
    Postgres(String),
}

impl TestDatabase {
    /// Creates a fresh, empty database on the backend this run uses.
    pub async fn create() -> TestDatabase {
        let name = unique_name();
        match test_backend() {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.db"));
                TestDatabase {
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    cleanup: Cleanup::Sqlite(path),
                }
            }
            Backend::Postgres => {
                let admin_url = pg_admin_url();
                let admin = Database::connect(&admin_url).await.unwrap_or_else(|e| {
                    panic!(
                        "QYZMET_TEST_DB=postgres but PostgreSQL at {admin_url} is unreachable: {e}"
                    )
                });
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
                let _ = admin.close().await;
                let base = admin_url
                    .rsplit_once('/')
                    .map(|(base, _)| base.to_owned())
                    .unwrap_or(admin_url);
                TestDatabase {
                    url: format!("{base}/{name}"),
                    cleanup: Cleanup::Postgres(name),
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(files_dir(&self.url));
        match &self.cleanup {
            Cleanup::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            Cleanup::Postgres(name) => {
                // Drop runs inside the test's runtime; use a runtime of our own on a thread.
                let name = name.clone();
                let _ = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    rt.block_on(async move {
                        if let Ok(admin) = Database::connect(&pg_admin_url()).await {
                            let _ = admin
                                .execute_unprepared(&format!(
                                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                                ))
                                .await;
                            let _ = admin.close().await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// A running server and a connection to its database.
pub struct TestApp {
    pub address: String,
    #[allow(dead_code)] // used by tests that need the bare port
    pub port: u16,
    pub db: DatabaseConnection,
    pub client: awc::Client,
    /// The server's clock (fixed when the settings fix it).
    #[allow(dead_code)]
    pub clock: api::clock::Clock,
    // Held, never read: dropping the last holder removes the test's database when the test ends.
    #[allow(dead_code)]
    database: std::sync::Arc<TestDatabase>,
}

/// The public origin the test servers print in documents.
pub const TEST_PUBLIC_URL: &str = "https://qyzmet.test";

/// Settings for a test server on a fresh database.
pub fn test_settings(database: &TestDatabase) -> Settings {
    let mut settings = Settings {
        listen: "127.0.0.1:0".parse().expect("literal address"),
        ..Settings::default()
    };
    settings.database.url = database.url.clone();
    settings.database.max_connections = 5;
    // Each test's attachments in a directory of its own, next to its database.
    settings.files.dir = files_dir(&database.url);
    settings.shutdown_timeout = std::time::Duration::from_secs(1);
    settings.auth.jwt_secret = Some(Secret::new(TEST_JWT_SECRET));
    // Required outside development mode: the origin printed in documents.
    settings.public_url = Some(TEST_PUBLIC_URL.to_owned());
    // Background workers belong to a process; the binary tests run them.
    settings.background = false;
    settings
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    start_on(std::sync::Arc::new(TestDatabase::create().await), configure).await
}

async fn start_on(
    database: std::sync::Arc<TestDatabase>,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let mut settings = test_settings(&database);
    configure(&mut settings);
    let app = Application::build(&settings)
        .await
        .expect("the test server builds");
    let port = app.port();
    let db = app.state().db.clone();
    let clock = app.state().clock.clone();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        db,
        clock,
        client: awc::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .finish(),
        database,
    }
}

impl TestApp {
    /// Starts another server on this test's database (another node, or this one restarted),
    /// with its own settings, clock and memory.
    #[allow(dead_code)]
    pub async fn spawn_node(&self, configure: impl FnOnce(&mut Settings)) -> TestApp {
        start_on(self.database.clone(), configure).await
    }

    /// Starts a second server (another node) on this test's database; returns its address.
    #[allow(dead_code)]
    pub async fn spawn_peer(&self) -> String {
        let mut settings = test_settings(&self.database);
        settings.listen = "127.0.0.1:0".parse().expect("literal address");
        let app = Application::build(&settings)
            .await
            .expect("the peer server builds");
        let port = app.port();
        actix_web::rt::spawn(app.run_until_stopped());
        format!("http://127.0.0.1:{port}")
    }

    /// The URL of the test's database.
    #[allow(dead_code)]
    pub fn database_url(&self) -> &str {
        &self.database.url
    }

    /// POSTs a GraphQL query and returns the HTTP status and the JSON body.
    pub async fn graphql(&self, query: &str, variables: Value) -> (u16, Value) {
        self.post_raw(
            json!({ "query": query, "variables": variables })
                .to_string()
                .into_bytes(),
        )
        .await
    }

    /// POSTs a GraphQL query with a bearer token.
    pub async fn graphql_as(&self, token: &str, query: &str, variables: Value) -> (u16, Value) {
        self.post(
            Some(token),
            json!({ "query": query, "variables": variables })
                .to_string()
                .into_bytes(),
        )
        .await
    }

    /// POSTs any body to `/graphql`.
    pub async fn post_raw(&self, body: Vec<u8>) -> (u16, Value) {
        self.post(None, body).await
    }

    async fn post(&self, token: Option<&str>, body: Vec<u8>) -> (u16, Value) {
        let mut req = self
            .client
            .post(format!("{}/graphql", self.address))
            .insert_header(("content-type", "application/json"));
        if let Some(t) = token {
            req = req.insert_header(("authorization", format!("Bearer {t}")));
        }
        let mut resp = req.send_body(body).await.expect("the server answers");
        let status = resp.status().as_u16();
        let body = resp
            .json::<Value>()
            .limit(16 * 1024 * 1024)
            .await
            .expect("a JSON body");
        (status, body)
    }

    /// GETs a path and returns the status and the body as text.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let mut resp = self
            .client
            .get(format!("{}{}", self.address, path))
            .send()
            .await
            .expect("the server answers");
        let status = resp.status().as_u16();
        let body = resp.body().limit(16 * 1024 * 1024).await.expect("a body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

/// The `extensions.code` of the first error of a GraphQL response.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error with a code, got {body}"))
}

/// One part of a multipart body: its name, its file name (none for a plain field), its content.
pub type Part = (String, Option<String>, Vec<u8>);

/// A plain field part.
pub fn field(name: &str, content: impl Into<Vec<u8>>) -> Part {
    (name.to_owned(), None, content.into())
}

/// A file part.
pub fn file(name: &str, file_name: &str, content: impl Into<Vec<u8>>) -> Part {
    (name.to_owned(), Some(file_name.to_owned()), content.into())
}

/// Sends `parts` as a `multipart/form-data` POST to `/graphql` with `token`; the status and the
/// JSON body (null when the answer is not JSON).
pub async fn post_multipart(app: &TestApp, token: &str, parts: &[Part]) -> (u16, Value) {
    let boundary = "qyzmet-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, file_name, data) in parts {
        let disposition = match file_name {
            Some(f) => format!("form-data; name=\"{name}\"; filename=\"{f}\""),
            None => format!("form-data; name=\"{name}\""),
        };
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let mut resp = app
        .client
        .post(format!("{}/graphql", app.address))
        .insert_header((
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        ))
        .insert_header(("authorization", format!("Bearer {token}")))
        .send_body(body)
        .await
        .expect("the server answers");
    let status = resp.status().as_u16();
    let body = resp
        .json::<Value>()
        .limit(1 << 20)
        .await
        .unwrap_or(Value::Null);
    (status, body)
}

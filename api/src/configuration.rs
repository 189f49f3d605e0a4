//! One `Settings` struct: built-in defaults, then an optional `qyzmet.toml`, then `QYZMET_*`
//! environment variables, then command-line flags. Every value is checked once, here; a bad value
//! stops start-up with a message that names the setting.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Where the settings file is looked for when none is named.
pub const DEFAULT_CONFIG_FILE: &str = "qyzmet.toml";
/// The embedded SQLite file used when no database is named.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://qyzmet.db?mode=rwc";

/// Everything the server needs to start.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// The database and its pool.
    pub database: DatabaseSettings,
    /// `tracing` filter directive, e.g. `info,sqlx=warn`.
    pub log_filter: String,
    /// Request limits.
    pub limits: Limits,
    /// Reverse proxies whose client-address header is believed.
    pub proxies: crate::network::Proxies,
    /// Web origins allowed to call the API from a browser (CORS, and the subscription socket's
    /// `Origin`). In development mode `http://localhost:*` and `http://127.0.0.1:*` are added.
    pub cors_origins: Vec<String>,
    /// Explicit development mode: relaxed secrets and demo data hang on it.
    pub dev: bool,
    /// How long in-flight requests may run after SIGTERM/ctrl-c.
    pub shutdown_timeout: Duration,
    /// Token signing and lifetimes.
    pub auth: AuthSettings,
    /// Run the background workers (watchdog, notification delivery, listening to other nodes).
    /// Always on for `qyzmet serve`; servers embedded in tests turn it off.
    pub background: bool,
    /// Where applicant notifications are posted (`http://…`); none: they wait in the outbox.
    pub notify_webhook_url: Option<String>,
    /// Run on a fixed clock (tests and demonstrations of past dates); never read from the
    /// environment or the settings file.
    pub fixed_clock: Option<chrono::DateTime<chrono::Utc>>,
    /// Files attached to cases.
    pub files: FilesSettings,
    /// The API's public origin (`https://qyzmet.example.kz`), printed in the QR codes of
    /// documents; none: the origin each request came to.
    pub public_url: Option<String>,
}

/// Where files attached to cases are kept, and how large they may be.
#[derive(Clone, Debug, PartialEq)]
pub struct FilesSettings {
    /// The directory of the local file store (created when missing); unused when `s3` is set.
    pub dir: PathBuf,
    /// An S3-compatible object store instead of the directory, if set.
    pub s3: Option<S3Settings>,
    /// The S3 store's options.
    pub s3_options: S3Options,
    /// The largest file accepted, in bytes.
    pub max_bytes: usize,
    /// The most files in one request.
    pub max_per_request: usize,
    /// The most uploads this node reads at once; one more is answered `SERVICE_UNAVAILABLE`.
    /// With the per-request limits it bounds the temporary disk uploads take.
    pub max_concurrent_uploads: usize,
    /// Certificates (PEM or DER) of the certification authorities whose signatures are
    /// accepted; none: every signature is refused.
    pub trusted_cas: Vec<PathBuf>,
    /// The authorities' certificate revocation list (PEM or DER), if any.
    pub crl: Option<PathBuf>,
}

/// An S3-compatible object store for attached files: the bucket and a key prefix, from
/// `s3://bucket[/prefix]`.
#[derive(Clone, Debug, PartialEq)]
pub struct S3Settings {
    /// The bucket.
    pub bucket: String,
    /// The key prefix inside the bucket (no leading or trailing slash), possibly empty.
    pub prefix: String,
}

/// Options of the S3 store by `object_store`'s names (`endpoint`, `region`, `allow_http`, …),
/// each checked against `object_store::aws::AmazonS3ConfigKey`; whatever they leave out
/// (credentials, usually) comes from the standard `AWS_*` environment variables.
#[derive(Clone, Default, PartialEq)]
pub struct S3Options(pub Vec<(String, String)>);

impl fmt::Debug for S3Options {
    // An option may be a secret key: print the names, never those values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for (k, v) in &self.0 {
            let secret = ["secret", "token", "password"]
                .iter()
                .any(|s| k.to_ascii_lowercase().contains(s));
            if secret {
                list.entry(&format_args!("{k}=***"));
            } else {
                list.entry(&format_args!("{k}={v}"));
            }
        }
        list.finish()
    }
}

/// `s3://bucket[/prefix]`: the bucket and the prefix.
fn check_s3_url(setting: &str, v: &str) -> Result<(String, String), ConfigError> {
    let rest = v
        .trim()
        .strip_prefix("s3://")
        .ok_or_else(|| invalid(setting, v, "expected s3://bucket or s3://bucket/prefix"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if !bucket_ok {
        return Err(invalid(
            setting,
            v,
            "a bucket name is 3 to 63 lower-case letters, digits, dots and hyphens",
        ));
    }
    let prefix = prefix.trim_matches('/');
    if prefix.split('/').any(|p| p == "." || p == "..") || prefix.contains("//") {
        return Err(invalid(setting, v, "the prefix has an empty, . or .. part"));
    }
    Ok((bucket.to_owned(), prefix.to_owned()))
}

/// Options for the S3 store: each name one `object_store` knows.
fn check_s3_options(
    setting: &str,
    options: BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, ConfigError> {
    use std::str::FromStr;
    options
        .into_iter()
        .map(|(k, v)| {
            object_store::aws::AmazonS3ConfigKey::from_str(&k).map_err(|_| {
                invalid(
                    setting,
                    &k,
                    "not an S3 option (endpoint, region, allow_http, access_key_id, …)",
                )
            })?;
            Ok((k, v))
        })
        .collect()
}

/// An origin: `http://` or `https://`, a host, no path; the trailing slash dropped.
fn check_public_url(setting: &str, v: &str) -> Result<String, ConfigError> {
    let t = v.trim().trim_end_matches('/');
    let rest = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"))
        .ok_or_else(|| invalid(setting, v, "expected http:// or https:// and a host"))?;
    if rest.is_empty() || rest.contains('/') || rest.contains(char::is_whitespace) {
        return Err(invalid(
            setting,
            v,
            "expected an origin: a scheme and a host, no path",
        ));
    }
    Ok(t.to_owned())
}

fn parse_proxies(setting: &str, items: &[String]) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    crate::network::parse_proxies(items)
        .map_err(|bad| invalid(setting, &bad, "expected an IP address or a CIDR range"))
}

/// Token signing and lifetimes.
#[derive(Clone, Debug, PartialEq)]
pub struct AuthSettings {
    /// The HS256 secret; at least 32 bytes outside development mode.
    pub jwt_secret: Option<Secret>,
    /// Access token lifetime.
    pub access_token_ttl: Duration,
    /// Refresh token lifetime.
    pub refresh_token_ttl: Duration,
}

/// A secret value: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The shortest JWT secret accepted outside development mode.
pub const MIN_SECRET_BYTES: usize = 32;

/// The database connection and pool.
#[derive(Clone, PartialEq)]
pub struct DatabaseSettings {
    /// `sqlite://…` or `postgres://…`.
    pub url: String,
    /// Upper bound on pooled connections.
    pub max_connections: u32,
    /// How long to wait for a connection (also the SQLite busy timeout).
    pub acquire_timeout: Duration,
}

impl fmt::Debug for DatabaseSettings {
    // The URL may carry a password: never print it whole.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish()
    }
}

/// Limits that protect the server from oversized or abusive requests.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Deepest accepted selection set.
    pub max_query_depth: usize,
    /// Highest accepted query complexity (one point per field by default).
    pub max_query_complexity: usize,
    /// Highest accepted query cost: fields with list sizes multiplied through nesting (see
    /// `graphql::guard`).
    pub max_query_cost: u64,
    /// How long a client may take to send a request body; a slower body is answered 408.
    pub body_read_timeout: Duration,
    /// How long one GraphQL request may run; a longer one is answered `QUERY_TIMEOUT` (503).
    pub request_timeout: Duration,
    /// Whether the schema can be introspected (GraphiQL's docs, codegen from the URL). On by
    /// default: the schema is public (`schema.graphql`); switch it off if policy wants.
    pub introspection: bool,
    /// Document verifications (`GET /verify/{number}`, `verifyDocument`) one client address may
    /// ask for per minute, in a burst or spread out; past it, `RATE_LIMITED` (429).
    pub verify_per_minute: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database: DatabaseSettings {
                url: DEFAULT_DATABASE_URL.to_owned(),
                max_connections: 10,
                acquire_timeout: Duration::from_secs(5),
            },
            log_filter: "info,sqlx=warn,sea_orm=warn".to_owned(),
            limits: Limits {
                max_body_bytes: 256 * 1024,
                max_query_depth: 12,
                max_query_complexity: 2_000,
                max_query_cost: 20_000,
                body_read_timeout: Duration::from_secs(10),
                request_timeout: Duration::from_secs(30),
                introspection: true,
                verify_per_minute: 60,
            },
            proxies: crate::network::Proxies::default(),
            cors_origins: Vec::new(),
            dev: false,
            shutdown_timeout: Duration::from_secs(30),
            auth: AuthSettings {
                jwt_secret: None,
                access_token_ttl: Duration::from_secs(15 * 60),
                refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            },
            fixed_clock: None,
            notify_webhook_url: None,
            background: true,
            public_url: None,
            files: FilesSettings {
                dir: PathBuf::from("qyzmet-files"),
                s3: None,
                s3_options: S3Options::default(),
                max_bytes: 10 * 1024 * 1024,
                max_per_request: 4,
                max_concurrent_uploads: 16,
                trusted_cas: Vec::new(),
                crl: None,
            },
        }
    }
}

/// A setting that could not be used; the message names it.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    /// A value that does not parse or is out of range.
    #[error("invalid setting `{setting}` = {value:?}: {reason}")]
    Invalid {
        /// The setting's name as the user wrote it (`QYZMET_LISTEN`, `listen`, `--listen`).
        setting: String,
        /// The offending value (redacted where it could hold a secret).
        value: String,
        /// What is expected instead.
        reason: String,
    },
    /// The settings file could not be read or parsed.
    #[error("settings file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// The optional settings file; every key is optional and overrides the default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    database_url: Option<String>,
    database_max_connections: Option<u32>,
    database_acquire_timeout_secs: Option<u64>,
    log: Option<String>,
    max_body_bytes: Option<usize>,
    max_query_depth: Option<usize>,
    max_query_complexity: Option<usize>,
    max_query_cost: Option<u64>,
    verify_per_minute: Option<u32>,
    body_read_timeout_secs: Option<u64>,
    request_timeout_secs: Option<u64>,
    introspection: Option<bool>,
    trusted_proxies: Option<Vec<String>>,
    cors_origins: Option<Vec<String>>,
    client_ip_header: Option<String>,
    dev: Option<bool>,
    shutdown_timeout_secs: Option<u64>,
    jwt_secret: Option<String>,
    notify_webhook_url: Option<String>,
    access_token_ttl_secs: Option<u64>,
    refresh_token_ttl_secs: Option<u64>,
    files_dir: Option<PathBuf>,
    files_url: Option<String>,
    files_s3: Option<BTreeMap<String, String>>,
    max_upload_bytes: Option<usize>,
    max_concurrent_uploads: Option<usize>,
    public_url: Option<String>,
    trusted_cas: Option<Vec<PathBuf>>,
    crl: Option<PathBuf>,
}

/// Overrides given on the command line; `None` keeps what the file or environment said.
#[derive(Clone, Debug, Default)]
pub struct CliOverrides {
    /// `--config PATH`: a settings file that must exist.
    pub config: Option<PathBuf>,
    /// `--database URL`.
    pub database: Option<String>,
    /// `--listen ADDR`.
    pub listen: Option<String>,
    /// `--dev`.
    pub dev: bool,
}

impl Settings {
    /// Loads the settings from the process environment and the working directory.
    pub fn load(cli: &CliOverrides) -> Result<Settings, ConfigError> {
        Settings::load_from(cli, Path::new(DEFAULT_CONFIG_FILE), |key| {
            std::env::var(key).ok()
        })
    }

    /// Loads the settings with the environment passed in, so that tests need not touch the
    /// process environment. `default_file` is read only when it exists; a file named with
    /// `--config` must exist.
    pub fn load_from(
        cli: &CliOverrides,
        default_file: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let mut s = Settings::default();

        let named = cli
            .config
            .clone()
            .or_else(|| env("QYZMET_CONFIG").map(PathBuf::from));
        let file = match named {
            Some(path) => Some(read_file(&path)?),
            None if default_file.exists() => Some(read_file(default_file)?),
            None => None,
        };
        if let Some(f) = file {
            s.apply_file(f)?;
        }
        s.apply_env(&env)?;

        if let Some(url) = &cli.database {
            s.database.url = check_database_url("--database", url)?;
        }
        if let Some(addr) = &cli.listen {
            s.listen = parse_listen("--listen", addr)?;
        }
        s.dev |= cli.dev;
        if s.files.s3.is_none() && !s.files.s3_options.0.is_empty() {
            return Err(invalid(
                "files_s3",
                "…",
                "S3 options without `files_url` (s3://bucket) have no store to apply to",
            ));
        }
        Ok(s)
    }

    fn apply_file(&mut self, f: FileSettings) -> Result<(), ConfigError> {
        if let Some(v) = f.listen {
            self.listen = parse_listen("listen", &v)?;
        }
        if let Some(v) = f.database_url {
            self.database.url = check_database_url("database_url", &v)?;
        }
        if let Some(v) = f.database_max_connections {
            self.database.max_connections = positive("database_max_connections", v)?;
        }
        if let Some(v) = f.database_acquire_timeout_secs {
            self.database.acquire_timeout =
                Duration::from_secs(positive("database_acquire_timeout_secs", v)?);
        }
        if let Some(v) = f.log {
            self.log_filter = check_log_filter("log", &v)?;
        }
        if let Some(v) = f.max_body_bytes {
            self.limits.max_body_bytes = positive("max_body_bytes", v)?;
        }
        if let Some(v) = f.files_dir {
            self.files.dir = v;
        }
        if let Some(o) = f.files_s3 {
            self.files.s3_options = S3Options(check_s3_options("files_s3", o)?);
        }
        if let Some(v) = f.files_url {
            let (bucket, prefix) = check_s3_url("files_url", &v)?;
            self.files.s3 = Some(S3Settings { bucket, prefix });
        }
        if let Some(v) = f.trusted_cas {
            self.files.trusted_cas = v;
        }
        if let Some(v) = f.crl {
            self.files.crl = Some(v);
        }
        if let Some(v) = f.public_url {
            self.public_url = Some(check_public_url("public_url", &v)?);
        }
        if let Some(v) = f.max_concurrent_uploads {
            self.files.max_concurrent_uploads = positive("max_concurrent_uploads", v)?;
        }
        if let Some(v) = f.max_upload_bytes {
            self.files.max_bytes = positive("max_upload_bytes", v)?;
        }
        if let Some(v) = f.max_query_depth {
            self.limits.max_query_depth = positive("max_query_depth", v)?;
        }
        if let Some(v) = f.max_query_complexity {
            self.limits.max_query_complexity = positive("max_query_complexity", v)?;
        }
        if let Some(v) = f.verify_per_minute {
            self.limits.verify_per_minute = positive("verify_per_minute", v)?;
        }
        if let Some(v) = f.max_query_cost {
            self.limits.max_query_cost = positive("max_query_cost", v)?;
        }
        if let Some(v) = f.trusted_proxies {
            self.proxies.trusted = parse_proxies("trusted_proxies", &v)?;
        }
        if let Some(v) = f.cors_origins {
            self.cors_origins = v;
        }
        if let Some(v) = f.client_ip_header {
            self.proxies.header = v;
        }
        if let Some(v) = f.introspection {
            self.limits.introspection = v;
        }
        if let Some(v) = f.request_timeout_secs {
            self.limits.request_timeout = Duration::from_secs(positive("request_timeout_secs", v)?);
        }
        if let Some(v) = f.body_read_timeout_secs {
            self.limits.body_read_timeout =
                Duration::from_secs(positive("body_read_timeout_secs", v)?);
        }
        if let Some(v) = f.dev {
            self.dev = v;
        }
        if let Some(v) = f.shutdown_timeout_secs {
            self.shutdown_timeout = Duration::from_secs(v);
        }
        if let Some(v) = f.notify_webhook_url {
            self.notify_webhook_url = Some(check_webhook("notify_webhook_url", &v)?);
        }
        if let Some(v) = f.jwt_secret {
            self.auth.jwt_secret = Some(Secret::new(v));
        }
        if let Some(v) = f.access_token_ttl_secs {
            self.auth.access_token_ttl = Duration::from_secs(positive("access_token_ttl_secs", v)?);
        }
        if let Some(v) = f.refresh_token_ttl_secs {
            self.auth.refresh_token_ttl =
                Duration::from_secs(positive("refresh_token_ttl_secs", v)?);
        }
        Ok(())
    }

    fn apply_env(&mut self, env: &impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = env("QYZMET_LISTEN") {
            self.listen = parse_listen("QYZMET_LISTEN", &v)?;
        }
        // `DATABASE_URL` is the convention every tool understands; `QYZMET_DATABASE_URL` wins.
        for key in ["DATABASE_URL", "QYZMET_DATABASE_URL"] {
            if let Some(v) = env(key).filter(|v| !v.is_empty()) {
                self.database.url = check_database_url(key, &v)?;
            }
        }
        if let Some(v) = env("QYZMET_DATABASE_MAX_CONNECTIONS") {
            self.database.max_connections = parse_positive("QYZMET_DATABASE_MAX_CONNECTIONS", &v)?;
        }
        if let Some(v) = env("QYZMET_DATABASE_ACQUIRE_TIMEOUT_SECS") {
            self.database.acquire_timeout =
                Duration::from_secs(parse_positive("QYZMET_DATABASE_ACQUIRE_TIMEOUT_SECS", &v)?);
        }
        if let Some(v) = env("QYZMET_LOG") {
            self.log_filter = check_log_filter("QYZMET_LOG", &v)?;
        }
        if let Some(v) = env("QYZMET_MAX_BODY_BYTES") {
            self.limits.max_body_bytes = parse_positive("QYZMET_MAX_BODY_BYTES", &v)?;
        }
        if let Some(v) = env("QYZMET_FILES_DIR") {
            self.files.dir = PathBuf::from(v);
        }
        if let Some(v) = env("QYZMET_FILES_URL") {
            let (bucket, prefix) = check_s3_url("QYZMET_FILES_URL", &v)?;
            self.files.s3 = Some(S3Settings { bucket, prefix });
        }
        if let Some(v) = env("QYZMET_TRUSTED_CAS") {
            self.files.trusted_cas = v
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .collect();
        }
        if let Some(v) = env("QYZMET_CRL") {
            self.files.crl = Some(PathBuf::from(v));
        }
        if let Some(v) = env("QYZMET_PUBLIC_URL") {
            self.public_url = Some(check_public_url("QYZMET_PUBLIC_URL", &v)?);
        }
        if let Some(v) = env("QYZMET_MAX_CONCURRENT_UPLOADS") {
            self.files.max_concurrent_uploads =
                parse_positive("QYZMET_MAX_CONCURRENT_UPLOADS", &v)?;
        }
        if let Some(v) = env("QYZMET_MAX_UPLOAD_BYTES") {
            self.files.max_bytes = parse_positive("QYZMET_MAX_UPLOAD_BYTES", &v)?;
        }
        if let Some(v) = env("QYZMET_MAX_QUERY_DEPTH") {
            self.limits.max_query_depth = parse_positive("QYZMET_MAX_QUERY_DEPTH", &v)?;
        }
        if let Some(v) = env("QYZMET_MAX_QUERY_COMPLEXITY") {
            self.limits.max_query_complexity = parse_positive("QYZMET_MAX_QUERY_COMPLEXITY", &v)?;
        }
        if let Some(v) = env("QYZMET_VERIFY_PER_MINUTE") {
            self.limits.verify_per_minute = parse_positive("QYZMET_VERIFY_PER_MINUTE", &v)?;
        }
        if let Some(v) = env("QYZMET_MAX_QUERY_COST") {
            self.limits.max_query_cost = parse_positive("QYZMET_MAX_QUERY_COST", &v)?;
        }
        if let Some(v) = env("QYZMET_TRUSTED_PROXIES") {
            let items: Vec<String> = v.split(',').map(str::to_owned).collect();
            self.proxies.trusted = parse_proxies("QYZMET_TRUSTED_PROXIES", &items)?;
        }
        if let Some(v) = env("QYZMET_CORS_ORIGINS") {
            self.cors_origins = v
                .split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect();
        }
        if let Some(v) = env("QYZMET_CLIENT_IP_HEADER") {
            self.proxies.header = v;
        }
        if let Some(v) = env("QYZMET_INTROSPECTION") {
            self.limits.introspection = match v.trim() {
                "1" | "true" | "on" => true,
                "0" | "false" | "off" => false,
                other => return Err(invalid("QYZMET_INTROSPECTION", other, "expected 1 or 0")),
            };
        }
        if let Some(v) = env("QYZMET_REQUEST_TIMEOUT_SECS") {
            self.limits.request_timeout =
                Duration::from_secs(parse_positive("QYZMET_REQUEST_TIMEOUT_SECS", &v)?);
        }
        if let Some(v) = env("QYZMET_BODY_READ_TIMEOUT_SECS") {
            self.limits.body_read_timeout =
                Duration::from_secs(parse_positive("QYZMET_BODY_READ_TIMEOUT_SECS", &v)?);
        }
        if let Some(v) = env("QYZMET_DEV") {
            self.dev = parse_bool("QYZMET_DEV", &v)?;
        }
        if let Some(v) = env("QYZMET_NOTIFY_WEBHOOK_URL").filter(|v| !v.is_empty()) {
            self.notify_webhook_url = Some(check_webhook("QYZMET_NOTIFY_WEBHOOK_URL", &v)?);
        }
        if let Some(v) = env("QYZMET_JWT_SECRET").filter(|v| !v.is_empty()) {
            self.auth.jwt_secret = Some(Secret::new(v));
        }
        if let Some(v) = env("QYZMET_ACCESS_TOKEN_TTL_SECS") {
            self.auth.access_token_ttl =
                Duration::from_secs(parse_positive("QYZMET_ACCESS_TOKEN_TTL_SECS", &v)?);
        }
        if let Some(v) = env("QYZMET_REFRESH_TOKEN_TTL_SECS") {
            self.auth.refresh_token_ttl =
                Duration::from_secs(parse_positive("QYZMET_REFRESH_TOKEN_TTL_SECS", &v)?);
        }
        if let Some(v) = env("QYZMET_SHUTDOWN_TIMEOUT_SECS") {
            self.shutdown_timeout = Duration::from_secs(v.trim().parse().map_err(|_| {
                invalid(
                    "QYZMET_SHUTDOWN_TIMEOUT_SECS",
                    &v,
                    "a whole number of seconds",
                )
            })?);
        }
        Ok(())
    }

    /// Which database the URL names.
    pub fn backend(&self) -> Backend {
        Backend::of(&self.database.url).unwrap_or(Backend::Sqlite)
    }
}

/// The two supported stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite, the default.
    Sqlite,
    /// PostgreSQL, the production store.
    Postgres,
}

impl Backend {
    /// The backend a database URL names, if it is one qyzmet supports.
    pub fn of(url: &str) -> Option<Backend> {
        let scheme = url.split_once(':').map(|(s, _)| s)?;
        match scheme {
            "sqlite" => Some(Backend::Sqlite),
            "postgres" | "postgresql" => Some(Backend::Postgres),
            _ => None,
        }
    }
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::File {
        path: path.to_owned(),
        reason: e.message().to_owned(),
    })
}

fn invalid(setting: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

fn parse_listen(setting: &str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.trim().parse().map_err(|_| {
        invalid(
            setting,
            v,
            "expected HOST:PORT with a numeric IP, e.g. 127.0.0.1:8080",
        )
    })
}

fn check_database_url(setting: &str, v: &str) -> Result<String, ConfigError> {
    let v = v.trim();
    match Backend::of(v) {
        Some(_) if v.contains("://") => Ok(v.to_owned()),
        _ => Err(invalid(
            setting,
            &redact_url(v),
            "expected sqlite://PATH or postgres://USER@HOST:PORT/DB",
        )),
    }
}

fn check_webhook(setting: &str, v: &str) -> Result<String, ConfigError> {
    let v = v.trim();
    if v.starts_with("http://") && v.len() > "http://".len() {
        Ok(v.to_owned())
    } else {
        Err(invalid(
            setting,
            v,
            "expected an http:// URL (TLS is terminated in front of qyzmet)",
        ))
    }
}

fn check_log_filter(setting: &str, v: &str) -> Result<String, ConfigError> {
    tracing_subscriber::EnvFilter::try_new(v)
        .map(|_| v.to_owned())
        .map_err(|e| invalid(setting, v, &format!("not a tracing filter: {e}")))
}

fn positive<T: PartialEq + Default + Copy + fmt::Display>(
    setting: &str,
    v: T,
) -> Result<T, ConfigError> {
    if v == T::default() {
        Err(invalid(
            setting,
            &v.to_string(),
            "must be greater than zero",
        ))
    } else {
        Ok(v)
    }
}

fn parse_positive<T>(setting: &str, v: &str) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialEq + Default + Copy + fmt::Display,
{
    let n: T = v
        .trim()
        .parse()
        .map_err(|_| invalid(setting, v, "expected a whole number greater than zero"))?;
    positive(setting, n)
}

fn parse_bool(setting: &str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(invalid(
            setting,
            v,
            "expected 1/0, true/false, yes/no or on/off",
        )),
    }
}

/// Replaces the password of a database URL with `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(env: &[(&str, &str)], cli: CliOverrides) -> Result<Settings, ConfigError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::load_from(&cli, Path::new("/nonexistent/qyzmet.toml"), |k| {
            env.get(k).cloned()
        })
    }

    #[test]
    fn defaults_serve_sqlite_on_localhost_8080() {
        let s = load(&[], CliOverrides::default()).expect("defaults are valid");
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database.url, DEFAULT_DATABASE_URL);
        assert_eq!(s.backend(), Backend::Sqlite);
        assert!(!s.dev);
    }

    #[test]
    fn environment_overrides_defaults_and_cli_overrides_environment() {
        let s = load(
            &[
                ("QYZMET_LISTEN", "0.0.0.0:9000"),
                ("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/q"),
                ("QYZMET_MAX_QUERY_DEPTH", "7"),
                ("QYZMET_DEV", "1"),
            ],
            CliOverrides {
                listen: Some("127.0.0.1:7000".into()),
                ..Default::default()
            },
        )
        .expect("valid");
        assert_eq!(s.listen.to_string(), "127.0.0.1:7000");
        assert_eq!(s.backend(), Backend::Postgres);
        assert_eq!(s.limits.max_query_depth, 7);
        assert!(s.dev);
    }

    #[test]
    fn a_bad_value_names_the_setting() {
        let err = load(&[("QYZMET_LISTEN", "localhost")], CliOverrides::default())
            .expect_err("not an address");
        assert!(err.to_string().contains("QYZMET_LISTEN"), "{err}");

        let err =
            load(&[("QYZMET_MAX_BODY_BYTES", "0")], CliOverrides::default()).expect_err("zero");
        assert!(err.to_string().contains("QYZMET_MAX_BODY_BYTES"), "{err}");

        let err = load(
            &[("DATABASE_URL", "mysql://root@x/y")],
            CliOverrides::default(),
        )
        .expect_err("mysql is not supported");
        assert!(err.to_string().contains("DATABASE_URL"), "{err}");

        let err =
            load(&[("QYZMET_LOG", "info,[[[")], CliOverrides::default()).expect_err("bad filter");
        assert!(err.to_string().contains("QYZMET_LOG"), "{err}");
    }

    #[test]
    fn a_settings_file_is_read_and_unknown_keys_are_refused() {
        let dir = std::env::temp_dir().join(format!("qyzmet-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let good = dir.join("good.toml");
        std::fs::write(&good, "listen = \"127.0.0.1:8181\"\nmax_query_depth = 5\n").expect("write");
        let s = load(
            &[],
            CliOverrides {
                config: Some(good),
                ..Default::default()
            },
        )
        .expect("valid");
        assert_eq!(s.listen.port(), 8181);
        assert_eq!(s.limits.max_query_depth, 5);

        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "lisen = \"127.0.0.1:8181\"\n").expect("write");
        let err = load(
            &[],
            CliOverrides {
                config: Some(bad),
                ..Default::default()
            },
        )
        .expect_err("typo");
        assert!(err.to_string().contains("lisen"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn an_s3_file_store_is_named_by_url_with_checked_options_and_secrets_unprinted() {
        let dir = std::env::temp_dir().join(format!("qyzmet-cfg-s3-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write");
            CliOverrides {
                config: Some(path),
                ..Default::default()
            }
        };
        let s = load(
            &[],
            file(
                "s3.toml",
                "files_url = \"s3://qyzmet-files/prod/\"\n[files_s3]\nendpoint = \"https://s3.example.kz\"\nsecret_access_key = \"hunter2-hunter2\"\n",
            ),
        )
        .expect("valid");
        let s3 = s.files.s3.clone().expect("an S3 store");
        assert_eq!(
            (s3.bucket.as_str(), s3.prefix.as_str()),
            ("qyzmet-files", "prod")
        );
        assert_eq!(s.files.s3_options.0.len(), 2);
        let printed = format!("{:?}", s.files);
        assert!(
            printed.contains("endpoint=https://s3.example.kz"),
            "{printed}"
        );
        assert!(!printed.contains("hunter2"), "{printed}");

        // The environment names the bucket; the options still come from the file.
        let s = load(
            &[("QYZMET_FILES_URL", "s3://other-bucket")],
            file("s3.toml", "[files_s3]\nregion = \"kz-central-1\"\n"),
        )
        .expect("valid");
        assert_eq!(
            s.files.s3.map(|s| s.bucket).as_deref(),
            Some("other-bucket")
        );
        assert_eq!(s.files.s3_options.0.len(), 1);

        for (env, text, setting) in [
            (None, "files_url = \"/var/files\"\n", "files_url"),
            (None, "files_url = \"s3://Bad_Bucket\"\n", "files_url"),
            (None, "files_url = \"s3://ok-bucket/a/../b\"\n", "files_url"),
            (
                None,
                "files_url = \"s3://ok-bucket\"\n[files_s3]\nendpont = \"x\"\n",
                "files_s3",
            ),
            (None, "[files_s3]\nregion = \"x\"\n", "files_s3"),
            (Some("gs://bucket"), "", "QYZMET_FILES_URL"),
        ] {
            let env: Vec<(&str, &str)> = env.map(|v| ("QYZMET_FILES_URL", v)).into_iter().collect();
            let err = load(&env, file("bad.toml", text)).expect_err(text);
            assert!(err.to_string().contains(setting), "{text}: {err}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_jwt_secret_is_read_and_never_printed() {
        let s = load(
            &[("QYZMET_JWT_SECRET", "0123456789abcdef0123456789abcdef")],
            CliOverrides::default(),
        )
        .expect("valid");
        let secret = s.auth.jwt_secret.clone().expect("set");
        assert_eq!(secret.expose().len(), 32);
        assert!(!format!("{s:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn passwords_in_database_urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/d"),
            "postgres://u:***@h:5432/d"
        );
        let s = DatabaseSettings {
            url: "postgres://u:secret@h/d".into(),
            max_connections: 1,
            acquire_timeout: Duration::from_secs(1),
        };
        assert!(!format!("{s:?}").contains("secret"));
    }
}

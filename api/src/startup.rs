//! Builds the application: pool, migrations, schema, HTTP server. `Application::build` binds the
//! listener, so `port()` is known before `run_until_stopped()` serves.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};

use crate::auth::token::TokenKeys;
use crate::configuration::{redact_url, Settings, MIN_SECRET_BYTES};
use crate::graphql::{build_schema, QyzmetSchema};
use crate::http;
use crate::state::{AppState, CalendarCache};
use crate::store::{self, StoreError};
use std::sync::Arc;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A setting that makes the server unsafe to start.
    #[error("{0}")]
    Config(String),
    /// The bundled reference data (regions, calendar) could not be loaded.
    #[error("cannot load reference data: {0}")]
    Data(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address from the settings.
        addr: std::net::SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
}

/// The token keys: the configured secret, or in development mode an ephemeral one. Outside
/// development mode a missing or short secret refuses to start.
pub fn token_keys(settings: &Settings) -> Result<TokenKeys, StartupError> {
    let auth = &settings.auth;
    let secret = match &auth.jwt_secret {
        Some(s) if s.expose().len() >= MIN_SECRET_BYTES => s.expose().as_bytes().to_vec(),
        _ if settings.dev => {
            tracing::warn!(
                "DEVELOPMENT MODE: no QYZMET_JWT_SECRET of {MIN_SECRET_BYTES}+ bytes; signing tokens with an \
                 ephemeral secret (tokens die with this process). Never run like this in production."
            );
            crate::auth::token::random_hex(32)
                .map_err(|e| StartupError::Config(e.to_string()))?
                .into_bytes()
        }
        Some(_) => {
            return Err(StartupError::Config(format!(
                "QYZMET_JWT_SECRET is shorter than {MIN_SECRET_BYTES} bytes; use a long random secret \
                 (or --dev for development)"
            )))
        }
        None => {
            return Err(StartupError::Config(format!(
                "QYZMET_JWT_SECRET is not set; set a random secret of at least {MIN_SECRET_BYTES} bytes \
                 (or start with --dev for development)"
            )))
        }
    };
    Ok(TokenKeys::new(
        &secret,
        auth.access_token_ttl,
        auth.refresh_token_ttl,
    ))
}

/// Loads the reference data into the database (idempotently) and builds the shared state.
pub async fn prepare_state(
    db: sea_orm::DatabaseConnection,
    tokens: TokenKeys,
    clock: crate::clock::Clock,
) -> Result<AppState, StartupError> {
    let data = |e: &dyn std::fmt::Display| StartupError::Data(e.to_string());
    let regions =
        domain::region::parse_regions(domain::region::BUNDLED_REGIONS).map_err(|e| data(&e))?;
    store::directory::sync_regions(&db, &regions)
        .await
        .map_err(|e| data(&crate::error::ErrorChain(&e)))?;
    let organisations =
        domain::organisation::parse_organisations(domain::organisation::BUNDLED_ORGANISATIONS)
            .map_err(|e| data(&e))?;
    store::directory::sync_organisations(&db, &organisations)
        .await
        .map_err(|e| data(&crate::error::ErrorChain(&e)))?;
    let loaded = store::regulation::import_all(&db, &store::regulation::bundled(), "bundled")
        .await
        .map_err(|e| data(&crate::error::ErrorChain(&e)))?;
    let new = loaded.iter().filter(|i| i.created).count();
    tracing::info!(
        regulations = loaded.len(),
        new_versions = new,
        "regulations loaded"
    );
    let imported = store::calendar::import(
        &db,
        domain::BUNDLED_CALENDAR,
        "bundled data/calendar/kz.toml",
    )
    .await
    .map_err(|e| data(&crate::error::ErrorChain(&e)))?;
    if imported.created {
        tracing::info!(
            version = imported.version,
            "bundled working calendar stored"
        );
    }
    let calendar = store::calendar::latest(&db)
        .await
        .map_err(|e| data(&crate::error::ErrorChain(&e)))?
        .ok_or_else(|| StartupError::Data("no working calendar stored".into()))?;
    tracing::info!(version = calendar.version(), "working calendar in force");
    if store::rollup::ensure_current(&db)
        .await
        .map_err(|e| data(&crate::error::ErrorChain(&e)))?
    {
        tracing::info!(
            rules = store::rollup::RULES_VERSION,
            "report rollups recomputed for the current counting rules"
        );
    }
    let keyed = store::inbox::fill_name_keys(&db)
        .await
        .map_err(|e| data(&crate::error::ErrorChain(&e)))?;
    if keyed > 0 {
        tracing::info!(cases = keyed, "applicant name search keys filled");
    }
    let sqlite = db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite;
    let state = AppState {
        events: tokio::sync::broadcast::channel(1024).0,
        watchdog_wake: Arc::new(tokio::sync::Notify::new()),
        node_id: crate::auth::token::random_hex(8)
            .map_err(|e| StartupError::Data(e.to_string()))?,
        fanout: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        write_lock: sqlite.then(|| Arc::new(tokio::sync::Mutex::new(()))),
        db,
        calendar: CalendarCache::new(calendar),
        regions: Arc::new(regions.into_iter().map(|r| (r.code.clone(), r)).collect()),
        regulations: Default::default(),
        sockets: Default::default(),
        live: Default::default(),
        organisations: Default::default(),
        clock,
        tokens,
    };
    Ok(state)
}

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

impl Application {
    /// Opens the database, applies pending migrations, builds the schema and binds the listener.
    pub async fn build(settings: &Settings) -> Result<Application, StartupError> {
        // Refuse an unsafe token configuration before touching the database.
        let tokens = token_keys(settings)?;
        // The origin printed in documents' QR codes is configured, never taken from a request,
        // outside development.
        if settings.public_url.is_none() && !settings.dev {
            return Err(StartupError::Config(
                "public_url (QYZMET_PUBLIC_URL) is not set: the API's public origin, https://…, is \
                 printed in every document's QR code and must be configured (or start with --dev \
                 for development)"
                    .into(),
            ));
        }
        let db = store::connect(&settings.database).await?;
        store::migrate(&db).await?;
        tracing::info!(database = %redact_url(&settings.database.url), "database ready");

        let clock = match settings.fixed_clock {
            Some(at) => crate::clock::Clock::fixed(at),
            None => crate::clock::Clock::system(),
        };
        let state = prepare_state(db, tokens, clock).await?;
        state
            .fanout
            .store(settings.background, std::sync::atomic::Ordering::Relaxed);
        let files = crate::files::FileStore::open(&settings.files)
            .await
            .map_err(StartupError::Data)?;
        let trust = crate::signatures::Trust::load(
            &settings.files.trusted_cas,
            settings.files.crl.as_ref(),
        )
        .map_err(|e| StartupError::Data(format!("trusted authorities: {e}")))?;
        if settings.background {
            crate::background::start(&state, settings.notify_webhook_url.clone());
            crate::background::sweep_files(&state, files.clone());
            if let Some(path) = &settings.files.crl {
                crate::signatures::watch_crl(
                    trust.clone(),
                    path.clone(),
                    crate::signatures::CRL_RELOAD_EVERY,
                );
            }
            crate::fanout::start(&state, &settings.database.url);
        }
        let mailboxes = crate::mailbox::Mailboxes::start(&state);
        let public = crate::throttle::PublicLimiter::new(settings.limits.verify_per_minute);
        let schema: QyzmetSchema = build_schema(
            state.clone(),
            mailboxes,
            files.clone(),
            trust,
            public.clone(),
            &settings.limits,
        );

        let listener = TcpListener::bind(settings.listen).map_err(|source| StartupError::Bind {
            addr: settings.listen,
            source,
        })?;
        let local = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: settings.listen,
            source,
        })?;

        let schema = web::Data::new(schema);
        let limits = web::Data::new(settings.limits.clone());
        let proxies = web::Data::new(settings.proxies.clone());
        let origins = web::Data::new(crate::network::Origins::new(
            &settings.cors_origins,
            settings.dev,
        ));
        let app_state = web::Data::new(state.clone());
        let persisted = web::Data::new(crate::persisted::PersistedQueries::default());
        let files = web::Data::new(files);
        let uploads = web::Data::new(settings.files.clone());
        let public = web::Data::new(public);
        let upload_slots = web::Data::new(crate::multipart::UploadSlots::new(
            settings.files.max_concurrent_uploads,
            crate::multipart::MAX_UPLOADS_PER_ACCOUNT,
        ));
        let public_url = web::Data::new(crate::file_routes::PublicUrl(settings.public_url.clone()));
        let server = HttpServer::new(move || {
            let allowed = origins.clone();
            // Browsers on the allowed origins may call the API (bearer tokens, no cookies).
            let cors = actix_cors::Cors::default()
                .allowed_origin_fn(move |origin, _| {
                    origin.to_str().is_ok_and(|o| allowed.allows(o))
                })
                .allowed_methods(["GET", "POST"])
                .allowed_headers([
                    actix_web::http::header::AUTHORIZATION,
                    actix_web::http::header::CONTENT_TYPE,
                    actix_web::http::header::ACCEPT,
                    actix_web::http::header::ACCEPT_LANGUAGE,
                    // Correlation and tracing headers that frontends' error and tracing tools
                    // (Sentry, OpenTelemetry) add to every request.
                    actix_web::http::header::HeaderName::from_static("x-request-id"),
                    actix_web::http::header::HeaderName::from_static("traceparent"),
                    actix_web::http::header::HeaderName::from_static("tracestate"),
                    actix_web::http::header::HeaderName::from_static("baggage"),
                    actix_web::http::header::HeaderName::from_static("sentry-trace"),
                ])
                .expose_headers([
                    actix_web::http::header::RETRY_AFTER,
                    actix_web::http::header::HeaderName::from_static("x-request-id"),
                ])
                .max_age(3600);
            // The request id is outermost, so every answer has one, CORS preflights included.
            App::new()
                .wrap(actix_web::middleware::Compress::default())
                .wrap(cors)
                .wrap(actix_web::middleware::from_fn(http::request_id))
                .app_data(schema.clone())
                .app_data(limits.clone())
                .app_data(proxies.clone())
                .app_data(origins.clone())
                .app_data(app_state.clone())
                .app_data(persisted.clone())
                .app_data(files.clone())
                .app_data(uploads.clone())
                .app_data(upload_slots.clone())
                .app_data(public.clone())
                .app_data(public_url.clone())
                .configure(http::routes)
        })
        .listen(listener)
        .map_err(|source| StartupError::Bind {
            addr: settings.listen,
            source,
        })?
        .shutdown_timeout(settings.shutdown_timeout.as_secs())
        .run();

        tracing::info!(address = %local, "listening");
        tracing::info!("GraphiQL at http://{local}/graphql");
        Ok(Application {
            port: local.port(),
            server,
            state,
        })
    }

    /// The bound port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state, for tests and commands that run beside the server.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGTERM or ctrl-c; in-flight requests finish within the shutdown timeout.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

//! Prometheus metrics at `GET /metrics`, so an operator sees the next problem before users do.
//!
//! Counted as things happen: GraphQL requests by operation type and outcome code, their latency,
//! case moves by action. Read from the database and the process when scraped: the notification
//! backlog, the watchdog's lag (how long the oldest announcement that is due has waited), the
//! connection pool, open subscription sockets. Labels come from bounded sets only (operation
//! type, error codes, actions): nothing a client sends becomes a label.

use std::sync::OnceLock;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use sea_orm::{ConnectionTrait, Statement};

use crate::state::AppState;

/// The metrics of this process.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    moves: IntCounterVec,
    outbox_backlog: IntGauge,
    watchdog_lag: IntGauge,
    pool: IntGaugeVec,
    sockets: IntGauge,
    listener_reconnects: prometheus::IntCounter,
    stale_commands: prometheus::IntCounter,
    crl: IntGaugeVec,
    crl_failures: prometheus::IntCounter,
}

fn build() -> Result<Metrics, prometheus::Error> {
    let registry = Registry::new_custom(Some("qyzmet".into()), None)?;
    let requests = IntCounterVec::new(
        Opts::new(
            "graphql_requests_total",
            "GraphQL requests by operation type and outcome code (OK when no error)",
        ),
        &["operation", "code"],
    )?;
    let latency = HistogramVec::new(
        HistogramOpts::new(
            "graphql_request_seconds",
            "GraphQL request latency, from the body read to the answer",
        )
        .buckets(vec![
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]),
        &["operation"],
    )?;
    let moves = IntCounterVec::new(
        Opts::new("case_moves_total", "Case moves committed, by action"),
        &["action"],
    )?;
    let outbox_backlog = IntGauge::new(
        "notification_backlog",
        "Applicant notifications not yet delivered",
    )?;
    let watchdog_lag = IntGauge::new(
        "watchdog_lag_seconds",
        "How long the oldest due and unannounced at-risk or overdue moment has waited",
    )?;
    let pool = IntGaugeVec::new(
        Opts::new("db_pool_connections", "Database pool connections by state"),
        &["state"],
    )?;
    let sockets = IntGauge::new("subscription_sockets", "Open subscription sockets")?;
    let listener_reconnects = prometheus::IntCounter::new(
        "listener_reconnects_total",
        "Times the LISTEN connection for other nodes' changes was lost (PostgreSQL)",
    )?;
    let stale_commands = prometheus::IntCounter::new(
        "mailbox_stale_commands_total",
        "Commands a mailbox answered CONFLICT without a database round trip: they waited behind \
         another command on the same case, which replaced the version they expected",
    )?;
    let crl = IntGaugeVec::new(
        Opts::new(
            "crl_timestamp_seconds",
            "The revocation list in force: when it was issued (this_update) and when its issuer \
             promised the next (next_update), Unix seconds; alert when next_update is past",
        ),
        &["field"],
    )?;
    let crl_failures = prometheus::IntCounter::new(
        "crl_reload_failures_total",
        "Times re-reading the revocation list failed (unreadable, unsigned or older than the \
         list in force); the list in force stayed",
    )?;
    registry.register(Box::new(crl.clone()))?;
    registry.register(Box::new(crl_failures.clone()))?;
    registry.register(Box::new(stale_commands.clone()))?;
    registry.register(Box::new(requests.clone()))?;
    registry.register(Box::new(latency.clone()))?;
    registry.register(Box::new(moves.clone()))?;
    registry.register(Box::new(outbox_backlog.clone()))?;
    registry.register(Box::new(watchdog_lag.clone()))?;
    registry.register(Box::new(pool.clone()))?;
    registry.register(Box::new(sockets.clone()))?;
    registry.register(Box::new(listener_reconnects.clone()))?;
    Ok(Metrics {
        registry,
        requests,
        latency,
        moves,
        outbox_backlog,
        watchdog_lag,
        pool,
        sockets,
        listener_reconnects,
        stale_commands,
        crl,
        crl_failures,
    })
}

/// The process's metrics (`None` only if they could not be built, which is logged once).
pub fn metrics() -> Option<&'static Metrics> {
    static M: OnceLock<Option<Metrics>> = OnceLock::new();
    M.get_or_init(|| match build() {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::error!(error = %e, "metrics unavailable");
            None
        }
    })
    .as_ref()
}

/// The operation type of a query text: `query`, `mutation` or `subscription`.
pub fn operation_type(query: &str) -> &'static str {
    let q = query.trim_start();
    if q.starts_with("mutation") {
        "mutation"
    } else if q.starts_with("subscription") {
        "subscription"
    } else {
        "query"
    }
}

/// Counts one answered GraphQL request.
pub fn request(operation: &'static str, code: &str, seconds: f64) {
    if let Some(m) = metrics() {
        m.requests.with_label_values(&[operation, code]).inc();
        m.latency.with_label_values(&[operation]).observe(seconds);
    }
}

/// Counts one loss of the LISTEN connection.
pub fn listener_reconnect() {
    if let Some(m) = metrics() {
        m.listener_reconnects.inc();
    }
}

/// Counts one command answered stale by its mailbox's queue.
pub fn stale_command() {
    if let Some(m) = metrics() {
        m.stale_commands.inc();
    }
}

/// Records the dates of the revocation list in force.
pub fn crl_dates(
    this_update: chrono::DateTime<chrono::Utc>,
    next_update: Option<chrono::DateTime<chrono::Utc>>,
) {
    if let Some(m) = metrics() {
        m.crl
            .with_label_values(&["this_update"])
            .set(this_update.timestamp());
        m.crl
            .with_label_values(&["next_update"])
            .set(next_update.map_or(0, |n| n.timestamp()));
    }
}

/// Counts one failed re-read of the revocation list.
pub fn crl_reload_failed() {
    if let Some(m) = metrics() {
        m.crl_failures.inc();
    }
}

/// Counts one committed case move.
pub fn moved(action: &'static str) {
    if let Some(m) = metrics() {
        m.moves.with_label_values(&[action]).inc();
    }
}

async fn scalar(state: &AppState, sql: &str) -> Option<i64> {
    let row = state
        .db
        .query_one_raw(Statement::from_string(
            state.db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .ok()??;
    row.try_get::<i64>("", "n").ok()
}

/// The text exposition, with the scrape-time gauges read now.
pub async fn render(state: &AppState) -> String {
    let Some(m) = metrics() else {
        return String::new();
    };
    if let Some(n) = scalar(
        state,
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM notification_outbox WHERE delivered_at IS NULL",
    )
    .await
    {
        m.outbox_backlog.set(n);
    }
    let now = state.clock.now();
    // The watchdog's next moment, when it is already past: that announcement is late by this.
    let oldest = crate::background::next_moment(state)
        .await
        .ok()
        .flatten()
        .filter(|t| *t <= now);
    m.watchdog_lag
        .set(oldest.map_or(0, |t| (now - t).num_seconds().max(0)));
    let (size, idle) = pool_sizes(state);
    m.pool.with_label_values(&["open"]).set(size);
    m.pool.with_label_values(&["idle"]).set(idle);
    m.sockets.set(state.sockets.total() as i64);
    let mut out = Vec::new();
    if TextEncoder::new()
        .encode(&m.registry.gather(), &mut out)
        .is_err()
    {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

fn pool_sizes(state: &AppState) -> (i64, i64) {
    match state.db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => {
            let p = state.db.get_postgres_connection_pool();
            (i64::from(p.size()), p.num_idle() as i64)
        }
        _ => {
            let p = state.db.get_sqlite_connection_pool();
            (i64::from(p.size()), p.num_idle() as i64)
        }
    }
}

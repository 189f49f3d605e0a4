//! Work that runs beside the API, on one node at a time: the deadline watchdog and the delivery
//! of applicant notifications.
//!
//! - The watchdog sleeps until the next moment something becomes due — a step reaching 80% of
//!   its allowed time, or its due time — rather than scanning every row every second. It marks
//!   the step (at risk, or overdue), records an event in the case's chain and tells the head's
//!   mailbox. Marks are conditional updates, so nothing is announced twice, across restarts or
//!   nodes; after a restart it picks up whatever fell due meanwhile.
//! - The notification worker posts outbox rows to the configured webhook with an
//!   `Idempotency-Key`, retrying with exponential backoff; a row is marked delivered only after
//!   a 2xx answer. A crash between the answer and the mark re-sends the same key once, which the
//!   receiver recognises.
//! - Leadership: on PostgreSQL a session advisory lock held on a dedicated connection; when the
//!   node holding it dies, its connection closes, the lock is released and another node takes
//!   over within seconds. Before every pass a leader checks that its session still holds the
//!   lock (a fencing check): after a database outage cut its connection, another node may hold
//!   it now, so it stops and competes again instead of running a second watchdog or notifier.
//!   SQLite is one process: it always leads.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{case_step, notification_outbox, service_case};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;

use crate::error::{ApiError, ErrorChain};
use crate::events::CaseChange;
use crate::state::AppState;
use crate::store::cases::append_event;

/// Advisory-lock key of the deadline watchdog.
pub const WATCHDOG_LOCK: i64 = 0x7179_7a6d_6574_0001;
/// Advisory-lock key of the notification worker.
pub const NOTIFIER_LOCK: i64 = 0x7179_7a6d_6574_0002;

/// Holds a worker's leadership while alive.
pub enum Leadership {
    /// SQLite: one process, always the leader.
    Alone,
    /// PostgreSQL: the connection holding the advisory lock (detached from the pool, so that
    /// dropping it when the runtime stops closes it instead of spawning a return to the pool).
    Locked(#[allow(dead_code)] sea_orm::sqlx::PgConnection),
}

impl Leadership {
    /// The fencing check: whether this session still holds the lock `key` — its connection
    /// answers and PostgreSQL lists the advisory lock as granted to it.
    pub async fn holds(&mut self, key: i64) -> bool {
        match self {
            Leadership::Alone => true,
            Leadership::Locked(conn) => sea_orm::sqlx::query_scalar::<_, bool>(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' \
                 AND pid = pg_backend_pid() AND granted AND objsubid = 1 \
                 AND ((classid::bigint << 32) | objid::bigint) = $1)",
            )
            .bind(key)
            .fetch_one(&mut *conn)
            .await
            .unwrap_or(false),
        }
    }
}

/// Leadership of the worker `key` on this node, when no other node has it.
pub async fn try_lead(state: &AppState, key: i64) -> Option<Leadership> {
    if state.db.get_database_backend() != DatabaseBackend::Postgres {
        return Some(Leadership::Alone);
    }
    let mut conn = state
        .db
        .get_postgres_connection_pool()
        .acquire()
        .await
        .ok()?;
    let got: bool = sea_orm::sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(key)
        .fetch_one(&mut *conn)
        .await
        .ok()?;
    // Without the lock the connection goes back to the pool; with it, it leaves the pool.
    got.then(|| Leadership::Locked(conn.detach()))
}

/// Starts both workers (leadership decided per worker).
pub fn start(state: &AppState, webhook: Option<String>) {
    let s = state.clone();
    actix_web::rt::spawn(async move { run_watchdog(s).await });
    if let Some(url) = webhook {
        let s = state.clone();
        actix_web::rt::spawn(async move { run_notifier(s, url).await });
    }
}

/// How often stored files that no attachment names are swept, and how old they must be (an
/// upload whose transaction is still running must not lose its file).
pub const FILE_SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// Sweeps orphaned files from the file store every [`FILE_SWEEP_EVERY`] (every node may: the
/// sweep only deletes what no row names and is idempotent).
pub fn sweep_files(state: &AppState, files: crate::files::FileStore) {
    let state = state.clone();
    actix_web::rt::spawn(async move {
        loop {
            actix_web::rt::time::sleep(FILE_SWEEP_EVERY).await;
            let cutoff = chrono::Utc::now()
                - chrono::Duration::from_std(FILE_SWEEP_EVERY).unwrap_or_default();
            let db = state.db.clone();
            let swept = files
                .sweep(cutoff, |names| {
                    let db = db.clone();
                    async move { crate::store::files::referenced(&db, names).await }
                })
                .await;
            match swept {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "orphaned files swept"),
                Err(e) => tracing::warn!(error = %e, "sweeping orphaned files failed"),
            }
        }
    });
}

/// Waits until this node leads the worker `key`.
async fn lead(state: &AppState, key: i64, what: &str) -> Leadership {
    loop {
        if let Some(l) = try_lead(state, key).await {
            tracing::info!("{what} leads on this node");
            return l;
        }
        actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    }
}

async fn run_watchdog(state: AppState) {
    let mut leadership = lead(&state, WATCHDOG_LOCK, "deadline watchdog").await;
    loop {
        if !leadership.holds(WATCHDOG_LOCK).await {
            tracing::warn!("deadline watchdog lost its leadership; competing again");
            drop(leadership);
            leadership = lead(&state, WATCHDOG_LOCK, "deadline watchdog").await;
            continue;
        }
        match announce_due(&state).await {
            Ok(n) if n > 0 => tracing::info!(announced = n, "watchdog announcements"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %ErrorChain(&e), "watchdog pass failed"),
        }
        let now = state.clock.now();
        let next = next_moment(&state).await.unwrap_or(None);
        // Sleep until the next moment, or a minute at most; a new step (on this node, or on
        // another, heard through LISTEN) wakes us sooner.
        let wait = next
            .map(|n| (n - now).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(Duration::from_secs(60))
            .min(Duration::from_secs(60));
        tokio::select! {
            _ = actix_web::rt::time::sleep(wait.max(Duration::from_millis(50))) => {}
            _ = state.watchdog_wake.notified() => {}
        }
    }
}

fn open_steps() -> sea_orm::Select<case_step::Entity> {
    case_step::Entity::find().filter(case_step::Column::FinishedAt.is_null())
}

/// The next moment the watchdog has something to announce.
pub async fn next_moment(state: &AppState) -> Result<Option<DateTime<Utc>>, ApiError> {
    let risk: Option<DateTime<Utc>> = open_steps()
        .filter(case_step::Column::RiskAnnouncedAt.is_null())
        .select_only()
        .column_as(case_step::Column::RiskAt.min(), "m")
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(&state.db)
        .await?
        .flatten();
    let due: Option<DateTime<Utc>> = open_steps()
        .filter(case_step::Column::OverdueAnnouncedAt.is_null())
        .filter(case_step::Column::DueAt.lt(crate::store::cases::far_future()))
        .select_only()
        .column_as(case_step::Column::DueAt.min(), "m")
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(&state.db)
        .await?
        .flatten();
    Ok(match (risk, due) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

/// Announces every step that reached 80% or its due time by now; returns how many.
pub async fn announce_due(state: &AppState) -> Result<usize, ApiError> {
    let now = state.clock.now();
    let risky = open_steps()
        .filter(case_step::Column::RiskAnnouncedAt.is_null())
        .filter(case_step::Column::RiskAt.lte(now))
        .order_by_asc(case_step::Column::Id)
        .limit(500)
        .all(&state.db)
        .await?;
    let late = open_steps()
        .filter(case_step::Column::OverdueAnnouncedAt.is_null())
        .filter(case_step::Column::DueAt.lte(now))
        .order_by_asc(case_step::Column::Id)
        .limit(500)
        .all(&state.db)
        .await?;
    let mut announced = 0;
    for (steps, kind) in [(risky, "STEP_AT_RISK"), (late, "STEP_OVERDUE")] {
        for s in steps {
            if announce(state, &s, kind, now).await? {
                announced += 1;
            }
        }
    }
    Ok(announced)
}

async fn announce(
    state: &AppState,
    s: &case_step::Model,
    kind: &str,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let _writer = match &state.write_lock {
        Some(l) => Some(l.lock().await),
        None => None,
    };
    let txn = crate::store::begin_write(&state.db).await?;
    let column = if kind == "STEP_AT_RISK" {
        case_step::Column::RiskAnnouncedAt
    } else {
        case_step::Column::OverdueAnnouncedAt
    };
    // Conditional: whoever marks it first announces it; nobody announces it twice.
    let marked = case_step::Entity::update_many()
        .col_expr(column, Expr::value(now))
        .filter(case_step::Column::Id.eq(s.id))
        .filter(column.is_null())
        .filter(case_step::Column::FinishedAt.is_null())
        .exec(&txn)
        .await?;
    if marked.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(false);
    }
    let payload = json!({ "stage": s.stage, "mailbox": s.mailbox, "step": s.seq, "due": s.due_at.map(|d| d.to_rfc3339()) });
    append_event(&txn, s.case_id, kind, payload, "watchdog", now).await?;
    // Subscribers hear of it: the case stays where it is, marked. Other nodes are told inside
    // this transaction.
    let case = service_case::Entity::find_by_id(s.case_id)
        .one(&txn)
        .await?;
    let change = case.map(|c| CaseChange::of(Some(&c), &c));
    if let Some(change) = change {
        if state.fanout.load(std::sync::atomic::Ordering::Relaxed) {
            crate::events::notify_in(&txn, &state.node_id, change).await?;
        }
    }
    txn.commit().await?;
    if let Some(change) = change {
        let _ = state.events.send(change);
    }
    Ok(true)
}

async fn run_notifier(state: AppState, url: String) {
    let mut leadership = lead(&state, NOTIFIER_LOCK, "notification delivery").await;
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(10))
        .finish();
    loop {
        if !leadership.holds(NOTIFIER_LOCK).await {
            tracing::warn!("notification delivery lost its leadership; competing again");
            drop(leadership);
            leadership = lead(&state, NOTIFIER_LOCK, "notification delivery").await;
            continue;
        }
        match deliver_due(&state, &client, &url).await {
            Ok(n) if n > 0 => tracing::info!(delivered = n, "notifications delivered"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %ErrorChain(&e), "notification pass failed"),
        }
        actix_web::rt::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Posts every notification due now; returns how many were delivered.
pub async fn deliver_due(
    state: &AppState,
    client: &awc::Client,
    url: &str,
) -> Result<usize, ApiError> {
    let now = state.clock.now();
    let due = notification_outbox::Entity::find()
        .filter(notification_outbox::Column::DeliveredAt.is_null())
        .filter(notification_outbox::Column::NextAttemptAt.lte(now))
        .order_by_asc(notification_outbox::Column::Id)
        .limit(100)
        .all(&state.db)
        .await?;
    let mut delivered = 0;
    for n in due {
        let body = json!({
            "id": n.idempotency_key,
            "kind": n.kind,
            "caseId": n.case_id,
            "payload": serde_json::from_str::<serde_json::Value>(&n.payload).unwrap_or_default(),
            "createdAt": n.created_at.to_rfc3339(),
        });
        let outcome = client
            .post(url)
            .insert_header(("Idempotency-Key", n.idempotency_key.clone()))
            .send_json(&body)
            .await;
        let ok = matches!(&outcome, Ok(r) if r.status().is_success());
        if ok {
            notification_outbox::Entity::update_many()
                .col_expr(notification_outbox::Column::DeliveredAt, Expr::value(now))
                .filter(notification_outbox::Column::Id.eq(n.id))
                .filter(notification_outbox::Column::DeliveredAt.is_null())
                .exec(&state.db)
                .await?;
            delivered += 1;
        } else {
            let error = match outcome {
                Ok(r) => format!("HTTP {}", r.status()),
                Err(e) => e.to_string(),
            };
            let attempts = n.attempts + 1;
            let backoff =
                chrono::Duration::seconds(2i64.saturating_pow(attempts.min(9) as u32).min(600));
            notification_outbox::Entity::update_many()
                .col_expr(notification_outbox::Column::Attempts, Expr::value(attempts))
                .col_expr(
                    notification_outbox::Column::NextAttemptAt,
                    Expr::value(now + backoff),
                )
                .col_expr(notification_outbox::Column::LastError, Expr::value(error))
                .filter(notification_outbox::Column::Id.eq(n.id))
                .exec(&state.db)
                .await?;
        }
    }
    Ok(delivered)
}

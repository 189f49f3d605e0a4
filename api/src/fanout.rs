//! Several nodes, one system: on PostgreSQL every case change is also sent with `NOTIFY`, and
//! every node `LISTEN`s, so that a move made on node A reaches subscribers on node B. A node
//! skips its own notifications (its subscribers heard them already).

use std::time::Duration;

use sea_orm::DatabaseBackend;
use serde_json::json;

use crate::mailbox::MailboxKey;
use crate::state::{AppState, CaseChange};
use crate::store::cases::{mailbox_str, parse_mailbox};

const CHANNEL: &str = "qyzmet_case";

fn key_json(k: Option<MailboxKey>) -> serde_json::Value {
    k.map_or(
        serde_json::Value::Null,
        |k| json!({ "org": k.org_id, "mailbox": mailbox_str(k.mailbox) }),
    )
}

fn key_from(v: &serde_json::Value) -> Option<MailboxKey> {
    Some(MailboxKey {
        org_id: v["org"].as_i64()?,
        mailbox: parse_mailbox(v["mailbox"].as_str()?)?,
    })
}

/// Sends a change to the other nodes (PostgreSQL only; a no-op on SQLite).
pub fn publish(state: &AppState, change: CaseChange) {
    if !state.fanout.load(std::sync::atomic::Ordering::Relaxed)
        || state.db.get_database_backend() != DatabaseBackend::Postgres
    {
        return;
    }
    let payload = json!({
        "node": state.node_id, "case": change.case_id, "version": change.version,
        "from": key_json(change.from), "to": key_json(change.to),
    })
    .to_string();
    let pool = state.db.get_postgres_connection_pool().clone();
    actix_web::rt::spawn(async move {
        let sent = sea_orm::sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&pool)
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "could not notify other nodes");
        }
    });
}

/// Listens for other nodes' changes and hands them to this node's subscribers; reconnects.
pub fn start(state: &AppState) {
    if state.db.get_database_backend() != DatabaseBackend::Postgres {
        return;
    }
    let state = state.clone();
    actix_web::rt::spawn(async move {
        loop {
            let pool = state.db.get_postgres_connection_pool().clone();
            let listener = async {
                let mut l = sea_orm::sqlx::postgres::PgListener::connect_with(&pool).await?;
                l.listen(CHANNEL).await?;
                Ok::<_, sea_orm::sqlx::Error>(l)
            };
            match listener.await {
                // Never dropped in place: a listener dropped while the runtime stops would try to
                // spawn its return to the pool and abort the process (sqlx issue 1389). It is
                // closed when the process exits.
                Ok(l) => {
                    let mut l = std::mem::ManuallyDrop::new(l);
                    loop {
                        match l.recv().await {
                            Ok(n) => {
                                let Ok(v) = serde_json::from_str::<serde_json::Value>(n.payload())
                                else {
                                    continue;
                                };
                                if v["node"].as_str() == Some(state.node_id.as_str()) {
                                    continue;
                                }
                                let (Some(case_id), Some(version)) =
                                    (v["case"].as_i64(), v["version"].as_i64())
                                else {
                                    continue;
                                };
                                let change = CaseChange {
                                    case_id,
                                    version: version as i32,
                                    from: key_from(&v["from"]),
                                    to: key_from(&v["to"]),
                                };
                                let _ = state.events.send(change);
                                // A step started on another node may fall due before the
                                // watchdog's next wake-up (if the watchdog runs here).
                                state.watchdog_wake.notify_one();
                                // Recount the mailboxes this node holds actors for.
                                for key in [change.from, change.to].into_iter().flatten() {
                                    state
                                        .mailboxes
                                        .forward(key, crate::mailbox::TakeIn { case_id });
                                }
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "listening for other nodes failed; reconnecting");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot listen for other nodes; retrying"),
            }
            actix_web::rt::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

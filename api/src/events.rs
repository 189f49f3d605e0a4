//! What a case change is, and how it travels: within a node on the event bus
//! (`AppState::events`), between nodes with PostgreSQL's `NOTIFY` sent inside the move's own
//! transaction (so it is delivered exactly when the move commits, and never for one that did
//! not). A leaf: it knows the database and the stored names, not the server.

use chrono::{DateTime, Utc};
use domain::case::Stage;
use domain::regulation::Mailbox;
use entity::service_case;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, Statement};
use serde_json::json;

use crate::error::ApiError;
use crate::store::case_rows::{mailbox_str, parse_mailbox};

/// The PostgreSQL channel of case changes.
pub const CHANNEL: &str = "qyzmet_case";

/// One organisation's mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MailboxKey {
    /// The organisation.
    pub org_id: i64,
    /// The mailbox.
    pub mailbox: Mailbox,
}

impl MailboxKey {
    /// Where a case is now, if it is in a mailbox.
    pub fn of(c: &service_case::Model) -> Option<MailboxKey> {
        Some(MailboxKey {
            org_id: c.current_org_id?,
            mailbox: parse_mailbox(c.current_mailbox.as_deref()?)?,
        })
    }
}

/// A case moved (or was marked, e.g. at risk): subscribers reload it, mailboxes recount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaseChange {
    /// The case.
    pub case_id: i64,
    /// Its version after the move.
    pub version: i32,
    /// The mailbox it left.
    pub from: Option<MailboxKey>,
    /// The mailbox it entered.
    pub to: Option<MailboxKey>,
    /// When its step in `to` is due (none: no due time, or no mailbox).
    pub due: Option<DateTime<Utc>>,
    /// Its stage after the move.
    pub stage: Option<Stage>,
}

impl CaseChange {
    /// The change from `before` (none: a new case) to `after`.
    pub fn of(before: Option<&service_case::Model>, after: &service_case::Model) -> CaseChange {
        CaseChange {
            case_id: after.id,
            version: after.version,
            from: before.and_then(MailboxKey::of),
            to: MailboxKey::of(after),
            due: after.step_due_at,
            stage: Stage::parse(&after.stage),
        }
    }
}

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

/// The notification text of a change sent by node `node`.
pub fn payload(node: &str, change: CaseChange) -> String {
    json!({
        "node": node, "case": change.case_id, "version": change.version,
        "from": key_json(change.from), "to": key_json(change.to),
        "due": change.due.map(|d| d.timestamp_micros()),
        "stage": change.stage.map(Stage::as_str),
    })
    .to_string()
}

/// A change another node sent; `None` for this node's own (its subscribers heard it already) or
/// for a text that is not a change.
pub fn parse(text: &str, this_node: &str) -> Option<CaseChange> {
    let v = serde_json::from_str::<serde_json::Value>(text).ok()?;
    if v["node"].as_str() == Some(this_node) {
        return None;
    }
    Some(CaseChange {
        case_id: v["case"].as_i64()?,
        version: i32::try_from(v["version"].as_i64()?).ok()?,
        from: key_from(&v["from"]),
        to: key_from(&v["to"]),
        due: v["due"].as_i64().and_then(DateTime::from_timestamp_micros),
        stage: v["stage"].as_str().and_then(Stage::parse),
    })
}

/// Queues the change for the other nodes inside `txn`: PostgreSQL delivers it when `txn`
/// commits and drops it when it rolls back. A no-op on SQLite (one node).
pub async fn notify_in(
    txn: &DatabaseTransaction,
    node: &str,
    change: CaseChange,
) -> Result<(), ApiError> {
    if txn.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    txn.execute_raw(Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [CHANNEL.into(), payload(node, change).into()],
    ))
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_reads_back_on_another_node_and_not_on_its_own() {
        let change = CaseChange {
            case_id: 7,
            version: 3,
            from: Some(MailboxKey {
                org_id: 1,
                mailbox: Mailbox::Head,
            }),
            to: Some(MailboxKey {
                org_id: 2,
                mailbox: Mailbox::Corporation,
            }),
            due: DateTime::from_timestamp_micros(1_790_000_000_000_001),
            stage: Some(Stage::CorporationTransfer),
        };
        let text = payload("node-a", change);
        assert_eq!(parse(&text, "node-b"), Some(change));
        assert_eq!(parse(&text, "node-a"), None);
        assert_eq!(parse("not json", "node-b"), None);
    }
}

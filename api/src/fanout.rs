//! Several nodes, one system: every move queues a `NOTIFY` inside its own transaction
//! (`crate::events::notify_in`), and every node `LISTEN`s here, so that a move made on node A
//! reaches subscribers on node B. The listener has its own connection, outside the application's
//! pool (a pool slot is never held or leaked by it); when the connection is lost, sqlx reconnects
//! it on the next receive. A node skips its own notifications (its subscribers heard them).

use std::time::Duration;

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::DatabaseBackend;

use crate::events::{parse, CHANNEL};
use crate::state::AppState;

async fn connect(url: &str) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut l = PgListener::connect(url).await?;
    l.listen(CHANNEL).await?;
    Ok(l)
}

/// Listens for other nodes' changes (PostgreSQL only) and hands them to this node's subscribers.
pub fn start(state: &AppState, database_url: &str) {
    if state.db.get_database_backend() != DatabaseBackend::Postgres {
        return;
    }
    let (state, url) = (state.clone(), database_url.to_owned());
    actix_web::rt::spawn(async move {
        let listener = loop {
            match connect(&url).await {
                Ok(l) => break l,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for other nodes; retrying");
                    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        // Never dropped in place: a listener dropped while the runtime stops would try to spawn
        // the return of its connection and abort the process (sqlx issue 1389). It is closed
        // when the process exits.
        let mut listener = std::mem::ManuallyDrop::new(listener);
        loop {
            match listener.recv().await {
                Ok(n) => {
                    let Some(change) = parse(n.payload(), &state.node_id) else {
                        continue;
                    };
                    let _ = state.events.send(change);
                    // A step started on another node may fall due before the watchdog's next
                    // wake-up (if the watchdog runs here).
                    state.watchdog_wake.notify_one();
                }
                Err(e) => {
                    // The next receive reconnects; changes sent meanwhile are not replayed here
                    // (subscribers resume from their position, see `mailboxChanged(after:)`).
                    tracing::warn!(error = %e, "listening for other nodes failed; reconnecting");
                    crate::metrics::listener_reconnect();
                    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
}

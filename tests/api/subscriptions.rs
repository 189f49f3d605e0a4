//! Subscriptions over a real WebSocket client speaking `graphql-transport-ws`.

use std::time::Duration;

use awc::ws;
use domain::identity::Role;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};

use crate::cases::{advance, application, open, People};
use crate::helpers::{spawn_app_with, TestApp};

pub type Socket = actix_codec::Framed<awc::BoxedSocket, ws::Codec>;

pub async fn connect(app: &TestApp, token: &str) -> Result<Socket, Option<ws::CloseReason>> {
    let mut socket = raw_socket(app).await;
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    socket
        .send(ws::Message::Text(init.to_string().into()))
        .await
        .expect("sends");
    match next(&mut socket).await {
        Ok(msg) if msg["type"] == "connection_ack" => Ok(socket),
        Ok(other) => panic!("unexpected {other}"),
        Err(reason) => Err(reason),
    }
}

/// The next protocol message, skipping pings; `Err` with the close reason when closed.
pub async fn next(socket: &mut Socket) -> Result<Value, Option<ws::CloseReason>> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s");
        match frame {
            Some(Ok(ws::Frame::Text(t))) => return Ok(serde_json::from_slice(&t).expect("JSON")),
            Some(Ok(ws::Frame::Close(reason))) => return Err(reason),
            Some(Ok(ws::Frame::Ping(p))) => {
                let _ = socket.send(ws::Message::Pong(p)).await;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("socket error {e}"),
            None => return Err(None),
        }
    }
}

pub async fn subscribe(socket: &mut Socket, id: &str, query: &str, variables: Value) {
    let msg = json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } });
    socket
        .send(ws::Message::Text(msg.to_string().into()))
        .await
        .expect("sends");
    // Give the server a moment to register the subscription before anything happens.
    tokio::time::sleep(Duration::from_millis(200)).await;
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("rfc3339")
        .with_timezone(&chrono::Utc)
}

#[actix_web::test]
async fn a_subscriber_sees_a_case_enter_and_leave_its_mailbox() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let org = "aktau-school-1";
    let clerk = people.staff(org, Role::OfficeClerk).await;
    let head = people.staff(org, Role::Head).await;
    people.staff(org, Role::Executor).await;
    let mut socket = connect(&app, &head).await.expect("accepted");
    subscribe(
        &mut socket,
        "1",
        "subscription { mailboxChanged(mailbox: HEAD) { mailbox change total overdue dueToday case { number stage } } }",
        json!({}),
    )
    .await;

    let input = application(
        "mangystau-secondary-education-duplicates",
        None,
        "850305400120",
        json!({}),
    );
    let case = open(&app, &clerk, "registerApplication", input).await["data"]["r"].clone();
    let entered = next(&mut socket).await.expect("a message");
    assert_eq!(entered["type"], "next", "{entered}");
    let c = &entered["payload"]["data"]["mailboxChanged"];
    assert_eq!(c["change"], "ENTERED", "{entered}");
    assert_eq!(c["case"]["number"], case["number"]);
    assert_eq!(
        (
            c["total"].clone(),
            c["overdue"].clone(),
            c["dueToday"].clone()
        ),
        (json!(1), json!(0), json!(0))
    );

    advance(&mut people, &case, org, None, false).await; // the head assigns: it leaves HEAD
    let left = next(&mut socket).await.expect("a message");
    let c = &left["payload"]["data"]["mailboxChanged"];
    assert_eq!(c["change"], "LEFT", "{left}");
    assert_eq!(c["case"]["stage"], "PREPARE");
    assert_eq!(c["total"], 0);
}

#[actix_web::test]
async fn an_applicant_follows_their_own_case_and_nobody_elses() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-10-01T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let owner = people.applicant("850305400120").await;
    let stranger = people.applicant("901122600340").await;
    let input = application(
        "mangystau-externat-permission",
        Some("aktau-akimat"),
        "850305400120",
        json!({}),
    );
    let mut case = open(&app, &owner, "submitApplication", input).await["data"]["r"].clone();

    let q = "subscription($c: ID!) { caseUpdated(caseId: $c) { status stage version } }";
    let mut mine = connect(&app, &owner).await.expect("accepted");
    subscribe(&mut mine, "a", q, json!({ "c": case["id"] })).await;
    let mut theirs = connect(&app, &stranger).await.expect("accepted");
    subscribe(&mut theirs, "b", q, json!({ "c": case["id"] })).await;
    let refused = next(&mut theirs).await.expect("an answer");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{refused}"
    );

    let mut seen = Vec::new();
    while case["status"] != "COMPLETED" {
        case = advance(&mut people, &case, "aktau-akimat", None, false).await;
        let m = next(&mut mine).await.expect("a message");
        seen.push(m["payload"]["data"]["caseUpdated"]["stage"].clone());
    }
    assert_eq!(
        seen,
        [
            json!("RESOLUTION"),
            json!("PREPARE"),
            json!("SIGN"),
            json!("ISSUE"),
            json!("CLOSED")
        ]
    );
}

#[actix_web::test]
async fn an_invalid_or_expired_token_closes_the_socket_with_4403() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let reason = connect(&app, "not-a-token")
        .await
        .err()
        .flatten()
        .expect("a close reason");
    assert_eq!(u16::from(reason.code), 4403);
    assert_eq!(
        reason.description.as_deref(),
        Some("a valid access token is required")
    );
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({ "sub": "user:1", "role": "HEAD", "exp": 1_000_000_000, "iat": 999_999_000, "jti": "x", "iss": "qyzmet", "aud": "qyzmet-api" }),
        &jsonwebtoken::EncodingKey::from_secret(crate::helpers::TEST_JWT_SECRET.as_bytes()),
    )
    .expect("encodes");
    let reason = connect(&app, &expired)
        .await
        .err()
        .flatten()
        .expect("a close reason");
    assert_eq!(u16::from(reason.code), 4403);
}

#[actix_web::test]
async fn a_token_that_expires_while_the_socket_is_open_closes_it_with_4403() {
    let app = spawn_app_with(|s| {
        s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"));
        s.auth.access_token_ttl = Duration::from_secs(2);
    })
    .await;
    let mut people = People::new(&app);
    let head = people.staff("aktau-school-1", Role::Head).await;
    let mut socket = connect(&app, &head)
        .await
        .expect("accepted while the token is valid");
    subscribe(
        &mut socket,
        "1",
        "subscription { mailboxChanged(mailbox: HEAD) { total } }",
        json!({}),
    )
    .await;
    let reason = next(&mut socket)
        .await
        .err()
        .flatten()
        .expect("closed when the token expires");
    assert_eq!(u16::from(reason.code), 4403);
    assert_eq!(
        reason.description.as_deref(),
        Some("the access token expired")
    );
}

/// What an applicant is sent — every live update of their case and every notice — holds
/// nothing internal: no draft, no note or return comment, no staff username, no outcome; the
/// reasoned refusal appears only once signed. Checked field by field on every message.
#[actix_web::test]
async fn an_applicants_live_updates_and_notices_hold_no_internal_material() {
    use crate::cases::{call, CASE_FIELDS};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-10-01T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    // A portal service whose act provides a reasoned refusal (act 002, guardianship, para 3).
    let (org, iin) = ("oskemen-akimat", "850305400120");
    let owner = people.applicant(iin).await;
    let input = application(
        "east-kazakhstan-guardianship-orphans",
        Some(org),
        iin,
        json!({}),
    );
    let mut case = open(&app, &owner, "submitApplication", input).await["data"]["r"].clone();

    let fields = CASE_FIELDS.replace("chainValid", "");
    let q = format!("subscription($c: ID!) {{ caseUpdated(caseId: $c) {{ {fields} }} }}");
    let mut mine = connect(&app, &owner).await.expect("accepted");
    subscribe(&mut mine, "a", &q, json!({ "c": case["id"] })).await;

    let mut updates = Vec::new();
    let mut returned = false;
    while case["status"] != "REFUSED" {
        if case["stage"] == "SIGN" && !returned {
            // The head sends the draft back with a remark the applicant must never see.
            let head = people.staff(org, Role::Head).await;
            case = call(
                &app,
                &head,
                "returnToExecutor(caseId: $c, version: $v, comment: $m)",
                ", $m: String!",
                json!({ "c": case["id"], "v": case["version"], "m": "internal remark" }),
            )
            .await["data"]["r"]
                .clone();
            returned = true;
        } else {
            case = advance(&mut people, &case, org, None, true).await;
        }
        let m = next(&mut mine).await.expect("a message");
        let update = m["payload"]["data"]["caseUpdated"].clone();
        assert!(update.is_object(), "{m}");
        updates.push(update);
    }
    assert!(returned && updates.len() >= 6, "{updates:#?}");
    let staff_names = ["-executor", "-head", "-clerk", "-operator"];
    for u in &updates {
        let what = format!("{} {}", u["stage"], u["version"]);
        assert_eq!(u["assignee"], Value::Null, "{what}");
        assert_eq!(u["availableActions"], json!([]), "{what}");
        assert_eq!(u["receipt"]["acceptedBy"], Value::Null, "{what}");
        assert_eq!(u["registration"]["registeredBy"], Value::Null, "{what}");
        for t in u["timeline"].as_array().expect("timeline") {
            for internal in ["actor", "comment", "outcome"] {
                assert_eq!(t[internal], Value::Null, "{what}: {internal} in {t}");
            }
        }
        let signed = u["reasonedRefusal"]["signed"] == true;
        if !signed {
            assert_eq!(u["reasonedRefusal"], Value::Null, "{what}: a draft");
        }
        let text = u.to_string();
        for secret in staff_names.iter().chain(&["internal remark"]) {
            assert!(!text.contains(secret), "{what}: {secret:?} leaked: {text}");
        }
        if !signed {
            assert!(!text.contains("Standard para 10"), "{what}: draft grounds");
        }
    }
    let last = updates.last().expect("updates");
    assert_eq!(last["progress"], "REFUSED", "{last}");
    assert!(last["reasonedRefusal"]["grounds"].is_string(), "{last}");
    assert_eq!(last["reasonedRefusal"]["preparedBy"], Value::Null);
    assert_eq!(last["reasonedRefusal"]["signedBy"], Value::Null);

    // The notices queued for the applicant: exactly the public fields, nothing else.
    let notices = entity::notification_outbox::Entity::find()
        .filter(
            entity::notification_outbox::Column::CaseId
                .eq(case["id"].as_str().and_then(|s| s.parse::<i64>().ok())),
        )
        .order_by_asc(entity::notification_outbox::Column::Id)
        .all(&app.db)
        .await
        .expect("notices");
    let kinds: Vec<&str> = notices.iter().map(|n| n.kind.as_str()).collect();
    assert_eq!(kinds, ["REGISTERED", "REFUSED"], "{notices:#?}");
    for n in &notices {
        let payload: Value = serde_json::from_str(&n.payload).expect("JSON");
        let mut keys: Vec<&str> = payload
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["iin", "legalResultDate", "number", "progress", "status"],
            "{payload}"
        );
        assert_eq!(payload["iin"], iin);
        assert_eq!(payload["number"], case["number"]);
        for secret in staff_names
            .iter()
            .chain(&["internal remark", "Standard para 10"])
        {
            assert!(!n.payload.contains(secret), "{secret:?} in {payload}");
        }
    }
}

/// A socket that speaks the protocol but has sent nothing yet (no `connection_init`).
async fn raw_socket(app: &TestApp) -> Socket {
    let url = format!("{}/graphql", app.address.replace("http://", "ws://"));
    let (_, socket) = app
        .client
        .ws(url)
        .protocols(["graphql-transport-ws"])
        .connect()
        .await
        .expect("upgrades");
    socket
}

/// A socket that never sends `connection_init` is closed with 4408 when the init timeout passes.
#[actix_web::test]
async fn a_socket_without_connection_init_is_closed_with_4408() {
    let app = spawn_app_with(|_| {}).await;
    let mut socket = raw_socket(&app).await;
    let started = std::time::Instant::now();
    let reason = loop {
        match tokio::time::timeout(Duration::from_secs(20), socket.next()).await {
            Ok(Some(Ok(ws::Frame::Close(reason)))) => break reason,
            Ok(Some(Ok(ws::Frame::Ping(p)))) => {
                let _ = socket.send(ws::Message::Pong(p)).await;
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("expected a close, got {other:?}"),
        }
    };
    let reason = reason.expect("a close reason");
    assert_eq!(u16::from(reason.code), 4408);
    assert!(started.elapsed() >= api::socket::INIT_TIMEOUT);
    assert!(started.elapsed() < api::socket::INIT_TIMEOUT + Duration::from_secs(3));
}

/// A message streamed as continuation frames past the size limit closes the socket (1009)
/// instead of being buffered without bound — before any `connection_init`.
#[actix_web::test]
async fn an_endless_fragmented_message_is_cut_off_at_the_limit() {
    let app = spawn_app_with(|_| {}).await;
    let mut socket = raw_socket(&app).await;
    let chunk = actix_web::web::Bytes::from(vec![b'x'; 16 * 1024]);
    socket
        .send(ws::Message::Continuation(actix_http::ws::Item::FirstText(
            chunk.clone(),
        )))
        .await
        .expect("first");
    let mut sent = chunk.len();
    let mut closed = None;
    while sent < 4 * 1024 * 1024 {
        if socket
            .send(ws::Message::Continuation(actix_http::ws::Item::Continue(
                chunk.clone(),
            )))
            .await
            .is_err()
        {
            break;
        }
        sent += chunk.len();
        if let Ok(Some(Ok(ws::Frame::Close(r)))) =
            tokio::time::timeout(Duration::from_millis(1), socket.next()).await
        {
            closed = r;
            break;
        }
    }
    if closed.is_none() {
        closed = match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
            Ok(Some(Ok(ws::Frame::Close(r)))) => r,
            other => panic!("expected a close after {sent} bytes, got {other:?}"),
        };
    }
    // The server ends the message at its limit with 1009. How many bytes the client managed to
    // write first depends on the kernel's socket buffers and the machine's load, not on the
    // server, so it is not asserted (the server's memory under this probe is measured in
    // BENCHMARKS.md instead).
    let reason = closed.expect("a close reason");
    assert_eq!(
        u16::from(reason.code),
        1009,
        "{reason:?} after {sent} bytes"
    );
}

/// One socket cannot open more than the cap of subscriptions; the one over it is refused with a
/// typed error and the others keep working.
#[actix_web::test]
async fn subscriptions_per_socket_are_capped() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let head = people.staff("aktau-school-1", Role::Head).await;
    let mut socket = connect(&app, &head).await.expect("accepted");
    let q = "subscription { mailboxChanged(mailbox: HEAD) { total } }";
    // A burst well past the cap (and past the protocol's inbound queue): every one over the cap
    // is refused, and the socket keeps answering.
    let over = 40;
    for i in 0..api::socket::MAX_SUBSCRIPTIONS_PER_SOCKET + over {
        let msg = json!({ "id": format!("s{i}"), "type": "subscribe", "payload": { "query": q } });
        socket
            .send(ws::Message::Text(msg.to_string().into()))
            .await
            .expect("sends");
    }
    let mut refused = 0;
    while refused < over {
        let m = next(&mut socket).await.expect("an answer");
        assert_eq!(m["type"], "error", "{m}");
        assert_eq!(
            m["payload"][0]["extensions"]["code"], "TOO_MANY_SUBSCRIPTIONS",
            "{m}"
        );
        refused += 1;
    }
}

/// Deactivating a user ends their open socket (4403) at the next heartbeat, with no more events.
#[actix_web::test]
async fn a_deactivated_users_socket_is_closed() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let head = people.staff("aktau-school-1", Role::Head).await;
    let mut socket = connect(&app, &head).await.expect("accepted");
    subscribe(
        &mut socket,
        "m",
        "subscription { mailboxChanged(mailbox: HEAD) { total } }",
        json!({}),
    )
    .await;
    let clerk = people.staff("aktau-school-1", Role::OfficeClerk).await;
    api::store::accounts::deactivate(&app.db, "aktau-school-1-head")
        .await
        .expect("deactivated");
    let started = std::time::Instant::now();
    // A case enters the head's mailbox right after: the deactivated head is not sent it.
    let input = application(
        "mangystau-secondary-education-duplicates",
        None,
        "850305400120",
        json!({}),
    );
    let _ = open(&app, &clerk, "registerApplication", input).await;
    let reason = loop {
        match next(&mut socket).await {
            Err(reason) => break reason,
            Ok(m) => assert!(
                m["type"] != "next" || m["payload"]["data"].is_null(),
                "no events after deactivation: {m}"
            ),
        }
    };
    let reason = reason.expect("a close reason");
    assert_eq!(u16::from(reason.code), 4403, "{reason:?}");
    assert!(started.elapsed() <= api::socket::HEARTBEAT + Duration::from_secs(2));
}

/// Twenty subscribers of one case on one socket all get the move — loaded once between them
/// (`crate::shared`), the same payload for each.
#[actix_web::test]
async fn many_subscribers_of_one_case_all_get_the_same_move() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let org = "aktau-school-1";
    let clerk = people.staff(org, Role::OfficeClerk).await;
    let head = people.staff(org, Role::Head).await;
    people.staff(org, Role::Executor).await;
    let input = application(
        "mangystau-secondary-education-duplicates",
        None,
        "850305400120",
        json!({}),
    );
    let case = open(&app, &clerk, "registerApplication", input).await["data"]["r"].clone();
    let mut socket = connect(&app, &head).await.expect("accepted");
    let q = "subscription($c: ID!) { caseUpdated(caseId: $c) { version stage assignee } }";
    for i in 0..api::socket::MAX_SUBSCRIPTIONS_PER_SOCKET {
        let msg = json!({ "id": format!("s{i}"), "type": "subscribe",
            "payload": { "query": q, "variables": { "c": case["id"] } } });
        socket
            .send(ws::Message::Text(msg.to_string().into()))
            .await
            .expect("sends");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    advance(&mut people, &case, org, None, false).await;
    let mut payloads = std::collections::BTreeMap::new();
    while payloads.len() < api::socket::MAX_SUBSCRIPTIONS_PER_SOCKET {
        let m = next(&mut socket).await.expect("a message");
        assert_eq!(m["type"], "next", "{m}");
        payloads.insert(
            m["id"].as_str().unwrap_or_default().to_owned(),
            m["payload"]["data"]["caseUpdated"].clone(),
        );
    }
    let first = payloads.values().next().cloned().unwrap_or_default();
    assert_eq!(first["stage"], "PREPARE", "{first}");
    assert!(payloads.values().all(|p| *p == first), "{payloads:#?}");
}

/// With the database out, a socket whose token cannot be checked is closed with 1013 (try again
/// later), not 4403: the client keeps its session.
#[actix_web::test]
async fn a_socket_opened_during_an_outage_is_told_to_try_again_later() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let head = people.staff("aktau-school-1", Role::Head).await;
    app.db
        .clone()
        .close()
        .await
        .expect("the database goes away");
    let reason = connect(&app, &head)
        .await
        .err()
        .flatten()
        .expect("a close reason");
    assert_eq!(u16::from(reason.code), 1013, "{reason:?}");
}

/// A client that reconnects (a dropped network, a new token) loses nothing: `mailboxChanged`
/// given the last `position` first sends what was missed (`replayed`), then goes live; and
/// `caseUpdated` given the last `version` sends the case as it is now when it has moved since.
#[actix_web::test]
async fn a_reconnecting_subscriber_is_sent_what_it_missed_then_live_changes() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let org = "aktau-school-1";
    let clerk = people.staff(org, Role::OfficeClerk).await;
    let head = people.staff(org, Role::Head).await;
    people.staff(org, Role::Executor).await;
    let reg = "mangystau-secondary-education-duplicates";
    let q = "subscription($a: String) { mailboxChanged(mailbox: HEAD, after: $a) { change position replayed total case { number version } } }";

    let mut socket = connect(&app, &head).await.expect("accepted");
    subscribe(&mut socket, "1", q, json!({})).await;
    let a = open(
        &app,
        &clerk,
        "registerApplication",
        application(reg, None, "850305400120", json!({})),
    )
    .await["data"]["r"]
        .clone();
    let first = next(&mut socket).await.expect("a message");
    let first = first["payload"]["data"]["mailboxChanged"].clone();
    assert_eq!(
        (first["change"].clone(), first["replayed"].clone()),
        (json!("ENTERED"), json!(false)),
        "{first}"
    );
    let position = first["position"].as_str().expect("a position").to_owned();
    drop(socket);

    // While the head is away: two cases arrive, the first one leaves.
    app.clock
        .set(app.clock.now() + chrono::Duration::minutes(30));
    let b = open(
        &app,
        &clerk,
        "registerApplication",
        application(reg, None, "901122600340", json!({})),
    )
    .await["data"]["r"]
        .clone();
    let c = open(
        &app,
        &clerk,
        "registerApplication",
        application(reg, None, "010715500567", json!({})),
    )
    .await["data"]["r"]
        .clone();
    advance(&mut people, &a, org, None, false).await;

    let mut socket = connect(&app, &head).await.expect("accepted");
    subscribe(&mut socket, "2", q, json!({ "a": position })).await;
    let mut replayed = Vec::new();
    for _ in 0..4 {
        let m = next(&mut socket).await.expect("a message");
        let m = m["payload"]["data"]["mailboxChanged"].clone();
        assert_eq!(m["replayed"], true, "{m}");
        replayed.push((m["case"]["number"].clone(), m["change"].clone()));
    }
    assert_eq!(
        replayed,
        vec![
            // Within the grace before the position: sent again (at least once).
            (a["number"].clone(), json!("ENTERED")),
            (b["number"].clone(), json!("ENTERED")),
            (c["number"].clone(), json!("ENTERED")),
            (a["number"].clone(), json!("LEFT")),
        ],
        "missed changes, in order"
    );
    // Then live.
    advance(&mut people, &b, org, None, false).await;
    let live = next(&mut socket).await.expect("a message");
    let live = live["payload"]["data"]["mailboxChanged"].clone();
    assert_eq!(
        (live["replayed"].clone(), live["change"].clone()),
        (json!(false), json!("LEFT")),
        "{live}"
    );
    assert_eq!(live["case"]["number"], b["number"]);
    assert_eq!(live["total"], 1, "only c is left in the mailbox: {live}");

    // A position that is not one is a typed error.
    subscribe(&mut socket, "3", q, json!({ "a": "not-a-position" })).await;
    let bad = next(&mut socket).await.expect("a message");
    assert_eq!(bad["id"], "3", "{bad}");
    assert_eq!(
        bad["payload"]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{bad}"
    );

    // caseUpdated: the case as it is now when it moved since the version the client holds.
    let applicant = people.applicant("010715500567").await;
    let mut socket = connect(&app, &applicant).await.expect("accepted");
    let cq = "subscription($c: ID!, $v: Int) { caseUpdated(caseId: $c, afterVersion: $v) { version stage } }";
    let held = c["version"].as_i64().unwrap_or_default();
    let c2 = advance(&mut people, &c, org, None, false).await;
    let c3 = advance(&mut people, &c2, org, None, false).await;
    subscribe(&mut socket, "4", cq, json!({ "c": c["id"], "v": held })).await;
    let caught = next(&mut socket).await.expect("a message");
    assert_eq!(
        caught["payload"]["data"]["caseUpdated"]["version"], c3["version"],
        "{caught}"
    );
    advance(&mut people, &c3, org, None, false).await;
    let live = next(&mut socket).await.expect("a message");
    assert_eq!(
        live["payload"]["data"]["caseUpdated"]["version"].as_i64(),
        c3["version"].as_i64().map(|v| v + 1),
        "{live}"
    );
}

/// A masked client frame (RFC 6455) with `opcode` and `payload` (under 64 KiB).
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask: [u8; 4] = rand::random();
    let mut f = vec![0x80 | opcode];
    if payload.len() < 126 {
        f.push(0x80 | payload.len() as u8);
    } else {
        f.push(0x80 | 126);
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// Opens a subscription socket as `token` that then floods pings and never reads: returns once
/// the server has stopped reading from it (its answers filled every buffer on the way).
async fn stuck_socket(app: &TestApp, token: &str) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("small receive buffer");
    let mut s = socket
        .connect(([127, 0, 0, 1], app.port).into())
        .await
        .expect("connects");
    s.write_all(
        b"GET /graphql HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
          Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n",
    )
    .await
    .expect("handshake sent");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.expect("handshake answered");
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    s.write_all(&client_frame(0x1, init.to_string().as_bytes()))
        .await
        .expect("init sent");
    // Pings with the largest control payload; the pongs are never read.
    let ping = client_frame(0x9, &[b'p'; 125]);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the server kept reading"
        );
        match tokio::time::timeout(Duration::from_secs(1), s.write_all(&ping)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("closed before it was stuck: {e}"),
            // Blocked for a second: the server has stopped reading.
            Err(_) => return s,
        }
    }
}

/// Clients that keep writing but never read: the server's answers (pongs) fill the sockets'
/// buffers and then each session's queue. The server lets each go after its send timeout —
/// their subscriptions end and their account's socket slots are free again — instead of holding
/// them forever.
#[actix_web::test]
async fn clients_that_never_read_are_let_go_and_free_their_slots() {
    let app = spawn_app_with(|_| {}).await;
    let mut people = People::new(&app);
    let clerk = people.staff("aktau-school-1", Role::OfficeClerk).await;
    let mut stuck = Vec::new();
    for _ in 0..api::socket::MAX_SOCKETS_PER_ACCOUNT {
        stuck.push(stuck_socket(&app, &clerk).await);
    }
    // Every slot of the account is taken by a stuck socket.
    let refused = connect(&app, &clerk).await.err().flatten();
    assert_eq!(refused.map(|r| u16::from(r.code)), Some(4429));
    // Within the send timeout (and a margin) the slots are free again.
    let started = std::time::Instant::now();
    loop {
        if connect(&app, &clerk).await.is_ok() {
            break;
        }
        assert!(
            started.elapsed() < api::socket::SEND_TIMEOUT + Duration::from_secs(15),
            "the stuck sockets still hold the account's slots after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(stuck);
}

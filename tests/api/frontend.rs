//! What frontend teams need (issue 14): persisted queries, the staff directory and display
//! names, the inbox's sorts, name search and counts.

use chrono::{DateTime, Utc};
use domain::identity::Role;
use serde_json::{json, Value};

use crate::cases::{advance, application, open, People};
use crate::helpers::{error_code, spawn_app, spawn_app_with, TestApp};

fn sha256(text: &str) -> String {
    api::persisted::hash(text)
}

async fn post(app: &TestApp, address: &str, body: Value) -> (u16, Value) {
    let mut res = app
        .client
        .post(format!("{address}/graphql"))
        .insert_header(("content-type", "application/json"))
        .send_body(body.to_string())
        .await
        .expect("the server answers");
    let status = res.status().as_u16();
    let bytes = res.body().await.expect("a body");
    (status, serde_json::from_slice(&bytes).expect("JSON"))
}

/// Apollo's and urql's persisted-query links: a hash the server does not know is answered
/// `PERSISTED_QUERY_NOT_FOUND` (HTTP 200); the client's retry with the text registers it; from
/// then on the hash alone runs it — on another node of the same database too, over POST or GET.
/// A hash that is not the text's is refused; a hashed mutation is not run over GET.
#[actix_web::test]
async fn persisted_queries_fall_back_register_and_are_shared_by_the_nodes() {
    let app = spawn_app().await;
    let text = "query Version { apiVersion }";
    let hash = sha256(text);
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });

    let (status, body) = post(&app, &app.address, json!({ "extensions": ext })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(error_code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");

    let (_, body) = post(
        &app,
        &app.address,
        json!({ "query": text, "extensions": ext }),
    )
    .await;
    assert_eq!(
        body["data"]["apiVersion"],
        env!("CARGO_PKG_VERSION"),
        "{body}"
    );

    let (_, body) = post(&app, &app.address, json!({ "extensions": ext })).await;
    assert_eq!(
        body["data"]["apiVersion"],
        env!("CARGO_PKG_VERSION"),
        "{body}"
    );

    // Another node on the same database knows it without a registration of its own.
    let peer = app.spawn_peer().await;
    let (_, body) = post(&app, &peer, json!({ "extensions": ext })).await;
    assert_eq!(
        body["data"]["apiVersion"],
        env!("CARGO_PKG_VERSION"),
        "{body}"
    );
    let get = format!("/graphql?extensions={}", urlencode(&ext.to_string()));
    let (status, body) = app.get(&get).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(env!("CARGO_PKG_VERSION")), "{body}");

    // A hash that is not the text's, a malformed hash, another protocol version.
    let wrong =
        json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256("{ regions { code } }") } });
    let (status, body) = post(
        &app,
        &app.address,
        json!({ "query": text, "extensions": wrong }),
    )
    .await;
    assert_eq!((status, error_code(&body)), (400, "BAD_REQUEST"), "{body}");
    let short = json!({ "persistedQuery": { "version": 1, "sha256Hash": "abc" } });
    let (status, _) = post(&app, &app.address, json!({ "extensions": short })).await;
    assert_eq!(status, 400);
    let v2 = json!({ "persistedQuery": { "version": 2, "sha256Hash": hash } });
    let (status, _) = post(&app, &app.address, json!({ "extensions": v2 })).await;
    assert_eq!(status, 400);

    // A query that does not validate is not registered: its hash stays unknown.
    let invalid = "{ noSuchField }";
    let iext = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256(invalid) } });
    let (_, body) = post(
        &app,
        &app.address,
        json!({ "query": invalid, "extensions": iext }),
    )
    .await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    let (_, body) = post(&app, &app.address, json!({ "extensions": iext })).await;
    assert_eq!(error_code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");

    // A mutation registered over POST is still refused over GET by its hash.
    let m = "mutation { logout(refreshToken: \"x\") }";
    let mext = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256(m) } });
    post(
        &app,
        &app.address,
        json!({ "query": m, "extensions": mext }),
    )
    .await;
    let (status, _) = app
        .get(&format!(
            "/graphql?extensions={}",
            urlencode(&mext.to_string())
        ))
        .await;
    assert_eq!(status, 405);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("literal instant")
        .with_timezone(&Utc)
}

/// A head sees who they can assign to: their organisation's active executors by display name,
/// with their open workload; `me` and a case's assignee carry display names too. Nobody sees
/// another organisation's staff, and applicants and analysts have no directory.
#[actix_web::test]
async fn a_head_lists_their_executors_by_display_name_with_their_workload() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let org = "aktau-school-1";
    let clerk = people.staff(org, Role::OfficeClerk).await;
    let head = people.staff(org, Role::Head).await;
    // The executor `advance` assigns, given a display name; a second one, idle; one elsewhere.
    people.staff(org, Role::Executor).await;
    {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        entity::app_user::Entity::update_many()
            .col_expr(
                entity::app_user::Column::DisplayName,
                sea_orm::sea_query::Expr::value("Әсем Қайратқызы"),
            )
            .filter(entity::app_user::Column::Username.eq(format!("{org}-executor")))
            .exec(&app.db)
            .await
            .expect("named");
    }
    people
        .user("aktau-idle-executor", Role::Executor, Some(org), None)
        .await;
    people
        .staff("oral-education-department", Role::Executor)
        .await;
    let reg = "mangystau-secondary-education-duplicates";
    let mut case = open(
        &app,
        &clerk,
        "registerApplication",
        application(reg, None, "850305400120", json!({})),
    )
    .await["data"]["r"]
        .clone();
    while case["stage"] != "PREPARE" {
        case = advance(&mut people, &case, org, None, false).await;
    }

    let q = "query($r: Role) { colleagues(role: $r) { username displayName role openAssigned } }";
    let (_, body) = app.graphql_as(&head, q, json!({ "r": "EXECUTOR" })).await;
    assert_eq!(
        body["data"]["colleagues"],
        json!([
            { "username": "aktau-idle-executor", "displayName": "aktau-idle-executor", "role": "EXECUTOR", "openAssigned": 0 },
            { "username": format!("{org}-executor"), "displayName": "Әсем Қайратқызы", "role": "EXECUTOR", "openAssigned": 1 },
        ]),
        "{body}"
    );
    let (_, all) = app.graphql_as(&head, q, json!({})).await;
    assert_eq!(
        all["data"]["colleagues"].as_array().map(Vec::len),
        Some(4),
        "{all}"
    );

    let (_, c) = app
        .graphql_as(
            &head,
            "query($id: ID!) { case(id: $id) { assignee assigneeName } }",
            json!({ "id": case["id"] }),
        )
        .await;
    assert_eq!(c["data"]["case"]["assigneeName"], "Әсем Қайратқызы", "{c}");
    assert_eq!(c["data"]["case"]["assignee"], format!("{org}-executor"));

    let (_, me) = app
        .graphql_as(&head, "{ me { username displayName } }", json!({}))
        .await;
    assert_eq!(
        me["data"]["me"]["displayName"],
        format!("{org}-head"),
        "{me}"
    );
    let applicant = people.applicant("850305400120").await;
    let (_, me) = app
        .graphql_as(&applicant, "{ me { displayName } }", json!({}))
        .await;
    assert_eq!(me["data"]["me"]["displayName"], "Test Applicant", "{me}");
    let (_, refused) = app.graphql_as(&applicant, q, json!({})).await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
    let analyst = people.user("kz-analyst", Role::Analyst, None, None).await;
    let (_, refused) = app.graphql_as(&analyst, q, json!({})).await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
}

/// The inbox as a task list offers it: four sorts with their own cursors that page without
/// gaps or repeats, a search by the start of the applicant's name in any letter case, and
/// counts per stage and due today beside the total.
#[actix_web::test]
async fn the_inbox_sorts_both_ways_finds_by_name_and_counts_per_stage_and_due_today() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let org = "aktau-school-1";
    let clerk = people.staff(org, Role::OfficeClerk).await;
    let head = people.staff(org, Role::Head).await;
    people.staff(org, Role::Executor).await;
    let reg = "mangystau-secondary-education-duplicates";
    let names = [
        ("850305400120", "Серікова Айгерим Нұрланқызы"),
        ("901122600340", "Жақсыбеков Ерлан Болатұлы"),
        ("010715500567", "Оспанова Дана Асқарқызы"),
        ("850305400120", "СЕРІКБАЕВ Ұлан"),
    ];
    let mut numbers = Vec::new();
    for (i, (iin, name)) in names.iter().enumerate() {
        let mut input = application(reg, None, iin, json!({}));
        input["applicant"]["fullName"] = json!(name);
        let r = open(&app, &clerk, "registerApplication", input).await;
        assert!(r["errors"].is_null(), "{r}");
        numbers.push(
            r["data"]["r"]["number"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
        app.clock
            .set(app.clock.now() + chrono::Duration::minutes(10 + i as i64));
    }
    // One case moves on to SIGN: the head's mailbox then holds 3 at RESOLUTION and 1 at SIGN.
    let (_, first) = app
        .graphql_as(&head, "query($n: String!) { caseByNumber(number: $n) { id number version stage status currentMailbox availableActions { action mutation needs dueAt } } }", json!({ "n": numbers[0] }))
        .await;
    let mut a = first["data"]["caseByNumber"].clone();
    while a["stage"] != "SIGN" {
        a = advance(&mut people, &a, org, None, false).await;
    }

    let q = "query($f: InboxFilter, $s: InboxSort, $a: String) { inbox(mailbox: HEAD, filter: $f, sort: $s, first: 1, after: $a) {
        totalCount overdueCount dueTodayCount stageCounts { stage count } nodes { number } endCursor hasNextPage } }";
    let read_all = |sort: &'static str| {
        let app = &app;
        let head = head.clone();
        async move {
            let mut seen = Vec::new();
            let mut after = Value::Null;
            loop {
                let (_, body) = app
                    .graphql_as(&head, q, json!({ "s": sort, "a": after }))
                    .await;
                let page = &body["data"]["inbox"];
                assert!(page["nodes"].is_array(), "{body}");
                for n in page["nodes"].as_array().into_iter().flatten() {
                    seen.push(n["number"].as_str().unwrap_or_default().to_owned());
                }
                if page["hasNextPage"] != true {
                    return (seen, body);
                }
                after = page["endCursor"].clone();
            }
        }
    };
    let (oldest, last) = read_all("REGISTERED_OLDEST").await;
    assert_eq!(oldest, numbers, "registration order");
    let (newest, _) = read_all("REGISTERED_NEWEST").await;
    let mut reversed = numbers.clone();
    reversed.reverse();
    assert_eq!(newest, reversed);
    let (soonest, _) = read_all("DUE_SOONEST").await;
    let (mut latest, _) = read_all("DUE_LATEST").await;
    latest.reverse();
    assert_eq!(
        soonest, latest,
        "the two due orders are each other's reverse"
    );
    assert_eq!(soonest.len(), 4);

    let inbox = &last["data"]["inbox"];
    assert_eq!(inbox["totalCount"], 4, "{last}");
    assert_eq!(
        inbox["stageCounts"],
        json!([{ "stage": "RESOLUTION", "count": 3 }, { "stage": "SIGN", "count": 1 }]),
        "{last}"
    );
    // Every step here is due within today's working hours or later; the count is exact.
    let due_today = inbox["dueTodayCount"].as_i64().unwrap_or(-1);
    let (_, check) = app
        .graphql_as(&head, "query($b: DateTime) { inbox(mailbox: HEAD, filter: { dueBefore: $b, overdue: false }) { totalCount } }", json!({ "b": "2025-06-02T19:00:00Z" }))
        .await;
    assert_eq!(
        due_today,
        check["data"]["inbox"]["totalCount"].as_i64().unwrap_or(-2),
        "{check}"
    );

    // A cursor of one sort is refused under another.
    let (_, first_page) = app
        .graphql_as(&head, q, json!({ "s": "REGISTERED_OLDEST" }))
        .await;
    let cursor = first_page["data"]["inbox"]["endCursor"].clone();
    let (_, refused) = app
        .graphql_as(&head, q, json!({ "s": "DUE_SOONEST", "a": cursor }))
        .await;
    assert_eq!(error_code(&refused), "BAD_USER_INPUT", "{refused}");

    // Name search: the start of the name, any letter case; the stage counts follow the search.
    let find = |text: &'static str| {
        let app = &app;
        let head = head.clone();
        async move {
            let (_, body) = app
                .graphql_as(&head, "query($f: InboxFilter) { inbox(mailbox: HEAD, filter: $f) { totalCount nodes { number } } }", json!({ "f": { "search": text } }))
                .await;
            body
        }
    };
    let body = find("сері").await;
    assert_eq!(body["data"]["inbox"]["totalCount"], 2, "{body}");
    let body = find("  СЕРІКОВА   айгерим").await;
    assert_eq!(body["data"]["inbox"]["totalCount"], 1, "{body}");
    assert_eq!(
        body["data"]["inbox"]["nodes"][0]["number"],
        json!(numbers[0])
    );
    let body = find("Айгерим").await;
    assert_eq!(
        body["data"]["inbox"]["totalCount"], 0,
        "names are searched from their start: {body}"
    );
    let body = find("с").await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
}

/// The scalars a client generates types for are documented and name their specification
/// (`specifiedByURL`), carry no Rust names, and stage fields are the `Stage` enum.
#[actix_web::test]
async fn scalars_are_documented_with_their_specification_and_stages_are_enums() {
    let app = spawn_app().await;
    let (_, body) = app
        .graphql(
            r#"{ dt: __type(name: "DateTime") { kind description specifiedByURL }
                 d: __type(name: "Date") { kind specifiedByURL }
                 t: __type(name: "LocalTime") { kind specifiedByURL }
                 nd: __type(name: "NaiveDate") { name }
                 nt: __type(name: "NaiveTime") { name }
                 row: __type(name: "StepComplianceRow") { fields { name type { ofType { name kind } } } }
                 risk: __type(name: "AtRiskStep") { fields { name type { ofType { name kind } } } } }"#,
            json!({}),
        )
        .await;
    let d = &body["data"];
    assert_eq!(
        d["dt"]["specifiedByURL"], "https://scalars.graphql.org/andimarek/date-time",
        "{body}"
    );
    assert!(
        d["dt"]["description"]
            .as_str()
            .is_some_and(|s| s.contains("RFC 3339") && !s.contains("Utc")),
        "{body}"
    );
    assert_eq!(d["d"]["kind"], "SCALAR");
    assert!(d["d"]["specifiedByURL"]
        .as_str()
        .is_some_and(|u| u.contains("rfc3339")));
    assert!(d["t"]["specifiedByURL"]
        .as_str()
        .is_some_and(|u| u.contains("local-time")));
    assert!(
        d["nd"].is_null() && d["nt"].is_null(),
        "no Rust type names: {body}"
    );
    for ty in ["row", "risk"] {
        let stage = d[ty]["fields"]
            .as_array()
            .and_then(|fs| fs.iter().find(|f| f["name"] == "stage"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            stage["type"]["ofType"],
            json!({ "name": "Stage", "kind": "ENUM" }),
            "{ty}: {body}"
        );
    }
    // A malformed instant is a typed input error naming the format.
    let (_, bad) = app
        .graphql(
            "query($b: DateTime) { inbox(mailbox: OFFICE, filter: { dueBefore: $b }) { totalCount } }",
            json!({ "b": "30.11.2026" }),
        )
        .await;
    assert!(
        bad["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("RFC 3339")),
        "{bad}"
    );
}

async fn post_lang(app: &TestApp, language: &str, query: &str) -> Value {
    let mut res = app
        .client
        .post(format!("{}/graphql", app.address))
        .insert_header(("content-type", "application/json"))
        .insert_header(("accept-language", language))
        .send_body(json!({ "query": query }).to_string())
        .await
        .expect("the server answers");
    let bytes = res.body().await.expect("a body");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// Kazakh, Russian and English: names and labels follow the request's `Accept-Language`
/// (Kazakh, the state language, by default) or a field's `language` argument; Russian names of
/// the regulations say whether they are official; a coded error carries a short message for
/// people in the request's language beside the developer's `message`.
#[actix_web::test]
async fn names_labels_and_error_messages_follow_the_requested_language() {
    let app = spawn_app().await;
    let q = r#"{ regulation(code: "mangystau-secondary-education-duplicates") {
                   name nameRuOfficial results { name }
                   steps { actor action output } refusals { grounds }
                   routes { channel stops { output } }
                   region { name nameKk nameRu en: name(language: EN) } }
                 labels { group code text } }"#;
    let ru = post_lang(&app, "ru-RU,ru;q=0.9,en;q=0.5", q).await;
    let d = &ru["data"];
    assert_eq!(
        d["regulation"]["region"]["name"], "Мангистауская область",
        "{ru}"
    );
    assert_eq!(d["regulation"]["region"]["en"], "Mangystau Region");
    assert!(
        d["regulation"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("Выдача дубликатов")),
        "{ru}"
    );
    assert_eq!(
        d["regulation"]["nameRuOfficial"], false,
        "our translation, and it says so"
    );
    assert!(d["regulation"]["results"][0]["name"]
        .as_str()
        .is_some_and(|n| n.starts_with("Дубликат")));
    let label = |body: &Value, group: &str, code: &str| {
        body["data"]["labels"]
            .as_array()
            .and_then(|ls| ls.iter().find(|l| l["group"] == group && l["code"] == code))
            .map(|l| l["text"].clone())
            .unwrap_or_default()
    };
    assert_eq!(label(&ru, "STAGE", "RESOLUTION"), "Резолюция руководителя");
    assert_eq!(label(&ru, "MAILBOX", "CORPORATION"), "Госкорпорация");

    let kk = post_lang(&app, "fr-FR", q).await;
    assert_eq!(
        kk["data"]["regulation"]["region"]["name"], "Маңғыстау облысы",
        "Kazakh by default: {kk}"
    );
    assert_eq!(label(&kk, "STAGE", "RESOLUTION"), "Басшының бұрыштамасы");
    let en = post_lang(&app, "en", "{ labels(language: RU) { group code text } }").await;
    assert_eq!(
        label(&en, "CASE_STATUS", "COMPLETED"),
        "Оказано",
        "the argument wins: {en}"
    );

    // Every stage, status, progress, mailbox, channel and role has a label in each language.
    for body in [&ru, &kk] {
        let n = body["data"]["labels"]
            .as_array()
            .map(Vec::len)
            .unwrap_or_default();
        assert_eq!(
            n,
            11 + 8 + 8 + 4 + 3 + 7 + domain::language::ERROR_CODES.len(),
            "{body}"
        );
    }

    let refused = post_lang(&app, "ru", "{ me { displayName } }").await;
    let ext = &refused["errors"][0]["extensions"];
    assert_eq!(ext["code"], "UNAUTHENTICATED", "{refused}");
    assert_eq!(ext["userMessage"], "Войдите в систему.");
    assert_eq!(ext["language"], "ru");
    let refused = post_lang(&app, "kk", "{ me { displayName } }").await;
    assert_eq!(
        refused["errors"][0]["extensions"]["userMessage"],
        "Жүйеге кіріңіз."
    );
}

//! Files attached to cases: uploaded as GraphQL multipart requests, checked by content, stored
//! by SHA-256 with the hash in the case's event chain, listed on the case and downloaded through
//! short-lived links scoped like the case.

use domain::identity::Role;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::cases::{application, open, People};
use crate::helpers::{error_code, field, file, post_multipart, spawn_app_with, TestApp};

const ORG: &str = "aktau-school-1";
const REG: &str = "mangystau-secondary-education-duplicates";
const IIN: &str = "850305400120";
const ATTACH: &str = "mutation($c: ID!, $file: Upload!) { attachFile(caseId: $c, file: $file) { id name kind size sha256 uploadedBy download { url } } }";

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("rfc3339")
        .with_timezone(&chrono::Utc)
}

/// A PDF of about `size` bytes (a header and filler: enough for the server's content check).
fn pdf(size: usize) -> Vec<u8> {
    let mut v = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    v.resize(size.max(v.len()), b'x');
    v
}

/// A clerk of `ORG` and an application they registered: the clerk's token and the case's id.
async fn clerk_with_case(app: &TestApp) -> (String, Value) {
    let mut people = People::new(app);
    let clerk = people.staff(ORG, Role::OfficeClerk).await;
    let case = open(
        app,
        &clerk,
        "registerApplication",
        application(REG, None, IIN, json!({})),
    )
    .await;
    (clerk, case["data"]["r"]["id"].clone())
}

/// Sends a GraphQL multipart request attaching `content` as `name` to case `case`.
async fn attach(
    app: &TestApp,
    token: &str,
    case: &Value,
    name: &str,
    content: &[u8],
) -> (u16, Value) {
    let operations = json!({ "query": ATTACH, "variables": { "c": case, "file": null } });
    post_multipart(
        app,
        token,
        &[
            field("operations", operations.to_string()),
            field("map", r#"{"0":["variables.file"]}"#),
            file("0", name, content),
        ],
    )
    .await
}

async fn files_and_events(app: &TestApp, token: &str, case: &Value) -> (Value, Value) {
    let (_, b) = app
        .graphql_as(
            token,
            "query($c: ID!) { case(id: $c) { files { id name sha256 size kind uploadedBy } events { kind payload } chainValid } }",
            json!({ "c": case }),
        )
        .await;
    let c = &b["data"]["case"];
    assert!(c.is_object(), "{b}");
    (c["files"].clone(), c["events"].clone())
}

/// Downloads `url` (a path and query), with an optional bearer token.
async fn get(app: &TestApp, url: &str, token: Option<&str>) -> (u16, Option<String>, Vec<u8>) {
    let mut req = app.client.get(format!("{}{url}", app.address));
    if let Some(t) = token {
        req = req.insert_header(("authorization", format!("Bearer {t}")));
    }
    let mut resp = req.send().await.expect("answers");
    let kind = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = resp.body().limit(1 << 24).await.expect("a body");
    (resp.status().as_u16(), kind, body.to_vec())
}

#[actix_web::test]
async fn a_file_is_stored_by_hash_in_the_chain_and_downloaded_only_within_scope() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let clerk = people.staff(ORG, Role::OfficeClerk).await;
    let outsider = people
        .staff("atyrau-city-education-division", Role::Head)
        .await;
    let owner = people.applicant(IIN).await;
    let stranger = people.applicant("900101300017").await;
    let case = open(
        &app,
        &clerk,
        "registerApplication",
        application(REG, None, IIN, json!({})),
    )
    .await;
    let case = case["data"]["r"]["id"].clone();

    let content = pdf(300 * 1024); // larger than one read chunk
    let (status, b) = attach(&app, &clerk, &case, "C:\\scans\\өтініш.pdf", &content).await;
    assert_eq!(status, 200, "{b}");
    let f = &b["data"]["attachFile"];
    let sha = format!("{:x}", Sha256::digest(&content));
    assert_eq!(f["sha256"], sha.as_str(), "{b}");
    assert_eq!(f["size"], content.len() as i64);
    assert_eq!(f["kind"], "PDF");
    assert_eq!(f["name"], "өтініш.pdf", "no folder in the name");
    assert_eq!(f["uploadedBy"], format!("{ORG}-office-clerk").as_str());

    // The hash is in the chain, which still verifies.
    let (files, events) = files_and_events(&app, &clerk, &case).await;
    assert_eq!(files.as_array().map(Vec::len), Some(1));
    let attached: Vec<&Value> = events
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "FILE_ATTACHED")
        .collect();
    assert_eq!(attached.len(), 1, "{events}");
    assert_eq!(attached[0]["payload"]["sha256"], sha.as_str());

    // The link downloads the same bytes, for the caller.
    let url = f["download"]["url"].as_str().expect("url").to_owned();
    let (status, kind, body) = get(&app, &url, None).await;
    assert_eq!(status, 200);
    assert_eq!(kind.as_deref(), Some("application/pdf"));
    assert_eq!(Sha256::digest(&body)[..], Sha256::digest(&content)[..]);
    // A link bent to another file, or no link at all: refused.
    let id = f["id"].as_str().expect("id");
    let bent = url.replacen(
        &format!("/files/{id}"),
        &format!("/files/{}", id.parse::<i64>().expect("number") + 1),
        1,
    );
    assert_eq!(get(&app, &bent, None).await.0, 401);
    assert_eq!(get(&app, &format!("/files/{id}"), None).await.0, 401);

    // The applicant who owns the case sees it without staff names and downloads it.
    let (files, _) = {
        let (_, b) = app
            .graphql_as(
                &owner,
                "query($c: ID!) { case(id: $c) { files { id uploadedBy download { url } } } }",
                json!({ "c": case }),
            )
            .await;
        (b["data"]["case"]["files"].clone(), ())
    };
    assert_eq!(files[0]["uploadedBy"], Value::Null, "{files}");
    let owner_url = files[0]["download"]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    assert_eq!(get(&app, &owner_url, None).await.0, 200);

    // Outside the case's scope: NOT_FOUND, to attach and to download.
    for token in [&outsider, &stranger] {
        let (_, b) = attach(&app, token, &case, "x.pdf", &pdf(100)).await;
        assert_eq!(error_code(&b), "NOT_FOUND", "{b}");
        assert_eq!(get(&app, &format!("/files/{id}"), Some(token)).await.0, 404);
    }
    let (files, _) = files_and_events(&app, &clerk, &case).await;
    assert_eq!(
        files.as_array().map(Vec::len),
        Some(1),
        "nothing attached from outside"
    );
}

#[actix_web::test]
async fn oversized_or_disguised_files_are_refused_and_change_nothing() {
    let app = spawn_app_with(|s| {
        s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"));
        s.files.max_bytes = 64 * 1024;
    })
    .await;
    let (clerk, case) = clerk_with_case(&app).await;
    let (_, events_before) = files_and_events(&app, &clerk, &case).await;

    let (status, b) = attach(&app, &clerk, &case, "big.pdf", &pdf(64 * 1024 + 1)).await;
    assert_eq!(status, 413, "{b}");
    assert_eq!(error_code(&b), "PAYLOAD_TOO_LARGE");
    assert_eq!(b["errors"][0]["extensions"]["limit"], 64 * 1024);

    // Named like a PDF, sent as one, but an executable: refused by its content.
    let (_, b) = attach(
        &app,
        &clerk,
        &case,
        "scan.pdf",
        b"MZ\x90\x00\x03\x00\x00\x00 this is not a scan",
    )
    .await;
    assert_eq!(error_code(&b), "BAD_USER_INPUT", "{b}");
    // Exactly at the limit is fine.
    let (status, b) = attach(&app, &clerk, &case, "edge.pdf", &pdf(64 * 1024)).await;
    assert_eq!(status, 200, "{b}");
    assert!(b["errors"].is_null(), "{b}");

    let (files, events) = files_and_events(&app, &clerk, &case).await;
    assert_eq!(
        files.as_array().map(Vec::len),
        Some(1),
        "only the file within the limit"
    );
    assert_eq!(
        events.as_array().map(Vec::len),
        events_before.as_array().map(|e| e.len() + 1),
        "one event: the accepted file's"
    );
    // Files stored: only the accepted one (the refused ones never reached the store).
    let stored: Vec<_> = walk(&crate::helpers::files_dir(app.database_url()));
    assert_eq!(stored.len(), 1, "{stored:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The S3 options of the test server (moto takes any credentials).
fn s3_options(endpoint: &str) -> api::configuration::S3Options {
    api::configuration::S3Options(
        [
            ("endpoint", endpoint),
            ("allow_http", "true"),
            ("region", "us-east-1"),
            ("access_key_id", "qyzmet-test"),
            ("secret_access_key", "qyzmet-test-secret"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    )
}

#[actix_web::test]
async fn files_live_in_an_s3_compatible_store_when_one_is_configured() {
    let endpoint = crate::helpers::s3_endpoint();
    let bucket = crate::helpers::s3_bucket(&endpoint).await;
    let s3 = api::configuration::S3Settings {
        bucket: bucket.clone(),
        prefix: "qyzmet/files".into(),
    };
    let (s3_for_app, options) = (s3.clone(), s3_options(&endpoint));
    let app = spawn_app_with(move |s| {
        s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"));
        s.files.s3 = Some(s3_for_app);
        s.files.s3_options = options;
    })
    .await;
    let (clerk, case) = clerk_with_case(&app).await;

    // One small file (one request) and one larger than an S3 part (a multipart upload).
    let small = pdf(100 * 1024);
    let large = pdf(api::files::S3_PART + 300 * 1024);
    let mut hashes = Vec::new();
    for (name, content) in [("small.pdf", &small), ("large.pdf", &large)] {
        let (status, b) = attach(&app, &clerk, &case, name, content).await;
        assert_eq!(status, 200, "{b}");
        let f = &b["data"]["attachFile"];
        let sha = format!("{:x}", Sha256::digest(content));
        assert_eq!(f["sha256"], sha.as_str(), "{b}");
        let url = f["download"]["url"].as_str().expect("url").to_owned();
        let (status, _, body) = get(&app, &url, None).await;
        assert_eq!(status, 200);
        assert_eq!(body.len(), content.len());
        assert_eq!(Sha256::digest(&body)[..], Sha256::digest(content)[..]);
        hashes.push(sha);
    }
    let (_, events) = files_and_events(&app, &clerk, &case).await;
    let chained: Vec<&str> = events
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "FILE_ATTACHED")
        .filter_map(|e| e["payload"]["sha256"].as_str())
        .collect();
    assert_eq!(chained, hashes, "both hashes in the chain, in order");

    // In the bucket, under the prefix, by hash; nothing in the local directory.
    let mut expected: Vec<String> = hashes
        .iter()
        .map(|h| format!("qyzmet/files/sha256/{}/{h}", &h[..2]))
        .collect();
    expected.sort();
    let keys = crate::helpers::s3_keys(&endpoint, &bucket, "qyzmet/").await;
    assert_eq!(keys, expected);
    assert!(walk(&crate::helpers::files_dir(app.database_url())).is_empty());

    // A refused file reaches no store.
    let (_, b) = attach(&app, &clerk, &case, "x.pdf", b"GIF89a not allowed").await;
    assert_eq!(error_code(&b), "BAD_USER_INPUT", "{b}");
    assert_eq!(
        crate::helpers::s3_keys(&endpoint, &bucket, "qyzmet/").await,
        expected
    );

    // An orphan (stored, named by no attachment) is swept; the attached files stay.
    let store = api::files::FileStore::s3(&s3, &s3_options(&endpoint), 1 << 20).expect("store");
    let orphan = store
        .put(temp_file(b"\x89PNG\r\n\x1a\n an orphaned scan"))
        .await
        .expect("stored");
    assert_eq!(
        crate::helpers::s3_keys(&endpoint, &bucket, "qyzmet/")
            .await
            .len(),
        3
    );
    let db = sea_orm::Database::connect(app.database_url())
        .await
        .expect("database");
    let removed = store
        .sweep(chrono::Utc::now() + chrono::Duration::seconds(5), |names| {
            let db = db.clone();
            async move { api::store::files::referenced(&db, names).await }
        })
        .await
        .expect("swept");
    assert_eq!(removed, 1);
    let keys = crate::helpers::s3_keys(&endpoint, &bucket, "qyzmet/").await;
    assert_eq!(keys, expected);
    assert!(!keys.iter().any(|k| k.ends_with(&orphan.sha256)));
}

#[actix_web::test]
async fn a_missing_bucket_stops_start_up_with_its_name() {
    let endpoint = crate::helpers::s3_endpoint();
    let mut settings = api::configuration::Settings::default();
    settings.files.s3 = Some(api::configuration::S3Settings {
        bucket: "no-such-bucket-qyzmet".into(),
        prefix: String::new(),
    });
    settings.files.s3_options = s3_options(&endpoint);
    let err = api::files::FileStore::open(&settings.files)
        .await
        .err()
        .expect("refused");
    assert!(err.contains("s3://no-such-bucket-qyzmet"), "{err}");
}

fn temp_file(content: &[u8]) -> std::fs::File {
    use std::io::{Seek, Write};
    let mut f = tempfile::tempfile().expect("temp file");
    f.write_all(content).expect("written");
    f.rewind().expect("rewound");
    f
}

#[actix_web::test]
async fn a_multipart_body_is_bounded_part_by_part() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let (clerk, case) = clerk_with_case(&app).await;
    let operations = |pad: usize| {
        json!({ "query": ATTACH, "variables": { "c": case, "file": null, "pad": "x".repeat(pad) } })
            .to_string()
            .into_bytes()
    };
    let map = |n: usize| {
        let m: serde_json::Map<String, Value> = (0..n)
            .map(|i| (i.to_string(), json!(["variables.file"])))
            .collect();
        Value::Object(m).to_string().into_bytes()
    };

    // Hundreds of tiny parts the map does not name: skipped unread, the named file attached.
    let mut parts = vec![field("operations", operations(0)), field("map", map(1))];
    for i in 0..300 {
        parts.push(file(&format!("junk{i}"), "x.pdf", "%PDF"));
    }
    parts.push(file("0", "scan.pdf", pdf(1000)));
    let (status, b) = post_multipart(&app, &clerk, &parts).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["data"]["attachFile"]["size"], 1000, "{b}");

    // More files than a request may carry (4): refused before any is read.
    let mut parts = vec![field("operations", operations(0)), field("map", map(5))];
    for i in 0..5 {
        parts.push(file(&i.to_string(), "x.pdf", pdf(100)));
    }
    let (status, b) = post_multipart(&app, &clerk, &parts).await;
    assert_eq!((status, error_code(&b)), (400, "BAD_REQUEST"), "{b}");

    // An operations part over the ordinary body limit (not the file limit): 413, its limit.
    let parts = vec![
        field("operations", operations(300 * 1024)),
        field("map", map(1)),
        file("0", "scan.pdf", pdf(100)),
    ];
    let (status, b) = post_multipart(&app, &clerk, &parts).await;
    assert_eq!(status, 413, "{b}");
    assert_eq!(b["errors"][0]["extensions"]["limit"], 262_144, "{b}");

    // A file before the operations: not the spec's order.
    let parts = vec![
        file("0", "scan.pdf", pdf(100)),
        field("operations", operations(0)),
        field("map", map(1)),
    ];
    let (status, b) = post_multipart(&app, &clerk, &parts).await;
    assert_eq!((status, error_code(&b)), (400, "BAD_REQUEST"), "{b}");

    // Only the first file was attached.
    let (files, _) = files_and_events(&app, &clerk, &case).await;
    assert_eq!(files.as_array().map(Vec::len), Some(1), "{files}");
}

#[actix_web::test]
async fn uploads_past_the_nodes_limit_are_answered_service_unavailable() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(|s| {
        s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"));
        s.files.max_concurrent_uploads = 1;
    })
    .await;
    let (clerk, case) = clerk_with_case(&app).await;

    // One upload that starts and then stalls holds the only slot. A slow request that found
    // the slot taken is answered at once (and closed); one that holds it is not answered.
    let mut slow = None;
    for _ in 0..20 {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
            .await
            .expect("connects");
        s.write_all(
            format!(
                "POST /graphql HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {clerk}\r\n\
                 Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n\
                 --b\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{{\"query\":"
            )
            .as_bytes(),
        )
        .await
        .expect("sends the start");
        s.flush().await.expect("flushed");
        let mut first = [0u8; 1];
        let answered =
            tokio::time::timeout(std::time::Duration::from_millis(500), s.read(&mut first)).await;
        if answered.is_err() {
            slow = Some(s);
            break;
        }
    }
    let slow = slow.expect("a stalled upload holds the slot");
    // Another is answered at once, 503 with Retry-After, and attaches nothing.
    let (mut refused, mut accepted) = (None, 0);
    for _ in 0..50 {
        let (status, b) = attach(&app, &clerk, &case, "scan.pdf", &pdf(1000)).await;
        if status == 503 {
            refused = Some(b);
            break;
        }
        // The slow request had not reached the server yet.
        assert_eq!(status, 200, "{b}");
        accepted += 1;
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let refused = refused.expect("an upload past the limit is refused");
    assert_eq!(error_code(&refused), "SERVICE_UNAVAILABLE", "{refused}");
    let (files, _) = files_and_events(&app, &clerk, &case).await;
    assert_eq!(
        files.as_array().map(Vec::len),
        Some(accepted),
        "the refused upload attached nothing: {files}"
    );

    // The slow client goes away: its slot is free again.
    drop(slow);
    let mut attached = false;
    for _ in 0..100 {
        let (status, _) = attach(&app, &clerk, &case, "scan.pdf", &pdf(1000)).await;
        if status == 200 {
            attached = true;
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(attached, "the slot was given back");
}

/// Opens a connection that starts a multipart upload (headers and a little of the body) as
/// `token` (none: anonymous) and stalls; returns it with the server's first answer bytes, if
/// the server answered within half a second.
async fn stalled_upload(
    app: &TestApp,
    token: Option<&str>,
) -> (tokio::net::TcpStream, Option<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connects");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let start = format!(
        "POST /graphql HTTP/1.1\r\nHost: test\r\n{auth}\
         Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n\
         --b\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{{\"query\":\"{}",
        "x".repeat(100)
    );
    s.write_all(start.as_bytes())
        .await
        .expect("sends the start");
    s.flush().await.expect("flushed");
    let mut first = vec![0u8; 64];
    let answer =
        match tokio::time::timeout(std::time::Duration::from_millis(500), s.read(&mut first)).await
        {
            Ok(Ok(n)) if n > 0 => Some(String::from_utf8_lossy(&first[..n]).into_owned()),
            _ => None,
        };
    (s, answer)
}

#[actix_web::test]
async fn anonymous_bodies_never_hold_an_upload_slot_and_an_account_holds_at_most_its_share() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let (clerk, case) = clerk_with_case(&app).await;
    // 16 anonymous uploads (the node's slots) that stall: each is answered 401 at once.
    let mut anonymous = Vec::new();
    for _ in 0..16 {
        let (s, answer) = stalled_upload(&app, None).await;
        let answer = answer.expect("answered before its body");
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
        anonymous.push(s);
    }
    // The clerk uploads meanwhile.
    let (status, b) = attach(&app, &clerk, &case, "scan.pdf", &pdf(1000)).await;
    assert_eq!(status, 200, "{b}");
    // A forged token is anonymous too.
    let (_s, answer) = stalled_upload(&app, Some("not-a-token")).await;
    assert!(answer.is_some_and(|a| a.starts_with("HTTP/1.1 401")));
    // One account's stalled uploads hold at most its share; the next is 503 at once, and
    // another account still uploads.
    let mut held = Vec::new();
    for _ in 0..api::multipart::MAX_UPLOADS_PER_ACCOUNT {
        let (s, answer) = stalled_upload(&app, Some(&clerk)).await;
        assert!(answer.is_none(), "a signed-in upload is read: {answer:?}");
        held.push(s);
    }
    let (_s, answer) = stalled_upload(&app, Some(&clerk)).await;
    let answer = answer.expect("answered at once");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    let mut people = People::new(&app);
    let head = people.staff(ORG, Role::Head).await;
    let (status, b) = attach(&app, &head, &case, "scan.pdf", &pdf(1000)).await;
    assert_eq!(status, 200, "{b}");
}

#[actix_web::test]
async fn names_lose_invisible_format_characters_and_downloads_carry_their_contents_extension() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let (clerk, case) = clerk_with_case(&app).await;
    for (sent, shown, downloaded) in [
        // A right-to-left override would show "invoiceexe.pdf".
        (
            "invoice\u{202E}fdp.exe",
            "invoicefdp.exe",
            "invoicefdp.exe.pdf",
        ),
        // A PDF called a web page downloads as a PDF.
        ("page.html", "page.html", "page.html.pdf"),
        ("\u{FEFF}скан\u{200B}.pdf", "скан.pdf", "скан.pdf"),
    ] {
        let (status, b) = attach(&app, &clerk, &case, sent, &pdf(1000)).await;
        assert_eq!(status, 200, "{b}");
        let f = &b["data"]["attachFile"];
        assert_eq!(f["name"], shown, "{b}");
        let url = f["download"]["url"].as_str().expect("url").to_owned();
        let resp = app
            .client
            .get(format!("{}{url}", app.address))
            .send()
            .await
            .expect("answers");
        assert_eq!(resp.status().as_u16(), 200);
        let disposition = resp
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(
            disposition,
            api::file_routes::disposition(downloaded),
            "{sent:?}"
        );
        assert!(!disposition.contains("%E2%80%AE"), "{disposition}");
    }
}

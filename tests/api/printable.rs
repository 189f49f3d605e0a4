//! Printable receipts: a PDF in Kazakh and in Russian whose text (read back with `pdftotext`)
//! holds the wording, every Kazakh letter and the number, whose barcode and QR code (rendered
//! with `pdftoppm`, decoded with `zbarimg`) carry the number and the verification link — and
//! which only those who may see the case can download. `scripts/test-tools.sh` installs the
//! tools when missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use domain::identity::Role;
use serde_json::{json, Value};

use crate::cases::{application, open, People};
use crate::helpers::{spawn_app_with, TestApp};

const ORG: &str = "aktau-school-1";
const IIN: &str = "850305400120";
/// The clerk's username and full name.
const CLERK: &str = "aktau-school-1-office-clerk";
const CLERK_NAME: &str = "Жанар Серікқызы Әбілова";
/// A name with every letter of the Kazakh alphabet that Russian lacks, in both cases.
const NAME: &str = "Әлия Ғалымқызы Қоңырбаева-Өмірзақ Ұлжан Үмбетқызы Һәкім Іңкәрқызы";

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("rfc3339")
        .with_timezone(&chrono::Utc)
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the tool runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn fetch(app: &TestApp, url: &str, token: Option<&str>) -> (u16, Vec<u8>) {
    let mut req = app.client.get(format!("{}{url}", app.address));
    if let Some(t) = token {
        req = req.insert_header(("authorization", format!("Bearer {t}")));
    }
    let mut resp = req.send().await.expect("answers");
    let body = resp.body().limit(16 << 20).await.expect("body");
    (resp.status().as_u16(), body.to_vec())
}

/// Writes the PDF, returns its text and the codes its page carries.
fn read(pdf: &[u8], dir: &Path, name: &str) -> (String, String) {
    let file: PathBuf = dir.join(format!("{name}.pdf"));
    std::fs::write(&file, pdf).expect("written");
    let text = run(Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&file)
        .arg("-"));
    let png = dir.join(name);
    run(Command::new("pdftoppm")
        .args(["-r", "300", "-png", "-singlefile"])
        .arg(&file)
        .arg(&png));
    let codes = run(Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(png.with_extension("png")));
    (text, codes)
}

#[actix_web::test]
async fn a_receipt_prints_in_kazakh_and_russian_with_a_barcode_and_a_qr_code_that_decode() {
    crate::helpers::test_tools();
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let clerk = people.staff(ORG, Role::OfficeClerk).await;
    let outsider = people
        .staff("atyrau-city-education-division", Role::Head)
        .await;
    // The employee who accepts is printed by their full name, never their username.
    {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        entity::app_user::Entity::update_many()
            .col_expr(
                entity::app_user::Column::DisplayName,
                sea_orm::sea_query::Expr::value(CLERK_NAME),
            )
            .filter(entity::app_user::Column::Username.eq(CLERK))
            .exec(&app.db)
            .await
            .expect("named");
    }
    let mut input = application(
        "mangystau-secondary-education-duplicates",
        None,
        IIN,
        json!({}),
    );
    input["applicant"]["fullName"] = json!(NAME);
    let c = open(&app, &clerk, "registerApplication", input).await;
    let case = &c["data"]["r"];
    let number = case["number"].as_str().expect("number").to_owned();
    let dir = std::env::temp_dir().join(format!("qyzmet-pdf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");

    let (_, b) = app
        .graphql_as(&clerk, "query($c: ID!) { case(id: $c) { kk: documentPdf(kind: RECEIPT) { url } ru: documentPdf(kind: RECEIPT, language: RU) { url } } }", json!({ "c": case["id"] }))
        .await;
    let link = |l: &str| {
        b["data"]["case"][l]["url"]
            .as_str()
            .unwrap_or_else(|| panic!("{b}"))
            .to_owned()
    };
    // The configured public origin, never the request's.
    let verify = format!("{}/verify/{number}", crate::helpers::TEST_PUBLIC_URL);

    let (status, kk) = fetch(&app, &link("kk"), None).await;
    assert_eq!(status, 200);
    assert!(kk.starts_with(b"%PDF-"));
    let (text, codes) = read(&kk, &dir, "kk");
    for words in [
        "Құжаттарды қабылдау туралы қолхат",
        "Көрсетілетін қызметті алушы",
        NAME,
        IIN,
        &number,
        "02.06.2025 10:00",
        "Қабылдаған",
        CLERK_NAME,
        "№1 жалпы орта білім беретін мектебі",
    ] {
        assert!(
            text.contains(words),
            "{words:?} not in the Kazakh receipt:\n{text}"
        );
    }
    assert!(
        !text.contains(CLERK) && !text.contains(ORG),
        "codes, not names:\n{text}"
    );
    let codes: Vec<&str> = codes.lines().collect();
    assert!(
        codes.contains(&number.as_str()),
        "the barcode carries the number: {codes:?}"
    );
    assert!(
        codes.contains(&verify.as_str()),
        "the QR code carries {verify}: {codes:?}"
    );

    let (status, ru) = fetch(&app, &link("ru"), None).await;
    assert_eq!(status, 200);
    let (text, codes) = read(&ru, &dir, "ru");
    for words in [
        "Расписка о приёме документов",
        "Услугополучатель",
        "ИИН",
        NAME,
        &number,
        CLERK_NAME,
        "школа № 1 города Актау",
    ] {
        assert!(
            text.contains(words),
            "{words:?} not in the Russian receipt:\n{text}"
        );
    }
    assert!(codes.lines().any(|l| l == number), "{codes}");

    // The QR code's page knows the document and says nothing personal.
    let (status, page) = fetch(&app, &format!("/verify/{number}"), None).await;
    assert_eq!(status, 200);
    let page = String::from_utf8_lossy(&page);
    assert!(
        page.contains(&number) && !page.contains(IIN) && !page.contains("Әлия"),
        "{page}"
    );

    // Outside the case's scope: not found; no link, no receipt.
    let (status, _) = fetch(
        &app,
        &format!(
            "/cases/{}/documents/receipt.pdf",
            case["id"].as_str().expect("id")
        ),
        Some(&outsider),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = fetch(
        &app,
        &format!(
            "/cases/{}/documents/receipt.pdf",
            case["id"].as_str().expect("id")
        ),
        None,
    )
    .await;
    assert_eq!(status, 401);
    // The result: not printable before it is signed; then in Kazakh, with its codes.
    let head = people.staff(ORG, Role::Head).await;
    let executor = people.staff(ORG, Role::Executor).await;
    let q = "query($c: ID!) { case(id: $c) { version result: documentPdf(kind: SERVICE_RESULT) { url } refusal: documentPdf(kind: REFUSAL_RECEIPT) { url } } }";
    let state = |token: String| {
        let app = &app;
        let id = case["id"].clone();
        async move { app.graphql_as(&token, q, json!({ "c": id })).await.1["data"]["case"].clone() }
    };
    let now = state(clerk.clone()).await;
    assert_eq!(
        (now["result"].clone(), now["refusal"].clone()),
        (Value::Null, Value::Null),
        "{now}"
    );
    let step = |token: String, m: String, version: Value| {
        let app = &app;
        let id = case["id"].clone();
        async move {
            let q = format!("mutation($c: ID!, $v: Int!) {{ r: {m} {{ version }} }}");
            let (_, b) = app
                .graphql_as(&token, &q, json!({ "c": id, "v": version }))
                .await;
            assert!(b["errors"].is_null(), "{m}: {b}");
            b["data"]["r"]["version"].clone()
        }
    };
    let v = step(
        head.clone(),
        format!("assignExecutor(caseId: $c, version: $v, executor: \"{ORG}-executor\")"),
        now["version"].clone(),
    )
    .await;
    let v = step(executor, "prepareResult(caseId: $c, version: $v)".into(), v).await;
    step(head, "signResult(caseId: $c, version: $v)".into(), v).await;
    let signed = state(clerk.clone()).await;
    let url = signed["result"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{signed}"))
        .to_owned();
    let (status, pdf) = fetch(&app, &url, None).await;
    assert_eq!(status, 200);
    let (text, codes) = read(&pdf, &dir, "result");
    for words in ["Мемлекеттік қызмет көрсету нәтижесі", &number] {
        assert!(text.contains(words), "{words:?} not in the result:\n{text}");
    }
    assert!(codes.lines().any(|l| l == verify), "{codes}");

    // At the State Corporation counter, an incomplete package gives a refusal receipt (the act
    // gives the office none): printable in Russian.
    let operator = people
        .staff("gov4c-mangystau", Role::CorporationOperator)
        .await;
    let mut refused = application(
        "mangystau-secondary-education-duplicates",
        Some(ORG),
        IIN,
        json!({}),
    );
    refused["documents"] =
        json!([{ "name": "application" }, { "name": "photo", "provided": false }]);
    let r = open(&app, &operator, "acceptAtCorporation", refused).await;
    let r = &r["data"]["r"];
    assert_eq!(r["status"], "REFUSED_AT_INTAKE", "{r}");
    let (_, b) = app
        .graphql_as(&operator, "query($c: ID!) { case(id: $c) { number refusal: documentPdf(kind: REFUSAL_RECEIPT, language: RU) { url } } }", json!({ "c": r["id"] }))
        .await;
    let url = b["data"]["case"]["refusal"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_owned();
    let (status, pdf) = fetch(&app, &url, None).await;
    assert_eq!(status, 200);
    let (text, _) = read(&pdf, &dir, "refusal");
    assert!(
        text.contains("Расписка об отказе в приёме документов"),
        "{text}"
    );
    assert!(
        text.contains(b["data"]["case"]["number"].as_str().expect("number")),
        "{text}"
    );

    if std::env::var_os("QYZMET_KEEP_PDF").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A receipt with a 200-character mixed-script name and 50 documents of 200 characters runs to
/// more pages, and drops nothing: every document, the result date and who accepted are printed,
/// and the barcode and QR code still decode (lines ran over them and the last lines were lost).
#[actix_web::test]
async fn a_long_receipt_continues_on_more_pages_and_drops_no_line() {
    crate::helpers::test_tools();
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let clerk = people.staff(ORG, Role::OfficeClerk).await;
    let name: String = "Әлия Ғалымқызы Aliya Алия "
        .repeat(8)
        .chars()
        .take(200)
        .collect();
    let documents: Vec<Value> = (0..50)
        .map(|i| {
            let mut d: String = format!("құжат{i:02} ")
                .repeat(30)
                .chars()
                .take(190)
                .collect();
            d.push_str(&format!(" соңы{i:02}"));
            json!({ "name": d })
        })
        .collect();
    let mut input = application(
        "mangystau-secondary-education-duplicates",
        None,
        IIN,
        json!({ "documents": documents }),
    );
    input["applicant"]["fullName"] = json!(name);
    let c = open(&app, &clerk, "registerApplication", input).await;
    let case = &c["data"]["r"];
    let number = case["number"]
        .as_str()
        .unwrap_or_else(|| panic!("{c}"))
        .to_owned();
    let (_, b) = app
        .graphql_as(
            &clerk,
            "query($c: ID!) { case(id: $c) { documentPdf(kind: RECEIPT) { url } } }",
            json!({ "c": case["id"] }),
        )
        .await;
    let url = b["data"]["case"]["documentPdf"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_owned();
    let (status, pdf) = fetch(&app, &url, None).await;
    assert_eq!(status, 200);
    let dir = std::env::temp_dir().join(format!("qyzmet-long-pdf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (text, codes) = read(&pdf, &dir, "long");
    for i in 0..50 {
        assert!(
            text.contains(&format!("соңы{i:02}")),
            "document {i} is missing:\n{text}"
        );
    }
    for label in ["Нәтижені беру мерзімі", "Қабылдаған"] {
        assert!(text.contains(label), "{label} is missing:\n{text}");
    }
    // The codes on the first page still decode (the QR code is read from the first page).
    assert!(codes.lines().any(|l| l == number), "{codes}");
    let verify = format!("{}/verify/{number}", crate::helpers::TEST_PUBLIC_URL);
    assert!(codes.lines().any(|l| l == verify), "{codes}");
    let _ = std::fs::remove_dir_all(&dir);
}

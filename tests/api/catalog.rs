//! The regulation catalog through GraphQL and storage: all 13 load, versions are kept, a broken
//! import changes nothing.

use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app, TestApp};

async fn codes(app: &TestApp, args: &str) -> Vec<String> {
    let (_, body) = app
        .graphql(&format!("{{ regulations{args} {{ code }} }}"), json!({}))
        .await;
    body["data"]["regulations"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|r| r["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[actix_web::test]
async fn all_thirteen_regulations_load_at_start() {
    let app = spawn_app().await;
    let all = codes(&app, "").await;
    assert_eq!(all.len(), 13, "{all:?}");
    assert_eq!(
        codes(&app, "(region: \"mangystau\")").await,
        [
            "mangystau-externat-permission",
            "mangystau-school-admission",
            "mangystau-secondary-education-duplicates"
        ]
    );
    assert_eq!(
        codes(&app, "(service: \"externat-permission\")").await,
        [
            "mangystau-externat-permission",
            "west-kazakhstan-externat-permission"
        ]
    );
    assert_eq!(codes(&app, "(channel: PORTAL)").await.len(), 7);
    assert_eq!(codes(&app, "(channel: STATE_CORPORATION)").await.len(), 9);
    assert_eq!(codes(&app, "(channel: PROVIDER_OFFICE)").await.len(), 10);
    assert_eq!(
        codes(&app, "(region: \"atyrau\", channel: PORTAL)").await,
        Vec::<String>::new()
    );
}

const FULL: &str = "query($c: String!, $v: Int) { regulation(code: $c, version: $v) {
    code version serviceCode nameKk nameEn region { code nameKk nameEn timeZone }
    act { number date registrationNumber amendments { number date } repealedBy { number date } }
    applyChannels resultChannels acceptanceWindows { appliesTo from until }
    legalTerm { value unit }
    steps { order mailbox actionKk actionEn duration { value unit } variants { attribute equals duration { value unit } } }
    corporation { intake { duration { value unit } stated } storageMonths redelivery { duration { value unit } stated } }
    portal { landsIn resultSignedBy }
    readings { paragraph } } }";

#[actix_web::test]
async fn a_regulation_exposes_its_act_steps_and_channels() {
    let app = spawn_app().await;
    let (_, body) = app
        .graphql(FULL, json!({ "c": "atyrau-teacher-attestation-intake" }))
        .await;
    let r = &body["data"]["regulation"];
    assert_eq!(r["version"], 1, "{body}");
    assert_eq!(
        r["region"],
        json!({ "code": "atyrau", "nameKk": "Атырау облысы", "nameEn": "Atyrau Region", "timeZone": "Asia/Atyrau" })
    );
    assert_eq!(r["act"]["number"], "172");
    assert_eq!(r["act"]["date"], "2016-08-03");
    assert_eq!(
        r["act"]["amendments"],
        json!([{ "number": "67", "date": "2019-04-16" }])
    );
    assert_eq!(
        r["applyChannels"],
        json!(["PROVIDER_OFFICE", "STATE_CORPORATION"])
    );
    assert_eq!(r["portal"], Value::Null);
    assert_eq!(r["legalTerm"], Value::Null);
    assert_eq!(r["steps"][2]["mailbox"], "EXECUTOR");
    assert_eq!(
        r["steps"][2]["duration"],
        json!({ "value": 2, "unit": "WORKING_DAYS" })
    );
    assert_eq!(
        r["steps"][2]["variants"],
        json!([{ "attribute": "location", "equals": "elsewhere", "duration": { "value": 6, "unit": "WORKING_DAYS" } }])
    );
    assert_eq!(r["corporation"]["storageMonths"], 1);
    assert_eq!(
        r["corporation"]["intake"],
        json!({ "duration": { "value": 15, "unit": "MINUTES" }, "stated": true })
    );

    let (_, body) = app
        .graphql(
            FULL,
            json!({ "c": "west-kazakhstan-college-document-acceptance" }),
        )
        .await;
    let r = &body["data"]["regulation"];
    assert_eq!(r["steps"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        r["steps"][0]["duration"],
        json!({ "value": 15, "unit": "MINUTES" })
    );
    assert_eq!(
        r["acceptanceWindows"],
        json!([{ "appliesTo": "full_time", "from": "06-20", "until": "08-20" },
               { "appliesTo": "evening_or_extramural", "from": "06-20", "until": "09-20" }])
    );
}

#[actix_web::test]
async fn unknown_codes_regions_and_kinds_are_typed_errors() {
    let app = spawn_app().await;
    let (_, body) = app
        .graphql(FULL, json!({ "c": "no-such-regulation" }))
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    let (_, body) = app
        .graphql(
            FULL,
            json!({ "c": "atyrau-teacher-attestation-intake", "v": 9 }),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    let (_, body) = app
        .graphql("{ regulations(region: \"atlantis\") { code } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let (_, body) = app
        .graphql("{ providers(kind: \"CASINO\") { code } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
}

#[actix_web::test]
async fn regions_and_providers_directory() {
    let app = spawn_app().await;
    let (_, body) = app
        .graphql("{ regions { code isoCode kind timeZone } }", json!({}))
        .await;
    let regions = body["data"]["regions"].as_array().expect("a list");
    assert_eq!(regions.len(), 20);
    let zone = |c: &str| {
        regions
            .iter()
            .find(|r| r["code"] == c)
            .map(|r| r["timeZone"].clone())
    };
    assert_eq!(zone("mangystau"), Some(json!("Asia/Aqtau")));
    assert_eq!(zone("west-kazakhstan"), Some(json!("Asia/Oral")));
    assert_eq!(zone("east-kazakhstan"), Some(json!("Asia/Almaty")));

    let (_, body) = app
        .graphql(
            "{ providers(region: \"atyrau\", kind: \"STATE_CORPORATION\") { code kind region { code } workingHours { open close lunchStart } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["providers"],
        json!([{ "code": "gov4c-atyrau", "kind": "STATE_CORPORATION", "region": { "code": "atyrau" },
                 "workingHours": { "open": "09:00", "close": "18:00", "lunchStart": null } }])
    );
}

fn changed_school_admission() -> (String, String) {
    let (file, text) = domain::regulation::BUNDLED_REGULATIONS
        .iter()
        .find(|(f, _)| f.contains("mangystau-school-admission"))
        .expect("bundled");
    // A corrected executor term: 3 → 4 working days.
    let changed = text.replacen(
        "{ value = 3, unit = \"WORKING_DAYS\" }",
        "{ value = 4, unit = \"WORKING_DAYS\" }",
        1,
    );
    assert_ne!(&changed, text);
    ((*file).to_owned(), changed)
}

#[actix_web::test]
async fn a_changed_file_becomes_the_next_version_and_the_old_one_is_kept() {
    let app = spawn_app().await;
    let changed = changed_school_admission();
    let out = api::store::regulation::import_all(&app.db, std::slice::from_ref(&changed), "test")
        .await
        .expect("imports");
    assert_eq!((out[0].version, out[0].created), (2, true));
    let again = api::store::regulation::import_all(&app.db, &[changed], "test")
        .await
        .expect("idempotent");
    assert_eq!((again[0].version, again[0].created), (2, false));

    let exec = |body: &Value| body["data"]["regulation"]["steps"][2]["duration"]["value"].clone();
    let (_, newest) = app
        .graphql(FULL, json!({ "c": "mangystau-school-admission" }))
        .await;
    assert_eq!(
        (
            newest["data"]["regulation"]["version"].clone(),
            exec(&newest)
        ),
        (json!(2), json!(4))
    );
    let (_, old) = app
        .graphql(FULL, json!({ "c": "mangystau-school-admission", "v": 1 }))
        .await;
    assert_eq!(
        (old["data"]["regulation"]["version"].clone(), exec(&old)),
        (json!(1), json!(3))
    );
    let (_, versions) = app
        .graphql(
            "{ regulationVersions(code: \"mangystau-school-admission\") { version } }",
            json!({}),
        )
        .await;
    assert_eq!(
        versions["data"]["regulationVersions"],
        json!([{ "version": 1 }, { "version": 2 }])
    );

    // A restart loads the unchanged bundled files again: nothing new, version 2 stays in force.
    let keys = api::auth::token::TokenKeys::new(
        crate::helpers::TEST_JWT_SECRET.as_bytes(),
        std::time::Duration::from_secs(900),
        std::time::Duration::from_secs(3600),
    );
    api::startup::prepare_state(app.db.clone(), keys, api::clock::Clock::system())
        .await
        .expect("restart");
    let (_, after) = app
        .graphql(FULL, json!({ "c": "mangystau-school-admission" }))
        .await;
    assert_eq!(after["data"]["regulation"]["version"], 2);
    assert_eq!(codes(&app, "").await.len(), 13);
}

async fn stored_rows(app: &TestApp) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    entity::regulation::Entity::find()
        .count(&app.db)
        .await
        .expect("count")
}

#[actix_web::test]
async fn a_broken_file_in_an_import_stores_nothing_at_all() {
    let app = spawn_app().await;
    let before = stored_rows(&app).await;
    assert_eq!(before, 13);
    let good = changed_school_admission();
    let (file, text) = domain::regulation::BUNDLED_REGULATIONS[1];
    let bad = (
        file.to_owned(),
        text.replacen("unit = \"MINUTES\"", "unit = \"FORTNIGHTS\"", 1),
    );
    let err = api::store::regulation::import_all(&app.db, &[good.clone(), bad], "test")
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "INVALID_REGULATION");
    assert!(err.to_string().contains("FORTNIGHTS"), "{err}");
    assert_eq!(
        stored_rows(&app).await,
        before,
        "the good file must not half-load"
    );

    let unknown_region = (
        good.0.clone(),
        good.1
            .replace("region = \"mangystau\"", "region = \"atlantis\""),
    );
    let err = api::store::regulation::import_all(&app.db, &[unknown_region], "test")
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "INVALID_REGULATION");
    assert_eq!(stored_rows(&app).await, before);

    let duplicate = (good.0.clone(), good.1.clone());
    let err = api::store::regulation::import_all(&app.db, &[good, duplicate], "test")
        .await
        .expect_err("dup");
    assert!(err.to_string().contains("also the code"), "{err}");
    assert_eq!(stored_rows(&app).await, before);
}

//! `GET /verify/{number}`: the public verification page a printed document's QR code opens — an
//! HTML page, or JSON for `Accept: application/json`. What it says is `graphql::verify`'s.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::graphql::verify::{verify, DocumentKind};
use crate::state::AppState;

/// Registers `GET /verify/{number}`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/verify/{number}", web::get().to(page));
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn kind_label(k: DocumentKind) -> &'static str {
    match k {
        DocumentKind::Receipt => "Қолхат / Расписка",
        DocumentKind::RefusalReceipt => "Бас тарту туралы қолхат / Расписка об отказе",
        DocumentKind::ReasonedRefusal => "Дәлелді бас тарту / Мотивированный отказ",
        DocumentKind::ServiceResult => "Қызмет нәтижесі / Результат услуги",
    }
}

async fn page(
    state: web::Data<AppState>,
    limiter: web::Data<crate::throttle::PublicLimiter>,
    req: HttpRequest,
    number: web::Path<String>,
) -> HttpResponse {
    if let Err(e) = limiter.check(&crate::network::client_addr(&req)) {
        return e.into_http();
    }
    let v = match verify(&state, &number).await {
        Ok(v) => v,
        Err(e) => return e.into_http(),
    };
    let wants_json = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    let progress = v
        .progress
        .map(|p| domain::view::PublicProgress::from(p).as_str());
    if wants_json {
        return HttpResponse::Ok().json(json!({
            "number": v.number,
            "exists": v.exists,
            "progress": progress,
            "documents": v.documents.iter().map(|d| json!({
                "kind": domain::view::DocumentKind::from(d.kind).as_str(),
                "issuedAt": d.issued_at.0.to_rfc3339(),
                "sha256": d.sha256,
            })).collect::<Vec<_>>(),
        }));
    }
    let rows: String = v
        .documents
        .iter()
        .map(|d| {
            format!(
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                kind_label(d.kind),
                d.issued_at.0.format("%Y-%m-%d %H:%M UTC"),
                escape(&d.sha256)
            )
        })
        .collect();
    let status = if v.exists {
        format!(
            "<p>Тіркелген / Зарегистрировано: <strong>{}</strong></p><table><tr><th>Құжат / Документ</th><th>Берілді / Выдан</th><th>SHA-256</th></tr>{rows}</table>",
            progress.unwrap_or_default()
        )
    } else {
        "<p><strong>Мұндай нөмір тіркелмеген / Такой номер не зарегистрирован</strong></p>"
            .to_owned()
    };
    let body = format!(
        "<!doctype html><html lang=\"kk\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{n}</title></head><body><h1>Құжатты тексеру / Проверка документа</h1><p>№ {n}</p>{status}</body></html>",
        n = escape(&v.number)
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'"))
        .body(body)
}

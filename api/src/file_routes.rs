//! Downloads scoped exactly like their case, for a signed link (`?token=…`, made by the GraphQL
//! field that offers the download) or an `Authorization` header: `GET /files/{id}` (an
//! attachment's content) and `GET /cases/{id}/documents/{kind}.pdf?language=kk|ru` (a printable
//! document: `receipt`, `refusal-receipt`, `reasoned-refusal`, `result`). A case the caller cannot see is `NOT_FOUND`, as is one that does not exist.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

use crate::auth::{authenticate, Auth, Principal};
use crate::error::ApiError;
use crate::files::FileStore;
use crate::state::AppState;

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/files/{id}", web::get().to(download))
        .route("/cases/{id}/documents/{file}", web::get().to(document_pdf));
}

/// The API's public origin, when configured (`Settings::public_url`).
#[derive(Clone, Debug)]
pub struct PublicUrl(pub Option<String>);

/// A case the caller may see, by the id in the path; `NOT_FOUND` otherwise.
async fn visible_case(
    state: &AppState,
    p: &Principal,
    id: &str,
) -> Result<entity::service_case::Model, ApiError> {
    let not_found = || ApiError::NotFound("no such case".into());
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let case = crate::store::cases::find(&state.db, id)
        .await?
        .ok_or_else(not_found)?;
    if !crate::graphql::cases::visible(state, p, &case).await? {
        return Err(not_found());
    }
    Ok(case)
}

async fn document_pdf(
    state: web::Data<AppState>,
    public_url: web::Data<PublicUrl>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    q: web::Query<std::collections::HashMap<String, String>>,
) -> HttpResponse {
    let answer = async {
        let (id, file) = path.into_inner();
        let kind = file
            .strip_suffix(".pdf")
            .and_then(|slug| {
                domain::view::DocumentKind::ALL
                    .into_iter()
                    .find(|k| k.slug() == slug)
            })
            .ok_or_else(|| ApiError::NotFound("no such document".into()))?;
        let q = q.into_inner();
        let language = match q.get("language").map(String::as_str) {
            None | Some("kk") => domain::language::Language::Kk,
            Some("ru") => domain::language::Language::Ru,
            Some(other) => {
                return Err(ApiError::BadUserInput(format!(
                    "language must be kk or ru, got {other:?}"
                )))
            }
        };
        let p = caller(&state, &req, q).await?;
        let case = visible_case(&state, &p, &id).await?;
        let record = crate::store::case_rows::record(&case)?;
        let org = state
            .organisations
            .get(&state.db, case.provider_id)
            .await?
            .ok_or_else(|| ApiError::internal(std::io::Error::other("case without provider")))?;
        let tz = crate::store::cases::hours_and_zone(&state, &org)?.1;
        let reg = crate::store::cases::pinned(&state, &case).await?;
        let origin = match &public_url.0 {
            Some(u) => u.clone(),
            None => crate::network::request_origin(&req),
        };
        let russian = domain::language::russian(&case.regulation_code);
        let result_names = |code: &str| {
            let ru = russian.and_then(|r| r.results.get(code));
            let own = reg.results.iter().find(|k| k.code == code);
            match (language, ru, own) {
                (domain::language::Language::Ru, Some(ru), _) => ru.clone(),
                (_, _, Some(k)) => k.name_kk.clone(),
                _ => code.to_owned(),
            }
        };
        // The employees and organisations the documents name, by name (never by username).
        let (usernames, codes) = domain::printable::named(&record);
        let people = crate::store::accounts::display_names(&state.db, usernames).await?;
        let organisations = crate::store::organisations::names(&state.db, codes, language).await?;
        let person = |u: &str| people.get(u).cloned().unwrap_or_else(|| u.to_owned());
        let organisation = |c: &str| {
            organisations
                .get(c)
                .cloned()
                .unwrap_or_else(|| c.to_owned())
        };
        let names = domain::printable::Names {
            service_ru: russian.map(|r| r.name.as_str()),
            result: &result_names,
            organisation: &organisation,
            person: &person,
        };
        let printable = domain::printable::of_case(
            &record,
            kind,
            domain::view::Audience::of(p.role),
            &names,
            language,
            tz,
            &origin,
        )
        .ok_or_else(|| ApiError::NotFound("the case has no such document (yet)".into()))?;
        let bytes = actix_web::rt::task::spawn_blocking(move || crate::pdf::render(&printable))
            .await
            .map_err(ApiError::internal)??;
        Ok((format!("{}-{}.pdf", case.number, kind.slug()), bytes))
    };
    match answer.await {
        Ok((name, bytes)) => HttpResponse::Ok()
            .content_type("application/pdf")
            .insert_header((header::CONTENT_DISPOSITION, disposition(&name)))
            .insert_header((header::CACHE_CONTROL, "private, no-store"))
            .body(bytes),
        Err(e) => e.into_http(),
    }
}

/// The caller: from the link's token (which must name exactly this path), else the header.
async fn caller(
    state: &AppState,
    req: &HttpRequest,
    mut q: std::collections::HashMap<String, String>,
) -> Result<Principal, ApiError> {
    if let Some(token) = q.remove(crate::links::TOKEN_PARAM) {
        let params = q.into_iter().collect();
        let subject = crate::links::verify(&state.tokens, req.path(), &params, &token)?;
        return crate::auth::load_principal(state, subject)
            .await?
            .ok_or(ApiError::Unauthenticated);
    }
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match authenticate(state, authorization).await {
        Auth::Principal(p) => Ok(p),
        _ => Err(ApiError::Unauthenticated),
    }
}

/// `Content-Disposition` for a download named `name` (RFC 6266 / 5987: an ASCII fallback and
/// the UTF-8 name percent-encoded).
pub fn disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._- ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

async fn download(
    state: web::Data<AppState>,
    files: web::Data<FileStore>,
    req: HttpRequest,
    id: web::Path<String>,
    q: web::Query<std::collections::HashMap<String, String>>,
) -> HttpResponse {
    let answer = async {
        let p = caller(&state, &req, q.into_inner()).await?;
        let not_found = || ApiError::NotFound("no such file".into());
        let id: i64 = id.parse().map_err(|_| not_found())?;
        let row = crate::store::files::find(&state.db, id)
            .await?
            .ok_or_else(not_found)?;
        visible_case(&state, &p, &row.case_id.to_string()).await?;
        let body = files.get(&row.sha256).await?;
        Ok::<_, ApiError>((row, body))
    };
    match answer.await {
        Ok::<_, ApiError>((row, body)) => HttpResponse::Ok()
            .content_type(row.media_type.as_str())
            .insert_header((
                header::CONTENT_DISPOSITION,
                disposition(&{
                    // Names stored before format characters were stripped are cleaned here too.
                    let shown =
                        domain::files::display_name(&row.name).unwrap_or_else(|| "file".to_owned());
                    match domain::files::FileKind::parse(&row.media_type) {
                        Some(kind) => domain::files::download_name(&shown, kind),
                        None => shown,
                    }
                }),
            ))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::CACHE_CONTROL, "private, no-store"))
            .streaming(body.map(|r| r.map_err(actix_web::error::ErrorInternalServerError))),
        Err(e) => e.into_http(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_name_reaches_every_browser_without_breaking_the_header() {
        assert_eq!(
            disposition("өтініш \"1\".pdf"),
            "attachment; filename=\"______ _1_.pdf\"; filename*=UTF-8''%D3%A9%D1%82%D1%96%D0%BD%D1%96%D1%88%20%221%22.pdf"
        );
    }
}

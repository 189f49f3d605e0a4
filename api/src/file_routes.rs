//! `GET /files/{id}`: an attachment's content, for a signed link (`?token=…`, made by
//! `CaseFile.download`) or an `Authorization` header. Scoped exactly like the case: an
//! attachment of a case the caller cannot see is `NOT_FOUND`, as is one that does not exist.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

use crate::auth::{authenticate, Auth, Principal};
use crate::error::ApiError;
use crate::files::FileStore;
use crate::state::AppState;

/// Registers the route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/files/{id}", web::get().to(download));
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
fn disposition(name: &str) -> String {
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
        let case = crate::store::cases::find(&state.db, row.case_id)
            .await?
            .ok_or_else(not_found)?;
        if !crate::graphql::cases::visible(&state, &p, &case).await? {
            return Err(not_found());
        }
        let body = files.get(&row.sha256).await?;
        Ok((row, body))
    };
    match answer.await {
        Ok((row, body)) => HttpResponse::Ok()
            .content_type(row.media_type.as_str())
            .insert_header((header::CONTENT_DISPOSITION, disposition(&row.name)))
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

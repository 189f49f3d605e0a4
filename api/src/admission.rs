//! What a request must be before it is read: a JSON body (a cross-site page cannot send one
//! without the browser asking first), and an uploader the server knows before it reads an
//! upload. (A file named that a request does not carry is refused by `graphql::guard`, on every
//! transport.)

use actix_web::http::header;
use actix_web::{web, HttpRequest};

use crate::state::AppState;

/// Whether a request's `Content-Type` is JSON (`application/json`, or
/// `application/graphql-response+json`, with any parameters): the types a browser sends to
/// another origin only after a preflight.
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence == "application/graphql-response+json"
}

/// The account an upload is for: the subject of a bearer token that verifies (signature and
/// expiry; no database read). The request itself is authenticated again, fully, when it runs.
pub fn uploader(req: &HttpRequest) -> Option<String> {
    let state = req.app_data::<web::Data<AppState>>()?;
    let token = req
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?
        .trim();
    state.tokens.verify(token).ok().map(|claims| claims.sub)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_bodies_are_run() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/graphql-response+json",
        ] {
            assert!(is_json(ok), "{ok}");
        }
        for simple in [
            "",
            "text/plain",
            "text/plain;charset=UTF-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonp",
        ] {
            assert!(!is_json(simple), "{simple}");
        }
    }
}

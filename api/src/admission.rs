//! What a request must be before it is run: a JSON body (a cross-site page cannot send one
//! without the browser asking first), an uploader the server knows before it reads an upload,
//! and no file named that the request does not carry.

use actix_web::http::header;
use actix_web::{web, HttpRequest};

use crate::state::AppState;

/// The marker async-graphql puts in a variable for each uploaded file (`…:<index>`).
const UPLOAD_MARKER: &str = "#__graphql_file__:";

/// Whether a request names an uploaded file it does not carry: the upload marker in the query
/// text, or in a variable that is not one of this request's files. async-graphql trusts the
/// marker (an unknown index panics when the file is read, a non-number when it is parsed), so
/// only the multipart reader may write it.
pub fn forges_an_upload(request: &async_graphql::Request) -> bool {
    fn forged(v: &async_graphql::Value, uploads: usize) -> bool {
        match v {
            async_graphql::Value::String(s) => s
                .strip_prefix(UPLOAD_MARKER)
                .is_some_and(|i| i.parse::<usize>().map_or(true, |i| i >= uploads)),
            async_graphql::Value::List(items) => items.iter().any(|i| forged(i, uploads)),
            async_graphql::Value::Object(fields) => fields.values().any(|f| forged(f, uploads)),
            _ => false,
        }
    }
    request.query.contains("__graphql_file__")
        || request
            .variables
            .iter()
            .any(|(_, v)| forged(v, request.uploads.len()))
}

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

    #[test]
    fn an_upload_marker_is_forged_unless_it_names_a_file_the_request_carries() {
        let with = |vars: serde_json::Value| {
            async_graphql::Request::new("mutation($f: Upload!) { x(f: $f) }")
                .variables(async_graphql::Variables::from_json(vars))
        };
        assert!(forges_an_upload(&with(
            serde_json::json!({ "f": "#__graphql_file__:0" })
        )));
        assert!(forges_an_upload(&with(
            serde_json::json!({ "f": ["#__graphql_file__:x"] })
        )));
        assert!(forges_an_upload(&with(
            serde_json::json!({ "o": { "f": "#__graphql_file__:9" } })
        )));
        assert!(!forges_an_upload(&with(
            serde_json::json!({ "f": "scan.pdf" })
        )));
        assert!(forges_an_upload(&async_graphql::Request::new(
            "{ x(f: \"#__graphql_file__:0\") }"
        )));
    }
}

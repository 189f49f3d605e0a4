//! Short-lived signed download links: a plain URL a browser can open (an `<a href>`, a new
//! tab, a spreadsheet's "from web") without an `Authorization` header. The link carries a token
//! that names the account, the path and a hash of every other parameter, expires after
//! [`LINK_SECONDS`], and is checked against the account's current scope when it is used.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::auth::token::{DownloadClaims, TokenKeys};
use crate::auth::Subject;
use crate::error::ApiError;

/// How long a link works.
pub const LINK_SECONDS: i64 = 300;

/// The query parameter that carries the link's token.
pub const TOKEN_PARAM: &str = "token";

/// The download path of a file attached to a case (served with the other scoped downloads).
pub fn file_path(id: i64) -> String {
    format!("/files/{id}")
}

/// The path of a case's printable document (served with the other scoped downloads).
pub fn document_path(case_id: i64, kind: domain::view::DocumentKind) -> String {
    format!("/cases/{case_id}/documents/{}.pdf", kind.slug())
}

/// The parameters hashed in key order, each key and value prefixed by its length, so that no two
/// different sets of parameters read the same.
fn params_hash(params: &BTreeMap<String, String>) -> String {
    let canonical: String = params
        .iter()
        .map(|(k, v)| format!("{}:{k}{}:{v}", k.len(), v.len()))
        .collect();
    crate::store::calendar::content_hash(&canonical)
}

/// A signed link to `path` with `params` for `subject`, and when it stops working.
pub fn sign(
    keys: &TokenKeys,
    subject: Subject,
    path: &str,
    params: &BTreeMap<String, String>,
    now: DateTime<Utc>,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let expires = now + chrono::Duration::seconds(LINK_SECONDS);
    let token = keys.sign_download(DownloadClaims {
        sub: subject.claim(),
        path: path.to_owned(),
        params: params_hash(params),
        exp: expires.timestamp(),
        iat: now.timestamp(),
        iss: String::new(),
        aud: String::new(),
    })?;
    let mut query = serde_urlencoded::to_string(params).map_err(ApiError::internal)?;
    if !query.is_empty() {
        query.push('&');
    }
    query.push_str(&format!("{TOKEN_PARAM}={token}"));
    Ok((format!("{path}?{query}"), expires))
}

/// The account a link was signed for, if `token` is a valid, unexpired link to exactly `path`
/// and `params` (the token parameter removed); `UNAUTHENTICATED` otherwise.
pub fn verify(
    keys: &TokenKeys,
    path: &str,
    params: &BTreeMap<String, String>,
    token: &str,
) -> Result<Subject, ApiError> {
    let claims = keys.verify_download(token).map_err(|e| {
        tracing::debug!(reason = %e, "download link refused");
        ApiError::Unauthenticated
    })?;
    if claims.path != path || claims.params != params_hash(params) {
        return Err(ApiError::Unauthenticated);
    }
    Subject::parse(&claims.sub).ok_or(ApiError::Unauthenticated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(
            b"a test secret of at least thirty-two bytes",
            std::time::Duration::from_secs(900),
            std::time::Duration::from_secs(86400),
        )
    }

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn token_of(url: &str) -> &str {
        url.rsplit_once("token=")
            .map(|(_, t)| t)
            .unwrap_or_default()
    }

    #[test]
    fn a_link_opens_its_path_with_its_parameters_only() {
        let k = keys();
        let p = params(&[("groupBy", "REGION"), ("regions", "atyrau")]);
        let (url, _) =
            sign(&k, Subject::User(7), "/reports/cases.csv", &p, Utc::now()).expect("signed");
        assert!(
            url.starts_with("/reports/cases.csv?groupBy=REGION&regions=atyrau&token="),
            "{url}"
        );
        let t = token_of(&url);
        assert_eq!(
            verify(&k, "/reports/cases.csv", &p, t).ok(),
            Some(Subject::User(7))
        );
        // Another path, a changed or added parameter: refused.
        assert!(verify(&k, "/reports/steps.csv", &p, t).is_err());
        let changed = params(&[("groupBy", "REGION"), ("regions", "mangystau")]);
        assert!(verify(&k, "/reports/cases.csv", &changed, t).is_err());
        let more = params(&[("groupBy", "REGION"), ("regions", "atyrau"), ("from", "x")]);
        assert!(verify(&k, "/reports/cases.csv", &more, t).is_err());
        // An access token is not a link.
        let (access, _) = k
            .issue("user:7".into(), "ANALYST", None, None, Utc::now())
            .expect("issued");
        assert!(verify(&k, "/reports/cases.csv", &p, &access).is_err());
    }

    #[test]
    fn a_link_stops_working_when_it_expires() {
        let k = keys();
        let p = params(&[]);
        let then = Utc::now() - chrono::Duration::seconds(LINK_SECONDS + 1);
        let (url, _) = sign(&k, Subject::User(7), "/reports/steps.csv", &p, then).expect("signed");
        assert!(verify(&k, "/reports/steps.csv", &p, token_of(&url)).is_err());
    }
}

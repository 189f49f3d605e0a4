//! Access tokens (JWT, HS256 with an explicit algorithm, issuer and audience) and opaque
//! refresh tokens (random, stored only as a SHA-256).

use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The issuer every token names.
pub const ISSUER: &str = "qyzmet";
/// The audience every token names.
pub const AUDIENCE: &str = "qyzmet-api";

/// Claims of an access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// `user:ID` or `applicant:ID`.
    pub sub: String,
    /// Role name.
    pub role: String,
    /// Organisation code, for staff of an organisation.
    pub org: Option<String>,
    /// Region code: the organisation's, or an analyst's; none for national roles.
    pub region: Option<String>,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Unique token id.
    pub jti: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
}

/// The audience of a signed download link's token: never accepted as an access token, and an
/// access token is never accepted as a link.
pub const DOWNLOAD_AUDIENCE: &str = "qyzmet-download";

/// Claims of a signed download link (made and checked by the `links` module).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadClaims {
    /// `user:ID`: whose scope the download is read in (checked again when it is used).
    pub sub: String,
    /// The path the link opens, e.g. `/reports/cases.csv`.
    pub path: String,
    /// SHA-256 of the link's other parameters in canonical order: they cannot be changed.
    pub params: String,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Issuer.
    pub iss: String,
    /// Audience: [`DOWNLOAD_AUDIENCE`].
    pub aud: String,
}

/// Keys and lifetimes, built once from the settings.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Access token lifetime.
    pub access_ttl: chrono::Duration,
    /// Refresh token lifetime.
    pub refresh_ttl: chrono::Duration,
    /// Derives a refresh token's successor from it (see `store::accounts::rotate`): a key of
    /// its own, hashed from the signing secret.
    successor_key: String,
}

/// Random bytes as lowercase hex.
pub fn random_hex(bytes: usize) -> Result<String, ApiError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|e| ApiError::internal(std::io::Error::other(e.to_string())))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

impl TokenKeys {
    /// Keys from a shared secret.
    pub fn new(
        secret: &[u8],
        access_ttl: std::time::Duration,
        refresh_ttl: std::time::Duration,
    ) -> TokenKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 5;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl: chrono::Duration::from_std(access_ttl)
                .unwrap_or(chrono::Duration::minutes(15)),
            refresh_ttl: chrono::Duration::from_std(refresh_ttl)
                .unwrap_or(chrono::Duration::days(30)),
            successor_key: crate::store::calendar::content_hash(&format!(
                "qyzmet refresh successor:{}",
                secret
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            )),
        }
    }

    /// The successor of a refresh token: the same for the same token, unguessable without the
    /// secret, never stored (only its hash is).
    pub fn successor(&self, raw: &str) -> String {
        crate::store::calendar::content_hash(&format!("{}:{raw}", self.successor_key))
    }

    /// Signs an access token for a subject; returns it with its expiry.
    pub fn issue(
        &self,
        sub: String,
        role: &str,
        org: Option<String>,
        region: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), ApiError> {
        let exp = now + self.access_ttl;
        let claims = Claims {
            sub,
            role: role.to_owned(),
            org,
            region,
            exp: exp.timestamp(),
            iat: now.timestamp(),
            jti: random_hex(16)?,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::internal(std::io::Error::other(e.to_string())))?;
        Ok((token, exp))
    }

    /// Verifies signature, algorithm, issuer, audience and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        decode::<Claims>(token, &self.decoding, &self.validation).map(|d| d.claims)
    }

    /// Signs a download link's claims (their audience set to [`DOWNLOAD_AUDIENCE`]).
    pub fn sign_download(&self, mut claims: DownloadClaims) -> Result<String, ApiError> {
        claims.iss = ISSUER.to_owned();
        claims.aud = DOWNLOAD_AUDIENCE.to_owned();
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::internal(std::io::Error::other(e.to_string())))
    }

    /// Verifies a download link's token: signature, issuer, its own audience, expiry (no
    /// leeway: a link's life is short and exact).
    pub fn verify_download(
        &self,
        token: &str,
    ) -> Result<DownloadClaims, jsonwebtoken::errors::Error> {
        let mut v = self.validation.clone();
        v.set_audience(&[DOWNLOAD_AUDIENCE]);
        v.leeway = 0;
        decode::<DownloadClaims>(token, &self.decoding, &v).map(|d| d.claims)
    }
}

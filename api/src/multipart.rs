//! Reads a GraphQL multipart request (the spec of jaydenseric/graphql-multipart-request-spec)
//! with every part bounded, using `multer` (the multipart parser async-graphql itself uses).
//!
//! async-graphql's own reader bounds each part by the file size limit — the `operations` JSON
//! too, held in memory — and spools every file part it meets, named in the map or not, to a
//! temporary file of its own; a body of many tiny parts opens as many files. Here, as the spec
//! orders: `operations` first (at most the ordinary body limit), then `map` (at most
//! [`MAX_MAP_BYTES`], at most `max_files` entries), then the files, each at most
//! `max_file_bytes`, spooled to a temporary file only when the map names it — so at most
//! `max_files` of them; parts the map does not name, or names twice, are skipped unread.

use std::collections::HashMap;
use std::io::{Seek, Write};

use async_graphql::UploadValue;
use futures_util::Stream;
use multer::{Constraints, Multipart, SizeLimit};

/// The uploads a node reads at once (application data), and each account's share of them: a
/// request is given a slot only once its bearer token verifies (anonymous bodies never hold
/// one), and one that finds none free — on the node or for its account — is answered
/// `SERVICE_UNAVAILABLE` at once, before its body is read.
#[derive(Clone)]
pub struct UploadSlots {
    node: std::sync::Arc<tokio::sync::Semaphore>,
    per_account: usize,
    /// Slots held per account; never more entries than the node has slots.
    held: std::sync::Arc<std::sync::Mutex<HashMap<String, usize>>>,
}

/// Uploads one account may have read at once on a node: a clerk scanning a pile of documents
/// in several tabs, not every slot of the node.
pub const MAX_UPLOADS_PER_ACCOUNT: usize = 4;

/// Why no slot was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Busy {
    /// Every slot of the node is taken.
    Node,
    /// The account holds its share already.
    Account,
}

/// A slot, held until dropped.
pub struct Slot {
    _permit: tokio::sync::OwnedSemaphorePermit,
    account: String,
    held: std::sync::Arc<std::sync::Mutex<HashMap<String, usize>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut held) = self.held.lock() {
            if let Some(n) = held.get_mut(&self.account) {
                *n -= 1;
                if *n == 0 {
                    held.remove(&self.account);
                }
            }
        }
    }
}

impl UploadSlots {
    /// `n` slots on the node, at most `per_account` of them for one account.
    pub fn new(n: usize, per_account: usize) -> UploadSlots {
        UploadSlots {
            node: std::sync::Arc::new(tokio::sync::Semaphore::new(n)),
            per_account: per_account.max(1),
            held: Default::default(),
        }
    }

    /// A slot for `account` (the token's subject), or why there is none.
    pub fn take(&self, account: &str) -> Result<Slot, Busy> {
        let Ok(mut held) = self.held.lock() else {
            return Err(Busy::Node);
        };
        let mine = held.get(account).copied().unwrap_or(0);
        if mine >= self.per_account {
            return Err(Busy::Account);
        }
        let permit = self
            .node
            .clone()
            .try_acquire_owned()
            .map_err(|_| Busy::Node)?;
        held.insert(account.to_owned(), mine + 1);
        Ok(Slot {
            _permit: permit,
            account: account.to_owned(),
            held: self.held.clone(),
        })
    }
}

#[cfg(test)]
mod slot_tests {
    use super::*;

    #[test]
    fn an_account_holds_at_most_its_share_and_the_node_at_most_its_slots() {
        let slots = UploadSlots::new(3, 2);
        let a1 = slots.take("user:1").expect("first");
        let _a2 = slots.take("user:1").expect("second");
        assert!(matches!(slots.take("user:1"), Err(Busy::Account)));
        let _b1 = slots.take("user:2").expect("another account");
        assert!(matches!(slots.take("user:3"), Err(Busy::Node)));
        drop(a1);
        assert!(slots.take("user:3").is_ok(), "a slot given back is free");
        assert!(slots.held.lock().map(|h| h.len() <= 3).unwrap_or(false));
    }
}

/// The largest `map` part.
pub const MAX_MAP_BYTES: usize = 16 * 1024;

/// The bounds of one multipart request.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// The `operations` part (the ordinary request body limit).
    pub max_operations_bytes: usize,
    /// Each file.
    pub max_file_bytes: usize,
    /// Files in one request.
    pub max_files: usize,
}

impl Bounds {
    /// The whole body: the operations, the map, the files, and room for the parts' headers.
    pub fn max_body_bytes(&self) -> usize {
        self.max_operations_bytes
            .saturating_add(MAX_MAP_BYTES)
            .saturating_add(self.max_file_bytes.saturating_mul(self.max_files))
            .saturating_add(64 * 1024)
    }
}

/// Why a multipart request was refused.
#[derive(Debug, thiserror::Error)]
pub enum MultipartError {
    /// A part or the whole body is over its limit (`limit` bytes).
    #[error("{what} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// What was too large.
        what: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// More files than one request may carry.
    #[error("at most {limit} files in one request")]
    TooManyFiles {
        /// The most files.
        limit: usize,
    },
    /// Not a well-formed GraphQL multipart request.
    #[error("{0}")]
    Malformed(String),
    /// This server could not spool a file (a full disk, no file descriptors left): not the
    /// client's fault, and worth retrying.
    #[error("the upload could not be stored for a moment: {0}")]
    Spool(std::io::Error),
}

fn malformed(what: impl std::fmt::Display) -> MultipartError {
    MultipartError::Malformed(what.to_string())
}

fn from_multer(e: multer::Error, bounds: &Bounds) -> MultipartError {
    match e {
        multer::Error::FieldSizeExceeded { field_name, .. } => match field_name.as_deref() {
            Some("operations") => MultipartError::TooLarge {
                what: "the operations part".into(),
                limit: bounds.max_operations_bytes,
            },
            Some("map") => MultipartError::TooLarge {
                what: "the map part".into(),
                limit: MAX_MAP_BYTES,
            },
            _ => MultipartError::TooLarge {
                what: "a file".into(),
                limit: bounds.max_file_bytes,
            },
        },
        multer::Error::StreamSizeExceeded { .. } => MultipartError::TooLarge {
            what: "the request body".into(),
            limit: bounds.max_body_bytes(),
        },
        e => malformed(e),
    }
}

/// Reads the request from `body` (`content_type` carries the boundary).
pub async fn read<S>(
    content_type: &str,
    body: S,
    bounds: Bounds,
) -> Result<async_graphql::Request, MultipartError>
where
    S: Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
{
    let boundary = multer::parse_boundary(content_type).map_err(malformed)?;
    let limits = SizeLimit::new()
        .whole_stream(bounds.max_body_bytes() as u64)
        .per_field(bounds.max_file_bytes as u64)
        .for_field("operations", bounds.max_operations_bytes as u64)
        .for_field("map", MAX_MAP_BYTES as u64);
    let mut multipart =
        Multipart::with_constraints(body, boundary, Constraints::new().size_limit(limits));
    let err = |e| from_multer(e, &bounds);

    let mut request: Option<async_graphql::Request> = None;
    let mut map: Option<HashMap<String, Vec<String>>> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(err)? {
        let name = field.name().map(str::to_owned);
        match (name.as_deref(), &mut request, &mut map) {
            (Some("operations"), None, _) => {
                let bytes = field.bytes().await.map_err(err)?;
                let batch: async_graphql::BatchRequest = serde_json::from_slice(&bytes)
                    .map_err(|e| malformed(format!("operations: {e}")))?;
                request =
                    Some(batch.into_single().map_err(|e| {
                        malformed(format!("one operation per multipart request: {e}"))
                    })?);
            }
            (Some("map"), Some(_), None) => {
                let bytes = field.bytes().await.map_err(err)?;
                let parsed: HashMap<String, Vec<String>> =
                    serde_json::from_slice(&bytes).map_err(|e| malformed(format!("map: {e}")))?;
                // Each path is an open file below: the paths, not only the parts, are bounded.
                let paths: usize = parsed.values().map(Vec::len).sum();
                if parsed.len() > bounds.max_files || paths > bounds.max_files {
                    return Err(MultipartError::TooManyFiles {
                        limit: bounds.max_files,
                    });
                }
                map = Some(parsed);
            }
            (Some("operations"), Some(_), _) | (Some("map"), _, Some(_)) => {
                return Err(malformed("a repeated operations or map part"));
            }
            (_, None, _) | (_, _, None) => {
                return Err(malformed(
                    "the operations part, then the map, must come before the files",
                ));
            }
            (Some(part), Some(req), Some(map)) => {
                // A part the map does not name is skipped unread (multer drains it).
                let Some(paths) = map.remove(part) else {
                    continue;
                };
                let filename = field.file_name().unwrap_or_default().to_owned();
                let content_type = field.content_type().map(ToString::to_string);
                let mut file = tempfile::tempfile().map_err(MultipartError::Spool)?;
                while let Some(chunk) = field.chunk().await.map_err(err)? {
                    file.write_all(&chunk).map_err(MultipartError::Spool)?;
                }
                file.rewind().map_err(MultipartError::Spool)?;
                for path in paths {
                    let content = file.try_clone().map_err(MultipartError::Spool)?;
                    req.set_upload(
                        &path,
                        UploadValue {
                            filename: filename.clone(),
                            content_type: content_type.clone(),
                            content,
                        },
                    );
                }
            }
            (None, Some(_), Some(_)) => continue,
        }
    }
    let request = request.ok_or_else(|| malformed("no operations part"))?;
    match map {
        None => Err(malformed("no map part")),
        Some(rest) if !rest.is_empty() => Err(malformed(format!(
            "the map names parts that did not come: {:?}",
            rest.keys().collect::<Vec<_>>()
        ))),
        Some(_) => Ok(request),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDARY: &str = "qyzmet-boundary";
    const CT: &str = "multipart/form-data; boundary=qyzmet-boundary";

    fn body(parts: &[Part<'_>]) -> Vec<u8> {
        let mut b = Vec::new();
        for (name, filename, data) in parts {
            let disposition = match filename {
                Some(f) => format!("form-data; name=\"{name}\"; filename=\"{f}\""),
                None => format!("form-data; name=\"{name}\""),
            };
            b.extend_from_slice(
                format!("--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n").as_bytes(),
            );
            b.extend_from_slice(data);
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        b
    }

    /// A part: its name, its file name, its content.
    type Part<'a> = (&'a str, Option<&'a str>, &'a [u8]);

    async fn parse(
        parts: &[Part<'_>],
        bounds: Bounds,
    ) -> Result<async_graphql::Request, MultipartError> {
        let bytes = bytes::Bytes::from(body(parts));
        let stream = futures_util::stream::iter(
            bytes
                .chunks(7)
                .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
                .collect::<Vec<_>>(),
        );
        read(CT, stream, bounds).await
    }

    const BOUNDS: Bounds = Bounds {
        max_operations_bytes: 1024,
        max_file_bytes: 100,
        max_files: 2,
    };
    const OPS: &[u8] = br#"{"query":"mutation($f: Upload!) { a(f: $f) }","variables":{"f":null}}"#;

    #[actix_web::test]
    async fn files_named_in_the_map_are_spooled_and_set_in_the_variables() {
        let r = parse(
            &[
                ("operations", None, OPS),
                ("map", None, br#"{"0":["variables.f"]}"#),
                ("unnamed", Some("x.bin"), b"skipped unread"),
                ("0", Some("scan.pdf"), b"%PDF-1.7 content"),
            ],
            BOUNDS,
        )
        .await
        .expect("read");
        assert_eq!(r.uploads.len(), 1);
        let mut content = String::new();
        use std::io::Read;
        let mut f = r.uploads[0].content.try_clone().expect("file");
        f.read_to_string(&mut content).expect("read");
        assert_eq!(content, "%PDF-1.7 content");
        assert_eq!(r.uploads[0].filename, "scan.pdf");
    }

    #[actix_web::test]
    async fn every_part_is_bounded_and_the_order_is_the_specs() {
        let big_ops = format!(
            r#"{{"query":"{{ a }}","variables":{{"pad":"{}"}}}}"#,
            "x".repeat(2000)
        );
        let cases: Vec<(Vec<Part<'_>>, MultipartError)> = vec![
            (
                vec![("operations", None, big_ops.as_bytes())],
                MultipartError::TooLarge {
                    what: "the operations part".into(),
                    limit: 1024,
                },
            ),
            (
                vec![
                    ("operations", None, OPS),
                    ("map", None, br#"{"0":["variables.f"]}"#),
                    ("0", Some("big.pdf"), &[b'x'; 101]),
                ],
                MultipartError::TooLarge {
                    what: "a file".into(),
                    limit: 100,
                },
            ),
            (
                vec![
                    ("operations", None, OPS),
                    (
                        "map",
                        None,
                        br#"{"0":["variables.f"],"1":["variables.f"],"2":["variables.f"]}"#,
                    ),
                ],
                MultipartError::TooManyFiles { limit: 2 },
            ),
            (
                vec![
                    ("operations", None, OPS),
                    (
                        "map",
                        None,
                        br#"{"0":["variables.f","variables.f","variables.f"]}"#,
                    ),
                ],
                MultipartError::TooManyFiles { limit: 2 },
            ),
            (
                vec![("0", Some("early.pdf"), b"%PDF"), ("operations", None, OPS)],
                malformed("the operations part, then the map, must come before the files"),
            ),
            (
                vec![
                    ("operations", None, OPS),
                    ("map", None, br#"{"0":["variables.f"]}"#),
                ],
                malformed("the map names parts that did not come: [\"0\"]"),
            ),
        ];
        for (parts, expected) in cases {
            let got = parse(&parts, BOUNDS).await.err();
            assert_eq!(got.map(|e| format!("{e:?}")), Some(format!("{expected:?}")));
        }
    }
}

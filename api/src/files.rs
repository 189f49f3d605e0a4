//! The file store: the content of files attached to cases, kept once per SHA-256 (two cases that
//! attach the same scan share it) through the `object_store` crate — the local filesystem by
//! default, so the embedded setup needs no other service, or an S3-compatible object store
//! (`files_url = "s3://bucket/prefix"`), where several API nodes share the files. Which case a
//! file belongs to, and who attached it, is in the database (`store::files`); an object no row
//! names is an orphan (an upload whose transaction failed) and is swept ([`FileStore::sweep`]).
//!
//! Memory stays bounded whatever a client sends: an upload arrives spooled to a temporary file
//! (`api::multipart`), is read in [`CHUNK`]-sized pieces to be sniffed and hashed, then stored
//! in one request up to a part's size or in parts (at most two in flight); downloads stream.

use std::io::Read;
use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::files::{FileKind, SNIFF_BYTES};
use futures_util::stream::{BoxStream, StreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ClientOptions, ObjectStore, PutPayload, RetryConfig, WriteMultipart};
use sha2::{Digest, Sha256};

use crate::configuration::{FilesSettings, S3Options, S3Settings};
use crate::error::ApiError;

/// How much of a file is read at a time.
pub const CHUNK: usize = 256 * 1024;

/// The part size of an S3 multipart upload: S3 refuses parts under 5 MiB but the last. A file
/// no larger is sent in one request.
pub const S3_PART: usize = 5 * 1024 * 1024;

/// Where objects live in the store.
const PREFIX: &str = "sha256";

/// A file checked and stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// Its SHA-256, hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// What its content is.
    pub kind: FileKind,
}

/// The store of file contents (schema data and web data; cheap to clone).
#[derive(Clone)]
pub struct FileStore {
    store: Arc<dyn ObjectStore>,
    max_bytes: usize,
    /// Files up to this size are written in one request; larger ones in parts of this size.
    part: usize,
}

fn io(e: impl std::error::Error + Send + Sync + 'static) -> ApiError {
    ApiError::internal(e)
}

/// A file's location in the store.
fn object_path(sha256: &str) -> Path {
    let fan = sha256.get(..2).unwrap_or("00");
    Path::from(format!("{PREFIX}/{fan}/{sha256}"))
}

/// Reads the next chunk of `file` on a blocking thread; returns the file, the chunk and its
/// length (0 at the end).
async fn next_chunk(mut file: std::fs::File) -> Result<(std::fs::File, Vec<u8>), ApiError> {
    actix_web::rt::task::spawn_blocking(move || {
        let mut buf = vec![0u8; CHUNK];
        let n = file.read(&mut buf)?;
        buf.truncate(n);
        Ok::<_, std::io::Error>((file, buf))
    })
    .await
    .map_err(io)?
    .map_err(io)
}

impl FileStore {
    /// The store the settings name: the S3 bucket when one is set, else the local directory.
    /// An S3 store is asked for a listing before serving, so that a wrong endpoint, bucket or
    /// credentials stop start-up instead of the first upload.
    pub async fn open(settings: &FilesSettings) -> Result<FileStore, String> {
        let Some(s3) = &settings.s3 else {
            return FileStore::local(&settings.dir, settings.max_bytes)
                .map_err(|e| format!("file store at {}: {e}", settings.dir.display()));
        };
        let store = FileStore::s3(s3, &settings.s3_options, settings.max_bytes)?;
        let probe = Path::from(PREFIX);
        match store.store.list_with_delimiter(Some(&probe)).await {
            Ok(_) => Ok(store),
            Err(e) => Err(format!("file store s3://{}: {e}", s3.bucket)),
        }
    }

    /// A store in a local directory (created when missing); files up to `max_bytes`.
    pub fn local(dir: &FsPath, max_bytes: usize) -> Result<FileStore, std::io::Error> {
        std::fs::create_dir_all(dir)?;
        let store = LocalFileSystem::new_with_prefix(dir).map_err(std::io::Error::other)?;
        Ok(FileStore {
            store: Arc::new(store),
            max_bytes,
            part: CHUNK,
        })
    }

    /// A store in an S3 bucket; credentials and what `options` leave out come from the `AWS_*`
    /// environment. Requests are bounded: a connection within 5 s, three retries within 10 s, so
    /// a store that is down fails a request instead of holding it; a request within 120 s (the
    /// whole of it: a download streams from the store at the pace of the client reading it, so
    /// this is the slowest download served, 10 MiB at about 90 KB/s, as long as an upload may
    /// take to arrive).
    pub fn s3(s3: &S3Settings, options: &S3Options, max_bytes: usize) -> Result<FileStore, String> {
        use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
        use std::str::FromStr;
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&s3.bucket)
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(120)),
            )
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(10),
                ..RetryConfig::default()
            });
        for (k, v) in &options.0 {
            let key = AmazonS3ConfigKey::from_str(k)
                .map_err(|_| format!("files_s3: `{k}` is not an S3 option"))?;
            builder = builder.with_config(key, v);
        }
        let store = builder
            .build()
            .map_err(|e| format!("file store s3://{}: {e}", s3.bucket))?;
        let store: Arc<dyn ObjectStore> = if s3.prefix.is_empty() {
            Arc::new(store)
        } else {
            Arc::new(PrefixStore::new(store, s3.prefix.as_str()))
        };
        Ok(FileStore {
            store,
            max_bytes,
            part: S3_PART,
        })
    }

    /// The largest file accepted.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Checks an uploaded file and stores its content: larger than the limit is
    /// `PAYLOAD_TOO_LARGE`, content that is not an accepted kind is `BAD_USER_INPUT`; either
    /// way nothing is stored. Content already stored (the same scan again) lands on the same
    /// object, written again: its age restarts, so a sweep running meanwhile cannot remove it.
    pub async fn put(&self, file: std::fs::File) -> Result<Stored, ApiError> {
        let copy = file.try_clone().map_err(io)?;
        let stored = self.check(file).await?;
        self.store(copy, &stored).await?;
        Ok(stored)
    }

    /// Reads an uploaded file once: its size, kind and hash, storing nothing. Larger than the
    /// limit is `PAYLOAD_TOO_LARGE`; not an accepted kind, `BAD_USER_INPUT`.
    pub async fn check(&self, file: std::fs::File) -> Result<Stored, ApiError> {
        let mut hasher = Sha256::new();
        let (mut size, mut head, mut rest) = (0u64, Vec::new(), file);
        loop {
            let (f, chunk) = next_chunk(rest).await?;
            rest = f;
            if chunk.is_empty() {
                break;
            }
            size += chunk.len() as u64;
            if size > self.max_bytes as u64 {
                return Err(ApiError::PayloadTooLarge {
                    limit: self.max_bytes,
                });
            }
            if head.len() < SNIFF_BYTES {
                head.extend(chunk.iter().take(SNIFF_BYTES - head.len()));
            }
            hasher.update(&chunk);
        }
        let kind = FileKind::sniff(&head).ok_or_else(|| {
            ApiError::BadUserInput(
                "the file is not a PDF, JPEG or PNG (judged by its content)".into(),
            )
        })?;
        let sha256 = hex(&hasher.finalize());
        Ok(Stored { sha256, size, kind })
    }

    /// Copies a checked file into the store: one request when it fits in a part, else in
    /// parts (at most two in flight, so memory stays within a few parts per upload).
    pub async fn store(&self, file: std::fs::File, stored: &Stored) -> Result<(), ApiError> {
        use std::io::Seek;
        let mut source = file;
        source.rewind().map_err(io)?;
        let location = object_path(&stored.sha256);
        if stored.size <= self.part as u64 {
            let mut whole = Vec::with_capacity(stored.size as usize);
            loop {
                let (f, chunk) = next_chunk(source).await?;
                source = f;
                if chunk.is_empty() || whole.len() + chunk.len() > self.part {
                    break;
                }
                whole.extend_from_slice(&chunk);
            }
            if whole.len() as u64 != stored.size {
                return Err(ApiError::internal(std::io::Error::other(
                    "the uploaded file changed while it was stored",
                )));
            }
            self.store
                .put(&location, PutPayload::from(whole))
                .await
                .map_err(io)?;
            return Ok(());
        }
        let upload = self.store.put_multipart(&location).await.map_err(io)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part);
        loop {
            let (f, chunk) = next_chunk(source).await?;
            source = f;
            if chunk.is_empty() {
                break;
            }
            writer.wait_for_capacity(2).await.map_err(io)?;
            writer.write(&chunk);
        }
        writer.finish().await.map_err(io)?;
        Ok(())
    }

    /// The content of a stored file, as a stream of pieces.
    pub async fn get(
        &self,
        sha256: &str,
    ) -> Result<BoxStream<'static, Result<bytes::Bytes, ApiError>>, ApiError> {
        let got = self.store.get(&object_path(sha256)).await.map_err(io)?;
        Ok(got.into_stream().map(|r| r.map_err(io)).boxed())
    }

    /// Removes stored files that no attachment names (`referenced` says which are named) and
    /// that were stored before `cutoff` (younger ones may belong to an upload still being
    /// committed). Returns how many were removed.
    pub async fn sweep<F, Fut>(&self, cutoff: DateTime<Utc>, referenced: F) -> Result<u64, ApiError>
    where
        F: Fn(Vec<String>) -> Fut,
        Fut: std::future::Future<Output = Result<std::collections::HashSet<String>, ApiError>>,
    {
        let prefix = Path::from(PREFIX);
        let mut listing = self.store.list(Some(&prefix));
        let mut removed = 0;
        let mut batch = Vec::new();
        loop {
            let next = listing.next().await;
            let done = next.is_none();
            if let Some(meta) = next {
                let meta = meta.map_err(io)?;
                if meta.last_modified < cutoff {
                    if let Some(name) = meta.location.filename() {
                        batch.push(name.to_owned());
                    }
                }
            }
            if batch.len() >= 500 || (done && !batch.is_empty()) {
                let names = std::mem::take(&mut batch);
                let kept = referenced(names.clone()).await?;
                for name in names.iter().filter(|n| !kept.contains(*n)) {
                    self.store.delete(&object_path(name)).await.map_err(io)?;
                    removed += 1;
                }
            }
            if done {
                return Ok(removed);
            }
        }
    }
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp(content: &[u8]) -> std::fs::File {
        let mut f = tempfile::tempfile().expect("temp file");
        f.write_all(content).expect("written");
        use std::io::Seek;
        f.rewind().expect("rewound");
        f
    }

    #[actix_web::test]
    async fn files_are_sniffed_limited_stored_once_and_swept_when_orphaned() {
        let dir = tempfile::tempdir().expect("dir");
        let store = FileStore::local(dir.path(), 1024).expect("store");
        let pdf = b"%PDF-1.7\nhello";
        let a = store.put(temp(pdf)).await.expect("stored");
        assert_eq!(a.kind, FileKind::Pdf);
        assert_eq!(a.size, pdf.len() as u64);
        assert_eq!(
            a.sha256,
            hex(&Sha256::digest(pdf)),
            "content-addressed by SHA-256"
        );
        let again = store.put(temp(pdf)).await.expect("stored");
        assert_eq!(again, a);
        let mut got = Vec::new();
        let mut s = store.get(&a.sha256).await.expect("found");
        while let Some(piece) = s.next().await {
            got.extend_from_slice(&piece.expect("piece"));
        }
        assert_eq!(got, pdf);

        let named_exe = store.put(temp(b"MZ\x90\0 not a pdf")).await;
        assert_eq!(named_exe.err().map(|e| e.code()), Some("BAD_USER_INPUT"));
        let big = store.put(temp(&[b'%'; 2048])).await;
        assert_eq!(big.err().map(|e| e.code()), Some("PAYLOAD_TOO_LARGE"));

        // An orphan (no attachment names it) older than the cutoff goes; a named one stays.
        let png = store
            .put(temp(b"\x89PNG\r\n\x1a\n rest"))
            .await
            .expect("stored");
        let keep = a.sha256.clone();
        let removed = store
            .sweep(Utc::now() + chrono::Duration::seconds(5), |names| {
                let keep = keep.clone();
                async move { Ok(names.into_iter().filter(|n| *n == keep).collect()) }
            })
            .await
            .expect("swept");
        assert_eq!(removed, 1);
        assert!(store.get(&png.sha256).await.is_err());
        assert!(store.get(&a.sha256).await.is_ok());
    }
}

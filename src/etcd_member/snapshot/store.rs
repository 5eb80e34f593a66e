//! The snapshots of one cluster in S3: list, upload, delete, fetch.
//!
//! Every failure to ask S3 (unreachable, denied, a bucket that does not
//! exist) is an error, never "no snapshot": a restore decided on a listing
//! that could not be made would start a new, empty cluster.

use super::plan::{parse_key, Stored};
use crate::aws::AwsError;
use anyhow::{Context, Result};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// What a snapshot's object says of itself (user metadata, `x-amz-meta-*`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Meta {
    pub sha256: String,
    pub revision: i64,
    pub cluster_id: u64,
    /// The members when it was taken: (name, peer URL).
    pub members: Vec<(String, String)>,
    /// The member that took it.
    pub taken_by: String,
    /// Unix seconds.
    pub taken_at: u64,
}

impl Meta {
    fn to_headers(&self) -> HashMap<String, String> {
        let members = self
            .members
            .iter()
            .map(|(n, u)| format!("{n}={u}"))
            .collect::<Vec<_>>()
            .join(",");
        HashMap::from([
            ("mooring-sha256".into(), self.sha256.clone()),
            ("mooring-revision".into(), self.revision.to_string()),
            (
                "mooring-cluster-id".into(),
                format!("{:016x}", self.cluster_id),
            ),
            ("mooring-members".into(), members),
            ("mooring-taken-by".into(), self.taken_by.clone()),
            ("mooring-taken-at".into(), self.taken_at.to_string()),
        ])
    }

    pub fn from_headers(key: &str, h: &HashMap<String, String>) -> Result<Meta> {
        let get = |k: &str| {
            h.get(k)
                .map(String::as_str)
                .ok_or_else(|| anyhow::anyhow!("snapshot {key} has no metadata {k}"))
        };
        let members = get("mooring-members")?
            .split(',')
            .filter(|m| !m.is_empty())
            .map(|m| {
                let (n, u) = m.split_once('=').unwrap_or((m, ""));
                (n.to_string(), u.to_string())
            })
            .collect();
        Ok(Meta {
            sha256: get("mooring-sha256")?.to_string(),
            revision: get("mooring-revision")?
                .parse()
                .with_context(|| format!("snapshot {key}: bad revision"))?,
            cluster_id: u64::from_str_radix(get("mooring-cluster-id")?, 16)
                .with_context(|| format!("snapshot {key}: bad cluster ID"))?,
            members,
            taken_by: get("mooring-taken-by")?.to_string(),
            taken_at: get("mooring-taken-at")?.parse().unwrap_or(0),
        })
    }
}

/// A snapshot larger than this goes up in parts of this size (each part
/// read from the file, so memory holds one part).
pub const DEFAULT_PART_SIZE: usize = 16 << 20;
/// S3's smallest part but the last.
pub const MIN_PART_SIZE: usize = 5 << 20;

pub struct Store {
    s3: aws_sdk_s3::Client,
    pub bucket: String,
    /// `PREFIX/CLUSTER/`
    pub prefix: String,
    /// S3 requests made by this run (for the report and the bench).
    pub calls: std::sync::atomic::AtomicUsize,
}

impl Store {
    /// S3 with path-style addressing when an endpoint override is set (a
    /// bucket name in the host would not resolve there); checksums only
    /// where S3 requires them; attempts long enough for one part.
    pub fn new(sdk: &aws_config::SdkConfig, bucket: &str, prefix: String) -> Store {
        let timeouts = aws_smithy_types::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(Duration::from_secs(120))
            .build();
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
            )
            .response_checksum_validation(
                aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
            )
            .timeout_config(timeouts)
            .build();
        Store {
            s3: aws_sdk_s3::Client::from_conf(config),
            bucket: bucket.to_string(),
            prefix,
            calls: Default::default(),
        }
    }

    fn count(&self) {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// This cluster's snapshots (names of other forms are skipped).
    pub async fn list(&self) -> Result<Vec<Stored>> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            self.count();
            let page = self
                .s3
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&self.prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| {
                    AwsError::new(
                        "ListObjectsV2",
                        format!("s3://{}/{}", self.bucket, self.prefix),
                        e,
                    )
                })?;
            for o in page.contents() {
                let Some(key) = o.key() else { continue };
                if let Some((revision, cluster_id)) = parse_key(&self.prefix, key) {
                    out.push(Stored {
                        key: key.to_string(),
                        revision,
                        cluster_id,
                        size: o.size().unwrap_or(0),
                    });
                }
            }
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// Upload the file at `path` as `key` with `meta`: one PutObject, or
    /// a multipart upload of `part_size` parts (aborted if a part fails).
    pub async fn upload(
        &self,
        key: &str,
        path: &Path,
        meta: &Meta,
        part_size: usize,
    ) -> Result<()> {
        let size = std::fs::metadata(path)
            .with_context(|| format!("reading {}", path.display()))?
            .len();
        if size <= part_size as u64 {
            self.count();
            let body = ByteStream::from_path(path)
                .await
                .with_context(|| format!("reading {}", path.display()))?;
            self.s3
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .set_metadata(Some(meta.to_headers()))
                .body(body)
                .send()
                .await
                .map_err(|e| AwsError::new("PutObject", self.url(key), e))?;
            return Ok(());
        }
        self.count();
        let started = self
            .s3
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .set_metadata(Some(meta.to_headers()))
            .send()
            .await
            .map_err(|e| AwsError::new("CreateMultipartUpload", self.url(key), e))?;
        let upload_id = started.upload_id().unwrap_or_default().to_string();
        match self.parts(key, &upload_id, path, part_size).await {
            Ok(parts) => {
                self.count();
                self.s3
                    .complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(parts))
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| AwsError::new("CompleteMultipartUpload", self.url(key), e))?;
                Ok(())
            }
            Err(e) => {
                self.count();
                if let Err(abort) = self
                    .s3
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .send()
                    .await
                {
                    log::warn!(
                        "{:#}",
                        anyhow::Error::from(AwsError::new(
                            "AbortMultipartUpload",
                            self.url(key),
                            abort
                        ))
                    );
                }
                Err(e)
            }
        }
    }

    /// Each part streamed from its range of the file: memory holds the
    /// SDK's read buffer, not the part.
    async fn parts(
        &self,
        key: &str,
        upload_id: &str,
        path: &Path,
        part_size: usize,
    ) -> Result<Vec<CompletedPart>> {
        let size = std::fs::metadata(path)
            .with_context(|| format!("reading {}", path.display()))?
            .len();
        let mut parts = Vec::new();
        let (mut offset, mut number) = (0u64, 1i32);
        while offset < size {
            let length = (size - offset).min(part_size as u64);
            let body = ByteStream::read_from()
                .path(path)
                .offset(offset)
                .length(aws_smithy_types::byte_stream::Length::Exact(length))
                .build()
                .await
                .with_context(|| format!("reading {}", path.display()))?;
            self.count();
            let out = self
                .s3
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .content_length(length as i64)
                .body(body)
                .send()
                .await
                .map_err(|e| {
                    AwsError::new("UploadPart", format!("{} part {number}", self.url(key)), e)
                })?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.e_tag().map(str::to_string))
                    .build(),
            );
            offset += length;
            number += 1;
        }
        Ok(parts)
    }

    /// What `key` says of itself (one HeadObject).
    pub async fn head(&self, key: &str) -> Result<Meta> {
        self.count();
        let out = self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                // A HEAD answer has no body: a refusal comes without its
                // code or message.
                let status = e.raw_response().map(|r| r.status().as_u16());
                let mut err = AwsError::new("HeadObject", self.url(key), e);
                match status {
                    Some(403) => {
                        err.code = Some("AccessDenied".into());
                        err.detail =
                            "403 Forbidden: access denied (HeadObject needs s3:GetObject)".into();
                    }
                    Some(404) => {
                        err.code = Some("NotFound".into());
                        err.detail = "404: no such object".into();
                    }
                    _ => {}
                }
                err
            })?;
        Meta::from_headers(&self.url(key), out.metadata().unwrap_or(&HashMap::new()))
    }

    /// Stream `key` into the file at `dest`; the SHA-256 (hex) of what
    /// came.
    pub async fn download(&self, key: &str, dest: &Path) -> Result<String> {
        use sha2::Digest;
        use std::io::Write;
        self.count();
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| AwsError::new("GetObject", self.url(key), e))?;
        let mut file =
            std::fs::File::create(dest).with_context(|| format!("creating {}", dest.display()))?;
        let mut hash = sha2::Sha256::new();
        let mut body = out.body;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.with_context(|| format!("reading {}", self.url(key)))?;
            hash.update(&chunk);
            file.write_all(&chunk)
                .with_context(|| format!("writing {}", dest.display()))?;
        }
        file.sync_all()
            .with_context(|| format!("syncing {}", dest.display()))?;
        Ok(hex::encode(hash.finalize()))
    }

    /// Record that `instance` stepped down from cluster `cluster_id`
    /// (its etcd stopped, its data set aside): a restore need not wait
    /// for that instance to be gone.
    pub async fn put_stepped_down(
        &self,
        cluster_prefix: &str,
        cluster_id: u64,
        instance: &str,
        revision: i64,
    ) -> Result<()> {
        let key = format!("{cluster_prefix}stepped-down/{cluster_id:016x}/{instance}");
        self.count();
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .body(ByteStream::from(
                format!("{{\"revision\": {revision}}}\n").into_bytes(),
            ))
            .send()
            .await
            .map_err(|e| AwsError::new("PutObject", self.url(&key), e))?;
        Ok(())
    }

    /// The instances that stepped down from cluster `cluster_id`.
    pub async fn stepped_down(&self, cluster_prefix: &str, cluster_id: u64) -> Result<Vec<String>> {
        let prefix = format!("{cluster_prefix}stepped-down/{cluster_id:016x}/");
        self.count();
        let out = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&prefix)
            .send()
            .await
            .map_err(|e| AwsError::new("ListObjectsV2", self.url(&prefix), e))?;
        Ok(out
            .contents()
            .iter()
            .filter_map(|o| o.key()?.strip_prefix(&prefix))
            .filter(|i| !i.is_empty() && !i.contains('/'))
            .map(str::to_string)
            .collect())
    }

    pub async fn delete(&self, key: &str) -> Result<()> {
        self.count();
        self.s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| AwsError::new("DeleteObject", self.url(key), e))?;
        Ok(())
    }
}

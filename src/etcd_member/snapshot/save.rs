//! A snapshot of the local member's backend, streamed to a file.
//!
//! The maintenance API streams the backend (it works without quorum) in
//! chunks; they go straight to a file next to the data directory, hashed
//! as they pass, so memory stays one chunk whatever the database's size.
//! etcd ends the stream with the SHA-256 of what came before it: checked
//! here, so a stream cut short or damaged is never uploaded.

use super::super::tls::{connect_options, Tls};
use crate::wait::Deadline;
use anyhow::{anyhow, bail, Context, Result};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The length of the hash etcd appends to a snapshot.
const TRAILER: usize = 32;

/// A saved snapshot: removed with this value unless kept.
pub struct Saved {
    pub file: tempfile::NamedTempFile,
    pub size: u64,
    /// SHA-256 of the whole file (hex), as uploaded and verified on
    /// restore.
    pub sha256: String,
}

impl Saved {
    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

/// Hashes a stream whose last [`TRAILER`] bytes are the SHA-256 of the
/// rest: the whole, and the body without the trailer.
#[derive(Default)]
pub struct TrailerCheck {
    whole: Sha256,
    body: Sha256,
    tail: Vec<u8>,
    size: u64,
}

impl TrailerCheck {
    pub fn update(&mut self, chunk: &[u8]) {
        self.whole.update(chunk);
        self.size += chunk.len() as u64;
        self.tail.extend_from_slice(chunk);
        if self.tail.len() > TRAILER {
            let cut = self.tail.len() - TRAILER;
            self.body.update(&self.tail[..cut]);
            self.tail.drain(..cut);
        }
    }

    /// (size, SHA-256 of the whole) when the trailer matches.
    pub fn finish(self) -> Result<(u64, String)> {
        // etcd's backend is whole pages; with the hash the size is 32
        // more than a multiple of 512 (etcdutl checks it the same way).
        if self.size % 512 != TRAILER as u64 || self.tail.len() != TRAILER {
            bail!(
                "the snapshot stream ({} bytes) does not end with etcd's hash: cut short?",
                self.size
            );
        }
        let body = self.body.finalize();
        if body.as_slice() != self.tail.as_slice() {
            bail!("the snapshot stream's hash does not match its content: damaged in transit");
        }
        Ok((self.size, hex::encode(self.whole.finalize())))
    }
}

/// Stream the snapshot of the member at `url` into a new file in `dir`.
pub async fn save(url: &str, tls: Tls, dir: &Path, deadline: &Deadline) -> Result<Saved> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut file = tempfile::Builder::new()
        .prefix(".mooring-snapshot-")
        .suffix(".db")
        .tempfile_in(dir)
        .with_context(|| format!("creating a snapshot file in {}", dir.display()))?;
    // No per-request timeout on the stream (a large database takes
    // longer than any one request): the run's deadline bounds it.
    let options = connect_options(tls).with_timeout(deadline.remaining());
    let what = format!("a snapshot from the etcd member at {url}");
    let (size, sha256) = deadline
        .run(&what, async {
            let mut client = etcd_client::Client::connect([url.to_string()], Some(options))
                .await
                .with_context(|| format!("etcd at {url}"))?;
            let mut stream = client
                .snapshot()
                .await
                .map_err(|e| anyhow!("etcd snapshot at {url}: {e}"))?;
            let mut check = TrailerCheck::default();
            while let Some(msg) = stream
                .message()
                .await
                .map_err(|e| anyhow!("etcd snapshot at {url}: {e}"))?
            {
                check.update(msg.blob());
                file.write_all(msg.blob())
                    .with_context(|| format!("writing {}", file.path().display()))?;
            }
            file.as_file()
                .sync_all()
                .with_context(|| format!("syncing {}", file.path().display()))?;
            check
                .finish()
                .with_context(|| format!("snapshot from {url}"))
        })
        .await?;
    Ok(Saved { file, size, sha256 })
}

/// Where the snapshot file goes: `--scratch-dir`, else beside the data
/// directory (its filesystem has room for a copy of the database).
pub fn scratch_dir(scratch: Option<&Path>, data_dir: &Path) -> PathBuf {
    match scratch {
        Some(d) => d.to_path_buf(),
        None => data_dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_trailer(body: &[u8]) -> Vec<u8> {
        let mut v = body.to_vec();
        v.extend_from_slice(&Sha256::digest(body));
        v
    }

    #[test]
    fn a_whole_stream_passes_in_any_chunking() {
        let data = with_trailer(&[7u8; 4096]);
        for chunk in [1, 31, 32, 33, 1000, 5000] {
            let mut c = TrailerCheck::default();
            for piece in data.chunks(chunk) {
                c.update(piece);
            }
            let (size, sha) = c.finish().unwrap();
            assert_eq!(size, 4096 + 32);
            assert_eq!(sha, hex::encode(Sha256::digest(&data)));
        }
    }

    #[test]
    fn a_cut_or_damaged_stream_is_refused() {
        let data = with_trailer(&[7u8; 4096]);
        let mut cut = TrailerCheck::default();
        cut.update(&data[..4096]);
        assert!(cut.finish().is_err());
        let mut bad = data.clone();
        bad[100] ^= 1;
        let mut c = TrailerCheck::default();
        c.update(&bad);
        assert!(c.finish().unwrap_err().to_string().contains("damaged"));
    }
}

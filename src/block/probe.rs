//! Is this device blank? Asked of the device itself.
//!
//! Is this device blank? Asked of the device itself (`blkid -p`), never of
//! the udev database, which may not be filled yet right after an attach.

use super::cmd::run_raw;
use anyhow::{anyhow, Context, Result};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// How much of the device's start must read as zeros, besides carrying no
/// known signature, for it to count as blank. A new EBS volume reads as
/// zeros; a disk that held a database's raw data may carry no signature
/// blkid knows, and must not be formatted either.
const ZERO_PREFIX: usize = 1 << 20;

/// The verdict of [`probe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blankness {
    Blank,
    /// Not blank, and why (`TYPE=btrfs UUID=...`, `PTTYPE=gpt`, ...).
    NotBlank(String),
}

impl Blankness {
    pub fn is_blank(&self) -> bool {
        matches!(self, Blankness::Blank)
    }
}

/// Open `device` for reading. blkid exits 2 both for "nothing found" and
/// for a device it could not open: only a device that opens may be told
/// blank (a could-not-ask is never a blank disk).
fn open(device: &Path) -> Result<File> {
    File::open(device).with_context(|| format!("cannot open {}", device.display()))
}

/// Probe `device`: no filesystem, no partition table, no LVM or md
/// signature (blkid reports all of them), and zeros in its first MiB.
pub fn probe(device: &Path) -> Result<Blankness> {
    let dev = device.to_string_lossy();
    let mut file = open(device)?;
    let out = run_raw("blkid", &["-p", "-o", "export", &dev])?;
    match out.status.code() {
        // 0: something was found. 2: nothing was found.
        Some(0) => {
            let found = parse_export(&String::from_utf8_lossy(&out.stdout));
            let summary: Vec<String> = ["TYPE", "PTTYPE", "UUID", "LABEL"]
                .iter()
                .filter_map(|k| found.get(*k).map(|v| format!("{k}={v}")))
                .collect();
            let summary = if summary.is_empty() {
                "blkid found a signature".to_string()
            } else {
                summary.join(" ")
            };
            return Ok(Blankness::NotBlank(summary));
        }
        Some(2) => {}
        _ => {
            return Err(anyhow!(
                "cannot probe {dev}: blkid -p exited {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }
    let mut buf = vec![0u8; ZERO_PREFIX];
    let mut filled = 0;
    while filled < buf.len() {
        let n = file
            .read(&mut buf[filled..])
            .with_context(|| format!("cannot read {dev}"))?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    if let Some(pos) = buf[..filled].iter().position(|b| *b != 0) {
        return Ok(Blankness::NotBlank(format!(
            "no known signature, but data at byte {pos} of the first MiB"
        )));
    }
    Ok(Blankness::Blank)
}

/// Parse `blkid -o export` lines (`KEY=value`).
pub fn parse_export(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The filesystem UUID and type of `device`, probed from the device.
pub fn fs_identity(device: &Path) -> Result<Option<(String, String)>> {
    let dev = device.to_string_lossy();
    open(device)?;
    let out = run_raw("blkid", &["-p", "-o", "export", &dev])?;
    if out.status.code() == Some(2) {
        return Ok(None);
    }
    if !out.status.success() {
        return Err(anyhow!(
            "cannot probe {dev}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let found = parse_export(&String::from_utf8_lossy(&out.stdout));
    Ok(match (found.get("UUID"), found.get("TYPE")) {
        (Some(u), Some(t)) => Some((u.clone(), t.clone())),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    #[test]
    fn a_device_that_cannot_be_opened_is_never_blank() {
        let missing = Path::new("/nonexistent/mooring-device");
        assert!(probe(missing).is_err());
        assert!(fs_identity(missing).is_err());
    }

    #[test]
    fn zeros_are_blank_and_data_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk");
        let mut f = File::create(&path).unwrap();
        f.set_len(4 << 20).unwrap();
        assert_eq!(probe(&path).unwrap(), Blankness::Blank);
        assert_eq!(fs_identity(&path).unwrap(), None);
        // No signature blkid knows, but data: not blank.
        f.seek(SeekFrom::Start(4096)).unwrap();
        f.write_all(b"raw database pages").unwrap();
        assert!(matches!(probe(&path).unwrap(), Blankness::NotBlank(_)));
    }
}

//! What a growth did: the action, the volume, the device, notes.

use super::run::Run;
use crate::aws::volumes::VolumeInfo;
use crate::block::ResolvedDevice;
use std::path::{Path, PathBuf};

#[derive(Debug, Default)]
pub(super) struct Grown {
    pub action: String,
    pub volume_id: Option<String>,
    pub device: Option<PathBuf>,
    pub size_gib: Option<i32>,
    pub notes: Vec<String>,
}

pub(super) fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

pub(super) fn done(run: &Run, action: &str, v: &VolumeInfo, dev: &ResolvedDevice) -> Grown {
    log::info!(
        volume_id = v.volume_id.as_str(),
        decision = action,
        message_id = crate::logging::events::VOLUME_GROWN;
        "{action} {} ({} GiB) to {}",
        v.volume_id,
        v.size_gib,
        run.settings.mountpoint.display()
    );
    Grown {
        action: action.into(),
        volume_id: Some(v.volume_id.clone()),
        device: Some(dev.path.clone()),
        size_gib: Some(v.size_gib),
        notes: Vec::new(),
    }
}

pub(super) fn would(action: &str, v: &VolumeInfo) -> Grown {
    Grown {
        action: action.into(),
        volume_id: Some(v.volume_id.clone()),
        size_gib: Some(v.size_gib),
        ..Default::default()
    }
}

//! What one ebs-grow command needs, made once: settings, deadline, clients.

use super::config::Settings;
use super::{fs, state};
use crate::aws::Session;
use crate::block::DeviceResolver;
use crate::cli::{CommonArgs, DeviceArgs};
use crate::runlock::RunLock;
use crate::wait::Deadline;
use anyhow::Result;
use std::time::SystemTime;

/// Everything one run needs, made once.
pub struct Run {
    pub settings: Settings,
    pub common: CommonArgs,
    pub resolver: DeviceResolver,
    pub deadline: Deadline,
    pub started: SystemTime,
}

impl Run {
    pub fn new(settings: Settings, common: CommonArgs, devices: &DeviceArgs) -> Run {
        Run {
            deadline: Deadline::after(common.timeout()),
            started: SystemTime::now(),
            resolver: devices.resolver(),
            settings,
            common,
        }
    }

    pub fn dry_run(&self) -> bool {
        self.common.dry_run
    }

    /// Serialise with every other run for this mountpoint.
    pub async fn lock(&self) -> Result<RunLock> {
        let path = self
            .common
            .run_dir
            .join(format!("ebs-grow-{}.lock", self.settings.name()));
        RunLock::acquire(&path, &self.deadline).await
    }

    pub async fn session(&self) -> Result<Session> {
        Session::within(self.common.region.clone(), &self.deadline).await
    }

    pub fn files(&self) -> state::Files {
        state::Files::new(
            &self.common.run_dir,
            &self.settings.state_dir,
            &self.settings.name(),
        )
    }

    pub fn vg(&self) -> String {
        fs::vg_name(&self.settings.name())
    }
}

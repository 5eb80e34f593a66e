//! px-volume-claim's wait for a volume a leaving instance still holds.
//!
//! px-volume-claim's wait for a volume that an instance shutting down still
//! holds: an Auto Scaling replacement takes over its predecessor's volume
//! instead of leaving it orphaned.

use super::claim::Run;
use crate::aws::volumes::VolumeInfo;
use crate::aws::AwsError;
use anyhow::Result;
use std::time::Duration;

impl Run<'_> {
    /// The volumes of this AZ held by instances that are shutting down
    /// (one DescribeInstances of the holders; none when nothing is held
    /// elsewhere).
    pub(super) async fn leaving(&self, vols: &[VolumeInfo]) -> Result<Vec<String>> {
        let holders: Vec<&str> = vols
            .iter()
            .filter(|v| v.availability_zone == self.az)
            .filter_map(|v| v.attachment.as_ref())
            .map(|a| a.instance_id.as_str())
            .filter(|i| *i != self.me)
            .collect();
        if holders.is_empty() {
            return Ok(Vec::new());
        }
        let out = self
            .ec2()
            .describe_instances()
            .set_instance_ids(Some(holders.iter().map(|s| s.to_string()).collect()))
            .send()
            .await
            .map_err(|e| AwsError::new("DescribeInstances", holders.join(", "), e))?;
        let leaving: Vec<String> = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter(|i| {
                matches!(
                    i.state().and_then(|s| s.name()).map(|n| n.as_str()),
                    Some("shutting-down" | "stopping" | "terminated")
                )
            })
            .filter_map(|i| i.instance_id().map(str::to_string))
            .collect();
        let waiting: Vec<String> = vols
            .iter()
            .filter(|v| {
                v.attachment
                    .as_ref()
                    .is_some_and(|a| leaving.contains(&a.instance_id))
            })
            .map(|v| v.volume_id.clone())
            .collect();
        Ok(waiting)
    }

    /// Wait (bounded) for a volume of this AZ held by an instance that is
    /// shutting down to become available. False when none is, or none
    /// came free in time.
    pub(super) async fn wait_for_release(&self, vols: &[VolumeInfo]) -> Result<bool> {
        let waiting = self.leaving(vols).await?;
        if waiting.is_empty() {
            return Ok(false);
        }
        log::info!(
            "{} held by instances shutting down; waiting up to {} s for one to come free",
            waiting.join(", "),
            self.wait_released.as_secs()
        );
        let wait = self.deadline.sub(self.wait_released);
        let freed = wait
            .poll(
                format!("{} to be released", waiting.join(", ")),
                Duration::from_secs(1),
                Duration::from_secs(5),
                || async {
                    let out = self
                        .ec2()
                        .describe_volumes()
                        .set_volume_ids(Some(waiting.clone()))
                        .send()
                        .await
                        .map_err(|e| AwsError::new("DescribeVolumes", waiting.join(", "), e))?;
                    let free = out
                        .volumes()
                        .iter()
                        .any(|v| v.state().map(|s| s.as_str()) == Some("available"));
                    Ok(free.then_some(()))
                },
            )
            .await;
        match freed {
            Ok(()) => Ok(true),
            Err(e) if e.is::<crate::wait::TimedOut>() => {
                log::warn!("{e:#}");
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

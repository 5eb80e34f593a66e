//! The tags px-volume-claim reads and writes on volumes.

/// Tags Portworx itself puts on the volumes it makes: kept, so that a
/// cluster's existing volumes are found and counted.
pub const CLUSTER_TAG: &str = "PWX_CLUSTER_ID";
pub const TEMPLATE_TAG: &str = "PWX_EBS_VOLUME_TEMPLATE";
pub const SLOT_TAG: &str = "mooring:slot";
pub const MANAGED_BY_TAG: &str = "mooring:managed-by";
pub const TOOL: &str = "px-volume-claim";

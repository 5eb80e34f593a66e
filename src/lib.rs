//! Mooring: one-shot tools that let stateful services live on EC2 ASGs.
//!
//! The binaries in `src/bin/` are thin; everything they do lives here, one
//! module per concern, so that tests can reach it.

// The six tools, one module each (its CLI in `mod.rs`, a file per command).
/// `ebs-grow`: grow an EBS-backed filesystem before it fills.
pub mod ebs_grow;
/// `ecs-node-guard`: configure an ECS host; replace it when it is broken.
pub mod ecs_guard;
/// `etcd-member-prepare`: etcd membership of an instance of a group.
pub mod etcd_member;
/// `mooring-leave`: run the leave steps when the group terminates us.
pub mod leave;
/// `mooring`: the one program answering as each of the six.
pub mod multicall;
/// `px-volume-claim`: claim or create a volume from a template.
pub mod px_claim;
/// `smilodon-attach`: attach the EBS + ENI pair of a node ID.
pub mod smilodon;

// What the tools share, lowest first: nothing here names a tool.
pub mod aws;
pub mod block;
pub mod cli;
pub mod envfile;
pub mod exit;
pub mod fsutil;
pub mod http;
pub mod imds;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod paths;
pub mod runlock;
pub mod spread;
pub mod turn;
pub mod wait;

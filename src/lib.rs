//! Mooring: one-shot tools that let stateful services live on EC2 Auto
//! Scaling groups. The binaries in `src/bin/` are thin; everything they do
//! lives here, one module per concern, so that tests can reach it.

pub mod aws;
pub mod block;
pub mod cli;
pub mod ebs_grow;
pub mod ecs_guard;
pub mod envfile;
pub mod etcd_member;
pub mod exit;
pub mod fsutil;
pub mod imds;
pub mod logging;
pub mod multicall;
pub mod net;
pub mod paths;
pub mod px_claim;
pub mod runlock;
pub mod smilodon;
pub mod spread;
pub mod turn;
pub mod wait;

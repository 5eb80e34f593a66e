//! Tests of the shared core against the rig: real moto (with EC2's rules),
//! real IMDSv2 servers, real loop devices and filesystems, a real systemd.

mod aws;
mod block;
mod envfile;
mod iam;
mod imds;

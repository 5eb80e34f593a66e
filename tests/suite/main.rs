//! The integration suite: every tool's real binary against the rig.
//!
//! One test binary, so the AWS SDK is linked once for all of them. Each
//! module is a tool (or what the tools share); the rig (`tests/rig`, a
//! dev-only crate of the workspace) is the emulated EC2, IMDS, hypervisor
//! and systemd they run against. `cargo test --test suite etcd::` runs one
//! tool's tests.

mod docs;
mod ebs_grow;
mod ecs;
mod etcd;
mod leave;
mod packaging;
mod px;
mod shared;
mod smilodon;

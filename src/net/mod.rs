//! This instance's network interfaces, found by MAC address.
//!
//! This instance's network interfaces, found by MAC address. Names are
//! never assumed (`eth1`, `ens6`, `enX1` depend on the driver and the
//! distro's naming policy); the MAC of an ENI is what EC2 guarantees.
//!
//! Interfaces come from getifaddrs(3), which asks the kernel over netlink:
//! it sees the network namespace the tool runs in, whatever sysfs is
//! mounted.

use crate::wait::Deadline;
use anyhow::{Context, Result};
use nix::ifaddrs::getifaddrs;
use nix::net::if_::InterfaceFlags;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

/// One network interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interface {
    pub name: String,
    /// Lowercase, colon-separated, as EC2 spells it.
    pub mac: String,
    pub up: bool,
    pub ipv4: Vec<Ipv4Addr>,
}

/// `02:ab:…` from six bytes.
pub fn format_mac(bytes: &[u8; 6]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Every interface with a link-layer address.
pub fn interfaces() -> Result<Vec<Interface>> {
    let mut by_name: BTreeMap<String, Interface> = BTreeMap::new();
    let mut ipv4: BTreeMap<String, Vec<Ipv4Addr>> = BTreeMap::new();
    for ifa in getifaddrs().context("cannot list network interfaces (getifaddrs)")? {
        let Some(addr) = ifa.address else { continue };
        if let Some(link) = addr.as_link_addr() {
            if let Some(mac) = link.addr() {
                by_name.insert(
                    ifa.interface_name.clone(),
                    Interface {
                        name: ifa.interface_name.clone(),
                        mac: format_mac(&mac),
                        up: ifa.flags.contains(InterfaceFlags::IFF_UP),
                        ipv4: Vec::new(),
                    },
                );
            }
        } else if let Some(inet) = addr.as_sockaddr_in() {
            ipv4.entry(ifa.interface_name.clone())
                .or_default()
                .push(inet.ip());
        }
    }
    for (name, addrs) in ipv4 {
        if let Some(i) = by_name.get_mut(&name) {
            i.ipv4 = addrs;
        }
    }
    Ok(by_name.into_values().collect())
}

/// The interface carrying `mac`, if there is one now.
pub fn by_mac(mac: &str) -> Result<Option<Interface>> {
    let mac = mac.to_ascii_lowercase();
    Ok(interfaces()?.into_iter().find(|i| i.mac == mac))
}

/// Wait (bounded) for the interface with `mac` to appear. Local only: no
/// AWS call while waiting.
pub async fn wait_for_mac(mac: &str, what: &str, deadline: &Deadline) -> Result<Interface> {
    wait_until(
        mac,
        format!("the interface of {what} (MAC {mac})"),
        deadline,
        |_| true,
    )
    .await
}

/// Wait (bounded by `deadline`) until the interface with `mac` carries
/// `ip`. Something on the instance configures an attached ENI's address
/// (amazon-ec2-net-utils on Amazon Linux, a DHCP client on a hot-plugged
/// interface elsewhere); a service told to bind `ip` before then fails.
/// Local only: no AWS call while waiting.
pub async fn wait_for_address(
    mac: &str,
    ip: Ipv4Addr,
    what: &str,
    deadline: &Deadline,
) -> Result<Interface> {
    let waiting_for = format!(
        "{ip} on the interface of {what} (MAC {mac}): nothing on this instance configured it (see NODE_IP in smilodon-attach(8))"
    );
    wait_until(mac, waiting_for, deadline, |i| i.ipv4.contains(&ip)).await
}

/// Poll (20 ms, growing to 200 ms) for the interface with `mac` until
/// `ready` holds for it, within `deadline`.
async fn wait_until(
    mac: &str,
    waiting_for: String,
    deadline: &Deadline,
    ready: impl Fn(&Interface) -> bool,
) -> Result<Interface> {
    deadline
        .poll(
            waiting_for,
            Duration::from_millis(20),
            Duration::from_millis(200),
            || {
                let found = by_mac(mac).map(|i| i.filter(&ready));
                async move { found }
            },
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_lowercase_with_colons() {
        assert_eq!(
            format_mac(&[0x02, 0xAB, 0x00, 0x10, 0xff, 0x9]),
            "02:ab:00:10:ff:09"
        );
    }

    #[test]
    fn loopback_is_listed_with_a_zero_mac_that_no_eni_has() {
        let all = interfaces().unwrap();
        let lo = all.iter().find(|i| i.name == "lo").expect("lo is listed");
        assert_eq!(lo.mac, "00:00:00:00:00:00");
        assert!(lo.ipv4.contains(&Ipv4Addr::LOCALHOST), "{lo:?}");
        assert_eq!(by_mac("02:00:00:00:00:01").unwrap(), None);
    }
}

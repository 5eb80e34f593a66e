//! etcd-member-prepare's TLS: --cacert, --cert and --key, checked as PEM.

use super::options::Options;
use crate::exit::bad_input;
use anyhow::Result;
use etcd_client::{Certificate, ConnectOptions, Identity, TlsOptions};
use std::time::Duration;

/// How long one member API request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

pub fn connect_options(tls: Tls) -> ConnectOptions {
    let mut o = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(2))
        .with_timeout(REQUEST_TIMEOUT);
    if let Some(t) = tls {
        o = o.with_tls(t);
    }
    o
}

/// Read a PEM file that must hold `what` (checked now: a wrong path or a
/// file of the wrong kind is bad input before any request).
fn read_pem(path: &std::path::Path, flag: &str, what: PemKind) -> Result<Vec<u8>> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bytes = std::fs::read(path)
        .map_err(|e| bad_input(format!("{flag} {}: cannot read it: {e}", path.display())))?;
    let ok = match what {
        PemKind::Certificates => CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .is_ok_and(|certs| !certs.is_empty()),
        PemKind::PrivateKey => PrivateKeyDer::from_pem_slice(&bytes).is_ok(),
    };
    if !ok {
        return Err(bad_input(format!(
            "{flag} {}: holds no PEM {}",
            path.display(),
            match what {
                PemKind::Certificates => "certificate",
                PemKind::PrivateKey => "private key",
            }
        )));
    }
    Ok(bytes)
}

#[derive(Clone, Copy)]
enum PemKind {
    Certificates,
    PrivateKey,
}

/// TLS for the member API, if it speaks https.
pub type Tls = Option<TlsOptions>;

/// TLS for the member API from --cacert/--cert/--key, the files checked.
pub fn tls_options(o: &Options) -> Result<Tls> {
    let mut tls = match &o.cacert {
        Some(ca) => TlsOptions::new().ca_certificate(Certificate::from_pem(read_pem(
            ca,
            "--cacert",
            PemKind::Certificates,
        )?)),
        None if o.cert.is_some() || o.client_scheme == super::options::Scheme::Https => {
            TlsOptions::new()
        }
        None => return Ok(None),
    };
    match (&o.cert, &o.key) {
        (Some(c), Some(k)) => {
            tls = tls.identity(Identity::from_pem(
                read_pem(c, "--cert", PemKind::Certificates)?,
                read_pem(k, "--key", PemKind::PrivateKey)?,
            ))
        }
        (None, None) => {}
        _ => return Err(bad_input("--cert and --key go together")),
    }
    Ok(Some(tls))
}

//! Instance metadata (IMDSv2): who this instance is, asked patiently.
//!
//! Instance metadata (IMDSv2): who this instance is, read once per run,
//! and the few other paths a tool needs, each asked only when needed.
//!
//! aws-config's IMDS client speaks IMDSv2 only (it never falls back to
//! IMDSv1), caches its session token and retries server errors. What it
//! does not retry is an IMDS that does not answer: a refused connection, or
//! a connect or a read that times out. Early in a boot, or on a loaded
//! instance, that is what IMDS does for a while, so every read here is
//! asked again while IMDS does not answer, for up to
//! [`UNREACHABLE_PATIENCE`] (and the caller's deadline).

use anyhow::Result;
use aws_config::imds::client::error::ImdsError;
use aws_config::imds::Client;
use aws_smithy_runtime_api::client::result::ConnectorError;
use serde::Serialize;
use std::time::{Duration, Instant};

pub use crate::exit::ImdsUnavailable;

/// What this instance is, as its identity document says (one read).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Identity {
    pub instance_id: String,
    pub account_id: String,
    pub region: String,
    pub availability_zone: String,
    pub instance_type: String,
    pub private_ipv4: Option<String>,
}

/// The fields of the identity document Mooring uses.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdentityDocument {
    instance_id: String,
    account_id: String,
    region: String,
    availability_zone: String,
    instance_type: String,
    private_ip: Option<String>,
}

/// How long a run keeps asking an IMDS that does not answer at all (each
/// time after a pause growing from 1 s to 4 s): a unit ordered after
/// network-online.target may still start before the route to IMDS carries
/// (seen in a loaded guest at first boot). The callers' deadlines bound it
/// too.
pub const UNREACHABLE_PATIENCE: Duration = Duration::from_secs(20);

/// Where IMDS is by default.
const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";

/// The variable every AWS SDK reads for the IMDS endpoint.
const ENDPOINT_VAR: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT";

/// This instance's metadata service: the client (shared with the SDK's
/// credentials chain, so one token serves the run) and where it is.
#[derive(Debug, Clone)]
pub struct Metadata {
    client: Client,
    endpoint: String,
}

/// An IMDS endpoint from a flag or `AWS_EC2_METADATA_SERVICE_ENDPOINT`:
/// `http://` or `https://` and a host. Anything else is bad input, found
/// before the first request (a typo is not "IMDS does not answer").
fn check_endpoint(url: &str, from: &str) -> Result<()> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    match host {
        Some(h) if !h.is_empty() && !h.contains(char::is_whitespace) => Ok(()),
        _ => Err(crate::exit::bad_input(format!(
            "bad IMDS endpoint {url:?} ({from}): expected http://HOST[:PORT]"
        ))),
    }
}

impl Metadata {
    /// The metadata service at `endpoint`, else at
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else at EC2's address.
    pub fn new(endpoint: Option<&str>) -> Result<Metadata> {
        let given = match endpoint {
            Some(u) => Some((u.to_string(), "the IMDS endpoint given")),
            None => std::env::var(ENDPOINT_VAR)
                .ok()
                .filter(|u| !u.is_empty())
                .map(|u| (u, ENDPOINT_VAR)),
        };
        let provider_config = aws_config::provider_config::ProviderConfig::default()
            .with_http_client(crate::http::client());
        let mut builder = Client::builder()
            .configure(&provider_config)
            .max_attempts(3)
            .connect_timeout(Duration::from_secs(1))
            .read_timeout(Duration::from_secs(2));
        // Without an endpoint the client picks EC2's own (IPv4, or IPv6 by
        // AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE).
        let endpoint = match given {
            Some((url, from)) => {
                check_endpoint(&url, from)?;
                builder = builder.endpoint(&url).map_err(|e| {
                    crate::exit::bad_input(format!("bad IMDS endpoint {url:?} ({from}): {e}"))
                })?;
                url
            }
            None => DEFAULT_ENDPOINT.to_string(),
        };
        Ok(Metadata {
            client: builder.build(),
            endpoint,
        })
    }

    /// The client, for the SDK's credentials chain.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Read `path`; `Ok(None)` when IMDS answers 404. Asked again while
    /// IMDS does not answer, for up to [`UNREACHABLE_PATIENCE`]; an answer
    /// that is an error fails at once.
    pub async fn get(&self, path: &str) -> Result<Option<String>> {
        let started = Instant::now();
        let mut pause = Duration::from_secs(1);
        loop {
            match self.get_once(path).await {
                Err((e, cause))
                    if e.unreachable && started.elapsed() + pause < UNREACHABLE_PATIENCE =>
                {
                    // One short line a try; the whole error with -v.
                    log::info!(
                        "IMDS at {} does not answer ({cause}); asking again in {} s",
                        e.endpoint,
                        pause.as_secs()
                    );
                    log::debug!("{e}");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(4));
                }
                Err((e, _)) => return Err(e.into()),
                Ok(value) => return Ok(value),
            }
        }
    }

    /// One read; a failure with its innermost cause, for the log line.
    async fn get_once(&self, path: &str) -> Result<Option<String>, (ImdsUnavailable, String)> {
        match self.client.get(path).await {
            Ok(value) => Ok(Some(value.as_ref().to_string())),
            Err(ImdsError::ErrorResponse(e)) if e.response().status().as_u16() == 404 => Ok(None),
            Err(e) => Err((
                ImdsUnavailable {
                    endpoint: self.endpoint.clone(),
                    unreachable: does_not_answer(&e),
                    detail: format!("{path}: {}", brief(&e)),
                },
                innermost(&e),
            )),
        }
    }

    /// Read a path every instance has.
    async fn get_required(&self, path: &str) -> Result<String> {
        self.get(path).await?.ok_or_else(|| {
            ImdsUnavailable {
                endpoint: self.endpoint.clone(),
                detail: format!("{path} not found"),
                unreachable: false,
            }
            .into()
        })
    }

    /// The identity document: ID, account, region, AZ, type and IP in one
    /// read.
    pub async fn identity(&self) -> Result<Identity> {
        let doc = self
            .get_required("/latest/dynamic/instance-identity/document")
            .await?;
        let doc: IdentityDocument = serde_json::from_str(&doc).map_err(|e| ImdsUnavailable {
            endpoint: self.endpoint.clone(),
            detail: format!("identity document is not valid: {e}"),
            unreachable: false,
        })?;
        // Every journal entry from here on names the instance.
        crate::logging::set_instance_id(&doc.instance_id);
        Ok(Identity {
            instance_id: doc.instance_id,
            account_id: doc.account_id,
            region: doc.region,
            availability_zone: doc.availability_zone,
            instance_type: doc.instance_type,
            private_ipv4: doc.private_ip,
        })
    }

    /// This instance's tag `key`, when instance-metadata tags are on and
    /// the instance has it (one read: IMDS answers 404 for both "no such
    /// tag" and "tags are off").
    pub async fn tag(&self, key: &str) -> Result<Option<String>> {
        self.get(&format!("/latest/meta-data/tags/instance/{key}"))
            .await
    }

    /// Whether instance-metadata tags are on (the launch template's
    /// `InstanceMetadataTags`): only then does a missing [`Metadata::tag`]
    /// prove the instance lacks the tag.
    pub async fn tags_enabled(&self) -> Result<bool> {
        Ok(self.get("/latest/meta-data/tags/instance").await?.is_some())
    }

    /// The MACs of every interface attached now, as IMDS lists them (it
    /// lags an attach by a moment: wait for it before telling a service to
    /// use the interface).
    pub async fn attached_macs(&self) -> Result<Vec<String>> {
        let list = self
            .get("/latest/meta-data/network/interfaces/macs/")
            .await?;
        Ok(list.map(|l| parse_macs(&l)).unwrap_or_default())
    }

    /// The instance's user-data; `None` when it has none.
    pub async fn user_data(&self) -> Result<Option<String>> {
        self.get("/latest/user-data").await
    }
}

/// Nothing answered: the connection was refused or reset, or a connect
/// or a read timed out. aws-config reports these in three shapes: a
/// failed connect as an I/O error; anything while fetching the token as a
/// token failure whose request was not dispatched or timed out; and a
/// data read that timed out as "unexpected" (it unwraps the connector's
/// error and keeps only its cause). The one other "unexpected" answer is
/// a body that is not UTF-8: IMDS answered.
fn does_not_answer(e: &ImdsError) -> bool {
    match e {
        ImdsError::IoError(_) => true,
        ImdsError::ErrorResponse(_) => false,
        ImdsError::FailedToLoadToken(t) => {
            t.is_dispatch_failure() || chain_has_connector_failure(e)
        }
        ImdsError::Unexpected(_) => !brief(e).contains("UTF-8"),
        _ => false,
    }
}

/// A connector error in `e`'s chain that is an I/O failure or a timeout.
fn chain_has_connector_failure(e: &ImdsError) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(c) = err.downcast_ref::<ConnectorError>() {
            return c.is_io() || c.is_timeout();
        }
        source = err.source();
    }
    false
}

/// The innermost cause of an IMDS failure ("Connection refused (os error
/// 111)"): what a person needs to know first.
fn innermost(e: &ImdsError) -> String {
    let mut innermost: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = innermost.source() {
        innermost = next;
    }
    innermost.to_string()
}

/// One line for an IMDS failure: its kind and the innermost cause (the
/// SDK's whole chain repeats itself over several hundred characters).
fn brief(e: &ImdsError) -> String {
    let (outer, inner) = (e.to_string(), innermost(e));
    if outer == inner {
        outer
    } else {
        format!("{outer} ({inner})")
    }
}

fn parse_macs(list: &str) -> Vec<String> {
    list.lines()
        .map(|l| l.trim().trim_end_matches('/').to_ascii_lowercase())
        .filter(|l| !l.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked_before_use() {
        for ok in [
            "http://169.254.169.254",
            "http://127.0.0.1:8080",
            "https://[fd00:ec2::254]",
        ] {
            assert!(check_endpoint(ok, "test").is_ok(), "{ok}");
        }
        for bad in [
            "htp://127.0.0.1",
            "127.0.0.1:80",
            "http://",
            "http:// x",
            "",
        ] {
            let err = check_endpoint(bad, "test").unwrap_err();
            assert_eq!(
                crate::exit::code_for(&err),
                crate::exit::Code::BadInput,
                "{bad}"
            );
        }
    }

    #[test]
    fn macs_are_listed_lowercase_without_slashes() {
        assert_eq!(
            parse_macs("0A:00:00:00:00:01/\n0a:00:00:00:00:02/\n"),
            ["0a:00:00:00:00:01", "0a:00:00:00:00:02"]
        );
    }
}

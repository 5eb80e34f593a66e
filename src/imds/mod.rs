//! Who am I: the instance's identity from IMDSv2, read once per run.
//!
//! aws-config's IMDS client speaks IMDSv2 only (it never falls back to
//! IMDSv1), caches its session token, retries with a bound, and honours
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT`.

use anyhow::{Context, Result};
use aws_config::imds::client::error::ImdsError;
use aws_config::imds::Client;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The instance metadata service could not be reached or answered nonsense
/// for a path every instance has.
#[derive(Debug, thiserror::Error)]
#[error("instance metadata (IMDSv2) at {endpoint} unavailable: {detail}")]
pub struct ImdsUnavailable {
    pub endpoint: String,
    pub detail: String,
    /// Nothing answered (no connection, a timeout): early in a boot the
    /// network may not carry IMDS yet, and asking again can help.
    pub unreachable: bool,
}

/// What this instance is, as IMDS says.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Identity {
    pub instance_id: String,
    pub account_id: String,
    pub region: String,
    pub availability_zone: String,
    pub instance_type: String,
    pub private_ipv4: Option<String>,
    /// MAC of the primary interface.
    pub mac: String,
    /// MACs of every attached interface.
    pub macs: Vec<String>,
    /// The instance's tags, when instance-metadata tags are enabled.
    pub tags: Option<BTreeMap<String, String>>,
}

/// Where the IMDS client talks to; the standard variable unless overridden.
fn endpoint_label(endpoint: Option<&str>) -> String {
    endpoint
        .map(str::to_string)
        .or_else(|| std::env::var("AWS_EC2_METADATA_SERVICE_ENDPOINT").ok())
        .unwrap_or_else(|| "http://169.254.169.254".to_string())
}

/// Build the IMDS client. `endpoint` overrides the standard
/// `AWS_EC2_METADATA_SERVICE_ENDPOINT` (tests running in one process).
pub fn client(endpoint: Option<&str>) -> Result<Client> {
    let mut builder = Client::builder()
        .max_attempts(3)
        .connect_timeout(Duration::from_secs(1))
        .read_timeout(Duration::from_secs(2));
    if let Some(url) = endpoint {
        builder = builder
            .endpoint(url)
            .map_err(|e| crate::exit::bad_input(format!("bad IMDS endpoint {url}: {e}")))?;
    }
    Ok(builder.build())
}

/// Read one metadata path; `Ok(None)` when IMDS answers 404.
async fn get_optional(client: &Client, path: &str, endpoint: &str) -> Result<Option<String>> {
    match client.get(path).await {
        Ok(value) => Ok(Some(value.as_ref().to_string())),
        Err(ImdsError::ErrorResponse(e)) if e.response().status().as_u16() == 404 => Ok(None),
        Err(e) => Err(ImdsUnavailable {
            endpoint: endpoint.to_string(),
            unreachable: match &e {
                ImdsError::FailedToLoadToken(t) => t.is_dispatch_failure(),
                ImdsError::IoError(_) => true,
                _ => false,
            },
            detail: format!(
                "{path}: {}",
                aws_smithy_types::error::display::DisplayErrorContext(&e)
            ),
        }
        .into()),
    }
}

async fn get_required(client: &Client, path: &str, endpoint: &str) -> Result<String> {
    get_optional(client, path, endpoint).await?.ok_or_else(|| {
        ImdsUnavailable {
            endpoint: endpoint.to_string(),
            detail: format!("{path} not found"),
            unreachable: false,
        }
        .into()
    })
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

impl Identity {
    /// [`Identity::fetch`], asked again while IMDS does not answer at all,
    /// for up to [`UNREACHABLE_PATIENCE`]. An answer that is an error
    /// (IMDSv2 refused, a path missing) fails at once.
    pub async fn fetch_patiently(
        client: &Client,
        endpoint_override: Option<&str>,
    ) -> Result<Identity> {
        let started = std::time::Instant::now();
        let mut pause = Duration::from_secs(1);
        loop {
            match Self::fetch(client, endpoint_override).await {
                Err(e)
                    if e.downcast_ref::<ImdsUnavailable>()
                        .is_some_and(|u| u.unreachable)
                        && started.elapsed() + pause < UNREACHABLE_PATIENCE =>
                {
                    log::info!("{e:#}; asking again in {} s", pause.as_secs());
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(4));
                }
                other => return other,
            }
        }
    }

    /// Read the identity: the identity document (ID, account, region, AZ,
    /// type, IP in one request), the MACs and the tags, concurrently.
    pub async fn fetch(client: &Client, endpoint_override: Option<&str>) -> Result<Identity> {
        let endpoint = endpoint_label(endpoint_override);
        let ep = endpoint.as_str();
        let (doc, mac, macs, tag_keys) = tokio::try_join!(
            get_required(client, "/latest/dynamic/instance-identity/document", ep),
            get_required(client, "/latest/meta-data/mac", ep),
            get_optional(client, "/latest/meta-data/network/interfaces/macs/", ep),
            get_optional(client, "/latest/meta-data/tags/instance", ep),
        )?;
        let doc: IdentityDocument = serde_json::from_str(&doc).map_err(|e| ImdsUnavailable {
            endpoint: endpoint.clone(),
            detail: format!("identity document is not valid: {e}"),
            unreachable: false,
        })?;
        let macs = macs
            .map(|list| parse_macs(&list))
            .unwrap_or_else(|| vec![mac.clone()]);
        let tags = match tag_keys {
            None => None,
            Some(keys) => {
                let keys: Vec<&str> = keys
                    .lines()
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .collect();
                let reads = keys.iter().map(|key| {
                    let path = format!("/latest/meta-data/tags/instance/{key}");
                    async move {
                        let value = get_required(client, &path, ep).await?;
                        Ok::<_, anyhow::Error>((key.to_string(), value))
                    }
                });
                let pairs = await_in_order(reads).await?;
                Some(pairs.into_iter().collect())
            }
        };
        Ok(Identity {
            instance_id: doc.instance_id,
            account_id: doc.account_id,
            region: doc.region,
            availability_zone: doc.availability_zone,
            instance_type: doc.instance_type,
            private_ipv4: doc.private_ip,
            mac,
            macs,
            tags,
        })
    }

    /// This instance's tag `key`, from instance-metadata tags.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.as_ref()?.get(key).map(String::as_str)
    }
}

/// The MACs of every interface attached now, as IMDS lists them (it lags
/// an attach by a moment: wait for it before telling a service to use the
/// interface).
pub async fn attached_macs(
    client: &Client,
    endpoint_override: Option<&str>,
) -> Result<Vec<String>> {
    let endpoint = endpoint_label(endpoint_override);
    let list = get_optional(
        client,
        "/latest/meta-data/network/interfaces/macs/",
        &endpoint,
    )
    .await?;
    Ok(list.map(|l| parse_macs(&l)).unwrap_or_default())
}

/// The instance's user-data; `None` when it has none.
pub async fn user_data(client: &Client, endpoint_override: Option<&str>) -> Result<Option<String>> {
    let endpoint = endpoint_label(endpoint_override);
    get_optional(client, "/latest/user-data", &endpoint).await
}

fn parse_macs(list: &str) -> Vec<String> {
    list.lines()
        .map(|l| l.trim().trim_end_matches('/').to_ascii_lowercase())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Await every future, in order, failing on the first error. The handful of
/// tag reads go over one cached token; running them one after another keeps
/// the code free of another dependency and costs a few milliseconds.
async fn await_in_order<T>(
    futs: impl Iterator<Item = impl std::future::Future<Output = Result<T>>>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for fut in futs {
        out.push(fut.await.context("reading instance tags from IMDS")?);
    }
    Ok(out)
}

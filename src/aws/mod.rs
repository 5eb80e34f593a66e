//! AWS clients built once per run, and errors that name the call.
//!
//! Talking to AWS: clients built once per run from aws-config, and errors
//! that name the call and the resource.

pub mod asg;
pub mod enis;
pub mod filter;
pub mod instance;
pub mod volumes;

use crate::wait::Deadline;
use anyhow::Result;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::error::display::DisplayErrorContext;
use std::time::Duration;

/// How to reach AWS. Every field defaults to what the standard AWS
/// environment says (`AWS_REGION`, `AWS_ENDPOINT_URL`,
/// `AWS_EC2_METADATA_SERVICE_ENDPOINT`, `AWS_MAX_ATTEMPTS`); the overrides
/// exist for callers that cannot use the process environment.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// Region; else `AWS_REGION`; else the instance's region.
    pub region: Option<String>,
    /// EC2 endpoint; else `AWS_ENDPOINT_URL`.
    pub endpoint_url: Option<String>,
    /// IMDS endpoint; else `AWS_EC2_METADATA_SERVICE_ENDPOINT`.
    pub imds_endpoint: Option<String>,
    /// Attempts per call, retries included; else `AWS_MAX_ATTEMPTS`, else 8.
    pub max_attempts: Option<u32>,
}

/// The clients of one run.
#[derive(Debug, Clone)]
pub struct Aws {
    pub imds: crate::imds::Metadata,
    pub sdk_config: aws_config::SdkConfig,
    pub ec2: aws_sdk_ec2::Client,
}

impl Aws {
    /// Build the clients. The credentials chain is the SDK's default one
    /// (environment, profile, web identity, container, instance profile),
    /// sharing this run's IMDS client; retries are adaptive (client-side
    /// rate limiting when EC2 throttles) with jittered backoff.
    pub async fn connect(opts: &AwsOptions, instance_region: Option<&str>) -> Result<Aws> {
        let imds = crate::imds::Metadata::new(opts.imds_endpoint.as_deref())?;
        Self::connect_with_imds(opts, imds, instance_region).await
    }

    /// As [`Aws::connect`], sharing an IMDS client (and its token) that
    /// already read the instance's identity.
    pub async fn connect_with_imds(
        opts: &AwsOptions,
        imds: crate::imds::Metadata,
        instance_region: Option<&str>,
    ) -> Result<Aws> {
        let region = opts
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()))
            .or_else(|| instance_region.map(str::to_string));
        let max_attempts = opts
            .max_attempts
            .or_else(|| std::env::var("AWS_MAX_ATTEMPTS").ok()?.parse().ok())
            .unwrap_or(8);
        let provider_config = aws_config::provider_config::ProviderConfig::default()
            .with_http_client(crate::http::client());
        let credentials =
            aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
                .configure(provider_config)
                .imds_client(imds.client().clone());
        let credentials = match &region {
            Some(r) => credentials.region(Region::new(r.clone())),
            None => credentials,
        };
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(crate::http::client())
            .credentials_provider(credentials.build().await)
            .retry_config(
                RetryConfig::adaptive()
                    .with_max_attempts(max_attempts)
                    .with_initial_backoff(Duration::from_millis(200))
                    .with_max_backoff(Duration::from_secs(8)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_attempt_timeout(Duration::from_secs(10))
                    .operation_timeout(Duration::from_secs(45))
                    .build(),
            );
        if let Some(r) = &region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(url) = &opts.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk_config = loader.load().await;
        if sdk_config.region().is_none() {
            return Err(crate::exit::bad_input(
                "no AWS region: pass --region, set AWS_REGION, or run on EC2",
            ));
        }
        let ec2 = aws_sdk_ec2::Client::new(&sdk_config);
        Ok(Aws {
            imds,
            sdk_config,
            ec2,
        })
    }
}

impl Aws {
    /// An EC2 client like `ec2` that asks once: a throttled answer comes
    /// back as the error (see [`is_throttled`]) instead of being retried
    /// with backoff, for a first look whose caller has a better wait than
    /// the adaptive rate limiter, which starts every process with no
    /// history and falls to a crawl after one throttle (see crate::turn).
    pub fn ec2_single_attempt(&self) -> aws_sdk_ec2::Client {
        let config = aws_sdk_ec2::config::Builder::from(&self.sdk_config)
            .retry_config(RetryConfig::disabled())
            .build();
        aws_sdk_ec2::Client::from_conf(config)
    }
}

/// One run's view of its instance: who it is (IMDS, read once) and how to
/// reach AWS. Made only when a run needs AWS, so that idle paths make no
/// call at all.
#[derive(Debug, Clone)]
pub struct Session {
    pub identity: crate::imds::Identity,
    pub aws: Aws,
}

impl Session {
    /// A run's session, made within the run's deadline: `region` from the
    /// common flags, else the instance's own.
    pub async fn within(region: Option<String>, deadline: &Deadline) -> Result<Session> {
        let opts = AwsOptions {
            region,
            ..Default::default()
        };
        // A deadline that runs out while IMDS is still being asked is IMDS
        // not answering (exit 7), not a generic timeout.
        let imds = crate::imds::Metadata::new(opts.imds_endpoint.as_deref())?;
        let identity = match deadline.run("instance metadata", imds.identity()).await {
            Ok(identity) => identity,
            Err(e) if e.is::<crate::exit::TimedOut>() => {
                return Err(crate::exit::ImdsUnavailable {
                    endpoint: imds.endpoint().to_string(),
                    detail: format!(
                        "no identity document within the run's {:.0} s (--timeout)",
                        deadline.budget().as_secs_f64()
                    ),
                    unreachable: true,
                }
                .into())
            }
            Err(e) => return Err(e),
        };
        let aws = deadline
            .run(
                "AWS clients",
                Aws::connect_with_imds(&opts, imds, Some(&identity.region)),
            )
            .await?;
        Ok(Session { identity, aws })
    }

    pub async fn start(opts: &AwsOptions) -> Result<Session> {
        let imds = crate::imds::Metadata::new(opts.imds_endpoint.as_deref())?;
        let identity = imds.identity().await?;
        let aws = Aws::connect_with_imds(opts, imds, Some(&identity.region)).await?;
        Ok(Session { identity, aws })
    }

    pub fn ec2(&self) -> &aws_sdk_ec2::Client {
        &self.aws.ec2
    }

    pub fn instance_id(&self) -> &str {
        &self.identity.instance_id
    }

    /// This instance's tag `key` from instance-metadata tags (see
    /// [`crate::imds::Metadata::tag`]).
    pub async fn tag(&self, key: &str) -> Result<Option<String>> {
        self.aws.imds.tag(key).await
    }
}

pub use crate::exit::AwsError;

impl AwsError {
    /// Wrap an SDK error. Service errors print as `Code: message`; others
    /// (timeouts, connection failures) with their whole context chain.
    pub fn new<E, R>(
        operation: &'static str,
        subject: impl Into<String>,
        err: SdkError<E, R>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let code = err.code().map(str::to_string);
        let detail = match (&err, err.code()) {
            (SdkError::ServiceError(_), Some(code)) => match err.message() {
                Some(msg) => format!("{code}: {msg}"),
                None => code.to_string(),
            },
            _ => DisplayErrorContext(&err).to_string(),
        };
        AwsError {
            operation,
            subject: subject.into(),
            code,
            detail,
        }
    }
}

/// The call failed because the account's request rate is used up (EC2's
/// RequestLimitExceeded, or another service's Throttling).
pub fn is_throttled(err: &anyhow::Error) -> bool {
    err.downcast_ref::<AwsError>().is_some_and(|a| {
        matches!(
            a.code.as_deref(),
            Some("RequestLimitExceeded" | "Throttling" | "ThrottlingException")
        )
    })
}

/// The EC2 error code of a failed call, if EC2 answered with one.
pub fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    err.code()
}

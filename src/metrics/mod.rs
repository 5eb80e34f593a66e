//! A run's numbers, as a node_exporter textfile (opt-in).
//!
//! Each run of a tool can leave its numbers in one file that
//! node_exporter's textfile collector reads (`--metrics-file`, env
//! `MOORING_METRICS_FILE`): the run's exit code, duration, end time and
//! the requests it made to each AWS service and to IMDS, plus what the
//! tool knows (ebs-grow's usage, what px and smilodon hold, etcd's
//! decision). The file is replaced atomically at the end of every run,
//! failed runs included, so a scrape never reads half of one.
//!
//! 1. The tool's code records gauges as it learns facts ([`gauge`]); the
//!    HTTP client counts requests as they leave ([`count_request`]).
//! 2. At the end of the run [`write`] renders them in the Prometheus text
//!    exposition format (names `mooring_…`, base units, `_seconds`) and
//!    writes the file.

mod render;

pub use render::{render, Family, Sample};

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Whether this run writes a metrics file: set once, before the run.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// This run writes a metrics file: gauges are worth recording.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether this run writes a metrics file. A fact that costs I/O to learn
/// (a device's size, a state file) is gathered for a gauge only then.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The gauges recorded so far in this process: family name → family.
static GAUGES: Mutex<BTreeMap<String, Family>> = Mutex::new(BTreeMap::new());

/// Requests that left this process, by service (`ec2`, `autoscaling`,
/// `s3`, … from the request's signature; `imds` for instance metadata).
static REQUESTS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

/// Record gauge `name` (without the `mooring_` prefix) with `labels`; a
/// later value for the same labels replaces the earlier one.
pub fn gauge(name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
    if !enabled() {
        return;
    }
    let mut gauges = GAUGES.lock().unwrap_or_else(|e| e.into_inner());
    let family = gauges
        .entry(name.to_string())
        .or_insert_with(|| Family::gauge(&format!("mooring_{name}"), help));
    family.set(labels, value);
}

/// Count one HTTP request as it leaves. The service comes from the
/// credential scope of its SigV4 `Authorization` header
/// (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`); an unsigned
/// request is instance metadata (the only unsigned endpoint the tools ask).
pub fn count_request(authorization: Option<&str>) {
    let service = authorization
        .and_then(service_of)
        .unwrap_or("imds")
        .to_string();
    let mut requests = REQUESTS.lock().unwrap_or_else(|e| e.into_inner());
    *requests.entry(service).or_default() += 1;
}

/// The requests counted so far, by service.
pub fn requests() -> BTreeMap<String, u64> {
    REQUESTS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The service named in a SigV4 `Authorization` header.
fn service_of(authorization: &str) -> Option<&str> {
    let credential = authorization.split("Credential=").nth(1)?;
    let scope = credential.split([',', ' ']).next()?;
    let mut parts = scope.split('/');
    // AKID / date / region / service / aws4_request
    let service = parts.nth(3)?;
    (parts.next() == Some("aws4_request")).then_some(service)
}

/// What identifies a run in every sample: the tool and its command.
#[derive(Debug, Clone)]
pub struct RunLabels {
    pub tool: &'static str,
    pub command: String,
}

/// Every family of this run: the run's own, then the tool's gauges.
pub fn families(
    run: &RunLabels,
    exit_code: i32,
    duration: Duration,
    ended: SystemTime,
) -> Vec<Family> {
    let labels = [("tool", run.tool), ("command", run.command.as_str())];
    let mut out = Vec::new();
    let mut one = |name: &str, help: &str, value: f64| {
        let mut f = Family::gauge(name, help);
        f.set(&labels, value);
        out.push(f);
    };
    one(
        "mooring_last_run_exit_code",
        "Exit code of the tool's last run (0 done, see the man page's EXIT STATUS).",
        f64::from(exit_code),
    );
    one(
        "mooring_last_run_duration_seconds",
        "Wall time of the tool's last run.",
        duration.as_secs_f64(),
    );
    one(
        "mooring_last_run_timestamp_seconds",
        "When the tool's last run ended, in seconds since the Unix epoch.",
        ended
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64(),
    );
    let mut sent = Family::gauge(
        "mooring_last_run_aws_requests",
        "HTTP requests the last run sent, retries included, by AWS service (imds: instance metadata).",
    );
    // Every service a tool may ask appears, 0 when it asked nothing, so
    // that a query over a fleet sees the zeros.
    let mut counted = requests();
    for service in ["ec2", "imds"] {
        counted.entry(service.to_string()).or_default();
    }
    for (service, n) in counted {
        sent.set(
            &[
                ("tool", run.tool),
                ("command", run.command.as_str()),
                ("service", service.as_str()),
            ],
            n as f64,
        );
    }
    out.push(sent);
    out.extend(
        GAUGES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned(),
    );
    out
}

/// Write this run's families to `path` atomically (0644, readable by
/// node_exporter). A failure is logged, never the run's failure: the
/// numbers serve the run, not the other way round.
pub fn write(path: &Path, run: &RunLabels, exit_code: i32, duration: Duration) {
    let text = render(&families(run, exit_code, duration, SystemTime::now()));
    if let Err(e) = crate::fsutil::atomic_write(path, text.as_bytes(), 0o644) {
        log::warn!("metrics not written to {}: {e:#}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_from_the_signature() {
        let header = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261206/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        assert_eq!(service_of(header), Some("ec2"));
        let s3 = "AWS4-HMAC-SHA256 Credential=AK/20261206/eu-west-1/s3/aws4_request,SignedHeaders=host,Signature=x";
        assert_eq!(service_of(s3), Some("s3"));
        assert_eq!(service_of("Bearer token"), None);
        assert_eq!(
            service_of("AWS4-HMAC-SHA256 Credential=AK/2026/us-east-1"),
            None
        );
    }
}

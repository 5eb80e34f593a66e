//! ebs-grow's metrics file, read by Prometheus's own parser.
//!
//! The file a check leaves is parsed by `prometheus_client` (the venv's):
//! a parse error fails the test, and every number is held against what
//! the rig saw independently (its count of EC2 calls, df, the devices).

use super::{small_config, Fixture, MIB};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The samples of an exposition file as Prometheus's client library reads
/// them: "name{label=value,…}" → value (labels sorted).
pub fn parse_exposition(path: &Path) -> BTreeMap<String, f64> {
    let python = std::env::var("MOORING_TEST_PYTHON")
        .unwrap_or_else(|_| "/var/tmp/mooring-venv/bin/python3".into());
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    assert family.type == "gauge", (family.name, family.type)
    assert family.documentation, family.name
    for s in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        out[f"{s.name}{{{labels}}}"] = s.value
print(json.dumps(out))
"#;
    let out = std::process::Command::new(&python)
        .args(["-c", script])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "prometheus_client refused {}: {}\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(path).unwrap_or_default()
    );
    let v: BTreeMap<String, Value> = serde_json::from_slice(&out.stdout).unwrap();
    v.into_iter()
        .map(|(k, v)| (k, v.as_f64().unwrap()))
        .collect()
}

/// The value of sample `name` with `labels` (in any order).
pub fn get(m: &BTreeMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut labels = labels.to_vec();
    labels.sort();
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let key = format!("{name}{{{}}}", labels.join(","));
    *m.get(&key)
        .unwrap_or_else(|| panic!("no sample {key} in {m:#?}"))
}

#[tokio::test]
async fn a_check_leaves_its_numbers_for_node_exporter() {
    let f = Fixture::new(json!({}), small_config(json!({"max_volumes": 2})));
    f.ok(&["init"]);
    let prom = f.dir.path().join("textfile/mooring-ebs-grow.prom");
    let prom_arg = prom.to_str().unwrap();
    let mp = f.mp.to_str().unwrap();
    let check = [("tool", "ebs-grow"), ("command", "check")];
    let ec2 = [
        ("tool", "ebs-grow"),
        ("command", "check"),
        ("service", "ec2"),
    ];
    let imds = [
        ("tool", "ebs-grow"),
        ("command", "check"),
        ("service", "imds"),
    ];
    let at = [("mountpoint", mp)];

    // Room to spare: no EC2 call, and the file says so.
    f.fill("a", 100 * MIB);
    f.rig.calls(true);
    let idle = f.ok(&["check", "--metrics-file", prom_arg]);
    assert_eq!(idle["action"], "none");
    let m = parse_exposition(&prom);
    assert_eq!(get(&m, "mooring_last_run_exit_code", &check), 0.0);
    assert_eq!(get(&m, "mooring_last_run_aws_requests", &ec2), 0.0);
    assert_eq!(get(&m, "mooring_ebs_grow_devices", &at), 1.0);
    assert_eq!(get(&m, "mooring_ebs_grow_limit_reached", &at), 0.0);
    let used = idle["before"]["used_bytes"].as_f64().unwrap();
    let avail = idle["before"]["avail_bytes"].as_f64().unwrap();
    let ratio = get(&m, "mooring_ebs_grow_used_ratio", &at);
    assert!((ratio - used / (used + avail)).abs() < 1e-9, "{ratio}");
    assert_eq!(get(&m, "mooring_ebs_grow_size_bytes", &at), used + avail);
    assert!(!m
        .keys()
        .any(|k| k.starts_with("mooring_ebs_grow_last_growth")));
    let duration = get(&m, "mooring_last_run_duration_seconds", &check);
    assert!(duration > 0.0 && duration < 60.0, "{duration}");

    // A growth: the EC2 requests counted in the tool equal the calls the
    // rig's proxy saw; the second device and the limit show.
    f.fill("b", 500 * MIB);
    let grown = f.ok(&["check", "--metrics-file", prom_arg]);
    assert_eq!(grown["action"], "added", "{grown}");
    let (calls, _) = f.rig.calls(true);
    let m = parse_exposition(&prom);
    assert_eq!(
        get(&m, "mooring_last_run_aws_requests", &ec2),
        calls.len() as f64,
        "the rig saw {calls:?}"
    );
    assert!(get(&m, "mooring_last_run_aws_requests", &imds) >= 1.0);
    assert_eq!(get(&m, "mooring_ebs_grow_devices", &at), 2.0);
    assert_eq!(get(&m, "mooring_ebs_grow_limit_reached", &at), 1.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let grew_at = get(&m, "mooring_ebs_grow_last_growth_timestamp_seconds", &at);
    assert!((now - grew_at).abs() < 120.0, "{grew_at} vs {now}");

    // A dry run writes nothing; a failed run writes its exit code.
    let before = std::fs::read(&prom).unwrap();
    f.ok(&["check", "--dry-run", "--metrics-file", prom_arg]);
    assert_eq!(
        std::fs::read(&prom).unwrap(),
        before,
        "a dry run wrote the file"
    );
    let bad = f.run(&["check", "--used-percent", "200", "--metrics-file", prom_arg]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    let m = parse_exposition(&prom);
    assert_eq!(get(&m, "mooring_last_run_exit_code", &check), 2.0);
    // Only the .prom file: no temporary file left for the collector.
    let names: Vec<_> = std::fs::read_dir(prom.parent().unwrap()).unwrap().collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

//! px-volume-claim's configuration: a cluster ID and its templates.
//!
//! What to claim: a cluster ID and volume templates with their max-count,
//! from flags, a JSON file, or the instance's user-data in Portworx's
//! `#cloud-config` form:
//!
//! ```text
//! #cloud-config
//! px-cluster:
//!   clusterid: my-px-asg-cluster
//!   kvdb: etcd://myetc.company.com:2379
//! storage:
//!   ebs:
//!     template: vol-0055e5913b79fb49d
//! <TAB>max-count: 128
//!   ebs:
//!     template: vol-0743df7bf5657dad8
//! <TAB>max-count: 32
//! ```
//!
//! That text is not valid YAML (a repeated key, tabs for indentation) yet
//! it is what Portworx documents and users paste, so it is read line by
//! line: `storage:` holds one template per `ebs:` entry, and anything
//! indented deeper than an `ebs:` line belongs to it, tabs included.

use crate::exit::BadInput;
use serde::{Deserialize, Serialize};

/// One template: new volumes are made like `volume_id`, at most
/// `max_count` of them per cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    #[serde(rename = "template")]
    pub volume_id: String,
    #[serde(rename = "max-count", alias = "max_count")]
    pub max_count: u32,
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(rename = "cluster-id", alias = "cluster_id", alias = "clusterid")]
    pub cluster_id: String,
    pub templates: Vec<Template>,
}

/// Largest max-count accepted: far beyond any real group, small enough to
/// catch a typo.
pub const MAX_COUNT_LIMIT: u32 = 10_000;

impl Config {
    /// Check every field; the error names the field.
    pub fn validate(self, source: &str) -> Result<Config, BadInput> {
        let bad = |field: &str, why: String| BadInput(format!("{source}: {field}: {why}"));
        let id = &self.cluster_id;
        if id.is_empty()
            || id.len() > 128
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(bad(
                "cluster id",
                format!("{id:?} must be 1-128 letters, digits, '-', '_' or '.'"),
            ));
        }
        if self.templates.is_empty() {
            return Err(bad("templates", "no template given".into()));
        }
        for (i, t) in self.templates.iter().enumerate() {
            let field = format!("template {} ({})", i + 1, t.volume_id);
            if !is_volume_id(&t.volume_id) {
                return Err(bad(&field, "not a volume ID (vol-...)".into()));
            }
            if t.max_count == 0 || t.max_count > MAX_COUNT_LIMIT {
                return Err(bad(
                    &field,
                    format!("max-count {} must be 1-{MAX_COUNT_LIMIT}", t.max_count),
                ));
            }
            if self.templates[..i]
                .iter()
                .any(|o| o.volume_id == t.volume_id)
            {
                return Err(bad(&field, "listed twice".into()));
            }
        }
        Ok(self)
    }
}

fn is_volume_id(s: &str) -> bool {
    s.strip_prefix("vol-")
        .is_some_and(|h| !h.is_empty() && h.len() <= 32 && h.chars().all(|c| c.is_ascii_hexdigit()))
}

/// `vol-abc:5` from a flag.
pub fn parse_template_flag(s: &str) -> Result<Template, BadInput> {
    let (id, count) = s
        .split_once(':')
        .ok_or_else(|| BadInput(format!("--template {s:?}: expected VOLUME_ID:MAX_COUNT")))?;
    let max_count = count.parse().map_err(|_| {
        BadInput(format!(
            "--template {s:?}: max-count {count:?} is not a number"
        ))
    })?;
    Ok(Template {
        volume_id: id.to_string(),
        max_count,
    })
}

/// Parse a JSON configuration file's text.
pub fn parse_json(text: &str, path: &str) -> Result<Config, BadInput> {
    let config: Config =
        serde_json::from_str(text).map_err(|e| BadInput(format!("{path}: {e}")))?;
    config.validate(path)
}

/// Indentation width, a tab counting as eight columns.
fn indent(line: &str) -> usize {
    line.chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .map(|c| if c == '\t' { 8 } else { 1 })
        .sum()
}

/// `key: value` with quotes and a trailing comment removed.
fn key_value(line: &str) -> Option<(&str, &str)> {
    let (k, v) = line.trim().split_once(':')?;
    let v = v.split(" #").next().unwrap_or("").trim();
    let v = v
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
        .unwrap_or(v);
    Some((k.trim(), v))
}

/// Parse user-data in the `#cloud-config` form above.
pub fn parse_cloud_config(text: &str) -> Result<Config, BadInput> {
    const SOURCE: &str = "user-data";
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    if lines.next().map(str::trim) != Some("#cloud-config") {
        return Err(BadInput(
            "user-data: does not start with #cloud-config (give --cluster-id and --template, or --config)".into(),
        ));
    }
    let mut section = "";
    let mut cluster_id: Option<String> = None;
    // (indent of the `ebs:` line, template, max-count)
    let mut entries: Vec<(usize, Option<String>, Option<String>)> = Vec::new();
    for line in lines {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let depth = indent(line);
        let Some((key, value)) = key_value(line) else {
            continue;
        };
        if depth == 0 {
            section = match key {
                "px-cluster" => "px-cluster",
                "storage" => "storage",
                _ => "",
            };
            continue;
        }
        match section {
            "px-cluster" if key == "clusterid" => cluster_id = Some(value.to_string()),
            "storage" if key == "ebs" => entries.push((depth, None, None)),
            "storage" => {
                let Some(entry) = entries.last_mut().filter(|e| depth > e.0) else {
                    continue;
                };
                match key {
                    "template" => entry.1 = Some(value.to_string()),
                    "max-count" | "max_count" => entry.2 = Some(value.to_string()),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    let cluster_id =
        cluster_id.ok_or_else(|| BadInput("user-data: px-cluster.clusterid is missing".into()))?;
    let mut templates = Vec::new();
    for (i, (_, template, count)) in entries.into_iter().enumerate() {
        let field = |f: &str| format!("user-data: storage.ebs[{}].{f}", i + 1);
        let volume_id =
            template.ok_or_else(|| BadInput(format!("{} is missing", field("template"))))?;
        let count = count.ok_or_else(|| BadInput(format!("{} is missing", field("max-count"))))?;
        let max_count = count
            .parse()
            .map_err(|_| BadInput(format!("{}: {count:?} is not a number", field("max-count"))))?;
        templates.push(Template {
            volume_id,
            max_count,
        });
    }
    Config {
        cluster_id,
        templates,
    }
    .validate(SOURCE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed's example, tabs and repeated keys as published.
    const SEED: &str = "#cloud-config\npx-cluster:\n  clusterid: my-px-asg-cluster\n  kvdb: etcd://myetc.company.com:2379\nstorage:\n  ebs:\n    template: vol-0055e5913b79fb49d\n\tmax-count: 128\n  ebs:\n    template: vol-0743df7bf5657dad8\n\tmax-count: 32\naws-credentialsi:\n  AWS_ACCESS_KEY_ID: XXX-YYY-ZZZ\n  AWS_SECRET_ACCESS_KEY: XXX-YYY-ZZZ\n";

    #[test]
    fn parses_the_seeds_example() {
        let c = parse_cloud_config(SEED).unwrap();
        assert_eq!(c.cluster_id, "my-px-asg-cluster");
        assert_eq!(
            c.templates,
            vec![
                Template {
                    volume_id: "vol-0055e5913b79fb49d".into(),
                    max_count: 128
                },
                Template {
                    volume_id: "vol-0743df7bf5657dad8".into(),
                    max_count: 32
                },
            ]
        );
    }

    #[test]
    fn errors_name_the_field() {
        let missing = SEED.replace("\tmax-count: 32\n", "");
        let err = parse_cloud_config(&missing).unwrap_err();
        assert_eq!(err.0, "user-data: storage.ebs[2].max-count is missing");
        let bad = SEED.replace("max-count: 128", "max-count: lots");
        assert!(parse_cloud_config(&bad)
            .unwrap_err()
            .0
            .contains("storage.ebs[1].max-count"));
        let no_id = SEED.replace("  clusterid: my-px-asg-cluster\n", "");
        assert!(parse_cloud_config(&no_id)
            .unwrap_err()
            .0
            .contains("clusterid"));
        let not_vol = SEED.replace("vol-0055e5913b79fb49d", "snap-123");
        assert!(parse_cloud_config(&not_vol)
            .unwrap_err()
            .0
            .contains("not a volume ID"));
        assert!(parse_cloud_config("#!/bin/sh\necho hi\n")
            .unwrap_err()
            .0
            .contains("#cloud-config"));
    }

    #[test]
    fn flags_and_json() {
        assert_eq!(
            parse_template_flag("vol-0abc:5").unwrap(),
            Template {
                volume_id: "vol-0abc".into(),
                max_count: 5
            }
        );
        assert!(parse_template_flag("vol-0abc").is_err());
        let c = parse_json(
            r#"{"cluster-id": "c1", "templates": [{"template": "vol-0abc", "max-count": 3}]}"#,
            "/etc/px.json",
        )
        .unwrap();
        assert_eq!(c.templates[0].max_count, 3);
        let err = parse_json(
            r#"{"cluster-id": "c1", "templates": [], "x": 1}"#,
            "/etc/px.json",
        )
        .unwrap_err();
        assert!(
            err.0.starts_with("/etc/px.json: unknown field `x`"),
            "{}",
            err.0
        );
    }
}

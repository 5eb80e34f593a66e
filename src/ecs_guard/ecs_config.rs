//! /etc/ecs/ecs.config: one key set, every other line kept.
//!
//! /etc/ecs/ecs.config: `KEY=value` lines the ECS agent reads. Setting a
//! key keeps every other line the admin wrote, in place.

use crate::fsutil::atomic_write;
use anyhow::{Context, Result};
use std::path::Path;

/// `text` with `key` set to `value`: the first `key=` line replaced (later
/// duplicates dropped, as the agent would read only one), or a line
/// appended.
pub fn with_key(text: &str, key: &str, value: &str) -> String {
    let mut out = Vec::new();
    let mut done = false;
    for line in text.lines() {
        let is_key = line
            .trim_start()
            .split_once('=')
            .is_some_and(|(k, _)| k.trim() == key);
        if is_key {
            if !done {
                out.push(format!("{key}={value}"));
                done = true;
            }
        } else {
            out.push(line.to_string());
        }
    }
    if !done {
        out.push(format!("{key}={value}"));
    }
    let mut joined = out.join("\n");
    joined.push('\n');
    joined
}

/// Set `key` in the file at `path` (created if missing). Returns whether
/// the file changed; an unchanged file is not rewritten.
pub fn set_key(path: &Path, key: &str, value: &str, dry_run: bool) -> Result<bool> {
    let old = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let new = with_key(&old, key, value);
    if new == old {
        return Ok(false);
    }
    if !dry_run {
        atomic_write(path, new.as_bytes(), 0o644)?;
        log::info!("{}: {key}={value}", path.display());
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_foreign_lines_and_replaces_the_key() {
        let text = "# admin\nECS_ENABLE_TASK_IAM_ROLE=true\nECS_CLUSTER=old\nECS_LOGLEVEL=debug\nECS_CLUSTER=dup\n";
        assert_eq!(
            with_key(text, "ECS_CLUSTER", "prod"),
            "# admin\nECS_ENABLE_TASK_IAM_ROLE=true\nECS_CLUSTER=prod\nECS_LOGLEVEL=debug\n"
        );
        assert_eq!(with_key("", "ECS_CLUSTER", "prod"), "ECS_CLUSTER=prod\n");
        assert_eq!(
            with_key("ECS_LOGLEVEL=info", "ECS_CLUSTER", "p"),
            "ECS_LOGLEVEL=info\nECS_CLUSTER=p\n"
        );
    }

    #[test]
    fn unchanged_file_is_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ecs.config");
        assert!(set_key(&path, "ECS_CLUSTER", "a", false).unwrap());
        assert!(!set_key(&path, "ECS_CLUSTER", "a", false).unwrap());
        assert!(set_key(&path, "ECS_CLUSTER", "b", false).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "ECS_CLUSTER=b\n");
    }
}

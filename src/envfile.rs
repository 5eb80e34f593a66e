//! Environment files for systemd's `EnvironmentFile=`.
//!
//! Values come from tags and API answers, so they are hostile until proven
//! otherwise: a tag value holding `"\nEVIL=1` must not become a second
//! variable. Every value is written inside double quotes with `\`, `"`, `$`
//! and `` ` `` escaped; that is what systemd's parser undoes inside double
//! quotes, and what a POSIX shell undoes when an admin sources the file. A
//! newline inside double quotes stays part of the value for both. NUL and
//! carriage return cannot round-trip (systemd strips a trailing CR) and are
//! refused.

use crate::exit::BadInput;
use crate::fsutil::atomic_write;
use anyhow::Result;
use std::path::Path;

/// An ordered set of `KEY="value"` lines.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EnvFile {
    vars: Vec<(String, String)>,
}

impl EnvFile {
    pub fn new() -> Self {
        Self::default()
    }

    /// Set `key` to `value`, replacing an earlier value of the same key.
    /// Refuses keys that are not shell identifiers and values systemd cannot
    /// read back as written.
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> Result<&mut Self, BadInput> {
        validate_key(key)?;
        let value = value.into();
        if let Some(bad) = value.chars().find(|c| *c == '\0' || *c == '\r') {
            return Err(BadInput(format!(
                "value for {key} contains {bad:?}, which an environment file cannot hold"
            )));
        }
        match self.vars.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((key.to_string(), value)),
        }
        Ok(self)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The file's text, with a header saying who wrote it.
    pub fn render(&self, writer: &str) -> String {
        let mut out = format!("# Written by {writer}; changes are overwritten on the next run.\n");
        for (key, value) in &self.vars {
            out.push_str(key);
            out.push_str("=\"");
            for c in value.chars() {
                if matches!(c, '\\' | '"' | '$' | '`') {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push_str("\"\n");
        }
        out
    }

    /// Write the file atomically with `mode`, creating its directory.
    pub fn write(&self, path: &Path, mode: u32, writer: &str) -> Result<()> {
        atomic_write(path, self.render(writer).as_bytes(), mode)
    }
}

fn validate_key(key: &str) -> Result<(), BadInput> {
    let mut chars = key.chars();
    let ok = matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(BadInput(format!(
            "{key:?} is not a valid environment variable name (letters, digits, _; not starting with a digit)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_hostile_values() {
        let mut env = EnvFile::new();
        env.set("A", "x\"\nB=1 $HOME `id` \\").unwrap();
        let text = env.render("test");
        assert!(
            text.ends_with("A=\"x\\\"\nB=1 \\$HOME \\`id\\` \\\\\"\n"),
            "{text}"
        );
    }

    #[test]
    fn refuses_bad_keys_and_values() {
        let mut env = EnvFile::new();
        for key in ["", "1A", "A-B", "A B", "A=B", "Ä"] {
            assert!(env.set(key, "v").is_err(), "{key:?} accepted");
        }
        assert!(env.set("A", "nul\0").is_err());
        assert!(env.set("A", "cr\r").is_err());
        assert!(env.set("_A1", "ok").is_ok());
    }

    #[test]
    fn set_replaces_in_place() {
        let mut env = EnvFile::new();
        env.set("A", "1")
            .unwrap()
            .set("B", "2")
            .unwrap()
            .set("A", "3")
            .unwrap();
        let keys: Vec<_> = env.vars().collect();
        assert_eq!(keys, vec![("A", "3"), ("B", "2")]);
    }
}

//! Names derived from paths, as systemd escapes them.
//!
//! Names derived from paths: systemd's path escaping (`/mnt/data` →
//! `mnt-data`), used for unit instance names, lock and state files.

/// Escape `path` as `systemd-escape --path` does.
pub fn systemd_escape_path(path: &str) -> String {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        return "-".to_string();
    }
    let mut out = String::new();
    for (i, b) in trimmed.bytes().enumerate() {
        match b {
            b'/' => out.push('-'),
            b'.' if i == 0 => out.push_str("\\x2e"),
            b if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b':' => {
                out.push(b as char)
            }
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_systemd_escape() {
        assert_eq!(systemd_escape_path("/"), "-");
        assert_eq!(systemd_escape_path("/scratch"), "scratch");
        assert_eq!(systemd_escape_path("/mnt/data-1/"), "mnt-data\\x2d1");
        assert_eq!(systemd_escape_path("/.hidden/a b"), "\\x2ehidden-a\\x20b");
    }
}

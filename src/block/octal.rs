//! The octal escapes of fstab(5) and /proc/self/mountinfo.
//!
//! Both files separate fields with whitespace, so a space, tab, newline or
//! backslash inside a field is written as `\040`, `\011`, `\012` or `\134`.
//! Fields are compared unescaped, never as the raw text.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// `field` with every byte that would end or garble an fstab field escaped
/// (and, in a path that is not UTF-8, every byte above 0x7f: the file is
/// text).
pub fn escape(field: &OsStr) -> String {
    let bytes = field.as_bytes();
    let utf8 = std::str::from_utf8(bytes).is_ok();
    let mut out = Vec::with_capacity(bytes.len());
    for &b in bytes {
        if matches!(b, b' ' | b'\t' | b'\n' | b'\\') || (b > 0x7f && !utf8) {
            out.extend_from_slice(format!("\\{b:03o}").as_bytes());
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).expect("ASCII escapes of UTF-8 or of escaped bytes")
}

/// The bytes `field` stands for: every `\NNN` (three octal digits) undone.
pub fn unescape(field: &str) -> OsString {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4);
        match octal {
            Some(d) if bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)) => {
                let n = u32::from(d[0] - b'0') * 64
                    + u32::from(d[1] - b'0') * 8
                    + u32::from(d[2] - b'0');
                out.push(n as u8);
                i += 4;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    OsString::from_vec(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_separates_fields() {
        for (raw, escaped) in [
            ("/mnt/data", "/mnt/data"),
            ("/mnt/my data-1", "/mnt/my\\040data-1"),
            ("/mnt/a\tb", "/mnt/a\\011b"),
            ("/mnt/a\nb", "/mnt/a\\012b"),
            ("/mnt/a\\b", "/mnt/a\\134b"),
            ("/mnt/é", "/mnt/é"),
        ] {
            assert_eq!(escape(OsStr::new(raw)), escaped, "{raw:?}");
            assert_eq!(unescape(escaped), OsStr::new(raw), "{escaped:?}");
        }
    }

    #[test]
    fn unescape_leaves_what_is_not_an_escape() {
        assert_eq!(unescape("a\\04"), OsStr::new("a\\04"));
        assert_eq!(unescape("a\\9xy"), OsStr::new("a\\9xy"));
        assert_eq!(unescape("\\"), OsStr::new("\\"));
    }
}

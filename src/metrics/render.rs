//! The Prometheus text exposition format, for gauges.
//!
//! Only what the tools need: gauge families with HELP and TYPE lines,
//! label values escaped as the format wants (backslash, double quote,
//! newline), values as Go's strconv would print them (`NaN`, `+Inf`).

use std::collections::BTreeMap;

/// One sample: its labels (in order) and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// A metric family: a name, its help, and one sample per label set.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub help: String,
    /// Label set (rendered) → sample; a BTreeMap keeps the output stable.
    pub samples: BTreeMap<String, Sample>,
}

impl Family {
    pub fn gauge(name: &str, help: &str) -> Family {
        Family {
            name: name.to_string(),
            help: help.to_string(),
            samples: BTreeMap::new(),
        }
    }

    /// Set the sample with `labels` to `value`.
    pub fn set(&mut self, labels: &[(&str, &str)], value: f64) {
        let labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .insert(label_text(&labels), Sample { labels, value });
    }
}

fn label_text(labels: &[(String, String)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{{{}}}", pairs.join(","))
}

fn value_text(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// The families as one exposition text, each family once.
pub fn render(families: &[Family]) -> String {
    let mut out = String::new();
    for f in families.iter().filter(|f| !f.samples.is_empty()) {
        let help = f.help.replace('\\', "\\\\").replace('\n', "\\n");
        out.push_str(&format!(
            "# HELP {} {help}\n# TYPE {} gauge\n",
            f.name, f.name
        ));
        for (labels, s) in &f.samples {
            out.push_str(&format!("{}{labels} {}\n", f.name, value_text(s.value)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_labels_and_prints_values() {
        let mut f = Family::gauge("mooring_x_bytes", "A help\nline.");
        f.set(&[("mountpoint", "/a \"b\"\\c")], 1.5);
        f.set(&[("mountpoint", "/d")], f64::INFINITY);
        assert_eq!(
            render(&[f]),
            "# HELP mooring_x_bytes A help\\nline.\n# TYPE mooring_x_bytes gauge\n\
             mooring_x_bytes{mountpoint=\"/a \\\"b\\\"\\\\c\"} 1.5\n\
             mooring_x_bytes{mountpoint=\"/d\"} +Inf\n"
        );
    }

    #[test]
    fn empty_families_are_left_out() {
        assert_eq!(render(&[Family::gauge("mooring_y", "h")]), "");
    }
}

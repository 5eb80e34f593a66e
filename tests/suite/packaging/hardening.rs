//! The units' sandboxing scores, held to the README's table.
//!
//! `systemd-analyze security --offline=true` rates each shipped service
//! unit from its file alone (0 is the most sandboxed, 10 not at all). The
//! README lists every unit's score under "Sandboxing"; a unit that loses
//! a directive scores worse and this test fails, and so does a README
//! left behind by a unit that gained one. Whether the units still work so
//! sandboxed is what their runs under systemd (the suite's
//! `systemd --user` tests, the VM tier's boots) prove.

use super::root;
use std::collections::BTreeMap;
use std::process::Command;

/// The README's table: unit name → score as printed (one decimal).
fn readme_scores() -> BTreeMap<String, String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("<!-- sandboxing scores -->")
        .expect("README.md has no <!-- sandboxing scores --> table");
    readme[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let unit = cells.get(1)?.trim_matches('`');
            let score = cells.get(2)?;
            unit.ends_with(".service")
                .then(|| (unit.to_string(), score.to_string()))
        })
        .collect()
}

/// Each shipped service unit's offline score; a template is rated as an
/// instance (`x@.service` as `x@scratch.service`).
fn scores() -> BTreeMap<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = BTreeMap::new();
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root().join("units")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        std::fs::copy(entry.path(), dir.path().join(&name)).unwrap();
        if let Some(stem) = name.strip_suffix(".service") {
            names.push(stem.to_string());
        }
    }
    for stem in names {
        let analysed = match stem.strip_suffix('@') {
            Some(_) => format!("{stem}scratch.service"),
            None => format!("{stem}.service"),
        };
        let out_ = Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--no-pager", &analysed])
            .env("SYSTEMD_UNIT_PATH", format!("{}:", dir.path().display()))
            .output()
            .expect("cannot run systemd-analyze");
        let text = String::from_utf8_lossy(&out_.stdout);
        let score = text
            .lines()
            .find_map(|l| l.split("Overall exposure level for ").nth(1))
            .and_then(|rest| rest.split(": ").nth(1))
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or_else(|| {
                panic!(
                    "no score for {analysed}: {text}{}",
                    String::from_utf8_lossy(&out_.stderr)
                )
            });
        out.insert(format!("{stem}.service"), score.to_string());
    }
    out
}

#[test]
fn every_unit_scores_as_the_readme_says() {
    let said = readme_scores();
    let rated = scores();
    let mut wrong = Vec::new();
    for (unit, score) in &rated {
        match said.get(unit) {
            None => wrong.push(format!("{unit}: {score}, not in the README's table")),
            Some(s) if s != score => {
                let worse = score.parse::<f64>().unwrap() > s.parse::<f64>().unwrap();
                wrong.push(format!(
                    "{unit}: {score}, the README says {s} ({})",
                    if worse {
                        "a regression"
                    } else {
                        "update the README"
                    }
                ));
            }
            Some(_) => {}
        }
    }
    for unit in said.keys().filter(|u| !rated.contains_key(*u)) {
        wrong.push(format!("{unit}: in the README's table, not shipped"));
    }
    assert!(wrong.is_empty(), "sandboxing scores:\n{}", wrong.join("\n"));
}

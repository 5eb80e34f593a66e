//! The AMI recipe: every cloud-init example is valid YAML, names only
//! units the package ships or extends, and every setting it writes is
//! read by the tools' own parsers — the flags through the very Exec= line
//! of the shipped unit or drop-in that expands them, the JSON and
//! user-data through the tools' configuration code. The Packer template
//! installs the package and checks every tool.

use super::{root, TOOLS};
use clap::{CommandFactory, Parser};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The test build of a tool (the reference for the packaged one).
pub fn test_binary(tool: &str) -> String {
    match tool {
        "ebs-grow" => env!("CARGO_BIN_EXE_ebs-grow"),
        "etcd-member-prepare" => env!("CARGO_BIN_EXE_etcd-member-prepare"),
        "smilodon-attach" => env!("CARGO_BIN_EXE_smilodon-attach"),
        "px-volume-claim" => env!("CARGO_BIN_EXE_px-volume-claim"),
        "ecs-node-guard" => env!("CARGO_BIN_EXE_ecs-node-guard"),
        "mooring-leave" => env!("CARGO_BIN_EXE_mooring-leave"),
        "mooring" => env!("CARGO_BIN_EXE_mooring"),
        other => panic!("no tool {other}"),
    }
    .to_string()
}

/// Parse `argv` (the tool's name first) with the tool's own flags.
fn parse_flags(argv: &[String]) -> Result<(), String> {
    let result = match argv[0].as_str() {
        "ebs-grow" => mooring::ebs_grow::Cli::try_parse_from(argv).map(drop),
        "etcd-member-prepare" => mooring::etcd_member::Cli::try_parse_from(argv).map(drop),
        "smilodon-attach" => mooring::smilodon::Cli::try_parse_from(argv).map(drop),
        "px-volume-claim" => mooring::px_claim::Cli::try_parse_from(argv).map(drop),
        "ecs-node-guard" => mooring::ecs_guard::Cli::try_parse_from(argv).map(drop),
        "mooring-leave" => mooring::leave::Cli::try_parse_from(argv).map(drop),
        other => return Err(format!("{other} is not a Mooring tool")),
    };
    result.map_err(|e| e.to_string())
}

/// Every environment variable a tool's flag reads (clap `env =`).
fn flag_variables() -> Vec<String> {
    fn walk(cmd: &clap::Command, out: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            if let Some(env) = arg.get_env() {
                out.push(env.to_string_lossy().into_owned());
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, out);
        }
    }
    let mut out = Vec::new();
    for cmd in [
        mooring::ebs_grow::Cli::command(),
        mooring::etcd_member::Cli::command(),
        mooring::smilodon::Cli::command(),
        mooring::px_claim::Cli::command(),
        mooring::ecs_guard::Cli::command(),
        mooring::leave::Cli::command(),
    ] {
        walk(&cmd, &mut out);
    }
    out
}

/// A unit file or drop-in the package ships: (unit it belongs to, text).
fn shipped_units() -> Vec<(String, String)> {
    super::shipped_from_repo()
        .into_iter()
        .filter(|(dest, _)| dest.starts_with("/usr/lib/systemd/system/"))
        .map(|(dest, src)| {
            let rel = dest.trim_start_matches("/usr/lib/systemd/system/");
            let unit = rel.split(".d/").next().unwrap().to_string();
            (unit, std::fs::read_to_string(src).unwrap())
        })
        .collect()
}

/// The `Environment=` assignments of a unit text, in order.
fn environment(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("Environment=") else {
            continue;
        };
        let rest = rest
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .unwrap_or(rest);
        let (k, v) = rest.split_once('=').expect("Environment=K=V");
        out.push((k.to_string(), v.to_string()));
    }
    out
}

/// Expand an Exec= command line as systemd does: `${X}` within a word,
/// `$X` as a whole word split at white space (no quote processing),
/// `%f`/`%i` for an instance named `scratch`.
fn expand(exec: &str, env: &BTreeMap<String, String>) -> Vec<String> {
    let mut argv = Vec::new();
    for word in exec.split_whitespace() {
        if let Some(name) = word.strip_prefix('$').filter(|n| !n.starts_with('{')) {
            argv.extend(
                env.get(name)
                    .map(|v| v.split_whitespace().map(String::from).collect::<Vec<_>>())
                    .unwrap_or_default(),
            );
            continue;
        }
        let mut word = word.replace("%f", "/scratch").replace("%i", "scratch");
        while let Some(start) = word.find("${") {
            let end = start + word[start..].find('}').expect("${ without }");
            let value = env.get(&word[start + 2..end]).cloned().unwrap_or_default();
            word.replace_range(start..=end, &value);
        }
        argv.push(word);
    }
    argv
}

/// The Mooring command lines of a unit's shipped files.
fn mooring_exec_lines(unit: &str, shipped: &[(String, String)]) -> Vec<String> {
    let template = template_of(unit);
    shipped
        .iter()
        .filter(|(u, _)| *u == unit || Some(u.as_str()) == template.as_deref())
        .flat_map(|(_, text)| text.lines().map(str::to_string).collect::<Vec<_>>())
        .filter_map(|l| {
            let (key, cmd) = l.split_once('=')?;
            key.starts_with("Exec").then_some(())?;
            let cmd = cmd.trim_start_matches(['+', '-', '@', '!', ':']);
            let program = cmd.split_whitespace().next()?;
            TOOLS
                .iter()
                .any(|t| program == format!("/usr/bin/{t}"))
                .then(|| cmd.to_string())
        })
        .collect()
}

/// `x@i.service` → `x@.service`.
fn template_of(unit: &str) -> Option<String> {
    let (name, rest) = unit.split_once('@')?;
    let suffix = rest.rsplit_once('.')?.1;
    Some(format!("{name}@.{suffix}"))
}

/// Units an example may name: shipped ones (template instances included)
/// and the services the drop-ins extend.
fn known_unit(unit: &str, shipped: &[(String, String)]) -> bool {
    let template = template_of(unit);
    shipped
        .iter()
        .any(|(u, _)| u == unit || Some(u) == template.as_ref())
}

fn yaml_to_json(path: &Path) -> Value {
    let python = std::env::var("MOORING_TEST_PYTHON")
        .unwrap_or_else(|_| "/var/tmp/mooring-venv/bin/python3".into());
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(path)
        .output()
        .expect("cannot run the venv's python (make test installs it)");
    assert!(
        out.status.success(),
        "{} is not valid YAML: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn examples() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("packaging/cloud-init"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "one example per tool: {files:?}");
    files
}

/// Check one example; returns what it was found to exercise.
fn check_example(path: &Path, shipped: &[(String, String)]) -> Vec<String> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.starts_with("#cloud-config\n"),
        "{name}: not #cloud-config"
    );
    let doc = yaml_to_json(path);
    let mut exercised = Vec::new();

    // Units it starts exist in the package.
    let mut enabled = Vec::new();
    for cmd in doc["runcmd"].as_array().expect("runcmd") {
        let words: Vec<&str> = cmd
            .as_array()
            .expect("runcmd entries as lists")
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        if words[0] == "systemctl" && words[1] == "enable" {
            for unit in words[2..].iter().filter(|w| !w.starts_with("--")) {
                assert!(
                    known_unit(unit, shipped),
                    "{name}: {unit} is not in the package"
                );
                enabled.push(unit.to_string());
            }
        }
        if words[0] == "cp" {
            assert!(
                super::shipped_from_repo()
                    .iter()
                    .any(|(d, _)| d == words[1]),
                "{name}: {} is not in the package",
                words[1]
            );
        }
    }
    assert!(!enabled.is_empty(), "{name}: enables nothing");

    // What it writes is read by the tools.
    let files = doc["write_files"].as_array().cloned().unwrap_or_default();
    let variables = flag_variables();
    for file in &files {
        let dest = file["path"].as_str().unwrap();
        let content = file["content"].as_str().unwrap();
        if let Some(rest) = dest.strip_prefix("/etc/systemd/system/") {
            let unit = rest.split(".d/").next().unwrap();
            assert!(
                known_unit(unit, shipped),
                "{name}: {unit} is not in the package"
            );
            let lines = mooring_exec_lines(unit, shipped);
            let mut env: BTreeMap<String, String> = BTreeMap::new();
            for (u, text) in shipped {
                if u == unit || Some(u) == template_of(unit).as_ref() {
                    env.extend(environment(text));
                }
            }
            for (k, v) in environment(content) {
                let expanded = lines
                    .iter()
                    .any(|l| l.contains(&format!("${k}")) || l.contains(&format!("${{{k}}}")));
                assert!(
                    expanded || variables.contains(&k),
                    "{name}: {k} is neither expanded by {unit}'s Mooring command lines nor a tool's variable"
                );
                if expanded {
                    assert!(
                        !v.contains(['"', '\'']),
                        "{name}: {k}: systemd splits $VAR at spaces and keeps quotes as they are"
                    );
                }
                env.insert(k, v);
            }
            for line in &lines {
                let mut argv = expand(line, &env);
                argv[0] = argv[0].trim_start_matches("/usr/bin/").to_string();
                parse_flags(&argv).unwrap_or_else(|e| {
                    panic!("{name}: {unit}: {} is refused: {e}", argv.join(" "))
                });
                exercised.push(argv.join(" "));
            }
        } else if let Some(file) = dest.strip_prefix("/etc/mooring/ebs-grow/") {
            let dir = rig::temp_dir("example");
            let config = dir.path().join(file);
            std::fs::write(&config, content).unwrap();
            let mountpoint = format!("/{}", file.trim_end_matches(".json").replace('-', "/"));
            let options = mooring::ebs_grow::config::Options {
                config: Some(config),
                mountpoint: Some(mountpoint.into()),
                ..Default::default()
            };
            let settings = options
                .resolve()
                .unwrap_or_else(|e| panic!("{name}: {dest}: {e:#}"));
            exercised.push(format!(
                "ebs-grow settings for {}",
                settings.mountpoint.display()
            ));
        } else {
            panic!("{name}: writes {dest}, which no Mooring tool or unit reads");
        }
    }
    // Portworx's own form: the user-data is px-volume-claim's input.
    if doc.get("px-cluster").is_some() {
        let config = mooring::px_claim::config::parse_cloud_config(&text)
            .unwrap_or_else(|e| panic!("{name}: px-volume-claim refuses it: {e}"));
        assert_eq!(config.templates.len(), 2, "{name}: {config:?}");
        exercised.push(format!("px user-data for cluster {}", config.cluster_id));
    }
    exercised
}

#[test]
fn cloud_init_examples_use_only_what_the_package_ships() {
    let shipped = shipped_units();
    let mut all = Vec::new();
    for path in examples() {
        let exercised = check_example(&path, &shipped);
        assert!(!exercised.is_empty(), "{}: nothing checked", path.display());
        all.extend(exercised);
    }
    // Each tool is set up by some example.
    let joined = all.join("\n");
    for tool in ["etcd-member-prepare", "smilodon-attach", "ecs-node-guard"] {
        assert!(
            joined.contains(tool),
            "no example configures {tool}: {joined}"
        );
    }
    assert!(joined.contains("ebs-grow settings"), "{joined}");
    assert!(joined.contains("px user-data"), "{joined}");
}

/// The checker itself refuses what it must: a flag the tool lacks, quotes
/// in a split variable, a unit the package lacks.
#[test]
fn the_example_checker_catches_mistakes() {
    let shipped = shipped_units();
    let dir = rig::temp_dir("bad-example");
    let good =
        std::fs::read_to_string(root().join("packaging/cloud-init/etcd-group.yaml")).unwrap();
    for (bad, why) in [
        (
            good.replace("--peers asg", "--peers-from asg"),
            "unknown flag",
        ),
        (good.replace("--cluster main", "--cluster 'main'"), "quotes"),
        (
            good.replace("etcd.service]", "etcd2.service]"),
            "unknown unit",
        ),
        (
            good.replace("ETCD_MEMBER_PREPARE_ARGS=", "ETCD_MEMBER_PREPARE_FLAGS="),
            "unknown variable",
        ),
    ] {
        assert_ne!(bad, good, "{why}: the mutation did not apply");
        let path = dir.path().join("bad.yaml");
        std::fs::write(&path, bad).unwrap();
        let caught = std::panic::catch_unwind(|| check_example(&path, &shipped)).is_err();
        assert!(caught, "{why} was not caught");
    }
}

#[test]
fn packer_template_installs_the_package_and_checks_every_tool() {
    let text = std::fs::read_to_string(root().join("packaging/ami/mooring.pkr.hcl")).unwrap();
    assert!(text.contains("source \"amazon-ebs\""));
    assert!(text.contains("apt-get install -y") && text.contains("dnf install -y"));
    let tools_line = text
        .lines()
        .find(|l| l.contains("for tool in"))
        .expect("a loop over the tools");
    for tool in TOOLS {
        assert!(
            tools_line.contains(tool),
            "the AMI build does not check {tool}"
        );
    }
    assert!(
        text.contains("http_tokens                 = \"required\""),
        "IMDSv2 only"
    );
    assert!(text.contains("systemctl enable"));
}

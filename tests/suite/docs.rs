//! Man pages (man/<tool>.1) and shell completions (completions/) are
//! generated from the tools' clap definitions; this test fails when the
//! checked-in files drift from the code. `MOORING_UPDATE_DOCS=1 cargo test
//! --test suite docs::` rewrites them. It also keeps every `--help` within 80
//! columns.

use clap::{Command, CommandFactory};
use clap_complete::Shell;
use std::path::{Path, PathBuf};

fn tools() -> Vec<Command> {
    vec![
        mooring::ebs_grow::Cli::command(),
        mooring::etcd_member::Cli::command(),
        mooring::smilodon::Cli::command(),
        mooring::px_claim::Cli::command(),
        mooring::ecs_guard::Cli::command(),
        mooring::leave::Cli::command(),
    ]
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Every generated file: (path under the repository, contents).
fn generated() -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for mut cmd in tools() {
        let name = cmd.get_name().to_string();
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone())
            .render(&mut page)
            .expect("render man page");
        out.push((PathBuf::from(format!("man/{name}.1")), page));
        // Subcommands get pages of their own, as git's do.
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let mut page = Vec::new();
            // clap names are &'static str; a test may leak a few bytes.
            let full: &'static str =
                Box::leak(format!("{name}-{}", sub.get_name()).into_boxed_str());
            let sub = sub.clone().name(full);
            clap_mangen::Man::new(sub.clone())
                .render(&mut page)
                .expect("render man page");
            out.push((PathBuf::from(format!("man/{}.1", sub.get_name())), page));
        }
        for (shell, file) in [
            // Named as each shell looks them up, so that packages install
            // them by directory.
            (Shell::Bash, format!("completions/bash/{name}")),
            (Shell::Zsh, format!("completions/zsh/_{name}")),
            (Shell::Fish, format!("completions/fish/{name}.fish")),
        ] {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, name.clone(), &mut buf);
            out.push((PathBuf::from(file), buf));
        }
    }
    out
}

#[test]
fn man_pages_and_completions_match_the_code() {
    let update = std::env::var_os("MOORING_UPDATE_DOCS").is_some();
    let mut drifted = Vec::new();
    for (rel, contents) in generated() {
        let path = root().join(&rel);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &contents).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(contents.as_slice()) {
            drifted.push(rel.display().to_string());
        }
    }
    assert!(
        drifted.is_empty(),
        "generated files differ from the code: {} — run `MOORING_UPDATE_DOCS=1 cargo test --test suite docs::` and commit",
        drifted.join(", ")
    );
}

#[test]
fn help_fits_80_columns() {
    for mut cmd in tools() {
        // Building propagates settings (the 80-column limit) to the
        // subcommands, as running the binary does.
        cmd.build();
        let mut all = vec![cmd.clone()];
        all.extend(cmd.get_subcommands().cloned());
        for mut c in all {
            let help = c.render_long_help().to_string();
            for line in help.lines() {
                assert!(
                    line.chars().count() <= 80,
                    "{}: --help line over 80 columns: {line:?}",
                    c.get_name()
                );
            }
        }
    }
}

/// The packages install one program, `mooring`, under the tools' names:
/// run by a tool's name (a link) or as `mooring <tool>`, it answers
/// exactly as that tool's own program — help, version, a bad flag's error
/// and exit code.
#[test]
fn mooring_answers_as_each_tool_by_either_name() {
    let mooring = env!("CARGO_BIN_EXE_mooring");
    let links = tempfile::tempdir().unwrap();
    for (tool, own) in [
        ("ebs-grow", env!("CARGO_BIN_EXE_ebs-grow")),
        (
            "etcd-member-prepare",
            env!("CARGO_BIN_EXE_etcd-member-prepare"),
        ),
        ("smilodon-attach", env!("CARGO_BIN_EXE_smilodon-attach")),
        ("px-volume-claim", env!("CARGO_BIN_EXE_px-volume-claim")),
        ("ecs-node-guard", env!("CARGO_BIN_EXE_ecs-node-guard")),
        ("mooring-leave", env!("CARGO_BIN_EXE_mooring-leave")),
    ] {
        let link = links.path().join(tool);
        std::os::unix::fs::symlink(mooring, &link).unwrap();
        for args in [&["--help"][..], &["--version"], &["--no-such-flag"]] {
            let run = |program: &Path, lead: &[&str]| {
                let out = std::process::Command::new(program)
                    .args(lead)
                    .args(args)
                    .output()
                    .unwrap();
                (out.status.code(), out.stdout, out.stderr)
            };
            let reference = run(Path::new(own), &[]);
            assert_eq!(run(&link, &[]), reference, "{tool} {args:?} by its name");
            assert_eq!(
                run(Path::new(mooring), &[tool]),
                reference,
                "mooring {tool} {args:?}"
            );
        }
    }
    let unknown = std::process::Command::new(mooring)
        .arg("ebs-shrink")
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown tool 'ebs-shrink'"));
}

/// Every module's `//!` opens with one line under 80 characters saying
/// what the module is, set apart from what follows.
#[test]
fn module_docs_open_with_one_line() {
    let mut bad = Vec::new();
    let mut stack = vec![root().join("src"), root().join("tests/rig/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let mut lines = text.lines();
            let first = lines.next().unwrap_or("");
            let second = lines.next();
            let ok = first.starts_with("//! ")
                && first.chars().count() < 80
                && second.is_none_or(|s| s == "//!" || !s.starts_with("//!"));
            if !ok {
                bad.push(format!("{}: {first}", path.display()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "module docs without a one-line opening:\n{}",
        bad.join("\n")
    );
}

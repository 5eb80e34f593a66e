//! Man pages (man/<tool>.8) and shell completions (completions/) are
//! generated from the tools' clap definitions, the exit-code table and the
//! hand-written FILES, EXAMPLES and SEE ALSO of docs/man/<tool>.roff; this
//! test fails when the checked-in files drift from the code. `MOORING_UPDATE_DOCS=1 cargo test
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

/// Escape `text` for roff: a plain `-` is a hyphen there, not a minus.
fn roff(text: &str) -> String {
    text.replace('\\', "\\\\").replace('-', "\\-")
}

/// EXIT STATUS (the documented codes) and ENVIRONMENT (every flag's
/// variable, and the standard AWS ones) of `cmd`, for every page.
fn common_sections(cmd: &Command) -> String {
    let mut s = String::from(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in mooring::exit::Code::ALL {
        s += &format!(".TP\n\\fB{}\\fR\n{}\n", code.as_i32(), roff(meaning));
    }
    s += ".SH ENVIRONMENT\n";
    let mut seen = std::collections::BTreeSet::new();
    let mut args: Vec<&clap::Arg> = cmd.get_arguments().collect();
    // A subcommand's page lists its parent's global flags too.
    args.extend(cmd.get_subcommands().flat_map(|s| s.get_arguments()));
    for arg in args.into_iter().filter(|a| !a.is_hide_set()) {
        let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) else {
            continue;
        };
        let env = env.to_string_lossy().into_owned();
        if seen.insert(env.clone()) {
            s += &format!(
                ".TP\n\\fB{}\\fR\nThe value of \\fB\\-\\-{}\\fR when the flag is not given.\n",
                roff(&env),
                roff(long)
            );
        }
    }
    for (env, what) in [
        ("AWS_REGION", "The region, when --region is not given; else the instance's own."),
        ("AWS_ENDPOINT_URL", "The AWS endpoints (EC2, Auto Scaling, ECS, S3), as for every AWS SDK."),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "The instance metadata service (IMDSv2); a URL that does not parse is bad input (exit 2)."),
        ("AWS_MAX_ATTEMPTS", "Attempts per AWS call, retries included (8)."),
        ("JOURNAL_STREAM", "Set by systemd: log lines then carry syslog priority prefixes."),
    ] {
        s += &format!(".TP\n\\fB{}\\fR\n{}\n", roff(env), roff(what));
    }
    s
}

/// One man page in section 8: clap's sections, then EXIT STATUS,
/// ENVIRONMENT and `extra` (FILES, EXAMPLES, SEE ALSO), then VERSION.
fn man_page(cmd: Command, extra: &str) -> Vec<u8> {
    let man = clap_mangen::Man::new(cmd.clone()).section("8");
    let mut page = Vec::new();
    man.render_title(&mut page).unwrap();
    man.render_name_section(&mut page).unwrap();
    man.render_synopsis_section(&mut page).unwrap();
    man.render_description_section(&mut page).unwrap();
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut page).unwrap();
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut page).unwrap();
    }
    page.extend_from_slice(common_sections(&cmd).as_bytes());
    page.extend_from_slice(extra.as_bytes());
    if cmd.get_version().is_some() {
        man.render_version_section(&mut page).unwrap();
    }
    page
}

/// Every generated file: (path under the repository, contents).
fn generated() -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for mut cmd in tools() {
        let name = cmd.get_name().to_string();
        let extra = std::fs::read_to_string(root().join(format!("docs/man/{name}.roff")))
            .unwrap_or_else(|e| panic!("docs/man/{name}.roff: {e}"));
        out.push((
            PathBuf::from(format!("man/{name}.8")),
            man_page(cmd.clone(), &extra),
        ));
        // Subcommands get pages of their own, as git's do.
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            // clap names are &'static str; a test may leak a few bytes.
            let full: &'static str =
                Box::leak(format!("{name}-{}", sub.get_name()).into_boxed_str());
            // The parent's global flags, as `--help` shows them.
            let mut sub = sub.clone().name(full);
            for arg in cmd.get_arguments().filter(|a| a.is_global_set()) {
                if sub.get_arguments().all(|a| a.get_id() != arg.get_id()) {
                    sub = sub.arg(arg.clone());
                }
            }
            let see_also = format!(".SH \"SEE ALSO\"\n\\fB{}\\fR(8)\n", roff(&name));
            out.push((
                PathBuf::from(format!("man/{full}.8")),
                man_page(sub, &see_also),
            ));
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
    // A page whose tool or command is gone is stale, not kept.
    let expected: Vec<PathBuf> = generated().into_iter().map(|(p, _)| p).collect();
    for entry in std::fs::read_dir(root().join("man")).unwrap().flatten() {
        let rel = PathBuf::from("man").join(entry.file_name());
        if !expected.contains(&rel) {
            if update {
                std::fs::remove_file(entry.path()).unwrap();
            } else {
                drifted.push(format!("{} (stale)", rel.display()));
            }
        }
    }
    assert!(
        drifted.is_empty(),
        "generated files differ from the code: {} — run `MOORING_UPDATE_DOCS=1 cargo test --test suite docs::` and commit",
        drifted.join(", ")
    );
}

/// Every flag a person can see says what it does.
#[test]
fn every_visible_flag_has_help() {
    let mut bare = Vec::new();
    for mut cmd in tools() {
        cmd.build();
        let mut all = vec![cmd.clone()];
        all.extend(cmd.get_subcommands().cloned());
        for c in all {
            for arg in c.get_arguments().filter(|a| !a.is_hide_set()) {
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    bare.push(format!("{} --{}", c.get_name(), arg.get_id()));
                }
            }
        }
    }
    assert!(bare.is_empty(), "flags without help: {}", bare.join(", "));
}

/// `mooring --help` names every tool with its purpose.
#[test]
fn mooring_help_says_what_each_tool_does() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mooring"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for (name, _, purpose) in mooring::multicall::TOOLS {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(name) && l.ends_with(purpose)),
            "mooring --help lacks {name}: {purpose}\n{help}"
        );
        assert!(help.lines().all(|l| l.chars().count() <= 80), "{help}");
    }
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

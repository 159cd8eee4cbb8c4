//! `docs/cli.md` carries the `--help` of every command; this test keeps it in sync.
//! Run with `UPDATE_DOCS=1` to rewrite the generated part after changing the CLI.

use crate::common::Sandbox;

const BEGIN: &str =
    "<!-- BEGIN GENERATED HELP: cargo test -p pacto-oci-cli docs (UPDATE_DOCS=1 rewrites) -->";
const END: &str = "<!-- END GENERATED HELP -->";

const COMMANDS: &[&[&str]] = &[
    &[],
    &["pack"],
    &["validate"],
    &["push"],
    &["pull"],
    &["resolve"],
    &["inspect"],
    &["copy"],
    &["tag"],
    &["tags"],
    &["fetch-all"],
    &["login"],
    &["logout"],
    &["cache"],
    &["cache", "prune"],
    &["semver", "best"],
    &["semver", "sort"],
    &["ref", "parse"],
    &["completions"],
];

fn generated(sb: &Sandbox) -> String {
    let mut text = String::new();
    for command in COMMANDS {
        let mut args: Vec<&str> = command.to_vec();
        args.push("--help");
        let run = sb.run(&args).expect(0);
        let title = if command.is_empty() {
            "pacto-oci".to_owned()
        } else {
            format!("pacto-oci {}", command.join(" "))
        };
        text.push_str(&format!(
            "### `{title}`\n\n```text\n{}\n```\n\n",
            run.stdout.trim_end()
        ));
    }
    text
}

#[test]
fn docs_cli_md_has_the_current_help_of_every_command() {
    let sb = Sandbox::new();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli.md");
    let doc = std::fs::read_to_string(&path).expect("docs/cli.md exists");
    let (Some(start), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("docs/cli.md lacks the generated-help markers");
    };
    let current = &doc[start + BEGIN.len()..end];
    let fresh = format!("\n\n{}", generated(&sb));
    if current != fresh {
        if std::env::var_os("UPDATE_DOCS").is_some() {
            let updated = format!("{}{BEGIN}{fresh}{}", &doc[..start], &doc[end..]);
            std::fs::write(&path, updated).expect("rewrite docs/cli.md");
        } else {
            panic!(
                "docs/cli.md is out of date with `pacto-oci --help`: run UPDATE_DOCS=1 cargo test -p pacto-oci-cli docs"
            );
        }
    }
}

/// The limits `push --help` and `pull --help` state are the ones the binary applies.
#[test]
fn help_states_the_limits_in_force() {
    let limits = pacto_oci::Limits::default();
    const MIB: u64 = 1024 * 1024;
    let stated = [
        format!("a file over {} MiB", limits.max_file_size / MIB),
        format!("over {} MiB in all", limits.max_total_size / MIB),
        format!(
            "over {},{:03} entries",
            limits.max_entries / 1000,
            limits.max_entries % 1000
        ),
        format!("a path over {} bytes", pacto_oci::contract::MAX_PATH_LEN),
        format!("over {} components", limits.max_depth),
    ];
    let sb = Sandbox::new();
    for command in ["push", "pull"] {
        let help = sb.run(&[command, "--help"]).expect(0).stdout;
        // Lines are wrapped for the terminal: compare with single spaces.
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        for text in &stated {
            assert!(
                help.contains(text.as_str()),
                "`{command} --help` lacks {text:?}: {help}"
            );
        }
    }
}

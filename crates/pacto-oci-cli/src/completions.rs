//! `pacto-oci completions SHELL`: the shell's completion script, from the command tree.

use crate::Cli;
use crate::output::Output;
use clap::CommandFactory as _;
use clap_complete::Shell;
use serde_json::json;

/// Prints the script for `shell` on stdout (with `--json`, as `{"shell","script"}`).
pub(crate) fn print(shell: Shell, out: &Output) {
    // The tree as defined, not as `--help` shows it: every global option completes after
    // every subcommand.
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "pacto-oci", &mut script);
    let script = String::from_utf8_lossy(&script).into_owned();
    out.data(
        json!({"shell": shell.to_string(), "script": script}),
        || script.clone(),
    );
}

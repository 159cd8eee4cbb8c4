//! `cargo xtask man [--out DIR]`: the man pages of `pacto-oci` (`pacto-oci.1` and one page
//! per subcommand, `pacto-oci-pull.1`, ...) into `target/man`.
//!
//! The pages are rendered from the binary's own command tree (clap_mangen), so they never
//! drift from `--help`. xtask stays outside the crate layering, depending on no pacto crate:
//! it builds the binary and runs its hidden `generate-man DIR` subcommand, as `demo` runs
//! the binary. The e2e suite runs that same subcommand (`cli_ux::man_pages...`).

use crate::demo::target_dir;
use crate::{Result, cargo, run};
use std::path::PathBuf;
use std::process::Command;

pub(crate) fn task(args: &[String]) -> Result {
    let out = match args {
        [] => target_dir().join("man"),
        [flag, dir] if flag == "--out" => PathBuf::from(dir),
        _ => return Err("usage: cargo xtask man [--out DIR]".into()),
    };
    run(cargo().args([
        "build",
        "--quiet",
        "--locked",
        "-p",
        "pacto-oci-cli",
        "--bin",
        "pacto-oci",
    ]))?;
    let binary = target_dir().join("debug").join("pacto-oci");
    run(Command::new(&binary).arg("generate-man").arg(&out))?;
    let top = out.join("pacto-oci.1");
    if !top.is_file() {
        return Err(format!("{} was not written", top.display()));
    }
    eprintln!(
        "xtask: man pages in {}; read one with `man -l {}`, or add the directory to MANPATH",
        out.display(),
        top.display()
    );
    Ok(())
}

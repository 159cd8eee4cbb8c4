//! The man pages: `pacto-oci.1` and one page per subcommand (`pacto-oci-pull.1`,
//! `pacto-oci-cache-prune.1`, ...), rendered by clap_mangen from the command tree `--help`
//! shows.
//!
//! The hidden `pacto-oci generate-man DIR` writes them; `cargo xtask man` builds the binary
//! and runs it, so xtask needs no dependency on this crate. It is added to the parsing tree
//! only (`help::command`), not to `Cli`, so completion scripts never offer it.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The hidden subcommand's name.
pub(crate) const SUBCOMMAND: &str = "generate-man";

/// `generate-man DIR`, hidden from help and completions: not part of the contract.
pub(crate) fn subcommand() -> clap::Command {
    clap::Command::new(SUBCOMMAND)
        .hide(true)
        .about("Write the man pages into DIR (what `cargo xtask man` runs)")
        .arg(
            clap::Arg::new("dir")
                .value_name("DIR")
                .required(true)
                .value_parser(clap::value_parser!(OsString)),
        )
}

/// Runs `generate-man`: the pages into DIR, one line on stdout; exit 1 when a page cannot
/// be written.
pub(crate) fn run(matches: &clap::ArgMatches) -> ExitCode {
    let Some(dir) = matches.get_one::<OsString>("dir").map(PathBuf::from) else {
        return ExitCode::from(2);
    };
    match write_pages(&dir) {
        Ok(written) => {
            let _ = writeln!(
                std::io::stdout().lock(),
                "Wrote {} man pages into {}",
                written.len(),
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(
                std::io::stderr().lock(),
                "error: cannot write the man pages into {}: {e}",
                dir.display()
            );
            ExitCode::from(1)
        }
    }
}

/// Writes every page into `dir` (created if missing); the paths written, top page first.
pub(crate) fn write_pages(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    pacto_oci::fs::create_dir_all(dir, pacto_oci::fs::Mode::Shared)?;
    let mut written = Vec::new();
    write_tree(crate::help::command(), dir, &mut written)?;
    Ok(written)
}

fn write_tree(
    command: clap::Command,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(command.clone());
    let path = dir.join(man.get_filename());
    let mut page = Vec::new();
    man.render(&mut page)?;
    pacto_oci::fs::write_atomic(&path, &page, pacto_oci::fs::Mode::Shared)?;
    written.push(path);
    for sub in command.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        write_tree(sub.clone(), dir, written)?;
    }
    Ok(())
}

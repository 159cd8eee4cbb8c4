//! `login`'s password prompt, on the controlling terminal with echo off.
//!
//! Echo is switched off before the prompt is written, so nothing typed after the prompt
//! appears can be echoed (a prompt printed first leaves a window in which it would be), and
//! it is restored however the read ends. The prompt and the answer go through `/dev/tty`,
//! never through stdout, which carries `--json` documents.

use std::io;

/// Asks for a password on the terminal; `None` when there is no terminal to ask on. The
/// line's end (`\n`, `\r\n`) is not part of the answer.
#[cfg(unix)]
pub(crate) fn password(prompt: &str) -> io::Result<Option<String>> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    use std::io::{BufRead as _, Read as _, Write as _};

    /// Puts the terminal back as it was when dropped.
    struct Restore<'a> {
        tty: &'a std::fs::File,
        original: rustix::termios::Termios,
    }
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            let _ = tcsetattr(self.tty, OptionalActions::Now, &self.original);
        }
    }

    let Ok(tty) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
    else {
        return Ok(None);
    };
    let Ok(original) = tcgetattr(&tty) else {
        return Ok(None);
    };
    let mut quiet = original.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    // The newline the user types still moves the cursor to the next line.
    quiet.local_modes.insert(LocalModes::ECHONL);
    tcsetattr(&tty, OptionalActions::Now, &quiet)?;
    let restore = Restore {
        tty: &tty,
        original,
    };
    (&tty).write_all(prompt.as_bytes())?;
    (&tty).flush()?;
    let mut line = String::new();
    // A password is short: a line without an end within 64 KiB is cut there.
    io::BufReader::new((&tty).take(64 * 1024)).read_line(&mut line)?;
    drop(restore);
    let line = line.strip_suffix('\n').unwrap_or(&line);
    Ok(Some(line.strip_suffix('\r').unwrap_or(line).to_owned()))
}

/// Asks for a password on the terminal; `None` when there is no terminal to ask on.
#[cfg(not(unix))]
pub(crate) fn password(_prompt: &str) -> io::Result<Option<String>> {
    Ok(None)
}

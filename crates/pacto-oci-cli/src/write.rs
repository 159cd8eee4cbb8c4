//! Writing a pulled bundle to disk, confined to its output directory.
//!
//! The bundle is complete and verified before anything is written. A new directory is
//! filled under a temporary name beside it and renamed into place, so it appears whole or not
//! at all. Into an existing directory, each file is written to a temporary name and renamed;
//! no path inside the directory is ever followed through a symlink, so a planted link cannot
//! steer a write outside it.

use pacto_oci::Bundle;
use std::io;
use std::path::{Component, Path, PathBuf};

/// The relative path `name` as components, refusing anything but plain names.
fn confined(name: &str) -> io::Result<PathBuf> {
    let path = Path::new(name);
    let plain = path.components().all(|c| matches!(c, Component::Normal(_)));
    if !plain || name.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to write {name:?}: not a plain relative path"),
        ));
    }
    Ok(path.to_owned())
}

/// Writes every file of `bundle` under `dir`; returns the relative paths written, sorted.
pub(crate) fn write_bundle(dir: &Path, bundle: &Bundle) -> io::Result<Vec<String>> {
    let names: Vec<String> = bundle.files.keys().cloned().collect();
    for name in &names {
        confined(name)?;
    }
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => write_new(dir, bundle)?,
        Err(e) => return Err(e),
        Ok(meta) if meta.is_dir() || std::fs::metadata(dir).is_ok_and(|m| m.is_dir()) => {
            write_into(dir, bundle)?
        }
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a directory", dir.display()),
            ));
        }
    }
    Ok(names)
}

fn write_new(dir: &Path, bundle: &Bundle) -> io::Result<()> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)?;
    let staging = tempfile::Builder::new()
        .prefix(".pacto-pull-")
        .tempdir_in(&parent)?;
    for (name, bytes) in &bundle.files {
        let path = staging.path().join(confined(name)?);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, bytes)?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, dir).inspect_err(|_| {
        let _ = std::fs::remove_dir_all(&staged);
    })
}

fn write_into(dir: &Path, bundle: &Bundle) -> io::Result<()> {
    for (name, bytes) in &bundle.files {
        let relative = confined(name)?;
        let mut current = dir.to_owned();
        let components: Vec<_> = relative.components().collect();
        for component in &components[..components.len() - 1] {
            current.push(component);
            match std::fs::symlink_metadata(&current) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "refusing to write through the symlink {}",
                            current.display()
                        ),
                    ));
                }
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{} exists and is not a directory", current.display()),
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::create_dir(&current)?,
                Err(e) => return Err(e),
            }
        }
        let target = dir.join(&relative);
        let mut temp = tempfile::Builder::new()
            .prefix(".pacto-pull-")
            .tempfile_in(target.parent().unwrap_or(dir))?;
        io::Write::write_all(&mut temp, bytes)?;
        // rename replaces a symlink at the target instead of following it.
        temp.persist(&target).map_err(|e| e.error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths() {
        assert!(confined("a/b.yaml").is_ok());
        for bad in ["../x", "/etc/passwd", "a/../../b", "", "./a"] {
            assert!(confined(bad).is_err(), "{bad}");
        }
    }
}

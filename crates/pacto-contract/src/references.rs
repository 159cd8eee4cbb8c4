//! The files a contract references, and checking that a bundle holds them.

use crate::model::Contract;
use std::fmt;

/// A file the contract names, with where it names it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileReference {
    /// Where in `pacto.yaml` (`interfaces[0].contract`, `configuration.schema`).
    pub field: String,
    /// The bundle-relative path given there.
    pub path: String,
}

impl Contract {
    /// Every bundle file this contract references, in document order: each interface's
    /// `contract` and the configuration `schema` (the file references of the Pacto v1 model).
    pub fn file_references(&self) -> Vec<FileReference> {
        let mut found = Vec::new();
        for (i, interface) in self.interfaces.iter().enumerate() {
            if let Some(path) = interface.contract.as_deref().filter(|p| !p.is_empty()) {
                found.push(FileReference {
                    field: format!("interfaces[{i}].contract"),
                    path: path.to_owned(),
                });
            }
        }
        if let Some(configuration) = &self.configuration
            && !configuration.schema.is_empty()
        {
            found.push(FileReference {
                field: "configuration.schema".to_owned(),
                path: configuration.schema.clone(),
            });
        }
        found
    }
}

/// Files the contract references that the bundle does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct MissingFiles {
    /// Each missing reference, in document order.
    pub missing: Vec<FileReference>,
}

impl fmt::Display for MissingFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self
            .missing
            .iter()
            .map(|r| format!("{} ({})", r.path, r.field))
            .collect();
        write!(
            f,
            "pacto.yaml references {} file{} the bundle does not hold: {}",
            self.missing.len(),
            if self.missing.len() == 1 { "" } else { "s" },
            list.join(", ")
        )
    }
}

/// Checks that every file `contract` references is among `paths` (bundle-relative, `/`
/// separated; a reference's leading `./` is ignored).
pub fn check_references<'a>(
    contract: &Contract,
    paths: impl IntoIterator<Item = &'a str>,
) -> Result<(), MissingFiles> {
    let present: std::collections::BTreeSet<&str> = paths.into_iter().collect();
    let missing: Vec<FileReference> = contract
        .file_references()
        .into_iter()
        .filter(|r| !present.contains(r.path.trim_start_matches("./")))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(MissingFiles { missing })
    }
}

impl crate::Bundle {
    /// Checks that the bundle holds every file its contract references (what `validate`,
    /// `pack` and `push` require; a pull does not, so older artifacts still load).
    pub fn check_references(&self) -> Result<(), MissingFiles> {
        check_references(&self.contract, self.files.keys().map(String::as_str))
    }
}

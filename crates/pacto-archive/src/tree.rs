//! The paths an archive has named so far, as a tree of path components.
//!
//! A tree keeps every check linear in the length of the path: duplicates, a file used as
//! a directory, and the entry count (files plus distinct directories, whether the archive
//! lists them or only implies them, so that the canonical re-pack of an accepted bundle
//! stays within the same limit). Deeply nested hostile paths cost memory and time in
//! proportion to their length, never its square.

use crate::error::UnpackError;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{Hash, Hasher};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    /// A directory only named as the parent of another path.
    ImpliedDir,
    /// A directory with an entry of its own.
    ExplicitDir,
}

#[derive(Debug)]
struct Node {
    kind: Kind,
    /// The name of one child, for error messages.
    some_child: Option<Box<str>>,
}

/// A child of `parent` named `name`. The tree is flat (an arena indexed by these keys),
/// so that neither walking nor dropping it recurses once per level.
#[derive(Debug, PartialEq, Eq)]
struct Key {
    parent: usize,
    name: Box<str>,
}

/// What the map is looked up with: a key, or the borrowed parts of one.
trait KeyParts {
    fn parts(&self) -> (usize, &str);
}

impl KeyParts for Key {
    fn parts(&self) -> (usize, &str) {
        (self.parent, &self.name)
    }
}

impl KeyParts for (usize, &str) {
    fn parts(&self) -> (usize, &str) {
        (self.0, self.1)
    }
}

impl<'a> Borrow<dyn KeyParts + 'a> for Key {
    fn borrow(&self) -> &(dyn KeyParts + 'a) {
        self
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts().hash(state);
    }
}

impl Hash for dyn KeyParts + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts().hash(state);
    }
}

impl PartialEq for dyn KeyParts + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn KeyParts + '_ {}

const ROOT: usize = 0;

#[derive(Debug)]
pub(crate) struct PathTree {
    nodes: Vec<Node>,
    children: HashMap<Key, usize>,
    entries: u64,
    limit: u64,
}

impl PathTree {
    pub(crate) fn new(limit: u64) -> Self {
        PathTree {
            nodes: vec![Node {
                kind: Kind::ExplicitDir,
                some_child: None,
            }],
            children: HashMap::new(),
            entries: 0,
            limit,
        }
    }

    /// Counts an entry that names no bundle path (the `./` root entry, a global header).
    pub(crate) fn count_other(&mut self) -> Result<(), UnpackError> {
        bump(&mut self.entries, self.limit)
    }

    /// Records a file or directory at `path` (already validated), with its parents.
    pub(crate) fn insert(&mut self, path: &str, is_dir: bool) -> Result<(), UnpackError> {
        let mut node = ROOT;
        let mut rest = path;
        let mut end = 0;
        loop {
            let (component, tail) = match rest.split_once('/') {
                Some((component, tail)) => (component, Some(tail)),
                None => (rest, None),
            };
            end += component.len();
            let wanted = match (tail, is_dir) {
                (Some(_), _) => Kind::ImpliedDir,
                (None, true) => Kind::ExplicitDir,
                (None, false) => Kind::File,
            };
            let found = self
                .children
                .get(&(node, component) as &dyn KeyParts)
                .copied();
            node = match found {
                Some(child) => {
                    let existing = &mut self.nodes[child];
                    check(existing, wanted, path, end)?;
                    if wanted == Kind::ExplicitDir {
                        existing.kind = Kind::ExplicitDir;
                    }
                    child
                }
                None => self.add(node, component, wanted)?,
            };
            match tail {
                Some(tail) => {
                    rest = tail;
                    end += 1;
                }
                None => return Ok(()),
            }
        }
    }

    fn add(&mut self, parent: usize, name: &str, kind: Kind) -> Result<usize, UnpackError> {
        bump(&mut self.entries, self.limit)?;
        let id = self.nodes.len();
        self.nodes.push(Node {
            kind,
            some_child: None,
        });
        if let Some(parent) = self.nodes.get_mut(parent) {
            parent.some_child.get_or_insert_with(|| name.into());
        }
        if let Entry::Vacant(slot) = self.children.entry(Key {
            parent,
            name: name.into(),
        }) {
            slot.insert(id);
        }
        Ok(id)
    }
}

/// Whether a path may name `existing` (the node at `path[..end]`) as `wanted`.
fn check(existing: &Node, wanted: Kind, path: &str, end: usize) -> Result<(), UnpackError> {
    match (existing.kind, wanted) {
        (_, Kind::ImpliedDir) if existing.kind != Kind::File => Ok(()),
        (Kind::ImpliedDir, Kind::ExplicitDir) => Ok(()),
        (Kind::File, Kind::ImpliedDir) => Err(UnpackError::PathConflict {
            entry: path.to_owned(),
            file: path[..end].to_owned(),
        }),
        (Kind::ImpliedDir | Kind::ExplicitDir, Kind::File) => match &existing.some_child {
            Some(child) => Err(UnpackError::PathConflict {
                entry: format!("{path}/{child}"),
                file: path.to_owned(),
            }),
            None => Err(UnpackError::DuplicatePath {
                entry: path.to_owned(),
            }),
        },
        _ => Err(UnpackError::DuplicatePath {
            entry: path.to_owned(),
        }),
    }
}

fn bump(entries: &mut u64, limit: u64) -> Result<(), UnpackError> {
    *entries += 1;
    if *entries > limit {
        return Err(UnpackError::TooManyEntries { limit });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(result: Result<(), UnpackError>) -> String {
        match result {
            Ok(()) => "ok".into(),
            Err(UnpackError::DuplicatePath { entry }) => format!("dup {entry}"),
            Err(UnpackError::PathConflict { entry, file }) => format!("conflict {entry} {file}"),
            Err(UnpackError::TooManyEntries { limit }) => format!("too many {limit}"),
            Err(other) => format!("{other:?}"),
        }
    }

    #[test]
    fn table() {
        // (earlier inserts, insert under test, expected); `true` marks a directory entry.
        type Insert = (&'static str, bool);
        let cases: [(&[Insert], Insert, &str); 10] = [
            (&[], ("a/b/c", false), "ok"),
            (&[("a/b/c", false)], ("a/b", true), "ok"),
            (&[("a/b", true)], ("a/b/c", false), "ok"),
            (&[("a/b", true)], ("a/b", true), "dup a/b"),
            (&[("a/b", false)], ("a/b", false), "dup a/b"),
            (&[("a/b", false)], ("a/b", true), "dup a/b"),
            (&[("a/b", true)], ("a/b", false), "dup a/b"),
            (&[("a/b", false)], ("a/b/c", false), "conflict a/b/c a/b"),
            (&[("a/b/c", false)], ("a/b", false), "conflict a/b/c a/b"),
            (&[("a", false)], ("a/b/c", true), "conflict a/b/c a"),
        ];
        for (before, (path, is_dir), expected) in cases {
            let mut tree = PathTree::new(100);
            for (p, d) in before {
                tree.insert(p, *d).unwrap();
            }
            assert_eq!(
                kind(tree.insert(path, is_dir)),
                expected,
                "{before:?} then {path}"
            );
        }
    }

    #[test]
    fn implied_directories_count_as_entries() {
        let mut tree = PathTree::new(3);
        tree.insert("a/b/c", false).unwrap(); // a, a/b, a/b/c
        assert_eq!(kind(tree.insert("a/b", true)), "ok"); // already counted
        assert_eq!(kind(tree.insert("a/d", false)), "too many 3");
        let mut tree = PathTree::new(1);
        tree.count_other().unwrap();
        assert_eq!(kind(tree.count_other()), "too many 1");
    }

    #[test]
    fn deep_paths_cost_linear_work() {
        // 2,000 levels: quadratic bookkeeping would be millions of bytes per path.
        let deep = vec!["d"; 2_000].join("/");
        let mut tree = PathTree::new(10_000);
        tree.insert(&deep, false).unwrap();
        assert_eq!(tree.entries, 2_000);
        assert_eq!(
            kind(tree.insert(&format!("{deep}/x"), false)),
            format!("conflict {deep}/x {deep}")
        );
    }
}

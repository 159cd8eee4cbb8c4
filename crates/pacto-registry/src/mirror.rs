//! Registry mirrors: pull-through caches that serve a registry's reads.
//!
//! A fleet reads through a mirror (CNCF distribution in proxy mode, a Harbor proxy cache,
//! Zot) so that the registry's rate limits and latency are paid once. The repository path is
//! the same on the mirror. Reads (manifest HEAD/GET, blob GET, tag list) try the mirrors of
//! the registry in order, then the registry itself; writes never go to a mirror. A mirror that
//! cannot be reached is not tried again by this client (or its clones).

use pacto_auth::normalize_registry;
use pacto_ref::{Digest, Registry};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// The mirrors of each registry, and which of them failed.
#[derive(Debug, Default)]
pub(crate) struct Mirrors {
    /// Normalised registry name -> its mirrors, in the order they are tried.
    by_registry: HashMap<String, Vec<Registry>>,
    /// Resolve tags at the registry; only content named by digest comes from mirrors.
    digests_only: bool,
    /// Mirrors found unreachable: skipped from then on.
    dead: Mutex<HashSet<String>>,
    /// Mirrors whose first fallback was already reported at info level.
    noted: Mutex<HashSet<String>>,
}

impl Mirrors {
    pub(crate) fn new(mirrors: &[(String, Registry)], digests_only: bool) -> Self {
        let mut by_registry: HashMap<String, Vec<Registry>> = HashMap::new();
        for (registry, mirror) in mirrors {
            let list = by_registry.entry(normalize_registry(registry)).or_default();
            if !list.contains(mirror) {
                list.push(mirror.clone());
            }
        }
        Mirrors {
            by_registry,
            digests_only,
            dead: Mutex::default(),
            noted: Mutex::default(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_registry.is_empty()
    }

    /// The mirrors to try, in order, for a read of `path` (`/v2/...`) from `registry`.
    pub(crate) fn for_read(&self, registry: &str, path: &str) -> Vec<Registry> {
        let Some(mirrors) = self.by_registry.get(&normalize_registry(registry)) else {
            return Vec::new();
        };
        if self.digests_only && !names_a_digest(path) {
            return Vec::new();
        }
        let dead = self.dead.lock().unwrap_or_else(|p| p.into_inner());
        mirrors
            .iter()
            .filter(|m| !dead.contains(m.name()))
            .cloned()
            .collect()
    }

    /// Marks `mirror` unreachable for the rest of this client's life.
    pub(crate) fn mark_dead(&self, mirror: &str) {
        self.dead
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(mirror.to_owned());
    }

    /// True the first time a fallback from `mirror` is reported.
    pub(crate) fn first_note(&self, mirror: &str) -> bool {
        self.noted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(mirror.to_owned())
    }
}

/// Whether a request path names its content by digest (`.../manifests/sha256:...`,
/// `.../blobs/sha256:...`): such content is verified against the digest, whoever serves it.
fn names_a_digest(path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    let Some((rest, last)) = path.rsplit_once('/') else {
        return false;
    };
    (rest.ends_with("/manifests") || rest.ends_with("/blobs")) && Digest::parse(last).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pacto_ref::ParseOptions;

    fn registry(name: &str) -> Registry {
        Registry::parse(name, &ParseOptions::default()).unwrap()
    }

    const DIGEST: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn mirrors_are_found_by_normalised_registry_in_order_and_dead_ones_skipped() {
        let mirrors = Mirrors::new(
            &[
                ("docker.io".into(), registry("mirror-a.example:5000")),
                ("index.docker.io".into(), registry("mirror-b.example")),
                ("docker.io".into(), registry("mirror-a.example:5000")),
            ],
            false,
        );
        let names = |path: &str| {
            mirrors
                .for_read("registry-1.docker.io", path)
                .iter()
                .map(|m| m.name().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names("/v2/library/x/manifests/1.0.0"),
            ["mirror-a.example:5000", "mirror-b.example"]
        );
        mirrors.mark_dead("mirror-a.example:5000");
        assert_eq!(
            names("/v2/library/x/tags/list?n=1000"),
            ["mirror-b.example"]
        );
        assert!(mirrors.for_read("ghcr.io", "/v2/a/manifests/1").is_empty());
    }

    #[test]
    fn digests_only_mirrors_serve_content_named_by_digest() {
        let mirrors = Mirrors::new(&[("ghcr.io".into(), registry("mirror.example"))], true);
        for path in [
            format!("/v2/acme/x/manifests/{DIGEST}"),
            format!("/v2/acme/x/blobs/{DIGEST}"),
        ] {
            assert_eq!(mirrors.for_read("ghcr.io", &path).len(), 1, "{path}");
        }
        for path in [
            "/v2/acme/x/manifests/1.0.0",
            "/v2/acme/x/tags/list?n=1000",
            "/v2/acme/sha256/manifests/latest",
        ] {
            assert!(mirrors.for_read("ghcr.io", path).is_empty(), "{path}");
        }
    }
}

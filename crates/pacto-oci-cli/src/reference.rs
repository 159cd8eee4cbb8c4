//! How the command line reads a reference before the library parses it (ggcr's rules):
//!
//! - a tag holding `+` is read with `_` in its place, as helm does (OCI tags cannot hold
//!   `+`, and `push` tags `service.version` `1.2.3+build.5` as `1.2.3_build.5`), so
//!   `REPO:1.2.3+build.5` names what `push` wrote;
//! - an input that can only be a registry (`127.0.0.1:5000`, `localhost`, `ghcr.io`) is
//!   refused as a registry without a repository, instead of being read, as ggcr reads any
//!   single name, as a Docker Hub repository (`index.docker.io/library/127.0.0.1:5000`).

use pacto_oci::refs::reference::{LAYOUT_PREFIX, OCI_PREFIX};
use pacto_oci::{Error, ErrorKind};
use std::borrow::Cow;

/// Well-known registry hosts, and suffixes (starting with `.`) of registry hosts: a name
/// like these alone is a registry, never a Docker Hub repository.
const REGISTRY_HOSTS: &[&str] = &[
    "docker.io",
    "index.docker.io",
    "registry-1.docker.io",
    "ghcr.io",
    "docker.pkg.github.com",
    "quay.io",
    "gcr.io",
    ".gcr.io",
    ".pkg.dev",
    ".azurecr.io",
    ".amazonaws.com",
    "public.ecr.aws",
    "registry.gitlab.com",
    "mcr.microsoft.com",
    "nvcr.io",
    ".jfrog.io",
    ".ocir.io",
    "registry.k8s.io",
];

/// `input` as the command line means it (see the module docs): an error of kind
/// `InvalidReference` for a registry without a repository.
pub(crate) fn read(input: &str) -> Result<Cow<'_, str>, Error> {
    if let Some(path_and_tag) = input.strip_prefix(LAYOUT_PREFIX) {
        return Ok(with_plus_as_underscore(
            input,
            input.len() - path_and_tag.len(),
        ));
    }
    let start = input.len() - input.strip_prefix(OCI_PREFIX).unwrap_or(input).len();
    let name = input[start..].strip_suffix('/').unwrap_or(&input[start..]);
    if is_registry(name) {
        return Err(Error::message(
            ErrorKind::InvalidReference,
            format!(
                "{input:?} looks like a registry without a repository: name one, as in \
                 {name}/REPOSITORY[:TAG] (a single name such as `ubuntu` means a Docker Hub \
                 repository only when it cannot be a registry)"
            ),
        ));
    }
    Ok(with_plus_as_underscore(input, start))
}

/// `input` with every `+` of its tag (after the last `/` from `start` on, between the last `:`
/// and an `@`) read as `_`.
fn with_plus_as_underscore(input: &str, start: usize) -> Cow<'_, str> {
    // The digest (`@sha256:...`) holds a `:` of its own: the tag ends where it begins.
    let name_end = input[start..].find('@').map_or(input.len(), |i| start + i);
    let name_start = input[start..name_end]
        .rfind('/')
        .map_or(start, |i| start + i + 1);
    let Some(colon) = input[name_start..name_end]
        .rfind(':')
        .map(|i| name_start + i)
    else {
        return Cow::Borrowed(input);
    };
    let tag_end = name_end;
    if !input[colon..tag_end].contains('+') {
        return Cow::Borrowed(input);
    }
    let tag = input[colon..tag_end].replace('+', "_");
    Cow::Owned(format!("{}{tag}{}", &input[..colon], &input[tag_end..]))
}

/// Whether `name` (no `oci://`, no trailing `/`) can only be a registry: `localhost`, an IP
/// address, a host with a port whose name is an address, `localhost` or has a dot, or a
/// well-known registry host. Anything with a `/` or an `@` is left to ggcr.
fn is_registry(name: &str) -> bool {
    if name.contains(['/', '@']) || name.is_empty() {
        return false;
    }
    let (host, port) = match name.rsplit_once(':') {
        // `[::1]:5000`, `host:5000`; a bare `[::1]` has no port.
        Some((host, port)) if !name.ends_with(']') => (host, Some(port)),
        _ => (name, None),
    };
    let is_port = |p: &str| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    let host_lower = host.to_ascii_lowercase();
    let is_address = host.parse::<std::net::Ipv4Addr>().is_ok()
        || (host.starts_with('[') && host.ends_with(']'));
    let is_local = host_lower == "localhost" || host_lower.ends_with(".localhost");
    match port {
        Some(port) => is_port(port) && (is_address || is_local || host.contains('.')),
        None => {
            is_address
                || is_local
                || REGISTRY_HOSTS
                    .iter()
                    .any(|known| match known.strip_prefix('.') {
                        Some(_) => host_lower.ends_with(known),
                        None => host_lower == *known,
                    })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plus_in_the_tag_reads_as_underscore() {
        let cases = [
            ("host/repo:1.2.3+b", "host/repo:1.2.3_b"),
            (
                "oci://host:5000/repo:1.2.3+build.5",
                "oci://host:5000/repo:1.2.3_build.5",
            ),
            ("repo:1.0.0+a+b", "repo:1.0.0_a_b"),
            (
                "host/repo:1.0.0+b@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                "host/repo:1.0.0_b@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            ),
            (
                "oci-layout:./a+b/dir:1.2.3+b",
                "oci-layout:./a+b/dir:1.2.3_b",
            ),
            ("oci-layout:dir+x:1.0.0+y", "oci-layout:dir+x:1.0.0_y"),
            // No tag: nothing to read differently.
            ("oci-layout:./a+b", "oci-layout:./a+b"),
            ("host+x/repo", "host+x/repo"),
            ("host/repo:1.2.3", "host/repo:1.2.3"),
        ];
        for (input, read_as) in cases {
            assert_eq!(read(input).unwrap(), read_as, "{input}");
        }
    }

    #[test]
    fn a_registry_alone_is_refused() {
        for registry in [
            "127.0.0.1:5055",
            "127.0.0.1:5055/",
            "oci://127.0.0.1:5055",
            "127.0.0.1",
            "localhost",
            "localhost:5000",
            "registry.localhost:5000",
            "[::1]:5000",
            "[::1]",
            "registry.example.com:443",
            "ghcr.io",
            "GHCR.io",
            "docker.io",
            "europe-docker.pkg.dev",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        ] {
            let error = read(registry).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidReference, "{registry}");
            assert!(
                error.to_string().contains("registry without a repository"),
                "{registry}: {error}"
            );
        }
        // ggcr's reading stays for everything else.
        for repository in [
            "ubuntu",
            "ubuntu:22.04",
            "payments:1",
            "my.repo",
            "my.repo:1.0",
            "ghcr.io/acme/payments",
            "localhost:5000/repo",
            "oci-layout:127.0.0.1:5000",
            "host:port",
        ] {
            assert!(read(repository).is_ok(), "{repository} refused");
        }
    }
}

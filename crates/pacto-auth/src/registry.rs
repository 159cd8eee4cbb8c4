//! Registry name normalisation shared by every source, on read and on write.

/// The canonical name of Docker Hub's registry.
pub const DOCKER_HUB: &str = "index.docker.io";

/// The key Docker (and its credential helpers) use for Docker Hub.
pub(crate) const DOCKER_HUB_SERVER_ADDRESS: &str = "https://index.docker.io/v1/";

/// The canonical registry name every source is looked up under.
///
/// - Surrounding whitespace and a `scheme://` prefix are removed, and so is
///   everything from the first `/` (a path such as `/v1/` or a repository).
/// - The host is lowercased: host names are case-insensitive, so `GHCR.io` and
///   `ghcr.io` share credentials (go-containerregistry keeps the case; we do not).
///   A port stays as written (`localhost:5000`).
/// - Docker Hub's aliases `docker.io`, `index.docker.io`, `registry-1.docker.io`
///   and `https://index.docker.io/v1/` all become [`DOCKER_HUB`]
///   (`"index.docker.io"`, the name go-containerregistry resolves to).
///
/// ```
/// use pacto_auth::normalize_registry;
/// assert_eq!(normalize_registry("docker.io"), "index.docker.io");
/// assert_eq!(normalize_registry("https://index.docker.io/v1/"), "index.docker.io");
/// assert_eq!(normalize_registry("https://Registry.Example.com:5000/v2/"), "registry.example.com:5000");
/// assert_eq!(normalize_registry("ghcr.io/org/repo"), "ghcr.io");
/// ```
pub fn normalize_registry(registry: &str) -> String {
    let trimmed = registry.trim();
    let without_scheme = match trimmed.split_once("://") {
        Some((scheme, rest))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            rest
        }
        _ => trimmed,
    };
    let host = without_scheme
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match host.as_str() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_owned(),
        _ => host,
    }
}

/// Whether `host` (normalised) is one of GitHub's registries, the only ones the
/// `gh` source serves.
pub(crate) fn is_github_registry(host: &str) -> bool {
    matches!(host, "ghcr.io" | "docker.pkg.github.com")
}

/// The server address a docker credential helper is asked about for `host`.
pub(crate) fn docker_server_address(host: &str) -> &str {
    if host == DOCKER_HUB {
        DOCKER_HUB_SERVER_ADDRESS
    } else {
        host
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_table() {
        let table = [
            ("docker.io", "index.docker.io"),
            ("index.docker.io", "index.docker.io"),
            ("registry-1.docker.io", "index.docker.io"),
            ("https://index.docker.io/v1/", "index.docker.io"),
            ("http://docker.io", "index.docker.io"),
            ("  ghcr.io ", "ghcr.io"),
            ("GHCR.IO", "ghcr.io"),
            ("ghcr.io/org/svc-pacto", "ghcr.io"),
            ("oci://ghcr.io/org/svc", "ghcr.io"),
            ("localhost:5000", "localhost:5000"),
            ("https://localhost:5000/v2/", "localhost:5000"),
            ("quay.io", "quay.io"),
            ("", ""),
        ];
        for (input, want) in table {
            assert_eq!(normalize_registry(input), want, "input {input:?}");
        }
    }

    #[test]
    fn docker_hub_is_asked_under_its_v1_address() {
        assert_eq!(
            docker_server_address("index.docker.io"),
            "https://index.docker.io/v1/"
        );
        assert_eq!(docker_server_address("quay.io"), "quay.io");
    }

    #[test]
    fn github_registries() {
        assert!(is_github_registry("ghcr.io"));
        assert!(is_github_registry("docker.pkg.github.com"));
        assert!(!is_github_registry("github.com"));
        assert!(!is_github_registry("index.docker.io"));
    }
}

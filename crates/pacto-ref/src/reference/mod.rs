//! OCI references: remote (`REGISTRY/REPOSITORY[:TAG|@DIGEST]`, parsed with
//! go-containerregistry v0.21.9 `pkg/name` rules) and local layouts
//! (`oci-layout:PATH[:TAG|@DIGEST]`), and [`ArtifactRef`], which is either.
//!
//! Remote parsing follows ggcr's weak validation by default: `ubuntu` means
//! `index.docker.io/library/ubuntu:latest`, a first path component is the registry only when
//! it is `localhost` or contains `.` or `:`, `docker.io` becomes `index.docker.io`, and
//! nothing is lowercased. [`ParseOptions`] carries ggcr's options (strict validation,
//! insecure, default registry, default tag) plus pacto's per-host insecure list.

mod artifact;
mod host;
mod layout;

use crate::Digest;
use std::fmt;
use std::str::FromStr;

pub use artifact::ArtifactRef;
pub use layout::{LAYOUT_PREFIX, LayoutReference};

/// Docker Hub's registry name, where unqualified references go (ggcr `DefaultRegistry`).
pub const DEFAULT_REGISTRY: &str = "index.docker.io";
/// The tag a full remote reference gets when it names none (ggcr `DefaultTag`).
pub const DEFAULT_TAG: &str = "latest";
/// The prefix Go pacto strips from remote references.
pub const OCI_PREFIX: &str = "oci://";

const DOCKER_IO: &str = "docker.io";
const TAG_CHARS: &str = "abcdefghijklmnopqrstuvwxyz0123456789_-.ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const REPOSITORY_CHARS: &str = "abcdefghijklmnopqrstuvwxyz0123456789_-./";

/// A URL scheme for talking to a registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// TLS.
    Https,
    /// Plain HTTP.
    Http,
}

impl Scheme {
    /// `"https"` or `"http"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Https => "https",
            Self::Http => "http",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which schemes a transport may use for a registry, and in which order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SchemePolicy {
    /// TLS only; never fall back to plain HTTP.
    HttpsOnly,
    /// ggcr marks the host `http` on its own (loopback with a port, RFC 1918, `*.localhost`,
    /// `127.0.0.1`, `::1`): try https first and fall back to plain http only when https
    /// fails, as ggcr's transport does.
    HttpsThenHttp,
    /// The host was declared insecure (ggcr `name.Insecure`, `--plain-http`,
    /// `PACTO_INSECURE_REGISTRIES`): plain http only, as `oras --plain-http`.
    HttpOnly,
}

impl SchemePolicy {
    /// The schemes to try, in order.
    pub fn schemes(self) -> &'static [Scheme] {
        match self {
            Self::HttpsOnly => &[Scheme::Https],
            Self::HttpsThenHttp => &[Scheme::Https, Scheme::Http],
            Self::HttpOnly => &[Scheme::Http],
        }
    }
}

impl fmt::Display for SchemePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::HttpsOnly => "https only",
            Self::HttpsThenHttp => "https, then http",
            Self::HttpOnly => "http only",
        })
    }
}

/// How to parse remote references (ggcr `name.Option`s plus pacto's insecure host list).
///
/// The struct is `#[non_exhaustive]`: start from [`ParseOptions::default`] (ggcr's
/// defaults) or [`ParseOptions::untagged`] and change what you need with the `with_*`
/// methods.
///
/// ```
/// use pacto_ref::{ParseOptions, Reference, Scheme};
/// let options = ParseOptions::untagged()
///     .with_default_registry("ghcr.io")
///     .with_insecure_hosts(["registry.internal:5000"]);
/// let r = Reference::parse_with("acme/payments", &options).unwrap();
/// assert_eq!(r.to_string(), "ghcr.io/acme/payments");
/// let r = Reference::parse_with("registry.internal:5000/acme/payments", &options).unwrap();
/// assert_eq!(r.registry().scheme(), Scheme::Http);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseOptions {
    /// The registry for references that name none (ggcr `WithDefaultRegistry`); an empty
    /// string means [`DEFAULT_REGISTRY`].
    pub default_registry: String,
    /// The tag for references that name neither tag nor digest (ggcr `WithDefaultTag`);
    /// `None` keeps such references untagged, so a resolver can pick a semver tag.
    pub default_tag: Option<String>,
    /// ggcr `StrictValidation`: the registry, the `library/` namespace and the tag must be
    /// spelled out.
    pub strict: bool,
    /// ggcr `name.Insecure`: every registry is insecure (plain http).
    pub insecure: bool,
    /// Hosts spoken to over plain http only (`--plain-http`, `PACTO_INSECURE_REGISTRIES`),
    /// compared with the registry name after `docker.io` is rewritten.
    pub insecure_hosts: Vec<String>,
}

impl Default for ParseOptions {
    /// ggcr's defaults: weak validation, [`DEFAULT_REGISTRY`], tag [`DEFAULT_TAG`], secure.
    fn default() -> Self {
        Self {
            default_registry: DEFAULT_REGISTRY.to_owned(),
            default_tag: Some(DEFAULT_TAG.to_owned()),
            strict: false,
            insecure: false,
            insecure_hosts: Vec::new(),
        }
    }
}

impl ParseOptions {
    /// The defaults, except that a reference without tag or digest stays untagged.
    pub fn untagged() -> Self {
        Self {
            default_tag: None,
            ..Self::default()
        }
    }

    /// These options with references that name no registry going to `registry` (ggcr
    /// `WithDefaultRegistry`; empty: [`DEFAULT_REGISTRY`]).
    #[must_use]
    pub fn with_default_registry(mut self, registry: impl Into<String>) -> Self {
        self.default_registry = registry.into();
        self
    }

    /// These options with references that name neither tag nor digest getting `tag` (ggcr
    /// `WithDefaultTag`); [`ParseOptions::untagged`] keeps them untagged instead.
    #[must_use]
    pub fn with_default_tag(mut self, tag: impl Into<String>) -> Self {
        self.default_tag = Some(tag.into());
        self
    }

    /// These options with ggcr's strict validation on or off.
    #[must_use]
    pub fn with_strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// These options with every registry insecure (plain http, ggcr `name.Insecure`) or not.
    #[must_use]
    pub fn with_insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// These options with `hosts` (and only them) spoken to over plain http.
    #[must_use]
    pub fn with_insecure_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.insecure_hosts = hosts.into_iter().map(Into::into).collect();
        self
    }

    fn default_registry(&self) -> &str {
        if self.default_registry.is_empty() {
            DEFAULT_REGISTRY
        } else {
            &self.default_registry
        }
    }

    fn default_tag(&self) -> Option<&str> {
        self.default_tag.as_deref().filter(|t| !t.is_empty())
    }

    fn lists_insecure(&self, registry: &str) -> bool {
        self.insecure
            || self
                .insecure_hosts
                .iter()
                .map(|h| h.trim())
                .any(|h| h == registry || (h == DOCKER_IO && registry == DEFAULT_REGISTRY))
    }
}

/// A reference, layout path or registry name that could not be parsed.
///
/// [`reason`](Self::reason) is go-containerregistry's error text; for a full reference that
/// is `could not parse reference: INPUT`, and [`tag_form_reason`](Self::tag_form_reason) and
/// [`digest_form_reason`](Self::digest_form_reason) say why each reading failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidReference {
    input: String,
    reason: String,
    tag_form: Option<String>,
    digest_form: Option<String>,
}

impl InvalidReference {
    pub(crate) fn new(input: &str, reason: impl Into<String>) -> Self {
        Self {
            input: input.to_owned(),
            reason: reason.into(),
            tag_form: None,
            digest_form: None,
        }
    }

    /// The text that failed to parse.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// Whether the input starts with a URL scheme (`http://`, `https://`), which references
    /// never carry: plain HTTP is a property of the registry, declared separately.
    pub fn has_url_scheme(&self) -> bool {
        let s = strip_oci_prefix(&self.input);
        s.starts_with("http://") || s.starts_with("https://")
    }

    /// Why, in go-containerregistry's words.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Why the input is not `NAME[:TAG]` (ggcr `NewTag`'s error), for full references.
    pub fn tag_form_reason(&self) -> Option<&str> {
        self.tag_form.as_deref()
    }

    /// Why the input is not `NAME@DIGEST` (ggcr `NewDigest`'s error), for full references.
    pub fn digest_form_reason(&self) -> Option<&str> {
        self.digest_form.as_deref()
    }
}

impl fmt::Display for InvalidReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid OCI reference {:?}: {}", self.input, self.reason)?;
        match (&self.tag_form, &self.digest_form) {
            (Some(tag), Some(digest)) => {
                write!(f, " (as NAME[:TAG]: {tag}; as NAME@DIGEST: {digest})")
            }
            (Some(one), None) | (None, Some(one)) => write!(f, " ({one})"),
            (None, None) => Ok(()),
        }
    }
}

impl std::error::Error for InvalidReference {}

/// ggcr `checkElement`: length in characters first, then the character set.
fn check_element(
    what: &str,
    element: &str,
    allowed: &str,
    min: usize,
    max: usize,
) -> Result<(), String> {
    let count = element.chars().count();
    if count < min || count > max {
        Err(format!(
            "{what} must be between {min} and {max} characters in length: {element}"
        ))
    } else if element.chars().any(|c| !allowed.contains(c)) {
        Err(format!(
            "{what} can only contain the characters `{allowed}`: {element}"
        ))
    } else {
        Ok(())
    }
}

/// ggcr `checkTag`.
pub(crate) fn check_tag(tag: &str) -> Result<(), String> {
    check_element("tag", tag, TAG_CHARS, 1, 128)
}

/// ggcr v0.21.9 `NewDigest`'s digest check (go-digest `Canonical.Validate`): `sha256:` and
/// 64 lowercase hex digits, with ggcr's messages.
pub(crate) fn check_digest(digest: &str) -> Result<Digest, String> {
    let Some(hex) = digest.strip_prefix("sha256:") else {
        return Err(format!("unsupported digest algorithm: {digest}"));
    };
    if hex.len() != 64 {
        return Err("invalid checksum digest length".to_owned());
    }
    if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err("invalid checksum digest format".to_owned());
    }
    Digest::parse(digest).map_err(|e| e.to_string())
}

/// A registry host (ggcr `name.Registry`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Registry {
    name: String,
    insecure: bool,
}

impl Registry {
    /// ggcr `NewRegistry`: validates `name` as an RFC 3986 authority (`host[:port]`), fills
    /// in the default registry for `""` and rewrites `docker.io` to `index.docker.io`.
    ///
    /// ```
    /// use pacto_ref::{ParseOptions, Registry, Scheme};
    /// let r = Registry::parse("localhost:5000", &ParseOptions::default()).unwrap();
    /// assert_eq!(r.scheme(), Scheme::Http);
    /// assert!(Registry::parse("host:port", &ParseOptions::default()).is_err());
    /// ```
    pub fn parse(name: &str, opts: &ParseOptions) -> Result<Self, InvalidReference> {
        new_registry(name, opts).map_err(|reason| InvalidReference::new(name, reason))
    }

    /// The registry name, e.g. `ghcr.io` or `localhost:5000`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the registry was declared insecure (plain http only).
    pub fn is_insecure(&self) -> bool {
        self.insecure
    }

    /// ggcr `Registry.Scheme()`: `http` for an insecure registry, RFC 1918 IPv4,
    /// `localhost:PORT`, `*.localhost[:PORT]`, `127.0.0.1[:PORT]` and `::1`/`[::1][:PORT]`;
    /// `https` otherwise (bare `localhost` is `https`).
    pub fn scheme(&self) -> Scheme {
        if self.insecure || host::ggcr_says_http(&self.name) {
            Scheme::Http
        } else {
            Scheme::Https
        }
    }

    /// How a transport should connect: see [`SchemePolicy`].
    pub fn policy(&self) -> SchemePolicy {
        if self.insecure {
            SchemePolicy::HttpOnly
        } else if host::ggcr_says_http(&self.name) {
            SchemePolicy::HttpsThenHttp
        } else {
            SchemePolicy::HttpsOnly
        }
    }
}

impl fmt::Display for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

fn new_registry(name: &str, opts: &ParseOptions) -> Result<Registry, String> {
    if opts.strict && name.is_empty() {
        return Err("strict validation requires the registry to be explicitly defined".to_owned());
    }
    if !host::valid_authority(name) {
        return Err(format!(
            "registries must be valid RFC 3986 URI authorities: {name}"
        ));
    }
    let name = if name.is_empty() {
        opts.default_registry()
    } else {
        name
    };
    let name = if name == DOCKER_IO {
        DEFAULT_REGISTRY
    } else {
        name
    };
    Ok(Registry {
        insecure: opts.lists_insecure(name),
        name: name.to_owned(),
    })
}

/// ggcr `NewRepository`: the registry and the repository path (with Docker Hub's implicit
/// `library/` added).
fn new_repository_impl(name: &str, opts: &ParseOptions) -> Result<(Registry, String), String> {
    if name.is_empty() {
        return Err("a repository name must be specified".to_owned());
    }
    let (registry, repo) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (first, rest),
        _ => ("", name),
    };
    check_element("repository", repo, REPOSITORY_CHARS, 2, 255)?;
    let registry = new_registry(registry, opts)?;
    let implicit_namespace = !repo.contains('/') && registry.name == DEFAULT_REGISTRY;
    if implicit_namespace && opts.strict {
        return Err(
            "strict validation requires the full repository path (missing 'library')".to_owned(),
        );
    }
    let repo = if implicit_namespace {
        format!("library/{repo}")
    } else {
        repo.to_owned()
    };
    Ok((registry, repo))
}

/// ggcr `NewTag`.
fn new_tag(name: &str, opts: &ParseOptions) -> Result<Reference, String> {
    let mut base = name;
    let mut tag = "";
    if let Some(colon) = name.rfind(':') {
        let last = &name[colon + 1..];
        if !last.contains('/') {
            if last.is_empty() {
                return Err(format!("{name} must specify a tag name after the colon"));
            }
            base = &name[..colon];
            tag = last;
        }
    }
    if !tag.is_empty() || opts.strict {
        check_tag(tag)?;
    }
    let tag = if tag.is_empty() {
        opts.default_tag()
    } else {
        Some(tag)
    };
    let (registry, repository) = new_repository_impl(base, opts)?;
    Ok(Reference {
        registry,
        repository,
        tag: tag.map(str::to_owned),
        digest: None,
    })
}

/// ggcr v0.21.9 `NewDigest`: a tag before the `@` is validated and dropped.
fn new_digest(name: &str, opts: &ParseOptions) -> Result<Reference, String> {
    let (base, digest) = match name.split_once('@') {
        Some((base, digest)) if !digest.contains('@') => (base, digest),
        _ => {
            return Err(format!(
                "a digest must contain exactly one '@' separator (e.g. registry/repository@digest) saw: {name}"
            ));
        }
    };
    let digest = check_digest(digest)?;
    let base = match new_tag(base, opts) {
        Ok(tagged) => tagged.repository_name(),
        Err(_) => base.to_owned(),
    };
    let (registry, repository) = new_repository_impl(&base, opts)?;
    Ok(Reference {
        registry,
        repository,
        tag: None,
        digest: Some(digest),
    })
}

/// ggcr `NewRepository`: parses `REGISTRY/REPOSITORY` (no tag, no digest) into the registry
/// and the repository path.
///
/// ```
/// use pacto_ref::{new_repository, ParseOptions};
/// let (registry, repo) = new_repository("ubuntu", &ParseOptions::default()).unwrap();
/// assert_eq!((registry.name(), repo.as_str()), ("index.docker.io", "library/ubuntu"));
/// ```
pub fn new_repository(
    s: &str,
    opts: &ParseOptions,
) -> Result<(Registry, String), InvalidReference> {
    new_repository_impl(s, opts).map_err(|reason| InvalidReference::new(s, reason))
}

/// Whether a raw reference string names a tag or digest (Go pacto `HasExplicitTag`): it
/// contains `@`, or its last `:` comes after its last `/`. An `oci://` prefix is ignored.
///
/// ```
/// use pacto_ref::has_explicit_tag;
/// assert!(!has_explicit_tag("localhost:5000/repo"));
/// assert!(has_explicit_tag("repo:v1"));
/// ```
pub fn has_explicit_tag(s: &str) -> bool {
    let s = strip_oci_prefix(s);
    if s.contains('@') {
        return true;
    }
    match (s.rfind(':'), s.rfind('/')) {
        (Some(colon), Some(slash)) => colon > slash,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// `s` without a leading `oci://`, as Go pacto strips it.
pub fn strip_oci_prefix(s: &str) -> &str {
    s.strip_prefix(OCI_PREFIX).unwrap_or(s)
}

/// A remote OCI reference (ggcr `name.Reference`): registry, repository, and a tag or a
/// digest (or neither, when parsed with [`ParseOptions::untagged`]).
///
/// [`Display`](fmt::Display) is ggcr's `Name()`: `registry/repository:tag`,
/// `registry/repository@digest`, or `registry/repository` when untagged; parsing it again
/// with the same options gives an equal reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: Registry,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// ggcr `name.ParseReference` with weak validation and default tag `latest`, after
    /// stripping an `oci://` prefix.
    ///
    /// ```
    /// use pacto_ref::Reference;
    /// let r = Reference::parse("oci://ubuntu").unwrap();
    /// assert_eq!(r.to_string(), "index.docker.io/library/ubuntu:latest");
    /// ```
    pub fn parse(s: &str) -> Result<Self, InvalidReference> {
        Self::parse_with(s, &ParseOptions::default())
    }

    /// ggcr `name.ParseReference` with the given options, after stripping an `oci://`
    /// prefix: the tag form (`NAME[:TAG]`) first, then the digest form (`NAME@DIGEST`).
    pub fn parse_with(s: &str, opts: &ParseOptions) -> Result<Self, InvalidReference> {
        let raw = s;
        let s = strip_oci_prefix(raw);
        if s.starts_with("http://") || s.starts_with("https://") {
            return Err(InvalidReference::new(
                raw,
                format!(
                    "image reference must not contain a URL scheme (http:// or https://): {s}; \
                     plain HTTP is declared per registry, not in the reference"
                ),
            ));
        }
        let tag_err = match new_tag(s, opts) {
            Ok(r) => return Ok(r),
            Err(e) => e,
        };
        let digest_err = match new_digest(s, opts) {
            Ok(r) => return Ok(r),
            Err(e) => e,
        };
        Err(InvalidReference {
            input: raw.to_owned(),
            reason: format!("could not parse reference: {s}"),
            tag_form: Some(tag_err),
            digest_form: Some(digest_err),
        })
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The repository path within the registry, e.g. `library/ubuntu`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The registry's scheme ([`Registry::scheme`]).
    pub fn scheme(&self) -> Scheme {
        self.registry.scheme()
    }

    /// `registry/repository` (ggcr `Repository.Name()`).
    pub fn repository_name(&self) -> String {
        format!("{}/{}", self.registry.name, self.repository)
    }

    /// The same repository at `tag`; any digest is dropped. The tag is not validated: use it
    /// with tags that came from a registry or from [`best_tag`](crate::best_tag).
    pub fn with_tag(&self, tag: &str) -> Self {
        Self {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        }
    }

    /// The same repository at `digest`; any tag is dropped.
    pub fn with_digest(&self, digest: &Digest) -> Self {
        Self {
            tag: None,
            digest: Some(digest.clone()),
            ..self.clone()
        }
    }

    /// The same repository with neither tag nor digest.
    pub fn untagged(&self) -> Self {
        Self {
            tag: None,
            digest: None,
            ..self.clone()
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Parsing strips one `oci://`: a reference that would print starting with it
        // (registry `oci:`, repository `/...`, as ggcr accepts `oci://oci://x`) keeps it by
        // printing it twice, so that it parses back to itself.
        if self.registry.name == "oci:" && self.repository.starts_with('/') {
            f.write_str(OCI_PREFIX)?;
        }
        write!(f, "{}/{}", self.registry.name, self.repository)?;
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")
        } else if let Some(tag) = &self.tag {
            write!(f, ":{tag}")
        } else {
            Ok(())
        }
    }
}

impl FromStr for Reference {
    type Err = InvalidReference;

    /// [`Reference::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

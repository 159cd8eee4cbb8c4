//! References to local OCI image layouts: `oci-layout:PATH[:TAG|@DIGEST]`.

use crate::Digest;
use std::fmt;
use std::path::Path;

use super::{InvalidReference, check_digest, check_tag};

/// The prefix that marks a layout reference.
pub const LAYOUT_PREFIX: &str = "oci-layout:";

/// A reference into a local OCI image layout directory (the `oci:PATH:TAG` of skopeo,
/// `--oci-layout PATH:TAG` of ORAS), written `oci-layout:PATH[:TAG|@DIGEST]`.
///
/// `PATH` may be relative or absolute. In the last path component, an `@` starts a digest
/// (`sha256:` + 64 lowercase hex digits) and otherwise the last `:` starts a tag (validated
/// like an OCI tag); a tag written before a digest is validated and dropped, as ggcr does
/// for remote references.
///
/// ```
/// use pacto_ref::LayoutReference;
/// let r = LayoutReference::parse("oci-layout:./store/svc:1.2.0").unwrap();
/// assert_eq!(r.path().to_str(), Some("./store/svc"));
/// assert_eq!(r.tag(), Some("1.2.0"));
/// assert_eq!(r.to_string(), "oci-layout:./store/svc:1.2.0");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LayoutReference {
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl LayoutReference {
    /// Parses `oci-layout:PATH[:TAG|@DIGEST]`.
    pub fn parse(s: &str) -> Result<Self, InvalidReference> {
        let Some(rest) = s.strip_prefix(LAYOUT_PREFIX) else {
            return Err(InvalidReference::new(
                s,
                format!("a layout reference must start with {LAYOUT_PREFIX:?}"),
            ));
        };
        let last_component = rest.rfind('/').map_or(0, |i| i + 1);
        let (before_digest, digest) = match rest[last_component..].rfind('@') {
            Some(at) => {
                let at = last_component + at;
                (&rest[..at], Some(&rest[at + 1..]))
            }
            None => (rest, None),
        };
        let (path, tag) = match before_digest[last_component..].rfind(':') {
            Some(colon) => {
                let colon = last_component + colon;
                (&before_digest[..colon], Some(&before_digest[colon + 1..]))
            }
            None => (before_digest, None),
        };
        if path.is_empty() {
            return Err(InvalidReference::new(
                s,
                "a layout path must be specified: oci-layout:PATH[:TAG|@DIGEST]",
            ));
        }
        // Left over when both a tag and a digest were split off (`a:b:t@d`, `a@b@d`): such a
        // path would print back as another reference, so refuse it as `from_path` does.
        if path[last_component..].contains([':', '@']) {
            return Err(InvalidReference::new(
                s,
                "the last component of a layout path cannot contain ':' or '@' (they start a tag or digest)",
            ));
        }
        match tag {
            Some("") => {
                return Err(InvalidReference::new(
                    s,
                    format!("{s} must specify a tag name after the colon"),
                ));
            }
            Some(tag) => check_tag(tag).map_err(|reason| InvalidReference::new(s, reason))?,
            None => {}
        }
        let digest = digest
            .map(|digest| check_digest(digest).map_err(|reason| InvalidReference::new(s, reason)))
            .transpose()?;
        Ok(Self {
            path: path.to_owned(),
            tag: if digest.is_some() {
                None
            } else {
                tag.map(str::to_owned)
            },
            digest,
        })
    }

    /// An untagged reference to the layout at `path`.
    ///
    /// Fails when the path is empty, not UTF-8, or has a `:` or `@` in its last component
    /// (those would read back as a tag or digest).
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, InvalidReference> {
        let path = path.as_ref();
        let Some(text) = path.to_str() else {
            return Err(InvalidReference::new(
                &path.to_string_lossy(),
                "a layout path must be valid UTF-8",
            ));
        };
        let last = &text[text.rfind('/').map_or(0, |i| i + 1)..];
        if text.is_empty() || last.contains([':', '@']) {
            return Err(InvalidReference::new(
                text,
                "a layout path must be non-empty and its last component must not contain ':' or '@'",
            ));
        }
        Ok(Self {
            path: text.to_owned(),
            tag: None,
            digest: None,
        })
    }

    /// The layout directory.
    pub fn path(&self) -> &Path {
        Path::new(&self.path)
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The same layout at `tag`; any digest is dropped. The tag is not validated.
    pub fn with_tag(&self, tag: &str) -> Self {
        Self {
            path: self.path.clone(),
            tag: Some(tag.to_owned()),
            digest: None,
        }
    }

    /// The same layout at `digest`; any tag is dropped.
    pub fn with_digest(&self, digest: &Digest) -> Self {
        Self {
            path: self.path.clone(),
            tag: None,
            digest: Some(digest.clone()),
        }
    }

    /// The same layout with neither tag nor digest.
    pub fn untagged(&self) -> Self {
        Self {
            path: self.path.clone(),
            tag: None,
            digest: None,
        }
    }
}

impl fmt::Display for LayoutReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{LAYOUT_PREFIX}{}", self.path)?;
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")
        } else if let Some(tag) = &self.tag {
            write!(f, ":{tag}")
        } else {
            Ok(())
        }
    }
}

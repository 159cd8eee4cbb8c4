//! [`Digest`]: a validated OCI content digest, `algorithm:hex`.

use std::fmt;
use std::str::FromStr;

/// A hash algorithm an OCI digest may name (the OCI image spec's registered algorithms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// `sha256`: 64 lowercase hex digits (the only algorithm pacto-oci writes).
    Sha256,
    /// `sha512`: 128 lowercase hex digits.
    Sha512,
}

impl DigestAlgorithm {
    /// `"sha256"` or `"sha512"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha512 => "sha512",
        }
    }

    /// The number of hex digits of an encoded hash.
    pub fn hex_len(self) -> usize {
        match self {
            DigestAlgorithm::Sha256 => 64,
            DigestAlgorithm::Sha512 => 128,
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(DigestAlgorithm::Sha256),
            "sha512" => Some(DigestAlgorithm::Sha512),
            _ => None,
        }
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A content digest, `algorithm:hex` (e.g. `sha256:e3b0...`), valid by construction: a
/// registered algorithm and exactly its number of lowercase hex digits (go-digest's
/// `Validate`). Every digest in pacto-oci's signatures is one of these, never a string
/// checked again at each use.
///
/// ```
/// use pacto_ref::{Digest, DigestAlgorithm};
/// let d: Digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
///     .parse()
///     .unwrap();
/// assert_eq!(d.algorithm(), DigestAlgorithm::Sha256);
/// assert_eq!(&d.hex()[..8], "e3b0c442");
/// assert!("sha256:E3B0".parse::<Digest>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: DigestAlgorithm,
    /// `algorithm:hex`, kept whole so that `as_str` borrows.
    text: String,
}

/// Why a string is not a [`Digest`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidDigest {
    /// No `algorithm:` prefix.
    #[error("invalid digest {input:?}: expected algorithm:hex")]
    #[non_exhaustive]
    Form {
        /// The input.
        input: String,
    },
    /// An algorithm other than sha256 or sha512.
    #[error("invalid digest {input:?}: unsupported digest algorithm {algorithm:?}")]
    #[non_exhaustive]
    Algorithm {
        /// The input.
        input: String,
        /// The algorithm it named.
        algorithm: String,
    },
    /// Not exactly the algorithm's number of lowercase hex digits.
    #[error("invalid digest {input:?}: {algorithm} needs {expected} lowercase hex digits")]
    #[non_exhaustive]
    Encoding {
        /// The input.
        input: String,
        /// The algorithm.
        algorithm: DigestAlgorithm,
        /// The number of hex digits it needs.
        expected: usize,
    },
}

impl Digest {
    /// Parses and validates `algorithm:hex`.
    pub fn parse(s: &str) -> Result<Self, InvalidDigest> {
        let Some((name, hex)) = s.split_once(':') else {
            return Err(InvalidDigest::Form {
                input: s.to_owned(),
            });
        };
        let Some(algorithm) = DigestAlgorithm::from_name(name) else {
            return Err(InvalidDigest::Algorithm {
                input: s.to_owned(),
                algorithm: name.to_owned(),
            });
        };
        let lower_hex = hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if hex.len() != algorithm.hex_len() || !lower_hex {
            return Err(InvalidDigest::Encoding {
                input: s.to_owned(),
                algorithm,
                expected: algorithm.hex_len(),
            });
        }
        Ok(Digest {
            algorithm,
            text: s.to_owned(),
        })
    }

    /// The sha256 digest whose hash is `hash` (as a hasher outputs it).
    pub fn from_sha256(hash: [u8; 32]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(7 + 64);
        text.push_str("sha256:");
        for byte in hash {
            text.push(HEX[usize::from(byte >> 4)] as char);
            text.push(HEX[usize::from(byte & 0xf)] as char);
        }
        Digest {
            algorithm: DigestAlgorithm::Sha256,
            text,
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }

    /// The hex-encoded hash, without the algorithm.
    pub fn hex(&self) -> &str {
        &self.text[self.algorithm.as_str().len() + 1..]
    }

    /// `algorithm:hex`.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.text)
    }
}

impl FromStr for Digest {
    type Err = InvalidDigest;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl TryFrom<String> for Digest {
    type Error = InvalidDigest;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Digest::parse(&s)
    }
}

impl TryFrom<&str> for Digest {
    type Error = InvalidDigest;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Digest::parse(s)
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl PartialEq<str> for Digest {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for Digest {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl PartialEq<String> for Digest {
    fn eq(&self, other: &String) -> bool {
        self.text == *other
    }
}

impl From<Digest> for String {
    fn from(digest: Digest) -> String {
        digest.text
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Digest::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn accepts_registered_algorithms_only_in_canonical_form() {
        let d = Digest::parse(EMPTY).unwrap();
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(d.hex().len(), 64);
        let sha512 = format!("sha512:{}", "a".repeat(128));
        assert_eq!(
            Digest::parse(&sha512).unwrap().algorithm(),
            DigestAlgorithm::Sha512
        );
        for bad in [
            "",
            "sha256",
            "sha256:",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "md5:d41d8cd98f00b204e9800998ecf8427e",
            "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g",
            "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn from_sha256_encodes_lowercase_hex() {
        let mut hash = [0u8; 32];
        hash[0] = 0xab;
        hash[31] = 0x0f;
        let d = Digest::from_sha256(hash);
        assert_eq!(Digest::parse(d.as_str()).unwrap(), d);
        assert!(d.hex().starts_with("ab00"));
        assert!(d.hex().ends_with("0f"));
    }

    #[test]
    fn serde_round_trip_validates() {
        let d = Digest::parse(EMPTY).unwrap();
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{EMPTY}\""));
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
        assert!(serde_json::from_str::<Digest>("\"sha256:nothex\"").is_err());
    }
}

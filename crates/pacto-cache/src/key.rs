//! File names for reference records: injective, traversal-proof, case-insensitive safe.
//!
//! A record lives at `refs/<repository key>/<identifier key>`. Each key is a one-byte kind
//! marker followed by either
//! - `-` and the input with every byte outside `[a-z0-9_-]` written as `%XX` (two uppercase
//!   hex digits), or
//! - `~` and the lowercase hex SHA-256 of the input, when the escaped form would be longer
//!   than [`MAX_ESCAPED`] bytes.
//!
//! Why this is safe:
//! - the escaped alphabet has no `/`, `\`, `.` or NUL, so no key is `.`, `..`, hidden, or a
//!   path with more than one component;
//! - escaping is injective (a literal `%` is itself escaped, so every `%` starts an escape),
//!   and stays injective on case-insensitive file systems: upper-case letters are escaped,
//!   so the only upper-case characters in a key are escape digits, which are always upper
//!   case;
//! - `-` and `~` cannot appear in each other's position, so an escaped key never equals a
//!   hashed one; hashed keys rely on SHA-256 collision resistance, and the record also
//!   stores the full reference, which is compared on every read.

/// Longest escaped form kept readable; longer inputs are hashed (file names are limited to
/// 255 bytes on common file systems, and the kind marker and separator add two).
pub(crate) const MAX_ESCAPED: usize = 200;

/// The kind of name a key encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// `registry/repository`.
    Repository,
    /// A tag.
    Tag,
    /// A digest.
    Digest,
}

impl KeyKind {
    fn marker(self) -> char {
        match self {
            KeyKind::Repository => 'r',
            KeyKind::Tag => 't',
            KeyKind::Digest => 'd',
        }
    }
}

/// Escapes every byte outside `[a-z0-9_-]` as `%XX`.
pub(crate) fn escape(input: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(input.len());
    for &b in input.as_bytes() {
        if b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-' {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// The file name for `input` of `kind`.
pub(crate) fn key(kind: KeyKind, input: &str) -> String {
    let escaped = escape(input);
    if escaped.len() <= MAX_ESCAPED {
        format!("{}-{escaped}", kind.marker())
    } else {
        format!(
            "{}~{}",
            kind.marker(),
            pacto_fs::sha256(input.as_bytes()).hex()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_outside_the_safe_alphabet() {
        let cases = [
            ("abc-0_9", "abc-0_9"),
            ("1.0.0", "1%2E0%2E0"),
            ("..", "%2E%2E"),
            ("a/b", "a%2Fb"),
            ("V1", "%561"),
            ("50%", "50%25"),
            ("%2E", "%252%45"),
            ("a\0b", "a%00b"),
            ("sha256:ab", "sha256%3Aab"),
            ("é", "%C3%A9"),
        ];
        for (input, expected) in cases {
            assert_eq!(escape(input), expected, "escape({input:?})");
        }
    }

    #[test]
    fn keys_are_single_safe_components() {
        for input in [
            "",
            ".",
            "..",
            "../x",
            "/etc/passwd",
            "a\\b",
            "\0",
            "%00",
            "x:1",
            ".",
        ] {
            for kind in [KeyKind::Repository, KeyKind::Tag, KeyKind::Digest] {
                let k = key(kind, input);
                assert!(!k.is_empty() && k.len() <= 255, "{k:?}");
                assert!(!k.starts_with('.'), "{k:?}");
                assert!(
                    k.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"%-_~".contains(&b)),
                    "{k:?}"
                );
            }
        }
    }

    #[test]
    fn long_inputs_are_hashed_and_stay_distinct() {
        let long_a = "a".repeat(300);
        let long_b = format!("{}b", "a".repeat(299));
        let ka = key(KeyKind::Tag, &long_a);
        let kb = key(KeyKind::Tag, &long_b);
        assert!(ka.starts_with("t~") && ka.len() == 66, "{ka}");
        assert_ne!(ka, kb);
        // Exactly at the limit stays readable.
        let edge = "a".repeat(MAX_ESCAPED);
        assert_eq!(key(KeyKind::Tag, &edge), format!("t-{edge}"));
    }

    #[test]
    fn kinds_never_share_a_key() {
        assert_ne!(key(KeyKind::Tag, "x"), key(KeyKind::Digest, "x"));
        assert_ne!(key(KeyKind::Tag, "x"), key(KeyKind::Repository, "x"));
    }
}

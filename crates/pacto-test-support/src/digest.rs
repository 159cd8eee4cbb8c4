//! Content digests in the form the OCI distribution API uses.

use std::fmt::Write as _;

/// The lowercase hex SHA-256 of `bytes` (64 characters).
pub fn sha256_hex(bytes: impl AsRef<[u8]>) -> String {
    let sum = ring::digest::digest(&ring::digest::SHA256, bytes.as_ref());
    let mut hex = String::with_capacity(64);
    for byte in sum.as_ref() {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// The OCI digest of `bytes`: `sha256:` followed by [`sha256_hex`].
pub fn digest(bytes: impl AsRef<[u8]>) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_known_vectors() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                b"{}",
                "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            ),
            (
                b"abc",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
        ];
        for (input, hex) in cases {
            assert_eq!(sha256_hex(input), *hex);
            assert_eq!(digest(input), format!("sha256:{hex}"));
        }
    }
}

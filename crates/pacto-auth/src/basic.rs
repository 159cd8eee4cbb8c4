//! The `auth` field shared by pacto's and Docker's config files: base64 of `user:password`.

use base64::Engine;
use base64::alphabet::STANDARD;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD as ENCODER};

use crate::credential::{Credential, Secret};

/// Decodes standard base64 with or without padding (Docker writes it padded, some
/// tools do not).
const DECODER: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// `base64("user:password")` with padding, as Go's `base64.StdEncoding` writes it.
pub(crate) fn encode(username: &str, password: &Secret) -> Secret {
    // Built at its final capacity so no reallocation leaves a copy behind; the
    // `Secret` wrapper overwrites it when dropped.
    let mut joined = String::with_capacity(username.len() + 1 + password.expose().len());
    joined.push_str(username);
    joined.push(':');
    joined.push_str(password.expose());
    let joined = Secret::new(joined);
    Secret::new(ENCODER.encode(joined.expose().as_bytes()))
}

/// Decodes an `auth` value into basic credentials; `None` when it is not base64 of
/// UTF-8 `user:password` with both parts non-empty.
pub(crate) fn decode(auth: &str) -> Option<Credential> {
    let bytes = DECODER.decode(auth.trim()).ok()?;
    let text = Secret::new(String::from_utf8(bytes).ok()?);
    let (username, password) = text.expose().split_once(':')?;
    if username.is_empty() || password.is_empty() {
        return None;
    }
    Some(Credential::basic(username, password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let encoded = encode("user", &Secret::new("pa:ss"));
        assert_eq!(encoded.expose(), "dXNlcjpwYTpzcw==");
        assert_eq!(
            decode(encoded.expose()),
            Some(Credential::basic("user", "pa:ss"))
        );
    }

    #[test]
    fn decode_table() {
        let table = [
            ("dXNlcjpwYXNz", Some(("user", "pass"))),
            ("dXNlcjpwYXNz\n", Some(("user", "pass"))),
            ("dXNlcjpwYTpzcw", Some(("user", "pa:ss"))),
            ("dXNlcg==", None), // "user": no colon
            ("OnBhc3M=", None), // ":pass": empty user
            ("dXNlcjo=", None), // "user:": empty password
            ("not base64!", None),
            ("", None),
            ("/w==", None), // not UTF-8
        ];
        for (input, want) in table {
            let want = want.map(|(u, p)| Credential::basic(u, p));
            assert_eq!(decode(input), want, "input {input:?}");
        }
    }
}

//! TLS: which server certificates are trusted, and what a refused one is called.
//!
//! Verification is rustls' webpki verifier over the system roots plus the CA files
//! (`--ca-file`). One case is added on top, the one curl, skopeo and Go accept and webpki
//! refuses: a server certificate that *is* one of the certificates of a CA file, such as the
//! self-signed certificate `openssl req -x509` makes (it carries `CA:TRUE`, which webpki
//! refuses in an end entity with `CaUsedAsEndEntity`). Such a certificate is trusted after
//! its validity period and its names are checked here; the handshake signatures are still
//! verified by the webpki verifier, with the certificate's own key. Nothing else is relaxed.

use crate::StoreError;
use crate::error::CertificateProblem;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The certificates of the CA files, read and parsed.
pub(crate) fn read_ca_files(paths: &[PathBuf]) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let mut all = Vec::new();
    for path in paths {
        all.extend(read_ca_file(path)?);
    }
    Ok(all)
}

fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let invalid = |action, message: String| {
        StoreError::io(
            action,
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, message),
        )
    };
    let pem = std::fs::read(path).map_err(|e| StoreError::io("cannot read CA file", path, e))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("cannot parse CA file", e.to_string()))?;
    if certificates.is_empty() {
        return Err(invalid(
            "no certificate in CA file",
            "no CERTIFICATE block".to_owned(),
        ));
    }
    Ok(certificates)
}

/// The rustls client configuration every registry connection uses.
pub(crate) fn client_config(
    extra_roots: Vec<CertificateDer<'static>>,
) -> Result<rustls::ClientConfig, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = RegistryVerifier::new(extra_roots, Arc::clone(&provider))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| build_error(format!("tls protocol versions: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    // What reqwest offers when it builds the configuration itself.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

fn build_error(detail: String) -> StoreError {
    StoreError::Unreachable {
        reference: String::new(),
        registry: String::new(),
        transient: false,
        detail: format!("cannot build the HTTP client: {detail}"),
    }
}

/// webpki over the system roots and the CA files, plus the CA files' certificates themselves
/// as trusted server certificates.
#[derive(Debug)]
pub(crate) struct RegistryVerifier {
    /// `None` only when there is no root at all (no system roots, no CA file): then every
    /// certificate has an unknown issuer.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    /// The CA files' certificates, trusted as server certificates too.
    trusted: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
}

impl RegistryVerifier {
    pub(crate) fn new(
        extra_roots: Vec<CertificateDer<'static>>,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, StoreError> {
        let mut roots = rustls::RootCertStore::empty();
        for certificate in &extra_roots {
            roots
                .add(certificate.clone())
                .map_err(|e| build_error(format!("a CA file certificate is not usable: {e}")))?;
        }
        let native = rustls_native_certs::load_native_certs();
        for error in &native.errors {
            tracing::debug!(error = %error, "cannot load a system root certificate");
        }
        let (added, ignored) = roots.add_parsable_certificates(native.certs);
        tracing::debug!(added, ignored, "system root certificates");
        let webpki = if roots.is_empty() {
            tracing::debug!("no root certificate at all: every server certificate is refused");
            None
        } else {
            Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                    .build()
                    .map_err(|e| build_error(format!("tls verifier: {e}")))?,
            )
        };
        Ok(RegistryVerifier {
            webpki,
            trusted: extra_roots,
            provider,
        })
    }

    /// The second chance for a certificate webpki refused as a CA in an end entity: trusted
    /// when it is one of the CA files' certificates, valid now and for `server_name`.
    fn verify_trusted_certificate(
        &self,
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !self
            .trusted
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref())
        {
            // A CA certificate nobody trusts, presented as a server certificate.
            return Err(CertificateError::UnknownIssuer.into());
        }
        let (not_before, not_after) =
            validity(end_entity.as_ref()).ok_or(CertificateError::BadEncoding)?;
        let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        if now < not_before {
            return Err(CertificateError::NotValidYet.into());
        }
        if now > not_after {
            return Err(CertificateError::Expired.into());
        }
        let certificate = webpki::EndEntityCert::try_from(end_entity)
            .map_err(|_| CertificateError::BadEncoding)?;
        certificate
            .verify_is_valid_for_subject_name(server_name)
            .map_err(|e| match e {
                webpki::Error::CertNotValidForName(context) => {
                    CertificateError::NotValidForNameContext {
                        expected: context.expected,
                        presented: context.presented,
                    }
                }
                _ => CertificateError::NotValidForName,
            })?;
        tracing::debug!(
            server = ?server_name,
            "trusting the server certificate found in the CA file"
        );
        Ok(ServerCertVerified::assertion())
    }
}

fn is_ca_used_as_end_entity(error: &rustls::Error) -> bool {
    match error {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => other
            .0
            .downcast_ref::<webpki::Error>()
            .is_some_and(|e| matches!(e, webpki::Error::CaUsedAsEndEntity)),
        _ => false,
    }
}

impl ServerCertVerifier for RegistryVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else {
            return Err(CertificateError::UnknownIssuer.into());
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(error) if is_ca_used_as_end_entity(&error) => {
                self.verify_trusted_certificate(end_entity, server_name, now)
            }
            result => result,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        match &self.webpki {
            Some(webpki) => webpki.verify_tls12_signature(message, cert, dss),
            None => rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            ),
        }
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        match &self.webpki {
            Some(webpki) => webpki.verify_tls13_signature(message, cert, dss),
            None => rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            ),
        }
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        match &self.webpki {
            Some(webpki) => webpki.supported_verify_schemes(),
            None => self
                .provider
                .signature_verification_algorithms
                .supported_schemes(),
        }
    }
}

/// The TLS error somewhere in `error`'s chain. rustls' errors travel inside `io::Error`s,
/// possibly nested (hyper wraps tokio-rustls' one in another), and an `io::Error`'s
/// `source()` skips the error it wraps, so those are opened by hand.
pub(crate) fn tls_error<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(inner) = error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            && let Some(tls) = tls_error(inner)
        {
            return Some(tls);
        }
        current = error.source();
    }
    None
}

/// How an https attempt failed, for the https-then-http rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TlsFailure {
    /// The certificate was refused: final.
    Certificate(CertificateProblem),
    /// The server speaks TLS and the handshake failed for another reason: final too.
    SpokeTls,
    /// No sign of a TLS server (not TLS bytes, a closed or refused connection, a timeout):
    /// plain http may be tried.
    NotTls,
}

pub(crate) fn classify(error: &(dyn std::error::Error + 'static)) -> TlsFailure {
    match tls_error(error) {
        Some(rustls::Error::InvalidCertificate(problem)) => {
            TlsFailure::Certificate(certificate_problem(problem))
        }
        Some(rustls::Error::NoCertificatesPresented) => {
            TlsFailure::Certificate(CertificateProblem::Other {
                description: "the server presented no certificate".into(),
            })
        }
        // Bytes that are not TLS records: a plain http server answering a ClientHello.
        Some(rustls::Error::InvalidMessage(_)) | None => TlsFailure::NotTls,
        Some(_) => TlsFailure::SpokeTls,
    }
}

fn certificate_problem(error: &CertificateError) -> CertificateProblem {
    match error {
        CertificateError::UnknownIssuer => CertificateProblem::UnknownIssuer,
        CertificateError::NotValidForName => CertificateProblem::NameMismatch {
            expected: String::new(),
            presented: Vec::new(),
        },
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => CertificateProblem::NameMismatch {
            expected: server_name_text(expected),
            presented: presented.iter().map(|name| plain_name(name)).collect(),
        },
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            CertificateProblem::Expired
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            CertificateProblem::NotYetValid
        }
        CertificateError::Revoked => CertificateProblem::Revoked,
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            CertificateProblem::InvalidPurpose
        }
        other => CertificateProblem::Other {
            description: other.to_string(),
        },
    }
}

/// A name as webpki presents it (`IpAddress(127.0.0.2)`, `DnsName("r.example")`), plainly.
fn plain_name(presented: &str) -> String {
    for kind in ["IpAddress", "DnsName", "UniformResourceIdentifier"] {
        if let Some(inner) = presented
            .strip_prefix(kind)
            .and_then(|rest| rest.strip_prefix('('))
            .and_then(|rest| rest.strip_suffix(')'))
        {
            return inner.trim_matches('"').to_owned();
        }
    }
    presented.to_owned()
}

fn server_name_text(name: &ServerName<'_>) -> String {
    match name {
        ServerName::DnsName(dns) => dns.as_ref().to_owned(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

/// `(notBefore, notAfter)` of a DER certificate, in seconds since the Unix epoch.
fn validity(der: &[u8]) -> Option<(i64, i64)> {
    const SEQUENCE: u8 = 0x30;
    let (certificate, _) = der::expect(der, SEQUENCE)?;
    let (tbs, _) = der::expect(certificate, SEQUENCE)?;
    let mut rest = tbs;
    // version [0] EXPLICIT, optional
    if rest.first() == Some(&0xA0) {
        rest = der::next(rest)?.2;
    }
    let (_serial, rest) = der::expect(rest, 0x02)?;
    let (_signature, rest) = der::expect(rest, SEQUENCE)?;
    let (_issuer, rest) = der::expect(rest, SEQUENCE)?;
    let (validity, _) = der::expect(rest, SEQUENCE)?;
    let (tag, value, rest) = der::next(validity)?;
    let not_before = der::time(tag, value)?;
    let (tag, value, _) = der::next(rest)?;
    let not_after = der::time(tag, value)?;
    Some((not_before, not_after))
}

/// Just enough DER to read a certificate's validity period.
mod der {
    /// The next element: `(tag, contents, rest)`.
    pub(super) fn next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, input) = input.split_first()?;
        let (&first, input) = input.split_first()?;
        let (length, input) = if first < 0x80 {
            (usize::from(first), input)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || input.len() < count {
                return None;
            }
            let (bytes, input) = input.split_at(count);
            let length = bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (length, input)
        };
        if input.len() < length {
            return None;
        }
        let (contents, rest) = input.split_at(length);
        Some((tag, contents, rest))
    }

    /// The next element, which must have tag `tag`: `(contents, rest)`.
    pub(super) fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
        let (found, contents, rest) = next(input)?;
        (found == tag).then_some((contents, rest))
    }

    /// An X.509 `Time` (UTCTime `YYMMDDHHMMSSZ` or GeneralizedTime `YYYYMMDDHHMMSSZ`) in
    /// seconds since the Unix epoch.
    pub(super) fn time(tag: u8, value: &[u8]) -> Option<i64> {
        let text = std::str::from_utf8(value).ok()?;
        let digits = text.strip_suffix('Z')?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let number = |range: std::ops::Range<usize>| digits.get(range)?.parse::<i64>().ok();
        let (year, rest) = match (tag, digits.len()) {
            (0x17, 12) => {
                let yy = number(0..2)?;
                (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
            }
            (0x18, 14) => (number(0..4)?, 4),
            _ => return None,
        };
        let month = number(rest..rest + 2)?;
        let day = number(rest + 2..rest + 4)?;
        let hour = number(rest + 4..rest + 6)?;
        let minute = number(rest + 6..rest + 8)?;
        let second = number(rest + 8..rest + 10)?;
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
            return None;
        }
        let days = days_from_civil(year, month, day)?;
        Some(days * 86_400 + hour * 3600 + minute * 60 + second.min(60))
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    fn days_from_civil(year: i64, month: i64, day: i64) -> Option<i64> {
        let year = year - i64::from(month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        Some(era * 146_097 + day_of_era - 719_468)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn times_convert_to_unix_seconds() {
            let table: [(u8, &str, Option<i64>); 8] = [
                (0x17, "700101000000Z", Some(0)),
                (0x17, "491231235959Z", Some(2_524_607_999)),
                (0x17, "500101000000Z", Some(-631_152_000)),
                (0x18, "20000229120000Z", Some(951_825_600)),
                (0x18, "99991231235959Z", Some(253_402_300_799)),
                (0x17, "700101000000", None),
                (0x18, "700101000000Z", None),
                (0x17, "701301000000Z", None),
            ];
            for (tag, text, want) in table {
                assert_eq!(time(tag, text.as_bytes()), want, "{text}");
            }
        }

        #[test]
        fn lengths_in_long_form() {
            let mut input = vec![0x04, 0x82, 0x01, 0x00];
            input.extend(std::iter::repeat_n(7u8, 256));
            input.push(0xff);
            let (tag, contents, rest) = next(&input).expect("element");
            assert_eq!((tag, contents.len(), rest), (0x04, 256, &[0xff][..]));
            assert!(next(&[0x04, 0x82, 0x01]).is_none(), "truncated length");
            assert!(next(&[0x04, 0x05, 1, 2]).is_none(), "truncated contents");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_errors_name_their_problem() {
        let table = [
            (CertificateError::UnknownIssuer, "unknown issuer"),
            (CertificateError::Expired, "expired"),
            (CertificateError::NotValidYet, "not valid yet"),
            (
                CertificateError::NotValidForNameContext {
                    expected: ServerName::try_from("127.0.0.1").expect("ip"),
                    presented: vec![
                        "IpAddress(127.0.0.2)".into(),
                        r#"DnsName("r.example")"#.into(),
                    ],
                },
                "name mismatch: it is valid for 127.0.0.2, r.example, not for 127.0.0.1",
            ),
        ];
        for (error, text) in table {
            let error: rustls::Error = error.into();
            let io = std::io::Error::new(std::io::ErrorKind::InvalidData, error);
            match classify(&io) {
                TlsFailure::Certificate(problem) => assert_eq!(problem.to_string(), text),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn only_non_tls_answers_allow_plain_http() {
        let not_tls: rustls::Error =
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, not_tls);
        assert_eq!(classify(&io), TlsFailure::NotTls);
        let eof = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "tls handshake eof");
        assert_eq!(classify(&eof), TlsFailure::NotTls);
        let alert = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure),
        );
        assert_eq!(classify(&alert), TlsFailure::SpokeTls);
        // As hyper hands it over: an io::Error around tokio-rustls' io::Error.
        let nested = std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::from(CertificateError::UnknownIssuer),
        ));
        assert_eq!(
            classify(&nested),
            TlsFailure::Certificate(CertificateProblem::UnknownIssuer)
        );
    }
}

//! Certificates generated at test time: a CA, a loopback server certificate and a token-signing
//! certificate, all ECDSA P-256.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::Error;

/// The subject alternative names of the server certificate.
pub(crate) const SERVER_NAMES: [&str; 3] = ["127.0.0.1", "localhost", "::1"];

/// One test PKI: a CA that signed a server certificate and a token-signing certificate.
pub(crate) struct Pki {
    pub(crate) ca_pem: String,
    ca_der: CertificateDer<'static>,
    pub(crate) server_cert_pem: String,
    pub(crate) server_key_pem: String,
    server_cert_der: CertificateDer<'static>,
    server_key_der: Vec<u8>,
    /// DER of the token-signing certificate (for the JWT `x5c` header).
    pub(crate) signer_cert_der: Vec<u8>,
    /// The token-signing key, producing JWS `ES256` (fixed-size `r || s`) signatures.
    pub(crate) signer_key: EcdsaKeyPair,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki")
            .field("server_names", &SERVER_NAMES)
            .finish_non_exhaustive()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Pki {
    pub(crate) fn generate() -> Result<Pki, Error> {
        let ca_key =
            KeyPair::generate().map_err(|e| Error::crypto("generate the test CA key", e))?;
        let mut ca_params = CertificateParams::default();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "pacto-test-support CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .map_err(|e| Error::crypto("self-sign the test CA", e))?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key =
            KeyPair::generate().map_err(|e| Error::crypto("generate the server key", e))?;
        let names: Vec<String> = SERVER_NAMES.iter().map(|&n| n.to_owned()).collect();
        let mut server_params = CertificateParams::new(names)
            .map_err(|e| Error::crypto("build the server certificate parameters", e))?;
        server_params
            .distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server_params.use_authority_key_identifier_extension = true;
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .map_err(|e| Error::crypto("sign the server certificate", e))?;

        let signer_key =
            KeyPair::generate().map_err(|e| Error::crypto("generate the token-signing key", e))?;
        let mut signer_params = CertificateParams::default();
        signer_params
            .distinguished_name
            .push(DnType::CommonName, "pacto-test-support token signer");
        signer_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        signer_params.use_authority_key_identifier_extension = true;
        let signer_cert = signer_params
            .signed_by(&signer_key, &issuer)
            .map_err(|e| Error::crypto("sign the token-signing certificate", e))?;
        let signing = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            signer_key.serialized_der(),
            &ring::rand::SystemRandom::new(),
        )
        .map_err(|e| Error::crypto("load the token-signing key", e.to_string()))?;

        Ok(Pki {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().clone(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            server_cert_der: server_cert.der().clone(),
            server_key_der: server_key.serialize_der(),
            signer_cert_der: signer_cert.der().to_vec(),
            signer_key: signing,
        })
    }

    /// A rustls server configuration presenting the server certificate (and the CA).
    pub(crate) fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, Error> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key_der.clone()));
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::crypto("configure tls protocol versions", e))?
            .with_no_client_auth()
            .with_single_cert(vec![self.server_cert_der.clone(), self.ca_der.clone()], key)
            .map_err(|e| Error::crypto("configure the tls server certificate", e))?;
        Ok(Arc::new(config))
    }
}

/// A self-signed server certificate marked `CA:TRUE`, as
/// `openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1`
/// makes one (ECDSA P-256 here: ring cannot generate RSA keys).
pub(crate) struct SelfSigned {
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
    pub(crate) cert_der: CertificateDer<'static>,
}

impl SelfSigned {
    /// For the subject alternative names `names` (IP addresses or DNS names); valid around
    /// now, or from 2020-01-01 to 2021-01-01 when `expired`.
    pub(crate) fn generate(names: &[String], expired: bool) -> Result<SelfSigned, Error> {
        let key = KeyPair::generate()
            .map_err(|e| Error::crypto("generate the self-signed certificate's key", e))?;
        let mut params = CertificateParams::new(names.to_vec())
            .map_err(|e| Error::crypto("build the self-signed certificate parameters", e))?;
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().map_or("127.0.0.1", String::as_str),
        );
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = params
            .self_signed(&key)
            .map_err(|e| Error::crypto("self-sign the server certificate", e))?;
        Ok(SelfSigned {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
        })
    }
}

/// A rustls client configuration that accepts exactly the certificate `der`, whatever its
/// names, validity and constraints: test support's own probes of a registry serving a
/// deliberately unusual certificate (the handshake signatures are still verified).
pub(crate) fn pinned_client_config(
    der: CertificateDer<'static>,
) -> Result<Arc<rustls::ClientConfig>, Error> {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::crypto("configure tls protocol versions", e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned {
            der,
            provider: provider(),
        }))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[derive(Debug)]
struct Pinned {
    der: CertificateDer<'static>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.der.as_ref() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::CertificateError::UnknownIssuer.into())
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A rustls client configuration trusting only the CA certificates in `ca_pem`.
pub(crate) fn client_config(ca_pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, Error> {
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|e| Error::crypto("read the CA certificate PEM", e))?;
        roots
            .add(cert)
            .map_err(|e| Error::crypto("trust the CA certificate", e))?;
    }
    if roots.is_empty() {
        return Err(Error::crypto(
            "read the CA certificate PEM",
            "it holds no CERTIFICATE block",
        ));
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::crypto("configure tls protocol versions", e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_a_pki_whose_ca_a_client_can_load() {
        let pki = Pki::generate().expect("pki");
        assert!(pki.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(pki.server_key_pem.contains("PRIVATE KEY"));
        client_config(pki.ca_pem.as_bytes()).expect("client config");
        pki.server_config().expect("server config");
    }

    #[test]
    fn self_signed_certificates_are_ca_and_pinned_configs_build() {
        let cert = SelfSigned::generate(&["127.0.0.1".to_owned()], false).expect("cert");
        assert!(cert.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(cert.key_pem.contains("PRIVATE KEY"));
        // BasicConstraints cA TRUE: OID 2.5.29.19, then a SEQUENCE holding BOOLEAN TRUE.
        let der = cert.cert_der.as_ref();
        let oid = [0x06, 0x03, 0x55, 0x1d, 0x13];
        let at = der
            .windows(oid.len())
            .position(|w| w == oid)
            .expect("a basic constraints extension");
        assert!(
            der[at..(at + 16).min(der.len())]
                .windows(3)
                .any(|w| w == [0x01, 0x01, 0xff]),
            "CA:TRUE"
        );
        pinned_client_config(cert.cert_der).expect("client config");
    }

    #[test]
    fn rejects_a_pem_without_certificates() {
        let error = client_config(b"not a pem").expect_err("no certificate");
        assert!(matches!(error, Error::Crypto { .. }), "{error}");
    }
}

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
    fn rejects_a_pem_without_certificates() {
        let error = client_config(b"not a pem").expect_err("no certificate");
        assert!(matches!(error, Error::Crypto { .. }), "{error}");
    }
}

//! TLS to PostgreSQL with rustls, as libpq's `sslmode` says: whereabouts
//! must not cross the network in clear when the operator asked otherwise.
//!
//! | `sslmode` | encrypted | server certificate checked |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (the default, as libpq) | when the server offers it | no |
//! | `require` | always | against `sslrootcert` when given (as libpq), else no |
//! | `verify-ca` | always | chain to `sslrootcert` |
//! | `verify-full` | always | chain to `sslrootcert`, and the host name |
//!
//! tokio-postgres knows only the first three modes and no `sslrootcert`,
//! so both parameters are taken out of the URL here and the certificate
//! check is rustls's.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::{Result, StoreError};

/// How connections are secured.
pub type Tls = MakeRustlsConnect;

/// What to check of the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Encrypt only: protects against a listener, not an impostor.
    Nothing,
    /// The chain to the configured CA, whatever name the certificate bears.
    Chain,
    /// The chain and the host name.
    ChainAndName,
}

/// The connection settings of a `postgres://` URL and how to secure them.
pub fn connect_settings(url: &str) -> Result<(tokio_postgres::Config, Tls)> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (mut mode, mut root_cert, mut rest) = ("prefer", None, Vec::new());
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", value)) => mode = value,
            Some(("sslrootcert", value)) => root_cert = Some(value),
            _ => rest.push(pair),
        }
    }
    let (ssl_mode, check) = match (mode, root_cert) {
        ("disable", _) => (SslMode::Disable, Check::Nothing),
        ("allow" | "prefer", _) => (SslMode::Prefer, Check::Nothing),
        ("require", None) => (SslMode::Require, Check::Nothing),
        ("require" | "verify-ca", Some(_)) => (SslMode::Require, Check::Chain),
        ("verify-full", Some(_)) => (SslMode::Require, Check::ChainAndName),
        ("verify-ca" | "verify-full", None) => {
            return Err(config_error(format!(
                "sslmode={mode} needs sslrootcert=<the CA's PEM file>"
            )));
        }
        (other, _) => {
            return Err(config_error(format!(
                "sslmode={other}: disable, allow, prefer, require, verify-ca or verify-full"
            )));
        }
    };
    let url = match rest.is_empty() {
        true => base.to_owned(),
        false => format!("{base}?{}", rest.join("&")),
    };
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| config_error(format!("database URL: {e}")))?;
    config.ssl_mode(ssl_mode);
    let roots = root_cert.map(read_roots).transpose()?;
    Ok((config, MakeRustlsConnect::new(client_config(check, roots)?)))
}

fn config_error(why: String) -> StoreError {
    StoreError::Config(why)
}

fn read_roots(path: &str) -> Result<RootCertStore> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| config_error(format!("sslrootcert={path}: {e}")))?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(config_error(format!(
            "sslrootcert={path}: no certificate in it"
        )));
    }
    Ok(roots)
}

fn client_config(check: Check, roots: Option<RootCertStore>) -> Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(format!("TLS: {e}")))?;
    let algorithms = provider.signature_verification_algorithms;
    let chain = match (check, roots) {
        (Check::Nothing, _) | (_, None) => None,
        (check, Some(roots)) => {
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| config_error(format!("sslrootcert: {e}")))?;
            Some((webpki, check == Check::ChainAndName))
        }
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Verifier { chain, algorithms }))
        .with_no_client_auth())
}

/// The server certificate check of each mode. The handshake's signatures
/// are always checked, so even without a chain (`prefer`, `require` without
/// a CA, as libpq) the session is encrypted to whoever holds the
/// certificate's key.
#[derive(Debug)]
struct Verifier {
    /// The chain to check against the CA, and whether the name counts too
    /// (`verify-full`); `None`: any certificate.
    chain: Option<(Arc<WebPkiServerVerifier>, bool)>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let Some((webpki, check_name)) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_sslrootcert_are_ours_the_rest_is_tokio_postgres() {
        let (config, _) =
            connect_settings("postgres://u@127.0.0.1:5432/db?sslmode=require&application_name=x")
                .unwrap();
        assert_eq!(config.get_ssl_mode(), SslMode::Require);
        assert_eq!(config.get_application_name(), Some("x"));
        let (config, _) = connect_settings("postgres://u@127.0.0.1/db").unwrap();
        assert_eq!(config.get_ssl_mode(), SslMode::Prefer, "libpq's default");
        let (config, _) = connect_settings("postgres://u@h/db?sslmode=disable").unwrap();
        assert_eq!(config.get_ssl_mode(), SslMode::Disable);
    }

    #[test]
    fn verification_needs_a_ca_and_a_known_mode() {
        for url in [
            "postgres://u@h/db?sslmode=verify-full",
            "postgres://u@h/db?sslmode=verify-ca",
            "postgres://u@h/db?sslmode=sometimes",
            "postgres://u@h/db?sslmode=verify-full&sslrootcert=/nonexistent.pem",
        ] {
            let error = connect_settings(url).err().expect(url).to_string();
            assert!(error.contains("ssl"), "{url}: {error}");
        }
    }
}

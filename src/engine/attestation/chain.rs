//! Certificate chains: parsed within bounds, with only the signature
//! algorithms attestation uses, then checked link by link at a moment.

use jiff::Timestamp;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION, OID_PKCS1_SHA256WITHRSA,
    OID_PKCS1_SHA384WITHRSA, OID_PKCS1_SHA512WITHRSA, OID_SIG_ECDSA_WITH_SHA256,
    OID_SIG_ECDSA_WITH_SHA384,
};
use x509_parser::prelude::*;
use x509_parser::public_key::PublicKey;

use super::revocation::serial_hex;
use super::{
    AttestedPlatform, CertSummary, DeviceKey, KeyAlgorithm, MAX_CERT_BYTES, MAX_CHAIN_CERTS,
    Malformed,
};

/// Parses each DER certificate of a chain (leaf first).
pub(super) fn parse<'a>(
    field: &str,
    ders: &'a [Vec<u8>],
) -> Result<Vec<X509Certificate<'a>>, Malformed> {
    if ders.is_empty() {
        return Err(Malformed::new(field, "no certificates"));
    }
    if ders.len() > MAX_CHAIN_CERTS {
        return Err(Malformed::new(
            field,
            format!("{} certificates; at most {MAX_CHAIN_CERTS}", ders.len()),
        ));
    }
    ders.iter()
        .enumerate()
        .map(|(i, der)| {
            let field = format!("{field}[{i}]");
            if der.len() > MAX_CERT_BYTES {
                return Err(Malformed::new(
                    field,
                    format!("longer than {MAX_CERT_BYTES} bytes"),
                ));
            }
            let (rest, cert) = X509Certificate::from_der(der)
                .map_err(|e| Malformed::new(&field, format!("not a DER certificate: {e}")))?;
            if !rest.is_empty() {
                return Err(Malformed::new(
                    field,
                    format!("{} bytes after the certificate", rest.len()),
                ));
            }
            let algorithm = &cert.signature_algorithm.algorithm;
            let allowed = [
                OID_PKCS1_SHA256WITHRSA,
                OID_PKCS1_SHA384WITHRSA,
                OID_PKCS1_SHA512WITHRSA,
                OID_SIG_ECDSA_WITH_SHA256,
                OID_SIG_ECDSA_WITH_SHA384,
            ];
            if !allowed.contains(algorithm) {
                return Err(Malformed::new(
                    format!("{field}.signature_algorithm"),
                    format!(
                        "{algorithm} is not allowed; use RSA or ECDSA with SHA-256 or stronger"
                    ),
                ));
            }
            if cert.signature_value.unused_bits != 0 {
                return Err(Malformed::new(
                    format!("{field}.signature_value"),
                    "a signature is whole bytes: the BIT STRING has unused bits",
                ));
            }
            if !same_algorithm_bytes(der) {
                return Err(Malformed::new(
                    format!("{field}.signature_algorithm"),
                    "differs from the algorithm inside the signed part",
                ));
            }
            Ok(cert)
        })
        .collect()
}

/// RFC 5280 4.1.1.2: the outer signatureAlgorithm, which the signature does
/// not cover, must be the very bytes of tbsCertificate.signature, which it
/// does. Compared as raw DER, so that not even a tag may differ.
fn same_algorithm_bytes(der: &[u8]) -> bool {
    use asn1_rs::{Any, FromDer};
    fn split(input: &[u8]) -> Option<(&[u8], &[u8])> {
        let (rest, _) = Any::from_der(input).ok()?;
        Some(input.split_at(input.len() - rest.len()))
    }
    fn content(input: &[u8]) -> Option<&[u8]> {
        Any::from_der(input).ok().map(|(_, any)| any.data)
    }
    (|| {
        let certificate = content(der)?;
        let (tbs, rest) = split(certificate)?;
        let (outer, _) = split(rest)?;
        let mut fields = content(tbs)?;
        // [0] EXPLICIT version is optional; then serialNumber, then signature.
        let (first, after) = split(fields)?;
        fields = if first.first() == Some(&0xa0) {
            split(after)?.1
        } else {
            after
        };
        let (inner, _) = split(fields)?;
        Some(inner == outer)
    })()
    .unwrap_or(false)
}

/// Checks every certificate's validity at `at` and that each is signed by
/// the next one, which must be allowed to issue certificates. Problems go
/// to `invalid`: a chain that parses but does not verify proves nothing.
pub(super) fn check_links(
    field: &str,
    certs: &[X509Certificate<'_>],
    at: Timestamp,
    invalid: &mut Vec<String>,
) {
    let moment = ASN1Time::from_timestamp(at.as_second()).expect("a jiff timestamp is in range");
    for (i, cert) in certs.iter().enumerate() {
        if !cert.validity().is_valid_at(moment) {
            invalid.push(format!(
                "{field}[{i}] is not valid at {at}: valid from {} to {}",
                cert.validity().not_before,
                cert.validity().not_after
            ));
        }
        if let Some(issuer) = certs.get(i + 1) {
            check_issued_by(&format!("{field}[{i}]"), cert, issuer, invalid);
            if let Ok(Some(constraints)) = issuer.basic_constraints()
                && !constraints.value.ca
            {
                invalid.push(format!(
                    "{field}[{}] signs certificates but is not a CA",
                    i + 1
                ));
            }
        }
    }
}

/// Whether `cert` names `issuer` as its issuer and carries its signature.
pub(super) fn check_issued_by(
    what: &str,
    cert: &X509Certificate<'_>,
    issuer: &X509Certificate<'_>,
    invalid: &mut Vec<String>,
) {
    if cert.issuer() != issuer.subject() {
        invalid.push(format!(
            "{what} names issuer {} but is followed by {}",
            cert.issuer(),
            issuer.subject()
        ));
    } else if cert.verify_signature(Some(issuer.public_key())).is_err() {
        invalid.push(format!(
            "{what}'s signature does not verify with its issuer's key"
        ));
    }
}

/// The device key a leaf certifies.
pub(super) fn device_key(
    field: &str,
    leaf: &X509Certificate<'_>,
    platform: AttestedPlatform,
) -> Result<DeviceKey, Malformed> {
    let spki = leaf.public_key();
    let field = format!("{field}.subject_public_key");
    let algorithm = &spki.algorithm.algorithm;
    let (algorithm, public_key) = if *algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok());
        if curve != Some(OID_EC_P256) || spki.subject_public_key.data.len() != 65 {
            return Err(Malformed::new(
                field,
                "an EC key must be an uncompressed P-256 point",
            ));
        }
        (
            KeyAlgorithm::EcdsaP256,
            spki.subject_public_key.data.to_vec(),
        )
    } else if *algorithm == OID_PKCS1_RSAENCRYPTION {
        match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) if rsa.key_size() >= 2048 => {}
            _ => {
                return Err(Malformed::new(
                    field,
                    "an RSA key must have at least 2048 bits",
                ));
            }
        }
        (KeyAlgorithm::Rsa, spki.subject_public_key.data.to_vec())
    } else {
        return Err(Malformed::new(
            field,
            format!("key algorithm {algorithm} is not allowed; use EC P-256 or RSA"),
        ));
    };
    Ok(DeviceKey {
        platform,
        algorithm,
        public_key,
    })
}

pub(super) fn summary(cert: &X509Certificate<'_>) -> CertSummary {
    CertSummary {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: serial_hex(cert.raw_serial()),
        not_before: cert.validity().not_before.to_string(),
        not_after: cert.validity().not_after.to_string(),
    }
}

/// Parses trust anchors (shipped or an operator's), ignoring none silently.
pub(super) fn anchors(ders: &[Vec<u8>]) -> Vec<X509Certificate<'_>> {
    ders.iter()
        .map(|der| {
            X509Certificate::from_der(der)
                .expect("trust anchors are checked when loaded")
                .1
        })
        .collect()
}

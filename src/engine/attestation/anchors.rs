//! The roots an attestation must chain to, shipped in `data/attestation/`
//! (their sources and fingerprints are listed in the README).

use std::sync::OnceLock;

use x509_parser::pem::Pem;

/// Google's hardware attestation roots: the RSA-4096 root in its four
/// issues (2016, 2019, 2021, 2022, one key) and the ECDSA P-384 "Key
/// Attestation CA1" of 2025.
const GOOGLE_ROOTS_PEM: &str =
    include_str!("../../../data/attestation/google-hardware-attestation-roots.pem");
/// The Apple App Attestation Root CA.
const APPLE_ROOT_PEM: &str =
    include_str!("../../../data/attestation/apple-app-attestation-root.pem");

/// Trust anchors as DER certificates.
#[derive(Debug, Clone)]
pub struct Anchors {
    /// A chain is anchored when its last certificate's public key is one
    /// of these roots' keys (Google re-issued one root key several times).
    pub google: Vec<Vec<u8>>,
    /// The root the App Attest intermediate must be signed by.
    pub apple: Vec<Vec<u8>>,
}

impl Anchors {
    /// The roots shipped with punchguard.
    pub fn shipped() -> &'static Anchors {
        static SHIPPED: OnceLock<Anchors> = OnceLock::new();
        SHIPPED.get_or_init(|| Anchors {
            google: pem_certificates(GOOGLE_ROOTS_PEM),
            apple: pem_certificates(APPLE_ROOT_PEM),
        })
    }

    /// These anchors and `extra` roots, trusted for both platforms: for
    /// staging with synthetic devices (see `synthetic_device`), never for
    /// production.
    pub fn with_extra(&self, extra: &[Vec<u8>]) -> Result<Self, String> {
        for (i, der) in extra.iter().enumerate() {
            use x509_parser::prelude::FromDer;
            x509_parser::prelude::X509Certificate::from_der(der)
                .map_err(|e| format!("extra attestation root {i}: {e}"))?;
        }
        let mut anchors = self.clone();
        anchors.google.extend(extra.iter().cloned());
        anchors.apple.extend(extra.iter().cloned());
        Ok(anchors)
    }

    /// Reads PEM certificates (an operator's extra roots).
    pub fn pem_roots(text: &str) -> Result<Vec<Vec<u8>>, String> {
        // Files joined with `cat` often lack the newline between two.
        let text = text.replace(
            "-----END CERTIFICATE----------BEGIN",
            "-----END CERTIFICATE-----\n-----BEGIN",
        );
        let roots = Pem::iter_from_buffer(text.as_bytes())
            .map(|pem| pem.map(|p| p.contents).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        if roots.is_empty() {
            return Err("no PEM certificate".into());
        }
        Ok(roots)
    }
}

fn pem_certificates(text: &str) -> Vec<Vec<u8>> {
    Pem::iter_from_buffer(text.as_bytes())
        .map(|pem| {
            let pem = pem.expect("the shipped roots are valid PEM");
            pem.parse_x509().expect("the shipped roots parse");
            pem.contents
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::*;

    #[test]
    fn shipped_roots_are_the_published_ones() {
        let anchors = Anchors::shipped();
        let fingerprints: Vec<String> = anchors
            .google
            .iter()
            .chain(&anchors.apple)
            .map(|der| hex::encode(super::super::sha256(der)))
            .collect();
        // SHA-256 fingerprints as Google and Apple publish them.
        for expected in [
            "c1984a3ef45c1e2a918551de10603c86f7051b2249c4891cae3230eabd0c97d5",
            "1ef1a04b8ba58ab94589ac498c8982a783f24ea7307e0159a0c3a73b377d87cc",
            "ab6641178a36e179aa0c1cdddf9a16eb45fa20943e2b8cd7c7c05c26cf8b487a",
            "cedb1cb6dc896ae5ec797348bce9286753c2b38ee71ce0fbe34a9a1248800dfc",
            "6d9db4ce6c5c0b293166d08986e05774a8776ceb525d9e4329520de12ba4bcc0",
            "1cb9823ba28ba6ad2d33a006941de2ae4f513ef1d4e831b9f7e0fa7b6242c932",
        ] {
            assert!(fingerprints.iter().any(|f| f == expected), "{expected}");
        }
        let _ = X509Certificate::from_der(&anchors.apple[0]).unwrap();
    }
}

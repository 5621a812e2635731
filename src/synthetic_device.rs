//! Synthetic attesting phones, for the demo, the load generator and tests:
//! a root of one's own, and devices whose attestations chain to it and
//! sign punches as a real Android Keystore key or App Attest key would.
//!
//! A server trusts such a root only when told to (`serve
//! --extra-attestation-roots`): real devices chain to Google's and Apple's
//! roots. Everything here is built with the same crates an attacker would
//! use, which is the point: without the organisation trusting the root,
//! none of it is worth anything.

use ciborium::Value;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, IsCa, Issuer,
    KeyPair, SerialNumber,
};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use yasna::Tag;

use crate::engine::attestation::apple::aaguid;
use crate::engine::attestation::{AppAttestEnvironment, BootState, IosApp, SecurityLevel};

/// A certificate authority of one's own, standing in for Google's and
/// Apple's attestation roots.
pub struct TestRoot {
    params: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
}

impl TestRoot {
    pub fn generate(name: &str) -> Self {
        Self::with_key(name, KeyPair::generate().expect("a P-256 key"))
    }

    /// The root of a key kept in a file (PKCS#8 PEM), so that a server
    /// started with its certificate and a later load generator agree: a
    /// chain is anchored by the root's key and name, not its exact bytes.
    pub fn from_key_pem(name: &str, pem: &str) -> Result<Self, String> {
        Ok(Self::with_key(
            name,
            KeyPair::from_pem(pem).map_err(|e| e.to_string())?,
        ))
    }

    /// The root's private key, PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    fn with_key(name: &str, key: KeyPair) -> Self {
        let params = ca_params(name, 1);
        let der = params
            .self_signed(&key)
            .expect("a self-signed root")
            .der()
            .to_vec();
        TestRoot { params, key, der }
    }

    /// The root certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn pem(&self) -> String {
        pem_of(&self.der)
    }

    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }

    /// An intermediate CA under this root (Android's batch key, Apple's
    /// App Attestation CA).
    fn intermediate(&self, name: &str) -> (CertificateParams, KeyPair, Vec<u8>) {
        let key = KeyPair::generate().expect("a P-256 key");
        let params = ca_params(name, 2);
        let der = params
            .signed_by(&key, &self.issuer())
            .expect("an intermediate")
            .der()
            .to_vec();
        (params, key, der)
    }

    /// An Android phone that generated a Keystore key with `challenge`.
    pub fn android(&self, spec: &AndroidSpec, challenge: &[u8]) -> AndroidDevice {
        let (batch_params, batch_key, batch_der) = self.intermediate("Synthetic attestation batch");
        let key = KeyPair::generate().expect("a P-256 key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name = name("Android Keystore Key");
        params.serial_number = Some(SerialNumber::from(spec.serial.to_be_bytes().to_vec()));
        if let Some((from, to)) = spec.validity {
            params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
            params.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
        }
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 11129, 2, 1, 17],
                key_description(spec, challenge),
            ));
        let leaf = params
            .signed_by(&key, &Issuer::from_params(&batch_params, &batch_key))
            .expect("a leaf")
            .der()
            .to_vec();
        AndroidDevice {
            chain: vec![leaf, batch_der, self.der.clone()],
            key: signing_key(&key),
        }
    }

    /// An iPhone whose App Attest key attested for `app` with `challenge`.
    pub fn ios(&self, app: &IosApp, challenge: &[u8]) -> IosDevice {
        let (ca_params, ca_key, ca_der) = self.intermediate("Synthetic App Attestation CA 1");
        let key = KeyPair::generate().expect("a P-256 key");
        let point = key.public_key_raw().to_vec();
        let key_id = sha256(&point);
        let rp_id_hash = sha256(app.app_id().as_bytes());
        let mut auth_data = rp_id_hash.to_vec();
        auth_data.push(0x40); // attested credential data present
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        auth_data.extend_from_slice(&aaguid(app.environment));
        auth_data.extend_from_slice(&(key_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&key_id);
        let mut composite = auth_data.clone();
        composite.extend_from_slice(&sha256(challenge));
        let nonce = sha256(&composite);
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name = name(&hex::encode(key_id));
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &[1, 2, 840, 113635, 100, 8, 2],
                yasna::construct_der(|w| {
                    w.write_sequence(|w| {
                        w.next()
                            .write_tagged(Tag::context(1), |w| w.write_bytes(&nonce))
                    })
                }),
            ));
        let credential = params
            .signed_by(&key, &Issuer::from_params(&ca_params, &ca_key))
            .expect("a credential certificate")
            .der()
            .to_vec();
        let object = cbor(Value::Map(vec![
            (text("fmt"), text("apple-appattest")),
            (
                text("attStmt"),
                Value::Map(vec![
                    (
                        text("x5c"),
                        Value::Array(vec![Value::Bytes(credential), Value::Bytes(ca_der)]),
                    ),
                    (text("receipt"), Value::Bytes(Vec::new())),
                ]),
            ),
            (text("authData"), Value::Bytes(auth_data)),
        ]));
        IosDevice {
            attestation: object,
            key_id: key_id.to_vec(),
            rp_id_hash,
            key: signing_key(&key),
            counter: 0,
        }
    }
}

/// A calendar date: year, month, day.
pub type Date = (i32, u8, u8);

/// What a synthetic Android attestation claims.
#[derive(Debug, Clone)]
pub struct AndroidSpec {
    pub security_level: SecurityLevel,
    pub device_locked: bool,
    pub boot_state: BootState,
    pub package: String,
    /// SHA-256 of the app's signing certificate.
    pub signing_cert_sha256: [u8; 32],
    /// The leaf certificate's serial number (for revocation tests).
    pub serial: u64,
    /// The leaf's validity, (year, month, day) from and to; rcgen's
    /// default when `None`.
    pub validity: Option<(Date, Date)>,
}

impl AndroidSpec {
    /// A locked phone with a verified OS and a TEE key, running `package`.
    pub fn genuine(package: &str, signing_cert_sha256: [u8; 32]) -> Self {
        AndroidSpec {
            security_level: SecurityLevel::TrustedEnvironment,
            device_locked: true,
            boot_state: BootState::Verified,
            package: package.into(),
            signing_cert_sha256,
            serial: 7,
            validity: None,
        }
    }
}

/// An Android phone with an attested key.
pub struct AndroidDevice {
    /// The certificate chain, DER, leaf first (what EnrolDevice sends).
    pub chain: Vec<Vec<u8>>,
    key: EcdsaKeyPair,
}

impl AndroidDevice {
    /// ECDSA P-256 / SHA-256 over `body`, DER: what SubmitSignedPunch sends.
    pub fn sign(&self, body: &[u8]) -> Vec<u8> {
        self.key
            .sign(&SystemRandom::new(), body)
            .expect("signing never fails")
            .as_ref()
            .to_vec()
    }
}

/// An iPhone with an App Attest key.
pub struct IosDevice {
    /// The attestation object (CBOR) and key id EnrolDevice sends.
    pub attestation: Vec<u8>,
    pub key_id: Vec<u8>,
    rp_id_hash: [u8; 32],
    key: EcdsaKeyPair,
    counter: u32,
}

impl IosDevice {
    /// The next assertion over `client_data` (the punch bytes), counting up.
    pub fn assert(&mut self, client_data: &[u8]) -> Vec<u8> {
        self.counter += 1;
        self.assert_with_counter(client_data, self.counter)
    }

    /// An assertion with a counter of one's choosing (for replay tests).
    pub fn assert_with_counter(&self, client_data: &[u8], counter: u32) -> Vec<u8> {
        let mut auth_data = self.rp_id_hash.to_vec();
        auth_data.push(0x00);
        auth_data.extend_from_slice(&counter.to_be_bytes());
        let mut composite = auth_data.clone();
        composite.extend_from_slice(&sha256(client_data));
        let nonce = sha256(&composite);
        let signature = self
            .key
            .sign(&SystemRandom::new(), &nonce)
            .expect("signing never fails")
            .as_ref()
            .to_vec();
        cbor(Value::Map(vec![
            (text("signature"), Value::Bytes(signature)),
            (text("authenticatorData"), Value::Bytes(auth_data)),
        ]))
    }
}

/// The iOS app the demo and tests attest for.
pub fn example_ios_app() -> IosApp {
    IosApp {
        team_id: "PUNCHGUARD".into(),
        bundle_id: "org.punchguard.example".into(),
        environment: AppAttestEnvironment::Production,
    }
}

/// The KeyDescription of a synthetic Keystore key (attestation version 4).
fn key_description(spec: &AndroidSpec, challenge: &[u8]) -> Vec<u8> {
    let level = match spec.security_level {
        SecurityLevel::Software => 0,
        SecurityLevel::TrustedEnvironment | SecurityLevel::SecureEnclave => 1,
        SecurityLevel::StrongBox => 2,
    };
    let boot = match spec.boot_state {
        BootState::Verified => 0,
        BootState::SelfSigned => 1,
        BootState::Unverified => 2,
        BootState::Failed => 3,
    };
    let application_id = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_set(|w| {
                w.next().write_sequence(|w| {
                    w.next().write_bytes(spec.package.as_bytes());
                    w.next().write_u64(1);
                })
            });
            w.next()
                .write_set(|w| w.next().write_bytes(&spec.signing_cert_sha256));
        })
    });
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u32(4);
            w.next().write_enum(level);
            w.next().write_u32(4);
            w.next().write_enum(level);
            w.next().write_bytes(challenge);
            w.next().write_bytes(&[]);
            // softwareEnforced: the app's identity.
            w.next().write_sequence(|w| {
                w.next()
                    .write_tagged(Tag::context(709), |w| w.write_bytes(&application_id));
            });
            // hardwareEnforced: root of trust, OS version and patch level.
            w.next().write_sequence(|w| {
                w.next().write_tagged(Tag::context(704), |w| {
                    w.write_sequence(|w| {
                        w.next().write_bytes(&[0; 32]);
                        w.next().write_bool(spec.device_locked);
                        w.next().write_enum(boot);
                        w.next().write_bytes(&[0; 32]);
                    })
                });
                w.next()
                    .write_tagged(Tag::context(705), |w| w.write_u32(140000));
                w.next()
                    .write_tagged(Tag::context(706), |w| w.write_u32(202611));
            });
        })
    })
}

fn ca_params(common_name: &str, serial: u64) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name = name(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.serial_number = Some(SerialNumber::from(serial.to_be_bytes().to_vec()));
    params
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name
}

fn signing_key(key: &KeyPair) -> EcdsaKeyPair {
    EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        &key.serialize_der(),
        &SystemRandom::new(),
    )
    .expect("rcgen's P-256 key in PKCS#8")
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn cbor(value: Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(&value, &mut out).expect("CBOR into a Vec");
    out
}

fn pem_of(der: &[u8]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

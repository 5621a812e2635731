//! Apple App Attest, verified by the steps Apple documents in "Validating
//! apps that connect to your server": the attestation object once, at
//! enrolment, then an assertion on every punch.

use asn1_rs::{Any, FromDer, Sequence};
use ciborium::Value;
use jiff::Timestamp;
use x509_parser::oid_registry::Oid;
use x509_parser::prelude::*;

use super::revocation::serial_hex;
use super::{
    Anchors, AppAttestEnvironment, AttestedFacts, AttestedPlatform, DeviceKey, IosApp,
    KeyAlgorithm, MAX_ASSERTION_BYTES, MAX_ATTESTATION_OBJECT_BYTES, MAX_CBOR_DEPTH, Malformed,
    Report, SecurityLevel, SignatureCheck, chain, same_bytes, sha256,
};

/// The request field the object comes in (EnrolDeviceRequest).
const FIELD: &str = "apple.attestation_object";

/// The aaguid of keys from each App Attest environment.
pub fn aaguid(environment: AppAttestEnvironment) -> [u8; 16] {
    match environment {
        AppAttestEnvironment::Development => *b"appattestdevelop",
        AppAttestEnvironment::Production => *b"appattest\0\0\0\0\0\0\0",
    }
}

/// Verifies an attestation object for the key `key_id` (SHA-256 of its
/// public key, as the app received it from `generateKey`), made for
/// `challenge` (the app passes SHA-256 of it as clientDataHash).
pub fn verify_attestation(
    object: &[u8],
    key_id: &[u8],
    challenge: &[u8],
    app: Option<&IosApp>,
    anchors: &Anchors,
    at: Timestamp,
) -> Result<Report, Malformed> {
    let map = cbor_map(FIELD, object, MAX_ATTESTATION_OBJECT_BYTES)?;
    let format = text(&map, FIELD, "fmt")?;
    if format != "apple-appattest" {
        return Err(Malformed::new(
            format!("{FIELD}.fmt"),
            format!("{format:?}; expected \"apple-appattest\""),
        ));
    }
    let statement = match entry(&map, "attStmt") {
        Some(Value::Map(statement)) => statement,
        _ => {
            return Err(Malformed::new(
                format!("{FIELD}.attStmt"),
                "missing or not a map",
            ));
        }
    };
    let x5c_field = format!("{FIELD}.attStmt.x5c");
    let x5c: Vec<Vec<u8>> = match entry(statement, "x5c") {
        Some(Value::Array(certs)) => certs
            .iter()
            .enumerate()
            .map(|(i, c)| match c {
                Value::Bytes(der) => Ok(der.clone()),
                _ => Err(Malformed::new(
                    format!("{x5c_field}[{i}]"),
                    "not a byte string",
                )),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(Malformed::new(x5c_field, "missing or not an array")),
    };
    let auth_data = bytes(&map, FIELD, "authData")?;

    let certs = chain::parse(&x5c_field, &x5c)?;
    let mut invalid = Vec::new();
    chain::check_links(&x5c_field, &certs, at, &mut invalid);
    let last = certs.last().expect("parse refuses an empty chain");
    let apple = chain::anchors(&anchors.apple);
    let moment = ASN1Time::from_timestamp(at.as_second()).expect("in range");
    let anchored = apple.iter().any(|root| {
        let mut problems = Vec::new();
        chain::check_issued_by("", last, root, &mut problems);
        problems.is_empty() && root.validity().is_valid_at(moment)
    });
    if !anchored {
        invalid.push(format!(
            "{x5c_field}[{}] is not issued by the Apple App Attestation Root CA",
            certs.len() - 1
        ));
    }

    let credential = &certs[0];
    let key = chain::device_key(
        &format!("{x5c_field}[0]"),
        credential,
        AttestedPlatform::Ios,
    )?;
    if key.algorithm != KeyAlgorithm::EcdsaP256 {
        return Err(Malformed::new(
            format!("{x5c_field}[0].subject_public_key"),
            "App Attest keys are EC P-256",
        ));
    }
    let auth = AuthenticatorData::parse(&auth_data, true)
        .map_err(|reason| Malformed::new(format!("{FIELD}.authData"), reason))?;

    // Steps 2-4: the certificate's nonce binds authData and the challenge.
    let mut composite = auth_data.clone();
    composite.extend_from_slice(&sha256(challenge));
    match credential_nonce(credential) {
        Ok(nonce) if same_bytes(&nonce, &sha256(&composite)) => {}
        Ok(_) => invalid.push(
            "the attestation's nonce does not match authData and the challenge issued".into(),
        ),
        Err(reason) => invalid.push(format!("{x5c_field}[0]: {reason}")),
    }
    // Step 5: the key id is the SHA-256 of the public key.
    let computed_key_id = sha256(&key.public_key);
    if !same_bytes(&computed_key_id, key_id) {
        invalid.push("the key id is not the SHA-256 of the attested public key".into());
    }
    // Steps 7-9: a new key (counter 0), from an App Attest environment,
    // whose credential id is the key id.
    if auth.counter != 0 {
        invalid.push(format!(
            "the attestation's counter is {}, not 0",
            auth.counter
        ));
    }
    let environment = [
        AppAttestEnvironment::Production,
        AppAttestEnvironment::Development,
    ]
    .into_iter()
    .find(|e| auth.aaguid.as_deref() == Some(&aaguid(*e)[..]));
    if environment.is_none() {
        invalid.push("the aaguid is neither App Attest environment's".into());
    }
    if auth
        .credential_id
        .as_deref()
        .is_none_or(|id| !same_bytes(id, &computed_key_id))
    {
        invalid.push("the credential id is not the key id".into());
    }
    // Step 6 and the environment: is it the organisation's app?
    let app_matched = app.is_some_and(|app| {
        same_bytes(&auth.rp_id_hash, &sha256(app.app_id().as_bytes()))
            && environment == Some(app.environment)
    });
    let facts = AttestedFacts {
        platform: AttestedPlatform::Ios,
        security_level: SecurityLevel::SecureEnclave,
        device_locked: None,
        boot_state: None,
        os_version: None,
        os_patch_level: None,
        app_matched,
        chain_serials: certs.iter().map(|c| serial_hex(c.raw_serial())).collect(),
    };
    let mut app_ids = vec![format!("rp_id_hash:{}", hex::encode(auth.rp_id_hash))];
    if let Some(environment) = environment {
        app_ids.push(format!("environment:{}", environment.as_str()));
    }
    Ok(Report {
        invalid,
        chain: certs.iter().map(chain::summary).collect(),
        key,
        facts,
        app_ids,
    })
}

/// Checks an assertion over `client_data` (the punch bytes) with an
/// enrolled App Attest key.
pub fn verify_assertion(
    key: &DeviceKey,
    client_data: &[u8],
    assertion: &[u8],
    app: Option<&IosApp>,
    last_counter: u32,
) -> Result<SignatureCheck, Malformed> {
    let Assertion {
        signature,
        auth_data,
        auth,
    } = parse_assertion(assertion)?;
    if key.platform != AttestedPlatform::Ios || key.algorithm != KeyAlgorithm::EcdsaP256 {
        return Ok(SignatureCheck::Invalid(
            "the device enrolled an Android key, not an App Attest key".into(),
        ));
    }
    // The signature is ECDSA-SHA256 over nonce = SHA-256(authenticatorData ‖ SHA-256(clientData)).
    let mut composite = auth_data.clone();
    composite.extend_from_slice(&sha256(client_data));
    let nonce = sha256(&composite);
    let key_check = ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_ASN1,
        &key.public_key,
    );
    if key_check.verify(&nonce, &signature).is_err() {
        return Ok(SignatureCheck::Invalid(
            "the assertion does not match the punch and the device key".into(),
        ));
    }
    if let Some(app) = app
        && !same_bytes(&auth.rp_id_hash, &sha256(app.app_id().as_bytes()))
    {
        return Ok(SignatureCheck::Invalid(
            "the assertion is for another app".into(),
        ));
    }
    if auth.counter <= last_counter {
        return Ok(SignatureCheck::Replayed {
            counter: auth.counter,
            last: last_counter,
        });
    }
    Ok(SignatureCheck::Valid {
        counter: Some(auth.counter),
    })
}

/// An assertion's parts.
pub struct Assertion {
    signature: Vec<u8>,
    auth_data: Vec<u8>,
    auth: AuthenticatorData,
}

/// Decodes an assertion: CBOR `{signature, authenticatorData}`.
pub fn parse_assertion(assertion: &[u8]) -> Result<Assertion, Malformed> {
    const FIELD: &str = "assertion";
    let map = cbor_map(FIELD, assertion, MAX_ASSERTION_BYTES)?;
    let signature = bytes(&map, FIELD, "signature")?;
    let auth_data = bytes(&map, FIELD, "authenticatorData")?;
    let auth = AuthenticatorData::parse(&auth_data, false)
        .map_err(|reason| Malformed::new(format!("{FIELD}.authenticatorData"), reason))?;
    Ok(Assertion {
        signature,
        auth_data,
        auth,
    })
}

/// WebAuthn authenticator data as App Attest fills it.
struct AuthenticatorData {
    rp_id_hash: [u8; 32],
    counter: u32,
    aaguid: Option<Vec<u8>>,
    credential_id: Option<Vec<u8>>,
}

impl AuthenticatorData {
    fn parse(data: &[u8], attested: bool) -> Result<Self, String> {
        if data.len() < 37 {
            return Err(format!("{} bytes; at least 37", data.len()));
        }
        let rp_id_hash = data[..32].try_into().expect("32 bytes");
        let counter = u32::from_be_bytes(data[33..37].try_into().expect("4 bytes"));
        if !attested {
            return Ok(Self {
                rp_id_hash,
                counter,
                aaguid: None,
                credential_id: None,
            });
        }
        // aaguid (16), credential id length (2), credential id.
        let rest = &data[37..];
        if rest.len() < 18 {
            return Err("no attested credential data".into());
        }
        let length = u16::from_be_bytes([rest[16], rest[17]]) as usize;
        let credential_id = rest
            .get(18..18 + length)
            .ok_or("the credential id runs past the end")?
            .to_vec();
        Ok(Self {
            rp_id_hash,
            counter,
            aaguid: Some(rest[..16].to_vec()),
            credential_id: Some(credential_id),
        })
    }
}

/// The nonce App Attest puts in the credential certificate: extension
/// 1.2.840.113635.100.8.2, a SEQUENCE holding [1] EXPLICIT OCTET STRING.
fn credential_nonce(cert: &X509Certificate<'_>) -> Result<Vec<u8>, String> {
    let oid = Oid::from(&[1, 2, 840, 113635, 100, 8, 2]).expect("a valid OID");
    let extension = cert
        .get_extension_unique(&oid)
        .map_err(|e| e.to_string())?
        .ok_or("no App Attest nonce extension (1.2.840.113635.100.8.2)")?;
    let (_, sequence) =
        Sequence::from_der(extension.value).map_err(|e| format!("nonce extension: {e}"))?;
    let (_, tagged) =
        Any::from_der(sequence.content.as_ref()).map_err(|e| format!("nonce extension: {e}"))?;
    if tagged.tag().0 != 1 {
        return Err("nonce extension: expected tag [1]".into());
    }
    let (_, inner) = Any::from_der(tagged.data).map_err(|e| format!("nonce extension: {e}"))?;
    Ok(inner
        .as_octetstring()
        .map_err(|e| format!("nonce extension: {e}"))?
        .as_ref()
        .to_vec())
}

type CborMap = Vec<(Value, Value)>;

/// Decodes a CBOR map within a size and nesting bound.
fn cbor_map(field: &str, bytes: &[u8], max: usize) -> Result<CborMap, Malformed> {
    if bytes.len() > max {
        return Err(Malformed::new(
            field,
            format!("{} bytes; at most {max}", bytes.len()),
        ));
    }
    let value: Value = ciborium::de::from_reader_with_recursion_limit(bytes, MAX_CBOR_DEPTH)
        .map_err(|e| Malformed::new(field, format!("not CBOR: {e}")))?;
    match value {
        Value::Map(map) => Ok(map),
        _ => Err(Malformed::new(field, "not a CBOR map")),
    }
}

fn entry<'a>(map: &'a CborMap, key: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
}

fn text(map: &CborMap, field: &str, key: &str) -> Result<String, Malformed> {
    match entry(map, key) {
        Some(Value::Text(text)) => Ok(text.clone()),
        _ => Err(Malformed::new(
            format!("{field}.{key}"),
            "missing or not a text string",
        )),
    }
}

fn bytes(map: &CborMap, field: &str, key: &str) -> Result<Vec<u8>, Malformed> {
    match entry(map, key) {
        Some(Value::Bytes(bytes)) => Ok(bytes.clone()),
        _ => Err(Malformed::new(
            format!("{field}.{key}"),
            "missing or not a byte string",
        )),
    }
}

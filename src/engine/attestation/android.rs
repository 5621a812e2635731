//! Android Key Attestation: a certificate chain from a key generated in
//! Android Keystore up to one of Google's hardware attestation roots, whose
//! leaf carries the KeyDescription extension (1.3.6.1.4.1.11129.2.1.17):
//! the challenge, where the key lives, the device's boot state and the app
//! that asked for the key. Schema: <https://source.android.com/docs/security/features/keystore/attestation>.

use asn1_rs::{Any, Class, FromDer, Sequence};
use jiff::Timestamp;
use x509_parser::oid_registry::Oid;
use x509_parser::prelude::*;

use super::revocation::serial_hex;
use super::{
    Anchors, AndroidApp, AttestedFacts, AttestedPlatform, BootState, Malformed, Report,
    SecurityLevel, chain, same_bytes,
};

/// The KeyDescription extension.
pub const KEY_DESCRIPTION_OID: &str = "1.3.6.1.4.1.11129.2.1.17";

const TAG_ROOT_OF_TRUST: u32 = 704;
const TAG_OS_VERSION: u32 = 705;
const TAG_OS_PATCH_LEVEL: u32 = 706;
const TAG_ATTESTATION_APPLICATION_ID: u32 = 709;

/// The request field the chain comes in (EnrolDeviceRequest).
const FIELD: &str = "android.certificate_chain";

/// The parts of a KeyDescription punchguard reads. ID attestation fields
/// (IMEI, serial, MEID) are skipped unread: never asked for, never kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDescription {
    pub attestation_version: u32,
    pub security_level: SecurityLevel,
    pub challenge: Vec<u8>,
    pub software_enforced: AuthorizationList,
    pub hardware_enforced: AuthorizationList,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizationList {
    pub root_of_trust: Option<RootOfTrust>,
    pub os_version: Option<u32>,
    pub os_patch_level: Option<u32>,
    pub application_id: Option<ApplicationId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootOfTrust {
    pub device_locked: bool,
    pub boot_state: BootState,
}

/// The app that asked for the key: package names (several when apps
/// share a user id) and the SHA-256 digests of their signing certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationId {
    pub packages: Vec<String>,
    pub signature_digests: Vec<Vec<u8>>,
}

impl ApplicationId {
    fn matches(&self, app: &AndroidApp) -> bool {
        self.packages.contains(&app.package)
            && self.signature_digests.iter().any(|digest| {
                app.signing_cert_sha256
                    .iter()
                    .any(|allowed| hex::decode(allowed).is_ok_and(|a| same_bytes(&a, digest)))
            })
    }
}

/// Verifies a chain (DER, leaf first) against `challenge` at `at`.
pub fn verify(
    chain_der: &[Vec<u8>],
    challenge: &[u8],
    app: Option<&AndroidApp>,
    anchors: &Anchors,
    at: Timestamp,
) -> Result<Report, Malformed> {
    let certs = chain::parse(FIELD, chain_der)?;
    let mut invalid = Vec::new();
    chain::check_links(FIELD, &certs, at, &mut invalid);

    let root = certs.last().expect("parse refuses an empty chain");
    let last = certs.len() - 1;
    chain::check_issued_by(&format!("{FIELD}[{last}]"), root, root, &mut invalid);
    let google = chain::anchors(&anchors.google);
    if !google
        .iter()
        .any(|anchor| anchor.public_key().raw == root.public_key().raw)
    {
        invalid.push(format!(
            "{FIELD}[{last}] ({}) is not one of Google's hardware attestation roots",
            root.subject()
        ));
    }

    let leaf = &certs[0];
    let key = chain::device_key(&format!("{FIELD}[0]"), leaf, AttestedPlatform::Android)?;
    let oid = Oid::from(&[1, 3, 6, 1, 4, 1, 11129, 2, 1, 17]).expect("a valid OID");
    let extension = leaf
        .get_extension_unique(&oid)
        .map_err(|e| Malformed::new(format!("{FIELD}[0].key_description"), e.to_string()))?;
    let description = match extension {
        Some(extension) => Some(
            parse_key_description(extension.value)
                .map_err(|reason| Malformed::new(format!("{FIELD}[0].key_description"), reason))?,
        ),
        None => {
            invalid.push(format!(
                "{FIELD}[0] carries no key attestation (KeyDescription) extension"
            ));
            None
        }
    };
    let description = description.unwrap_or(KeyDescription {
        attestation_version: 0,
        security_level: SecurityLevel::Software,
        challenge: Vec::new(),
        software_enforced: AuthorizationList::default(),
        hardware_enforced: AuthorizationList::default(),
    });
    if extension.is_some() && !same_bytes(&description.challenge, challenge) {
        invalid.push("the attestation challenge is not the one issued".to_string());
    }

    let hardware = (description.security_level != SecurityLevel::Software)
        .then_some(&description.hardware_enforced);
    let root_of_trust = hardware.and_then(|h| h.root_of_trust.as_ref());
    let application_id = description
        .software_enforced
        .application_id
        .as_ref()
        .or(description.hardware_enforced.application_id.as_ref());
    let facts = AttestedFacts {
        platform: AttestedPlatform::Android,
        security_level: description.security_level,
        device_locked: root_of_trust.map(|r| r.device_locked),
        boot_state: root_of_trust.map(|r| r.boot_state),
        os_version: hardware.and_then(|h| h.os_version),
        os_patch_level: hardware.and_then(|h| h.os_patch_level),
        app_matched: match (application_id, app) {
            (Some(id), Some(app)) => id.matches(app),
            _ => false,
        },
        chain_serials: certs.iter().map(|c| serial_hex(c.raw_serial())).collect(),
    };
    let app_ids = application_id
        .map(|id| {
            id.packages
                .iter()
                .map(|p| format!("package:{p}"))
                .chain(
                    id.signature_digests
                        .iter()
                        .map(|d| format!("signing_cert_sha256:{}", hex::encode(d))),
                )
                .collect()
        })
        .unwrap_or_default();
    Ok(Report {
        invalid,
        chain: certs.iter().map(chain::summary).collect(),
        key,
        facts,
        app_ids,
    })
}

type Asn1Result<T> = Result<T, String>;

fn error(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Parses the KeyDescription SEQUENCE (all attestation versions share the
/// first eight fields).
pub fn parse_key_description(der: &[u8]) -> Asn1Result<KeyDescription> {
    let items = sequence_items(der)?;
    if items.len() < 8 {
        return Err(format!("{} fields; a KeyDescription has 8", items.len()));
    }
    Ok(KeyDescription {
        attestation_version: items[0]
            .as_u32()
            .map_err(|e| format!("attestationVersion: {e}"))?,
        security_level: security_level(&items[1])
            .map_err(|e| format!("attestationSecurityLevel: {e}"))?,
        challenge: items[4]
            .as_octetstring()
            .map_err(|e| format!("attestationChallenge: {e}"))?
            .as_ref()
            .to_vec(),
        software_enforced: authorization_list(&items[6])
            .map_err(|e| format!("softwareEnforced: {e}"))?,
        hardware_enforced: authorization_list(&items[7])
            .map_err(|e| format!("hardwareEnforced: {e}"))?,
    })
}

fn sequence_items(der: &[u8]) -> Asn1Result<Vec<Any<'_>>> {
    let (rest, sequence) = Sequence::from_der(der).map_err(error)?;
    if !rest.is_empty() {
        return Err(format!("{} bytes after the SEQUENCE", rest.len()));
    }
    items_of(sequence)
}

fn items_of(sequence: Sequence<'_>) -> Asn1Result<Vec<Any<'_>>> {
    match sequence.content {
        std::borrow::Cow::Borrowed(content) => der_items(content),
        std::borrow::Cow::Owned(_) => Err("indefinite length is not DER".into()),
    }
}

fn set_items<'a>(any: &Any<'a>) -> Asn1Result<Vec<Any<'a>>> {
    match any.clone().set().map_err(error)?.content {
        std::borrow::Cow::Borrowed(content) => der_items(content),
        std::borrow::Cow::Owned(_) => Err("indefinite length is not DER".into()),
    }
}

/// The DER values one after another in a SEQUENCE's or SET's content.
fn der_items(mut input: &[u8]) -> Asn1Result<Vec<Any<'_>>> {
    let mut items = Vec::new();
    while !input.is_empty() {
        let (rest, item) = Any::from_der(input).map_err(error)?;
        items.push(item);
        input = rest;
    }
    Ok(items)
}

fn security_level(any: &Any<'_>) -> Asn1Result<SecurityLevel> {
    Ok(match any.as_enumerated().map_err(error)?.0 {
        0 => SecurityLevel::Software,
        1 => SecurityLevel::TrustedEnvironment,
        2 => SecurityLevel::StrongBox,
        other => return Err(format!("unknown security level {other}")),
    })
}

/// An AuthorizationList: a SEQUENCE of optional fields, each EXPLICIT
/// context-tagged with its Keymaster tag number. Unknown tags are skipped.
fn authorization_list(any: &Any<'_>) -> Asn1Result<AuthorizationList> {
    let sequence = any.clone().sequence().map_err(error)?;
    let mut list = AuthorizationList::default();
    for item in items_of(sequence)? {
        if item.class() != Class::ContextSpecific {
            return Err(format!(
                "an entry of class {:?}; expected context-specific tags",
                item.class()
            ));
        }
        let tag = item.tag().0;
        if !matches!(
            tag,
            TAG_ROOT_OF_TRUST
                | TAG_OS_VERSION
                | TAG_OS_PATCH_LEVEL
                | TAG_ATTESTATION_APPLICATION_ID
        ) {
            continue;
        }
        let (rest, inner) = Any::from_der(item.data).map_err(|e| format!("tag [{tag}]: {e}"))?;
        if !rest.is_empty() {
            return Err(format!("tag [{tag}]: bytes after its value"));
        }
        match tag {
            TAG_ROOT_OF_TRUST => {
                list.root_of_trust =
                    Some(root_of_trust(&inner).map_err(|e| format!("rootOfTrust: {e}"))?)
            }
            TAG_OS_VERSION => {
                list.os_version = Some(inner.as_u32().map_err(|e| format!("osVersion: {e}"))?)
            }
            TAG_OS_PATCH_LEVEL => {
                list.os_patch_level =
                    Some(inner.as_u32().map_err(|e| format!("osPatchLevel: {e}"))?)
            }
            _ => {
                let bytes = inner
                    .as_octetstring()
                    .map_err(|e| format!("attestationApplicationId: {e}"))?;
                list.application_id = Some(
                    application_id(bytes.as_ref())
                        .map_err(|e| format!("attestationApplicationId: {e}"))?,
                );
            }
        }
    }
    Ok(list)
}

fn root_of_trust(any: &Any<'_>) -> Asn1Result<RootOfTrust> {
    let items = items_of(any.clone().sequence().map_err(error)?)?;
    if items.len() < 3 {
        return Err(format!(
            "{} fields; a RootOfTrust has at least 3",
            items.len()
        ));
    }
    Ok(RootOfTrust {
        device_locked: items[1]
            .as_bool()
            .map_err(|e| format!("deviceLocked: {e}"))?,
        boot_state: match items[2]
            .as_enumerated()
            .map_err(|e| format!("verifiedBootState: {e}"))?
            .0
        {
            0 => BootState::Verified,
            1 => BootState::SelfSigned,
            2 => BootState::Unverified,
            3 => BootState::Failed,
            other => return Err(format!("unknown verified boot state {other}")),
        },
    })
}

fn application_id(der: &[u8]) -> Asn1Result<ApplicationId> {
    let items = sequence_items(der)?;
    if items.len() != 2 {
        return Err(format!(
            "{} fields; expected package infos and signature digests",
            items.len()
        ));
    }
    let mut packages = Vec::new();
    for info in set_items(&items[0])? {
        let fields = items_of(info.sequence().map_err(error)?)?;
        let name = fields
            .first()
            .ok_or("a package info without a name")?
            .as_octetstring()
            .map_err(error)?;
        packages.push(String::from_utf8_lossy(name.as_ref()).into_owned());
    }
    let mut signature_digests = Vec::new();
    for digest in set_items(&items[1])? {
        signature_digests.push(digest.as_octetstring().map_err(error)?.as_ref().to_vec());
    }
    Ok(ApplicationId {
        packages,
        signature_digests,
    })
}

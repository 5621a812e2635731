//! Known cheat software: fake-location apps, app cloners, hook frameworks,
//! auto-clickers. A list ships in `data/cheat-signatures.json`; a device
//! either matches it itself and sends signature ids (preferred: its package
//! list never leaves the phone), or an older client sends its package list,
//! which is matched here in memory and dropped.

use std::sync::{Arc, OnceLock};

// A package list of hundreds of names is looked up on the hot path; a fast
// non-cryptographic hash suits keys the server chose (the list is ours).
use foldhash::HashMap;
use foldhash::HashMapExt;

use serde::{Deserialize, Serialize};

/// The default signature list every organisation starts with.
const BUILTIN: &str = include_str!("../../data/cheat-signatures.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheatCategory {
    /// Fakes the GPS position.
    VirtualLocation,
    /// Runs a second copy of an app, e.g. a colleague's account.
    AppCloner,
    /// Hooks system calls (Xposed, LSPosed): can hide every other signal.
    HookFramework,
    /// Taps the screen on a schedule.
    AutoClicker,
}

impl CheatCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            CheatCategory::VirtualLocation => "virtual_location",
            CheatCategory::AppCloner => "app_cloner",
            CheatCategory::HookFramework => "hook_framework",
            CheatCategory::AutoClicker => "auto_clicker",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::VirtualLocation,
            Self::AppCloner,
            Self::HookFramework,
            Self::AutoClicker,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// One known app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// Stable id the client reports and the store keeps.
    pub id: String,
    /// Android package name (or iOS bundle id).
    pub package: String,
    /// SHA-256 of the signing certificate, hex, when known. Clients that
    /// match on the device compare it; a server-side match of a bare package
    /// list cannot, and matches on the package name alone.
    #[serde(default)]
    pub cert_sha256: Option<String>,
    pub category: CheatCategory,
    /// Human-readable name.
    pub name: String,
}

/// A signature list indexed by id and by package name.
#[derive(Debug, Clone, Default)]
pub struct SignatureList {
    signatures: Vec<Signature>,
    by_id: HashMap<String, usize>,
    by_package: HashMap<String, usize>,
}

#[derive(Serialize, Deserialize)]
struct SignatureFile {
    signatures: Vec<Signature>,
}

impl SignatureList {
    pub fn new(signatures: Vec<Signature>) -> Result<Self, String> {
        let mut by_id = HashMap::new();
        let mut by_package = HashMap::new();
        for (i, s) in signatures.iter().enumerate() {
            if by_id.insert(s.id.clone(), i).is_some() {
                return Err(format!("duplicate signature id {}", s.id));
            }
            by_package.insert(s.package.clone(), i);
        }
        Ok(Self {
            signatures,
            by_id,
            by_package,
        })
    }

    pub fn from_json(text: &str) -> Result<Self, String> {
        let file: SignatureFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        Self::new(file.signatures)
    }

    /// The list in the same JSON form [`SignatureList::from_json`] reads.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&SignatureFile {
            signatures: self.signatures.clone(),
        })
        .expect("signatures always serialise")
    }

    /// The list shipped in `data/cheat-signatures.json`, parsed once.
    pub fn builtin() -> Arc<SignatureList> {
        static LIST: OnceLock<Arc<SignatureList>> = OnceLock::new();
        LIST.get_or_init(|| {
            Arc::new(
                SignatureList::from_json(BUILTIN).expect("the shipped signature list is valid"),
            )
        })
        .clone()
    }

    pub fn by_id(&self, id: &str) -> Option<&Signature> {
        self.by_id.get(id).map(|&i| &self.signatures[i])
    }

    pub fn by_package(&self, package: &str) -> Option<&Signature> {
        self.by_package.get(package).map(|&i| &self.signatures[i])
    }

    pub fn iter(&self) -> impl Iterator<Item = &Signature> {
        self.signatures.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_list_covers_the_published_fake_location_apps() {
        let list = SignatureList::builtin();
        for package in [
            "com.lexa.fakegps",
            "com.blogspot.newapphorizons.fakegps",
            "com.usefullapps.fakegpslocationpro",
            "com.rosteam.gpsemulator",
            "com.incorporateapps.fakegps_route",
            "com.silentlexx.gpslock",
            "org.hola.gpslocation",
        ] {
            let s = list
                .by_package(package)
                .unwrap_or_else(|| panic!("{package} missing"));
            assert_eq!(s.category, CheatCategory::VirtualLocation);
        }
        for category in [
            CheatCategory::AppCloner,
            CheatCategory::HookFramework,
            CheatCategory::AutoClicker,
        ] {
            assert!(
                list.iter().any(|s| s.category == category),
                "{category:?} missing"
            );
        }
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let s = SignatureList::builtin().iter().next().unwrap().clone();
        assert!(SignatureList::new(vec![s.clone(), s]).is_err());
    }
}

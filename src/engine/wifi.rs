//! WiFi access points: what a site has, what a phone saw, and the index that
//! matches the two. The BSSID (the access point's MAC address) is the
//! identity; an SSID is a name any hotspot can take.

// Fast hashing for the per-punch lookups; the keys come from the admin's
// configuration, so flooding the table is not the client's to do.
use foldhash::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

/// An access point's MAC address, normalised: case and separators
/// (`aa:bb:…`, `AA-BB-…`, `aabb.ccdd.eeff`, `aabbccddeeff`) do not matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bssid([u8; 6]);

impl Bssid {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let spelled;
        // macaddr takes the three delimited spellings; bare hex is common too.
        let delimited = if text.len() == 12 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            spelled = text
                .as_bytes()
                .chunks(2)
                .map(|pair| std::str::from_utf8(pair).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(":");
            spelled.as_str()
        } else {
            text
        };
        let mac = macaddr::MacAddr6::from_str(delimited)
            .map_err(|_| "not a MAC address such as aa:bb:cc:dd:ee:ff".to_string())?;
        let bytes: [u8; 6] = mac.into_array();
        if bytes == [0; 6] || bytes == [0xff; 6] {
            return Err("not an access point's address (all zeros or broadcast)".into());
        }
        Ok(Bssid(bytes))
    }
}

impl fmt::Display for Bssid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// Longest SSID: 32 bytes by IEEE 802.11.
pub const MAX_SSID_LEN: usize = 32;

/// An access point of a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPoint {
    pub bssid: Bssid,
    /// The network name, for spotting impostors; may be empty (hidden network).
    pub ssid: String,
}

/// One access point in a phone's scan.
#[derive(Debug, Clone, PartialEq)]
pub struct WifiSighting {
    pub bssid: Bssid,
    pub ssid: String,
    pub rssi_dbm: i32,
}

/// An organisation's access points, by BSSID and by SSID.
#[derive(Debug, Default)]
pub struct WifiIndex {
    site_of_bssid: HashMap<Bssid, usize>,
    ssids: HashSet<String>,
    /// Each site's access points (sites without any are absent).
    by_site: HashMap<usize, Vec<Bssid>>,
}

impl WifiIndex {
    /// `sites` yields each site's position and its access points. A BSSID
    /// listed for two sites belongs to the first.
    pub fn build<'a>(sites: impl IntoIterator<Item = (usize, &'a [AccessPoint])>) -> Self {
        let mut index = WifiIndex::default();
        for (site, aps) in sites {
            for ap in aps {
                index.site_of_bssid.entry(ap.bssid).or_insert(site);
                if !ap.ssid.is_empty() {
                    index.ssids.insert(ap.ssid.clone());
                }
                index.by_site.entry(site).or_default().push(ap.bssid);
            }
        }
        index
    }

    pub fn site_of(&self, bssid: &Bssid) -> Option<usize> {
        self.site_of_bssid.get(bssid).copied()
    }

    pub fn is_known_ssid(&self, ssid: &str) -> bool {
        !ssid.is_empty() && self.ssids.contains(ssid)
    }

    pub fn site_has_wifi(&self, site: usize) -> bool {
        self.by_site.contains_key(&site)
    }

    /// The access points of one site.
    pub fn bssids_of(&self, site: usize) -> &[Bssid] {
        self.by_site.get(&site).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bssids_normalise_case_and_separators() {
        let canonical = Bssid::parse("aa:bb:cc:0d:ee:ff").unwrap();
        for spelling in [
            "AA:BB:CC:0D:EE:FF",
            "aa-bb-cc-0d-ee-ff",
            "aabb.cc0d.eeff",
            "AABBCC0DEEFF",
            " aa:bb:cc:0d:ee:ff ",
        ] {
            assert_eq!(Bssid::parse(spelling).unwrap(), canonical, "{spelling}");
        }
        assert_eq!(canonical.to_string(), "aa:bb:cc:0d:ee:ff");
        for bad in [
            "",
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:ff:00",
            "gg:bb:cc:dd:ee:ff",
            "aa:bb-cc:dd:ee:ff",
            "00:00:00:00:00:00",
            "ff:ff:ff:ff:ff:ff",
        ] {
            assert!(Bssid::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}

//! The immutable per-organisation view the engine decides against. A new
//! snapshot is built off the hot path and swapped in whole, so a punch sees
//! either the old fences or the new ones, never a mix.

use std::sync::Arc;

use super::beacons::BeaconIndex;
use super::fence::{FenceIndex, IndexedFence};
use super::policy::Policy;
use super::signatures::SignatureList;
use super::sites::SiteDefinition;
use super::types::{OrgId, SiteId};
use super::wifi::WifiIndex;

#[derive(Debug)]
pub struct OrgSnapshot {
    pub org: OrgId,
    /// The organisation's fence-set version this snapshot was built from.
    pub version: u64,
    /// Site ids, indexed by [`IndexedFence::site`].
    pub sites: Vec<SiteId>,
    pub index: FenceIndex,
    /// Fence numbers of each site, for distances to one site: a site's
    /// fences are numbered together (one range, not a list per site, which
    /// costs 200k allocations at 200k sites).
    pub site_fences: Vec<std::ops::Range<usize>>,
    /// What evidence a site requires, for the few that say, by site
    /// position in order (sparse: most sites say nothing).
    site_requirements: Vec<(usize, super::sites::Requirement)>,
    pub wifi: WifiIndex,
    pub beacons: BeaconIndex,
    pub policy: Policy,
    /// Known cheat software (the shipped list until organisations get their own).
    pub signatures: Arc<SignatureList>,
    /// The organisation's genuine app and revocation list.
    pub attestation: super::attestation::AttestationConfig,
    /// Fences left out: stored before imports refused polygons whose edges
    /// go the long way round the planet, they would cover half of it.
    /// Each is its site and its position among the site's fences.
    pub left_out: Vec<(SiteId, usize)>,
}

impl OrgSnapshot {
    pub fn build(org: OrgId, version: u64, sites: Vec<SiteDefinition>, policy: Policy) -> Self {
        let wifi = WifiIndex::build(
            sites
                .iter()
                .enumerate()
                .map(|(i, s)| (i, s.access_points.as_slice())),
        );
        let beacons = BeaconIndex::build(
            sites
                .iter()
                .enumerate()
                .map(|(i, s)| (i, s.beacons.as_slice())),
        );
        let site_requirements = sites
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i, s.requires.clone()?)))
            .collect();
        let mut ids = Vec::with_capacity(sites.len());
        let mut site_fences = Vec::with_capacity(sites.len());
        // Sized up front: at 200k fences, growing by doubling leaves
        // megabytes of freed blocks in the heap for good.
        let mut fences = Vec::with_capacity(sites.iter().map(|s| s.fences.len()).sum());
        let mut left_out = Vec::new();
        for (site, definition) in sites.into_iter().enumerate() {
            let first = fences.len();
            for (n, geometry) in definition.fences.into_iter().enumerate() {
                if geometry.has_long_way_edge() {
                    left_out.push((definition.id.clone(), n));
                } else {
                    fences.push(IndexedFence { site, geometry });
                }
            }
            site_fences.push(first..fences.len());
            ids.push(definition.id);
        }
        Self {
            org,
            version,
            sites: ids,
            index: FenceIndex::build(fences),
            site_fences,
            site_requirements,
            wifi,
            beacons,
            policy,
            signatures: SignatureList::builtin(),
            attestation: Default::default(),
            left_out,
        }
    }

    /// Uses the organisation's attestation settings.
    pub fn with_attestation(mut self, attestation: super::attestation::AttestationConfig) -> Self {
        self.attestation = attestation;
        self
    }

    /// Uses the organisation's own signature list instead of the shipped one.
    pub fn with_signatures(mut self, signatures: Arc<SignatureList>) -> Self {
        self.signatures = signatures;
        self
    }

    /// An organisation with no sites yet: every punch is outside.
    pub fn empty(org: OrgId) -> Self {
        Self::build(org, 0, Vec::new(), Policy::default())
    }

    /// The position of site `id` among [`Self::sites`], if the
    /// organisation has it (a scan: for pages, not the hot path).
    pub fn site_position(&self, id: &SiteId) -> Option<usize> {
        self.sites.iter().position(|s| s == id)
    }

    /// The fences of site `id`; none for a site the organisation lacks.
    pub fn fences_of(&self, id: &SiteId) -> impl Iterator<Item = &super::fence::FenceGeometry> {
        self.site_position(id)
            .into_iter()
            .flat_map(|site| self.site_fences[site].clone())
            .map(|f| &self.index.fence(f).geometry)
    }

    /// What evidence the site at `site` requires, if it says.
    pub fn requirement(&self, site: usize) -> Option<&super::sites::Requirement> {
        let i = self
            .site_requirements
            .binary_search_by_key(&site, |(s, _)| *s)
            .ok()?;
        Some(&self.site_requirements[i].1)
    }

    pub fn site_of_fence(&self, fence: usize) -> &SiteId {
        &self.sites[self.index.fence(fence).site]
    }

    /// Metres from `p` to the nearest fence of site `site` (infinite for a
    /// site without fences).
    pub fn distance_to_site_m(&self, site: usize, p: geo::Point<f64>) -> f64 {
        self.site_fences[site]
            .clone()
            .map(|f| self.index.fence(f).geometry.distance_m(p))
            .fold(f64::INFINITY, f64::min)
    }
}

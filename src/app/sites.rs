//! Sites: their fences (imported as GeoJSON) and the WiFi access points and
//! beacons that corroborate a punch there.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;

use super::{Actor, App, AppError, Result, audit};
use crate::auth::Role;
use crate::engine::history::History;
use crate::engine::sites::{SiteDefinition, check_sites_geojson};
use crate::engine::{self, Decision, OrgSnapshot, Punch, PunchId, SiteId};
use crate::store::Clock;
use crate::store::SiteRadios;

/// Sites are an admin's business.
pub const ROLE: Role = Role::Admin;
/// Largest GeoJSON text one import may carry.
pub const MAX_GEOJSON_BYTES: usize = 32 * 1024 * 1024;

/// What an import stored.
#[derive(Debug, Clone)]
pub struct Imported {
    pub sites: Vec<SiteDefinition>,
    /// The organisation's fence-set version after the import.
    pub version: u64,
}

/// Parses GeoJSON off the async workers (a large file takes a while); each
/// problem (every feature's, up to a hundred) is named by its path under
/// `geojson`.
pub async fn parse_geojson(text: String) -> Result<Vec<SiteDefinition>> {
    if text.len() > MAX_GEOJSON_BYTES {
        return Err(AppError::invalid(
            "geojson",
            format!(
                "at most {MAX_GEOJSON_BYTES} bytes, got {}: import larger sets as GeoJSON \
                 lines (one Feature a line), streamed",
                text.len()
            ),
        ));
    }
    tokio::task::spawn_blocking(move || check_sites_geojson(&text))
        .await
        .map_err(|e| AppError::task("parsing GeoJSON", e))?
        // Import paths are relative to the file; in the request they sit under `geojson`.
        .map_err(import_problems)
}

/// Replaces the sites the GeoJSON names (all their fences), effective for
/// the next punch.
pub async fn import(app: &App, actor: &Actor, geojson: String) -> Result<Imported> {
    actor.require(ROLE)?;
    let sites = parse_geojson(geojson).await?;
    let version = replace_sites(app, actor, sites.clone()).await?;
    Ok(Imported { sites, version })
}

/// Stores checked sites with their audit entry and makes them effective
/// for the next punch; the organisation's new fence-set version.
async fn replace_sites(app: &App, actor: &Actor, sites: Vec<SiteDefinition>) -> Result<u64> {
    let entry = audit::entry(actor, "ImportSites", None, format!("{} sites", sites.len()));
    let version = app.store.put_sites(&actor.org, sites, entry).await?;
    app.reload(&actor.org).await?;
    tracing::info!(org = %actor.org, version, "sites imported");
    Ok(version)
}

impl Imported {
    pub fn summary(&self) -> ImportSummary {
        ImportSummary {
            sites: self.sites.len(),
            fences: self.sites.iter().map(|s| s.fences.len()).sum(),
            version: self.version,
        }
    }
}

/// What a streamed import stored: counts, not the sites (which a 200k-fence
/// import would hold twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    pub sites: usize,
    pub fences: usize,
    /// The organisation's fence-set version after the import.
    pub version: u64,
}

/// Replaces the sites named in GeoJSON lines read from `input` (one Feature
/// a line), parsed as they arrive on a blocking thread: memory is bounded
/// by the fences, not by the input, and there is no size cap but
/// [`MAX_FEATURES`](crate::engine::sites::MAX_FEATURES). All or nothing.
pub async fn import_lines<R>(app: &App, actor: &Actor, input: R) -> Result<ImportSummary>
where
    R: std::io::BufRead + Send + 'static,
{
    actor.require(ROLE)?;
    let sites = tokio::task::spawn_blocking(move || {
        crate::engine::sites::check_sites_geojson_lines(
            input,
            crate::engine::coords::CoordinateSystem::Wgs84,
        )
    })
    .await
    .map_err(|e| AppError::task("parsing GeoJSON lines", e))?
    .map_err(import_problems)?;
    let fences = sites.iter().map(|s| s.fences.len()).sum();
    let count = sites.len();
    let version = replace_sites(app, actor, sites).await?;
    Ok(ImportSummary {
        sites: count,
        fences,
        version,
    })
}

/// An import's problems as the request names them: under `geojson`.
fn import_problems(problems: Vec<crate::engine::sites::ImportError>) -> AppError {
    let mut named: Vec<(String, String)> = problems
        .into_iter()
        .map(|e| {
            let field = if e.field == "geojson" {
                e.field
            } else {
                format!("geojson.{}", e.field)
            };
            (field, e.description)
        })
        .collect();
    if named.len() == 1 {
        let (field, description) = named.swap_remove(0);
        AppError::invalid(field, description)
    } else {
        AppError::InvalidArguments(named)
    }
}

/// Sites in id order after `after`, at most `limit`.
pub async fn list(
    app: &App,
    actor: &Actor,
    after: Option<SiteId>,
    limit: usize,
) -> Result<Vec<SiteDefinition>> {
    actor.require(ROLE)?;
    Ok(app.store.list_sites(&actor.org, after, limit).await?)
}

/// Site `id`: its fences, access points, beacons and required evidence.
pub async fn get(app: &App, actor: &Actor, id: &SiteId) -> Result<SiteDefinition> {
    actor.require(ROLE)?;
    app.store
        .site(&actor.org, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no site {id} in the organisation")))
}

/// Replaces one kind of a site's radio evidence, effective for the next punch.
pub async fn put_radios(
    app: &App,
    actor: &Actor,
    site: &SiteId,
    radios: SiteRadios,
) -> Result<SiteDefinition> {
    actor.require(ROLE)?;
    let action = match radios {
        SiteRadios::AccessPoints(_) => "PutSiteAccessPoints",
        SiteRadios::Beacons(_) => "PutSiteBeacons",
    };
    let entry = audit::entry(actor, action, None, format!("site {site}"));
    let (version, stored) = app
        .store
        .put_site_radios(&actor.org, site, radios, entry)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no site {site} in the organisation")))?;
    app.reload(&actor.org).await?;
    tracing::info!(org = %actor.org, version, "site radio evidence changed");
    Ok(stored)
}

/// The organisation's fences as the hot path sees them now, for a map.
pub fn snapshot(app: &App, actor: &Actor) -> Result<std::sync::Arc<crate::engine::OrgSnapshot>> {
    actor.require(ROLE)?;
    Ok(app.snapshots.get(&actor.org))
}

/// How far back a dry run looks for punches to re-judge, and how many it
/// re-judges at most (the first received in that window).
pub const DRY_RUN_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);
pub const DRY_RUN_PUNCHES: usize = 5_000;

/// Where a punch's fix places it.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub decision: Decision,
    pub site: Option<SiteId>,
    pub distance_m: Option<f64>,
}

/// A recent punch whose placement an import would change.
#[derive(Debug, Clone)]
pub struct Changed {
    pub punch_id: PunchId,
    pub received_at: Timestamp,
    pub before: Placement,
    pub after: Placement,
}

/// What an import would do to recent punches.
#[derive(Debug, Clone)]
pub struct DryRun {
    /// Sites the file names.
    pub sites: usize,
    /// Punches re-judged: those of the window whose fix is still kept.
    pub judged: usize,
    pub changed: Vec<Changed>,
}

/// Re-judges the recent punches whose fix is still kept against the fences
/// as they are and as they would be after importing `geojson`, storing
/// nothing, as `punchguard verify` does for a file: the same engine, the
/// same policy, history left out. Only the fix is re-judged (the rest of
/// the evidence is the same on both sides), so a difference is the
/// fences' doing. Lists punches by id and time, never by employee: sites
/// are an admin's business, people's punches are not.
pub async fn dry_run(app: &App, actor: &Actor, geojson: String) -> Result<DryRun> {
    actor.require(ROLE)?;
    let incoming = parse_geojson(geojson).await?;
    let org = &actor.org;
    let (version, mut sites) = app.store.load_sites(org).await?;
    let named: HashSet<&SiteId> = incoming.iter().map(|s| &s.id).collect();
    sites.retain(|s| !named.contains(&s.id));
    let site_count = incoming.len();
    sites.extend(incoming);

    let now = Timestamp::now();
    let rows = crate::store::punches_between(
        app.store.as_ref(),
        org,
        Clock::Received,
        now - DRY_RUN_WINDOW,
        now,
        DRY_RUN_PUNCHES,
    )
    .await?;
    audit::read(
        app.store.as_ref(),
        actor,
        "DryRunImport",
        None,
        format!("{site_count} sites against {} recent punches", rows.len()),
    )
    .await?;
    let mut evidence = HashMap::new();
    for chunk in rows.chunks(1000) {
        let seqs = chunk.iter().map(|r| r.seq).collect();
        evidence.extend(app.store.punch_evidence(org, seqs).await?);
    }

    let before = app.snapshots.get(org);
    let org = org.clone();
    tokio::task::spawn_blocking(move || {
        let after = OrgSnapshot::build(org.clone(), version, sites, before.policy.clone())
            .with_attestation(before.attestation.clone())
            .with_signatures(before.signatures.clone());
        let place = |snapshot: &OrgSnapshot, punch: &Punch| {
            let verdict = engine::evaluate(snapshot, punch, &History::default());
            Placement {
                decision: verdict.decision,
                site: verdict.site,
                distance_m: verdict.distance_m,
            }
        };
        let mut judged = 0;
        let mut changed = Vec::new();
        for row in rows {
            let Some(kept) = evidence.get(&row.seq) else {
                continue;
            };
            let (Some(lat), Some(lon)) = (kept.latitude, kept.longitude) else {
                continue;
            };
            let mut punch = Punch::gps_only(
                org.clone(),
                row.employee.clone(),
                row.punch_id.clone(),
                row.received_at,
                (lon, lat),
                kept.accuracy_m.unwrap_or(0.0),
            );
            if let Some(gps) = punch.gps.as_mut() {
                gps.mock_location = kept.mock_location.unwrap_or(false);
            }
            judged += 1;
            let (was, would_be) = (place(&before, &punch), place(&after, &punch));
            if was.decision != would_be.decision || was.site != would_be.site {
                changed.push(Changed {
                    punch_id: row.punch_id,
                    received_at: row.received_at,
                    before: was,
                    after: would_be,
                });
            }
        }
        DryRun {
            sites: site_count,
            judged,
            changed,
        }
    })
    .await
    .map_err(|e| AppError::task("dry run", e))
}

//! Sites: their fences (imported as GeoJSON) and the WiFi access points and
//! beacons that corroborate a punch there.

use super::{Actor, App, AppError, Result, audit};
use crate::auth::Role;
use crate::engine::SiteId;
use crate::engine::sites::{SiteDefinition, check_sites_geojson};
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
            format!("at most {MAX_GEOJSON_BYTES} bytes, got {}", text.len()),
        ));
    }
    tokio::task::spawn_blocking(move || check_sites_geojson(&text))
        .await
        .map_err(|e| AppError::task("parsing GeoJSON", e))?
        .map_err(|problems| {
            // Import paths are relative to the file; in the request they sit under `geojson`.
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
        })
}

/// Replaces the sites the GeoJSON names (all their fences), effective for
/// the next punch.
pub async fn import(app: &App, actor: &Actor, geojson: String) -> Result<Imported> {
    actor.require(ROLE)?;
    let sites = parse_geojson(geojson).await?;
    let entry = audit::entry(actor, "ImportSites", None, format!("{} sites", sites.len()));
    let version = app
        .store
        .put_sites(&actor.org, sites.clone(), entry)
        .await?;
    app.reload(&actor.org).await?;
    tracing::info!(org = %actor.org, version, "sites imported");
    Ok(Imported { sites, version })
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

//! The admin's sites: every fence on one map, a site's detail, and the
//! GeoJSON upload with each feature's problem shown.
//!
//! The map is drawn in the browser (a canvas, `assets/map.js`) from what
//! `GET /sites/fences` answers for the box in view, straight from the
//! R-tree the hot path uses: up to [`MAX_DRAWN`] fences as outlines, and
//! beyond that a grid of counts, so that a view over 200k fences costs the
//! browser a few hundred cells, not 200k polygons.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use minijinja::Value;
use minijinja::value::Serde;
use serde::{Deserialize, Serialize};

use super::{
    Console, SignedIn, app_problem, csrf_refusal, field, optional_field, problem_page, who,
};
use crate::app::{self, AppError};
use crate::engine::SiteId;
use crate::engine::fence::FenceGeometry;

/// Most fences one view draws as outlines; a view holding more gets counts.
pub const MAX_DRAWN: usize = 2_000;
/// The grid of counts over a crowded view, cells across and down.
const GRID: (usize, usize) = (48, 30);
/// Sites listed on one page of the overview.
const SITES_PAGE: usize = 100;

#[derive(Deserialize)]
pub struct OverviewQuery {
    /// The page starts after this site id.
    #[serde(default)]
    after: String,
}

#[derive(Serialize)]
struct SiteRow {
    id: String,
    fences: usize,
    access_points: usize,
    beacons: usize,
    requires: Option<String>,
}

#[derive(Serialize, Default)]
struct ImportOutcome {
    /// Each problem: the feature's path and what is wrong there.
    problems: Vec<(String, String)>,
    imported: Option<String>,
    dry_run: Option<DryRunView>,
}

#[derive(Serialize)]
struct DryRunView {
    summary: String,
    changed: Vec<ChangedView>,
}

#[derive(Serialize)]
struct ChangedView {
    punch_id: String,
    received: String,
    before: String,
    after: String,
}

fn placement(p: &app::sites::Placement) -> String {
    let site = p.site.as_ref().map_or("no site", |s| s.as_str());
    match p.distance_m {
        Some(d) => format!("{} · {site} · {d:.0} m", p.decision.as_str()),
        None => format!("{} · {site}", p.decision.as_str()),
    }
}

impl DryRunView {
    fn new(run: &app::sites::DryRun) -> Self {
        DryRunView {
            summary: format!(
                "Dry run, nothing stored: the file's {} site(s) would change the placement of {} of the {} punch(es) of the last {} h whose fix is kept.",
                run.sites,
                run.changed.len(),
                run.judged,
                app::sites::DRY_RUN_WINDOW.as_hours()
            ),
            changed: run
                .changed
                .iter()
                .map(|c| ChangedView {
                    punch_id: c.punch_id.as_str().to_owned(),
                    received: c.received_at.to_string(),
                    before: placement(&c.before),
                    after: placement(&c.after),
                })
                .collect(),
        }
    }
}

pub async fn overview(
    State(console): State<Arc<Console>>,
    signed: SignedIn,
    Query(query): Query<OverviewQuery>,
) -> Response {
    render_overview(&console, &signed, &query.after, ImportOutcome::default()).await
}

async fn render_overview(
    console: &Console,
    signed: &SignedIn,
    after: &str,
    outcome: ImportOutcome,
) -> Response {
    let listed = async {
        let snapshot = app::sites::snapshot(&console.app, &signed.actor)?;
        let after = optional_field(after, "after", SiteId::new)?;
        let sites = app::sites::list(&console.app, &signed.actor, after, SITES_PAGE).await?;
        Ok::<_, AppError>((snapshot, sites))
    };
    let (snapshot, sites) = match listed.await {
        Ok(found) => found,
        Err(e) => return app_problem(console, e),
    };
    let rows: Vec<SiteRow> = sites
        .iter()
        .map(|s| SiteRow {
            id: s.id.as_str().to_owned(),
            fences: s.fences.len(),
            access_points: s.access_points.len(),
            beacons: s.beacons.len(),
            requires: s.requires.as_ref().map(|r| r.to_string()),
        })
        .collect();
    let next = (sites.len() == SITES_PAGE).then(|| sites[sites.len() - 1].id.as_str().to_owned());
    let extent = snapshot
        .index
        .extent()
        .map(|(lo, hi)| format!("{},{},{},{}", lo[0], lo[1], hi[0], hi[1]));
    let failed = !outcome.problems.is_empty();
    let mut page = console.render(
        "sites.html",
        minijinja::context! {
            who => who(signed),
            fences => snapshot.index.len(),
            site_count => snapshot.sites.len(),
            version => snapshot.version,
            extent,
            sites => Value::from(Serde(rows)),
            next,
            outcome => Value::from(Serde(outcome)),
        },
    );
    if failed {
        *page.status_mut() = StatusCode::BAD_REQUEST;
    }
    page
}

pub async fn detail(
    State(console): State<Arc<Console>>,
    signed: SignedIn,
    Path(site): Path<String>,
) -> Response {
    let found = async {
        let id = field(&site, "site", SiteId::new)?;
        app::sites::get(&console.app, &signed.actor, &id).await
    };
    let site = match found.await {
        Ok(site) => site,
        Err(e) => return app_problem(&console, e),
    };
    let fences: Vec<String> = site
        .fences
        .iter()
        .map(|f| match f {
            FenceGeometry::Polygon(mp) => format!(
                "polygon: {} part(s), {} vertices",
                mp.0.len(),
                mp.0.iter()
                    .map(|p| p.exterior().0.len()
                        + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
                    .sum::<usize>()
            ),
            FenceGeometry::Circle { center, radius_m } => format!(
                "circle: {:.6}, {:.6}, radius {radius_m} m",
                center.y(),
                center.x()
            ),
        })
        .collect();
    let access_points: Vec<(String, String)> = site
        .access_points
        .iter()
        .map(|a| (a.bssid.to_string(), a.ssid.clone()))
        .collect();
    let beacons: Vec<String> = site.beacons.iter().map(|b| format!("{b:?}")).collect();
    let map = crate::reports::html::map(None, &site.fences, site.id.as_str());
    console.render(
        "site.html",
        minijinja::context! {
            who => who(&signed),
            id => site.id.as_str(),
            requires => site.requires.as_ref().map(|r| r.to_string()),
            fences => Value::from(Serde(fences)),
            access_points => Value::from(Serde(access_points)),
            beacons => Value::from(Serde(beacons)),
            map,
        },
    )
}

/// Imports an uploaded GeoJSON file, or with `dry_run` shows which recent
/// punches it would place differently; every feature's problem is listed,
/// and nothing is stored unless the whole file is right.
pub async fn import(
    State(console): State<Arc<Console>>,
    signed: SignedIn,
    mut form: Multipart,
) -> Response {
    let (mut csrf, mut geojson, mut dry) = (String::new(), None, false);
    loop {
        match form.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("csrf") => csrf = field.text().await.unwrap_or_default(),
                Some("dry_run") => dry = true,
                Some("geojson") => match field.bytes().await {
                    Ok(bytes) => geojson = Some(bytes),
                    Err(e) => return problem_page(&console, e.status(), &e.body_text()),
                },
                _ => {}
            },
            Ok(None) => break,
            Err(e) => return problem_page(&console, e.status(), &e.body_text()),
        }
    }
    if let Some(refused) = csrf_refusal(&console, &signed, &csrf) {
        return refused;
    }
    let text = match geojson.map(|b| String::from_utf8(b.to_vec())) {
        Some(Ok(text)) => text,
        Some(Err(_)) => {
            return app_problem(&console, AppError::invalid("geojson", "must be UTF-8 text"));
        }
        None => return app_problem(&console, AppError::invalid("geojson", "choose a file")),
    };
    let done = if dry {
        app::sites::dry_run(&console.app, &signed.actor, text)
            .await
            .map(|run| ImportOutcome {
                dry_run: Some(DryRunView::new(&run)),
                ..Default::default()
            })
    } else {
        app::sites::import(&console.app, &signed.actor, text)
            .await
            .map(|imported| ImportOutcome {
                imported: Some(format!(
                    "imported {} site(s); the fence set is now version {}",
                    imported.sites.len(),
                    imported.version
                )),
                ..Default::default()
            })
    };
    let outcome = match done {
        Ok(outcome) => outcome,
        Err(AppError::InvalidArguments(problems)) => ImportOutcome {
            problems,
            ..Default::default()
        },
        Err(AppError::InvalidArgument { field, description }) => ImportOutcome {
            problems: vec![(field, description)],
            ..Default::default()
        },
        Err(e) => return app_problem(&console, e),
    };
    render_overview(&console, &signed, "", outcome).await
}

#[derive(Deserialize)]
pub struct View {
    w: f64,
    s: f64,
    e: f64,
    n: f64,
}

/// What the map draws for a view.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Drawn {
    /// Each fence: its site and its rings (lon, lat pairs) or circle.
    Fences {
        total: usize,
        fences: Vec<DrawnFence>,
    },
    /// Too many to draw: how many fences have their centre in each cell.
    Counts {
        total: usize,
        columns: usize,
        rows: usize,
        counts: Vec<u32>,
    },
}

#[derive(Serialize)]
struct DrawnFence {
    site: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rings: Vec<Vec<[f64; 2]>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    circle: Option<[f64; 3]>,
}

/// Rounds a coordinate to 1e-6° (about 0.1 m): plenty for a screen.
fn round(c: geo::Coord<f64>) -> [f64; 2] {
    [(c.x * 1e6).round() / 1e6, (c.y * 1e6).round() / 1e6]
}

pub async fn fences_in_view(
    State(console): State<Arc<Console>>,
    signed: SignedIn,
    Query(view): Query<View>,
) -> Response {
    let snapshot = match app::sites::snapshot(&console.app, &signed.actor) {
        Ok(snapshot) => snapshot,
        Err(e) => return app_problem(&console, e),
    };
    let finite = [view.w, view.s, view.e, view.n]
        .iter()
        .all(|v| v.is_finite());
    if !finite || view.w > view.e || view.s > view.n {
        return (StatusCode::BAD_REQUEST, "w <= e and s <= n, in degrees").into_response();
    }
    let found = snapshot.index.meeting([view.w, view.s], [view.e, view.n]);
    let total = found.len();
    if total > MAX_DRAWN {
        let (columns, rows) = GRID;
        let mut counts = vec![0u32; columns * rows];
        let (dx, dy) = (
            (view.e - view.w) / columns as f64,
            (view.n - view.s) / rows as f64,
        );
        for &i in &found {
            if let Some((lo, hi)) = snapshot.index.fence(i).geometry.bounds() {
                let (x, y) = ((lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0);
                let col = (((x - view.w) / dx) as usize).min(columns - 1);
                let row = (((view.n - y) / dy) as usize).min(rows - 1);
                counts[row * columns + col] += 1;
            }
        }
        return Json(Drawn::Counts {
            total,
            columns,
            rows,
            counts,
        })
        .into_response();
    }
    let fences = found
        .iter()
        .map(|&i| {
            let site = snapshot.site_of_fence(i).as_str().to_owned();
            match &snapshot.index.fence(i).geometry {
                FenceGeometry::Polygon(mp) => DrawnFence {
                    site,
                    rings: mp
                        .0
                        .iter()
                        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                        .map(|ring| ring.coords().map(|c| round(*c)).collect())
                        .collect(),
                    circle: None,
                },
                FenceGeometry::Circle { center, radius_m } => {
                    let [x, y] = round(center.0);
                    DrawnFence {
                        site,
                        rings: Vec::new(),
                        circle: Some([x, y, *radius_m]),
                    }
                }
            }
        })
        .collect();
    Json(Drawn::Fences { total, fences }).into_response()
}

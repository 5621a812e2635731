//! The web console: a real server and console on 127.0.0.1:0, driven by
//! real headless Chromium through chromedriver (Debian's `chromium` and
//! `chromium-driver`, which `.ci/run` installs), and by hand-made HTTP
//! requests for what a browser would never send (a forged cross-site post,
//! a planted session cookie).
//!
//! Screenshots go to `PUNCHGUARD_SCREENSHOTS` when set (the README's come
//! from `PUNCHGUARD_SCREENSHOTS=tests/screenshots cargo test --test
//! console`), else to a temporary directory.

mod common;

#[path = "../benches/common/tiles.rs"]
mod tiles;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use fantoccini::{Client, ClientBuilder, Locator};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use common::*;
use punchguard::app::{Actor, audit, tokens};
use punchguard::auth::Role;
use punchguard::engine::OrgId;
use punchguard::proto::v1 as pb;

const ORG: &str = "acme";
/// What a reviewer types: a reason that is also an XSS attempt.
const HOSTILE_REASON: &str =
    r#"seen at home <script>document.title="pwned"</script><img src=x onerror=alert(1)>"#;

/// A server, its console, and an organisation with a schedule and one
/// punch awaiting review (liisa's, 105 m from the centre of a 100 m
/// circle with a 30 m fix: NEAR_FENCE).
struct Setup {
    server: TestServer,
    console: SocketAddr,
    hr: String,
    admin: String,
    /// The local date of liisa's shift.
    date: String,
}

impl Setup {
    async fn start() -> Self {
        let server = TestServer::start().await;
        let admin = server.token(ORG, Role::Admin, None).await;
        let hr = server.token(ORG, Role::Hr, None).await;
        server.import(&admin, HQ).await;
        let (shift, date) = shift_around_now("day", 1);
        let schedule = pb::Schedule {
            time_zone: ZONE.into(),
            shifts: vec![shift],
            assignments: vec![every_day("liisa", "day")],
        };
        server
            .admin_client()
            .await
            .put_schedule(authed(
                pb::PutScheduleRequest {
                    org_id: String::new(),
                    schedule: Some(schedule),
                },
                &admin,
            ))
            .await
            .unwrap();
        let device = server.token(ORG, Role::Device, Some("liisa")).await;
        let edge = at_the_edge("liisa-in");
        let verdict = server
            .punch_client()
            .await
            .submit_punch(authed(edge, &device))
            .await
            .unwrap()
            .into_inner()
            .verdict
            .unwrap();
        assert_eq!(verdict.decision(), pb::Decision::Review);

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let console = listener.local_addr().unwrap();
        let routes = punchguard::console::router(server.app.clone(), None);
        tokio::spawn(async move { axum::serve(listener, routes).await });
        Setup {
            server,
            console,
            hr,
            admin,
            date,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.console)
    }
}

/// A response as a test reads it.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

/// Sends one request the way a script (not a browser) would.
async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    form: Option<&[(&str, &str)]>,
) -> Answer {
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build::<_, Full<Bytes>>(HttpConnector::new());
    let mut request = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = match form {
        Some(fields) => {
            request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            serde_urlencoded::to_string(fields).unwrap()
        }
        None => String::new(),
    };
    let response = client
        .request(request.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body.collect().await.unwrap().to_bytes()).into_owned(),
    }
}

/// GETs `path` of the console with the session `cookie`.
async fn get(setup: &Setup, cookie: &str, path: &str) -> Answer {
    send(Method::GET, &setup.url(path), &[("cookie", cookie)], None).await
}

/// Signs in with `token`; returns the session cookie (`name=value`).
async fn sign_in(setup: &Setup, token: &str, planted: Option<&str>) -> String {
    let cookie = planted.map(|p| format!("pg_session={p}"));
    let mut headers = vec![("origin", setup.url(""))];
    if let Some(cookie) = &cookie {
        headers.push(("cookie", cookie.clone()));
    }
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let answer = send(
        Method::POST,
        &setup.url("/sign-in"),
        &headers,
        Some(&[("token", token)]),
    )
    .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let set = answer.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    set.split(';').next().unwrap().to_owned()
}

/// The CSRF token of the page's forms.
fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    page[at..at + 64].to_owned()
}

#[tokio::test]
async fn cookies_sessions_and_headers() {
    let setup = Setup::start().await;
    // The sign-in answer: a fresh random session id, never the token, in
    // an HttpOnly, SameSite=Strict cookie for the whole console.
    let answer = send(
        Method::POST,
        &setup.url("/sign-in"),
        &[("cookie", "pg_session=chosen-by-the-attacker")],
        Some(&[("token", &setup.hr)]),
    )
    .await;
    let set = answer.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(set.starts_with("pg_session="), "{set}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(flag), "{set} lacks {flag}");
    }
    assert!(!set.contains("Secure"), "plaintext loopback: {set}");
    assert!(!set.contains(&setup.hr));
    // Session fixation: the planted id is not adopted, and never works.
    assert!(!set.contains("chosen-by-the-attacker"));
    let planted = send(
        Method::GET,
        &setup.url("/review"),
        &[("cookie", "pg_session=chosen-by-the-attacker")],
        None,
    )
    .await;
    assert_eq!(planted.status, StatusCode::SEE_OTHER);
    assert_eq!(planted.headers[header::LOCATION], "/sign-in");

    // Every answer forbids framing and every external origin.
    let cookie = sign_in(&setup, &setup.hr, None).await;
    for path in [
        "/sign-in",
        "/review",
        "/day",
        "/assets/console.js",
        "/nowhere",
    ] {
        let answer = get(&setup, &cookie, path).await;
        let csp = answer.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(!csp.contains("http"), "{path} allows an origin: {csp}");
        assert_eq!(answer.headers[header::X_FRAME_OPTIONS], "DENY", "{path}");
        assert_eq!(answer.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
    let page = get(&setup, &cookie, "/review").await;
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
    for external in ["http://", "https://", "//cdn", "fonts."] {
        assert!(
            !page.body.contains(external),
            "the page would fetch {external}"
        );
    }

    // Under TLS the cookie is Secure and __Host- prefixed.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls_addr = listener.local_addr().unwrap();
    let routes = punchguard::console::router(setup.server.app.clone(), Some(false));
    tokio::spawn(async move { axum::serve(listener, routes).await });
    let answer = send(
        Method::POST,
        &format!("http://{tls_addr}/sign-in"),
        &[],
        Some(&[("token", &setup.hr)]),
    )
    .await;
    let set = answer.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        set.starts_with("__Host-pg_session=") && set.contains("Secure"),
        "{set}"
    );
    assert!(
        answer
            .headers
            .contains_key(header::STRICT_TRANSPORT_SECURITY)
    );

    // A device token never gets a session; nor does a wrong one.
    let device = setup.server.token(ORG, Role::Device, Some("liisa")).await;
    for token in [device.as_str(), "not-a-token"] {
        let answer = send(
            Method::POST,
            &setup.url("/sign-in"),
            &[],
            Some(&[("token", token)]),
        )
        .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert!(!answer.headers.contains_key(header::SET_COOKIE));
    }

    // Revoking the token ends its sessions at once.
    let operator = Actor::cli(OrgId::new(ORG).unwrap(), tokens::ROLE);
    let hr_id = punchguard::auth::TokenHash::of(&setup.hr).id();
    tokens::revoke(&setup.server.app, &operator, &hr_id)
        .await
        .unwrap();
    let after = get(&setup, &cookie, "/review").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert_eq!(after.headers[header::LOCATION], "/sign-in");
}

#[tokio::test]
async fn csrf_roles_and_escaping() {
    let setup = Setup::start().await;
    let hr = sign_in(&setup, &setup.hr, None).await;
    let page = get(&setup, &hr, "/review").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("liisa-in"), "{}", page.body);
    let csrf = csrf_of(&page.body);
    let decision = |token: &'static str| {
        let csrf = if token.is_empty() { "" } else { csrf.as_str() };
        vec![
            ("csrf", csrf.to_owned()),
            ("employee", "liisa".to_owned()),
            ("punch_id", "liisa-in".to_owned()),
            ("decision", "reject".to_owned()),
            ("reason", HOSTILE_REASON.to_owned()),
        ]
    };
    let post = async |headers: &[(&str, &str)], fields: Vec<(&str, String)>| {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
        send(Method::POST, &setup.url("/review"), headers, Some(&fields)).await
    };
    // A page on another site posting the reviewer's form, with the cookie
    // a lax browser might attach and even the right token: refused.
    let origin = setup.url("");
    for headers in [
        vec![("cookie", hr.as_str()), ("origin", "http://evil.example")],
        vec![("cookie", hr.as_str()), ("sec-fetch-site", "cross-site")],
        vec![("cookie", hr.as_str()), ("sec-fetch-site", "same-site")],
    ] {
        let answer = post(&headers, decision("with")).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{headers:?}");
    }
    // Same origin, but no CSRF token: refused too.
    let answer = post(&[("cookie", &hr), ("origin", &origin)], decision("")).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let mut attendance = setup.server.attendance_client().await;
    let queue = attendance
        .list_review_queue(authed(pb::ListReviewQueueRequest::default(), &setup.hr))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(queue.punches.len(), 1, "nothing was decided by a forgery");

    // The reviewer's own form, from the console's page: recorded.
    let answer = post(
        &[
            ("cookie", &hr),
            ("origin", &origin),
            ("sec-fetch-site", "same-origin"),
        ],
        decision("with"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);

    // The reason is shown as text everywhere, never as markup.
    let day = get(&setup, &hr, &format!("/day?date={}", setup.date)).await;
    assert!(
        day.body
            .contains("rejected on review: seen at home &lt;script&gt;"),
        "{}",
        day.body
    );
    assert!(!day.body.contains("<script>document"));
    assert!(!day.body.contains("<img src=x"));

    // An HR session cannot reach admin pages, nor an admin HR's.
    for path in [
        "/sites",
        "/devices?employee=liisa",
        "/sites/fences?w=0&s=0&e=1&n=1",
    ] {
        let answer = get(&setup, &hr, path).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
    }
    let admin = sign_in(&setup, &setup.admin, None).await;
    for path in ["/review", "/day", "/audit"] {
        let answer = get(&setup, &admin, path).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
    }

    // What an admin controls is escaped too: a site named like markup is
    // listed as text.
    let page = get(&setup, &admin, "/sites").await;
    let admin_csrf = csrf_of(&page.body);
    let hostile_site = HQ.replace("\"hq\"", r#""<b onmouseover=alert(1)>x</b>""#);
    let (status, html) = upload(&setup, &admin, &admin_csrf, &hostile_site, false).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("&lt;b onmouseover=alert(1)&gt;x&lt;"),
        "{html}"
    );
    assert!(!html.contains("<b onmouseover"), "{html}");
    // And a refusal that quotes the file shows it as text too.
    let (status, html) = upload(
        &setup,
        &admin,
        &admin_csrf,
        "<script>alert(1)</script>",
        false,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(html.contains("not valid GeoJSON"), "{html}");
    assert!(!html.contains("<script>alert"), "{html}");

    // Each page of personal data is audited like the gRPC reads.
    let log = punchguard::app::privacy::audit_log(
        &setup.server.app,
        &Actor::cli(OrgId::new(ORG).unwrap(), Role::Privacy),
        None,
        0,
        1000,
    )
    .await
    .unwrap();
    let hr_id = punchguard::auth::TokenHash::of(&setup.hr).id();
    for action in [
        "ConsoleSignIn",
        "ListReviewQueue",
        "ListEmployeePunches",
        "ReviewPunch",
        "GetDailyResults",
    ] {
        assert!(
            log.iter()
                .any(|r| r.entry.action == action && r.entry.actor == hr_id),
            "no {action} entry by the HR token"
        );
    }
}

/// Posts `geojson` to the sites import as the browser's form would, with
/// `dry_run` when asked; answers the status and the page.
async fn upload(
    setup: &Setup,
    cookie: &str,
    csrf: &str,
    geojson: &str,
    dry_run: bool,
) -> (StatusCode, String) {
    let boundary = "x-boundary-x";
    let part = |name: &str, value: &str| {
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
    };
    let mut body = part("csrf", csrf);
    if dry_run {
        body += &part("dry_run", "1");
    }
    body += &format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"geojson\"; filename=\"s.geojson\"\r\n\
         Content-Type: application/geo+json\r\n\r\n{geojson}\r\n--{boundary}--\r\n"
    );
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build::<_, Full<Bytes>>(HttpConnector::new());
    let response = client
        .request(
            Request::post(setup.url("/sites/import"))
                .header("cookie", cookie)
                .header(
                    header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(Full::new(Bytes::from(body)))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let html = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&html).into_owned())
}

#[tokio::test]
async fn devices_dry_run_export_and_markup_in_employee_ids_and_finding_messages() {
    let setup = Setup::start().await;
    let app = &setup.server.app;
    let org = OrgId::new(ORG).unwrap();

    // A dry run of a wider HQ: liisa's punch at the edge would be inside.
    // Nothing is stored.
    let admin = sign_in(&setup, &setup.admin, None).await;
    let page = get(&setup, &admin, "/sites").await;
    let csrf = csrf_of(&page.body);
    let wider = HQ.replace("\"radius_m\":100", "\"radius_m\":200");
    let (status, html) = upload(&setup, &admin, &csrf, &wider, true).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let at = html.find("id=\"dry-run\"").expect("the dry run's answer");
    let run = &html[at..];
    assert!(
        run.contains("change the placement of 1 of the 1 punch(es)"),
        "{run}"
    );
    assert!(
        run.contains("liisa-in") && run.contains("review · hq") && run.contains("accepted · hq"),
        "{run}"
    );
    assert!(
        !run.contains("liisa</"),
        "a dry run names punches, not people: {run}"
    );
    let operator = Actor::cli(org.clone(), Role::Admin);
    let hq = punchguard::app::sites::get(
        app,
        &operator,
        &punchguard::engine::SiteId::new("hq").unwrap(),
    )
    .await
    .unwrap();
    assert!(matches!(
        hq.fences[0],
        punchguard::engine::fence::FenceGeometry::Circle { radius_m, .. } if radius_m == 100.0
    ));

    // Devices: the admin sees liisa's phone and revokes its binding.
    let liisa = punchguard::engine::EmployeeId::new("liisa").unwrap();
    let phone = punchguard::engine::DeviceId::new("phone-1").unwrap();
    punchguard::app::devices::bind(app, &operator, &liisa, &phone)
        .await
        .unwrap();
    let page = get(&setup, &admin, "/devices?employee=liisa").await;
    assert!(page.body.contains("phone-1") && page.body.contains("Revoke binding"));
    let revoked = send(
        Method::POST,
        &setup.url("/devices/revoke"),
        &[("cookie", &admin), ("sec-fetch-site", "same-origin")],
        Some(&[
            ("csrf", &csrf),
            ("employee", "liisa"),
            ("device", "phone-1"),
        ]),
    )
    .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
    let listed = punchguard::app::devices::list(app, &operator, &liisa)
        .await
        .unwrap();
    assert!(listed[0].binding.as_ref().unwrap().revoked_at.is_some());

    // The day's export: the CLI's exporter, header and all.
    let hr = sign_in(&setup, &setup.hr, None).await;
    let csv = get(
        &setup,
        &hr,
        &format!("/day/export?date={}&format=csv", setup.date),
    )
    .await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.body);
    assert!(
        csv.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let mut lines = csv.body.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("employee_id,date,shift_id,planned_start")
    );
    assert!(lines.next().unwrap().starts_with("liisa,"));
    let jsonl = get(
        &setup,
        &hr,
        &format!("/day/export?date={}&format=jsonl", setup.date),
    )
    .await;
    let line: serde_json::Value = serde_json::from_str(jsonl.body.lines().next().unwrap()).unwrap();
    assert_eq!(line["employee_id"], "liisa");

    // HR records liisa's forgotten clock-in from the day view: it counts,
    // and the day view says it is a correction and why.
    let minute_ago = TimeZone::get(ZONE)
        .unwrap()
        .to_datetime(Timestamp::now() - SignedDuration::from_mins(1))
        .strftime("%Y-%m-%dT%H:%M")
        .to_string();
    let day = get(&setup, &hr, &format!("/day?date={}", setup.date)).await;
    let hr_csrf = csrf_of(&day.body);
    let recorded = send(
        Method::POST,
        &setup.url("/corrections"),
        &[("cookie", &hr), ("sec-fetch-site", "same-origin")],
        Some(&[
            ("csrf", &hr_csrf),
            ("employee", "liisa"),
            ("kind", "in"),
            ("time", &minute_ago),
            ("site", "hq"),
            ("reason", "badge reader down; her manager let her in"),
        ]),
    )
    .await;
    assert_eq!(recorded.status, StatusCode::SEE_OTHER, "{}", recorded.body);
    let day = get(&setup, &hr, &format!("/day?date={}", setup.date)).await;
    assert!(
        day.body
            .contains("is HR&#x27;s correction: badge reader down; her manager let her in"),
        "{}",
        day.body
    );

    // An employee id a phone's token carries, shaped like markup: text.
    let hostile = r#"<img src=x onerror=alert(1)>"#;
    let device = setup.server.token(ORG, Role::Device, Some(hostile)).await;
    let edge = at_the_edge("hostile-in");
    setup
        .server
        .punch_client()
        .await
        .submit_punch(authed(edge, &device))
        .await
        .unwrap();
    let page = get(&setup, &hr, "/review").await;
    assert!(
        page.body.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{}",
        page.body
    );
    assert!(!page.body.contains(hostile));

    // A finding's message quoting what an admin named: a site named like
    // markup whose access point a phone at HQ sees, 550 m from the fix
    // (GPS_WIFI_DISAGREE, to review). The message is shown as text.
    let annex = r#"{"type":"FeatureCollection","features":[{"type":"Feature",
        "properties":{"site":"<b onmouseover=alert(2)>annex</b>","radius_m":50,
                      "wifi":[{"bssid":"f0:9f:c2:10:00:09","ssid":"Annex"}]},
        "geometry":{"type":"Point","coordinates":[26.95,60.47]}}]}"#;
    setup.server.import(&setup.admin, annex).await;
    let device = setup.server.token(ORG, Role::Device, Some("onni")).await;
    let mut at_hq = punch_at("onni-in", geo::Point::new(26.94, 60.47), 8.0);
    at_hq.wifi = vec![pb::WifiAccessPoint {
        bssid: "F0:9F:C2:10:00:09".into(),
        ssid: "Annex".into(),
        rssi_dbm: -60,
    }];
    let verdict = setup
        .server
        .punch_client()
        .await
        .submit_punch(authed(at_hq, &device))
        .await
        .unwrap()
        .into_inner()
        .verdict
        .unwrap();
    assert!(
        verdict
            .findings
            .iter()
            .any(|f| f.code() == pb::FindingCode::GpsWifiDisagree),
        "{verdict:?}"
    );
    let page = get(&setup, &hr, "/review").await;
    assert!(
        page.body
            .contains("WiFi places the punch at site &lt;b onmouseover=alert(2)&gt;annex"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<b onmouseover"));
}

/// The reviewer's report fits fence and fix in each map at any distance: a
/// fix 20 km away (the fence would be a speck: it gets a ring), one at the
/// edge, one ±450 m; a punch placed nowhere names the nearest site as
/// nearest; the daily table shows planned times. Screenshotted in Chromium.
#[tokio::test]
async fn the_report_maps_fit_fence_and_fix_at_any_distance() {
    let setup = Setup::start().await;
    let mut punches = setup.server.punch_client().await;
    for (employee, id, north_m, accuracy) in [
        ("ville", "far-in", 20_000.0, 10.0),
        ("kerttu", "vague-in", 300.0, 450.0),
    ] {
        let device = setup.server.token(ORG, Role::Device, Some(employee)).await;
        let request = punch_at(
            id,
            geo::Point::new(26.94, 60.47 + north_m / 111_320.0),
            accuracy,
        );
        let verdict = punches
            .submit_punch(authed(request, &device))
            .await
            .unwrap()
            .into_inner()
            .verdict
            .unwrap();
        assert_ne!(verdict.decision(), pb::Decision::Accepted, "{id}");
    }
    let org = OrgId::new(ORG).unwrap();
    let date = setup.date.parse().unwrap();
    let report = punchguard::reports::html::gather(setup.server.app.store.as_ref(), &org, date)
        .await
        .unwrap();
    assert_eq!(report.flagged.len(), 3, "liisa's, ville's and kerttu's");
    let html = punchguard::reports::html::render(&report);
    let cards: Vec<&str> = html.split("<div class=\"card\">").skip(1).collect();
    for card in &cards {
        let svg = &card[..card.find("</svg>").unwrap()];
        assert!(svg.contains("fill=\"#c8e6c9\""), "no fence drawn: {svg}");
        assert!(svg.contains("fix ±"), "no fix drawn: {svg}");
        assert!(
            svg.contains(">hq</text>"),
            "the fence is not labelled: {svg}"
        );
    }
    let far = cards.iter().find(|c| c.contains("far-in")).unwrap();
    assert!(
        far.contains("stroke-dasharray=\"3 2\""),
        "the far fence is a speck"
    );
    assert!(far.contains("no site; nearest hq"), "{far}");
    assert!(html.contains("<th>planned</th>"));

    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let file = tempfile::Builder::new().suffix(".html").tempfile().unwrap();
    std::fs::write(file.path(), &html).unwrap();
    let Some(chromium) = installed(CHROMIUM, "the report's screenshot") else {
        return;
    };
    let png = dir.join("report-maps.png");
    let shot = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg("--window-size=1100,1500")
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", file.path().display()))
        .output()
        .unwrap();
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    assert_eq!(&std::fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
}

/// A page on another origin (`localhost`, not `127.0.0.1`) whose script
/// posts a rejection of liisa's punch to the console as soon as it loads.
async fn evil_site(setup: &Setup) -> String {
    let page = format!(
        r#"<!DOCTYPE html><html><body><form method="post" action="{}">
        <input name="employee" value="liisa"><input name="punch_id" value="liisa-in">
        <input name="decision" value="reject"><input name="reason" value="forged">
        </form><script>document.forms[0].submit()</script></body></html>"#,
        setup.url("/review")
    );
    let routes = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let page = page.clone();
            async move { axum::response::Html(page) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, routes).await });
    format!("http://localhost:{port}/")
}

/// Chromium under chromedriver, headless, at 1280×800.
struct Browser {
    client: Client,
    driver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Starts chromedriver and a browser session; `None` (and a SKIPPED line)
/// when chromedriver is missing, which under `CI=true` fails instead.
async fn browser() -> Option<Browser> {
    let driver_path = installed(
        &["chromedriver", "/usr/lib/chromium/chromedriver"],
        "the console's browser tests",
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Command::new(driver_path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({"args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--window-size=1280,800", "--hide-scrollbars"
        ]}),
    );
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a chromedriver session");
    Some(Browser { client, driver })
}

fn screenshot_dir() -> PathBuf {
    match std::env::var_os("PUNCHGUARD_SCREENSHOTS") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir().join("punchguard-console-screenshots"),
    }
}

async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

/// Accessible basics on the current page: every visible control has a
/// label, and nothing is wider than the window (no sideways scrolling).
async fn check_accessible_basics(b: &Client, page: &str) {
    let unlabelled = b
        .execute(
            "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button, canvas')]\
               .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())\
               .map(e => e.outerHTML.slice(0, 80));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        unlabelled,
        serde_json::json!([]),
        "{page}: unlabelled controls"
    );
    let fits = b
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(fits, serde_json::json!(true), "{page} scrolls sideways");
}

async fn browser_sign_in(browser: &Client, setup: &Setup, token: &str) {
    browser.goto(&setup.url("/sign-in")).await.unwrap();
    browser
        .find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys(token)
        .await
        .unwrap();
    browser
        .find(Locator::Id("sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// The text of the element `css` selects, once the page has it.
async fn text_of(browser: &Client, css: &str) -> String {
    let found = browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await;
    match found {
        Ok(element) => element.text().await.unwrap(),
        Err(e) => {
            let url = browser.current_url().await.map(|u| u.to_string());
            let source = browser.source().await.unwrap_or_default();
            panic!("no {css} on {url:?}: {e}\n{source}")
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_rejects_a_flagged_punch_in_the_browser() {
    let setup = Setup::start().await;
    let Some(browser) = browser().await else {
        return;
    };
    let b = &browser.client;
    browser_sign_in(b, &setup, &setup.hr).await;
    // Signed in, the queue opens on the flagged punch with its map.
    let selected = text_of(b, "#selected").await;
    assert!(selected.contains("liisa"), "{selected}");
    assert!(selected.contains("NEAR_FENCE"), "{selected}");
    let circles = b
        .find_all(Locator::Css("#selected svg circle"))
        .await
        .unwrap();
    assert!(
        circles.len() >= 3,
        "the fence, the accuracy circle and the fix"
    );
    screenshot(b, "review-queue.png").await;

    // An HR session cannot reach an admin's page.
    b.goto(&setup.url("/sites")).await.unwrap();
    let problem = text_of(b, "#problem").await;
    assert!(problem.contains("needs a admin token"), "{problem}");

    // Another site's page that posts a rejection as soon as it opens: the
    // browser sends it without the session (SameSite=Strict) and from
    // another origin, and nothing is decided.
    let evil = evil_site(&setup).await;
    b.goto(&evil).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    // The form went: the browser left the other site for the console,
    // which refused it for where it came from.
    while !b
        .current_url()
        .await
        .unwrap()
        .as_str()
        .starts_with(&setup.url("/"))
    {
        assert!(
            Instant::now() < deadline,
            "the forged form was never posted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refusal = text_of(b, "#problem").await;
    assert!(refusal.contains("came from another site"), "{refusal}");
    let queue = setup
        .server
        .attendance_client()
        .await
        .list_review_queue(authed(pb::ListReviewQueueRequest::default(), &setup.hr))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(queue.punches.len(), 1, "a forged post decided a punch");
    assert!(queue.punches[0].review.is_none());

    // Before the decision the day view says why the punch does not count.
    b.goto(&setup.url(&format!("/day?date={}", setup.date)))
        .await
        .unwrap();
    let before = text_of(b, "#daily").await;
    assert!(
        before.contains("liisa-in not counted: awaiting review"),
        "{before}"
    );

    // Reject with a reason, by keyboard: r, type, x.
    b.goto(&setup.url("/review")).await.unwrap();
    text_of(b, "#selected").await;
    let body = b.find(Locator::Css("body")).await.unwrap();
    body.send_keys("r").await.unwrap();
    b.active_element()
        .await
        .unwrap()
        .send_keys("seen at home, not at the office")
        .await
        .unwrap();
    b.execute("document.activeElement.blur()", vec![])
        .await
        .unwrap();
    b.find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys("x")
        .await
        .unwrap();
    // The next one opens: here, none is left.
    let queue = text_of(b, "nav.queue").await;
    assert!(queue.contains("Nothing awaits review"), "{queue}");

    b.goto(&setup.url(&format!("/day?date={}", setup.date)))
        .await
        .unwrap();
    let after = text_of(b, "#daily").await;
    assert!(
        after.contains("liisa-in not counted: rejected on review: seen at home, not at the office"),
        "{after}"
    );
    screenshot(b, "day-view.png").await;
    check_accessible_basics(b, "day view").await;

    // gRPC says the same.
    let listed = setup
        .server
        .attendance_client()
        .await
        .list_punches(authed(
            pb::ListPunchesRequest {
                from: Some(ts(Timestamp::now() - SignedDuration::from_hours(1))),
                to: Some(ts(Timestamp::now() + SignedDuration::from_hours(1))),
                ..Default::default()
            },
            &setup.hr,
        ))
        .await
        .unwrap()
        .into_inner();
    let review = listed.punches[0].review.as_ref().expect("reviewed");
    assert!(!review.approved);
    assert_eq!(review.reason, "seen at home, not at the office");

    // Sign out; the old cookie no longer opens anything.
    let cookie = b.get_named_cookie("pg_session").await.unwrap();
    let value = cookie.value().to_owned();
    b.find(Locator::Id("sign-out"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text_of(b, "#token").await;
    let reused = send(
        Method::GET,
        &setup.url("/review"),
        &[("cookie", &format!("pg_session={value}"))],
        None,
    )
    .await;
    assert_eq!(reused.status, StatusCode::SEE_OTHER);
    assert_eq!(reused.headers[header::LOCATION], "/sign-in");
    browser.client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_uploads_fences_and_pans_200k_of_them_in_the_browser() {
    let setup = Setup::start().await;
    let Some(browser) = browser().await else {
        return;
    };
    let b = &browser.client;
    browser_sign_in(b, &setup, &setup.admin).await;
    text_of(b, "#map-status").await;

    // A file with one bad feature: nothing stored, the feature named.
    let bad = r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","properties":{"site":"ok"},"geometry":{"type":"Polygon","coordinates":[[[26.9,60.4],[26.91,60.4],[26.91,60.41],[26.9,60.4]]]}},
      {"type":"Feature","properties":{"site":"open"},"geometry":{"type":"Polygon","coordinates":[[[26.9,60.4],[26.91,60.4],[26.91,60.41]]]}}]}"#;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.geojson");
    std::fs::write(&file, bad).unwrap();
    b.find(Locator::Id("geojson"))
        .await
        .unwrap()
        .send_keys(file.to_str().unwrap())
        .await
        .unwrap();
    b.find(Locator::Id("import"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let problems = text_of(b, "#import-problems").await;
    assert!(
        problems.contains("geojson.features[1].geometry.coordinates[0]"),
        "{problems}"
    );
    assert!(!problems.contains("features[0]"), "{problems}");

    // 200k real footprints (Kotka tiled), stored as an import stores them.
    let sites = tiles::tiled(92);
    let fences: usize = sites.iter().map(|s| s.fences.len()).sum();
    assert!(fences >= 199_000, "{fences}");
    let org = OrgId::new(ORG).unwrap();
    let operator = Actor::cli(org.clone(), Role::Admin);
    let entry = audit::entry(&operator, "ImportSites", None, "200k tiles");
    let app = &setup.server.app;
    app.store.put_sites(&org, sites, entry).await.unwrap();
    app.snapshots
        .reload(app.store.as_ref(), &org)
        .await
        .unwrap();

    b.goto(&setup.url("/sites")).await.unwrap();
    let first = wait_for_map(b, 1).await;
    assert_eq!(
        first.kind, "counts",
        "200k fences in view are counted, not drawn"
    );
    assert!(first.total >= 199_000, "{}", first.total);
    screenshot(b, "sites-200k.png").await;
    check_accessible_basics(b, "sites").await;
    // Zoom in until outlines are drawn, then pan with the keyboard.
    let mut view = first.clone();
    let canvas = b.find(Locator::Id("map")).await.unwrap();
    let mut zooms = 0;
    while view.kind != "fences" {
        zooms += 1;
        assert!(zooms < 30, "never zoomed in to outlines");
        canvas.send_keys("+").await.unwrap();
        view = wait_for_map(b, view.loads + 1).await;
    }
    canvas.send_keys("\u{E014}").await.unwrap(); // ArrowRight
    let panned = wait_for_map(b, view.loads + 1).await;
    assert_eq!(panned.kind, "fences");
    screenshot(b, "sites-zoomed.png").await;
    eprintln!(
        "sites map at {} fences: first map {:.0} ms after the page started, a pan redrawn in {:.0} ms ({} fences outlined)",
        first.total, first.first_ms, panned.last_ms, panned.total
    );
}

/// What the map says about its last draw.
#[derive(Clone)]
struct MapState {
    kind: String,
    total: usize,
    loads: u32,
    first_ms: f64,
    last_ms: f64,
}

/// Waits until the map has loaded `loads` views, and reads its state.
async fn wait_for_map(b: &Client, loads: u32) -> MapState {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = b
            .execute(
                "const d = document.getElementById('map').dataset; \
                 return [d.kind || '', Number(d.total || 0), Number(d.loads || 0), \
                         Number(d.firstMs || 0), Number(d.lastMs || 0)];",
                vec![],
            )
            .await
            .unwrap();
        let s = state.as_array().unwrap();
        let loaded = s[2].as_u64().unwrap() as u32;
        if loaded >= loads {
            return MapState {
                kind: s[0].as_str().unwrap().to_owned(),
                total: s[1].as_u64().unwrap() as usize,
                loads: loaded,
                first_ms: s[3].as_f64().unwrap(),
                last_ms: s[4].as_f64().unwrap(),
            };
        }
        assert!(
            Instant::now() < deadline,
            "the map never loaded view {loads}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

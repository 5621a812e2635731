//! The web console: the review queue, the day view, the sites map and the
//! devices, for the people who review punches and draw fences.
//!
//! Another door onto the application layer, like gRPC and the CLI: every
//! page calls the same use cases, so each role sees here only what its
//! gRPC role may, and every read of personal data is audited the same way.
//! What is its own is only the web's part:
//!
//! - sign-in with a token, exchanged for a server-side session
//!   ([`session`]); sign-out; revocation of the token ends its sessions;
//! - CSRF: a per-session token in every form, and requests that a browser
//!   marks as coming from another site are refused before any handler;
//! - headers: a Content-Security-Policy allowing no external origin (and
//!   no inline script), no framing, no sniffing, no referrer to other
//!   sites, no caching
//!   of pages with personal data;
//! - templates that escape by default (minijinja), assets embedded in the
//!   binary, and maps drawn from the fences themselves: nothing is ever
//!   fetched from a third party.
//!
//! It listens on its own address (`--console-listen`), off by default; the
//! same rule as gRPC keeps plaintext on loopback.

mod pages;
mod session;
mod sites;
mod tls;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::Environment;
use tokio::net::TcpListener;

use crate::app::{self, Actor, App, AppError};
use crate::auth::Role;
use session::{Session, Sessions};

/// The session cookie's name. The `__Host-` prefix (under TLS) makes the
/// browser refuse it unless Secure, host-only and for path `/`.
const COOKIE: &str = "pg_session";
const COOKIE_TLS: &str = "__Host-pg_session";

/// No external origin, no inline script or style, no framing: what a page
/// needs is served by the console itself.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What every page handler shares.
pub struct Console {
    app: App,
    sessions: Sessions,
    templates: Environment<'static>,
    /// Served over TLS: cookies are Secure.
    tls: bool,
    /// Every connection presented a client certificate the CA signed.
    client_certificates: bool,
}

/// Builds the console's routes over `app`. `tls` is `None` for plaintext,
/// else whether the handshake required a verified client certificate
/// (mutual TLS). Under TLS cookies are Secure.
pub fn router(app: App, tls: Option<bool>) -> Router {
    let console = Arc::new(Console {
        app,
        sessions: Sessions::default(),
        templates: templates(),
        tls: tls.is_some(),
        client_certificates: tls.unwrap_or(false),
    });
    Router::new()
        .route("/", get(pages::home))
        .route("/sign-in", get(pages::sign_in_form).post(pages::sign_in))
        .route("/sign-out", post(pages::sign_out))
        .route("/review", get(pages::review_queue).post(pages::review))
        .route("/day", get(pages::day))
        .route("/day/export", get(pages::day_export))
        .route("/corrections", post(pages::record_correction))
        .route("/devices", get(pages::devices))
        .route("/devices/revoke", post(pages::revoke_device))
        .route("/audit", get(pages::audit))
        .route("/sites", get(sites::overview))
        .route("/sites/fences", get(sites::fences_in_view))
        .route("/sites/import", post(sites::import))
        .route("/sites/{site}", get(sites::detail))
        .route("/assets/{name}", get(asset))
        .layer(middleware::from_fn_with_state(
            console.clone(),
            guard_and_headers,
        ))
        // Uploads of the largest GeoJSON an import takes, plus the form.
        .layer(axum::extract::DefaultBodyLimit::max(
            app::sites::MAX_GEOJSON_BYTES + 64 * 1024,
        ))
        .with_state(console)
}

/// Serves the console on `listener` until `shutdown` resolves: over TLS
/// when `tls` is given (with mutual TLS, a client certificate is required
/// at the handshake), else plaintext (the configuration allows that on
/// loopback only).
pub async fn serve(
    listener: TcpListener,
    app: App,
    tls: Option<crate::server::TlsFiles>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, tls = tls.is_some(), "serving the console");
    match tls {
        Some(files) => {
            let config = tls::server_config(&files)?;
            let listener = tls::TlsListener::new(listener, config)?;
            let routes = router(app, Some(files.client_ca.is_some()));
            axum::serve(listener, routes)
                .with_graceful_shutdown(shutdown)
                .await?;
        }
        None => {
            axum::serve(listener, router(app, None))
                .with_graceful_shutdown(shutdown)
                .await?;
        }
    }
    Ok(())
}

fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    // Names end in .html, so minijinja escapes every value for HTML.
    for (name, source) in [
        ("base.html", include_str!("templates/base.html")),
        ("sign_in.html", include_str!("templates/sign_in.html")),
        ("problem.html", include_str!("templates/problem.html")),
        ("review.html", include_str!("templates/review.html")),
        ("day.html", include_str!("templates/day.html")),
        ("devices.html", include_str!("templates/devices.html")),
        ("audit.html", include_str!("templates/audit.html")),
        ("sites.html", include_str!("templates/sites.html")),
        ("site.html", include_str!("templates/site.html")),
    ] {
        env.add_template(name, source)
            .expect("the console's templates parse");
    }
    env
}

/// The embedded assets: a stylesheet and two scripts, nothing else.
async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "console.css" => (include_str!("assets/console.css"), "text/css"),
        "console.js" => (include_str!("assets/console.js"), "text/javascript"),
        "map.js" => (include_str!("assets/map.js"), "text/javascript"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// Refuses state-changing requests that the browser says come from another
/// site, then sets the security headers on every answer.
async fn guard_and_headers(
    State(console): State<Arc<Console>>,
    request: Request,
    next: Next,
) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD);
    if !safe && let Err(why) = same_origin(request.headers(), console.tls) {
        return problem_page(&console, StatusCode::FORBIDDEN, why);
    }
    let is_asset = request.uri().path().starts_with("/assets/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Not `no-referrer`: under it browsers send `Origin: null` with
        // forms, and the origin check needs the real one.
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !is_asset {
        // Pages hold personal data: never kept by the browser or a proxy.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if console.tls {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

/// A state-changing request must come from a page of the console itself:
/// `Sec-Fetch-Site` (sent by every current browser) must say same-origin,
/// and `Origin`, when sent, must be this console's. Requests without
/// either (not from a browser) still need the session's CSRF token.
fn same_origin(headers: &HeaderMap, tls: bool) -> Result<(), &'static str> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site")
        && site != "same-origin"
    {
        return Err("refused: the request came from another site");
    }
    if let Some(origin) = text("origin") {
        let host = text("host").ok_or("refused: no Host header")?;
        let scheme = if tls { "https" } else { "http" };
        if origin != format!("{scheme}://{host}") {
            return Err("refused: the request came from another origin");
        }
    }
    Ok(())
}

/// A signed-in person: their session and who they act as, checked anew.
pub struct SignedIn {
    pub actor: Actor,
    pub session: Session,
    pub session_id: String,
}

/// What a request without a valid session gets.
pub enum NotSignedIn {
    /// A page or a form: go and sign in.
    Redirect,
    /// A script's fetch: 401.
    Refused,
}

impl IntoResponse for NotSignedIn {
    fn into_response(self) -> Response {
        match self {
            NotSignedIn::Redirect => Redirect::to("/sign-in").into_response(),
            NotSignedIn::Refused => (StatusCode::UNAUTHORIZED, "sign in first").into_response(),
        }
    }
}

impl FromRequestParts<Arc<Console>> for SignedIn {
    type Rejection = NotSignedIn;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Arc<Console>,
    ) -> Result<Self, Self::Rejection> {
        // A page or a form goes to the sign-in page; the map's fetch of
        // fences cannot follow a redirect to a form, so it gets a 401.
        let rejection = if parts.uri.path() == "/sites/fences" {
            NotSignedIn::Refused
        } else {
            NotSignedIn::Redirect
        };
        let Some(id) = console.session_cookie(&parts.headers) else {
            return Err(rejection);
        };
        let Some(session) = console.sessions.touch(&id) else {
            return Err(rejection);
        };
        // The token may have been revoked or expired since sign-in.
        match app::auth::identify(&console.app, &session.token, console.client_certificates).await {
            Ok(actor) if actor.role != Role::Device => Ok(SignedIn {
                actor,
                session,
                session_id: id,
            }),
            _ => {
                console.sessions.close(&id);
                Err(rejection)
            }
        }
    }
}

impl Console {
    fn cookie_name(&self) -> &'static str {
        if self.tls { COOKIE_TLS } else { COOKIE }
    }

    fn session_cookie(&self, headers: &HeaderMap) -> Option<String> {
        let name = self.cookie_name();
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(cookie::Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == name)
            .map(|c| c.value().to_owned())
    }

    /// The Set-Cookie value for session `id`; `None` clears it.
    fn set_cookie(&self, id: Option<&str>) -> HeaderValue {
        let mut cookie = cookie::Cookie::build((self.cookie_name(), id.unwrap_or("").to_owned()))
            .path("/")
            .http_only(true)
            .same_site(cookie::SameSite::Strict)
            .secure(self.tls);
        cookie = match id {
            // A session cookie: gone when the browser closes.
            Some(_) => cookie,
            None => cookie.max_age(cookie::time::Duration::ZERO),
        };
        HeaderValue::from_str(&cookie.build().to_string()).expect("a cookie is a header value")
    }

    /// Renders page `name` with `context` (pages with a navigation get
    /// `who`, see [`who`]).
    fn render(&self, name: &str, context: minijinja::Value) -> Response {
        match self
            .templates
            .get_template(name)
            .and_then(|t| t.render(context))
        {
            Ok(html) => Html(html).into_response(),
            Err(e) => {
                tracing::error!(error = %e, template = name, "console template failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            }
        }
    }
}

/// What the navigation needs about the signed-in person.
fn who(signed: &SignedIn) -> minijinja::Value {
    minijinja::context! {
        org => signed.actor.org.as_str(),
        role => signed.actor.role.as_str(),
        csrf => signed.session.csrf.as_str(),
    }
}

/// A page saying what went wrong, with `status`.
fn problem_page(console: &Console, status: StatusCode, message: &str) -> Response {
    let mut response = console.render(
        "problem.html",
        minijinja::context! { status => status.as_u16(), message },
    );
    *response.status_mut() = status;
    response
}

/// The page for an application error, as the gRPC door maps it to a code.
fn app_problem(console: &Console, error: AppError) -> Response {
    let status = match &error {
        AppError::InvalidArgument { .. } | AppError::InvalidArguments(_) => StatusCode::BAD_REQUEST,
        AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        AppError::PermissionDenied(_) => StatusCode::FORBIDDEN,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::FailedPrecondition(_) | AppError::AlreadyExists(_) => StatusCode::CONFLICT,
        AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        AppError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        AppError::Internal(_) | AppError::Store(_) => {
            tracing::error!(error = %error, "console request failed");
            return problem_page(console, StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        }
    };
    problem_page(console, status, &error.to_string())
}

/// The refusal of a form whose CSRF token is not the session's.
fn csrf_refusal(console: &Console, signed: &SignedIn, presented: &str) -> Option<Response> {
    (!signed.session.csrf_matches(presented)).then(|| {
        problem_page(
            console,
            StatusCode::FORBIDDEN,
            "refused: the form's CSRF token is missing or stale; reload the page",
        )
    })
}

/// Field `field` of a form or query, trimmed, made into a `T` by `make`
/// (an id's own validation); a refusal names the field.
fn field<T>(
    value: &str,
    field: &str,
    make: impl FnOnce(String) -> Result<T, String>,
) -> Result<T, AppError> {
    make(value.trim().to_owned()).map_err(|e| AppError::invalid(field, e))
}

/// As [`field`], but an empty value is `None`.
fn optional_field<T>(
    value: &str,
    name: &str,
    make: impl FnOnce(String) -> Result<T, String>,
) -> Result<Option<T>, AppError> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        field(value, name, make).map(Some)
    }
}

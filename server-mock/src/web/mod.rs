//! What people see: the dashboard at `/` (communes by province and area,
//! worst first), a commune's page, agent administration, the login, and the
//! same data for scripts at `/api/v1/status` and `/metrics`.
//!
//! Viewers log in with a name and password (Argon2id); browsers get a
//! session cookie (HttpOnly, SameSite=Strict, Secure behind TLS), scripts
//! and scrapers send HTTP Basic auth. Each viewer sees its scope only: an
//! area, a province, or the whole country. Failed logins are limited per
//! client address and per name. Pages use no external assets (the
//! government network is closed) and show no citizen's data.

mod admin;
mod pages;
mod session;
mod text;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::api::{ApiError, Metrics};
use crate::monitor::{Filter, Thresholds, overview};
use crate::store::Storage;
use crate::store::monitor::Viewer;

pub use session::{LoginLimiter, SESSION_COOKIE, SESSION_HOURS};
pub use text::Lang;

/// What the web pages need.
pub struct Web<S> {
    pub store: Arc<S>,
    pub thresholds: Thresholds,
    /// Mark cookies `Secure` (the server speaks TLS).
    pub secure_cookies: bool,
    pub limiter: Arc<LoginLimiter>,
    pub basic: Arc<session::BasicCache>,
    pub metrics: Arc<Metrics>,
}

impl<S> Clone for Web<S> {
    fn clone(&self) -> Self {
        Web {
            store: self.store.clone(),
            thresholds: self.thresholds,
            secure_cookies: self.secure_cookies,
            limiter: self.limiter.clone(),
            basic: self.basic.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

pub fn router<S: Storage>(web: Web<S>) -> Router {
    Router::new()
        .route("/", get(pages::dashboard::<S>))
        .route("/commune/{code}", get(pages::commune::<S>))
        .route("/login", get(session::login_page).post(session::login::<S>))
        .route("/logout", post(session::logout::<S>))
        .route("/agents", get(admin::list::<S>).post(admin::add::<S>))
        .route("/agents/{id}/revoke", post(admin::revoke::<S>))
        .route("/api/v1/status", get(status::<S>))
        .route("/metrics", get(metrics::<S>))
        .with_state(web)
}

/// The query every page and the status API take.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub lang: Option<String>,
    pub province: Option<String>,
    pub area: Option<String>,
    pub state: Option<String>,
    pub q: Option<String>,
    /// `1`: only the part of the page that refreshes itself.
    pub partial: Option<String>,
    pub next: Option<String>,
}

impl PageQuery {
    pub fn lang(&self) -> Lang {
        Lang::from_query(self.lang.as_deref())
    }

    /// The filter, with the province given by code or by name.
    pub fn filter(&self) -> Result<Filter, String> {
        let nonempty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let province = match nonempty(&self.province) {
            Some(p) => Some(crate::provinces::find(&p)?.code.to_string()),
            None => None,
        };
        let state = match nonempty(&self.state) {
            Some(s) => Some(crate::monitor::State::parse(&s).ok_or_else(|| {
                format!("unknown state \"{s}\": use alert, failing, silent, behind, never_seen or in_sync")
            })?),
            None => None,
        };
        Ok(Filter {
            province,
            area: nonempty(&self.area),
            state,
            q: nonempty(&self.q),
        })
    }
}

/// Who is asking: a session cookie or HTTP Basic credentials.
pub async fn viewer<S: Storage>(
    web: &Web<S>,
    headers: &HeaderMap,
) -> Result<Option<Viewer>, ApiError> {
    if let Some(basic) = session::basic_credentials(headers) {
        return web.basic.check(web.store.as_ref(), basic).await;
    }
    session::cookie_viewer(web.store.as_ref(), headers).await
}

/// For the API and `/metrics`: a viewer, or 401 asking for Basic auth.
async fn api_viewer<S: Storage>(web: &Web<S>, headers: &HeaderMap) -> Result<Viewer, Response> {
    match viewer(web, headers).await {
        Ok(Some(v)) => Ok(v),
        Ok(None) => {
            let mut response = ApiError::Unauthorized(
                "log in: HTTP Basic auth with a viewer's name and password".into(),
            )
            .into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"hotich\", charset=\"UTF-8\""),
            );
            Err(response)
        }
        Err(e) => Err(e.into_response()),
    }
}

/// For pages: a viewer, or a redirect to the login page.
async fn page_viewer<S: Storage>(
    web: &Web<S>,
    headers: &HeaderMap,
    here: &str,
    lang: Lang,
) -> Result<Viewer, Response> {
    match viewer(web, headers).await {
        Ok(Some(v)) => Ok(v),
        Ok(None) => {
            let next = pages::url_encode(here);
            Err(Redirect::to(&format!("/login?lang={}&next={next}", lang.code())).into_response())
        }
        Err(e) => Err(e.into_response()),
    }
}

/// `GET /api/v1/status`: the dashboard's data as JSON, in the viewer's
/// scope, filtered by `province`, `area`, `state` and `q`.
async fn status<S: Storage>(
    State(web): State<Web<S>>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    let viewer = match api_viewer(&web, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let filter = match query.filter() {
        Ok(f) => f,
        Err(e) => return ApiError::BadRequest(e).into_response(),
    };
    match overview(
        web.store.as_ref(),
        &viewer.scope(),
        &filter,
        &web.thresholds,
    )
    .await
    {
        Ok(o) => axum::Json(o).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `GET /metrics`: Prometheus text. The per-state and record gauges come
/// from the database (the viewer's scope), so every replica tells the same
/// story; request counters and latencies are this process's.
async fn metrics<S: Storage>(State(web): State<Web<S>>, headers: HeaderMap) -> Response {
    let viewer = match api_viewer(&web, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let o = match overview(
        web.store.as_ref(),
        &viewer.scope(),
        &Filter::default(),
        &web.thresholds,
    )
    .await
    {
        Ok(o) => o,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut text = String::new();
    text.push_str(
        "# HELP hotich_communes Communes in the viewer's scope, by sync state.\n# TYPE hotich_communes gauge\n",
    );
    for (state, n) in &o.totals {
        text.push_str(&format!("hotich_communes{{state=\"{state}\"}} {n}\n"));
    }
    text.push_str(&format!(
        "# HELP hotich_records_stored Records stored centrally for the viewer's communes.\n\
         # TYPE hotich_records_stored gauge\nhotich_records_stored {}\n\
         # HELP hotich_records_waiting Records the agents last reported as waiting to be sent.\n\
         # TYPE hotich_records_waiting gauge\nhotich_records_waiting {}\n",
        o.records_stored, o.waiting
    ));
    let alerts: u64 = o.communes.iter().map(|c| c.alerts).sum();
    text.push_str(&format!(
        "# HELP hotich_alerts Integrity alerts recorded for the viewer's communes.\n\
         # TYPE hotich_alerts gauge\nhotich_alerts {alerts}\n"
    ));
    text.push_str(&web.metrics.render());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Refuses a form posted from another site (SameSite=Strict already keeps
/// the cookie off such requests; this is the second lock).
fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => {
            let origin_host = origin.split("://").nth(1).unwrap_or(origin);
            host.is_some_and(|h| h == origin_host)
        }
    }
}

/// An HTML answer with a status.
fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

//! Logging in: the login page, sessions in a cookie, HTTP Basic for
//! scripts, and the limit on failed attempts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use hotich_protocol::Timestamp;
use sha2::{Digest, Sha256};

use super::text::t;
use super::{PageQuery, Web, html, pages, same_origin};
use crate::api::ApiError;
use crate::auth::{new_session_token, token_hash, verify_password};
use crate::conn::ConnInfo;
use crate::store::monitor::Viewer;
use crate::store::{Storage, StoreError};

pub const SESSION_COOKIE: &str = "hotich_session";
/// A session lasts a working day.
pub const SESSION_HOURS: i64 = 12;

/// Failed logins allowed per client address, and per name, in [`WINDOW`].
const FAILURES_PER_ADDRESS: u32 = 10;
const FAILURES_PER_NAME: u32 = 5;
const WINDOW: Duration = Duration::from_secs(300);

/// Counts failed logins per address and per name over a sliding window.
/// Per process: with several replicas an attacker gets a few more tries,
/// each still an Argon2 hash away.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginLimiter {
    fn key_count(&self, key: &str) -> u32 {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key)
            .filter(|(_, since)| since.elapsed() < WINDOW)
            .map_or(0, |(n, _)| *n)
    }

    /// Whether a login from `addr` for `name` may be tried now.
    pub fn allowed(&self, addr: Option<IpAddr>, name: &str) -> bool {
        let by_addr = addr.map_or(0, |a| self.key_count(&format!("ip:{a}")));
        by_addr < FAILURES_PER_ADDRESS
            && self.key_count(&format!("name:{name}")) < FAILURES_PER_NAME
    }

    pub fn failed(&self, addr: Option<IpAddr>, name: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, (_, since)| since.elapsed() < WINDOW);
        let mut bump = |key: String| {
            let entry = map.entry(key).or_insert((0, Instant::now()));
            entry.0 += 1;
        };
        if let Some(a) = addr {
            bump(format!("ip:{a}"));
        }
        bump(format!("name:{name}"));
    }

    pub fn succeeded(&self, name: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&format!("name:{name}"));
    }
}

/// `Authorization: Basic` credentials, if the request has them.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?.trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (name, password) = text.split_once(':')?;
    Some((name.to_string(), password.to_string()))
}

/// Remembers recently verified Basic credentials, so a scraper polling
/// every 15 s does not cost an Argon2 hash each time. Only a hash of the
/// credentials is kept.
#[derive(Debug, Default)]
pub struct BasicCache {
    verified: Mutex<HashMap<[u8; 32], (Viewer, Instant)>>,
    limiter: LoginLimiter,
}

const BASIC_CACHE_FOR: Duration = Duration::from_secs(60);

impl BasicCache {
    pub async fn check<S: Storage>(
        &self,
        store: &S,
        (name, password): (String, String),
    ) -> Result<Option<Viewer>, ApiError> {
        let key: [u8; 32] = Sha256::digest(format!("{name}\0{password}").as_bytes()).into();
        {
            let mut map = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            map.retain(|_, (_, at)| at.elapsed() < BASIC_CACHE_FOR);
            if let Some((viewer, _)) = map.get(&key) {
                return Ok(Some(viewer.clone()));
            }
        }
        if !self.limiter.allowed(None, &name) {
            return Err(ApiError::Busy(
                "too many failed logins for this name; try again in a few minutes".into(),
            ));
        }
        let viewer = check_password(store, &name, &password).await?;
        match &viewer {
            Some(v) => {
                self.verified
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, (v.clone(), Instant::now()));
            }
            None => self.limiter.failed(None, &name),
        }
        Ok(viewer)
    }
}

/// The viewer if `password` is right (Argon2 runs on a blocking thread).
async fn check_password<S: Storage>(
    store: &S,
    name: &str,
    password: &str,
) -> Result<Option<Viewer>, StoreError> {
    let Some((viewer, stored)) = store.viewer_login(name).await? else {
        return Ok(None);
    };
    let password = password.to_string();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &stored))
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?;
    Ok(ok.then_some(viewer))
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

pub async fn cookie_viewer<S: Storage>(
    store: &S,
    headers: &HeaderMap,
) -> Result<Option<Viewer>, ApiError> {
    let Some(token) = session_token(headers) else {
        return Ok(None);
    };
    Ok(store
        .session_viewer(token_hash(&token), Timestamp::now())
        .await?)
}

pub async fn login_page(Query(query): Query<PageQuery>) -> Response {
    let lang = query.lang();
    html(
        StatusCode::OK,
        pages::login(lang, query.next.as_deref().unwrap_or("/"), None),
    )
}

/// Where to go after logging in: only a path on this server.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

pub async fn login<S: Storage>(
    State(web): State<Web<S>>,
    conn: Option<axum::Extension<ConnectInfo<ConnInfo>>>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let lang = query.lang();
    if !same_origin(&headers) {
        return html(
            StatusCode::FORBIDDEN,
            pages::message(lang, t(lang, "not-allowed")),
        );
    }
    let name = form
        .get("name")
        .map(|s| s.trim())
        .unwrap_or_default()
        .to_string();
    let password = form.get("password").cloned().unwrap_or_default();
    let next = safe_next(form.get("next").map(String::as_str));
    let addr = conn.map(|c| c.0.0.peer.ip());
    if !web.limiter.allowed(addr, &name) {
        tracing::warn!(name = %name, ?addr, "login refused: too many failures");
        return html(
            StatusCode::TOO_MANY_REQUESTS,
            pages::login(lang, &next, Some(t(lang, "login-throttled"))),
        );
    }
    let viewer = match check_password(web.store.as_ref(), &name, &password).await {
        Ok(v) => v,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let Some(viewer) = viewer else {
        web.limiter.failed(addr, &name);
        tracing::info!(name = %name, ?addr, "login failed");
        return html(
            StatusCode::UNAUTHORIZED,
            pages::login(lang, &next, Some(t(lang, "login-failed"))),
        );
    };
    web.limiter.succeeded(&name);
    let token = match new_session_token() {
        Ok(t) => t,
        Err(e) => return ApiError::Internal(e.to_string()).into_response(),
    };
    let expires = Timestamp(Timestamp::now().millis() + SESSION_HOURS * 3600 * 1000);
    if let Err(e) = web
        .store
        .create_session(token_hash(&token), viewer.id, expires)
        .await
    {
        return ApiError::from(e).into_response();
    }
    tracing::info!(viewer = %viewer.name, "logged in");
    let secure = if web.secure_cookies { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        SESSION_HOURS * 3600
    );
    let mut response = Redirect::to(&next).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

pub async fn logout<S: Storage>(
    State(web): State<Web<S>>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    if !same_origin(&headers) {
        let lang = query.lang();
        return html(
            StatusCode::FORBIDDEN,
            pages::message(lang, t(lang, "not-allowed")),
        );
    }
    if let Some(token) = session_token(&headers)
        && let Err(e) = web.store.end_session(token_hash(&token)).await
    {
        return ApiError::from(e).into_response();
    }
    let mut response =
        Redirect::to(&format!("/login?lang={}", query.lang().code())).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("hotich_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_logins_are_limited_per_name_and_per_address() {
        let limiter = LoginLimiter::default();
        let addr: Option<IpAddr> = Some("10.0.0.1".parse().unwrap());
        for _ in 0..FAILURES_PER_NAME {
            assert!(limiter.allowed(addr, "an"));
            limiter.failed(addr, "an");
        }
        assert!(!limiter.allowed(addr, "an"), "the name is locked");
        assert!(
            limiter.allowed(addr, "binh"),
            "another name from there is not yet"
        );
        for _ in 0..FAILURES_PER_ADDRESS {
            limiter.failed(addr, "x");
        }
        assert!(!limiter.allowed(addr, "binh"), "the address is locked");
        assert!(limiter.allowed(Some("10.0.0.2".parse().unwrap()), "binh"));
    }

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(
            safe_next(Some("/commune/00004?lang=en")),
            "/commune/00004?lang=en"
        );
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn basic_credentials_are_read() {
        let mut headers = HeaderMap::new();
        let value = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("an:mật khẩu")
        );
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&value).unwrap(),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("an".to_string(), "mật khẩu".to_string()))
        );
    }
}

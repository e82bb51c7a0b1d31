//! The official's own page, served by the running service on its loopback
//! control port: the queue at a glance, "Đồng bộ ngay" with live progress,
//! importing a file with per-row results, the refused records and what to
//! do about them, and blank templates. Vietnamese, English with `?lang=en`.
//!
//! Who may use it: whoever can read `control.json` (the data directory's
//! owner, or the service's group) asks the service for a one-time login
//! link (`hotich-agent open`); following it sets a session cookie
//! (HttpOnly, SameSite=Strict) and hands the page's script a session key in
//! the address's fragment, which the script keeps in `sessionStorage` and
//! sends as [`SESSION_HEADER`] with every API request. Cookies do not tell
//! ports apart, so a program listening on another loopback port would
//! receive the cookie; `sessionStorage` belongs to this origin alone, port
//! included, so the key does not leak with it. Because a page on another
//! loopback port is also "same-site", state-changing requests must come
//! from this very origin (`Origin`), and every request must name this
//! machine in `Host` (no DNS rebinding: see `control::check_host`). All
//! assets are built into the binary.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::UnboundedReceiverStream;

use crate::config::{AgentConfig, DataDir};
use crate::control::ControlRequest;
use crate::i18n::{self, Lang};
use crate::sync::SyncEvent;
use crate::sync_now::Ending;
use crate::tr;

const INDEX_HTML: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const APP_CSS: &str = include_str!("app.css");

/// How long a login link works after `hotich-agent open` made it.
pub const LOGIN_CODE_TTL: Duration = Duration::from_secs(5 * 60);
/// A session unused for this long ends (a shared PC is left on overnight).
const SESSION_IDLE: Duration = Duration::from_secs(8 * 3600);
/// Links and sessions held at most; the oldest go first.
const MAX_CODES: usize = 32;
const MAX_SESSIONS: usize = 32;
/// The largest file the page imports (a 60,000-row workbook is ~10 MB).
const MAX_UPLOAD: usize = 100 * 1024 * 1024;
/// Uploaded files' rejects are kept this long for download.
const UPLOADS_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);
const UPLOADS_DIR: &str = "ui-uploads";
/// The header the page's script sends its session key in.
pub const SESSION_HEADER: &str = "x-hotich-session";

/// One logged-in page: the cookie names it, the key proves the request
/// comes from the page's own script.
struct Session {
    key: String,
    used: Instant,
}

/// The page's sessions and login links, shared with the control endpoint
/// (which mints links for `hotich-agent open`).
pub struct Ui {
    data_dir: DataDir,
    config: AgentConfig,
    port: u16,
    codes: Mutex<HashMap<String, Instant>>,
    sessions: Mutex<HashMap<String, Session>>,
}

fn random_hex() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(hex::encode(bytes))
}

/// Drops the entries used longest ago until `map` has room for one more.
fn make_room<V>(map: &mut HashMap<String, V>, max: usize, used: impl Fn(&V) -> Instant) {
    while map.len() >= max {
        let Some(oldest) = map
            .iter()
            .min_by_key(|(_, v)| used(v))
            .map(|(k, _)| k.clone())
        else {
            break;
        };
        map.remove(&oldest);
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// How much of a session a request must show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// The page itself (a navigation carries only the cookie).
    Page,
    /// Reading through the API: the cookie and the script's key.
    Read,
    /// Acting (sync, import): as `Read`, and from this origin.
    Change,
}

impl Ui {
    pub fn new(data_dir: DataDir, config: AgentConfig, port: u16) -> Ui {
        // Rejects files hold names and dates of birth: not kept for ever
        // because nobody imported through the page again.
        prune_uploads(&uploads_dir(&data_dir));
        Ui {
            data_dir,
            config,
            port,
            codes: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// A one-time login path (`/ui/login?code=…`), valid [`LOGIN_CODE_TTL`].
    pub fn mint_login(&self) -> Option<String> {
        let code = random_hex()?;
        let mut codes = self.codes.lock().ok()?;
        codes.retain(|_, made| made.elapsed() < LOGIN_CODE_TTL);
        make_room(&mut codes, MAX_CODES, |made| *made);
        codes.insert(code.clone(), Instant::now());
        Some(format!("/ui/login?code={code}"))
    }

    /// Spends a login code: true once, for a code made less than
    /// [`LOGIN_CODE_TTL`] ago.
    fn spend_code(&self, code: &str) -> bool {
        let Ok(mut codes) = self.codes.lock() else {
            return false;
        };
        codes
            .remove(code)
            .is_some_and(|made| made.elapsed() < LOGIN_CODE_TTL)
    }

    /// A new session: its cookie id and the key the script will send.
    fn new_session(&self) -> Option<(String, String)> {
        let id = random_hex()?;
        let key = random_hex()?;
        let mut sessions = self.sessions.lock().ok()?;
        sessions.retain(|_, s| s.used.elapsed() < SESSION_IDLE);
        make_room(&mut sessions, MAX_SESSIONS, |s| s.used);
        sessions.insert(
            id.clone(),
            Session {
                key: key.clone(),
                used: Instant::now(),
            },
        );
        Some((id, key))
    }

    fn cookie_name(&self) -> String {
        // Cookies do not tell ports apart: two agents on one PC (tests, a
        // second data directory) would otherwise log each other out.
        format!("hotich_session_{}", self.port)
    }

    /// Whether the request carries a live session (and keeps it alive):
    /// any cookie of ours naming one (another program on this host can
    /// plant a cookie of the same name, but not remove ours), and for the
    /// API the key that goes with it.
    fn has_session(&self, headers: &HeaderMap, need: Need) -> bool {
        let name = self.cookie_name();
        let key = headers
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let Ok(mut sessions) = self.sessions.lock() else {
            return false;
        };
        let ids = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string());
        for id in ids {
            let Some(session) = sessions.get_mut(&id) else {
                continue;
            };
            if session.used.elapsed() >= SESSION_IDLE {
                sessions.remove(&id);
                continue;
            }
            if need == Need::Page || constant_time_eq(key.as_bytes(), session.key.as_bytes()) {
                session.used = Instant::now();
                return true;
            }
        }
        false
    }

    fn own_origin(&self, origin: &str) -> bool {
        origin == format!("http://127.0.0.1:{}", self.port)
            || origin == format!("http://localhost:{}", self.port)
    }
}

#[derive(Clone)]
struct UiState {
    ui: Arc<Ui>,
    requests: mpsc::Sender<ControlRequest>,
}

/// Why a request to the page was refused.
enum Refusal {
    /// No session: open the page with a new link.
    NoSession,
    /// From another web page (its `Origin` or `Sec-Fetch-Site`).
    CrossSite,
}

/// Whether the browser says the request comes from another site's page
/// (`Sec-Fetch-Site`; "none" is a link opened from outside the browser).
fn sent_by_another_page(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site != "same-origin" && site != "none")
}

/// Checks a request to the page: not sent by another site's page, from
/// this origin if it names one (and it must to change anything), and with
/// the session it needs. Refusals of another page are logged: they are
/// attacks or a misconfigured browser, and IT staff may want to know.
fn admit(state: &UiState, headers: &HeaderMap, need: Need) -> Result<(), Refusal> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let foreign = sent_by_another_page(headers)
        || match origin {
            Some(origin) => !state.ui.own_origin(origin),
            None => need == Need::Change,
        };
    if foreign {
        tracing::warn!(
            origin = origin.unwrap_or("none"),
            "official's page: request from another page refused"
        );
        return Err(Refusal::CrossSite);
    }
    if !state.ui.has_session(headers, need) {
        return Err(Refusal::NoSession);
    }
    Ok(())
}

#[derive(Debug, Default, Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

impl LangQuery {
    fn lang(&self) -> Lang {
        self.lang
            .as_deref()
            .and_then(Lang::parse)
            .unwrap_or(Lang::Vi)
    }
}

fn t(lang: Lang, id: &str) -> String {
    i18n::message_in(lang, id, &[])
}

/// Headers every answer of the page carries: nothing cached, nothing
/// framed, no script but ours, no address leaked to another site.
fn guarded(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A small page that says what went wrong and what to do.
fn notice_page(status: StatusCode, lang: Lang, title_id: &str, text_id: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/ui/app.css\"></head>\
         <body><main class=\"notice\"><h1>{title}</h1><p id=\"notice\">{text}</p></main></body></html>",
        code = lang_code(lang),
        title = html_escape(&t(lang, title_id)),
        text = html_escape(&t(lang, text_id)),
    );
    guarded(
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
    )
}

fn refused(refusal: Refusal, lang: Lang) -> Response {
    match refusal {
        Refusal::NoSession => notice_page(
            StatusCode::UNAUTHORIZED,
            lang,
            "ui-login-needed-title",
            "ui-login-needed",
        ),
        Refusal::CrossSite => notice_page(
            StatusCode::FORBIDDEN,
            lang,
            "ui-forbidden-title",
            "ui-forbidden",
        ),
    }
}

fn lang_code(lang: Lang) -> &'static str {
    match lang {
        Lang::Vi => "vi",
        Lang::En => "en",
    }
}

/// The strings the page's script needs, in `lang` (placeholders stay
/// `{name}` for the script to fill in).
const SCRIPT_STRINGS: &[&str] = &[
    "ui-never",
    "ui-link-up",
    "ui-link-down",
    "ui-link-unknown",
    "ui-syncing",
    "ui-importing",
    "ui-import-choose",
    "ui-import-choose-official",
    "ui-import-row",
    "ui-import-row-sheet",
    "ui-import-more",
    "ui-rejects-download",
    "ui-refused-none",
    "ui-refused-entry",
    "ui-request-failed",
    "ui-session-ended",
];

fn script_strings(lang: Lang) -> String {
    let placeholders = [
        "line", "sheet", "count", "name", "seq", "error", "sent", "pending",
    ];
    let args: Vec<(&str, i18n::Arg)> = placeholders
        .iter()
        .map(|p| (*p, i18n::Arg::Text(format!("{{{p}}}"))))
        .collect();
    let map: serde_json::Map<String, Value> = SCRIPT_STRINGS
        .iter()
        .map(|id| {
            (
                id.to_string(),
                Value::String(i18n::message_in(lang, id, &args)),
            )
        })
        .collect();
    // Inside a <script> element: no "</script>" may appear.
    Value::Object(map).to_string().replace('<', "\\u003c")
}

fn index_html(ui: &Ui, lang: Lang) -> String {
    let other = match lang {
        Lang::Vi => "?lang=en",
        Lang::En => "?lang=vi",
    };
    let mut templates = String::new();
    for kind in hotich_protocol::RecordKind::ALL {
        let name = match lang {
            Lang::Vi => crate::columns::kind_name(kind).to_string(),
            Lang::En => kind.as_str().to_string(),
        };
        templates.push_str(&format!(
            "<li>{name}: <a href=\"#\" data-url=\"/ui/templates/{k}.xlsx\" data-name=\"mau-{k}.xlsx\">Excel (.xlsx)</a> · \
             <a href=\"#\" data-url=\"/ui/templates/{k}.csv\" data-name=\"mau-{k}.csv\">CSV</a></li>",
            name = html_escape(&name),
            k = kind.as_str(),
        ));
    }
    // Several officials share the PC: the import says who is typing (one
    // is the default; none named, none recorded).
    let officials = if ui.config.officials.len() > 1 {
        let options: String = ui
            .config
            .officials
            .iter()
            .map(|n| format!("<option>{}</option>", html_escape(n)))
            .collect();
        format!(
            "<label>{{{{ui-official-label}}}} <select id=\"import-official\" required>\
             <option value=\"\">—</option>{options}</select></label>"
        )
    } else {
        String::new()
    };
    let mut html = INDEX_HTML.to_string();
    let replacements: Vec<(&str, String)> = vec![
        ("{{officials}}", officials),
        ("{{lang}}", lang_code(lang).to_string()),
        ("{{other_lang_href}}", other.to_string()),
        ("{{strings}}", script_strings(lang)),
        ("{{templates}}", templates),
        (
            "{{commune}}",
            html_escape(&i18n::message_in(
                lang,
                "ui-commune",
                &[("commune", i18n::Arg::from(ui.config.commune.as_str()))],
            )),
        ),
        (
            "{{server}}",
            html_escape(&i18n::message_in(
                lang,
                "ui-server",
                &[("server", i18n::Arg::from(ui.config.server.as_str()))],
            )),
        ),
    ];
    for (key, value) in replacements {
        html = html.replace(key, &value);
    }
    // Every other {{ui-…}} is a catalog message.
    let mut out = String::with_capacity(html.len());
    let mut rest = html.as_str();
    while let Some(start) = rest.find("{{ui-") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        out.push_str(&html_escape(&t(lang, &after[..end])));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

async fn index(
    State(state): State<UiState>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = q.lang();
    if let Err(refusal) = admit(&state, &headers, Need::Page) {
        return refused(refusal, lang);
    }
    guarded(
        (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            index_html(&state.ui, lang),
        )
            .into_response(),
    )
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    code: Option<String>,
    lang: Option<String>,
}

/// `GET /ui/login?code=…`: spends the code, sets the session cookie and
/// sends the browser on to the page with the session key in the fragment
/// (which the browser keeps to itself; the script moves it to
/// `sessionStorage` and clears the address bar).
async fn login(
    State(state): State<UiState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let lang = LangQuery { lang: q.lang }.lang();
    if sent_by_another_page(&headers) {
        return refused(Refusal::CrossSite, lang);
    }
    let spent = q
        .code
        .as_deref()
        .is_some_and(|code| state.ui.spend_code(code));
    if !spent {
        return notice_page(
            StatusCode::FORBIDDEN,
            lang,
            "ui-login-needed-title",
            "ui-login-used",
        );
    }
    let Some((session, key)) = state.ui.new_session() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let cookie = format!(
        "{}={session}; Path=/; HttpOnly; SameSite=Strict",
        state.ui.cookie_name()
    );
    let page = if lang == Lang::En { "/?lang=en" } else { "/" };
    let location = format!("{page}#k={key}");
    let mut response = (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.as_str())],
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    guarded(response)
}

async fn app_js() -> Response {
    guarded(
        (
            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
            APP_JS,
        )
            .into_response(),
    )
}

async fn app_css() -> Response {
    guarded(([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS).into_response())
}

fn json_response(status: StatusCode, value: Value) -> Response {
    guarded((status, axum::Json(value)).into_response())
}

/// Refusals of the page's API, as JSON the script shows.
fn api_refused(refusal: Refusal, lang: Lang) -> Response {
    let (status, id) = match refusal {
        Refusal::NoSession => (StatusCode::UNAUTHORIZED, "ui-session-ended"),
        Refusal::CrossSite => (StatusCode::FORBIDDEN, "ui-forbidden"),
    };
    json_response(status, json!({"error": t(lang, id)}))
}

/// The queue at a glance, worded in `lang`.
fn status_json(ui: &Ui, lang: Lang) -> Value {
    i18n::with_lang(lang, || {
        let report = match crate::status::gather(&ui.data_dir, &ui.config) {
            Ok(r) => r,
            Err(e) => return json!({"error": e.to_string()}),
        };
        let now = hotich_protocol::Timestamp::now();
        let ago = |t: hotich_protocol::Timestamp| {
            tr!(
                "ui-ago",
                time = i18n::time_text(t),
                ago = i18n::duration_text((now.millis() - t.millis()) / 1000)
            )
        };
        let last_success = report
            .last_success_at
            .map(ago)
            .unwrap_or_else(|| tr!("ui-never"));
        let next_try = match report.next_retry_at {
            Some(at) if report.pending > 0 => tr!(
                "ui-in",
                time = i18n::time_text(at),
                wait = i18n::duration_text(((at.millis() - now.millis()) / 1000).max(0))
            ),
            _ if report.pending > 0 => tr!("ui-next-soon"),
            _ => tr!("ui-next-nothing"),
        };
        let link = match report.server_reachable {
            Some(true) => "up",
            Some(false) => "down",
            None => "unknown",
        };
        let last_error = report.last_error.as_deref().map(|e| {
            tr!(
                "ui-last-error",
                error = i18n::error_info(report.last_error_info.as_ref(), e),
                time = report
                    .last_error_at
                    .map(i18n::time_text)
                    .unwrap_or_default()
            )
        });
        let refused: Vec<Value> = report
            .parked_entries
            .iter()
            .map(|r| {
                json!({"seq": r.seq, "hash": r.hash, "source": r.source,
                       "message": r.message, "central_hash": r.central_hash})
            })
            .collect();
        json!({
            "commune": report.commune,
            "waiting": report.pending,
            "sent": report.acked,
            "refused": report.parked,
            "closed": report.closed,
            "last_success": last_success,
            "next_try": next_try,
            "link": link,
            "last_error": if report.consecutive_failures > 0 { last_error } else { None },
            "service_running": report.service_running,
            "journal_problem": report.journal_problem,
            "refused_entries": refused,
        })
    })
}

async fn api_status(
    State(state): State<UiState>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = q.lang();
    if let Err(refusal) = admit(&state, &headers, Need::Read) {
        return api_refused(refusal, lang);
    }
    let ui = state.ui.clone();
    match tokio::task::spawn_blocking(move || status_json(&ui, lang)).await {
        Ok(value) => json_response(StatusCode::OK, value),
        Err(e) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": e.to_string()}),
        ),
    }
}

/// A sync event with a line for the official.
#[derive(Serialize)]
struct ShownEvent {
    #[serde(flatten)]
    event: SyncEvent,
    text: String,
}

fn event_text(event: &SyncEvent) -> String {
    match event {
        SyncEvent::Started { pending } => tr!("sync-waiting", count = *pending),
        SyncEvent::Reconciled { already_held, .. } => {
            tr!("sync-already-held", count = *already_held)
        }
        SyncEvent::Progress { sent, pending, .. } | SyncEvent::Done { sent, pending, .. } => {
            tr!("sync-progress", sent = *sent, pending = *pending)
        }
        SyncEvent::Failed { error, .. } => error.clone(),
        SyncEvent::Retrying {
            error,
            retry_in_ms,
            info,
        } => tr!(
            "sync-retrying",
            error = i18n::error_info(info.as_ref(), error),
            wait = i18n::duration_text((*retry_in_ms / 1000).max(1) as i64)
        ),
        SyncEvent::Finished {
            ending,
            sent,
            pending,
            parked,
            error,
            info,
        } => {
            let error = i18n::error_info(info.as_ref(), error.as_deref().unwrap_or_default());
            match ending {
                Ending::Drained => tr!(
                    "ui-sync-done",
                    sent = *sent,
                    pending = *pending,
                    refused = *parked
                ),
                Ending::NeedsPerson => tr!("sync-needs-person", error = error, pending = *pending),
                Ending::TimedOut | Ending::Stalled | Ending::Cancelled => tr!(
                    "ui-sync-stopped",
                    sent = *sent,
                    pending = *pending,
                    error = error
                ),
            }
        }
    }
}

/// `POST /ui/api/sync`: "Đồng bộ ngay", its events as JSON lines while it
/// runs (the script draws the progress from them).
async fn api_sync(
    State(state): State<UiState>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = q.lang();
    if let Err(refusal) = admit(&state, &headers, Need::Change) {
        return api_refused(refusal, lang);
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let limits = crate::sync_now::Limits::default();
    if state
        .requests
        .send(ControlRequest::SyncNow { events: tx, limits })
        .await
        .is_err()
    {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": t(lang, "ui-service-stopping")}),
        );
    }
    let lines = UnboundedReceiverStream::new(rx).map(move |event| {
        let text = i18n::with_lang(lang, || event_text(&event));
        let mut line = serde_json::to_string(&ShownEvent { event, text }).unwrap_or_default();
        line.push('\n');
        Ok::<_, Infallible>(line)
    });
    guarded(
        Response::builder()
            .header(header::CONTENT_TYPE, "application/x-ndjson")
            .body(Body::from_stream(lines))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
    )
}

#[derive(Debug, Deserialize)]
struct ImportQuery {
    name: Option<String>,
    /// Who is typing, from the office's list.
    official: Option<String>,
    lang: Option<String>,
}

/// The file name an upload is kept under: the official's name without any
/// directory, and nothing that could leave the upload's own directory.
fn safe_file_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next()?.trim();
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|'))
        .collect();
    let clean = clean.trim_start_matches('.');
    // Short enough in bytes that "NAME.rejects.xlsx" and its temporary
    // name fit the file system's 255, keeping the extension (the format).
    let (stem, ext) = match clean.rsplit_once('.') {
        Some((stem, ext)) if ext.len() <= 8 => (stem, Some(ext)),
        _ => (clean, None),
    };
    let mut stem = stem.to_string();
    while stem.len() > 100 {
        stem.pop();
    }
    let stem = stem.trim();
    if stem.is_empty() {
        return None;
    }
    Some(match ext {
        Some(ext) => format!("{stem}.{ext}"),
        None => stem.to_string(),
    })
}

fn uploads_dir(data_dir: &DataDir) -> PathBuf {
    data_dir.path().join(UPLOADS_DIR)
}

/// Forgets uploads older than [`UPLOADS_KEPT`].
fn prune_uploads(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > UPLOADS_KEPT);
        if old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Deletes a file when dropped, whatever happened in between.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Where an upload is kept while it is imported: a fresh directory of its
/// own (its id names it in the rejects download).
struct Upload {
    id: String,
    dir: PathBuf,
    path: PathBuf,
    name: String,
}

impl Upload {
    fn create(ui: &Ui, name: String) -> std::io::Result<Upload> {
        let root = uploads_dir(&ui.data_dir);
        prune_uploads(&root);
        let id = random_hex()
            .map(|h| h[..16].to_string())
            .ok_or_else(|| std::io::Error::other("no randomness"))?;
        let dir = root.join(&id);
        std::fs::create_dir_all(&dir)?;
        Ok(Upload {
            path: dir.join(&name),
            id,
            dir,
            name,
        })
    }
}

fn import_upload(
    ui: &Ui,
    upload: &Upload,
    official: Option<&str>,
    lang: Lang,
) -> (StatusCode, Value) {
    i18n::with_lang(lang, || {
        // The official's file itself is not kept: its refused rows are, in
        // the rejects file beside it.
        let saved = RemoveOnDrop(upload.path.clone());
        let summary = import_into_journal(ui, &upload.path, &upload.name, official);
        drop(saved);
        let summary = match summary {
            Ok(s) => s,
            Err(message) => {
                let _ = std::fs::remove_dir_all(&upload.dir);
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"error": tr!("ui-import-failed", error = message)}),
                );
            }
        };
        let rejects: Vec<Value> = summary
            .rejects_files
            .iter()
            .filter(|p| p.parent() == Some(upload.dir.as_path()))
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .map(|n| {
                json!({"name": n,
                       "url": format!("/ui/api/rejects/{}/{}", upload.id, percent_encode(&n))})
            })
            .collect();
        if rejects.is_empty() {
            let _ = std::fs::remove_dir_all(&upload.dir);
        }
        (
            StatusCode::OK,
            json!({
                "file": upload.name,
                "accepted": summary.accepted,
                "already_present": summary.already_present,
                "attached": summary.attached,
                "rejected": summary.rejected,
                "files_refused": summary.files_refused,
                "problems": summary.problems,
                "files_problems": summary.files_problems,
                "rejects": rejects,
                "text": tr!("ui-import-result", accepted = summary.accepted,
                            present = summary.already_present, rejected = summary.rejected),
            }),
        )
    })
}

/// Imports as `hotich-agent import` does; an error is worded for the official.
fn import_into_journal(
    ui: &Ui,
    path: &Path,
    name: &str,
    official: Option<&str>,
) -> Result<crate::import::ImportSummary, String> {
    let mut journal = ui
        .data_dir
        .open_journal(crate::journal::Access::ReadWrite)
        .map_err(|e| e.to_string())?;
    let options = crate::input::Options {
        kind: None,
        commune: Some(ui.config.commune.clone()),
        former_commune: None,
        official: crate::config::choose_official(&ui.config, official)?,
        second_keying: false,
    };
    let before = journal.counts().map(|c| c.total).unwrap_or(0);
    let summary = crate::import::import_named(
        &mut journal,
        &options,
        path,
        name,
        ui.data_dir.path(),
        crate::import::Output::Quiet,
    );
    let summary = match summary {
        Ok(s) => s,
        Err(e) if e.is_disk_full() => {
            let saved = journal.counts().map(|c| c.total - before).unwrap_or(0);
            let _ = journal.remember(ui.data_dir.path());
            return Err(tr!(
                "import-disk-full",
                full = crate::error::disk_full_text(&ui.data_dir.journal_path()),
                saved = saved
            ));
        }
        Err(e) => return Err(e.to_string()),
    };
    journal.checkpoint().map_err(|e| e.to_string())?;
    journal
        .remember(ui.data_dir.path())
        .map_err(|e| e.to_string())?;
    Ok(summary)
}

fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Writes the request's body to the upload's file, at most [`MAX_UPLOAD`]
/// bytes; `Ok(false)` when the file is larger.
async fn save_body(body: Body, path: &Path) -> std::io::Result<bool> {
    use tokio::io::AsyncWriteExt;
    let mut file = tokio::fs::File::create(path).await?;
    let mut stream = body.into_data_stream();
    let mut size = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(std::io::Error::other)?;
        size += chunk.len();
        if size > MAX_UPLOAD {
            return Ok(false);
        }
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    Ok(true)
}

/// `POST /ui/api/import?name=FILE`: the file's bytes as the body, read
/// only once the request is admitted (another page must not make the
/// service hold 100 MB).
async fn api_import(
    State(state): State<UiState>,
    headers: HeaderMap,
    Query(q): Query<ImportQuery>,
    body: Body,
) -> Response {
    let lang = LangQuery { lang: q.lang }.lang();
    if let Err(refusal) = admit(&state, &headers, Need::Change) {
        return api_refused(refusal, lang);
    }
    let problem = |status: StatusCode, message: String| {
        json_response(
            status,
            json!({"error": i18n::message_in(lang, "ui-import-failed",
                                             &[("error", i18n::Arg::Text(message))])}),
        )
    };
    let Some(name) = q.name.as_deref().and_then(safe_file_name) else {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            t(lang, "ui-import-no-name"),
        );
    };
    // Who is typing, before the file is read: the page lists the office's
    // officials; none chosen among several imports nothing.
    let official = q.official.filter(|o| !o.trim().is_empty());
    if crate::config::choose_official(&state.ui.config, official.as_deref()).is_err() {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            t(lang, "ui-import-choose-official"),
        );
    }
    let ui = state.ui.clone();
    let upload = match tokio::task::spawn_blocking(move || Upload::create(&ui, name)).await {
        Ok(Ok(upload)) => upload,
        Ok(Err(e)) => return problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    match save_body(body, &upload.path).await {
        Ok(true) => {}
        Ok(false) => {
            let _ = tokio::fs::remove_dir_all(&upload.dir).await;
            return problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                t(lang, "ui-import-too-large"),
            );
        }
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(&upload.dir).await;
            return problem(StatusCode::BAD_REQUEST, e.to_string());
        }
    }
    let ui = state.ui.clone();
    let done =
        tokio::task::spawn_blocking(move || import_upload(&ui, &upload, official.as_deref(), lang))
            .await;
    match done {
        Ok((status, value)) => {
            if value["accepted"].as_u64().is_some_and(|n| n > 0) {
                // A full queue already holds a poke.
                let _ = state.requests.try_send(ControlRequest::Poke);
            }
            json_response(status, value)
        }
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn content_type_of(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".xlsx") {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    } else if lower.ends_with(".csv") {
        "text/csv; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

fn download(name: &str, bytes: Vec<u8>) -> Response {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        percent_encode(name)
    );
    let mut response = ([(header::CONTENT_TYPE, content_type_of(name))], bytes).into_response();
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    guarded(response)
}

/// `GET /ui/api/rejects/{id}/{name}`: a rejects file the page's import wrote.
async fn api_rejects(
    State(state): State<UiState>,
    headers: HeaderMap,
    UrlPath((id, name)): UrlPath<(String, String)>,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = q.lang();
    if let Err(refusal) = admit(&state, &headers, Need::Read) {
        return api_refused(refusal, lang);
    }
    // Only a name an import could have written: on Windows "C:x" or
    // "x:stream" would leave the directory.
    let written_by_import = safe_file_name(&name).is_some_and(|safe| safe == name);
    if id.len() != 16 || !id.chars().all(|c| c.is_ascii_hexdigit()) || !written_by_import {
        return StatusCode::NOT_FOUND.into_response();
    }
    let path = uploads_dir(&state.ui.data_dir).join(&id).join(&name);
    match tokio::fs::read(&path).await {
        Ok(bytes) => download(&name, bytes),
        Err(_) => json_response(
            StatusCode::NOT_FOUND,
            json!({"error": t(lang, "ui-rejects-gone")}),
        ),
    }
}

/// `GET /ui/templates/{kind}.xlsx|.csv`: a blank template.
async fn template(
    State(state): State<UiState>,
    headers: HeaderMap,
    UrlPath(file): UrlPath<String>,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = q.lang();
    if let Err(refusal) = admit(&state, &headers, Need::Read) {
        return refused(refusal, lang);
    }
    let Some((kind, ext)) = file.rsplit_once('.') else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(kind) = hotich_protocol::RecordKind::parse(kind) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let name = format!("mau-{}.{ext}", kind.as_str());
    match ext {
        "csv" => download(&name, crate::columns::template_csv(kind).into_bytes()),
        "xlsx" => match crate::columns::template_xlsx(kind) {
            Ok(bytes) => download(&name, bytes),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        },
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The page's routes, to be served behind the control endpoint's Host check.
pub fn router(ui: Arc<Ui>, requests: mpsc::Sender<ControlRequest>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/ui/login", get(login))
        .route("/ui/app.js", get(app_js))
        .route("/ui/app.css", get(app_css))
        .route("/ui/api/status", get(api_status))
        .route("/ui/api/sync", post(api_sync))
        .route("/ui/api/import", post(api_import))
        .route("/ui/api/rejects/{id}/{name}", get(api_rejects))
        .route("/ui/templates/{file}", get(template))
        .with_state(UiState { ui, requests })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_names_cannot_leave_their_directory() {
        assert_eq!(
            safe_file_name("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            safe_file_name("C:\\Users\\Admin\\Sổ khai sinh.xlsx").as_deref(),
            Some("Sổ khai sinh.xlsx")
        );
        assert_eq!(safe_file_name("..").as_deref(), None);
        assert_eq!(safe_file_name(".hidden.csv").as_deref(), Some("hidden.csv"));
        assert_eq!(safe_file_name("").as_deref(), None);
        assert_eq!(safe_file_name("C:x.csv").as_deref(), Some("Cx.csv"));
        let long = format!("{}.xlsx", "Sổ khai sinh ".repeat(30));
        let kept = safe_file_name(&long).expect("a name");
        assert!(kept.len() <= 105 && kept.ends_with(".xlsx"), "{kept}");
    }

    #[test]
    fn every_string_the_script_uses_is_in_both_catalogs() {
        for lang in [Lang::Vi, Lang::En] {
            let strings: Value =
                serde_json::from_str(&script_strings(lang)).expect("strings are JSON");
            for id in SCRIPT_STRINGS {
                let text = strings[id].as_str().unwrap_or_default();
                assert!(!text.starts_with('['), "{id} missing in {lang:?}: {text}");
            }
        }
        for id in INDEX_HTML
            .split("{{")
            .skip(1)
            .filter_map(|s| s.split_once("}}").map(|(id, _)| id))
            .filter(|id| id.starts_with("ui-"))
        {
            for lang in [Lang::Vi, Lang::En] {
                assert!(!t(lang, id).starts_with('['), "{id} missing in {lang:?}");
            }
        }
    }

    #[test]
    fn a_login_code_works_once() {
        let dir = tempfile::tempdir().expect("dir");
        let config = AgentConfig {
            server: "http://127.0.0.1:9".into(),
            token: crate::config::Secret::new("hts_test"),
            commune: "00004".into(),
            ca_cert: None,
            allow_insecure_http: false,
            sync: Default::default(),
            upload_limit: Default::default(),
            officials: Vec::new(),
        };
        let ui = Ui::new(DataDir::new(dir.path()), config, 1);
        let path = ui.mint_login().expect("code");
        let code = path.strip_prefix("/ui/login?code=").expect("login path");
        assert!(ui.spend_code(code));
        assert!(!ui.spend_code(code));
        assert!(!ui.spend_code("not-a-code"));
    }
}

//! The dashboard's HTML, rendered on the server: a page reads whole with
//! scripts off, and refreshes its list in place every 30 s with them on.
//! Everything an agent sent is escaped before it is shown.

use std::fmt::Write;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hotich_protocol::Timestamp;

use super::text::{Lang, alert_kind_label, alert_text, history_text, state_label, t};
use super::{PageQuery, Web, html, page_viewer};
use crate::api::ApiError;
use crate::monitor::{AgentView, CommuneStatus, Overview, State as Sync, overview};
use crate::provinces;
use crate::store::Storage;
use crate::store::monitor::{Contact, DatedAlert, Scope, Viewer};

pub fn escape(text: &str) -> String {
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

pub fn url_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `dd/mm/yyyy HH:MM`, Vietnam time.
pub fn vn_time(t: Timestamp) -> String {
    // `YYYY-MM-DD HH:MM:SS (UTC+7)`
    let s = t.to_vietnam_local();
    match (s.get(0..4), s.get(5..7), s.get(8..10), s.get(11..16)) {
        (Some(y), Some(m), Some(d), Some(hm)) => format!("{d}/{m}/{y} {hm}"),
        _ => s,
    }
}

/// "3 giờ trước" / "3 h ago".
pub fn age(lang: Lang, now: Timestamp, then: Timestamp) -> String {
    let secs = (now.millis() - then.millis()) / 1000;
    if secs < 60 {
        return t(lang, "just-now").to_string();
    }
    let (n, unit) = if secs < 3600 {
        (secs / 60, "min")
    } else if secs < 48 * 3600 {
        (secs / 3600, "hour")
    } else {
        (secs / 86400, "day")
    };
    format!("{n} {} {}", t(lang, unit), t(lang, "ago"))
}

fn when(lang: Lang, now: Timestamp, at: Option<Timestamp>) -> String {
    match at {
        Some(at) => format!(
            "<span title=\"{}\">{}</span>",
            vn_time(at),
            escape(&age(lang, now, at))
        ),
        None => format!("<span class=\"muted\">{}</span>", t(lang, "never")),
    }
}

fn bytes(n: Option<u64>) -> String {
    match n {
        None => "—".into(),
        Some(n) if n >= 1 << 30 => format!("{:.1} GB", n as f64 / (1u64 << 30) as f64),
        Some(n) => format!("{:.0} MB", n as f64 / (1u64 << 20) as f64),
    }
}

fn scope_label(lang: Lang, scope: &Scope) -> String {
    let province =
        |code: &str| provinces::by_code(code).map_or_else(|| code.to_string(), |p| p.full_name());
    match (&scope.province, &scope.area) {
        (None, _) => t(lang, "national").to_string(),
        (Some(p), None) => province(p),
        (Some(p), Some(a)) => format!("{} {a}, {}", t(lang, "area"), province(p)),
    }
}

const STYLE: &str = r#"
body{font-family:system-ui,"Segoe UI",Arial,sans-serif;margin:0;background:#f4f5f7;color:#1b1f24}
header{background:#8b1a1a;color:#fff;padding:.6rem 1rem;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
header h1{font-size:1.15rem;margin:0;flex:1}
header a,header button{color:#fff;background:none;border:1px solid #fff8;border-radius:4px;padding:.2rem .6rem;font-size:.9rem;cursor:pointer;text-decoration:none}
main{padding:1rem;max-width:1400px;margin:auto}
.tiles{display:flex;gap:.6rem;flex-wrap:wrap;margin-bottom:1rem}
.tile{background:#fff;border-radius:6px;padding:.5rem .9rem;border-left:6px solid #999;min-width:8rem;text-decoration:none;color:inherit}
.tile b{display:block;font-size:1.4rem}
form.filters{display:flex;gap:.5rem;flex-wrap:wrap;margin-bottom:1rem;align-items:end}
form.filters label{display:flex;flex-direction:column;font-size:.8rem;gap:.2rem}
input,select,button{font:inherit;padding:.25rem .4rem}
table{border-collapse:collapse;width:100%;background:#fff;margin-bottom:1.2rem}
th,td{padding:.35rem .5rem;border-bottom:1px solid #e3e5e8;text-align:left;vertical-align:top;font-size:.92rem}
th{background:#eceef1;font-weight:600}
tr.group td{background:#dde3ea;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;border-radius:3px;padding:.05rem .45rem;color:#fff;font-size:.85rem;white-space:nowrap}
.s-alert{background:#6f1d9b;border-color:#6f1d9b}.s-failing{background:#c62828;border-color:#c62828}
.s-silent{background:#5d4037;border-color:#5d4037}.s-behind{background:#e68a00;border-color:#e68a00}
.s-never_seen{background:#78828c;border-color:#78828c}.s-in_sync{background:#2e7d32;border-color:#2e7d32}
.tile.s-alert,.tile.s-failing,.tile.s-silent,.tile.s-behind,.tile.s-never_seen,.tile.s-in_sync{background:#fff;color:inherit}
.muted{color:#78828c}.error{color:#b71c1c}.warn{color:#8a5a00}.small{font-size:.82rem}
.box{background:#fff;border-radius:6px;padding:1rem;margin-bottom:1rem}
.token{font-family:monospace;background:#fff3cd;padding:.4rem;word-break:break-all}
"#;

fn page(lang: Lang, title: &str, viewer: Option<&Viewer>, body: &str) -> String {
    let mut head = String::new();
    if let Some(v) = viewer {
        let _ = write!(head, "<span>{}</span>", escape(&v.name));
        if v.admin {
            let _ = write!(
                head,
                "<a href=\"/agents?lang={}\">{}</a>",
                lang.code(),
                t(lang, "manage-agents")
            );
        }
        let _ = write!(
            head,
            "<form method=\"post\" action=\"/logout?lang={}\" style=\"margin:0\"><button>{}</button></form>",
            lang.code(),
            t(lang, "logout")
        );
    }
    let other = match lang {
        Lang::Vi => "<a href=\"?lang=en\">English</a>",
        Lang::En => "<a href=\"?lang=vi\">Tiếng Việt</a>",
    };
    format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\
         <header><h1><a href=\"/?lang={}\" style=\"border:0;padding:0;font-size:inherit\">{}</a></h1>{head}{other}</header>\
         <main>{body}</main></body></html>",
        lang.code(),
        escape(title),
        lang.code(),
        t(lang, "title"),
    )
}

/// A page in the dashboard's frame, for a logged-in viewer.
pub fn framed(lang: Lang, title: &str, viewer: &Viewer, body: &str) -> String {
    page(lang, title, Some(viewer), body)
}

pub fn message(lang: Lang, text: &str) -> String {
    page(
        lang,
        t(lang, "title"),
        None,
        &format!(
            "<div class=\"box\"><p>{}</p><p><a href=\"/?lang={}\">{}</a></p></div>",
            escape(text),
            lang.code(),
            t(lang, "back")
        ),
    )
}

pub fn login(lang: Lang, next: &str, problem: Option<&str>) -> String {
    let problem = problem
        .map(|p| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(p)))
        .unwrap_or_default();
    let body = format!(
        "<div class=\"box\" style=\"max-width:22rem;margin:3rem auto\"><h2>{}</h2>{problem}\
         <form method=\"post\" action=\"/login?lang={}\">\
         <input type=\"hidden\" name=\"next\" value=\"{}\">\
         <p><label>{}<br><input name=\"name\" id=\"name\" autocomplete=\"username\" required></label></p>\
         <p><label>{}<br><input name=\"password\" id=\"password\" type=\"password\" autocomplete=\"current-password\" required></label></p>\
         <p><button type=\"submit\" id=\"login\">{}</button></p></form></div>",
        t(lang, "login"),
        lang.code(),
        escape(next),
        t(lang, "login-name"),
        t(lang, "password"),
        t(lang, "login"),
    );
    page(lang, t(lang, "login"), None, &body)
}

fn badge(lang: Lang, state: Sync) -> String {
    format!(
        "<span class=\"badge s-{}\" data-state=\"{}\">{}</span>",
        state.as_str(),
        state.as_str(),
        state_label(lang, state)
    )
}

fn error_text(lang: Lang, c: &CommuneStatus) -> String {
    match &c.last_error {
        Some(e) => format!(
            "<span class=\"error\">{}</span>",
            escape(&crate::wording::error_text(
                lang,
                e.kind.as_deref(),
                &e.message
            ))
        ),
        None => String::new(),
    }
}

fn commune_row(lang: Lang, now: Timestamp, c: &CommuneStatus) -> String {
    let since = c
        .since
        .filter(|_| c.state != Sync::InSync)
        .map(|s| {
            format!(
                "<div class=\"small muted\">{} {}</div>",
                t(lang, "since"),
                vn_time(s)
            )
        })
        .unwrap_or_default();
    format!(
        "<tr class=\"commune\" data-commune=\"{code}\" data-state=\"{state}\">\
         <td><a href=\"/commune/{code}?lang={l}\">{code}</a></td><td>{name}</td>\
         <td>{badge}{since}</td><td class=\"num\">{waiting}</td><td>{oldest}</td>\
         <td>{contact}</td><td>{error}</td><td class=\"num\">{stored}{missing}</td></tr>",
        code = escape(&c.commune),
        state = c.state.as_str(),
        l = lang.code(),
        name = escape(c.name.as_deref().unwrap_or("")),
        badge = badge(lang, c.state),
        waiting = c.waiting,
        oldest = c
            .oldest_waiting_at
            .map(|t| when(lang, now, Some(t)))
            .unwrap_or_default(),
        contact = when(lang, now, c.last_contact_at),
        error = error_text(lang, c),
        stored = c.records_stored,
        missing = missing_scans_note(lang, c),
    )
}

/// Under the stored count: how many of those records still miss scans.
fn missing_scans_note(lang: Lang, c: &CommuneStatus) -> String {
    if c.records_missing_scans == 0 {
        return String::new();
    }
    format!(
        "<div class=\"small warn\" data-missing-scans=\"{n}\">{n} {}</div>",
        t(lang, "missing-scans"),
        n = c.records_missing_scans
    )
}

/// The part of the dashboard that refreshes itself.
fn dashboard_content(lang: Lang, o: &Overview, query: &PageQuery) -> String {
    let now = o.generated_at;
    let mut out = String::new();
    let base = format!("/?lang={}", lang.code());
    out.push_str("<div class=\"tiles\">");
    for state in Sync::ALL {
        let n = o.totals.get(state.as_str()).copied().unwrap_or(0);
        let _ = write!(
            out,
            "<a class=\"tile s-{s}\" href=\"{base}&amp;state={s}\" data-total=\"{s}\"><b>{n}</b>{}</a>",
            state_label(lang, state),
            s = state.as_str(),
        );
    }
    let _ = write!(
        out,
        "<div class=\"tile\"><b>{}</b>{}</div><div class=\"tile\"><b>{}</b>{}</div></div>",
        o.records_stored,
        t(lang, "stored"),
        o.waiting,
        t(lang, "waiting")
    );
    if o.communes.is_empty() {
        let _ = write!(out, "<p class=\"box\">{}</p>", t(lang, "no-communes"));
    } else {
        let _ = write!(
            out,
            "<table id=\"communes\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            t(lang, "code"),
            t(lang, "commune"),
            t(lang, "state"),
            t(lang, "waiting"),
            t(lang, "oldest"),
            t(lang, "last-contact"),
            t(lang, "last-error"),
            t(lang, "stored"),
        );
        // Groups (province, area) ordered by their worst commune; the
        // communes inside keep the worst-first order of the overview.
        let mut groups: Vec<((String, String), Vec<&CommuneStatus>)> = Vec::new();
        for c in &o.communes {
            let key = (
                c.province
                    .as_ref()
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| "—".into()),
                c.area.clone().unwrap_or_default(),
            );
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, list)) => list.push(c),
                None => groups.push((key, vec![c])),
            }
        }
        for ((province, area), list) in groups {
            let area = if area.is_empty() {
                String::new()
            } else {
                format!(" · {} {}", t(lang, "area"), escape(&area))
            };
            let _ = write!(
                out,
                "<tr class=\"group\"><td colspan=\"8\">{}{area} ({})</td></tr>",
                escape(&province),
                list.len()
            );
            for c in list {
                out.push_str(&commune_row(lang, now, c));
            }
        }
        out.push_str("</tbody></table>");
    }
    let _ = write!(
        out,
        "<p class=\"small muted\" id=\"updated\">{} {}</p>",
        t(lang, "updated"),
        vn_time(now)
    );
    let _ = query;
    out
}

fn filters(lang: Lang, viewer: &Viewer, query: &PageQuery) -> String {
    let mut out = format!(
        "<form class=\"filters\" method=\"get\" action=\"/\"><input type=\"hidden\" name=\"lang\" value=\"{}\">",
        lang.code()
    );
    if viewer.province.is_none() {
        let chosen = query.province.as_deref().unwrap_or("");
        let _ = write!(
            out,
            "<label>{}<select name=\"province\"><option value=\"\">{}</option>",
            t(lang, "province"),
            t(lang, "all")
        );
        for p in provinces::PROVINCES.iter() {
            let selected = if chosen == p.code { " selected" } else { "" };
            let _ = write!(
                out,
                "<option value=\"{}\"{selected}>{}</option>",
                p.code,
                escape(p.name)
            );
        }
        out.push_str("</select></label>");
    }
    if viewer.area.is_none() {
        let _ = write!(
            out,
            "<label>{}<input name=\"area\" value=\"{}\"></label>",
            t(lang, "area"),
            escape(query.area.as_deref().unwrap_or(""))
        );
    }
    let chosen = query.state.as_deref().unwrap_or("");
    let _ = write!(
        out,
        "<label>{}<select name=\"state\"><option value=\"\">{}</option>",
        t(lang, "state"),
        t(lang, "all")
    );
    for s in Sync::ALL {
        let selected = if chosen == s.as_str() {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<option value=\"{}\"{selected}>{}</option>",
            s.as_str(),
            state_label(lang, s)
        );
    }
    let _ = write!(
        out,
        "</select></label><label>{}<input name=\"q\" type=\"search\" value=\"{}\"></label><button>{}</button></form>",
        t(lang, "search"),
        escape(query.q.as_deref().unwrap_or("")),
        t(lang, "filter")
    );
    out
}

/// Replaces the list with a fresh copy every `every` (no page reload, no
/// external script).
fn refresher(every: std::time::Duration) -> String {
    format!(
        "<script>(function(){{var box=document.getElementById('content');\
         function tick(){{var u=new URL(location.href);u.searchParams.set('partial','1');\
         fetch(u,{{credentials:'same-origin'}}).then(function(r){{if(r.ok)return r.text();throw r.status}})\
         .then(function(h){{box.innerHTML=h}}).catch(function(){{}})}}\
         setInterval(tick,{});}})();</script>",
        every.as_millis().max(1000)
    )
}

/// `GET /`: the dashboard.
pub async fn dashboard<S: Storage>(
    State(web): State<Web<S>>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    let lang = query.lang();
    let viewer = match page_viewer(&web, &headers, "/", lang).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let filter = match query.filter() {
        Ok(f) => f,
        Err(e) => {
            return html(
                StatusCode::BAD_REQUEST,
                message(lang, &format!("{}: {e}", t(lang, "bad-input"))),
            );
        }
    };
    let o = match overview(
        web.store.as_ref(),
        &viewer.scope(),
        &filter,
        &web.thresholds,
    )
    .await
    {
        Ok(o) => o,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let content = dashboard_content(lang, &o, &query);
    if query.partial.as_deref() == Some("1") {
        return html(StatusCode::OK, content);
    }
    let body = format!(
        "<h2>{}</h2>{}<div id=\"content\">{content}</div>{}",
        escape(&scope_label(lang, &viewer.scope())),
        filters(lang, &viewer, &query),
        refresher(web.thresholds.refresh)
    );
    html(
        StatusCode::OK,
        page(lang, t(lang, "title"), Some(&viewer), &body),
    )
}

fn agent_table(lang: Lang, now: Timestamp, agents: &[AgentView]) -> String {
    let mut out = String::new();
    for a in agents {
        let skew = a
            .clock_skew_secs
            .map(|s| format!("{s:+} {}", t(lang, "seconds")))
            .unwrap_or_else(|| "—".into());
        let error = a
            .last_error
            .as_ref()
            .map(|e| {
                format!(
                    "<span class=\"error\">{}</span> {}",
                    escape(&crate::wording::error_text(
                        lang,
                        e.kind.as_deref(),
                        &e.message
                    )),
                    when(lang, now, e.at)
                )
            })
            .unwrap_or_default();
        let disk = format!(
            "{} · {} {}",
            bytes(a.free_disk_bytes),
            t(lang, "journal-size"),
            bytes(a.journal_bytes)
        );
        let _ = write!(
            out,
            "<div class=\"box agent\" data-agent=\"{id}\"><h3>{} #{id} {}{}</h3><table>\
             <tr><th>{}</th><td>{}</td><th>{}</th><td>{}</td></tr>\
             <tr><th>{}</th><td class=\"num\">{}</td><th>{}</th><td>{}</td></tr>\
             <tr><th>{}</th><td class=\"num\">{}</td><th>{}</th><td class=\"num\">{}</td></tr>\
             <tr><th>{}</th><td>{}</td><th>{}</th><td>{}</td></tr>\
             <tr><th>{}</th><td class=\"num\">{}</td><th>{}</th><td class=\"num\">{}</td></tr>\
             <tr><th>{}</th><td>{}</td><th>{}</th><td>{}</td></tr>\
             <tr><th>{}</th><td colspan=\"3\">{}</td></tr></table>",
            t(lang, "agent"),
            escape(a.name.as_deref().unwrap_or("")),
            badge(lang, a.state),
            t(lang, "version"),
            escape(a.version.as_deref().unwrap_or("—")),
            t(lang, "device"),
            escape(a.device.as_deref().unwrap_or("—")),
            t(lang, "waiting"),
            a.waiting,
            t(lang, "oldest"),
            a.oldest_waiting_at
                .map(|t| when(lang, now, Some(t)))
                .unwrap_or_default(),
            t(lang, "sent"),
            a.sent,
            t(lang, "refused"),
            a.refused,
            t(lang, "last-contact"),
            when(lang, now, a.last_contact_at),
            t(lang, "last-success"),
            when(lang, now, a.last_success_at),
            t(lang, "journal-seq"),
            a.journal_seq,
            t(lang, "server-seq"),
            a.server_seq,
            t(lang, "clock-skew"),
            skew,
            t(lang, "free-disk"),
            disk,
            t(lang, "last-error"),
            error,
            id = a.id,
        );
        if !a.warnings.is_empty() {
            let _ = write!(
                out,
                "<h4>{}</h4><table class=\"small\">",
                t(lang, "warnings")
            );
            for w in a.warnings.iter().rev() {
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                    vn_time(w.at),
                    escape(&w.level),
                    escape(&w.message)
                );
            }
            out.push_str("</table>");
        }
        out.push_str("</div>");
    }
    out
}

fn history_table(lang: Lang, contacts: &[Contact], alerts: &[DatedAlert]) -> String {
    let mut out = format!("<h3>{}</h3>", t(lang, "integrity"));
    if alerts.is_empty() {
        let _ = write!(out, "<p class=\"muted\">{}</p>", t(lang, "none"));
    } else {
        let _ = write!(
            out,
            "<table id=\"alerts\"><tr><th>{}</th><th>{}</th><th>{}</th></tr>",
            t(lang, "time"),
            t(lang, "agent"),
            t(lang, "what")
        );
        for a in alerts {
            let _ = write!(
                out,
                "<tr data-kind=\"{}\"><td>{}</td><td>#{}</td><td>{}: {}</td></tr>",
                escape(&a.kind),
                vn_time(a.at),
                a.agent_id,
                escape(&alert_kind_label(lang, &a.kind)),
                escape(&alert_text(lang, &a.kind, &a.detail))
            );
        }
        out.push_str("</table>");
    }
    let _ = write!(out, "<h3>{}</h3>", t(lang, "history"));
    if contacts.is_empty() {
        let _ = write!(out, "<p class=\"muted\">{}</p>", t(lang, "none"));
    } else {
        let _ = write!(
            out,
            "<table id=\"history\"><tr><th>{}</th><th>{}</th><th>{}</th></tr>",
            t(lang, "time"),
            t(lang, "agent"),
            t(lang, "what")
        );
        for c in contacts {
            let kind = t(lang, &format!("contact-{}", c.kind));
            let _ = write!(
                out,
                "<tr data-kind=\"{}\"><td>{}</td><td>#{}</td><td>{}: {}</td></tr>",
                escape(&c.kind),
                vn_time(c.at),
                c.agent_id,
                kind,
                escape(&history_text(lang, &c.kind, &c.detail))
            );
        }
        out.push_str("</table>");
    }
    out
}

/// Each book: captured against the count declared on closing it, entry
/// numbers never captured, those declared lost, and the checks.
fn books_table(lang: Lang, books: &[hotich_protocol::books::BookReport]) -> String {
    let mut out = format!("<h3>{}</h3>", t(lang, "books"));
    if books.is_empty() {
        let _ = write!(out, "<p class=\"muted\">{}</p>", t(lang, "none"));
        return out;
    }
    out.push_str("<table id=\"books\"><tr>");
    for key in [
        "kind",
        "year",
        "book",
        "count",
        "declared",
        "never-captured",
        "declared-lost",
        "verified",
        "discrepancies",
        "refused",
        "corrected",
    ] {
        let _ = write!(out, "<th>{}</th>", t(lang, key));
    }
    out.push_str("</tr>");
    let list = |ns: &mut dyn Iterator<Item = u32>| {
        ns.map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
    };
    for b in books {
        let book = match &b.former_commune_code {
            Some(former) => format!("{} ({former})", escape(&b.book)),
            None => escape(&b.book),
        };
        let lost = match b.declared_missing.first() {
            Some(d) => format!(
                "{} ({})",
                list(&mut b.declared_missing.iter().map(|d| d.entry)),
                escape(&d.reason)
            ),
            None => String::new(),
        };
        let _ = write!(
            out,
            "<tr data-book=\"{key}\"><td>{kind}</td><td>{year}</td><td>{book}</td>\
             <td class=\"num\">{captured}</td><td class=\"num\">{declared}</td>\
             <td class=\"{missing_class}\">{missing}</td><td>{lost}</td>\
             <td class=\"num\">{verified}</td><td class=\"num{disc_class}\">{discrepancies}</td>\
             <td class=\"num\">{refused}</td><td class=\"num\">{corrected}</td></tr>",
            key = escape(&b.id().storage_prefix()),
            kind = t(lang, &format!("kind-{}", b.kind)),
            year = b.year,
            captured = b.captured,
            declared = b.declared.map(|d| d.to_string()).unwrap_or_default(),
            missing_class = if b.missing.is_empty() { "" } else { "warn" },
            missing = list(&mut b.missing.iter().copied()),
            verified = b.verified,
            disc_class = if b.discrepancies > 0 { " warn" } else { "" },
            discrepancies = b.discrepancies,
            refused = b.refused,
            corrected = b.corrected,
        );
    }
    out.push_str("</table>");
    out
}

/// `GET /commune/{code}`: one commune, its agents, history, alerts, books.
pub async fn commune<S: Storage>(
    State(web): State<Web<S>>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    let lang = query.lang();
    let here = format!("/commune/{}", url_encode(&code));
    let viewer = match page_viewer(&web, &headers, &here, lang).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let filter = crate::monitor::Filter {
        q: Some(code.clone()),
        ..Default::default()
    };
    let o = match overview(
        web.store.as_ref(),
        &viewer.scope(),
        &filter,
        &web.thresholds,
    )
    .await
    {
        Ok(o) => o,
        Err(e) => return ApiError::from(e).into_response(),
    };
    // Outside the viewer's scope reads the same as absent.
    let Some(c) = o.communes.iter().find(|c| c.commune == code) else {
        return html(StatusCode::NOT_FOUND, message(lang, t(lang, "not-found")));
    };
    let (contacts, alerts) = match web.store.commune_history(&code, 100).await {
        Ok(h) => h,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let books = match crate::books::book_reports(web.store.as_ref(), Some(&code)).await {
        Ok(b) => b,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let now = o.generated_at;
    let place = [c.area.clone(), c.province.as_ref().map(|p| p.name.clone())]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    let body = format!(
        "<p><a href=\"/?lang={l}\">← {back}</a></p><h2>{code} {name} {badge}</h2>\
         <p class=\"muted\">{place}</p>\
         <div class=\"tiles\"><div class=\"tile\"><b>{waiting}</b>{lw}</div>\
         <div class=\"tile\"><b>{refused}</b>{lr}</div><div class=\"tile\"><b>{stored}</b>{ls}</div>\
         <div class=\"tile\" data-missing-scans=\"{missing}\"><b>{missing}</b>{lm}</div></div>\
         <h3>{agents_title}</h3>{agents}{history}{books}",
        l = lang.code(),
        back = t(lang, "back"),
        code = escape(&c.commune),
        name = escape(c.name.as_deref().unwrap_or("")),
        badge = badge(lang, c.state),
        place = escape(&place),
        waiting = c.waiting,
        lw = t(lang, "waiting"),
        refused = c.refused,
        lr = t(lang, "refused"),
        stored = c.records_stored,
        ls = t(lang, "stored"),
        missing = c.records_missing_scans,
        lm = t(lang, "missing-scans-title"),
        agents_title = t(lang, "agents"),
        agents = agent_table(lang, now, &c.agents),
        history = history_table(lang, &contacts, &alerts),
        books = books_table(lang, &books),
    );
    html(
        StatusCode::OK,
        page(
            lang,
            &format!("{} {}", c.commune, c.name.as_deref().unwrap_or("")),
            Some(&viewer),
            &body,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_times_are_vietnamese() {
        assert_eq!(
            escape("<script>alert('x')</script>&"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"
        );
        // 2026-11-28T17:30:00Z is 29/11/2026 00:30 in Vietnam.
        let t = Timestamp::parse_rfc3339("2026-11-28T17:30:00Z").unwrap();
        assert_eq!(vn_time(t), "29/11/2026 00:30");
        assert_eq!(url_encode("/commune/00004?x=1"), "/commune/00004%3Fx%3D1");
        let now = Timestamp(10 * 3600 * 1000);
        assert_eq!(
            age(Lang::Vi, now, Timestamp(7 * 3600 * 1000)),
            "3 giờ trước"
        );
        assert_eq!(
            age(Lang::En, now, Timestamp(now.millis() - 5 * 60_000)),
            "5 min ago"
        );
    }
}

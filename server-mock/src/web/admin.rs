//! Agent administration from the dashboard, for viewers allowed to
//! administer their scope: the same as `hotich-server agent add/list/revoke`
//! without the central database file.

use std::collections::HashMap;
use std::fmt::Write;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hotich_protocol::Timestamp;

use super::pages::{escape, vn_time};
use super::text::{Lang, t};
use super::{PageQuery, Web, html, page_viewer, pages, same_origin};
use crate::api::ApiError;
use crate::auth::{new_token, token_hash};
use crate::store::monitor::Viewer;
use crate::store::{AgentInfo, NewAgent, Storage};

async fn admin<S: Storage>(
    web: &Web<S>,
    headers: &HeaderMap,
    lang: Lang,
) -> Result<Viewer, Response> {
    let viewer = page_viewer(web, headers, "/agents", lang).await?;
    if viewer.admin {
        Ok(viewer)
    } else {
        Err(html(
            StatusCode::FORBIDDEN,
            pages::message(lang, t(lang, "not-allowed")),
        ))
    }
}

fn in_scope(viewer: &Viewer, agent: &AgentInfo) -> bool {
    viewer
        .scope()
        .contains(agent.province.as_deref(), agent.area.as_deref())
}

fn render(lang: Lang, viewer: &Viewer, agents: &[AgentInfo], notice: Option<String>) -> String {
    let mut body = format!("<h2>{}</h2>", t(lang, "manage-agents"));
    if let Some(n) = notice {
        body.push_str(&n);
    }
    let _ = write!(
        body,
        "<div class=\"box\"><h3>{}</h3><form method=\"post\" action=\"/agents?lang={}\" class=\"filters\">\
         <label>{} (5)<input name=\"commune\" required pattern=\"[0-9]{{5}}\" id=\"commune\"></label>\
         <label>{}<input name=\"name\" id=\"agent-name\"></label>",
        t(lang, "add-agent"),
        lang.code(),
        t(lang, "code"),
        t(lang, "name"),
    );
    if viewer.province.is_none() {
        let _ = write!(
            body,
            "<label>{}<select name=\"province\" required>",
            t(lang, "province")
        );
        for p in crate::provinces::PROVINCES.iter() {
            let _ = write!(
                body,
                "<option value=\"{}\">{}</option>",
                p.code,
                escape(p.name)
            );
        }
        body.push_str("</select></label>");
    }
    if viewer.area.is_none() {
        let _ = write!(
            body,
            "<label>{}<input name=\"area\"></label>",
            t(lang, "area")
        );
    }
    let _ = write!(
        body,
        "<button id=\"add\">{}</button></form></div><table id=\"agents\"><tr><th>#</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr>",
        t(lang, "add"),
        t(lang, "code"),
        t(lang, "name"),
        t(lang, "area"),
        t(lang, "created"),
        t(lang, "last-contact"),
    );
    for a in agents {
        let action = match a.revoked_at {
            Some(at) => format!("{} {}", t(lang, "revoked"), vn_time(at)),
            None => format!(
                "<form method=\"post\" action=\"/agents/{}/revoke?lang={}\" onsubmit=\"return confirm('{}')\"><button>{}</button></form>",
                a.id,
                lang.code(),
                t(lang, "revoke-confirm"),
                t(lang, "revoke")
            ),
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{action}</td></tr>",
            a.id,
            escape(&a.commune),
            escape(a.name.as_deref().unwrap_or("")),
            escape(a.area.as_deref().unwrap_or("")),
            vn_time(a.created_at),
            a.last_seen_at
                .map(vn_time)
                .unwrap_or_else(|| t(lang, "never").into()),
        );
    }
    body.push_str("</table>");
    body
}

async fn scoped_agents<S: Storage>(
    web: &Web<S>,
    viewer: &Viewer,
) -> Result<Vec<AgentInfo>, ApiError> {
    Ok(web
        .store
        .list_agents()
        .await?
        .into_iter()
        .filter(|a| in_scope(viewer, a))
        .collect())
}

fn page_with(lang: Lang, viewer: &Viewer, body: String) -> String {
    // The shared page frame lives in `pages`; this page adds no script.
    pages::framed(lang, t(lang, "manage-agents"), viewer, &body)
}

pub async fn list<S: Storage>(
    State(web): State<Web<S>>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    let lang = query.lang();
    let viewer = match admin(&web, &headers, lang).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match scoped_agents(&web, &viewer).await {
        Ok(agents) => html(
            StatusCode::OK,
            page_with(lang, &viewer, render(lang, &viewer, &agents, None)),
        ),
        Err(e) => e.into_response(),
    }
}

pub async fn add<S: Storage>(
    State(web): State<Web<S>>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let lang = query.lang();
    let viewer = match admin(&web, &headers, lang).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !same_origin(&headers) {
        return html(
            StatusCode::FORBIDDEN,
            pages::message(lang, t(lang, "not-allowed")),
        );
    }
    let field = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let commune = field("commune").unwrap_or_default();
    let bad = |text: String| {
        html(
            StatusCode::BAD_REQUEST,
            pages::message(lang, &format!("{}: {text}", t(lang, "bad-input"))),
        )
    };
    if !hotich_protocol::is_commune_code(&commune) {
        return bad(format!("\"{commune}\": 5 digits, e.g. 00004"));
    }
    // A province or area viewer registers agents in its own scope only.
    let province = match (&viewer.province, field("province")) {
        (Some(own), _) => own.clone(),
        (None, Some(p)) => match crate::provinces::find(&p) {
            Ok(p) => p.code.to_string(),
            Err(e) => return bad(e),
        },
        (None, None) => return bad(t(lang, "province").to_string()),
    };
    let area = viewer.area.clone().or_else(|| field("area"));
    let token = match new_token() {
        Ok(t) => t,
        Err(e) => return ApiError::Internal(e.to_string()).into_response(),
    };
    let added = web
        .store
        .add_agent(NewAgent {
            commune,
            name: field("name"),
            province: Some(province),
            area,
            token_hash: token_hash(&token),
        })
        .await;
    let agent = match added {
        Ok(a) => a,
        Err(e) => return ApiError::from(e).into_response(),
    };
    tracing::info!(viewer = %viewer.name, agent = agent.id, commune = %agent.commune, "agent registered from the dashboard");
    let notice = format!(
        "<div class=\"box\"><p>{}</p><p class=\"token\" id=\"token\">{}</p><p class=\"small muted\">hotich-agent init --server URL --token {} --commune {}</p></div>",
        t(lang, "token-once"),
        escape(&token),
        escape(&token),
        escape(&agent.commune)
    );
    match scoped_agents(&web, &viewer).await {
        Ok(agents) => html(
            StatusCode::OK,
            page_with(lang, &viewer, render(lang, &viewer, &agents, Some(notice))),
        ),
        Err(e) => e.into_response(),
    }
}

pub async fn revoke<S: Storage>(
    State(web): State<Web<S>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(query): Query<PageQuery>,
) -> Response {
    let lang = query.lang();
    let viewer = match admin(&web, &headers, lang).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !same_origin(&headers) {
        return html(
            StatusCode::FORBIDDEN,
            pages::message(lang, t(lang, "not-allowed")),
        );
    }
    let agents = match web.store.list_agents().await {
        Ok(a) => a,
        Err(e) => return ApiError::from(e).into_response(),
    };
    // Another scope's agent reads as absent.
    if !agents.iter().any(|a| a.id == id && in_scope(&viewer, a)) {
        return html(
            StatusCode::NOT_FOUND,
            pages::message(lang, t(lang, "not-found")),
        );
    }
    if let Err(e) = web.store.revoke_agent(id).await {
        return ApiError::from(e).into_response();
    }
    tracing::info!(viewer = %viewer.name, agent = id, at = %Timestamp::now().to_rfc3339(), "agent revoked from the dashboard");
    match scoped_agents(&web, &viewer).await {
        Ok(agents) => html(
            StatusCode::OK,
            page_with(lang, &viewer, render(lang, &viewer, &agents, None)),
        ),
        Err(e) => e.into_response(),
    }
}

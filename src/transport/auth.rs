//! The HTTP side of authorization and CORS: the metadata document, challenges as responses,
//! the bearer check of one request, CORS preflight and response headers, and the headers a
//! host lets its callbacks see. The rules themselves are in `crate::auth`
//! (docs/authorization.md).

use std::sync::Arc;

use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION, CACHE_CONTROL, ORIGIN};
use hyper::{HeaderMap, Method, StatusCode};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::core::Core;
use super::http::{self, header, Resp};
use super::pipeline::{self, RequestAuth};
use crate::auth::cors::CorsPolicy;
use crate::auth::uri_template::UriTemplate;
use crate::auth::{scope, AuthInfo, Authenticator, Challenge, Policy, RequestPeer};
use crate::protocol::catalog::Catalog;
use crate::protocol::jsonrpc::{Body, Message};
use crate::protocol::{Era, Routed};

/// The protected resource metadata (RFC 9728): public, cacheable, readable cross-origin.
pub fn metadata(policy: &Policy, method: &Method) -> Resp {
    match *method {
        Method::GET | Method::HEAD => {
            let mut r = http::json(
                StatusCode::OK,
                String::from_utf8_lossy(&policy.metadata_json).into_owned(),
            );
            let h = r.headers_mut();
            h.insert(
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            );
            h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
            r
        }
        Method::OPTIONS => {
            let mut r = http::empty(StatusCode::NO_CONTENT);
            let h = r.headers_mut();
            h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
            h.insert(
                "access-control-allow-methods",
                HeaderValue::from_static("GET, OPTIONS"),
            );
            h.insert(
                "access-control-allow-headers",
                HeaderValue::from_static("MCP-Protocol-Version"),
            );
            h.insert("access-control-max-age", HeaderValue::from_static("86400"));
            r
        }
        _ => http::method_not_allowed("GET, OPTIONS"),
    }
}

/// A refusal as a response: status, `WWW-Authenticate`, the OAuth-style JSON body.
pub fn challenge(c: &Challenge) -> Resp {
    let status = StatusCode::from_u16(c.status).unwrap_or(StatusCode::UNAUTHORIZED);
    let mut r = http::json(status, c.body.clone());
    if let Ok(v) = HeaderValue::from_str(&c.www_authenticate) {
        r.headers_mut().insert("www-authenticate", v);
    }
    r
}

/// The caller's principal, or the response refusing the request.
pub async fn authenticate(
    auth: &Authenticator,
    headers: &HeaderMap,
    query: Option<&str>,
    ip: &str,
    user_agent: &str,
) -> Result<Arc<AuthInfo>, (Resp, &'static str)> {
    let values = headers
        .get_all(AUTHORIZATION)
        .iter()
        .map(HeaderValue::as_bytes);
    let peer = RequestPeer {
        ip,
        user_agent: (!user_agent.is_empty()).then_some(user_agent),
    };
    auth.authenticate(values, query, peer)
        .await
        .map_err(|c| (challenge(&c), c.reason))
}

/// 204 with the CORS grant for an allowed origin, 403 otherwise.
pub fn preflight(cors: &CorsPolicy, headers: &HeaderMap) -> Resp {
    match cors.preflight(
        header(headers, ORIGIN.as_str()),
        header(headers, "access-control-request-headers"),
    ) {
        Some(grant) => {
            let mut r = http::empty(StatusCode::NO_CONTENT);
            put(&mut r, grant);
            r
        }
        None => http::empty(StatusCode::FORBIDDEN),
    }
}

/// Adds the CORS headers for the request's origin to any response.
pub fn add_cors(resp: &mut Resp, cors: &CorsPolicy, request_headers: &HeaderMap) {
    let grant = cors.response_headers(header(request_headers, ORIGIN.as_str()));
    put(resp, grant);
}

fn put(resp: &mut Resp, grant: Vec<(&'static str, String)>) {
    let h = resp.headers_mut();
    for (name, value) in grant {
        if let Ok(v) = HeaderValue::from_str(&value) {
            if name == "vary" {
                h.append(name, v);
            } else {
                h.insert(name, v);
            }
        }
    }
}

/// Headers never shown to callbacks, whatever `exposeHeaders` lists: credentials.
const NEVER_EXPOSED: &[&str] = &["authorization", "cookie", "proxy-authorization"];

/// Parses `exposeHeaders`, dropping the credential headers (and invalid names).
pub fn exposed_names(names: &[String]) -> Vec<HeaderName> {
    names
        .iter()
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .filter(|n| !NEVER_EXPOSED.contains(&n.as_str()))
        .collect()
}

/// `ctx.headers`: the exposed headers present on the request, lowercase names, values joined
/// with `, ` when repeated.
pub fn exposed_headers(names: &[HeaderName], headers: &HeaderMap) -> Map<String, Value> {
    let mut out = Map::new();
    for n in names {
        let vals: Vec<&str> = headers
            .get_all(n)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if !vals.is_empty() {
            out.insert(n.as_str().to_owned(), Value::String(vals.join(", ")));
        }
    }
    out
}

/// What a request carries into its callbacks: the principal, and the `ctx.auth` /
/// `ctx.headers` members, rendered once per request. `None` when neither is configured.
pub fn request_auth(
    info: Option<Arc<AuthInfo>>,
    expose: &[HeaderName],
    headers: &HeaderMap,
) -> Option<Arc<RequestAuth>> {
    if info.is_none() && expose.is_empty() {
        return None;
    }
    let mut members = String::new();
    if !expose.is_empty() {
        let h = exposed_headers(expose, headers);
        members.push_str(",\"headers\":");
        members.push_str(&Value::Object(h).to_string());
    }
    Some(Arc::new(RequestAuth {
        info,
        context_members: members,
    }))
}

/// An item definition's own `requiredScopes` (empty when it has none).
fn scopes_of(raw: &RawValue) -> Vec<String> {
    if !raw.get().contains("\"requiredScopes\"") {
        return Vec::new();
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Scoped {
        #[serde(default)]
        required_scopes: Vec<String>,
    }
    serde_json::from_str::<Scoped>(raw.get())
        .map(|s| s.required_scopes)
        .unwrap_or_default()
}

/// The `requiredScopes` of the item a request names (`tools/call`, `prompts/get`,
/// `resources/read`), from its definition. A URI that is not a listed resource needs the
/// scopes of every resource template it could be an expansion of.
fn item_scopes(catalog: &Catalog, method: &str, params: Option<&RawValue>) -> Vec<String> {
    let (kind, key) = match method {
        "tools/call" => (0, "name"),
        "prompts/get" => (1, "name"),
        "resources/read" => (2, "uri"),
        _ => return Vec::new(),
    };
    // Only the name or URI is read: the arguments are skipped, not built.
    #[derive(serde::Deserialize)]
    struct Named<'a> {
        #[serde(borrow, default)]
        name: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow, default)]
        uri: Option<std::borrow::Cow<'a, str>>,
    }
    let Some(p) = params.and_then(|p| serde_json::from_str::<Named<'_>>(p.get()).ok()) else {
        return Vec::new();
    };
    let Some(name) = (if key == "uri" { p.uri } else { p.name }) else {
        return Vec::new();
    };
    let name: &str = &name;
    let listing = match kind {
        0 => &catalog.tools,
        1 => &catalog.prompts,
        _ => &catalog.resources,
    };
    if let Some(raw) = listing.get(name) {
        return scopes_of(raw);
    }
    if kind != 2 {
        return Vec::new();
    }
    let mut needed: Vec<String> = Vec::new();
    for raw in catalog.resource_templates.items() {
        let scopes = scopes_of(raw);
        if scopes.is_empty() {
            continue;
        }
        let matched = serde_json::from_str::<Value>(raw.get())
            .ok()
            .and_then(|v| v.get("uriTemplate")?.as_str().map(str::to_owned))
            .and_then(|t| UriTemplate::parse(&t))
            // A template that cannot be parsed guards everything: fail closed.
            .is_none_or(|t| t.matches(name));
        if matched {
            for s in scopes {
                if !needed.contains(&s) {
                    needed.push(s);
                }
            }
        }
    }
    needed
}

/// 403 `insufficient_scope` when the caller lacks an item's own required scopes.
/// `a` is `None` when the principal came from the host (handler mode) rather than a token.
pub fn check_items(core: &Core, a: Option<&Authenticator>, body: &Body) -> Result<(), Challenge> {
    // The usual catalog: no item has scopes of its own, so no request needs its params read.
    let catalog = core.dispatcher.catalog();
    if !catalog.is_scoped() {
        return Ok(());
    }
    let Some(info) = pipeline::request_subject() else {
        return Ok(());
    };
    for m in body.messages() {
        if let Message::Request { method, params, .. } = m {
            let needed = item_scopes(&catalog, method, params.as_deref());
            if needed.is_empty() {
                continue;
            }
            match a {
                Some(a) => a.check_item(&info, &needed)?,
                None if !crate::auth::scope::allows(&info.scopes, &needed) => {
                    return Err(crate::auth::challenge::insufficient_scope("", &needed));
                }
                None => {}
            }
        }
    }
    Ok(())
}

/// The method table's answer for `method`; with authorization on, a list answer shows only
/// the items the caller's scopes allow.
pub fn route(core: &Core, era: Era, method: &str, params: Option<&RawValue>) -> Routed {
    let guarded = core.auth.is_some() || pipeline::request_subject().is_some();
    let Some(member) = guarded.then(|| listed_member(method)).flatten() else {
        return core.dispatcher.route(era, method, params);
    };
    // Whether the page can hold scoped items is the catalog's flag, if the page was rendered
    // from the catalog that was current before the route: the snapshot holds that catalog, so
    // an unchanged pointer after it means no swap happened in between.
    let before = core.dispatcher.catalog();
    let routed = core.dispatcher.route(era, method, params);
    let unscoped =
        !listing_scoped(&before, member) && Arc::ptr_eq(&before, &core.dispatcher.catalog());
    if unscoped {
        return routed;
    }
    filter_listed(member, routed)
}

/// The result member a list method's items are in, `None` for other methods.
fn listed_member(method: &str) -> Option<&'static str> {
    Some(match method {
        "tools/list" => "tools",
        "prompts/list" => "prompts",
        "resources/list" => "resources",
        "resources/templates/list" => "resourceTemplates",
        _ => return None,
    })
}

fn listing_scoped(catalog: &Catalog, member: &str) -> bool {
    match member {
        "tools" => catalog.tools.is_scoped(),
        "prompts" => catalog.prompts.is_scoped(),
        "resources" => catalog.resources.is_scoped(),
        _ => catalog.resource_templates.is_scoped(),
    }
}

/// A list answer (items under `member`) keeping only the items the caller's scopes allow.
fn filter_listed(member: &str, routed: Routed) -> Routed {
    let Routed::Answer(text) = routed else {
        return routed;
    };
    if memchr::memmem::find(text.as_bytes(), b"\"requiredScopes\"").is_none() {
        return Routed::Answer(text);
    }
    let Some(info) = pipeline::request_subject() else {
        return Routed::Answer(text);
    };
    let Ok(mut v) = serde_json::from_str::<Value>(&text) else {
        return Routed::Answer(text);
    };
    if let Some(items) = v.get_mut(member).and_then(Value::as_array_mut) {
        items.retain(|item| {
            let needed: Vec<String> = item
                .get("requiredScopes")
                .and_then(|r| serde_json::from_value(r.clone()).ok())
                .unwrap_or_default();
            scope::allows(&info.scopes, &needed)
        });
    }
    Routed::Answer(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_never_exposed() {
        let names = exposed_names(&[
            "X-Tenant".into(),
            "Authorization".into(),
            "cookie".into(),
            "bad name".into(),
        ]);
        assert_eq!(names, vec![HeaderName::from_static("x-tenant")]);
        let mut h = HeaderMap::new();
        h.append("x-tenant", HeaderValue::from_static("a"));
        h.append("x-tenant", HeaderValue::from_static("b"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer secret"));
        let m = exposed_headers(&names, &h);
        assert_eq!(m.get("x-tenant"), Some(&Value::String("a, b".into())));
        assert_eq!(m.len(), 1);
    }
}

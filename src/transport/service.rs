//! The HTTP entry, shaped as a `hyper::service::Service`: a request and the peer it came
//! from in, a response out. It checks path, method, Host/Origin, Accept, Content-Type and
//! size, reads the body, chooses the era, and hands over to that era's front end. It owns no
//! socket: the server's accept loop feeds it, and so can a test harness or a host's own HTTP
//! server, with any body of `Bytes`. See docs/architecture.md ("Seams").

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH};
use hyper::http::request::Parts;
use hyper::{HeaderMap, Method, Request, StatusCode};

use super::auth;
use super::core::Core;
use super::http::{self, header, Resp, VERSION_HEADER};
use super::metered::Meter;
use super::pipeline::{self, Peer};
use super::sockets::{read_body_since, BodyReadError};
use super::{legacy, modern};
use crate::protocol::jsonrpc::{parse_body, Body, Message};
use crate::protocol::meta::{claims_modern, modern_meta_of};
use crate::protocol::RpcError;
use crate::telemetry::metrics::RejectReason;
use crate::telemetry::Metrics;

/// Serves MCP requests for one peer. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct McpService {
    core: Arc<Core>,
    remote: SocketAddr,
}

/// The error type a request body may have.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

impl McpService {
    /// `remote` is the peer's address as the listener saw it (`trustProxy` may replace it by
    /// `X-Forwarded-For`).
    pub fn new(core: Arc<Core>, remote: SocketAddr) -> Self {
        Self { core, remote }
    }

    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// Answers one request.
    pub async fn handle<B>(&self, req: Request<B>) -> Resp
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<BodyError>,
    {
        handle(&self.core, self.remote, req).await
    }
}

impl<B> hyper::service::Service<Request<B>> for McpService
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BodyError>,
{
    type Response = Resp;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Resp, Infallible>> + Send>>;

    fn call(&self, req: Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.handle(req).await) })
    }
}

async fn handle<B>(core: &Arc<Core>, addr: SocketAddr, req: Request<B>) -> Resp
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<BodyError>,
{
    // Metrics off: nothing is noted or watched.
    let Some(metrics) = core.cfg.metrics.as_ref() else {
        return route(core, addr, req, None).await;
    };
    if core.cfg.metrics_path.as_deref() == Some(req.uri().path()) {
        let (parts, _) = req.into_parts();
        return metrics_text(core, metrics, &parts);
    }
    // Operations are measured from here to the last byte of the response body.
    let mut meter = Meter::new(metrics, Instant::now());
    let get = req.method() == Method::GET;
    let resp = route(core, addr, req, Some(&mut meter)).await;
    meter.attach(resp, get)
}

async fn route<B>(
    core: &Arc<Core>,
    addr: SocketAddr,
    req: Request<B>,
    meter: Option<&mut Meter<'_>>,
) -> Resp
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<BodyError>,
{
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    if let Some(a) = &core.auth {
        if a.policy().is_metadata_path(path) {
            return auth::metadata(a.policy(), &parts.method);
        }
    }
    let is_stats = core
        .cfg
        .internal_stats
        .as_ref()
        .is_some_and(|s| path == s.path);
    if path != core.cfg.endpoint && !is_stats {
        return http::rpc_error(
            StatusCode::NOT_FOUND,
            None,
            &RpcError::new(-32000, "Not Found"),
        );
    }
    let headers = &parts.headers;
    let cors = core.cfg.cors.as_ref();
    // An origin the `cors` option lets in passes the Origin check; the Host check stays.
    let cors_origin = cors.is_some_and(|c| header(headers, "origin").is_some_and(|o| c.allows(o)));
    let checked = if cors_origin {
        core.cfg.origin.check_host(headers)
    } else {
        core.cfg.origin.check(headers)
    };
    if let Err(why) = checked {
        if let Some(m) = &core.cfg.metrics {
            m.connection_rejected(if why.starts_with("Origin") {
                RejectReason::Origin
            } else {
                RejectReason::Host
            });
        }
        return http::rpc_error(
            StatusCode::FORBIDDEN,
            None,
            &RpcError::new(-32000, format!("Forbidden: {why}")),
        );
    }
    // After the Host/Origin checks: a rebound or cross-site page cannot read the stats.
    if is_stats {
        return Box::pin(internal_stats(core, &parts)).await;
    }
    if let (Some(c), &Method::OPTIONS) = (cors, &parts.method) {
        return auth::preflight(c, headers);
    }
    if core.is_closing() {
        return http::rpc_error(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            &RpcError::new(-32000, "Server is shutting down"),
        );
    }
    let peer = Peer {
        ip: client_ip(core, addr, headers),
        user_agent: header(headers, "user-agent").unwrap_or("").to_owned(),
    };
    let host_principal = parts
        .extensions
        .get::<pipeline::HostPrincipal>()
        .map(|p| p.0.clone());
    let info = match (&core.auth, host_principal) {
        // The host vouched for the caller: its principal stands in for a bearer token.
        (_, Some(principal)) => Some(principal),
        (Some(a), None) => {
            match Box::pin(auth::authenticate(
                a,
                headers,
                parts.uri.query(),
                &peer.ip,
                &peer.user_agent,
            ))
            .await
            {
                Ok(info) => Some(info),
                Err((mut refusal, reason)) => {
                    if let Some(m) = &core.cfg.metrics {
                        m.auth_failed(reason);
                    }
                    if let Some(c) = cors {
                        auth::add_cors(&mut refusal, c, headers);
                    }
                    return refusal;
                }
            }
        }
        (None, None) => None,
    };
    let request_auth = auth::request_auth(info, &core.cfg.expose_headers, headers);
    let mut resp =
        pipeline::with_request_auth(request_auth, by_method(core, peer, &parts, body, meter)).await;
    if let Some(c) = cors {
        auth::add_cors(&mut resp, c, headers);
    }
    resp
}

async fn by_method<B>(
    core: &Arc<Core>,
    peer: Peer,
    parts: &Parts,
    body: B,
    meter: Option<&mut Meter<'_>>,
) -> Resp
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<BodyError>,
{
    let headers = &parts.headers;
    match parts.method {
        Method::POST => post(core, peer, headers, body, meter).await,
        Method::GET => {
            if modern::is_modern_get(core, headers) {
                return http::method_not_allowed("POST");
            }
            Box::pin(legacy::get(core, &peer, headers)).await
        }
        Method::DELETE => {
            if modern::is_modern_get(core, headers) {
                return http::method_not_allowed("POST");
            }
            Box::pin(legacy::delete(core, &peer, headers)).await
        }
        _ => http::method_not_allowed(if core.cfg.legacy {
            "GET, POST, DELETE"
        } else {
            "POST"
        }),
    }
}

fn client_ip(core: &Core, addr: SocketAddr, headers: &hyper::HeaderMap) -> String {
    if core.cfg.trust_proxy {
        if let Some(first) = header(headers, "x-forwarded-for")
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            return first.to_owned();
        }
    }
    addr.ip().to_canonical().to_string()
}

async fn post<B>(
    core: &Arc<Core>,
    peer: Peer,
    headers: &HeaderMap,
    body: B,
    mut meter: Option<&mut Meter<'_>>,
) -> Resp
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<BodyError>,
{
    if !(http::accepts(headers, "application/json") && http::accepts(headers, "text/event-stream"))
    {
        return http::rpc_error(
            StatusCode::NOT_ACCEPTABLE,
            None,
            &RpcError::new(
                -32000,
                "Not Acceptable: Client must accept both application/json and text/event-stream",
            ),
        );
    }
    if !http::is_json_content(headers) {
        return http::rpc_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            &RpcError::new(
                -32000,
                "Unsupported Media Type: Content-Type must be application/json",
            ),
        );
    }
    let too_large = || {
        http::rpc_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            &RpcError::new(
                -32000,
                format!(
                    "Payload Too Large: the body exceeds {} bytes",
                    core.cfg.max_body
                ),
            ),
        )
    };
    let declared = header(headers, CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > core.cfg.max_body as u64) {
        return too_large();
    }
    let limits = &core.cfg.sockets;
    let body = std::pin::pin!(body);
    let read = read_body_since(
        body,
        core.cfg.max_body,
        limits.body_idle_timeout,
        limits.body_timeout,
        meter.as_deref().map_or_else(Instant::now, Meter::arrival),
    );
    let bytes = match read.await {
        Ok(b) => b,
        Err(BodyReadError::TooLarge(_)) => return too_large(),
        Err(e @ (BodyReadError::Idle(_) | BodyReadError::Total(_))) => {
            let mut r = http::rpc_error(
                StatusCode::REQUEST_TIMEOUT,
                None,
                &RpcError::new(-32000, format!("Request Timeout: {e}")),
            );
            // The rest of the body may never come: do not keep the connection.
            r.headers_mut().insert(
                hyper::header::CONNECTION,
                hyper::header::HeaderValue::from_static("close"),
            );
            return r;
        }
        Err(BodyReadError::Read(_)) => {
            return http::rpc_error(
                StatusCode::BAD_REQUEST,
                None,
                &RpcError::parse_error("the request body could not be read"),
            );
        }
    };
    let body = match parse_body(&bytes) {
        Ok(b) => b,
        Err(e) => return http::rpc_error(StatusCode::BAD_REQUEST, None, &e.into_rpc()),
    };
    // A tool's, resource's or prompt's own required scopes: 403 before anything runs.
    if core.auth.is_some() || pipeline::request_subject().is_some() {
        if let Err(refusal) = auth::check_items(core, core.auth.as_deref(), &body) {
            if let Some(m) = &core.cfg.metrics {
                m.auth_failed(refusal.reason);
            }
            return auth::challenge(&refusal);
        }
    }
    // A batch on the 2026 wire is refused by the modern front end, not taken for a session.
    if let Body::Batch(msgs) = &body {
        let claims_modern = msgs.iter().any(|m| match m {
            Message::Request { params, .. } | Message::Notification { params, .. } => {
                modern_meta_of(params.as_deref()).is_some()
            }
            Message::Response { .. } => false,
        });
        if claims_modern || modern::has_modern_version_header(headers) {
            if let Some(m) = meter.as_deref_mut() {
                m.note_body(&body, header(headers, VERSION_HEADER), None);
            }
            return Box::pin(modern::post(
                core.clone(),
                peer,
                headers,
                body,
                Default::default(),
            ))
            .await;
        }
    }
    if let Body::Single(Message::Request { params, .. } | Message::Notification { params, .. }) =
        &body
    {
        let meta = modern_meta_of(params.as_deref());
        let is_initialize = matches!(&body, Body::Single(m) if m.method() == Some("initialize"));
        if claims_modern(
            meta.is_some(),
            is_initialize,
            header(headers, VERSION_HEADER),
        ) {
            if let Some(m) = meter.as_deref_mut() {
                let version = meta
                    .as_ref()
                    .and_then(|m| m.protocol_version.as_ref())
                    .and_then(|v| v.as_str())
                    .or_else(|| header(headers, VERSION_HEADER));
                m.note_body(&body, version, Some(headers));
            }
            return Box::pin(modern::post(
                core.clone(),
                peer,
                headers,
                body,
                meta.unwrap_or_default(),
            ))
            .await;
        }
    }
    if !core.cfg.legacy {
        if let Some(m) = meter.as_deref_mut() {
            m.note_body(&body, None, None);
        }
        return modern::legacy_disabled(core, &body);
    }
    // The session front end notes the body once it has looked the session up.
    Box::pin(legacy::post(core.clone(), peer, headers, body, meter)).await
}

/// `GET <metrics path>`: the OpenMetrics text, behind the internalStats token when one is set.
/// The `internalStats` bearer token, shared by the stats and metrics routes: `Some(true)` when a
/// token is set and was presented, `Some(false)` when none is set, `None` when it is missing or
/// wrong (answer [`unauthorized`]).
fn stats_token_check(token: Option<&str>, headers: &HeaderMap) -> Option<bool> {
    let Some(token) = token else {
        return Some(false);
    };
    let presented = header(headers, AUTHORIZATION.as_str())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    presented
        .is_some_and(|p| constant_time_eq(p.as_bytes(), token.as_bytes()))
        .then_some(true)
}

fn unauthorized() -> Resp {
    let mut r = http::json(
        StatusCode::UNAUTHORIZED,
        r#"{"error":"unauthorized"}"#.to_owned(),
    );
    r.headers_mut().insert(
        "www-authenticate",
        hyper::header::HeaderValue::from_static("Bearer"),
    );
    r
}

fn metrics_text(core: &Core, metrics: &Metrics, req: &Parts) -> Resp {
    if req.method != Method::GET {
        return http::method_not_allowed("GET");
    }
    let token = core
        .cfg
        .internal_stats
        .as_ref()
        .and_then(|s| s.token.as_deref());
    if stats_token_check(token, &req.headers).is_none() {
        return unauthorized();
    }
    match metrics.encode() {
        Ok(text) => {
            let mut r = hyper::Response::new(super::body::OutBody::full(text));
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(crate::telemetry::metrics::CONTENT_TYPE),
            );
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "metrics encoding failed");
            http::empty(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

async fn internal_stats(core: &Core, req: &Parts) -> Resp {
    let Some(cfg) = &core.cfg.internal_stats else {
        return http::empty(StatusCode::NOT_FOUND);
    };
    if req.method != Method::GET {
        return http::method_not_allowed("GET");
    }
    let Some(authorized) = stats_token_check(cfg.token.as_deref(), &req.headers) else {
        return unauthorized();
    };
    let reveal = authorized
        && req.uri.query().is_some_and(|q| {
            q.split('&')
                .any(|kv| kv == "reveal=1" || kv == "reveal=true")
        });
    let cluster_scope = req
        .uri
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "scope=cluster"));
    let mut stats: serde_json::Value = if cluster_scope {
        match core.cluster() {
            Some(view) => view.cluster_stats().await,
            None => {
                return http::json(
                    StatusCode::NOT_FOUND,
                    r#"{"error":"scope=cluster needs the shared option"}"#.to_owned(),
                )
            }
        }
    } else {
        serde_json::from_str(&core.tracker.stats_json()).unwrap_or_default()
    };
    if !reveal {
        if let Some(conns) = stats.get_mut("connections").and_then(|c| c.as_array_mut()) {
            for c in conns {
                if let Some(m) = c.as_object_mut() {
                    m.insert("clientIP".into(), "***".into());
                    m.insert("userAgent".into(), "***".into());
                    // A session id is a bearer credential: only with the token.
                    if !authorized {
                        if let Some(id) = m.get("sessionId").and_then(|v| v.as_str()) {
                            let masked = mask_id(id);
                            m.insert("sessionId".into(), masked.into());
                        }
                    }
                }
            }
        }
    }
    http::json(StatusCode::OK, stats.to_string())
}

/// The first four characters of an id, the rest hidden: tells records apart without being
/// usable as a session id.
fn mask_id(id: &str) -> String {
    let head: String = id.chars().take(4).collect();
    format!("{head}***")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

//! Every HTTP request enters here: path, method, Host/Origin, Accept, Content-Type and size
//! checks, then the era's front end.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH};
use hyper::{Method, Request, StatusCode};

use super::http::{self, header, Resp, VERSION_HEADER};
use super::metered::Meter;
use super::server::Core;
use super::{legacy, modern};
use crate::protocol::jsonrpc::{parse_body, Body, Message};
use crate::protocol::meta::{claims_modern, modern_meta_of};
use crate::protocol::RpcError;
use crate::telemetry::metrics::RejectReason;
use crate::telemetry::Metrics;

/// What the front ends need to know about the peer.
pub struct Peer {
    pub ip: String,
    pub user_agent: String,
}

pub async fn handle(core: Arc<Core>, addr: SocketAddr, req: Request<Incoming>) -> Resp {
    // Metrics off: nothing is noted or watched.
    let Some(metrics) = core.cfg.metrics.clone() else {
        return route(core, addr, req, None).await;
    };
    if core.cfg.metrics_path.as_deref() == Some(req.uri().path()) {
        return metrics_text(&core, &metrics, &req);
    }
    let mut meter = Meter::new(core.clone(), metrics, Instant::now());
    let get = req.method() == Method::GET;
    let resp = route(core, addr, req, Some(&mut meter)).await;
    meter.attach(resp, get)
}

async fn route(
    core: Arc<Core>,
    addr: SocketAddr,
    req: Request<Incoming>,
    meter: Option<&mut Meter>,
) -> Resp {
    let path = req.uri().path();
    if let Some(stats) = &core.cfg.internal_stats {
        if path == stats.path {
            return internal_stats(&core, &req);
        }
    }
    if path != core.cfg.endpoint {
        return http::rpc_error(
            StatusCode::NOT_FOUND,
            None,
            &RpcError::new(-32000, "Not Found"),
        );
    }
    if let Err(why) = core.cfg.origin.check(req.headers()) {
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
    if core.is_closing() {
        return http::rpc_error(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            &RpcError::new(-32000, "Server is shutting down"),
        );
    }
    let peer = Peer {
        ip: client_ip(&core, addr, req.headers()),
        user_agent: header(req.headers(), "user-agent").unwrap_or("").to_owned(),
    };
    match *req.method() {
        Method::POST => post(core, peer, req, meter).await,
        Method::GET => {
            if modern::is_modern_get(&core, req.headers()) {
                return http::method_not_allowed("POST");
            }
            legacy::get(&core, &peer, req.headers())
        }
        Method::DELETE => {
            if modern::is_modern_get(&core, req.headers()) {
                return http::method_not_allowed("POST");
            }
            legacy::delete(&core, req.headers())
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

async fn post(
    core: Arc<Core>,
    peer: Peer,
    req: Request<Incoming>,
    mut meter: Option<&mut Meter>,
) -> Resp {
    let headers = req.headers().clone();
    if !(http::accepts(&headers, "application/json")
        && http::accepts(&headers, "text/event-stream"))
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
    if !http::is_json_content(&headers) {
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
    let declared = header(&headers, CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > core.cfg.max_body as u64) {
        return too_large();
    }
    let bytes = match Limited::new(req.into_body(), core.cfg.max_body)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return too_large();
            }
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
    // A batch on the 2026 wire is refused by the modern front end, not taken for a session.
    if let Body::Batch(msgs) = &body {
        let claims_modern = msgs.iter().any(|m| match m {
            Message::Request { params, .. } | Message::Notification { params, .. } => {
                modern_meta_of(params.as_deref()).is_some()
            }
            Message::Response { .. } => false,
        });
        if claims_modern || modern::has_modern_version_header(&headers) {
            if let Some(m) = meter.as_deref_mut() {
                m.note_body(&body, header(&headers, VERSION_HEADER), None);
            }
            return modern::post(core, peer, &headers, body, Default::default()).await;
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
            header(&headers, VERSION_HEADER),
        ) {
            if let Some(m) = meter.as_deref_mut() {
                let version = meta
                    .as_ref()
                    .and_then(|m| m.protocol_version.as_ref())
                    .and_then(|v| v.as_str())
                    .or_else(|| header(&headers, VERSION_HEADER));
                m.note_body(&body, version, header(&headers, "mcp-name"));
            }
            return modern::post(core, peer, &headers, body, meta.unwrap_or_default()).await;
        }
    }
    if !core.cfg.legacy {
        if let Some(m) = meter.as_deref_mut() {
            m.note_body(&body, None, None);
        }
        return modern::legacy_disabled(&core, &body);
    }
    if let Some(m) = meter {
        let session = header(&headers, http::SESSION_HEADER).and_then(|id| core.sessions.get(id));
        m.note_body(&body, session.map(|s| s.version.as_str()), None);
    }
    legacy::post(core, peer, &headers, body).await
}

/// `GET <metrics path>`: the OpenMetrics text, behind the internalStats token when one is set.
fn metrics_text(core: &Core, metrics: &Metrics, req: &Request<Incoming>) -> Resp {
    if req.method() != Method::GET {
        return http::method_not_allowed("GET");
    }
    let token = core
        .cfg
        .internal_stats
        .as_ref()
        .and_then(|s| s.token.as_deref());
    if let Some(token) = token {
        let presented = header(req.headers(), AUTHORIZATION.as_str())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if presented.is_none_or(|p| !constant_time_eq(p.as_bytes(), token.as_bytes())) {
            let mut r = http::json(
                StatusCode::UNAUTHORIZED,
                r#"{"error":"unauthorized"}"#.to_owned(),
            );
            r.headers_mut().insert(
                "www-authenticate",
                hyper::header::HeaderValue::from_static("Bearer"),
            );
            return r;
        }
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

fn internal_stats(core: &Core, req: &Request<Incoming>) -> Resp {
    let Some(cfg) = &core.cfg.internal_stats else {
        return http::empty(StatusCode::NOT_FOUND);
    };
    if req.method() != Method::GET {
        return http::method_not_allowed("GET");
    }
    let presented = header(req.headers(), AUTHORIZATION.as_str())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let authorized = match &cfg.token {
        Some(token) => {
            if presented.is_none_or(|p| !constant_time_eq(p.as_bytes(), token.as_bytes())) {
                let mut r = http::json(
                    StatusCode::UNAUTHORIZED,
                    r#"{"error":"unauthorized"}"#.to_owned(),
                );
                r.headers_mut().insert(
                    "www-authenticate",
                    hyper::header::HeaderValue::from_static("Bearer"),
                );
                return r;
            }
            true
        }
        None => false,
    };
    let reveal = authorized
        && req.uri().query().is_some_and(|q| {
            q.split('&')
                .any(|kv| kv == "reveal=1" || kv == "reveal=true")
        });
    let mut stats: serde_json::Value =
        serde_json::from_str(&core.tracker.stats_json()).unwrap_or_default();
    if !reveal {
        if let Some(conns) = stats.get_mut("connections").and_then(|c| c.as_array_mut()) {
            for c in conns {
                if let Some(m) = c.as_object_mut() {
                    m.insert("clientIP".into(), "***".into());
                    m.insert("userAgent".into(), "***".into());
                }
            }
        }
    }
    http::json(StatusCode::OK, stats.to_string())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

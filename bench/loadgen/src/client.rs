//! One keep-alive HTTP/1.1 connection on hyper's client, and the MCP request/response plumbing:
//! the headers each era needs, SSE frame parsing and JSON-RPC response matching.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderValue, ACCEPT, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::net::TcpStream;

/// Response bodies larger than this are an error (the bench's answers are a few KiB).
const MAX_RESPONSE: usize = 8 * 1024 * 1024;

/// A failed request: a short kind (counted) and a detail (sampled into the report).
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: &'static str,
    pub detail: String,
}

impl Error {
    pub fn new(kind: &'static str, detail: impl Into<String>) -> Self {
        Error {
            kind,
            detail: detail.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// `http://127.0.0.1:port/path`, loopback only; the URI and Host header prebuilt.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub path: String,
    pub authority: String,
    uri: hyper::Uri,
    host_header: HeaderValue,
    /// `Authorization: Bearer …` on every request (`--bearer`), for servers requiring OAuth.
    pub authorization: Option<HeaderValue>,
}

impl Target {
    pub fn parse(url: &str) -> std::result::Result<Target, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url}: only http:// URLs"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = if let Some(h) = authority.strip_prefix('[') {
            let end = h.find(']').ok_or_else(|| format!("{url}: bad IPv6 host"))?;
            let port = h[end + 1..].strip_prefix(':').unwrap_or("80");
            (h[..end].to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p),
                None => (authority.to_string(), "80"),
            }
        };
        let port: u16 = port.parse().map_err(|e| format!("{url}: port: {e}"))?;
        let loopback = host == "localhost" || host == "::1" || host.starts_with("127.");
        if !loopback {
            return Err(format!(
                "{url}: the load generator targets loopback addresses only"
            ));
        }
        let uri: hyper::Uri = path.parse().map_err(|e| format!("{url}: path: {e}"))?;
        let host_header =
            HeaderValue::from_str(authority).map_err(|e| format!("{url}: host: {e}"))?;
        Ok(Target {
            host: if host == "localhost" {
                "127.0.0.1".into()
            } else {
                host
            },
            port,
            path: path.to_string(),
            authority: authority.to_string(),
            uri,
            host_header,
            authorization: None,
        })
    }
}

/// An HTTP response with its body read in full.
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub session_id: Option<String>,
    pub body: Bytes,
}

pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    target: Arc<Target>,
    timeout: Duration,
}

impl Conn {
    pub async fn connect(target: &Arc<Target>, timeout: Duration) -> Result<Conn> {
        let addr = (target.host.as_str(), target.port);
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| Error::new("connect_timeout", "connect timed out"))?
            .map_err(|e| Error::new("connect", e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Error::new("handshake", e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn {
            sender,
            target: target.clone(),
            timeout,
        })
    }

    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    async fn send_raw(&mut self, req: Request<Full<Bytes>>) -> Result<Response<Incoming>> {
        self.sender
            .ready()
            .await
            .map_err(|e| Error::new("connection", e.to_string()))?;
        self.sender
            .send_request(req)
            .await
            .map_err(|e| Error::new("connection", e.to_string()))
    }

    /// Sends a request and reads the whole response body, all within the request timeout.
    pub async fn request(
        &mut self,
        method: Method,
        headers: &Headers<'_>,
        body: Option<Bytes>,
    ) -> Result<Reply> {
        let req = build(&self.target, method, headers, body);
        let timeout = self.timeout;
        tokio::time::timeout(timeout, async {
            let res = self.send_raw(req).await?;
            let status = res.status().as_u16();
            let content_type = header_string(&res, CONTENT_TYPE.as_str()).unwrap_or_default();
            let session_id = header_string(&res, "mcp-session-id");
            let body = Limited::new(res.into_body(), MAX_RESPONSE)
                .collect()
                .await
                .map_err(|e| Error::new("body", e.to_string()))?
                .to_bytes();
            Ok(Reply {
                status,
                content_type,
                session_id,
                body,
            })
        })
        .await
        .map_err(|_| Error::new("timeout", "no complete response in time"))?
    }

    /// Sends a request and returns the response with its body unread (a GET SSE stream).
    pub async fn open_stream(&mut self, headers: &Headers<'_>) -> Result<Response<Incoming>> {
        let req = build(&self.target, Method::GET, headers, None);
        let timeout = self.timeout;
        tokio::time::timeout(timeout, self.send_raw(req))
            .await
            .map_err(|_| Error::new("timeout", "no response headers in time"))?
    }
}

fn header_string<B>(res: &Response<B>, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The MCP headers of one request (values prebuilt by the caller).
#[derive(Default)]
pub struct Headers<'a> {
    pub session_id: Option<&'a HeaderValue>,
    pub protocol_version: Option<&'a HeaderValue>,
    pub mcp_method: Option<&'static str>,
    pub mcp_name: Option<&'static str>,
    pub sse_only: bool,
}

fn build(
    target: &Target,
    method: Method,
    h: &Headers<'_>,
    body: Option<Bytes>,
) -> Request<Full<Bytes>> {
    let has_body = body.is_some();
    let mut req = Request::new(Full::new(body.unwrap_or_default()));
    *req.method_mut() = method;
    *req.uri_mut() = target.uri.clone();
    let headers = req.headers_mut();
    headers.reserve(8);
    headers.insert(HOST, target.host_header.clone());
    if let Some(a) = &target.authorization {
        headers.insert(hyper::header::AUTHORIZATION, a.clone());
    }
    headers.insert(
        ACCEPT,
        HeaderValue::from_static(if h.sse_only {
            "text/event-stream"
        } else {
            "application/json, text/event-stream"
        }),
    );
    headers.insert("user-agent", HeaderValue::from_static("mcp-loadgen/0.1"));
    if has_body {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    if let Some(s) = h.session_id {
        headers.insert("mcp-session-id", s.clone());
    }
    if let Some(v) = h.protocol_version {
        headers.insert("mcp-protocol-version", v.clone());
    }
    if let Some(v) = h.mcp_method {
        headers.insert("mcp-method", HeaderValue::from_static(v));
    }
    if let Some(v) = h.mcp_name {
        headers.insert("mcp-name", HeaderValue::from_static(v));
    }
    req
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

/// Finds the JSON-RPC response with `id` in a reply (a JSON body, or SSE frames) and returns
/// its `result` text. A JSON-RPC error, a missing response or a malformed body is an `Error`.
pub fn find_result(reply: &Reply, id: u64) -> Result<String> {
    if reply.status != 200 {
        return Err(Error::new(
            "http_status",
            format!(
                "status {}: {}",
                reply.status,
                String::from_utf8_lossy(&reply.body[..reply.body.len().min(200)])
            ),
        ));
    }
    let want = id.to_string();
    let ct = reply.content_type.as_bytes();
    let is = |prefix: &str| {
        ct.len() >= prefix.len() && ct[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    };
    if is("application/json") {
        return match_message(&reply.body, &want)?
            .ok_or_else(|| Error::new("no_response", "JSON body is not the response to this id"));
    }
    if is("text/event-stream") {
        let text =
            std::str::from_utf8(&reply.body).map_err(|e| Error::new("sse_parse", e.to_string()))?;
        for data in sse_data(text) {
            if let Some(result) = match_message(data.as_bytes(), &want)? {
                return Ok(result);
            }
        }
        return Err(Error::new(
            "no_response",
            "SSE stream ended without the response to this id",
        ));
    }
    Err(Error::new(
        "content_type",
        format!("unexpected content-type {:?}", reply.content_type),
    ))
}

fn match_message(bytes: &[u8], want: &str) -> Result<Option<String>> {
    let trimmed = bytes.iter().position(|b| !b.is_ascii_whitespace());
    if trimmed.is_some_and(|i| bytes[i] == b'[') {
        let batch: Vec<Envelope<'_>> =
            serde_json::from_slice(bytes).map_err(|e| Error::new("json_parse", e.to_string()))?;
        for env in batch {
            if let Some(r) = check(&env, want)? {
                return Ok(Some(r));
            }
        }
        return Ok(None);
    }
    let env: Envelope<'_> =
        serde_json::from_slice(bytes).map_err(|e| Error::new("json_parse", e.to_string()))?;
    check(&env, want)
}

fn check(env: &Envelope<'_>, want: &str) -> Result<Option<String>> {
    let Some(id) = env.id else { return Ok(None) };
    let id = id.get().trim_matches('"');
    if id != want {
        return Ok(None);
    }
    if let Some(err) = env.error {
        return Err(Error::new("jsonrpc_error", err.get().to_string()));
    }
    match env.result {
        Some(r) => Ok(Some(r.get().to_string())),
        None => Err(Error::new(
            "jsonrpc_shape",
            "response without result or error",
        )),
    }
}

/// The `data` of each SSE event in `text` (multi-line data joined with `\n`); events without
/// data (comments, priming events) are skipped.
pub fn sse_data(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut data: Option<String> = None;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            if let Some(d) = data.take() {
                if !d.is_empty() {
                    out.push(d);
                }
            }
            continue;
        }
        if let Some(v) = line.strip_prefix("data:") {
            let v = v.strip_prefix(' ').unwrap_or(v);
            match data.as_mut() {
                Some(d) => {
                    d.push('\n');
                    d.push_str(v);
                }
                None => data = Some(v.to_string()),
            }
        }
    }
    if let Some(d) = data {
        if !d.is_empty() {
            out.push(d);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_frames() {
        let t = "id: 1\nevent: message\ndata: {\"a\":1}\n\n: comment\n\nid: 2\ndata:\n\ndata: x\ndata: y\n\n";
        assert_eq!(
            sse_data(t),
            vec!["{\"a\":1}".to_string(), "x\ny".to_string()]
        );
    }

    #[test]
    fn matches_id_in_sse() -> std::result::Result<(), String> {
        let reply = Reply {
            status: 200,
            content_type: "text/event-stream".into(),
            session_id: None,
            body: Bytes::from_static(
                b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"n\"}\n\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}\n\n",
            ),
        };
        let r = find_result(&reply, 7).map_err(|e| e.detail)?;
        assert_eq!(r, "{}");
        assert!(find_result(&reply, 8).is_err());
        Ok(())
    }

    #[test]
    fn target_is_loopback_only() {
        assert!(Target::parse("http://127.0.0.1:3000/mcp").is_ok());
        assert!(Target::parse("http://10.0.0.1:3000/mcp").is_err());
        assert!(Target::parse("http://example.com/mcp").is_err());
    }
}

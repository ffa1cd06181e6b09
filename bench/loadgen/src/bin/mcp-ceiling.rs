//! The ceiling: the least a Streamable HTTP MCP server can do on hyper, for the benchmarks.
//!
//! It speaks just enough of both protocol eras for the load generator to verify every answer:
//! `initialize` hands out a session id (kept in one set, so a request with an unknown session gets
//! 404 as in a real server), `ping` and `tools/list` answer prebuilt bytes with the request's id
//! spliced in, `tools/call` echoes `arguments.text`, `server/discover` answers a fixed result,
//! notifications get 202, `DELETE` ends a session and `GET` opens an SSE stream that stays open.
//! Nothing else: no header checks, no capabilities, no event store. A request whose
//! `MCP-Protocol-Version` header is `2026-07-28` is served statelessly (modern era).
//!
//! Usage: `mcp-ceiling [--host 127.0.0.1] [--port 0] [--path /mcp] [--tools tools.json] [--sse]`
//! prints `LISTENING http://host:port/path` once bound. `--sse` frames 2025-era POST answers as
//! one SSE event (`text/event-stream`), the default of the SDK and of the addon; modern answers
//! are always JSON.

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::net::TcpListener;

const MODERN_VERSION: &str = "2026-07-28";
const MAX_BODY: usize = 4 * 1024 * 1024;

type Body = BoxBody<Bytes, Infallible>;

struct Config {
    host: String,
    port: u16,
    path: String,
    tools_json: String,
    sse: bool,
}

struct State {
    path: String,
    sse: bool,
    tools_result: String,
    modern_tools_result: String,
    discover_result: String,
    sessions: Mutex<HashSet<String>>,
    next_session: AtomicU64,
    session_salt: u64,
}

#[derive(Deserialize)]
struct RpcRequest<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    method: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    params: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct CallParams {
    name: String,
    #[serde(default)]
    arguments: Option<EchoArgs>,
}

#[derive(Deserialize)]
struct EchoArgs {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct InitParams {
    #[serde(rename = "protocolVersion")]
    protocol_version: Option<String>,
}

fn parse_args() -> Result<Config, String> {
    let mut cfg = Config {
        host: "127.0.0.1".into(),
        port: 0,
        path: "/mcp".into(),
        tools_json: "[]".into(),
        sse: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--host" => cfg.host = value("--host")?,
            "--port" => {
                cfg.port = value("--port")?
                    .parse()
                    .map_err(|e| format!("--port: {e}"))?
            }
            "--path" => cfg.path = value("--path")?,
            "--tools" => {
                let file = value("--tools")?;
                let text = std::fs::read_to_string(&file).map_err(|e| format!("{file}: {e}"))?;
                // Re-serialized compactly: a pretty-printed file would break SSE `data:` lines.
                let tools: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| format!("{file}: {e}"))?;
                cfg.tools_json = tools.to_string();
            }
            "--sse" => cfg.sse = true,
            "--help" | "-h" => {
                return Err("usage: mcp-ceiling [--host H] [--port P] [--path /mcp] [--tools tools.json] [--sse]".into())
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if !(cfg.host.starts_with("127.") || cfg.host == "localhost" || cfg.host == "::1") {
        return Err("the ceiling server listens on loopback only".into());
    }
    Ok(cfg)
}

fn rpc_result(id: &str, result: &str) -> String {
    let mut out = String::with_capacity(result.len() + id.len() + 40);
    out.push_str("{\"jsonrpc\":\"2.0\",\"id\":");
    out.push_str(id);
    out.push_str(",\"result\":");
    out.push_str(result);
    out.push('}');
    out
}

fn rpc_error(id: &str, code: i32, message: &str) -> String {
    format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"error\":{{\"code\":{code},\"message\":{}}}}}",
        serde_json::Value::from(message)
    )
}

fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into()).boxed()
}

fn status_only(status: StatusCode) -> Response<Body> {
    let mut res = Response::new(full(Bytes::new()));
    *res.status_mut() = status;
    res
}

fn json_error(status: StatusCode, message: &str) -> Response<Body> {
    let mut res = Response::new(full(rpc_error("null", -32000, message)));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

fn answer(json: String, sse: bool) -> Response<Body> {
    if sse {
        let mut framed = String::with_capacity(json.len() + 24);
        framed.push_str("event: message\ndata: ");
        framed.push_str(&json);
        framed.push_str("\n\n");
        let mut res = Response::new(full(framed));
        let h = res.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        h.insert("cache-control", HeaderValue::from_static("no-cache"));
        res
    } else {
        let mut res = Response::new(full(json));
        res.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        res
    }
}

fn echo_result(params: Option<&RawValue>) -> Result<String, String> {
    let params = params.ok_or("tools/call without params")?;
    let call: CallParams = serde_json::from_str(params.get()).map_err(|e| e.to_string())?;
    if call.name != "echo" {
        return Ok(format!(
            "{{\"content\":[{{\"type\":\"text\",\"text\":{}}}]}}",
            serde_json::Value::from(format!("called {}", call.name))
        ));
    }
    let text = call.arguments.and_then(|a| a.text).unwrap_or_default();
    Ok(format!(
        "{{\"content\":[{{\"type\":\"text\",\"text\":{}}}]}}",
        serde_json::Value::from(text)
    ))
}

impl State {
    fn new_session(&self) -> String {
        let n = self.next_session.fetch_add(1, Ordering::Relaxed);
        let id = format!("{:016x}{:016x}", self.session_salt, n);
        if let Ok(mut set) = self.sessions.lock() {
            set.insert(id.clone());
        }
        id
    }

    fn has_session(&self, id: &str) -> bool {
        self.sessions
            .lock()
            .map(|s| s.contains(id))
            .unwrap_or(false)
    }

    fn remove_session(&self, id: &str) -> bool {
        self.sessions
            .lock()
            .map(|mut s| s.remove(id))
            .unwrap_or(false)
    }

    /// The request's method, params and id answered; `None` for a notification.
    fn dispatch(&self, req: &RpcRequest<'_>, modern: bool) -> Option<String> {
        let id = req.id?.get();
        let method = req.method.as_deref().unwrap_or("");
        Some(match method {
            "ping" if !modern => rpc_result(id, "{}"),
            "tools/list" if modern => rpc_result(id, &self.modern_tools_result),
            "tools/list" => rpc_result(id, &self.tools_result),
            "tools/call" => match echo_result(req.params) {
                Ok(result) => rpc_result(id, &result),
                Err(e) => rpc_error(id, -32602, &e),
            },
            "server/discover" if modern => rpc_result(id, &self.discover_result),
            _ => rpc_error(id, -32601, "Method not found"),
        })
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
        if req.uri().path() != self.path {
            return Ok(status_only(StatusCode::NOT_FOUND));
        }
        let session = req
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let modern = req
            .headers()
            .get("mcp-protocol-version")
            .is_some_and(|v| v.as_bytes() == MODERN_VERSION.as_bytes());
        match *req.method() {
            Method::POST => {}
            Method::GET if !modern => {
                return Ok(match session {
                    Some(s) if self.has_session(&s) => sse_stream(),
                    Some(_) => json_error(StatusCode::NOT_FOUND, "Session not found"),
                    None => json_error(StatusCode::BAD_REQUEST, "Mcp-Session-Id required"),
                })
            }
            Method::DELETE if !modern => {
                return Ok(match session {
                    Some(s) if self.remove_session(&s) => status_only(StatusCode::OK),
                    _ => json_error(StatusCode::NOT_FOUND, "Session not found"),
                })
            }
            _ => {
                let mut res = status_only(StatusCode::METHOD_NOT_ALLOWED);
                res.headers_mut()
                    .insert("allow", HeaderValue::from_static("POST"));
                return Ok(res);
            }
        }
        let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return Ok(status_only(StatusCode::PAYLOAD_TOO_LARGE)),
        };
        let rpc: RpcRequest<'_> = match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return Ok(json_error(
                    StatusCode::BAD_REQUEST,
                    &format!("Parse error: {e}"),
                ))
            }
        };
        if modern {
            return Ok(match self.dispatch(&rpc, true) {
                Some(json) => answer(json, false),
                None => status_only(StatusCode::ACCEPTED),
            });
        }
        if rpc.method.as_deref() == Some("initialize") {
            let Some(id) = rpc.id else {
                return Ok(json_error(
                    StatusCode::BAD_REQUEST,
                    "initialize needs an id",
                ));
            };
            let version = rpc
                .params
                .and_then(|p| serde_json::from_str::<InitParams>(p.get()).ok())
                .and_then(|p| p.protocol_version)
                .unwrap_or_else(|| "2025-11-25".into());
            let result = format!(
                "{{\"protocolVersion\":{},\"capabilities\":{{\"tools\":{{\"listChanged\":true}}}},\"serverInfo\":{{\"name\":\"mcp-ceiling\",\"version\":\"0.1.0\"}}}}",
                serde_json::Value::from(version)
            );
            let session = self.new_session();
            let mut res = answer(rpc_result(id.get(), &result), self.sse);
            if let Ok(v) = HeaderValue::from_str(&session) {
                res.headers_mut().insert("mcp-session-id", v);
            }
            return Ok(res);
        }
        match session {
            Some(s) if self.has_session(&s) => {}
            Some(_) => return Ok(json_error(StatusCode::NOT_FOUND, "Session not found")),
            None => {
                return Ok(json_error(
                    StatusCode::BAD_REQUEST,
                    "Mcp-Session-Id required",
                ))
            }
        }
        Ok(match self.dispatch(&rpc, false) {
            Some(json) => answer(json, self.sse),
            None => status_only(StatusCode::ACCEPTED),
        })
    }
}

/// A GET stream: a comment frame, then open until the client goes away.
fn sse_stream() -> Response<Body> {
    let first =
        stream::once(async { Ok::<_, Infallible>(Frame::data(Bytes::from_static(b": open\n\n"))) });
    let body = StreamBody::new(first.chain(stream::pending()));
    let mut res = Response::new(BodyExt::boxed(body));
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert("cache-control", HeaderValue::from_static("no-cache"));
    res
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("mcp-ceiling: {e}");
        std::process::exit(2);
    }
}

fn real_main() -> Result<(), String> {
    let cfg = parse_args()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(serve(cfg))
}

async fn serve(cfg: Config) -> Result<(), String> {
    let salt = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let state = Arc::new(State {
        path: cfg.path.clone(),
        sse: cfg.sse,
        tools_result: format!("{{\"tools\":{}}}", cfg.tools_json),
        modern_tools_result: format!(
            "{{\"tools\":{},\"resultType\":\"complete\",\"ttlMs\":0,\"cacheScope\":\"private\"}}",
            cfg.tools_json
        ),
        discover_result: format!(
            "{{\"supportedVersions\":[\"{MODERN_VERSION}\"],\"capabilities\":{{\"tools\":{{\"listChanged\":true}}}},\"resultType\":\"complete\",\"ttlMs\":0,\"cacheScope\":\"private\",\"_meta\":{{\"io.modelcontextprotocol/serverInfo\":{{\"name\":\"mcp-ceiling\",\"version\":\"0.1.0\"}}}}}}"
        ),
        sessions: Mutex::new(HashSet::new()),
        next_session: AtomicU64::new(1),
        session_salt: salt,
    });
    let host = if cfg.host == "localhost" {
        "127.0.0.1"
    } else {
        cfg.host.as_str()
    };
    let addr: SocketAddr = if host.contains(':') {
        format!("[{host}]:{}", cfg.port)
    } else {
        format!("{host}:{}", cfg.port)
    }
    .parse()
    .map_err(|e| format!("address: {e}"))?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("bind {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    println!("LISTENING http://{local}{}", cfg.path);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| state.clone().handle(req));
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

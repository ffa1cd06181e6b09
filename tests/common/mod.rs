//! A test harness for the transport without Node and without a socket: a `Core` with a Rust
//! callback host, requests handed straight to the `McpService`, responses read frame by frame.

#![allow(clippy::unwrap_used, dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use mcp_swagger_native::monitor::{Counts, MonitorEvent, MonitorSink};
use mcp_swagger_native::protocol::catalog::{Catalog, Listing};
use mcp_swagger_native::protocol::{CallError, Dispatcher, ServerDescription};
use mcp_swagger_native::transport::body::OutBody;
use mcp_swagger_native::transport::{
    CallbackHost, Core, Invocation, McpService, ServerConfig, Stores,
};
use serde_json::{json, Value};

pub const META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"m","version":"2"}}"#;

/// Tools whose behaviour is their name:
/// - `echo`: answers at once with `echo:<arguments.text>`
/// - `progress`: sends a progress notification, then answers
/// - `slow`: answers after 300 ms
/// - `poll`: closes its stream (2025 polling), answers after 200 ms
/// - `hang`: never answers (until aborted)
/// - `ask`: returns an `InputRequiredResult` asking for elicitation, then on the retry
///   answers with what the context carried
pub struct Host {
    core: Mutex<Option<Arc<Core>>>,
    /// Every invocation's context, as JSON.
    pub contexts: Mutex<Vec<Value>>,
    /// `(call id, reason)` of every abort.
    pub aborts: Mutex<Vec<(u64, String)>>,
}

impl CallbackHost for Host {
    fn invoke(&self, inv: Invocation) -> bool {
        let core = self.core.lock().unwrap().clone();
        let Some(core) = core else { return false };
        let p: Value = serde_json::from_str(&inv.params).unwrap();
        let ctx: Value = serde_json::from_str(&inv.context).unwrap();
        self.contexts.lock().unwrap().push(ctx.clone());
        let name = p["name"].as_str().unwrap_or("").to_owned();
        let text = p["arguments"]["text"].as_str().unwrap_or("").to_owned();
        let id = inv.call_id;
        tokio::spawn(async move {
            let answer =
                |t: String| json!({ "content": [{ "type": "text", "text": t }] }).to_string();
            let result = match name.as_str() {
                "echo" => answer(format!("echo:{text}")),
                "progress" => {
                    core.send_progress(id, 1.0, Some(2.0), None);
                    answer("done".into())
                }
                "slow" => {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    answer("slow".into())
                }
                "poll" => {
                    assert!(core.close_stream(id));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    answer("polled".into())
                }
                "hang" => return,
                "ask" => match ctx.get("inputResponses") {
                    Some(r) => answer(format!(
                        "got {} state {}",
                        r["who"]["content"]["name"],
                        ctx["requestState"]
                    )),
                    None => json!({
                        "resultType": "input_required",
                        "inputRequests": { "who": { "method": "elicitation/create", "params": { "message": "name?", "requestedSchema": { "type": "object" } } } },
                        "requestState": "round-1",
                    })
                    .to_string(),
                },
                "fail" => {
                    core.calls.resolve(
                        id,
                        Err(CallError::Failed {
                            message: "boom".into(),
                            code: Some(-32050),
                            data: None,
                        }),
                    );
                    return;
                }
                _ => answer("?".into()),
            };
            core.calls.resolve(id, Ok(result));
        });
        true
    }

    fn abort(&self, call_id: u64, reason: &str) {
        self.aborts
            .lock()
            .unwrap()
            .push((call_id, reason.to_owned()));
    }
}

#[derive(Default)]
pub struct Events(pub Mutex<Vec<String>>);

impl MonitorSink for Events {
    fn event(&self, e: &MonitorEvent, _c: Counts) {
        let s = match e {
            MonitorEvent::Established(i) => format!("open {}", i.era.as_str()),
            MonitorEvent::Closed { reason, .. } => format!("close {}", reason.as_str()),
            MonitorEvent::Rejected { reason, .. } => format!("reject {reason}"),
        };
        self.0.lock().unwrap().push(s);
    }
}

pub struct Harness {
    pub core: Arc<Core>,
    pub svc: McpService,
    pub host: Arc<Host>,
    pub events: Arc<Events>,
}

pub fn config() -> ServerConfig {
    ServerConfig {
        port: 0,
        ..Default::default()
    }
}

pub fn harness() -> Harness {
    harness_with(config())
}

pub fn harness_with(cfg: ServerConfig) -> Harness {
    let tools = ["echo", "progress", "slow", "poll", "hang", "ask", "fail"]
        .iter()
        .map(|n| {
            serde_json::value::RawValue::from_string(format!(
                r#"{{"name":"{n}","inputSchema":{{"type":"object"}}}}"#
            ))
            .unwrap()
        })
        .collect();
    let catalog = Catalog {
        tools: Listing::new(tools, "name", 100).unwrap(),
        ..Default::default()
    };
    let desc = ServerDescription {
        name: "harness".into(),
        version: "1".into(),
        tools: true,
        resources: true,
        legacy: cfg.legacy,
        modern: cfg.modern,
        ..Default::default()
    };
    let host = Arc::new(Host {
        core: Mutex::new(None),
        contexts: Mutex::new(Vec::new()),
        aborts: Mutex::new(Vec::new()),
    });
    let events = Arc::new(Events::default());
    let core = Core::new(
        cfg,
        Dispatcher::new(desc, catalog),
        host.clone(),
        vec![events.clone()],
        Stores::default(),
    )
    .unwrap();
    *host.core.lock().unwrap() = Some(core.clone());
    let remote: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    Harness {
        svc: McpService::new(core.clone(), remote),
        core,
        host,
        events,
    }
}

/// A response whose body is read on demand.
pub struct Reply {
    pub status: u16,
    pub session: Option<String>,
    pub content_type: String,
    pub body: OutBody,
}

impl Reply {
    /// The whole body (the stream must end within 5 s).
    pub async fn text(self) -> String {
        let bytes = tokio::time::timeout(Duration::from_secs(5), self.body.collect())
            .await
            .expect("the body ended")
            .unwrap()
            .to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    pub async fn json(self) -> Value {
        let text = self.text().await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    /// The next frame of an SSE body, or `None` when it ended; panics after 5 s.
    pub async fn next_frame(&mut self) -> Option<String> {
        let frame = tokio::time::timeout(Duration::from_secs(5), self.body.frame())
            .await
            .expect("a frame in time")?;
        let data = frame.unwrap().into_data().unwrap();
        Some(String::from_utf8(data.to_vec()).unwrap())
    }

    pub fn is_sse(&self) -> bool {
        self.content_type.starts_with("text/event-stream")
    }
}

/// The JSON-RPC messages of SSE text (`data:` lines that are not empty).
pub fn sse_messages(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .collect();
            let data = data.join("\n");
            (!data.trim().is_empty()).then(|| serde_json::from_str(&data).unwrap())
        })
        .collect()
}

/// The `id:` of the first SSE event in `text` that has one.
pub fn event_id(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("id: "))
        .map(str::to_owned)
}

impl Harness {
    pub async fn send(
        &self,
        method: &str,
        session: Option<&str>,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri("/mcp");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req = req.header("host", "127.0.0.1:3322");
        }
        req = req
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if let Some(s) = session {
            req = req.header("mcp-session-id", s);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = self
            .svc
            .handle(req.body(Full::new(Bytes::from(body.to_owned()))).unwrap())
            .await;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        Reply {
            status: resp.status().as_u16(),
            session: header("mcp-session-id"),
            content_type: header("content-type").unwrap_or_default(),
            body: resp.into_body(),
        }
    }

    pub async fn post(&self, session: Option<&str>, body: &str) -> Reply {
        self.send("POST", session, &[], body).await
    }

    /// A 2025 session at `version`, with `capabilities` declared.
    pub async fn initialize(&self, version: &str, capabilities: &str) -> String {
        let r = self
            .post(
                None,
                &format!(
                    r#"{{"jsonrpc":"2.0","id":0,"method":"initialize","params":{{"protocolVersion":"{version}","capabilities":{capabilities},"clientInfo":{{"name":"t","version":"1"}}}}}}"#
                ),
            )
            .await;
        assert_eq!(r.status, 200);
        r.session.clone().unwrap()
    }

    /// A 2026-07-28 tools/call with the mirrored headers.
    pub async fn modern_call(&self, id: u64, tool: &str, extra_params: &str) -> Reply {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{{}}{extra_params},{META}}}}}"#
        );
        self.send(
            "POST",
            None,
            &[
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/call"),
                ("mcp-name", tool),
            ],
            &body,
        )
        .await
    }

    pub fn legacy_call(id: u64, tool: &str) -> String {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{{"text":"x"}},"_meta":{{"progressToken":"p{id}"}}}}}}"#
        )
    }
}

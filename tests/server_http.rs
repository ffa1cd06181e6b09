//! The core driven over real HTTP on loopback, with a Rust callback host: no Node involved.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use mcp_swagger_native::monitor::{Counts, MonitorEvent, MonitorSink};
use mcp_swagger_native::protocol::catalog::{Catalog, Listing};
use mcp_swagger_native::protocol::{Dispatcher, ServerDescription};
use mcp_swagger_native::transport::{CallbackHost, Core, Invocation, McpServer, ServerConfig};
use serde_json::{json, Value};

/// Answers `echo` from Rust; the core sees it exactly as it sees the JS host.
struct EchoHost {
    core: Mutex<Option<Arc<Core>>>,
}

impl CallbackHost for EchoHost {
    fn invoke(&self, inv: Invocation) -> bool {
        let core = self.core.lock().unwrap().clone();
        let Some(core) = core else { return false };
        tokio::spawn(async move {
            let p: Value = serde_json::from_str(&inv.params).unwrap();
            let text = p["arguments"]["text"].as_str().unwrap_or("").to_owned();
            if text == "stream" {
                // A notification before the answer turns the response into a stream.
                core.send_progress(inv.call_id, 1.0, Some(2.0), None);
            }
            let result = json!({ "content": [{ "type": "text", "text": format!("echo:{text}") }] });
            core.calls.resolve(inv.call_id, Ok(result.to_string()));
        });
        true
    }

    fn abort(&self, _call_id: u64, _reason: &str) {}
}

#[derive(Default)]
struct Events(Mutex<Vec<String>>);

impl MonitorSink for Events {
    fn event(&self, e: &MonitorEvent, c: Counts) {
        let s = match e {
            MonitorEvent::Established(i) => format!("open {}", i.era.as_str()),
            MonitorEvent::Closed { reason, .. } => format!("close {}", reason.as_str()),
            MonitorEvent::Rejected { reason, .. } => format!("reject {reason}"),
        };
        self.0.lock().unwrap().push(format!(
            "{s} {}/{}",
            c.active_connections, c.total_connections
        ));
    }
}

async fn start() -> (McpServer, Arc<EchoHost>, Arc<Events>) {
    let tools = vec![serde_json::value::RawValue::from_string(
        r#"{"name":"echo","inputSchema":{"type":"object"}}"#.into(),
    )
    .unwrap()];
    let catalog = Catalog {
        tools: Listing::new(tools, "name", 100).unwrap(),
        ..Default::default()
    };
    let desc = ServerDescription {
        name: "rust-test".into(),
        version: "1".into(),
        tools: true,
        legacy: true,
        modern: true,
        ..Default::default()
    };
    let cfg = ServerConfig {
        port: 0,
        ..Default::default()
    };
    let host = Arc::new(EchoHost {
        core: Mutex::new(None),
    });
    let events = Arc::new(Events::default());
    let server = McpServer::start(
        cfg,
        Dispatcher::new(desc, catalog),
        host.clone(),
        vec![events.clone()],
    )
    .await
    .unwrap();
    *host.core.lock().unwrap() = Some(server.core().clone());
    (server, host, events)
}

struct Reply {
    status: u16,
    session: Option<String>,
    content_type: String,
    body: String,
}

async fn send(
    port: u16,
    method: &str,
    session: Option<&str>,
    extra: &[(&str, &str)],
    body: &str,
) -> Reply {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://127.0.0.1:{port}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(s) = session {
        req = req.header("mcp-session-id", s);
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let resp = client
        .request(req.body(Full::new(Bytes::from(body.to_owned()))).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let session = resp
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    Reply {
        status,
        session,
        content_type,
        body,
    }
}

/// The JSON-RPC message of an SSE body (the last `data:` line that is not empty).
fn sse_message(body: &str) -> Value {
    let data = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .rfind(|d| !d.trim().is_empty())
        .unwrap();
    serde_json::from_str(data).unwrap()
}

#[tokio::test]
async fn a_2025_session_from_initialize_to_delete() {
    let (server, _host, events) = start().await;
    let port = server.local_addr().port();
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let r = send(port, "POST", None, &[], init).await;
    assert_eq!(r.status, 200);
    let sid = r.session.unwrap();
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["result"]["protocolVersion"], "2025-11-25");

    let r = send(
        port,
        "POST",
        Some(&sid),
        &[],
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["result"]["tools"][0]["name"], "echo");

    let call = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}"#;
    let r = send(port, "POST", Some(&sid), &[], call).await;
    assert_eq!(r.status, 200);
    // A callback that answers at once, with nothing streamed first, is one JSON object.
    assert!(
        r.content_type.starts_with("application/json"),
        "{}",
        r.content_type
    );
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["id"], 3);
    assert_eq!(v["result"]["content"][0]["text"], "echo:hi");

    let call = r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo","arguments":{"text":"stream"},"_meta":{"progressToken":"p"}}}"#;
    let r = send(port, "POST", Some(&sid), &[], call).await;
    assert!(r.content_type.starts_with("text/event-stream"));
    assert!(r.body.contains(r#""method":"notifications/progress""#));
    let v = sse_message(&r.body);
    assert_eq!(v["id"], 4);
    assert_eq!(v["result"]["content"][0]["text"], "echo:stream");

    let r = send(port, "DELETE", Some(&sid), &[], "").await;
    assert_eq!(r.status, 200);
    let r = send(
        port,
        "POST",
        Some(&sid),
        &[],
        r#"{"jsonrpc":"2.0","id":4,"method":"ping"}"#,
    )
    .await;
    assert_eq!(r.status, 404);
    let r = send(
        port,
        "POST",
        None,
        &[],
        r#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#,
    )
    .await;
    assert_eq!(r.status, 400);

    server.close().await;
    // Nothing left behind: no call waits, no session is open.
    assert!(server.core().calls.is_empty());
    assert!(server.core().sessions.is_empty());
    assert_eq!(
        *events.0.lock().unwrap(),
        ["open legacy 1/1", "close deleted 0/1"]
    );
}

#[tokio::test]
async fn a_2026_client_is_stateless_and_still_tracked() {
    let (server, _host, events) = start().await;
    let port = server.local_addr().port();
    let meta = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"m","version":"2"}}"#;
    let headers = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "server/discover"),
    ];
    let r = send(
        port,
        "POST",
        None,
        &headers,
        &format!(r#"{{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{{{meta}}}}}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.session.is_none());
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["result"]["supportedVersions"][0], "2026-07-28");
    assert_eq!(v["result"]["resultType"], "complete");

    let call_headers = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "echo"),
    ];
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"yo"}},{meta}}}}}"#
    );
    let r = send(port, "POST", None, &call_headers, &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["result"]["content"][0]["text"], "echo:yo");
    assert_eq!(v["result"]["resultType"], "complete");

    // The same client software from the same address is one connection.
    assert_eq!(server.core().tracker.active(), 1);
    let mismatched = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/list"),
    ];
    let r = send(port, "POST", None, &mismatched, &body).await;
    assert_eq!(r.status, 400);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["error"]["code"], -32020);
    assert_eq!(v["id"], 2);

    let r = send(
        port,
        "GET",
        None,
        &[("mcp-protocol-version", "2026-07-28")],
        "",
    )
    .await;
    assert_eq!(r.status, 405);

    server.close().await;
    assert!(server.core().calls.is_empty());
    assert!(server.core().listeners.is_empty());
    assert_eq!(server.core().tracker.active(), 0);
    assert_eq!(
        *events.0.lock().unwrap(),
        ["open modern 1/1", "close shutdown 0/1"]
    );
}

#[tokio::test]
async fn close_resolves_with_idle_keep_alive_connections_open() {
    let (server, _host, _events) = start().await;
    let port = server.local_addr().port();
    // A keep-alive connection left idle must not hold close() up.
    let _conn = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), server.close())
        .await
        .expect("close() finished");
}

//! The checks every request passes before an era's front end (Host/Origin, Accept,
//! Content-Type, size), and the 2026-07-28 envelope and mirrored-header checks.

#![allow(clippy::unwrap_used)]

mod common;

use common::{config, harness, harness_with, META};
use mcp_swagger_native::transport::ServerConfig;

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

#[tokio::test]
async fn host_origin_accept_and_content_type() {
    let h = harness();
    let r = h
        .send("POST", None, &[("origin", "http://evil.example")], PING)
        .await;
    assert_eq!(r.status, 403);
    let r = h
        .send("POST", None, &[("host", "evil.example:3322")], PING)
        .await;
    assert_eq!(r.status, 403);
    let r = h
        .send("POST", None, &[("origin", "http://localhost:5173")], PING)
        .await;
    // Past the checks: a 2025 request without a session is the front end's 400.
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn accept_content_type_and_size_are_refused_with_their_status() {
    let h = harness_with(ServerConfig {
        max_body: 64,
        ..config()
    });
    let build = |accept: &str, ct: &str, body: &str| {
        hyper::Request::builder()
            .method("POST")
            .uri("/mcp")
            .header("host", "localhost")
            .header("accept", accept)
            .header("content-type", ct)
            .body(http_body_util::Full::new(hyper::body::Bytes::from(
                body.to_owned(),
            )))
            .unwrap()
    };
    let r = h
        .svc
        .handle(build("application/json", "application/json", PING))
        .await;
    assert_eq!(r.status(), 406);
    let r = h
        .svc
        .handle(build(
            "application/json, text/event-stream",
            "text/plain",
            PING,
        ))
        .await;
    assert_eq!(r.status(), 415);
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"x":"{}"}}}}"#,
        "a".repeat(100)
    );
    let r = h
        .svc
        .handle(build(
            "application/json, text/event-stream",
            "application/json",
            &big,
        ))
        .await;
    assert_eq!(r.status(), 413);
    let r = h
        .svc
        .handle(build(
            "application/json, text/event-stream",
            "application/json",
            "{nope",
        ))
        .await;
    assert_eq!(r.status(), 400);
    let wrong_path = hyper::Request::builder()
        .method("POST")
        .uri("/other")
        .header("host", "localhost")
        .body(http_body_util::Full::new(hyper::body::Bytes::new()))
        .unwrap();
    assert_eq!(h.svc.handle(wrong_path).await.status(), 404);
}

#[tokio::test]
async fn the_2026_envelope_and_mirrored_headers_are_checked() {
    let h = harness();
    let call = |meta: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"echo","arguments":{{}},{meta}}}}}"#
        )
    };
    // The version header must be present and match _meta.
    let r = h
        .send(
            "POST",
            None,
            &[("mcp-method", "tools/call"), ("mcp-name", "echo")],
            &call(META),
        )
        .await;
    // Without the header the request does not claim 2026 by header, but _meta does.
    assert_eq!(r.status, 400);
    assert_eq!(r.json().await["error"]["code"], -32020);
    let r = h
        .send(
            "POST",
            None,
            &[
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/list"),
                ("mcp-name", "echo"),
            ],
            &call(META),
        )
        .await;
    assert_eq!(r.status, 400);
    let v = r.json().await;
    assert_eq!(v["error"]["code"], -32020);
    assert_eq!(v["id"], 7);
    let r = h
        .send(
            "POST",
            None,
            &[
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/call"),
                ("mcp-name", "other"),
            ],
            &call(META),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json().await["error"]["code"], -32020);
    // A missing clientCapabilities is an invalid envelope.
    let r = h
        .send(
            "POST",
            None,
            &[
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/call"),
                ("mcp-name", "echo"),
            ],
            &call(r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}"#),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json().await["error"]["code"], -32602);
    // An unknown later version: -32022 with what we support.
    let meta = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01","io.modelcontextprotocol/clientCapabilities":{}}"#;
    let r = h
        .send(
            "POST",
            None,
            &[
                ("mcp-protocol-version", "2099-01-01"),
                ("mcp-method", "tools/call"),
                ("mcp-name", "echo"),
            ],
            &call(meta),
        )
        .await;
    assert_eq!(r.status, 400);
    let v = r.json().await;
    assert_eq!(v["error"]["code"], -32022);
    assert_eq!(v["error"]["data"]["requested"], "2099-01-01");
}

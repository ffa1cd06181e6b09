//! Which front end serves a request: `initialize` and `Mcp-Session-Id` mean the 2025 era,
//! `_meta` (or a 2026 version header) the 2026-07-28 era; the method table decides what each
//! era has. Driven through the service seam with a Rust callback host.

#![allow(clippy::unwrap_used)]

mod common;

use common::{config, harness, harness_with, Harness, META};
use mcp_swagger_native::transport::ServerConfig;

#[tokio::test]
async fn initialize_opens_a_2025_session_and_meta_is_served_statelessly() {
    let h = harness();
    let sid = h.initialize("2025-06-18", "{}").await;
    let r = h
        .post(
            Some(&sid),
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
        )
        .await
        .json()
        .await;
    assert_eq!(r["result"]["tools"][0]["name"], "echo");
    assert!(
        r["result"].get("resultType").is_none(),
        "2025 results are untagged"
    );

    let r = h.modern_call(2, "echo", "").await;
    assert_eq!(r.status, 200);
    assert!(r.session.is_none());
    let v = r.json().await;
    assert_eq!(v["result"]["resultType"], "complete");
    assert_eq!(v["result"]["content"][0]["text"], "echo:");
    assert_eq!(
        h.core.sessions.len(),
        1,
        "the 2026 request opened no session"
    );
    assert_eq!(*h.events.0.lock().unwrap(), ["open legacy", "open modern"]);
}

#[tokio::test]
async fn the_method_table_differs_by_era() {
    let h = harness();
    let sid = h.initialize("2025-11-25", "{}").await;
    // 2026-only methods do not exist for a 2025 session.
    let v = h
        .post(
            Some(&sid),
            r#"{"jsonrpc":"2.0","id":1,"method":"server/discover"}"#,
        )
        .await
        .json()
        .await;
    assert_eq!(v["error"]["code"], -32601);
    let v = h
        .post(
            Some(&sid),
            r#"{"jsonrpc":"2.0","id":2,"method":"logging/setLevel","params":{"level":"error"}}"#,
        )
        .await
        .json()
        .await;
    assert_eq!(v["result"], serde_json::json!({}));
    // Methods the 2026 revision removed are 404 there.
    for method in [
        "ping",
        "logging/setLevel",
        "resources/subscribe",
        "initialize",
    ] {
        let r = h
            .send(
                "POST",
                None,
                &[
                    ("mcp-protocol-version", "2026-07-28"),
                    ("mcp-method", method),
                ],
                &format!(r#"{{"jsonrpc":"2.0","id":3,"method":"{method}","params":{{{META}}}}}"#),
            )
            .await;
        assert_eq!(r.status, 404, "{method}");
        assert_eq!(r.json().await["error"]["code"], -32601, "{method}");
    }
    let r = h
        .send(
            "POST",
            None,
            &[
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "server/discover"),
            ],
            &format!(
                r#"{{"jsonrpc":"2.0","id":4,"method":"server/discover","params":{{{META}}}}}"#
            ),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json().await["result"]["supportedVersions"][0],
        "2026-07-28"
    );
}

#[tokio::test]
async fn a_batch_on_the_2026_wire_is_refused_by_the_modern_front_end() {
    let h = harness();
    let batch =
        format!(r#"[{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{{META}}}}}]"#);
    let r = h
        .send(
            "POST",
            None,
            &[("mcp-protocol-version", "2026-07-28")],
            &batch,
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json().await["error"]["code"], -32600);
}

#[tokio::test]
async fn a_server_of_one_era_refuses_the_other() {
    let modern_only = harness_with(ServerConfig {
        legacy: false,
        ..config()
    });
    let r = modern_only
        .post(None, r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}}}"#)
        .await;
    assert_eq!(r.status, 400);
    let v = r.json().await;
    assert_eq!(v["error"]["code"], -32022);
    assert_eq!(v["error"]["data"]["supported"][0], "2026-07-28");
    let r = modern_only.send("GET", None, &[], "").await;
    assert_eq!(r.status, 405);

    let legacy_only: Harness = harness_with(ServerConfig {
        modern: false,
        ..config()
    });
    let r = legacy_only.modern_call(1, "echo", "").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json().await["error"]["code"], -32022);
    // GET with a 2026 version header is the 2026 era's: 405 on a server that has both.
    let both = harness();
    let r = both
        .send("GET", None, &[("mcp-protocol-version", "2026-07-28")], "")
        .await;
    assert_eq!(r.status, 405);
}

//! Tool arguments and structured results validated against the tool's schemas, answered as
//! each revision says (docs/validation.md). Driven through the service seam with a Rust
//! callback host, which records every invocation: a failing call must never reach it.

#![allow(clippy::unwrap_used)]

mod common;

use common::harness;

const TOOLS: &str = r#"[
  {"name":"echo","inputSchema":{"type":"object","properties":{"text":{"type":"string","maxLength":5}},"required":["text"]}},
  {"name":"shaped","inputSchema":{"type":"object"},"outputSchema":{"type":"object","required":["n"]}}
]"#;

fn call(id: u64, tool: &str, args: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{args}}}}}"#
    )
}

#[tokio::test]
async fn each_revision_gets_its_own_answer_and_js_never_runs() {
    let h = harness();
    h.core.set_listing("tools", TOOLS, None).unwrap();

    let old = h.initialize("2025-06-18", "{}").await;
    let v = h
        .post(Some(&old), &call(1, "echo", r#"{"text":7}"#))
        .await
        .json()
        .await;
    assert_eq!(v["error"]["code"], -32602, "{v}");
    assert_eq!(v["error"]["data"]["errors"][0]["path"], "/text");

    let new = h.initialize("2025-11-25", "{}").await;
    let v = h
        .post(Some(&new), &call(2, "echo", r#"{"text":"too long"}"#))
        .await
        .json()
        .await;
    assert_eq!(v["result"]["isError"], true, "{v}");
    let text = v["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("/text"), "{text}");

    // 2026-07-28: `arguments: {}` lacks `text`.
    let v = h.modern_call(3, "echo", "").await.json().await;
    assert_eq!(v["result"]["isError"], true, "{v}");
    assert_eq!(v["result"]["resultType"], "complete");
    assert!(v["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("\"text\""));

    assert!(
        h.host.contexts.lock().unwrap().is_empty(),
        "no invalid call reached the host"
    );
    let v = h
        .post(Some(&new), &call(4, "echo", r#"{"text":"ok"}"#))
        .await
        .json()
        .await;
    assert_eq!(v["result"]["content"][0]["text"], "echo:ok");
    assert_eq!(h.host.contexts.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_result_without_its_structured_content_is_an_internal_error() {
    let h = harness();
    h.core.set_listing("tools", TOOLS, None).unwrap();
    let sid = h.initialize("2025-11-25", "{}").await;
    // The host answers `shaped` with text only: the outputSchema is not met.
    let v = h
        .post(Some(&sid), &call(1, "shaped", "{}"))
        .await
        .json()
        .await;
    assert_eq!(v["error"]["code"], -32603, "{v}");
    assert_eq!(
        v["error"]["data"]["errors"][0]["path"],
        "/structuredContent"
    );
}

#[tokio::test]
async fn an_invalid_schema_is_refused_and_the_old_list_stays() {
    let h = harness();
    h.core.set_listing("tools", TOOLS, None).unwrap();
    let bad = r#"[{"name":"x","inputSchema":{"type":"object","properties":{"a":{"type":12}}}}]"#;
    let e = h
        .core
        .set_listing("tools", bad, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("tool \"x\"") && e.contains("inputSchema"), "{e}");
    let sid = h.initialize("2025-06-18", "{}").await;
    let v = h
        .post(Some(&sid), &call(1, "echo", "{}"))
        .await
        .json()
        .await;
    assert_eq!(
        v["error"]["code"], -32602,
        "the old schemas still apply: {v}"
    );
}

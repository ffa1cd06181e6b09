//! One JSON object when a callback answers at once with nothing sent first; an SSE stream when
//! it sends something first or is slower than the switch delay; only JSON when the server
//! answers with JSON. The same pipeline serves both eras.

#![allow(clippy::unwrap_used)]

mod common;

use common::{config, harness, harness_with, sse_messages, Harness};
use mcp_swagger_native::transport::ServerConfig;

#[tokio::test]
async fn a_fast_callback_is_answered_with_json_in_both_eras() {
    let h = harness();
    let sid = h.initialize("2025-11-25", "{}").await;
    let r = h.post(Some(&sid), &Harness::legacy_call(1, "echo")).await;
    assert!(
        r.content_type.starts_with("application/json"),
        "{}",
        r.content_type
    );
    assert_eq!(r.json().await["result"]["content"][0]["text"], "echo:x");
    let r = h.modern_call(2, "echo", "").await;
    assert!(r.content_type.starts_with("application/json"));
    assert_eq!(r.json().await["id"], 2);
}

#[tokio::test]
async fn a_notification_first_turns_the_answer_into_a_stream() {
    let h = harness();
    let sid = h.initialize("2025-11-25", "{}").await;
    let r = h
        .post(Some(&sid), &Harness::legacy_call(1, "progress"))
        .await;
    assert!(r.is_sse(), "{}", r.content_type);
    let text = r.text().await;
    // 2025-11-25 with an event store: a priming event first, ids on every event.
    assert!(text.starts_with("id: "), "{text}");
    let msgs = sse_messages(&text);
    assert_eq!(msgs[0]["method"], "notifications/progress");
    assert_eq!(msgs[0]["params"]["progressToken"], "p1");
    assert_eq!(msgs[1]["id"], 1);
    assert_eq!(msgs[1]["result"]["content"][0]["text"], "done");
}

#[tokio::test]
async fn a_modern_progress_notification_streams() {
    let h = harness();
    let meta = r#""_meta":{"progressToken":"t","io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#;
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{{"name":"progress","arguments":{{}},{meta}}}}}"#
    );
    let r = h
        .send(
            "POST",
            None,
            &[
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/call"),
                ("mcp-name", "progress"),
            ],
            &body,
        )
        .await;
    assert!(r.is_sse(), "{}", r.content_type);
    let text = r.text().await;
    assert!(
        !text.contains("id: "),
        "2026 streams have no event ids: {text}"
    );
    let msgs = sse_messages(&text);
    assert_eq!(msgs[0]["params"]["progressToken"], "t");
    assert_eq!(msgs[1]["id"], 3);
    assert_eq!(msgs[1]["result"]["resultType"], "complete");
}

#[tokio::test]
async fn a_slow_callback_gets_its_stream_before_it_answers() {
    let h = harness();
    let sid = h.initialize("2025-11-25", "{}").await;
    let started = std::time::Instant::now();
    let mut r = h.post(Some(&sid), &Harness::legacy_call(1, "slow")).await;
    // The response head comes at the switch delay, well before the 300 ms answer.
    assert!(started.elapsed() < std::time::Duration::from_millis(280));
    assert!(r.is_sse());
    let prime = r.next_frame().await.unwrap();
    assert!(prime.contains("retry: "), "{prime}");
    let rest = r.text().await;
    assert_eq!(
        sse_messages(&rest)[0]["result"]["content"][0]["text"],
        "slow"
    );

    let r = h.modern_call(2, "slow", "").await;
    assert!(r.is_sse());
    let msgs = sse_messages(&r.text().await);
    assert_eq!(msgs[0]["result"]["content"][0]["text"], "slow");
}

#[tokio::test]
async fn json_response_mode_never_streams() {
    let h = harness_with(ServerConfig {
        json_response: true,
        ..config()
    });
    let sid = h.initialize("2025-11-25", "{}").await;
    let r = h
        .post(Some(&sid), &Harness::legacy_call(1, "progress"))
        .await;
    assert!(r.content_type.starts_with("application/json"));
    assert_eq!(r.json().await["result"]["content"][0]["text"], "done");
    let r = h.modern_call(2, "slow", "").await;
    assert!(r.content_type.starts_with("application/json"));
    assert_eq!(r.json().await["result"]["content"][0]["text"], "slow");
}

#[tokio::test]
async fn a_callback_error_keeps_its_code() {
    let h = harness();
    let sid = h.initialize("2025-11-25", "{}").await;
    let v = h
        .post(Some(&sid), &Harness::legacy_call(1, "fail"))
        .await
        .json()
        .await;
    // tools/call failures are tool results with isError.
    assert_eq!(v["result"]["isError"], true);
    assert_eq!(v["result"]["content"][0]["text"], "boom");
}

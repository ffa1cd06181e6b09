//! A callback that needs input returns an `InputRequiredResult`. A 2026-07-28 client gets it
//! (state sealed) and retries with the answers; for a 2025 session the server asks the client
//! itself on the request's stream and runs the callback again: one callback serves both.

#![allow(clippy::unwrap_used)]

mod common;

use common::{harness, sse_messages, Harness};
use serde_json::{json, Value};

fn modern_body(id: u64, caps: &str, extra: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"ask","arguments":{{}}{extra},"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{caps}}}}}}}"#
    )
}

const HEADERS: [(&str, &str); 3] = [
    ("mcp-protocol-version", "2026-07-28"),
    ("mcp-method", "tools/call"),
    ("mcp-name", "ask"),
];

#[tokio::test]
async fn a_2026_client_receives_the_input_request_and_retries() {
    let h = harness();
    let r = h
        .send("POST", None, &HEADERS, &modern_body(1, "{}", ""))
        .await;
    assert_eq!(r.status, 400, "elicitation was not declared");
    let v = r.json().await;
    assert_eq!(v["error"]["code"], -32021);
    assert_eq!(
        v["error"]["data"]["requiredCapabilities"],
        json!({ "elicitation": {} })
    );

    let caps = r#"{"elicitation":{}}"#;
    let v = h
        .send("POST", None, &HEADERS, &modern_body(2, caps, ""))
        .await
        .json()
        .await;
    let result = &v["result"];
    assert_eq!(result["resultType"], "input_required");
    assert_eq!(
        result["inputRequests"]["who"]["method"],
        "elicitation/create"
    );
    let sealed = result["requestState"].as_str().unwrap();
    assert_ne!(sealed, "round-1", "the state leaves sealed");

    let extra = format!(
        r#","inputResponses":{{"who":{{"action":"accept","content":{{"name":"Ada"}}}}}},"requestState":{}"#,
        Value::String(sealed.to_owned())
    );
    let v = h
        .send("POST", None, &HEADERS, &modern_body(3, caps, &extra))
        .await
        .json()
        .await;
    assert_eq!(
        v["result"]["content"][0]["text"],
        "got \"Ada\" state \"round-1\""
    );
    let ctx = h.host.contexts.lock().unwrap().last().cloned().unwrap();
    assert_eq!(ctx["era"], "modern");
    assert_eq!(ctx["requestState"], "round-1");

    // A tampered state never reaches the callback.
    let extra = r#","inputResponses":{},"requestState":"forged""#;
    let v = h
        .send("POST", None, &HEADERS, &modern_body(4, caps, extra))
        .await
        .json()
        .await;
    assert_eq!(v["error"]["code"], -32602);
}

#[tokio::test]
async fn a_2025_session_is_asked_by_the_server_itself() {
    let h = harness();
    let sid = h.initialize("2025-11-25", r#"{"elicitation":{}}"#).await;
    let mut r = h.post(Some(&sid), &Harness::legacy_call(1, "ask")).await;
    assert!(r.is_sse(), "the input request needs a stream");
    let mut seen = String::new();
    let request = loop {
        seen.push_str(&r.next_frame().await.unwrap());
        if let Some(m) = sse_messages(&seen)
            .into_iter()
            .find(|m| m["method"] == "elicitation/create")
        {
            break m;
        }
    };
    assert_eq!(request["params"]["message"], "name?");
    let answer = json!({
        "jsonrpc": "2.0",
        "id": request["id"],
        "result": { "action": "accept", "content": { "name": "Bo" } },
    });
    let ack = h.post(Some(&sid), &answer.to_string()).await;
    assert_eq!(ack.status, 202);
    let rest = r.text().await;
    let done = sse_messages(&rest);
    assert_eq!(done[0]["id"], 1);
    assert_eq!(
        done[0]["result"]["content"][0]["text"],
        "got \"Bo\" state \"round-1\""
    );
    let ctx = h.host.contexts.lock().unwrap().last().cloned().unwrap();
    assert_eq!(ctx["era"], "legacy");
    assert_eq!(ctx["inputResponses"]["who"]["action"], "accept");
}

#[tokio::test]
async fn a_2025_session_without_the_capability_gets_a_tool_error() {
    let h = harness();
    let sid = h.initialize("2025-11-25", "{}").await;
    let v = h
        .post(Some(&sid), &Harness::legacy_call(1, "ask"))
        .await
        .json()
        .await;
    assert_eq!(v["result"]["isError"], true);
    let text = v["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("did not declare"), "{text}");
}

#[tokio::test]
async fn a_client_error_answer_reaches_the_request_as_a_typed_error() {
    let h = harness();
    let sid = h.initialize("2025-11-25", r#"{"sampling":{}}"#).await;
    // A call in flight to carry ctx.request.
    let mut r = h.post(Some(&sid), &Harness::legacy_call(1, "hang")).await;
    assert!(r.is_sse());
    let _prime = r.next_frame().await;
    // The first call of this core.
    assert_eq!(h.core.calls.len(), 1);
    let call_id = 1;
    let core = h.core.clone();
    let pending = tokio::spawn(async move {
        core.client_request(call_id, "sampling/createMessage", Some("{}".into()))
            .await
    });
    let frame = r.next_frame().await.unwrap();
    let req = sse_messages(&frame).into_iter().next().unwrap();
    assert_eq!(req["method"], "sampling/createMessage");
    let answer = json!({ "jsonrpc": "2.0", "id": req["id"], "error": { "code": -1, "message": "User rejected", "data": { "why": "no" } } });
    assert_eq!(h.post(Some(&sid), &answer.to_string()).await.status, 202);
    let err = pending.await.unwrap().unwrap_err();
    assert_eq!(err.code(), -1);
    assert_eq!(err.to_string(), "User rejected");
    assert_eq!(err.data(), Some(&json!({ "why": "no" })));
    let err = h
        .core
        .client_request(9999, "roots/list", None)
        .await
        .unwrap_err();
    assert_eq!(err, mcp_swagger_native::protocol::CallError::Finished);
}

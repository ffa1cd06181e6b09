//! Ending things: a call whose 2026 client goes away is cancelled (resolved as cancelled, then
//! aborted); `notifications/cancelled` does the same for a 2025 request; shutting the core
//! down ends every session, stream and call and leaves nothing behind.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{harness, sse_messages, Harness, META};

#[tokio::test]
async fn a_2026_client_that_goes_away_cancels_its_call() {
    let h = harness();
    let r = h.modern_call(1, "hang", "").await;
    assert!(r.is_sse(), "slow: a stream after the switch delay");
    assert_eq!(h.core.calls.len(), 1);
    drop(r.body);
    let aborts = h.host.aborts.lock().unwrap().clone();
    assert_eq!(aborts, [(1, "the client closed the stream".to_owned())]);
    assert!(h.core.calls.is_empty());
}

#[tokio::test]
async fn notifications_cancelled_ends_a_2025_call_without_an_answer() {
    let h = harness();
    let sid = h.initialize("2025-06-18", "{}").await;
    let r = h.post(Some(&sid), &Harness::legacy_call(5, "hang")).await;
    assert!(r.is_sse());
    let cancel = r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5,"reason":"user"}}"#;
    assert_eq!(h.post(Some(&sid), cancel).await.status, 202);
    let text = r.text().await;
    assert!(
        sse_messages(&text).is_empty(),
        "no answer after a cancel: {text}"
    );
    assert_eq!(*h.host.aborts.lock().unwrap(), [(1, "user".to_owned())]);
}

#[tokio::test]
async fn shutting_down_ends_sessions_streams_and_calls() {
    let h = harness();
    let sid = h.initialize("2025-11-25", "{}").await;
    let legacy = h.post(Some(&sid), &Harness::legacy_call(1, "hang")).await;
    let modern = h.modern_call(2, "hang", "").await;
    let listen_body = format!(
        r#"{{"jsonrpc":"2.0","id":3,"method":"subscriptions/listen","params":{{"notifications":{{"toolsListChanged":true}},{META}}}}}"#
    );
    let mut listen = h
        .send(
            "POST",
            None,
            &[
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "subscriptions/listen"),
            ],
            &listen_body,
        )
        .await;
    assert!(listen.is_sse());
    let ack = listen.next_frame().await.unwrap();
    assert!(ack.contains("notifications/subscriptions/acknowledged"));
    assert_eq!(h.core.calls.len(), 2);

    h.core.shut_down();

    let final_message = listen.text().await;
    assert_eq!(sse_messages(&final_message)[0]["id"], 3);
    assert!(sse_messages(&legacy.text().await).is_empty());
    drop(modern);
    assert!(h.core.calls.is_empty());
    assert!(h.core.sessions.is_empty());
    assert!(h.core.listeners.is_empty());
    assert_eq!(h.core.tracker.active(), 0);
    let mut reasons: Vec<String> = h
        .host
        .aborts
        .lock()
        .unwrap()
        .iter()
        .map(|a| a.1.clone())
        .collect();
    reasons.sort();
    assert!(
        reasons.contains(&"session closed".to_owned()),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"server closing".to_owned()),
        "{reasons:?}"
    );
    let events = h.events.0.lock().unwrap().clone();
    assert_eq!(
        events.iter().filter(|e| *e == "close shutdown").count(),
        2,
        "{events:?}"
    );
    // Refused from now on.
    let r = h
        .post(Some(&sid), r#"{"jsonrpc":"2.0","id":9,"method":"ping"}"#)
        .await;
    assert_eq!(r.status, 503);
    tokio::time::sleep(Duration::from_millis(10)).await;
}

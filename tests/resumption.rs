//! 2025 resumability: a request stream that lost its response (the client went away, or the
//! callback closed it for polling) is resumed with GET + `Last-Event-ID`; nothing is lost and
//! the call is not cancelled.

#![allow(clippy::unwrap_used)]

mod common;

use common::{event_id, harness, sse_messages, Harness};

#[tokio::test]
async fn a_dropped_response_is_resumed_without_loss() {
    let h = harness();
    let sid = h.initialize("2025-11-25", "{}").await;
    let mut r = h.post(Some(&sid), &Harness::legacy_call(1, "slow")).await;
    assert!(r.is_sse());
    let prime = r.next_frame().await.unwrap();
    let last = event_id(&prime).unwrap();
    drop(r); // the client went away before the answer
    let mut resumed = h
        .send("GET", Some(&sid), &[("last-event-id", &last)], "")
        .await;
    assert_eq!(resumed.status, 200);
    assert!(resumed.is_sse());
    let mut text = String::new();
    while let Some(f) = resumed.next_frame().await {
        text.push_str(&f);
    }
    let msgs = sse_messages(&text);
    assert_eq!(msgs.len(), 1, "{text}");
    assert_eq!(msgs[0]["id"], 1);
    assert_eq!(msgs[0]["result"]["content"][0]["text"], "slow");
    assert!(
        h.host.aborts.lock().unwrap().is_empty(),
        "a 2025 disconnect is no cancel"
    );
}

#[tokio::test]
async fn a_stream_closed_for_polling_is_resumed_later() {
    let h = harness();
    let sid = h.initialize("2025-11-25", "{}").await;
    let r = h.post(Some(&sid), &Harness::legacy_call(1, "poll")).await;
    assert!(r.is_sse());
    let text = r.text().await; // ends at once: closeStream()
    assert!(sse_messages(&text).is_empty(), "{text}");
    let last = event_id(&text).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let text = h
        .send("GET", Some(&sid), &[("last-event-id", &last)], "")
        .await
        .text()
        .await;
    let msgs = sse_messages(&text);
    assert_eq!(msgs[0]["result"]["content"][0]["text"], "polled");
}

#[tokio::test]
async fn bad_event_ids_and_busy_streams_are_refused() {
    let h = harness();
    let sid = h.initialize("2025-11-25", "{}").await;
    let r = h
        .send("GET", Some(&sid), &[("last-event-id", "99-1")], "")
        .await;
    assert_eq!(r.status, 400);
    let first = h.send("GET", Some(&sid), &[], "").await;
    assert_eq!(first.status, 200);
    let second = h.send("GET", Some(&sid), &[], "").await;
    assert_eq!(second.status, 409);
    drop(first);
    let again = h.send("GET", Some(&sid), &[], "").await;
    assert_eq!(again.status, 200);
}

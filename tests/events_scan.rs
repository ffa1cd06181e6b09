//! The hub's hand-written event reader against serde: on a corpus of event JSON (what writers
//! produce, escapes, unicode, reordered and unknown fields, upstream's `clientInfo.sessionId`,
//! malformed text) and on every one-byte deletion and a set of one-byte substitutions of it,
//! `parse_event_ref_fast` gives exactly what `parse_event_ref` gives, event or error.
#![allow(clippy::unwrap_used)]

use mcp_swagger_native::events::{
    format_json, parse_event_ref, parse_event_ref_fast, scans_fast, ClientEra, ClientInfo,
    ConnectionCounts, ConnectionEvent, DisconnectReason, Timestamp,
};
use proptest::prelude::*;

const TS: &str = "2026-11-24T10:00:00.123Z";

fn ts() -> Timestamp {
    Timestamp::parse(TS).unwrap()
}

/// What this crate's writer produces: the common shape the reader is for.
fn written() -> Vec<String> {
    let client = ClientInfo::new("sess-1", ts())
        .with_remote_address("127.0.0.1")
        .with_user_agent("node")
        .with_era(ClientEra::Legacy)
        .with_client("cli", "1.0.0")
        .with_principal("alice", Some("app-1".into()));
    let counts = ConnectionCounts::new(7, 3).with_max(1000);
    [
        ConnectionEvent::connected(client.clone(), counts).with_server_id("srv"),
        ConnectionEvent::disconnected(client.clone(), 1234, DisconnectReason::Deleted, counts),
        ConnectionEvent::stats_update(ConnectionCounts::new(0, 0)),
        ConnectionEvent::connection_rejected("max_connections", counts).with_server_id("s"),
        ConnectionEvent::connection_rejected("max_connections", counts).with_client(client),
    ]
    .into_iter()
    .map(|e| format_json(&e.at(ts())))
    .collect()
}

fn by_hand() -> Vec<String> {
    let head = r#""type":"MCP_CONNECTION_EVENT""#;
    let stats = r#""connectionStats":{"totalConnections":5,"activeConnections":2}"#;
    let when = format!(r#""timestamp":"{TS}""#);
    let client = |inner: &str| format!(r#""clientInfo":{{{inner},"connectedAt":"{TS}"}}"#);
    let ev = |parts: &[&str]| format!("{{{}}}", parts.join(","));
    let c_id = client(r#""id":"a""#);
    let c_upstream = client(r#""sessionId":"up-1","remoteAddress":"::1""#);
    let c_both = client(r#""id":"a","sessionId":"b""#);
    let c_unicode = client(r#""id":"工具✓😀","userAgent":"é""#);
    let c_escaped = client(r#""id":"a\"b\\c\n\u00e9""#);
    let c_unknown = client(r#""id":"a","extra":[1,{"x":null}]"#);
    let c_era_bad = client(r#""id":"a","era":"future""#);
    let c_dup = client(r#""id":"a","id":"b""#);
    let connected = r#""eventType":"connected""#;
    let disconnected = r#""eventType":"disconnected""#;
    let mut v = vec![
        ev(&[head, connected, &c_id, stats, &when]),
        ev(&[&when, stats, &c_id, connected, head]), // reordered
        ev(&[head, connected, &c_upstream, stats, &when]),
        ev(&[head, connected, &c_both, stats, &when]),
        ev(&[head, connected, &c_unicode, stats, &when]),
        ev(&[head, connected, &c_escaped, stats, &when]),
        ev(&[head, connected, &c_unknown, stats, &when]),
        ev(&[head, connected, &c_era_bad, stats, &when]),
        ev(&[head, connected, &c_dup, stats, &when]),
        ev(&[head, connected, stats, &when]), // no client
        ev(&[
            head,
            connected,
            &c_id,
            stats,
            &when,
            r#""future":{"a":[true,false,null,1.5e3]}"#,
        ]),
        ev(&[
            head,
            disconnected,
            &c_id,
            stats,
            &when,
            r#""durationMs":12"#,
            r#""reason":"idle_timeout""#,
        ]),
        ev(&[
            head,
            disconnected,
            &c_id,
            stats,
            &when,
            r#""durationMs":12.6"#,
        ]),
        ev(&[
            head,
            disconnected,
            &c_id,
            stats,
            &when,
            r#""durationMs":-1"#,
        ]),
        ev(&[
            head,
            disconnected,
            &c_id,
            stats,
            &when,
            r#""durationMs":1e3"#,
        ]),
        ev(&[
            head,
            disconnected,
            &c_id,
            stats,
            &when,
            r#""durationMs":null"#,
        ]),
        ev(&[
            head,
            disconnected,
            &c_id,
            stats,
            &when,
            r#""durationMs":"5""#,
        ]),
        ev(&[
            head,
            disconnected,
            &c_id,
            stats,
            &when,
            r#""durationMs":99999999999999999999"#,
        ]),
        ev(&[
            head,
            disconnected,
            &c_id,
            stats,
            &when,
            r#""durationMs":18446744073709551615"#,
        ]),
        ev(&[
            head,
            disconnected,
            &c_id,
            stats,
            &when,
            r#""durationMs":007"#,
        ]),
        ev(&[head, r#""eventType":"stats_update""#, stats, &when]),
        ev(&[
            head,
            r#""eventType":"stats_update""#,
            r#""connectionStats":{"totalConnections":1.0,"activeConnections":0,"maxConnections":null}"#,
            &when,
        ]),
        ev(&[
            head,
            r#""eventType":"stats_update""#,
            r#""connectionStats":{"activeConnections":0}"#,
            &when,
        ]),
        ev(&[
            head,
            r#""eventType":"stats_update""#,
            r#""connectionStats":{"totalConnections":1,"activeConnections":1,"totalConnections":2}"#,
            &when,
        ]),
        ev(&[
            head,
            r#""eventType":"stats_update""#,
            stats,
            r#""timestamp":"yesterday""#,
        ]),
        ev(&[head, r#""eventType":"stats_update""#, stats]),
        ev(&[
            head,
            r#""eventType":"connection_rejected""#,
            stats,
            &when,
            r#""reason":"max_connections""#,
        ]),
        ev(&[head, r#""eventType":"connection_rejected""#, stats, &when]),
        ev(&[head, r#""eventType":"teleported""#, stats, &when]),
        ev(&[r#""type":"OTHER""#, connected, &c_id, stats, &when]),
        ev(&[head, head, connected, &c_id, stats, &when]),
        ev(&[r#""type":null"#, connected, &c_id, stats, &when]),
        format!(" {{ {head} , {connected} ,\t{c_id} ,\r\n{stats}, {when} }} "),
        format!("{{{head},{connected},{c_id},{stats},{when}}} trailing"),
        format!("{{{head},{connected},{c_id},{stats},{when},}}"),
        format!("{{{head} {connected}}}"),
        "{\"type\":\"MCP_CONNECTION_EVENT\",\"eventType\":\"con\u{1}nected\"}".to_owned(),
        "{}".to_owned(),
        "{".to_owned(),
        "[]".to_owned(),
        "".to_owned(),
        "null".to_owned(),
        "{\"type\":\"MCP_CONNECTION_EVENT\"".to_owned(),
    ];
    v.extend(written());
    v
}

fn same(json: &str) {
    assert_eq!(
        parse_event_ref_fast(json),
        parse_event_ref(json),
        "reader and serde disagree on {json:?}"
    );
}

#[test]
fn the_writers_shape_is_read_by_hand() {
    // Not vacuous: what writers produce, upstream's alias and unicode take the fast path.
    for json in written() {
        assert!(scans_fast(&json), "{json}");
        assert!(parse_event_ref_fast(&json).is_ok());
    }
    let corpus = by_hand();
    assert!(scans_fast(&corpus[2]) && scans_fast(&corpus[4]) && scans_fast(&corpus[32]));
    assert!(!scans_fast(&corpus[5]), "escapes go to serde");
}

#[test]
fn the_corpus_reads_the_same() {
    for json in by_hand() {
        same(&json);
    }
}

#[test]
fn every_one_byte_deletion_and_substitution_reads_the_same() {
    let subs = [
        b'"', b'\\', b',', b':', b'{', b'}', b'0', b'9', b'-', b'.', b' ', b'x', 0x01,
    ];
    for json in by_hand() {
        let b = json.as_bytes();
        for i in 0..b.len() {
            let mut cut = b.to_vec();
            cut.remove(i);
            if let Ok(s) = std::str::from_utf8(&cut) {
                same(s);
            }
            for &c in &subs {
                let mut sub = b.to_vec();
                sub[i] = c;
                if let Ok(s) = std::str::from_utf8(&sub) {
                    same(s);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn arbitrary_splices_read_the_same(parts in prop::collection::vec(0usize..6, 1..12), pick in 0usize..1000) {
        let corpus = by_hand();
        let base = &corpus[pick % corpus.len()];
        // Splice pieces of tokens into the base text at char boundaries.
        let tokens = ["\"", "\\u0041", ",\"x\":1", "}", "{", "0"];
        let mut s = base.clone();
        for (k, p) in parts.iter().enumerate() {
            let at = (k * 37 + pick) % (s.len() + 1);
            if s.is_char_boundary(at) {
                s.insert_str(at, tokens[*p]);
            }
        }
        prop_assert_eq!(parse_event_ref_fast(&s), parse_event_ref(&s));
    }
}

/// The reader's speed against serde's, for the record: `cargo test --release
/// --no-default-features --test events_scan -- --ignored --nocapture`.
#[test]
#[ignore]
fn reading_cost() {
    let corpus = written();
    let n = 200_000usize;
    let mut ok = 0usize;
    let t = std::time::Instant::now();
    for i in 0..n {
        ok += usize::from(parse_event_ref(&corpus[i % corpus.len()]).is_ok());
    }
    let serde_ns = t.elapsed().as_nanos() as f64 / n as f64;
    let t = std::time::Instant::now();
    for i in 0..n {
        ok += usize::from(parse_event_ref_fast(&corpus[i % corpus.len()]).is_ok());
    }
    let fast_ns = t.elapsed().as_nanos() as f64 / n as f64;
    assert_eq!(ok, 2 * n);
    println!("per event: serde {serde_ns:.0} ns, hand-written reader {fast_ns:.0} ns");
}

//! Property tests over what a hostile client controls: `Last-Event-ID`, the event store's
//! bounds, the 2026 mirrored headers, the Origin header and the JSON-RPC envelope. A bounded run
//! is part of `cargo test`; `npm run fuzz` scales it with `HARDENING_FUZZ_CASES` (and the
//! stdout parser's fuzz with `EVENTS_FUZZ_CASES`).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_swagger_native::protocol::headers::{self, decode_header_value, Mirrored};
use mcp_swagger_native::protocol::held;
use mcp_swagger_native::protocol::jsonrpc::{parse_body, Body, Message};
use mcp_swagger_native::session::{EventId, EventStore, EventStoreLimits, InMemoryEventStore};
use mcp_swagger_native::transport::http::parse_origin;
use proptest::prelude::*;
use serde_json::{json, Value};

fn cases() -> u32 {
    std::env::var("HARDENING_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256)
}

/// Strings built from the tokens that trip parsers up, plus arbitrary characters.
fn nasty() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        3 => "[0-9]{0,22}",
        2 => Just("-".to_owned()),
        1 => Just("+".to_owned()),
        1 => Just(" ".to_owned()),
        1 => Just("18446744073709551615".to_owned()),
        1 => Just("18446744073709551616".to_owned()),
        1 => Just("\u{0}".to_owned()),
        1 => Just("٣".to_owned()),
        1 => any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(token, 0..8).prop_map(|v| v.concat())
}

/// JSON-ish bytes: fragments of valid JSON-RPC mixed with junk.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        2 => prop::collection::vec(any::<u8>(), 0..8),
        1 => Just(br#"{"jsonrpc":"2.0""#.to_vec()),
        1 => Just(br#","id":"#.to_vec()),
        1 => Just(br#","method":"tools/call""#.to_vec()),
        1 => Just(br#","params":{"arguments":{"a":1e400}}"#.to_vec()),
        1 => Just(br#""\ud800""#.to_vec()),
        1 => Just(b"[".to_vec()),
        1 => Just(b"]".to_vec()),
        1 => Just(b"{".to_vec()),
        1 => Just(b"}".to_vec()),
        1 => Just(b"null".to_vec()),
        1 => Just(b"-0".to_vec()),
    ];
    prop::collection::vec(token, 0..24).prop_map(|v| v.concat())
}

fn id_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z0-9]{0,8}".prop_map(|s| json!(s)),
        Just(Value::Null),
        Just(json!(true)),
        Just(json!({})),
        Just(json!([])),
        Just(json!(1.5)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Every id we write parses back to itself, except the one whose successor cannot exist.
    #[test]
    fn event_ids_round_trip(stream in any::<u64>(), seq in any::<u64>()) {
        let id = EventId { stream, seq };
        let parsed = EventId::parse(&id.to_string());
        if seq == u64::MAX {
            prop_assert_eq!(parsed, None);
        } else {
            prop_assert_eq!(parsed, Some(id));
        }
    }

    /// Whatever a client sends, parsing never panics, and anything accepted is exactly the
    /// canonical spelling of the id it names (so no two spellings name one event).
    #[test]
    fn event_id_parsing_is_strict(s in nasty()) {
        if let Some(id) = EventId::parse(&s) {
            prop_assert_eq!(id.to_string(), s.trim_matches([' ', '\t']));
            prop_assert!(id.seq < u64::MAX);
        }
    }

    /// Under any sequence of pushes and expiries the store stays within its bounds, and a
    /// resumption is either complete (every event after the id that was ever pushed is
    /// replayed, in order) or refused: never partial.
    #[test]
    fn the_event_store_is_bounded_and_never_replays_in_part(
        max_events in 1_usize..20,
        max_bytes in 1_usize..200,
        pushes in prop::collection::vec((0_u64..3, 0_usize..60, 0_u64..3), 0..120),
        resume_stream in 0_u64..3,
        resume_seq in 0_u64..50,
    ) {
        let limits = EventStoreLimits { max_events, max_bytes, ttl: Duration::from_millis(50) };
        let mut store = InMemoryEventStore::new(limits);
        let t0 = Instant::now();
        let mut next = [1_u64; 3];
        let mut sent: Vec<(EventId, usize)> = Vec::new();
        let mut clock = t0;
        for (stream, len, wait) in pushes {
            clock += Duration::from_millis(wait * 10);
            let id = EventId { stream, seq: next[stream as usize] };
            next[stream as usize] += 1;
            store.push(id, Arc::from("x".repeat(len)), clock);
            sent.push((id, len));
            prop_assert!(store.len() <= max_events);
            prop_assert!(store.bytes() <= max_bytes);
        }
        let after = EventId { stream: resume_stream, seq: resume_seq };
        let expected: Vec<EventId> = sent
            .iter()
            .filter(|(id, _)| id.stream == after.stream && id.seq > after.seq)
            .map(|(id, _)| *id)
            .collect();
        match store.replay_complete(after) {
            Ok(events) => {
                let got: Vec<EventId> = events.iter().map(|(id, _)| *id).collect();
                prop_assert_eq!(got, expected);
            }
            Err(p) => {
                prop_assert_eq!(p.after, after);
                prop_assert!(!expected.is_empty(), "refused although nothing was missing");
            }
        }
    }

    /// Header values decode without panicking; Base64 round-trips exactly.
    #[test]
    fn header_values_decode_safely(raw in ".{0,64}", text in ".{0,32}") {
        let _ = decode_header_value(&raw);
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
        prop_assert_eq!(decode_header_value(&format!("=?base64?{b64}?=")).unwrap(), text);
    }

    /// The mirrored-header check never panics, and passes only when the Mcp-Param header
    /// equals the argument it mirrors (or both are absent) on readable arguments.
    #[test]
    fn param_header_check_passes_only_on_a_match(
        arg in prop::option::of(prop_oneof![
            "[a-zA-Z0-9 ]{0,12}".prop_map(|s| json!(s)),
            any::<i32>().prop_map(|n| json!(n)),
            any::<bool>().prop_map(|b| json!(b)),
        ]),
        header in prop::option::of("[a-zA-Z0-9 ]{0,12}"),
        junk in prop::option::of(prop_oneof![
            Just(r#"{"region":1e400}"#.to_owned()),
            Just(r#"{"region":"\udc00"}"#.to_owned()),
            Just(format!("{{\"x\":{}0{}}}", "[".repeat(129), "]".repeat(129))),
        ]),
    ) {
        let tool = json!({"name":"t","inputSchema":{"type":"object","properties":{
            "region":{"type":"string","x-mcp-header":"Region"}}}});
        let ph = headers::param_headers(&tool).unwrap();
        let args_text = match (&junk, &arg) {
            (Some(j), _) => j.clone(),
            (None, Some(a)) => json!({ "region": a }).to_string(),
            (None, None) => "{}".to_owned(),
        };
        let raw = serde_json::value::RawValue::from_string(args_text).unwrap();
        let mut pairs = vec![("mcp-method", "tools/call".to_owned()), ("mcp-name", "t".to_owned())];
        if let Some(h) = &header {
            pairs.push(("mcp-param-region", h.clone()));
        }
        let get = |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        let body = Mirrored { name: Some("t"), uri: None, arguments: Some(&raw) };
        let outcome = headers::check(get, "tools/call", body, Some(&ph));
        if junk.is_some() {
            prop_assert!(outcome.is_err(), "unreadable arguments must never pass");
            return Ok(());
        }
        let arg_text = arg.as_ref().map(|a| match a {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let should_pass = match (&arg_text, &header) {
            (None, None) => true,
            (Some(a), Some(h)) => a == h.trim(),
            _ => false,
        };
        prop_assert_eq!(outcome.is_ok(), should_pass, "arg {:?} header {:?}", arg_text, header);
    }

    /// Origins never panic the parser; an accepted origin is normalised (lowercase, a port).
    #[test]
    fn origin_parsing_is_total(s in ".{0,48}", host in "[a-z]{1,10}", port in any::<u16>()) {
        if let Some((scheme, h, _)) = parse_origin(&s) {
            prop_assert_eq!(scheme.to_ascii_lowercase(), scheme);
            prop_assert!(!h.is_empty() && !h.contains('/'));
        }
        let o = format!("http://{host}:{port}");
        prop_assert_eq!(parse_origin(&o), Some(("http".to_owned(), host, port)));
    }

    /// Arbitrary bytes never panic the envelope parser.
    #[test]
    fn envelope_parsing_never_panics(bytes in jsonish()) {
        let _ = parse_body(&bytes);
    }

    /// A generated envelope parses into the kind it is, and an id that is not a string or a
    /// number is always refused.
    #[test]
    fn envelopes_classify_by_their_members(
        id in prop::option::of(id_value()),
        method in prop::option::of("[a-z/]{1,12}"),
        params in prop::option::of(prop_oneof![Just(json!({})), Just(json!([])), Just(json!("s"))]),
        version in prop_oneof![Just(json!("2.0")), Just(json!("1.0")), Just(Value::Null)],
    ) {
        let mut m = serde_json::Map::new();
        if !version.is_null() {
            m.insert("jsonrpc".into(), version.clone());
        }
        if let Some(id) = &id {
            m.insert("id".into(), id.clone());
        }
        if let Some(method) = &method {
            m.insert("method".into(), json!(method));
        }
        if let Some(p) = &params {
            m.insert("params".into(), p.clone());
        }
        let bytes = Value::Object(m).to_string().into_bytes();
        let parsed = parse_body(&bytes);
        let id_ok = id.as_ref().is_none_or(|v| v.is_string() || v.is_i64() || v.is_u64() || v.is_f64());
        let valid = version == json!("2.0")
            && id_ok
            && !matches!(id, Some(Value::Null))
            && params.as_ref().is_none_or(Value::is_object)
            && method.is_some();
        prop_assert_eq!(parsed.is_ok(), valid, "{}", String::from_utf8_lossy(&bytes));
        if let Ok(Body::Single(msg)) = parsed {
            match msg {
                Message::Request { .. } => prop_assert!(id.is_some()),
                Message::Notification { .. } => prop_assert!(id.is_none()),
                Message::Response { .. } => prop_assert!(false, "no result or error was sent"),
            }
        }
    }

    /// A large answer put back together from its parts (written raw, escaped in place) is,
    /// byte for byte, the JSON serde_json writes for the same strings, whatever they hold.
    #[test]
    fn spliced_parts_are_the_json_of_the_strings(
        parts in prop::collection::vec(any::<String>(), 1..4),
        filler in "[a-z\"\\\\]{0,8}",
    ) {
        let marker = "\\u0000mcp-part-abc:";
        let item = |i: usize| format!("\"{marker}{i}\"");
        let shell = format!(
            "{{\"f\":{},\"items\":[{}]}}",
            json!(filler),
            (0..=parts.len()).map(item).collect::<Vec<_>>().join(",")
        );
        let out = held::splice_parts(&shell, marker, &parts);
        // Each part's marker becomes the part's JSON; the index past the last part stays as is.
        let mut expected = shell.clone();
        for (i, p) in parts.iter().enumerate() {
            expected = expected.replacen(&item(i), &serde_json::to_string(p).unwrap(), 1);
        }
        prop_assert_eq!(out, expected);
    }
}

//! The `[MCP_CONNECTION]` line format (docs/monitoring.md, "The [MCP_CONNECTION] line"): what is accepted, what is rejected, and the
//! exact text the writer produces.
#![allow(clippy::unwrap_used)]

use mcp_swagger_native::events::{
    format_line, parse_line, ClientEra, ClientInfo, ConnectionCounts, ConnectionEvent,
    ConnectionEventHub, DisconnectReason, EventKind, EventType, HubOptions, OutputLine, ParseError,
    QuietItem, ServerStats, Timestamp,
};

type Check = fn(&ParseError) -> bool;

const T0: &str = "2026-11-24T00:00:00.000Z";

fn ts() -> Timestamp {
    Timestamp::parse(T0).unwrap()
}

#[test]
fn writes_the_design_example_exactly() {
    let client = ClientInfo::new("sess-1", ts())
        .with_remote_address("127.0.0.1")
        .with_user_agent("node");
    let e = ConnectionEvent::connected(client, ConnectionCounts::new(3, 1).with_max(1000))
        .with_server_id("s1")
        .at(ts());
    assert_eq!(
        format_line(&e),
        concat!(
            "[MCP_CONNECTION] {\"type\":\"MCP_CONNECTION_EVENT\",\"eventType\":\"connected\",\"serverId\":\"s1\",",
            "\"clientInfo\":{\"id\":\"sess-1\",\"remoteAddress\":\"127.0.0.1\",\"userAgent\":\"node\",\"connectedAt\":\"2026-11-24T00:00:00.000Z\"},",
            "\"connectionStats\":{\"totalConnections\":3,\"activeConnections\":1,\"maxConnections\":1000},",
            "\"timestamp\":\"2026-11-24T00:00:00.000Z\"}\n"
        )
    );
    assert_eq!(parse_line(&format_line(&e)).unwrap(), Some(e));
}

#[test]
fn every_kind_round_trips() {
    let c = ClientInfo::new("c", ts())
        .with_era(ClientEra::Modern)
        .with_client("inspector", "1.2.3");
    let counts = ConnectionCounts::new(5, 2);
    for e in [
        ConnectionEvent::connected(c.clone(), counts),
        ConnectionEvent::disconnected(c.clone(), 1234, DisconnectReason::IdleTimeout, counts),
        ConnectionEvent::disconnected(c.clone(), 0, DisconnectReason::Other("x".into()), counts),
        ConnectionEvent::stats_update(counts.with_max(10)),
        ConnectionEvent::connection_rejected("max_connections", counts),
        ConnectionEvent::connection_rejected("max_connections", counts).with_client(c.clone()),
    ] {
        let line = format_line(&e);
        assert_eq!(line.matches('\n').count(), 1);
        assert_eq!(parse_line(&line).unwrap().as_ref(), Some(&e), "{line}");
    }
}

#[test]
fn accepts_the_seed_shape() {
    // What the seed's JS monitor printed: no serverId, no maxConnections, disconnected without
    // durationMs/reason, Dates via JSON.stringify.
    let line = format!(
        "[MCP_CONNECTION] {{\"type\":\"MCP_CONNECTION_EVENT\",\"eventType\":\"disconnected\",\"clientInfo\":{{\"id\":\"conn_1_abc\",\"remoteAddress\":\"::1\",\"connectedAt\":\"{T0}\"}},\"connectionStats\":{{\"totalConnections\":1,\"activeConnections\":1}},\"timestamp\":\"{T0}\"}}"
    );
    let e = parse_line(&line).unwrap().unwrap();
    assert_eq!(e.event_type(), EventType::Disconnected);
    assert_eq!(e.server_id, None);
    assert!(matches!(
        e.kind,
        EventKind::Disconnected {
            duration_ms: None,
            reason: None,
            ..
        }
    ));
    let stats = format!("[MCP_CONNECTION] {{\"type\":\"MCP_CONNECTION_EVENT\",\"eventType\":\"stats_update\",\"connectionStats\":{{\"totalConnections\":0,\"activeConnections\":0}},\"timestamp\":\"{T0}\",\"extra\":[1,2]}}");
    assert!(parse_line(&stats).unwrap().is_some());
}

#[test]
fn non_event_lines_are_logs() {
    for l in [
        "",
        "hello",
        "MCP_CONNECTION {}",
        "log: [MCP_CONNECTION] {}",
        "[MCP_CONNECTIO] x",
    ] {
        assert_eq!(parse_line(l).unwrap(), None, "{l}");
    }
}

#[test]
fn malformed_event_lines_are_typed_errors() {
    let ok = format!("\"connectionStats\":{{\"totalConnections\":1,\"activeConnections\":1}},\"timestamp\":\"{T0}\"");
    let cases: Vec<(String, Check)> = vec![
        ("[MCP_CONNECTION]".into(), |e| matches!(e, ParseError::MissingJson)),
        ("[MCP_CONNECTION] {".into(), |e| matches!(e, ParseError::Json(_))),
        ("[MCP_CONNECTION] [1]".into(), |e| matches!(e, ParseError::Json(_))),
        (format!("[MCP_CONNECTION] {{\"eventType\":\"stats_update\",{ok}}}"), |e| {
            matches!(e, ParseError::MissingField("type"))
        }),
        (format!("[MCP_CONNECTION] {{\"type\":\"X\",\"eventType\":\"stats_update\",{ok}}}"), |e| {
            matches!(e, ParseError::WrongType(_))
        }),
        (format!("[MCP_CONNECTION] {{\"type\":\"MCP_CONNECTION_EVENT\",\"eventType\":\"boom\",{ok}}}"), |e| {
            matches!(e, ParseError::UnknownEventType(_))
        }),
        (format!("[MCP_CONNECTION] {{\"type\":\"MCP_CONNECTION_EVENT\",\"eventType\":\"connected\",{ok}}}"), |e| {
            matches!(e, ParseError::MissingField("clientInfo"))
        }),
        (format!("[MCP_CONNECTION] {{\"type\":\"MCP_CONNECTION_EVENT\",\"eventType\":\"connection_rejected\",{ok}}}"), |e| {
            matches!(e, ParseError::MissingField("reason"))
        }),
        (format!("[MCP_CONNECTION] {{\"type\":\"MCP_CONNECTION_EVENT\",\"eventType\":\"stats_update\",\"connectionStats\":{{\"totalConnections\":\"1\",\"activeConnections\":1}},\"timestamp\":\"{T0}\"}}"), |e| {
            matches!(e, ParseError::InvalidField { field: "connectionStats.totalConnections", .. })
        }),
        (format!("[MCP_CONNECTION] {{\"type\":\"MCP_CONNECTION_EVENT\",\"eventType\":\"stats_update\",\"connectionStats\":{{\"totalConnections\":-1,\"activeConnections\":1}},\"timestamp\":\"{T0}\"}}"), |e| {
            matches!(e, ParseError::InvalidField { .. })
        }),
        ("[MCP_CONNECTION] {\"type\":\"MCP_CONNECTION_EVENT\",\"eventType\":\"stats_update\",\"connectionStats\":{\"totalConnections\":1,\"activeConnections\":1},\"timestamp\":\"yesterday\"}".into(), |e| {
            matches!(e, ParseError::InvalidTimestamp { field: "timestamp", .. })
        }),
        (format!("[MCP_CONNECTION] {{\"type\":\"MCP_CONNECTION_EVENT\",\"eventType\":\"connected\",\"clientInfo\":{{\"id\":\"a\",\"connectedAt\":\"x\"}},{ok}}}"), |e| {
            matches!(e, ParseError::InvalidTimestamp { field: "clientInfo.connectedAt", .. })
        }),
        (format!("[MCP_CONNECTION] {{\"type\":\"MCP_CONNECTION_EVENT\",\"eventType\":\"connected\",\"clientInfo\":{{\"id\":\"a\",\"connectedAt\":\"{T0}\",\"era\":\"future\"}},{ok}}}"), |e| {
            matches!(e, ParseError::InvalidField { field: "clientInfo.era", .. })
        }),
    ];
    for (line, check) in cases {
        let err = parse_line(&line).unwrap_err();
        assert!(check(&err), "{line}: {err:?}");
    }
}

#[test]
fn hub_keeps_lines_around_a_bad_one_and_reports_the_threshold_once() {
    let mut hub = ConnectionEventHub::new(HubOptions {
        error_threshold: 1,
        ..HubOptions::default()
    });
    let good = format_line(&ConnectionEvent::stats_update(ConnectionCounts::new(2, 1)).at(ts()));
    let input =
        format!("a\n[MCP_CONNECTION] {{oops\n{good}b\n[MCP_CONNECTION] nope\n[MCP_CONNECTION] x\n");
    let mut thresholds = vec![];
    let mut kinds = vec![];
    hub.push("s", input.as_bytes(), &mut |item| match item {
        mcp_swagger_native::events::HubItem::ThresholdReached { count } => thresholds.push(count),
        mcp_swagger_native::events::HubItem::Event { .. } => kinds.push('E'),
        mcp_swagger_native::events::HubItem::Log { .. } => kinds.push('L'),
        mcp_swagger_native::events::HubItem::ParseError { .. } => kinds.push('X'),
    });
    assert_eq!(kinds.iter().collect::<String>(), "LXELXX");
    assert_eq!(thresholds, vec![2]);
    assert_eq!(hub.parse_errors("s"), 3);
    let st = hub.stats("s").unwrap();
    assert_eq!(
        (
            st.event_count,
            st.parse_error_count,
            st.active_connections,
            st.total_connections
        ),
        (1, 3, 1, 2)
    );
}

#[test]
fn hub_tracks_clients_and_flushes_the_tail_on_end() {
    let mut hub = ConnectionEventHub::new(HubOptions::default());
    let a = ClientInfo::new("a", ts()).with_remote_address("10.0.0.1");
    let b = ClientInfo::new("b", ts()).with_user_agent("ua");
    let mut text = String::new();
    text +=
        &format_line(&ConnectionEvent::connected(a.clone(), ConnectionCounts::new(1, 1)).at(ts()));
    text +=
        &format_line(&ConnectionEvent::connected(b.clone(), ConnectionCounts::new(2, 2)).at(ts()));
    text += &format_line(
        &ConnectionEvent::disconnected(
            a.clone(),
            5,
            DisconnectReason::Deleted,
            ConnectionCounts::new(2, 1),
        )
        .at(ts()),
    );
    text += "tail without newline";
    let out = hub.push_lines("s", text.as_bytes());
    assert_eq!(out.len(), 3);
    let st = hub.stats("s").unwrap();
    assert_eq!(st.connections, vec![b]);
    assert_eq!((st.active_connections, st.total_connections), (1, 2));
    assert_eq!(st.last_event_type, Some(EventType::Disconnected));
    assert_eq!(st.last_event_at.unwrap().epoch_ms(), ts().epoch_ms());
    assert_eq!(
        hub.end_lines("s"),
        vec![OutputLine::Log {
            line: "tail without newline".into()
        }]
    );
    assert!(hub.stats("s").is_some());
    assert!(hub.stats("other").is_none());
    assert_eq!(hub.all_stats().len(), 1);
    assert!(hub.remove("s"));
    assert!(hub.stats("s").is_none());
}

#[test]
fn over_long_lines_are_cut_reported_once_and_bounded() {
    let mut hub = ConnectionEventHub::new(HubOptions {
        max_line_bytes: 64,
        ..HubOptions::default()
    });
    let mut out = vec![];
    for _ in 0..100 {
        out.extend(hub.push_lines("s", "é".repeat(50).as_bytes()));
        assert!(hub.buffered("s") <= 64);
    }
    out.extend(hub.push_lines("s", b"\nnext\n"));
    assert_eq!(out.len(), 2);
    match &out[0] {
        OutputLine::ParseError { excerpt, error } => {
            assert_eq!(*error, ParseError::LineTooLong { limit: 64 });
            assert_eq!(excerpt.as_str(), "é".repeat(32));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        out[1],
        OutputLine::Log {
            line: "next".into()
        }
    );
    assert_eq!(hub.parse_errors("s"), 1);
}

#[test]
fn invalid_utf8_is_replaced_not_fatal() {
    let mut hub = ConnectionEventHub::new(HubOptions::default());
    let out = hub.push_lines("s", b"a\xffb\n");
    assert_eq!(
        out,
        vec![OutputLine::Log {
            line: "a\u{fffd}b".into()
        }]
    );
}

/// Quiet mode finds exactly what `push` finds: the same stats, the same non-event lines (a
/// malformed line whole), and the events' JSON in order, whatever the cut.
#[test]
fn quiet_mode_matches_push_and_bounds_its_queue() {
    let c = ClientInfo::new("c", ts());
    let mut text = String::from("log é\n");
    for i in 0..20u64 {
        let e = if i % 2 == 0 {
            ConnectionEvent::connected(c.clone(), ConnectionCounts::new(i + 1, 1))
        } else {
            ConnectionEvent::disconnected(
                c.clone(),
                i,
                DisconnectReason::Deleted,
                ConnectionCounts::new(i, 0),
            )
        };
        text.push_str(&format_line(&e.at(ts())));
        if i % 7 == 0 {
            text.push_str("[MCP_CONNECTION] {bad\r\nplain\n");
        }
    }
    text.push_str("tail");
    let opts = HubOptions {
        error_threshold: 1,
        event_capacity: 8,
        ..HubOptions::default()
    };
    let mut loud = ConnectionEventHub::new(opts);
    let mut want_lines = Vec::new();
    let mut want_events = Vec::new();
    let mut collect = |out: Vec<OutputLine>| {
        for o in out {
            match o {
                OutputLine::Event { line, .. } => {
                    want_events.push(line["[MCP_CONNECTION] ".len()..].to_owned())
                }
                OutputLine::Log { line } => want_lines.push(line),
                OutputLine::ParseError { excerpt, .. } => want_lines.push(excerpt),
            }
        }
    };
    collect(loud.push_lines("s", text.as_bytes()));
    collect(loud.end_lines("s"));
    assert_eq!(want_events.len(), 20);
    for size in [1, 3, 64, 1 << 16] {
        let mut quiet = ConnectionEventHub::new(opts);
        let (mut lines, mut events, mut dropped, mut thresholds) = (Vec::new(), Vec::new(), 0, 0);
        for chunk in text.as_bytes().chunks(size) {
            dropped += quiet.push_quiet("s", chunk, &mut |item| match item {
                QuietItem::Line(l) => lines.push(l.to_owned()),
                QuietItem::ThresholdReached { count } => thresholds += count,
            });
            // Drain every other chunk, at most 4 events at a time.
            if lines.len() % 2 == 0 {
                quiet.drain_events(Some("s"), 4, &mut |id, json| {
                    assert_eq!(id, "s");
                    events.push(json.to_owned());
                });
            }
        }
        dropped += quiet.end_quiet("s", &mut |item| {
            if let QuietItem::Line(l) = item {
                lines.push(l.to_owned());
            }
        });
        let st = quiet.stats("s").unwrap();
        let q = st.queue.unwrap();
        assert_eq!(q.dropped, dropped, "size {size}");
        assert_eq!(
            events.len() as u64 + q.pending + q.dropped,
            20,
            "size {size}"
        );
        quiet.drain_events(None, usize::MAX, &mut |_, json| {
            events.push(json.to_owned())
        });
        assert_eq!(lines, want_lines, "size {size}");
        assert_eq!(thresholds, 2, "size {size}");
        if dropped == 0 {
            assert_eq!(events, want_events, "size {size}");
        } else {
            // Only the oldest are dropped: what is left is a subsequence, newest kept.
            assert_eq!(events.last(), want_events.last(), "size {size}");
            assert!(events.len() >= 8);
        }
        assert_eq!(
            ConnectionEventHub::stats(&quiet, "s").map(|s| ServerStatsNoQueue::from(&s)),
            loud.stats("s").map(|s| ServerStatsNoQueue::from(&s))
        );
    }
    // One big chunk and nothing drained: the queue keeps the newest 8 and counts the rest.
    let mut quiet = ConnectionEventHub::new(opts);
    assert_eq!(quiet.push_quiet("s", text.as_bytes(), &mut |_| {}), 12);
    let mut kept = Vec::new();
    assert_eq!(
        quiet.drain_events(None, usize::MAX, &mut |_, j| kept.push(j.to_owned())),
        8
    );
    assert_eq!(kept, want_events[12..]);
    // Capacity 0: stats only.
    let mut stats_only = ConnectionEventHub::new(HubOptions {
        event_capacity: 0,
        ..opts
    });
    assert_eq!(stats_only.push_quiet("s", text.as_bytes(), &mut |_| {}), 0);
    let st = stats_only.stats("s").unwrap();
    assert_eq!((st.event_count, st.queue.unwrap().pending), (20, 0));
}

/// The stats without the quiet-mode queue, to compare a quiet hub with a `push` one.
#[derive(Debug, PartialEq)]
struct ServerStatsNoQueue(ServerStats);

impl From<&ServerStats> for ServerStatsNoQueue {
    fn from(s: &ServerStats) -> Self {
        ServerStatsNoQueue(ServerStats {
            queue: None,
            ..s.clone()
        })
    }
}

//! Lines written by the real upstream `mcp-swagger-server` (github.com/zaizaizhao/mcp-swagger-server)
//! are events here. The fixture is rebuilt by hand from its writer, `MCPConnectionMonitor` in
//! packages/mcp-swagger-server/src/transportUtils/stream.ts at commit 5cb457d (HEAD, 2026-04-19;
//! the shape is unchanged since 70fb058): `console.log("[MCP_CONNECTION] " + JSON.stringify(e))`
//! with keys in its object-literal order, `clientInfo.sessionId` (not `id`), no `serverId`, no
//! `maxConnections`, no `durationMs`/`reason`, `Date`s as ISO strings, and `undefined`
//! remoteAddress/userAgent left out. The Jest test __test__/events-upstream.test.js reads the same file.
#![allow(clippy::unwrap_used)]

use mcp_swagger_native::events::{
    format_line, parse_line, ConnectionEventHub, EventKind, EventType, HubOptions, OutputLine,
};

const UPSTREAM: &str = include_str!("../__test__/fixtures/upstream-mcp-swagger-server.log");
const FIRST: &str = "6f1c2a8e-5d0b-4a52-9d0e-3f5b7c1a2e90";
const SECOND: &str = "0b9e4d71-22c3-4f8a-b6e5-91d0c7a3f412";

#[test]
fn every_upstream_event_line_parses_with_session_id_as_the_client_id() {
    let events: Vec<_> = UPSTREAM
        .lines()
        .filter_map(|l| parse_line(l).unwrap())
        .collect();
    let kinds: Vec<_> = events.iter().map(|e| e.event_type()).collect();
    assert_eq!(
        kinds,
        [
            EventType::Connected,
            EventType::Connected,
            EventType::StatsUpdate,
            EventType::Disconnected
        ]
    );
    let EventKind::Connected { client } = &events[0].kind else {
        panic!("not connected: {:?}", events[0]);
    };
    assert_eq!(client.id, FIRST);
    assert_eq!(client.remote_address.as_deref(), Some("::ffff:127.0.0.1"));
    assert_eq!(client.user_agent.as_deref(), Some("node"));
    assert_eq!(client.connected_at.as_str(), "2026-04-19T14:42:55.120Z");
    let EventKind::Connected { client } = &events[1].kind else {
        panic!("not connected: {:?}", events[1]);
    };
    assert_eq!(
        (client.id.as_str(), client.user_agent.as_deref()),
        (SECOND, None)
    );
    let EventKind::Disconnected {
        client,
        duration_ms,
        reason,
    } = &events[3].kind
    else {
        panic!("not disconnected: {:?}", events[3]);
    };
    assert_eq!(
        (client.id.as_str(), *duration_ms, reason),
        (FIRST, None, &None)
    );
    assert!(events.iter().all(|e| e.server_id.is_none()));
    // Our writer spells it `id`; what it writes reads back as the same event.
    for e in &events {
        let line = format_line(e);
        assert!(!line.contains("sessionId"), "{line}");
        assert_eq!(parse_line(&line).unwrap().as_ref(), Some(e));
    }
}

#[test]
fn the_hub_tracks_upstream_clients_by_session_id() {
    let mut hub = ConnectionEventHub::new(HubOptions::default());
    // Cut mid-line, as a pipe would.
    let (a, b) = UPSTREAM.split_at(UPSTREAM.len() / 2);
    let mut out = hub.push_lines("upstream", a.as_bytes());
    out.extend(hub.push_lines("upstream", b.as_bytes()));
    out.extend(hub.end_lines("upstream"));
    let logs = out
        .iter()
        .filter(|l| matches!(l, OutputLine::Log { .. }))
        .count();
    let errors = out
        .iter()
        .filter(|l| matches!(l, OutputLine::ParseError { .. }))
        .count();
    assert_eq!((out.len(), logs, errors), (5, 1, 0), "{out:?}");
    assert_eq!(hub.parse_errors("upstream"), 0);
    let st = hub.stats("upstream").unwrap();
    let ids: Vec<_> = st.connections.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, [SECOND]);
    assert_eq!((st.active_connections, st.total_connections), (1, 1));
    assert_eq!(st.last_event_type, Some(EventType::Disconnected));
}

#[test]
fn id_wins_over_session_id_and_one_of_them_is_required() {
    let t = "2026-04-19T14:42:55.120Z";
    let both = format!("[MCP_CONNECTION] {{\"type\":\"MCP_CONNECTION_EVENT\",\"eventType\":\"connected\",\"clientInfo\":{{\"id\":\"ours\",\"sessionId\":\"theirs\",\"connectedAt\":\"{t}\"}},\"connectionStats\":{{\"totalConnections\":1,\"activeConnections\":1}},\"timestamp\":\"{t}\"}}");
    let EventKind::Connected { client } = parse_line(&both).unwrap().unwrap().kind else {
        panic!("not connected");
    };
    assert_eq!(client.id, "ours");
    let neither = both.replace("\"id\":\"ours\",\"sessionId\":\"theirs\",", "");
    let err = parse_line(&neither).unwrap_err();
    assert_eq!(err.to_string(), "missing field `clientInfo.id`");
    let not_a_string = both.replace(
        "\"id\":\"ours\",\"sessionId\":\"theirs\"",
        "\"sessionId\":7",
    );
    assert!(parse_line(&not_a_string).is_err());
}

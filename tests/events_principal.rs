//! `clientInfo.subject` / `clientId` (the authorized principal) survive the writer, the parser
//! and the hub's per-server table; lines without them parse as before.

use mcp_swagger_native::events::hub::{ConnectionEventHub, HubOptions};
use mcp_swagger_native::events::{
    format_line, parse_line, ClientInfo, ConnectionCounts, ConnectionEvent, Timestamp,
};

fn connected(id: &str, principal: Option<(&str, Option<&str>)>) -> String {
    let mut c = ClientInfo::new(id, Timestamp::now()).with_remote_address("127.0.0.1");
    if let Some((sub, cid)) = principal {
        c = c.with_principal(sub, cid.map(str::to_owned));
    }
    format_line(&ConnectionEvent::connected(c, ConnectionCounts::new(1, 1)).with_server_id("s1"))
}

#[test]
fn principal_round_trips_through_writer_and_parser() {
    let line = connected("sess-1", Some(("alice", Some("cli-9"))));
    assert!(line.contains("\"subject\":\"alice\"") && line.contains("\"clientId\":\"cli-9\""));
    let ev = parse_line(&line).expect("parses").expect("an event");
    let c = ev.client().expect("client");
    assert_eq!(c.subject.as_deref(), Some("alice"));
    assert_eq!(c.client_id.as_deref(), Some("cli-9"));
    let plain = connected("sess-2", None);
    assert!(!plain.contains("subject"));
    let ev = parse_line(&plain).expect("parses").expect("an event");
    assert_eq!(ev.client().and_then(|c| c.subject.clone()), None);
}

#[test]
fn the_hub_exposes_the_principal_per_connection() {
    let mut hub = ConnectionEventHub::new(HubOptions::default());
    let text = connected("sess-1", Some(("alice", None)))
        + &connected("sess-2", Some(("bob", Some("c2"))));
    hub.push_lines("s1", text.as_bytes());
    let stats = hub.stats("s1").expect("stats");
    let subs: Vec<_> = stats
        .connections
        .iter()
        .map(|c| (c.subject.clone(), c.client_id.clone()))
        .collect();
    assert_eq!(
        subs,
        vec![
            (Some("alice".into()), None),
            (Some("bob".into()), Some("c2".into()))
        ]
    );
}

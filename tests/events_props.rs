//! Property tests: random event streams, cut into chunks at random offsets (inside multi-byte
//! UTF-8, between `\r` and `\n`), come out of the hub exactly as they went in, in order, and
//! interleaved pushes for several servers never mix.
#![allow(clippy::unwrap_used, clippy::large_enum_variant)]

use std::collections::BTreeMap;

use mcp_swagger_native::events::{
    format_line, ClientEra, ClientInfo, ConnectionCounts, ConnectionEvent, ConnectionEventHub,
    DisconnectReason, EventKind, HubOptions, OutputLine, Timestamp,
};
use proptest::prelude::*;

/// What a child writes: an event, a log line, or a malformed event line.
#[derive(Debug, Clone)]
enum Item {
    Event(ConnectionEvent),
    Log(String),
    Bad(String),
}

fn text() -> impl Strategy<Value = String> {
    // ASCII, 2-, 3- and 4-byte UTF-8, quotes and backslashes (JSON escapes), a lone `\r` inside.
    prop::collection::vec(
        prop::sample::select(vec![
            "a",
            "Z",
            "0",
            " ",
            "\"",
            "\\",
            "é",
            "ß",
            "中",
            "文",
            "😀",
            "🚀",
            "\r",
            "{",
            "}",
            "\t",
            "[MCP_CONNECTION]",
        ]),
        0..12,
    )
    .prop_map(|v| v.concat())
}

fn ts() -> impl Strategy<Value = Timestamp> {
    (0_i64..4_102_444_800_000).prop_map(Timestamp::from_epoch_ms)
}

fn client() -> impl Strategy<Value = ClientInfo> {
    (
        prop::sample::select(vec!["c1", "c2", "c3", "c4", "sess-é", "中"]),
        prop::option::of(text()),
        prop::option::of(text()),
        ts(),
        prop::option::of(prop::sample::select(vec![
            ClientEra::Legacy,
            ClientEra::Modern,
        ])),
        prop::option::of((text(), text())),
    )
        .prop_map(|(id, addr, ua, at, era, cv)| {
            let mut c = ClientInfo::new(id, at);
            c.remote_address = addr;
            c.user_agent = ua;
            c.era = era;
            if let Some((n, v)) = cv {
                c = c.with_client(n, v);
            }
            c
        })
}

fn counts() -> impl Strategy<Value = ConnectionCounts> {
    (any::<u64>(), 0_u64..2000, prop::option::of(any::<u64>())).prop_map(|(t, a, m)| {
        ConnectionCounts {
            total_connections: t,
            active_connections: a,
            max_connections: m,
        }
    })
}

fn reason() -> impl Strategy<Value = DisconnectReason> {
    prop_oneof![
        Just(DisconnectReason::Deleted),
        Just(DisconnectReason::IdleTimeout),
        Just(DisconnectReason::Closed),
        Just(DisconnectReason::Shutdown),
        text().prop_map(|s| DisconnectReason::Other(format!("x_{s}"))),
    ]
}

fn event() -> impl Strategy<Value = ConnectionEvent> {
    let kind = prop_oneof![
        client().prop_map(|client| EventKind::Connected { client }),
        (
            client(),
            prop::option::of(any::<u64>()),
            prop::option::of(reason())
        )
            .prop_map(|(client, duration_ms, reason)| EventKind::Disconnected {
                client,
                duration_ms,
                reason
            }),
        Just(EventKind::StatsUpdate),
        (text(), prop::option::of(client()))
            .prop_map(|(reason, client)| EventKind::ConnectionRejected { reason, client }),
    ];
    (prop::option::of(text()), kind, counts(), ts()).prop_map(
        |(server_id, kind, connection_stats, timestamp)| ConnectionEvent {
            server_id,
            kind,
            connection_stats,
            timestamp,
        },
    )
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        4 => event().prop_map(Item::Event),
        3 => text().prop_filter_map("log lines must not look like events or end in \\r", |s| {
            let starts_like_event = s.trim_start_matches([' ', '\t']).starts_with("[MCP_CONNECTION]");
            (!starts_like_event && !s.ends_with('\r')).then_some(s)
        }).prop_map(Item::Log),
        1 => text().prop_map(|s| Item::Bad(format!("[MCP_CONNECTION] {{\"type\":{s}"))),
    ]
}

/// A stream: items each with `\n` or `\r\n`, and the lines the hub must give back.
fn stream() -> impl Strategy<Value = (Vec<u8>, Vec<(char, String)>)> {
    prop::collection::vec((item(), any::<bool>()), 0..24).prop_map(|items| {
        let mut bytes = Vec::new();
        let mut expect = Vec::new();
        for (item, crlf) in items {
            let line = match &item {
                Item::Event(e) => {
                    let l = format_line(e);
                    l[..l.len() - 1].to_owned()
                }
                Item::Log(s) | Item::Bad(s) => s.clone(),
            };
            bytes.extend_from_slice(line.as_bytes());
            bytes.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            match item {
                Item::Event(e) => expect.push(('E', format!("{line}|{e:?}"))),
                Item::Log(s) => expect.push(('L', s)),
                Item::Bad(s) => expect.push(('X', s)),
            }
        }
        (bytes, expect)
    })
}

/// Cut points: random offsets, or every byte.
fn cut(bytes: &[u8], cuts: &[usize], every_byte: bool) -> Vec<Vec<u8>> {
    if every_byte {
        return bytes.iter().map(|b| vec![*b]).collect();
    }
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut out = Vec::new();
    let mut last = 0;
    for p in points {
        out.push(bytes[last..p].to_vec());
        last = p;
    }
    out.push(bytes[last..].to_vec());
    out
}

fn summarize(lines: &[OutputLine]) -> Vec<(char, String)> {
    lines
        .iter()
        .map(|l| match l {
            OutputLine::Event { line, event } => ('E', format!("{line}|{event:?}")),
            OutputLine::Log { line } => ('L', line.clone()),
            OutputLine::ParseError { excerpt, .. } => ('X', excerpt.clone()),
        })
        .collect()
}

/// The stats the hub must end with, from the events alone.
fn model(expect_events: &[ConnectionEvent]) -> (u64, u64, Vec<String>) {
    let mut clients: Vec<String> = Vec::new();
    let (mut active, mut total) = (0, 0);
    for e in expect_events {
        active = e.connection_stats.active_connections;
        total = e.connection_stats.total_connections;
        match &e.kind {
            EventKind::Connected { client } => {
                clients.retain(|c| c != &client.id);
                clients.push(client.id.clone());
            }
            EventKind::Disconnected { client, .. } => clients.retain(|c| c != &client.id),
            EventKind::StatsUpdate if active == 0 => clients.clear(),
            _ => {}
        }
    }
    (active, total, clients)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn chunked_stream_round_trips(
        (bytes, expect) in stream(),
        cuts in prop::collection::vec(any::<usize>(), 0..40),
        every_byte in prop::bool::weighted(0.2),
    ) {
        let mut hub = ConnectionEventHub::new(HubOptions::default());
        let mut out = hub.push_lines("s", b"");
        for chunk in cut(&bytes, &cuts, every_byte) {
            out.extend(hub.push_lines("s", &chunk));
        }
        out.extend(hub.end_lines("s"));
        let got = summarize(&out);
        // Malformed lines come back as short excerpts; compare their kind and prefix.
        prop_assert_eq!(got.len(), expect.len());
        for (g, e) in got.iter().zip(expect.iter()) {
            prop_assert_eq!(g.0, e.0);
            if e.0 == 'X' {
                let prefix: String = e.1.chars().take(20).collect();
                prop_assert!(g.1.starts_with(&prefix));
            } else {
                prop_assert_eq!(&g.1, &e.1);
            }
        }
        let events: Vec<ConnectionEvent> = out.iter().filter_map(|l| match l {
            OutputLine::Event { event, .. } => Some((**event).clone()),
            _ => None,
        }).collect();
        let st = hub.stats("s").unwrap();
        let (active, total, clients) = model(&events);
        prop_assert_eq!(st.event_count as usize, events.len());
        prop_assert_eq!(st.parse_error_count as usize, expect.iter().filter(|e| e.0 == 'X').count());
        prop_assert_eq!(st.active_connections, active);
        prop_assert_eq!(st.total_connections, total);
        prop_assert_eq!(st.connections.iter().map(|c| c.id.clone()).collect::<Vec<_>>(), clients);
        prop_assert_eq!(st.last_event_at, events.last().map(|e| e.timestamp.clone()));
    }

    #[test]
    fn interleaved_servers_never_mix(
        streams in prop::collection::vec((stream(), prop::collection::vec(any::<usize>(), 0..20)), 1..4),
        order in prop::collection::vec(0_usize..4, 0..200),
    ) {
        let ids = ["alpha", "beta", "中文", "delta"];
        let mut queues: Vec<std::collections::VecDeque<Vec<u8>>> = streams
            .iter()
            .map(|((bytes, _), cuts)| cut(bytes, cuts, false).into())
            .collect();
        let mut hub = ConnectionEventHub::new(HubOptions::default());
        let mut got: BTreeMap<usize, Vec<OutputLine>> = BTreeMap::new();
        for id in ids.iter().take(streams.len()) {
            hub.push_lines(id, b"");
        }
        // Push chunks in a random server order, then drain what is left round-robin.
        let n = queues.len();
        let mut picks = order.into_iter().map(|i| i % n).collect::<Vec<_>>();
        picks.extend((0..n).cycle().take(n * 64));
        for i in picks {
            if let Some(chunk) = queues[i].pop_front() {
                got.entry(i).or_default().extend(hub.push_lines(ids[i], &chunk));
            }
        }
        for (i, q) in queues.iter_mut().enumerate() {
            while let Some(chunk) = q.pop_front() {
                got.entry(i).or_default().extend(hub.push_lines(ids[i], &chunk));
            }
            got.entry(i).or_default().extend(hub.end_lines(ids[i]));
        }
        for (i, ((_, expect), _)) in streams.iter().enumerate() {
            let g = summarize(&got[&i]);
            prop_assert_eq!(g.len(), expect.len());
            for (g, e) in g.iter().zip(expect.iter()) {
                prop_assert_eq!(g.0, e.0);
                if e.0 != 'X' {
                    prop_assert_eq!(&g.1, &e.1);
                }
            }
            let st = hub.stats(ids[i]).unwrap();
            prop_assert_eq!(st.event_count as usize, expect.iter().filter(|e| e.0 == 'E').count());
        }
        prop_assert_eq!(hub.all_stats().len(), streams.len());
    }
}

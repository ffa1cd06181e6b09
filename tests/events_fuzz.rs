//! A bounded fuzz run over arbitrary bytes (runs in CI with `cargo test`): no panic, the tail
//! never exceeds `max_line_bytes`, excerpts stay short, and the output does not depend on where
//! the input was cut. Scale it up with `EVENTS_FUZZ_CASES=100000 cargo test --test events_fuzz`.
#![allow(clippy::unwrap_used)]

use mcp_swagger_native::events::{
    ConnectionEventHub, HubOptions, LineSplitter, OutputLine, Piece, EXCERPT_CHARS,
};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("EVENTS_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(512)
}

/// Arbitrary bytes with the interesting tokens mixed in.
fn input() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..16),
        1 => Just(b"\n".to_vec()),
        1 => Just(b"\r\n".to_vec()),
        1 => Just(b"[MCP_CONNECTION] ".to_vec()),
        1 => Just(b"{\"type\":\"MCP_CONNECTION_EVENT\",\"eventType\":\"stats_update\",\"connectionStats\":{\"totalConnections\":1,\"activeConnections\":1},\"timestamp\":\"2026-11-24T00:00:00.000Z\"}".to_vec()),
        1 => Just("é中😀".as_bytes().to_vec()),
    ];
    prop::collection::vec(token, 0..64).prop_map(|v| v.concat())
}

fn run(max: usize, chunks: &[&[u8]]) -> (Vec<OutputLine>, u64) {
    let mut hub = ConnectionEventHub::new(HubOptions {
        max_line_bytes: max,
        error_threshold: 0,
        ..HubOptions::default()
    });
    let mut out = Vec::new();
    for c in chunks {
        out.extend(hub.push_lines("s", c));
        assert!(hub.buffered("s") <= max.max(1));
    }
    out.extend(hub.end_lines("s"));
    (out, hub.parse_errors("s"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_bounded(
        bytes in input(),
        max in 0_usize..300,
        cuts in prop::collection::vec(any::<usize>(), 0..16),
    ) {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks: Vec<&[u8]> = Vec::new();
        let mut last = 0;
        for p in points {
            chunks.push(&bytes[last..p]);
            last = p;
        }
        chunks.push(&bytes[last..]);
        let (whole, whole_errors) = run(max, &[&bytes]);
        let (cut, cut_errors) = run(max, &chunks);
        prop_assert_eq!(&whole, &cut);
        prop_assert_eq!(whole_errors, cut_errors);
        for l in &whole {
            match l {
                OutputLine::Event { line, .. } | OutputLine::Log { line } => {
                    prop_assert!(line.len() <= max.max(1) * 3);
                    prop_assert!(!line.contains('\n'));
                }
                OutputLine::ParseError { excerpt, .. } => {
                    prop_assert!(excerpt.chars().count() <= EXCERPT_CHARS + 1);
                }
            }
        }
    }

    #[test]
    fn splitter_alone_is_bounded(bytes in prop::collection::vec(any::<u8>(), 0..2048), max in 1_usize..64) {
        let mut s = LineSplitter::new(max);
        for c in bytes.chunks(7) {
            s.push(c, |p| match p {
                Piece::Line(l) | Piece::Oversized(l) => assert!(l.len() <= max),
            });
            prop_assert!(s.buffered() <= max);
        }
        s.finish(|_| {});
        prop_assert_eq!(s.buffered(), 0);
    }
}

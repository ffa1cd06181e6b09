//! Server-sent event framing, the one writer of SSE text for both eras: a JSON-RPC message as
//! an `event: message` with `data:` lines, optionally with an event id (2025 resumable
//! streams), and the priming event that opens a resumable stream.

use std::fmt::Write;

use bytes::Bytes;

/// One `event: message` carrying `json`; `id` is `(stream, seq)`, written `<stream>-<seq>`.
pub fn message(id: Option<(u64, u64)>, json: &str) -> Bytes {
    let mut s = String::with_capacity(json.len() + 40);
    if let Some((stream, seq)) = id {
        let _ = writeln!(s, "id: {stream}-{seq}");
    }
    s.push_str("event: message\n");
    for line in json.split('\n') {
        s.push_str("data: ");
        s.push_str(line);
        s.push('\n');
    }
    s.push('\n');
    super::held::track(s.into_bytes())
}

/// Bytes `message_owned` adds around a message (with an event id): what a buffer that will be
/// framed in place should keep free.
pub const FRAME_ROOM: usize = 64;

/// `message` for a message the caller owns: a large one without line breaks (what serializers
/// write) is framed in its own buffer instead of copied, so a large answer is not held twice.
pub fn message_owned(id: Option<(u64, u64)>, json: String) -> Bytes {
    if json.len() < super::held::LARGE || memchr::memchr(b'\n', json.as_bytes()).is_some() {
        return message(id, &json);
    }
    let mut head = String::with_capacity(FRAME_ROOM);
    if let Some((stream, seq)) = id {
        let _ = writeln!(head, "id: {stream}-{seq}");
    }
    head.push_str("event: message\ndata: ");
    let mut out = json;
    out.reserve(head.len() + 2);
    out.insert_str(0, &head);
    out.push_str("\n\n");
    super::held::track(out.into_bytes())
}

/// The priming event of a resumable stream: an id to resume from and the `retry` hint.
pub fn priming((stream, seq): (u64, u64), retry_ms: u64) -> Bytes {
    Bytes::from(format!("id: {stream}-{seq}\nretry: {retry_ms}\ndata: \n\n"))
}

/// Two frames as one (a priming event and what was already sent), so they go out in one write.
pub fn join(first: Option<Bytes>, second: Option<Bytes>) -> Option<Bytes> {
    match (first, second) {
        (Some(a), Some(b)) => Some(Bytes::from([a.as_ref(), b.as_ref()].concat())),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_messages_with_and_without_ids() {
        assert_eq!(message(None, "{}"), "event: message\ndata: {}\n\n");
        assert_eq!(
            message(Some((3, 7)), "a\nb"),
            "id: 3-7\nevent: message\ndata: a\ndata: b\n\n"
        );
        assert_eq!(priming((1, 0), 500), "id: 1-0\nretry: 500\ndata: \n\n");
        // Owned messages, large or small, with or without line breaks: the same frames.
        let large = format!("{{\"t\":\"{}\"}}", "x".repeat(crate::protocol::held::LARGE));
        for json in [
            "{}".to_owned(),
            "a\nb".to_owned(),
            large.clone(),
            format!("{large}\n{large}"),
        ] {
            for id in [None, Some((2, 9))] {
                assert_eq!(message_owned(id, json.clone()), message(id, &json));
            }
        }
        assert_eq!(
            join(
                Some(Bytes::from_static(b"a")),
                Some(Bytes::from_static(b"b"))
            ),
            Some(Bytes::from_static(b"ab"))
        );
        assert_eq!(
            join(None, Some(Bytes::from_static(b"b"))),
            Some(Bytes::from_static(b"b"))
        );
    }
}

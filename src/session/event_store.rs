//! Per-session store of sent SSE events, so a client that lost a stream can resume it with
//! `Last-Event-ID`. A trait, so a shared store can replace the in-memory one (see
//! docs/architecture.md, "Past one process"); the in-memory store is bounded by count, bytes and
//! age, the oldest events going first. A resumption that would skip a dropped event is refused
//! rather than answered in part (docs/hardening.md).

use std::collections::{HashMap, VecDeque};
use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One session's stored events.
pub trait EventStore: Send + Sync + Debug {
    /// Keeps an event the session sent.
    fn push(&mut self, id: EventId, data: Arc<str>, now: Instant);
    /// The events of `after.stream` that came after `after`, oldest first (whatever is held).
    fn replay_after(&self, after: EventId) -> Vec<(EventId, Arc<str>)>;
    /// Every event of `after.stream` after `after`, or `Purged` when one of them was dropped:
    /// never a partial replay.
    fn replay_complete(&self, after: EventId) -> Result<Vec<(EventId, Arc<str>)>, Purged>;
    /// Drops what is past its lifetime (called by the server's reaper).
    fn expire(&mut self, now: Instant);
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A request stream ended: nothing more will be stored for it.
    fn finish(&mut self, _stream: u64) {}
    /// Keeps an event that no other instance can be asked for (a GET stream event of a copy
    /// that never had a GET stream: no client holds its ids): here only.
    fn push_unshared(&mut self, id: EventId, data: Arc<str>, now: Instant) {
        self.push(id, data, now);
    }
}

/// Told of every stored event and every finished stream, to copy them where another instance
/// can replay them (the shared store; docs/deployment.md).
pub trait EventMirror: Send + Sync {
    fn stored(&self, session: &str, id: EventId, data: &Arc<str>);
    fn finished(&self, session: &str, stream: u64);
}

/// Where the mirror is bound once the shared store has started (after the core is built).
pub type MirrorSlot = Arc<std::sync::OnceLock<std::sync::Weak<dyn EventMirror>>>;

/// Stores that keep events here (for the local resume) and copy them to a mirror.
pub struct MirroredEventStores {
    pub inner: Arc<dyn EventStoreProvider>,
    pub mirror: MirrorSlot,
}

impl Debug for MirroredEventStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MirroredEventStores")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl EventStoreProvider for MirroredEventStores {
    fn limits(&self) -> EventStoreLimits {
        self.inner.limits()
    }
    fn open(&self, session_id: &str) -> Box<dyn EventStore> {
        Box::new(MirroredEventStore {
            inner: self.inner.open(session_id),
            session: Arc::from(session_id),
            mirror: self.mirror.clone(),
        })
    }
}

struct MirroredEventStore {
    inner: Box<dyn EventStore>,
    session: Arc<str>,
    mirror: MirrorSlot,
}

impl Debug for MirroredEventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MirroredEventStore")
            .field("session", &self.session)
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl MirroredEventStore {
    fn mirror(&self) -> Option<Arc<dyn EventMirror>> {
        self.mirror.get().and_then(std::sync::Weak::upgrade)
    }
}

impl EventStore for MirroredEventStore {
    fn push(&mut self, id: EventId, data: Arc<str>, now: Instant) {
        // The GET stream too: each copy of the session numbers it apart (its sequences' high
        // half), so a resume elsewhere finds the copy that wrote it.
        if let Some(m) = self.mirror() {
            m.stored(&self.session, id, &data);
        }
        self.inner.push(id, data, now);
    }
    fn replay_after(&self, after: EventId) -> Vec<(EventId, Arc<str>)> {
        self.inner.replay_after(after)
    }
    fn replay_complete(&self, after: EventId) -> Result<Vec<(EventId, Arc<str>)>, Purged> {
        self.inner.replay_complete(after)
    }
    fn expire(&mut self, now: Instant) {
        self.inner.expire(now)
    }
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn push_unshared(&mut self, id: EventId, data: Arc<str>, now: Instant) {
        self.inner.push(id, data, now);
    }
    fn finish(&mut self, stream: u64) {
        if stream != 0 {
            if let Some(m) = self.mirror() {
                m.finished(&self.session, stream);
            }
        }
        self.inner.finish(stream);
    }
}

/// Makes each session's store, the first time the session stores an event.
pub trait EventStoreProvider: Send + Sync + Debug {
    fn open(&self, session_id: &str) -> Box<dyn EventStore>;
    /// The caps each store keeps to (a shared copy keeps to the same).
    fn limits(&self) -> EventStoreLimits {
        EventStoreLimits::default()
    }
}

/// In-memory stores with the given limits (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct InMemoryEventStores {
    pub limits: EventStoreLimits,
}

impl EventStoreProvider for InMemoryEventStores {
    fn limits(&self) -> EventStoreLimits {
        self.limits
    }

    fn open(&self, _session_id: &str) -> Box<dyn EventStore> {
        Box::new(InMemoryEventStore::new(self.limits))
    }
}

/// Limits of one session's store.
#[derive(Debug, Clone, Copy)]
pub struct EventStoreLimits {
    pub max_events: usize,
    /// Bytes of event data kept; an event larger than this alone is not kept at all.
    pub max_bytes: usize,
    pub ttl: Duration,
}

/// Default byte cap of one session's store.
pub const DEFAULT_MAX_BYTES: usize = 4 * 1024 * 1024;

impl Default for EventStoreLimits {
    fn default() -> Self {
        Self {
            max_events: 1000,
            max_bytes: DEFAULT_MAX_BYTES,
            ttl: Duration::from_secs(300),
        }
    }
}

/// How many request streams' "dropped up to" marks a store remembers; past that the oldest mark
/// goes and every stream up to its id counts as purged. Stream 0 (the GET stream) keeps its mark.
const MAX_DROP_MARKS: usize = 256;

/// An event id names its stream and its place in it: `<stream>-<seq>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventId {
    pub stream: u64,
    pub seq: u64,
}

/// Up to 20 decimal digits, no sign, no leading zero (we never send one).
fn strict_u64(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 20 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if b.len() > 1 && b[0] == b'0' {
        return None;
    }
    s.parse().ok()
}

impl EventId {
    /// Parses an id exactly as `Display` writes it (surrounding blanks allowed). A sequence of
    /// `u64::MAX` is refused: nothing after it could ever be named.
    pub fn parse(s: &str) -> Option<Self> {
        let (stream, seq) = s.trim_matches([' ', '\t']).split_once('-')?;
        let id = Self {
            stream: strict_u64(stream)?,
            seq: strict_u64(seq)?,
        };
        (id.seq < u64::MAX).then_some(id)
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.stream, self.seq)
    }
}

/// Events after the named one were dropped (count, byte or age cap): replaying the rest would
/// hide the gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("events after {after} are no longer stored")]
pub struct Purged {
    pub after: EventId,
}

#[derive(Debug)]
struct Stored {
    id: EventId,
    at: Instant,
    data: Arc<str>,
}

#[derive(Debug)]
pub struct InMemoryEventStore {
    limits: EventStoreLimits,
    events: VecDeque<Stored>,
    bytes: usize,
    /// Stream → highest sequence dropped from it, oldest mark first.
    dropped: HashMap<u64, u64>,
    drop_order: VecDeque<u64>,
    /// Highest stream id whose mark was forgotten (0: none).
    forgotten_through: u64,
}

impl InMemoryEventStore {
    pub fn new(limits: EventStoreLimits) -> Self {
        Self {
            limits,
            events: VecDeque::new(),
            bytes: 0,
            dropped: HashMap::new(),
            drop_order: VecDeque::new(),
            forgotten_through: 0,
        }
    }

    pub fn clear(&mut self) {
        *self = Self::new(self.limits);
    }

    /// Bytes of event data held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn pop_front(&mut self) {
        if let Some(e) = self.events.pop_front() {
            self.bytes -= e.data.len();
            self.mark_dropped(e.id);
        }
    }

    fn mark_dropped(&mut self, id: EventId) {
        match self.dropped.get_mut(&id.stream) {
            Some(seq) => *seq = (*seq).max(id.seq),
            None => {
                if id.stream != 0 {
                    if self.drop_order.len() >= MAX_DROP_MARKS {
                        if let Some(old) = self.drop_order.pop_front() {
                            self.dropped.remove(&old);
                            self.forgotten_through = self.forgotten_through.max(old);
                        }
                    }
                    self.drop_order.push_back(id.stream);
                }
                self.dropped.insert(id.stream, id.seq);
            }
        }
    }
}

impl EventStore for InMemoryEventStore {
    fn push(&mut self, id: EventId, data: Arc<str>, now: Instant) {
        if self.limits.max_events == 0 {
            return;
        }
        self.expire(now);
        if data.len() > self.limits.max_bytes {
            self.mark_dropped(id);
            return;
        }
        while self.events.len() >= self.limits.max_events
            || (self.bytes + data.len() > self.limits.max_bytes && !self.events.is_empty())
        {
            self.pop_front();
        }
        self.bytes += data.len();
        self.events.push_back(Stored { id, at: now, data });
    }

    /// Drops events older than the ttl.
    fn expire(&mut self, now: Instant) {
        while let Some(front) = self.events.front() {
            if now.saturating_duration_since(front.at) > self.limits.ttl {
                self.pop_front();
            } else {
                break;
            }
        }
        if self.events.is_empty() && self.events.capacity() > 0 {
            // An idle session should not keep a grown buffer.
            self.events.shrink_to_fit();
        }
    }

    fn replay_after(&self, after: EventId) -> Vec<(EventId, Arc<str>)> {
        self.events
            .iter()
            .filter(|e| e.id.stream == after.stream && e.id.seq > after.seq)
            .map(|e| (e.id, e.data.clone()))
            .collect()
    }

    fn replay_complete(&self, after: EventId) -> Result<Vec<(EventId, Arc<str>)>, Purged> {
        let purged = match self.dropped.get(&after.stream) {
            Some(&seq) => seq > after.seq,
            None => after.stream != 0 && after.stream <= self.forgotten_through,
        };
        if purged {
            return Err(Purged { after });
        }
        Ok(self.replay_after(after))
    }

    fn len(&self) -> usize {
        self.events.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn id(stream: u64, seq: u64) -> EventId {
        EventId { stream, seq }
    }

    #[test]
    fn replays_only_the_named_stream_after_the_id() {
        let mut s = InMemoryEventStores::default().open("s");
        let now = Instant::now();
        for seq in 1..=3 {
            s.push(id(1, seq), format!("a{seq}").into(), now);
            s.push(id(2, seq), format!("b{seq}").into(), now);
        }
        let r = s.replay_after(id(1, 1));
        assert_eq!(
            r.iter().map(|(_, d)| d.to_string()).collect::<Vec<_>>(),
            ["a2", "a3"]
        );
        assert!(s.replay_after(id(2, 3)).is_empty());
        assert_eq!(EventId::parse("2-17"), Some(id(2, 17)));
        assert_eq!(EventId::parse("x"), None);
        assert_eq!(id(4, 5).to_string(), "4-5");
    }

    #[test]
    fn bounded_by_count_and_age() {
        let limits = EventStoreLimits {
            max_events: 3,
            max_bytes: 1 << 20,
            ttl: Duration::from_millis(100),
        };
        let mut s = InMemoryEventStore::new(limits);
        let t0 = Instant::now();
        for seq in 1..=10 {
            s.push(id(0, seq), "x".into(), t0);
        }
        assert_eq!(s.len(), 3);
        assert_eq!(s.replay_after(id(0, 0)).first().unwrap().0, id(0, 8));
        s.expire(t0 + Duration::from_millis(500));
        assert!(s.is_empty());
        let mut off = InMemoryEventStore::new(EventStoreLimits {
            max_events: 0,
            ..limits
        });
        off.push(id(0, 1), "x".into(), t0);
        assert!(off.is_empty());
    }
    #[test]
    fn bounded_by_bytes_and_an_oversized_event_is_not_kept() {
        let limits = EventStoreLimits {
            max_events: 100,
            max_bytes: 10,
            ttl: Duration::from_secs(60),
        };
        let mut s = InMemoryEventStore::new(limits);
        let t0 = Instant::now();
        for seq in 1..=5 {
            s.push(id(1, seq), "abcd".into(), t0);
            assert!(s.bytes() <= 10);
        }
        assert_eq!((s.len(), s.bytes()), (2, 8));
        s.push(id(2, 1), "x".repeat(11).into(), t0);
        assert!(s.replay_after(id(2, 0)).is_empty());
        assert_eq!(s.len(), 2, "an oversized event evicts nothing");
        assert_eq!(s.replay_complete(id(2, 0)), Err(Purged { after: id(2, 0) }));
        s.clear();
        assert_eq!((s.len(), s.bytes()), (0, 0));
    }

    #[test]
    fn a_resumption_past_a_dropped_event_is_refused_not_partial() {
        let limits = EventStoreLimits {
            max_events: 1000,
            ..Default::default()
        };
        let mut s = InMemoryEventStore::new(limits);
        let t0 = Instant::now();
        for seq in 1..=1500 {
            s.push(id(1, seq), "e".into(), t0);
        }
        assert_eq!(s.len(), 1000);
        // 500 was the last dropped: from 499 on, 500 would be missing.
        assert!(s.replay_complete(id(1, 499)).is_err());
        assert!(s.replay_complete(id(1, 1)).is_err());
        let r = s.replay_complete(id(1, 500)).unwrap();
        assert_eq!(r.len(), 1000);
        assert_eq!(r[0].0, id(1, 501));
        // Another stream is not affected by this one's drops.
        assert_eq!(s.replay_complete(id(7, 0)).unwrap(), vec![]);
        // Age drops count too.
        s.expire(t0 + Duration::from_secs(301));
        assert!(s.replay_complete(id(1, 1499)).is_err());
        assert!(s.replay_complete(id(1, 1500)).unwrap().is_empty());
    }

    #[test]
    fn drop_marks_are_bounded() {
        let limits = EventStoreLimits {
            max_events: 1,
            ..Default::default()
        };
        let mut s = InMemoryEventStore::new(limits);
        let t0 = Instant::now();
        for stream in 1..=(MAX_DROP_MARKS as u64 * 4) {
            s.push(id(stream, 1), "e".into(), t0);
        }
        s.push(id(0, 1), "e".into(), t0);
        s.push(id(0, 2), "e".into(), t0);
        for stream in 1..=(MAX_DROP_MARKS as u64 * 4) {
            s.push(id(stream + 5000, 1), "e".into(), t0);
        }
        assert!(s.dropped.len() <= MAX_DROP_MARKS + 1);
        assert!(s.drop_order.len() <= MAX_DROP_MARKS);
        // A forgotten mark still refuses, and the GET stream keeps its own.
        assert!(s.replay_complete(id(3, 0)).is_err());
        assert!(s.replay_complete(id(0, 1)).is_err());
        assert!(s.replay_complete(id(0, 2)).unwrap().is_empty());
    }

    #[derive(Default)]
    struct Copies(parking_lot::Mutex<Vec<String>>);

    impl EventMirror for Copies {
        fn stored(&self, session: &str, id: EventId, data: &Arc<str>) {
            self.0.lock().push(format!("{session} {id} {data}"));
        }
        fn finished(&self, session: &str, stream: u64) {
            self.0.lock().push(format!("{session} end {stream}"));
        }
    }

    #[test]
    fn a_mirrored_store_keeps_events_here_and_copies_what_a_client_may_resume() {
        let slot = MirrorSlot::default();
        let stores = MirroredEventStores {
            inner: Arc::new(InMemoryEventStores::default()),
            mirror: slot.clone(),
        };
        let mut s = stores.open("s1");
        let t0 = Instant::now();
        // Before the mirror is bound, events are kept here only.
        s.push(id(1, 1), "a".into(), t0);
        let copies = Arc::new(Copies::default());
        let bound: Arc<dyn EventMirror> = copies.clone();
        let _ = slot.set(Arc::downgrade(&bound));
        s.push(id(1, 2), "b".into(), t0);
        s.push(id(0, 1), "get".into(), t0);
        // A GET stream event no client can hold the id of stays here.
        s.push_unshared(id(0, 2), "unseen".into(), t0);
        s.finish(1);
        s.finish(0);
        assert_eq!(s.len(), 4);
        assert_eq!(s.replay_complete(id(1, 0)).unwrap().len(), 2);
        assert_eq!(*copies.0.lock(), ["s1 1-2 b", "s1 0-1 get", "s1 end 1"]);
        assert_eq!(stores.limits().max_events, 1000);
    }

    #[test]
    fn ids_parse_strictly() {
        assert_eq!(EventId::parse(" 3-9 "), Some(id(3, 9)));
        assert_eq!(EventId::parse("0-0"), Some(id(0, 0)));
        assert_eq!(
            EventId::parse("18446744073709551615-18446744073709551614"),
            Some(id(u64::MAX, u64::MAX - 1))
        );
        for bad in [
            "0-18446744073709551615",
            "0-18446744073709551616",
            "0-99999999999999999999999",
            "1-+2",
            "-1-2",
            "1--2",
            "1-2-3",
            "01-2",
            "1-02",
            "1-",
            "-1",
            "",
            "1_2",
            "1-2\u{0}",
            "\u{0661}-1",
        ] {
            assert_eq!(EventId::parse(bad), None, "{bad:?}");
        }
    }
}

//! Per-session store of sent SSE events, so a client that lost a stream can resume it with
//! `Last-Event-ID`. A trait, so a shared store can replace the in-memory one (see
//! docs/architecture.md, "Past one process"); the in-memory store is bounded by count and age,
//! the oldest events going first.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One session's stored events.
pub trait EventStore: Send + Sync + Debug {
    /// Keeps an event the session sent.
    fn push(&mut self, id: EventId, data: Arc<str>, now: Instant);
    /// The events of `after.stream` that came after `after`, oldest first.
    fn replay_after(&self, after: EventId) -> Vec<(EventId, Arc<str>)>;
    /// Drops what is past its lifetime (called by the server's reaper).
    fn expire(&mut self, now: Instant);
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Makes each session's store, the first time the session stores an event.
pub trait EventStoreProvider: Send + Sync + Debug {
    fn open(&self, session_id: &str) -> Box<dyn EventStore>;
}

/// In-memory stores with the given limits (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct InMemoryEventStores {
    pub limits: EventStoreLimits,
}

impl EventStoreProvider for InMemoryEventStores {
    fn open(&self, _session_id: &str) -> Box<dyn EventStore> {
        Box::new(InMemoryEventStore::new(self.limits))
    }
}

/// Limits of one session's store.
#[derive(Debug, Clone, Copy)]
pub struct EventStoreLimits {
    pub max_events: usize,
    pub ttl: Duration,
}

impl Default for EventStoreLimits {
    fn default() -> Self {
        Self {
            max_events: 1000,
            ttl: Duration::from_secs(300),
        }
    }
}

/// An event id names its stream and its place in it: `<stream>-<seq>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventId {
    pub stream: u64,
    pub seq: u64,
}

impl EventId {
    pub fn parse(s: &str) -> Option<Self> {
        let (stream, seq) = s.trim().split_once('-')?;
        Some(Self {
            stream: stream.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.stream, self.seq)
    }
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
}

impl InMemoryEventStore {
    pub fn new(limits: EventStoreLimits) -> Self {
        Self {
            limits,
            events: VecDeque::new(),
        }
    }

    pub fn clear(&mut self) {
        self.events = VecDeque::new();
    }
}

impl EventStore for InMemoryEventStore {
    fn push(&mut self, id: EventId, data: Arc<str>, now: Instant) {
        if self.limits.max_events == 0 {
            return;
        }
        self.expire(now);
        while self.events.len() >= self.limits.max_events {
            self.events.pop_front();
        }
        self.events.push_back(Stored { id, at: now, data });
    }

    /// Drops events older than the ttl.
    fn expire(&mut self, now: Instant) {
        while let Some(front) = self.events.front() {
            if now.saturating_duration_since(front.at) > self.limits.ttl {
                self.events.pop_front();
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
}

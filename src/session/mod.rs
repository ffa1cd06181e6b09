//! 2025-era sessions: the table, each session's streams, and its event store. The table and
//! the event store are traits (see docs/architecture.md, "Past one process").

pub mod backlog;
pub mod event_store;
pub mod stream;
pub mod table;

pub use event_store::{
    EventId, EventMirror, EventStore, EventStoreLimits, EventStoreProvider, InMemoryEventStore,
    InMemoryEventStores, MirrorSlot, MirroredEventStores, Purged,
};
pub use stream::{
    Frame, InputLimitError, InputLimits, ResumeError, Session, SessionConfig, SlowConsumerHook,
    StreamId, DEFAULT_MAX_STREAM_BACKLOG, STANDALONE,
};
pub use table::{InMemorySessions, SessionStore};

/// A cryptographically random session id: 128 bits as 32 lowercase hex characters.
pub fn new_session_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn session_ids_are_random_hex() {
        let a = super::new_session_id().unwrap();
        let b = super::new_session_id().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}

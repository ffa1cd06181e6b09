//! The session table behind a trait, so a shared store can replace the in-memory one later
//! (docs/architecture.md, "Past one process") without touching the transport.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;

use super::Session;

pub trait SessionStore: Send + Sync + 'static {
    fn insert(&self, session: Arc<Session>);
    fn get(&self, id: &str) -> Option<Arc<Session>>;
    fn remove(&self, id: &str) -> Option<Arc<Session>>;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Removes and returns every session idle for longer than `idle`.
    fn take_expired(&self, now: Instant, idle: Duration) -> Vec<Arc<Session>>;
    /// Removes and returns every session (shutdown).
    fn drain(&self) -> Vec<Arc<Session>>;
    /// Every open session (broadcasts).
    fn all(&self) -> Vec<Arc<Session>>;
}

#[derive(Default)]
pub struct InMemorySessions {
    map: RwLock<HashMap<Arc<str>, Arc<Session>>>,
}

impl SessionStore for InMemorySessions {
    fn insert(&self, session: Arc<Session>) {
        self.map.write().insert(session.id.clone(), session);
    }

    fn get(&self, id: &str) -> Option<Arc<Session>> {
        self.map.read().get(id).cloned()
    }

    fn remove(&self, id: &str) -> Option<Arc<Session>> {
        let mut map = self.map.write();
        let s = map.remove(id);
        if map.is_empty() {
            // Give back the table's memory after a churn of sessions.
            map.shrink_to_fit();
        }
        s
    }

    fn len(&self) -> usize {
        self.map.read().len()
    }

    fn take_expired(&self, now: Instant, idle: Duration) -> Vec<Arc<Session>> {
        let expired: Vec<Arc<str>> = self
            .map
            .read()
            .values()
            .filter(|s| s.is_expired(now, idle))
            .map(|s| s.id.clone())
            .collect();
        if expired.is_empty() {
            return Vec::new();
        }
        let mut map = self.map.write();
        let out = expired
            .iter()
            .filter_map(|id| {
                // Re-check under the write lock: a request may have just touched it.
                match map.get(id) {
                    Some(s) if s.is_expired(now, idle) => map.remove(id),
                    _ => None,
                }
            })
            .collect();
        if map.is_empty() {
            map.shrink_to_fit();
        }
        out
    }

    fn all(&self) -> Vec<Arc<Session>> {
        self.map.read().values().cloned().collect()
    }

    fn drain(&self) -> Vec<Arc<Session>> {
        let mut map = self.map.write();
        let out = map.drain().map(|(_, s)| s).collect();
        map.shrink_to_fit();
        out
    }
}

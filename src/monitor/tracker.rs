//! The connection table and its events. Sinks are called in event order, under the table's
//! lock, so every observer sees the same sequence.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;

use super::intern::Interner;
use super::now_ms;
use crate::protocol::Era;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// The client sent DELETE.
    Deleted,
    /// No request within the idle timeout.
    IdleTimeout,
    /// The host called `closeSession()`.
    Closed,
    /// The server is closing.
    Shutdown,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Deleted => "deleted",
            CloseReason::IdleTimeout => "idle_timeout",
            CloseReason::Closed => "closed",
            CloseReason::Shutdown => "shutdown",
        }
    }
}

/// Strings are shared (`Arc<str>`, interned): a connection costs its numbers, not copies.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInfo {
    pub session_id: Arc<str>,
    pub era: Era,
    #[serde(rename = "clientIP")]
    pub client_ip: Arc<str>,
    pub user_agent: Arc<str>,
    /// Epoch milliseconds.
    pub connected_at: u64,
    pub last_activity: u64,
    pub request_count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_version: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<Arc<str>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub active_connections: u64,
    pub total_connections: u64,
    pub max_connections: u64,
}

#[derive(Debug, Clone)]
pub enum MonitorEvent {
    Established(ConnectionInfo),
    Closed {
        info: ConnectionInfo,
        duration_ms: u64,
        reason: CloseReason,
    },
    Rejected {
        reason: String,
        client_ip: String,
        at: u64,
    },
}

/// Where monitor events go: JS callbacks, stdout lines, later a shared stream (docs/architecture.md, "Past one process").
pub trait MonitorSink: Send + Sync + 'static {
    fn event(&self, event: &MonitorEvent, counts: Counts);
}

#[derive(Debug, Clone)]
pub struct TrackerConfig {
    pub max_connections: u64,
}

struct Record {
    info: ConnectionInfo,
    /// Monotonic clock for idle checks and durations.
    last_seen: Instant,
    opened: Instant,
    /// Open listen streams keep a sessionless client alive.
    streams: u32,
}

#[derive(Default)]
struct Table {
    /// Boxed: a full-size record per bucket would waste the table's spare capacity.
    records: HashMap<Arc<str>, Box<Record>>,
    /// (ip, user agent, client name, client version) → record id, for sessionless clients.
    modern_keys: HashMap<String, Arc<str>>,
}

pub struct Tracker {
    cfg: TrackerConfig,
    pub strings: Interner,
    table: Mutex<Table>,
    total: AtomicU64,
    sinks: Mutex<Vec<Arc<dyn MonitorSink>>>,
}

/// Details of a new connection.
pub struct NewConnection<'a> {
    pub era: Era,
    pub client_ip: &'a str,
    pub user_agent: &'a str,
    pub client_name: Option<&'a str>,
    pub client_version: Option<&'a str>,
    pub protocol_version: Option<&'a str>,
}

impl Tracker {
    pub fn new(cfg: TrackerConfig) -> Self {
        Self {
            cfg,
            strings: Interner::default(),
            table: Mutex::new(Table::default()),
            total: AtomicU64::new(0),
            sinks: Mutex::new(Vec::new()),
        }
    }

    pub fn add_sink(&self, sink: Arc<dyn MonitorSink>) {
        self.sinks.lock().push(sink);
    }

    /// Drops every sink (so threadsafe functions behind them are released).
    pub fn clear_sinks(&self) {
        self.sinks.lock().clear();
    }

    fn counts(&self, table: &Table) -> Counts {
        Counts {
            active_connections: table.records.len() as u64,
            total_connections: self.total.load(Ordering::Relaxed),
            max_connections: self.cfg.max_connections,
        }
    }

    fn emit(&self, table: &Table, event: MonitorEvent) {
        let counts = self.counts(table);
        for sink in self.sinks.lock().iter() {
            sink.event(&event, counts);
        }
    }

    pub fn counts_now(&self) -> Counts {
        self.counts(&self.table.lock())
    }

    /// Whether one more connection fits under `maxConnections`.
    pub fn has_room(&self) -> bool {
        (self.table.lock().records.len() as u64) < self.cfg.max_connections
    }

    /// Records a connection, or refuses it (and reports the refusal) when the table is full.
    pub fn open(&self, id: Arc<str>, c: NewConnection<'_>) -> bool {
        let mut table = self.table.lock();
        if table.records.len() as u64 >= self.cfg.max_connections {
            let event = MonitorEvent::Rejected {
                reason: "max_connections".into(),
                client_ip: c.client_ip.to_owned(),
                at: now_ms(),
            };
            self.emit(&table, event);
            return false;
        }
        let now = now_ms();
        let s = &self.strings;
        let info = ConnectionInfo {
            session_id: id.clone(),
            era: c.era,
            client_ip: s.intern(c.client_ip),
            user_agent: s.intern(c.user_agent),
            connected_at: now,
            last_activity: now,
            request_count: 1,
            client_name: c.client_name.map(|v| s.intern(v)),
            client_version: c.client_version.map(|v| s.intern(v)),
            protocol_version: c.protocol_version.map(|v| s.intern(v)),
        };
        let t = Instant::now();
        table.records.insert(
            id,
            Box::new(Record {
                info: info.clone(),
                last_seen: t,
                opened: t,
                streams: 0,
            }),
        );
        self.total.fetch_add(1, Ordering::Relaxed);
        self.emit(&table, MonitorEvent::Established(info));
        true
    }

    /// Reports a refusal that happened before a connection could be recorded.
    pub fn reject(&self, reason: &str, client_ip: &str) {
        let table = self.table.lock();
        let event = MonitorEvent::Rejected {
            reason: reason.to_owned(),
            client_ip: client_ip.to_owned(),
            at: now_ms(),
        };
        self.emit(&table, event);
    }

    /// Counts a request of a known connection.
    pub fn touch(&self, id: &str) {
        let mut table = self.table.lock();
        if let Some(r) = table.records.get_mut(id) {
            r.info.request_count += 1;
            r.info.last_activity = now_ms();
            r.last_seen = Instant::now();
        }
    }

    /// The record of a sessionless client, created on its first request. `None` when the table
    /// is full (the refusal is reported). Returns the id and whether the record is new.
    pub fn touch_modern(&self, c: NewConnection<'_>) -> Option<Arc<str>> {
        let key = format!(
            "{}\u{1}{}\u{1}{}\u{1}{}",
            c.client_ip,
            c.user_agent,
            c.client_name.unwrap_or(""),
            c.client_version.unwrap_or("")
        );
        {
            let mut table = self.table.lock();
            if let Some(id) = table.modern_keys.get(&key).cloned() {
                if let Some(r) = table.records.get_mut(&id) {
                    r.info.request_count += 1;
                    r.info.last_activity = now_ms();
                    r.last_seen = Instant::now();
                    if let Some(v) = c.protocol_version {
                        if r.info.protocol_version.as_deref() != Some(v) {
                            r.info.protocol_version = Some(self.strings.intern(v));
                        }
                    }
                    return Some(id);
                }
            }
        }
        let id: Arc<str> = match crate::session::new_session_id() {
            Ok(hex) => Arc::from(format!("client-{}", &hex[..16])),
            Err(_) => return None,
        };
        if !self.open(id.clone(), c) {
            return None;
        }
        self.table.lock().modern_keys.insert(key, id.clone());
        Some(id)
    }

    /// A listen stream opened (+1) or closed (-1) for a sessionless client.
    pub fn stream_delta(&self, id: &str, opened: bool) {
        let mut table = self.table.lock();
        if let Some(r) = table.records.get_mut(id) {
            if opened {
                r.streams += 1;
            } else {
                r.streams = r.streams.saturating_sub(1);
                r.last_seen = Instant::now();
            }
        }
    }

    /// Ends a connection once; later calls for the same id do nothing.
    pub fn close(&self, id: &str, reason: CloseReason) -> bool {
        let mut table = self.table.lock();
        let Some(r) = table.records.remove(id) else {
            return false;
        };
        if r.info.era == Era::Modern {
            table.modern_keys.retain(|_, v| &**v != id);
        }
        if table.records.is_empty() {
            table.records.shrink_to_fit();
            table.modern_keys.shrink_to_fit();
        }
        let duration_ms = r.opened.elapsed().as_millis() as u64;
        let r = *r;
        self.emit(
            &table,
            MonitorEvent::Closed {
                info: r.info,
                duration_ms,
                reason,
            },
        );
        true
    }

    /// Sessionless clients silent for longer than `idle` with no listen stream open.
    pub fn idle_modern(&self, now: Instant, idle: Duration) -> Vec<Arc<str>> {
        self.table
            .lock()
            .records
            .values()
            .filter(|r| {
                r.info.era == Era::Modern
                    && r.streams == 0
                    && now.saturating_duration_since(r.last_seen) > idle
            })
            .map(|r| r.info.session_id.clone())
            .collect()
    }

    pub fn ids(&self, era: Era) -> Vec<Arc<str>> {
        self.table
            .lock()
            .records
            .values()
            .filter(|r| r.info.era == era)
            .map(|r| r.info.session_id.clone())
            .collect()
    }

    pub fn info(&self, id: &str) -> Option<ConnectionInfo> {
        self.table.lock().records.get(id).map(|r| r.info.clone())
    }

    pub fn active(&self) -> u64 {
        self.table.lock().records.len() as u64
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// `ConnectionStats` as JSON (times in epoch ms), oldest connection first.
    pub fn stats_json(&self) -> String {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Stats<'a> {
            active_connections: u64,
            total_connections: u64,
            max_connections: u64,
            connections: Vec<&'a ConnectionInfo>,
            last_updated: u64,
        }
        let table = self.table.lock();
        let counts = self.counts(&table);
        let mut connections: Vec<&ConnectionInfo> =
            table.records.values().map(|r| &r.info).collect();
        connections.sort_by(|a, b| {
            a.connected_at
                .cmp(&b.connected_at)
                .then_with(|| a.session_id.cmp(&b.session_id))
        });
        let stats = Stats {
            active_connections: counts.active_connections,
            total_connections: counts.total_connections,
            max_connections: counts.max_connections,
            connections,
            last_updated: now_ms(),
        };
        serde_json::to_string(&stats).unwrap_or_else(|_| "{}".to_owned())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl MonitorSink for Recorder {
        fn event(&self, event: &MonitorEvent, counts: Counts) {
            let s = match event {
                MonitorEvent::Established(i) => format!("open {}", i.session_id),
                MonitorEvent::Closed { info, reason, .. } => {
                    format!("close {} {}", info.session_id, reason.as_str())
                }
                MonitorEvent::Rejected { reason, .. } => format!("reject {reason}"),
            };
            self.0.lock().push(format!(
                "{s} {}/{}",
                counts.active_connections, counts.total_connections
            ));
        }
    }

    fn conn(era: Era) -> NewConnection<'static> {
        NewConnection {
            era,
            client_ip: "127.0.0.1",
            user_agent: "ua",
            client_name: Some("c"),
            client_version: Some("1"),
            protocol_version: None,
        }
    }

    #[test]
    fn total_counts_every_connection_active_only_open_ones() {
        let t = Tracker::new(TrackerConfig { max_connections: 2 });
        let rec = Arc::new(Recorder::default());
        t.add_sink(rec.clone());
        assert!(t.open("a".into(), conn(Era::Legacy)));
        assert!(t.open("b".into(), conn(Era::Legacy)));
        assert!(!t.open("c".into(), conn(Era::Legacy)));
        assert!(t.close("a", CloseReason::Deleted));
        assert!(!t.close("a", CloseReason::Deleted), "closed once");
        t.touch("b");
        assert_eq!(t.info("b").unwrap().request_count, 2);
        assert_eq!((t.active(), t.total()), (1, 2));
        assert_eq!(
            *rec.0.lock(),
            [
                "open a 1/1",
                "open b 2/2",
                "reject max_connections 2/2",
                "close a deleted 1/2"
            ]
        );
        let stats: serde_json::Value = serde_json::from_str(&t.stats_json()).unwrap();
        assert_eq!(stats["activeConnections"], 1);
        assert_eq!(stats["totalConnections"], 2);
        assert_eq!(stats["connections"][0]["sessionId"], "b");
        assert_eq!(stats["connections"][0]["clientIP"], "127.0.0.1");
    }

    #[test]
    fn sessionless_clients_share_a_record_and_expire_unless_streaming() {
        let t = Tracker::new(TrackerConfig {
            max_connections: 10,
        });
        let a = t.touch_modern(conn(Era::Modern)).unwrap();
        let b = t.touch_modern(conn(Era::Modern)).unwrap();
        assert_eq!(a, b);
        assert_eq!(t.info(&a).unwrap().request_count, 2);
        let later = Instant::now() + Duration::from_secs(10);
        t.stream_delta(&a, true);
        assert!(t.idle_modern(later, Duration::from_secs(1)).is_empty());
        t.stream_delta(&a, false);
        assert_eq!(
            t.idle_modern(later, Duration::from_secs(1)),
            vec![a.clone()]
        );
        assert!(t.close(&a, CloseReason::IdleTimeout));
        let c = t.touch_modern(conn(Era::Modern)).unwrap();
        assert_ne!(a, c, "a new record after the old one closed");
        assert_eq!(t.total(), 2);
    }
}

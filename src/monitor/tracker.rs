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
    /// Made room for another client while the table was full (the heaviest client's least
    /// recently active idle connection goes first).
    Evicted,
    /// Another instance sharing the store stopped heartbeating (it crashed): its connections
    /// left the cluster view (docs/deployment.md).
    InstanceLost,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Deleted => "deleted",
            CloseReason::IdleTimeout => "idle_timeout",
            CloseReason::Closed => "closed",
            CloseReason::Shutdown => "shutdown",
            CloseReason::Evicted => "evicted",
            CloseReason::InstanceLost => "instance_lost",
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
    /// The authorized principal, when the server requires authorization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<Arc<ConnectionAuth>>,
}

/// Who a connection is, as its bearer token says: defined with the principal it is taken from.
pub use crate::auth::ConnectionAuth;

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
    /// Connections one client may hold: one authorized subject, or one IP (as `trustProxy`
    /// resolves it) for a connection without a principal; 0: no cap of its own
    /// (`max_connections` still applies).
    pub max_per_client: u64,
    /// A connection must have been silent this long to be evicted for another client.
    pub evict_min_idle: Duration,
}

/// Default of `TrackerConfig::evict_min_idle`.
pub const EVICT_MIN_IDLE: Duration = Duration::from_secs(1);

impl TrackerConfig {
    pub fn new(max_connections: u64) -> Self {
        Self {
            max_connections,
            max_per_client: 0,
            evict_min_idle: EVICT_MIN_IDLE,
        }
    }
}

/// Longest user agent, client name or version a record keeps: stats stay small and fast
/// whatever clients send.
pub const MAX_LABEL_BYTES: usize = 256;

fn label(s: &str) -> &str {
    if s.len() <= MAX_LABEL_BYTES {
        return s;
    }
    let mut end = MAX_LABEL_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Subjects named in `ConnectionStats.bySubject`; the rest are summed in `otherSubjects`, so
/// stats stay small whatever the number of users.
pub const MAX_SUBJECTS_IN_STATS: usize = 100;

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the server already has {0} connections")]
    MaxConnections(u64),
    #[error("this client already has {0} connections")]
    MaxPerClient(u64),
    #[error("no session id could be generated")]
    NoId,
}

impl Refused {
    /// The `reason` of the rejection event.
    pub fn reason(self) -> &'static str {
        match self {
            Refused::MaxConnections(_) => "max_connections",
            Refused::MaxPerClient(_) => "max_connections_per_client",
            Refused::NoId => "internal_error",
        }
    }
}

/// Ends a connection the tracker chose to evict (its session, streams and calls); the
/// transport registers it. It must end the record with `Tracker::close(id, Evicted)`.
pub trait Evictor: Send + Sync + 'static {
    fn evict(&self, id: &str);
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
    /// Client IP → its records without a principal.
    per_client: HashMap<Arc<str>, u64>,
    /// Authorized subject → its records: with authorization on, the subject is the client
    /// (one user behind a shared NAT is not everyone behind it).
    per_subject: HashMap<Arc<str>, u64>,
}

/// Who a connection counts against for fairness and per-client caps.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientKey<'a> {
    Ip(&'a str),
    Subject(&'a str),
}

impl<'a> ClientKey<'a> {
    fn of(ip: &'a str, auth: Option<&'a ConnectionAuth>) -> Self {
        match auth {
            Some(a) => ClientKey::Subject(a.subject.as_str()),
            None => ClientKey::Ip(ip),
        }
    }

    fn of_info(info: &'a ConnectionInfo) -> Self {
        Self::of(&info.client_ip, info.auth.as_deref())
    }
}

impl Table {
    fn counts_for(&self, key: ClientKey<'_>) -> &HashMap<Arc<str>, u64> {
        match key {
            ClientKey::Ip(_) => &self.per_client,
            ClientKey::Subject(_) => &self.per_subject,
        }
    }

    fn count_of(&self, key: ClientKey<'_>) -> u64 {
        let (ClientKey::Ip(k) | ClientKey::Subject(k)) = key;
        self.counts_for(key).get(k).copied().unwrap_or(0)
    }

    fn add(&mut self, key: ClientKey<'_>, strings: &Interner) {
        let (map, k) = match key {
            ClientKey::Ip(k) => (&mut self.per_client, k),
            ClientKey::Subject(k) => (&mut self.per_subject, k),
        };
        match map.get_mut(k) {
            Some(n) => *n += 1,
            None => {
                map.insert(strings.intern(k), 1);
            }
        }
    }

    fn remove(&mut self, key: ClientKey<'_>) {
        let (map, k) = match key {
            ClientKey::Ip(k) => (&mut self.per_client, k),
            ClientKey::Subject(k) => (&mut self.per_subject, k),
        };
        if let Some(n) = map.get_mut(k) {
            *n -= 1;
            if *n == 0 {
                map.remove(k);
            }
        }
    }

    /// The least recently active idle record of the client holding the most (of the
    /// newcomer's kind: subjects with subjects, addresses with addresses), when that client
    /// holds more than the newcomer would after admission.
    fn victim_for(&self, key: ClientKey<'_>, now: Instant, min_idle: Duration) -> Option<Arc<str>> {
        let (heavy, n) = self
            .counts_for(key)
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))?;
        let (ClientKey::Ip(k) | ClientKey::Subject(k)) = key;
        if &**heavy == k || *n <= self.count_of(key) + 1 {
            return None;
        }
        let heavy = match key {
            ClientKey::Ip(_) => ClientKey::Ip(heavy),
            ClientKey::Subject(_) => ClientKey::Subject(heavy),
        };
        self.records
            .values()
            .filter(|r| {
                ClientKey::of_info(&r.info) == heavy
                    && r.streams == 0
                    && now.saturating_duration_since(r.last_seen) >= min_idle
            })
            .min_by_key(|r| r.last_seen)
            .map(|r| r.info.session_id.clone())
    }
}

pub struct Tracker {
    cfg: TrackerConfig,
    pub strings: Interner,
    table: Mutex<Table>,
    total: AtomicU64,
    sinks: Mutex<Vec<Arc<dyn MonitorSink>>>,
    evictor: Mutex<Option<Arc<dyn Evictor>>>,
}

/// Details of a new connection.
pub struct NewConnection<'a> {
    pub era: Era,
    pub client_ip: &'a str,
    pub user_agent: &'a str,
    pub client_name: Option<&'a str>,
    pub client_version: Option<&'a str>,
    pub protocol_version: Option<&'a str>,
    pub auth: Option<Arc<ConnectionAuth>>,
}

impl Tracker {
    pub fn new(cfg: TrackerConfig) -> Self {
        Self {
            cfg,
            strings: Interner::default(),
            table: Mutex::new(Table::default()),
            total: AtomicU64::new(0),
            sinks: Mutex::new(Vec::new()),
            evictor: Mutex::new(None),
        }
    }

    /// Who ends evicted connections; without one the tracker never evicts.
    pub fn set_evictor(&self, evictor: Option<Arc<dyn Evictor>>) {
        *self.evictor.lock() = evictor;
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

    /// Reports an event about a connection this tracker does not hold (another instance's,
    /// seen in the cluster view) to the sinks; the counts stay this instance's own.
    pub fn report_foreign(&self, event: MonitorEvent) {
        let table = self.table.lock();
        self.emit(&table, event);
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
        self.admit(id, c).is_ok()
    }

    /// Like `open`, saying why a connection was refused. A full table first evicts an idle
    /// connection of the heaviest client, unless the newcomer is that client.
    pub fn admit(&self, id: Arc<str>, c: NewConnection<'_>) -> Result<(), Refused> {
        let mut table = self.table.lock();
        let cap = self.cfg.max_per_client;
        let client = ClientKey::of(c.client_ip, c.auth.as_deref());
        if cap > 0 && table.count_of(client) >= cap {
            return Err(self.refuse(&table, Refused::MaxPerClient(cap), c.client_ip));
        }
        if table.records.len() as u64 >= self.cfg.max_connections {
            let evictor = self.evictor.lock().clone();
            let victim = evictor
                .as_ref()
                .and_then(|_| table.victim_for(client, Instant::now(), self.cfg.evict_min_idle));
            if let (Some(evictor), Some(victim)) = (evictor, victim) {
                // The evictor ends the session and closes the record, which takes the lock.
                drop(table);
                evictor.evict(&victim);
                // Make sure the record goes even if the evictor did not find a session.
                self.close(&victim, CloseReason::Evicted);
                table = self.table.lock();
            }
            if table.records.len() as u64 >= self.cfg.max_connections {
                let refusal = Refused::MaxConnections(self.cfg.max_connections);
                return Err(self.refuse(&table, refusal, c.client_ip));
            }
        }
        let now = now_ms();
        let s = &self.strings;
        let info = ConnectionInfo {
            session_id: id.clone(),
            era: c.era,
            client_ip: s.intern(c.client_ip),
            user_agent: s.intern(label(c.user_agent)),
            connected_at: now,
            last_activity: now,
            request_count: 1,
            client_name: c.client_name.map(|v| s.intern(label(v))),
            client_version: c.client_version.map(|v| s.intern(label(v))),
            protocol_version: c.protocol_version.map(|v| s.intern(label(v))),
            auth: c.auth.clone(),
        };
        table.add(ClientKey::of_info(&info), s);
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
        Ok(())
    }

    fn refuse(&self, table: &Table, why: Refused, client_ip: &str) -> Refused {
        let event = MonitorEvent::Rejected {
            reason: why.reason().into(),
            client_ip: client_ip.to_owned(),
            at: now_ms(),
        };
        self.emit(table, event);
        why
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
        self.admit_modern(c).ok()
    }

    /// Like `touch_modern`, saying why a new client was refused.
    pub fn admit_modern(&self, c: NewConnection<'_>) -> Result<Arc<str>, Refused> {
        // Two principals behind one address and client are two connections.
        let key = format!(
            "{}\u{1}{}\u{1}{}\u{1}{}\u{1}{}",
            c.client_ip,
            label(c.user_agent),
            label(c.client_name.unwrap_or("")),
            label(c.client_version.unwrap_or("")),
            c.auth.as_ref().map_or("", |a| label(a.subject.as_str()))
        );
        {
            let mut table = self.table.lock();
            if let Some(id) = table.modern_keys.get(&key).cloned() {
                if let Some(r) = table.records.get_mut(&id) {
                    r.info.request_count += 1;
                    r.info.last_activity = now_ms();
                    r.last_seen = Instant::now();
                    if let Some(v) = c.protocol_version.map(label) {
                        if r.info.protocol_version.as_deref() != Some(v) {
                            r.info.protocol_version = Some(self.strings.intern(v));
                        }
                    }
                    return Ok(id);
                }
            }
        }
        let id: Arc<str> = match crate::session::new_session_id() {
            Ok(hex) => Arc::from(format!("client-{}", &hex[..16])),
            Err(_) => return Err(Refused::NoId),
        };
        self.admit(id.clone(), c)?;
        self.table.lock().modern_keys.insert(key, id.clone());
        Ok(id)
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
        table.remove(ClientKey::of_info(&r.info));
        if table.records.is_empty() {
            table.records.shrink_to_fit();
            table.modern_keys.shrink_to_fit();
            table.per_client.shrink_to_fit();
            table.per_subject.shrink_to_fit();
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
        struct Others {
            subjects: u64,
            connections: u64,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Stats<'a> {
            active_connections: u64,
            total_connections: u64,
            max_connections: u64,
            connections: Vec<&'a ConnectionInfo>,
            /// The largest `MAX_SUBJECTS_IN_STATS` subjects; absent when no connection has a
            /// principal, so stats without authorization look as they always did.
            #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
            by_subject: std::collections::BTreeMap<&'a str, u64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            other_subjects: Option<Others>,
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
        let mut subjects: Vec<(&str, u64)> =
            table.per_subject.iter().map(|(k, n)| (&**k, *n)).collect();
        subjects.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let rest = subjects.split_off(subjects.len().min(MAX_SUBJECTS_IN_STATS));
        let other_subjects = (!rest.is_empty()).then(|| Others {
            subjects: rest.len() as u64,
            connections: rest.iter().map(|(_, n)| n).sum(),
        });
        let by_subject = subjects.into_iter().collect();
        let stats = Stats {
            active_connections: counts.active_connections,
            total_connections: counts.total_connections,
            max_connections: counts.max_connections,
            connections,
            by_subject,
            other_subjects,
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
            auth: None,
        }
    }

    #[test]
    fn total_counts_every_connection_active_only_open_ones() {
        let t = Tracker::new(TrackerConfig::new(2));
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
        let t = Tracker::new(TrackerConfig::new(10));
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

    fn from(ip: &'static str, era: Era) -> NewConnection<'static> {
        NewConnection {
            client_ip: ip,
            ..conn(era)
        }
    }

    /// Closes what it is asked to evict, as the transport does.
    struct CloseEvicted(std::sync::Weak<Tracker>);

    impl Evictor for CloseEvicted {
        fn evict(&self, id: &str) {
            if let Some(t) = self.0.upgrade() {
                t.close(id, CloseReason::Evicted);
            }
        }
    }

    fn fair_tracker(max: u64, per_client: u64) -> (Arc<Tracker>, Arc<Recorder>) {
        let t = Arc::new(Tracker::new(TrackerConfig {
            max_connections: max,
            max_per_client: per_client,
            evict_min_idle: Duration::ZERO,
        }));
        t.set_evictor(Some(Arc::new(CloseEvicted(Arc::downgrade(&t)))));
        let rec = Arc::new(Recorder::default());
        t.add_sink(rec.clone());
        (t, rec)
    }

    #[test]
    fn one_client_is_capped_per_ip_in_both_eras() {
        let (t, rec) = fair_tracker(100, 2);
        assert!(t.admit("a".into(), from("10.0.0.1", Era::Legacy)).is_ok());
        let mut other = from("10.0.0.1", Era::Modern);
        other.user_agent = "ua-2";
        assert!(t.admit_modern(other).is_ok());
        assert_eq!(
            t.admit("c".into(), from("10.0.0.1", Era::Legacy)),
            Err(Refused::MaxPerClient(2))
        );
        let mut third = from("10.0.0.1", Era::Modern);
        third.user_agent = "ua-3";
        assert_eq!(t.admit_modern(third), Err(Refused::MaxPerClient(2)));
        assert!(t.admit("d".into(), from("10.0.0.2", Era::Legacy)).is_ok());
        assert!(rec
            .0
            .lock()
            .iter()
            .any(|e| e.starts_with("reject max_connections_per_client")));
        t.close("a", CloseReason::Deleted);
        assert!(t.admit("e".into(), from("10.0.0.1", Era::Legacy)).is_ok());
        assert_eq!(t.active(), 3);
    }

    #[test]
    fn a_full_table_evicts_the_heaviest_clients_idle_connection_first() {
        let (t, rec) = fair_tracker(4, 0);
        for id in ["h1", "h2", "h3"] {
            assert!(t.admit(id.into(), from("10.0.0.9", Era::Legacy)).is_ok());
        }
        // One sessionless record of the same heavy client, with a listen stream open.
        let mut ua = from("10.0.0.9", Era::Modern);
        ua.user_agent = "grabber";
        let streaming = t.admit_modern(ua).unwrap();
        t.stream_delta(&streaming, true);
        std::thread::sleep(Duration::from_millis(5));
        t.touch("h1");
        // A new client: h2 (least recently active, idle, of the heaviest client) goes.
        assert!(t.admit("n1".into(), from("10.0.0.7", Era::Legacy)).is_ok());
        assert!(t.info("h2").is_none() && t.info("h1").is_some());
        assert!(rec
            .0
            .lock()
            .iter()
            .any(|e| e.starts_with("close h2 evicted")));
        // The heavy client itself gets no room by evicting its own.
        assert_eq!(
            t.admit("h4".into(), from("10.0.0.9", Era::Legacy)),
            Err(Refused::MaxConnections(4))
        );
        // A sessionless newcomer evicts too; then h: 2 (one streaming), n: 1, m: 1.
        assert!(t.admit_modern(from("10.0.0.8", Era::Modern)).is_ok());
        assert_eq!(t.active(), 4);
        // Now the heaviest holds 2 and the newcomer would hold 1: no eviction, refused.
        assert_eq!(
            t.admit("n2".into(), from("10.0.0.7", Era::Legacy)),
            Err(Refused::MaxConnections(4))
        );
        assert!(
            t.info(&streaming).is_some(),
            "a streaming record is never evicted"
        );
    }

    fn as_subject(ip: &'static str, subject: &str, era: Era) -> NewConnection<'static> {
        NewConnection {
            auth: Some(Arc::new(ConnectionAuth {
                subject: subject.into(),
                client_id: None,
                scopes: vec![],
            })),
            ..from(ip, era)
        }
    }

    #[test]
    fn with_a_principal_the_subject_is_the_client_in_both_eras() {
        let (t, _rec) = fair_tracker(100, 2);
        // Two users behind one address: each has its own share.
        assert!(t
            .admit("a1".into(), as_subject("10.0.0.1", "alice", Era::Legacy))
            .is_ok());
        assert!(t
            .admit_modern(as_subject("10.0.0.1", "alice", Era::Modern))
            .is_ok());
        assert_eq!(
            t.admit("a3".into(), as_subject("10.0.0.1", "alice", Era::Legacy)),
            Err(Refused::MaxPerClient(2))
        );
        assert!(t
            .admit("b1".into(), as_subject("10.0.0.1", "bob", Era::Legacy))
            .is_ok());
        // One user from two addresses is still one client.
        assert_eq!(
            t.admit("a4".into(), as_subject("10.0.0.2", "alice", Era::Legacy)),
            Err(Refused::MaxPerClient(2))
        );
        // Connections without a principal still count per address.
        assert!(t.admit("n1".into(), from("10.0.0.1", Era::Legacy)).is_ok());
        assert!(t.admit("n2".into(), from("10.0.0.1", Era::Legacy)).is_ok());
        let stats: serde_json::Value = serde_json::from_str(&t.stats_json()).unwrap();
        assert_eq!(
            stats["bySubject"],
            serde_json::json!({ "alice": 2, "bob": 1 })
        );
        assert!(stats.get("otherSubjects").is_none());
        t.close("a1", CloseReason::Deleted);
        assert!(t
            .admit("a5".into(), as_subject("10.0.0.2", "alice", Era::Legacy))
            .is_ok());
        t.close("b1", CloseReason::Deleted);
        let stats: serde_json::Value = serde_json::from_str(&t.stats_json()).unwrap();
        assert_eq!(stats["bySubject"], serde_json::json!({ "alice": 2 }));
        for id in t.ids(Era::Legacy).into_iter().chain(t.ids(Era::Modern)) {
            t.close(&id, CloseReason::Deleted);
        }
        let stats: serde_json::Value = serde_json::from_str(&t.stats_json()).unwrap();
        assert!(
            stats.get("bySubject").is_none(),
            "no principal, no bySubject"
        );
    }

    #[test]
    fn a_full_table_evicts_the_heaviest_subject_not_the_busiest_address() {
        let (t, _rec) = fair_tracker(3, 0);
        for id in ["h1", "h2"] {
            assert!(t
                .admit(id.into(), as_subject("10.0.0.9", "heavy", Era::Legacy))
                .is_ok());
        }
        assert!(t
            .admit("l1".into(), as_subject("10.0.0.9", "light", Era::Legacy))
            .is_ok());
        // The address holds all three, but "heavy" is the one user with more than its share.
        assert!(t
            .admit("n1".into(), as_subject("10.0.0.9", "new", Era::Legacy))
            .is_ok());
        assert!(t.info("h1").is_none() && t.info("l1").is_some());
    }

    #[test]
    fn stats_name_the_largest_subjects_and_sum_the_rest() {
        let t = Tracker::new(TrackerConfig::new(1_000));
        let n = MAX_SUBJECTS_IN_STATS + 5;
        for i in 0..n {
            let sub = format!("user-{i:04}");
            assert!(t.open(
                format!("s{i}").into(),
                as_subject("10.0.0.1", &sub, Era::Legacy)
            ));
        }
        // user-0000 holds two, so it is among the named ones whatever the order of the rest.
        assert!(t.open("x".into(), as_subject("10.0.0.1", "user-0000", Era::Legacy)));
        let stats: serde_json::Value = serde_json::from_str(&t.stats_json()).unwrap();
        let named = stats["bySubject"].as_object().unwrap();
        assert_eq!(named.len(), MAX_SUBJECTS_IN_STATS);
        assert_eq!(named["user-0000"], 2);
        assert_eq!(
            stats["otherSubjects"],
            serde_json::json!({ "subjects": 5, "connections": 5 })
        );
    }

    #[test]
    fn without_an_evictor_a_full_table_refuses() {
        let t = Tracker::new(TrackerConfig::new(1));
        assert!(t.open("a".into(), from("10.0.0.1", Era::Legacy)));
        assert!(!t.open("b".into(), from("10.0.0.2", Era::Legacy)));
    }

    #[test]
    fn long_labels_are_cut_so_stats_stay_small() {
        let t = Tracker::new(TrackerConfig::new(10));
        let ua = "é".repeat(10_000);
        let name = "n".repeat(3 << 20);
        let c = NewConnection {
            user_agent: &ua,
            client_name: Some(&name),
            ..conn(Era::Legacy)
        };
        assert!(t.open("a".into(), c));
        let info = t.info("a").unwrap();
        assert!(info.user_agent.len() <= MAX_LABEL_BYTES && !info.user_agent.is_empty());
        assert_eq!(info.client_name.unwrap().len(), MAX_LABEL_BYTES);
        assert!(t.stats_json().len() < 2048);
    }
}

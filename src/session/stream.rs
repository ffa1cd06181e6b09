//! One session and its SSE streams. Every message sent on a stream gets an event id that names
//! the stream, is kept in the event store, and goes to the stream's HTTP response if one is
//! attached; a client that lost the response resumes with `Last-Event-ID`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use super::event_store::{EventId, EventStore, EventStoreLimits};
use crate::protocol::LegacyVersion;

pub type StreamId = u64;
/// The stream of the session's GET request (server-initiated messages).
pub const STANDALONE: StreamId = 0;

/// Bytes of SSE text ready for the wire.
pub type Frame = Bytes;

/// What every session shares.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// `None` turns resumability off.
    pub event_store: Option<EventStoreLimits>,
    /// The `retry:` hint of priming events, for clients that resume (2025-11-25).
    pub retry_ms: u64,
}

#[derive(Debug)]
struct Slot {
    tx: Option<mpsc::UnboundedSender<Frame>>,
    next_seq: u64,
}

/// A server→client request waiting for the client's answer: `Ok(result)` or `Err(error)`, as
/// JSON text.
pub type ClientReply = Result<String, String>;

#[derive(Debug, Default)]
struct State {
    last_activity: Option<Instant>,
    streams: HashMap<StreamId, Slot>,
    next_stream: StreamId,
    events: EventStore,
    subscriptions: HashSet<String>,
    log_level: Option<u8>,
    /// Client request id (JSON text) → in-flight callback id, for notifications/cancelled.
    in_flight: HashMap<String, u64>,
    /// Server request id → who waits for the client's answer.
    client_requests: HashMap<u64, oneshot::Sender<ClientReply>>,
    next_request_id: u64,
    closed: bool,
}

#[derive(Debug)]
pub struct Session {
    pub id: Arc<str>,
    pub version: LegacyVersion,
    /// The client's declared capabilities, as JSON text.
    pub client_capabilities: Box<str>,
    pub client_name: Option<Box<str>>,
    pub client_version: Option<Box<str>>,
    state: Mutex<State>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResumeError {
    #[error("Last-Event-ID does not name an event of this server")]
    BadId,
    #[error("resumability is off")]
    NoStore,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the session already has an open GET stream")]
pub struct StandaloneBusy;

fn sse_frame(id: Option<EventId>, data: &str) -> Frame {
    let mut s = String::with_capacity(data.len() + 32);
    if let Some(id) = id {
        s.push_str("id: ");
        s.push_str(&id.to_string());
        s.push('\n');
    }
    s.push_str("event: message\n");
    for line in data.split('\n') {
        s.push_str("data: ");
        s.push_str(line);
        s.push('\n');
    }
    s.push('\n');
    Bytes::from(s)
}

impl Session {
    pub fn new(
        id: Arc<str>,
        version: LegacyVersion,
        client_capabilities: Box<str>,
        client_name: Option<Box<str>>,
        client_version: Option<Box<str>>,
    ) -> Self {
        Self {
            id,
            version,
            client_capabilities,
            client_name,
            client_version,
            state: Mutex::new(State {
                last_activity: Some(Instant::now()),
                next_stream: 1,
                ..Default::default()
            }),
        }
    }

    pub fn touch(&self, now: Instant) {
        self.state.lock().last_activity = Some(now);
    }

    pub fn is_expired(&self, now: Instant, idle: Duration) -> bool {
        let st = self.state.lock();
        // A session with an attached stream is in use, not idle.
        let streaming = st.streams.values().any(|s| s.tx.is_some());
        !streaming
            && st
                .last_activity
                .is_none_or(|t| now.saturating_duration_since(t) > idle)
    }

    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    fn primes(&self, cfg: &SessionConfig) -> bool {
        cfg.event_store.is_some() && self.version.primes_streams()
    }

    fn priming_frame(id: EventId, retry_ms: u64) -> Frame {
        Bytes::from(format!("id: {id}\nretry: {retry_ms}\ndata: \n\n"))
    }

    /// Opens the response stream of a POST that carries requests.
    pub fn open_stream(
        &self,
        cfg: &SessionConfig,
    ) -> Option<(StreamId, mpsc::UnboundedReceiver<Frame>)> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut st = self.state.lock();
        if st.closed {
            return None;
        }
        let id = st.next_stream;
        st.next_stream += 1;
        let mut slot = Slot {
            tx: Some(tx),
            next_seq: 1,
        };
        if self.primes(cfg) {
            if let Some(tx) = &slot.tx {
                let _ = tx.send(Self::priming_frame(
                    EventId { stream: id, seq: 0 },
                    cfg.retry_ms,
                ));
            }
        }
        slot.next_seq = 1;
        st.streams.insert(id, slot);
        Some((id, rx))
    }

    /// Attaches a fresh GET stream for server-initiated messages; one at a time.
    pub fn attach_standalone(
        &self,
        cfg: &SessionConfig,
    ) -> Result<mpsc::UnboundedReceiver<Frame>, StandaloneBusy> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut st = self.state.lock();
        if st.closed {
            return Err(StandaloneBusy);
        }
        let primes = self.primes(cfg);
        let slot = st.streams.entry(STANDALONE).or_insert(Slot {
            tx: None,
            next_seq: 1,
        });
        if slot.tx.as_ref().is_some_and(|t| !t.is_closed()) {
            return Err(StandaloneBusy);
        }
        if primes {
            let id = EventId {
                stream: STANDALONE,
                seq: slot.next_seq,
            };
            slot.next_seq += 1;
            let _ = tx.send(Self::priming_frame(id, cfg.retry_ms));
        }
        slot.tx = Some(tx);
        Ok(rx)
    }

    /// Replays what a stream sent after `last` and, if the stream is still live, attaches the
    /// new response to it. A finished stream's response ends after the replay.
    pub fn resume(
        &self,
        cfg: &SessionConfig,
        last: &str,
    ) -> Result<mpsc::UnboundedReceiver<Frame>, ResumeError> {
        if cfg.event_store.is_none() {
            return Err(ResumeError::NoStore);
        }
        let last = EventId::parse(last).ok_or(ResumeError::BadId)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let mut st = self.state.lock();
        if st.closed || last.stream >= st.next_stream {
            return Err(ResumeError::BadId);
        }
        for (id, data) in st.events.replay_after(last) {
            let _ = tx.send(sse_frame(Some(id), &data));
        }
        let is_standalone = last.stream == STANDALONE;
        match st.streams.get_mut(&last.stream) {
            Some(slot) => slot.tx = Some(tx),
            None if is_standalone => {
                st.streams.insert(
                    STANDALONE,
                    Slot {
                        tx: Some(tx),
                        next_seq: last.seq + 1,
                    },
                );
            }
            // Finished: dropping tx ends the response after the replay.
            None => {}
        }
        Ok(rx)
    }

    /// Sends one JSON-RPC message on a stream. Returns false when the stream is unknown.
    pub fn send(&self, cfg: &SessionConfig, stream: StreamId, json: &str) -> bool {
        let mut st = self.state.lock();
        if st.closed {
            return false;
        }
        let State {
            streams, events, ..
        } = &mut *st;
        let slot = match streams.get_mut(&stream) {
            Some(s) => s,
            None if stream == STANDALONE => streams.entry(STANDALONE).or_insert(Slot {
                tx: None,
                next_seq: 1,
            }),
            None => return false,
        };
        let id = EventId {
            stream,
            seq: slot.next_seq,
        };
        slot.next_seq += 1;
        if let Some(limits) = &cfg.event_store {
            events.push(limits, id, Arc::from(json), Instant::now());
        }
        if let Some(tx) = &slot.tx {
            let id = cfg.event_store.is_some().then_some(id);
            if tx.send(sse_frame(id, json)).is_err() {
                slot.tx = None;
            }
        }
        true
    }

    /// Ends a request stream: its response ends and it can only be replayed from now on.
    pub fn finish_stream(&self, stream: StreamId) {
        if stream != STANDALONE {
            self.state.lock().streams.remove(&stream);
        }
    }

    /// Ends the HTTP response of a stream now while keeping the stream alive, so the client
    /// resumes it later with `Last-Event-ID` (SEP-1699 polling).
    pub fn detach_stream(&self, stream: StreamId) {
        if let Some(slot) = self.state.lock().streams.get_mut(&stream) {
            slot.tx = None;
        }
    }

    /// Whether a stream currently has an HTTP response to write to.
    pub fn is_attached(&self, stream: StreamId) -> bool {
        self.state
            .lock()
            .streams
            .get(&stream)
            .is_some_and(|s| s.tx.as_ref().is_some_and(|t| !t.is_closed()))
    }

    pub fn register_call(&self, request_id: &str, call_id: u64) {
        self.state
            .lock()
            .in_flight
            .insert(request_id.to_owned(), call_id);
    }

    pub fn unregister_call(&self, request_id: &str) {
        let mut st = self.state.lock();
        st.in_flight.remove(request_id);
        if st.in_flight.is_empty() {
            st.in_flight.shrink_to_fit();
        }
    }

    pub fn call_for_request(&self, request_id: &str) -> Option<u64> {
        self.state.lock().in_flight.get(request_id).copied()
    }

    /// Registers a server→client request; the caller sends it with the returned id.
    pub fn begin_client_request(&self) -> Option<(u64, oneshot::Receiver<ClientReply>)> {
        let (tx, rx) = oneshot::channel();
        let mut st = self.state.lock();
        if st.closed {
            return None;
        }
        st.next_request_id += 1;
        let id = st.next_request_id;
        st.client_requests.insert(id, tx);
        Some((id, rx))
    }

    /// Delivers a client's answer. False when nobody waits for that id.
    pub fn complete_client_request(&self, id: u64, reply: ClientReply) -> bool {
        let tx = self.state.lock().client_requests.remove(&id);
        match tx {
            Some(tx) => tx.send(reply).is_ok(),
            None => false,
        }
    }

    pub fn abandon_client_request(&self, id: u64) {
        self.state.lock().client_requests.remove(&id);
    }

    pub fn subscribe(&self, uri: &str) {
        self.state.lock().subscriptions.insert(uri.to_owned());
    }

    pub fn unsubscribe(&self, uri: &str) {
        self.state.lock().subscriptions.remove(uri);
    }

    pub fn is_subscribed(&self, uri: &str) -> bool {
        self.state.lock().subscriptions.contains(uri)
    }

    /// The minimum severity (0 = debug … 7 = emergency) set by logging/setLevel.
    pub fn set_log_level(&self, level: u8) {
        self.state.lock().log_level = Some(level);
    }

    pub fn log_level(&self) -> Option<u8> {
        self.state.lock().log_level
    }

    /// Closes the session: every response ends, waiting client requests fail, the store is
    /// emptied. Returns the in-flight callback ids, for the caller to abort.
    pub fn close(&self) -> Vec<u64> {
        let mut st = self.state.lock();
        if st.closed {
            return Vec::new();
        }
        st.closed = true;
        st.streams.clear();
        st.events.clear();
        for (_, tx) in st.client_requests.drain() {
            let _ = tx.send(Err(
                r#"{"code":-32000,"message":"session closed"}"#.to_owned()
            ));
        }
        st.in_flight.drain().map(|(_, c)| c).collect()
    }

    /// Drops stored events past their ttl (called by the reaper).
    pub fn expire_events(&self, cfg: &SessionConfig, now: Instant) {
        if let Some(limits) = &cfg.event_store {
            self.state.lock().events.expire(limits, now);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cfg() -> SessionConfig {
        SessionConfig {
            event_store: Some(EventStoreLimits::default()),
            retry_ms: 1000,
        }
    }

    fn session(v: LegacyVersion) -> Session {
        Session::new("s".into(), v, "{}".into(), None, None)
    }

    fn drain(rx: &mut mpsc::UnboundedReceiver<Frame>) -> String {
        let mut out = String::new();
        while let Ok(f) = rx.try_recv() {
            out.push_str(std::str::from_utf8(&f).unwrap());
        }
        out
    }

    #[test]
    fn a_dropped_stream_is_resumed_without_loss() {
        let cfg = cfg();
        let s = session(LegacyVersion::V2025_11_25);
        let (id, mut rx) = s.open_stream(&cfg).unwrap();
        assert!(drain(&mut rx).contains("retry: 1000"));
        s.send(&cfg, id, r#"{"n":1}"#);
        let first = drain(&mut rx);
        assert!(first.contains(&format!("id: {id}-1")));
        drop(rx);
        s.send(&cfg, id, r#"{"n":2}"#);
        s.send(&cfg, id, r#"{"n":3}"#);
        let mut rx = s.resume(&cfg, &format!("{id}-1")).unwrap();
        let replay = drain(&mut rx);
        assert!(replay.contains(r#"{"n":2}"#) && replay.contains(r#"{"n":3}"#));
        assert!(!replay.contains(r#"{"n":1}"#));
        s.send(&cfg, id, r#"{"n":4}"#);
        assert!(drain(&mut rx).contains(r#"{"n":4}"#));
        s.finish_stream(id);
        assert!(rx.try_recv().is_err());
        assert_eq!(s.resume(&cfg, "99-1").unwrap_err(), ResumeError::BadId);
        assert_eq!(s.resume(&cfg, "junk").unwrap_err(), ResumeError::BadId);
    }

    #[test]
    fn one_standalone_stream_at_a_time() {
        let cfg = cfg();
        let s = session(LegacyVersion::V2025_06_18);
        let rx = s.attach_standalone(&cfg).unwrap();
        assert_eq!(s.attach_standalone(&cfg).unwrap_err(), StandaloneBusy);
        drop(rx);
        let mut rx = s.attach_standalone(&cfg).unwrap();
        assert!(drain(&mut rx).is_empty(), "no priming before 2025-11-25");
        s.send(&cfg, STANDALONE, "{}");
        assert!(drain(&mut rx).contains("data: {}"));
    }

    #[test]
    fn close_ends_everything_and_reports_calls() {
        let cfg = cfg();
        let s = session(LegacyVersion::V2025_11_25);
        let (_, mut rx) = s.open_stream(&cfg).unwrap();
        s.register_call("1", 42);
        let (_, mut reply) = s.begin_client_request().unwrap();
        assert_eq!(s.close(), vec![42]);
        assert!(reply.try_recv().unwrap().is_err());
        drain(&mut rx);
        assert!(rx.try_recv().is_err());
        assert!(s.open_stream(&cfg).is_none());
        assert!(s.close().is_empty());
    }
}

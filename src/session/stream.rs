//! One session and its SSE streams. Every message sent on a stream gets an event id that names
//! the stream, is kept in the event store, and goes to the stream's HTTP response if one is
//! attached; a client that lost the response resumes with `Last-Event-ID`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use super::backlog::{Backlog, BacklogLimits, EndCause};
use super::event_store::{EventId, EventStore, EventStoreProvider, Purged};
use crate::protocol::{sse, CallError, LegacyVersion};

pub type StreamId = u64;
/// The stream of the session's GET request (server-initiated messages).
pub const STANDALONE: StreamId = 0;

/// Bytes of SSE text ready for the wire.
pub type Frame = Bytes;

/// An attached stream response: its frames, and the backlog that counts them and says why the
/// server ended it (the response's body reports that as its close reason).
pub type Attached = (mpsc::UnboundedReceiver<Frame>, Arc<Backlog>);

/// What every session shares.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Makes each session's event store; `None` turns resumability off.
    pub event_store: Option<Arc<dyn EventStoreProvider>>,
    /// The `retry:` hint of priming events, for clients that resume (2025-11-25).
    pub retry_ms: u64,
    /// Caps on what a client makes a session keep.
    pub inputs: InputLimits,
    /// Bytes one SSE response may have queued for a reader that does not keep up; past it
    /// the response is detached (the stream stays resumable from the event store).
    pub max_stream_backlog: BacklogLimits,
    /// Told when a stream is detached for a slow reader (session id, stream).
    pub on_slow_consumer: SlowConsumerHook,
}

/// Default of `SessionConfig::max_stream_backlog`.
pub const DEFAULT_MAX_STREAM_BACKLOG: BacklogLimits = super::backlog::DEFAULT_BACKLOG_LIMITS;

/// A callback for slow consumers (the transport reports them to the monitor).
#[derive(Clone, Default)]
pub struct SlowConsumerHook(pub Option<SlowConsumerFn>);

pub type SlowConsumerFn = Arc<dyn Fn(&str, StreamId) + Send + Sync>;

impl std::fmt::Debug for SlowConsumerHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "SlowConsumerHook(set)"
        } else {
            "SlowConsumerHook(none)"
        })
    }
}

/// Caps on client input a session stores for its lifetime (docs/hardening.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    pub max_subscriptions: usize,
    pub max_uri_bytes: usize,
    /// `capabilities` plus `clientInfo` of `initialize`, as JSON text.
    pub max_client_info_bytes: usize,
}

impl Default for InputLimits {
    fn default() -> Self {
        Self {
            max_subscriptions: 100,
            max_uri_bytes: 2048,
            max_client_info_bytes: 16 * 1024,
        }
    }
}

/// Longest `clientInfo.name` or `clientInfo.version` kept (they show in every stats query).
pub const MAX_CLIENT_NAME_BYTES: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputLimitError {
    #[error("the session already has {max} subscriptions (the limit)")]
    TooManySubscriptions { max: usize },
    #[error("the uri is {len} bytes, over the limit of {max}")]
    UriTooLong { len: usize, max: usize },
    #[error("capabilities and clientInfo take {len} bytes, over the limit of {max}")]
    ClientInfoTooLarge { len: usize, max: usize },
    #[error("clientInfo.{field} is {len} bytes, over the limit of {max}")]
    ClientNameTooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
}

impl InputLimitError {
    /// -32602 with the limit in `data`, so a client can tell a cap from a malformed request.
    pub fn into_rpc(self) -> crate::protocol::RpcError {
        let limit = match &self {
            Self::TooManySubscriptions { max }
            | Self::UriTooLong { max, .. }
            | Self::ClientInfoTooLarge { max, .. }
            | Self::ClientNameTooLong { max, .. } => *max,
        };
        crate::protocol::RpcError::invalid_params(&self)
            .with_data(serde_json::json!({ "limit": limit }))
    }
}

impl InputLimits {
    /// Checks what `initialize` asks a session to keep.
    pub fn check_client_info(
        &self,
        capabilities_json: usize,
        client_info_json: usize,
        name: Option<&str>,
        version: Option<&str>,
    ) -> Result<(), InputLimitError> {
        for (field, v) in [("name", name), ("version", version)] {
            if let Some(v) = v.filter(|v| v.len() > MAX_CLIENT_NAME_BYTES) {
                return Err(InputLimitError::ClientNameTooLong {
                    field,
                    len: v.len(),
                    max: MAX_CLIENT_NAME_BYTES,
                });
            }
        }
        let len = capabilities_json.saturating_add(client_info_json);
        if len > self.max_client_info_bytes {
            return Err(InputLimitError::ClientInfoTooLarge {
                len,
                max: self.max_client_info_bytes,
            });
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Slot {
    tx: Option<mpsc::UnboundedSender<Frame>>,
    /// What `tx`'s reader has not taken yet; a fresh one with every new `tx`.
    backlog: Arc<Backlog>,
    next_seq: u64,
    /// A response was attached once: a client may hold this stream's ids.
    attached: bool,
}

impl Slot {
    fn new(tx: Option<mpsc::UnboundedSender<Frame>>, next_seq: u64) -> Self {
        Self {
            attached: tx.is_some(),
            tx,
            backlog: Arc::default(),
            next_seq,
        }
    }

    fn attach(&mut self, tx: mpsc::UnboundedSender<Frame>) {
        self.attached = true;
        self.tx = Some(tx);
        self.backlog = Arc::default();
    }
}

/// The first sequence of this copy's GET stream: its epoch (the high half of the copy's
/// first stream id) and 1, so events of copies on different instances never share an id.
fn standalone_start(first_stream: StreamId) -> u64 {
    ((first_stream >> 32) << 32) + 1
}

/// A server→client request's answer: the result as JSON text, or why there is none.
pub type ClientReply = Result<String, CallError>;

/// What a session needs only once it streams, subscribes or has calls in flight. An idle
/// session (the common case at scale) does not allocate it.
#[derive(Debug, Default)]
struct Busy {
    streams: HashMap<StreamId, Slot>,
    /// Made on the first stored event.
    events: Option<Box<dyn EventStore>>,
    subscriptions: HashSet<String>,
    /// Client request id (JSON text) → in-flight callback id, for notifications/cancelled.
    in_flight: HashMap<String, u64>,
    /// Server request id → who waits for the client's answer.
    client_requests: HashMap<u64, oneshot::Sender<ClientReply>>,
    next_request_id: u64,
}

#[derive(Debug)]
struct State {
    last_activity: Instant,
    /// The first request stream id this copy of the session hands out: 1 where the session
    /// was opened, a random base where another instance adopted it (so ids never collide).
    first_stream: StreamId,
    next_stream: StreamId,
    log_level: Option<u8>,
    closed: bool,
    busy: Option<Box<Busy>>,
}

impl State {
    fn busy(&mut self) -> &mut Busy {
        self.busy.get_or_insert_with(Default::default)
    }
}

#[derive(Debug)]
pub struct Session {
    pub id: Arc<str>,
    pub version: LegacyVersion,
    /// The client's declared capabilities, as JSON text (shared between sessions).
    pub client_capabilities: Arc<str>,
    pub client_name: Option<Arc<str>>,
    pub client_version: Option<Arc<str>>,
    /// The session's part of every callback context, rendered on first use.
    context: std::sync::OnceLock<Box<str>>,
    /// The authorized subject that created the session (when authorization is on): only it
    /// may use the session.
    owner: std::sync::OnceLock<Arc<str>>,
    state: Mutex<State>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResumeError {
    #[error("Last-Event-ID does not name an event of this server")]
    BadId,
    #[error("resumability is off")]
    NoStore,
    /// Events after the id were dropped from the store: no partial replay.
    #[error("{0}")]
    Purged(Purged),
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the session already has an open GET stream")]
pub struct StandaloneBusy;

fn sse_frame(id: Option<EventId>, data: &str) -> Frame {
    sse::message(id.map(|i| (i.stream, i.seq)), data)
}

impl Session {
    pub fn new(
        id: Arc<str>,
        version: LegacyVersion,
        client_capabilities: Arc<str>,
        client_name: Option<Arc<str>>,
        client_version: Option<Arc<str>>,
    ) -> Self {
        Self {
            id,
            version,
            client_capabilities,
            client_name,
            client_version,
            context: std::sync::OnceLock::new(),
            owner: std::sync::OnceLock::new(),
            state: Mutex::new(State {
                last_activity: Instant::now(),
                first_stream: 1,
                next_stream: 1,
                log_level: None,
                closed: false,
                busy: None,
            }),
        }
    }

    /// A copy of a session opened elsewhere: its request streams (and its server→client
    /// request ids) start at `base`, apart from those of every other copy.
    pub fn with_first_stream(self, base: StreamId) -> Self {
        {
            let mut st = self.state.lock();
            st.first_stream = base.max(1);
            st.next_stream = base.max(1);
            st.busy().next_request_id = base;
        }
        self
    }

    /// Which copy of the session numbered a GET stream event: the high half of its sequence
    /// (0 where the session was opened, the adopted base's otherwise).
    pub fn standalone_epoch(&self) -> u64 {
        self.state.lock().first_stream >> 32
    }

    /// Whether a stream id was handed out by this copy of the session (the GET stream
    /// always is).
    pub fn knows_stream(&self, stream: StreamId) -> bool {
        let st = self.state.lock();
        stream == STANDALONE || (stream >= st.first_stream && stream < st.next_stream)
    }

    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    /// The resource URIs the client subscribed to.
    pub fn subscriptions(&self) -> Vec<String> {
        self.state
            .lock()
            .busy
            .as_ref()
            .map(|b| b.subscriptions.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Binds the session to the subject that created it; the first binding wins.
    pub fn bind_owner(&self, subject: &str) {
        let _ = self.owner.set(Arc::from(subject));
    }

    pub fn owner(&self) -> Option<&str> {
        self.owner.get().map(|s| &**s)
    }

    /// The session's part of a callback context (an unterminated JSON object), rendered once.
    pub fn context_prefix(&self, render: impl FnOnce() -> String) -> &str {
        self.context.get_or_init(|| render().into_boxed_str())
    }

    pub fn touch(&self, now: Instant) {
        self.state.lock().last_activity = now;
    }

    /// Idle means no request for `idle`, whatever streams are open: the contract is "closed
    /// no later than the timeout after its last request", and an open GET stream alone does
    /// not prove the client is still there (a proxy may hold it).
    pub fn is_expired(&self, now: Instant, idle: Duration) -> bool {
        now.saturating_duration_since(self.state.lock().last_activity) > idle
    }

    fn primes(&self, cfg: &SessionConfig) -> bool {
        cfg.event_store.is_some() && self.version.primes_streams()
    }

    fn priming_frame_bytes(id: EventId, retry_ms: u64) -> Frame {
        sse::priming((id.stream, id.seq), retry_ms)
    }

    /// Opens the response stream of a POST that carries requests, priming event first.
    pub fn open_stream(&self, cfg: &SessionConfig) -> Option<(StreamId, Attached)> {
        self.open(cfg, true)
    }

    /// Opens a request stream without its priming event: the front end decides later whether
    /// the response is SSE at all (see `priming_frame`).
    pub fn open_quiet_stream(&self, cfg: &SessionConfig) -> Option<(StreamId, Attached)> {
        self.open(cfg, false)
    }

    fn open(&self, cfg: &SessionConfig, prime: bool) -> Option<(StreamId, Attached)> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut st = self.state.lock();
        if st.closed {
            return None;
        }
        let id = st.next_stream;
        st.next_stream += 1;
        if let Some(p) = prime.then(|| self.priming_frame(cfg, id)).flatten() {
            let _ = tx.send(p);
        }
        let slot = Slot::new(Some(tx), 1);
        let backlog = slot.backlog.clone();
        st.busy().streams.insert(id, slot);
        Some((id, (rx, backlog)))
    }

    /// The priming event of a request stream (2025-11-25 clients, event store on): an id to
    /// resume from and the `retry` hint.
    pub fn priming_frame(&self, cfg: &SessionConfig, stream: StreamId) -> Option<Frame> {
        self.primes(cfg)
            .then(|| Self::priming_frame_bytes(EventId { stream, seq: 0 }, cfg.retry_ms))
    }

    /// Attaches a fresh GET stream for server-initiated messages; one at a time.
    pub fn attach_standalone(&self, cfg: &SessionConfig) -> Result<Attached, StandaloneBusy> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut st = self.state.lock();
        if st.closed {
            return Err(StandaloneBusy);
        }
        let primes = self.primes(cfg);
        let first = st.first_stream;
        let slot = st
            .busy()
            .streams
            .entry(STANDALONE)
            .or_insert_with(|| Slot::new(None, standalone_start(first)));
        if slot.tx.as_ref().is_some_and(|t| !t.is_closed()) {
            return Err(StandaloneBusy);
        }
        if primes {
            let id = EventId {
                stream: STANDALONE,
                seq: slot.next_seq,
            };
            slot.next_seq += 1;
            let _ = tx.send(Self::priming_frame_bytes(id, cfg.retry_ms));
        }
        slot.attach(tx);
        Ok((rx, slot.backlog.clone()))
    }

    /// Replays what a stream sent after `last` and, if the stream is still live, attaches the
    /// new response to it. A finished stream's response ends after the replay.
    pub fn resume(&self, cfg: &SessionConfig, last: &str) -> Result<Attached, ResumeError> {
        if cfg.event_store.is_none() {
            return Err(ResumeError::NoStore);
        }
        let last = EventId::parse(last).ok_or(ResumeError::BadId)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let mut st = self.state.lock();
        if st.closed
            || last.stream >= st.next_stream
            || (last.stream != STANDALONE && last.stream < st.first_stream)
        {
            return Err(ResumeError::BadId);
        }
        let busy = st.busy();
        // An id this stream never sent names no event of ours; nor does any id of a GET stream
        // that never existed.
        match busy.streams.get(&last.stream) {
            Some(slot) if last.seq >= slot.next_seq => return Err(ResumeError::BadId),
            None if last.stream == STANDALONE => return Err(ResumeError::BadId),
            _ => {}
        }
        let replay = match busy.events.as_ref() {
            Some(e) => e.replay_complete(last).map_err(ResumeError::Purged)?,
            None => Vec::new(),
        };
        for (id, data) in replay {
            let _ = tx.send(sse_frame(Some(id), &data));
        }
        // A finished stream has no slot: dropping tx ends the response after the replay.
        let backlog = match busy.streams.get_mut(&last.stream) {
            Some(slot) => {
                slot.attach(tx);
                slot.backlog.clone()
            }
            None => Arc::default(),
        };
        Ok((rx, backlog))
    }

    /// Sends one JSON-RPC message on a stream. Returns false when the stream is unknown. A
    /// response whose reader is more than `max_stream_backlog` behind is detached first
    /// (reported through `on_slow_consumer`); the message is still stored for resumption.
    pub fn send(&self, cfg: &SessionConfig, stream: StreamId, json: &str) -> bool {
        let mut slow = false;
        let known = self.send_locked(cfg, stream, json, &mut slow);
        if slow {
            tracing::debug!(session = %self.id, stream, "slow consumer: stream detached");
            if let Some(hook) = &cfg.on_slow_consumer.0 {
                hook(&self.id, stream);
            }
        }
        known
    }

    fn send_locked(
        &self,
        cfg: &SessionConfig,
        stream: StreamId,
        json: &str,
        slow: &mut bool,
    ) -> bool {
        let mut st = self.state.lock();
        if st.closed {
            return false;
        }
        let first = st.first_stream;
        let Busy {
            streams, events, ..
        } = st.busy();
        let slot = match streams.get_mut(&stream) {
            Some(s) => s,
            None if stream == STANDALONE => streams
                .entry(STANDALONE)
                .or_insert_with(|| Slot::new(None, standalone_start(first))),
            None => return false,
        };
        let id = EventId {
            stream,
            seq: slot.next_seq,
        };
        slot.next_seq += 1;
        if let Some(provider) = &cfg.event_store {
            let store = events.get_or_insert_with(|| provider.open(&self.id));
            if slot.attached {
                store.push(id, Arc::from(json), Instant::now());
            } else {
                // A GET stream no client ever opened on this copy: nobody can resume it
                // elsewhere, so it is not copied to a shared store.
                store.push_unshared(id, Arc::from(json), Instant::now());
            }
        }
        if let Some(tx) = &slot.tx {
            let id = cfg.event_store.is_some().then_some(id);
            let text = sse_frame(id, json);
            if slot
                .backlog
                .would_exceed(text.len(), cfg.max_stream_backlog)
            {
                slot.backlog.set_end(EndCause::SlowConsumer);
                slot.tx = None;
                *slow = true;
            } else if tx.send(slot.backlog.frame(text)).is_err() {
                slot.tx = None;
            }
        }
        true
    }

    /// Ends a request stream: its response ends and it can only be replayed from now on.
    pub fn finish_stream(&self, stream: StreamId) {
        if stream != STANDALONE {
            if let Some(b) = self.state.lock().busy.as_mut() {
                b.streams.remove(&stream);
                if let Some(events) = b.events.as_mut() {
                    events.finish(stream);
                }
            }
        }
    }

    /// Ends the HTTP response of a stream now while keeping the stream alive, so the client
    /// resumes it later with `Last-Event-ID` (SEP-1699 polling).
    pub fn detach_stream(&self, stream: StreamId) {
        if let Some(slot) = self
            .state
            .lock()
            .busy
            .as_mut()
            .and_then(|b| b.streams.get_mut(&stream))
        {
            // The cause first: dropping the sender lets the response end at once.
            if slot.tx.is_some() {
                slot.backlog.set_end(EndCause::ServerClosed);
                slot.tx = None;
            }
        }
    }

    pub fn register_call(&self, request_id: &str, call_id: u64) {
        self.state
            .lock()
            .busy()
            .in_flight
            .insert(request_id.to_owned(), call_id);
    }

    pub fn unregister_call(&self, request_id: &str) {
        if let Some(b) = self.state.lock().busy.as_mut() {
            b.in_flight.remove(request_id);
            if b.in_flight.is_empty() {
                b.in_flight.shrink_to_fit();
            }
        }
    }

    pub fn call_for_request(&self, request_id: &str) -> Option<u64> {
        self.state
            .lock()
            .busy
            .as_ref()
            .and_then(|b| b.in_flight.get(request_id).copied())
    }

    /// Registers a server→client request; the caller sends it with the returned id.
    pub fn begin_client_request(&self) -> Option<(u64, oneshot::Receiver<ClientReply>)> {
        let (tx, rx) = oneshot::channel();
        let mut st = self.state.lock();
        if st.closed {
            return None;
        }
        let busy = st.busy();
        busy.next_request_id += 1;
        let id = busy.next_request_id;
        busy.client_requests.insert(id, tx);
        Some((id, rx))
    }

    /// Delivers a client's answer. False when nobody waits for that id.
    pub fn complete_client_request(&self, id: u64, reply: ClientReply) -> bool {
        let tx = self
            .state
            .lock()
            .busy
            .as_mut()
            .and_then(|b| b.client_requests.remove(&id));
        match tx {
            Some(tx) => tx.send(reply).is_ok(),
            None => false,
        }
    }

    pub fn abandon_client_request(&self, id: u64) {
        if let Some(b) = self.state.lock().busy.as_mut() {
            b.client_requests.remove(&id);
        }
    }

    /// Adds a subscription unless it would pass the session's caps (a repeat is free).
    pub fn subscribe(&self, limits: &InputLimits, uri: &str) -> Result<(), InputLimitError> {
        if uri.len() > limits.max_uri_bytes {
            return Err(InputLimitError::UriTooLong {
                len: uri.len(),
                max: limits.max_uri_bytes,
            });
        }
        let mut st = self.state.lock();
        let subs = &mut st.busy().subscriptions;
        if !subs.contains(uri) {
            if subs.len() >= limits.max_subscriptions {
                return Err(InputLimitError::TooManySubscriptions {
                    max: limits.max_subscriptions,
                });
            }
            subs.insert(uri.to_owned());
        }
        Ok(())
    }

    pub fn unsubscribe(&self, uri: &str) {
        if let Some(b) = self.state.lock().busy.as_mut() {
            b.subscriptions.remove(uri);
        }
    }

    pub fn is_subscribed(&self, uri: &str) -> bool {
        self.state
            .lock()
            .busy
            .as_ref()
            .is_some_and(|b| b.subscriptions.contains(uri))
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
        let Some(busy) = st.busy.take() else {
            return Vec::new();
        };
        let Busy {
            client_requests,
            in_flight,
            streams,
            ..
        } = *busy;
        for slot in streams.values().filter(|s| s.tx.is_some()) {
            slot.backlog.set_end(EndCause::SessionEnded);
        }
        for (_, tx) in client_requests {
            let _ = tx.send(Err(CallError::SessionClosed));
        }
        in_flight.into_values().collect()
    }

    /// Drops stored events past their ttl (called by the reaper).
    pub fn expire_events(&self, cfg: &SessionConfig, now: Instant) {
        if cfg.event_store.is_none() {
            return;
        }
        if let Some(events) = self
            .state
            .lock()
            .busy
            .as_mut()
            .and_then(|b| b.events.as_mut())
        {
            events.expire(now);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cfg() -> SessionConfig {
        SessionConfig {
            inputs: InputLimits::default(),
            max_stream_backlog: DEFAULT_MAX_STREAM_BACKLOG,
            on_slow_consumer: SlowConsumerHook::default(),
            event_store: Some(Arc::new(crate::session::InMemoryEventStores::default())),
            retry_ms: 1000,
        }
    }

    fn session(v: LegacyVersion) -> Session {
        Session::new("s".into(), v, Arc::from("{}"), None, None)
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
        let (id, (mut rx, _)) = s.open_stream(&cfg).unwrap();
        assert!(drain(&mut rx).contains("retry: 1000"));
        s.send(&cfg, id, r#"{"n":1}"#);
        let first = drain(&mut rx);
        assert!(first.contains(&format!("id: {id}-1")));
        drop(rx);
        s.send(&cfg, id, r#"{"n":2}"#);
        s.send(&cfg, id, r#"{"n":3}"#);
        let (mut rx, end) = s.resume(&cfg, &format!("{id}-1")).unwrap();
        let replay = drain(&mut rx);
        assert!(replay.contains(r#"{"n":2}"#) && replay.contains(r#"{"n":3}"#));
        assert!(!replay.contains(r#"{"n":1}"#));
        s.send(&cfg, id, r#"{"n":4}"#);
        assert!(drain(&mut rx).contains(r#"{"n":4}"#));
        s.finish_stream(id);
        assert!(rx.try_recv().is_err());
        assert_eq!(end.end_cause(), None, "a finished stream ended naturally");
        assert_eq!(s.resume(&cfg, "99-1").unwrap_err(), ResumeError::BadId);
        assert_eq!(s.resume(&cfg, "junk").unwrap_err(), ResumeError::BadId);
    }

    #[test]
    fn an_adopted_copy_numbers_its_streams_apart_and_knows_only_its_own() {
        let cfg = cfg();
        let base = 7u64 << 32;
        let s = session(LegacyVersion::V2025_06_18).with_first_stream(base);
        let (id, _rx) = s.open_stream(&cfg).unwrap();
        assert_eq!(id, base);
        assert!(s.knows_stream(base) && s.knows_stream(STANDALONE));
        assert!(!s.knows_stream(1) && !s.knows_stream(base + 1));
        // A stream of the copy that opened the session is not resumed from this copy's store.
        assert_eq!(s.resume(&cfg, "1-1").unwrap_err(), ResumeError::BadId);
        let (rid, _) = s.begin_client_request().unwrap();
        assert_eq!(rid, base + 1);
        s.subscribe(&cfg.inputs, "mem://x").unwrap();
        assert_eq!(s.subscriptions(), ["mem://x"]);
        assert!(!s.is_closed());
        s.close();
        assert!(s.is_closed());
    }

    #[test]
    fn each_copy_numbers_its_get_stream_in_its_own_epoch() {
        let cfg = cfg();
        let opener = session(LegacyVersion::V2025_06_18);
        assert_eq!(opener.standalone_epoch(), 0);
        let copy = session(LegacyVersion::V2025_06_18).with_first_stream(7u64 << 32);
        assert_eq!(copy.standalone_epoch(), 7);
        for s in [&opener, &copy] {
            let (mut rx, _) = s.attach_standalone(&cfg).unwrap();
            s.send(&cfg, STANDALONE, "{}");
            let text = drain(&mut rx);
            let want = format!("id: 0-{}", (s.standalone_epoch() << 32) + 1);
            assert!(text.contains(&want), "{text}");
            // The copy resumes its own GET stream from its store.
            assert!(s.resume(&cfg, &want[4..]).is_ok());
        }
    }

    #[test]
    fn one_standalone_stream_at_a_time() {
        let cfg = cfg();
        let s = session(LegacyVersion::V2025_06_18);
        let rx = s.attach_standalone(&cfg).unwrap();
        assert_eq!(s.attach_standalone(&cfg).unwrap_err(), StandaloneBusy);
        drop(rx);
        let (mut rx, _) = s.attach_standalone(&cfg).unwrap();
        assert!(drain(&mut rx).is_empty(), "no priming before 2025-11-25");
        s.send(&cfg, STANDALONE, "{}");
        assert!(drain(&mut rx).contains("data: {}"));
    }

    #[test]
    fn idleness_counts_from_the_last_request_even_with_a_stream_open() {
        let cfg = cfg();
        let s = session(LegacyVersion::V2025_11_25);
        let _rx = s.attach_standalone(&cfg).unwrap();
        let t = Instant::now();
        s.touch(t);
        let idle = Duration::from_millis(100);
        assert!(!s.is_expired(t + Duration::from_millis(50), idle));
        assert!(s.is_expired(t + Duration::from_millis(150), idle));
        s.touch(t + Duration::from_millis(140));
        assert!(!s.is_expired(t + Duration::from_millis(150), idle));
    }

    #[test]
    fn close_ends_everything_and_reports_calls() {
        let cfg = cfg();
        let s = session(LegacyVersion::V2025_11_25);
        let (_, (mut rx, end)) = s.open_stream(&cfg).unwrap();
        let (did, (_detached_rx, detached)) = s.open_stream(&cfg).unwrap();
        s.detach_stream(did);
        s.register_call("1", 42);
        let (_, mut reply) = s.begin_client_request().unwrap();
        assert_eq!(s.close(), vec![42]);
        assert!(reply.try_recv().unwrap().is_err());
        drain(&mut rx);
        assert!(rx.try_recv().is_err());
        assert_eq!(end.end_cause(), Some(EndCause::SessionEnded));
        assert_eq!(detached.end_cause(), Some(EndCause::ServerClosed));
        assert!(s.open_stream(&cfg).is_none());
        assert!(s.close().is_empty());
    }

    #[test]
    fn resumption_refuses_bad_overflowing_and_purged_ids() {
        let cfg = SessionConfig {
            event_store: Some(Arc::new(crate::session::InMemoryEventStores {
                limits: crate::session::EventStoreLimits {
                    max_events: 3,
                    ..Default::default()
                },
            })),
            ..cfg()
        };
        let s = session(LegacyVersion::V2025_11_25);
        let (id, (rx, _)) = s.open_stream(&cfg).unwrap();
        drop(rx);
        for n in 1..=5 {
            s.send(&cfg, id, &format!(r#"{{"n":{n}}}"#));
        }
        // Held: 3, 4, 5. From 1, event 2 is gone: refused, not a partial replay.
        assert!(matches!(
            s.resume(&cfg, &format!("{id}-1")),
            Err(ResumeError::Purged(_))
        ));
        let (mut rx, _) = s.resume(&cfg, &format!("{id}-2")).unwrap();
        let replay = drain(&mut rx);
        assert!(replay.contains(r#"{"n":3}"#) && replay.contains(r#"{"n":5}"#));
        for bad in [
            format!("{id}-6"),
            format!("{id}-18446744073709551614"),
            "0-18446744073709551615".to_owned(),
            "0-1".to_owned(),
        ] {
            assert_eq!(
                s.resume(&cfg, &bad).unwrap_err(),
                ResumeError::BadId,
                "{bad}"
            );
        }
    }

    #[test]
    fn subscriptions_are_capped_in_count_and_uri_length() {
        let limits = InputLimits {
            max_subscriptions: 2,
            max_uri_bytes: 8,
            ..Default::default()
        };
        let s = session(LegacyVersion::V2025_11_25);
        s.subscribe(&limits, "a://1").unwrap();
        s.subscribe(&limits, "a://2").unwrap();
        s.subscribe(&limits, "a://2").unwrap();
        assert_eq!(
            s.subscribe(&limits, "a://3"),
            Err(InputLimitError::TooManySubscriptions { max: 2 })
        );
        assert!(matches!(
            s.subscribe(&limits, "a://123456"),
            Err(InputLimitError::UriTooLong { len: 10, max: 8 })
        ));
        s.unsubscribe("a://1");
        s.subscribe(&limits, "a://3").unwrap();
        assert!(s.is_subscribed("a://3") && !s.is_subscribed("a://1"));
        let d = InputLimits::default();
        assert!(d.check_client_info(100, 100, Some("c"), Some("1")).is_ok());
        assert!(d.check_client_info(3 << 20, 0, None, None).is_err());
        assert!(d
            .check_client_info(2, 2, Some(&"n".repeat(257)), None)
            .is_err());
    }

    #[test]
    fn a_reader_that_falls_behind_is_detached_and_can_resume() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let cfg = SessionConfig {
            max_stream_backlog: BacklogLimits {
                per_stream: 1000,
                total: usize::MAX,
            },
            on_slow_consumer: SlowConsumerHook(Some(Arc::new(move |sid: &str, stream| {
                seen2.lock().push((sid.to_owned(), stream));
            }))),
            ..cfg()
        };
        let s = session(LegacyVersion::V2025_06_18);
        let (mut rx, end) = s.attach_standalone(&cfg).unwrap();
        let msg = format!(r#"{{"pad":"{}"}}"#, "p".repeat(100));
        // A reader that keeps up is never detached.
        for _ in 0..50 {
            s.send(&cfg, STANDALONE, &msg);
            assert!(!drain(&mut rx).is_empty());
        }
        assert!(seen.lock().is_empty());
        // One that stops reading holds at most the cap, then its response ends.
        for _ in 0..100 {
            s.send(&cfg, STANDALONE, &msg);
        }
        assert_eq!(*seen.lock(), vec![("s".to_owned(), STANDALONE)]);
        assert_eq!(end.end_cause(), Some(EndCause::SlowConsumer));
        let queued = drain(&mut rx);
        assert!(queued.len() <= 1000 + 200, "{}", queued.len());
        assert!(rx.try_recv().is_err());
        // Everything stays in the store: the client resumes without loss.
        let last_read = queued
            .lines()
            .filter_map(|l| l.strip_prefix("id: "))
            .next_back()
            .unwrap()
            .to_owned();
        let (mut rx, _) = s.resume(&cfg, &last_read).unwrap();
        assert_eq!(
            drain(&mut rx).matches("event: message").count()
                + queued.matches("event: message").count(),
            100
        );
    }
}

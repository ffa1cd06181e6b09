//! `Core`: the state every request shares (configuration, dispatcher, session table, tracker,
//! calls in flight, listen streams, the callback host) and what a callback may do while it
//! runs. It knows nothing of sockets: the service (`super::service`) feeds it requests and the
//! server (`super::server`) runs its tasks. See docs/architecture.md.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use serde_json::{json, Value};

use super::calls::{CallbackHost, Calls, Invocation, Route};
use super::config::ServerConfig;
use super::listen::Listeners;
use crate::monitor::{CloseReason, MonitorSink, Tracker, TrackerConfig};
use crate::protocol::logging::log_level_rank;
use crate::protocol::request_state::StateKeys;
use crate::protocol::{jsonrpc, sse, CallError, Dispatcher, Era};
use crate::session::{InMemorySessions, Session, SessionStore, STANDALONE};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("invalid option: {0}")]
    Option(String),
}

/// The replaceable parts of a core; today's in-memory ones by default.
pub struct Stores {
    pub sessions: Arc<dyn SessionStore>,
    /// The host's token verifier, for `auth` without `jwt`.
    pub verifier: Option<Arc<dyn crate::auth::TokenVerifier>>,
    /// Built by the server once the port is known (the default `resource` names it).
    pub authenticator: Option<Arc<crate::auth::Authenticator>>,
}

impl Default for Stores {
    fn default() -> Self {
        Self {
            sessions: Arc::new(InMemorySessions::default()),
            verifier: None,
            authenticator: None,
        }
    }
}

/// The cluster-wide connection view (`?scope=cluster` of internalStats), when this instance
/// shares a store with others (docs/deployment.md).
pub trait ClusterView: Send + Sync {
    /// `ClusterStats` as JSON; during a store outage, the local view flagged `degraded`.
    fn cluster_stats(&self) -> Pin<Box<dyn Future<Output = Value> + Send + '_>>;
}

/// What another instance needs to serve a 2025 session it did not open (docs/deployment.md).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    pub version: String,
    pub capabilities: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_version: Option<String>,
    /// The authorized subject that opened it: only that subject may use it, anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// `logging/setLevel`'s minimum severity (0 = debug … 7 = emergency).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<u8>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<String>,
}

impl SessionRecord {
    /// What a session holds now, as another instance needs it.
    pub fn of(session: &Session) -> Self {
        Self {
            version: session.version.as_str().to_owned(),
            capabilities: session.client_capabilities.to_string(),
            client_name: session.client_name.as_deref().map(str::to_owned),
            client_version: session.client_version.as_deref().map(str::to_owned),
            owner: session.owner().map(str::to_owned),
            log_level: session.log_level(),
            subscriptions: session.subscriptions(),
        }
    }
}

/// Why a stream opened on another instance cannot be resumed here.
#[derive(Debug, thiserror::Error)]
pub enum RemoteResumeError {
    #[error("{0}")]
    Purged(crate::session::Purged),
    #[error("the shared store is unavailable")]
    Unavailable,
}

/// SSE frames of a resumed stream.
pub type FrameReceiver = tokio::sync::mpsc::UnboundedReceiver<crate::session::Frame>;

/// 2025 sessions kept where every instance can read them, when this instance shares a store.
pub trait SessionDirectory: Send + Sync {
    /// Records a new session (awaited before `initialize` is answered, so the client's next
    /// request may land anywhere). A failure is logged; the session then lives here only.
    fn save<'a>(
        &'a self,
        id: &'a str,
        record: SessionRecord,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
    /// A session another instance opened; `None` when unknown or expired, `Unavailable`
    /// when the store cannot be asked now.
    fn load<'a>(
        &'a self,
        id: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Option<SessionRecord>, RemoteResumeError>> + Send + 'a>>;
    /// The session changed (log level, subscriptions): the shared record follows, in order.
    fn update(&self, id: &str, record: SessionRecord);
    /// Replays a request stream another instance wrote, from the shared event log, then
    /// follows what that instance still writes to it until the stream ends.
    fn resume_remote(
        &self,
        session: Arc<Session>,
        last: crate::session::EventId,
    ) -> Pin<Box<dyn Future<Output = Result<FrameReceiver, RemoteResumeError>> + Send + '_>>;
    /// A server→client request of a session here waits for its answer: an answer that
    /// reaches another instance is sent on to this one (awaited before the request goes out).
    fn awaiting<'a>(
        &'a self,
        session: &'a str,
        request: u64,
        ttl: Duration,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
    /// An answer nobody here waits for: to the instance that does, if any.
    fn forward_reply(&self, session: &str, request: u64, reply: &Result<String, String>);
    /// A `notifications/cancelled` for a request not running here: to where it runs.
    fn forward_cancel(&self, session: &str, request_id: &str, reason: Option<&str>);
    /// The session was used: its shared lifetime starts again.
    fn touch(&self, id: &str);
    /// The client deleted the session: forget it and end it on every instance.
    fn ended(&self, id: &str);
}

/// State shared by every request.
pub struct Core {
    pub cfg: ServerConfig,
    pub dispatcher: Dispatcher,
    pub sessions: Arc<dyn SessionStore>,
    pub tracker: Tracker,
    pub calls: Calls,
    pub listeners: Listeners,
    host: RwLock<Option<Arc<dyn CallbackHost>>>,
    closing: AtomicBool,
    /// Per-server key sealing multi round-trip `requestState`.
    pub state_keys: StateKeys,
    /// The bearer-token check, when `auth` is set.
    pub auth: Option<Arc<crate::auth::Authenticator>>,
    /// Weak: the server owns the cluster, which owns the core.
    cluster: OnceLock<Weak<dyn ClusterView>>,
    directory: OnceLock<Weak<dyn SessionDirectory>>,
    /// Bound by the shared store when it starts: where stored events are copied.
    pub event_mirror: crate::session::MirrorSlot,
}

impl Core {
    pub fn new(
        cfg: ServerConfig,
        dispatcher: Dispatcher,
        host: Arc<dyn CallbackHost>,
        sinks: Vec<Arc<dyn MonitorSink>>,
        stores: Stores,
    ) -> Result<Arc<Self>, StartError> {
        let mut cfg = cfg;
        // A stream detached for a slow reader is reported like a refusal: a monitor event and
        // a stdout line with reason `slow_consumer` (docs/hardening.md).
        let core_cell: Arc<std::sync::OnceLock<std::sync::Weak<Core>>> = Arc::default();
        let cell = core_cell.clone();
        cfg.session.on_slow_consumer =
            crate::session::SlowConsumerHook(Some(Arc::new(move |sid: &str, _stream| {
                if let Some(core) = cell.get().and_then(std::sync::Weak::upgrade) {
                    let ip = core.tracker.info(sid).map(|i| i.client_ip);
                    core.tracker
                        .reject("slow_consumer", ip.as_deref().unwrap_or(""));
                }
            })));
        let tracker = Tracker::new(TrackerConfig {
            max_connections: cfg.max_connections,
            max_per_client: cfg.max_connections_per_client,
            evict_min_idle: crate::monitor::tracker::EVICT_MIN_IDLE,
        });
        for s in sinks {
            tracker.add_sink(s);
        }
        // With a shared store, what sessions store is also copied where other instances can
        // replay it; the copy starts once the store is up.
        let event_mirror = crate::session::MirrorSlot::default();
        if cfg.shared.is_some() {
            if let Some(inner) = cfg.session.event_store.take() {
                cfg.session.event_store = Some(Arc::new(crate::session::MirroredEventStores {
                    inner,
                    mirror: event_mirror.clone(),
                }));
            }
        }
        let state_keys = StateKeys::from_base64(&cfg.request_state_keys)
            .map_err(|e| StartError::Option(e.to_string()))?;
        let calls = Calls::new(cfg.max_response_bytes_in_flight);
        let core = Arc::new(Core {
            cfg,
            dispatcher,
            sessions: stores.sessions,
            tracker,
            calls,
            listeners: Listeners::default(),
            host: RwLock::new(Some(host)),
            closing: AtomicBool::new(false),
            state_keys,
            auth: stores.authenticator,
            cluster: OnceLock::new(),
            directory: OnceLock::new(),
            event_mirror,
        });
        core.tracker
            .set_evictor(Some(Arc::new(EvictSession(Arc::downgrade(&core)))));
        let _ = core_cell.set(Arc::downgrade(&core));
        Ok(core)
    }

    pub fn set_cluster(&self, view: Weak<dyn ClusterView>) {
        let _ = self.cluster.set(view);
    }

    pub fn cluster(&self) -> Option<Arc<dyn ClusterView>> {
        self.cluster.get().and_then(Weak::upgrade)
    }

    pub fn set_directory(&self, directory: Weak<dyn SessionDirectory>) {
        let _ = self.directory.set(directory);
    }

    pub fn directory(&self) -> Option<Arc<dyn SessionDirectory>> {
        self.directory.get().and_then(Weak::upgrade)
    }

    pub fn host(&self) -> Option<Arc<dyn CallbackHost>> {
        self.host.read().clone()
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    pub fn invoke(&self, inv: Invocation) -> bool {
        match &*self.host.read() {
            Some(h) if !self.is_closing() => h.invoke(inv),
            _ => false,
        }
    }

    pub fn abort(&self, call_id: u64, reason: &str) {
        if let Some(h) = self.host() {
            h.abort(call_id, reason);
        }
    }

    /// A call's client went away or cancelled it: it resolves as cancelled (no answer is
    /// sent), then the host aborts its `ctx.signal`.
    pub fn cancel_call(&self, call_id: u64, reason: &str) {
        self.calls.resolve(call_id, Err(CallError::Cancelled));
        self.abort(call_id, reason);
    }

    /// Ends a session once, for any reason, and reports it.
    pub fn end_session(&self, session: &Session, reason: CloseReason) {
        for call in session.close() {
            self.cancel_call(call, "session closed");
        }
        self.tracker.close(&session.id, reason);
    }

    /// Closes a session by id (the host's `closeSession`).
    pub fn close_session(&self, id: &str) -> bool {
        match self.sessions.remove(id) {
            Some(s) => {
                self.end_session(&s, CloseReason::Closed);
                true
            }
            None => {
                // A sessionless client's record can be closed too.
                self.listeners.end_client(id);
                self.tracker.close(id, CloseReason::Closed)
            }
        }
    }

    fn send_routed(&self, route: &Route, message: &str) -> bool {
        match route {
            Route::Session {
                session,
                stream,
                json_mode,
            } => !*json_mode && session.send(&self.cfg.session, *stream, message),
            Route::Direct {
                tx,
                backlog,
                client,
                ..
            } => match tx {
                Some(_) if backlog.is_tripped() => false,
                Some(tx) => {
                    let frame = sse::message(None, message);
                    if backlog.would_exceed(frame.len(), self.cfg.session.max_stream_backlog) {
                        // A reader this far behind gets no more notifications; its answer
                        // still goes out, and the write timeout drops it if it never reads.
                        if backlog.trip() {
                            backlog.set_end(crate::session::backlog::EndCause::SlowConsumer);
                            let ip = self.tracker.info(client).map(|i| i.client_ip);
                            self.tracker
                                .reject("slow_consumer", ip.as_deref().unwrap_or(""));
                        }
                        return false;
                    }
                    tx.send(backlog.frame(frame)).is_ok()
                }
                None => false,
            },
        }
    }

    /// `ctx.sendProgress`: a progress notification on the call's stream, when the request
    /// carried a progress token.
    pub fn send_progress(
        &self,
        call_id: u64,
        progress: f64,
        total: Option<f64>,
        message: Option<String>,
    ) -> bool {
        let Some(view) = self.calls.view(call_id) else {
            return false;
        };
        let Some(token) = view.progress_token else {
            return false;
        };
        let mut params = json!({ "progressToken": token, "progress": progress });
        if let Value::Object(m) = &mut params {
            if let Some(t) = total {
                m.insert("total".into(), json!(t));
            }
            if let Some(msg) = message {
                m.insert("message".into(), Value::String(msg));
            }
        }
        let n = jsonrpc::notification("notifications/progress", Some(&params.to_string()));
        self.send_routed(&view.route, &n)
    }

    /// `ctx.log`: a log notification, if the level passes the client's filter.
    pub fn log(&self, call_id: u64, level: &str, data: Value, logger: Option<String>) -> bool {
        let Some(rank) = log_level_rank(level) else {
            return false;
        };
        let Some(view) = self.calls.view(call_id) else {
            return false;
        };
        let admitted = match &view.route {
            Route::Session { session, .. } => session.log_level().is_none_or(|min| rank >= min),
            Route::Direct { log_level, .. } => log_level.is_some_and(|min| rank >= min),
        };
        if !admitted {
            return false;
        }
        let mut params = json!({ "level": level, "data": data });
        if let (Some(l), Value::Object(m)) = (logger, &mut params) {
            m.insert("logger".into(), Value::String(l));
        }
        let n = jsonrpc::notification("notifications/message", Some(&params.to_string()));
        self.send_routed(&view.route, &n)
    }

    /// `ctx.request`: a server→client request on a 2025 session; the client's result (JSON
    /// text) or why there is none.
    pub async fn client_request(
        &self,
        call_id: u64,
        method: &str,
        params: Option<String>,
    ) -> Result<String, CallError> {
        let view = self.calls.view(call_id).ok_or(CallError::Finished)?;
        let Route::Session {
            session,
            stream,
            json_mode,
        } = view.route
        else {
            return Err(CallError::NotInThisEra);
        };
        self.session_request(
            &session,
            if json_mode { STANDALONE } else { stream },
            method,
            params,
        )
        .await
    }

    /// Sends a request to a session's client on `stream` and waits for its answer.
    pub async fn session_request(
        &self,
        session: &Session,
        stream: u64,
        method: &str,
        params: Option<String>,
    ) -> Result<String, CallError> {
        let (id, rx) = session
            .begin_client_request()
            .ok_or(CallError::SessionClosed)?;
        if let Some(dir) = self.directory() {
            let wait = self
                .cfg
                .callback_timeout
                .unwrap_or(Duration::from_secs(300));
            dir.awaiting(&session.id, id, wait).await;
        }
        let rid = jsonrpc::RequestId::from_number(id);
        let msg = jsonrpc::request(&rid, method, params.as_deref());
        if !session.send(&self.cfg.session, stream, &msg) {
            session.abandon_client_request(id);
            return Err(CallError::NoStream);
        }
        let wait = self
            .cfg
            .callback_timeout
            .unwrap_or(Duration::from_secs(300));
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err(CallError::SessionClosed),
            Err(_) => {
                session.abandon_client_request(id);
                Err(CallError::ClientTimedOut)
            }
        }
    }

    /// `ctx.closeStream`: end the call's HTTP response now; the client resumes it later.
    pub fn close_stream(&self, call_id: u64) -> bool {
        match self.calls.view(call_id).map(|v| v.route) {
            Some(Route::Session {
                session,
                stream,
                json_mode: false,
            }) if self.cfg.session.event_store.is_some() => {
                session.detach_stream(stream);
                true
            }
            _ => false,
        }
    }

    /// A server notification to every 2025 session (on its GET stream) and to the listen
    /// streams that asked for it.
    pub fn broadcast(&self, method: &str, params: Option<&str>, resource_uri: Option<&str>) {
        let msg = jsonrpc::notification(method, params);
        for s in self.sessions.all() {
            if resource_uri.is_none_or(|u| s.is_subscribed(u)) {
                s.send(&self.cfg.session, STANDALONE, &msg);
            }
        }
        for client in self.listeners.notify(method, params, resource_uri) {
            let ip = self.tracker.info(&client).map(|i| i.client_ip);
            self.tracker
                .reject("slow_consumer", ip.as_deref().unwrap_or(""));
        }
    }

    /// The host's `setTools` / `setPrompts` / `setResources`: swaps one listing (items as a
    /// JSON array text) and announces `list_changed`. Nothing changes when the items are
    /// invalid.
    pub fn set_listing(
        &self,
        kind: &str,
        items_json: &str,
        templates_json: Option<&str>,
    ) -> Result<(), ListingError> {
        use crate::protocol::catalog::{Listing, DEFAULT_PAGE_SIZE};
        let parse = |json: &str, key: &str, what: &str| {
            let items = serde_json::from_str(json)
                .map_err(|e| ListingError::Invalid(format!("{what}: {e}")))?;
            Listing::new(items, key, DEFAULT_PAGE_SIZE)
                .map_err(|e| ListingError::Invalid(format!("{what}: {e}")))
        };
        let (key, method) = match kind {
            "tools" => ("name", "notifications/tools/list_changed"),
            "prompts" => ("name", "notifications/prompts/list_changed"),
            "resources" => ("uri", "notifications/resources/list_changed"),
            other => return Err(ListingError::UnknownKind(other.to_owned())),
        };
        let listing = parse(items_json, key, kind)?;
        let templates = templates_json
            .map(|t| parse(t, "uriTemplate", "resourceTemplates"))
            .transpose()?;
        let mut next = (*self.dispatcher.catalog()).clone();
        match kind {
            "tools" => {
                next.tools = listing;
                // Refuse invalid x-mcp-header annotations and schemas before anything changes.
                next.index_tools(next.schemas.policy())
                    .map_err(ListingError::Invalid)?;
            }
            "prompts" => next.prompts = listing,
            _ => {
                next.resources = listing;
                if let Some(t) = templates {
                    next.resource_templates = t;
                }
            }
        }
        self.dispatcher.update_catalog(|_| next);
        self.broadcast(method, None, None);
        Ok(())
    }

    /// Marks the core closing; false when it already was.
    pub(super) fn begin_close(&self) -> bool {
        !self.closing.swap(true, Ordering::AcqRel)
    }

    /// Ends every session (reported as `shutdown`), listen stream, sessionless client and
    /// call. New requests are refused from here on.
    pub fn shut_down(&self) {
        self.closing.store(true, Ordering::Release);
        if let Some(m) = &self.cfg.metrics {
            m.set_closing();
        }
        for s in self.sessions.drain() {
            self.end_session(&s, CloseReason::Shutdown);
        }
        self.listeners.close_all();
        for id in self.tracker.ids(Era::Modern) {
            self.tracker.close(&id, CloseReason::Shutdown);
        }
        self.abort_calls();
    }

    /// Aborts every call still waiting (shutdown, and calls that raced with it).
    pub fn abort_calls(&self) {
        for call in self.calls.drain() {
            self.abort(call, "server closing");
        }
    }

    /// Lets go of the callback host and the monitor sinks (the last step of closing).
    pub fn release(&self) {
        self.host.write().take();
        self.tracker.clear_sinks();
        self.tracker.set_evictor(None);
    }

    /// Ends sessions and sessionless clients that fell silent.
    pub fn reap(&self, now: Instant) {
        for s in self.sessions.take_expired(now, self.cfg.session_idle) {
            tracing::debug!(session = %s.id, "session idle, closing");
            self.end_session(&s, CloseReason::IdleTimeout);
        }
        for id in self.tracker.idle_modern(now, self.cfg.client_idle) {
            self.tracker.close(&id, CloseReason::IdleTimeout);
        }
    }

    pub fn expire_events(&self, now: Instant) {
        for s in self.sessions.all() {
            s.expire_events(&self.cfg.session, now);
        }
        self.tracker.strings.sweep();
    }
}

/// Why `set_listing` refused a listing.
#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    #[error("unknown listing {0}")]
    UnknownKind(String),
    #[error("{0}")]
    Invalid(String),
}

/// Ends what the tracker evicts: a 2025 session with everything it holds, or a sessionless
/// client's listen streams.
struct EvictSession(std::sync::Weak<Core>);

impl crate::monitor::Evictor for EvictSession {
    fn evict(&self, id: &str) {
        let Some(core) = self.0.upgrade() else {
            return;
        };
        tracing::debug!(connection = %id, "evicted to make room for another client");
        match core.sessions.remove(id) {
            Some(s) => core.end_session(&s, CloseReason::Evicted),
            None => {
                core.listeners.end_client(id);
                core.tracker.close(id, CloseReason::Evicted);
            }
        }
    }
}

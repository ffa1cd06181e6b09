//! The running server: accept loop, shared state, the reaper, and shutdown.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::{Mutex, RwLock};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::calls::{CallbackHost, Calls, Invocation, Route};
use super::config::ServerConfig;
use super::listen::Listeners;
use super::router;
use crate::monitor::{CloseReason, MonitorSink, Tracker, TrackerConfig};
use crate::protocol::jsonrpc;
use crate::protocol::Dispatcher;
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

/// Log levels in severity order (RFC 5424 names, as MCP uses them).
pub const LOG_LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

pub fn log_level_rank(level: &str) -> Option<u8> {
    LOG_LEVELS.iter().position(|l| *l == level).map(|p| p as u8)
}

/// State shared by every connection task.
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
    pub state_key: [u8; 32],
}

impl Core {
    pub fn host(&self) -> Option<Arc<dyn CallbackHost>> {
        self.host.read().clone()
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    pub fn invoke(&self, inv: Invocation) -> bool {
        match self.host() {
            Some(h) if !self.is_closing() => h.invoke(inv),
            _ => false,
        }
    }

    pub fn abort(&self, call_id: u64, reason: &str) {
        if let Some(h) = self.host() {
            h.abort(call_id, reason);
        }
    }

    /// Ends a session once, for any reason, and reports it.
    pub fn end_session(&self, session: &Session, reason: CloseReason) {
        for call in session.close() {
            self.calls
                .resolve(call, Err(crate::protocol::CallbackFailure::Cancelled));
            self.abort(call, "session closed");
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
            } => {
                if *json_mode {
                    false
                } else {
                    session.send(&self.cfg.session, *stream, message)
                }
            }
            Route::Direct { tx, .. } => match tx {
                Some(tx) => tx.send(super::listen::sse_data(message)).is_ok(),
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

    /// `ctx.request`: a server→client request on a 2025 session; resolves with the client's
    /// result (JSON text) or fails with its error (JSON text).
    pub async fn client_request(
        &self,
        call_id: u64,
        method: &str,
        params: Option<String>,
    ) -> Result<String, String> {
        let view = self.calls.view(call_id).ok_or_else(|| {
            r#"{"code":-32603,"message":"the request has already finished"}"#.to_owned()
        })?;
        let Route::Session {
            session,
            stream,
            json_mode,
        } = view.route
        else {
            return Err(r#"{"code":-32603,"message":"ctx.request is not available in the 2026-07-28 era: return an InputRequiredResult instead"}"#.to_owned());
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
    ) -> Result<String, String> {
        let (id, rx) = session
            .begin_client_request()
            .ok_or_else(|| r#"{"code":-32000,"message":"session closed"}"#.to_owned())?;
        let rid = jsonrpc::RequestId::from_number(id);
        let msg = jsonrpc::request(&rid, method, params.as_deref());
        if !session.send(&self.cfg.session, stream, &msg) {
            session.abandon_client_request(id);
            return Err(
                r#"{"code":-32603,"message":"no stream to send the request on"}"#.to_owned(),
            );
        }
        let wait = self
            .cfg
            .callback_timeout
            .unwrap_or(Duration::from_secs(300));
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err(r#"{"code":-32000,"message":"session closed"}"#.to_owned()),
            Err(_) => {
                session.abandon_client_request(id);
                Err(r#"{"code":-32001,"message":"the client did not answer in time"}"#.to_owned())
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
        self.listeners.notify(method, params, resource_uri);
    }

    fn reap(&self, now: Instant) {
        for s in self.sessions.take_expired(now, self.cfg.session_idle) {
            tracing::debug!(session = %s.id, "session idle, closing");
            self.end_session(&s, CloseReason::IdleTimeout);
        }
        for id in self.tracker.idle_modern(now, self.cfg.client_idle) {
            self.tracker.close(&id, CloseReason::IdleTimeout);
        }
    }

    fn expire_events(&self, now: Instant) {
        for s in self.sessions.all() {
            s.expire_events(&self.cfg.session, now);
        }
        self.tracker.strings.sweep();
    }
}

/// A running server. Dropping it without `close()` leaves tasks running until the runtime ends.
pub struct McpServer {
    core: Arc<Core>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl McpServer {
    pub async fn start(
        cfg: ServerConfig,
        dispatcher: Dispatcher,
        host: Arc<dyn CallbackHost>,
        sinks: Vec<Arc<dyn MonitorSink>>,
    ) -> Result<Self, StartError> {
        let addr = format!("{}:{}", cfg.host, cfg.port);
        let bind_addr = if cfg.host.contains(':') && !cfg.host.starts_with('[') {
            format!("[{}]:{}", cfg.host, cfg.port)
        } else {
            addr.clone()
        };
        let listener = TcpListener::bind(&bind_addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let local = listener.local_addr().map_err(|source| StartError::Bind {
            addr: bind_addr.clone(),
            source,
        })?;
        let tracker = Tracker::new(TrackerConfig {
            max_connections: cfg.max_connections,
        });
        for s in sinks {
            tracker.add_sink(s);
        }
        let mut state_key = [0u8; 32];
        getrandom::fill(&mut state_key).map_err(|e| StartError::Option(e.to_string()))?;
        let core = Arc::new(Core {
            cfg,
            dispatcher,
            sessions: Arc::new(InMemorySessions::default()),
            tracker,
            calls: Calls::default(),
            listeners: Listeners::default(),
            host: RwLock::new(Some(host)),
            closing: AtomicBool::new(false),
            state_key,
        });
        let (shutdown, rx) = watch::channel(false);
        // Inside the server's log span (when a logger is set), so its events reach that
        // server's logger only.
        let span = core
            .cfg
            .log_span
            .clone()
            .unwrap_or_else(tracing::Span::none);
        let accept =
            tokio::spawn(accept_loop(core.clone(), listener, rx.clone()).instrument(span.clone()));
        let reaper = tokio::spawn(reaper(core.clone(), rx).instrument(span));
        Ok(Self {
            core,
            addr: local,
            shutdown,
            tasks: Mutex::new(vec![accept, reaper]),
        })
    }

    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, ends every session (reported as `shutdown`), stream and call, waits
    /// for every task, then releases the callback host and the monitor sinks.
    pub async fn close(&self) {
        if self.core.closing.swap(true, Ordering::AcqRel) {
            // Someone else is closing; wait for them.
            let mut rx = self.shutdown.subscribe();
            while self.tasks.lock().iter().any(|t| !t.is_finished()) {
                tokio::select! {
                    _ = rx.changed() => {}
                    _ = tokio::time::sleep(Duration::from_millis(10)) => {}
                }
            }
            return;
        }
        let _ = self.shutdown.send(true);
        let core = &self.core;
        for s in core.sessions.drain() {
            core.end_session(&s, CloseReason::Shutdown);
        }
        core.listeners.close_all();
        for id in core.tracker.ids(crate::protocol::Era::Modern) {
            core.tracker.close(&id, CloseReason::Shutdown);
        }
        for call in core.calls.drain() {
            core.abort(call, "server closing");
        }
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *self.tasks.lock());
        for t in tasks {
            let _ = t.await;
        }
        // Calls that raced with shutdown.
        for call in core.calls.drain() {
            core.abort(call, "server closing");
        }
        core.host.write().take();
        core.tracker.clear_sinks();
    }
}

async fn accept_loop(core: Arc<Core>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        // Out of descriptors and the like: back off instead of spinning.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(error = %e, "TCP_NODELAY");
                }
                let core = core.clone();
                let svc = service_fn(move |req| {
                    let core = core.clone();
                    async move { Ok::<_, std::convert::Infallible>(router::handle(core, peer, req).await) }
                });
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(30))
                    .serve_connection(TokioIo::new(stream), svc);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }.in_current_span());
            }
        }
    }
    drop(listener);
    // In-flight responses finish; idle keep-alive connections close at once. Streams were
    // ended by close(); the bound protects against a client that never reads.
    if tokio::time::timeout(Duration::from_secs(5), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after 5 s; closing anyway");
    }
}

async fn reaper(core: Arc<Core>, mut shutdown: watch::Receiver<bool>) {
    let shortest = core.cfg.session_idle.min(core.cfg.client_idle);
    let period = (shortest / 4).clamp(Duration::from_millis(20), Duration::from_millis(500));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_expiry = Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tick.tick() => {
                let now = Instant::now();
                core.reap(now);
                if now.duration_since(last_expiry) > Duration::from_secs(5) {
                    core.expire_events(now);
                    last_expiry = now;
                }
            }
        }
    }
}

//! Several instances on one Redis (the `shared` option; docs/deployment.md): a bus that carries
//! list changes and resource updates to every instance, and a heartbeat through which each
//! instance publishes its connection records for the cluster-wide view.
//!
//! One multiplexed `ConnectionManager` carries the commands; one pub/sub connection carries
//! the bus and is re-opened (and resubscribed, then resynchronised) whenever it drops. Redis
//! being away never fails a request: local delivery happens first, Redis is best effort, and
//! what an outage lost is caught up when the connection comes back.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

use super::config::SharedConfig;
use super::core::{
    ClusterView, Core, FrameReceiver, RemoteResumeError, SessionDirectory, SessionRecord,
    StartError,
};
use crate::monitor::CloseReason;
use crate::session::{EventId, EventMirror, Purged, Session};

/// How long one Redis round trip may take before it counts as an outage.
const OP_TIMEOUT: Duration = Duration::from_millis(1_500);
const RECONNECT_DELAY: Duration = Duration::from_millis(500);
const LISTING_KINDS: [&str; 3] = ["tools", "prompts", "resources"];

#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis is not connected")]
    NotConnected,
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
}

/// What travels on the bus (and, for listings, is kept under `{prefix}:listing:{kind}` so an
/// instance that missed it catches up).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum BusMessage {
    #[serde(rename_all = "camelCase")]
    Listing {
        from: String,
        /// `{instanceId}:{seq}`: which change this is, so it is applied once.
        id: String,
        kind: String,
        items: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        templates: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    ResourceUpdated { from: String, uri: String },
    /// A 2025 session's log level or subscriptions changed (the record, as text): copies
    /// held elsewhere follow, so their notifications honour it.
    #[serde(rename_all = "camelCase")]
    SessionChanged {
        from: String,
        id: String,
        record: String,
    },
    /// A 2025 session was deleted: every instance that holds a copy ends it.
    #[serde(rename_all = "camelCase")]
    SessionEnded { from: String, id: String },
    /// A client's answer to a server→client request, to the instance that asked (on its
    /// own channel).
    #[serde(rename_all = "camelCase")]
    Reply {
        session: String,
        request: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<String>,
        /// The JSON-RPC error object, as text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// `notifications/cancelled` for a request that runs on another instance (rare: on the
    /// bus, every instance checks whether it runs there).
    #[serde(rename_all = "camelCase")]
    Cancel {
        from: String,
        session: String,
        request_id: String,
        reason: String,
    },
}

pub struct Cluster {
    core: Arc<Core>,
    cfg: SharedConfig,
    client: redis::Client,
    conn: Mutex<Option<ConnectionManager>>,
    started_at: u64,
    seq: AtomicU64,
    /// The last listing change applied or made here, per kind.
    applied: Mutex<HashMap<String, String>>,
    /// Local listing changes Redis has not taken yet (published on reconnect).
    pending: Mutex<HashMap<String, BusMessage>>,
    outgoing: mpsc::UnboundedSender<BusMessage>,
    /// Whether the last Redis operation failed (to log an outage once, not every tick).
    down: AtomicBool,
    /// When each session's shared lifetime was last refreshed from here.
    touched: Mutex<HashMap<String, std::time::Instant>>,
    /// Event log copies and session record updates, written in order by one task.
    log: mpsc::UnboundedSender<LogOp>,
    /// Subscribes and unsubscribes the wake-up channels of followed streams.
    sink: Mutex<Option<redis::aio::PubSubSink>>,
    /// Wake-up channel → who follows that stream here.
    tails: Mutex<HashMap<String, Vec<Weak<Notify>>>>,
    me: Weak<Cluster>,
    shutdown: watch::Receiver<bool>,
    /// The other instances' rows as last seen, to tell their connections that they are gone
    /// when their heartbeat expires.
    seen: Mutex<HashMap<String, Value>>,
    /// Since when Redis has answered without a break: a heartbeat missing right after an
    /// outage (or a Redis restart) is not yet a lost instance.
    reachable_since: Mutex<Option<std::time::Instant>>,
    /// No outage yet: the grace above does not apply.
    steady_from_start: AtomicBool,
}

/// One write of the ordered log task.
enum LogOp {
    Event {
        session: Arc<str>,
        id: EventId,
        data: Arc<str>,
    },
    Finished {
        session: Arc<str>,
        stream: u64,
    },
    Record {
        session: String,
        text: String,
    },
    /// One `[MCP_CONNECTION]` line of this instance, for the cluster's event stream.
    Connection {
        line: String,
    },
}

/// What an instance that closed leaves under its row's key (for the row's lifetime), so the
/// others do not take its missing heartbeat for a crash.
const LEFT: &str = "left";

/// Entries kept in `{prefix}:connections` (about: `MAXLEN ~`).
const CONNECTION_EVENTS_KEPT: usize = 10_000;

/// Puts this instance's monitor events on the cluster's event stream. Holds the cluster
/// weakly: the core's tracker owns its sinks and the cluster owns the core.
struct ConnectionEventsSink(Weak<Cluster>);

impl crate::monitor::MonitorSink for ConnectionEventsSink {
    fn event(&self, event: &crate::monitor::MonitorEvent, counts: crate::monitor::Counts) {
        // A lost instance's connections are put on the stream once, by whichever observer
        // claims the loss (`Cluster::report_lost`), not by every instance that noticed it.
        if let crate::monitor::MonitorEvent::Closed {
            reason: CloseReason::InstanceLost,
            ..
        } = event
        {
            return;
        }
        if let Some(c) = self.0.upgrade() {
            let line = crate::monitor::stdout::event_line(&c.cfg.instance_id, event, counts);
            let _ = c.log.send(LogOp::Connection {
                line: line.trim_end().to_owned(),
            });
        }
    }
}

/// The end-of-stream marker's sequence: after every event of the stream.
const END_SEQ: u64 = u64::MAX;
/// Entries read per `XRANGE`.
const READ_BATCH: usize = 512;
/// A follower re-reads this often even without a wake-up (one lost in a reconnect).
const TAIL_POLL: Duration = Duration::from_millis(1_000);

/// One entry of a stream's shared log.
#[derive(Debug, PartialEq, Eq)]
struct LogEntry {
    seq: u64,
    /// The sequence written before this one on the same stream (0: none): a larger value
    /// than the resume point means entries in between were trimmed.
    prev: u64,
    data: Option<String>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

async fn bounded_raw<T>(f: impl Future<Output = redis::RedisResult<T>>) -> Result<T, SharedError> {
    match tokio::time::timeout(OP_TIMEOUT, f).await {
        Ok(r) => r.map_err(SharedError::from),
        Err(_) => Err(SharedError::Timeout(OP_TIMEOUT)),
    }
}

/// Whether the configured Redis URL (and TLS settings) can be used (checked before the server
/// starts).
pub fn check_url(cfg: &SharedConfig) -> Result<(), StartError> {
    client(cfg).map(|_| ())
}

/// The Redis client: `rediss://` verifies the server against `tls.caFile`'s CAs when given,
/// else the webpki roots, unless `tls.insecure`.
fn client(cfg: &SharedConfig) -> Result<redis::Client, StartError> {
    let bad = |e: redis::RedisError| StartError::Option(format!("shared.redisUrl: {e}"));
    let mut url = cfg.redis_url.clone();
    if cfg.tls_insecure && !url.contains('#') {
        url.push_str("#insecure");
    }
    match &cfg.tls_ca {
        Some(ca) => redis::Client::build_with_tls(
            url.as_str(),
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(ca.clone()),
            },
        )
        .map_err(|e| StartError::Option(format!("shared.tls.caFile: {e}"))),
        None => redis::Client::open(url.as_str()).map_err(bad),
    }
}

impl Cluster {
    /// Starts the bus and the heartbeat; Redis need not be up yet (the tasks keep trying).
    pub fn start(
        core: Arc<Core>,
        cfg: SharedConfig,
        shutdown: watch::Receiver<bool>,
        tasks: &mut Vec<JoinHandle<()>>,
    ) -> Result<Arc<Self>, StartError> {
        let client = client(&cfg)?;
        let (outgoing, rx) = mpsc::unbounded_channel();
        let (log, log_rx) = mpsc::unbounded_channel();
        let stop = shutdown.clone();
        let cluster = Arc::new_cyclic(|me| Cluster {
            core,
            cfg,
            client,
            conn: Mutex::new(None),
            started_at: now_ms(),
            seq: AtomicU64::new(0),
            applied: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            outgoing,
            down: AtomicBool::new(false),
            touched: Mutex::new(HashMap::new()),
            log,
            sink: Mutex::new(None),
            tails: Mutex::new(HashMap::new()),
            me: me.clone(),
            shutdown: stop,
            seen: Mutex::new(HashMap::new()),
            // No grace at start: nothing seen yet can be missing.
            reachable_since: Mutex::new(None),
            steady_from_start: AtomicBool::new(true),
        });
        cluster
            .core
            .tracker
            .add_sink(Arc::new(ConnectionEventsSink(Arc::downgrade(&cluster))));
        let mirror: Arc<dyn EventMirror> = cluster.clone();
        let _ = cluster.core.event_mirror.set(Arc::downgrade(&mirror));
        tasks.push(tokio::spawn(
            cluster.clone().log_writer(log_rx, shutdown.clone()),
        ));
        tasks.push(tokio::spawn(cluster.clone().heartbeat(shutdown.clone())));
        tasks.push(tokio::spawn(cluster.clone().subscriber(shutdown.clone())));
        tasks.push(tokio::spawn(cluster.clone().publisher(rx, shutdown)));
        Ok(cluster)
    }

    pub fn instance_id(&self) -> &str {
        &self.cfg.instance_id
    }

    /// One `[MCP_CONNECTION]` line on the `{prefix}:connections` stream, as `instance` wrote it.
    fn append_connection_event(&self, pipe: &mut redis::Pipeline, instance: &str, line: &str) {
        pipe.cmd("XADD")
            .arg(self.key("connections"))
            .arg("MAXLEN")
            .arg("~")
            .arg(CONNECTION_EVENTS_KEPT)
            .arg("*")
            .arg("instance")
            .arg(instance)
            .arg("line")
            .arg(line)
            .ignore();
    }

    fn key(&self, tail: &str) -> String {
        format!("{}:{}", self.cfg.prefix, tail)
    }

    fn channel(&self) -> String {
        self.key("bus")
    }

    /// This instance's own channel: answers routed to it.
    fn own_channel(&self) -> String {
        self.key(&format!("inst:{}", self.cfg.instance_id))
    }

    fn wait_key(&self, session: &str, request: u64) -> String {
        self.key(&format!("wait:{session}:{request}"))
    }

    fn ttl(&self) -> Duration {
        self.cfg.heartbeat * 3
    }

    /// The command connection, opened on first need; afterwards it reconnects by itself.
    async fn conn(&self) -> Result<ConnectionManager, SharedError> {
        if let Some(c) = self.conn.lock().clone() {
            return Ok(c);
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(OP_TIMEOUT))
            .set_response_timeout(Some(OP_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let c = self
            .bounded(ConnectionManager::new_with_config(
                self.client.clone(),
                config,
            ))
            .await?;
        let mut slot = self.conn.lock();
        Ok(slot.get_or_insert(c).clone())
    }

    /// One Redis operation, bounded in time; a failure is counted (`mcp_shared_store_errors_total`).
    async fn bounded<T>(
        &self,
        f: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, SharedError> {
        let r = bounded_raw(f).await;
        if r.is_err() {
            if let Some(m) = &self.core.cfg.metrics {
                m.shared_store_failed();
            }
        }
        r
    }

    fn note(&self, outcome: &Result<(), SharedError>, what: &str) {
        match outcome {
            Ok(()) => {
                if self.down.swap(false, Ordering::AcqRel) {
                    tracing::info!(instance = %self.cfg.instance_id, "redis reachable again");
                }
            }
            Err(e) => {
                if !self.down.swap(true, Ordering::AcqRel) {
                    tracing::warn!(instance = %self.cfg.instance_id, error = %e, "{what}: redis unreachable; serving locally until it is back");
                }
            }
        }
    }

    /// A local `setTools`/`setPrompts`/`setResources` (already applied here) for the others.
    pub fn publish_listing(&self, kind: &str, items: &str, templates: Option<&str>) {
        let id = format!(
            "{}:{}",
            self.cfg.instance_id,
            self.seq.fetch_add(1, Ordering::Relaxed) + 1
        );
        let msg = BusMessage::Listing {
            from: self.cfg.instance_id.clone(),
            id: id.clone(),
            kind: kind.to_owned(),
            items: items.to_owned(),
            templates: templates.map(str::to_owned),
        };
        self.applied.lock().insert(kind.to_owned(), id);
        self.pending.lock().insert(kind.to_owned(), msg.clone());
        let _ = self.outgoing.send(msg);
    }

    /// A local `notifyResourceUpdated` (already delivered here) for the others.
    pub fn publish_resource_updated(&self, uri: &str) {
        let _ = self.outgoing.send(BusMessage::ResourceUpdated {
            from: self.cfg.instance_id.clone(),
            uri: uri.to_owned(),
        });
    }

    async fn send(&self, msg: &BusMessage) -> Result<(), SharedError> {
        let text = serde_json::to_string(msg).unwrap_or_default();
        let mut c = self.conn().await?;
        if let BusMessage::Listing { kind, .. } = msg {
            let key = self.key(&format!("listing:{kind}"));
            let mut pipe = redis::pipe();
            pipe.set(&key, &text)
                .ignore()
                .publish(self.channel(), &text)
                .ignore();
            self.bounded(pipe.query_async::<()>(&mut c)).await?;
        } else if let BusMessage::SessionEnded { id, .. } = msg {
            // Deleted before it is announced: no instance can rebuild it after hearing of it.
            let mut pipe = redis::pipe();
            pipe.del(self.session_key(id))
                .ignore()
                .publish(self.channel(), &text)
                .ignore();
            self.bounded(pipe.query_async::<()>(&mut c)).await?;
        } else {
            self.bounded(c.publish::<_, _, ()>(self.channel(), &text))
                .await?;
        }
        Ok(())
    }

    /// Sends local changes in the order they were made.
    async fn publisher(
        self: Arc<Self>,
        mut rx: mpsc::UnboundedReceiver<BusMessage>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        loop {
            let msg = tokio::select! {
                _ = shutdown.changed() => break,
                m = rx.recv() => match m { Some(m) => m, None => break },
            };
            let outcome = self.send(&msg).await;
            if outcome.is_ok() {
                if let BusMessage::Listing { kind, id, .. } = &msg {
                    let mut pending = self.pending.lock();
                    if matches!(pending.get(kind), Some(BusMessage::Listing { id: p, .. }) if p == id)
                    {
                        pending.remove(kind);
                    }
                }
            }
            self.note(&outcome, "publish");
        }
    }

    /// Applies a change made on another instance, notifying this instance's clients.
    fn apply(&self, msg: BusMessage) {
        match msg {
            BusMessage::Listing {
                from,
                id,
                kind,
                items,
                templates,
            } => {
                if from == self.cfg.instance_id
                    || self.applied.lock().get(&kind).is_some_and(|a| *a == id)
                {
                    return;
                }
                match self.core.set_listing(&kind, &items, templates.as_deref()) {
                    Ok(()) => {
                        self.applied.lock().insert(kind, id);
                    }
                    Err(e) => tracing::warn!(from = %from, error = %e, "remote listing refused"),
                }
            }
            BusMessage::SessionChanged { from, id, record } => {
                if from == self.cfg.instance_id {
                    return;
                }
                let (Some(s), Ok(r)) = (
                    self.core.sessions.get(&id),
                    serde_json::from_str::<SessionRecord>(&record),
                ) else {
                    return;
                };
                if let Some(level) = r.log_level {
                    s.set_log_level(level);
                }
                for uri in s.subscriptions() {
                    if !r.subscriptions.contains(&uri) {
                        s.unsubscribe(&uri);
                    }
                }
                for uri in &r.subscriptions {
                    // Checked against the caps where it was subscribed.
                    let _ = s.subscribe(&self.core.cfg.session.inputs, uri);
                }
            }
            BusMessage::SessionEnded { from, id } => {
                if from != self.cfg.instance_id {
                    if let Some(s) = self.core.sessions.remove(&id) {
                        self.core.end_session(&s, CloseReason::Deleted);
                    }
                }
            }
            BusMessage::Reply {
                session,
                request,
                result,
                error,
            } => {
                let reply = match (result, error) {
                    (Some(r), _) => Ok(r),
                    (None, e) => Err(crate::protocol::CallError::from_error_object(
                        e.as_deref().unwrap_or("{}"),
                    )),
                };
                if let Some(s) = self.core.sessions.get(&session) {
                    s.complete_client_request(request, reply);
                }
            }
            BusMessage::Cancel {
                from,
                session,
                request_id,
                reason,
            } => {
                if from != self.cfg.instance_id {
                    if let Some(call) = self
                        .core
                        .sessions
                        .get(&session)
                        .and_then(|s| s.call_for_request(&request_id))
                    {
                        self.core.cancel_call(call, &reason);
                    }
                }
            }
            BusMessage::ResourceUpdated { from, uri } => {
                if from != self.cfg.instance_id {
                    let params = json!({ "uri": uri }).to_string();
                    self.core.broadcast(
                        "notifications/resources/updated",
                        Some(&params),
                        Some(&uri),
                    );
                }
            }
        }
    }

    /// After (re)subscribing: publish what Redis missed from here, then take what this
    /// instance missed from the others.
    async fn resync(&self) -> Result<(), SharedError> {
        let pending: Vec<BusMessage> = self.pending.lock().values().cloned().collect();
        for msg in pending {
            self.send(&msg).await?;
            if let BusMessage::Listing { kind, id, .. } = &msg {
                let mut p = self.pending.lock();
                if matches!(p.get(kind), Some(BusMessage::Listing { id: q, .. }) if q == id) {
                    p.remove(kind);
                }
            }
        }
        let mut c = self.conn().await?;
        let keys: Vec<String> = LISTING_KINDS
            .iter()
            .map(|k| self.key(&format!("listing:{k}")))
            .collect();
        let stored: Vec<Option<String>> = self.bounded(c.mget(&keys)).await?;
        for text in stored.into_iter().flatten() {
            match serde_json::from_str::<BusMessage>(&text) {
                Ok(msg) => self.apply(msg),
                Err(e) => tracing::warn!(error = %e, "unreadable stored listing"),
            }
        }
        Ok(())
    }

    async fn subscriber(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let opened = async {
                let mut ps = self.bounded(self.client.get_async_pubsub()).await?;
                self.bounded(ps.subscribe(&[self.channel(), self.own_channel()]))
                    .await?;
                Ok::<_, SharedError>(ps)
            }
            .await;
            match opened {
                Ok(ps) => {
                    let (mut sink, mut stream) = ps.split();
                    // Followed streams' wake-ups again, then every follower reads once: what
                    // was written while the connection was down is not missed.
                    let followed: Vec<String> = self.tails.lock().keys().cloned().collect();
                    for ch in followed {
                        if let Err(e) = self.bounded(sink.subscribe(&ch)).await {
                            tracing::debug!(error = %e, "resubscribing a followed stream failed");
                        }
                    }
                    *self.sink.lock() = Some(sink);
                    self.wake_all();
                    // Subscribed first, then resynchronised: nothing falls in between.
                    let synced = self.resync().await;
                    if let Err(e) = &synced {
                        tracing::warn!(error = %e, "resync after subscribing failed");
                    }
                    self.note(&synced, "resync");
                    let bus = self.channel();
                    let own = self.own_channel();
                    loop {
                        tokio::select! {
                            _ = shutdown.changed() => return,
                            m = stream.next() => match m {
                                Some(m) if m.get_channel_name() == bus || m.get_channel_name() == own => match m.get_payload::<String>().ok().and_then(|t| serde_json::from_str::<BusMessage>(&t).ok()) {
                                    Some(msg) => self.apply(msg),
                                    None => tracing::warn!("unreadable bus message"),
                                },
                                Some(m) => self.wake(m.get_channel_name()),
                                None => break,
                            },
                        }
                    }
                    self.sink.lock().take();
                    let lost: Result<(), SharedError> = Err(SharedError::NotConnected);
                    self.note(&lost, "bus");
                }
                Err(e) => {
                    let failed: Result<(), SharedError> = Err(e);
                    self.note(&failed, "bus");
                }
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(RECONNECT_DELAY) => {}
            }
        }
    }

    /// This instance's row and its connection records, as the heartbeat publishes them.
    fn local_row(&self) -> Value {
        let stats: Value =
            serde_json::from_str(&self.core.tracker.stats_json()).unwrap_or_default();
        json!({
            "instanceId": self.cfg.instance_id,
            "startedAt": self.started_at,
            "lastSeen": now_ms(),
            "active": stats.get("activeConnections").cloned().unwrap_or(json!(0)),
            "total": stats.get("totalConnections").cloned().unwrap_or(json!(0)),
            "max": stats.get("maxConnections").cloned().unwrap_or(json!(0)),
            "connections": stats.get("connections").cloned().unwrap_or(json!([])),
        })
    }

    async fn beat(&self) -> Result<(), SharedError> {
        let mut c = self.conn().await?;
        let row = self.local_row().to_string();
        let mut pipe = redis::pipe();
        pipe.sadd(self.key("instances"), &self.cfg.instance_id)
            .ignore()
            .pset_ex(
                self.key(&format!("instance:{}", self.cfg.instance_id)),
                row,
                self.ttl().as_millis() as u64,
            )
            .ignore();
        self.bounded(pipe.query_async::<()>(&mut c)).await
    }

    async fn heartbeat(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(self.cfg.heartbeat);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = tick.tick() => {
                    let mut outcome = self.beat().await;
                    if outcome.is_ok() {
                        outcome = self.observe().await;
                    }
                    if outcome.is_err() {
                        self.reachable_since.lock().take();
                        self.steady_from_start.store(false, Ordering::Relaxed);
                    }
                    self.note(&outcome, "heartbeat");
                }
            }
        }
        // Leave the view at once instead of after the TTL, leaving a tombstone for its
        // lifetime so the others know this was no crash.
        let leave = async {
            let mut c = self.conn().await?;
            let mut pipe = redis::pipe();
            pipe.srem(self.key("instances"), &self.cfg.instance_id)
                .ignore()
                .pset_ex(
                    self.key(&format!("instance:{}", self.cfg.instance_id)),
                    LEFT,
                    self.ttl().as_millis() as u64,
                )
                .ignore();
            self.bounded(pipe.query_async::<()>(&mut c)).await
        };
        if let Err(e) = leave.await {
            tracing::debug!(error = %e, "could not leave the cluster view");
        }
        self.conn.lock().take();
    }

    /// The other live instances' rows; instances whose heartbeat expired (or that left) are
    /// dropped from the set on the way.
    async fn other_rows(&self) -> Result<HashMap<String, Value>, SharedError> {
        let mut c = self.conn().await?;
        let ids: Vec<String> = self.bounded(c.smembers(self.key("instances"))).await?;
        let others: Vec<&String> = ids.iter().filter(|i| **i != self.cfg.instance_id).collect();
        let mut rows = HashMap::new();
        if others.is_empty() {
            return Ok(rows);
        }
        let keys: Vec<String> = others
            .iter()
            .map(|i| self.key(&format!("instance:{i}")))
            .collect();
        let found: Vec<Option<String>> = self.bounded(c.mget(&keys)).await?;
        let mut gone = Vec::new();
        for (id, text) in others.into_iter().zip(found) {
            match text
                .filter(|t| t != LEFT)
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            {
                Some(row) => {
                    rows.insert(id.clone(), row);
                }
                None => gone.push(id.clone()),
            }
        }
        if !gone.is_empty() {
            self.bounded(c.srem::<_, _, ()>(self.key("instances"), gone))
                .await?;
        }
        Ok(rows)
    }

    /// Every live instance's row, this one's fresh.
    async fn rows(&self) -> Result<Vec<Value>, SharedError> {
        let mut rows = vec![self.local_row()];
        rows.extend(self.other_rows().await?.into_values());
        Ok(rows)
    }

    /// Called each heartbeat: remembers the others' rows and reports the connections of an
    /// instance whose heartbeat expired as `disconnected` (`instance_lost`).
    async fn observe(&self) -> Result<(), SharedError> {
        let rows = self.other_rows().await?;
        let steady = {
            let mut since = self.reachable_since.lock();
            let at = *since.get_or_insert_with(std::time::Instant::now);
            // Right after an outage (a Redis restart loses every key) the others need a beat
            // and a reconnect before a missing heartbeat means anything.
            self.steady_from_start.load(Ordering::Relaxed)
                || at.elapsed() >= self.ttl() + Duration::from_secs(2)
        };
        let lost: Vec<(String, Value)> = {
            let mut seen = self.seen.lock();
            let mut lost = Vec::new();
            if steady {
                let gone: Vec<String> = seen
                    .keys()
                    .filter(|id| !rows.contains_key(*id))
                    .cloned()
                    .collect();
                for id in gone {
                    if let Some(row) = seen.remove(&id) {
                        lost.push((id, row));
                    }
                }
            }
            // Not steady yet: a missing row stays remembered and counts once it is.
            seen.extend(rows.iter().map(|(k, v)| (k.clone(), v.clone())));
            lost
        };
        if lost.is_empty() {
            return Ok(());
        }
        // Which ones left rather than crashed: their tombstone says so.
        let mut c = self.conn().await?;
        let keys: Vec<String> = lost
            .iter()
            .map(|(id, _)| self.key(&format!("instance:{id}")))
            .collect();
        let now: Vec<Option<String>> = self.bounded(c.mget(&keys)).await?;
        // A client still held by a live instance stays in the view: no event for it.
        let mut live: std::collections::HashSet<String> = std::collections::HashSet::new();
        for row in rows.values().chain(std::iter::once(&self.local_row())) {
            for conn in row
                .get("connections")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                live.insert(client_key(conn));
            }
        }
        for ((id, row), text) in lost.into_iter().zip(now) {
            if text.as_deref() == Some(LEFT) {
                continue;
            }
            self.report_lost(&id, &row, &live).await;
        }
        Ok(())
    }

    /// Tells this instance's monitor that `row`'s connections are gone, and puts the events on
    /// the cluster's event stream once (the first observer to claim the loss writes them).
    async fn report_lost(&self, id: &str, row: &Value, live: &std::collections::HashSet<String>) {
        let conns: Vec<&Value> = row
            .get("connections")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|c| !live.contains(&client_key(c)))
            .collect();
        tracing::warn!(instance = %id, connections = conns.len(), "an instance stopped heartbeating; its connections left the cluster view");
        let now = now_ms();
        let n = |k: &str| row.get(k).and_then(Value::as_u64).unwrap_or(0);
        let mut active = n("active");
        let mut lines = Vec::with_capacity(conns.len());
        for conn in conns {
            let Some(info) = connection_info(conn) else {
                continue;
            };
            let event = crate::monitor::MonitorEvent::Closed {
                duration_ms: now.saturating_sub(info.connected_at),
                info,
                reason: CloseReason::InstanceLost,
            };
            active = active.saturating_sub(1);
            let counts = crate::monitor::Counts {
                active_connections: active,
                total_connections: n("total"),
                max_connections: n("max"),
            };
            lines.push(crate::monitor::stdout::event_line(id, &event, counts));
            self.core.tracker.report_foreign(event);
        }
        if lines.is_empty() {
            return;
        }
        let claim = self.key(&format!("lost:{id}:{}", n("startedAt")));
        let outcome = async {
            let mut c = self.conn().await?;
            let claimed: Option<String> = self
                .bounded(
                    redis::cmd("SET")
                        .arg(&claim)
                        .arg(&self.cfg.instance_id)
                        .arg("NX")
                        .arg("PX")
                        .arg(self.ttl().as_millis() as u64 * 20)
                        .query_async(&mut c),
                )
                .await?;
            if claimed.is_some() {
                let mut pipe = redis::pipe();
                for line in &lines {
                    self.append_connection_event(&mut pipe, id, line.trim_end());
                }
                self.bounded(pipe.query_async::<()>(&mut c)).await?;
            }
            Ok::<_, SharedError>(())
        }
        .await;
        if let Err(e) = outcome {
            tracing::debug!(error = %e, "lost connections not put on the event stream");
        }
    }

    pub async fn stats(&self) -> Value {
        let (rows, error) = match self.rows().await {
            Ok(rows) => (rows, None),
            Err(e) => (vec![self.local_row()], Some(e.to_string())),
        };
        merge(rows, error)
    }
}

impl Cluster {
    fn session_key(&self, id: &str) -> String {
        self.key(&format!("session:{id}"))
    }

    fn session_ttl_ms(&self) -> u64 {
        self.core.cfg.session_idle.as_millis() as u64
    }
}

impl SessionDirectory for Cluster {
    fn save<'a>(
        &'a self,
        id: &'a str,
        record: SessionRecord,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let text = serde_json::to_string(&record).unwrap_or_default();
            let outcome = async {
                let mut c = self.conn().await?;
                self.bounded(c.pset_ex::<_, _, ()>(
                    self.session_key(id),
                    text,
                    self.session_ttl_ms(),
                ))
                .await
            }
            .await;
            if let Err(e) = &outcome {
                tracing::debug!(session = %id, error = %e, "session not shared; served here only");
            }
            self.note(&outcome, "session");
        })
    }

    fn load<'a>(
        &'a self,
        id: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Option<SessionRecord>, RemoteResumeError>> + Send + 'a>>
    {
        Box::pin(async move {
            let outcome = async {
                let mut c = self.conn().await?;
                self.bounded(c.get::<_, Option<String>>(self.session_key(id)))
                    .await
            }
            .await;
            match outcome {
                Ok(text) => Ok(text.and_then(|t| serde_json::from_str(&t).ok())),
                Err(e) => {
                    self.note(&Err(e), "session");
                    Err(RemoteResumeError::Unavailable)
                }
            }
        })
    }

    fn touch(&self, id: &str) {
        let ttl = self.core.cfg.session_idle;
        let now = std::time::Instant::now();
        {
            let mut touched = self.touched.lock();
            // A refresh every tenth of the lifetime is plenty; not one per request.
            if touched
                .get(id)
                .is_some_and(|t| now.saturating_duration_since(*t) < ttl / 10)
            {
                return;
            }
            if touched.len() > 100_000 {
                touched.clear();
            }
            touched.insert(id.to_owned(), now);
        }
        let Some(c) = self.conn.lock().clone() else {
            return;
        };
        let key = self.session_key(id);
        let ms = self.session_ttl_ms() as i64;
        let metrics = self.core.cfg.metrics.clone();
        tokio::spawn(async move {
            let mut c = c;
            if let Err(e) = bounded_raw(c.pexpire::<_, ()>(key, ms)).await {
                if let Some(m) = metrics {
                    m.shared_store_failed();
                }
                tracing::debug!(error = %e, "session lifetime not refreshed");
            }
        });
    }

    fn awaiting<'a>(
        &'a self,
        session: &'a str,
        request: u64,
        ttl: Duration,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let outcome = async {
                let mut c = self.conn().await?;
                self.bounded(c.pset_ex::<_, _, ()>(
                    self.wait_key(session, request),
                    &self.cfg.instance_id,
                    ttl.as_millis() as u64,
                ))
                .await
            }
            .await;
            if let Err(e) = &outcome {
                tracing::debug!(session = %session, error = %e, "an answer elsewhere cannot be routed here");
            }
            self.note(&outcome, "route");
        })
    }

    fn forward_reply(&self, session: &str, request: u64, reply: &Result<String, String>) {
        let Some(me) = self.me.upgrade() else {
            return;
        };
        let (result, error) = match reply {
            Ok(r) => (Some(r.clone()), None),
            Err(e) => (None, Some(e.clone())),
        };
        let msg = BusMessage::Reply {
            session: session.to_owned(),
            request,
            result,
            error,
        };
        let key = self.wait_key(session, request);
        tokio::spawn(async move {
            let outcome = async {
                let mut c = me.conn().await?;
                let waiter: Option<String> = me.bounded(c.get(&key)).await?;
                match waiter {
                    Some(inst) if inst != me.cfg.instance_id => {
                        let text = serde_json::to_string(&msg).unwrap_or_default();
                        let ch = me.key(&format!("inst:{inst}"));
                        me.bounded(c.publish::<_, _, ()>(ch, text)).await
                    }
                    _ => Ok(()),
                }
            }
            .await;
            me.note(&outcome, "route");
        });
    }

    fn forward_cancel(&self, session: &str, request_id: &str, reason: Option<&str>) {
        let _ = self.outgoing.send(BusMessage::Cancel {
            from: self.cfg.instance_id.clone(),
            session: session.to_owned(),
            request_id: request_id.to_owned(),
            reason: reason.unwrap_or("cancelled by the client").to_owned(),
        });
    }

    fn update(&self, id: &str, record: SessionRecord) {
        let text = serde_json::to_string(&record).unwrap_or_default();
        let _ = self.outgoing.send(BusMessage::SessionChanged {
            from: self.cfg.instance_id.clone(),
            id: id.to_owned(),
            record: text.clone(),
        });
        let _ = self.log.send(LogOp::Record {
            session: id.to_owned(),
            text,
        });
    }

    fn resume_remote(
        &self,
        session: Arc<Session>,
        last: EventId,
    ) -> Pin<Box<dyn Future<Output = Result<FrameReceiver, RemoteResumeError>> + Send + '_>> {
        Box::pin(self.follow(session, last))
    }

    fn ended(&self, id: &str) {
        self.touched.lock().remove(id);
        let _ = self.outgoing.send(BusMessage::SessionEnded {
            from: self.cfg.instance_id.clone(),
            id: id.to_owned(),
        });
    }
}

impl EventMirror for Cluster {
    fn stored(&self, session: &str, id: EventId, data: &Arc<str>) {
        let _ = self.log.send(LogOp::Event {
            session: Arc::from(session),
            id,
            data: data.clone(),
        });
    }

    fn finished(&self, session: &str, stream: u64) {
        let _ = self.log.send(LogOp::Finished {
            session: Arc::from(session),
            stream,
        });
    }
}

/// The shared event log (docs/deployment.md): one Redis Stream per session stream, entry id
/// `0-<seq>` so a resume point maps onto `XRANGE` directly, trimmed by `MAXLEN ~` and expired
/// with the event store's ttl; a wake-up channel per stream for those who follow it.
impl Cluster {
    /// A request stream's log; the GET stream's (stream 0) is one per copy of the session,
    /// told apart by the high half of its sequences (`Session::standalone_epoch`).
    fn log_key(&self, session: &str, stream: u64, seq: u64) -> String {
        self.key(&format!("events:{session}:{}", log_name(stream, seq)))
    }

    fn wake_channel(&self, session: &str, stream: u64, seq: u64) -> String {
        self.key(&format!("wake:{session}:{}", log_name(stream, seq)))
    }

    fn event_limits(&self) -> crate::session::EventStoreLimits {
        self.core
            .cfg
            .session
            .event_store
            .as_ref()
            .map(|p| p.limits())
            .unwrap_or_default()
    }

    /// Writes event copies and record updates in the order they were made, a batch per round
    /// trip. A failed batch leaves a gap that the `prev` chain shows, so a resume across it
    /// is refused rather than partial.
    async fn log_writer(
        self: Arc<Self>,
        mut rx: mpsc::UnboundedReceiver<LogOp>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        // (session, stream) → last sequence handed to Redis.
        let mut prev: HashMap<(Arc<str>, u64), u64> = HashMap::new();
        let limits = self.event_limits();
        let ttl_ms = limits.ttl.as_millis() as u64;
        loop {
            let first = tokio::select! {
                _ = shutdown.changed() => break,
                m = rx.recv() => match m { Some(m) => m, None => break },
            };
            let mut batch = vec![first];
            while batch.len() < 256 {
                match rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            let mut pipe = redis::pipe();
            let mut wakes: Vec<String> = Vec::new();
            for op in batch {
                match op {
                    LogOp::Event { session, id, data } => {
                        let p = prev
                            .insert((session.clone(), log_stream(id)), id.seq)
                            .unwrap_or(0);
                        if data.len() > limits.max_bytes {
                            // Not kept (as in memory); the next entry's `prev` shows the gap.
                            continue;
                        }
                        let key = self.log_key(&session, id.stream, id.seq);
                        pipe.cmd("XADD")
                            .arg(&key)
                            .arg("MAXLEN")
                            .arg("~")
                            .arg(limits.max_events.max(1))
                            .arg(format!("0-{}", id.seq))
                            .arg("p")
                            .arg(p)
                            .arg("d")
                            .arg(&*data)
                            .ignore()
                            .pexpire(&key, ttl_ms as i64)
                            .ignore();
                        let ch = self.wake_channel(&session, id.stream, id.seq);
                        if !wakes.contains(&ch) {
                            wakes.push(ch);
                        }
                    }
                    LogOp::Finished { session, stream } => {
                        let p = prev.remove(&(session.clone(), stream)).unwrap_or(0);
                        let key = self.log_key(&session, stream, 0);
                        pipe.cmd("XADD")
                            .arg(&key)
                            .arg(format!("0-{END_SEQ}"))
                            .arg("p")
                            .arg(p)
                            .arg("e")
                            .arg(1)
                            .ignore()
                            .pexpire(&key, ttl_ms as i64)
                            .ignore();
                        let ch = self.wake_channel(&session, stream, 0);
                        if !wakes.contains(&ch) {
                            wakes.push(ch);
                        }
                    }
                    LogOp::Connection { line } => {
                        self.append_connection_event(&mut pipe, &self.cfg.instance_id, &line);
                    }
                    LogOp::Record { session, text } => {
                        // XX: a record updated after the session ended is not brought back.
                        pipe.cmd("SET")
                            .arg(self.session_key(&session))
                            .arg(text)
                            .arg("PX")
                            .arg(self.session_ttl_ms())
                            .arg("XX")
                            .ignore();
                    }
                }
            }
            for ch in wakes {
                pipe.publish(ch, "").ignore();
            }
            if prev.len() > 100_000 {
                // Forgetting only weakens gap detection for streams still running.
                prev.clear();
            }
            let outcome = async {
                let mut c = self.conn().await?;
                self.bounded(pipe.query_async::<()>(&mut c)).await
            }
            .await;
            if let Err(e) = &outcome {
                tracing::debug!(error = %e, "event log batch not written");
                // Redis is away: what queued up meanwhile is dropped, not kept in memory for as
                // long as the outage lasts. The sequences still advance, so a resume across
                // the gap is refused (410), never partial.
                while let Ok(op) = rx.try_recv() {
                    match op {
                        LogOp::Event { session, id, .. } => {
                            prev.insert((session, log_stream(id)), id.seq);
                        }
                        LogOp::Finished { session, stream } => {
                            prev.remove(&(session, stream));
                        }
                        LogOp::Record { .. } | LogOp::Connection { .. } => {}
                    }
                }
            }
            self.note(&outcome, "event log");
        }
    }

    /// Entries of `key` after `seq`, oldest first, at most `READ_BATCH`.
    async fn read_after(&self, key: &str, seq: u64) -> Result<Vec<LogEntry>, SharedError> {
        let mut c = self.conn().await?;
        let v: redis::Value = self
            .bounded(
                redis::cmd("XRANGE")
                    .arg(key)
                    .arg(format!("(0-{seq}"))
                    .arg("+")
                    .arg("COUNT")
                    .arg(READ_BATCH)
                    .query_async(&mut c),
            )
            .await?;
        Ok(parse_entries(v))
    }

    async fn exists(&self, key: &str) -> Result<bool, SharedError> {
        let mut c = self.conn().await?;
        self.bounded(c.exists::<_, bool>(key)).await
    }

    fn wake(&self, channel: &str) {
        if let Some(list) = self.tails.lock().get(channel) {
            for n in list.iter().filter_map(Weak::upgrade) {
                n.notify_one();
            }
        }
    }

    fn wake_all(&self) {
        for list in self.tails.lock().values() {
            for n in list.iter().filter_map(Weak::upgrade) {
                n.notify_one();
            }
        }
    }

    /// Registers a follower of `channel`, subscribing when it is the first here.
    async fn follow_channel(&self, channel: &str, notify: &Arc<Notify>) {
        let first = {
            let mut tails = self.tails.lock();
            let list = tails.entry(channel.to_owned()).or_default();
            list.retain(|w| w.strong_count() > 0);
            list.push(Arc::downgrade(notify));
            list.len() == 1
        };
        let sink = self.sink.lock().clone();
        if let (true, Some(mut sink)) = (first, sink) {
            // Unsubscribed (or the bus down): the follower still polls; a reconnect resubscribes.
            if let Err(e) = self.bounded(sink.subscribe(channel)).await {
                tracing::debug!(error = %e, "subscribing a followed stream failed");
            }
        }
    }

    fn unfollow_channel(&self, channel: &str) {
        let last = {
            let mut tails = self.tails.lock();
            match tails.get_mut(channel) {
                Some(list) => {
                    list.retain(|w| w.strong_count() > 0);
                    if list.is_empty() {
                        tails.remove(channel);
                        true
                    } else {
                        false
                    }
                }
                None => false,
            }
        };
        if let (true, Some(mut sink)) = (last, self.sink.lock().clone()) {
            let channel = channel.to_owned();
            tokio::spawn(async move {
                let _ = bounded_raw(sink.unsubscribe(channel)).await;
            });
        }
    }

    /// A resume of a stream another instance wrote: the replay from the log, then what is
    /// appended until its end marker, the session's end, the client leaving or shutdown.
    async fn follow(
        &self,
        session: Arc<Session>,
        last: EventId,
    ) -> Result<FrameReceiver, RemoteResumeError> {
        let me = self.me.upgrade().ok_or(RemoteResumeError::Unavailable)?;
        let key = self.log_key(&session.id, last.stream, last.seq);
        let channel = self.wake_channel(&session.id, last.stream, last.seq);
        let notify = Arc::new(Notify::new());
        // Followed before the first read: nothing written in between is missed.
        self.follow_channel(&channel, &notify).await;
        let guard = Unfollow {
            cluster: me.clone(),
            channel,
        };
        let mut entries = self
            .read_after(&key, last.seq)
            .await
            .map_err(|_| RemoteResumeError::Unavailable)?;
        let purged = Err(RemoteResumeError::Purged(Purged { after: last }));
        match entries.first() {
            Some(e) if e.prev > last.seq => return purged,
            Some(_) => {}
            None if last.seq > 0 => {
                // Nothing after the point: the log must still hold the point itself (the
                // owner's writer may be a batch behind the wire, so it gets a moment).
                let mut held = self.exists(&key).await.unwrap_or(false);
                if !held {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    held = self.exists(&key).await.unwrap_or(false);
                    entries = self.read_after(&key, last.seq).await.unwrap_or_default();
                }
                // A GET stream's log exists only once the copy that wrote it sent an event:
                // resuming from its priming id, nothing was missed.
                if !held && last.stream != 0 {
                    return purged;
                }
            }
            None => {}
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let stream = last.stream;
        let mut cursor = last.seq;
        if send_entries(&tx, stream, &mut cursor, entries).is_break() {
            return Ok(rx);
        }
        let mut shutdown = self.shutdown.clone();
        let idle_limit = self.event_limits().ttl;
        tokio::spawn(async move {
            let _guard = guard;
            let mut idle_since = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    _ = notify.notified() => {}
                    _ = tokio::time::sleep(TAIL_POLL) => {}
                    _ = tx.closed() => return,
                    _ = shutdown.changed() => return,
                }
                if session.is_closed() {
                    return;
                }
                loop {
                    let Ok(batch) = me.read_after(&key, cursor).await else {
                        break;
                    };
                    if batch.first().is_some_and(|e| e.prev > cursor) {
                        // Trimmed while we followed: end here; the client's next resume
                        // is refused, never partial.
                        return;
                    }
                    let full = batch.len() >= READ_BATCH;
                    if !batch.is_empty() {
                        idle_since = tokio::time::Instant::now();
                    }
                    if send_entries(&tx, stream, &mut cursor, batch).is_break() {
                        return;
                    }
                    if !full {
                        break;
                    }
                }
                // The writer went away without ending the stream (it crashed): past the
                // log's lifetime nothing more can come.
                if idle_since.elapsed() > idle_limit {
                    return;
                }
            }
        });
        Ok(rx)
    }
}

/// The part of a log's key after the session: the stream, and for the GET stream the copy.
fn log_name(stream: u64, seq: u64) -> String {
    if stream == 0 {
        format!("0.{}", seq >> 32)
    } else {
        stream.to_string()
    }
}

/// Which log of a session an event goes to, as one number (request streams are below 2^53;
/// the GET stream's logs are told apart by the copy, above that).
fn log_stream(id: EventId) -> u64 {
    if id.stream == 0 {
        (1 << 63) | (id.seq >> 32)
    } else {
        id.stream
    }
}

/// Stops following a wake-up channel when the follower ends.
struct Unfollow {
    cluster: Arc<Cluster>,
    channel: String,
}

impl Drop for Unfollow {
    fn drop(&mut self) {
        self.cluster.unfollow_channel(&self.channel);
    }
}

/// Sends entries as SSE frames; `Break` at the end marker or when the client is gone.
fn send_entries(
    tx: &mpsc::UnboundedSender<crate::session::Frame>,
    stream: u64,
    cursor: &mut u64,
    entries: Vec<LogEntry>,
) -> std::ops::ControlFlow<()> {
    for e in entries {
        let Some(data) = e.data else {
            return std::ops::ControlFlow::Break(());
        };
        *cursor = e.seq;
        if tx
            .send(crate::protocol::sse::message(Some((stream, e.seq)), &data))
            .is_err()
        {
            return std::ops::ControlFlow::Break(());
        }
    }
    std::ops::ControlFlow::Continue(())
}

/// `XRANGE`'s reply as entries; what does not parse is skipped.
fn parse_entries(v: redis::Value) -> Vec<LogEntry> {
    fn text(v: &redis::Value) -> Option<String> {
        match v {
            redis::Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
            redis::Value::SimpleString(s) => Some(s.clone()),
            _ => None,
        }
    }
    let redis::Value::Array(items) = v else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let redis::Value::Array(parts) = item else {
            continue;
        };
        let (Some(id), Some(redis::Value::Array(fields))) = (parts.first(), parts.get(1)) else {
            continue;
        };
        let Some(seq) = text(id)
            .and_then(|t| t.split_once('-').map(|(_, s)| s.to_owned()))
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        let mut entry = LogEntry {
            seq,
            prev: 0,
            data: None,
        };
        for pair in fields.chunks(2) {
            if let [k, v] = pair {
                match text(k).as_deref() {
                    Some("p") => entry.prev = text(v).and_then(|t| t.parse().ok()).unwrap_or(0),
                    Some("d") => entry.data = text(v),
                    _ => {}
                }
            }
        }
        out.push(entry);
    }
    out
}

impl ClusterView for Cluster {
    fn cluster_stats(&self) -> Pin<Box<dyn Future<Output = Value> + Send + '_>> {
        Box::pin(self.stats())
    }
}

/// The key under which one client is counted once across instances: a 2025 session by its
/// id, a sessionless client by what the single-instance tracker keys it by (IP, user agent,
/// client name and version).
fn client_key(c: &Value) -> String {
    let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    if s("era") == "modern" {
        format!(
            "m\u{1}{}\u{1}{}\u{1}{}\u{1}{}",
            s("clientIP"),
            s("userAgent"),
            s("clientName"),
            s("clientVersion")
        )
    } else {
        format!("s\u{1}{}", s("sessionId"))
    }
}

/// A connection record of another instance's row, as this instance's monitor reports it.
fn connection_info(c: &Value) -> Option<crate::monitor::ConnectionInfo> {
    let s = |k: &str| c.get(k).and_then(Value::as_str);
    let arc = |k: &str| s(k).map(Arc::<str>::from);
    let n = |k: &str| c.get(k).and_then(Value::as_u64).unwrap_or(0);
    let auth = c.get("auth").and_then(|a| {
        Some(Arc::new(crate::monitor::tracker::ConnectionAuth {
            subject: a.get("subject")?.as_str()?.to_owned(),
            client_id: a.get("clientId").and_then(Value::as_str).map(str::to_owned),
            scopes: a
                .get("scopes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        }))
    });
    Some(crate::monitor::ConnectionInfo {
        session_id: arc("sessionId")?,
        era: match s("era")? {
            "modern" => crate::protocol::Era::Modern,
            _ => crate::protocol::Era::Legacy,
        },
        client_ip: arc("clientIP").unwrap_or_else(|| Arc::from("")),
        user_agent: arc("userAgent").unwrap_or_else(|| Arc::from("")),
        connected_at: n("connectedAt"),
        last_activity: n("lastActivity"),
        request_count: n("requestCount"),
        client_name: arc("clientName"),
        client_version: arc("clientVersion"),
        protocol_version: arc("protocolVersion"),
        auth,
    })
}

/// Rows into `ClusterStats`: per-instance counts, and every client once.
fn merge(rows: Vec<Value>, error: Option<String>) -> Value {
    let mut instances = Vec::new();
    let mut clients: HashMap<String, Value> = HashMap::new();
    let mut total = 0u64;
    let mut max = 0u64;
    for mut row in rows {
        let conns = row
            .as_object_mut()
            .and_then(|m| m.remove("connections"))
            .unwrap_or(json!([]));
        let instance = row.get("instanceId").cloned().unwrap_or(Value::Null);
        total += row.get("total").and_then(Value::as_u64).unwrap_or(0);
        max += row.get("max").and_then(Value::as_u64).unwrap_or(0);
        for mut c in conns.as_array().cloned().unwrap_or_default() {
            if let Some(m) = c.as_object_mut() {
                m.insert("instanceId".into(), instance.clone());
            }
            let key = client_key(&c);
            match clients.get_mut(&key) {
                None => {
                    clients.insert(key, c);
                }
                Some(seen) => {
                    // One client on several instances: its requests add up; it counts from
                    // its first contact to its latest.
                    let n = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
                    let requests = n(seen, "requestCount") + n(&c, "requestCount");
                    let first = n(seen, "connectedAt").min(n(&c, "connectedAt"));
                    let latest = n(seen, "lastActivity").max(n(&c, "lastActivity"));
                    if n(&c, "lastActivity") > n(seen, "lastActivity") {
                        *seen = c;
                    }
                    if let Some(m) = seen.as_object_mut() {
                        m.insert("requestCount".into(), json!(requests));
                        m.insert("connectedAt".into(), json!(first));
                        m.insert("lastActivity".into(), json!(latest));
                    }
                }
            }
        }
        instances.push(row);
    }
    instances.sort_by(|a, b| {
        let id = |v: &Value| {
            v.get("instanceId")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        id(a).cmp(&id(b))
    });
    let mut connections: Vec<Value> = clients.into_values().collect();
    connections.sort_by_key(|c| {
        (
            c.get("connectedAt").and_then(Value::as_u64).unwrap_or(0),
            c.get("sessionId")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        )
    });
    let mut out = json!({
        "instances": instances,
        "activeConnections": connections.len(),
        "totalConnections": total,
        "maxConnections": max,
        "connections": connections,
        "lastUpdated": now_ms(),
        "degraded": error.is_some(),
    });
    if let (Some(e), Value::Object(m)) = (error, &mut out) {
        m.insert("error".into(), Value::String(e));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn conn(era: &str, id: &str, ip: &str, requests: u64, at: u64) -> Value {
        json!({ "sessionId": id, "era": era, "clientIP": ip, "userAgent": "ua", "clientName": "c",
                "connectedAt": at, "lastActivity": at + 1, "requestCount": requests })
    }

    #[test]
    fn merge_counts_a_sessionless_client_once_and_sessions_apart() {
        let a = json!({ "instanceId": "a", "total": 3, "max": 10, "active": 2,
            "connections": [conn("modern", "client-1", "10.0.0.1", 2, 100), conn("legacy", "s1", "10.0.0.1", 1, 50)] });
        let b = json!({ "instanceId": "b", "total": 2, "max": 10, "active": 2,
            "connections": [conn("modern", "client-9", "10.0.0.1", 5, 90), conn("modern", "client-8", "10.0.0.2", 1, 95)] });
        let out = merge(vec![b, a], None);
        assert_eq!(out["activeConnections"], 3);
        assert_eq!(out["totalConnections"], 5);
        assert_eq!(out["degraded"], false);
        let ids: Vec<&str> = out["instances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["instanceId"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["a", "b"]);
        let shared = out["connections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["clientIP"] == "10.0.0.1" && c["era"] == "modern")
            .unwrap();
        assert_eq!(shared["requestCount"], 7);
        assert_eq!(shared["connectedAt"], 90);
        assert_eq!(shared["lastActivity"], 101);
    }

    #[test]
    fn a_row_connection_becomes_the_record_it_was() {
        let c = json!({ "sessionId": "client-1", "era": "modern", "clientIP": "10.0.0.1",
            "userAgent": "ua", "connectedAt": 5, "lastActivity": 9, "requestCount": 3,
            "clientName": "n", "clientVersion": "1", "auth": { "subject": "alice", "scopes": ["a"] } });
        let info = connection_info(&c).unwrap();
        assert_eq!(&*info.session_id, "client-1");
        assert_eq!(info.request_count, 3);
        assert_eq!(info.auth.as_ref().unwrap().subject, "alice");
        // Serialized again, it is the same client for the cluster view.
        let back = serde_json::to_value(&info).unwrap();
        assert_eq!(client_key(&back), client_key(&c));
        assert_eq!(back["era"], "modern");
        assert!(connection_info(&json!({ "era": "legacy" })).is_none());
    }

    #[test]
    fn get_stream_logs_are_one_per_copy() {
        let copy = EventId {
            stream: 0,
            seq: (7 << 32) + 3,
        };
        assert_eq!(log_name(0, copy.seq), "0.7");
        assert_eq!(log_name(0, 3), "0.0");
        assert_eq!(log_name(12, 3), "12");
        assert_ne!(log_stream(copy), log_stream(EventId { stream: 0, seq: 3 }));
        assert_ne!(log_stream(EventId { stream: 0, seq: 3 }), 0);
    }

    #[test]
    fn merge_flags_an_outage() {
        let out = merge(
            vec![json!({ "instanceId": "a", "connections": [] })],
            Some("down".into()),
        );
        assert_eq!(out["degraded"], true);
        assert_eq!(out["error"], "down");
    }

    #[test]
    fn log_entries_parse_from_xrange_replies() {
        use redis::Value as V;
        let bulk = |t: &str| V::BulkString(t.as_bytes().to_vec());
        let entry = |id: &str, fields: &[&str]| {
            V::Array(vec![
                bulk(id),
                V::Array(fields.iter().map(|f| bulk(f)).collect()),
            ])
        };
        let reply = V::Array(vec![
            entry("0-3", &["p", "2", "d", "{\"x\":1}"]),
            entry("0-18446744073709551615", &["p", "3", "e", "1"]),
            entry("junk", &["p", "1"]),
            V::Int(4),
        ]);
        assert_eq!(
            parse_entries(reply),
            vec![
                LogEntry {
                    seq: 3,
                    prev: 2,
                    data: Some("{\"x\":1}".into())
                },
                LogEntry {
                    seq: END_SEQ,
                    prev: 3,
                    data: None
                },
            ]
        );
        assert!(parse_entries(V::Nil).is_empty());
    }

    #[test]
    fn entries_are_sent_until_the_end_marker() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut cursor = 1;
        let e = |seq, data: Option<&str>| LogEntry {
            seq,
            prev: seq - 1,
            data: data.map(str::to_owned),
        };
        let flow = send_entries(&tx, 4, &mut cursor, vec![e(2, Some("a")), e(3, Some("b"))]);
        assert!(flow.is_continue());
        assert_eq!(cursor, 3);
        let flow = send_entries(&tx, 4, &mut cursor, vec![e(END_SEQ, None), e(9, Some("z"))]);
        assert!(flow.is_break());
        let mut got = Vec::new();
        while let Ok(f) = rx.try_recv() {
            got.push(String::from_utf8_lossy(&f).into_owned());
        }
        assert_eq!(got.len(), 2);
        assert!(
            got[0].contains("id: 4-2") && got[0].contains("data: a"),
            "{got:?}"
        );
        assert!(got[1].contains("id: 4-3"), "{got:?}");
    }

    #[test]
    fn bus_messages_round_trip() {
        let m = BusMessage::Listing {
            from: "a".into(),
            id: "a:1".into(),
            kind: "tools".into(),
            items: "[]".into(),
            templates: None,
        };
        let text = serde_json::to_string(&m).unwrap();
        assert!(text.contains(r#""type":"listing""#), "{text}");
        assert!(
            matches!(serde_json::from_str::<BusMessage>(&text).unwrap(), BusMessage::Listing { id, .. } if id == "a:1")
        );
    }
}

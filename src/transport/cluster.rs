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
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::config::SharedConfig;
use super::core::{ClusterView, Core, SessionDirectory, SessionRecord, StartError};
use crate::monitor::CloseReason;

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
    /// A 2025 session was deleted: every instance that holds a copy ends it.
    #[serde(rename_all = "camelCase")]
    SessionEnded { from: String, id: String },
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

/// Whether `url` is a Redis URL this build can use (checked before the server starts).
pub fn check_url(url: &str) -> Result<(), StartError> {
    redis::Client::open(url)
        .map(|_| ())
        .map_err(|e| StartError::Option(format!("shared.redisUrl: {e}")))
}

impl Cluster {
    /// Starts the bus and the heartbeat; Redis need not be up yet (the tasks keep trying).
    pub fn start(
        core: Arc<Core>,
        cfg: SharedConfig,
        shutdown: watch::Receiver<bool>,
        tasks: &mut Vec<JoinHandle<()>>,
    ) -> Result<Arc<Self>, StartError> {
        let client = redis::Client::open(cfg.redis_url.as_str())
            .map_err(|e| StartError::Option(format!("shared.redisUrl: {e}")))?;
        let (outgoing, rx) = mpsc::unbounded_channel();
        let cluster = Arc::new(Cluster {
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
        });
        tasks.push(tokio::spawn(cluster.clone().heartbeat(shutdown.clone())));
        tasks.push(tokio::spawn(cluster.clone().subscriber(shutdown.clone())));
        tasks.push(tokio::spawn(cluster.clone().publisher(rx, shutdown)));
        Ok(cluster)
    }

    pub fn instance_id(&self) -> &str {
        &self.cfg.instance_id
    }

    fn key(&self, tail: &str) -> String {
        format!("{}:{}", self.cfg.prefix, tail)
    }

    fn channel(&self) -> String {
        self.key("bus")
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
            BusMessage::SessionEnded { from, id } => {
                if from != self.cfg.instance_id {
                    if let Some(s) = self.core.sessions.remove(&id) {
                        self.core.end_session(&s, CloseReason::Deleted);
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
                self.bounded(ps.subscribe(self.channel())).await?;
                Ok::<_, SharedError>(ps)
            }
            .await;
            match opened {
                Ok(mut ps) => {
                    // Subscribed first, then resynchronised: nothing falls in between.
                    let synced = self.resync().await;
                    if let Err(e) = &synced {
                        tracing::warn!(error = %e, "resync after subscribing failed");
                    }
                    self.note(&synced, "resync");
                    let mut stream = ps.on_message();
                    loop {
                        tokio::select! {
                            _ = shutdown.changed() => return,
                            m = stream.next() => match m {
                                Some(m) => match m.get_payload::<String>().ok().and_then(|t| serde_json::from_str::<BusMessage>(&t).ok()) {
                                    Some(msg) => self.apply(msg),
                                    None => tracing::warn!("unreadable bus message"),
                                },
                                None => break,
                            },
                        }
                    }
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
                    let outcome = self.beat().await;
                    self.note(&outcome, "heartbeat");
                }
            }
        }
        // Leave the view at once instead of after the TTL.
        let leave = async {
            let mut c = self.conn().await?;
            let mut pipe = redis::pipe();
            pipe.srem(self.key("instances"), &self.cfg.instance_id)
                .ignore()
                .del(self.key(&format!("instance:{}", self.cfg.instance_id)))
                .ignore();
            self.bounded(pipe.query_async::<()>(&mut c)).await
        };
        if let Err(e) = leave.await {
            tracing::debug!(error = %e, "could not leave the cluster view");
        }
        self.conn.lock().take();
    }

    /// Every live instance's row, this one's fresh; instances whose heartbeat expired are
    /// dropped from the set on the way.
    async fn rows(&self) -> Result<Vec<Value>, SharedError> {
        let mut c = self.conn().await?;
        let ids: Vec<String> = self.bounded(c.smembers(self.key("instances"))).await?;
        let others: Vec<&String> = ids.iter().filter(|i| **i != self.cfg.instance_id).collect();
        let mut rows = vec![self.local_row()];
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
            match text.and_then(|t| serde_json::from_str::<Value>(&t).ok()) {
                Some(row) => rows.push(row),
                None => gone.push(id.clone()),
            }
        }
        if !gone.is_empty() {
            self.bounded(c.srem::<_, _, ()>(self.key("instances"), gone))
                .await?;
        }
        Ok(rows)
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
    ) -> Pin<Box<dyn Future<Output = Option<SessionRecord>> + Send + 'a>> {
        Box::pin(async move {
            let outcome = async {
                let mut c = self.conn().await?;
                self.bounded(c.get::<_, Option<String>>(self.session_key(id)))
                    .await
            }
            .await;
            match outcome {
                Ok(text) => text.and_then(|t| serde_json::from_str(&t).ok()),
                Err(e) => {
                    self.note(&Err(e), "session");
                    None
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

    fn ended(&self, id: &str) {
        self.touched.lock().remove(id);
        let _ = self.outgoing.send(BusMessage::SessionEnded {
            from: self.cfg.instance_id.clone(),
            id: id.to_owned(),
        });
    }
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
    fn merge_flags_an_outage() {
        let out = merge(
            vec![json!({ "instanceId": "a", "connections": [] })],
            Some("down".into()),
        );
        assert_eq!(out["degraded"], true);
        assert_eq!(out["error"], "down");
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

//! The running server: the TCP listener, the accept loop that feeds each connection's
//! requests to the service, the server's own tasks (the reaper, the stdout stats ticker) and
//! shutdown. The only module that knows about sockets. See docs/architecture.md.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::calls::CallbackHost;
use super::config::ServerConfig;
use super::core::{Core, StartError, Stores};
use super::service::McpService;
use crate::monitor::{stdout, MonitorSink};
use crate::protocol::Dispatcher;

/// A running server. Dropping it without `close()` leaves tasks running until the runtime ends.
pub struct McpServer {
    core: Arc<Core>,
    /// `None` without a listener (handler mode: the host's HTTP server feeds the service).
    addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// The bus and heartbeat when `shared` is configured (docs/deployment.md).
    #[cfg(feature = "shared")]
    cluster: Option<Arc<super::cluster::Cluster>>,
}

impl McpServer {
    pub async fn start(
        cfg: ServerConfig,
        dispatcher: Dispatcher,
        host: Arc<dyn CallbackHost>,
        sinks: Vec<Arc<dyn MonitorSink>>,
    ) -> Result<Self, StartError> {
        Self::start_with(cfg, dispatcher, host, sinks, Stores::default()).await
    }

    /// Starts with the given session table (a shared store instead of the in-memory one).
    pub async fn start_with(
        cfg: ServerConfig,
        dispatcher: Dispatcher,
        host: Arc<dyn CallbackHost>,
        sinks: Vec<Arc<dyn MonitorSink>>,
        stores: Stores,
    ) -> Result<Self, StartError> {
        check_shared(&cfg)?;
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
        let core = Core::new(cfg, dispatcher, host, sinks, stores)?;
        let (shutdown, rx) = watch::channel(false);
        let accept = tokio::spawn(accept_loop(core.clone(), listener, rx.clone()));
        Self::with_tasks(core, Some(local), shutdown, rx, Some(accept))
    }

    /// The same server without a listener: the host's own HTTP server hands each request to
    /// `service(peer)` (handler mode). Sessions, monitoring, its tasks and `close()` are as
    /// with a listener. Must run inside the tokio runtime.
    pub fn without_listener(
        cfg: ServerConfig,
        dispatcher: Dispatcher,
        host: Arc<dyn CallbackHost>,
        sinks: Vec<Arc<dyn MonitorSink>>,
        stores: Stores,
    ) -> Result<Self, StartError> {
        check_shared(&cfg)?;
        let core = Core::new(cfg, dispatcher, host, sinks, stores)?;
        let (shutdown, rx) = watch::channel(false);
        Self::with_tasks(core, None, shutdown, rx, None)
    }

    fn with_tasks(
        core: Arc<Core>,
        addr: Option<SocketAddr>,
        shutdown: watch::Sender<bool>,
        rx: watch::Receiver<bool>,
        accept: Option<JoinHandle<()>>,
    ) -> Result<Self, StartError> {
        let mut tasks: Vec<JoinHandle<()>> = accept.into_iter().collect();
        tasks.push(tokio::spawn(reaper(core.clone(), rx.clone())));
        #[cfg(feature = "shared")]
        let cluster = match core.cfg.shared.clone() {
            Some(shared) => {
                let c =
                    super::cluster::Cluster::start(core.clone(), shared, rx.clone(), &mut tasks)?;
                let view: Arc<dyn super::core::ClusterView> = c.clone();
                core.set_cluster(Arc::downgrade(&view));
                let directory: Arc<dyn super::core::SessionDirectory> = c.clone();
                core.set_directory(Arc::downgrade(&directory));
                Some(c)
            }
            None => None,
        };
        if let Some(lines) = core.cfg.stats_lines.clone() {
            let counts_core = core.clone();
            tasks.push(tokio::spawn(stdout::stats_ticker(
                move || counts_core.tracker.counts_now(),
                lines.server_id,
                lines.interval,
                rx,
            )));
        }
        Ok(Self {
            core,
            addr,
            shutdown,
            tasks: Mutex::new(tasks),
            #[cfg(feature = "shared")]
            cluster,
        })
    }

    /// `setTools` / `setPrompts` / `setResources`: here, then on every other instance.
    pub fn set_listing(
        &self,
        kind: &str,
        items_json: &str,
        templates_json: Option<&str>,
    ) -> Result<(), super::core::ListingError> {
        self.core.set_listing(kind, items_json, templates_json)?;
        #[cfg(feature = "shared")]
        if let Some(c) = &self.cluster {
            c.publish_listing(kind, items_json, templates_json);
        }
        Ok(())
    }

    /// `notifyResourceUpdated`: here, then on every other instance.
    pub fn notify_resource_updated(&self, uri: &str) {
        let params = serde_json::json!({ "uri": uri }).to_string();
        self.core
            .broadcast("notifications/resources/updated", Some(&params), Some(uri));
        #[cfg(feature = "shared")]
        if let Some(c) = &self.cluster {
            c.publish_resource_updated(uri);
        }
    }

    /// `getClusterStats()`: `None` when this instance shares nothing.
    pub async fn cluster_stats(&self) -> Option<serde_json::Value> {
        match self.core.cluster() {
            Some(view) => Some(view.cluster_stats().await),
            None => None,
        }
    }

    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// The listener's address; `0.0.0.0:0` for a server without one.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Whether this server owns a listener.
    pub fn has_listener(&self) -> bool {
        self.addr.is_some()
    }

    /// The service for one request from `remote` (handler mode).
    pub fn service(&self, remote: SocketAddr) -> McpService {
        McpService::new(self.core.clone(), remote)
    }

    /// Stops accepting, ends every session (reported as `shutdown`), stream and call, waits
    /// for every task, then releases the callback host and the monitor sinks.
    pub async fn close(&self) {
        if !self.core.begin_close() {
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
        self.core.shut_down();
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *self.tasks.lock());
        for t in tasks {
            let _ = t.await;
        }
        // Calls that raced with shutdown.
        self.core.abort_calls();
        self.core.release();
    }
}

/// Refuses a `shared` option this build cannot honour before anything starts.
fn check_shared(cfg: &ServerConfig) -> Result<(), StartError> {
    match &cfg.shared {
        None => Ok(()),
        #[cfg(feature = "shared")]
        Some(shared) => super::cluster::check_url(&shared.redis_url),
        #[cfg(not(feature = "shared"))]
        Some(_) => Err(StartError::Option(
            "shared: this build has no shared-store support (cargo feature `shared`)".into(),
        )),
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
                let svc = McpService::new(core.clone(), peer);
                // Unboxed: the service's future is polled in place.
                let svc = service_fn(move |req| {
                    let svc = svc.clone();
                    async move { Ok::<_, std::convert::Infallible>(svc.handle(req).await) }
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
                });
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

//! The running server: the TCP listener, the accept loop that feeds each connection's
//! requests to the service, the server's own tasks (the reaper, the stdout stats ticker) and
//! shutdown. The only module that knows about sockets. See docs/architecture.md.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

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
use super::sockets::{serve, Guarded, Sockets, Tracked};
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
        // Stats without a token list who is connected: only on a loopback address.
        if cfg
            .internal_stats
            .as_ref()
            .is_some_and(|s| s.token.is_none())
            && !super::config::is_loopback_host(&cfg.host)
        {
            return Err(StartError::Option(format!(
                "internalStats needs a token when the server listens on {} (not a loopback address)",
                cfg.host
            )));
        }
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
        // The default allowed origins name the port actually bound (port 0 picks one).
        let mut cfg = cfg;
        cfg.origin.port = local.port();
        let mut stores = stores;
        if let Some(a) = &cfg.auth {
            stores.authenticator = Some(authenticator(
                a,
                &cfg,
                local.port(),
                stores.verifier.take(),
            )?);
        }
        let core = Core::new(cfg, dispatcher, host, sinks, stores)?;
        let (shutdown, rx) = watch::channel(false);
        let span = log_span(&core);
        span.in_scope(
            || tracing::info!(address = %local, endpoint = %core.cfg.endpoint, "listening"),
        );
        let accept = tokio::spawn(accept_loop(core.clone(), listener, rx.clone()).instrument(span));
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
        // No socket of its own: `auth.resource` should name the host app's public URL; the
        // default is derived from the configured host and port.
        let mut cfg = cfg;
        // Nor a port: the default allowed Origin is each request's own (see OriginPolicy).
        cfg.origin.port = 0;
        let mut stores = stores;
        if let Some(a) = &cfg.auth {
            stores.authenticator = Some(authenticator(a, &cfg, cfg.port, stores.verifier.take())?);
        }
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
        // Inside the server's log span (when a logger is set), so its events reach that
        // server's logger only.
        let span = log_span(&core);
        let mut tasks: Vec<JoinHandle<()>> = accept.into_iter().collect();
        tasks.push(tokio::spawn(
            reaper(core.clone(), rx.clone()).instrument(span.clone()),
        ));
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
            tasks.push(tokio::spawn(
                stdout::stats_ticker(
                    move || counts_core.tracker.counts_now(),
                    lines.server_id,
                    lines.interval,
                    rx,
                )
                .instrument(span),
            ));
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
        // The accept loop stops and closes idle connections at once; no new requests from
        // here; calls in flight get `shutdown_grace` to finish, then are aborted.
        let _ = self.shutdown.send(true);
        let grace_end = Instant::now() + self.core.cfg.shutdown_grace;
        while !self.core.calls.is_empty() && Instant::now() < grace_end {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
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

/// The bearer check for `auth`: the policy (resource, metadata) and the chosen verifier.
fn authenticator(
    a: &crate::auth::AuthConfig,
    cfg: &ServerConfig,
    port: u16,
    js: Option<Arc<dyn crate::auth::TokenVerifier>>,
) -> Result<Arc<crate::auth::Authenticator>, StartError> {
    use crate::auth::{jwt::JwtVerifier, Authenticator, Policy, TokenVerifier, Verifier};
    let policy = Policy::new(a, &cfg.endpoint, (&cfg.host, port))
        .map_err(|e| StartError::Option(e.to_string()))?;
    let verifier: Arc<dyn TokenVerifier> = match &a.verifier {
        Verifier::Js => js.ok_or_else(|| StartError::Option("auth.verify is missing".into()))?,
        Verifier::Jwt(j) => {
            Arc::new(JwtVerifier::new(j).map_err(|e| StartError::Option(e.to_string()))?)
        }
    };
    Ok(Arc::new(Authenticator::new(policy, verifier)))
}

/// The span a server's tasks run in: its logger's (see telemetry::logs), or none.
fn log_span(core: &Core) -> tracing::Span {
    core.cfg
        .log_span
        .clone()
        .unwrap_or_else(tracing::Span::none)
}

/// Refuses a `shared` option this build cannot honour before anything starts.
fn check_shared(cfg: &ServerConfig) -> Result<(), StartError> {
    match &cfg.shared {
        None => Ok(()),
        #[cfg(feature = "shared")]
        Some(shared) => super::cluster::check_url(shared),
        #[cfg(not(feature = "shared"))]
        Some(_) => Err(StartError::Option(
            "shared: this build has no shared-store support (cargo feature `shared`)".into(),
        )),
    }
}

async fn accept_loop(core: Arc<Core>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
    let sockets = Arc::new(Sockets::new(core.cfg.sockets));
    let limits = *sockets.limits();
    let mut sweep = tokio::time::interval(Duration::from_millis(250));
    // 5 s of 250 ms ticks.
    const TRIM_EVERY_TICKS: u32 = 20;
    let mut ticks: u32 = 0;
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = sweep.tick() => {
                let swept = sockets.sweep();
                if swept != Default::default() {
                    tracing::debug!(?swept, "closed idle or stalled sockets");
                }
                // Large answers were freed: give their pages back rather than keep them; and
                // every few seconds whatever else was freed.
                ticks = ticks.wrapping_add(1);
                if ticks.is_multiple_of(TRIM_EVERY_TICKS) {
                    crate::protocol::held::trim_now();
                } else {
                    crate::protocol::held::trim_if_released();
                }
            }
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        // Out of descriptors and the like: close what is idle or stalled and
                        // back off instead of spinning.
                        sockets.sweep();
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Over the socket cap the oldest idle or stalled socket goes; with no such
                // socket, the newcomer is closed at once.
                let Some(socket) = sockets.admit() else {
                    tracing::debug!("socket cap reached and every socket busy: closing the new one");
                    drop(stream);
                    continue;
                };
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(error = %e, "TCP_NODELAY");
                }
                let svc = McpService::new(core.clone(), peer);
                let sock = socket.clone();
                // The service_fn future itself stays small (see below); hyper polls it in place.
                let svc = service_fn(move |req| {
                    let svc = svc.clone();
                    let in_flight = sock.begin();
                    async move {
                        // Boxed: hyper moves the future it stores, and the request's whole
                        // state machine is kilobytes; only this small shell moves.
                        let resp = Box::pin(svc.handle(req)).await;
                        Ok::<_, std::convert::Infallible>(resp.map(|b| Tracked::new(b, in_flight)))
                    }
                    .in_current_span()
                });
                let io = TokioIo::new(Guarded::new(stream, socket.clone(), limits.write_timeout));
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .serve_connection(io, svc);
                tokio::spawn(serve(sockets.clone(), socket, conn).in_current_span());
            }
        }
    }
    drop(listener);
    // Connections with no request in flight close at once; close() gives the calls in flight
    // their grace and then ends every stream, so what is left here is closed after a short
    // flush whatever the peers do.
    sockets.kill_idle();
    let deadline =
        tokio::time::Instant::now() + core.cfg.shutdown_grace + Duration::from_millis(200);
    while sockets.any_in_flight() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
        sockets.kill_idle();
    }
    sockets.kill_all();
    for _ in 0..100 {
        if sockets.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Request heads must arrive within this (slowloris).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

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

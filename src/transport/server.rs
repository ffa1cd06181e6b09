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
use crate::monitor::{stdout, MonitorSink};
use crate::protocol::Dispatcher;

/// A running server. Dropping it without `close()` leaves tasks running until the runtime ends.
pub struct McpServer {
    core: Arc<Core>,
    /// `None` without a listener (handler mode: the host's HTTP server feeds the service).
    addr: Option<SocketAddr>,
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
        let span = log_span(&core);
        span.in_scope(
            || tracing::info!(address = %local, endpoint = %core.cfg.endpoint, "listening"),
        );
        let accept = tokio::spawn(accept_loop(core.clone(), listener, rx.clone()).instrument(span));
        Ok(Self::with_tasks(
            core,
            Some(local),
            shutdown,
            rx,
            Some(accept),
        ))
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
        let core = Core::new(cfg, dispatcher, host, sinks, stores)?;
        let (shutdown, rx) = watch::channel(false);
        Ok(Self::with_tasks(core, None, shutdown, rx, None))
    }

    fn with_tasks(
        core: Arc<Core>,
        addr: Option<SocketAddr>,
        shutdown: watch::Sender<bool>,
        rx: watch::Receiver<bool>,
        accept: Option<JoinHandle<()>>,
    ) -> Self {
        // Inside the server's log span (when a logger is set), so its events reach that
        // server's logger only.
        let span = log_span(&core);
        let mut tasks: Vec<JoinHandle<()>> = accept.into_iter().collect();
        tasks.push(tokio::spawn(
            reaper(core.clone(), rx.clone()).instrument(span.clone()),
        ));
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
        Self {
            core,
            addr,
            shutdown,
            tasks: Mutex::new(tasks),
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

/// The span a server's tasks run in: its logger's (see telemetry::logs), or none.
fn log_span(core: &Core) -> tracing::Span {
    core.cfg
        .log_span
        .clone()
        .unwrap_or_else(tracing::Span::none)
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

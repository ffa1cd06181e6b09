//! Server settings, already validated and defaulted (the bindings convert JS options into it).

use std::time::Duration;

use super::http::OriginPolicy;
use crate::session::{InMemoryEventStores, SessionConfig};

#[derive(Debug, Clone)]
pub struct InternalStats {
    pub path: String,
    pub token: Option<String>,
}

/// Child-process mode: a `stats_update` line every `interval` when the counts changed.
#[derive(Debug, Clone)]
pub struct StatsLines {
    pub server_id: String,
    pub interval: Duration,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    pub endpoint: String,
    /// Answer POSTs with one JSON object instead of an SSE stream.
    pub json_response: bool,
    pub session: SessionConfig,
    pub origin: OriginPolicy,
    pub max_connections: u64,
    /// Connections one client IP may hold (0: only `max_connections` applies).
    pub max_connections_per_client: u64,
    /// Socket cap and the timeouts of every connection phase (docs/hardening.md).
    pub sockets: super::sockets::SocketLimits,
    /// How long `close()` lets calls in flight finish before aborting them.
    pub shutdown_grace: Duration,
    /// Bytes of large answers held for their readers before new ones are refused.
    pub max_response_bytes_in_flight: u64,
    pub session_idle: Duration,
    pub client_idle: Duration,
    pub max_body: usize,
    pub callback_timeout: Option<Duration>,
    /// Period of SSE keep-alive comments on idle streams.
    pub keepalive: Duration,
    pub internal_stats: Option<InternalStats>,
    /// Take the client IP from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_proxy: bool,
    pub request_state_ttl: Duration,
    /// Base64 keys for sealing `requestState` (the first seals, all open); empty: one random
    /// key per process, so only this instance accepts its states.
    pub request_state_keys: Vec<String>,
    pub legacy: bool,
    pub modern: bool,
    /// One of the server's own tasks when set (see `monitor::stdout`).
    pub stats_lines: Option<StatsLines>,
    /// OAuth 2.1 resource server (docs/authorization.md); off when `None`.
    pub auth: Option<crate::auth::AuthConfig>,
    pub cors: Option<crate::auth::cors::CorsPolicy>,
    /// Request headers callbacks see as `ctx.headers` (never credentials).
    pub expose_headers: Vec<hyper::header::HeaderName>,
    /// This server's metrics registry, when metrics are on.
    pub metrics: Option<std::sync::Arc<crate::telemetry::Metrics>>,
    /// Serve the registry's OpenMetrics text at this path (behind the internalStats token).
    pub metrics_path: Option<String>,
    /// The span of this server's logger (see telemetry::logs): its tasks run inside it.
    pub log_span: Option<tracing::Span>,
    /// Several instances on one Redis (docs/deployment.md); `None`: this process alone.
    pub shared: Option<SharedConfig>,
}

/// `shared: { redisUrl, prefix, instanceId }`, defaulted.
#[derive(Debug, Clone)]
pub struct SharedConfig {
    pub redis_url: String,
    /// Every key and channel starts with `{prefix}:`; instances that share it form one cluster.
    pub prefix: String,
    pub instance_id: String,
    /// Period of the heartbeat; its key lives three periods.
    pub heartbeat: Duration,
    /// `rediss://` only: the CA certificates (PEM) to trust instead of the webpki roots.
    pub tls_ca: Option<Vec<u8>>,
    /// `rediss://` only: accept any certificate (tests, private networks).
    pub tls_insecure: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 3322,
            endpoint: "/mcp".into(),
            json_response: false,
            session: SessionConfig {
                event_store: Some(std::sync::Arc::new(InMemoryEventStores::default())),
                retry_ms: 1000,
                inputs: Default::default(),
                max_stream_backlog: crate::session::DEFAULT_MAX_STREAM_BACKLOG,
                on_slow_consumer: Default::default(),
            },
            origin: OriginPolicy {
                hosts: default_hosts("127.0.0.1"),
                origins: Vec::new(),
                port: 3322,
            },
            max_connections: 1000,
            max_connections_per_client: 0,
            sockets: Default::default(),
            shutdown_grace: Duration::from_secs(3),
            max_response_bytes_in_flight: super::calls::DEFAULT_MAX_RESPONSE_BYTES_IN_FLIGHT,
            session_idle: Duration::from_millis(1_800_000),
            client_idle: Duration::from_millis(300_000),
            max_body: 4 * 1024 * 1024,
            callback_timeout: Some(Duration::from_millis(300_000)),
            keepalive: Duration::from_secs(15),
            internal_stats: None,
            trust_proxy: false,
            request_state_ttl: Duration::from_millis(3_600_000),
            request_state_keys: Vec::new(),
            legacy: true,
            modern: true,
            stats_lines: None,
            auth: None,
            cors: None,
            expose_headers: Vec::new(),
            metrics: None,
            metrics_path: None,
            log_span: None,
            shared: None,
        }
    }
}

/// The listen host plus the loopback names.
pub fn default_hosts(listen: &str) -> Vec<String> {
    let mut v: Vec<String> = ["localhost", "127.0.0.1", "::1"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let listen = listen
        .trim_matches(|c| c == '[' || c == ']')
        .to_ascii_lowercase();
    if !v.contains(&listen) && listen != "0.0.0.0" && listen != "::" {
        v.push(listen);
    }
    v
}

/// Whether a listen host is a loopback address (or `localhost`); `0.0.0.0` and `::` are not.
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_matches(|c| c == '[' || c == ']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_hosts() {
        for h in [
            "127.0.0.1",
            "127.0.0.2",
            "localhost",
            "::1",
            "[::1]",
            "::ffff:127.0.0.1",
        ] {
            assert!(super::is_loopback_host(h), "{h}");
        }
        for h in ["0.0.0.0", "::", "10.0.0.1", "example.com"] {
            assert!(!super::is_loopback_host(h), "{h}");
        }
    }
}

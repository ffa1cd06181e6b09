//! `StreamableServerOptions` (as JSON from lib/server.js) into the core's configuration, with
//! clear errors for wrong types and values.

use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::protocol::catalog::{Catalog, Listing, DEFAULT_PAGE_SIZE};
use crate::protocol::dispatch::{CacheHints, ServerDescription};
use crate::protocol::validate::ValidationPolicy;
use crate::session::{EventStoreLimits, InMemoryEventStores};
use crate::telemetry::logs::{LogLevel, LogSinkConfig};
use crate::transport::config::default_hosts;
use crate::transport::http::OriginPolicy;
use crate::transport::StatsLines;
use crate::transport::{InternalStats, ServerConfig};
use std::sync::Arc;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    pub name: String,
    pub version: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub website_url: Option<String>,
    /// An array of icons, checked for shape in the typings and sent as given.
    pub icons: Option<Vec<serde_json::Value>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum Toggle<T> {
    Off(bool),
    On(T),
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct EventStoreOptions {
    pub max_events_per_session: Option<usize>,
    pub ttl_ms: Option<u64>,
    pub max_bytes_per_session: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct InternalStatsOptions {
    pub path: Option<String>,
    pub token: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Protocols {
    pub legacy: Option<bool>,
    pub modern: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CacheOptions {
    pub ttl_ms: Option<u64>,
    pub scope: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct JsOptions {
    pub port: Option<u16>,
    pub host: Option<String>,
    pub endpoint: Option<String>,
    pub server_info: Option<ServerInfo>,
    pub instructions: Option<String>,
    pub tools: Option<Vec<Box<RawValue>>>,
    pub resources: Option<Vec<Box<RawValue>>>,
    pub resource_templates: Option<Vec<Box<RawValue>>>,
    pub prompts: Option<Vec<Box<RawValue>>>,
    #[serde(default)]
    pub has_call_tool: bool,
    #[serde(default)]
    pub has_read_resource: bool,
    #[serde(default)]
    pub has_get_prompt: bool,
    #[serde(default)]
    pub has_complete: bool,
    pub enable_json_response: Option<bool>,
    pub event_store: Option<Toggle<EventStoreOptions>>,
    pub allowed_hosts: Option<Vec<String>>,
    pub allowed_origins: Option<Vec<String>>,
    pub max_connections: Option<u64>,
    pub session_idle_timeout_ms: Option<u64>,
    pub max_body_bytes: Option<usize>,
    pub callback_timeout_ms: Option<u64>,
    pub server_id: Option<String>,
    pub stdout_events: Option<bool>,
    pub stats_interval_ms: Option<u64>,
    pub internal_stats: Option<Toggle<InternalStatsOptions>>,
    pub protocols: Option<Protocols>,
    pub client_idle_timeout_ms: Option<u64>,
    pub cache: Option<CacheOptions>,
    pub request_state_ttl_ms: Option<u64>,
    pub request_state_keys: Option<Vec<String>>,
    pub trust_proxy: Option<bool>,
    /// SSE keep-alive comment period (ms); default 15 000.
    pub keep_alive_ms: Option<u64>,
    pub max_connections_per_client: Option<u64>,
    pub max_subscriptions_per_session: Option<usize>,
    pub max_uri_bytes: Option<usize>,
    pub max_client_info_bytes: Option<usize>,
    pub max_stream_backlog_bytes: Option<usize>,
    pub max_stream_backlog_bytes_total: Option<usize>,
    pub max_response_bytes_in_flight: Option<u64>,
    pub max_sockets: Option<usize>,
    pub request_body_idle_timeout_ms: Option<u64>,
    pub request_body_timeout_ms: Option<u64>,
    pub write_timeout_ms: Option<u64>,
    pub keep_alive_timeout_ms: Option<u64>,
    pub shutdown_grace_ms: Option<u64>,
    pub shared: Option<SharedOptions>,
    /// Set by createStreamableMcpHandler: no listener, the host's server feeds requests.
    #[serde(default)]
    pub handler_mode: bool,
    /// Tool argument / structured result validation: `false`, `true` or per side.
    pub validation: Option<Toggle<ValidationOptions>>,
    /// Which monitor callbacks the host registered (set by lib/server.js).
    #[serde(default)]
    pub monitor: MonitorWants,
    /// OAuth 2.1 resource server (docs/authorization.md).
    pub auth: Option<crate::auth::AuthOptions>,
    pub cors: Option<CorsOptions>,
    pub expose_headers: Option<Vec<String>>,
    /// Prometheus metrics: `true` or `{ path }` also serves them on the listener.
    pub metrics: Option<Toggle<MetricsOptions>>,
    /// Set by lib/server.js when a `logger` function was given.
    #[serde(default)]
    pub has_logger: bool,
    pub log_level: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct MetricsOptions {
    pub path: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum CorsOrigins {
    Any(String),
    List(Vec<String>),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CorsOptions {
    pub origins: CorsOrigins,
    pub credentials: Option<bool>,
    pub max_age_seconds: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SharedOptions {
    pub redis_url: String,
    pub prefix: Option<String>,
    pub instance_id: Option<String>,
    pub heartbeat_interval_ms: Option<u64>,
    pub tls: Option<SharedTlsOptions>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SharedTlsOptions {
    pub ca_file: Option<String>,
    pub insecure: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValidationOptions {
    pub arguments: Option<bool>,
    pub results: Option<bool>,
}

/// Events nobody listens to are not sent to JS at all.
#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "camelCase", default)]
pub struct MonitorWants {
    pub established: bool,
    pub closed: bool,
    pub rejected: bool,
    pub changed: bool,
}

pub struct Parsed {
    pub monitor: MonitorWants,
    pub handler_mode: bool,
    pub config: ServerConfig,
    pub description: ServerDescription,
    pub catalog: Catalog,
    pub server_id: String,
    pub stdout_events: bool,
    /// The path metrics are served at on the listener, when asked for.
    pub metrics_path: Option<String>,
    /// Where core logs go when a JS logger was given.
    pub logs: Option<LogSinkConfig>,
}

pub fn listing(
    items: Option<Vec<Box<RawValue>>>,
    key: &str,
    what: &str,
) -> Result<Listing, String> {
    Listing::new(items.unwrap_or_default(), key, DEFAULT_PAGE_SIZE)
        .map_err(|e| format!("{what}: {e}"))
}

pub fn parse(json: &str) -> Result<Parsed, String> {
    let o: JsOptions = serde_json::from_str(json).map_err(|e| format!("invalid options: {e}"))?;
    let mut cfg = ServerConfig::default();
    if let Some(h) = o.host {
        cfg.origin.hosts = default_hosts(&h);
        cfg.host = h;
    }
    if let Some(p) = o.port {
        cfg.port = p;
    }
    if let Some(e) = o.endpoint {
        if !e.starts_with('/') {
            return Err(format!("endpoint must start with '/': {e:?}"));
        }
        cfg.endpoint = e;
    }
    cfg.json_response = o.enable_json_response.unwrap_or(false);
    cfg.session.event_store = match o.event_store {
        Some(Toggle::Off(false)) => None,
        Some(Toggle::Off(true)) | None => Some(Arc::new(InMemoryEventStores::default())),
        Some(Toggle::On(es)) => {
            let d = EventStoreLimits::default();
            Some(Arc::new(InMemoryEventStores {
                limits: EventStoreLimits {
                    max_events: es.max_events_per_session.unwrap_or(d.max_events),
                    max_bytes: es.max_bytes_per_session.unwrap_or(d.max_bytes),
                    ttl: es.ttl_ms.map(Duration::from_millis).unwrap_or(d.ttl),
                },
            }))
        }
    };
    if let Some(hosts) = o.allowed_hosts {
        cfg.origin.hosts = hosts.into_iter().map(|h| h.to_ascii_lowercase()).collect();
    }
    if let Some(origins) = o.allowed_origins {
        cfg.origin.origins = origins
            .into_iter()
            .map(|h| h.trim_end_matches('/').to_ascii_lowercase())
            .collect();
    }
    cfg.origin = OriginPolicy { ..cfg.origin };
    if let Some(m) = o.max_connections {
        cfg.max_connections = m;
    }
    if let Some(m) = o.max_connections_per_client {
        cfg.max_connections_per_client = m;
    }
    let inputs = &mut cfg.session.inputs;
    if let Some(n) = o.max_subscriptions_per_session {
        inputs.max_subscriptions = n;
    }
    if let Some(n) = o.max_uri_bytes {
        inputs.max_uri_bytes = n;
    }
    if let Some(n) = o.max_client_info_bytes {
        inputs.max_client_info_bytes = n;
    }
    if let Some(n) = o.max_stream_backlog_bytes {
        cfg.session.max_stream_backlog.per_stream = n;
    }
    if let Some(n) = o.max_stream_backlog_bytes_total {
        cfg.session.max_stream_backlog.total = n;
    }
    if let Some(n) = o.max_response_bytes_in_flight {
        cfg.max_response_bytes_in_flight = n;
    }
    let positive = |name: &str, v: Option<u64>| -> Result<Option<Duration>, String> {
        match v {
            Some(0) => Err(format!("{name} must be positive")),
            Some(ms) => Ok(Some(Duration::from_millis(ms))),
            None => Ok(None),
        }
    };
    let sk = &mut cfg.sockets;
    if let Some(n) = o.max_sockets {
        if n == 0 {
            return Err("maxSockets must be positive".into());
        }
        sk.max_sockets = n;
    }
    if let Some(d) = positive("requestBodyIdleTimeoutMs", o.request_body_idle_timeout_ms)? {
        sk.body_idle_timeout = d;
    }
    if let Some(d) = positive("requestBodyTimeoutMs", o.request_body_timeout_ms)? {
        sk.body_timeout = d;
    }
    if let Some(d) = positive("writeTimeoutMs", o.write_timeout_ms)? {
        sk.write_timeout = d;
    }
    if let Some(d) = positive("keepAliveTimeoutMs", o.keep_alive_timeout_ms)? {
        sk.idle_timeout = d;
    }
    if let Some(ms) = o.shutdown_grace_ms {
        cfg.shutdown_grace = Duration::from_millis(ms);
    }
    if let Some(ms) = o.session_idle_timeout_ms {
        if ms == 0 {
            return Err("sessionIdleTimeoutMs must be positive".into());
        }
        cfg.session_idle = Duration::from_millis(ms);
    }
    if let Some(ms) = o.client_idle_timeout_ms {
        if ms == 0 {
            return Err("clientIdleTimeoutMs must be positive".into());
        }
        cfg.client_idle = Duration::from_millis(ms);
    }
    if let Some(b) = o.max_body_bytes {
        cfg.max_body = b;
    }
    // A hung callback must still give its client an answer: 5 minutes unless told otherwise;
    // 0 turns the bound off.
    cfg.callback_timeout = match o.callback_timeout_ms {
        None => Some(Duration::from_millis(300_000)),
        Some(0) => None,
        Some(ms) => Some(Duration::from_millis(ms)),
    };
    if let Some(ms) = o.keep_alive_ms {
        cfg.keepalive = Duration::from_millis(ms.max(10));
    }
    cfg.internal_stats = match o.internal_stats {
        None | Some(Toggle::Off(false)) => None,
        Some(Toggle::Off(true)) => Some(InternalStats {
            path: "/internal/connections".into(),
            token: None,
        }),
        Some(Toggle::On(s)) => Some(InternalStats {
            path: s.path.unwrap_or_else(|| "/internal/connections".into()),
            token: s.token.filter(|t| !t.is_empty()),
        }),
    };
    cfg.trust_proxy = o.trust_proxy.unwrap_or(false);
    if let Some(ms) = o.request_state_ttl_ms {
        cfg.request_state_ttl = Duration::from_millis(ms);
    }
    if let Some(keys) = o.request_state_keys {
        // Checked here so a bad key fails start() with the option's name, not later.
        crate::protocol::request_state::StateKeys::from_base64(&keys).map_err(|e| e.to_string())?;
        cfg.request_state_keys = keys;
    }
    if let Some(sh) = o.shared {
        if sh.redis_url.is_empty() {
            return Err("shared.redisUrl must not be empty".into());
        }
        let instance_id = match sh.instance_id.filter(|i| !i.is_empty()) {
            Some(i) => i,
            None => crate::session::new_session_id()
                .map(|hex| hex[..16].to_owned())
                .map_err(|e| format!("shared.instanceId: {e}"))?,
        };
        let tls = sh.tls.unwrap_or_default();
        if (tls.ca_file.is_some() || tls.insecure.is_some()) && !sh.redis_url.starts_with("rediss:")
        {
            return Err("shared.tls needs a rediss:// redisUrl".into());
        }
        let tls_ca = match &tls.ca_file {
            Some(path) => {
                Some(std::fs::read(path).map_err(|e| format!("shared.tls.caFile: {path}: {e}"))?)
            }
            None => None,
        };
        cfg.shared = Some(crate::transport::config::SharedConfig {
            tls_ca,
            tls_insecure: tls.insecure.unwrap_or(false),
            redis_url: sh.redis_url,
            prefix: sh.prefix.unwrap_or_else(|| "mcp".into()),
            instance_id,
            heartbeat: Duration::from_millis(sh.heartbeat_interval_ms.unwrap_or(2_000).max(100)),
        });
    }
    let protocols = o.protocols.unwrap_or_default();
    cfg.legacy = protocols.legacy.unwrap_or(true);
    cfg.modern = protocols.modern.unwrap_or(true);
    if !cfg.legacy && !cfg.modern {
        return Err("protocols: at least one era must be enabled".into());
    }
    let stats_interval = Duration::from_millis(o.stats_interval_ms.unwrap_or(30_000).max(5_000));
    let server_id = o.server_id.unwrap_or_else(|| "mcp-server".into());
    let stdout_events = o.stdout_events.unwrap_or(false);
    cfg.stats_lines = stdout_events.then(|| StatsLines {
        server_id: server_id.clone(),
        interval: stats_interval,
    });
    if let Some(a) = o.auth {
        cfg.auth = Some(a.into_config().map_err(|e| e.to_string())?);
    }
    if let Some(c) = o.cors {
        use crate::auth::cors::{CorsPolicy, Origins};
        let origins = match c.origins {
            CorsOrigins::Any(s) if s == "*" => Origins::Any,
            CorsOrigins::Any(s) => {
                return Err(format!("cors.origins: {s:?} is neither '*' nor a list"))
            }
            CorsOrigins::List(l) => Origins::List(l),
        };
        cfg.cors = Some(CorsPolicy {
            origins,
            credentials: c.credentials.unwrap_or(false),
            max_age_seconds: c.max_age_seconds,
        });
    }
    if let Some(names) = o.expose_headers {
        cfg.expose_headers = crate::transport::auth::exposed_names(&names);
    }

    let mut catalog = Catalog {
        tools: listing(o.tools, "name", "tools")?,
        resources: listing(o.resources, "uri", "resources")?,
        resource_templates: listing(o.resource_templates, "uriTemplate", "resourceTemplates")?,
        prompts: listing(o.prompts, "name", "prompts")?,
        ..Default::default()
    };
    let policy = match o.validation {
        None | Some(Toggle::Off(true)) => ValidationPolicy::default(),
        Some(Toggle::Off(false)) => ValidationPolicy::OFF,
        Some(Toggle::On(v)) => ValidationPolicy {
            arguments: v.arguments.unwrap_or(true),
            results: v.results.unwrap_or(true),
        },
    };
    catalog.index_tools(policy)?;
    let info = o.server_info.unwrap_or(ServerInfo {
        name: "mcp-swagger-native".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        title: None,
        ..Default::default()
    });
    let cache = o.cache.unwrap_or_default();
    let description = ServerDescription {
        name: info.name,
        version: info.version,
        title: info.title,
        info_description: info.description,
        website_url: info.website_url,
        icons: info.icons.map(serde_json::Value::Array),
        instructions: o.instructions,
        tools: o.has_call_tool || !catalog.tools.is_empty(),
        resources: o.has_read_resource
            || !catalog.resources.is_empty()
            || !catalog.resource_templates.is_empty(),
        prompts: o.has_get_prompt || !catalog.prompts.is_empty(),
        completions: o.has_complete,
        cache: CacheHints {
            ttl_ms: cache.ttl_ms.unwrap_or(0),
            public: match cache.scope.as_deref() {
                None | Some("private") => false,
                Some("public") => true,
                Some(other) => {
                    return Err(format!(
                        "cache.scope must be 'public' or 'private', got {other:?}"
                    ))
                }
            },
        },
        legacy: cfg.legacy,
        modern: cfg.modern,
    };
    let metrics_path = match o.metrics {
        None | Some(Toggle::Off(false)) => None,
        Some(Toggle::Off(true)) => Some("/metrics".to_owned()),
        Some(Toggle::On(m)) => {
            let path = m.path.unwrap_or_else(|| "/metrics".into());
            if !path.starts_with('/') {
                return Err(format!("metrics.path must start with '/': {path:?}"));
            }
            Some(path)
        }
    };
    cfg.metrics_path = metrics_path.clone();
    let logs = match (o.has_logger, o.log_level.as_deref()) {
        (false, _) => None,
        (true, None) => Some(LogSinkConfig::default()),
        (true, Some(l)) => Some(LogSinkConfig {
            level: LogLevel::parse(l).ok_or_else(|| {
                format!("logLevel must be one of off, error, warn, info, debug, trace; got {l:?}")
            })?,
            ..LogSinkConfig::default()
        }),
    };
    Ok(Parsed {
        metrics_path,
        logs,
        monitor: o.monitor,
        handler_mode: o.handler_mode,
        config: cfg,
        description,
        catalog,
        server_id,
        stdout_events,
    })
}

//! Child-process mode: monitor events as `[MCP_CONNECTION] {json}` lines on stdout (DESIGN §4),
//! each written whole with one `write` so lines never interleave with other output, plus a
//! periodic `stats_update` when something changed.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::tracker::{ConnectionInfo, Counts, MonitorEvent, MonitorSink};
use crate::transport::Core;

pub const PREFIX: &str = "[MCP_CONNECTION] ";

fn iso(ms: u64) -> String {
    crate::events::iso8601_from_ms(ms)
}

fn client_info(info: &ConnectionInfo) -> Value {
    let mut v = json!({
        "id": &*info.session_id,
        "remoteAddress": info.client_ip,
        "userAgent": info.user_agent,
        "connectedAt": iso(info.connected_at),
        "era": info.era.as_str(),
    });
    if let Value::Object(m) = &mut v {
        if let Some(n) = &info.client_name {
            m.insert("clientName".into(), json!(n));
        }
        if let Some(n) = &info.client_version {
            m.insert("clientVersion".into(), json!(n));
        }
    }
    v
}

fn stats(counts: Counts) -> Value {
    json!({
        "totalConnections": counts.total_connections,
        "activeConnections": counts.active_connections,
        "maxConnections": counts.max_connections,
    })
}

/// The line for one monitor event, trailing newline included.
pub fn event_line(server_id: &str, event: &MonitorEvent, counts: Counts) -> String {
    let now = iso(super::now_ms());
    let v = match event {
        MonitorEvent::Established(info) => json!({
            "type": "MCP_CONNECTION_EVENT", "eventType": "connected", "serverId": server_id,
            "clientInfo": client_info(info), "connectionStats": stats(counts), "timestamp": now,
        }),
        MonitorEvent::Closed {
            info,
            duration_ms,
            reason,
        } => json!({
            "type": "MCP_CONNECTION_EVENT", "eventType": "disconnected", "serverId": server_id,
            "clientInfo": client_info(info), "connectionStats": stats(counts),
            "durationMs": duration_ms, "reason": reason.as_str(), "timestamp": now,
        }),
        MonitorEvent::Rejected {
            reason, client_ip, ..
        } => json!({
            "type": "MCP_CONNECTION_EVENT", "eventType": "connection_rejected", "serverId": server_id,
            "clientInfo": { "remoteAddress": client_ip },
            "connectionStats": stats(counts), "reason": reason, "timestamp": now,
        }),
    };
    format!("{PREFIX}{v}\n")
}

pub fn stats_line(server_id: &str, counts: Counts) -> String {
    let v = json!({
        "type": "MCP_CONNECTION_EVENT", "eventType": "stats_update", "serverId": server_id,
        "connectionStats": stats(counts), "timestamp": iso(super::now_ms()),
    });
    format!("{PREFIX}{v}\n")
}

/// Writes one whole line to fd 1. A pipe write of less than PIPE_BUF bytes is atomic, and
/// the stdout lock keeps Rust writers apart.
pub fn write_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
}

pub struct StdoutSink {
    server_id: String,
    /// Bumped on every event; the stats task compares it with what it last reported.
    pub version: Arc<AtomicU64>,
}

impl StdoutSink {
    pub fn new(server_id: String) -> Self {
        Self {
            server_id,
            version: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl MonitorSink for StdoutSink {
    fn event(&self, event: &MonitorEvent, counts: Counts) {
        self.version.fetch_add(1, Ordering::Relaxed);
        write_line(&event_line(&self.server_id, event, counts));
    }
}

/// `stats_update` every `interval`, only when the counts changed since the last one.
pub fn spawn_stats(core: Arc<Core>, server_id: String, interval: Duration) {
    tokio::spawn(async move {
        let mut last: Option<Counts> = None;
        let mut tick = tokio::time::interval(interval);
        tick.tick().await;
        loop {
            tick.tick().await;
            if core.is_closing() {
                break;
            }
            let counts = core.tracker.counts_now();
            if last != Some(counts) {
                write_line(&stats_line(&server_id, counts));
                last = Some(counts);
            }
        }
    });
}

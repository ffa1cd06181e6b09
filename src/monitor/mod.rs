//! Connection tracking: who is connected, since when, how busy, and the events that report it.
//! A 2025 session is a connection from `initialize` to its end; a 2026 (sessionless) client is
//! a connection from its first request until it falls silent (docs/protocol-eras.md).

pub mod intern;
pub mod metrics_sink;
pub mod stdout;
pub mod tracker;

pub use tracker::{
    CloseReason, ConnectionInfo, Counts, Evictor, MonitorEvent, MonitorSink, NewConnection,
    Refused, Tracker, TrackerConfig,
};

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch: how times cross into JS (`new Date(ms)`) and stdout.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

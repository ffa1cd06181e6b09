//! Child-process mode: monitor events as `[MCP_CONNECTION] {json}` lines on stdout (see
//! docs/monitoring.md, "The [MCP_CONNECTION] line"),
//! each written whole with one `write` so lines never interleave with other output, plus a
//! periodic `stats_update` when something changed. The line format is `crate::events`', the
//! same one the parent's `ConnectionEventHub` parses.

use std::io::Write;
use std::time::Duration;

use tokio::sync::watch;

use super::tracker::{CloseReason, ConnectionInfo, Counts, MonitorEvent, MonitorSink};
use crate::events::{
    format_line, ClientEra, ClientInfo, ConnectionCounts, ConnectionEvent, DisconnectReason,
    Timestamp,
};
use crate::protocol::Era;

fn client_info(info: &ConnectionInfo) -> ClientInfo {
    let mut c = ClientInfo::new(
        &*info.session_id,
        Timestamp::from_epoch_ms(info.connected_at as i64),
    )
    .with_remote_address(info.client_ip.to_string())
    .with_user_agent(info.user_agent.to_string())
    .with_era(match info.era {
        Era::Legacy => ClientEra::Legacy,
        Era::Modern => ClientEra::Modern,
    });
    if let Some(a) = &info.auth {
        c = c.with_principal(a.subject.clone(), a.client_id.clone());
    }
    if let Some(name) = &info.client_name {
        c = c.with_client(
            name.to_string(),
            info.client_version
                .as_deref()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    c
}

fn counts(c: Counts) -> ConnectionCounts {
    ConnectionCounts::new(c.total_connections, c.active_connections).with_max(c.max_connections)
}

fn reason(r: CloseReason) -> DisconnectReason {
    match r {
        CloseReason::Deleted => DisconnectReason::Deleted,
        CloseReason::IdleTimeout => DisconnectReason::IdleTimeout,
        CloseReason::Closed => DisconnectReason::Closed,
        CloseReason::Shutdown => DisconnectReason::Shutdown,
        CloseReason::Evicted => DisconnectReason::Other("evicted".into()),
        CloseReason::InstanceLost => DisconnectReason::Other("instance_lost".into()),
    }
}

/// The line for one monitor event, trailing newline included.
pub fn event_line(server_id: &str, event: &MonitorEvent, c: Counts) -> String {
    let e = match event {
        MonitorEvent::Established(info) => ConnectionEvent::connected(client_info(info), counts(c)),
        MonitorEvent::Closed {
            info,
            duration_ms,
            reason: r,
        } => ConnectionEvent::disconnected(client_info(info), *duration_ms, reason(*r), counts(c)),
        // docs/monitoring.md: a rejection carries its reason; there is no connection to describe (the
        // refused client's address goes to onConnectionRejected in-process).
        MonitorEvent::Rejected { reason, .. } => {
            ConnectionEvent::connection_rejected(reason.clone(), counts(c))
        }
    };
    format_line(&e.with_server_id(server_id))
}

pub fn stats_line(server_id: &str, c: Counts) -> String {
    format_line(&ConnectionEvent::stats_update(counts(c)).with_server_id(server_id))
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
}

impl StdoutSink {
    pub fn new(server_id: String) -> Self {
        Self { server_id }
    }
}

impl MonitorSink for StdoutSink {
    fn event(&self, event: &MonitorEvent, counts: Counts) {
        write_line(&event_line(&self.server_id, event, counts));
    }
}

/// `stats_update` every `interval`, only when the counts changed since the last one; ends
/// when `stop` turns true. The server runs it as one of its own tasks.
pub async fn stats_ticker(
    counts: impl Fn() -> Counts + Send,
    server_id: String,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut last: Option<Counts> = None;
    let mut tick = tokio::time::interval(interval);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => {
                let now = counts();
                if last != Some(now) {
                    write_line(&stats_line(&server_id, now));
                    last = Some(now);
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::events::{parse_line, EventType};

    #[test]
    fn monitor_lines_parse_back_as_events() {
        let info = ConnectionInfo {
            session_id: "s1".into(),
            era: Era::Modern,
            client_ip: "127.0.0.1".into(),
            user_agent: "ua".into(),
            connected_at: 1_795_996_800_123,
            last_activity: 1_795_996_800_123,
            request_count: 1,
            client_name: Some("c".into()),
            client_version: Some("1".into()),
            protocol_version: None,
            auth: Some(std::sync::Arc::new(
                crate::monitor::tracker::ConnectionAuth {
                    subject: "alice".into(),
                    client_id: Some("cli-1".into()),
                    scopes: vec!["mcp:read".into()],
                },
            )),
        };
        let c = Counts {
            active_connections: 0,
            total_connections: 3,
            max_connections: 10,
        };
        let closed = MonitorEvent::Closed {
            info,
            duration_ms: 5,
            reason: CloseReason::IdleTimeout,
        };
        let line = event_line("srv", &closed, c);
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        let e = parse_line(line.trim_end()).unwrap().unwrap();
        assert_eq!(e.event_type(), EventType::Disconnected);
        assert_eq!(e.server_id.as_deref(), Some("srv"));
        // The principal travels in clientInfo.
        let client = e.client().unwrap();
        assert_eq!(client.subject.as_deref(), Some("alice"));
        assert_eq!(client.client_id.as_deref(), Some("cli-1"));
        let rejected = MonitorEvent::Rejected {
            reason: "max_connections".into(),
            client_ip: "127.0.0.1".into(),
            at: 0,
        };
        let e = parse_line(event_line("srv", &rejected, c).trim_end())
            .unwrap()
            .unwrap();
        assert_eq!(e.event_type(), EventType::ConnectionRejected);
        let stats = parse_line(stats_line("srv", c).trim_end())
            .unwrap()
            .unwrap();
        assert_eq!(stats.event_type(), EventType::StatsUpdate);
    }
}

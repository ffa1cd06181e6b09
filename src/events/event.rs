//! The `[MCP_CONNECTION]` event (docs/monitoring.md, "The [MCP_CONNECTION] line") as Rust values.
//!
//! Build one with the constructors ([`ConnectionEvent::connected`], [`ConnectionEvent::disconnected`],
//! [`ConnectionEvent::stats_update`], [`ConnectionEvent::connection_rejected`]) or the public
//! fields, then write it with [`crate::events::format_line`].

use std::fmt;

use serde::{Serialize, Serializer};

use super::timestamp::Timestamp;

/// The value of every event's `type` field.
pub const EVENT_TAG: &str = "MCP_CONNECTION_EVENT";

/// One `[MCP_CONNECTION]` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionEvent {
    /// The server that wrote the event (absent in the seed's older shape).
    pub server_id: Option<String>,
    /// `eventType` and the fields that depend on it.
    pub kind: EventKind,
    /// The writer's own counts at the time of the event.
    pub connection_stats: ConnectionCounts,
    /// When the event happened.
    pub timestamp: Timestamp,
}

/// `eventType` with the fields each type adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A client connected.
    Connected { client: ClientInfo },
    /// A client went away. `duration_ms` and `reason` are absent only in the seed's older shape.
    Disconnected {
        client: ClientInfo,
        duration_ms: Option<u64>,
        reason: Option<DisconnectReason>,
    },
    /// Periodic counts; no client.
    StatsUpdate,
    /// A connection was refused (e.g. over `maxConnections`); the client is optional.
    ConnectionRejected {
        reason: String,
        client: Option<ClientInfo>,
    },
}

/// The `eventType` string alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Connected,
    Disconnected,
    StatsUpdate,
    ConnectionRejected,
}

impl EventType {
    /// The wire name: `connected`, `disconnected`, `stats_update`, `connection_rejected`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Connected => "connected",
            EventType::Disconnected => "disconnected",
            EventType::StatsUpdate => "stats_update",
            EventType::ConnectionRejected => "connection_rejected",
        }
    }

    /// The type named by a wire string, if it is one of the four.
    pub fn from_wire(s: &str) -> Option<Self> {
        Some(match s {
            "connected" => EventType::Connected,
            "disconnected" => EventType::Disconnected,
            "stats_update" => EventType::StatsUpdate,
            "connection_rejected" => EventType::ConnectionRejected,
            _ => return None,
        })
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a client went away. Unknown reasons from a newer writer are kept as [`DisconnectReason::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The client sent DELETE (or the host closed the session on purpose).
    Deleted,
    /// No request for longer than the idle timeout (sessions and sessionless clients).
    IdleTimeout,
    /// The transport closed.
    Closed,
    /// The server shut down.
    Shutdown,
    /// Any other string.
    Other(String),
}

impl DisconnectReason {
    /// The wire string.
    pub fn as_str(&self) -> &str {
        match self {
            DisconnectReason::Deleted => "deleted",
            DisconnectReason::IdleTimeout => "idle_timeout",
            DisconnectReason::Closed => "closed",
            DisconnectReason::Shutdown => "shutdown",
            DisconnectReason::Other(s) => s,
        }
    }
}

impl From<&str> for DisconnectReason {
    fn from(s: &str) -> Self {
        match s {
            "deleted" => DisconnectReason::Deleted,
            "idle_timeout" => DisconnectReason::IdleTimeout,
            "closed" => DisconnectReason::Closed,
            "shutdown" => DisconnectReason::Shutdown,
            other => DisconnectReason::Other(other.to_owned()),
        }
    }
}

impl Serialize for DisconnectReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Which protocol era a client speaks (docs/protocol-eras.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientEra {
    /// 2025 revisions: `initialize` and `Mcp-Session-Id`.
    Legacy,
    /// 2026-07-28: stateless, per-request `_meta`.
    Modern,
}

impl ClientEra {
    /// `legacy` or `modern`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientEra::Legacy => "legacy",
            ClientEra::Modern => "modern",
        }
    }
}

/// `clientInfo`: the connection an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientInfo {
    /// The session id (legacy) or the monitor's client id (modern).
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    pub connected_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub era: Option<ClientEra>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_version: Option<String>,
}

impl ClientInfo {
    /// A client with only the required fields; add the rest with the `with_*` methods.
    pub fn new(id: impl Into<String>, connected_at: Timestamp) -> Self {
        Self {
            id: id.into(),
            remote_address: None,
            user_agent: None,
            connected_at,
            era: None,
            client_name: None,
            client_version: None,
        }
    }

    pub fn with_remote_address(mut self, addr: impl Into<String>) -> Self {
        self.remote_address = Some(addr.into());
        self
    }

    pub fn with_user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = Some(ua.into());
        self
    }

    pub fn with_era(mut self, era: ClientEra) -> Self {
        self.era = Some(era);
        self
    }

    /// `clientInfo.name` / `version` from `initialize` or `_meta`.
    pub fn with_client(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.client_name = Some(name.into());
        self.client_version = Some(version.into());
        self
    }
}

/// `connectionStats`: the writer's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionCounts {
    /// Connections ever opened by the server.
    pub total_connections: u64,
    /// Connections open now.
    pub active_connections: u64,
    /// The configured limit (absent in the seed's older shape).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u64>,
}

impl ConnectionCounts {
    pub fn new(total_connections: u64, active_connections: u64) -> Self {
        Self {
            total_connections,
            active_connections,
            max_connections: None,
        }
    }

    pub fn with_max(mut self, max_connections: u64) -> Self {
        self.max_connections = Some(max_connections);
        self
    }
}

impl ConnectionEvent {
    fn with_kind(kind: EventKind, connection_stats: ConnectionCounts) -> Self {
        Self {
            server_id: None,
            kind,
            connection_stats,
            timestamp: Timestamp::now(),
        }
    }

    /// A `connected` event stamped now.
    pub fn connected(client: ClientInfo, stats: ConnectionCounts) -> Self {
        Self::with_kind(EventKind::Connected { client }, stats)
    }

    /// A `disconnected` event stamped now.
    pub fn disconnected(
        client: ClientInfo,
        duration_ms: u64,
        reason: DisconnectReason,
        stats: ConnectionCounts,
    ) -> Self {
        Self::with_kind(
            EventKind::Disconnected {
                client,
                duration_ms: Some(duration_ms),
                reason: Some(reason),
            },
            stats,
        )
    }

    /// A `stats_update` event stamped now.
    pub fn stats_update(stats: ConnectionCounts) -> Self {
        Self::with_kind(EventKind::StatsUpdate, stats)
    }

    /// A `connection_rejected` event stamped now (add a client with [`Self::with_client`]).
    pub fn connection_rejected(reason: impl Into<String>, stats: ConnectionCounts) -> Self {
        Self::with_kind(
            EventKind::ConnectionRejected {
                reason: reason.into(),
                client: None,
            },
            stats,
        )
    }

    /// Names the writing server (`serverId`).
    pub fn with_server_id(mut self, server_id: impl Into<String>) -> Self {
        self.server_id = Some(server_id.into());
        self
    }

    /// Replaces the timestamp.
    pub fn at(mut self, timestamp: Timestamp) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// Sets the client of a `connection_rejected` event; other kinds are left as they are.
    pub fn with_client(mut self, info: ClientInfo) -> Self {
        if let EventKind::ConnectionRejected { client, .. } = &mut self.kind {
            *client = Some(info);
        }
        self
    }

    /// The `eventType`.
    pub fn event_type(&self) -> EventType {
        match self.kind {
            EventKind::Connected { .. } => EventType::Connected,
            EventKind::Disconnected { .. } => EventType::Disconnected,
            EventKind::StatsUpdate => EventType::StatsUpdate,
            EventKind::ConnectionRejected { .. } => EventType::ConnectionRejected,
        }
    }

    /// The client the event is about, if any.
    pub fn client(&self) -> Option<&ClientInfo> {
        match &self.kind {
            EventKind::Connected { client } | EventKind::Disconnected { client, .. } => {
                Some(client)
            }
            EventKind::ConnectionRejected { client, .. } => client.as_ref(),
            EventKind::StatsUpdate => None,
        }
    }
}

/// The wire object, field order as in docs/monitoring.md ("The [MCP_CONNECTION] line").
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireOut<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    event_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_info: Option<&'a ClientInfo>,
    connection_stats: &'a ConnectionCounts,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    timestamp: &'a Timestamp,
}

impl Serialize for ConnectionEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (duration_ms, reason) = match &self.kind {
            EventKind::Disconnected {
                duration_ms,
                reason,
                ..
            } => (*duration_ms, reason.as_ref().map(DisconnectReason::as_str)),
            EventKind::ConnectionRejected { reason, .. } => (None, Some(reason.as_str())),
            _ => (None, None),
        };
        WireOut {
            ty: EVENT_TAG,
            event_type: self.event_type().as_str(),
            server_id: self.server_id.as_deref(),
            client_info: self.client(),
            connection_stats: &self.connection_stats,
            duration_ms,
            reason,
            timestamp: &self.timestamp,
        }
        .serialize(s)
    }
}

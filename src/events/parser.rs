//! One line → an event, "not an event" (a log line), or a typed error.
//!
//! An *event line* starts with the marker `[MCP_CONNECTION]` (leading blanks allowed); the JSON
//! object follows after optional blanks. Any other line is a log line. An event line whose JSON
//! is not a valid §4 event is a [`ParseError`]. Unknown extra fields are ignored (forward
//! compatibility); the seed's older shape (no `serverId`, no `maxConnections`, a `disconnected`
//! without `durationMs`/`reason`) is accepted, and so is upstream mcp-swagger-server's writer,
//! which names the client `clientInfo.sessionId` instead of `clientInfo.id`
//! (docs/monitoring.md).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use super::event::{
    ClientEra, ClientInfo, ConnectionCounts, ConnectionEvent, DisconnectReason, EventKind,
    EventType, EVENT_TAG,
};
use super::timestamp::{validate_iso8601, Timestamp, TimestampError};

mod scan;

/// The marker that makes a line an event line.
pub const MARKER: &str = "[MCP_CONNECTION]";
/// What a writer puts before the JSON: the marker and one space.
pub const PREFIX: &str = "[MCP_CONNECTION] ";
/// Longest excerpt of a bad line kept in a [`ParseError`] report, in characters.
pub const EXCERPT_CHARS: usize = 160;

/// Why an event line is not a valid event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("no JSON object after the [MCP_CONNECTION] marker")]
    MissingJson,
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("`type` is {0:?}, expected \"MCP_CONNECTION_EVENT\"")]
    WrongType(String),
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    #[error("unknown eventType {0:?}")]
    UnknownEventType(String),
    #[error("field `{field}` {problem}")]
    InvalidField {
        field: &'static str,
        problem: &'static str,
    },
    #[error("field `{field}`: {source}")]
    InvalidTimestamp {
        field: &'static str,
        #[source]
        source: TimestampError,
    },
    #[error("line longer than {limit} bytes (cut; resynchronised at the next newline)")]
    LineTooLong { limit: usize },
}

/// If `line` is an event line, the text after the marker (trimmed); `None` for a log line.
pub fn event_payload(line: &str) -> Option<&str> {
    let rest = line.trim_start_matches([' ', '\t']);
    let rest = rest.strip_prefix(MARKER)?;
    Some(rest.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r'))
}

/// `Ok(None)` for a log line, `Ok(Some(event))` for a valid event line, `Err` for a malformed one.
/// A single trailing `\n` or `\r\n` is ignored.
pub fn parse_line(line: &str) -> Result<Option<ConnectionEvent>, ParseError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    match event_payload(line) {
        None => Ok(None),
        Some(json) => parse_event_json(json).map(Some),
    }
}

/// Validates one event's JSON text (docs/monitoring.md, "The [MCP_CONNECTION] line").
pub fn parse_event_json(json: &str) -> Result<ConnectionEvent, ParseError> {
    parse_event_ref(json).map(|e| e.to_owned_event())
}

/// Validates one event's JSON text into a view that borrows from it (no copies of strings that
/// need no unescaping). The hub uses this; [`ConnectionEventRef::to_owned_event`] makes a
/// [`ConnectionEvent`].
pub fn parse_event_ref(json: &str) -> Result<ConnectionEventRef<'_>, ParseError> {
    if json.is_empty() {
        return Err(ParseError::MissingJson);
    }
    let wire: WireIn<'_> =
        serde_json::from_str(json).map_err(|e| ParseError::Json(e.to_string()))?;
    wire.validate()
}

/// [`parse_event_ref`] with a hand-written reader for the shape writers produce, serde for
/// anything else: the same event or the same error, faster (the hub uses it).
pub fn parse_event_ref_fast(json: &str) -> Result<ConnectionEventRef<'_>, ParseError> {
    match scan::scan(json) {
        Some(wire) => wire.validate(),
        None => parse_event_ref(json),
    }
}

/// Whether the hand-written reader takes `json` by itself (tests and benches).
#[doc(hidden)]
pub fn scans_fast(json: &str) -> bool {
    scan::scan(json).is_some()
}

/// A validated ISO-8601 time borrowed from the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampRef<'a> {
    pub text: Cow<'a, str>,
    pub epoch_ms: i64,
}

impl TimestampRef<'_> {
    pub fn to_owned_timestamp(&self) -> Timestamp {
        Timestamp::from_validated(self.text.clone().into_owned(), self.epoch_ms)
    }
}

/// A validated `clientInfo` borrowed from the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfoRef<'a> {
    pub id: Cow<'a, str>,
    pub remote_address: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
    pub connected_at: TimestampRef<'a>,
    pub era: Option<ClientEra>,
    pub client_name: Option<Cow<'a, str>>,
    pub client_version: Option<Cow<'a, str>>,
    pub subject: Option<Cow<'a, str>>,
    pub client_id: Option<Cow<'a, str>>,
}

fn own(s: &Option<Cow<'_, str>>) -> Option<String> {
    s.as_ref().map(|c| c.clone().into_owned())
}

impl ClientInfoRef<'_> {
    pub fn to_owned_client(&self) -> ClientInfo {
        ClientInfo {
            id: self.id.clone().into_owned(),
            remote_address: own(&self.remote_address),
            user_agent: own(&self.user_agent),
            connected_at: self.connected_at.to_owned_timestamp(),
            era: self.era,
            client_name: own(&self.client_name),
            client_version: own(&self.client_version),
            subject: own(&self.subject),
            client_id: own(&self.client_id),
        }
    }
}

/// A validated event borrowed from its line. Which fields are present follows `event_type`:
/// `client` on connected/disconnected (and optionally connection_rejected), `reason` on
/// connection_rejected (and optionally disconnected), `duration_ms` only on disconnected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionEventRef<'a> {
    pub server_id: Option<Cow<'a, str>>,
    pub event_type: EventType,
    pub client: Option<ClientInfoRef<'a>>,
    pub connection_stats: ConnectionCounts,
    pub duration_ms: Option<u64>,
    pub reason: Option<Cow<'a, str>>,
    pub timestamp: TimestampRef<'a>,
}

impl ConnectionEventRef<'_> {
    /// The owned [`ConnectionEvent`].
    pub fn to_owned_event(&self) -> ConnectionEvent {
        let client = self.client.as_ref().map(ClientInfoRef::to_owned_client);
        let kind = match (self.event_type, client) {
            (EventType::Connected, Some(client)) => EventKind::Connected { client },
            (EventType::Disconnected, Some(client)) => EventKind::Disconnected {
                client,
                duration_ms: self.duration_ms,
                reason: self.reason.as_deref().map(DisconnectReason::from),
            },
            (EventType::ConnectionRejected, client) => EventKind::ConnectionRejected {
                reason: own(&self.reason).unwrap_or_default(),
                client,
            },
            // validate() guarantees a client on connected/disconnected.
            _ => EventKind::StatsUpdate,
        };
        ConnectionEvent {
            server_id: own(&self.server_id),
            kind,
            connection_stats: self.connection_stats,
            timestamp: self.timestamp.to_owned_timestamp(),
        }
    }
}

/// At most [`EXCERPT_CHARS`] characters of `line`, with `…` when cut.
pub fn excerpt(line: &str) -> String {
    match line.char_indices().nth(EXCERPT_CHARS) {
        None => line.to_owned(),
        Some((i, _)) => {
            let mut s = String::with_capacity(i + 3);
            s.push_str(&line[..i]);
            s.push('…');
            s
        }
    }
}

/// A JSON string borrowed from the input when it has no escapes. (serde's own `Cow<str>` impl
/// borrows only for a bare `Cow` field, not inside an `Option`: it would copy every string.)
struct Str<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

fn cow(s: Option<Str<'_>>) -> Option<Cow<'_, str>> {
    s.map(|s| s.0)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireIn<'a> {
    #[serde(rename = "type", borrow)]
    ty: Option<Str<'a>>,
    #[serde(borrow)]
    event_type: Option<Str<'a>>,
    #[serde(borrow)]
    server_id: Option<Str<'a>>,
    #[serde(borrow)]
    client_info: Option<WireClient<'a>>,
    connection_stats: Option<WireCounts>,
    duration_ms: Option<Value>,
    #[serde(borrow)]
    reason: Option<Str<'a>>,
    #[serde(borrow)]
    timestamp: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireClient<'a> {
    #[serde(borrow)]
    id: Option<Str<'a>>,
    /// Upstream mcp-swagger-server's spelling of `id` (its `MCPConnectionMonitor` in
    /// packages/mcp-swagger-server/src/transportUtils/stream.ts, since its commit 70fb058).
    /// A separate field rather than a serde alias: a line carrying both must not be an error.
    #[serde(borrow)]
    session_id: Option<Str<'a>>,
    #[serde(borrow)]
    remote_address: Option<Str<'a>>,
    #[serde(borrow)]
    user_agent: Option<Str<'a>>,
    #[serde(borrow)]
    connected_at: Option<Str<'a>>,
    #[serde(borrow)]
    era: Option<Str<'a>>,
    #[serde(borrow)]
    client_name: Option<Str<'a>>,
    #[serde(borrow)]
    client_version: Option<Str<'a>>,
    #[serde(borrow)]
    subject: Option<Str<'a>>,
    #[serde(borrow)]
    client_id: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireCounts {
    total_connections: Option<Value>,
    active_connections: Option<Value>,
    max_connections: Option<Value>,
}

fn count(field: &'static str, v: Option<Value>) -> Result<u64, ParseError> {
    match v {
        None | Some(Value::Null) => Err(ParseError::MissingField(field)),
        Some(v) => as_count(field, &v),
    }
}

fn as_count(field: &'static str, v: &Value) -> Result<u64, ParseError> {
    let Value::Number(n) = v else {
        return Err(ParseError::InvalidField {
            field,
            problem: "is not a number",
        });
    };
    if let Some(u) = n.as_u64() {
        return Ok(u);
    }
    match n.as_f64() {
        Some(f) if f >= 0.0 && f.fract() == 0.0 && f < 1.8e19 => Ok(f as u64),
        _ => Err(ParseError::InvalidField {
            field,
            problem: "is not a non-negative integer",
        }),
    }
}

fn timestamp<'a>(
    field: &'static str,
    v: Option<Cow<'a, str>>,
) -> Result<TimestampRef<'a>, ParseError> {
    let text = v.ok_or(ParseError::MissingField(field))?;
    let epoch_ms =
        validate_iso8601(&text).map_err(|source| ParseError::InvalidTimestamp { field, source })?;
    Ok(TimestampRef { text, epoch_ms })
}

impl<'a> WireClient<'a> {
    fn validate(self) -> Result<ClientInfoRef<'a>, ParseError> {
        let id =
            cow(self.id.or(self.session_id)).ok_or(ParseError::MissingField("clientInfo.id"))?;
        let connected_at = timestamp("clientInfo.connectedAt", cow(self.connected_at))?;
        let era = match self.era.as_ref().map(|s| &*s.0) {
            None => None,
            Some("legacy") => Some(ClientEra::Legacy),
            Some("modern") => Some(ClientEra::Modern),
            Some(_) => {
                return Err(ParseError::InvalidField {
                    field: "clientInfo.era",
                    problem: "is not \"legacy\" or \"modern\"",
                })
            }
        };
        Ok(ClientInfoRef {
            id,
            remote_address: cow(self.remote_address),
            user_agent: cow(self.user_agent),
            connected_at,
            era,
            client_name: cow(self.client_name),
            client_version: cow(self.client_version),
            subject: cow(self.subject),
            client_id: cow(self.client_id),
        })
    }
}

impl<'a> WireIn<'a> {
    fn validate(self) -> Result<ConnectionEventRef<'a>, ParseError> {
        match self.ty.as_ref().map(|s| &*s.0) {
            None => return Err(ParseError::MissingField("type")),
            Some(EVENT_TAG) => {}
            Some(other) => return Err(ParseError::WrongType(other.chars().take(40).collect())),
        }
        let et = self
            .event_type
            .as_ref()
            .map(|s| &*s.0)
            .ok_or(ParseError::MissingField("eventType"))?;
        let event_type = EventType::from_wire(et)
            .ok_or_else(|| ParseError::UnknownEventType(et.chars().take(40).collect()))?;
        let counts = self
            .connection_stats
            .ok_or(ParseError::MissingField("connectionStats"))?;
        let connection_stats = ConnectionCounts {
            total_connections: count("connectionStats.totalConnections", counts.total_connections)?,
            active_connections: count(
                "connectionStats.activeConnections",
                counts.active_connections,
            )?,
            max_connections: match counts.max_connections {
                None | Some(Value::Null) => None,
                Some(v) => Some(as_count("connectionStats.maxConnections", &v)?),
            },
        };
        let timestamp = timestamp("timestamp", cow(self.timestamp))?;
        let mut client = self.client_info.map(WireClient::validate).transpose()?;
        let mut duration_ms = None;
        let mut reason = cow(self.reason);
        match event_type {
            EventType::Connected => {
                if client.is_none() {
                    return Err(ParseError::MissingField("clientInfo"));
                }
                reason = None;
            }
            EventType::Disconnected => {
                if client.is_none() {
                    return Err(ParseError::MissingField("clientInfo"));
                }
                duration_ms = duration(self.duration_ms)?;
            }
            EventType::StatsUpdate => {
                client = None;
                reason = None;
            }
            EventType::ConnectionRejected => {
                if reason.is_none() {
                    return Err(ParseError::MissingField("reason"));
                }
            }
        }
        Ok(ConnectionEventRef {
            server_id: cow(self.server_id),
            event_type,
            client,
            connection_stats,
            duration_ms,
            reason,
            timestamp,
        })
    }
}

fn duration(v: Option<Value>) -> Result<Option<u64>, ParseError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(u) => Ok(Some(u)),
            None => match n.as_f64() {
                Some(f) if f.is_finite() && f >= 0.0 => Ok(Some(f.round() as u64)),
                _ => Err(ParseError::InvalidField {
                    field: "durationMs",
                    problem: "is not a non-negative number",
                }),
            },
        },
        Some(_) => Err(ParseError::InvalidField {
            field: "durationMs",
            problem: "is not a number",
        }),
    }
}

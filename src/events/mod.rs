//! The `[MCP_CONNECTION]` stdout event protocol (docs/api.md; docs/monitoring.md, "The
//! [MCP_CONNECTION] line"): the event type, the line writer, a streaming line splitter, the line parser and the per-server aggregator the parent
//! process feeds with its children's stdout. Pure Rust; the napi wrapper is `bindings::events`.
//!
//! Writing an event (child side):
//! ```
//! use mcp_swagger_native::events::{format_line, ClientInfo, ConnectionCounts, ConnectionEvent, Timestamp};
//! let client = ClientInfo::new("sess-1", Timestamp::now()).with_remote_address("127.0.0.1");
//! let event = ConnectionEvent::connected(client, ConnectionCounts::new(1, 1).with_max(1000))
//!     .with_server_id("s1");
//! let line = format_line(&event);
//! assert!(line.starts_with("[MCP_CONNECTION] {\"type\":\"MCP_CONNECTION_EVENT\""));
//! assert!(line.ends_with("}\n"));
//! ```

pub mod ascii_json;
pub mod event;
pub mod format;
pub mod hub;
pub mod line_splitter;
pub mod parser;
pub mod timestamp;

pub use event::{
    ClientEra, ClientInfo, ConnectionCounts, ConnectionEvent, DisconnectReason, EventKind,
    EventType, EVENT_TAG,
};
pub use format::{format_json, format_line, write_line};
pub use hub::{
    ConnectionEventHub, HubItem, HubOptions, OutputLine, QueueStats, QuietItem, ServerStats,
    DEFAULT_ERROR_THRESHOLD, DEFAULT_EVENT_CAPACITY, DEFAULT_MAX_LINE_BYTES,
    DEFAULT_MAX_TRACKED_CONNECTIONS,
};
pub use line_splitter::{LineSplitter, Piece};
pub use parser::{
    event_payload, excerpt, parse_event_json, parse_event_ref, parse_event_ref_fast, parse_line,
    scans_fast, ClientInfoRef, ConnectionEventRef, ParseError, TimestampRef, EXCERPT_CHARS, MARKER,
    PREFIX,
};
pub use timestamp::{Timestamp, TimestampError};

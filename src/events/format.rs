//! Writing events: exactly `[MCP_CONNECTION] {json}\n`.

use super::event::ConnectionEvent;
use super::parser::PREFIX;

/// The event's JSON object, one line, no line ending.
pub fn format_json(event: &ConnectionEvent) -> String {
    // Serializing these plain structs cannot fail (string keys, no maps, no floats).
    serde_json::to_string(event).unwrap_or_default()
}

/// The exact line a child writes to stdout: `[MCP_CONNECTION] {json}\n`.
pub fn format_line(event: &ConnectionEvent) -> String {
    let json = format_json(event);
    let mut line = String::with_capacity(PREFIX.len() + json.len() + 1);
    line.push_str(PREFIX);
    line.push_str(&json);
    line.push('\n');
    line
}

/// Appends the line to `out` (one write per event keeps lines whole on a shared stdout).
pub fn write_line<W: std::io::Write>(out: &mut W, event: &ConnectionEvent) -> std::io::Result<()> {
    out.write_all(format_line(event).as_bytes())
}

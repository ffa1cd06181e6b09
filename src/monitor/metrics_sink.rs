//! Connection counts and session durations for the metrics registry, taken from the same
//! monitor events the JS callbacks and stdout lines get, so all three always agree.

use std::sync::Arc;
use std::time::Duration;

use super::{Counts, MonitorEvent, MonitorSink};
use crate::protocol::Era;
use crate::telemetry::Metrics;

pub struct MetricsSink(pub Arc<Metrics>);

impl MonitorSink for MetricsSink {
    fn event(&self, event: &MonitorEvent, _counts: Counts) {
        match event {
            MonitorEvent::Established(info) => self.0.connection_opened(info.era),
            MonitorEvent::Closed {
                info, duration_ms, ..
            } => {
                self.0.connection_closed(info.era);
                // A sessionless client's record is a monitoring device, not an MCP session:
                // only 2025 sessions feed mcp.server.session.duration.
                if info.era == Era::Legacy {
                    self.0.record_session(
                        info.protocol_version.as_deref(),
                        Duration::from_millis(*duration_ms),
                    );
                }
            }
            MonitorEvent::Rejected { reason, .. } => self.0.connection_rejected_named(reason),
        }
    }
}

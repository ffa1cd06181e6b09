//! What operators see: Prometheus metrics named after the OpenTelemetry MCP semantic
//! conventions, a bridge from the core's `tracing` events to a host logger, and W3C trace
//! context read from `params._meta`. See docs/operations.md.
//!
//! This layer knows no transport: callers hand it finished facts (a method, an outcome, a
//! duration). It depends on `protocol` only, for the revision list and the error codes.

pub mod logs;
pub mod metrics;
pub mod trace_context;

pub use logs::{
    FieldValue, LogBridge, LogBridgeError, LogLevel, LogRecord, LogSink, LogSinkConfig,
};
pub use metrics::{
    CloseReason, Metrics, MetricsError, Operation, Outcome, RejectReason, StreamGuard, StreamKind,
    Target,
};
pub use trace_context::{trace_context_of, TraceContext};

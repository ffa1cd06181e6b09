//! Prometheus metrics for one server, named after the OpenTelemetry MCP semantic conventions
//! (`mcp.server.operation.duration`, `mcp.server.session.duration`) plus the transport's own
//! counters. Each server owns one [`Metrics`]; nothing is global, so several servers in one
//! process never mix their numbers.
//!
//! Cardinality is bounded by construction: method names come from a fixed table, tool and
//! prompt names from the server's catalog, protocol versions from the revisions we speak,
//! error codes from a fixed table; anything else is recorded as `_OTHER` (the conventions'
//! catch-all). Session ids are never labels.
//!
//! Recording is cheap: the counters and gauges are atomics resolved once at construction;
//! an operation is reduced to indices into fixed tables when its request is read ([`OpKey`],
//! the tool or prompt resolved against a [`Catalog`] snapshot, taken only for those), so
//! recording it finds its histogram by index (an atomic load for an operation without a tool
//! or prompt, an integer-keyed lookup in the catalog's table otherwise) and adds to the
//! recording thread's shard of it ([`OpHistogram`]): no lock, no allocation.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::RwLock;
use prometheus_client::encoding::{
    text, EncodeLabelKey, EncodeLabelSet, EncodeLabelValue, EncodeMetric, LabelSetEncoder,
    LabelValueEncoder, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::{Registry, Unit};

use crate::protocol::error as codes;
use crate::protocol::version::{Era, LEGACY_VERSIONS, MODERN_VERSIONS};
use crate::util::FnvMap;

/// The conventions' low-cardinality stand-in for a value outside the known set.
pub const OTHER: &str = "_OTHER";
/// `error.type` of a `CallToolResult` with `isError: true`.
pub const TOOL_ERROR: &str = "tool_error";

/// Upper bounds in nanoseconds (exposed in seconds): the conventions' advice for MCP durations,
/// with finer buckets in front because a native answer takes well under 10 ms. Kept as integers
/// so an observation is compared and summed without floating point.
const OPERATION_BUCKETS_NS: [u64; 18] = [
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    20_000_000,
    50_000_000,
    100_000_000,
    200_000_000,
    500_000_000,
    1_000_000_000,
    2_000_000_000,
    5_000_000_000,
    10_000_000_000,
    30_000_000_000,
    60_000_000_000,
    120_000_000_000,
    300_000_000_000,
];
/// Seconds; sessions last from seconds to hours.
const SESSION_BUCKETS: [f64; 14] = [
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0,
    86400.0,
];

/// Shards of an operation histogram: each thread adds to its own, so two workers recording
/// at once do not fight over one cache line (a scrape adds the shards up).
const SHARDS: usize = 4;

/// This thread's shard, assigned round-robin the first time it records.
fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

/// One thread's share of a histogram: the sum in nanoseconds and a count per bucket (the last
/// one `+Inf`), on cache lines of its own. The sum comes first so that it and the first buckets,
/// where nearly every answer lands, share one line: an observation usually touches one line.
#[derive(Debug, Default)]
#[repr(C, align(64))]
struct Shard {
    sum_ns: AtomicU64,
    buckets: [AtomicU64; OPERATION_BUCKETS_NS.len() + 1],
}

/// `mcp.server.operation.duration` for one label set: recording is two relaxed atomic adds on
/// the recording thread's shard, with no lock (prometheus-client's `Histogram` takes a mutex per
/// observation, shared by every worker). The count is the buckets' total, so a scrape never
/// shows a count that disagrees with the `+Inf` bucket.
#[derive(Debug, Clone, Default)]
pub struct OpHistogram(Arc<[Shard; SHARDS]>);

impl OpHistogram {
    pub fn observe(&self, duration: Duration) {
        let ns = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        let bucket = OPERATION_BUCKETS_NS
            .iter()
            .position(|bound| ns <= *bound)
            .unwrap_or(OPERATION_BUCKETS_NS.len());
        let shard = &self.0[shard_index()];
        shard.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        shard.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// The shards added up: the sum in seconds, the count, and the per-bucket counts with their
    /// upper bounds in seconds (not cumulative, as the encoder expects).
    fn snapshot(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let mut counts = [0u64; OPERATION_BUCKETS_NS.len() + 1];
        let mut sum_ns = 0u64;
        for shard in self.0.iter() {
            for (c, b) in counts.iter_mut().zip(&shard.buckets) {
                *c = c.wrapping_add(b.load(Ordering::Relaxed));
            }
            sum_ns = sum_ns.wrapping_add(shard.sum_ns.load(Ordering::Relaxed));
        }
        let bounds = OPERATION_BUCKETS_NS
            .iter()
            .map(|ns| *ns as f64 / 1e9)
            .chain(std::iter::once(f64::INFINITY));
        let buckets: Vec<(f64, u64)> = bounds.zip(counts).collect();
        (sum_ns as f64 / 1e9, counts.iter().sum(), buckets)
    }
}

impl TypedMetric for OpHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for OpHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> fmt::Result {
        let (sum, count, buckets) = self.snapshot();
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// Methods a server receives, so `mcp_method_name` stays bounded whatever clients send.
const METHODS: [&str; 20] = [
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "server/discover",
    "subscriptions/listen",
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
    "notifications/elicitation/complete",
];

/// `tools/call`'s index in `METHODS`.
const TOOLS_CALL: u8 = 3;
const _: () = assert!(matches!(
    METHODS[TOOLS_CALL as usize].as_bytes(),
    b"tools/call"
));
/// `prompts/get`'s and `initialize`'s.
const PROMPTS_GET: u8 = 10;
const _: () = assert!(matches!(
    METHODS[PROMPTS_GET as usize].as_bytes(),
    b"prompts/get"
));
const INITIALIZE: u8 = 0;
const _: () = assert!(matches!(
    METHODS[INITIALIZE as usize].as_bytes(),
    b"initialize"
));

/// The index of `method` in `METHODS` (`METHODS.len()` for any other). A `match` on literals
/// compares the name with constants inline (the one entry of its length, in the usual case)
/// instead of walking the table with a `memcmp` call per entry: this runs on every metered
/// request. `method_index_matches_the_table` keeps it in step with `METHODS`.
fn method_index(method: &str) -> u8 {
    match method {
        "initialize" => 0,
        "ping" => 1,
        "tools/list" => 2,
        "tools/call" => 3,
        "resources/list" => 4,
        "resources/templates/list" => 5,
        "resources/read" => 6,
        "resources/subscribe" => 7,
        "resources/unsubscribe" => 8,
        "prompts/list" => 9,
        "prompts/get" => 10,
        "completion/complete" => 11,
        "logging/setLevel" => 12,
        "server/discover" => 13,
        "subscriptions/listen" => 14,
        "notifications/initialized" => 15,
        "notifications/cancelled" => 16,
        "notifications/progress" => 17,
        "notifications/roots/list_changed" => 18,
        "notifications/elicitation/complete" => 19,
        _ => METHODS.len() as u8,
    }
}

/// The index of `version` in `LEGACY_VERSIONS` then `MODERN_VERSIONS` (`KNOWN_VERSIONS` for
/// any other), by `match` like [`method_index`]; `version_index_matches_the_tables` keeps it in
/// step with them.
fn version_index(version: &str) -> usize {
    match version {
        "2025-03-26" => 0,
        "2025-06-18" => 1,
        "2025-11-25" => 2,
        "2026-07-28" => 3,
        _ => KNOWN_VERSIONS,
    }
}

/// JSON-RPC codes this server answers with, as label strings (no formatting per request).
const CODES: [(i32, &str); 12] = [
    (codes::PARSE_ERROR, "-32700"),
    (codes::INVALID_REQUEST, "-32600"),
    (codes::METHOD_NOT_FOUND, "-32601"),
    (codes::INVALID_PARAMS, "-32602"),
    (codes::INTERNAL_ERROR, "-32603"),
    (codes::RESOURCE_NOT_FOUND, "-32002"),
    (codes::SERVER_ERROR, "-32000"),
    (-32001, "-32001"),
    (codes::HEADER_MISMATCH, "-32020"),
    (codes::MISSING_CAPABILITY, "-32021"),
    (codes::UNSUPPORTED_VERSION, "-32022"),
    (-32042, "-32042"),
];

/// Codes that say the caller sent something the server could not serve: the conventions
/// record them in `rpc.response.status_code` but not as an `error.type`.
fn is_caller_error(code: i32) -> bool {
    matches!(
        code,
        codes::PARSE_ERROR
            | codes::INVALID_REQUEST
            | codes::METHOD_NOT_FOUND
            | codes::INVALID_PARAMS
            | codes::RESOURCE_NOT_FOUND
    )
}

fn code_label(code: i32) -> &'static str {
    CODES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(OTHER, |(_, s)| s)
}

/// The bounded label of a method name.
pub fn method_label(method: &str) -> &'static str {
    METHODS
        .get(usize::from(method_index(method)))
        .copied()
        .unwrap_or(OTHER)
}

/// The bounded label of a protocol revision.
pub fn version_label(version: &str) -> &'static str {
    known_version(version_index(version)).unwrap_or(OTHER)
}

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("encoding the metrics failed")]
    Encode(#[from] fmt::Error),
}

/// What the operation was about, when it names a catalog entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    None,
    Tool(&'a str),
    Prompt(&'a str),
}

/// How an operation ended, as the client saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A result, or the ack of a notification.
    Ok,
    /// A `CallToolResult` with `isError: true`.
    ToolError,
    /// A JSON-RPC error response with this code.
    Rpc(i32),
    /// No JSON-RPC answer at all (the client went away, the server shut down): a short
    /// low-cardinality reason such as `cancelled`.
    Failed(&'static str),
}

/// One finished request or notification.
#[derive(Debug, Clone, Copy)]
pub struct Operation<'a> {
    pub method: &'a str,
    pub target: Target<'a>,
    /// The negotiated (2025) or requested (2026-07-28) revision, when known.
    pub protocol_version: Option<&'a str>,
    pub outcome: Outcome,
}

/// Why a client or connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// `maxConnections` reached.
    MaxConnections,
    /// `maxConnectionsPerClient` reached.
    MaxConnectionsPerClient,
    /// The socket cap was reached before HTTP started.
    MaxSockets,
    /// `Host` not allowed (DNS rebinding protection).
    Host,
    /// `Origin` not allowed.
    Origin,
}

impl RejectReason {
    const ALL: [RejectReason; 5] = [
        Self::MaxConnections,
        Self::MaxConnectionsPerClient,
        Self::MaxSockets,
        Self::Host,
        Self::Origin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MaxConnections => "max_connections",
            Self::MaxConnectionsPerClient => "max_connections_per_client",
            Self::MaxSockets => "max_sockets",
            Self::Host => "host_not_allowed",
            Self::Origin => "origin_not_allowed",
        }
    }

    /// The monitor reports rejections by name; unknown names fold into `_OTHER`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Which kind of SSE stream is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// The response stream of one POST.
    Request,
    /// A 2025 session's GET stream.
    Standalone,
    /// A 2026-07-28 `subscriptions/listen` stream.
    Listen,
}

impl StreamKind {
    const ALL: [StreamKind; 3] = [Self::Request, Self::Standalone, Self::Listen];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Standalone => "standalone",
            Self::Listen => "listen",
        }
    }
}

/// Why an SSE stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The server sent everything it had to send.
    Completed,
    /// The client closed the connection first.
    ClientGone,
    /// The client did not read fast enough and its buffer filled.
    SlowConsumer,
    /// The server ended it early (`ctx.closeStream()`, a newer GET stream).
    ServerClosed,
    /// Its session was deleted or expired.
    SessionEnded,
    /// `close()`.
    Shutdown,
}

impl CloseReason {
    const ALL: [CloseReason; 6] = [
        Self::Completed,
        Self::ClientGone,
        Self::SlowConsumer,
        Self::ServerClosed,
        Self::SessionEnded,
        Self::Shutdown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::ClientGone => "client_gone",
            Self::SlowConsumer => "slow_consumer",
            Self::ServerClosed => "server_closed",
            Self::SessionEnded => "session_ended",
            Self::Shutdown => "shutdown",
        }
    }
}

/// Authorization failures by reason; fed once authorization exists.
const AUTH_REASONS: [&str; 5] = [
    "missing_token",
    "invalid_token",
    "expired_token",
    "wrong_audience",
    "insufficient_scope",
];

/// A label value that is either fixed or a catalog name shared with the name set, so a
/// label set is built without allocating.
#[derive(Debug, Clone)]
enum Name {
    Static(&'static str),
    Shared(Arc<str>),
}

impl Name {
    fn as_str(&self) -> &str {
        match self {
            Name::Static(s) => s,
            Name::Shared(s) => s,
        }
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for Name {}
impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}
impl EncodeLabelValue for Name {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

/// The attributes of `mcp.server.operation.duration`, absent ones left out of the series.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct OperationLabels {
    method: &'static str,
    tool: Option<Name>,
    prompt: Option<Name>,
    version: Option<&'static str>,
    error_type: Option<&'static str>,
    status_code: Option<&'static str>,
}

fn put(
    encoder: &mut LabelSetEncoder,
    key: &'static str,
    value: &impl EncodeLabelValue,
) -> fmt::Result {
    let mut label = encoder.encode_label();
    let mut key_encoder = label.encode_label_key()?;
    EncodeLabelKey::encode(&key, &mut key_encoder)?;
    let mut value_encoder = key_encoder.encode_label_value()?;
    value.encode(&mut value_encoder)?;
    value_encoder.finish()
}

impl EncodeLabelSet for OperationLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> fmt::Result {
        put(encoder, "mcp_method_name", &self.method)?;
        if let Some(t) = &self.tool {
            // The conventions pair a tool call with the GenAI `execute_tool` operation.
            put(encoder, "gen_ai_operation_name", &"execute_tool")?;
            put(encoder, "gen_ai_tool_name", t)?;
        }
        if let Some(p) = &self.prompt {
            put(encoder, "gen_ai_prompt_name", p)?;
        }
        if let Some(v) = &self.version {
            put(encoder, "mcp_protocol_version", v)?;
        }
        if let Some(e) = &self.error_type {
            put(encoder, "error_type", e)?;
        }
        if let Some(c) = &self.status_code {
            put(encoder, "rpc_response_status_code", c)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SessionLabels {
    version: Option<&'static str>,
    error_type: Option<&'static str>,
}

impl EncodeLabelSet for SessionLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> fmt::Result {
        put(encoder, "network_protocol_name", &"http")?;
        if let Some(v) = &self.version {
            put(encoder, "mcp_protocol_version", v)?;
        }
        if let Some(e) = &self.error_type {
            put(encoder, "error_type", e)?;
        }
        Ok(())
    }
}

type OneLabel = [(&'static str, &'static str); 1];
type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The catalog's names with their indices, and the histograms already resolved for a
/// compact key, so the usual operation costs one name lookup and one integer lookup instead
/// of hashing a whole label set. Replaced whole when the catalog changes.
#[derive(Debug, Default)]
struct CatalogNames {
    tools: FnvMap<Arc<str>, u32>,
    prompts: FnvMap<Arc<str>, u32>,
    /// The names by index, for labels.
    tool_names: Vec<Arc<str>>,
    prompt_names: Vec<Arc<str>>,
    resolved: RwLock<FnvMap<u64, OpHistogram>>,
}

/// The catalog names an HTTP request is measured against, taken once per request: its
/// operations' tool or prompt are resolved to indices when they are read and labelled from the
/// same names when they are recorded, even if the catalog changes in between.
#[derive(Debug, Clone)]
pub struct Catalog(Arc<CatalogNames>);

/// A tool or prompt that is not in the catalog (labelled `_OTHER`).
pub const NOT_IN_CATALOG: u32 = u32::MAX;

impl Catalog {
    pub fn tool_index(&self, name: &str) -> u32 {
        self.0.tools.get(name).map_or(NOT_IN_CATALOG, |i| *i)
    }

    pub fn prompt_index(&self, name: &str) -> u32 {
        self.0.prompts.get(name).map_or(NOT_IN_CATALOG, |i| *i)
    }
}

/// What an operation is about, as catalog indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKey {
    None,
    Tool(u32),
    Prompt(u32),
}

/// An operation's labels other than its outcome, as indices into fixed tables: built once when
/// its request is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpKey {
    /// Index into `METHODS`; `METHODS.len()` for any other method.
    method: u8,
    /// 0: unknown; 1 + index into the known revisions; past them: any other revision.
    version: u8,
    target: TargetKey,
}

const KNOWN_VERSIONS: usize = LEGACY_VERSIONS.len() + MODERN_VERSIONS.len();

fn known_version(i: usize) -> Option<&'static str> {
    LEGACY_VERSIONS
        .get(i)
        .or_else(|| MODERN_VERSIONS.get(i.wrapping_sub(LEGACY_VERSIONS.len())))
        .copied()
}

impl OpKey {
    pub fn new(method: &str, protocol_version: Option<&str>, target: TargetKey) -> Self {
        Self {
            method: method_index(method),
            version: 0,
            target,
        }
        .with_version(protocol_version)
    }

    /// Whether the method is `tools/call` (the only one whose result may be a tool error).
    pub fn is_tools_call(&self) -> bool {
        self.method == TOOLS_CALL
    }

    /// Whether the method is `prompts/get`.
    pub fn is_prompts_get(&self) -> bool {
        self.method == PROMPTS_GET
    }

    /// Whether the method is `initialize` (whose revision is the one its params ask for).
    pub fn is_initialize(&self) -> bool {
        self.method == INITIALIZE
    }

    /// The same operation under another revision.
    pub fn with_version(self, protocol_version: Option<&str>) -> Self {
        Self {
            version: protocol_version.map_or(0, |v| 1 + version_index(v) as u8),
            ..self
        }
    }

    /// The same operation about `target`.
    pub fn with_target(self, target: TargetKey) -> Self {
        Self { target, ..self }
    }

    /// The `mcp_method_name` label.
    pub fn method(&self) -> &'static str {
        METHODS
            .get(usize::from(self.method))
            .copied()
            .unwrap_or(OTHER)
    }

    fn version(&self) -> Option<&'static str> {
        match self.version {
            0 => None,
            v => Some(known_version(usize::from(v) - 1).unwrap_or(OTHER)),
        }
    }

    /// The index of this operation's histogram in `Metrics::plain` when it has no tool or prompt
    /// and `outcome` is in the fixed sets.
    fn plain_slot(&self, outcome: Outcome) -> Option<usize> {
        if self.target != TargetKey::None {
            return None;
        }
        let outcome = match outcome_index(outcome)? {
            i @ 0..=OUTCOME_RPC_LAST => i as usize,
            i => (i - FAILED_BASE) as usize + OUTCOME_RPC_LAST as usize + 1,
        };
        Some(
            (usize::from(self.method) * VERSION_SLOTS + usize::from(self.version)) * OUTCOME_SLOTS
                + outcome,
        )
    }

    /// A compact key for the label set with `outcome`: `None` for an outcome outside the fixed
    /// sets (its labels are then built each time).
    fn with_outcome(&self, outcome: Outcome) -> Option<u64> {
        let (kind, index) = match self.target {
            TargetKey::None => (0, 0),
            TargetKey::Tool(i) => (1, i),
            TargetKey::Prompt(i) => (2, i),
        };
        let outcome = outcome_index(outcome)?;
        Some(
            u64::from(self.method)
                | u64::from(self.version) << 8
                | kind << 16
                | outcome << 18
                | u64::from(index) << 26,
        )
    }
}

const FAILED_REASONS: [&str; 4] = ["cancelled", "client_gone", "shutdown", OTHER];

/// `outcome_index` of the last JSON-RPC code (any other code included), and of the first
/// failure reason.
const OUTCOME_RPC_LAST: u64 = 2 + CODES.len() as u64;
const FAILED_BASE: u64 = 32;
/// Outcomes in the fixed sets: ok, tool error, each code and any other, each failure reason.
const OUTCOME_SLOTS: usize = OUTCOME_RPC_LAST as usize + 1 + FAILED_REASONS.len();
/// `OpKey::version` values: unknown, each known revision, any other.
const VERSION_SLOTS: usize = KNOWN_VERSIONS + 2;
/// `OpKey::method` values: each known method and any other.
const PLAIN_SLOTS: usize = (METHODS.len() + 1) * VERSION_SLOTS * OUTCOME_SLOTS;

/// `None` for an outcome outside the fixed sets (its labels are then built each time).
fn outcome_index(outcome: Outcome) -> Option<u64> {
    Some(match outcome {
        Outcome::Ok => 0,
        Outcome::ToolError => 1,
        Outcome::Rpc(code) => {
            2 + CODES
                .iter()
                .position(|(c, _)| *c == code)
                .unwrap_or(CODES.len()) as u64
        }
        Outcome::Failed(r) => FAILED_BASE + FAILED_REASONS.iter().position(|f| *f == r)? as u64,
    })
}

/// One server's instruments and the registry that encodes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    operations: Family<OperationLabels, OpHistogram>,
    /// The histograms of operations without a tool or prompt, by [`OpKey::plain_slot`]: found
    /// with one atomic load, without taking the catalog or a lock.
    plain: Box<[OnceLock<OpHistogram>]>,
    sessions: HistogramFamily<SessionLabels>,
    connections_active: [Gauge; 2],
    connections_total: [Counter; 2],
    rejected: [Counter; 5],
    rejected_other: Counter,
    streams_active: [Gauge; 3],
    streams_closed: [Counter; 6],
    callback_timeouts: Counter,
    shared_store_errors: Counter,
    auth_failures: Family<OneLabel, Counter>,
    names: RwLock<Arc<CatalogNames>>,
    /// Set by `close()`: requests cut after it are counted as `shutdown`.
    closing: AtomicBool,
}

fn era_index(era: Era) -> usize {
    match era {
        Era::Legacy => 0,
        Era::Modern => 1,
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let operations = Family::<OperationLabels, OpHistogram>::default();
        registry.register_with_unit(
            "mcp_server_operation_duration",
            "MCP request or notification duration as observed on the receiver, from the time it was received until the last byte of the answer",
            Unit::Seconds,
            operations.clone(),
        );
        let sessions: HistogramFamily<SessionLabels> =
            Family::new_with_constructor(|| Histogram::new(SESSION_BUCKETS));
        registry.register_with_unit(
            "mcp_server_session_duration",
            "The duration of the MCP session as observed on the MCP server",
            Unit::Seconds,
            sessions.clone(),
        );

        // Every fixed label value is created now, so a scrape shows zeros rather than
        // missing series and the hot path is a single atomic operation.
        let active = Family::<OneLabel, Gauge>::default();
        let total = Family::<OneLabel, Counter>::default();
        let connections_active = [Era::Legacy, Era::Modern]
            .map(|e| active.get_or_create(&[("era", e.as_str())]).clone());
        let connections_total =
            [Era::Legacy, Era::Modern].map(|e| total.get_or_create(&[("era", e.as_str())]).clone());
        registry.register(
            "mcp_connections_active",
            "Connections open now: 2025 sessions and active 2026-07-28 clients",
            active,
        );
        registry.register(
            "mcp_connections",
            "Connections ever opened by this server",
            total,
        );

        let rejected_family = Family::<OneLabel, Counter>::default();
        let rejected = RejectReason::ALL.map(|r| {
            rejected_family
                .get_or_create(&[("reason", r.as_str())])
                .clone()
        });
        let rejected_other = rejected_family.get_or_create(&[("reason", OTHER)]).clone();
        registry.register(
            "mcp_connections_rejected",
            "Connections refused, by reason",
            rejected_family,
        );

        let streams = Family::<OneLabel, Gauge>::default();
        let streams_active =
            StreamKind::ALL.map(|k| streams.get_or_create(&[("kind", k.as_str())]).clone());
        registry.register(
            "mcp_sse_streams_active",
            "SSE streams open now, by kind",
            streams,
        );

        let closed = Family::<OneLabel, Counter>::default();
        let streams_closed =
            CloseReason::ALL.map(|r| closed.get_or_create(&[("reason", r.as_str())]).clone());
        registry.register("mcp_streams_closed", "SSE streams ended, by reason", closed);

        let callback_timeouts = Counter::default();
        registry.register(
            "mcp_callback_timeouts",
            "JS callbacks that did not settle within callbackTimeoutMs",
            callback_timeouts.clone(),
        );

        let shared_store_errors = Counter::default();
        registry.register(
            "mcp_shared_store_errors",
            "Shared-store (Redis) operations that failed or timed out",
            shared_store_errors.clone(),
        );

        let auth_failures = Family::<OneLabel, Counter>::default();
        for r in AUTH_REASONS {
            drop(auth_failures.get_or_create(&[("reason", r)]));
        }
        registry.register(
            "mcp_auth_failures",
            "Requests refused by authorization, by reason",
            auth_failures.clone(),
        );

        Self {
            registry,
            operations,
            plain: (0..PLAIN_SLOTS).map(|_| OnceLock::new()).collect(),
            sessions,
            connections_active,
            connections_total,
            rejected,
            rejected_other,
            streams_active,
            streams_closed,
            callback_timeouts,
            shared_store_errors,
            auth_failures,
            names: RwLock::new(Arc::default()),
            closing: AtomicBool::new(false),
        }
    }

    /// The tool and prompt names that may appear as labels: the catalog's. Call again when
    /// the catalog changes; series already recorded stay.
    pub fn set_catalog_names<'a>(
        &self,
        tools: impl IntoIterator<Item = &'a str>,
        prompts: impl IntoIterator<Item = &'a str>,
    ) {
        let index = |names: &mut dyn Iterator<Item = &'a str>| {
            let names: Vec<Arc<str>> = names.map(Arc::from).collect();
            let by_name = names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), i as u32))
                .collect();
            (by_name, names)
        };
        let (tools, tool_names) = index(&mut tools.into_iter());
        let (prompts, prompt_names) = index(&mut prompts.into_iter());
        let names = CatalogNames {
            tools,
            prompts,
            tool_names,
            prompt_names,
            resolved: RwLock::default(),
        };
        *self.names.write() = Arc::new(names);
    }

    /// The catalog names to measure one request against.
    pub fn catalog(&self) -> Catalog {
        Catalog(self.names.read().clone())
    }

    /// Marks the server as closing: operations cut from now on end as `shutdown`.
    pub fn set_closing(&self) {
        self.closing.store(true, Ordering::Release);
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Records one finished operation, `duration` from its arrival to the last byte sent.
    pub fn record_operation(&self, op: &Operation<'_>, duration: Duration) {
        let catalog = (op.target != Target::None).then(|| self.catalog());
        let target = match (op.target, &catalog) {
            (Target::Tool(n), Some(c)) => TargetKey::Tool(c.tool_index(n)),
            (Target::Prompt(n), Some(c)) => TargetKey::Prompt(c.prompt_index(n)),
            _ => TargetKey::None,
        };
        let key = OpKey::new(op.method, op.protocol_version, target);
        self.record(catalog.as_ref(), key, op.outcome, duration);
    }

    /// Records one finished operation. Its tool or prompt, if any, was resolved against
    /// `catalog` (without one, it is labelled `_OTHER`); an operation without a target needs none.
    pub fn record(
        &self,
        catalog: Option<&Catalog>,
        key: OpKey,
        outcome: Outcome,
        duration: Duration,
    ) {
        if let Some(slot) = key.plain_slot(outcome) {
            if let Some(slot) = self.plain.get(slot) {
                slot.get_or_init(|| self.operation_histogram(None, key, outcome))
                    .observe(duration);
                return;
            }
        }
        let Some(names) = catalog.map(|c| &c.0) else {
            self.operation_histogram(None, key, outcome)
                .observe(duration);
            return;
        };
        let compact = key.with_outcome(outcome);
        if let Some(k) = compact {
            if let Some(h) = names.resolved.read().get(&k) {
                h.observe(duration);
                return;
            }
        }
        let histogram = self.operation_histogram(Some(names), key, outcome);
        histogram.observe(duration);
        if let Some(k) = compact {
            names.resolved.write().insert(k, histogram);
        }
    }

    fn operation_histogram(
        &self,
        names: Option<&CatalogNames>,
        key: OpKey,
        outcome: Outcome,
    ) -> OpHistogram {
        let name = |all: Option<&[Arc<str>]>, i: u32| {
            all.and_then(|all| all.get(i as usize))
                .map_or(Name::Static(OTHER), |n| Name::Shared(n.clone()))
        };
        let (tool, prompt) = match key.target {
            TargetKey::None => (None, None),
            TargetKey::Tool(i) => (Some(name(names.map(|n| &n.tool_names[..]), i)), None),
            TargetKey::Prompt(i) => (None, Some(name(names.map(|n| &n.prompt_names[..]), i))),
        };
        let (error_type, status_code) = match outcome {
            Outcome::Ok => (None, None),
            Outcome::ToolError => (Some(TOOL_ERROR), None),
            Outcome::Rpc(code) => {
                let label = code_label(code);
                ((!is_caller_error(code)).then_some(label), Some(label))
            }
            Outcome::Failed(reason) => (Some(reason), None),
        };
        let labels = OperationLabels {
            method: key.method(),
            tool,
            prompt,
            version: key.version(),
            error_type,
            status_code,
        };
        self.operations.get_or_create(&labels).clone()
    }

    /// Records a 2025 session that ended after `duration`.
    pub fn record_session(&self, protocol_version: Option<&str>, duration: Duration) {
        let labels = SessionLabels {
            version: protocol_version.map(version_label),
            error_type: None,
        };
        self.sessions
            .get_or_create(&labels)
            .observe(duration.as_secs_f64());
    }

    pub fn connection_opened(&self, era: Era) {
        self.connections_active[era_index(era)].inc();
        self.connections_total[era_index(era)].inc();
    }

    pub fn connection_closed(&self, era: Era) {
        self.connections_active[era_index(era)].dec();
    }

    pub fn connection_rejected(&self, reason: RejectReason) {
        let i = RejectReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or_default();
        self.rejected[i].inc();
    }

    /// A rejection reported by name (the monitor's); unknown names count as `_OTHER`.
    pub fn connection_rejected_named(&self, reason: &str) {
        match RejectReason::parse(reason) {
            Some(r) => self.connection_rejected(r),
            None => {
                self.rejected_other.inc();
            }
        }
    }

    /// Counts a stream as open until the returned guard drops.
    pub fn stream_opened(&self, kind: StreamKind) -> StreamGuard {
        let i = StreamKind::ALL
            .iter()
            .position(|k| *k == kind)
            .unwrap_or_default();
        let gauge = self.streams_active[i].clone();
        gauge.inc();
        StreamGuard { gauge }
    }

    pub fn stream_closed(&self, reason: CloseReason) {
        let i = CloseReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or_default();
        self.streams_closed[i].inc();
    }

    pub fn shared_store_failed(&self) {
        self.shared_store_errors.inc();
    }

    pub fn callback_timed_out(&self) {
        self.callback_timeouts.inc();
    }

    pub fn auth_failed(&self, reason: &str) {
        let label = AUTH_REASONS
            .iter()
            .find(|r| **r == reason)
            .copied()
            .unwrap_or(OTHER);
        self.auth_failures.get_or_create(&[("reason", label)]).inc();
    }

    /// The OpenMetrics text exposition, `# EOF` included.
    pub fn encode(&self) -> Result<String, MetricsError> {
        let mut out = String::with_capacity(8192);
        text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Keeps one SSE stream counted in `mcp_sse_streams_active` while it lives.
#[derive(Debug)]
pub struct StreamGuard {
    gauge: Gauge,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// The OpenMetrics content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_index_matches_the_table() {
        for (i, m) in METHODS.iter().enumerate() {
            assert_eq!(usize::from(method_index(m)), i, "{m}");
            assert_eq!(method_label(m), *m);
        }
        for other in [
            "",
            "tools/lis",
            "tools/list ",
            "Tools/list",
            "notifications/message",
        ] {
            assert_eq!(usize::from(method_index(other)), METHODS.len(), "{other:?}");
            assert_eq!(method_label(other), OTHER);
        }
    }

    #[test]
    fn version_index_matches_the_tables() {
        let known: Vec<&str> = LEGACY_VERSIONS
            .iter()
            .chain(&MODERN_VERSIONS)
            .copied()
            .collect();
        assert_eq!(known.len(), KNOWN_VERSIONS);
        for (i, v) in known.iter().enumerate() {
            assert_eq!(version_index(v), i, "{v}");
            assert_eq!(known_version(i), Some(*v));
            assert_eq!(version_label(v), *v);
            assert_eq!(
                OpKey::new("ping", Some(v), TargetKey::None).version(),
                Some(*v)
            );
        }
        for other in ["", "2024-11-05", "2026-07-29", "draft"] {
            assert_eq!(version_index(other), KNOWN_VERSIONS, "{other:?}");
            assert_eq!(version_label(other), OTHER);
            assert_eq!(
                OpKey::new("ping", Some(other), TargetKey::None).version(),
                Some(OTHER)
            );
        }
        assert_eq!(OpKey::new("ping", None, TargetKey::None).version(), None);
    }
}

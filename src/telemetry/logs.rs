//! The core's `tracing` events, delivered to host loggers as `(level, message, fields)`
//! records.
//!
//! `tracing` has one global default subscriber per process, and one process may run several
//! servers, each with its own logger and level. So there is one process-wide [`LogBridge`]
//! (a `tracing_subscriber` layer, installed on first use) and one [`LogSink`] per server that
//! asked for logs. Routing: an event inside a span that carries an `mcp_server` field goes to
//! that server's sink only; an event outside such a span (the runtime, the listener before a
//! server exists) goes to every registered sink. A server's span is created at ERROR level so
//! that it exists whenever any logging is on.
//!
//! The emitter never waits: each sink is a bounded channel written with `try_send`, behind a
//! per-second rate limit. Records that do not fit are counted and reported by the consumer
//! as one summary record. If the host process already set a `tracing` global default (some
//! other Rust code in the same library did), installation fails with
//! [`LogBridgeError::AlreadySet`] and no sink receives anything.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// The span field that ties events to one server's sink (its [`LogSink::id`]).
pub const SERVER_FIELD: &str = "mcp_server";

/// The span of a server without a logger: its events reach no sink (sink ids start at 1)
/// instead of every other server's logger.
pub fn unrouted_span() -> tracing::Span {
    tracing::error_span!("mcp", mcp_server = 0u64)
}

/// A log level, most severe first. `Off` admits nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum LogLevel {
    Off = 0,
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl LogLevel {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "off" => Self::Off,
            "error" => Self::Error,
            "warn" => Self::Warn,
            "info" => Self::Info,
            "debug" => Self::Debug,
            "trace" => Self::Trace,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }

    fn of(level: &Level) -> Self {
        match *level {
            Level::ERROR => Self::Error,
            Level::WARN => Self::Warn,
            Level::INFO => Self::Info,
            Level::DEBUG => Self::Debug,
            Level::TRACE => Self::Trace,
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Error,
            2 => Self::Warn,
            3 => Self::Info,
            4 => Self::Debug,
            5 => Self::Trace,
            _ => Self::Off,
        }
    }

    fn filter(self) -> LevelFilter {
        match self {
            Self::Off => LevelFilter::OFF,
            Self::Error => LevelFilter::ERROR,
            Self::Warn => LevelFilter::WARN,
            Self::Info => LevelFilter::INFO,
            Self::Debug => LevelFilter::DEBUG,
            Self::Trace => LevelFilter::TRACE,
        }
    }
}

/// A field's value, kept typed so a JS logger gets numbers as numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Str(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

/// One event as a host logger receives it. `target` is the Rust module that emitted it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    pub level: LogLevel,
    pub target: String,
    pub message: String,
    pub fields: Vec<(String, FieldValue)>,
}

#[derive(Debug, Clone, Copy)]
pub struct LogSinkConfig {
    /// The most verbose level delivered.
    pub level: LogLevel,
    /// Records waiting for the consumer; more are dropped and counted.
    pub capacity: usize,
    /// Records accepted per second; more are dropped and counted.
    pub max_per_second: u32,
}

impl Default for LogSinkConfig {
    fn default() -> Self {
        Self {
            level: LogLevel::Info,
            capacity: 1024,
            max_per_second: 500,
        }
    }
}

#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum LogBridgeError {
    #[error("a global tracing subscriber was already set; core logs cannot be bridged")]
    AlreadySet,
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

#[derive(Debug)]
struct SinkShared {
    id: u64,
    level: AtomicU8,
    max_per_second: u32,
    tx: mpsc::Sender<LogRecord>,
    window_start_ms: AtomicU64,
    window_count: AtomicU32,
    dropped: AtomicU64,
}

impl SinkShared {
    fn admits(&self, level: LogLevel) -> bool {
        level <= LogLevel::from_u8(self.level.load(Ordering::Relaxed))
    }

    /// A one-second fixed window; two threads racing at a window edge may both reset it,
    /// which only lets a few extra records through.
    fn take_token(&self) -> bool {
        let now = epoch().elapsed().as_millis() as u64;
        let start = self.window_start_ms.load(Ordering::Relaxed);
        if now.saturating_sub(start) >= 1000 {
            self.window_start_ms.store(now, Ordering::Relaxed);
            self.window_count.store(0, Ordering::Relaxed);
        }
        self.window_count.fetch_add(1, Ordering::Relaxed) < self.max_per_second
    }

    fn offer(&self, record: LogRecord) {
        if !self.take_token() || self.tx.try_send(record).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The process-wide layer and the sinks registered with it.
#[derive(Debug)]
pub struct LogBridge {
    sinks: RwLock<Vec<Arc<SinkShared>>>,
    /// The most verbose level any sink wants, so disabled events cost one comparison.
    max_level: AtomicU8,
    next_id: AtomicU64,
}

static BRIDGE: OnceLock<Result<&'static LogBridge, LogBridgeError>> = OnceLock::new();

impl LogBridge {
    /// The bridge, installing it as the global `tracing` subscriber on first use.
    pub fn global() -> Result<&'static LogBridge, LogBridgeError> {
        *BRIDGE.get_or_init(|| {
            let bridge: &'static LogBridge = Box::leak(Box::new(LogBridge {
                sinks: RwLock::new(Vec::new()),
                max_level: AtomicU8::new(LogLevel::Off as u8),
                next_id: AtomicU64::new(1),
            }));
            let subscriber = tracing_subscriber::registry().with(BridgeLayer { bridge });
            tracing::subscriber::set_global_default(subscriber)
                .map(|()| bridge)
                .map_err(|_| LogBridgeError::AlreadySet)
        })
    }

    /// A new sink; it receives records until it is dropped.
    pub fn register(&'static self, config: LogSinkConfig) -> LogSink {
        let (tx, rx) = mpsc::channel(config.capacity.max(1));
        let shared = Arc::new(SinkShared {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            level: AtomicU8::new(config.level as u8),
            max_per_second: config.max_per_second.max(1),
            tx,
            window_start_ms: AtomicU64::new(epoch().elapsed().as_millis() as u64),
            window_count: AtomicU32::new(0),
            dropped: AtomicU64::new(0),
        });
        self.sinks.write().push(shared.clone());
        self.levels_changed();
        LogSink {
            shared,
            rx,
            bridge: self,
        }
    }

    fn unregister(&self, id: u64) {
        self.sinks.write().retain(|s| s.id != id);
        self.levels_changed();
    }

    fn levels_changed(&self) {
        let max = self
            .sinks
            .read()
            .iter()
            .map(|s| s.level.load(Ordering::Relaxed))
            .max()
            .unwrap_or(LogLevel::Off as u8);
        if self.max_level.swap(max, Ordering::Relaxed) != max {
            // tracing caches the global max level and per-callsite interest.
            tracing::callsite::rebuild_interest_cache();
        }
    }

    fn dispatch(&self, target: Option<u64>, level: LogLevel, build: impl FnOnce() -> LogRecord) {
        let sinks = self.sinks.read();
        let mut chosen = sinks
            .iter()
            .filter(|s| target.is_none_or(|t| s.id == t) && s.admits(level));
        let Some(first) = chosen.next() else {
            return;
        };
        let record = build();
        for other in chosen {
            other.offer(record.clone());
        }
        first.offer(record);
    }
}

/// One server's end of the bridge: the records routed to it, in batches.
#[derive(Debug)]
pub struct LogSink {
    shared: Arc<SinkShared>,
    rx: mpsc::Receiver<LogRecord>,
    bridge: &'static LogBridge,
}

impl LogSink {
    /// The value of the `mcp_server` span field that routes events to this sink only.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    pub fn set_level(&self, level: LogLevel) {
        self.shared.level.store(level as u8, Ordering::Relaxed);
        self.bridge.levels_changed();
    }

    /// A span for the work of the server this sink belongs to: events inside it reach this
    /// sink only.
    pub fn span(&self) -> tracing::Span {
        tracing::error_span!("mcp", mcp_server = self.shared.id)
    }

    /// The next batch of at most `max` records, waiting for the first one. A pending count
    /// of dropped records becomes a summary record at the front, and is reported at least
    /// every `flush_every` even when nothing else arrives. `None` once the bridge is gone.
    pub async fn next_batch(
        &mut self,
        max: usize,
        flush_every: Duration,
    ) -> Option<Vec<LogRecord>> {
        let mut batch = Vec::new();
        loop {
            match tokio::time::timeout(flush_every, self.rx.recv_many(&mut batch, max.max(1))).await
            {
                Ok(0) => return None,
                Ok(_) => break,
                Err(_) if self.shared.dropped.load(Ordering::Relaxed) > 0 => break,
                Err(_) => {}
            }
        }
        self.prepend_summary(&mut batch);
        Some(batch)
    }

    /// What is queued now, without waiting (at most `max` records, plus a summary).
    pub fn try_batch(&mut self, max: usize) -> Vec<LogRecord> {
        let mut batch = Vec::new();
        while batch.len() < max {
            match self.rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        self.prepend_summary(&mut batch);
        batch
    }

    fn prepend_summary(&self, batch: &mut Vec<LogRecord>) {
        let dropped = self.shared.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            batch.insert(
                0,
                LogRecord {
                    level: LogLevel::Warn,
                    target: module_path!().to_owned(),
                    message: format!("{dropped} log records dropped (rate limit or full queue)"),
                    fields: vec![("dropped".to_owned(), FieldValue::U64(dropped))],
                },
            );
        }
    }
}

impl Drop for LogSink {
    fn drop(&mut self) {
        self.bridge.unregister(self.shared.id);
    }
}

/// Marks a span (and so its children) as belonging to one sink.
struct ServerTag(u64);

struct BridgeLayer {
    bridge: &'static LogBridge,
}

impl BridgeLayer {
    fn max(&self) -> LogLevel {
        LogLevel::from_u8(self.bridge.max_level.load(Ordering::Relaxed))
    }
}

impl<S> Layer<S> for BridgeLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // Levels change at run time; `enabled` decides each time (one atomic load).
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        LogLevel::of(metadata.level()) <= self.max()
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.max().filter())
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        struct FindServer(Option<u64>);
        impl Visit for FindServer {
            fn record_u64(&mut self, field: &Field, value: u64) {
                if field.name() == SERVER_FIELD {
                    self.0 = Some(value);
                }
            }
            fn record_debug(&mut self, _: &Field, _: &dyn fmt::Debug) {}
        }
        if attrs.metadata().fields().field(SERVER_FIELD).is_none() {
            return;
        }
        let mut find = FindServer(None);
        attrs.record(&mut find);
        if let (Some(server), Some(span)) = (find.0, ctx.span(id)) {
            span.extensions_mut().insert(ServerTag(server));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let level = LogLevel::of(meta.level());
        let target = ctx.event_scope(event).and_then(|scope| {
            scope
                .into_iter()
                .find_map(|span| span.extensions().get::<ServerTag>().map(|t| t.0))
        });
        self.bridge.dispatch(target, level, || {
            let mut visitor = Collect::default();
            event.record(&mut visitor);
            LogRecord {
                level,
                target: meta.target().to_owned(),
                message: visitor.message,
                fields: visitor.fields,
            }
        });
    }
}

#[derive(Default)]
struct Collect {
    message: String,
    fields: Vec<(String, FieldValue)>,
}

impl Collect {
    fn push(&mut self, field: &Field, value: FieldValue) {
        self.fields.push((field.name().to_owned(), value));
    }
}

impl Visit for Collect {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, FieldValue::F64(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, FieldValue::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, FieldValue::U64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, FieldValue::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.push(field, FieldValue::Str(value.to_owned()));
        }
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, FieldValue::Str(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.push(field, FieldValue::Str(format!("{value:?}")));
        }
    }
}

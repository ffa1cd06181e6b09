//! Per-server stream state and the stats aggregated from each server's events.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};

use super::event::{ClientInfo, ConnectionEvent, EventType};
use super::line_splitter::{LineSplitter, Piece};
use super::parser::{event_payload, excerpt, parse_event_ref_fast, ConnectionEventRef, ParseError};
use super::timestamp::Timestamp;
use crate::util::FnvMap;

/// Default `maxLineBytes`: 1 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;
/// Default `errorThreshold`: the callback fires on the 11th parse error of a server.
pub const DEFAULT_ERROR_THRESHOLD: u64 = 10;
/// Default cap on the clients tracked per server (the oldest is forgotten beyond it).
pub const DEFAULT_MAX_TRACKED_CONNECTIONS: usize = 10_000;
/// Default `eventCapacity`: events [`ConnectionEventHub::push_quiet`] keeps per server until
/// they are drained.
pub const DEFAULT_EVENT_CAPACITY: usize = 1024;

/// Hub settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubOptions {
    /// Longest line kept; longer lines are cut, reported once and skipped to the next `\n`.
    pub max_line_bytes: usize,
    /// [`HubItem::ThresholdReached`] is reported once, when a server's parse-error count first
    /// exceeds this.
    pub error_threshold: u64,
    /// Bound on the per-server client table.
    pub max_tracked_connections: usize,
    /// Bound on the events [`ConnectionEventHub::push_quiet`] keeps per server (0: keep none,
    /// stats only). Beyond it the oldest is dropped and counted.
    pub event_capacity: usize,
}

impl Default for HubOptions {
    fn default() -> Self {
        Self {
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            error_threshold: DEFAULT_ERROR_THRESHOLD,
            max_tracked_connections: DEFAULT_MAX_TRACKED_CONNECTIONS,
            event_capacity: DEFAULT_EVENT_CAPACITY,
        }
    }
}

/// One output of [`ConnectionEventHub::push`], borrowed for the duration of the callback.
#[derive(Debug, Clone, Copy)]
pub enum HubItem<'a> {
    /// A valid event line. `json` is the object's text within `line`; `event` borrows from it
    /// (`event.to_owned_event()` for a [`ConnectionEvent`]).
    Event {
        line: &'a str,
        json: &'a str,
        event: &'a ConnectionEventRef<'a>,
    },
    /// Any other line, for the host's log path.
    Log { line: &'a str },
    /// A malformed event line or a cut over-long line; `excerpt` is short.
    ParseError {
        excerpt: &'a str,
        error: &'a ParseError,
    },
    /// The server's parse-error count just passed the threshold (reported once).
    ThresholdReached { count: u64 },
}

/// An owned output line (what [`ConnectionEventHub::push_lines`] returns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputLine {
    Event {
        line: String,
        event: Box<ConnectionEvent>,
    },
    Log {
        line: String,
    },
    ParseError {
        excerpt: String,
        error: ParseError,
    },
}

/// A snapshot of one server's stats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerStats {
    pub server_id: String,
    pub active_connections: u64,
    pub total_connections: u64,
    pub max_connections: Option<u64>,
    /// Connected clients, oldest first.
    pub connections: Vec<ClientInfo>,
    pub last_event_type: Option<EventType>,
    pub last_event_at: Option<Timestamp>,
    pub event_count: u64,
    pub parse_error_count: u64,
    /// The event queue of quiet mode; `None` until [`ConnectionEventHub::push_quiet`] is used.
    pub queue: Option<QueueStats>,
}

/// A server's quiet-mode event queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueStats {
    /// Events waiting for [`ConnectionEventHub::drain_events`].
    pub pending: u64,
    /// Events dropped (oldest first) because the queue was full, since the server was first seen.
    pub dropped: u64,
}

/// One output of [`ConnectionEventHub::push_quiet`].
#[derive(Debug, Clone, Copy)]
pub enum QuietItem<'a> {
    /// A line that is not a valid event, in stream order: a log line, or a malformed event line
    /// as it was (a cut over-long line as its excerpt). Malformed lines are also counted as
    /// parse errors.
    Line(&'a str),
    /// The server's parse-error count just passed the threshold (reported once).
    ThresholdReached { count: u64 },
}

/// The bounded queue of valid events' JSON texts kept by quiet mode. Strings are recycled, so a
/// steady stream allocates nothing once warm.
#[derive(Debug, Default)]
struct EventQueue {
    queue: VecDeque<String>,
    spare: Vec<String>,
    dropped: u64,
    used: bool,
}

/// Spare strings larger than this are freed rather than kept for reuse.
const MAX_SPARE_BYTES: usize = 4096;

impl EventQueue {
    /// Queues `json`; returns whether the oldest event was dropped to make room.
    fn push(&mut self, json: &str, capacity: usize) -> bool {
        if capacity == 0 {
            return false;
        }
        let (mut s, dropped) = if self.queue.len() >= capacity {
            self.dropped += 1;
            (self.queue.pop_front().unwrap_or_default(), true)
        } else {
            (self.spare.pop().unwrap_or_default(), false)
        };
        s.clear();
        s.push_str(json);
        self.queue.push_back(s);
        dropped
    }

    fn recycle(&mut self, mut s: String, capacity: usize) {
        if s.capacity() <= MAX_SPARE_BYTES && self.spare.len() < capacity {
            s.clear();
            self.spare.push(s);
        }
    }

    fn stats(&self) -> Option<QueueStats> {
        self.used.then_some(QueueStats {
            pending: self.queue.len() as u64,
            dropped: self.dropped,
        })
    }
}

#[derive(Debug)]
struct ServerState {
    order: u64,
    splitter: LineSplitter,
    active: u64,
    total: u64,
    max: Option<u64>,
    clients: HashMap<String, (u64, ClientInfo)>,
    next_client_seq: u64,
    last_event_type: Option<EventType>,
    /// The latest event's timestamp text (buffer reused) and instant.
    last_event_text: String,
    last_event_ms: i64,
    events: u64,
    parse_errors: u64,
    threshold_reported: bool,
    events_queue: EventQueue,
}

impl ServerState {
    fn new(order: u64, max_line_bytes: usize) -> Self {
        Self {
            order,
            splitter: LineSplitter::new(max_line_bytes),
            active: 0,
            total: 0,
            max: None,
            clients: HashMap::new(),
            next_client_seq: 0,
            last_event_type: None,
            last_event_text: String::new(),
            last_event_ms: 0,
            events: 0,
            parse_errors: 0,
            threshold_reported: false,
            events_queue: EventQueue::default(),
        }
    }

    fn apply(&mut self, event: &ConnectionEventRef<'_>, max_tracked: usize) {
        self.events += 1;
        self.active = event.connection_stats.active_connections;
        self.total = event.connection_stats.total_connections;
        if event.connection_stats.max_connections.is_some() {
            self.max = event.connection_stats.max_connections;
        }
        self.last_event_type = Some(event.event_type);
        self.last_event_text.clear();
        self.last_event_text.push_str(&event.timestamp.text);
        self.last_event_ms = event.timestamp.epoch_ms;
        match (event.event_type, &event.client) {
            (EventType::Connected, Some(client)) => {
                let id: &str = &client.id;
                if !self.clients.contains_key(id) && self.clients.len() >= max_tracked {
                    let oldest = self
                        .clients
                        .iter()
                        .min_by_key(|(_, (seq, _))| *seq)
                        .map(|(k, _)| k.clone());
                    if let Some(k) = oldest {
                        self.clients.remove(&k);
                    }
                }
                if max_tracked > 0 {
                    let seq = self.next_client_seq;
                    self.next_client_seq += 1;
                    self.clients
                        .insert(id.to_owned(), (seq, client.to_owned_client()));
                }
            }
            (EventType::Disconnected, Some(client)) => {
                self.clients.remove(&*client.id);
            }
            // Nothing is open: anything still listed was missed (e.g. a lost line).
            (EventType::StatsUpdate, _) if self.active == 0 => self.clients.clear(),
            _ => {}
        }
    }

    fn snapshot(&self, server_id: &str) -> ServerStats {
        let mut clients: Vec<&(u64, ClientInfo)> = self.clients.values().collect();
        clients.sort_by_key(|(seq, _)| *seq);
        ServerStats {
            server_id: server_id.to_owned(),
            active_connections: self.active,
            total_connections: self.total,
            max_connections: self.max,
            connections: clients.into_iter().map(|(_, c)| c.clone()).collect(),
            last_event_type: self.last_event_type,
            last_event_at: self.last_event_type.map(|_| {
                Timestamp::from_validated(self.last_event_text.clone(), self.last_event_ms)
            }),
            event_count: self.events,
            parse_error_count: self.parse_errors,
            queue: self.events_queue.stats(),
        }
    }
}

/// Reads `[MCP_CONNECTION]` lines from many servers' stdout and keeps per-server stats.
#[derive(Debug, Default)]
pub struct ConnectionEventHub {
    opts: HubOptions,
    // FNV: looked up on every push; the keys are the host's own few, short server ids.
    servers: FnvMap<String, ServerState>,
    next_order: u64,
}

/// Invalid UTF-8 in a line is replaced with U+FFFD (like Node's `buf.toString()`), for log and
/// event lines alike; the line is otherwise handled as usual.
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    // The strict check is much faster than the lossy one on valid text (the usual case).
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// The first bytes of a cut line, without a partial character at the end.
fn cut_excerpt(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(4 * super::parser::EXCERPT_CHARS)];
    let head = match std::str::from_utf8(head) {
        Ok(_) => head,
        Err(e) if e.error_len().is_none() => &head[..e.valid_up_to()],
        Err(_) => head,
    };
    excerpt(&String::from_utf8_lossy(head))
}

impl ConnectionEventHub {
    pub fn new(opts: HubOptions) -> Self {
        Self {
            opts,
            servers: FnvMap::default(),
            next_order: 0,
        }
    }

    pub fn options(&self) -> &HubOptions {
        &self.opts
    }

    fn state(&mut self, server_id: &str) -> &mut ServerState {
        if !self.servers.contains_key(server_id) {
            let order = self.next_order;
            self.next_order += 1;
            self.servers.insert(
                server_id.to_owned(),
                ServerState::new(order, self.opts.max_line_bytes),
            );
        }
        // Just inserted if it was missing.
        self.servers
            .get_mut(server_id)
            .unwrap_or_else(|| unreachable!("server state present"))
    }

    /// Feeds a chunk of `server_id`'s stdout; `sink` gets every complete line, in order.
    /// The server's stats are updated as lines are read.
    pub fn push(&mut self, server_id: &str, chunk: &[u8], sink: &mut impl FnMut(HubItem<'_>)) {
        let opts = self.opts;
        // One hash lookup for a known server.
        let state = match self.servers.get_mut(server_id) {
            Some(state) => state,
            None => self.state(server_id),
        };
        // Split borrows: the splitter is taken out while lines update the rest of the state.
        let mut splitter = std::mem::replace(&mut state.splitter, LineSplitter::new(1));
        splitter.push(chunk, |piece| handle_piece(state, &opts, piece, sink));
        state.splitter = splitter;
    }

    /// End of `server_id`'s stream: hands out a final unterminated line. Stats are kept.
    pub fn end(&mut self, server_id: &str, sink: &mut impl FnMut(HubItem<'_>)) {
        let opts = self.opts;
        let Some(state) = self.servers.get_mut(server_id) else {
            return;
        };
        let mut splitter = std::mem::replace(&mut state.splitter, LineSplitter::new(1));
        splitter.finish(|piece| handle_piece(state, &opts, piece, sink));
        state.splitter = splitter;
    }

    /// Quiet mode: feeds a chunk like [`Self::push`] and updates the stats the same way, but
    /// hands out only the lines that are not valid events (and the threshold report). Valid
    /// events are kept, as their JSON text, in the server's queue for [`Self::drain_events`]
    /// (bounded by `event_capacity`; the oldest is dropped beyond it). Returns how many events
    /// this chunk made the queue drop.
    pub fn push_quiet(
        &mut self,
        server_id: &str,
        chunk: &[u8],
        sink: &mut impl FnMut(QuietItem<'_>),
    ) -> u64 {
        let opts = self.opts;
        let state = match self.servers.get_mut(server_id) {
            Some(state) => state,
            None => self.state(server_id),
        };
        state.events_queue.used = true;
        let before = state.events_queue.dropped;
        let mut splitter = std::mem::replace(&mut state.splitter, LineSplitter::new(1));
        splitter.push(chunk, |piece| handle_piece_quiet(state, &opts, piece, sink));
        state.splitter = splitter;
        state.events_queue.dropped - before
    }

    /// Quiet mode's [`Self::end`]: handles a final unterminated line. Returns the events dropped.
    pub fn end_quiet(&mut self, server_id: &str, sink: &mut impl FnMut(QuietItem<'_>)) -> u64 {
        let opts = self.opts;
        let Some(state) = self.servers.get_mut(server_id) else {
            return 0;
        };
        state.events_queue.used = true;
        let before = state.events_queue.dropped;
        let mut splitter = std::mem::replace(&mut state.splitter, LineSplitter::new(1));
        splitter.finish(|piece| handle_piece_quiet(state, &opts, piece, sink));
        state.splitter = splitter;
        state.events_queue.dropped - before
    }

    /// Takes up to `max` queued events of one server (all servers, in the order first seen,
    /// when `server_id` is `None`), oldest first: `each(server_id, json)`. Returns how many.
    pub fn drain_events(
        &mut self,
        server_id: Option<&str>,
        max: usize,
        each: &mut impl FnMut(&str, &str),
    ) -> usize {
        let cap = self.opts.event_capacity;
        let mut taken = 0;
        let mut drain_one = |id: &str, state: &mut ServerState, taken: &mut usize| {
            while *taken < max {
                let Some(json) = state.events_queue.queue.pop_front() else {
                    break;
                };
                each(id, &json);
                state.events_queue.recycle(json, cap);
                *taken += 1;
            }
        };
        match server_id {
            Some(id) => {
                if let Some(state) = self.servers.get_mut(id) {
                    drain_one(id, state, &mut taken);
                }
            }
            None => {
                let mut all: Vec<(&String, &mut ServerState)> = self
                    .servers
                    .iter_mut()
                    .filter(|(_, s)| !s.events_queue.queue.is_empty())
                    .collect();
                all.sort_by_key(|(_, s)| s.order);
                for (id, state) in all {
                    if taken >= max {
                        break;
                    }
                    drain_one(id, state, &mut taken);
                }
            }
        }
        taken
    }

    /// [`Self::push`] collecting owned lines (threshold reports are left out).
    pub fn push_lines(&mut self, server_id: &str, chunk: &[u8]) -> Vec<OutputLine> {
        let mut out = Vec::new();
        self.push(server_id, chunk, &mut |item| collect(&mut out, item));
        out
    }

    /// [`Self::end`] collecting owned lines.
    pub fn end_lines(&mut self, server_id: &str) -> Vec<OutputLine> {
        let mut out = Vec::new();
        self.end(server_id, &mut |item| collect(&mut out, item));
        out
    }

    /// A server's stats, `None` if nothing was pushed for it (or it was removed).
    pub fn stats(&self, server_id: &str) -> Option<ServerStats> {
        self.servers.get(server_id).map(|s| s.snapshot(server_id))
    }

    /// Every server's stats, in the order the servers were first seen.
    pub fn all_stats(&self) -> Vec<ServerStats> {
        let mut all: Vec<(&String, &ServerState)> = self.servers.iter().collect();
        all.sort_by_key(|(_, s)| s.order);
        all.into_iter().map(|(id, s)| s.snapshot(id)).collect()
    }

    /// A server's parse-error count (0 if unknown).
    pub fn parse_errors(&self, server_id: &str) -> u64 {
        self.servers.get(server_id).map_or(0, |s| s.parse_errors)
    }

    /// Bytes buffered for a server's unterminated line.
    pub fn buffered(&self, server_id: &str) -> usize {
        self.servers
            .get(server_id)
            .map_or(0, |s| s.splitter.buffered())
    }

    /// Forgets a server (its tail and stats). Returns whether it was known.
    pub fn remove(&mut self, server_id: &str) -> bool {
        self.servers.remove(server_id).is_some()
    }

    /// The servers known, in no particular order.
    pub fn server_ids(&self) -> impl Iterator<Item = &str> {
        self.servers.keys().map(String::as_str)
    }
}

fn collect(out: &mut Vec<OutputLine>, item: HubItem<'_>) {
    match item {
        HubItem::Event { line, event, .. } => out.push(OutputLine::Event {
            line: line.to_owned(),
            event: Box::new(event.to_owned_event()),
        }),
        HubItem::Log { line } => out.push(OutputLine::Log {
            line: line.to_owned(),
        }),
        HubItem::ParseError { excerpt, error } => out.push(OutputLine::ParseError {
            excerpt: excerpt.to_owned(),
            error: error.clone(),
        }),
        HubItem::ThresholdReached { .. } => {}
    }
}

fn count_error(state: &mut ServerState, opts: &HubOptions, sink: &mut impl FnMut(HubItem<'_>)) {
    state.parse_errors += 1;
    if !state.threshold_reported && state.parse_errors > opts.error_threshold {
        state.threshold_reported = true;
        sink(HubItem::ThresholdReached {
            count: state.parse_errors,
        });
    }
}

fn handle_piece_quiet(
    state: &mut ServerState,
    opts: &HubOptions,
    piece: Piece<'_>,
    sink: &mut impl FnMut(QuietItem<'_>),
) {
    let threshold = |state: &mut ServerState, sink: &mut dyn FnMut(QuietItem<'_>)| {
        count_error(state, opts, &mut |item| {
            if let HubItem::ThresholdReached { count } = item {
                sink(QuietItem::ThresholdReached { count });
            }
        })
    };
    match piece {
        Piece::Line(bytes) => {
            let line = decode(bytes);
            match event_payload(&line) {
                None => sink(QuietItem::Line(&line)),
                Some(json) => match parse_event_ref_fast(json) {
                    Ok(event) => {
                        state.apply(&event, opts.max_tracked_connections);
                        state.events_queue.push(json, opts.event_capacity);
                    }
                    Err(_) => {
                        sink(QuietItem::Line(&line));
                        threshold(state, sink);
                    }
                },
            }
        }
        Piece::Oversized(head) => {
            sink(QuietItem::Line(&cut_excerpt(head)));
            threshold(state, sink);
        }
    }
}

fn handle_piece(
    state: &mut ServerState,
    opts: &HubOptions,
    piece: Piece<'_>,
    sink: &mut impl FnMut(HubItem<'_>),
) {
    match piece {
        Piece::Line(bytes) => {
            let line = decode(bytes);
            match event_payload(&line) {
                None => sink(HubItem::Log { line: &line }),
                Some(json) => match parse_event_ref_fast(json) {
                    Ok(event) => {
                        state.apply(&event, opts.max_tracked_connections);
                        sink(HubItem::Event {
                            line: &line,
                            json,
                            event: &event,
                        });
                    }
                    Err(error) => {
                        let ex = excerpt(&line);
                        sink(HubItem::ParseError {
                            excerpt: &ex,
                            error: &error,
                        });
                        count_error(state, opts, sink);
                    }
                },
            }
        }
        Piece::Oversized(head) => {
            let ex = cut_excerpt(head);
            let error = ParseError::LineTooLong {
                limit: opts.max_line_bytes.max(1),
            };
            sink(HubItem::ParseError {
                excerpt: &ex,
                error: &error,
            });
            count_error(state, opts, sink);
        }
    }
}

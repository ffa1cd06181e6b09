//! JS callbacks in flight. The core hands an invocation to the host (the napi bindings, or a
//! Rust test) and waits for `resolve`; everything a callback may do meanwhile (progress, logs,
//! server→client requests, closing its stream) goes through the call's route.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use crate::protocol::held::{self, Reservation};
use crate::protocol::{CallError, CallbackFailure, CallbackKind, Era};
use crate::session::{Session, StreamId};

/// One callback run, as handed to the host.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub call_id: u64,
    pub kind: CallbackKind,
    /// The request's `params`, as JSON text.
    pub params: String,
    /// The `RequestContext` data, as JSON text.
    pub context: String,
    /// The caller's principal (`ctx.auth`), when authorization is on. It travels beside the
    /// context rather than in it, so the host can hand each principal over once.
    pub principal: Option<std::sync::Arc<crate::auth::AuthInfo>>,
}

/// Runs JS callbacks. `invoke` must not block; the answer comes back through
/// `Calls::resolve`.
pub trait CallbackHost: Send + Sync + 'static {
    /// False when the host can no longer run callbacks (it is shutting down).
    fn invoke(&self, invocation: Invocation) -> bool;
    /// The call was cancelled, timed out or its session ended: abort its `ctx.signal`.
    fn abort(&self, call_id: u64, reason: &str);
}

pub type CallOutcome = Result<String, CallbackFailure>;

/// A call's outcome as its waiter receives it: a large answer comes with the room it holds
/// under `maxResponseBytesInFlight` (released once the answer is framed, which counts it anew).
pub type Reply = (CallOutcome, Option<Reservation>);

/// Where a call's notifications and server→client requests go.
#[derive(Clone)]
pub enum Route {
    /// A 2025 session's request stream.
    Session {
        session: Arc<Session>,
        stream: StreamId,
        /// JSON responses: there is no stream for notifications.
        json_mode: bool,
    },
    /// A 2026 request's own SSE response (`None` with JSON responses).
    Direct {
        tx: Option<mpsc::UnboundedSender<Bytes>>,
        /// What the response's reader has not taken yet (docs/hardening.md, slow consumers).
        backlog: Arc<crate::session::backlog::Backlog>,
        /// Minimum log severity from the request's `_meta`, if any.
        log_level: Option<u8>,
        /// The tracker's key of the client, to name its IP when the reader falls behind.
        client: Arc<str>,
    },
}

pub struct Pending {
    reply: oneshot::Sender<Reply>,
    pub route: Route,
    pub era: Era,
    pub progress_token: Option<serde_json::Value>,
}

pub struct Calls {
    next: AtomicU64,
    map: Mutex<HashMap<u64, Pending>>,
    /// `maxResponseBytesInFlight`: large answers held at once, process-wide.
    answer_cap: u64,
}

impl Default for Calls {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_RESPONSE_BYTES_IN_FLIGHT)
    }
}

/// Default of `maxResponseBytesInFlight`.
pub const DEFAULT_MAX_RESPONSE_BYTES_IN_FLIGHT: u64 = 32 * 1024 * 1024;

/// What a caller needs to know about a call in flight.
#[derive(Clone)]
pub struct CallView {
    pub route: Route,
    pub era: Era,
    pub progress_token: Option<serde_json::Value>,
}

impl Calls {
    pub fn new(answer_cap: u64) -> Self {
        Self {
            next: AtomicU64::new(0),
            map: Mutex::default(),
            answer_cap,
        }
    }

    /// Whether an answer of `len` bytes would fit under `maxResponseBytesInFlight` now. A hint
    /// for the host, which may refuse before it serializes a large answer; `resolve` decides.
    pub fn answer_fits(&self, len: u64) -> bool {
        held::held().saturating_add(len) <= self.answer_cap
    }

    /// The refusal `resolve` gives an answer of `len` bytes that does not fit.
    pub fn answer_refused(&self, len: u64) -> CallError {
        CallError::AnswersInFlight {
            bytes: len,
            held: held::held(),
            cap: self.answer_cap,
        }
    }

    pub fn begin(
        &self,
        route: Route,
        era: Era,
        progress_token: Option<serde_json::Value>,
    ) -> (u64, oneshot::Receiver<Reply>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = oneshot::channel();
        self.map.lock().insert(
            id,
            Pending {
                reply: tx,
                route,
                era,
                progress_token,
            },
        );
        (id, rx)
    }

    /// Delivers a callback's answer. False when the call is no longer waited for (timed out,
    /// cancelled): the late answer is dropped. A large answer that would take the bytes held
    /// for readers past `maxResponseBytesInFlight` is dropped here and answered with an error
    /// (docs/hardening.md, "Answers in flight").
    pub fn resolve(&self, id: u64, outcome: CallOutcome) -> bool {
        let pending = self.map.lock().remove(&id);
        let Some(p) = pending else {
            return false;
        };
        let reply = match outcome {
            Ok(text) if text.len() >= held::LARGE => {
                match Reservation::try_take(text.len(), self.answer_cap) {
                    Some(room) => (Ok(text), Some(room)),
                    None => {
                        let refused = self.answer_refused(text.len() as u64);
                        drop(text);
                        tracing::warn!(call_id = id, error = %refused, "answer refused");
                        (Err(refused), None)
                    }
                }
            }
            outcome => (outcome, None),
        };
        p.reply.send(reply).is_ok()
    }

    /// Forgets a call (after a timeout) without answering it.
    pub fn forget(&self, id: u64) {
        let mut map = self.map.lock();
        map.remove(&id);
        if map.is_empty() {
            map.shrink_to_fit();
        }
    }

    pub fn view(&self, id: u64) -> Option<CallView> {
        self.map.lock().get(&id).map(|p| CallView {
            route: p.route.clone(),
            era: p.era,
            progress_token: p.progress_token.clone(),
        })
    }

    /// Every call still waiting; used on shutdown.
    pub fn drain(&self) -> Vec<u64> {
        let mut map = self.map.lock();
        let ids: Vec<u64> = map.keys().copied().collect();
        for id in &ids {
            if let Some(p) = map.remove(id) {
                let _ = p.reply.send((Err(CallbackFailure::Unavailable), None));
            }
        }
        map.shrink_to_fit();
        ids
    }

    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

//! JS callbacks in flight. The core hands an invocation to the host (the napi bindings, or a
//! Rust test) and waits for `resolve`; everything a callback may do meanwhile (progress, logs,
//! server→client requests, closing its stream) goes through the call's route.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use crate::protocol::{CallbackFailure, CallbackKind, Era};
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
    },
}

pub struct Pending {
    reply: oneshot::Sender<CallOutcome>,
    pub route: Route,
    pub era: Era,
    pub progress_token: Option<serde_json::Value>,
}

#[derive(Default)]
pub struct Calls {
    next: AtomicU64,
    map: Mutex<HashMap<u64, Pending>>,
}

/// What a caller needs to know about a call in flight.
#[derive(Clone)]
pub struct CallView {
    pub route: Route,
    pub era: Era,
    pub progress_token: Option<serde_json::Value>,
}

impl Calls {
    pub fn begin(
        &self,
        route: Route,
        era: Era,
        progress_token: Option<serde_json::Value>,
    ) -> (u64, oneshot::Receiver<CallOutcome>) {
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
    /// cancelled): the late answer is dropped.
    pub fn resolve(&self, id: u64, outcome: CallOutcome) -> bool {
        let pending = self.map.lock().remove(&id);
        match pending {
            Some(p) => p.reply.send(outcome).is_ok(),
            None => false,
        }
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
                let _ = p.reply.send(Err(CallbackFailure::Unavailable));
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

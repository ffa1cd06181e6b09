//! 2026-07-28 `subscriptions/listen` streams: open SSE responses that carry only the
//! notifications their client asked for, each tagged with its subscription id.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::protocol::sse;
use crate::session::backlog::{Backlog, BacklogLimits, EndCause};

/// What a listen stream asked for.
#[derive(Debug, Default, Clone)]
pub struct Interests {
    pub tools: bool,
    pub prompts: bool,
    pub resources: bool,
    pub resource_uris: HashSet<String>,
}

struct Listener {
    client: Arc<str>,
    subscription: serde_json::Value,
    interests: Interests,
    tx: mpsc::UnboundedSender<Bytes>,
    /// The final result sent when the server closes the stream.
    final_message: String,
    backlog: Arc<Backlog>,
    max_backlog: BacklogLimits,
}

#[derive(Default)]
pub struct Listeners {
    next: AtomicU64,
    map: Mutex<HashMap<u64, Listener>>,
}

impl Listeners {
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &self,
        client: Arc<str>,
        subscription: serde_json::Value,
        interests: Interests,
        tx: mpsc::UnboundedSender<Bytes>,
        final_message: String,
        max_backlog: BacklogLimits,
        backlog: Arc<Backlog>,
    ) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.map.lock().insert(
            id,
            Listener {
                client,
                subscription,
                interests,
                tx,
                final_message,
                backlog,
                max_backlog,
            },
        );
        id
    }

    pub fn remove(&self, id: u64) -> Option<Arc<str>> {
        let mut map = self.map.lock();
        let l = map.remove(&id);
        if map.is_empty() {
            map.shrink_to_fit();
        }
        l.map(|l| l.client)
    }

    /// Ends one stream early (its token expired).
    pub fn end(&self, id: u64) {
        if let Some(l) = self.map.lock().get(&id) {
            l.backlog.set_end(EndCause::ServerClosed);
        }
        self.remove(id);
    }

    /// Sends a list_changed or resources/updated notification to the streams that asked. A
    /// stream whose reader is more than its backlog cap behind is ended instead; the clients
    /// of those streams are returned (to be reported as slow consumers).
    pub fn notify(
        &self,
        method: &str,
        params: Option<&str>,
        resource_uri: Option<&str>,
    ) -> Vec<Arc<str>> {
        let mut map = self.map.lock();
        let mut slow: Vec<u64> = Vec::new();
        for (&lid, l) in map.iter() {
            let wanted = match method {
                "notifications/tools/list_changed" => l.interests.tools,
                "notifications/prompts/list_changed" => l.interests.prompts,
                "notifications/resources/list_changed" => l.interests.resources,
                "notifications/resources/updated" => {
                    resource_uri.is_some_and(|u| l.interests.resource_uris.contains(u))
                }
                _ => false,
            };
            if !wanted {
                continue;
            }
            let mut p: serde_json::Value = params
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or_else(|| serde_json::json!({}));
            if let serde_json::Value::Object(m) = &mut p {
                let meta = m.entry("_meta").or_insert_with(|| serde_json::json!({}));
                if let serde_json::Value::Object(meta) = meta {
                    meta.insert(
                        "io.modelcontextprotocol/subscriptionId".into(),
                        l.subscription.clone(),
                    );
                }
            }
            let msg = crate::protocol::jsonrpc::notification(method, Some(&p.to_string()));
            let frame = sse::message(None, &msg);
            if l.backlog.would_exceed(frame.len(), l.max_backlog) {
                l.backlog.set_end(EndCause::SlowConsumer);
                slow.push(lid);
                continue;
            }
            let _ = l.tx.send(l.backlog.frame(frame));
        }
        // Dropping the sender ends the response once what it holds is taken (or the write
        // timeout drops the peer).
        slow.into_iter()
            .filter_map(|id| map.remove(&id).map(|l| l.client))
            .collect()
    }

    /// Ends every stream of one client.
    pub fn end_client(&self, client: &str) {
        self.map.lock().retain(|_, l| {
            let keep = &*l.client != client;
            if !keep {
                l.backlog.set_end(EndCause::ServerClosed);
            }
            keep
        });
    }

    /// Ends every stream with its final result (server shutdown).
    pub fn close_all(&self) {
        let drained: Vec<Listener> = self.map.lock().drain().map(|(_, l)| l).collect();
        for l in drained {
            let _ = l.tx.send(sse::message(None, &l.final_message));
        }
    }

    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

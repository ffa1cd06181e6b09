//! The verified principal a request carries.

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `aud`: one string or several (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let s: &[String] = match self {
            Audience::One(s) => std::slice::from_ref(s),
            Audience::Many(v) => v,
        };
        s.iter().map(String::as_str)
    }
}

/// Who a connection is, as its bearer token says: what the monitor records of a principal
/// (docs/authorization.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionAuth {
    pub subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub scopes: Vec<String>,
}

/// What a verifier says about a token; the shape JS sees as `ctx.auth`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthInfo {
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Audience>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Map<String, Value>>,
    /// This principal as JSON, rendered on first use: a cached token's principal is shared by
    /// every request that presents it, so `ctx.auth` costs one rendering per token, not one per
    /// request.
    #[serde(skip)]
    pub rendered: Rendered,
}

/// Memos that take no part in comparisons or copies' identity: the JSON, and the record the
/// monitor keeps of the principal (a 2026 request hands it to the tracker on every request).
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    json: OnceLock<Box<str>>,
    literal: OnceLock<Box<str>>,
    connection: OnceLock<Arc<ConnectionAuth>>,
    id: OnceLock<u64>,
}

/// Principal ids, never reused: a JS side that knows an id knows its principal for good.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl PartialEq for Rendered {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl AuthInfo {
    /// The JSON the callbacks see as `ctx.auth` (the serde rendering of `self`).
    pub fn json(&self) -> &str {
        self.rendered.json.get_or_init(|| {
            serde_json::to_string(self)
                .unwrap_or_else(|_| "null".to_owned())
                .into_boxed_str()
        })
    }

    /// [`Self::json`] as a JSON string literal: how JS receives a principal, once per
    /// [`Self::id`], parsing it only when a callback reads `ctx.auth` (lib/server.js).
    pub fn json_literal(&self) -> &str {
        self.rendered.literal.get_or_init(|| {
            serde_json::to_string(self.json())
                .unwrap_or_else(|_| "null".to_owned())
                .into_boxed_str()
        })
    }

    /// The principal as the monitor records it, built once per principal: a cached token's
    /// requests share one record instead of copying the subject and scopes each time.
    pub fn connection(&self) -> Arc<ConnectionAuth> {
        self.rendered
            .connection
            .get_or_init(|| {
                Arc::new(ConnectionAuth {
                    subject: self.subject.clone(),
                    client_id: self.client_id.clone(),
                    scopes: self.scopes.clone(),
                })
            })
            .clone()
    }

    /// This principal's id, unique in the process: callback contexts name the principal by
    /// it, and JS receives the principal's JSON once per id (bindings/server.rs), not with
    /// every call.
    pub fn id(&self) -> u64 {
        *self
            .rendered
            .id
            .get_or_init(|| NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

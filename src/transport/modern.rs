//! The 2026-07-28 front end: stateless requests identified by `_meta`.

use std::sync::Arc;

use hyper::{HeaderMap, StatusCode};
use serde_json::{json, value::RawValue};

use super::calls::CallOutcome;
use super::http::{self, header, Resp, VERSION_HEADER};
use super::router::Peer;
use super::server::Core;
use crate::protocol::error::UNSUPPORTED_VERSION;
use crate::protocol::jsonrpc::Body;
use crate::protocol::meta::Meta;
use crate::protocol::version::MODERN_VERSIONS;
use crate::protocol::{CallbackKind, RpcError};
use crate::session::Session;

/// A request whose version header names a 2026 revision.
pub fn has_modern_version_header(headers: &HeaderMap) -> bool {
    header(headers, VERSION_HEADER).is_some_and(|v| MODERN_VERSIONS.contains(&v))
}

/// GET and DELETE belong to the 2025 era; a 2026 client gets 405.
pub fn is_modern_get(core: &Core, headers: &HeaderMap) -> bool {
    !core.cfg.legacy || has_modern_version_header(headers)
}

fn unsupported(core: &Core) -> Resp {
    let supported = core.dispatcher.supported_versions();
    http::rpc_error(
        StatusCode::BAD_REQUEST,
        None,
        &RpcError::new(UNSUPPORTED_VERSION, "Unsupported protocol version")
            .with_data(json!({ "supported": supported })),
    )
}

pub async fn post(
    core: Arc<Core>,
    _peer: Peer,
    _headers: &HeaderMap,
    _body: Body,
    _meta: Meta,
) -> Resp {
    unsupported(&core)
}

/// A 2025-style request to a server that serves only 2026-07-28.
pub fn legacy_disabled(core: &Core, _body: &Body) -> Resp {
    unsupported(core)
}

/// For a 2025 client, the server answers an `InputRequiredResult` itself (issue 9).
pub async fn complete_input_for_legacy(
    _core: &Arc<Core>,
    _session: &Arc<Session>,
    _call_id: u64,
    _kind: CallbackKind,
    _params: Option<&RawValue>,
    outcome: CallOutcome,
) -> CallOutcome {
    outcome
}

//! The 2026-07-28 front end: stateless POSTs identified by `_meta`. Envelope and mirrored
//! headers are checked first (400 with -32602 / -32020 / -32022), then the shared dispatcher
//! answers; callbacks may ask for input (multi round-trip) and `subscriptions/listen` holds a
//! stream open for list and resource notifications.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use hyper::{HeaderMap, StatusCode};
use serde_json::{json, value::RawValue, Map, Value};
use tokio::sync::mpsc;

use super::body::OutBody;
use super::calls::{CallOutcome, Route};
use super::core::Core;
use super::http::{self, header, Resp, VERSION_HEADER};
use super::listen::Interests;
use super::pipeline::{self, CancelOnDrop, ClientInfo, ContextClient, Deliver, Peer, Stream};
use crate::monitor::now_ms;
use crate::monitor::tracker::NewConnection;
use crate::protocol::error::{
    HEADER_MISMATCH, INVALID_PARAMS, METHOD_NOT_FOUND, MISSING_CAPABILITY, UNSUPPORTED_VERSION,
};
use crate::protocol::input::{is_input_required, missing_capabilities};
use crate::protocol::jsonrpc::{self, Body, Message, RequestId};
use crate::protocol::logging::log_level_rank;
use crate::protocol::meta::{claims_modern, Meta};
use crate::protocol::params::CallParams;
use crate::protocol::validate::ArgumentErrorStyle;
use crate::protocol::version::MODERN_VERSIONS;
use crate::protocol::{headers, sse, CallError, CallbackKind, Era, Routed, RpcError};

/// A request whose version header names a 2026 revision (or anything later).
pub fn has_modern_version_header(headers: &HeaderMap) -> bool {
    claims_modern(false, false, header(headers, VERSION_HEADER))
}

/// GET and DELETE belong to the 2025 era; a 2026 client (or a 2026-only server) gets 405.
pub fn is_modern_get(core: &Core, headers: &HeaderMap) -> bool {
    !core.cfg.legacy || (core.cfg.modern && has_modern_version_header(headers))
}

fn reject(status: StatusCode, id: Option<&RequestId>, e: RpcError) -> Resp {
    http::rpc_error(status, id, &e)
}

fn unsupported(core: &Core, id: Option<&RequestId>, requested: Option<&str>) -> Resp {
    let mut data = json!({ "supported": core.dispatcher.supported_versions() });
    if let (Some(r), Value::Object(m)) = (requested, &mut data) {
        m.insert("requested".into(), Value::String(r.to_owned()));
    }
    reject(
        StatusCode::BAD_REQUEST,
        id,
        RpcError::new(UNSUPPORTED_VERSION, "Unsupported protocol version").with_data(data),
    )
}

/// A 2025-style request to a server that serves only 2026-07-28: 400 / -32022 listing what
/// we speak, so a client can tell it must not fall back.
pub fn legacy_disabled(core: &Core, body: &Body) -> Resp {
    let id = match body.messages().first() {
        Some(Message::Request { id, .. }) => Some(id.clone()),
        _ => None,
    };
    unsupported(core, id.as_ref(), None)
}

/// Everything a modern request carries that the rest of the handling needs.
struct Envelope {
    version: String,
    /// JSON text of an object.
    capabilities: Box<RawValue>,
    /// JSON text of an object, when sent.
    client_info: Option<Box<RawValue>>,
    log_level: Option<u8>,
    progress_token: Option<Value>,
}

fn is_object(raw: &RawValue) -> bool {
    raw.get().trim_start().starts_with('{')
}

fn envelope(meta: Meta) -> Result<Envelope, RpcError> {
    let version = match meta.protocol_version {
        Some(Value::String(v)) => v,
        Some(_) => {
            return Err(RpcError::invalid_params(
                "_meta[\"io.modelcontextprotocol/protocolVersion\"] must be a string",
            ))
        }
        None => {
            return Err(RpcError::invalid_params(
                "missing _meta[\"io.modelcontextprotocol/protocolVersion\"]",
            ))
        }
    };
    let capabilities = match meta.client_capabilities {
        Some(c) if is_object(&c) => c,
        _ => {
            return Err(RpcError::invalid_params(
                "missing _meta[\"io.modelcontextprotocol/clientCapabilities\"]",
            ))
        }
    };
    let client_info = match meta.client_info {
        None => None,
        Some(c) if c.get() == "null" => None,
        Some(c) if is_object(&c) => Some(c),
        Some(_) => {
            return Err(RpcError::invalid_params(
                "_meta[\"io.modelcontextprotocol/clientInfo\"] must be an object",
            ))
        }
    };
    let log_level = match meta.log_level {
        None | Some(Value::Null) => None,
        Some(Value::String(l)) => {
            Some(log_level_rank(&l).ok_or_else(|| RpcError::invalid_params("unknown log level"))?)
        }
        Some(_) => return Err(RpcError::invalid_params("logLevel must be a string")),
    };
    Ok(Envelope {
        version,
        capabilities,
        client_info,
        log_level,
        progress_token: meta.progress_token,
    })
}

/// What a callback run needs from the params, owned.
struct CallInput {
    /// The params JS receives.
    callback_params: String,
    input_responses: Option<Box<RawValue>>,
    request_state: Option<Box<RawValue>>,
}

pub async fn post(
    core: Arc<Core>,
    peer: Peer,
    headers: &HeaderMap,
    body: Body,
    meta: Meta,
) -> Resp {
    let Body::Single(msg) = body else {
        return reject(
            StatusCode::BAD_REQUEST,
            None,
            RpcError::invalid_request("batches are not part of 2026-07-28"),
        );
    };
    let (id, method, params) = match msg {
        Message::Request { id, method, params } => (Some(id), method, params),
        Message::Notification { method, params } => (None, method, params),
        Message::Response { .. } => return http::empty(StatusCode::ACCEPTED),
    };
    let id = id.as_ref();
    if !core.cfg.modern {
        return unsupported(&core, id, None);
    }
    let env = match envelope(meta) {
        Ok(e) => e,
        Err(e) => return reject(StatusCode::BAD_REQUEST, id, e),
    };
    match header(headers, VERSION_HEADER).map(str::trim) {
        None => {
            return reject(
                StatusCode::BAD_REQUEST,
                id,
                RpcError::new(HEADER_MISMATCH, "Bad Request: the MCP-Protocol-Version header is missing"),
            )
        }
        Some(h) if h != env.version => {
            return reject(
                StatusCode::BAD_REQUEST,
                id,
                RpcError::new(
                    HEADER_MISMATCH,
                    format!(
                        "Bad Request: MCP-Protocol-Version {h:?} does not match _meta protocolVersion {:?}",
                        env.version
                    ),
                ),
            )
        }
        Some(_) => {}
    }
    let p = match CallParams::parse(params.as_deref()) {
        Ok(v) => v,
        Err(e) => return reject(StatusCode::BAD_REQUEST, id, RpcError::invalid_params(e)),
    };
    let catalog = core.dispatcher.catalog();
    let tool_headers = if method == "tools/call" {
        p.name.as_deref().and_then(|n| catalog.tool_headers.get(n))
    } else {
        None
    };
    let mirrored = headers::Mirrored {
        name: p.name.as_deref(),
        uri: p.uri.as_deref(),
        arguments: p.arguments,
    };
    if let Err(e) = headers::check(|k| header(headers, k), &method, mirrored, tool_headers) {
        return reject(StatusCode::BAD_REQUEST, id, e);
    }
    if !MODERN_VERSIONS.contains(&env.version.as_str()) {
        return unsupported(&core, id, Some(&env.version));
    }
    let Some(id) = id else {
        // Notifications need no answer; cancellation is the client closing its stream.
        return http::empty(StatusCode::ACCEPTED);
    };
    let info: ClientInfo<'_> = env
        .client_info
        .as_deref()
        .and_then(|c| serde_json::from_str(c.get()).ok())
        .unwrap_or_default();
    let (client_name, client_version) = (info.name.as_deref(), info.version.as_deref());
    let client = match core.tracker.admit_modern(NewConnection {
        era: Era::Modern,
        client_ip: &peer.ip,
        user_agent: &peer.user_agent,
        client_name,
        client_version,
        protocol_version: Some(&env.version),
        auth: pipeline::connection_auth(),
    }) {
        Ok(client) => client,
        Err(why) => return http::refused(why, Some(id)),
    };
    // The method table: removed 2025 methods and unknown ones are 404 here.
    // A tools/call's arguments are checked against the tool's inputSchema before any JS runs.
    let routed = super::auth::route(&core, Era::Modern, &method, params.as_deref());
    match core.dispatcher.check_arguments(
        Era::Modern,
        ArgumentErrorStyle::ToolResult,
        params.as_deref(),
        routed,
    ) {
        Routed::Answer(result) => http::json(StatusCode::OK, jsonrpc::result_response(id, &result)),
        Routed::Fail(e) if e.code == METHOD_NOT_FOUND => reject(StatusCode::NOT_FOUND, Some(id), e),
        Routed::Fail(e) => http::rpc_error(StatusCode::OK, Some(id), &e),
        Routed::Discover => {
            let result = core.dispatcher.discover_result();
            http::json(StatusCode::OK, jsonrpc::result_response(id, result))
        }
        Routed::Listen => {
            let filter: Option<Value> = p
                .notifications
                .and_then(|n| serde_json::from_str(n.get()).ok());
            listen(&core, client, id, filter.as_ref())
        }
        Routed::Callback(kind) => {
            let input = CallInput {
                callback_params: p.for_callback(),
                input_responses: p.input_responses.map(ToOwned::to_owned),
                request_state: p.request_state.map(ToOwned::to_owned),
            };
            drop(p);
            callback(core, client, id.clone(), method, kind, params, input, env).await
        }
        // 2025 session steps are not in the table for this era.
        Routed::Initialize | Routed::SetLogLevel(_) | Routed::Subscribe { .. } => reject(
            StatusCode::NOT_FOUND,
            Some(id),
            RpcError::method_not_found(&method),
        ),
    }
}

fn listen(core: &Arc<Core>, client: Arc<str>, id: &RequestId, filter: Option<&Value>) -> Resp {
    let Some(filter) = filter.and_then(Value::as_object) else {
        return http::rpc_error(
            StatusCode::OK,
            Some(id),
            &RpcError::invalid_params("params.notifications must be an object"),
        );
    };
    let desc = core.dispatcher.description();
    let flag = |k: &str| filter.get(k).and_then(Value::as_bool) == Some(true);
    let interests = Interests {
        tools: desc.tools && flag("toolsListChanged"),
        prompts: desc.prompts && flag("promptsListChanged"),
        resources: desc.resources && flag("resourcesListChanged"),
        resource_uris: if desc.resources {
            filter
                .get("resourceSubscriptions")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        } else {
            Default::default()
        },
    };
    let mut honoured = Map::new();
    if interests.tools {
        honoured.insert("toolsListChanged".into(), Value::Bool(true));
    }
    if interests.prompts {
        honoured.insert("promptsListChanged".into(), Value::Bool(true));
    }
    if interests.resources {
        honoured.insert("resourcesListChanged".into(), Value::Bool(true));
    }
    if !interests.resource_uris.is_empty() {
        let mut uris: Vec<&String> = interests.resource_uris.iter().collect();
        uris.sort();
        honoured.insert("resourceSubscriptions".into(), json!(uris));
    }
    let sub_id = id.to_value();
    let meta = json!({ "io.modelcontextprotocol/subscriptionId": sub_id });
    let ack = jsonrpc::notification(
        "notifications/subscriptions/acknowledged",
        Some(&json!({ "notifications": honoured, "_meta": meta }).to_string()),
    );
    let final_message = jsonrpc::result_response(
        id,
        &json!({ "resultType": "complete", "_meta": meta }).to_string(),
    );
    let (tx, rx) = mpsc::unbounded_channel();
    let _ = tx.send(sse::message(None, &ack));
    let backlog: Arc<crate::session::backlog::Backlog> = Arc::default();
    let listener = core.listeners.add(
        client.clone(),
        sub_id,
        interests,
        tx,
        final_message,
        core.cfg.session.max_stream_backlog,
        backlog.clone(),
    );
    core.tracker.stream_delta(&client, true);
    // A listen stream lives no longer than the token that opened it: at expiry it ends and
    // the client comes back with a fresh token (or gets 401).
    let (gone, stream_gone) = tokio::sync::oneshot::channel::<()>();
    if let Some(exp) = pipeline::request_subject().and_then(|i| i.expires_at) {
        let left = exp.saturating_mul(1000).saturating_sub(now_ms());
        let weak = Arc::downgrade(core);
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_millis(left)) => {
                    if let Some(core) = weak.upgrade() {
                        core.listeners.end(listener);
                    }
                }
                _ = stream_gone => {}
            }
        });
    }
    let on_drop_core = core.clone();
    http::sse(
        OutBody::sse(rx, core.cfg.keepalive)
            .with_end(backlog)
            .with_on_drop(move || {
                drop(gone);
                on_drop_core.listeners.remove(listener);
                on_drop_core.tracker.stream_delta(&client, false);
            }),
    )
}

#[allow(clippy::too_many_arguments)]
async fn callback(
    core: Arc<Core>,
    client: Arc<str>,
    id: RequestId,
    method: String,
    kind: CallbackKind,
    params: Option<Box<RawValue>>,
    input: CallInput,
    env: Envelope,
) -> Resp {
    // Input responses must be an object; a sealed state must verify. Neither reaches JS
    // otherwise.
    if let Some(r) = &input.input_responses {
        if !is_object(r) {
            return http::rpc_error(
                StatusCode::OK,
                Some(&id),
                &RpcError::invalid_params("inputResponses must be an object"),
            );
        }
    }
    // What a sealed state is bound to; only the multi round-trip paths need it.
    let target = |params: Option<&RawValue>| {
        CallParams::parse(params)
            .map(|p| p.target().to_owned())
            .unwrap_or_default()
    };
    let request_state = match input
        .request_state
        .as_deref()
        .map(|r| serde_json::from_str::<Value>(r.get()))
    {
        None | Some(Ok(Value::Null)) => None,
        Some(Ok(Value::String(sealed))) => {
            let name = target(params.as_deref());
            let bound = pipeline::state_binding(&name);
            match core.state_keys.open(&sealed, &method, &bound, now_ms()) {
                Ok(s) => Some(s),
                Err(e) => {
                    return http::rpc_error(
                        StatusCode::OK,
                        Some(&id),
                        &RpcError::new(INVALID_PARAMS, format!("Invalid requestState: {e}")),
                    )
                }
            }
        }
        Some(_) => {
            return http::rpc_error(
                StatusCode::OK,
                Some(&id),
                &RpcError::invalid_params("requestState must be a string"),
            )
        }
    };
    // The context as text: the raw capabilities and client info go through untouched.
    let head = pipeline::context_head(
        &client,
        Era::Modern,
        &env.version,
        env.capabilities.get(),
        env.client_info
            .as_deref()
            .map(|c| ContextClient::Raw(c.get())),
    );
    let ctx = crate::telemetry::trace_context::with_trace_context(
        pipeline::context_json(
            &head,
            &id,
            input.input_responses.as_deref().map(RawValue::get),
            request_state.as_deref(),
        ),
        params.as_deref(),
    );
    drop(head);
    let json_mode = core.cfg.json_response;
    let (tx, rx) = mpsc::unbounded_channel();
    let backlog: Arc<crate::session::backlog::Backlog> = Arc::default();
    let route = Route::Direct {
        tx: (!json_mode).then(|| tx.clone()),
        backlog: backlog.clone(),
        log_level: env.log_level,
        client: client.clone(),
    };
    let (call_id, reply) = core
        .calls
        .begin(route, Era::Modern, env.progress_token.clone());
    let (cancel, finished) = CancelOnDrop::new(core.clone(), call_id);
    let params_text = input.callback_params;
    let run_core = core.clone();
    let caps = env.capabilities;
    let run = async move {
        let outcome =
            pipeline::run_callback(&run_core, call_id, reply, kind, params_text, ctx).await;
        finished.store(true, Ordering::Release);
        finish(&run_core, kind, &method, params.as_deref(), &caps, outcome)
            .map(|(status, body)| (status, body.into_response_text(&id)))
    };
    let stream = (!json_mode).then(|| Stream {
        rx,
        prime: || None,
        keepalive: core.cfg.keepalive,
        end: Some(backlog),
    });
    pipeline::json_or_sse(stream, run, OnResponse(tx), Some(cancel)).await
}

/// The answer is the last event of the request's own SSE response.
struct OnResponse(mpsc::UnboundedSender<Bytes>);

impl Deliver for OnResponse {
    fn deliver(self, answer: Option<String>) {
        if let Some(text) = answer {
            let _ = self.0.send(sse::message_owned(None, text));
        }
    }
}

/// A callback's final answer, before it is framed.
enum Final {
    Result(String),
    Error(RpcError),
}

impl Final {
    fn into_response_text(self, id: &RequestId) -> String {
        match self {
            Final::Result(r) => jsonrpc::into_result_response(id, r),
            Final::Error(e) => jsonrpc::error_response(Some(id), &e),
        }
    }
}

/// Status and answer for a callback outcome; `None` when it was cancelled.
fn finish(
    core: &Core,
    kind: CallbackKind,
    method: &str,
    params: Option<&RawValue>,
    caps: &RawValue,
    outcome: CallOutcome,
) -> Option<(StatusCode, Final)> {
    match outcome {
        Err(CallError::Cancelled) => None,
        Ok(json) if is_input_required(&json) => {
            let mut v: Value = serde_json::from_str(&json).unwrap_or_else(|_| json!({}));
            let caps: Value = serde_json::from_str(caps.get()).unwrap_or_else(|_| json!({}));
            let missing = missing_capabilities(&v, &caps);
            if !missing.is_empty() {
                let names: Vec<&String> = missing.keys().collect();
                return Some((
                    StatusCode::BAD_REQUEST,
                    Final::Error(
                        RpcError::new(
                            MISSING_CAPABILITY,
                            format!("the request needs client capabilities it did not declare: {names:?}"),
                        )
                        .with_data(json!({ "requiredCapabilities": missing })),
                    ),
                ));
            }
            if let Some(m) = v.as_object_mut() {
                match m.get("requestState") {
                    None | Some(Value::Null) => {
                        m.remove("requestState");
                    }
                    Some(Value::String(state)) => {
                        let expires = now_ms() + core.cfg.request_state_ttl.as_millis() as u64;
                        let name = CallParams::parse(params)
                            .map(|p| p.target().to_owned())
                            .unwrap_or_default();
                        let bound = pipeline::state_binding(&name);
                        match core.state_keys.seal(state, method, &bound, expires) {
                            Ok(sealed) => {
                                m.insert("requestState".into(), Value::String(sealed));
                            }
                            Err(e) => {
                                return Some((StatusCode::OK, Final::Error(RpcError::internal(e))))
                            }
                        }
                    }
                    Some(_) => {
                        return Some((
                            StatusCode::OK,
                            Final::Error(RpcError::internal("requestState must be a string")),
                        ))
                    }
                }
            }
            Some((StatusCode::OK, Final::Result(v.to_string())))
        }
        outcome => Some(
            match core
                .dispatcher
                .finish_callback(Era::Modern, kind, params, outcome)
            {
                Ok(r) => (StatusCode::OK, Final::Result(r)),
                Err(e) => (StatusCode::OK, Final::Error(e)),
            },
        ),
    }
}

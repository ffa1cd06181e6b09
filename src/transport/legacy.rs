//! The 2025 front end: `initialize` opens a session, later requests name it with
//! `Mcp-Session-Id`; POST answers as JSON or on a resumable SSE stream, GET opens the session's
//! stream for server messages, DELETE ends the session.

use std::sync::Arc;

use futures_util::future::join_all;
use hyper::header::HeaderValue;
use hyper::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{json, value::RawValue, Value};

use super::body::OutBody;
use super::calls::Route;
use super::core::{Core, RemoteResumeError, SessionRecord};
use super::http::{self, header, Resp, LAST_EVENT_ID, SESSION_HEADER, VERSION_HEADER};
use super::metered::Meter;
use super::pipeline::{self, ClientInfo, ContextClient, Deliver, Peer, Stream};
use crate::monitor::tracker::NewConnection;
use crate::monitor::CloseReason;
use crate::protocol::input::{self, MAX_INPUT_ROUNDS};
use crate::protocol::jsonrpc::{self, Body, Message, RequestId};
use crate::protocol::params::CallParams;
use crate::protocol::validate::ArgumentErrorStyle;
use crate::protocol::{CallError, CallbackKind, Era, LegacyVersion, Routed, RpcError};
use crate::session::{new_session_id, EventId, ResumeError, Session, STANDALONE};
use crate::telemetry::trace_context::with_trace_context;

fn session_required() -> Resp {
    http::rpc_error(
        StatusCode::BAD_REQUEST,
        None,
        &RpcError::new(-32000, "Bad Request: Mcp-Session-Id header is required"),
    )
}

fn session_not_found() -> Resp {
    http::rpc_error(
        StatusCode::NOT_FOUND,
        None,
        &RpcError::new(-32001, "Session not found"),
    )
}

/// The session a request names, with its protocol version header checked.
// The error is a ready response, built once per request; boxing it would buy nothing.
#[allow(clippy::result_large_err)]
async fn session_of(core: &Core, peer: &Peer, headers: &HeaderMap) -> Result<Arc<Session>, Resp> {
    let id = header(headers, SESSION_HEADER).ok_or_else(session_required)?;
    let session = match core.sessions.get(id) {
        Some(s) => s,
        // Held by another instance (shared): rebuilt from its record, owner included, so the
        // check below holds wherever the session is served.
        None => adopt(core, peer, id).await?,
    };
    // A session belongs to the subject that created it: to anyone else it does not exist.
    if let Some(owner) = session.owner() {
        if pipeline::request_subject().is_none_or(|i| i.subject.as_str() != owner) {
            return Err(session_not_found());
        }
    }
    if let Some(v) = header(headers, VERSION_HEADER) {
        if LegacyVersion::parse(v).is_none() {
            return Err(http::rpc_error(
                StatusCode::BAD_REQUEST,
                None,
                &RpcError::new(
                    -32000,
                    format!("Bad Request: Unsupported protocol version: {v}"),
                ),
            ));
        }
    }
    if let Some(dir) = core.directory() {
        dir.touch(id);
    }
    core.tracker.touch(&session.id);
    session.touch(std::time::Instant::now());
    Ok(session)
}

/// A session another instance opened, rebuilt here from the shared directory on its first
/// request (docs/deployment.md); 404 when no instance knows it.
#[allow(clippy::result_large_err)]
async fn adopt(core: &Core, peer: &Peer, id: &str) -> Result<Arc<Session>, Resp> {
    let dir = core.directory().ok_or_else(session_not_found)?;
    let record = match dir.load(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return Err(session_not_found()),
        Err(_) => return Err(store_unavailable("the session is held by another instance")),
    };
    let version = LegacyVersion::parse(&record.version).ok_or_else(session_not_found)?;
    // Another subject's session does not exist for this caller, here as where it was opened.
    let caller = pipeline::request_subject();
    if record.owner.as_deref() != caller.as_ref().map(|i| i.subject.as_str()) {
        return Err(session_not_found());
    }
    // Two first requests at once: the one that lost the race uses the winner's copy.
    if let Some(s) = core.sessions.get(id) {
        return Ok(s);
    }
    let sid: Arc<str> = Arc::from(id);
    let opened = core.tracker.open(
        sid.clone(),
        NewConnection {
            era: Era::Legacy,
            client_ip: &peer.ip,
            user_agent: &peer.user_agent,
            client_name: record.client_name.as_deref(),
            client_version: record.client_version.as_deref(),
            protocol_version: Some(version.as_str()),
            auth: pipeline::connection_auth(),
        },
    );
    if !opened {
        return Err(pipeline::capacity_refusal(core, None));
    }
    let strings = &core.tracker.strings;
    let session = Session::new(
        sid,
        version,
        strings.intern(&record.capabilities),
        record.client_name.as_deref().map(|n| strings.intern(n)),
        record.client_version.as_deref().map(|v| strings.intern(v)),
    )
    .with_first_stream(adopted_stream_base());
    if let Some(owner) = &record.owner {
        session.bind_owner(owner);
    }
    if let Some(level) = record.log_level {
        session.set_log_level(level);
    }
    for uri in &record.subscriptions {
        // Checked against the caps where it was subscribed; a smaller cap here drops extras.
        let _ = session.subscribe(&core.cfg.session.inputs, uri);
    }
    let session = Arc::new(session);
    core.sessions.insert(session.clone());
    Ok(session)
}

/// Where an adopted copy's stream ids start: a random multiple of 2^32 (below 2^53, so the
/// ids of server→client requests stay exact JSON numbers), apart from every other copy's.
fn adopted_stream_base() -> u64 {
    let mut b = [0u8; 4];
    let r = getrandom::fill(&mut b).map_or(1, |()| u32::from_le_bytes(b));
    (u64::from(r % (1 << 20)) + 1) << 32
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitializeParams<'a> {
    #[serde(borrow)]
    protocol_version: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    capabilities: Option<&'a RawValue>,
    #[serde(borrow, default)]
    client_info: Option<ClientInfo<'a>>,
}

/// `meter` (metrics on) notes the body's operations under the session's revision.
pub async fn post(
    core: Arc<Core>,
    peer: Peer,
    headers: &HeaderMap,
    body: Body,
    meter: Option<&mut Meter<'_>>,
) -> Resp {
    let has_init = body
        .messages()
        .iter()
        .any(|m| m.method() == Some("initialize") && m.is_request());
    // Without a session of this request's own (initialize, refusals): a live session its
    // header names, if any, gives the revision.
    let note_by_header = |m: &mut Meter<'_>| {
        let session = header(headers, SESSION_HEADER).and_then(|id| core.sessions.get(id));
        m.note_body(&body, session.map(|s| s.version.as_str()), None);
    };
    if has_init {
        if let Some(m) = meter {
            note_by_header(m);
        }
        // Re-initializing a live session is refused; an unknown id is treated as none.
        if header(headers, SESSION_HEADER).is_some_and(|id| core.sessions.get(id).is_some()) {
            return http::rpc_error(
                StatusCode::BAD_REQUEST,
                None,
                &RpcError::invalid_request("the session is already initialized"),
            );
        }
        return initialize(&core, &peer, body).await;
    }
    let session = match session_of(&core, &peer, headers).await {
        Ok(s) => s,
        Err(r) => {
            if let Some(m) = meter {
                note_by_header(m);
            }
            return r;
        }
    };
    // The session found here gives the revision: no second lookup for the metrics.
    if let Some(m) = meter {
        m.note_body(&body, Some(session.version.as_str()), None);
    }
    if matches!(body, Body::Batch(_)) && !session.version.accepts_batches() {
        return http::rpc_error(
            StatusCode::BAD_REQUEST,
            None,
            &RpcError::invalid_request(format!(
                "JSON-RPC batches are not supported in protocol version {}",
                session.version.as_str()
            )),
        );
    }
    // One request, the common case: no batch bookkeeping.
    if let Body::Single(Message::Request { id, method, params }) = body {
        let routed = route(&core, &session, &method, params.as_deref());
        if matches!(routed, Routed::Callback(_)) && !core.cfg.json_response {
            return single_callback(core, session, id, params, routed).await;
        }
        return match answer(&core, &session, STANDALONE, true, id, params, routed).await {
            Some(text) => http::json(StatusCode::OK, text),
            None => http::empty(StatusCode::ACCEPTED),
        };
    }
    let batch = matches!(body, Body::Batch(_));
    let mut requests = Vec::new();
    for msg in body.into_messages() {
        match msg {
            Message::Request { id, method, params } => requests.push((id, method, params)),
            Message::Notification { method, params } => {
                notification(&core, &session, &method, params.as_deref())
            }
            Message::Response { id, outcome } => {
                if let Ok(n) = id.as_json().parse::<u64>() {
                    let raw = outcome
                        .map(|r| r.get().to_owned())
                        .map_err(|e| e.get().to_owned());
                    let reply = raw.clone().map_err(|e| CallError::from_error_object(&e));
                    if !session.complete_client_request(n, reply) {
                        // Asked from another instance serving this session: answered there.
                        if let Some(dir) = core.directory() {
                            dir.forward_reply(&session.id, n, &raw);
                        }
                    }
                }
            }
        }
    }
    if requests.is_empty() {
        return http::empty(StatusCode::ACCEPTED);
    }
    // Route first: methods Rust answers need no stream.
    let routed: Vec<(RequestId, String, Option<Box<RawValue>>, Routed)> = requests
        .into_iter()
        .map(|(id, method, params)| {
            let r = route(&core, &session, &method, params.as_deref());
            (id, method, params, r)
        })
        .collect();
    let all_immediate = routed
        .iter()
        .all(|(_, _, _, r)| !matches!(r, Routed::Callback(_)));
    if all_immediate || core.cfg.json_response {
        let json_mode = true;
        let answers = join_all(routed.into_iter().map(|(id, _, params, r)| {
            let core = core.clone();
            let session = session.clone();
            async move { answer(&core, &session, STANDALONE, json_mode, id, params, r).await }
        }))
        .await;
        let answers: Vec<String> = answers.into_iter().flatten().collect();
        if answers.is_empty() {
            return http::empty(StatusCode::ACCEPTED);
        }
        let text = if batch {
            format!("[{}]", answers.join(","))
        } else {
            answers.into_iter().next().unwrap_or_default()
        };
        return http::json(StatusCode::OK, text);
    }
    if routed.len() == 1 {
        if let Some((id, _, params, r)) = routed.into_iter().next() {
            return single_callback(core, session, id, params, r).await;
        }
        return session_not_found();
    }
    let Some((stream, (rx, end))) = session.open_stream(&core.cfg.session) else {
        return session_not_found();
    };
    let task_core = core.clone();
    let task_session = session.clone();
    pipeline::spawn_in_request(async move {
        let core = task_core;
        let session = task_session;
        join_all(routed.into_iter().map(|(id, _, params, r)| {
            let core = core.clone();
            let session = session.clone();
            async move {
                if let Some(text) = answer(&core, &session, stream, false, id, params, r).await {
                    session.send(&core.cfg.session, stream, &text);
                }
            }
        }))
        .await;
        session.finish_stream(stream);
    });
    http::sse(OutBody::sse(rx, core.cfg.keepalive).with_end(end))
}

/// One request answered by a callback. Its stream exists from the start (progress, logs and
/// server→client requests go there); the pipeline answers with JSON or switches to SSE, with
/// the priming event first for clients that resume.
async fn single_callback(
    core: Arc<Core>,
    session: Arc<Session>,
    id: RequestId,
    params: Option<Box<RawValue>>,
    routed: Routed,
) -> Resp {
    let cfg = &core.cfg.session;
    let Some((stream, (rx, end))) = session.open_quiet_stream(cfg) else {
        return session_not_found();
    };
    let run = {
        let (core, session) = (core.clone(), session.clone());
        async move {
            answer(&core, &session, stream, false, id, params, routed)
                .await
                .map(|text| (StatusCode::OK, text))
        }
    };
    let deliver = OnSession {
        core: core.clone(),
        session: session.clone(),
        stream,
        delivered: false,
    };
    let stream_parts = Stream {
        rx,
        prime: || session.priming_frame(cfg, stream),
        keepalive: core.cfg.keepalive,
        end: Some(end),
    };
    // A 2025 client that drops the response resumes it; nothing is cancelled.
    pipeline::json_or_sse(Some(stream_parts), run, deliver, None).await
}

/// The answer goes on the session's stream (and into its event store), then the stream ends.
/// Dropped undelivered (the request went away early), it still ends the stream.
struct OnSession {
    core: Arc<Core>,
    session: Arc<Session>,
    stream: u64,
    delivered: bool,
}

impl Deliver for OnSession {
    fn deliver(mut self, answer: Option<String>) {
        if let Some(text) = answer {
            self.session
                .send(&self.core.cfg.session, self.stream, &text);
        }
        self.session.finish_stream(self.stream);
        self.delivered = true;
    }
}

impl Drop for OnSession {
    fn drop(&mut self) {
        if !self.delivered {
            self.session.finish_stream(self.stream);
        }
    }
}

async fn initialize(core: &Arc<Core>, peer: &Peer, body: Body) -> Resp {
    let Body::Single(Message::Request { id, params, .. }) = body else {
        return http::rpc_error(
            StatusCode::BAD_REQUEST,
            None,
            &RpcError::invalid_request("initialize must be sent alone"),
        );
    };
    let p: InitializeParams = match params
        .as_deref()
        .map(|p| serde_json::from_str::<InitializeParams>(p.get()))
    {
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            return http::rpc_error(
                StatusCode::BAD_REQUEST,
                Some(&id),
                &RpcError::invalid_params(e),
            )
        }
        None => {
            return http::rpc_error(
                StatusCode::BAD_REQUEST,
                Some(&id),
                &RpcError::invalid_params("initialize needs params"),
            )
        }
    };
    let version = LegacyVersion::negotiate(&p.protocol_version);
    let caps_len = p.capabilities.map_or(0, |c| c.get().len());
    let (name_ref, ver_ref) = p
        .client_info
        .as_ref()
        .map_or((None, None), |c| (c.name.as_deref(), c.version.as_deref()));
    let name_len = name_ref.map_or(0, str::len) + ver_ref.map_or(0, str::len);
    if let Err(e) = core
        .cfg
        .session
        .inputs
        .check_client_info(caps_len, name_len, name_ref, ver_ref)
    {
        return http::rpc_error(StatusCode::BAD_REQUEST, Some(&id), &e.into_rpc());
    }
    let sid: Arc<str> = match new_session_id() {
        Ok(s) => Arc::from(s),
        Err(e) => {
            return http::rpc_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(&id),
                &RpcError::internal(e),
            )
        }
    };
    let info = p.client_info.unwrap_or_default();
    let (name, ver) = (info.name, info.version);
    let opened = core.tracker.admit(
        sid.clone(),
        NewConnection {
            era: Era::Legacy,
            client_ip: &peer.ip,
            user_agent: &peer.user_agent,
            client_name: name.as_deref(),
            client_version: ver.as_deref(),
            protocol_version: Some(version.as_str()),
            auth: pipeline::connection_auth(),
        },
    );
    if let Err(why) = opened {
        return http::refused(why, Some(&id));
    }
    // Most clients of one kind send the same capabilities: keep one copy.
    let strings = &core.tracker.strings;
    let caps = strings.intern(p.capabilities.map_or("{}", RawValue::get));
    let session = Arc::new(Session::new(
        sid.clone(),
        version,
        caps,
        name.as_deref().map(|n| strings.intern(n)),
        ver.as_deref().map(|v| strings.intern(v)),
    ));
    if let Some(info) = pipeline::request_subject() {
        session.bind_owner(&info.subject);
    }
    core.sessions.insert(session);
    if let Some(dir) = core.directory() {
        let record = SessionRecord {
            version: version.as_str().to_owned(),
            capabilities: p.capabilities.map_or("{}", RawValue::get).to_owned(),
            client_name: name.as_deref().map(str::to_owned),
            client_version: ver.as_deref().map(str::to_owned),
            owner: pipeline::request_subject().map(|i| i.subject.to_string()),
            log_level: None,
            subscriptions: Vec::new(),
        };
        dir.save(&sid, record).await;
    }
    let result = core.dispatcher.initialize_result(version);
    let mut r = http::json(StatusCode::OK, jsonrpc::result_response(&id, result));
    if let Ok(v) = HeaderValue::from_str(&sid) {
        r.headers_mut().insert(SESSION_HEADER, v);
    }
    r
}

fn notification(core: &Core, session: &Session, method: &str, params: Option<&RawValue>) {
    if method == "notifications/cancelled" {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Cancelled {
            request_id: Option<Box<RawValue>>,
            reason: Option<String>,
        }
        let Some(c) = params.and_then(|p| serde_json::from_str::<Cancelled>(p.get()).ok()) else {
            return;
        };
        let Some(rid) = c.request_id else {
            return;
        };
        let reason = c.reason.as_deref().unwrap_or("cancelled by the client");
        match session.call_for_request(rid.get()) {
            Some(call) => core.cancel_call(call, reason),
            // The request runs on another instance serving this session.
            None => {
                if let Some(dir) = core.directory() {
                    dir.forward_cancel(&session.id, rid.get(), Some(reason));
                }
            }
        }
    }
    // notifications/initialized and others need no action.
}

/// The method table's answer, with the session-scoped steps carried out here.
fn route(core: &Core, session: &Session, method: &str, params: Option<&RawValue>) -> Routed {
    let routed = super::auth::route(core, Era::Legacy, method, params);
    match routed {
        Routed::SetLogLevel(rank) => {
            session.set_log_level(rank);
            share_record(core, session);
            Routed::Answer("{}".into())
        }
        Routed::Subscribe { uri, on } => {
            if on {
                if let Err(e) = session.subscribe(&core.cfg.session.inputs, &uri) {
                    return Routed::Fail(e.into_rpc());
                }
            } else {
                session.unsubscribe(&uri);
            }
            share_record(core, session);
            Routed::Answer("{}".into())
        }
        // An initialize inside a session (a batch member): the session exists already.
        Routed::Initialize => Routed::Fail(RpcError::invalid_request(
            "the session is already initialized",
        )),
        // 2026-07-28 methods are not in the table for this era.
        Routed::Discover | Routed::Listen => Routed::Fail(RpcError::method_not_found(method)),
        // A tools/call's arguments against the tool's inputSchema, answered as the
        // negotiated revision says.
        other => {
            let style = ArgumentErrorStyle::for_legacy(session.version);
            core.dispatcher
                .check_arguments(Era::Legacy, style, params, other)
        }
    }
}

/// A session's state changed: other instances serving it see the change.
fn share_record(core: &Core, session: &Session) {
    if let Some(dir) = core.directory() {
        dir.update(&session.id, SessionRecord::of(session));
    }
}

/// The response text for one routed request; `None` when it was cancelled.
async fn answer(
    core: &Arc<Core>,
    session: &Arc<Session>,
    stream: u64,
    json_mode: bool,
    id: RequestId,
    params: Option<Box<RawValue>>,
    routed: Routed,
) -> Option<String> {
    match routed {
        Routed::Answer(result) => Some(jsonrpc::result_response(&id, &result)),
        Routed::Fail(e) => Some(jsonrpc::error_response(Some(&id), &e)),
        Routed::Callback(kind) => {
            let route = Route::Session {
                session: session.clone(),
                stream,
                json_mode,
            };
            session_callback(core, session, route, kind, &id, params.as_deref()).await
        }
        // `route` carries out every other step.
        _ => Some(jsonrpc::error_response(
            Some(&id),
            &RpcError::internal("unrouted step"),
        )),
    }
}

/// The session's part of every callback context, rendered once per session.
fn context_head(session: &Session) -> &str {
    session.context_prefix(|| {
        pipeline::context_head(
            &session.id,
            Era::Legacy,
            session.version.as_str(),
            &session.client_capabilities,
            session
                .client_name
                .as_deref()
                .map(|name| ContextClient::Named {
                    name,
                    version: session.client_version.as_deref().unwrap_or(""),
                }),
        )
    })
}

/// Keeps a request's call findable by `notifications/cancelled` while it runs.
struct InFlight<'a> {
    session: &'a Session,
    request_id: &'a str,
}

impl<'a> InFlight<'a> {
    fn new(session: &'a Session, request_id: &'a str, call_id: u64) -> Self {
        session.register_call(request_id, call_id);
        Self {
            session,
            request_id,
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.session.unregister_call(self.request_id);
    }
}

/// Runs a callback for a session request; cancellation by `notifications/cancelled` gives
/// `None` (no response is sent). When the callback returns an `InputRequiredResult`, the
/// server asks the client itself (2025 clients have real server→client requests) and runs the
/// callback again with the answers, so one callback serves both eras.
async fn session_callback(
    core: &Arc<Core>,
    session: &Arc<Session>,
    route: Route,
    kind: CallbackKind,
    id: &RequestId,
    params: Option<&RawValue>,
) -> Option<String> {
    // One parse of the params for the whole call: progress token and callback params.
    let call_params = CallParams::parse(params).unwrap_or_default();
    let token = call_params.progress_token();

    let request_stream = match &route {
        Route::Session {
            stream,
            json_mode: false,
            ..
        } => *stream,
        _ => STANDALONE,
    };
    let head = context_head(session);
    let mut ctx = with_trace_context(pipeline::context_json(head, id, None, None), params);
    let mut rounds = 0;
    let outcome = loop {
        let (call_id, rx) = core.calls.begin(route.clone(), Era::Legacy, token.clone());
        let outcome = {
            let _in_flight = InFlight::new(session, id.as_json(), call_id);
            // Rendered per round: the common single round owns it without a copy.
            let params = call_params.for_callback();
            pipeline::run_callback(core, call_id, rx, kind, params, ctx).await
        };
        let json = match &outcome {
            Ok(json) if input::is_input_required(json) => json,
            _ => break outcome,
        };
        rounds += 1;
        if rounds > MAX_INPUT_ROUNDS {
            break Err(threw(format!(
                "the callback asked for input more than {MAX_INPUT_ROUNDS} times"
            )));
        }
        match fulfil_input(core, session, request_stream, json).await {
            Ok((responses, state)) => {
                ctx = with_trace_context(
                    pipeline::context_json(
                        head,
                        id,
                        Some(&responses.to_string()),
                        state.as_deref(),
                    ),
                    params,
                );
            }
            Err(failure) => break Err(failure),
        }
    };
    if matches!(outcome, Err(CallError::Cancelled)) {
        return None;
    }
    Some(
        match core
            .dispatcher
            .finish_callback(Era::Legacy, kind, params, outcome)
        {
            Ok(result) => jsonrpc::into_result_response(id, result),
            Err(e) => jsonrpc::error_response(Some(id), &e),
        },
    )
}

fn threw(message: String) -> CallError {
    CallError::Failed {
        message,
        code: None,
        data: None,
    }
}

/// Sends each input request of an `InputRequiredResult` to the session's client and collects
/// the answers by key, with the callback's own state to hand back.
async fn fulfil_input(
    core: &Core,
    session: &Session,
    stream: u64,
    result_json: &str,
) -> Result<(Value, Option<String>), CallError> {
    let result: Value = serde_json::from_str(result_json).map_err(|e| threw(e.to_string()))?;
    let caps: Value = serde_json::from_str(&session.client_capabilities).unwrap_or(json!({}));
    let missing = input::missing_capabilities(&result, &caps);
    if !missing.is_empty() {
        let names: Vec<&String> = missing.keys().collect();
        return Err(threw(format!(
            "the client did not declare the capabilities this request needs: {names:?}"
        )));
    }
    let mut responses = serde_json::Map::new();
    for req in input::input_requests(&result) {
        let answer = core
            .session_request(session, stream, req.method, req.params)
            .await
            .map_err(|e| {
                threw(format!(
                    "input request {:?} ({}) failed: {e}",
                    req.key, req.method
                ))
            })?;
        responses.insert(
            req.key.to_owned(),
            serde_json::from_str(&answer).unwrap_or(Value::Null),
        );
    }
    let state = input::request_state(&result).map(str::to_owned);
    Ok((Value::Object(responses), state))
}

pub async fn get(core: &Arc<Core>, peer: &Peer, headers: &HeaderMap) -> Resp {
    if !http::accepts(headers, "text/event-stream") {
        return http::rpc_error(
            StatusCode::NOT_ACCEPTABLE,
            None,
            &RpcError::new(
                -32000,
                "Not Acceptable: Client must accept text/event-stream",
            ),
        );
    }
    let session = match session_of(core, peer, headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (rx, end) = match header(headers, LAST_EVENT_ID) {
        // A request stream another instance opened: replayed from the shared log.
        Some(last) if foreign_stream(core, &session, last).is_some() => {
            let (Some(dir), Some(id)) = (core.directory(), foreign_stream(core, &session, last))
            else {
                return session_not_found();
            };
            match dir.resume_remote(session.clone(), id).await {
                // Fed from the shared log here: nothing of this instance ends it early.
                Ok(rx) => (rx, Arc::default()),
                Err(RemoteResumeError::Purged(p)) => return gone(p),
                Err(RemoteResumeError::Unavailable) => {
                    return store_unavailable("the stream was written by another instance")
                }
            }
        }
        Some(last) => match session.resume(&core.cfg.session, last) {
            Ok(attached) => attached,
            Err(ResumeError::NoStore) => match session.attach_standalone(&core.cfg.session) {
                Ok(attached) => attached,
                Err(_) => return conflict(),
            },
            Err(ResumeError::BadId) => {
                return http::rpc_error(
                    StatusCode::BAD_REQUEST,
                    None,
                    &RpcError::new(-32000, "Bad Request: unknown Last-Event-ID"),
                )
            }
            // Never a partial replay: the client learns it lost events (docs/hardening.md).
            Err(ResumeError::Purged(p)) => return gone(p),
        },
        None => match session.attach_standalone(&core.cfg.session) {
            Ok(attached) => attached,
            Err(_) => return conflict(),
        },
    };
    let rx = until_token_expiry(rx, &end);
    http::sse(OutBody::sse(rx, core.cfg.keepalive).with_end(end))
}

/// A GET stream lives no longer than the token that opened it: past `expiresAt` it ends, and
/// the client reconnects with a fresh token (or gets 401). Without an expiry, the stream as is.
fn until_token_expiry(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<bytes::Bytes>,
    end: &Arc<crate::session::backlog::Backlog>,
) -> tokio::sync::mpsc::UnboundedReceiver<bytes::Bytes> {
    let Some(exp) = pipeline::request_subject().and_then(|i| i.expires_at) else {
        return rx;
    };
    let left = exp
        .saturating_mul(1000)
        .saturating_sub(crate::monitor::now_ms());
    let (tx, out) = tokio::sync::mpsc::unbounded_channel();
    let end = end.clone();
    tokio::spawn(async move {
        let deadline = tokio::time::sleep(std::time::Duration::from_millis(left));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => {
                    end.set_end(crate::session::backlog::EndCause::ServerClosed);
                    return;
                }
                _ = tx.closed() => return,
                frame = rx.recv() => match frame {
                    Some(f) => {
                        if tx.send(f).is_err() {
                            return;
                        }
                    }
                    None => return,
                },
            }
        }
    });
    out
}

/// 503: what the request needs is in the shared store, which cannot be reached now.
fn store_unavailable(what: &str) -> Resp {
    let mut r = http::rpc_error(
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        &RpcError::new(
            -32000,
            format!(
                "Service Unavailable: {what} and the shared store cannot be reached; retry later"
            ),
        ),
    );
    r.headers_mut()
        .insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

fn gone(p: crate::session::Purged) -> Resp {
    http::rpc_error(
        StatusCode::GONE,
        None,
        &RpcError::new(
            -32000,
            format!("Gone: events after Last-Event-ID {} are no longer stored; the stream cannot be resumed without loss", p.after),
        )
        .with_data(serde_json::json!({ "reason": "events_purged", "lastEventId": p.after.to_string() })),
    )
}

/// The id of a request stream this copy of the session did not open, when a shared store
/// may hold it.
fn foreign_stream(core: &Core, session: &Session, last: &str) -> Option<EventId> {
    core.cfg.session.event_store.as_ref()?;
    core.directory()?;
    let id = EventId::parse(last)?;
    let foreign = if id.stream == STANDALONE {
        // Another copy's GET stream (docs/deployment.md): its log is shared too.
        id.seq >> 32 != session.standalone_epoch()
    } else {
        !session.knows_stream(id.stream)
    };
    foreign.then_some(id)
}

fn conflict() -> Resp {
    http::rpc_error(
        StatusCode::CONFLICT,
        None,
        &RpcError::new(
            -32000,
            "Conflict: Only one SSE stream is allowed per session",
        ),
    )
}

pub async fn delete(core: &Arc<Core>, peer: &Peer, headers: &HeaderMap) -> Resp {
    let session = match session_of(core, peer, headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Some(s) = core.sessions.remove(&session.id) {
        core.end_session(&s, CloseReason::Deleted);
    }
    if let Some(dir) = core.directory() {
        dir.ended(&session.id);
    }
    http::empty(StatusCode::OK)
}

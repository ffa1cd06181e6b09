//! `NativeServer`: the handle lib/server.js wraps into `StreamableMcpServer`. Callbacks cross
//! as one threadsafe function per direction, with JSON text payloads that JS parses once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{JsString, JsValue};
use napi_derive::napi;
use serde_json::{json, Value};

use super::options;
use crate::monitor::{Counts, MonitorEvent, MonitorSink};
use crate::protocol::catalog::Catalog;
use crate::protocol::version::{LEGACY_VERSIONS, MODERN_VERSIONS};
use crate::protocol::{CallError, Dispatcher};
use crate::telemetry::Metrics;
use crate::transport::calls::CallOutcome;
use crate::transport::{CallbackHost, Invocation, McpServer};

/// Every protocol revision this build can speak, oldest first.
#[napi(catch_unwind)]
pub fn supported_protocol_versions() -> Vec<String> {
    LEGACY_VERSIONS
        .iter()
        .chain(MODERN_VERSIONS.iter())
        .map(|s| s.to_string())
        .collect()
}

type DrainTsfn = ThreadsafeFunction<(), Unknown<'static>, (), Status, false>;
type EventArgs = FnArgs<(String, String)>;
type EventTsfn = ThreadsafeFunction<EventArgs, Unknown<'static>, EventArgs, Status, false>;

fn send_event(tsfn: &EventTsfn, kind: &str, payload: String) {
    let _ = tsfn.call(
        FnArgs::from((kind.to_owned(), payload)),
        ThreadsafeFunctionCallMode::NonBlocking,
    );
}

/// Invocations waiting for the JS thread. Under load many pile up between two turns of the
/// event loop; JS takes them all with one call and one `JSON.parse`, instead of one
/// threadsafe-function call (and four string conversions) each.
#[derive(Default)]
struct InvocationQueue {
    items: parking_lot::Mutex<Vec<Invocation>>,
    /// A drain is queued on the JS thread and has not taken the items yet.
    scheduled: AtomicBool,
    /// The principals JS already holds, by id (only `take_json`, on the JS thread, uses it).
    principals_sent: parking_lot::Mutex<crate::util::FnvSet<u64>>,
}

/// The most principals JS keeps; past it both sides start over (`"reset"` in the batch).
const PRINCIPALS_KEPT: usize = 1024;

impl InvocationQueue {
    /// `[[callId,"kind",params,context(,principalId(,principalJson))],…]`, params and context
    /// spliced in as JSON. A call with a principal names it by id; its JSON text (a string) comes
    /// with the first call of that principal JS sees, so a call costs JS a number, not a parse of
    /// the principal (lib/server.js). This runs on the JS thread in queue order, so the text
    /// always reaches JS before or with the first id naming it.
    fn take_json(&self) -> String {
        self.scheduled.store(false, Ordering::Release);
        let items = std::mem::take(&mut *self.items.lock());
        let mut sent = self.principals_sent.lock();
        let mut out = String::with_capacity(
            2 + items
                .iter()
                .map(|i| i.params.len() + i.context.len() + 40)
                .sum::<usize>(),
        );
        out.push('[');
        for (n, i) in items.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            if let Some(p) = &i.principal {
                if sent.len() >= PRINCIPALS_KEPT && !sent.contains(&p.id()) {
                    // JS forgets its principals too: the ids below send their text again.
                    sent.clear();
                    out.push_str("\"reset\",");
                }
            }
            out.push('[');
            out.push_str(&i.call_id.to_string());
            out.push_str(",\"");
            out.push_str(i.kind.as_str());
            out.push_str("\",");
            out.push_str(&i.params);
            out.push(',');
            out.push_str(&i.context);
            if let Some(p) = &i.principal {
                let id = p.id();
                out.push(',');
                out.push_str(&id.to_string());
                if sent.insert(id) {
                    out.push(',');
                    out.push_str(p.json_literal());
                }
            }
            out.push(']');
        }
        out.push(']');
        out
    }
}

struct JsHost {
    drain: DrainTsfn,
    queue: Arc<InvocationQueue>,
    events: Arc<EventTsfn>,
}

impl CallbackHost for JsHost {
    fn invoke(&self, inv: Invocation) -> bool {
        self.queue.items.lock().push(inv);
        // Inside a handler-mode entry on the JS thread, JS drains when the entry returns.
        if super::handler::invoked_in_entry() {
            return true;
        }
        if !self.queue.scheduled.swap(true, Ordering::AcqRel) {
            let status = self.drain.call((), ThreadsafeFunctionCallMode::NonBlocking);
            if status != Status::Ok {
                // Closing: nobody will take it.
                self.queue.scheduled.store(false, Ordering::Release);
                return false;
            }
        }
        true
    }

    fn abort(&self, call_id: u64, reason: &str) {
        send_event(
            &self.events,
            "abort",
            json!({ "callId": call_id, "reason": reason }).to_string(),
        );
    }
}

/// Monitor events to JS, in order; `changed` is coalesced: one is queued until JS takes the
/// stats, so a burst costs one callback with the final numbers.
struct JsSink {
    events: Arc<EventTsfn>,
    change_queued: Arc<AtomicBool>,
    wants: options::MonitorWants,
}

impl MonitorSink for JsSink {
    fn event(&self, event: &MonitorEvent, _counts: Counts) {
        let wanted = match event {
            MonitorEvent::Established(_) => self.wants.established,
            MonitorEvent::Closed { .. } => self.wants.closed,
            MonitorEvent::Rejected { .. } => self.wants.rejected,
        };
        if wanted {
            self.send(event);
        }
        if self.wants.changed
            && !matches!(event, MonitorEvent::Rejected { .. })
            && !self.change_queued.swap(true, Ordering::AcqRel)
        {
            send_event(&self.events, "changed", String::new());
        }
    }
}

impl JsSink {
    fn send(&self, event: &MonitorEvent) {
        let (kind, payload) = match event {
            MonitorEvent::Established(info) => {
                ("established", serde_json::to_string(info).unwrap_or_default())
            }
            MonitorEvent::Closed {
                info,
                duration_ms,
                reason,
            } => (
                "closed",
                json!({ "sessionId": &*info.session_id, "durationMs": duration_ms, "reason": reason.as_str() })
                    .to_string(),
            ),
            MonitorEvent::Rejected {
                reason,
                client_ip,
                at,
            } => (
                "rejected",
                json!({ "reason": reason, "clientIP": client_ip, "at": at }).to_string(),
            ),
        };
        send_event(&self.events, kind, payload);
    }
}

#[napi]
pub struct NativeServer {
    server: Arc<McpServer>,
    queue: Arc<InvocationQueue>,
    change_queued: Arc<AtomicBool>,
    /// Kept until close() has queued its last event, then released.
    events: parking_lot::Mutex<Option<Arc<EventTsfn>>>,
    url: String,
    port: u32,
    /// Handler mode: requests polled on the JS thread, and streamed responses on their way to
    /// Node `res` objects.
    handler: crate::bindings::handler::HandlerStreams,
    handler_mode: bool,
    /// This server's registry, when `metrics` is on.
    metrics: Option<Arc<Metrics>>,
    /// The task handing core logs to the JS logger; stopped by close().
    log_task: parking_lot::Mutex<Option<tokio::task::AbortHandle>>,
}

fn catalog_names(metrics: &Metrics, catalog: &Catalog) {
    metrics.set_catalog_names(catalog.tools.keys(), catalog.prompts.keys());
}

fn err(msg: impl std::fmt::Display) -> Error {
    Error::new(Status::InvalidArg, msg.to_string())
}

/// A `CallError` as a JS `Error` with numeric `code` and, when there is one, `data`.
fn js_call_error(env: &Env, e: &CallError) -> Error {
    let build = || -> Result<Error> {
        let mut obj = env.create_error(Error::from_reason(e.to_string()))?;
        obj.set_named_property("code", e.code())?;
        if let Some(data) = e.data() {
            obj.set_named_property("data", env.to_js_value(data)?)?;
        }
        Ok(Error::from(obj.to_unknown()))
    };
    build().unwrap_or_else(|failure| failure)
}

/// Starts a server. `drain()` is called when callback invocations are waiting: it takes them
/// with `takeInvocations()` and answers each through `resolveCall`; `events(kind, payloadJson)`
/// receives monitor events and aborts. Internal: use `startStreamableMcpServer`.
#[napi(
    catch_unwind,
    ts_args_type = "optionsJson: string, drain: () => void, events: (kind: string, payload: string) => void, verify?: (token: string, ip: string, userAgent?: string) => Promise<string>"
)]
pub fn start_native_server<'env>(
    env: &'env Env,
    options_json: String,
    drain: Function<'env, (), Unknown<'static>>,
    events: Function<'env, EventArgs, Unknown<'static>>,
    verify: Option<Function<'env, super::auth::VerifyArgs, Promise<String>>>,
) -> Result<PromiseRaw<'env, NativeServer>> {
    let parsed = options::parse(&options_json).map_err(err)?;
    let verifier: Option<Arc<dyn crate::auth::TokenVerifier>> = match verify {
        Some(f) => {
            let tsfn: super::auth::VerifyTsfn = f
                .build_threadsafe_function::<super::auth::VerifyArgs>()
                .callee_handled::<false>()
                .weak::<true>()
                .build()?;
            let timeout = parsed
                .config
                .callback_timeout
                .unwrap_or(std::time::Duration::from_secs(30));
            Some(Arc::new(super::auth::JsVerifier::new(tsfn, timeout)))
        }
        None => None,
    };
    let drain: DrainTsfn = drain
        .build_threadsafe_function::<()>()
        .callee_handled::<false>()
        .build()?;
    let queue = Arc::new(InvocationQueue::default());
    let events: Arc<EventTsfn> = Arc::new(
        events
            .build_threadsafe_function::<EventArgs>()
            .callee_handled::<false>()
            .build()?,
    );
    let change_queued = Arc::new(AtomicBool::new(false));
    let host = Arc::new(JsHost {
        drain,
        queue: queue.clone(),
        events: events.clone(),
    });
    let own_events = events.clone();
    let mut sinks: Vec<Arc<dyn MonitorSink>> = vec![Arc::new(JsSink {
        events,
        change_queued: change_queued.clone(),
        wants: parsed.monitor,
    })];
    if parsed.stdout_events {
        sinks.push(Arc::new(crate::monitor::stdout::StdoutSink::new(
            parsed.server_id.clone(),
        )));
    }
    let metrics = parsed.metrics_path.as_ref().map(|_| {
        let m = Arc::new(Metrics::new());
        catalog_names(&m, &parsed.catalog);
        sinks.push(Arc::new(crate::monitor::metrics_sink::MetricsSink(
            m.clone(),
        )));
        m
    });
    let (log_span, log_task) = match parsed.logs {
        Some(config) => {
            let events = own_events.clone();
            super::telemetry::start(config, move |batch| send_event(&events, "logs", batch))
        }
        None => (Some(crate::telemetry::logs::unrouted_span()), None),
    };
    let dispatcher = Dispatcher::new(parsed.description, parsed.catalog);
    let mut cfg = parsed.config;
    cfg.metrics = metrics.clone();
    cfg.log_span = log_span;
    let handler_mode = parsed.handler_mode;
    env.spawn_future(async move {
        let host_name = cfg.host.clone();
        let endpoint = cfg.endpoint.clone();
        let stores = crate::transport::Stores {
            verifier,
            ..Default::default()
        };
        let server = if handler_mode {
            McpServer::without_listener(cfg, dispatcher, host, sinks, stores)
        } else {
            McpServer::start_with(cfg, dispatcher, host, sinks, stores).await
        }
        .map_err(|e| Error::new(Status::GenericFailure, e.to_string()))?;
        if handler_mode {
            return Ok(NativeServer {
                server: Arc::new(server),
                queue,
                change_queued,
                events: parking_lot::Mutex::new(Some(own_events)),
                url: endpoint,
                port: 0,
                handler: Default::default(),
                handler_mode: true,
                metrics,
                log_task: parking_lot::Mutex::new(log_task),
            });
        }
        let port = server.local_addr().port();
        let shown = if host_name.contains(':') {
            format!("[{host_name}]")
        } else {
            host_name
        };
        Ok(NativeServer {
            server: Arc::new(server),
            queue,
            change_queued,
            events: parking_lot::Mutex::new(Some(own_events)),
            url: format!("http://{shown}:{port}{endpoint}"),
            port: port as u32,
            metrics,
            log_task: parking_lot::Mutex::new(log_task),
            handler: Default::default(),
            handler_mode: false,
        })
    })
}

#[napi]
impl NativeServer {
    #[napi(getter)]
    pub fn url(&self) -> String {
        self.url.clone()
    }

    #[napi(getter)]
    pub fn port(&self) -> u32 {
        self.port
    }

    /// Every waiting invocation, as `[[callId, kind, params, context], …]` JSON.
    #[napi(catch_unwind)]
    pub fn take_invocations(&self) -> String {
        // Large answers are built on this thread: its pages go back here (protocol/held.rs).
        crate::protocol::held::trim_here_if_due();
        self.queue.take_json()
    }

    /// A callback's answer: `ok` with the result's JSON, or the error as
    /// `{message, code?, data?}` JSON. A number: bit 0 says the call was still waited for, and
    /// in handler mode the entry's `DRAIN` flag is or-ed in. In handler mode, when the answer
    /// finished requests, their heads instead: `[flags, ticket, head, …]` (as `pollReady`).
    #[napi(
        catch_unwind,
        ts_return_type = "number | Array<number | [number, string[], string | null, number | null, number]>"
    )]
    pub fn resolve_call(&self, call_id: f64, ok: bool, payload: String) -> Answered {
        let outcome = if ok {
            Ok(payload)
        } else {
            let v: Value = serde_json::from_str(&payload).unwrap_or(Value::Null);
            if let Some(bytes) = v.get("answersInFlight").and_then(Value::as_u64) {
                Err(self.server.core().calls.answer_refused(bytes))
            } else if v.get("badResult").and_then(Value::as_bool) == Some(true) {
                Err(CallError::BadResult(
                    v.get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("invalid callback result")
                        .to_owned(),
                ))
            } else {
                Err(CallError::Failed {
                    message: v
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("callback failed")
                        .to_owned(),
                    code: v.get("code").and_then(Value::as_i64).map(|c| c as i32),
                    data: v.get("data").cloned(),
                })
            }
        };
        self.answer(call_id, outcome)
    }

    /// Hands a call its outcome. In handler mode this is an entry, so the request it wakes is
    /// polled before JS gets control back, and its head goes back with the answer's return
    /// (one crossing fewer); the listener's calls are answered as they are.
    fn answer(&self, call_id: f64, outcome: CallOutcome) -> Answered {
        let resolve = || self.server.core().calls.resolve(call_id as u64, outcome);
        if self.handler_mode {
            let (accepted, flags) = self.handler.entry(resolve);
            let flags = u32::from(accepted) | flags;
            if flags & crate::bindings::handler::DONE != 0 {
                Either::B(self.handler.completions(flags))
            } else {
                Either::A(flags)
            }
        } else {
            Either::A(u32::from(resolve()))
        }
    }

    /// A large answer as `shell` (the result serialized with each large string replaced by
    /// `<marker><index>`; `marker` as it appears in JSON) and those strings: spliced in Rust,
    /// so V8 never makes a copy of them (docs/hardening.md, "Answers in flight").
    ///
    /// Each string is written by V8 straight into the answer's buffer (then escaped there), so
    /// the answer exists once in Rust while it is put together, not as parts plus a splice.
    #[napi(
        catch_unwind,
        ts_return_type = "number | Array<number | [number, string[], string | null, number | null, number]>"
    )]
    pub fn resolve_call_parts(
        &self,
        env: &Env,
        call_id: f64,
        shell: String,
        marker: String,
        parts: Vec<JsString<'_>>,
    ) -> Answered {
        let sizes = match parts
            .iter()
            .map(JsString::utf8_len)
            .collect::<Result<Vec<_>>>()
        {
            Ok(sizes) => sizes,
            Err(e) => return self.answer(call_id, Err(unreadable(&e))),
        };
        let mut failed = None;
        let json = crate::protocol::held::splice_parts_with(&shell, &marker, &sizes, |i, out| {
            if let Err(e) = write_utf8_into(env, &parts[i], sizes[i], out) {
                failed.get_or_insert(e);
            }
        });
        match failed {
            Some(e) => self.answer(call_id, Err(unreadable(&e))),
            None => self.answer(call_id, Ok(json)),
        }
    }

    /// Whether a large answer of about `bytes` would fit under `maxResponseBytesInFlight` now:
    /// lib/server.js asks before it serializes one, so a refused answer costs no copy.
    #[napi(catch_unwind)]
    pub fn answer_fits(&self, bytes: f64) -> bool {
        self.server.core().calls.answer_fits(bytes as u64)
    }

    #[napi(catch_unwind)]
    pub fn send_progress(
        &self,
        call_id: f64,
        progress: f64,
        total: Option<f64>,
        message: Option<String>,
    ) -> bool {
        self.server
            .core()
            .send_progress(call_id as u64, progress, total, message)
    }

    #[napi(catch_unwind)]
    pub fn log(
        &self,
        call_id: f64,
        level: String,
        data_json: String,
        logger: Option<String>,
    ) -> bool {
        let data = serde_json::from_str(&data_json).unwrap_or(Value::Null);
        self.server.core().log(call_id as u64, &level, data, logger)
    }

    /// A server→client request; resolves with the result's JSON, or rejects with an `Error`
    /// whose `code` (and `data`, when the client sent one) are the `CallError`'s.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn request<'env>(
        &self,
        env: &'env Env,
        call_id: f64,
        method: String,
        params_json: Option<String>,
    ) -> Result<PromiseRaw<'env, String>> {
        let server = self.server.clone();
        env.spawn_future_with_callback(
            async move {
                Ok(server
                    .core()
                    .client_request(call_id as u64, &method, params_json)
                    .await)
            },
            |env, outcome: std::result::Result<String, CallError>| match outcome {
                Ok(text) => Ok(text),
                Err(e) => Err(js_call_error(env, &e)),
            },
        )
    }

    #[napi(catch_unwind)]
    pub fn close_stream(&self, call_id: f64) -> bool {
        self.server.core().close_stream(call_id as u64)
    }

    /// `ConnectionStats` as JSON; clears the pending-change flag so the next change is
    /// reported again.
    #[napi(catch_unwind)]
    pub fn take_stats(&self) -> String {
        self.change_queued.store(false, Ordering::Release);
        self.server.core().tracker.stats_json()
    }

    #[napi(catch_unwind)]
    pub fn stats_json(&self) -> String {
        self.server.core().tracker.stats_json()
    }

    #[napi(catch_unwind)]
    pub fn active_connections(&self) -> u32 {
        self.server.core().tracker.active() as u32
    }

    #[napi(catch_unwind)]
    pub fn connection_info_json(&self, session_id: String) -> Option<String> {
        self.server
            .core()
            .tracker
            .info(&session_id)
            .and_then(|i| serde_json::to_string(&i).ok())
    }

    #[napi(catch_unwind)]
    pub fn set_listing(
        &self,
        kind: String,
        items_json: String,
        templates_json: Option<String>,
    ) -> Result<()> {
        self.server
            .set_listing(&kind, &items_json, templates_json.as_deref())
            .map_err(err)?;
        if let Some(m) = &self.metrics {
            catalog_names(m, &self.server.core().dispatcher.catalog());
        }
        Ok(())
    }

    #[napi(catch_unwind)]
    pub fn notify_resource_updated(&self, uri: String) {
        self.server.notify_resource_updated(&uri);
    }

    /// `ClusterStats` as JSON; rejects when the `shared` option is not set.
    #[napi]
    pub async fn cluster_stats_json(&self) -> Result<String> {
        match self.server.cluster_stats().await {
            Some(v) => Ok(v.to_string()),
            None => Err(Error::new(
                Status::GenericFailure,
                "getClusterStats() needs the shared option",
            )),
        }
    }

    #[napi]
    pub async fn close_session(&self, session_id: String) -> bool {
        self.server.core().close_session(&session_id)
    }

    /// Handler mode: where streamed response chunks go, `(streamId, text | null)`.
    #[napi(
        catch_unwind,
        ts_args_type = "sink: (stream: number, chunk: string | null) => void"
    )]
    pub fn set_chunk_sink(
        &self,
        sink: Function<'_, crate::bindings::handler::ChunkArgs, Unknown<'static>>,
    ) -> Result<()> {
        self.handler.set_sink(sink)
    }

    /// Handler mode: serves one request of the host's HTTP server (`rawHeaders` as Node gives
    /// them, joined by `\n`; the whole body; the socket's remote address), polled on this
    /// thread: the head `[status, headers, body, stream, flags]` when it is answered at once,
    /// else the flags (`PENDING`, `DRAIN`, `DONE`) and the head comes from `pollReady`. `ticket`
    /// names it; `path` is the real path, given only for `/.well-known/…` requests.
    #[napi(
        catch_unwind,
        ts_return_type = "[number, string[], string | null, number | null, number] | number"
    )]
    #[allow(clippy::too_many_arguments)]
    pub fn serve(
        &self,
        ticket: u32,
        method: String,
        raw_headers: String,
        // A slice, not a `Buffer`: no reference to the JS object is created, as the bytes are
        // copied at once.
        body: BufferSlice<'_>,
        remote_ip: String,
        remote_port: u32,
        auth: Option<String>,
        path: Option<String>,
    ) -> Result<crate::bindings::handler::Served> {
        let request = crate::bindings::handler::HostRequest {
            ticket,
            method,
            raw_headers,
            body: bytes::Bytes::copy_from_slice(&body),
            remote_ip,
            remote_port,
            auth,
            path,
        };
        crate::bindings::handler::serve(&self.server, &self.handler, request)
    }

    /// Handler mode: polls the requests other threads woke; `[flags, ticket, head, …]` with
    /// every head finished since the last call.
    #[napi(
        catch_unwind,
        ts_return_type = "Array<number | [number, string[], string | null, number | null, number]>"
    )]
    pub fn poll_ready(&self) -> crate::bindings::handler::Completions {
        self.handler.poll_ready()
    }

    /// Handler mode: what JS calls when requests woken on another thread wait for a poll.
    #[napi(catch_unwind, ts_args_type = "sink: () => void")]
    pub fn set_ready_sink(&self, sink: Function<'_, (), Unknown<'static>>) -> Result<()> {
        self.handler.set_ready_sink(sink)
    }

    /// Handler mode: the client went away before the response head; gives the entry flags.
    #[napi(catch_unwind)]
    pub fn cancel_serve(&self, ticket: u32) -> u32 {
        self.handler.cancel_serve(ticket)
    }

    /// Handler mode: the response of stream `stream` is in place; its chunks may flow.
    #[napi(catch_unwind)]
    pub fn start_stream(&self, stream: u32) -> bool {
        self.handler.go(stream)
    }

    /// Handler mode: Node closed a streamed response before it ended.
    #[napi(catch_unwind)]
    pub fn cancel_stream(&self, stream: u32) -> bool {
        self.handler.cancel(stream)
    }

    /// Closes the server, then queues `drained` behind every monitor event it caused:
    /// lib/server.js resolves close() when that arrives, so every onConnectionClosed has run.
    /// The OpenMetrics text of this server's registry; an error when `metrics` is off.
    #[napi(catch_unwind)]
    pub fn metrics_text(&self) -> Result<String> {
        let m = self
            .metrics
            .as_ref()
            .ok_or_else(|| err("metrics are off: start the server with `metrics: true`"))?;
        m.encode()
            .map_err(|e| Error::new(Status::GenericFailure, e.to_string()))
    }

    #[napi]
    pub async fn close(&self) -> Result<()> {
        self.server.close().await;
        self.handler.close().await;
        if let Some(task) = self.log_task.lock().take() {
            task.abort();
        }
        if let Some(events) = self.events.lock().take() {
            send_event(&events, "drained", String::new());
        }
        Ok(())
    }
}

/// What answering a call gives JS: flags, or (handler mode) the heads it finished.
type Answered = Either<u32, crate::bindings::handler::Completions>;

/// A large answer whose strings napi could not read: the client gets a bad-result error.
fn unreadable(e: &Error) -> CallError {
    CallError::BadResult(format!("a string of the result could not be read: {e}"))
}

/// Appends `s`'s UTF-8 (`len` bytes, as `utf8_len` gave) to `out` without an intermediate copy.
fn write_utf8_into(env: &Env, s: &JsString<'_>, len: usize, out: &mut Vec<u8>) -> Result<()> {
    // napi writes a terminating NUL after the text: room for it too.
    out.reserve(len + 1);
    let start = out.len();
    let mut written = 0usize;
    // SAFETY: the pointer is to `out`'s spare capacity, at least `len + 1` bytes long, which is
    // the size napi is told; napi writes at most that many bytes (the text, then a NUL) and
    // reports in `written` how many bytes of text it wrote, which become part of `out`. The
    // text is valid UTF-8 (napi replaces lone surrogates).
    let status = unsafe {
        let dst = out.as_mut_ptr().add(start).cast::<std::ffi::c_char>();
        let status =
            napi::sys::napi_get_value_string_utf8(env.raw(), s.raw(), dst, len + 1, &mut written);
        if status == napi::sys::Status::napi_ok {
            out.set_len(start + written.min(len));
        }
        status
    };
    if status == napi::sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Error::new(
            Status::from(status),
            "a large answer's string could not be read",
        ))
    }
}

//! Handler mode: a Node `IncomingMessage`/`ServerResponse` pair served by the same service the
//! listener feeds. The request crosses once (method, raw headers, body bytes, peer address);
//! the response comes back as one object when its body is whole (JSON, errors) or as a head
//! plus chunks through one threadsafe function per server when it is an SSE stream. Node
//! closing the response aborts the stream's pump, which drops the body: the core sees it as
//! a dropped connection (cancellation, resumability).
//!
//! A request's future is polled on the JS thread, where it arrives and where its callbacks run
//! (see "Requests polled on the JS thread" below and docs/handler-mode.md).

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue};
use hyper::Request;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use parking_lot::Mutex;
use tokio::task::JoinHandle;

use crate::transport::body::OutBody;
use crate::transport::McpServer;

pub type ChunkArgs = FnArgs<(u32, Option<String>)>;
type ChunkTsfn = ThreadsafeFunction<ChunkArgs, Unknown<'static>, ChunkArgs, Status, false>;

/// How long `close()` waits for streams the shutdown ended to deliver their last chunks.
const DRAIN_BOUND: Duration = Duration::from_secs(5);

/// The response to a served request: status and headers, then either the whole body or the
/// id of a stream whose chunks arrive through the chunk sink (`null` text ends it).
pub struct ServedHead {
    pub status: u32,
    /// `[name, value, name, value, …]`.
    pub headers: Vec<String>,
    pub body: Option<String>,
    pub stream: Option<u32>,
    /// What JS must do next (`DRAIN`, `DONE`), when the head is the answer of `serve` itself.
    pub flags: u32,
}

/// JS sees `[status, headers, body | null, stream | null, flags]`: an array is set by index,
/// where an object's named properties each cost a key lookup (it crosses once per request).
impl ToNapiValue for ServedHead {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let items = unsafe {
            [
                u32::to_napi_value(env, val.status)?,
                Vec::<String>::to_napi_value(env, val.headers)?,
                Option::<String>::to_napi_value(env, val.body)?,
                Option::<u32>::to_napi_value(env, val.stream)?,
                u32::to_napi_value(env, val.flags)?,
            ]
        };
        let mut arr = std::ptr::null_mut();
        check_status!(unsafe { sys::napi_create_array_with_length(env, items.len(), &mut arr) })?;
        for (i, v) in items.into_iter().enumerate() {
            check_status!(unsafe { sys::napi_set_element(env, arr, i as u32, v) })?;
        }
        Ok(arr)
    }
}

impl TypeName for ServedHead {
    fn type_name() -> &'static str {
        "ServedHead"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

#[derive(Default)]
struct Inner {
    sink: Mutex<Option<Arc<ChunkTsfn>>>,
    next: AtomicU32,
    pumps: Mutex<HashMap<u32, Pump>>,
    /// Requests still being served, by the ticket JS gave them. Dropping one (Node reports the
    /// client gone before the head) drops its future, as hyper drops a closed connection's.
    tasks: Mutex<crate::util::FnvMap<u32, Task>>,
    /// Tickets whose futures were woken and wait for a poll on the JS thread.
    ready: Mutex<Vec<u32>>,
    /// Heads of requests finished by a poll, waiting for `pollReady`.
    done: Mutex<Vec<(u32, ServedHead)>>,
    /// A `pollReady` is queued on the JS thread (a wake from another thread).
    poll_scheduled: AtomicBool,
    /// Asks the JS thread to call `pollReady` (wakes from tokio threads: timers, streams, I/O).
    ready_sink: Mutex<Option<Arc<ReadyTsfn>>>,
}

struct Pump {
    task: JoinHandle<()>,
    /// Starts the pump once JS has put the response in place: a chunk can then never arrive
    /// before the head it belongs to.
    go: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The streamed responses of one server in handler mode.
#[derive(Default, Clone)]
pub struct HandlerStreams {
    inner: Arc<Inner>,
}

impl HandlerStreams {
    /// Pumps an SSE body to JS; `None` when no sink is registered (not in handler mode).
    fn start(&self, body: OutBody) -> Option<u32> {
        let sink = self.inner.sink.lock().clone()?;
        let id = self
            .inner
            .next
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1);
        let inner = self.inner.clone();
        // The map is locked across the spawn, so the task's own removal comes after its insertion.
        let mut pumps = self.inner.pumps.lock();
        let (go, ready) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            let mut body = body;
            if ready.await.is_err() {
                // JS dropped the stream without starting it (close() before the head landed).
                inner.pumps.lock().remove(&id);
                return;
            }
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame;
                if let Ok(data) = frame.into_data() {
                    let text = String::from_utf8_lossy(&data).into_owned();
                    sink.call(
                        FnArgs::from((id, Some(text))),
                        ThreadsafeFunctionCallMode::NonBlocking,
                    );
                }
            }
            drop(body);
            sink.call(
                FnArgs::from((id, None)),
                ThreadsafeFunctionCallMode::NonBlocking,
            );
            inner.pumps.lock().remove(&id);
        });
        pumps.insert(
            id,
            Pump {
                task: handle,
                go: Some(go),
            },
        );
        Some(id)
    }

    /// JS has the response in place: chunks may flow.
    pub fn go(&self, id: u32) -> bool {
        let go = self
            .inner
            .pumps
            .lock()
            .get_mut(&id)
            .and_then(|p| p.go.take());
        go.is_some_and(|g| g.send(()).is_ok())
    }

    /// Node closed the response: the body is dropped like a dropped connection's.
    pub fn cancel(&self, id: u32) -> bool {
        match self.inner.pumps.lock().remove(&id) {
            Some(p) => {
                p.task.abort();
                true
            }
            None => false,
        }
    }

    /// After the core shut down (every stream ended): lets the pumps deliver their last chunks
    /// within a bound, aborts the rest, and releases the sink so Node can exit.
    pub async fn close(&self) {
        let handles: Vec<JoinHandle<()>> = {
            let mut pumps = self.inner.pumps.lock();
            // A stream JS never started has no reader: its pump ends at once.
            pumps.drain().map(|(_, p)| p.task).collect()
        };
        for mut h in handles {
            if tokio::time::timeout(DRAIN_BOUND, &mut h).await.is_err() {
                tracing::warn!("a handler-mode stream did not end at close; aborting it");
                h.abort();
            }
        }
        // Requests still waiting get one last poll here (the shutdown answered their calls);
        // any still pending is answered 503. JS takes them with the next `pollReady`.
        let left: Vec<(u32, Task)> = self.inner.tasks.lock().drain().collect();
        for (ticket, mut task) in left {
            let head = match task.poll() {
                Poll::Ready(head) => head,
                Poll::Pending => unavailable(),
            };
            drop(task);
            self.inner.done.lock().push((ticket, head));
        }
        let sink = self.inner.ready_sink.lock().take();
        if let Some(sink) = sink {
            if !self.inner.done.lock().is_empty() {
                sink.call((), ThreadsafeFunctionCallMode::NonBlocking);
            }
        }
        self.inner.sink.lock().take();
    }
}

fn err(msg: impl std::fmt::Display) -> Error {
    Error::new(Status::InvalidArg, msg.to_string())
}

impl HandlerStreams {
    /// Registers where streamed response chunks go: `(streamId, text | null)`.
    pub fn set_sink(&self, sink: Function<'_, ChunkArgs, Unknown<'static>>) -> Result<()> {
        let tsfn: ChunkTsfn = sink
            .build_threadsafe_function::<ChunkArgs>()
            .callee_handled::<false>()
            .build()?;
        *self.inner.sink.lock() = Some(Arc::new(tsfn));
        Ok(())
    }

    /// Registers what JS calls when requests woken on another thread wait for a poll.
    pub fn set_ready_sink(&self, sink: Function<'_, (), Unknown<'static>>) -> Result<()> {
        let tsfn: ReadyTsfn = sink
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .build()?;
        *self.inner.ready_sink.lock() = Some(Arc::new(tsfn));
        Ok(())
    }

    /// The client went away before the response head: the request is dropped, as a closed
    /// connection's is on the listener. Gives the entry flags (its drop may wake others).
    pub fn cancel_serve(&self, ticket: u32) -> u32 {
        self.entry(|| {
            let task = self.inner.tasks.lock().remove(&ticket);
            drop(task);
        })
        .1
    }
}

/// A request of the host's HTTP server, as it crosses N-API once.
pub struct HostRequest {
    /// Names the request for `cancel_serve`.
    pub ticket: u32,
    pub method: String,
    /// Node's `rawHeaders` joined by `\n` (one string crosses, not one per name and value;
    /// Node's parser admits no line feed in either).
    pub raw_headers: String,
    pub body: Bytes,
    pub remote_ip: String,
    pub remote_port: u32,
    /// `options.auth` as JSON: the principal the host authenticated.
    pub auth: Option<String>,
    /// The request's real path, passed only for `/.well-known/…` requests: the host routes the
    /// protected-resource metadata (RFC 9728) paths here too (docs/nestjs.md).
    pub path: Option<String>,
}

// ---- Requests polled on the JS thread ---------------------------------------------------------
//
// A request reaches `serve` on the JS thread and its callbacks run there, so its future is
// polled there too: `serve` polls it at once (a `tools/list` is answered before it returns);
// an invocation it makes is taken by JS right after (`DRAIN`), with no threadsafe-function hop;
// the callback's answer (`resolveCall`, on the JS thread) wakes it and polls it again, and JS
// takes the head with `pollReady` (`DONE`). Native code never calls into JS here: each entry
// reports what JS must do next in its return value. Only a wake from another thread (a timer,
// a stream, I/O) costs a hop: it schedules one `pollReady` for everything woken meanwhile.
// Every poll runs inside the runtime's context, so tokio timers and spawns work.

/// JS must run its drain: invocations wait.
pub const DRAIN: u32 = 2;
/// JS must call `pollReady`: heads of finished requests wait.
pub const DONE: u32 = 4;
/// `serve` only: the request is still being served.
pub const PENDING: u32 = 8;

type ServeFuture = Pin<Box<dyn Future<Output = ServedHead> + Send>>;
type ReadyTsfn = ThreadsafeFunction<(), Unknown<'static>, (), Status, false>;

thread_local! {
    /// The server (its `Inner`'s address) whose entry runs on this thread; 0 outside entries.
    static ENTRY: Cell<usize> = const { Cell::new(0) };
    /// An invocation was queued during the current entry.
    static NEEDS_DRAIN: Cell<bool> = const { Cell::new(false) };
}

/// Called by the callback host after it queued an invocation: true inside an entry on the JS
/// thread, which then tells JS to drain (so no threadsafe-function call is needed).
pub fn invoked_in_entry() -> bool {
    if ENTRY.with(Cell::get) != 0 {
        NEEDS_DRAIN.with(|n| n.set(true));
        true
    } else {
        false
    }
}

struct Task {
    fut: ServeFuture,
    waker: Waker,
}

impl Task {
    /// One poll; a panic in the request's future answers it 500 (the future is then dropped).
    fn poll(&mut self) -> Poll<ServedHead> {
        let mut cx = Context::from_waker(&self.waker);
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.fut.as_mut().poll(&mut cx))) {
            Ok(p) => p,
            Err(_) => {
                tracing::error!("a handler-mode request panicked");
                Poll::Ready(internal_error())
            }
        }
    }
}

struct TaskWake {
    ticket: u32,
    inner: Weak<Inner>,
}

impl Wake for TaskWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        inner.ready.lock().push(self.ticket);
        // Inside this server's entry the entry polls it before it returns.
        if ENTRY.with(Cell::get) == Arc::as_ptr(&inner) as usize {
            return;
        }
        if !inner.poll_scheduled.swap(true, Ordering::AcqRel) {
            let sink = inner.ready_sink.lock().clone();
            if let Some(sink) = sink {
                sink.call((), ThreadsafeFunctionCallMode::NonBlocking);
            }
        }
    }
}

/// Restores the entry marks even if the entry unwinds.
struct EntryGuard {
    prev: usize,
    prev_drain: bool,
}

impl Drop for EntryGuard {
    fn drop(&mut self) {
        ENTRY.with(|e| e.set(self.prev));
        NEEDS_DRAIN.with(|n| n.set(self.prev_drain));
    }
}

fn json_head(status: u32, body: String) -> ServedHead {
    ServedHead {
        status,
        headers: vec!["content-type".to_owned(), "application/json".to_owned()],
        body: Some(body),
        stream: None,
        flags: 0,
    }
}

fn internal_error() -> ServedHead {
    json_head(
        500,
        r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"Internal error"}}"#
            .to_owned(),
    )
}

fn unavailable() -> ServedHead {
    json_head(
        503,
        r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"the server is closing"}}"#
            .to_owned(),
    )
}

impl HandlerStreams {
    /// Runs `f` as an entry of this server on the JS thread, inside the runtime's context, then
    /// polls every request woken meanwhile. Gives `f`'s value and the flags for JS.
    /// `resolveCall` answers a call inside one, so the request it wakes is polled at once.
    pub fn entry<R>(&self, f: impl FnOnce() -> R) -> (R, u32) {
        let me = Arc::as_ptr(&self.inner) as usize;
        let _guard = EntryGuard {
            prev: ENTRY.with(|e| e.replace(me)),
            prev_drain: NEEDS_DRAIN.with(|n| n.replace(false)),
        };
        napi::bindgen_prelude::within_runtime_if_available(|| {
            let r = f();
            self.run_ready();
            let mut flags = 0;
            if NEEDS_DRAIN.with(Cell::get) {
                flags |= DRAIN;
            }
            if !self.inner.done.lock().is_empty() {
                flags |= DONE;
            }
            (r, flags)
        })
    }

    /// Polls the woken requests until none is left; finished ones go to `done`.
    fn run_ready(&self) {
        loop {
            let woken = std::mem::take(&mut *self.inner.ready.lock());
            if woken.is_empty() {
                return;
            }
            for ticket in woken {
                // Out of the map while it is polled: a wake during the poll only queues it.
                let Some(mut task) = self.inner.tasks.lock().remove(&ticket) else {
                    continue;
                };
                match task.poll() {
                    Poll::Pending => {
                        self.inner.tasks.lock().insert(ticket, task);
                    }
                    Poll::Ready(head) => {
                        drop(task);
                        self.inner.done.lock().push((ticket, head));
                    }
                }
            }
        }
    }

    /// Polls what other threads woke and hands JS every finished head: `[flags, ticket, head,
    /// ticket, head, …]`.
    pub fn poll_ready(&self) -> Completions {
        self.inner.poll_scheduled.store(false, Ordering::Release);
        let ((), flags) = self.entry(|| ());
        self.completions(flags)
    }

    /// The finished heads, with the rest of an entry's `flags` (`DONE` is what they answer).
    pub fn completions(&self, flags: u32) -> Completions {
        let done = std::mem::take(&mut *self.inner.done.lock());
        Completions {
            flags: flags & !DONE,
            done,
        }
    }
}

/// What `pollReady` gives JS.
pub struct Completions {
    flags: u32,
    done: Vec<(u32, ServedHead)>,
}

impl ToNapiValue for Completions {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let mut arr = std::ptr::null_mut();
        let len = 1 + 2 * val.done.len();
        check_status!(unsafe { sys::napi_create_array_with_length(env, len, &mut arr) })?;
        let flags = unsafe { u32::to_napi_value(env, val.flags)? };
        check_status!(unsafe { sys::napi_set_element(env, arr, 0, flags) })?;
        for (i, (ticket, head)) in val.done.into_iter().enumerate() {
            let t = unsafe { u32::to_napi_value(env, ticket)? };
            let h = unsafe { ServedHead::to_napi_value(env, head)? };
            check_status!(unsafe { sys::napi_set_element(env, arr, (1 + 2 * i) as u32, t) })?;
            check_status!(unsafe { sys::napi_set_element(env, arr, (2 + 2 * i) as u32, h) })?;
        }
        Ok(arr)
    }
}

impl TypeName for Completions {
    fn type_name() -> &'static str {
        "Completions"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

/// Turns the service's response into the head JS writes: the whole body, or a stream pumped
/// to the chunk sink.
fn into_head(resp: hyper::Response<OutBody>, pumps: &HandlerStreams) -> ServedHead {
    let (parts, mut body) = resp.into_parts();
    let mut headers = Vec::with_capacity(parts.headers.len() * 2);
    for (name, value) in &parts.headers {
        headers.push(name.as_str().to_owned());
        headers.push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    let status = u32::from(parts.status.as_u16());
    match body.take_whole() {
        Some(b) => ServedHead {
            status,
            headers,
            body: b.map(|b| String::from_utf8_lossy(&b).into_owned()),
            stream: None,
            flags: 0,
        },
        None => match pumps.start(body) {
            Some(id) => ServedHead {
                status,
                headers,
                body: None,
                stream: Some(id),
                flags: 0,
            },
            None => {
                tracing::error!("handler mode: a stream without a chunk sink");
                internal_error()
            }
        },
    }
}

/// The head of `serve`: the answer itself, or (`PENDING`) a request JS learns the head of from
/// `pollReady`.
pub enum Served {
    Now(ServedHead),
    Pending(u32),
}

impl ToNapiValue for Served {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        match val {
            Served::Now(head) => unsafe { ServedHead::to_napi_value(env, head) },
            Served::Pending(flags) => unsafe { u32::to_napi_value(env, flags) },
        }
    }
}

impl TypeName for Served {
    fn type_name() -> &'static str {
        "Served"
    }

    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

/// Serves one request through the server's service, polled on this (the JS) thread.
pub fn serve(server: &McpServer, streams: &HandlerStreams, request: HostRequest) -> Result<Served> {
    let HostRequest {
        ticket,
        method,
        raw_headers,
        body,
        remote_ip,
        remote_port,
        auth,
        path,
    } = request;
    // Every request is the endpoint's, whatever path the host mounted it on; the one exception
    // is a metadata path of the auth policy, which the service answers by path.
    let core = server.core();
    let uri = match (&path, &core.auth) {
        (Some(p), Some(a)) if a.policy().is_metadata_path(p) => p.as_str(),
        _ => core.cfg.endpoint.as_str(),
    };
    let mut builder = Request::builder().method(method.as_str()).uri(uri);
    if let Some(map) = builder.headers_mut() {
        // Straight into the map, sized once: the builder's `header` moves its whole state per
        // header.
        let mut pairs = raw_headers.split('\n');
        map.reserve(pairs.clone().count() / 2);
        while let (Some(name), Some(value)) = (pairs.next(), pairs.next()) {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(err)?;
            let value = HeaderValue::from_str(value).map_err(err)?;
            map.append(name, value);
        }
    }
    if let Some(json) = auth {
        let info: crate::auth::AuthInfo = serde_json::from_str(&json).map_err(|e| {
            Error::new(
                Status::InvalidArg,
                format!("options.auth must be an AuthInfo ({{ subject, scopes, … }}): {e}"),
            )
        })?;
        builder = builder.extension(crate::transport::pipeline::HostPrincipal(Arc::new(info)));
    }
    let req = builder.body(Full::new(body)).map_err(err)?;
    let ip = remote_ip
        .parse::<IpAddr>()
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let service = server.service(SocketAddr::new(ip, u16::try_from(remote_port).unwrap_or(0)));
    let pumps = streams.clone();
    let fut: ServeFuture = Box::pin(async move {
        let resp = service.handle(req).await;
        into_head(resp, &pumps)
    });
    let waker = Waker::from(Arc::new(TaskWake {
        ticket,
        inner: Arc::downgrade(&streams.inner),
    }));
    let mut task = Task { fut, waker };
    let (now, flags) = streams.entry(|| match task.poll() {
        Poll::Ready(head) => Some(head),
        Poll::Pending => {
            // In the map before the entry polls what woke: a wake during this first poll
            // finds it there.
            streams.inner.tasks.lock().insert(ticket, task);
            None
        }
    });
    Ok(match now {
        Some(mut head) => {
            head.flags = flags;
            Served::Now(head)
        }
        None => Served::Pending(PENDING | flags),
    })
}

//! Handler mode: a Node `IncomingMessage`/`ServerResponse` pair served by the same service the
//! listener feeds. The request crosses once (method, raw headers, body bytes, peer address);
//! the response comes back as one object when its body is whole (JSON, errors) or as a head
//! plus chunks through one threadsafe function per server when it is an SSE stream. The
//! request's future is polled on the JS thread (see `Exec` below and docs/handler-mode.md). Node
//! closing the response aborts the stream's pump, which drops the body: the core sees it as
//! a dropped connection (cancellation, resumability).

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
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
}

/// JS sees `[status, headers, body | null, stream | null]`: an array is set by index, where an
/// object's named properties each cost a key lookup (it crosses once per request).
impl ToNapiValue for ServedHead {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let items = unsafe {
            [
                u32::to_napi_value(env, val.status)?,
                Vec::<String>::to_napi_value(env, val.headers)?,
                Option::<String>::to_napi_value(env, val.body)?,
                Option::<u32>::to_napi_value(env, val.stream)?,
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
}

/// A request of the host's HTTP server, as it crosses N-API once.
pub struct HostRequest {
    /// Names the request for `cancel_serve` and the done sink.
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

type ServeFuture = Pin<Box<dyn Future<Output = Result<ServedHead>> + Send>>;

/// Builds the future that serves one request and turns its response into a `ServedHead`.
fn serve_future(
    server: &McpServer,
    streams: &HandlerStreams,
    request: HostRequest,
) -> Result<ServeFuture> {
    let HostRequest {
        ticket: _,
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
    if !raw_headers.is_empty() {
        let mut parts = raw_headers.split('\n');
        while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
            builder = builder.header(name, value);
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
    Ok(Box::pin(async move {
        let resp = service.handle(req).await;
        let (parts, mut body) = resp.into_parts();
        let mut headers = Vec::with_capacity(parts.headers.len() * 2);
        for (name, value) in &parts.headers {
            headers.push(name.as_str().to_owned());
            headers.push(String::from_utf8_lossy(value.as_bytes()).into_owned());
        }
        let status = u32::from(parts.status.as_u16());
        match body.take_whole() {
            Some(b) => Ok(ServedHead {
                status,
                headers,
                body: b.map(|b| String::from_utf8_lossy(&b).into_owned()),
                stream: None,
            }),
            None => pumps
                .start(body)
                .map(|id| ServedHead {
                    status,
                    headers,
                    body: None,
                    stream: Some(id),
                })
                .ok_or_else(|| Error::new(Status::GenericFailure, "no chunk sink registered")),
        }
    }))
}

// ---- The JS-thread executor ------------------------------------------------------------------
//
// A request served in handler mode arrives on the JS thread, and its tool callback runs there
// too. Its future is therefore polled on the JS thread, not on a tokio worker: `serve` polls it
// at once (a `tools/list` is answered before `serve` returns), an invocation it makes is handed
// to the JS drain in the same call (no threadsafe-function hop), and the callback's answer
// (`resolveCall`, itself on the JS thread) polls it again and hands the head to the done sink.
// Only a wake from another thread (a timer, a tokio task, another server) costs a hop: it queues
// the task and schedules one `pollReady` through a threadsafe function. Tokio's timers and
// spawns work from here because every poll runs inside the runtime's context.

pub type DoneArgs = FnArgs<(u32, Option<ServedHead>, Option<String>)>;
type DoneRef = FunctionRef<DoneArgs, Unknown<'static>>;
type DrainRef = FunctionRef<(), Unknown<'static>>;
type PollTsfn = ThreadsafeFunction<(), Unknown<'static>, (), Status, false>;

thread_local! {
    /// The executor whose entry runs on this thread (0: none).
    static CURRENT: Cell<usize> = const { Cell::new(0) };
    /// An invocation was queued during the current entry: the entry runs the JS drain.
    static NEEDS_DRAIN: Cell<bool> = const { Cell::new(false) };
}

static NEXT_EXEC_ID: AtomicUsize = AtomicUsize::new(1);

/// An id for a server's executor, shared with its callback host so `invoke` can tell it is
/// running inside that executor's entry.
pub fn next_exec_id() -> usize {
    NEXT_EXEC_ID.fetch_add(1, Ordering::Relaxed)
}

/// Called by the callback host when it queued an invocation: true when this thread is inside
/// executor `id`'s entry, which then runs the drain itself before it returns.
pub fn drain_inline(id: usize) -> bool {
    if CURRENT.with(Cell::get) == id {
        NEEDS_DRAIN.with(|n| n.set(true));
        true
    } else {
        false
    }
}

struct Task {
    ticket: u32,
    fut: Mutex<Option<ServeFuture>>,
    /// In the ready queue already.
    queued: AtomicBool,
    exec: Weak<Exec>,
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let Some(exec) = self.exec.upgrade() else {
            return;
        };
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        exec.ready.lock().push_back(self.clone());
        // Inside this executor's entry the entry polls it before returning.
        if CURRENT.with(Cell::get) != exec.id {
            exec.schedule_poll();
        }
    }
}

/// The requests one handler-mode server is serving, polled on the JS thread.
pub struct Exec {
    id: usize,
    rt: tokio::runtime::Handle,
    ready: Mutex<VecDeque<Arc<Task>>>,
    tasks: Mutex<HashMap<u32, Arc<Task>>>,
    poll: Mutex<Option<PollTsfn>>,
    poll_scheduled: AtomicBool,
    done: Mutex<Option<Arc<DoneRef>>>,
    drain: Mutex<Option<Arc<DrainRef>>>,
}

/// Restores the previous entry's state when an entry ends (entries of two servers can nest).
struct EntryGuard {
    prev: usize,
    prev_drain: bool,
}

impl Drop for EntryGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.prev));
        NEEDS_DRAIN.with(|n| n.set(self.prev_drain));
    }
}

impl Exec {
    /// Must be called on the JS thread, where napi's runtime can be entered.
    pub fn new(id: usize) -> Result<Arc<Self>> {
        let rt =
            napi::bindgen_prelude::within_runtime_if_available(tokio::runtime::Handle::try_current)
                .map_err(|e| Error::new(Status::GenericFailure, e.to_string()))?;
        Ok(Arc::new(Self {
            id,
            rt,
            ready: Mutex::default(),
            tasks: Mutex::default(),
            poll: Mutex::default(),
            poll_scheduled: AtomicBool::new(false),
            done: Mutex::default(),
            drain: Mutex::default(),
        }))
    }

    /// `done(ticket, head | null, error | null)` receives the heads of requests `serve` left
    /// pending; `poll()` must call `pollReady`; `drain()` runs waiting invocations.
    pub fn set_sinks(
        &self,
        done: Function<'_, DoneArgs, Unknown<'static>>,
        poll: Function<'_, (), Unknown<'static>>,
        drain: Function<'_, (), Unknown<'static>>,
    ) -> Result<()> {
        let tsfn: PollTsfn = poll
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .build()?;
        *self.poll.lock() = Some(tsfn);
        *self.done.lock() = Some(Arc::new(done.create_ref()?));
        *self.drain.lock() = Some(Arc::new(drain.create_ref()?));
        Ok(())
    }

    fn schedule_poll(&self) {
        if !self.poll_scheduled.swap(true, Ordering::AcqRel) {
            let status = match self.poll.lock().as_ref() {
                Some(p) => p.call((), ThreadsafeFunctionCallMode::NonBlocking),
                None => Status::Closing,
            };
            if status != Status::Ok {
                self.poll_scheduled.store(false, Ordering::Release);
            }
        }
    }

    fn enter(&self) -> EntryGuard {
        EntryGuard {
            prev: CURRENT.with(|c| c.replace(self.id)),
            prev_drain: NEEDS_DRAIN.with(|n| n.replace(false)),
        }
    }

    /// Polls one task; its output once it completed (a panic becomes an error).
    fn poll_task(&self, task: &Arc<Task>) -> Option<Result<ServedHead>> {
        task.queued.store(false, Ordering::Release);
        let mut slot = task.fut.try_lock()?;
        let fut = slot.as_mut()?;
        let waker = Waker::from(task.clone());
        let mut cx = Context::from_waker(&waker);
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx)));
        let out = match polled {
            Ok(Poll::Pending) => return None,
            Ok(Poll::Ready(out)) => out,
            Err(_) => {
                tracing::error!(ticket = task.ticket, "a handler-mode request panicked");
                Err(Error::new(
                    Status::GenericFailure,
                    "internal error while serving the request",
                ))
            }
        };
        *slot = None;
        drop(slot);
        self.tasks.lock().remove(&task.ticket);
        Some(out)
    }

    /// Polls every ready task and runs the JS drain until neither has work. A completed task's
    /// head goes to the done sink, except `own`'s, which is returned.
    fn run(&self, env: &Env, own: Option<u32>) -> Result<Option<Result<ServedHead>>> {
        let mut mine = None;
        loop {
            let next = self.ready.lock().pop_front();
            if let Some(task) = next {
                if let Some(out) = self.poll_task(&task) {
                    if Some(task.ticket) == own {
                        mine = Some(out);
                    } else {
                        self.deliver(env, task.ticket, out)?;
                    }
                }
                continue;
            }
            if NEEDS_DRAIN.with(|n| n.replace(false)) {
                let drain = self.drain.lock().clone();
                if let Some(d) = drain {
                    d.borrow_back(env)?.call(())?;
                }
                continue;
            }
            return Ok(mine);
        }
    }

    fn deliver(&self, env: &Env, ticket: u32, out: Result<ServedHead>) -> Result<()> {
        let done = self.done.lock().clone();
        let Some(done) = done else {
            return Ok(());
        };
        let args = match out {
            Ok(head) => (ticket, Some(head), None),
            Err(e) => (ticket, None, Some(e.reason.clone())),
        };
        done.borrow_back(env)?.call(FnArgs::from(args))?;
        Ok(())
    }

    /// Serves a request: the head when it is answered within this call, `None` when it is
    /// left pending (its head then goes to the done sink).
    pub fn serve(
        self: &Arc<Self>,
        env: &Env,
        server: &McpServer,
        streams: &HandlerStreams,
        request: HostRequest,
    ) -> Result<Option<ServedHead>> {
        let ticket = request.ticket;
        let _rt = self.rt.enter();
        let fut = serve_future(server, streams, request)?;
        let task = Arc::new(Task {
            ticket,
            fut: Mutex::new(Some(fut)),
            queued: AtomicBool::new(false),
            exec: Arc::downgrade(self),
        });
        self.tasks.lock().insert(ticket, task.clone());
        if CURRENT.with(Cell::get) == self.id {
            // Nested (a callback served a request): the outer entry runs what this poll queued.
            return self.poll_task(&task).transpose();
        }
        let _entry = self.enter();
        let first = self.poll_task(&task);
        let mine = match first {
            Some(out) => {
                // Whatever else became ready still runs before returning.
                self.run(env, None)?;
                Some(out)
            }
            None => self.run(env, Some(ticket))?,
        };
        mine.transpose()
    }

    /// Runs `f` (which may wake tasks, e.g. by resolving a call) as an entry, then everything
    /// it made ready.
    pub fn entry<R>(&self, env: &Env, f: impl FnOnce() -> R) -> Result<R> {
        if CURRENT.with(Cell::get) == self.id {
            return Ok(f());
        }
        let _rt = self.rt.enter();
        let _entry = self.enter();
        let r = f();
        self.run(env, None)?;
        Ok(r)
    }

    /// `pollReady()`: the tasks other threads woke.
    pub fn poll_ready(&self, env: &Env) -> Result<()> {
        self.poll_scheduled.store(false, Ordering::Release);
        self.entry(env, || ())
    }

    /// The client went away before the response head: the request is dropped, as a closed
    /// connection's is on the listener.
    pub fn cancel(&self, ticket: u32) -> bool {
        let Some(task) = self.tasks.lock().remove(&ticket) else {
            return false;
        };
        let _rt = self.rt.enter();
        let fut = task.fut.try_lock().and_then(|mut s| s.take());
        drop(fut);
        true
    }

    /// After close: drops what is still pending (their JS side is told by `close()`) and the
    /// sinks, so Node can exit.
    pub fn close(&self) {
        let tasks: Vec<Arc<Task>> = self.tasks.lock().drain().map(|(_, t)| t).collect();
        {
            let _rt = self.rt.enter();
            for t in tasks {
                let fut = t.fut.try_lock().and_then(|mut s| s.take());
                drop(fut);
            }
        }
        self.ready.lock().clear();
        self.poll.lock().take();
    }
}

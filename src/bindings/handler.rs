//! Handler mode: a Node `IncomingMessage`/`ServerResponse` pair served by the same service the
//! listener feeds. The request crosses once (method, raw headers, body bytes, peer address);
//! the response comes back as one object when its body is whole (JSON, errors) or as a head
//! plus chunks through one threadsafe function per server when it is an SSE stream. Node
//! closing the response aborts the stream's pump, which drops the body: the core sees it as
//! a dropped connection (cancellation, resumability).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
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
    /// Requests still being served, by the ticket JS gave them: dropping the sender (Node
    /// reports the client gone before the head) drops the service future, as hyper drops a
    /// closed connection's.
    requests: Mutex<HashMap<u32, tokio::sync::oneshot::Sender<()>>>,
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

    /// The client went away before the response head: the request is dropped, as a closed
    /// connection's is on the listener.
    pub fn cancel_serve(&self, ticket: u32) -> bool {
        self.inner.requests.lock().remove(&ticket).is_some()
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

/// Serves one request through the server's service; resolves with the response head (and the
/// whole body, or a stream id).
pub fn serve<'env>(
    env: &'env Env,
    server: &McpServer,
    streams: &HandlerStreams,
    request: HostRequest,
) -> Result<PromiseRaw<'env, ServedHead>> {
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
        builder = builder.extension(crate::transport::pipeline::HostPrincipal(
            std::sync::Arc::new(info),
        ));
    }
    let req = builder.body(Full::new(body)).map_err(err)?;
    let ip = remote_ip
        .parse::<IpAddr>()
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let service = server.service(SocketAddr::new(ip, u16::try_from(remote_port).unwrap_or(0)));
    let pumps = streams.clone();
    // One task serves the request and resolves the promise (no second task and channel hop on
    // the hot path); `cancel_serve` dropping the sender ends it, dropping the service future.
    let (cancel_tx, cancel_rx) = tokio::sync::oneshot::channel::<()>();
    let requests = streams.clone();
    requests.inner.requests.lock().insert(ticket, cancel_tx);
    env.spawn_future(async move {
        let serve = async move {
            let resp = service.handle(req).await;
            let (parts, mut body) = resp.into_parts();
            let mut headers = Vec::with_capacity(parts.headers.len() * 2);
            for (name, value) in &parts.headers {
                headers.push(name.as_str().to_owned());
                headers.push(String::from_utf8_lossy(value.as_bytes()).into_owned());
            }
            let status = u32::from(parts.status.as_u16());
            match body.take_whole() {
                Some(b) => Some(ServedHead {
                    status,
                    headers,
                    body: b.map(|b| String::from_utf8_lossy(&b).into_owned()),
                    stream: None,
                }),
                None => pumps.start(body).map(|id| ServedHead {
                    status,
                    headers,
                    body: None,
                    stream: Some(id),
                }),
            }
        };
        let head = tokio::select! {
            head = serve => Some(head),
            // Ok or Err alike: the sender is gone only through cancel_serve (or close).
            _ = cancel_rx => None,
        };
        requests.inner.requests.lock().remove(&ticket);
        match head {
            Some(Some(head)) => Ok(head),
            Some(None) => Err(Error::new(
                Status::GenericFailure,
                "no chunk sink registered",
            )),
            None => Err(Error::new(Status::Cancelled, "the client went away")),
        }
    })
}

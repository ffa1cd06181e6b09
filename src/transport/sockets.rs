//! Sockets, capped and timed separately from sessions (docs/hardening.md):
//! - every accepted socket is registered; over `max_sockets` the oldest idle (no request in
//!   flight) or stalled (a write that made no progress) socket is closed first, and a socket
//!   that finds no such room is closed at once, so stalled peers never stop the server from
//!   accepting;
//! - a write that makes no progress for `write_timeout` fails (a peer that stops reading is
//!   dropped), and stalled writers holding more than `stalled_budget` bytes between them are
//!   closed, the largest first;
//! - a socket with no request in flight is closed after `idle_timeout` (keep-alive idle);
//! - request bodies are read with an idle and a total timeout (`read_body`).
//!
//! A connection's task runs `serve(conn, &socket)`, which ends the connection when the socket
//! is killed; `Guarded` wraps its stream, `Tracked` wraps each response body.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// Limits of the socket layer; `Default` gives the documented defaults.
#[derive(Debug, Clone, Copy)]
pub struct SocketLimits {
    pub max_sockets: usize,
    pub write_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_idle_timeout: Duration,
    pub body_timeout: Duration,
    /// Bytes stalled writers may hold between them before the largest is closed.
    pub stalled_budget: u64,
}

impl Default for SocketLimits {
    fn default() -> Self {
        Self {
            max_sockets: default_max_sockets(),
            write_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(5),
            body_idle_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            stalled_budget: 32 * 1024 * 1024,
        }
    }
}

/// How long a write must have made no progress to count as stalled (for the cap and budget).
const STALLED_AFTER: Duration = Duration::from_millis(500);

/// The soft descriptor limit of the process, if it can be read.
pub fn fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we own and reads nothing else.
        let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
        if rc == 0 && rl.rlim_cur != libc::RLIM_INFINITY {
            #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
            return Some(rl.rlim_cur as u64);
        }
        None
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Sockets the server accepts at once: the descriptor limit less a quarter (at least 32) for
/// the rest of the process (Node, files, the listener), at least 16; 4096 when the limit is
/// unknown.
pub fn max_sockets_for(limit: Option<u64>) -> usize {
    match limit {
        Some(n) => {
            let headroom = (n / 4).max(32);
            n.saturating_sub(headroom).max(16) as usize
        }
        None => 4096,
    }
}

pub fn default_max_sockets() -> usize {
    max_sockets_for(fd_limit())
}

/// One accepted socket's shared state.
#[derive(Debug)]
pub struct Socket {
    id: u64,
    base: Instant,
    last_progress_ms: AtomicU64,
    /// Milliseconds (since `base`) at which a pending write began; 0 when none is pending.
    stalled_since_ms: AtomicU64,
    in_flight: AtomicUsize,
    /// Response bytes handed to the connection, and bytes written to the socket.
    yielded: AtomicU64,
    written: AtomicU64,
    killed: AtomicBool,
    kill: Notify,
}

impl Socket {
    fn now_ms(&self) -> u64 {
        (self.base.elapsed().as_millis() as u64).max(1)
    }

    fn progress(&self) {
        self.last_progress_ms
            .store(self.now_ms(), Ordering::Relaxed);
    }

    /// Ends the connection (its task drops it).
    pub fn kill(&self) {
        if !self.killed.swap(true, Ordering::AcqRel) {
            self.kill.notify_one();
        }
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// A request started on this socket; the guard ends it (put it in the response body).
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.progress();
        InFlight(self.clone())
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    fn idle_for(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.last_progress_ms.load(Ordering::Relaxed))
    }

    fn stalled_for(&self, now_ms: u64) -> Option<u64> {
        match self.stalled_since_ms.load(Ordering::Relaxed) {
            0 => None,
            t => Some(now_ms.saturating_sub(t)),
        }
    }

    fn pending(&self) -> u64 {
        self.yielded
            .load(Ordering::Relaxed)
            .saturating_sub(self.written.load(Ordering::Relaxed))
    }

    /// Resolves once the socket is killed.
    pub async fn killed(&self) {
        while !self.is_killed() {
            self.kill.notified().await;
        }
    }
}

/// A request in flight on a socket; dropped when its response body is done (or dropped).
#[derive(Debug)]
pub struct InFlight(Arc<Socket>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.progress();
    }
}

/// The registry of open sockets.
pub struct Sockets {
    limits: SocketLimits,
    base: Instant,
    next: AtomicU64,
    map: Mutex<HashMap<u64, Arc<Socket>>>,
}

/// What `sweep` closed, for the caller's log and tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub idle: usize,
    pub stalled: usize,
}

impl Sockets {
    pub fn new(limits: SocketLimits) -> Self {
        Self {
            limits,
            base: Instant::now(),
            next: AtomicU64::new(0),
            map: Mutex::new(HashMap::new()),
        }
    }

    pub fn limits(&self) -> &SocketLimits {
        &self.limits
    }

    fn now_ms(&self) -> u64 {
        (self.base.elapsed().as_millis() as u64).max(1)
    }

    /// Sockets registered and not killed.
    pub fn live(&self) -> usize {
        self.map.lock().values().filter(|s| !s.is_killed()).count()
    }

    /// Registers a new socket, closing the oldest idle or stalled one when at the cap.
    /// `None`: no room (every socket is busy and progressing); close the new one.
    pub fn admit(&self) -> Option<Arc<Socket>> {
        let now = self.now_ms();
        let mut map = self.map.lock();
        let live = map.values().filter(|s| !s.is_killed()).count();
        if live >= self.limits.max_sockets {
            let victim = map
                .values()
                .filter(|s| !s.is_killed())
                .filter(|s| {
                    s.in_flight() == 0
                        || s.stalled_for(now)
                            .is_some_and(|t| t >= STALLED_AFTER.as_millis() as u64)
                })
                // Idle ones before stalled ones, the longest without progress first.
                .min_by_key(|s| {
                    (
                        s.in_flight() > 0,
                        s.last_progress_ms.load(Ordering::Relaxed),
                    )
                });
            match victim {
                Some(v) => {
                    tracing::debug!(
                        socket = v.id,
                        "socket cap reached: closing an idle or stalled socket"
                    );
                    v.kill();
                }
                None => return None,
            }
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let s = Arc::new(Socket {
            id,
            base: self.base,
            last_progress_ms: AtomicU64::new(now),
            stalled_since_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            yielded: AtomicU64::new(0),
            written: AtomicU64::new(0),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
        });
        map.insert(id, s.clone());
        Some(s)
    }

    pub fn remove(&self, socket: &Socket) {
        let mut map = self.map.lock();
        map.remove(&socket.id);
        if map.is_empty() {
            map.shrink_to_fit();
        }
    }

    /// Closes keep-alive sockets idle past `idle_timeout`, and, while stalled writers hold
    /// more than `stalled_budget`, the one holding the most. Run it periodically.
    pub fn sweep(&self) -> Swept {
        let now = self.now_ms();
        let idle_ms = self.limits.idle_timeout.as_millis() as u64;
        let stall_ms = STALLED_AFTER.as_millis() as u64;
        let map = self.map.lock();
        let mut out = Swept::default();
        let mut stalled: Vec<(u64, &Arc<Socket>)> = Vec::new();
        for s in map.values().filter(|s| !s.is_killed()) {
            if s.in_flight() == 0 && s.idle_for(now) > idle_ms {
                s.kill();
                out.idle += 1;
            } else if s.stalled_for(now).is_some_and(|t| t >= stall_ms) {
                stalled.push((s.pending(), s));
            }
        }
        let mut total: u64 = stalled.iter().map(|(p, _)| p).sum();
        stalled.sort_by_key(|(pending, _)| std::cmp::Reverse(*pending));
        for (pending, s) in stalled {
            if total <= self.limits.stalled_budget {
                break;
            }
            s.kill();
            total -= pending;
            out.stalled += 1;
        }
        out
    }

    /// Kills every socket with no request in flight (shutdown: they are closed at once).
    pub fn kill_idle(&self) -> usize {
        let map = self.map.lock();
        let mut n = 0;
        for s in map
            .values()
            .filter(|s| s.in_flight() == 0 && !s.is_killed())
        {
            s.kill();
            n += 1;
        }
        n
    }

    /// Kills every socket (the end of the shutdown grace).
    pub fn kill_all(&self) {
        for s in self.map.lock().values() {
            s.kill();
        }
    }

    /// Whether any socket still has a request in flight.
    pub fn any_in_flight(&self) -> bool {
        self.map
            .lock()
            .values()
            .any(|s| s.in_flight() > 0 && !s.is_killed())
    }

    pub fn is_empty(&self) -> bool {
        self.map.lock().is_empty()
    }
}

/// Runs a connection until it ends or its socket is killed, then unregisters the socket.
pub async fn serve<F, E>(sockets: Arc<Sockets>, socket: Arc<Socket>, conn: F)
where
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    tokio::select! {
        r = conn => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        _ = socket.killed() => {
            tracing::debug!(socket = socket.id, "connection closed by the socket guard");
        }
    }
    sockets.remove(&socket);
}

/// A stream whose writes time out when they make no progress, and which records progress for
/// the registry.
pub struct Guarded<T> {
    inner: T,
    socket: Arc<Socket>,
    write_timeout: Duration,
    stall: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> Guarded<T> {
    pub fn new(inner: T, socket: Arc<Socket>, write_timeout: Duration) -> Self {
        Self {
            inner,
            socket,
            write_timeout,
            stall: None,
        }
    }

    fn on_written(&mut self, n: usize) {
        self.stall = None;
        self.socket.stalled_since_ms.store(0, Ordering::Relaxed);
        self.socket.written.fetch_add(n as u64, Ordering::Relaxed);
        self.socket.progress();
    }

    /// A write is pending: time it out if it has been for `write_timeout`.
    fn on_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.stall.is_none() {
            self.socket
                .stalled_since_ms
                .store(self.socket.now_ms(), Ordering::Relaxed);
            self.stall = Some(Box::pin(tokio::time::sleep(self.write_timeout)));
        }
        match self.stall.as_mut().map(|s| s.as_mut().poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the peer stopped reading",
            ))),
            _ => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.socket.progress();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                self.on_written(n);
                Poll::Ready(Ok(n))
            }
            Poll::Pending => self.on_pending(cx),
            other => other,
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(Ok(n)) => {
                self.on_written(n);
                Poll::Ready(Ok(n))
            }
            Poll::Pending => self.on_pending(cx),
            other => other,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A response body that keeps its request in flight until it is done, and counts the bytes
/// it hands to the connection (for the stalled-writer budget).
pub struct Tracked<B> {
    inner: B,
    socket: Arc<Socket>,
    _in_flight: InFlight,
}

impl<B> Tracked<B> {
    pub fn new(inner: B, in_flight: InFlight) -> Self {
        Self {
            inner,
            socket: in_flight.0.clone(),
            _in_flight: in_flight,
        }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Tracked<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(f))) = &r {
            if let Some(d) = f.data_ref() {
                self.socket
                    .yielded
                    .fetch_add(d.len() as u64, Ordering::Relaxed);
            }
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyReadError {
    #[error("the body exceeds {0} bytes")]
    TooLarge(usize),
    #[error("no body bytes for {0:?}")]
    Idle(Duration),
    #[error("the body took longer than {0:?}")]
    Total(Duration),
    #[error("the body could not be read: {0}")]
    Read(String),
}

/// Reads a whole request body, at most `max` bytes, with no gap between frames longer than
/// `idle` and no more than `total` in all.
///
/// The common request is one frame that hyper already holds when the service first asks: it is
/// returned as is (no copy), and no timer is armed for it. The first time the body is not ready
/// the task is woken once more instead of arming the timer, because hyper hands over buffered
/// body bytes on its next turn; only a body that is still missing then arms one deadline (the
/// earlier of the idle and the total limit), so a slow or stalled peer is still timed out.
pub async fn read_body<B>(
    body: B,
    max: usize,
    idle: Duration,
    total: Duration,
) -> Result<Bytes, BodyReadError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    read_body_since(body, max, idle, total, std::time::Instant::now()).await
}

/// [`read_body`] with the limits counted from `started`, a time the caller already read (the
/// metered request's arrival), so the request path reads the clock once less.
pub async fn read_body_since<B>(
    mut body: B,
    max: usize,
    idle: Duration,
    total: Duration,
    started: std::time::Instant,
) -> Result<Bytes, BodyReadError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // A body that announced its length gets its buffer at that size once it spans frames, so a
    // large body is not grown (and copied) by doubling; at most `max`, whatever it announced.
    let announced = body
        .size_hint()
        .exact()
        .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX).min(max));
    let started = tokio::time::Instant::from_std(started);
    let total_end = started + total;
    let mut idle_end = started + idle;
    let mut deadline: Option<Pin<Box<tokio::time::Sleep>>> = None;
    let mut spared_timer = false;
    let mut got = Collected::Empty;
    loop {
        let frame = std::future::poll_fn(|cx| {
            if let Poll::Ready(f) = Pin::new(&mut body).poll_frame(cx) {
                return Poll::Ready(Ok(f));
            }
            let end = idle_end.min(total_end);
            match deadline.as_mut() {
                None if !spared_timer => {
                    spared_timer = true;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                None => deadline = Some(Box::pin(tokio::time::sleep_until(end))),
                Some(d) if d.deadline() != end => d.as_mut().reset(end),
                Some(_) => {}
            }
            match deadline.as_mut().map(|d| d.as_mut().poll(cx)) {
                Some(Poll::Ready(())) => Poll::Ready(Err(())),
                _ => Poll::Pending,
            }
        })
        .await;
        match frame {
            Err(()) if idle_end <= total_end => return Err(BodyReadError::Idle(idle)),
            Err(()) => return Err(BodyReadError::Total(total)),
            Ok(None) => return Ok(got.finish()),
            Ok(Some(Err(e))) => return Err(BodyReadError::Read(e.into().to_string())),
            Ok(Some(Ok(f))) => {
                let Ok(d) = f.into_data() else { continue };
                if got.len() + d.len() > max {
                    return Err(BodyReadError::TooLarge(max));
                }
                got = got.push(d, announced);
                if body.is_end_stream() {
                    return Ok(got.finish());
                }
                idle_end = tokio::time::Instant::now() + idle;
            }
        }
    }
}

/// The body bytes read so far: the first frame is kept as is (no copy) until a second arrives.
enum Collected {
    Empty,
    One(Bytes),
    Many(bytes::BytesMut),
}

impl Collected {
    fn len(&self) -> usize {
        match self {
            Self::Empty => 0,
            Self::One(b) => b.len(),
            Self::Many(b) => b.len(),
        }
    }

    /// Adds a frame; `announced` is the body's announced length (0 if unknown).
    fn push(self, data: Bytes, announced: usize) -> Self {
        match self {
            Self::Empty => Self::One(data),
            Self::One(first) => {
                let mut all =
                    bytes::BytesMut::with_capacity((first.len() + data.len()).max(announced));
                all.extend_from_slice(&first);
                all.extend_from_slice(&data);
                Self::Many(all)
            }
            Self::Many(mut all) => {
                all.extend_from_slice(&data);
                Self::Many(all)
            }
        }
    }

    fn finish(self) -> Bytes {
        match self {
            Self::Empty => Bytes::new(),
            Self::One(b) => b,
            Self::Many(b) => b.freeze(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn limits(max: usize) -> SocketLimits {
        SocketLimits {
            max_sockets: max,
            write_timeout: Duration::from_millis(200),
            idle_timeout: Duration::from_millis(100),
            body_idle_timeout: Duration::from_millis(100),
            body_timeout: Duration::from_millis(300),
            stalled_budget: 1000,
        }
    }

    #[test]
    fn the_default_cap_leaves_headroom_under_the_descriptor_limit() {
        assert_eq!(max_sockets_for(Some(256)), 192);
        assert_eq!(max_sockets_for(Some(100)), 68);
        assert_eq!(max_sockets_for(Some(20)), 16);
        assert_eq!(max_sockets_for(Some(1 << 20)), 786_432);
        assert_eq!(max_sockets_for(None), 4096);
        assert!(fd_limit().is_some_and(|n| n > 0));
    }

    #[test]
    fn over_the_cap_the_oldest_idle_socket_goes_first_and_busy_ones_stay() {
        let s = Sockets::new(limits(2));
        let a = s.admit().unwrap();
        let b = s.admit().unwrap();
        let _busy = b.begin();
        let c = s.admit().unwrap();
        assert!(a.is_killed() && !b.is_killed() && !c.is_killed());
        s.remove(&a);
        // b busy, c idle: c goes.
        let d = s.admit().unwrap();
        assert!(c.is_killed() && !d.is_killed());
        // Both busy and progressing: no room, the newcomer is refused.
        let _busy_d = d.begin();
        assert!(s.admit().is_none());
        assert_eq!(s.live(), 2);
    }

    #[tokio::test]
    async fn idle_keep_alive_sockets_are_swept_and_requests_in_flight_are_not() {
        let s = Sockets::new(limits(10));
        let idle = s.admit().unwrap();
        let busy = s.admit().unwrap();
        let guard = busy.begin();
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(
            s.sweep(),
            Swept {
                idle: 1,
                stalled: 0
            }
        );
        assert!(idle.is_killed() && !busy.is_killed());
        drop(guard);
        assert_eq!(s.kill_idle(), 1);
        assert!(busy.is_killed());
        tokio::time::timeout(Duration::from_secs(1), busy.killed())
            .await
            .unwrap();
    }

    /// A loopback pair: (server side, client side).
    async fn pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (c, s) = tokio::join!(tokio::net::TcpStream::connect(addr), l.accept());
        (s.unwrap().0, c.unwrap())
    }

    #[tokio::test]
    async fn a_peer_that_stops_reading_times_the_write_out() {
        let s = Sockets::new(limits(10));
        let sock = s.admit().unwrap();
        let (server, mut client) = pair().await;
        let mut g = Guarded::new(server, sock.clone(), Duration::from_millis(200));
        let chunk = vec![0u8; 64 * 1024];
        let t0 = Instant::now();
        let mut sent = 0usize;
        let err = loop {
            match tokio::time::timeout(Duration::from_secs(5), g.write(&chunk)).await {
                Ok(Ok(n)) => sent += n,
                Ok(Err(e)) => break e,
                Err(_) => panic!("the write never timed out"),
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(t0.elapsed() < Duration::from_secs(3));
        assert_eq!(sock.written.load(Ordering::Relaxed), sent as u64);
        // A reader that reads keeps the writer going.
        let mut buf = vec![0u8; 1 << 20];
        let n = client.read(&mut buf).await.unwrap();
        assert!(n > 0);
    }

    #[tokio::test]
    async fn stalled_writers_past_the_budget_are_closed_largest_first() {
        let s = Sockets::new(limits(10));
        let small = s.admit().unwrap();
        let large = s.admit().unwrap();
        for (sock, pending) in [(&small, 600_u64), (&large, 900)] {
            sock.yielded.store(pending, Ordering::Relaxed);
            sock.stalled_since_ms.store(1, Ordering::Relaxed);
            let _keep = sock.begin();
            std::mem::forget(_keep);
        }
        tokio::time::sleep(STALLED_AFTER + Duration::from_millis(20)).await;
        assert_eq!(
            s.sweep(),
            Swept {
                idle: 0,
                stalled: 1
            }
        );
        assert!(large.is_killed() && !small.is_killed());
    }

    #[tokio::test]
    async fn request_bodies_have_an_idle_and_a_total_timeout() {
        use http_body_util::{Full, StreamBody};
        let ok = read_body(
            Full::new(Bytes::from_static(b"{}")),
            10,
            Duration::from_secs(1),
            Duration::from_secs(1),
        )
        .await
        .unwrap();
        assert_eq!(&ok[..], b"{}");
        let big = read_body(
            Full::new(Bytes::from_static(b"0123456789ab")),
            10,
            Duration::from_secs(1),
            Duration::from_secs(1),
        )
        .await;
        assert!(matches!(big, Err(BodyReadError::TooLarge(10))));
        // A body that sends one frame and then nothing.
        let (tx, rx) =
            tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::convert::Infallible>>(4);
        tx.send(Ok(Frame::data(Bytes::from_static(b"{"))))
            .await
            .unwrap();
        let stream = tokio_stream_from(rx);
        let idle = read_body(
            StreamBody::new(stream),
            100,
            Duration::from_millis(100),
            Duration::from_secs(5),
        )
        .await;
        assert!(matches!(idle, Err(BodyReadError::Idle(_))));
        drop(tx);
        // One that trickles a byte every 50 ms: never idle, but past the total.
        let (tx, rx) =
            tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::convert::Infallible>>(4);
        let feeder = tokio::spawn(async move {
            for _ in 0..100 {
                if tx
                    .send(Ok(Frame::data(Bytes::from_static(b" "))))
                    .await
                    .is_err()
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        let total = read_body(
            StreamBody::new(tokio_stream_from(rx)),
            1000,
            Duration::from_millis(200),
            Duration::from_millis(300),
        )
        .await;
        assert!(matches!(total, Err(BodyReadError::Total(_))));
        feeder.abort();
        // Frames are joined in order; a body that never sends a byte still times out (the
        // first pending poll spares the timer, the next one arms it).
        let (tx, rx) =
            tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::convert::Infallible>>(4);
        for part in [&b"{\"a\""[..], b":1", b"}"] {
            tx.send(Ok(Frame::data(Bytes::copy_from_slice(part))))
                .await
                .unwrap();
        }
        drop(tx);
        let joined = read_body(
            StreamBody::new(tokio_stream_from(rx)),
            100,
            Duration::from_secs(1),
            Duration::from_secs(1),
        )
        .await
        .unwrap();
        assert_eq!(&joined[..], b"{\"a\":1}");
        let (_silent, rx) =
            tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::convert::Infallible>>(1);
        let silent = read_body(
            StreamBody::new(tokio_stream_from(rx)),
            100,
            Duration::from_millis(100),
            Duration::from_secs(5),
        )
        .await;
        assert!(matches!(silent, Err(BodyReadError::Idle(_))));
    }

    /// A `Stream` over an mpsc receiver (no tokio-stream dependency).
    fn tokio_stream_from<T>(
        mut rx: tokio::sync::mpsc::Receiver<T>,
    ) -> impl futures_util::Stream<Item = T> + Unpin {
        Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
    }
}

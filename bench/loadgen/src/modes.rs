//! The workloads: closed-loop throughput over keep-alive connections (one 2025 session each, or
//! stateless 2026-07-28 requests), session churn, and the two memory holds.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::client::{find_result, Conn, Error, Headers, Result};
use crate::{Config, Mode};

const MODERN_VERSION: &str = "2026-07-28";
const ERROR_SAMPLES: usize = 8;

/// Errors by kind, with the first few details kept for the report.
#[derive(Default)]
struct ErrorLog {
    total: u64,
    kinds: BTreeMap<&'static str, u64>,
    samples: Vec<String>,
}

#[derive(Clone, Default)]
struct Errors(Arc<Mutex<ErrorLog>>);

impl Errors {
    fn record(&self, e: &Error) {
        if let Ok(mut log) = self.0.lock() {
            log.total += 1;
            *log.kinds.entry(e.kind).or_insert(0) += 1;
            if log.samples.len() < ERROR_SAMPLES {
                let mut d = format!("{}: {}", e.kind, e.detail);
                d.truncate(300);
                log.samples.push(d);
            }
        }
    }

    fn json(&self) -> (u64, Value, Value) {
        match self.0.lock() {
            Ok(log) => (log.total, json!(log.kinds), json!(log.samples)),
            Err(_) => (1, json!({"poisoned": 1}), json!([])),
        }
    }
}

/// A 2025 session on the server, its headers prebuilt.
#[derive(Clone)]
struct Session {
    id: HeaderValue,
    version: HeaderValue,
}

impl Session {
    fn headers(&self) -> Headers<'_> {
        Headers {
            session_id: Some(&self.id),
            protocol_version: Some(&self.version),
            ..Headers::default()
        }
    }
}

/// What a request must answer, checked on every response.
enum Expect {
    Object,
    Tools(usize),
    Echo(String),
    Discover,
}

#[derive(Deserialize)]
struct ToolsResult {
    tools: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct CallResult {
    content: Vec<Content>,
    #[serde(default, rename = "isError")]
    is_error: Option<bool>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct DiscoverResult {
    #[serde(rename = "supportedVersions")]
    supported_versions: Vec<String>,
}

#[derive(Deserialize)]
struct InitResult {
    #[serde(rename = "protocolVersion")]
    protocol_version: String,
}

fn verify(result: &str, expect: &Expect) -> Result<()> {
    let shape = |e: serde_json::Error| Error::new("result_shape", e.to_string());
    match expect {
        Expect::Object => {
            if result.trim_start().starts_with('{') {
                Ok(())
            } else {
                Err(Error::new("result_shape", "result is not an object"))
            }
        }
        Expect::Tools(n) => {
            let r: ToolsResult = serde_json::from_str(result).map_err(shape)?;
            if *n > 0 && r.tools.len() != *n {
                return Err(Error::new(
                    "result_value",
                    format!("{} tools, expected {n}", r.tools.len()),
                ));
            }
            Ok(())
        }
        Expect::Echo(text) => {
            let r: CallResult = serde_json::from_str(result).map_err(shape)?;
            if r.is_error == Some(true) {
                return Err(Error::new("tool_error", result.to_string()));
            }
            match r.content.first().and_then(|c| c.text.as_deref()) {
                Some(t) if t == text => Ok(()),
                other => Err(Error::new(
                    "result_value",
                    format!("echo returned {other:?}, expected {text:?}"),
                )),
            }
        }
        Expect::Discover => {
            let r: DiscoverResult = serde_json::from_str(result).map_err(shape)?;
            if r.supported_versions.iter().any(|v| v == MODERN_VERSION) {
                Ok(())
            } else {
                Err(Error::new(
                    "result_value",
                    format!("supportedVersions {:?}", r.supported_versions),
                ))
            }
        }
    }
}

/// One connection's client state: the connection (re-opened after a failure) and its id counter.
struct Client {
    cfg: Arc<Config>,
    conn: Option<Conn>,
    next_id: u64,
}

impl Client {
    fn new(cfg: Arc<Config>) -> Self {
        Client {
            cfg,
            conn: None,
            next_id: 1,
        }
    }

    async fn conn(&mut self) -> Result<&mut Conn> {
        if self.conn.as_ref().is_some_and(Conn::is_closed) {
            self.conn = None;
        }
        if self.conn.is_none() {
            self.conn = Some(Conn::connect(&self.cfg.target, self.cfg.timeout).await?);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| Error::new("connect", "no connection"))
    }

    fn id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    async fn post(&mut self, headers: &Headers<'_>, body: String) -> Result<crate::client::Reply> {
        let conn = self.conn().await?;
        let r = conn
            .request(Method::POST, headers, Some(Bytes::from(body)))
            .await;
        if r.is_err() {
            // Do not reuse a connection whose request failed half way.
            self.conn = None;
        }
        r
    }

    async fn initialize(&mut self) -> Result<Session> {
        let id = self.id();
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"initialize","params":{{"protocolVersion":"{}","capabilities":{{}},"clientInfo":{{"name":"mcp-loadgen","version":"0.1.0"}}}}}}"#,
            self.cfg.protocol_version
        );
        let reply = self.post(&Headers::default(), body).await?;
        let result = find_result(&reply, id)?;
        let init: InitResult = serde_json::from_str(&result)
            .map_err(|e| Error::new("result_shape", format!("initialize: {e}")))?;
        let sid = reply.session_id.ok_or_else(|| {
            Error::new("no_session", "initialize answered without Mcp-Session-Id")
        })?;
        let bad = |e: hyper::header::InvalidHeaderValue| Error::new("no_session", e.to_string());
        let session = Session {
            id: HeaderValue::from_str(&sid).map_err(bad)?,
            version: HeaderValue::from_str(&init.protocol_version).map_err(bad)?,
        };
        let reply = self
            .post(
                &session.headers(),
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.into(),
            )
            .await?;
        if reply.status != 202 {
            return Err(Error::new(
                "http_status",
                format!("notifications/initialized: status {}", reply.status),
            ));
        }
        Ok(session)
    }

    async fn delete(&mut self, session: &Session) -> Result<()> {
        let conn = self.conn().await?;
        let r = conn.request(Method::DELETE, &session.headers(), None).await;
        let reply = match r {
            Ok(r) => r,
            Err(e) => {
                self.conn = None;
                return Err(e);
            }
        };
        if !(200..300).contains(&reply.status) {
            return Err(Error::new(
                "http_status",
                format!("DELETE: status {}", reply.status),
            ));
        }
        Ok(())
    }

    /// One measured request of a throughput mode, verified.
    async fn call(&mut self, mode: Mode, session: Option<&Session>) -> Result<()> {
        let id = self.id();
        let meta = format!(
            r#""_meta":{{"io.modelcontextprotocol/protocolVersion":"{MODERN_VERSION}","io.modelcontextprotocol/clientCapabilities":{{}},"io.modelcontextprotocol/clientInfo":{{"name":"mcp-loadgen","version":"0.1.0"}}}}"#
        );
        let text = format!("t-{id}");
        let (method, name, body, expect) = match mode {
            Mode::Ping => (
                "ping",
                None,
                format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#),
                Expect::Object,
            ),
            Mode::ToolsList => (
                "tools/list",
                None,
                format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list"}}"#),
                Expect::Tools(self.cfg.expect_tools),
            ),
            Mode::ToolsCall | Mode::Churn => (
                "tools/call",
                Some("echo"),
                format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"{text}"}}}}}}"#
                ),
                Expect::Echo(text),
            ),
            Mode::ModernToolsList => (
                "tools/list",
                None,
                format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list","params":{{{meta}}}}}"#
                ),
                Expect::Tools(self.cfg.expect_tools),
            ),
            Mode::ModernToolsCall => (
                "tools/call",
                Some("echo"),
                format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"{text}"}},{meta}}}}}"#
                ),
                Expect::Echo(text),
            ),
            Mode::ModernDiscover => (
                "server/discover",
                None,
                format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"method":"server/discover","params":{{{meta}}}}}"#
                ),
                Expect::Discover,
            ),
            Mode::IdleSessions | Mode::SseStreams => {
                return Err(Error::new("internal", "not a request mode"))
            }
        };
        let modern = matches!(
            mode,
            Mode::ModernToolsList | Mode::ModernToolsCall | Mode::ModernDiscover
        );
        let modern_version = HeaderValue::from_static(MODERN_VERSION);
        let headers = if modern {
            Headers {
                protocol_version: Some(&modern_version),
                mcp_method: Some(method),
                mcp_name: name,
                ..Headers::default()
            }
        } else {
            session.map(Session::headers).unwrap_or_default()
        };
        let reply = self.post(&headers, body).await?;
        let result = find_result(&reply, id)?;
        verify(&result, &expect)
    }
}

fn is_modern(mode: Mode) -> bool {
    matches!(
        mode,
        Mode::ModernToolsList | Mode::ModernToolsCall | Mode::ModernDiscover
    )
}

/// The memory modes, on the caller's (multi-thread) runtime.
pub async fn run_memory(cfg: &Config) -> std::result::Result<Value, String> {
    let cfg = Arc::new(cfg.clone());
    memory(cfg.clone(), cfg.mode == Mode::SseStreams).await
}

struct WorkerOut {
    latencies_us: Vec<u32>,
    ok: u64,
    /// When the measured loop ended (before the session's DELETE).
    done: Instant,
}

/// When the measured window opens and closes, fixed once every thread has set up.
#[derive(Clone, Copy)]
struct Window {
    measure_start: Instant,
    deadline: Instant,
}

/// Closed loop: each connection sends its next request when the last one is answered. One OS
/// thread per CPU, each with a current-thread runtime and its share of the connections (no
/// cross-thread wake-ups on the hot path).
pub fn run_throughput(cfg: &Config) -> std::result::Result<Value, String> {
    let cfg = Arc::new(cfg.clone());
    let errors = Errors::default();
    let threads = cfg.threads.min(cfg.connections).max(1);
    let issued = Arc::new(AtomicU64::new(0));
    let set_up = Arc::new(std::sync::Barrier::new(threads + 1));
    let go = Arc::new(std::sync::Barrier::new(threads + 1));
    let window: Arc<std::sync::OnceLock<Window>> = Arc::new(std::sync::OnceLock::new());
    let clients_ready = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut handles = Vec::with_capacity(threads);
    for t in 0..threads {
        let share = cfg.connections / threads + usize::from(t < cfg.connections % threads);
        let (cfg, errors, issued) = (cfg.clone(), errors.clone(), issued.clone());
        let (set_up, go, window, clients_ready) = (
            set_up.clone(),
            go.clone(),
            window.clone(),
            clients_ready.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name(format!("loadgen-{t}"))
            .spawn(move || -> Vec<WorkerOut> {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        errors.record(&Error::new("runtime", e.to_string()));
                        set_up.wait();
                        go.wait();
                        return Vec::new();
                    }
                };
                let clients = rt.block_on(set_up_clients(&cfg, share, &errors));
                clients_ready.fetch_add(clients.len(), Ordering::Relaxed);
                set_up.wait();
                go.wait();
                let Some(w) = window.get().copied() else {
                    return Vec::new();
                };
                rt.block_on(async {
                    let mut tasks = Vec::with_capacity(clients.len());
                    for (client, session) in clients {
                        let (cfg, errors, issued) = (cfg.clone(), errors.clone(), issued.clone());
                        tasks.push(tokio::spawn(worker(
                            cfg, client, session, w, issued, errors,
                        )));
                    }
                    let mut outs = Vec::with_capacity(tasks.len());
                    for t in tasks {
                        match t.await {
                            Ok(o) => outs.push(o),
                            Err(e) => errors.record(&Error::new("worker_panic", e.to_string())),
                        }
                    }
                    outs
                })
            });
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => return Err(format!("thread: {e}")),
        }
    }
    set_up.wait();
    let setup_ms = started.elapsed().as_secs_f64() * 1000.0;
    let measure_start = Instant::now() + cfg.warmup;
    let _ = window.set(Window {
        measure_start,
        deadline: measure_start + cfg.duration,
    });
    go.wait();
    let mut lat = Vec::new();
    let mut ok = 0u64;
    let mut end = measure_start;
    for h in handles {
        match h.join() {
            Ok(outs) => {
                for out in outs {
                    ok += out.ok;
                    end = end.max(out.done);
                    lat.extend(out.latencies_us);
                }
            }
            Err(_) => errors.record(&Error::new("worker_panic", "a load thread panicked")),
        }
    }
    if clients_ready.load(Ordering::Relaxed) == 0 {
        let (total, kinds, samples) = errors.json();
        return Err(format!(
            "no connection could be set up ({total} errors: {kinds} {samples})"
        ));
    }
    let window = end.saturating_duration_since(measure_start).as_secs_f64();
    lat.sort_unstable();
    let (total, kinds, samples) = errors.json();
    Ok(json!({
        "mode": cfg.mode.name(),
        "url": cfg.url,
        "connections": cfg.connections,
        "threads": threads,
        "setup_ms": round(setup_ms),
        "ok": ok,
        "errors": total,
        "error_kinds": kinds,
        "error_samples": samples,
        "seconds": round(window),
        "rps": if window > 0.0 { round(ok as f64 / window) } else { 0.0 },
        "p50_us": pct(&lat, 0.50),
        "p90_us": pct(&lat, 0.90),
        "p99_us": pct(&lat, 0.99),
        "max_us": lat.last().copied().unwrap_or(0),
    }))
}

/// Connects `n` clients; each opens its 2025 session first (not for churn or the modern era).
async fn set_up_clients(
    cfg: &Arc<Config>,
    n: usize,
    errors: &Errors,
) -> Vec<(Client, Option<Session>)> {
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let cfg = cfg.clone();
        let errors = errors.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = Client::new(cfg.clone());
            let needs_session = !is_modern(cfg.mode) && cfg.mode != Mode::Churn;
            for _attempt in 0..3 {
                let r = if needs_session {
                    client.initialize().await.map(Some)
                } else {
                    client.conn().await.map(|_| None)
                };
                match r {
                    Ok(session) => return Some((client, session)),
                    Err(e) => {
                        errors.record(&e);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            None
        }));
    }
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        if let Ok(Some(c)) = t.await {
            out.push(c);
        }
    }
    out
}

async fn worker(
    cfg: Arc<Config>,
    mut client: Client,
    session: Option<Session>,
    w: Window,
    issued: Arc<AtomicU64>,
    errors: Errors,
) -> WorkerOut {
    let mut out = WorkerOut {
        latencies_us: Vec::with_capacity(4096),
        ok: 0,
        done: w.measure_start,
    };
    loop {
        let now = Instant::now();
        if now >= w.deadline {
            break;
        }
        let measuring = now >= w.measure_start;
        if measuring && issued.fetch_add(1, Ordering::Relaxed) >= cfg.requests {
            break;
        }
        let r = if cfg.mode == Mode::Churn {
            churn_once(&mut client).await
        } else {
            client.call(cfg.mode, session.as_ref()).await
        };
        match r {
            Ok(()) => {
                if measuring {
                    let us = now.elapsed().as_micros().min(u32::MAX as u128) as u32;
                    out.latencies_us.push(us);
                    out.ok += 1;
                }
            }
            Err(e) => {
                errors.record(&e);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    out.done = Instant::now();
    if let Some(s) = session.as_ref() {
        if let Err(e) = client.delete(s).await {
            errors.record(&e);
        }
    }
    out
}

/// initialize + notifications/initialized, one echo call, DELETE.
async fn churn_once(client: &mut Client) -> Result<()> {
    let session = client.initialize().await?;
    let r = client.call(Mode::ToolsCall, Some(&session)).await;
    let d = client.delete(&session).await;
    r?;
    d
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn pct(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn vm_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Opens `count` sessions over `cfg.connections` connections; failures are recorded.
async fn open_sessions(cfg: &Arc<Config>, count: usize, errors: &Errors) -> Vec<Session> {
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + cfg.duration.max(Duration::from_secs(60));
    let mut tasks = Vec::new();
    for _ in 0..cfg.connections.min(count.max(1)) {
        let cfg = cfg.clone();
        let next = next.clone();
        let errors = errors.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = Client::new(cfg);
            let mut sessions = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < count && Instant::now() < deadline {
                match client.initialize().await {
                    Ok(s) => sessions.push(s),
                    Err(e) => {
                        errors.record(&e);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
            sessions
        }));
    }
    let mut all = Vec::with_capacity(count);
    for t in tasks {
        if let Ok(s) = t.await {
            all.extend(s);
        }
    }
    all
}

async fn delete_sessions(cfg: &Arc<Config>, sessions: Vec<Session>, errors: &Errors) -> usize {
    let sessions = Arc::new(sessions);
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut tasks = Vec::new();
    for _ in 0..cfg.connections.min(sessions.len().max(1)) {
        let cfg = cfg.clone();
        let next = next.clone();
        let sessions = sessions.clone();
        let errors = errors.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = Client::new(cfg);
            let mut done = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(s) = sessions.get(i) else { break };
                if Instant::now() >= deadline {
                    break;
                }
                match client.delete(s).await {
                    Ok(()) => done += 1,
                    Err(e) => errors.record(&e),
                }
            }
            done
        }));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await.unwrap_or(0);
    }
    done
}

/// A GET stream held open: its connection and the unread response.
type Stream = (Conn, hyper::Response<hyper::body::Incoming>);

async fn open_streams(cfg: &Arc<Config>, sessions: &[Session], errors: &Errors) -> Vec<Stream> {
    let sessions = Arc::new(sessions.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut tasks = Vec::new();
    for _ in 0..cfg.connections.min(sessions.len().max(1)) {
        let cfg = cfg.clone();
        let next = next.clone();
        let sessions = sessions.clone();
        let errors = errors.clone();
        tasks.push(tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(s) = sessions.get(i) else { break };
                if Instant::now() >= deadline {
                    break;
                }
                match open_stream(&cfg, s).await {
                    Ok(h) => held.push(h),
                    Err(e) => errors.record(&e),
                }
            }
            held
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        if let Ok(h) = t.await {
            all.extend(h);
        }
    }
    all
}

async fn open_stream(cfg: &Config, s: &Session) -> Result<Stream> {
    let mut conn = Conn::connect(&cfg.target, cfg.timeout).await?;
    let headers = Headers {
        sse_only: true,
        ..s.headers()
    };
    let res = conn.open_stream(&headers).await?;
    if res.status().as_u16() != 200 {
        return Err(Error::new(
            "http_status",
            format!("GET stream: status {}", res.status()),
        ));
    }
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("text/event-stream") {
        return Err(Error::new(
            "content_type",
            format!("GET stream: content-type {ct:?}"),
        ));
    }
    Ok((conn, res))
}

/// idle-sessions / sse-streams: open, sample the server's RSS, hold, close.
async fn memory(cfg: Arc<Config>, streams: bool) -> std::result::Result<Value, String> {
    let errors = Errors::default();
    // Warm the server up (code paths, allocator arenas) so the baseline is not a cold process.
    if cfg.warmup_sessions > 0 {
        let warm = open_sessions(&cfg, cfg.warmup_sessions, &errors).await;
        if streams {
            let held = open_streams(&cfg, &warm[..warm.len().min(64)], &errors).await;
            drop(held);
        }
        delete_sessions(&cfg, warm, &errors).await;
    }
    tokio::time::sleep(cfg.settle).await;
    let rss_base = cfg.server_pid.and_then(vm_rss_kb);
    let t0 = Instant::now();
    let sessions = open_sessions(&cfg, cfg.count, &errors).await;
    let open_s = t0.elapsed().as_secs_f64();
    let held = if streams {
        open_streams(&cfg, &sessions, &errors).await
    } else {
        Vec::new()
    };
    let opened = if streams { held.len() } else { sessions.len() };
    tokio::time::sleep(cfg.settle).await;
    let rss_loaded = cfg.server_pid.and_then(vm_rss_kb);
    eprintln!(
        "READY {} {} open; server VmRSS {:?} kB (baseline {:?} kB)",
        opened,
        if streams { "GET streams" } else { "sessions" },
        rss_loaded,
        rss_base
    );
    if cfg.hold_stdin {
        let max = cfg.hold_max;
        let _ = tokio::time::timeout(
            max,
            tokio::task::spawn_blocking(|| {
                let mut line = String::new();
                let _ = std::io::stdin().read_line(&mut line);
            }),
        )
        .await;
    }
    let streams_held = held.len();
    drop(held);
    let deleted = delete_sessions(&cfg, sessions, &errors).await;
    let per_session = match (rss_base, rss_loaded) {
        (Some(b), Some(l)) if opened > 0 => {
            Some(((l as f64 - b as f64) * 1024.0 / opened as f64).round())
        }
        _ => None,
    };
    let (total, kinds, samples) = errors.json();
    let wanted = cfg.count;
    let missing = wanted.saturating_sub(opened) as u64;
    Ok(json!({
        "mode": cfg.mode.name(),
        "url": cfg.url,
        "connections": cfg.connections,
        "requested": wanted,
        "opened": opened,
        "streams": streams_held,
        "deleted": deleted,
        "open_seconds": round(open_s),
        "sessions_per_s": if open_s > 0.0 { round(opened as f64 / open_s) } else { 0.0 },
        "rss_base_kb": rss_base,
        "rss_loaded_kb": rss_loaded,
        "bytes_per_session": per_session,
        "errors": total,
        "missing": missing,
        "error_kinds": kinds,
        "error_samples": samples,
    }))
}

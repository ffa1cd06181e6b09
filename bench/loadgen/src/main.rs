//! mcp-loadgen: a load generator that speaks MCP Streamable HTTP (2025 sessions and the stateless
//! 2026-07-28 era) over keep-alive HTTP/1.1 connections, verifies every response and reports one
//! JSON object on stdout for the bench runner.
//!
//! ```text
//! mcp-loadgen <mode> --url http://127.0.0.1:PORT/mcp [options]
//! modes: ping | tools-list | tools-call | churn | idle-sessions | sse-streams
//!        | modern-tools-list | modern-tools-call | modern-discover
//! ```
//! See `--help` for the options. Every run is bounded by a request count and a time limit.

mod client;
mod modes;

use std::time::Duration;

pub use client::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Ping,
    ToolsList,
    ToolsCall,
    Churn,
    IdleSessions,
    SseStreams,
    ModernToolsList,
    ModernToolsCall,
    ModernDiscover,
}

impl Mode {
    fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "ping" => Mode::Ping,
            "tools-list" => Mode::ToolsList,
            "tools-call" => Mode::ToolsCall,
            "churn" => Mode::Churn,
            "idle-sessions" => Mode::IdleSessions,
            "sse-streams" => Mode::SseStreams,
            "modern-tools-list" => Mode::ModernToolsList,
            "modern-tools-call" => Mode::ModernToolsCall,
            "modern-discover" => Mode::ModernDiscover,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Ping => "ping",
            Mode::ToolsList => "tools-list",
            Mode::ToolsCall => "tools-call",
            Mode::Churn => "churn",
            Mode::IdleSessions => "idle-sessions",
            Mode::SseStreams => "sse-streams",
            Mode::ModernToolsList => "modern-tools-list",
            Mode::ModernToolsCall => "modern-tools-call",
            Mode::ModernDiscover => "modern-discover",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub target: std::sync::Arc<client::Target>,
    pub url: String,
    pub connections: usize,
    pub requests: u64,
    pub duration: Duration,
    pub warmup: Duration,
    pub timeout: Duration,
    pub count: usize,
    pub warmup_sessions: usize,
    pub settle: Duration,
    pub server_pid: Option<u32>,
    pub hold_stdin: bool,
    pub hold_max: Duration,
    pub expect_tools: usize,
    pub protocol_version: String,
    pub threads: usize,
}

const USAGE: &str = "usage: mcp-loadgen <mode> --url http://127.0.0.1:PORT/mcp [options]
modes: ping | tools-list | tools-call | churn | idle-sessions | sse-streams
       | modern-tools-list | modern-tools-call | modern-discover
options:
  --connections N      keep-alive connections, one 2025 session each (default 64)
  --bearer TOKEN       send Authorization: Bearer TOKEN on every request
  --requests N         measured requests (sessions for churn) at most (default 200000)
  --duration SECS      measured time at most (default 10)
  --warmup SECS        unmeasured warm-up before it (default 1)
  --timeout-ms MS      per-request timeout (default 10000)
  --count N            sessions (idle-sessions) or GET streams (sse-streams) to open (default 1000)
  --warmup-sessions N  sessions opened and deleted before the memory baseline (default 200)
  --settle-ms MS       pause before each RSS sample (default 1000)
  --server-pid PID     sample VmRSS of this process (memory modes)
  --hold-stdin         memory modes: after reporting ready on stderr, wait for a line on stdin
  --hold-max SECS      longest hold (default 60)
  --expect-tools N     tools/list must return N tools (default: not checked)
  --protocol-version V 2025 revision sent in initialize (default 2025-11-25)
  --threads N          tokio worker threads (default: the CPUs this process may use)
The report is one JSON object on stdout; the exit code is 0 even with errors (the runner decides),
2 on bad arguments, 3 if the run could not start at all.";

fn parse_args() -> std::result::Result<Config, String> {
    let mut args = std::env::args().skip(1);
    let mode_name = args.next().ok_or_else(|| USAGE.to_string())?;
    if mode_name == "--help" || mode_name == "-h" {
        return Err(USAGE.to_string());
    }
    let mode =
        Mode::parse(&mode_name).ok_or_else(|| format!("unknown mode {mode_name}\n{USAGE}"))?;
    let mut url = None;
    let threads_default = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut cfg = Config {
        mode,
        target: std::sync::Arc::new(client::Target::parse("http://127.0.0.1:1/")?),
        url: String::new(),
        connections: 64,
        requests: 200_000,
        duration: Duration::from_secs(10),
        warmup: Duration::from_secs(1),
        timeout: Duration::from_millis(10_000),
        count: 1000,
        warmup_sessions: 200,
        settle: Duration::from_millis(1000),
        server_pid: None,
        hold_stdin: false,
        hold_max: Duration::from_secs(60),
        expect_tools: 0,
        protocol_version: "2025-11-25".into(),
        threads: threads_default,
    };
    fn num<T: std::str::FromStr>(name: &str, v: Option<String>) -> std::result::Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        let v = v.ok_or_else(|| format!("{name} needs a value"))?;
        v.parse().map_err(|e| format!("{name} {v}: {e}"))
    }
    fn secs(name: &str, v: Option<String>) -> std::result::Result<Duration, String> {
        let s: f64 = num(name, v)?;
        if !(0.0..=3600.0).contains(&s) {
            return Err(format!("{name}: 0..3600 seconds"));
        }
        Ok(Duration::from_secs_f64(s))
    }
    let mut bearer: Option<String> = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--url" => url = Some(args.next().ok_or("--url needs a value")?),
            "--connections" => cfg.connections = num(&arg, args.next())?,
            "--requests" => cfg.requests = num(&arg, args.next())?,
            "--duration" => cfg.duration = secs(&arg, args.next())?,
            "--warmup" => cfg.warmup = secs(&arg, args.next())?,
            "--timeout-ms" => cfg.timeout = Duration::from_millis(num(&arg, args.next())?),
            "--count" => cfg.count = num(&arg, args.next())?,
            "--warmup-sessions" => cfg.warmup_sessions = num(&arg, args.next())?,
            "--settle-ms" => cfg.settle = Duration::from_millis(num(&arg, args.next())?),
            "--server-pid" => cfg.server_pid = Some(num(&arg, args.next())?),
            "--hold-stdin" => cfg.hold_stdin = true,
            "--hold-max" => cfg.hold_max = secs(&arg, args.next())?,
            "--expect-tools" => cfg.expect_tools = num(&arg, args.next())?,
            "--protocol-version" => {
                cfg.protocol_version = args.next().ok_or("--protocol-version needs a value")?
            }
            "--threads" => cfg.threads = num(&arg, args.next())?,
            "--bearer" => bearer = Some(args.next().ok_or("--bearer needs a token")?),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let url = url.ok_or("--url is required")?;
    let mut target = client::Target::parse(&url)?;
    if let Some(t) = bearer {
        target.authorization = Some(
            hyper::header::HeaderValue::from_str(&format!("Bearer {t}"))
                .map_err(|e| format!("--bearer: {e}"))?,
        );
    }
    cfg.target = std::sync::Arc::new(target);
    cfg.url = url;
    if cfg.connections == 0 || cfg.connections > 4096 {
        return Err("--connections: 1..4096".into());
    }
    if cfg.count > 100_000 {
        return Err("--count: at most 100000".into());
    }
    if cfg.requests > 50_000_000 {
        return Err("--requests: at most 50000000".into());
    }
    cfg.threads = cfg.threads.clamp(1, 64);
    Ok(cfg)
}

fn main() {
    let cfg = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let report = if matches!(cfg.mode, Mode::IdleSessions | Mode::SseStreams) {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cfg.threads)
            .enable_all()
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                eprintln!("mcp-loadgen: runtime: {e}");
                std::process::exit(3);
            }
        };
        // A hard bound on the whole run, whatever the server does.
        let limit = cfg.duration + cfg.hold_max + Duration::from_secs(180);
        let r = runtime.block_on(async {
            match tokio::time::timeout(limit, modes::run_memory(&cfg)).await {
                Ok(r) => r,
                Err(_) => Err(format!("run exceeded its hard time limit of {limit:?}")),
            }
        });
        runtime.shutdown_timeout(Duration::from_millis(200));
        r
    } else {
        // Bounded by the window (warm-up + duration) and each request's timeout.
        modes::run_throughput(&cfg)
    };
    match report {
        Ok(json) => println!("{json}"),
        Err(e) => {
            eprintln!("mcp-loadgen: {e}");
            let fail = serde_json::json!({ "mode": cfg.mode.name(), "url": cfg.url, "fatal": e });
            println!("{fail}");
            std::process::exit(3);
        }
    }
}

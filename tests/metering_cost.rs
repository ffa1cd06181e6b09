//! What metering adds to one request through the service, metrics on against off, both
//! measured in the same process in alternating blocks (ignored: a measurement, run with
//! `cargo test --release --no-default-features --test metering_cost -- --ignored --nocapture`).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use mcp_swagger_native::telemetry::Metrics;

fn request(body: &'static str, modern: bool) -> Request<Full<Bytes>> {
    let mut req = Request::builder()
        .method("POST")
        .uri("/mcp")
        .header("host", "127.0.0.1:3322")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if modern {
        req = req
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/list");
    }
    req.body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("a request")
}

async fn block(h: &common::Harness, n: u32) -> Duration {
    const BODY: &str = r#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"m","version":"2"}}}}"#;
    let started = Instant::now();
    for _ in 0..n {
        let resp = h.svc.handle(request(BODY, true)).await;
        let body = resp.into_body().collect().await.expect("a body").to_bytes();
        assert!(body.starts_with(b"{\"jsonrpc\""));
    }
    started.elapsed()
}

#[tokio::test(flavor = "current_thread")]
#[ignore]
async fn metering_cost_modern_tools_list() {
    let off = common::harness();
    let mut cfg = common::config();
    cfg.metrics = Some(Arc::new(Metrics::new()));
    let on = common::harness_with(cfg);
    block(&off, 20_000).await;
    block(&on, 20_000).await;
    let (mut t_off, mut t_on) = (Duration::ZERO, Duration::ZERO);
    let n = 10_000;
    let rounds = 40;
    for _ in 0..rounds {
        t_off += block(&off, n).await;
        t_on += block(&on, n).await;
    }
    let total = f64::from(n * rounds);
    let (a, b) = (
        t_off.as_nanos() as f64 / total,
        t_on.as_nanos() as f64 / total,
    );
    println!(
        "modern tools/list: off {a:.0} ns, on {b:.0} ns per request, +{:.0} ns ({:+.1}%)",
        b - a,
        (b / a - 1.0) * 100.0
    );
}

/// Only the metered variant, for a profiler: `METERING_LOOP=on|off`.
#[tokio::test(flavor = "current_thread")]
#[ignore]
async fn metering_loop() {
    let on = std::env::var("METERING_LOOP").as_deref() == Ok("on");
    let mut cfg = common::config();
    if on {
        cfg.metrics = Some(Arc::new(Metrics::new()));
    }
    let h = common::harness_with(cfg);
    let t = block(&h, 1_000_000).await;
    println!("{} ns per request", t.as_nanos() / 1_000_000);
}

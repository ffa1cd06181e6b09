//! Fuzzing through the service seam: arbitrary methods, paths, headers and bodies (valid
//! envelopes of both eras, mutated ones and junk) handed to `McpService`, with the invariants a
//! hostile client must never break: no panic, no hang, a status the transport documents
//! (docs/errors.md), a JSON-RPC error body with a known code on every JSON refusal, -32700 for a
//! body that is not JSON when nothing else is wrong, and a good request served after every case.
//! A bounded run is part of `cargo test`; `npm run fuzz` scales it with `HARDENING_FUZZ_CASES`.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::OnceLock;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::Request;
use proptest::prelude::*;
use serde_json::Value;

use common::{harness_with, Harness, META};

fn cases() -> u32 {
    std::env::var("HARDENING_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(|n: u32| n / 8)
        .unwrap_or(48)
        .max(16)
}

/// Statuses the transport answers with (docs/errors.md); a 500 would be a bug.
const STATUSES: &[u16] = &[
    200, 202, 204, 400, 401, 403, 404, 405, 406, 408, 409, 410, 413, 415, 429, 503,
];

/// JSON-RPC error codes the server uses.
/// JSON-RPC error codes the server uses (docs/errors.md), and -32050, the harness's `fail`
/// tool's own code.
const CODES: &[i64] = &[
    -32700, -32600, -32601, -32602, -32603, -32000, -32001, -32002, -32020, -32021, -32022, -32050,
];

struct World {
    rt: tokio::runtime::Runtime,
    h: Harness,
    /// A live 2025-06-18 session the cases may name (a DELETE case may end it).
    session: std::sync::Mutex<String>,
}

/// The tests share one server; one at a time, so that a case never ends the session another
/// test is using.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (h, session) = rt.block_on(async {
            let mut cfg = common::config();
            // Cases open sessions and sessionless records; the good request must never be the
            // one refused for room.
            cfg.max_connections = 1_000_000;
            cfg.callback_timeout = Some(Duration::from_secs(2));
            let h = harness_with(cfg);
            let session = h.initialize("2025-06-18", "{}").await;
            (h, session)
        });
        World {
            rt,
            h,
            session: std::sync::Mutex::new(session),
        }
    })
}

/// A request a hostile client could send.
#[derive(Debug, Clone)]
struct Case {
    method: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Vec<u8>,
    /// The body is one of the valid envelopes, unmutated.
    intact: bool,
}

/// Junk that trips parsers: long runs, separators, non-ASCII, control characters.
fn junk() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..24),
        "[ -~]{0,40}".prop_map(String::into_bytes),
        Just(b"0-18446744073709551615".to_vec()),
        Just(vec![b'a'; 9000]),
        Just("é\u{0}\u{7f}".as_bytes().to_vec()),
    ]
}

fn header() -> impl Strategy<Value = (&'static str, Vec<u8>)> {
    let v = |xs: &'static [&'static str]| {
        prop_oneof![
            4 => prop::sample::select(xs).prop_map(|s| s.as_bytes().to_vec()),
            1 => junk(),
        ]
    };
    prop_oneof![
        (
            Just("accept"),
            v(&[
                "application/json, text/event-stream",
                "application/json",
                "text/event-stream",
                "*/*",
                ""
            ])
        ),
        (
            Just("content-type"),
            v(&[
                "application/json",
                "text/plain",
                "application/json; charset=utf-8",
                ""
            ])
        ),
        (
            Just("mcp-protocol-version"),
            v(&[
                "2025-06-18",
                "2025-03-26",
                "2025-11-25",
                "2026-07-28",
                "1999-01-01"
            ])
        ),
        (Just("mcp-session-id"), v(&["SESSION", "nope", ""])),
        (
            Just("mcp-method"),
            v(&["tools/call", "tools/list", "initialize", "ping"])
        ),
        (
            Just("mcp-name"),
            v(&["echo", "fail", "nope", "=?base64?ZWNobw==?="])
        ),
        (
            Just("last-event-id"),
            v(&["0-1", "1-0", "0-18446744073709551615", "x", "1-+2"])
        ),
        (
            Just("origin"),
            v(&[
                "http://127.0.0.1:3322",
                "http://evil.example",
                "null",
                "http://localhost:8080"
            ])
        ),
        (
            Just("host"),
            v(&["127.0.0.1:3322", "evil.example", "localhost"])
        ),
        (Just("x-forwarded-for"), v(&["10.0.0.1", "::1, 1.2.3.4"])),
        (Just("content-length"), v(&["0", "5", "99999999999"])),
    ]
}

/// Valid envelopes of both eras.
fn envelope() -> impl Strategy<Value = String> {
    let id = prop_oneof![
        any::<i32>().prop_map(|n| n.to_string()),
        "[a-z0-9]{0,6}".prop_map(|s| format!("\"{s}\"")),
    ];
    let tool = prop::sample::select(&["echo", "fail", "progress", "ask", "nope"][..]);
    (id, tool, 0..9u8).prop_map(|(id, tool, which)| match which {
        0 => format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"initialize","params":{{"protocolVersion":"2025-06-18","capabilities":{{}},"clientInfo":{{"name":"f","version":"1"}}}}}}"#),
        1 => format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{{"text":"t"}}}}}}"#),
        2 => format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{{"text":"t"}},{META}}}}}"#),
        3 => format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list","params":{{{META}}}}}"#),
        4 => format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#),
        5 => r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_owned(),
        6 => format!(r#"[{{"jsonrpc":"2.0","id":{id},"method":"ping"}},{{"jsonrpc":"2.0","method":"notifications/initialized"}}]"#),
        7 => format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"resources/subscribe","params":{{"uri":"mem://a"}}}}"#),
        _ => format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#),
    })
}

/// A body: an intact envelope, a mutated one (cut, spliced with junk), or junk.
fn body() -> impl Strategy<Value = (Vec<u8>, bool)> {
    prop_oneof![
        3 => envelope().prop_map(|e| (e.into_bytes(), true)),
        3 => (envelope(), any::<prop::sample::Index>(), junk()).prop_map(|(e, at, j)| {
            let mut b = e.into_bytes();
            let i = at.index(b.len() + 1);
            b.splice(i..i, j);
            (b, false)
        }),
        1 => (envelope(), any::<prop::sample::Index>()).prop_map(|(e, at)| {
            let mut b = e.into_bytes();
            b.truncate(at.index(b.len()));
            (b, false)
        }),
        1 => junk().prop_map(|j| (j, false)),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::sample::select(
            &[
                "POST", "POST", "POST", "GET", "DELETE", "PUT", "OPTIONS", "HEAD",
            ][..],
        ),
        prop::sample::select(&["/mcp", "/mcp", "/mcp", "/mcp?x=1", "/nope", "/"][..]),
        prop::collection::vec(header(), 0..6),
        body(),
    )
        .prop_map(|(method, path, headers, (body, intact))| Case {
            method,
            path,
            headers,
            body,
            intact,
        })
}

struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

/// Sends a case; the body is read for at most 1 s (an SSE stream may stay open).
async fn send(w: &World, c: &Case, defaults: bool) -> Answer {
    let mut req = Request::builder().method(c.method).uri(c.path);
    let named = |n: &str| c.headers.iter().any(|(k, _)| *k == n);
    if defaults {
        for (k, v) in [
            ("host", "127.0.0.1:3322"),
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
        ] {
            if !named(k) {
                req = req.header(k, v);
            }
        }
    }
    for (k, v) in &c.headers {
        let v = if v == b"SESSION" {
            w.session.lock().unwrap().as_bytes().to_vec()
        } else {
            v.clone()
        };
        if let Ok(v) = HeaderValue::from_bytes(&v) {
            req = req.header(HeaderName::from_static(k), v);
        }
    }
    let req = req.body(Full::new(Bytes::from(c.body.clone()))).unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(5), w.h.svc.handle(req))
        .await
        .expect("the service answers within 5 s");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut body = resp.into_body();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Ok(Some(frame)) = tokio::time::timeout_at(deadline, body.frame()).await {
        if let Ok(data) = frame.unwrap().into_data() {
            out.extend_from_slice(&data);
        }
    }
    Answer {
        status,
        content_type,
        body: out,
    }
}

/// A JSON-RPC response object's error code, after checking its shape.
fn error_code(v: &Value) -> Result<Option<i64>, String> {
    if v.get("jsonrpc") != Some(&Value::from("2.0")) {
        return Err(format!("not a JSON-RPC response: {v}"));
    }
    match (v.get("result"), v.get("error")) {
        (Some(_), None) => Ok(None),
        (None, Some(e)) => {
            let code = e
                .get("code")
                .and_then(Value::as_i64)
                .ok_or_else(|| format!("error without an integer code: {v}"))?;
            if !e.get("message").is_some_and(Value::is_string) {
                return Err(format!("error without a message: {v}"));
            }
            Ok(Some(code))
        }
        _ => Err(format!("neither result nor error, or both: {v}")),
    }
}

fn check(c: &Case, a: &Answer, defaults: bool) -> Result<(), String> {
    if !STATUSES.contains(&a.status) {
        return Err(format!("status {}", a.status));
    }
    if a.content_type.starts_with("application/json") {
        let v: Value = serde_json::from_slice(&a.body).map_err(|e| {
            format!(
                "{} JSON body does not parse ({e}): {:?}",
                a.status,
                String::from_utf8_lossy(&a.body)
            )
        })?;
        let msgs = match &v {
            Value::Array(xs) => xs.clone(),
            one => vec![one.clone()],
        };
        for m in &msgs {
            // The only non-JSON-RPC JSON body is the 401 of a protected route.
            if a.status == 401 && m.get("jsonrpc").is_none() {
                continue;
            }
            if let Some(code) = error_code(m)? {
                if !CODES.contains(&code) {
                    return Err(format!("unknown error code {code}: {m}"));
                }
            }
        }
        if a.status >= 400 && a.status != 401 {
            let refused = msgs.iter().any(|m| error_code(m).ok().flatten().is_some());
            if !refused {
                return Err(format!("{} without a JSON-RPC error: {v}", a.status));
            }
        }
    } else if a.content_type.starts_with("text/event-stream") {
        if a.status != 200 {
            return Err(format!("an SSE stream with status {}", a.status));
        }
        let text = String::from_utf8(a.body.clone()).map_err(|e| format!("SSE not UTF-8: {e}"))?;
        for event in text.split("\n\n") {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .collect();
            let data = data.join("\n");
            if data.trim().is_empty() {
                continue;
            }
            let v: Value =
                serde_json::from_str(&data).map_err(|e| format!("SSE data ({e}): {data}"))?;
            if v.get("jsonrpc") != Some(&Value::from("2.0")) {
                return Err(format!("SSE message not JSON-RPC: {v}"));
            }
        }
    } else if a.status >= 400 && !a.body.is_empty() && a.status != 405 {
        return Err(format!(
            "{} with a body of type {:?}",
            a.status, a.content_type
        ));
    }
    // A POST whose only fault is a body that is not JSON: 400 / -32700.
    let clean = defaults && c.method == "POST" && c.path == "/mcp" && c.headers.is_empty();
    if clean && !c.intact && serde_json::from_slice::<Value>(&c.body).is_err() {
        let code = serde_json::from_slice::<Value>(&a.body)
            .ok()
            .and_then(|v| error_code(&v).ok().flatten());
        if a.status != 400 || code != Some(-32700) {
            return Err(format!("unparsable body gave {} / {code:?}", a.status));
        }
    }
    Ok(())
}

/// The well-behaved client, after every case: a 2026 echo call and a call on the 2025 session
/// (opened anew when the case was a DELETE of it, the one way a client may end it).
async fn still_serving(w: &World, c: Option<&Case>) -> Result<(), String> {
    let deleted = c.is_some_and(|c| {
        c.method == "DELETE"
            && c.headers
                .iter()
                .any(|(k, v)| *k == "mcp-session-id" && v == b"SESSION")
    });
    if deleted {
        let session = w.h.initialize("2025-06-18", "{}").await;
        *w.session.lock().unwrap() = session;
    }
    let session = w.session.lock().unwrap().clone();
    let r = w.h.modern_call(1, "echo", "").await;
    let status = r.status;
    let text = r.text().await;
    if status != 200 || !text.contains("echo:") {
        return Err(format!("the good 2026 call failed: {status} {text}"));
    }
    let r = w
        .h
        .send(
            "POST",
            Some(&session),
            &[("mcp-protocol-version", "2025-06-18")],
            r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo","arguments":{"text":"ok"}}}"#,
        )
        .await;
    let status = r.status;
    let text = r.text().await;
    if status != 200 || !text.contains("echo:ok") {
        return Err(format!("the good 2025 call failed: {status} {text}"));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Any request: a documented status and body, and the server keeps serving.
    #[test]
    fn any_request_gets_a_documented_answer_and_the_server_keeps_serving(c in case(), defaults in any::<bool>()) {
        let _one = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let w = world();
        let outcome = w.rt.block_on(async {
            let a = send(w, &c, defaults).await;
            check(&c, &a, defaults)?;
            still_serving(w, Some(&c)).await
        });
        prop_assert!(outcome.is_ok(), "{:?}", outcome);
    }
}

/// The -32700 rule holds on its own (the property reaches it only when no header is drawn).
#[test]
fn a_body_that_is_not_json_gets_400_and_minus_32700() {
    let _one = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let w = world();
    for body in [&b"{\"jsonrpc\":"[..], b"\xff\xfe\x00{", b"[1,", b"nul"] {
        let c = Case {
            method: "POST",
            path: "/mcp",
            headers: Vec::new(),
            body: body.to_vec(),
            intact: false,
        };
        let a = w.rt.block_on(send(w, &c, true));
        check(&c, &a, true).unwrap();
        assert_eq!(a.status, 400);
    }
    w.rt.block_on(still_serving(w, None)).unwrap();
}

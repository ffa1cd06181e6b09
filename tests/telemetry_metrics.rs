//! The metrics registry: what a known sequence of recordings looks like once encoded, read
//! back with a small OpenMetrics text parser (samples, label sets, `# TYPE` lines, `# EOF`).

use std::collections::BTreeMap;
use std::time::Duration;

use mcp_swagger_native::protocol::Era;
use mcp_swagger_native::telemetry::metrics::{
    CloseReason, Metrics, OpKey, Operation, Outcome, RejectReason, StreamKind, Target, TargetKey,
};

type Labels = BTreeMap<String, String>;

#[derive(Debug)]
struct Sample {
    name: String,
    labels: Labels,
    value: f64,
}

/// Parses the text exposition strictly enough to catch malformed output: every line is a
/// comment (`# HELP|TYPE|UNIT name ...`), `# EOF` (last), or `name{k="v",...} value`.
fn parse(text: &str) -> (Vec<Sample>, BTreeMap<String, String>) {
    let mut samples = Vec::new();
    let mut types = BTreeMap::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "exposition ends with # EOF");
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let kind = parts.next().expect("comment kind");
            let name = parts.next().expect("metric name");
            assert!(matches!(kind, "HELP" | "TYPE" | "UNIT"), "{line}");
            if kind == "TYPE" {
                types.insert(name.to_owned(), parts.next().expect("type").to_owned());
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample has a value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("numeric value in {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), Labels::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("closing brace");
                let mut labels = Labels::new();
                let mut s = body;
                while !s.is_empty() {
                    let (k, after) = s.split_once("=\"").expect("label key");
                    let end = after.find('"').expect("closing quote");
                    labels.insert(k.to_owned(), after[..end].to_owned());
                    s = after[end + 1..].trim_start_matches(',');
                }
                (name.to_owned(), labels)
            }
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "metric name {name}"
        );
        samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    (samples, types)
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn value(samples: &[Sample], name: &str, want: &Labels) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name && &s.labels == want)
        .map(|s| s.value)
}

fn op<'a>(
    method: &'a str,
    target: Target<'a>,
    version: &'a str,
    outcome: Outcome,
) -> Operation<'a> {
    Operation {
        method,
        target,
        protocol_version: Some(version),
        outcome,
    }
}

#[test]
fn operations_are_labelled_as_the_conventions_say() {
    let m = Metrics::new();
    m.set_catalog_names(["echo", "fail"], ["greet"]);
    let ms = Duration::from_millis(3);
    for _ in 0..3 {
        m.record_operation(
            &op("tools/list", Target::None, "2025-11-25", Outcome::Ok),
            ms,
        );
    }
    m.record_operation(
        &op(
            "tools/call",
            Target::Tool("echo"),
            "2026-07-28",
            Outcome::Ok,
        ),
        ms,
    );
    m.record_operation(
        &op(
            "tools/call",
            Target::Tool("fail"),
            "2026-07-28",
            Outcome::ToolError,
        ),
        ms,
    );
    // Unknown names and methods fold into _OTHER; caller errors carry a status code only.
    m.record_operation(
        &op(
            "tools/call",
            Target::Tool("nope"),
            "2025-11-25",
            Outcome::Rpc(-32602),
        ),
        ms,
    );
    m.record_operation(
        &op(
            "tools/call",
            Target::Tool("random-1"),
            "2025-11-25",
            Outcome::Rpc(-32602),
        ),
        ms,
    );
    m.record_operation(
        &op("bogus/x", Target::None, "2025-11-25", Outcome::Rpc(-32601)),
        ms,
    );
    m.record_operation(
        &op(
            "prompts/get",
            Target::Prompt("greet"),
            "1999-01-01",
            Outcome::Rpc(-32603),
        ),
        ms,
    );
    m.record_operation(
        &op(
            "resources/read",
            Target::None,
            "2025-11-25",
            Outcome::Rpc(-32002),
        ),
        ms,
    );
    m.record_operation(
        &op(
            "resources/read",
            Target::None,
            "2025-11-25",
            Outcome::Rpc(-31999),
        ),
        ms,
    );

    let text = m.encode().expect("encode");
    let (samples, types) = parse(&text);
    assert_eq!(
        types
            .get("mcp_server_operation_duration_seconds")
            .map(String::as_str),
        Some("histogram")
    );
    let count = |pairs: &[(&str, &str)]| {
        value(
            &samples,
            "mcp_server_operation_duration_seconds_count",
            &labels(pairs),
        )
    };
    assert_eq!(
        count(&[
            ("mcp_method_name", "tools/list"),
            ("mcp_protocol_version", "2025-11-25")
        ]),
        Some(3.0)
    );
    assert_eq!(
        count(&[
            ("mcp_method_name", "tools/call"),
            ("gen_ai_operation_name", "execute_tool"),
            ("gen_ai_tool_name", "echo"),
            ("mcp_protocol_version", "2026-07-28"),
        ]),
        Some(1.0)
    );
    assert_eq!(
        count(&[
            ("mcp_method_name", "tools/call"),
            ("gen_ai_operation_name", "execute_tool"),
            ("gen_ai_tool_name", "fail"),
            ("mcp_protocol_version", "2026-07-28"),
            ("error_type", "tool_error"),
        ]),
        Some(1.0)
    );
    assert_eq!(
        count(&[
            ("mcp_method_name", "tools/call"),
            ("gen_ai_operation_name", "execute_tool"),
            ("gen_ai_tool_name", "_OTHER"),
            ("mcp_protocol_version", "2025-11-25"),
            ("rpc_response_status_code", "-32602"),
        ]),
        Some(2.0)
    );
    assert_eq!(
        count(&[
            ("mcp_method_name", "_OTHER"),
            ("mcp_protocol_version", "2025-11-25"),
            ("rpc_response_status_code", "-32601"),
        ]),
        Some(1.0)
    );
    assert_eq!(
        count(&[
            ("mcp_method_name", "prompts/get"),
            ("gen_ai_prompt_name", "greet"),
            ("mcp_protocol_version", "_OTHER"),
            ("error_type", "-32603"),
            ("rpc_response_status_code", "-32603"),
        ]),
        Some(1.0)
    );
    assert_eq!(
        count(&[
            ("mcp_method_name", "resources/read"),
            ("mcp_protocol_version", "2025-11-25"),
            ("rpc_response_status_code", "-32002"),
        ]),
        Some(1.0)
    );
    assert_eq!(
        count(&[
            ("mcp_method_name", "resources/read"),
            ("mcp_protocol_version", "2025-11-25"),
            ("error_type", "_OTHER"),
            ("rpc_response_status_code", "_OTHER"),
        ]),
        Some(1.0)
    );
    // Every operation is counted once, in exactly one series; the names sent never leak.
    let total: f64 = samples
        .iter()
        .filter(|s| s.name == "mcp_server_operation_duration_seconds_count")
        .map(|s| s.value)
        .sum();
    assert_eq!(total, 11.0);
    assert!(!text.contains("nope") && !text.contains("random-1") && !text.contains("bogus"));
    // Buckets are cumulative and end at the count; the sum is in seconds.
    let list = labels(&[
        ("mcp_method_name", "tools/list"),
        ("mcp_protocol_version", "2025-11-25"),
    ]);
    let mut inf = list.clone();
    inf.insert("le".into(), "+Inf".into());
    assert_eq!(
        value(
            &samples,
            "mcp_server_operation_duration_seconds_bucket",
            &inf
        ),
        Some(3.0)
    );
    let mut under = list.clone();
    under.insert("le".into(), "0.0025".into());
    assert_eq!(
        value(
            &samples,
            "mcp_server_operation_duration_seconds_bucket",
            &under
        ),
        Some(0.0)
    );
    let mut over = list.clone();
    over.insert("le".into(), "0.005".into());
    assert_eq!(
        value(
            &samples,
            "mcp_server_operation_duration_seconds_bucket",
            &over
        ),
        Some(3.0)
    );
    let sum = value(&samples, "mcp_server_operation_duration_seconds_sum", &list).expect("sum");
    assert!((sum - 0.009).abs() < 1e-9, "{sum}");
}

#[test]
fn connection_and_stream_counters() {
    let m = Metrics::new();
    let text = m.encode().expect("encode");
    let (samples, types) = parse(&text);
    // Fixed label values exist from the start, at zero.
    for era in ["legacy", "modern"] {
        assert_eq!(
            value(&samples, "mcp_connections_active", &labels(&[("era", era)])),
            Some(0.0)
        );
        assert_eq!(
            value(&samples, "mcp_connections_total", &labels(&[("era", era)])),
            Some(0.0)
        );
    }
    assert_eq!(
        types.get("mcp_connections").map(String::as_str),
        Some("counter")
    );
    assert_eq!(
        types.get("mcp_connections_active").map(String::as_str),
        Some("gauge")
    );
    assert_eq!(
        value(&samples, "mcp_callback_timeouts_total", &Labels::new()),
        Some(0.0)
    );
    assert_eq!(
        value(
            &samples,
            "mcp_auth_failures_total",
            &labels(&[("reason", "invalid_token")])
        ),
        Some(0.0)
    );

    m.connection_opened(Era::Legacy);
    m.connection_opened(Era::Legacy);
    m.connection_opened(Era::Modern);
    m.connection_closed(Era::Legacy);
    m.connection_rejected(RejectReason::MaxConnections);
    m.connection_rejected_named("max_connections");
    m.connection_rejected_named("something new");
    let listen = m.stream_opened(StreamKind::Listen);
    let req = m.stream_opened(StreamKind::Request);
    let req2 = m.stream_opened(StreamKind::Request);
    drop(req);
    m.stream_closed(CloseReason::SlowConsumer);
    m.stream_closed(CloseReason::Completed);
    m.stream_closed(CloseReason::Completed);
    m.callback_timed_out();
    m.auth_failed("invalid_token");
    m.auth_failed("made-up");
    m.record_session(Some("2025-06-18"), Duration::from_secs(42));

    let (samples, _) = parse(&m.encode().expect("encode"));
    let v = |name: &str, pairs: &[(&str, &str)]| value(&samples, name, &labels(pairs));
    assert_eq!(v("mcp_connections_active", &[("era", "legacy")]), Some(1.0));
    assert_eq!(v("mcp_connections_active", &[("era", "modern")]), Some(1.0));
    assert_eq!(v("mcp_connections_total", &[("era", "legacy")]), Some(2.0));
    assert_eq!(v("mcp_connections_total", &[("era", "modern")]), Some(1.0));
    assert_eq!(
        v(
            "mcp_connections_rejected_total",
            &[("reason", "max_connections")]
        ),
        Some(2.0)
    );
    assert_eq!(
        v("mcp_connections_rejected_total", &[("reason", "_OTHER")]),
        Some(1.0)
    );
    assert_eq!(
        v(
            "mcp_connections_rejected_total",
            &[("reason", "host_not_allowed")]
        ),
        Some(0.0)
    );
    assert_eq!(
        v("mcp_sse_streams_active", &[("kind", "listen")]),
        Some(1.0)
    );
    assert_eq!(
        v("mcp_sse_streams_active", &[("kind", "request")]),
        Some(1.0)
    );
    assert_eq!(
        v("mcp_sse_streams_active", &[("kind", "standalone")]),
        Some(0.0)
    );
    assert_eq!(
        v("mcp_streams_closed_total", &[("reason", "slow_consumer")]),
        Some(1.0)
    );
    assert_eq!(
        v("mcp_streams_closed_total", &[("reason", "completed")]),
        Some(2.0)
    );
    assert_eq!(v("mcp_callback_timeouts_total", &[]), Some(1.0));
    assert_eq!(
        v("mcp_auth_failures_total", &[("reason", "invalid_token")]),
        Some(1.0)
    );
    assert_eq!(
        v("mcp_auth_failures_total", &[("reason", "_OTHER")]),
        Some(1.0)
    );
    assert_eq!(
        v(
            "mcp_server_session_duration_seconds_count",
            &[
                ("network_protocol_name", "http"),
                ("mcp_protocol_version", "2025-06-18")
            ]
        ),
        Some(1.0)
    );
    drop((listen, req2));
    let (samples, _) = parse(&m.encode().expect("encode"));
    assert_eq!(
        value(
            &samples,
            "mcp_sse_streams_active",
            &labels(&[("kind", "listen")])
        ),
        Some(0.0)
    );
}

#[test]
fn two_registries_stay_apart() {
    let a = Metrics::new();
    let b = Metrics::new();
    a.callback_timed_out();
    let (sa, _) = parse(&a.encode().expect("encode"));
    let (sb, _) = parse(&b.encode().expect("encode"));
    assert_eq!(
        value(&sa, "mcp_callback_timeouts_total", &Labels::new()),
        Some(1.0)
    );
    assert_eq!(
        value(&sb, "mcp_callback_timeouts_total", &Labels::new()),
        Some(0.0)
    );
}

#[test]
fn an_operation_is_labelled_from_the_catalog_it_was_read_against() {
    let m = Metrics::new();
    m.set_catalog_names(["a", "b"], ["p"]);
    // Read while "b" is the second tool...
    let catalog = m.catalog();
    let call = OpKey::new(
        "tools/call",
        Some("2025-11-25"),
        TargetKey::Tool(catalog.tool_index("b")),
    );
    let get = OpKey::new(
        "prompts/get",
        Some("2026-07-28"),
        TargetKey::Prompt(catalog.prompt_index("nope")),
    );
    assert_eq!(call.method(), "tools/call");
    // ...recorded after the catalog changed: still "b", not the new second tool.
    m.set_catalog_names(["c", "d"], []);
    m.record(Some(&catalog), call, Outcome::Ok, Duration::from_millis(1));
    m.record(Some(&catalog), call, Outcome::Ok, Duration::from_millis(1));
    m.record(Some(&catalog), get, Outcome::Ok, Duration::from_millis(1));
    let (samples, _) = parse(&m.encode().unwrap());
    let count = |want: &Labels| {
        samples
            .iter()
            .find(|s| s.name == "mcp_server_operation_duration_seconds_count" && &s.labels == want)
            .map(|s| s.value)
    };
    assert_eq!(
        count(&labels(&[
            ("mcp_method_name", "tools/call"),
            ("gen_ai_operation_name", "execute_tool"),
            ("gen_ai_tool_name", "b"),
            ("mcp_protocol_version", "2025-11-25"),
        ])),
        Some(2.0)
    );
    assert_eq!(
        count(&labels(&[
            ("mcp_method_name", "prompts/get"),
            ("gen_ai_prompt_name", "_OTHER"),
            ("mcp_protocol_version", "2026-07-28"),
        ])),
        Some(1.0)
    );
    assert_eq!(
        samples
            .iter()
            .filter(|s| s.name == "mcp_server_operation_duration_seconds_count")
            .count(),
        2
    );
}

/// Operation histograms are sharded per recording thread and added up when encoded: many
/// threads recording the same series at once (more threads than shards) must still give exact
/// bucket counts, counts and sums, with a duration exactly on a bound counted in that bucket.
#[test]
fn concurrent_recordings_add_up_exactly() {
    let m = Metrics::new();
    m.set_catalog_names(["echo"], []);
    // On, just under and just over the first bounds, and past the last one (+Inf).
    let durations_ns: [u64; 7] = [
        1,
        499_999,
        500_000,
        500_001,
        1_000_000,
        2_500_001,
        301_000_000_000,
    ];
    let threads = 9u64;
    let rounds = 3_000u64;
    std::thread::scope(|s| {
        for t in 0..threads {
            let m = &m;
            s.spawn(move || {
                for r in 0..rounds {
                    let d = Duration::from_nanos(durations_ns[((r + t) % 7) as usize]);
                    m.record_operation(
                        &op("tools/list", Target::None, "2025-11-25", Outcome::Ok),
                        d,
                    );
                    m.record_operation(
                        &op(
                            "tools/call",
                            Target::Tool("echo"),
                            "2026-07-28",
                            Outcome::Ok,
                        ),
                        d,
                    );
                }
            });
        }
    });
    let mut per_duration = [0u64; 7];
    for t in 0..threads {
        for r in 0..rounds {
            per_duration[((r + t) % 7) as usize] += 1;
        }
    }
    let total: u64 = per_duration.iter().sum();
    let sum_ns: u64 = durations_ns
        .iter()
        .zip(per_duration)
        .map(|(d, n)| d * n)
        .sum();
    let (samples, _) = parse(&m.encode().unwrap());
    for series in [
        labels(&[
            ("mcp_method_name", "tools/list"),
            ("mcp_protocol_version", "2025-11-25"),
        ]),
        labels(&[
            ("mcp_method_name", "tools/call"),
            ("gen_ai_operation_name", "execute_tool"),
            ("gen_ai_tool_name", "echo"),
            ("mcp_protocol_version", "2026-07-28"),
        ]),
    ] {
        let get = |suffix: &str, le: Option<&str>| {
            let mut want = series.clone();
            if let Some(le) = le {
                want.insert("le".to_owned(), le.to_owned());
            }
            value(
                &samples,
                &format!("mcp_server_operation_duration_seconds_{suffix}"),
                &want,
            )
            .unwrap_or_else(|| panic!("{suffix} {le:?} of {series:?}"))
        };
        assert_eq!(get("count", None), total as f64);
        assert_eq!(get("sum", None), sum_ns as f64 / 1e9);
        let upto = |bound_ns: u64| -> f64 {
            durations_ns
                .iter()
                .zip(per_duration)
                .filter(|(d, _)| **d <= bound_ns)
                .map(|(_, n)| n as f64)
                .sum()
        };
        assert_eq!(get("bucket", Some("0.0005")), upto(500_000));
        assert_eq!(get("bucket", Some("0.001")), upto(1_000_000));
        assert_eq!(get("bucket", Some("0.0025")), upto(2_500_000));
        assert_eq!(get("bucket", Some("0.005")), upto(5_000_000));
        assert_eq!(get("bucket", Some("300.0")), upto(300_000_000_000));
        assert_eq!(get("bucket", Some("+Inf")), total as f64);
    }
}

/// The recording cost, for the record: `cargo test --release --no-default-features --test
/// telemetry_metrics -- --ignored --nocapture`.
#[test]
#[ignore]
fn recording_cost() {
    let m = Metrics::new();
    m.set_catalog_names(["echo", "fail"], ["greet"]);
    let n = 2_000_000u32;
    let started = std::time::Instant::now();
    for i in 0..n {
        let (method, target) = if i % 2 == 0 {
            ("tools/list", Target::None)
        } else {
            ("tools/call", Target::Tool("echo"))
        };
        m.record_operation(
            &op(method, target, "2025-11-25", Outcome::Ok),
            Duration::from_micros(u64::from(i % 900)),
        );
    }
    let per = started.elapsed().as_nanos() as f64 / f64::from(n);
    println!("record_operation: {per:.0} ns per operation");
}

//! The `tracing` bridge: routing by server span, level filters, rate limit and queue bound
//! with a dropped-records summary. One test function, because the bridge is the process's
//! global subscriber and events outside a server span go to every sink.

use std::time::{Duration, Instant};

use mcp_swagger_native::telemetry::logs::{
    FieldValue, LogBridge, LogLevel, LogRecord, LogSink, LogSinkConfig,
};

fn config(level: LogLevel, capacity: usize, max_per_second: u32) -> LogSinkConfig {
    LogSinkConfig {
        level,
        capacity,
        max_per_second,
    }
}

fn messages(batch: &[LogRecord]) -> Vec<&str> {
    batch.iter().map(|r| r.message.as_str()).collect()
}

fn drain(sink: &mut LogSink) -> Vec<LogRecord> {
    sink.try_batch(usize::MAX)
}

#[test]
fn bridge_routes_filters_and_bounds() {
    let bridge = LogBridge::global().expect("first install succeeds");
    assert!(std::ptr::eq(bridge, LogBridge::global().expect("cached")));

    let mut a = bridge.register(config(LogLevel::Debug, 64, 1000));
    let mut b = bridge.register(config(LogLevel::Warn, 64, 1000));

    // Inside a server's span: that server only, typed fields kept.
    a.span().in_scope(|| {
        tracing::debug!(
            session = "s-1",
            count = 3u64,
            ok = true,
            "session idle, closing"
        );
        tracing::warn!(error = %"boom", "accept failed");
    });
    b.span()
        .in_scope(|| tracing::info!("below b's level, dropped before it is built"));
    let got = drain(&mut a);
    assert_eq!(messages(&got), ["session idle, closing", "accept failed"]);
    assert_eq!(got[0].level, LogLevel::Debug);
    assert_eq!(got[0].target, module_path!());
    assert_eq!(
        got[0].fields,
        vec![
            ("session".to_owned(), FieldValue::Str("s-1".into())),
            ("count".to_owned(), FieldValue::U64(3)),
            ("ok".to_owned(), FieldValue::Bool(true)),
        ]
    );
    assert_eq!(
        got[1].fields,
        vec![("error".to_owned(), FieldValue::Str("boom".into()))]
    );
    assert!(drain(&mut b).is_empty());

    // Outside any server span: every sink whose level admits it.
    tracing::warn!("process-wide");
    tracing::debug!("debug, only a wants it");
    assert_eq!(
        messages(&drain(&mut a)),
        ["process-wide", "debug, only a wants it"]
    );
    assert_eq!(messages(&drain(&mut b)), ["process-wide"]);

    // Level changes apply at once, interest cache included.
    b.set_level(LogLevel::Off);
    a.set_level(LogLevel::Error);
    tracing::warn!("nobody");
    assert!(drain(&mut a).is_empty() && drain(&mut b).is_empty());
    a.set_level(LogLevel::Trace);
    tracing::trace!("trace now");
    assert_eq!(messages(&drain(&mut a)), ["trace now"]);
    drop(b);

    // A full queue never blocks the emitter: the overflow is counted and summarised.
    let mut small = bridge.register(config(LogLevel::Info, 4, 1000));
    let span = small.span();
    let started = Instant::now();
    span.in_scope(|| {
        for i in 0..100 {
            tracing::info!(i, "burst");
        }
    });
    assert!(started.elapsed() < Duration::from_secs(1));
    let got = drain(&mut small);
    assert_eq!(got.len(), 5);
    assert_eq!(got[0].level, LogLevel::Warn);
    assert_eq!(
        got[0].fields,
        vec![("dropped".to_owned(), FieldValue::U64(96))]
    );
    assert_eq!(messages(&got[1..]), ["burst"; 4]);
    assert!(drain(&mut small).is_empty(), "the summary is reported once");
    drop(small);

    // The rate limit: 10 a second, the rest counted.
    let mut limited = bridge.register(config(LogLevel::Info, 1024, 10));
    limited.span().in_scope(|| {
        for i in 0..50 {
            tracing::info!(i, "flood");
        }
    });
    let got = drain(&mut limited);
    assert_eq!(got.len(), 11, "{:?}", messages(&got));
    assert_eq!(
        got[0].fields,
        vec![("dropped".to_owned(), FieldValue::U64(40))]
    );

    drop(limited);

    // The async consumer: a batch arrives when records do; it waits while nothing comes;
    // a pending summary is flushed after `flush_every` even when nothing else comes.
    let mut one = bridge.register(config(LogLevel::Info, 16, 1));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    rt.block_on(async {
        one.span().in_scope(|| {
            tracing::info!("kept");
            tracing::info!("over the limit");
        });
        let batch = one
            .next_batch(100, Duration::from_millis(50))
            .await
            .expect("batch");
        assert_eq!(batch.len(), 2);
        assert_eq!(
            batch[0].fields,
            vec![("dropped".to_owned(), FieldValue::U64(1))]
        );
        assert_eq!(batch[1].message, "kept");
        let idle = tokio::time::timeout(
            Duration::from_millis(200),
            one.next_batch(100, Duration::from_millis(50)),
        )
        .await;
        assert!(idle.is_err(), "nothing to deliver: it keeps waiting");
        one.span()
            .in_scope(|| tracing::info!("over the limit again"));
        let started = Instant::now();
        let batch = one
            .next_batch(100, Duration::from_millis(50))
            .await
            .expect("batch");
        assert_eq!(messages(&batch).len(), 1);
        assert_eq!(
            batch[0].fields,
            vec![("dropped".to_owned(), FieldValue::U64(1))]
        );
        assert!(started.elapsed() >= Duration::from_millis(40));
    });
    a.set_level(LogLevel::Info);
    drop(a);
}

//! Core logs to the JS `logger`: one sink of the process-wide bridge per server, drained by a
//! task that hands JS a batch at a time over the server's event channel.

use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::task::AbortHandle;

use crate::telemetry::logs::{FieldValue, LogBridge, LogRecord, LogSink, LogSinkConfig};

/// Most records in one call into JS.
const BATCH: usize = 256;
/// Pause between two batches, so a burst costs a few calls into JS rather than one each.
const PAUSE: Duration = Duration::from_millis(20);
/// A pending dropped-records summary waits at most this long.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

fn field(v: &FieldValue) -> Value {
    match v {
        FieldValue::Str(s) => Value::from(s.as_str()),
        FieldValue::I64(n) => Value::from(*n),
        FieldValue::U64(n) => Value::from(*n),
        FieldValue::F64(n) => Value::from(*n),
        FieldValue::Bool(b) => Value::from(*b),
    }
}

/// `[[level, message, {target, ...fields}], ...]`
pub fn batch_json(batch: &[LogRecord]) -> String {
    let items: Vec<Value> = batch
        .iter()
        .map(|r| {
            let mut fields = Map::new();
            fields.insert("target".into(), Value::from(r.target.as_str()));
            for (k, v) in &r.fields {
                fields.insert(k.clone(), field(v));
            }
            json!([r.level.as_str(), r.message, fields])
        })
        .collect();
    Value::Array(items).to_string()
}

/// The server's sink and the task delivering it; `send` gets each batch's JSON.
pub fn start(
    config: LogSinkConfig,
    send: impl Fn(String) + Send + 'static,
) -> (Option<tracing::Span>, Option<AbortHandle>) {
    match LogBridge::global() {
        Ok(bridge) => {
            let mut sink: LogSink = bridge.register(config);
            let span = sink.span();
            let task = napi::bindgen_prelude::spawn(async move {
                while let Some(batch) = sink.next_batch(BATCH, FLUSH_EVERY).await {
                    send(batch_json(&batch));
                    tokio::time::sleep(PAUSE).await;
                }
            });
            (Some(span), Some(task.abort_handle()))
        }
        Err(e) => {
            send(json!([["warn", e.to_string(), { "target": module_path!() }]]).to_string());
            (None, None)
        }
    }
}

//! Tool arguments and structured results checked against the tool's own JSON Schemas, before
//! any JS runs (arguments) and before the client sees the result (`structuredContent`).
//! Schemas are compiled once, when the tool list is set; a call is a lookup and a walk.
//! The default dialect is JSON Schema 2020-12, as MCP 2025-11-25 says; a schema's own
//! `$schema` (draft-07, 2019-09…) is honoured. External `$ref`s are not fetched.
//! How a failure is answered depends on the revision: see docs/errors.md, "Tool validation".

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use serde_json::{json, value::RawValue, Value};

use super::error::{RpcError, INTERNAL_ERROR, INVALID_PARAMS};

/// At most this many violations are reported for one instance; the rest are counted.
const MAX_REPORTED: usize = 8;
/// A violation's message is cut at this many bytes: it may quote the offending value.
const MAX_MESSAGE_BYTES: usize = 200;

/// What is validated. Both default on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationPolicy {
    pub arguments: bool,
    pub results: bool,
}

impl Default for ValidationPolicy {
    fn default() -> Self {
        Self {
            arguments: true,
            results: true,
        }
    }
}

impl ValidationPolicy {
    pub const OFF: Self = Self {
        arguments: false,
        results: false,
    };

    fn any(self) -> bool {
        self.arguments || self.results
    }
}

/// A tool definition whose schema cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("tool {tool:?}: {which} must be a JSON object")]
    NotAnObject { tool: String, which: &'static str },
    #[error("tool {tool:?}: {which} is not a valid JSON Schema: {reason}")]
    Invalid {
        tool: String,
        which: &'static str,
        reason: String,
    },
    #[error("tools: {0}")]
    Malformed(String),
}

/// One way an instance breaks its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON Pointer into the instance (`""` is the whole of it).
    pub path: String,
    pub message: String,
}

/// The violations of one instance, the first [`MAX_REPORTED`] of them kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violations {
    pub items: Vec<Violation>,
    /// How many more there were.
    pub more: usize,
}

impl Violations {
    /// `path: message; path: message` with `(root)` for the whole instance.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        for (i, v) in self.items.iter().enumerate() {
            if i > 0 {
                s.push_str("; ");
            }
            let path = if v.path.is_empty() { "(root)" } else { &v.path };
            let _ = write!(s, "{path}: {}", v.message);
        }
        if self.more > 0 {
            let _ = write!(s, "; and {} more", self.more);
        }
        s
    }

    fn to_json(&self) -> Value {
        Value::Array(
            self.items
                .iter()
                .map(|v| json!({ "path": v.path, "message": v.message }))
                .collect(),
        )
    }
}

struct ToolSchemas {
    input: Option<jsonschema::Validator>,
    output: Option<jsonschema::Validator>,
}

/// Compiled schemas of every tool that has one, by tool name. Cheap to clone.
#[derive(Clone, Default)]
pub struct SchemaSet {
    tools: Arc<HashMap<String, ToolSchemas>>,
    policy: Option<ValidationPolicy>,
    /// Some tool has an `outputSchema` (found once, at compile time).
    any_output: bool,
}

impl std::fmt::Debug for SchemaSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaSet")
            .field("tools", &self.tools.len())
            .field("policy", &self.policy)
            .finish()
    }
}

/// How a revision reports arguments that break the tool's `inputSchema`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgumentErrorStyle {
    /// 2025-11-25 and later: a tool result with `isError: true` the model can correct itself
    /// from (an input validation error is a tool execution error).
    ToolResult,
    /// 2025-03-26 and 2025-06-18: JSON-RPC -32602.
    InvalidParams,
}

/// A failed argument check, in the shape the revision wants.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgumentFailure {
    /// The result object's JSON text (`content` + `isError`), without era tags.
    ToolResult(String),
    Error(RpcError),
}

impl SchemaSet {
    /// Compiles the `inputSchema` and `outputSchema` of each tool the policy checks.
    pub fn compile(tools: &[Box<RawValue>], policy: ValidationPolicy) -> Result<Self, SchemaError> {
        let mut map = HashMap::new();
        if policy.any() {
            for item in tools {
                #[derive(serde::Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Def {
                    name: String,
                    input_schema: Option<Value>,
                    output_schema: Option<Value>,
                }
                let def: Def = serde_json::from_str(item.get())
                    .map_err(|e| SchemaError::Malformed(e.to_string()))?;
                let input = if policy.arguments {
                    compile_one(&def.name, "inputSchema", def.input_schema.as_ref())?
                } else {
                    None
                };
                let output = if policy.results {
                    compile_one(&def.name, "outputSchema", def.output_schema.as_ref())?
                } else {
                    None
                };
                if input.is_some() || output.is_some() {
                    map.insert(def.name, ToolSchemas { input, output });
                }
            }
        }
        let any_output = map.values().any(|t| t.output.is_some());
        Ok(Self {
            tools: Arc::new(map),
            policy: Some(policy),
            any_output,
        })
    }

    /// Whether any tool has a schema to check.
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// Whether any tool has an `outputSchema`: without one, results need no look at all.
    pub fn checks_results(&self) -> bool {
        self.any_output
    }

    /// The policy these schemas were compiled under (the default when never compiled).
    pub fn policy(&self) -> ValidationPolicy {
        self.policy.unwrap_or_default()
    }

    /// Checks a `tools/call`'s `arguments` (absent or `null` count as `{}`, which is what the
    /// callback receives).
    pub fn check_arguments(
        &self,
        tool: &str,
        arguments: Option<&RawValue>,
    ) -> Result<(), Violations> {
        let Some(validator) = self.tools.get(tool).and_then(|t| t.input.as_ref()) else {
            return Ok(());
        };
        let value = match arguments.map(|a| serde_json::from_str::<Value>(a.get())) {
            None => Value::Object(Default::default()),
            Some(Ok(Value::Null)) => Value::Object(Default::default()),
            Some(Ok(v)) => v,
            Some(Err(e)) => {
                return Err(Violations {
                    items: vec![Violation {
                        path: String::new(),
                        message: e.to_string(),
                    }],
                    more: 0,
                })
            }
        };
        collect(validator, &value)
    }

    /// Checks a tool's result: with an `outputSchema`, a successful result must carry a
    /// conforming `structuredContent`. Error results and `input_required` results pass.
    pub fn check_result(&self, tool: &str, result_json: &str) -> Result<(), Violations> {
        let Some(validator) = self.tools.get(tool).and_then(|t| t.output.as_ref()) else {
            return Ok(());
        };
        let mut result: Value = serde_json::from_str(result_json).map_err(|e| Violations {
            items: vec![Violation {
                path: String::new(),
                message: e.to_string(),
            }],
            more: 0,
        })?;
        if result.get("isError").and_then(Value::as_bool) == Some(true)
            || result
                .get("resultType")
                .and_then(Value::as_str)
                .is_some_and(|t| t != "complete")
        {
            return Ok(());
        }
        match result.get_mut("structuredContent").map(Value::take) {
            None => Err(Violations {
                items: vec![Violation {
                    path: "/structuredContent".into(),
                    message: "missing: the tool declares an outputSchema".into(),
                }],
                more: 0,
            }),
            Some(content) => collect(validator, &content).map_err(|mut v| {
                for item in &mut v.items {
                    item.path.insert_str(0, "/structuredContent");
                }
                v
            }),
        }
    }
}

impl ArgumentErrorStyle {
    /// The style of a negotiated 2025 revision; the 2026 era always uses tool results.
    pub fn for_legacy(version: super::version::LegacyVersion) -> Self {
        if version >= super::version::LegacyVersion::V2025_11_25 {
            Self::ToolResult
        } else {
            Self::InvalidParams
        }
    }

    /// The answer to a call whose arguments failed.
    pub fn failure(self, tool: &str, violations: &Violations) -> ArgumentFailure {
        let text = format!(
            "Invalid arguments for tool {tool}: {}",
            violations.summary()
        );
        match self {
            Self::ToolResult => ArgumentFailure::ToolResult(
                json!({ "content": [{ "type": "text", "text": text }], "isError": true })
                    .to_string(),
            ),
            Self::InvalidParams => ArgumentFailure::Error(
                RpcError::new(INVALID_PARAMS, text)
                    .with_data(json!({ "tool": tool, "errors": violations.to_json() })),
            ),
        }
    }
}

/// A result that breaks the tool's `outputSchema` is the server's fault: -32603, naming the
/// failing paths (the spec lists server errors among protocol errors).
pub fn result_failure(tool: &str, violations: &Violations) -> RpcError {
    RpcError::new(
        INTERNAL_ERROR,
        format!(
            "Tool {tool} returned a result that does not match its outputSchema: {}",
            violations.summary()
        ),
    )
    .with_data(json!({ "tool": tool, "errors": violations.to_json() }))
}

fn compile_one(
    tool: &str,
    which: &'static str,
    schema: Option<&Value>,
) -> Result<Option<jsonschema::Validator>, SchemaError> {
    let Some(schema) = schema else {
        return Ok(None);
    };
    if !schema.is_object() {
        return Err(SchemaError::NotAnObject {
            tool: tool.to_owned(),
            which,
        });
    }
    // An empty schema accepts everything: no validator, no per-call parse.
    if schema.as_object().is_some_and(|o| o.is_empty()) {
        return Ok(None);
    }
    jsonschema::options()
        .build(schema)
        .map(Some)
        .map_err(|e| SchemaError::Invalid {
            tool: tool.to_owned(),
            which,
            reason: e.to_string(),
        })
}

fn collect(validator: &jsonschema::Validator, value: &Value) -> Result<(), Violations> {
    if validator.is_valid(value) {
        return Ok(());
    }
    let mut items = Vec::new();
    let mut more = 0;
    for e in validator.iter_errors(value) {
        if items.len() == MAX_REPORTED {
            more += 1;
            continue;
        }
        items.push(Violation {
            path: e.instance_path().as_str().to_owned(),
            message: truncate(e.to_string()),
        });
    }
    if items.is_empty() {
        // is_valid and iter_errors disagree only on a validator bug; still refuse.
        items.push(Violation {
            path: String::new(),
            message: "does not match the schema".into(),
        });
    }
    Err(Violations { items, more })
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_MESSAGE_BYTES {
        let mut cut = MAX_MESSAGE_BYTES;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    fn set(tools: &[&str]) -> SchemaSet {
        let tools: Vec<_> = tools.iter().map(|t| raw(t)).collect();
        SchemaSet::compile(&tools, ValidationPolicy::default()).unwrap()
    }

    const PET: &str = r#"{"name":"pet","inputSchema":{"type":"object","properties":{"id":{"type":"integer","minimum":1},"tags":{"type":"array","items":{"type":"string"}}},"required":["id"],"additionalProperties":false}}"#;

    #[test]
    fn arguments_are_checked_and_failures_name_the_paths() {
        let s = set(&[PET]);
        assert!(s.check_arguments("pet", Some(&raw(r#"{"id":3}"#))).is_ok());
        assert!(s
            .check_arguments("pet", Some(&raw(r#"{"id":3,"tags":["a"]}"#)))
            .is_ok());
        let v = s
            .check_arguments("pet", Some(&raw(r#"{"id":"x","tags":["a",2],"extra":1}"#)))
            .unwrap_err();
        let paths: Vec<_> = v.items.iter().map(|i| i.path.as_str()).collect();
        assert!(paths.contains(&"/id"), "{paths:?}");
        assert!(paths.contains(&"/tags/1"), "{paths:?}");
        assert!(v.summary().contains("extra"), "{}", v.summary());
        // Absent and null arguments are `{}`: `id` is missing.
        for args in [None, Some(raw("null"))] {
            let v = s.check_arguments("pet", args.as_deref()).unwrap_err();
            assert!(v.summary().contains("\"id\""), "{}", v.summary());
        }
        // Tools without a schema, and unknown names, pass (the dispatcher refuses unknown tools).
        assert!(s.check_arguments("other", Some(&raw("{}"))).is_ok());
    }

    #[test]
    fn default_dialect_is_2020_12_and_schema_keyword_is_honoured() {
        // prefixItems is 2020-12 only: under 2020-12 the second item must be a string.
        let t2020 = r#"{"name":"a","inputSchema":{"type":"object","properties":{"p":{"type":"array","prefixItems":[{"type":"integer"},{"type":"string"}]}}}}"#;
        let s = set(&[t2020]);
        assert!(s
            .check_arguments("a", Some(&raw(r#"{"p":[1,"x"]}"#)))
            .is_ok());
        assert!(s
            .check_arguments("a", Some(&raw(r#"{"p":[1,2]}"#)))
            .is_err());
        // Under draft-07 `items` as an array is the tuple form and prefixItems is ignored.
        let t07 = r#"{"name":"b","inputSchema":{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"p":{"type":"array","items":[{"type":"integer"}],"prefixItems":[{"type":"string"}]}}}}"#;
        let s = set(&[t07]);
        assert!(s.check_arguments("b", Some(&raw(r#"{"p":[1]}"#))).is_ok());
        assert!(s
            .check_arguments("b", Some(&raw(r#"{"p":["x"]}"#)))
            .is_err());
        // $defs and local $ref resolve.
        let tdefs = r##"{"name":"c","inputSchema":{"type":"object","$defs":{"n":{"type":"number"}},"properties":{"x":{"$ref":"#/$defs/n"}}}}"##;
        let s = set(&[tdefs]);
        assert!(s.check_arguments("c", Some(&raw(r#"{"x":1.5}"#))).is_ok());
        assert!(s.check_arguments("c", Some(&raw(r#"{"x":"no"}"#))).is_err());
    }

    #[test]
    fn invalid_schemas_are_refused_when_set() {
        let bad = |t: &str| {
            SchemaSet::compile(&[raw(t)], ValidationPolicy::default())
                .unwrap_err()
                .to_string()
        };
        let e = bad(r#"{"name":"x","inputSchema":[1]}"#);
        assert!(e.contains("\"x\"") && e.contains("inputSchema"), "{e}");
        let e = bad(r#"{"name":"y","inputSchema":{"type":"nope"}}"#);
        assert!(e.contains("not a valid JSON Schema"), "{e}");
        let e = bad(r#"{"name":"z","inputSchema":{},"outputSchema":{"minimum":"ten"}}"#);
        assert!(e.contains("outputSchema"), "{e}");
        // With validation off, nothing is compiled and nothing refused.
        let off = SchemaSet::compile(
            &[raw(r#"{"name":"y","inputSchema":{"type":"nope"}}"#)],
            ValidationPolicy::OFF,
        );
        assert!(off.is_ok());
        let only_results = ValidationPolicy {
            arguments: false,
            results: true,
        };
        let s = SchemaSet::compile(&[raw(PET)], only_results).unwrap();
        assert!(s.check_arguments("pet", Some(&raw("{}"))).is_ok());
    }

    #[test]
    fn structured_results_are_checked_against_the_output_schema() {
        let s = set(&[
            r#"{"name":"w","inputSchema":{"type":"object"},"outputSchema":{"type":"object","properties":{"t":{"type":"number"}},"required":["t"]}}"#,
        ]);
        assert!(s
            .check_result("w", r#"{"content":[],"structuredContent":{"t":1}}"#)
            .is_ok());
        let v = s
            .check_result("w", r#"{"content":[],"structuredContent":{"t":"hot"}}"#)
            .unwrap_err();
        assert_eq!(v.items[0].path, "/structuredContent/t");
        let v = s.check_result("w", r#"{"content":[]}"#).unwrap_err();
        assert_eq!(v.items[0].path, "/structuredContent");
        // Errors and input requests carry no structured content.
        assert!(s
            .check_result("w", r#"{"content":[],"isError":true}"#)
            .is_ok());
        assert!(s
            .check_result("w", r#"{"resultType":"input_required","inputRequests":{}}"#)
            .is_ok());
        let e = result_failure("w", &v);
        assert_eq!(e.code, INTERNAL_ERROR);
        assert_eq!(e.data.unwrap()["errors"][0]["path"], "/structuredContent");
    }

    #[test]
    fn failures_take_the_revisions_shape_and_stay_bounded() {
        let s = set(&[
            r#"{"name":"many","inputSchema":{"type":"object","additionalProperties":{"type":"string","maxLength":3}}}"#,
        ]);
        let long = "y".repeat(5000);
        let mut args = String::from("{");
        for i in 0..20 {
            let _ = write!(args, "{}\"k{i}\":\"{long}\"", if i > 0 { "," } else { "" });
        }
        args.push('}');
        let v = s.check_arguments("many", Some(&raw(&args))).unwrap_err();
        assert_eq!(v.items.len(), MAX_REPORTED);
        assert_eq!(v.more, 20 - MAX_REPORTED);
        assert!(v
            .items
            .iter()
            .all(|i| i.message.len() <= MAX_MESSAGE_BYTES + 3));
        match ArgumentErrorStyle::ToolResult.failure("many", &v) {
            ArgumentFailure::ToolResult(text) => {
                let r: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(r["isError"], true);
                let t = r["content"][0]["text"].as_str().unwrap();
                assert!(t.starts_with("Invalid arguments for tool many: /k"), "{t}");
                assert!(t.ends_with("and 12 more"), "{t}");
            }
            other => panic!("{other:?}"),
        }
        match ArgumentErrorStyle::InvalidParams.failure("many", &v) {
            ArgumentFailure::Error(e) => {
                assert_eq!(e.code, INVALID_PARAMS);
                assert_eq!(
                    e.data.unwrap()["errors"].as_array().unwrap().len(),
                    MAX_REPORTED
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

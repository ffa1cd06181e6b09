//! One dispatcher for both eras. It answers what Rust can answer from the catalog and says
//! which JS callback answers the rest; it knows the era only where the spec differs.

use std::sync::Arc;

use parking_lot::RwLock;
use serde::Deserialize;
use serde_json::{json, value::RawValue, Value};

use super::catalog::Catalog;
use super::error::{CallError, RpcError, INTERNAL_ERROR, INVALID_PARAMS, RESOURCE_NOT_FOUND};
use super::logging;
use super::methods::{self, CallbackKind, Feature, ListKind, Op};
use super::validate::{ArgumentErrorStyle, ArgumentFailure};
use super::version::{Era, LegacyVersion, LEGACY_VERSIONS, MODERN_VERSIONS};

/// Where a request goes: what the method table says, executed as far as the dispatcher can.
#[derive(Debug)]
pub enum Routed {
    /// The result, as JSON text.
    Answer(String),
    Fail(RpcError),
    Callback(CallbackKind),
    /// Steps that need a front end's own state: it carries them out.
    Initialize,
    /// 2025: set the session's minimum log rank.
    SetLogLevel(u8),
    /// 2025: (un)subscribe the session to a resource uri.
    Subscribe {
        uri: String,
        on: bool,
    },
    Discover,
    Listen,
}

/// Cache hints the 2026-07-28 revision asks for on discover, list and read results.
#[derive(Debug, Clone, Default)]
pub struct CacheHints {
    pub ttl_ms: u64,
    pub public: bool,
}

/// What the server says about itself; fixed for its lifetime.
#[derive(Debug, Clone, Default)]
pub struct ServerDescription {
    pub name: String,
    pub version: String,
    pub title: Option<String>,
    /// `serverInfo.description`, `websiteUrl` and `icons` (2025-11-25), sent as given.
    pub info_description: Option<String>,
    pub website_url: Option<String>,
    pub icons: Option<Value>,
    pub instructions: Option<String>,
    pub tools: bool,
    pub resources: bool,
    pub prompts: bool,
    pub completions: bool,
    pub cache: CacheHints,
    pub legacy: bool,
    pub modern: bool,
}

/// How a JS callback failed: the call error type (kept under this name for callers).
pub type CallbackFailure = CallError;

pub struct Dispatcher {
    desc: ServerDescription,
    catalog: RwLock<Arc<Catalog>>,
    /// Answers fixed for the server's lifetime, rendered on first use.
    discover: std::sync::OnceLock<String>,
    initialize: [std::sync::OnceLock<String>; 3],
    /// The 2026 result tags with cache hints, and the hints alone.
    tags: std::sync::OnceLock<String>,
    cache: std::sync::OnceLock<String>,
}

#[derive(Deserialize, Default)]
struct ListParams {
    cursor: Option<String>,
}

#[derive(Deserialize)]
struct NamedParams<'a> {
    #[serde(borrow)]
    name: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    arguments: Option<&'a RawValue>,
}

impl Dispatcher {
    pub fn new(desc: ServerDescription, catalog: Catalog) -> Self {
        Self {
            desc,
            catalog: RwLock::new(Arc::new(catalog)),
            discover: Default::default(),
            initialize: Default::default(),
            tags: Default::default(),
            cache: Default::default(),
        }
    }

    pub fn description(&self) -> &ServerDescription {
        &self.desc
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().clone()
    }

    /// Swaps the catalog; the caller announces list_changed.
    pub fn update_catalog(&self, f: impl FnOnce(&Catalog) -> Catalog) {
        let mut guard = self.catalog.write();
        let next = f(&guard);
        *guard = Arc::new(next);
    }

    /// Routes a request by the method table (`super::methods`): a method the era does not
    /// have, or whose feature is off, is not found.
    pub fn route(&self, era: Era, method: &str, params: Option<&RawValue>) -> Routed {
        let Some(entry) = methods::lookup(method).filter(|m| m.eras.has(era) && self.has(m.needs))
        else {
            return Routed::Fail(RpcError::method_not_found(method));
        };
        match entry.op {
            Op::Initialize => Routed::Initialize,
            Op::Ping => Routed::Answer(self.finish_result(era, "{}".to_owned(), false)),
            Op::SetLogLevel => match logging::set_level_rank(params) {
                Ok(rank) => Routed::SetLogLevel(rank),
                Err(e) => Routed::Fail(e),
            },
            Op::Subscribe(on) => match uri_of(params) {
                Ok(uri) => Routed::Subscribe { uri, on },
                Err(e) => Routed::Fail(e),
            },
            Op::Discover => Routed::Discover,
            Op::Listen => Routed::Listen,
            Op::List(kind) => self.list(era, kind, params),
            Op::Callback(kind) => self.callback(kind, params),
        }
    }

    fn has(&self, feature: Feature) -> bool {
        match feature {
            Feature::Always => true,
            Feature::Tools => self.desc.tools,
            Feature::Resources => self.desc.resources,
            Feature::Prompts => self.desc.prompts,
            Feature::Completions => self.desc.completions,
        }
    }

    fn list(&self, era: Era, kind: ListKind, params: Option<&RawValue>) -> Routed {
        let p: ListParams = match params.map(|p| serde_json::from_str(p.get())) {
            None => ListParams::default(),
            Some(Ok(p)) => p,
            Some(Err(e)) => return Routed::Fail(RpcError::invalid_params(e)),
        };
        let catalog = self.catalog();
        let (listing, member) = match kind {
            ListKind::Tools => (&catalog.tools, "tools"),
            ListKind::Resources => (&catalog.resources, "resources"),
            ListKind::ResourceTemplates => (&catalog.resource_templates, "resourceTemplates"),
            ListKind::Prompts => (&catalog.prompts, "prompts"),
        };
        match listing.page(p.cursor.as_deref()) {
            Ok((items, next)) => {
                // Built in one pass, the 2026 tags first: no second copy of the page.
                let mut out = String::with_capacity(items.len() + 96);
                out.push('{');
                if era == Era::Modern {
                    out.push_str(self.modern_tags(true));
                    out.push(',');
                }
                out.push('"');
                out.push_str(member);
                out.push_str("\":");
                out.push_str(items);
                if let Some(next) = next {
                    out.push_str(",\"nextCursor\":");
                    super::json::push_string(&mut out, &next);
                }
                out.push('}');
                Routed::Answer(out)
            }
            Err(e) => Routed::Fail(e),
        }
    }

    fn callback(&self, kind: CallbackKind, params: Option<&RawValue>) -> Routed {
        let unknown = |what: &str, name: String| {
            Routed::Fail(
                RpcError::new(INVALID_PARAMS, format!("Unknown {what}: {name}"))
                    .with_data(json!({ "name": name })),
            )
        };
        match kind {
            CallbackKind::CallTool => match named(params) {
                Ok(name) if self.catalog.read().tools.contains(&name) => Routed::Callback(kind),
                Ok(name) => unknown("tool", name.into_owned()),
                Err(e) => Routed::Fail(e),
            },
            CallbackKind::GetPrompt => match named(params) {
                Ok(name) if self.catalog.read().prompts.contains(&name) => Routed::Callback(kind),
                Ok(name) => unknown("prompt", name.into_owned()),
                Err(e) => Routed::Fail(e),
            },
            CallbackKind::ReadResource => match uri_of(params) {
                Ok(_) => Routed::Callback(kind),
                Err(e) => Routed::Fail(e),
            },
            CallbackKind::Complete => Routed::Callback(kind),
        }
    }

    /// Checks the arguments of a tools/call that `route` sent to the callback against the
    /// tool's `inputSchema`; a failure answers in Rust, in the shape `style` says, and the
    /// callback never runs. Anything else passes through.
    pub fn check_arguments(
        &self,
        era: Era,
        style: ArgumentErrorStyle,
        params: Option<&RawValue>,
        routed: Routed,
    ) -> Routed {
        if !matches!(routed, Routed::Callback(CallbackKind::CallTool)) {
            return routed;
        }
        let catalog = self.catalog();
        if catalog.schemas.is_empty() {
            return routed;
        }
        let Some(p) = params.and_then(|p| serde_json::from_str::<NamedParams>(p.get()).ok()) else {
            return routed;
        };
        let Some(name) = p.name else {
            return routed;
        };
        match catalog.schemas.check_arguments(&name, p.arguments) {
            Ok(()) => routed,
            Err(v) => match style.failure(&name, &v) {
                ArgumentFailure::ToolResult(text) => {
                    Routed::Answer(self.finish_result(era, text, false))
                }
                ArgumentFailure::Error(e) => Routed::Fail(e),
            },
        }
    }

    /// The modern era tags every result with `resultType` and, where caching applies, the
    /// server's cache hints. The legacy era sends results as they are.
    pub fn finish_result(&self, era: Era, result: String, cacheable: bool) -> String {
        match era {
            Era::Legacy => result,
            Era::Modern => {
                let extra = if result.contains("\"resultType\"") {
                    if cacheable {
                        self.cache_members()
                    } else {
                        ""
                    }
                } else {
                    self.modern_tags(cacheable)
                };
                insert_members(result, extra)
            }
        }
    }

    /// `"resultType":"complete"` and, when cacheable, the cache hints (rendered once).
    fn modern_tags(&self, cacheable: bool) -> &str {
        const COMPLETE: &str = "\"resultType\":\"complete\"";
        if !cacheable {
            return COMPLETE;
        }
        self.tags
            .get_or_init(|| format!("{COMPLETE},{}", self.cache_members()))
    }

    fn cache_members(&self) -> &str {
        self.cache.get_or_init(|| {
            format!(
                "\"ttlMs\":{},\"cacheScope\":\"{}\"",
                self.desc.cache.ttl_ms,
                if self.desc.cache.public {
                    "public"
                } else {
                    "private"
                }
            )
        })
    }

    /// Turns a callback's outcome into the result or error the client sees.
    pub fn finish_callback(
        &self,
        era: Era,
        kind: CallbackKind,
        params: Option<&RawValue>,
        outcome: Result<String, CallbackFailure>,
    ) -> Result<String, RpcError> {
        match outcome {
            Ok(json) => {
                if !json.trim_start().starts_with('{') {
                    return Err(RpcError::internal(format!(
                        "{} returned a value that is not an object",
                        kind.as_str()
                    )));
                }
                if kind == CallbackKind::CallTool {
                    self.check_result(params, &json)?;
                }
                let cacheable = kind == CallbackKind::ReadResource;
                Ok(self.finish_result(era, json, cacheable))
            }
            Err(CallError::Failed {
                message,
                code,
                data,
            }) => match kind {
                CallbackKind::CallTool => {
                    let body = json!({
                        "content": [{ "type": "text", "text": message }],
                        "isError": true,
                    });
                    Ok(self.finish_result(era, body.to_string(), false))
                }
                CallbackKind::ReadResource if code == Some(RESOURCE_NOT_FOUND) => {
                    let uri = uri_of(params).unwrap_or_default();
                    let code = match era {
                        Era::Legacy => RESOURCE_NOT_FOUND,
                        Era::Modern => INVALID_PARAMS,
                    };
                    let mut data = data.unwrap_or_else(|| json!({}));
                    if let Value::Object(map) = &mut data {
                        map.entry("uri").or_insert(Value::String(uri));
                    }
                    Err(RpcError::new(code, message).with_data(data))
                }
                _ => {
                    let code = code.filter(|c| (-32768..=-32000).contains(c) || *c > 0);
                    let mut e = RpcError::new(code.unwrap_or(INTERNAL_ERROR), message);
                    e.data = data;
                    Err(e)
                }
            },
            Err(CallError::BadResult(why)) => Err(RpcError::internal(why)),
            Err(CallError::TimedOut) => Err(RpcError::new(
                -32001,
                format!(
                    "Request timed out: {} did not settle in time",
                    kind.as_str()
                ),
            )),
            Err(CallError::Unavailable) => Err(RpcError::internal("the server is shutting down")),
            Err(CallError::Cancelled) => Err(RpcError::new(
                super::error::SERVER_ERROR,
                "Request cancelled",
            )),
            // ctx.request errors reach here only if a callback returns one as its failure.
            Err(other) => Err(RpcError::new(other.code(), other.to_string())),
        }
    }

    /// A tool result against the tool's `outputSchema`, when it has one.
    fn check_result(&self, params: Option<&RawValue>, result: &str) -> Result<(), RpcError> {
        let catalog = self.catalog();
        // Most catalogs declare no outputSchema: then the params are not read again for the name.
        if !catalog.schemas.checks_results() {
            return Ok(());
        }
        let Ok(name) = named(params) else {
            return Ok(());
        };
        catalog
            .schemas
            .check_result(&name, result)
            .map_err(|v| super::validate::result_failure(&name, &v))
    }

    /// `capabilities` as derived from the options.
    pub fn capabilities(&self) -> Value {
        let mut caps = serde_json::Map::new();
        caps.insert("logging".into(), json!({}));
        if self.desc.tools {
            caps.insert("tools".into(), json!({ "listChanged": true }));
        }
        if self.desc.resources {
            caps.insert(
                "resources".into(),
                json!({ "subscribe": true, "listChanged": true }),
            );
        }
        if self.desc.prompts {
            caps.insert("prompts".into(), json!({ "listChanged": true }));
        }
        if self.desc.completions {
            caps.insert("completions".into(), json!({}));
        }
        Value::Object(caps)
    }

    pub fn server_info(&self) -> Value {
        let mut info = json!({ "name": self.desc.name, "version": self.desc.version });
        if let Value::Object(m) = &mut info {
            if let Some(t) = &self.desc.title {
                m.insert("title".into(), Value::String(t.clone()));
            }
            if let Some(d) = &self.desc.info_description {
                m.insert("description".into(), Value::String(d.clone()));
            }
            if let Some(u) = &self.desc.website_url {
                m.insert("websiteUrl".into(), Value::String(u.clone()));
            }
            if let Some(i) = &self.desc.icons {
                m.insert("icons".into(), i.clone());
            }
        }
        info
    }

    pub fn initialize_result(&self, version: LegacyVersion) -> &str {
        let slot = match version {
            LegacyVersion::V2025_03_26 => &self.initialize[0],
            LegacyVersion::V2025_06_18 => &self.initialize[1],
            LegacyVersion::V2025_11_25 => &self.initialize[2],
        };
        slot.get_or_init(|| self.render_initialize(version))
    }

    fn render_initialize(&self, version: LegacyVersion) -> String {
        let mut r = json!({
            "protocolVersion": version.as_str(),
            "capabilities": self.capabilities(),
            "serverInfo": self.server_info(),
        });
        if let (Some(i), Value::Object(m)) = (&self.desc.instructions, &mut r) {
            m.insert("instructions".into(), Value::String(i.clone()));
        }
        r.to_string()
    }

    /// The versions a client may use, for -32022 and `server/discover`.
    pub fn supported_versions(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.desc.modern {
            v.extend(MODERN_VERSIONS);
        }
        if self.desc.legacy {
            v.extend(LEGACY_VERSIONS.iter().rev());
        }
        v
    }

    /// `server/discover`'s result: supported versions, capabilities, instructions, caching
    /// hints and `_meta` serverInfo. Fixed for the server's lifetime, so rendered once.
    pub fn discover_result(&self) -> &str {
        self.discover.get_or_init(|| {
            let mut r = json!({
                "supportedVersions": self.supported_versions(),
                "capabilities": self.capabilities(),
                "serverInfo": self.server_info(),
                "_meta": { "io.modelcontextprotocol/serverInfo": self.server_info() },
            });
            if let (Some(i), Value::Object(m)) = (&self.desc.instructions, &mut r) {
                m.insert("instructions".into(), Value::String(i.clone()));
            }
            self.finish_result(Era::Modern, r.to_string(), true)
        })
    }
}

/// `params.name` of a tools/call or prompts/get, with `arguments` an object when present.
fn named(params: Option<&RawValue>) -> Result<std::borrow::Cow<'_, str>, RpcError> {
    let p = params
        .and_then(|p| serde_json::from_str::<NamedParams>(p.get()).ok())
        .ok_or_else(|| RpcError::invalid_params("params.name must be a string"))?;
    // Checked by its first character: the arguments themselves are the callback's business.
    if !p
        .arguments
        .is_none_or(|a| matches!(a.get().as_bytes().first(), Some(b'{') | Some(b'n')))
    {
        return Err(RpcError::invalid_params(
            "params.arguments must be an object",
        ));
    }
    p.name
        .ok_or_else(|| RpcError::invalid_params("params.name must be a string"))
}

/// `params.uri` of a resources request.
pub fn uri_of(params: Option<&RawValue>) -> Result<String, RpcError> {
    #[derive(Deserialize)]
    struct P {
        uri: Option<String>,
    }
    params
        .and_then(|p| serde_json::from_str::<P>(p.get()).ok())
        .and_then(|p| p.uri)
        .ok_or_else(|| RpcError::invalid_params("params.uri must be a string"))
}

/// Adds members to the front of a JSON object's text (`{` + extra + `,` + rest).
fn insert_members(object: String, extra: &str) -> String {
    if extra.is_empty() {
        return object;
    }
    let trimmed = object.trim_start();
    let Some(rest) = trimmed.strip_prefix('{') else {
        return object;
    };
    let rest_trim = rest.trim_start();
    if object.len() >= super::held::LARGE {
        // A large answer gets its members in its own buffer rather than a second copy.
        let at = object.len() - rest.len();
        let mut members = String::with_capacity(extra.len() + 1);
        members.push_str(extra);
        if !rest_trim.starts_with('}') {
            members.push(',');
        }
        let mut out = object;
        out.reserve(members.len() + 64 + super::sse::FRAME_ROOM);
        out.insert_str(at, &members);
        return out;
    }
    let mut out = String::with_capacity(object.len() + extra.len() + 2);
    out.push('{');
    out.push_str(extra);
    if !rest_trim.starts_with('}') {
        out.push(',');
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::protocol::catalog::Listing;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    fn dispatcher() -> Dispatcher {
        let desc = ServerDescription {
            name: "t".into(),
            version: "1".into(),
            tools: true,
            resources: true,
            legacy: true,
            modern: true,
            cache: CacheHints {
                ttl_ms: 5000,
                public: true,
            },
            ..Default::default()
        };
        let catalog = Catalog {
            tools: Listing::new(vec![raw(r#"{"name":"echo","inputSchema":{}}"#)], "name", 10)
                .unwrap(),
            ..Default::default()
        };
        Dispatcher::new(desc, catalog)
    }

    fn answer(r: Routed) -> Value {
        match r {
            Routed::Answer(s) => serde_json::from_str(&s).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lists_differ_by_era_only_in_tags() {
        let d = dispatcher();
        let legacy = answer(d.route(Era::Legacy, "tools/list", None));
        assert_eq!(legacy["tools"][0]["name"], "echo");
        assert!(legacy.get("resultType").is_none());
        let modern = answer(d.route(Era::Modern, "tools/list", None));
        assert_eq!(modern["tools"], legacy["tools"]);
        assert_eq!(modern["resultType"], "complete");
        assert_eq!(modern["ttlMs"], 5000);
        assert_eq!(modern["cacheScope"], "public");
    }

    #[test]
    fn unknown_tools_and_methods_fail_in_rust() {
        let d = dispatcher();
        let p = raw(r#"{"name":"nope","arguments":{}}"#);
        match d.route(Era::Legacy, "tools/call", Some(&p)) {
            Routed::Fail(e) => assert_eq!(e.code, INVALID_PARAMS),
            other => panic!("{other:?}"),
        }
        let p = raw(r#"{"name":"echo","arguments":"x"}"#);
        match d.route(Era::Legacy, "tools/call", Some(&p)) {
            Routed::Fail(e) => assert_eq!(e.code, INVALID_PARAMS),
            other => panic!("{other:?}"),
        }
        let p = raw(r#"{"name":"echo","arguments":{}}"#);
        assert!(matches!(
            d.route(Era::Legacy, "tools/call", Some(&p)),
            Routed::Callback(CallbackKind::CallTool)
        ));
        match d.route(Era::Legacy, "prompts/list", None) {
            Routed::Fail(e) => assert_eq!(e.code, -32601),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn callback_failures_map_per_kind_and_era() {
        let d = dispatcher();
        let threw = |code| CallError::Failed {
            message: "boom".into(),
            code,
            data: None,
        };
        let tool = d
            .finish_callback(Era::Legacy, CallbackKind::CallTool, None, Err(threw(None)))
            .unwrap();
        let tool: Value = serde_json::from_str(&tool).unwrap();
        assert_eq!(tool["isError"], true);
        assert_eq!(tool["content"][0]["text"], "boom");
        let p = raw(r#"{"uri":"x://missing"}"#);
        let legacy = d
            .finish_callback(
                Era::Legacy,
                CallbackKind::ReadResource,
                Some(&p),
                Err(threw(Some(RESOURCE_NOT_FOUND))),
            )
            .unwrap_err();
        assert_eq!(legacy.code, RESOURCE_NOT_FOUND);
        assert_eq!(legacy.data.unwrap()["uri"], "x://missing");
        let modern = d
            .finish_callback(
                Era::Modern,
                CallbackKind::ReadResource,
                Some(&p),
                Err(threw(Some(RESOURCE_NOT_FOUND))),
            )
            .unwrap_err();
        assert_eq!(modern.code, INVALID_PARAMS);
        let prompt = d
            .finish_callback(Era::Legacy, CallbackKind::GetPrompt, None, Err(threw(None)))
            .unwrap_err();
        assert_eq!(prompt.code, INTERNAL_ERROR);
        assert!(d
            .finish_callback(Era::Legacy, CallbackKind::Complete, None, Ok("[1]".into()))
            .is_err());
    }

    #[test]
    fn arguments_and_results_are_validated_per_revision() {
        use crate::protocol::validate::ValidationPolicy;
        let d = dispatcher();
        d.update_catalog(|c| {
            let mut next = c.clone();
            next.tools = Listing::new(
                vec![raw(
                    r#"{"name":"echo","inputSchema":{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]},"outputSchema":{"type":"object","required":["n"]}}"#,
                )],
                "name",
                10,
            )
            .unwrap();
            next.index_tools(ValidationPolicy::default()).unwrap();
            next
        });
        let call = |era, style, args: &str| {
            let p = raw(&format!(r#"{{"name":"echo","arguments":{args}}}"#));
            let routed = d.route(era, "tools/call", Some(&p));
            d.check_arguments(era, style, Some(&p), routed)
        };
        assert!(matches!(
            call(Era::Legacy, ArgumentErrorStyle::InvalidParams, r#"{"n":1}"#),
            Routed::Callback(CallbackKind::CallTool)
        ));
        match call(
            Era::Legacy,
            ArgumentErrorStyle::InvalidParams,
            r#"{"n":"x"}"#,
        ) {
            Routed::Fail(e) => {
                assert_eq!(e.code, INVALID_PARAMS);
                assert_eq!(e.data.unwrap()["errors"][0]["path"], "/n");
            }
            other => panic!("{other:?}"),
        }
        let legacy = answer(call(Era::Legacy, ArgumentErrorStyle::ToolResult, "{}"));
        assert_eq!(legacy["isError"], true);
        assert!(legacy["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("\"n\""));
        let modern = answer(call(
            Era::Modern,
            ArgumentErrorStyle::ToolResult,
            r#"{"n":1.5}"#,
        ));
        assert_eq!(modern["isError"], true);
        assert_eq!(modern["resultType"], "complete");
        // Results: a conforming one passes, a missing structuredContent is -32603.
        let p = raw(r#"{"name":"echo","arguments":{"n":1}}"#);
        let ok = d.finish_callback(
            Era::Legacy,
            CallbackKind::CallTool,
            Some(&p),
            Ok(r#"{"content":[],"structuredContent":{"n":1}}"#.into()),
        );
        assert!(ok.is_ok());
        let bad = d
            .finish_callback(
                Era::Modern,
                CallbackKind::CallTool,
                Some(&p),
                Ok(r#"{"content":[{"type":"text","text":"1"}]}"#.into()),
            )
            .unwrap_err();
        assert_eq!(bad.code, INTERNAL_ERROR);
        assert!(bad.message.contains("outputSchema"), "{}", bad.message);
    }

    #[test]
    fn members_are_inserted_into_empty_and_full_objects() {
        assert_eq!(insert_members("{}".into(), "\"a\":1"), "{\"a\":1}");
        assert_eq!(
            insert_members("{\"b\":2}".into(), "\"a\":1"),
            "{\"a\":1,\"b\":2}"
        );
        // A large object takes them in its own buffer (leading white space kept).
        let big = format!(
            " {{\"t\":\"{}\"}}",
            "x".repeat(crate::protocol::held::LARGE)
        );
        let inserted = insert_members(big.clone(), "\"a\":1");
        assert_eq!(inserted, format!(" {{\"a\":1,{}", &big[2..]));
        let empty = format!("{{{}}}", " ".repeat(crate::protocol::held::LARGE));
        assert_eq!(
            insert_members(empty.clone(), "\"a\":1"),
            format!("{{\"a\":1{}", &empty[1..])
        );
    }
}

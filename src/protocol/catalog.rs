//! Tool, resource, template and prompt definitions as the client sees them, with pagination.
//! Definitions are kept as the JSON the host gave us and pages are rendered once per change,
//! so `tools/list` is a lookup, not a serialisation.

use std::collections::HashMap;

use base64::Engine;
use serde_json::value::RawValue;

use super::error::RpcError;

/// Items per page of a list result.
pub const DEFAULT_PAGE_SIZE: usize = 100;

/// One kind of definition (tools, resources, …) with its rendered pages.
#[derive(Debug, Default, Clone)]
pub struct Listing {
    items: Vec<Box<RawValue>>,
    index: HashMap<String, usize>,
    /// The `[...]` text of each page, and whether another page follows.
    pages: Vec<String>,
    /// Whether any item has its own `requiredScopes`: when none has, authorization needs no
    /// per-item check and lists go out unfiltered.
    scoped: bool,
}

impl Listing {
    /// `key` names the member that identifies an item (`name`, `uri`, `uriTemplate`).
    pub fn new(items: Vec<Box<RawValue>>, key: &str, page_size: usize) -> Result<Self, String> {
        let mut index = HashMap::with_capacity(items.len());
        let mut scoped = false;
        for (i, item) in items.iter().enumerate() {
            let v: serde_json::Value =
                serde_json::from_str(item.get()).map_err(|e| format!("item {i}: {e}"))?;
            let k = v
                .get(key)
                .and_then(|k| k.as_str())
                .ok_or_else(|| format!("item {i} has no string \"{key}\""))?;
            if index.insert(k.to_owned(), i).is_some() {
                return Err(format!("duplicate {key} \"{k}\""));
            }
            scoped |= v.get("requiredScopes").is_some();
        }
        let page_size = page_size.max(1);
        let pages = if items.is_empty() {
            vec!["[]".to_owned()]
        } else {
            items
                .chunks(page_size)
                .map(|chunk| {
                    let mut s = String::from("[");
                    for (i, it) in chunk.iter().enumerate() {
                        if i > 0 {
                            s.push(',');
                        }
                        s.push_str(it.get());
                    }
                    s.push(']');
                    s
                })
                .collect()
        };
        Ok(Self {
            items,
            index,
            pages,
            scoped,
        })
    }

    /// Whether any item carries its own `requiredScopes`.
    pub fn is_scoped(&self) -> bool {
        self.scoped
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.index.get(key).map(|&i| &*self.items[i])
    }

    /// The definitions, in the host's order.
    pub fn items(&self) -> impl Iterator<Item = &RawValue> {
        self.items.iter().map(|b| &**b)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }

    /// Every item's key (the bounded set of names metrics may label with).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(String::as_str)
    }

    /// The page a cursor points at: its items' JSON array and the next cursor.
    pub fn page(&self, cursor: Option<&str>) -> Result<(&str, Option<String>), RpcError> {
        let page = match cursor {
            None => 0,
            Some(c) => decode_cursor(c)
                .filter(|&p| p < self.pages.len())
                .ok_or_else(|| RpcError::invalid_params("invalid cursor"))?,
        };
        let next = (page + 1 < self.pages.len()).then(|| encode_cursor(page + 1));
        Ok((&self.pages[page], next))
    }
}

fn encode_cursor(page: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("p{page}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    std::str::from_utf8(&bytes)
        .ok()?
        .strip_prefix('p')?
        .parse()
        .ok()
}

/// Everything the server lists, swapped whole by `setTools` and friends.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    pub tools: Listing,
    pub resources: Listing,
    pub resource_templates: Listing,
    pub prompts: Listing,
    /// Tool name → its `x-mcp-header` properties (2026-07-28 `Mcp-Param-*` headers).
    pub tool_headers: HashMap<String, super::headers::ParamHeaders>,
    /// The tools' compiled input and output schemas, and what is validated.
    pub schemas: super::validate::SchemaSet,
}

impl Catalog {
    /// Whether any tool, resource, template or prompt carries its own `requiredScopes`.
    pub fn is_scoped(&self) -> bool {
        self.tools.is_scoped()
            || self.resources.is_scoped()
            || self.resource_templates.is_scoped()
            || self.prompts.is_scoped()
    }

    /// Everything derived from the tool list: `x-mcp-header` annotations and compiled schemas.
    /// Fails, changing nothing, on an invalid annotation or schema.
    pub fn index_tools(&mut self, policy: super::validate::ValidationPolicy) -> Result<(), String> {
        let schemas = super::validate::SchemaSet::compile(&self.tools.items, policy)
            .map_err(|e| e.to_string())?;
        self.index_tool_headers()?;
        self.schemas = schemas;
        Ok(())
    }

    /// Validates and indexes the tools' `x-mcp-header` annotations.
    pub fn index_tool_headers(&mut self) -> Result<(), String> {
        let mut map = HashMap::new();
        for item in &self.tools.items {
            let v: serde_json::Value =
                serde_json::from_str(item.get()).map_err(|e| e.to_string())?;
            let h = super::headers::param_headers(&v)?;
            if !h.is_empty() {
                if let Some(name) = v.get("name").and_then(|n| n.as_str()) {
                    map.insert(name.to_owned(), h);
                }
            }
        }
        self.tool_headers = map;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn pages_follow_cursors_to_the_end() {
        let items = (0..5)
            .map(|i| raw(&format!("{{\"name\":\"t{i}\"}}")))
            .collect();
        let l = Listing::new(items, "name", 2).unwrap();
        let (p0, c1) = l.page(None).unwrap();
        assert_eq!(p0, r#"[{"name":"t0"},{"name":"t1"}]"#);
        let (p1, c2) = l.page(c1.as_deref()).unwrap();
        assert_eq!(p1, r#"[{"name":"t2"},{"name":"t3"}]"#);
        let (p2, end) = l.page(c2.as_deref()).unwrap();
        assert_eq!(p2, r#"[{"name":"t4"}]"#);
        assert!(end.is_none());
        assert!(l.page(Some("bogus")).is_err());
        assert!(l.page(Some(&encode_cursor(9))).is_err());
        assert!(l.get("t3").is_some() && l.get("t9").is_none());
    }

    #[test]
    fn rejects_unnamed_and_duplicate_items() {
        assert!(Listing::new(vec![raw("{}")], "name", 10).is_err());
        let dup = vec![raw(r#"{"name":"a"}"#), raw(r#"{"name":"a"}"#)];
        assert!(Listing::new(dup, "name", 10).is_err());
        let empty = Listing::new(vec![], "name", 10).unwrap();
        assert_eq!(empty.page(None).unwrap(), ("[]", None));
    }
}

//! The layering rule of docs/architecture.md, checked on the source: bindings > transport >
//! monitor > session > protocol, events > util. A file may import from its own layer or below, never
//! from above, and the files of one layer must not import each other in a circle. Imports are
//! read from `crate::…` and `super::…` paths outside comments and test modules; a module's
//! `pub use` re-exports are its facade, not dependencies.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rank(layer: &str) -> Option<u8> {
    match layer {
        "util" => Some(0),
        "protocol" | "events" | "auth" | "telemetry" => Some(1),
        "session" => Some(2),
        "monitor" => Some(3),
        "transport" => Some(4),
        "bindings" => Some(5),
        _ => None,
    }
}

/// `layer/file` (a module file's name without `.rs`, `mod` for `mod.rs`).
type Node = String;

struct Source {
    layer: String,
    file: String,
    text: String,
}

fn sources(root: &Path) -> Vec<Source> {
    let mut out = Vec::new();
    for layer in [
        "util",
        "protocol",
        "events",
        "auth",
        "telemetry",
        "session",
        "monitor",
        "transport",
        "bindings",
    ] {
        let dir = root.join(layer);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for path in files {
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let file = path.file_stem().unwrap().to_str().unwrap().to_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            out.push(Source {
                layer: layer.to_owned(),
                file,
                text,
            });
        }
    }
    out
}

/// The code a file's imports are read from: no comments, no test module, no re-exports.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            break;
        }
        if t.starts_with("//") || t.starts_with("pub use ") || t.starts_with("pub(crate) use ") {
            continue;
        }
        let code = match t.find("//") {
            Some(i) if !t[..i].contains('"') => &t[..i],
            _ => t,
        };
        out.push_str(code);
        out.push('\n');
    }
    // A multi-line `pub use x::{…};` re-export: drop it whole.
    let mut cleaned = String::new();
    let mut rest = out.as_str();
    while let Some(i) = rest.find("pub use ") {
        cleaned.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest.find(';').map_or(rest.len(), |e| e + 1);
        rest = &rest[end..];
    }
    cleaned.push_str(rest);
    cleaned
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The names a path continues with after `prefix::`: one, or each of a `{…}` group.
fn heads(after: &str) -> Vec<String> {
    if let Some(group) = after.strip_prefix('{') {
        let mut depth = 0;
        let mut names = Vec::new();
        let mut start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    names.push(group[start..i].trim().to_owned());
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    names.push(group[start..i].trim().to_owned());
                    start = i + 1;
                }
                _ => {}
            }
        }
        names
            .into_iter()
            .map(|n| ident(&n).to_owned())
            .filter(|n| !n.is_empty())
            .collect()
    } else {
        vec![ident(after).to_owned()]
    }
}

/// Which file of `layer` an imported name lives in: a module file, or the re-export's source
/// (read from `mod.rs`), or `mod.rs` itself.
fn resolve(layer: &str, name: &str, all: &BTreeMap<Node, &Source>) -> Node {
    if name != "mod" && all.contains_key(&format!("{layer}/{name}")) {
        return format!("{layer}/{name}");
    }
    if let Some(m) = all.get(&format!("{layer}/mod")) {
        for line in m.text.split(';') {
            let t = line.trim();
            if let Some(rest) = t.strip_prefix("pub use ") {
                let (module, items) = rest.split_once("::").unwrap_or((rest, ""));
                let module = ident(module.trim_start_matches("self::"));
                if items.contains(name) && all.contains_key(&format!("{layer}/{module}")) {
                    let listed = heads(items.trim()).iter().any(|h| h == name);
                    if listed {
                        return format!("{layer}/{module}");
                    }
                }
            }
        }
    }
    format!("{layer}/mod")
}

fn edges(all: &BTreeMap<Node, &Source>) -> BTreeMap<Node, BTreeSet<Node>> {
    let mut out: BTreeMap<Node, BTreeSet<Node>> = BTreeMap::new();
    for (node, src) in all {
        let code = code_of(&src.text);
        let targets = out.entry(node.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            for layer in heads(rest) {
                if rank(&layer).is_none() {
                    continue;
                }
                let after = &rest[layer.len()..];
                let names = match after.strip_prefix("::") {
                    Some(a) => heads(a),
                    None => vec!["mod".to_owned()],
                };
                for n in names {
                    targets.insert(resolve(&layer, &n, all));
                }
            }
        }
        for (i, _) in code.match_indices("super::") {
            // `super::super::` and similar are not used in this crate.
            if code[..i].ends_with("::") {
                continue;
            }
            let rest = &code[i + "super::".len()..];
            for n in heads(rest) {
                if n == "super" || n.is_empty() {
                    continue;
                }
                targets.insert(resolve(&src.layer, &n, all));
            }
        }
        targets.remove(node);
    }
    out
}

fn layer_of(node: &str) -> &str {
    node.split('/').next().unwrap_or("")
}

#[test]
fn no_upward_imports_and_no_cycles() {
    // LAYERS_SRC checks another tree (e.g. an older commit's `src`, exported with git archive).
    let root = std::env::var_os("LAYERS_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let srcs = sources(&root);
    assert!(srcs.len() > 20, "the source files were found");
    let all: BTreeMap<Node, &Source> = srcs
        .iter()
        .map(|s| (format!("{}/{}", s.layer, s.file), s))
        .collect();
    let graph = edges(&all);
    let mut problems = Vec::new();
    for (from, tos) in &graph {
        let r = rank(layer_of(from)).unwrap();
        for to in tos {
            let rt = rank(layer_of(to)).unwrap();
            if rt > r {
                problems.push(format!("upward import: {from} -> {to}"));
            }
        }
    }
    // Cycles among the files of one rank (depth-first search with colours).
    fn visit<'a>(
        n: &'a str,
        graph: &'a BTreeMap<Node, BTreeSet<Node>>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
        problems: &mut Vec<String>,
    ) {
        state.insert(n, 1);
        path.push(n);
        let r = rank(layer_of(n));
        for to in graph.get(n).into_iter().flatten() {
            if rank(layer_of(to)) != r {
                continue;
            }
            match state.get(to.as_str()).copied() {
                Some(1) => {
                    let start = path.iter().position(|p| *p == to).unwrap_or(0);
                    problems.push(format!("cycle: {} -> {to}", path[start..].join(" -> ")));
                }
                Some(_) => {}
                None => visit(to, graph, state, path, problems),
            }
        }
        path.pop();
        state.insert(n, 2);
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if !state.contains_key(n.as_str()) {
            visit(n, &graph, &mut state, &mut Vec::new(), &mut problems);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_sees_upward_imports_and_cycles() {
    // The checker itself could silently see nothing; feed it a known-bad tree.
    let mk = |layer: &str, file: &str, text: &str| Source {
        layer: layer.into(),
        file: file.into(),
        text: text.into(),
    };
    let srcs = [
        mk("monitor", "stdout", "use crate::transport::Core;\n"),
        mk("transport", "mod", "pub use server::{Core, McpServer};\n"),
        mk("transport", "server", "use super::router::handle;\n"),
        mk("transport", "router", "use super::{http, server::Core};\n"),
        mk(
            "transport",
            "http",
            "use crate::protocol::{jsonrpc, RpcError};\n",
        ),
        mk("protocol", "jsonrpc", "// use crate::transport::x;\n"),
    ];
    let all: BTreeMap<Node, &Source> = srcs
        .iter()
        .map(|s| (format!("{}/{}", s.layer, s.file), s))
        .collect();
    let g = edges(&all);
    assert!(g["monitor/stdout"].contains("transport/server"));
    assert!(g["transport/router"].contains("transport/server"));
    assert!(g["transport/router"].contains("transport/http"));
    assert!(g["transport/server"].contains("transport/router"));
    assert!(g["transport/http"].contains("protocol/jsonrpc"));
    assert!(g["transport/http"].contains("protocol/mod"));
    assert!(g["protocol/jsonrpc"].is_empty(), "comments are not imports");
    assert!(g["transport/mod"].is_empty(), "re-exports are not imports");
}

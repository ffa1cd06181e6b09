//! The one method table: every method either era accepts, the era(s) it exists in, the
//! server feature it needs, and what answers it. The `Dispatcher` executes the table; the
//! front ends carry out only the steps that need their own state (a 2025 session's log level
//! and subscriptions, a 2026 listen stream). See docs/protocol-eras.md.

use super::version::Era;

/// The JS callback that answers a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackKind {
    CallTool,
    ReadResource,
    GetPrompt,
    Complete,
}

impl CallbackKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackKind::CallTool => "callTool",
            CallbackKind::ReadResource => "readResource",
            CallbackKind::GetPrompt => "getPrompt",
            CallbackKind::Complete => "complete",
        }
    }

    pub fn for_method(method: &str) -> Option<Self> {
        match method {
            "tools/call" => Some(Self::CallTool),
            "resources/read" => Some(Self::ReadResource),
            "prompts/get" => Some(Self::GetPrompt),
            "completion/complete" => Some(Self::Complete),
            _ => None,
        }
    }
}

/// What answers a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// 2025: opens a session (the front end handles it before any session exists).
    Initialize,
    Ping,
    /// 2025: the session's log level.
    SetLogLevel,
    /// 2025: a session's resource subscription (`true`) or its end.
    Subscribe(bool),
    /// 2026-07-28: the server's self-description.
    Discover,
    /// 2026-07-28: an open stream of list and resource notifications.
    Listen,
    List(ListKind),
    Callback(CallbackKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Tools,
    Resources,
    ResourceTemplates,
    Prompts,
}

/// The server feature a method needs (it is unknown when the feature is off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    Always,
    Tools,
    Resources,
    Prompts,
    Completions,
}

/// Which eras have a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eras {
    Both,
    /// Only the 2025 revisions (the 2026-07-28 revision removed it).
    Legacy,
    /// Only 2026-07-28.
    Modern,
}

impl Eras {
    pub fn has(self, era: Era) -> bool {
        match self {
            Eras::Both => true,
            Eras::Legacy => era == Era::Legacy,
            Eras::Modern => era == Era::Modern,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method {
    pub op: Op,
    pub eras: Eras,
    pub needs: Feature,
}

const fn m(op: Op, eras: Eras, needs: Feature) -> Option<Method> {
    Some(Method { op, eras, needs })
}

/// The table. A `match` rather than a map: the compiler turns it into a few length and byte
/// comparisons, cheaper than hashing the name.
pub fn lookup(method: &str) -> Option<Method> {
    use CallbackKind::*;
    use Eras::{Both, Legacy, Modern};
    use Feature::*;
    match method {
        "initialize" => m(Op::Initialize, Legacy, Always),
        "ping" => m(Op::Ping, Legacy, Always),
        "logging/setLevel" => m(Op::SetLogLevel, Legacy, Always),
        "resources/subscribe" => m(Op::Subscribe(true), Legacy, Resources),
        "resources/unsubscribe" => m(Op::Subscribe(false), Legacy, Resources),
        "server/discover" => m(Op::Discover, Modern, Always),
        "subscriptions/listen" => m(Op::Listen, Modern, Always),
        "tools/list" => m(Op::List(ListKind::Tools), Both, Tools),
        "tools/call" => m(Op::Callback(CallTool), Both, Tools),
        "resources/list" => m(Op::List(ListKind::Resources), Both, Resources),
        "resources/templates/list" => m(Op::List(ListKind::ResourceTemplates), Both, Resources),
        "resources/read" => m(Op::Callback(ReadResource), Both, Resources),
        "prompts/list" => m(Op::List(ListKind::Prompts), Both, Prompts),
        "prompts/get" => m(Op::Callback(GetPrompt), Both, Prompts),
        "completion/complete" => m(Op::Callback(Complete), Both, Completions),
        _ => None,
    }
}

/// Methods the 2026-07-28 revision removed (they exist only in the 2025 revisions).
pub fn removed_in_modern(method: &str) -> bool {
    lookup(method).is_some_and(|m| m.eras == Eras::Legacy)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_table_knows_each_era() {
        for removed in [
            "initialize",
            "ping",
            "logging/setLevel",
            "resources/subscribe",
            "resources/unsubscribe",
        ] {
            assert!(removed_in_modern(removed), "{removed}");
        }
        assert!(!removed_in_modern("tools/call"));
        assert!(!lookup("server/discover").unwrap().eras.has(Era::Legacy));
        assert!(lookup("tools/list").unwrap().eras.has(Era::Modern));
        assert_eq!(
            lookup("tools/call").unwrap().op,
            Op::Callback(CallbackKind::CallTool)
        );
        assert!(lookup("nope").is_none());
    }
}

//! The members of a request's params that routing and callbacks read, borrowed from the
//! request text in one parse, and the small params object a callback receives.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::json::push_string;

/// `name`, `uri`, `arguments`, `ref`, `argument` (what callbacks use), the multi round-trip
/// members, and `notifications` (`subscriptions/listen`).
#[derive(Deserialize, Default)]
pub struct CallParams<'a> {
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub uri: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub arguments: Option<&'a RawValue>,
    #[serde(
        borrow,
        default,
        rename = "inputResponses",
        deserialize_with = "present"
    )]
    pub input_responses: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "requestState", deserialize_with = "present")]
    pub request_state: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub notifications: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "ref")]
    pub reference: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub argument: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "_meta")]
    pub meta: Option<&'a RawValue>,
}

/// Keeps an explicit `null` distinguishable from an absent member.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

impl<'a> CallParams<'a> {
    pub fn parse(params: Option<&'a RawValue>) -> Result<Self, serde_json::Error> {
        match params {
            Some(p) => serde_json::from_str(p.get()),
            None => Ok(Self::default()),
        }
    }

    /// What a callback receives: only the members JS uses, as one small JSON object.
    /// Everything else, `_meta` included, is the server's business and would only cost JS a
    /// larger parse.
    pub fn for_callback(&self) -> String {
        let raw = |r: Option<&RawValue>| r.map_or(0, |r| r.get().len() + 12);
        let text = |s: &Option<Cow<'_, str>>| s.as_deref().map_or(0, |s| s.len() + 12);
        let mut out = String::with_capacity(
            2 + text(&self.name)
                + text(&self.uri)
                + raw(self.arguments)
                + raw(self.reference)
                + raw(self.argument),
        );
        out.push('{');
        let member = |out: &mut String, key: &str| {
            if out.len() > 1 {
                out.push(',');
            }
            out.push('"');
            out.push_str(key);
            out.push_str("\":");
        };
        if let Some(n) = &self.name {
            member(&mut out, "name");
            push_string(&mut out, n);
        }
        for (key, value) in [
            ("arguments", self.arguments),
            ("uri", None),
            ("ref", self.reference),
            ("argument", self.argument),
        ] {
            if key == "uri" {
                if let Some(u) = &self.uri {
                    member(&mut out, "uri");
                    push_string(&mut out, u);
                }
            } else if let Some(v) = value {
                member(&mut out, key);
                out.push_str(v.get());
            }
        }
        out.push('}');
        out
    }

    /// `_meta.progressToken`, when sent.
    pub fn progress_token(&self) -> Option<serde_json::Value> {
        self.meta
            .and_then(|m| serde_json::from_str::<super::meta::Meta>(m.get()).ok())
            .and_then(|m| m.progress_token)
    }

    /// The tool or prompt name, or the resource uri: what a sealed request state is bound to.
    pub fn target(&self) -> &str {
        self.name.as_deref().or(self.uri.as_deref()).unwrap_or("")
    }
}

/// The callback params of a request whose params were already checked by the dispatcher.
pub fn callback_params(params: Option<&RawValue>) -> String {
    CallParams::parse(params).unwrap_or_default().for_callback()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn callback_params_keep_only_what_js_uses() {
        let p = raw(
            r#"{"name":"t","arguments":{"a":[1,{"b":2}]},"_meta":{"progressToken":1,"io.modelcontextprotocol/clientCapabilities":{}}}"#,
        );
        assert_eq!(
            callback_params(Some(&p)),
            r#"{"name":"t","arguments":{"a":[1,{"b":2}]}}"#
        );
        let p =
            raw(r#"{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"x","value":"y"}}"#);
        assert_eq!(
            callback_params(Some(&p)),
            r#"{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"x","value":"y"}}"#
        );
        let p = raw(r#"{"name":"a\"b\u00e9"}"#);
        assert_eq!(callback_params(Some(&p)), "{\"name\":\"a\\\"bé\"}");
        assert_eq!(callback_params(None), "{}");
    }

    #[test]
    fn null_members_stay_distinguishable() {
        let p = raw(r#"{"uri":"x://a","requestState":null}"#);
        let c = CallParams::parse(Some(&p)).unwrap();
        assert_eq!(c.request_state.map(RawValue::get), Some("null"));
        assert!(c.input_responses.is_none());
        assert_eq!(c.target(), "x://a");
        assert!(c.progress_token().is_none());
        let p = raw(r#"{"name":"t","_meta":{"progressToken":"p1"}}"#);
        let c = CallParams::parse(Some(&p)).unwrap();
        assert_eq!(c.progress_token(), Some(serde_json::json!("p1")));
    }
}

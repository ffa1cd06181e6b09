//! Small JSON text writers for the hot path: answers and contexts are assembled as text from
//! pieces that are already JSON, so only plain strings need encoding.

/// Appends `s` as a JSON string literal (same text serde_json writes).
pub fn push_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// A JSON object from members whose values are already JSON text; absent ones are left out.
pub fn object_of(members: &[(&str, Option<&str>)]) -> String {
    let mut out = String::with_capacity(
        2 + members
            .iter()
            .map(|(k, v)| k.len() + v.map_or(0, str::len) + 4)
            .sum::<usize>(),
    );
    out.push('{');
    for (key, value) in members {
        if let Some(v) = value {
            if out.len() > 1 {
                out.push(',');
            }
            out.push('"');
            out.push_str(key);
            out.push_str("\":");
            out.push_str(v);
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn strings_match_serde_json() {
        for s in [
            "",
            "plain",
            "q\"b\\s",
            "nl\ncr\rtab\t",
            "\u{1}\u{1f}\u{8}\u{c}",
            "é ☃ 😀",
        ] {
            let mut out = String::new();
            push_string(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap());
        }
    }

    #[test]
    fn objects_skip_absent_members() {
        assert_eq!(
            object_of(&[("a", Some("1")), ("b", None), ("c", Some("[]"))]),
            r#"{"a":1,"c":[]}"#
        );
        assert_eq!(object_of(&[("a", None)]), "{}");
    }
}

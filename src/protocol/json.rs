//! Small JSON text writers for the hot path: answers and contexts are assembled as text from
//! pieces that are already JSON, so only plain strings need encoding.

/// How a byte is written inside a JSON string literal, as serde_json writes it; `None` for
/// itself. Every byte that needs an escape is ASCII, so UTF-8 text can be scanned bytewise.
#[inline]
pub fn escape_of(b: u8) -> Option<&'static [u8]> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    static CONTROL: [[u8; 6]; 32] = {
        let mut t = [[0u8; 6]; 32];
        let mut i = 0;
        while i < 32 {
            t[i] = [b'\\', b'u', b'0', b'0', HEX[i >> 4], HEX[i & 15]];
            i += 1;
        }
        t
    };
    match b {
        b'"' => Some(b"\\\""),
        b'\\' => Some(b"\\\\"),
        b'\n' => Some(b"\\n"),
        b'\r' => Some(b"\\r"),
        b'\t' => Some(b"\\t"),
        0x08 => Some(b"\\b"),
        0x0c => Some(b"\\f"),
        0..=0x1f => Some(&CONTROL[b as usize]),
        _ => None,
    }
}

/// Appends `s` as a JSON string literal (same text serde_json writes).
pub fn push_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut start = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        let Some(esc) = escape_of(b) else {
            continue;
        };
        out.push_str(&s[start..i]);
        // Escapes are ASCII: each byte is its own char.
        out.extend(esc.iter().map(|&c| char::from(c)));
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

//! All-ASCII JSON text, for text handed to V8: with every non-ASCII character written as a
//! `\uXXXX` escape, V8 takes the text as Latin-1 (a plain copy) and byte offsets into it are
//! character offsets. The hub's batches to JS (`bindings::events`) are written with these.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any of the 8 bytes of `w` needs escaping in a JSON string: a control character,
/// `"`, `\\`, or a non-ASCII byte.
#[inline]
fn needs_escape(w: u64) -> bool {
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let lt_space = w.wrapping_sub(ONES * 0x20) & !w;
    ((lt_space | w | has_zero(w ^ (ONES * b'"' as u64)) | has_zero(w ^ (ONES * b'\\' as u64)))
        & HIGHS)
        != 0
}

/// How many leading bytes of `b` are plain (need no escaping).
#[inline]
fn plain_prefix(b: &[u8], plain: impl Fn(u8) -> bool, word_ok: impl Fn(u64) -> bool) -> usize {
    let mut i = 0;
    while i + 8 <= b.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        if !word_ok(u64::from_le_bytes(w)) {
            break;
        }
        i += 8;
    }
    while i < b.len() && plain(b[i]) {
        i += 1;
    }
    i
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_u16_escape(out: &mut Vec<u8>, u: u16) {
    out.extend_from_slice(&[
        b'\\',
        b'u',
        HEX[(u >> 12) as usize & 15],
        HEX[(u >> 8) as usize & 15],
        HEX[(u >> 4) as usize & 15],
        HEX[u as usize & 15],
    ]);
}

/// Writes the char starting at `s[i]` (non-ASCII) as `\uXXXX` escapes; returns its length.
fn push_char_escape(out: &mut Vec<u8>, s: &str, i: usize) -> usize {
    let c = s[i..].chars().next().unwrap_or('\u{fffd}');
    let mut units = [0u16; 2];
    for u in c.encode_utf16(&mut units) {
        push_u16_escape(out, *u);
    }
    c.len_utf8()
}

/// `s` as an all-ASCII JSON string literal (same value as serde_json writes).
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    out.push(b'"');
    let mut i = 0;
    while i < b.len() {
        let n = plain_prefix(
            &b[i..],
            |c| (0x20..0x80).contains(&c) && c != b'"' && c != b'\\',
            |w| !needs_escape(w),
        );
        out.extend_from_slice(&b[i..i + n]);
        i += n;
        let Some(&c) = b.get(i) else { break };
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => push_u16_escape(out, u16::from(c)),
            _ => {
                i += push_char_escape(out, s, i);
                continue;
            }
        }
        i += 1;
    }
    out.push(b'"');
}

/// Valid JSON text with its non-ASCII characters (which can only be inside strings) escaped.
pub fn push_json_ascii(out: &mut Vec<u8>, json: &str) {
    let b = json.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let n = plain_prefix(&b[i..], |c| c < 0x80, |w| w & HIGHS == 0);
        out.extend_from_slice(&b[i..i + n]);
        i += n;
        if i < b.len() {
            i += push_char_escape(out, json, i);
        }
    }
}

pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// serde_json's string literal with every non-ASCII character escaped (the reference).
    fn reference(s: &str) -> String {
        let json = serde_json::to_string(s).unwrap();
        let mut out = String::new();
        for c in json.chars() {
            if c.is_ascii() {
                out.push(c);
            } else {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{:04x}", u));
                }
            }
        }
        out
    }

    #[test]
    fn strings_are_ascii_and_mean_the_same() {
        for s in [
            "",
            "plain ascii that is longer than eight bytes",
            "q\"b\\s\n\r\t\u{1}\u{1f}",
            "é☃😀 mixed with ascii text around it",
            "\u{7f}\u{80}",
        ] {
            let mut out = Vec::new();
            push_json_str(&mut out, s);
            let text = String::from_utf8(out).unwrap();
            assert!(text.is_ascii(), "{text}");
            assert_eq!(serde_json::from_str::<String>(&text).unwrap(), s);
            assert_eq!(text.to_lowercase(), reference(s).to_lowercase());
        }
    }

    #[test]
    fn json_text_is_escaped_outside_nothing_but_non_ascii() {
        let json = r#"{"a":"é","b":[1,"😀"],"c":"plain"}"#;
        let mut out = Vec::new();
        push_json_ascii(&mut out, json);
        let text = String::from_utf8(out).unwrap();
        assert!(text.is_ascii());
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back,
            serde_json::from_str::<serde_json::Value>(json).unwrap()
        );
        let mut n = Vec::new();
        push_u64(&mut n, 0);
        push_u64(&mut n, 18_446_744_073_709_551_615);
        assert_eq!(n, b"018446744073709551615");
    }
}

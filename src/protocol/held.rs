//! Bytes of large answers the process holds for their readers: counted from the moment a
//! callback's answer reaches Rust until its framed response has been written (or dropped), so
//! that readers who never read cannot make the server hold unbounded memory
//! (docs/hardening.md, "Answers in flight"). Small frames are not counted: they cannot add up
//! to much before the socket and stream caps act, and counting them would cost every request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use bytes::Bytes;

use super::json::escape_of;

/// Frames at least this large are counted.
pub const LARGE: usize = 64 * 1024;

/// Process-wide: the memory is the process's, whichever server holds it.
static HELD: AtomicU64 = AtomicU64::new(0);

/// Bytes of large answers released (reservations and frames) since the allocator was last
/// asked to give memory back.
static RELEASED: AtomicU64 = AtomicU64::new(0);

/// Releases that add up to this ask the allocator to give memory back.
const TRIM_AFTER: u64 = 4 * 1024 * 1024;

/// How to give freed memory back to the OS (the addon's allocator sets it; none in tests).
/// `whole_process` is true once per trim (the caller also returns the process-wide heap's
/// pages); every other thread then gives back only its own heap's pages.
static TRIM: OnceLock<fn(bool)> = OnceLock::new();

/// Bumped by each trim: a thread that has not given back its pages since then does so the next
/// time it idles (`trim_here_if_due`). The allocator keeps a freed page with the heap of the
/// thread that allocated it (a large answer is built on the JS thread and freed on a tokio
/// worker), so one thread's collect cannot return another's pages.
static TRIM_EPOCH: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static SEEN_EPOCH: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Sets how freed memory is given back to the OS; the first call wins.
pub fn set_trim(trim: fn(bool)) {
    let _ = TRIM.set(trim);
}

/// Gives memory back to the OS when large answers were released since the last call, and asks
/// every other thread to give back its own pages when it next idles. Called from a periodic
/// task, not from the frame's drop: a burst of frees costs one trim.
pub fn trim_if_released() -> bool {
    if RELEASED.load(Ordering::Relaxed) < TRIM_AFTER {
        return false;
    }
    trim_now()
}

/// Gives memory back now, on this thread and (when they next idle) on the others. The sweep
/// also calls it every few seconds: sessions, sockets and queues a burst of clients left
/// behind are freed outside any large answer, and the allocator otherwise keeps their pages.
pub fn trim_now() -> bool {
    RELEASED.store(0, Ordering::Relaxed);
    match TRIM.get() {
        Some(trim) => {
            let epoch = TRIM_EPOCH.fetch_add(1, Ordering::AcqRel) + 1;
            SEEN_EPOCH.with(|seen| seen.set(epoch));
            trim(true);
            true
        }
        None => false,
    }
}

/// This thread's share of the last trim, if it has not given it yet: one atomic load when there
/// is nothing to do, so it can run each time a worker parks and on each JS-thread drain.
pub fn trim_here_if_due() {
    let epoch = TRIM_EPOCH.load(Ordering::Acquire);
    if SEEN_EPOCH.with(|seen| seen.replace(epoch)) != epoch {
        if let Some(trim) = TRIM.get() {
            trim(false);
        }
    }
}

/// Bytes of large answers held now (reserved, framed and not yet written).
pub fn held() -> u64 {
    HELD.load(Ordering::Relaxed)
}

/// Room for `len` bytes, taken while the total stays within `cap`; released on drop.
#[derive(Debug)]
pub struct Reservation(u64);

impl Reservation {
    /// `None` when holding `len` more bytes would pass `cap`.
    pub fn try_take(len: usize, cap: u64) -> Option<Self> {
        let len = len as u64;
        HELD.fetch_update(Ordering::AcqRel, Ordering::Relaxed, |cur| {
            cur.checked_add(len).filter(|total| *total <= cap)
        })
        .ok()
        .map(|_| Reservation(len))
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        HELD.fetch_sub(self.0, Ordering::AcqRel);
        // The answer's copies before framing are freed about now too.
        RELEASED.fetch_add(self.0, Ordering::Relaxed);
    }
}

/// A framed response's bytes, counted in `held()` until the last `Bytes` of them is dropped.
struct Counted {
    data: Vec<u8>,
    _count: Reservation,
}

impl AsRef<[u8]> for Counted {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

/// `Bytes` over `data` without a copy; a large one counts in `held()` while it lives.
pub fn track(data: Vec<u8>) -> Bytes {
    if data.len() < LARGE {
        return Bytes::from(data);
    }
    let len = data.len() as u64;
    HELD.fetch_add(len, Ordering::AcqRel);
    Bytes::from_owner(Counted {
        data,
        _count: Reservation(len),
    })
}

/// A serialized answer whose large strings were left out (`lib/server.js` replaces each by a
/// string `<marker><index>`, so V8 never copies them) with those strings put back, escaped as
/// JSON, in one buffer. `marker` is as it appears inside the JSON text. An index with no part,
/// or a marker not followed by `<digits>"`, stays as it is.
pub fn splice_parts(shell: &str, marker: &str, parts: &[String]) -> String {
    let sizes: Vec<usize> = parts.iter().map(String::len).collect();
    splice_parts_with(shell, marker, &sizes, |i, out| {
        out.extend_from_slice(parts[i].as_bytes());
    })
}

/// [`splice_parts`] with the parts written by `write_raw(index, out)`: it appends part
/// `index`'s UTF-8 bytes (`sizes[index]` of them), unescaped, to `out`. The bindings write a
/// V8 string straight into the answer's buffer this way, so a large answer is never held twice
/// while it is put together; the escaping is then done in place.
pub fn splice_parts_with(
    shell: &str,
    marker: &str,
    sizes: &[usize],
    mut write_raw: impl FnMut(usize, &mut Vec<u8>),
) -> String {
    let needle = format!("\"{marker}");
    let extra: usize = sizes.iter().map(|len| len + len / 16 + 2).sum();
    // Room for what the answer is wrapped in later (result tags, envelope, SSE frame), so that
    // is done in this buffer instead of a copy of it.
    let mut out: Vec<u8> = Vec::with_capacity(shell.len() + extra + 256);
    let mut rest = shell;
    while let Some(at) = rest.find(&needle) {
        out.extend_from_slice(&rest.as_bytes()[..at]);
        let after = &rest[at + needle.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let index = after[..digits]
            .parse::<usize>()
            .ok()
            .filter(|i| after.as_bytes().get(digits) == Some(&b'"') && *i < sizes.len());
        match index {
            Some(i) => {
                out.push(b'"');
                let from = out.len();
                write_raw(i, &mut out);
                escape_in_place(&mut out, from);
                out.push(b'"');
                rest = &after[digits + 1..];
            }
            None => {
                out.extend_from_slice(needle.as_bytes());
                rest = after;
            }
        }
    }
    out.extend_from_slice(rest.as_bytes());
    // Only whole UTF-8 strings were joined at ASCII boundaries.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Escapes `buf[from..]` as the contents of a JSON string, in place: grown once by what the
/// escapes add, then rewritten from the back, so no second buffer is needed. Text that needs
/// no escape (the common case for large answers) is only scanned.
fn escape_in_place(buf: &mut Vec<u8>, from: usize) {
    let grow: usize = buf[from..]
        .iter()
        .map(|&b| escape_of(b).map_or(0, |e| e.len() - 1))
        .sum();
    if grow == 0 {
        return;
    }
    let old = buf.len();
    buf.resize(old + grow, 0);
    let mut write = old + grow;
    let mut read = old;
    // Every escape moves what is left of the text further right, so the write position stays
    // ahead of the read position until they meet at the first byte that needed nothing.
    while read > from && write > read {
        read -= 1;
        let b = buf[read];
        match escape_of(b) {
            Some(e) => {
                write -= e.len();
                buf[write..write + e.len()].copy_from_slice(e);
            }
            None => {
                write -= 1;
                buf[write] = b;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_spliced_back_escaped() {
        let m = "\\u0000part-x:";
        let shell = format!(
            r#"{{"content":[{{"type":"text","text":"{m}0"}},{{"text":"{m}1"}},{{"text":"{m}7"}},{{"text":"{m}z"}}]}}"#
        );
        let parts = vec!["a\"b\n\u{1}é".to_owned(), String::new()];
        let out = splice_parts(&shell, m, &parts);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["content"][0]["text"], "a\"b\n\u{1}é");
        assert_eq!(v["content"][1]["text"], "");
        // No such part, or no index: left alone.
        assert_eq!(v["content"][2]["text"], "\u{0}part-x:7");
        assert_eq!(v["content"][3]["text"], "\u{0}part-x:z");
    }

    #[test]
    fn in_place_escaping_matches_serde_json() {
        // Every byte that needs an escape, at the start, middle and end, around multi-byte text.
        let mut cases: Vec<String> = (0u8..0x20)
            .map(|b| format!("{}x\"y\\{}é{}", b as char, b as char, b as char))
            .collect();
        cases.push("plain text needs nothing".repeat(100));
        cases.push(String::new());
        cases.push("\"\"\\\n".repeat(1000));
        let m = "\\u0000part-y:";
        for text in &cases {
            let shell = format!(r#"{{"a":"{m}0","b":["{m}0","{m}1"]}}"#);
            let parts = vec![text.clone(), "é\u{7f}/".to_owned()];
            let out = splice_parts(&shell, m, &parts);
            let expected = format!(
                r#"{{"a":{0},"b":[{0},{1}]}}"#,
                serde_json::to_string(text).unwrap(),
                serde_json::to_string(&parts[1]).unwrap()
            );
            assert_eq!(out, expected);
        }
    }

    // One test: the counter is process-wide, so concurrent tests would see each other.
    #[test]
    fn large_frames_count_until_dropped_and_reservations_respect_the_cap() {
        let before = held();
        let small = track(vec![b'x'; 10]);
        assert_eq!(held(), before);
        let big = track(vec![b'x'; LARGE]);
        assert_eq!(held(), before + LARGE as u64);
        let part = big.slice(10..20);
        drop(big);
        assert_eq!(
            held(),
            before + LARGE as u64,
            "a slice keeps the frame alive"
        );
        drop(part);
        assert_eq!(held(), before);
        drop(small);

        let cap = before + 100;
        let r = Reservation::try_take(60, cap).unwrap();
        assert!(Reservation::try_take(60, cap).is_none());
        let r2 = Reservation::try_take(40, cap).unwrap();
        drop(r);
        drop(r2);
        assert_eq!(held(), before);
    }
}

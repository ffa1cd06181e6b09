//! Byte-level line splitting with a bounded per-stream tail.
//!
//! Lines end at `\n`; one `\r` before it is dropped (`\r\n`). The splitter never decodes: `\n`
//! cannot occur inside a multi-byte UTF-8 sequence, so a character cut across chunks is simply
//! reassembled in the tail and every line handed out is whole. A line longer than `max_line_bytes`
//! (counting a `\r` before its `\n`) is reported once as [`Piece::Oversized`] with its first
//! `max_line_bytes` bytes, and the rest of it is skipped up to the next `\n`; the tail never holds
//! more than `max_line_bytes` bytes. The output does not depend on where the input was cut.

/// One unit of output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A complete line without its line ending.
    Line(&'a [u8]),
    /// A line over the limit: its first `max_line_bytes` bytes. Reported once per line.
    Oversized(&'a [u8]),
}

/// Splits one byte stream into lines.
#[derive(Debug, Clone)]
pub struct LineSplitter {
    tail: Vec<u8>,
    max_line_bytes: usize,
    discarding: bool,
}

fn strip_cr(line: &[u8]) -> &[u8] {
    match line.split_last() {
        Some((b'\r', rest)) => rest,
        _ => line,
    }
}

impl LineSplitter {
    /// A splitter whose lines may be at most `max_line_bytes` long (at least 1).
    pub fn new(max_line_bytes: usize) -> Self {
        Self {
            tail: Vec::new(),
            max_line_bytes: max_line_bytes.max(1),
            discarding: false,
        }
    }

    /// The limit in bytes.
    pub fn max_line_bytes(&self) -> usize {
        self.max_line_bytes
    }

    /// Bytes held for an unterminated line (never more than `max_line_bytes`).
    pub fn buffered(&self) -> usize {
        self.tail.len()
    }

    /// Whether the current line was cut and is being skipped up to its `\n`.
    pub fn is_discarding(&self) -> bool {
        self.discarding
    }

    /// Feeds `chunk`; calls `emit` for each complete line (or cut line), in order.
    pub fn push(&mut self, chunk: &[u8], mut emit: impl FnMut(Piece<'_>)) {
        let max = self.max_line_bytes;
        let mut rest = chunk;
        while !rest.is_empty() {
            let Some(nl) = memchr::memchr(b'\n', rest) else {
                // Unterminated: keep it, unless the line is (now) too long.
                if !self.discarding {
                    if self.tail.len() + rest.len() > max {
                        let take = max - self.tail.len();
                        self.tail.extend_from_slice(&rest[..take]);
                        emit(Piece::Oversized(&self.tail));
                        self.tail.clear();
                        self.discarding = true;
                    } else {
                        self.tail.extend_from_slice(rest);
                    }
                }
                return;
            };
            let seg = &rest[..nl];
            rest = &rest[nl + 1..];
            if self.discarding {
                self.discarding = false;
                continue;
            }
            if self.tail.is_empty() {
                if seg.len() > max {
                    emit(Piece::Oversized(&seg[..max]));
                } else {
                    emit(Piece::Line(strip_cr(seg)));
                }
            } else {
                if self.tail.len() + seg.len() > max {
                    let take = max - self.tail.len();
                    self.tail.extend_from_slice(&seg[..take]);
                    emit(Piece::Oversized(&self.tail));
                } else {
                    self.tail.extend_from_slice(seg);
                    emit(Piece::Line(strip_cr(&self.tail)));
                }
                self.tail.clear();
            }
        }
    }

    /// End of stream: hands out an unterminated last line, if any, and resets.
    pub fn finish(&mut self, mut emit: impl FnMut(Piece<'_>)) {
        if !self.discarding && !self.tail.is_empty() {
            emit(Piece::Line(strip_cr(&self.tail)));
        }
        self.tail.clear();
        self.tail.shrink_to(4096);
        self.discarding = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(max: usize, chunks: &[&[u8]]) -> Vec<(bool, Vec<u8>)> {
        let mut s = LineSplitter::new(max);
        let mut out = Vec::new();
        let mut f = |p: Piece<'_>| match p {
            Piece::Line(l) => out.push((true, l.to_vec())),
            Piece::Oversized(l) => out.push((false, l.to_vec())),
        };
        for c in chunks {
            s.push(c, &mut f);
        }
        s.finish(&mut f);
        out
    }

    #[test]
    fn splits_and_reassembles() {
        let got = run(100, &[b"ab", b"c\r", b"\nd\n\ne", b"f"]);
        assert_eq!(
            got,
            vec![
                (true, b"abc".to_vec()),
                (true, b"d".to_vec()),
                (true, b"".to_vec()),
                (true, b"ef".to_vec())
            ]
        );
    }

    #[test]
    fn cuts_long_lines_once_and_resyncs() {
        let got = run(4, &[b"abcdefgh", b"ij\nok\n"]);
        assert_eq!(got, vec![(false, b"abcd".to_vec()), (true, b"ok".to_vec())]);
        let got = run(4, &[b"abcdefghij\nok\n"]);
        assert_eq!(got, vec![(false, b"abcd".to_vec()), (true, b"ok".to_vec())]);
        // exactly the limit is fine; the \r counts
        assert_eq!(run(4, &[b"abcd\n"]), vec![(true, b"abcd".to_vec())]);
        assert_eq!(run(4, &[b"abcd\r\n"]), vec![(false, b"abcd".to_vec())]);
        assert_eq!(run(4, &[b"abcd\r", b"\n"]), vec![(false, b"abcd".to_vec())]);
    }
}

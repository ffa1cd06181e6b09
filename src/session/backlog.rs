//! Bytes queued for one SSE response and not yet taken by the connection: each frame carries a
//! guard that counts it until the HTTP layer drops it (written, or the response gone). A stream
//! whose reader falls behind past its cap is detached (see `Session::send`), so a client that
//! stops reading holds at most the cap, not everything the server sends. It also records why
//! the server stopped feeding the response, for `mcp_streams_closed_total` (docs/monitoring.md).

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;

#[derive(Debug, Default)]
pub struct Backlog {
    bytes: AtomicUsize,
    tripped: std::sync::atomic::AtomicBool,
    /// An [`EndCause`] as its discriminant; 0 while the server has not ended the response.
    end: AtomicU8,
}

/// Why the server stopped feeding a response before its natural end. The response's body sees
/// only its channel close; whoever closes it for one of these reasons says so here first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum EndCause {
    /// Its reader fell more than the backlog cap behind.
    SlowConsumer = 1,
    /// Its session was deleted, expired or evicted.
    SessionEnded = 2,
    /// The server ended it early: `ctx.closeStream()`, the host's `closeSession`, the token
    /// that opened it expired.
    ServerClosed = 3,
}

struct Counted {
    data: Bytes,
    backlog: Arc<Backlog>,
}

impl AsRef<[u8]> for Counted {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.backlog
            .bytes
            .fetch_sub(self.data.len(), Ordering::Relaxed);
    }
}

impl Backlog {
    /// A frame counted against this backlog until it is dropped.
    pub fn frame(self: &Arc<Self>, data: Bytes) -> Bytes {
        self.bytes.fetch_add(data.len(), Ordering::Relaxed);
        Bytes::from_owner(Counted {
            data,
            backlog: self.clone(),
        })
    }

    /// Marks the stream as given up on; true the first time (report once).
    pub fn trip(&self) -> bool {
        !self.tripped.swap(true, Ordering::AcqRel)
    }

    /// Records why the server ends this response; the first cause stays (a stream detached
    /// for a slow reader whose session then ends was closed for its slow reader).
    pub fn set_end(&self, cause: EndCause) {
        let _ = self
            .end
            .compare_exchange(0, cause as u8, Ordering::AcqRel, Ordering::Acquire);
    }

    pub fn end_cause(&self) -> Option<EndCause> {
        match self.end.load(Ordering::Acquire) {
            1 => Some(EndCause::SlowConsumer),
            2 => Some(EndCause::SessionEnded),
            3 => Some(EndCause::ServerClosed),
            _ => None,
        }
    }

    pub fn is_tripped(&self) -> bool {
        self.tripped.load(Ordering::Acquire)
    }

    /// Bytes sent and not yet dropped by the reader.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Whether `more` bytes would pass `cap`. One frame larger than the cap still goes out on
    /// an empty backlog (a big answer is not a slow reader).
    pub fn would_exceed(&self, more: usize, cap: usize) -> bool {
        let queued = self.bytes();
        queued > 0 && queued.saturating_add(more) > cap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_frames_until_they_are_dropped() {
        let b = Arc::new(Backlog::default());
        let f1 = b.frame(Bytes::from_static(b"abcd"));
        let f2 = b.frame(Bytes::from_static(b"ef"));
        assert_eq!(b.bytes(), 6);
        assert_eq!(&f1[..], b"abcd");
        let part = f1.slice(1..2);
        drop(f1);
        assert_eq!(b.bytes(), 6, "a slice keeps its frame alive");
        drop(part);
        drop(f2);
        assert_eq!(b.bytes(), 0);
        assert!(!b.would_exceed(100, 10), "empty: one big frame may go");
        let _f = b.frame(Bytes::from("x".repeat(8)));
        assert!(b.would_exceed(3, 10) && !b.would_exceed(2, 10));
    }

    #[test]
    fn the_first_end_cause_stays() {
        let b = Backlog::default();
        assert_eq!(b.end_cause(), None);
        b.set_end(EndCause::SlowConsumer);
        b.set_end(EndCause::SessionEnded);
        assert_eq!(b.end_cause(), Some(EndCause::SlowConsumer));
    }
}

//! Bytes queued for one SSE response and not yet taken by the connection: each frame carries a
//! guard that counts it until the HTTP layer drops it (written, or the response gone). A stream
//! whose reader falls behind past its cap is detached (see `Session::send`), so a client that
//! stops reading holds at most the cap, not everything the server sends. It also records why
//! the server stopped feeding the response, for `mcp_streams_closed_total` (docs/monitoring.md).

use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Bytes queued on every SSE response of the process, whichever server holds them: the per
/// stream cap alone lets N non-reading clients make the process hold N times it.
static TOTAL: AtomicUsize = AtomicUsize::new(0);

/// When the process-wide total is reached, a stream is closed if it is at least this far behind
/// and its reader has taken nothing for `STALLED`: a reader that keeps reading is never closed
/// for what other readers hold.
const BEHIND: usize = 64 * 1024;
const STALLED: Duration = Duration::from_secs(1);

/// Milliseconds since the first call: a clock an atomic can hold.
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// How far behind SSE readers may fall: one response, and all of them together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacklogLimits {
    /// `maxStreamBacklogBytes`.
    pub per_stream: usize,
    /// `maxStreamBacklogBytesTotal`.
    pub total: usize,
}

/// Defaults of `maxStreamBacklogBytes` and `maxStreamBacklogBytesTotal`.
pub const DEFAULT_BACKLOG_LIMITS: BacklogLimits = BacklogLimits {
    per_stream: 1024 * 1024,
    total: 16 * 1024 * 1024,
};

/// Bytes queued on every SSE response of the process now.
pub fn total_queued() -> usize {
    TOTAL.load(Ordering::Relaxed)
}

#[derive(Debug, Default)]
pub struct Backlog {
    bytes: AtomicUsize,
    /// `now_ms()` when the reader last took a frame (or the backlog last started from empty).
    taken_ms: AtomicU64,
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
        TOTAL.fetch_sub(self.data.len(), Ordering::Relaxed);
        self.backlog.taken_ms.store(now_ms(), Ordering::Relaxed);
    }
}

impl Backlog {
    /// A frame counted against this backlog until it is dropped.
    pub fn frame(self: &Arc<Self>, data: Bytes) -> Bytes {
        if self.bytes.fetch_add(data.len(), Ordering::Relaxed) == 0 {
            self.taken_ms.store(now_ms(), Ordering::Relaxed);
        }
        TOTAL.fetch_add(data.len(), Ordering::Relaxed);
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

    /// Whether `more` bytes would pass this stream's cap, or the process-wide total while this
    /// stream is behind and stalled. One frame larger than the cap still goes out on an empty
    /// backlog (a big answer is not a slow reader).
    pub fn would_exceed(&self, more: usize, limits: BacklogLimits) -> bool {
        let queued = self.bytes();
        queued > 0
            && (queued.saturating_add(more) > limits.per_stream
                || (queued >= BEHIND
                    && total_queued().saturating_add(more) > limits.total
                    && self.stalled_for() >= STALLED))
    }

    /// How long the reader has taken nothing.
    fn stalled_for(&self) -> Duration {
        Duration::from_millis(now_ms().saturating_sub(self.taken_ms.load(Ordering::Relaxed)))
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
        let ten = BacklogLimits {
            per_stream: 10,
            total: usize::MAX,
        };
        assert!(!b.would_exceed(100, ten), "empty: one big frame may go");
        let _f = b.frame(Bytes::from("x".repeat(8)));
        assert!(b.would_exceed(3, ten) && !b.would_exceed(2, ten));
    }

    // One test: the total is process-wide, so concurrent tests would see each other's frames.
    #[test]
    fn the_process_wide_total_stops_streams_that_are_behind_and_only_those() {
        let limits = BacklogLimits {
            per_stream: 1 << 30,
            total: total_queued() + 3 * BEHIND,
        };
        let far = Arc::new(Backlog::default());
        let frames: Vec<Bytes> = (0..3)
            .map(|_| far.frame(Bytes::from(vec![b'x'; BEHIND])))
            .collect();
        // The total is reached, but the reader took a frame a moment ago: it goes on...
        assert!(!far.would_exceed(1, limits));
        // ...until it has taken nothing for a while.
        far.taken_ms.store(0, Ordering::Relaxed);
        std::thread::sleep(STALLED);
        assert!(far.would_exceed(1, limits));
        // ...one that keeps up does not.
        let near = Arc::new(Backlog::default());
        let _small = near.frame(Bytes::from_static(b"abc"));
        assert!(!near.would_exceed(1, limits));
        drop(frames);
        assert!(
            !far.would_exceed(1, limits),
            "room again once frames are taken"
        );
        assert!(far.stalled_for() < STALLED, "taking frames is progress");
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

//! Bytes of large answers the process holds for their readers: counted from the moment a
//! callback's answer reaches Rust until its framed response has been written (or dropped), so
//! that readers who never read cannot make the server hold unbounded memory
//! (docs/hardening.md, "Answers in flight"). Small frames are not counted: they cannot add up
//! to much before the socket and stream caps act, and counting them would cost every request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use bytes::Bytes;

/// Frames at least this large are counted.
pub const LARGE: usize = 64 * 1024;

/// Process-wide: the memory is the process's, whichever server holds it.
static HELD: AtomicU64 = AtomicU64::new(0);

/// Bytes of large frames freed since the allocator was last asked to give memory back.
static RELEASED: AtomicU64 = AtomicU64::new(0);

/// Frees of large frames that add up to this ask the allocator to give memory back.
const TRIM_AFTER: u64 = 4 * 1024 * 1024;

/// How to give freed memory back to the OS (the addon's allocator sets it; none in tests).
static TRIM: OnceLock<fn()> = OnceLock::new();

/// Sets how freed memory is given back to the OS; the first call wins.
pub fn set_trim(trim: fn()) {
    let _ = TRIM.set(trim);
}

/// Gives memory back to the OS when large frames were freed since the last call. Called from a
/// periodic task, not from the frame's drop: a burst of frees costs one trim.
pub fn trim_if_released() -> bool {
    if RELEASED.load(Ordering::Relaxed) < TRIM_AFTER {
        return false;
    }
    RELEASED.store(0, Ordering::Relaxed);
    match TRIM.get() {
        Some(trim) => {
            trim();
            true
        }
        None => false,
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
    }
}

/// A framed response's bytes, counted in `held()` until the last `Bytes` of them is dropped.
struct Counted {
    data: Vec<u8>,
    _count: Reservation,
}

impl Drop for Counted {
    fn drop(&mut self) {
        RELEASED.fetch_add(self.data.len() as u64, Ordering::Relaxed);
    }
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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

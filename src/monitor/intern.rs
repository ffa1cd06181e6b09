//! Interning of the strings many connections share (user agents, client names and versions,
//! capabilities, addresses), so 100,000 sessions from one kind of client hold one copy.
//! Unused entries are swept periodically, so distinct values cannot pile up.

use std::collections::HashSet;
use std::sync::Arc;

use parking_lot::Mutex;

#[derive(Default)]
pub struct Interner {
    set: Mutex<HashSet<Arc<str>>>,
}

impl Interner {
    pub fn intern(&self, s: &str) -> Arc<str> {
        let mut set = self.set.lock();
        if let Some(found) = set.get(s) {
            return found.clone();
        }
        let a: Arc<str> = Arc::from(s);
        set.insert(a.clone());
        a
    }

    /// Drops entries nobody else holds.
    pub fn sweep(&self) {
        let mut set = self.set.lock();
        set.retain(|a| Arc::strong_count(a) > 1);
        if set.len() * 4 < set.capacity() {
            set.shrink_to_fit();
        }
    }

    pub fn len(&self) -> usize {
        self.set.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_one_copy_and_sweeps_unused() {
        let i = Interner::default();
        let a = i.intern("node");
        let b = i.intern("node");
        assert!(Arc::ptr_eq(&a, &b));
        drop(i.intern("gone"));
        i.sweep();
        assert_eq!(i.len(), 1);
        drop((a, b));
        i.sweep();
        assert!(i.is_empty());
    }
}

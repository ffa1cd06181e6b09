//! FNV-1a, for the crate's small hot maps whose keys are our own (server ids, catalog names,
//! packed integer keys): SipHash's flood resistance buys nothing there and costs more than the
//! lookup's other work.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;
/// 2^64 / φ: one multiply spreads an integer key over the bits hashbrown reads.
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

#[derive(Debug, Default, Clone, Copy)]
pub struct FnvHasher(u64);

impl Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { OFFSET } else { self.0 };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(PRIME);
        }
        self.0 = h;
    }

    fn write_u64(&mut self, n: u64) {
        // Integer keys skip the byte loop.
        self.0 = (self.0 ^ n).wrapping_mul(GOLDEN);
    }
}

/// A `HashMap` hashed with [`FnvHasher`].
pub type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<FnvHasher>>;

/// A `HashSet` hashed with [`FnvHasher`].
pub type FnvSet<K> = HashSet<K, BuildHasherDefault<FnvHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};

    fn hash_of<T: Hash + ?Sized>(v: &T) -> u64 {
        BuildHasherDefault::<FnvHasher>::default().hash_one(v)
    }

    #[test]
    fn bytes_are_fnv1a() {
        // Published FNV-1a 64 test vectors.
        let mut h = FnvHasher::default();
        h.write(b"a");
        assert_eq!(h.finish(), 0xaf63_dc4c_8601_ec8c);
        let mut h = FnvHasher::default();
        h.write(b"foobar");
        assert_eq!(h.finish(), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn keys_hash_apart_and_the_map_works() {
        assert_ne!(hash_of("pets"), hash_of("stores"));
        assert_ne!(hash_of(&1u64), hash_of(&2u64));
        let mut m: FnvMap<String, u32> = FnvMap::default();
        for i in 0..100 {
            m.insert(format!("srv-{i}"), i);
        }
        assert_eq!(m.get("srv-42"), Some(&42));
        assert_eq!(m.len(), 100);
    }
}

//! Small helpers below every layer: they import nothing of the crate, so any layer may use them
//! (docs/architecture.md, "Layers").

mod fnv;

pub use fnv::{FnvHasher, FnvMap, FnvSet};

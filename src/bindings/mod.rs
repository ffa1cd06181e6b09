//! JavaScript-facing wrappers. Thin: options conversion, threadsafe callbacks, JS classes.

pub mod events;
pub mod server;

//! JavaScript-facing wrappers. Thin: options conversion, threadsafe callbacks, JS classes.

// napi-derive registers exports only in the cdylib; unit-test builds see them as unused.
#![cfg_attr(test, allow(dead_code))]

pub mod events;
pub mod options;
pub mod server;

//! JSON-RPC 2.0 and MCP message handling shared by both protocol eras.

pub mod version;

pub use version::{Era, LegacyVersion};

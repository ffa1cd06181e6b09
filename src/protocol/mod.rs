//! JSON-RPC 2.0 and MCP message handling shared by both protocol eras.

pub mod catalog;
pub mod dispatch;
pub mod error;
pub mod headers;
pub mod jsonrpc;
pub mod meta;
pub mod request_state;
pub mod validate;
pub mod version;

pub use dispatch::{CallbackFailure, CallbackKind, Dispatcher, Routed, ServerDescription};
pub use error::RpcError;
pub use version::{Era, LegacyVersion};

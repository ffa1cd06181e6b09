//! JSON-RPC 2.0 and MCP message handling shared by both protocol eras: the method table and
//! the dispatcher that executes it, versions and eras, errors, `_meta`, mirrored headers, log
//! levels, `InputRequiredResult`, sealed request state and SSE framing. The bottom layer (see
//! docs/architecture.md): it imports nothing else of the crate.

pub mod catalog;
pub mod dispatch;
pub mod error;
pub mod headers;
pub mod held;
pub mod input;
pub mod json;
pub mod jsonrpc;
pub mod logging;
pub mod meta;
pub mod methods;
pub mod params;
pub mod request_state;
pub mod sse;
pub mod validate;
pub mod version;

pub use dispatch::{CallbackFailure, Dispatcher, Routed, ServerDescription};
pub use error::{CallError, RpcError};
pub use methods::CallbackKind;
pub use version::{Era, LegacyVersion};

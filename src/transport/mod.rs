//! HTTP front ends over hyper: routing and header checks, the 2025 session front end, the
//! 2026 stateless front end, SSE framing, and the server's lifecycle.

pub mod body;
pub mod calls;
pub mod config;
pub mod http;
mod legacy;
pub mod listen;
mod metered;
mod modern;
mod router;
pub mod server;

pub use calls::{CallbackHost, Invocation};
pub use config::{InternalStats, ServerConfig};
pub use server::{Core, McpServer, StartError};

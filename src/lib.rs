//! mcp-swagger-native: a Streamable HTTP MCP server core, a connection monitor and the
//! `[MCP_CONNECTION]` stdout event protocol, exposed to Node.js through napi-rs.
//!
//! The core modules never touch napi; `bindings` adapts them for JavaScript and is only
//! compiled with the `node` feature, so `cargo test --no-default-features` exercises the
//! core without Node.

#![deny(clippy::unwrap_used)]

pub mod auth;
pub mod events;
pub mod monitor;
pub mod protocol;
pub mod session;
pub mod telemetry;
pub mod transport;
pub mod util;

#[cfg(feature = "node")]
mod bindings;

// Many small, short-lived allocations per request, from several threads: mimalloc is faster
// than glibc's malloc there and gives memory back more readily. Only the addon uses it.
#[cfg(feature = "node")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

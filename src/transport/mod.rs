//! The transport layer: the HTTP service and its two era front ends over one request
//! pipeline, the shared core, and the server that owns the listener. Modules depend only
//! downwards in this order (no cycles; see docs/architecture.md):
//! `server` > `cluster` (feature `shared`), `service` > `legacy`, `modern` > `pipeline` > `core` >
//! `calls`, `listen`,
//! `config` > `http` > `body`.

pub mod auth;
pub mod body;
pub mod calls;
#[cfg(feature = "shared")]
pub mod cluster;
pub mod config;
pub mod core;
pub mod http;
mod legacy;
pub mod listen;
mod metered;
mod modern;
pub mod pipeline;
pub mod server;
pub mod service;
pub mod sockets;

pub use self::core::{ClusterView, Core, ListingError, StartError, Stores};
pub use calls::{CallbackHost, Invocation};
pub use config::{InternalStats, ServerConfig, SharedConfig, StatsLines};
pub use pipeline::Peer;
pub use server::McpServer;
pub use service::McpService;

//! JavaScript-facing wrappers. Thin: options conversion, threadsafe callbacks, JS classes.

// napi-derive registers exports only in the cdylib; unit-test builds see them as unused.
#![cfg_attr(test, allow(dead_code))]

pub mod auth;
pub mod events;
pub mod handler;
pub mod options;
pub mod server;
pub mod telemetry;

/// The addon's tokio runtime. The JS thread already takes a core, so the server gets the
/// others: `available_parallelism - 1` workers (at least one), or `MCP_NATIVE_WORKER_THREADS`.
/// Fewer workers than cores means fewer cross-thread wake-ups per request.
#[napi_derive::module_init]
fn init_runtime() {
    crate::protocol::held::set_trim(give_memory_back);
    let workers = std::env::var("MCP_NATIVE_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get().saturating_sub(1).max(1))
                .unwrap_or(1)
        });
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("mcp-native")
        // A worker that idles gives back the pages a trim asked for (protocol/held.rs).
        .on_thread_park(crate::protocol::held::trim_here_if_due)
        .enable_all()
        .build()
    {
        Ok(rt) => napi::bindgen_prelude::create_custom_tokio_runtime(rt),
        Err(e) => tracing::warn!(error = %e, "custom runtime unavailable; using napi's default"),
    }
}

// mimalloc (the addon's allocator) keeps freed pages for reuse; after large answers were
// freed, `mi_collect(true)` (and glibc's `malloc_trim`) return them to the OS so RSS comes back (docs/hardening.md,
// "Answers in flight").
extern "C" {
    fn mi_collect(force: bool);
}

fn give_memory_back(whole_process: bool) {
    // SAFETY: mi_collect takes no pointers and may be called from any thread at any time.
    unsafe { mi_collect(true) }
    if !whole_process {
        return;
    }
    // Node's own side of a large answer (V8 and N-API buffers) is glibc's: give its free
    // pages back too.
    // SAFETY: malloc_trim takes no pointers and is thread-safe.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::malloc_trim(0);
    }
}

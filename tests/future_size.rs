//! The future of one request is moved by value several times before it is polled (hyper's
//! dispatcher stores it), so its size is a per-request memcpy. The front ends are boxed where
//! they start, which keeps the seam's own future small; this guards against an unboxed
//! front end slipping back in (it was 10 KB in a debug build before, about 3.4 KB after).

mod common;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;

#[test]
fn the_service_future_stays_small() {
    let h = common::harness();
    let req = Request::builder()
        .method("POST")
        .uri("/mcp")
        .body(Full::new(Bytes::new()))
        .expect("a request");
    let size = std::mem::size_of_val(&h.svc.handle(req));
    assert!(
        size <= 6 * 1024,
        "McpService::handle's future is {size} bytes"
    );
}

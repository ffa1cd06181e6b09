//! The JS `auth.verify(token, request)` callback as a core [`TokenVerifier`]: one threadsafe
//! function; lib/server.js wraps the host's function so it always answers a JSON string
//! (`"null"` for an unknown token) or rejects.

use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;

use crate::auth::{AuthError, AuthInfo, RequestPeer, TokenVerifier, VerifyFuture};

pub type VerifyArgs = FnArgs<(String, String, Option<String>)>;
/// Weak: a closed server's verifier must not keep Node's event loop alive.
pub type VerifyTsfn =
    ThreadsafeFunction<VerifyArgs, Promise<String>, VerifyArgs, Status, false, true>;

pub struct JsVerifier {
    tsfn: VerifyTsfn,
    timeout: Duration,
}

impl JsVerifier {
    pub fn new(tsfn: VerifyTsfn, timeout: Duration) -> Self {
        Self { tsfn, timeout }
    }
}

impl TokenVerifier for JsVerifier {
    fn verify<'a>(&'a self, token: &'a str, peer: RequestPeer<'a>) -> VerifyFuture<'a> {
        Box::pin(async move {
            let args = FnArgs::from((
                token.to_owned(),
                peer.ip.to_owned(),
                peer.user_agent.map(str::to_owned),
            ));
            let answer = async {
                let promise = self
                    .tsfn
                    .call_async(args)
                    .await
                    .map_err(|e| AuthError::Verifier(e.to_string()))?;
                promise
                    .await
                    .map_err(|e| AuthError::Verifier(e.to_string()))
            };
            let text = tokio::time::timeout(self.timeout, answer)
                .await
                .map_err(|_| AuthError::Verifier("verify did not settle in time".into()))??;
            if text == "null" {
                return Ok(None);
            }
            serde_json::from_str::<AuthInfo>(&text)
                .map(Some)
                .map_err(|e| {
                    AuthError::Verifier(format!("verify returned an invalid AuthInfo: {e}"))
                })
        })
    }
}

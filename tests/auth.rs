//! The authorization core (src/auth) end to end without Node: real RS256/ES256 JWTs signed with
//! fixed test keys, a JWK Set served over loopback HTTP, every refusal and its challenge.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use mcp_swagger_native::auth::challenge::parse_params;
use mcp_swagger_native::auth::jwt::JwtVerifier;
use mcp_swagger_native::auth::{
    now_secs, Audience, AuthConfig, AuthError, AuthInfo, Authenticator, Challenge, JwtConfig,
    Policy, RequestPeer, TokenVerifier, Verifier, VerifyFuture,
};
use parking_lot::Mutex;
use serde_json::{json, Value};

const RSA: &str = include_str!("fixtures/auth-rsa.pem");
const RSA2: &str = include_str!("fixtures/auth-rsa2.pem");
const EC: &str = include_str!("fixtures/auth-ec.pem");
const ISS: &str = "http://127.0.0.1:9/";
const PORT: u16 = 4444;
const RESOURCE: &str = "http://127.0.0.1:4444/mcp";
const MD: &str = "http://127.0.0.1:4444/.well-known/oauth-protected-resource/mcp";
const PEER: RequestPeer<'static> = RequestPeer {
    ip: "127.0.0.1",
    user_agent: Some("test"),
};

fn key(pem: &str, alg: Algorithm) -> EncodingKey {
    match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()).expect("ec key"),
        _ => EncodingKey::from_rsa_pem(pem.as_bytes()).expect("rsa key"),
    }
}

fn jwk(pem: &str, alg: Algorithm, kid: &str) -> Value {
    let mut j = Jwk::from_encoding_key(&key(pem, alg), alg).expect("jwk");
    j.common.key_id = Some(kid.into());
    serde_json::to_value(j).expect("jwk json")
}

fn claims(sub: &str, scope: &str, aud: Value, exp_in: i64) -> Value {
    let now = now_secs() as i64;
    json!({ "iss": ISS, "sub": sub, "aud": aud, "scope": scope, "exp": now + exp_in, "iat": now, "client_id": "cli-1" })
}

fn sign(pem: &str, alg: Algorithm, kid: Option<&str>, c: &Value) -> String {
    let mut h = Header::new(alg);
    h.kid = kid.map(str::to_owned);
    encode(&h, c, &key(pem, alg)).expect("sign")
}

fn good(sub: &str, scope: &str) -> String {
    sign(
        RSA,
        Algorithm::RS256,
        Some("k1"),
        &claims(sub, scope, json!(RESOURCE), 300),
    )
}

fn config(verifier: Verifier, required: &[&str]) -> AuthConfig {
    AuthConfig {
        authorization_servers: vec![ISS.into()],
        resource: None,
        scopes_supported: Some(vec!["mcp:read".into(), "mcp:admin".into()]),
        required_scopes: required.iter().map(|s| s.to_string()).collect(),
        resource_name: None,
        resource_documentation: None,
        verifier,
    }
}

fn jwt_cfg(jwks: Option<Value>, jwks_uri: Option<String>, algs: Option<&[&str]>) -> JwtConfig {
    JwtConfig {
        issuer: ISS.into(),
        audience: None,
        jwks,
        jwks_uri,
        algorithms: algs.map(|a| a.iter().map(|s| s.to_string()).collect()),
        clock_tolerance_seconds: 0,
    }
}

fn static_auth(required: &[&str]) -> Authenticator {
    let set =
        json!({ "keys": [jwk(RSA, Algorithm::RS256, "k1"), jwk(EC, Algorithm::ES256, "e1")] });
    let jc = jwt_cfg(Some(set), None, None);
    let cfg = config(Verifier::Jwt(jc.clone()), required);
    let policy = Policy::new(&cfg, "/mcp", ("127.0.0.1", PORT)).expect("policy");
    Authenticator::new(policy, Arc::new(JwtVerifier::new(&jc).expect("verifier")))
}

async fn run(
    a: &Authenticator,
    header: Option<&str>,
    query: Option<&str>,
) -> Result<Arc<AuthInfo>, Challenge> {
    let h: Vec<&[u8]> = header.map(str::as_bytes).into_iter().collect();
    a.authenticate(h, query, PEER).await
}

async fn bearer(a: &Authenticator, token: &str) -> Result<Arc<AuthInfo>, Challenge> {
    run(a, Some(&format!("Bearer {token}")), None).await
}

fn params(c: &Challenge) -> Vec<(String, String)> {
    parse_params(&c.www_authenticate).expect("challenge parses")
}

fn param(c: &Challenge, name: &str) -> Option<String> {
    params(c)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

fn assert_invalid_token(r: Result<Arc<AuthInfo>, Challenge>) -> Challenge {
    let c = r.expect_err("refused");
    assert_eq!(c.status, 401, "{c:?}");
    assert_eq!(
        param(&c, "error").as_deref(),
        Some("invalid_token"),
        "{c:?}"
    );
    assert_eq!(param(&c, "resource_metadata").as_deref(), Some(MD));
    c
}

#[tokio::test]
async fn a_valid_jwt_gives_the_principal() {
    let a = static_auth(&[]);
    let info = bearer(&a, &good("alice", "mcp:read mcp:admin"))
        .await
        .expect("accepted");
    assert_eq!(info.subject, "alice");
    assert_eq!(info.client_id.as_deref(), Some("cli-1"));
    assert_eq!(info.scopes, vec!["mcp:read", "mcp:admin"]);
    assert_eq!(info.audience, Some(Audience::One(RESOURCE.into())));
    assert!(info.expires_at.is_some_and(|e| e > now_secs()));
    // ES256, and `scp` as an array, and an audience list naming us among others.
    let c = json!({ "iss": ISS, "sub": "bob", "aud": ["other", RESOURCE], "scp": ["x", "y"], "exp": now_secs() + 60 });
    let info = bearer(&a, &sign(EC, Algorithm::ES256, Some("e1"), &c))
        .await
        .expect("es256");
    assert_eq!(info.subject, "bob");
    assert_eq!(info.scopes, vec!["x", "y"]);
    // No kid: the compatible keys are tried.
    let info = bearer(
        &a,
        &sign(
            RSA,
            Algorithm::RS256,
            None,
            &claims("carol", "", json!(RESOURCE), 60),
        ),
    )
    .await
    .expect("no kid");
    assert_eq!(info.subject, "carol");
}

#[tokio::test]
async fn refusals_are_401_invalid_token() {
    let a = static_auth(&[]);
    let expired = sign(
        RSA,
        Algorithm::RS256,
        Some("k1"),
        &claims("a", "", json!(RESOURCE), -120),
    );
    let c = assert_invalid_token(bearer(&a, &expired).await);
    assert!(param(&c, "error_description").is_some_and(|d| d.contains("expired")));
    let c = assert_invalid_token(
        bearer(
            &a,
            &sign(
                RSA,
                Algorithm::RS256,
                Some("k1"),
                &claims("a", "", json!("http://127.0.0.1:4444/other"), 60),
            ),
        )
        .await,
    );
    assert!(
        param(&c, "error_description").is_some_and(|d| d.contains("not issued for this resource"))
    );
    let mut no_aud = claims("a", "", json!(null), 60);
    no_aud.as_object_mut().expect("obj").remove("aud");
    assert_invalid_token(bearer(&a, &sign(RSA, Algorithm::RS256, Some("k1"), &no_aud)).await);
    let mut wrong_iss = claims("a", "", json!(RESOURCE), 60);
    wrong_iss["iss"] = json!("http://evil.example/");
    assert_invalid_token(bearer(&a, &sign(RSA, Algorithm::RS256, Some("k1"), &wrong_iss)).await);
    // Signed by another key under a known kid.
    assert_invalid_token(
        bearer(
            &a,
            &sign(
                RSA2,
                Algorithm::RS256,
                Some("k1"),
                &claims("a", "", json!(RESOURCE), 60),
            ),
        )
        .await,
    );
    // Unknown kid with a static set.
    let c = assert_invalid_token(
        bearer(
            &a,
            &sign(
                RSA2,
                Algorithm::RS256,
                Some("k9"),
                &claims("a", "", json!(RESOURCE), 60),
            ),
        )
        .await,
    );
    assert!(param(&c, "error_description").is_some_and(|d| d.contains("signing key")));
    // alg confusion: HS256 with the public key's bytes as the secret is never accepted.
    let hs = encode(
        &Header::new(Algorithm::HS256),
        &claims("a", "", json!(RESOURCE), 60),
        &EncodingKey::from_secret(b"k1").expect("secret"),
    )
    .expect("hs");
    assert_invalid_token(bearer(&a, &hs).await);
    assert_invalid_token(bearer(&a, "not-a-jwt").await);
    let mut no_sub = claims("a", "", json!(RESOURCE), 60);
    no_sub.as_object_mut().expect("obj").remove("sub");
    assert_invalid_token(bearer(&a, &sign(RSA, Algorithm::RS256, Some("k1"), &no_sub)).await);
}

#[tokio::test]
async fn algorithms_are_restricted() {
    let set =
        json!({ "keys": [jwk(RSA, Algorithm::RS256, "k1"), jwk(EC, Algorithm::ES256, "e1")] });
    let jc = jwt_cfg(Some(set), None, Some(&["RS256"]));
    let policy = Policy::new(
        &config(Verifier::Jwt(jc.clone()), &[]),
        "/mcp",
        ("127.0.0.1", PORT),
    )
    .expect("policy");
    let a = Authenticator::new(policy, Arc::new(JwtVerifier::new(&jc).expect("verifier")));
    assert!(bearer(&a, &good("a", "")).await.is_ok());
    let es = sign(
        EC,
        Algorithm::ES256,
        Some("e1"),
        &claims("a", "", json!(RESOURCE), 60),
    );
    assert_invalid_token(bearer(&a, &es).await);
    assert!(JwtVerifier::new(&jwt_cfg(Some(json!({"keys": []})), None, Some(&["HS256"]))).is_err());
    assert!(JwtVerifier::new(&jwt_cfg(Some(json!({"keys": []})), None, Some(&["none"]))).is_err());
}

#[tokio::test]
async fn missing_malformed_and_query_tokens() {
    let a = static_auth(&["mcp:read"]);
    let c = run(&a, None, None).await.expect_err("no token");
    assert_eq!(c.status, 401);
    assert_eq!(
        param(&c, "error"),
        None,
        "no error code without credentials"
    );
    assert_eq!(param(&c, "scope").as_deref(), Some("mcp:read"));
    assert_eq!(param(&c, "resource_metadata").as_deref(), Some(MD));
    let c = run(&a, Some("Basic dXNlcjpwYXNz"), None)
        .await
        .expect_err("basic");
    assert_eq!((c.status, param(&c, "error")), (401, None));
    for bad in ["Bearer", "Bearer a b", "Bearer ä"] {
        let c = run(&a, Some(bad), None).await.expect_err("malformed");
        assert_eq!(c.status, 400, "{bad}");
        assert_eq!(param(&c, "error").as_deref(), Some("invalid_request"));
    }
    // Even a valid token is refused when one is also in the query.
    let t = good("a", "mcp:read");
    let c = run(
        &a,
        Some(&format!("Bearer {t}")),
        Some(&format!("access_token={t}")),
    )
    .await
    .expect_err("query");
    assert_eq!(c.status, 400);
    assert!(param(&c, "error_description").is_some_and(|d| d.contains("query")));
    let c = run(&a, None, Some(&format!("x=1&access_token={t}")))
        .await
        .expect_err("query only");
    assert_eq!(c.status, 400);
}

#[tokio::test]
async fn scopes_server_wide_and_per_item() {
    let a = static_auth(&["mcp:read"]);
    let c = bearer(&a, &good("a", "other"))
        .await
        .expect_err("missing server scope");
    assert_eq!(c.status, 403);
    assert_eq!(param(&c, "error").as_deref(), Some("insufficient_scope"));
    assert_eq!(param(&c, "scope").as_deref(), Some("mcp:read"));
    assert_eq!(param(&c, "resource_metadata").as_deref(), Some(MD));
    let info = bearer(&a, &good("a", "mcp:read")).await.expect("read ok");
    assert!(a.check_item(&info, &[]).is_ok());
    let c = a
        .check_item(&info, &["mcp:admin".into()])
        .expect_err("tool scope");
    assert_eq!(c.status, 403);
    assert_eq!(param(&c, "scope").as_deref(), Some("mcp:read mcp:admin"));
    let info = bearer(&a, &good("a", "mcp:read mcp:admin"))
        .await
        .expect("admin");
    assert!(a.check_item(&info, &["mcp:admin".into()]).is_ok());
}

/// Concurrent first requests of one token share one verification: the verifier runs once per
/// token even when a client opens many connections at once.
#[tokio::test]
async fn concurrent_first_requests_share_one_verification() {
    let now = now_secs();
    let table = Table::new(vec![alice_good(now)]);
    let cfg = config(Verifier::Js, &[]);
    let a = Authenticator::new(
        Policy::new(&cfg, "/mcp", ("127.0.0.1", PORT)).expect("policy"),
        table.clone(),
    );
    let all = futures_util::future::join_all((0..16).map(|_| bearer(&a, "good"))).await;
    assert!(all
        .iter()
        .all(|r| r.as_ref().is_ok_and(|i| i.subject == "alice")));
    // Unknown tokens are shared the same way, and not cached afterwards.
    let unknown = futures_util::future::join_all((0..8).map(|_| bearer(&a, "nobody"))).await;
    assert!(unknown.iter().all(Result::is_err));
    assert_eq!(table.calls.load(Ordering::SeqCst), 2, "one call per token");
    assert!(bearer(&a, "nobody").await.is_err());
    assert_eq!(
        table.calls.load(Ordering::SeqCst),
        3,
        "a refusal is not cached"
    );
}

type Answer = Result<Option<AuthInfo>, AuthError>;

/// A host verifier that counts its calls and answers from a table.
struct Table {
    calls: AtomicUsize,
    tokens: Mutex<Vec<(String, Answer)>>,
}

impl Table {
    fn new(tokens: Vec<(String, Answer)>) -> Arc<Self> {
        Arc::new(Table {
            calls: AtomicUsize::new(0),
            tokens: Mutex::new(tokens),
        })
    }
}

impl TokenVerifier for Table {
    fn verify<'a>(&'a self, token: &'a str, peer: RequestPeer<'a>) -> VerifyFuture<'a> {
        Box::pin(async move {
            assert_eq!(peer.ip, "127.0.0.1");
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            let t = self.tokens.lock();
            t.iter()
                .find(|(k, _)| k == token)
                .map(|(_, v)| v.clone())
                .unwrap_or(Ok(None))
        })
    }
}

/// The token "good": alice, for this resource, `mcp:read`, ten minutes left.
fn alice_good(now: u64) -> (String, Answer) {
    (
        "good".into(),
        Ok(Some(info(
            "alice",
            Some(RESOURCE),
            Some(now + 600),
            &["mcp:read"],
        ))),
    )
}

fn info(sub: &str, aud: Option<&str>, exp: Option<u64>, scopes: &[&str]) -> AuthInfo {
    AuthInfo {
        subject: sub.into(),
        client_id: None,
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        expires_at: exp,
        audience: aud.map(|a| Audience::One(a.into())),
        extra: None,
        rendered: Default::default(),
    }
}

#[tokio::test]
async fn host_verifier_is_cached_and_checked() {
    let now = now_secs();
    let table = Table::new(vec![
        alice_good(now),
        (
            "short".into(),
            Ok(Some(info(
                "bob",
                Some(RESOURCE),
                Some(now + 2),
                &["mcp:read"],
            ))),
        ),
        (
            "expired".into(),
            Ok(Some(info("bob", Some(RESOURCE), Some(now - 1), &[]))),
        ),
        (
            "elsewhere".into(),
            Ok(Some(info(
                "bob",
                Some("https://other.example/mcp"),
                None,
                &[],
            ))),
        ),
        ("noaud".into(), Ok(Some(info("bob", None, None, &[])))),
        (
            "nosub".into(),
            Ok(Some(info("", Some(RESOURCE), None, &[]))),
        ),
        ("boom".into(), Err(AuthError::Verifier("threw".into()))),
    ]);
    let cfg = config(Verifier::Js, &[]);
    let a = Authenticator::new(
        Policy::new(&cfg, "/mcp", ("127.0.0.1", PORT)).expect("policy"),
        table.clone(),
    );
    for _ in 0..50 {
        assert_eq!(bearer(&a, "good").await.expect("ok").subject, "alice");
    }
    assert_eq!(
        table.calls.load(Ordering::SeqCst),
        1,
        "verified once, then cached"
    );
    let before = table.calls.load(Ordering::SeqCst);
    assert_invalid_token(bearer(&a, "unknown").await);
    assert_invalid_token(bearer(&a, "unknown").await);
    assert_eq!(
        table.calls.load(Ordering::SeqCst),
        before + 2,
        "refusals are not cached"
    );
    assert_invalid_token(bearer(&a, "expired").await);
    assert_invalid_token(bearer(&a, "elsewhere").await);
    assert_invalid_token(bearer(&a, "noaud").await);
    assert_invalid_token(bearer(&a, "nosub").await);
    let c = bearer(&a, "boom").await.expect_err("verifier failed");
    assert_eq!(c.status, 500);
    // A cached token stops working when it expires: the cache holds it only until expiresAt.
    assert!(bearer(&a, "short").await.is_ok());
    let calls = table.calls.load(Ordering::SeqCst);
    assert!(bearer(&a, "short").await.is_ok());
    assert_eq!(table.calls.load(Ordering::SeqCst), calls);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_invalid_token(bearer(&a, "short").await);
    assert_eq!(
        table.calls.load(Ordering::SeqCst),
        calls + 1,
        "re-verified after expiry"
    );
}

/// A loopback server for a JWK Set whose contents the test swaps, counting fetches.
struct JwksServer {
    url: String,
    hits: Arc<AtomicUsize>,
    body: Arc<Mutex<Value>>,
    stop: tokio::sync::oneshot::Sender<()>,
}

async fn jwks_server(initial: Value) -> JwksServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
    let hits = Arc::new(AtomicUsize::new(0));
    let body = Arc::new(Mutex::new(initial));
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let (h, b) = (hits.clone(), body.clone());
    tokio::spawn(async move {
        loop {
            let conn = tokio::select! {
                c = listener.accept() => c,
                _ = &mut stopped => return,
            };
            let Ok((stream, _)) = conn else { return };
            let (h, b) = (h.clone(), b.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| {
                    h.fetch_add(1, Ordering::SeqCst);
                    let text = b.lock().to_string();
                    async move {
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(text))))
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, svc)
                    .await;
            });
        }
    });
    JwksServer {
        url,
        hits,
        body,
        stop,
    }
}

#[tokio::test]
async fn jwks_uri_is_fetched_refetched_on_unknown_kid_and_rate_limited() {
    let srv = jwks_server(json!({ "keys": [jwk(RSA, Algorithm::RS256, "k1")] })).await;
    let jc = jwt_cfg(None, Some(srv.url.clone()), None);
    let policy = Policy::new(
        &config(Verifier::Jwt(jc.clone()), &[]),
        "/mcp",
        ("127.0.0.1", PORT),
    )
    .expect("policy");
    // Signing is slow in debug builds: sign everything before the timed part.
    let junk: Vec<String> = (0..20)
        .map(|i| {
            sign(
                RSA2,
                Algorithm::RS256,
                Some(&format!("junk{i}")),
                &claims("d", "", json!(RESOURCE), 60),
            )
        })
        .collect();
    let rotated = sign(
        RSA2,
        Algorithm::RS256,
        Some("k2"),
        &claims("c", "", json!(RESOURCE), 60),
    );
    let v =
        JwtVerifier::with_refetch_interval(&jc, Duration::from_millis(1_000)).expect("verifier");
    let a = Authenticator::new(policy, Arc::new(v));
    assert_eq!(
        bearer(&a, &good("a", "")).await.expect("first").subject,
        "a"
    );
    assert_eq!(srv.hits.load(Ordering::SeqCst), 1, "fetched lazily, once");
    assert!(bearer(&a, &good("b", "")).await.is_ok());
    assert_eq!(srv.hits.load(Ordering::SeqCst), 1, "keys reused");
    // Key rotation: the issuer starts signing with k2.
    tokio::time::sleep(Duration::from_millis(1_050)).await;
    *srv.body.lock() =
        json!({ "keys": [jwk(RSA, Algorithm::RS256, "k1"), jwk(RSA2, Algorithm::RS256, "k2")] });
    assert_eq!(bearer(&a, &rotated).await.expect("rotated").subject, "c");
    assert_eq!(
        srv.hits.load(Ordering::SeqCst),
        2,
        "refetched on the unknown kid"
    );
    // Unknown kids right after a fetch do not hammer the issuer.
    for t in &junk {
        assert_invalid_token(bearer(&a, t).await);
    }
    assert_eq!(srv.hits.load(Ordering::SeqCst), 2, "rate-limited");
    tokio::time::sleep(Duration::from_millis(1_050)).await;
    assert_invalid_token(bearer(&a, &junk[0]).await);
    assert_eq!(
        srv.hits.load(Ordering::SeqCst),
        3,
        "allowed again after the interval"
    );
    let _ = srv.stop.send(());
}

#[tokio::test]
async fn unreachable_jwks_is_503_not_401() {
    // Bind then drop: a loopback port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let jc = jwt_cfg(None, Some(format!("http://127.0.0.1:{port}/jwks")), None);
    let policy = Policy::new(
        &config(Verifier::Jwt(jc.clone()), &[]),
        "/mcp",
        ("127.0.0.1", PORT),
    )
    .expect("policy");
    let a = Authenticator::new(policy, Arc::new(JwtVerifier::new(&jc).expect("verifier")));
    let c = bearer(&a, &good("a", "")).await.expect_err("no keys");
    assert_eq!(c.status, 503);
}

/// Cost of the check per request (run: `cargo test --release --no-default-features --test auth
/// -- --ignored --nocapture`): a cached token, and a JWT verified from scratch.
#[tokio::test]
#[ignore]
async fn timing() {
    let a = static_auth(&["mcp:read"]);
    let token = good("alice", "mcp:read");
    let header = format!("Bearer {token}");
    assert!(run(&a, Some(&header), None).await.is_ok());
    let n = 200_000u32;
    let t = std::time::Instant::now();
    for _ in 0..n {
        let r = run(&a, Some(&header), None).await;
        assert!(r.is_ok());
    }
    let cached = t.elapsed() / n;
    let set = json!({ "keys": [jwk(RSA, Algorithm::RS256, "k1")] });
    let v = JwtVerifier::new(&jwt_cfg(Some(set), None, None)).expect("verifier");
    let m = 2_000u32;
    let t = std::time::Instant::now();
    for _ in 0..m {
        assert!(v.verify_token(&token).await.is_ok());
    }
    let verify = t.elapsed() / m;
    println!(
        "auth timing: cached check {cached:?}/request, RS256 JWT verification {verify:?}/token"
    );
}

#[tokio::test]
async fn a_cached_jwt_is_one_principal_until_it_expires() {
    let a = static_auth(&["mcp:read"]);
    let t = sign(
        RSA,
        Algorithm::RS256,
        Some("k1"),
        &claims("carol", "mcp:read", json!(RESOURCE), 2),
    );
    let first = bearer(&a, &t).await.expect("ok");
    let again = bearer(&a, &t).await.expect("cached");
    assert!(
        Arc::ptr_eq(&first, &again),
        "the cached token's requests share its verified principal"
    );
    // The monitor's record and ctx.auth's text are built once per principal.
    let rec = first.connection();
    assert!(Arc::ptr_eq(&rec, &again.connection()));
    assert_eq!(rec.subject, "carol");
    assert_eq!(rec.client_id.as_deref(), Some("cli-1"));
    assert_eq!(rec.scopes, vec!["mcp:read".to_string()]);
    let text: String = serde_json::from_str(first.json_literal()).expect("a JSON string");
    assert_eq!(text, first.json());
    let v: Value = serde_json::from_str(&text).expect("the principal's JSON");
    assert_eq!(v["subject"], "carol");
    // The b64token syntax is checked on a cache miss only; a malformed variant of a cached token
    // misses, so it is still refused.
    for bad in [format!("{t} x"), format!("{t}ä"), format!("{t},")] {
        let c = bearer(&a, &bad).await.expect_err("malformed");
        assert_eq!(c.status, 400, "{bad}");
        assert_eq!(param(&c, "error").as_deref(), Some("invalid_request"));
    }
    // At exp the cached entry is gone and the token itself is refused as expired.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let c = assert_invalid_token(bearer(&a, &t).await);
    assert_eq!(c.reason, "expired_token");
}

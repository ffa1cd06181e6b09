//! Bearer token extraction, RFC 6750 §2.1 (header only: `bearer_methods_supported: ["header"]`).

/// Why no usable token was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// No `Authorization` header, or one with another scheme (RFC 6750 §3.1: a request without
    /// bearer credentials gets a bare challenge, no error code).
    Missing,
    /// `Bearer` with no token, a token outside the b64token syntax, or several headers.
    Malformed,
    /// `access_token` in the query string: the MCP spec forbids tokens in URIs.
    InQuery,
}

/// Whether `t` has the b64token syntax (which implies ASCII).
pub fn is_b64token(t: &[u8]) -> bool {
    // b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    let padding = t.iter().rev().take_while(|b| **b == b'=').count();
    let body = &t[..t.len() - padding];
    !body.is_empty()
        && body.iter().all(|&b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// The token of the one `Authorization: Bearer <token>` header among `values`.
pub fn extract<'a, I>(values: I) -> Result<&'a str, BearerError>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    checked(extract_unchecked(values)?)
}

/// `token` as text if it has the b64token syntax (which makes it ASCII), else `Malformed`.
pub fn checked(token: &[u8]) -> Result<&str, BearerError> {
    if !is_b64token(token) {
        return Err(BearerError::Malformed);
    }
    std::str::from_utf8(token).map_err(|_| BearerError::Malformed)
}

const fn is_space(b: &u8) -> bool {
    matches!(*b, b' ' | b'\t')
}

/// [`extract`] without the b64token syntax check, as bytes: the caller checks it with
/// [`checked`] unless the token is one it already verified (the cache keeps only tokens
/// that passed it), which spares a cached token's every request a scan of its bytes and a
/// UTF-8 check. A header in another scheme is [`BearerError::Missing`], whatever its bytes.
pub fn extract_unchecked<'a, I>(values: I) -> Result<&'a [u8], BearerError>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut it = values.into_iter();
    let Some(first) = it.next() else {
        return Err(BearerError::Missing);
    };
    if it.next().is_some() {
        return Err(BearerError::Malformed);
    }
    let start = first
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(first.len());
    let end = first
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |i| i + 1);
    let v = &first[start..end.max(start)];
    let (scheme, rest) = match v.iter().position(is_space) {
        Some(i) => v.split_at(i),
        None => (v, &[][..]),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err(BearerError::Missing);
    }
    let skip = rest.iter().take_while(|b| is_space(b)).count();
    Ok(&rest[skip..])
}

/// Whether a query string (without `?`) carries an `access_token` parameter.
pub fn query_has_token(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&').any(|pair| {
            let key = pair.split('=').next().unwrap_or("");
            key == "access_token" || key.eq_ignore_ascii_case("access%5Ftoken")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(v: &str) -> Result<&str, BearerError> {
        extract([v.as_bytes()])
    }

    #[test]
    fn header_forms() {
        assert_eq!(one("Bearer abc.def-_~+/=="), Ok("abc.def-_~+/=="));
        assert_eq!(one("bearer   tok"), Ok("tok"));
        assert_eq!(one("BEARER tok"), Ok("tok"));
        assert_eq!(one("Basic dXNlcjpwYXNz"), Err(BearerError::Missing));
        assert_eq!(one("Bearer"), Err(BearerError::Malformed));
        assert_eq!(one("Bearer "), Err(BearerError::Malformed));
        assert_eq!(one("Bearer a b"), Err(BearerError::Malformed));
        assert_eq!(one("Bearer a,b"), Err(BearerError::Malformed));
        assert_eq!(one("Bearer ==="), Err(BearerError::Malformed));
        assert_eq!(
            extract(std::iter::empty::<&[u8]>()),
            Err(BearerError::Missing)
        );
        assert_eq!(
            extract(["Bearer a".as_bytes(), "Bearer b".as_bytes()]),
            Err(BearerError::Malformed)
        );
        assert_eq!(extract([&b"Bearer \xff"[..]]), Err(BearerError::Malformed));
    }

    #[test]
    fn query_tokens_are_seen() {
        assert!(query_has_token(Some("access_token=x")));
        assert!(query_has_token(Some("a=1&access_token=x")));
        assert!(query_has_token(Some("access_token")));
        assert!(!query_has_token(Some("token=x&b=access_token")));
        assert!(!query_has_token(None));
        assert!(!query_has_token(Some("")));
    }
}

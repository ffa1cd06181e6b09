//! Whether a URI could be an expansion of an RFC 6570 URI template, so a resource template's
//! `requiredScopes` guard every `resources/read` of a URI it describes.
//!
//! The match is deliberately generous: a variable may expand to anything its operator could
//! produce (or nothing), so a URI the template could have produced always matches. For an
//! access check, matching too much only asks for a scope; matching too little would let a
//! read through.

/// What one `{…}` expression may expand to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Expr {
    /// The character a non-empty expansion starts with (`.`, `/`, `;`, `?`, `&`, `#`).
    prefix: Option<u8>,
    /// Characters the expansion may not contain.
    stops: &'static [u8],
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(Vec<u8>),
    Expr(Expr),
}

/// A parsed template; `None` from `parse` when the braces do not balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriTemplate {
    parts: Vec<Part>,
}

/// Longest URI matched; longer ones never match (and cost nothing).
pub const MAX_URI_BYTES: usize = 16 * 1024;

fn expr(body: &str) -> Expr {
    match body.as_bytes().first() {
        // Reserved expansion: anything, `/` and `?` included.
        Some(b'+') => Expr {
            prefix: None,
            stops: b"",
        },
        Some(b'#') => Expr {
            prefix: Some(b'#'),
            stops: b"",
        },
        Some(b'.') => Expr {
            prefix: Some(b'.'),
            stops: b"/?#",
        },
        // Path segments: an exploded list is several `/`-separated segments.
        Some(b'/') => Expr {
            prefix: Some(b'/'),
            stops: b"?#",
        },
        Some(b';') => Expr {
            prefix: Some(b';'),
            stops: b"/?#",
        },
        Some(b'?') => Expr {
            prefix: Some(b'?'),
            stops: b"#",
        },
        Some(b'&') => Expr {
            prefix: Some(b'&'),
            stops: b"#",
        },
        // Simple expansion percent-encodes every reserved character, so a real expansion
        // never holds `/`, `?` or `#`.
        _ => Expr {
            prefix: None,
            stops: b"/?#",
        },
    }
}

impl UriTemplate {
    pub fn parse(template: &str) -> Option<Self> {
        let mut parts = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            match rest.find(['{', '}']) {
                None => {
                    parts.push(Part::Literal(rest.as_bytes().to_vec()));
                    break;
                }
                Some(i) if rest.as_bytes()[i] == b'}' => return None,
                Some(i) => {
                    if i > 0 {
                        parts.push(Part::Literal(rest.as_bytes()[..i].to_vec()));
                    }
                    let after = &rest[i + 1..];
                    let close = after.find('}')?;
                    let body = &after[..close];
                    if body.contains('{') {
                        return None;
                    }
                    parts.push(Part::Expr(expr(body)));
                    rest = &after[close + 1..];
                }
            }
        }
        Some(Self { parts })
    }

    /// Whether some values of the template's variables expand to `uri`. Linear in the URI's
    /// length per part: `reach[i]` says the parts so far can produce `uri[..i]`.
    pub fn matches(&self, uri: &str) -> bool {
        let u = uri.as_bytes();
        if u.len() > MAX_URI_BYTES {
            return false;
        }
        let n = u.len();
        let mut reach = vec![false; n + 1];
        reach[0] = true;
        let mut next = vec![false; n + 1];
        for part in &self.parts {
            next.iter_mut().for_each(|r| *r = false);
            match part {
                Part::Literal(lit) => {
                    for start in 0..=n {
                        if reach[start] && u[start..].starts_with(lit) {
                            next[start + lit.len()] = true;
                        }
                    }
                }
                Part::Expr(e) => {
                    // `open`: a non-empty expansion can be under way at this position.
                    let mut open = false;
                    for end in 0..=n {
                        if end > 0 {
                            let c = u[end - 1];
                            let begins = match e.prefix {
                                Some(p) => reach[end - 1] && c == p,
                                None => reach[end - 1] && !e.stops.contains(&c),
                            };
                            open = begins || (open && !e.stops.contains(&c));
                        }
                        // The empty expansion, or one ending here.
                        next[end] = reach[end] || open;
                    }
                }
            }
            std::mem::swap(&mut reach, &mut next);
            if !reach.iter().any(|&r| r) {
                return false;
            }
        }
        reach[n]
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn m(t: &str, uri: &str) -> bool {
        UriTemplate::parse(t).unwrap().matches(uri)
    }

    #[test]
    fn simple_variables_stay_within_a_segment() {
        assert!(m("users://{id}/profile", "users://42/profile"));
        assert!(m("users://{id}/profile", "users://a%2Fb/profile"));
        assert!(!m("users://{id}/profile", "users://4/2/profile"));
        assert!(!m("users://{id}/profile", "users://42/settings"));
        assert!(!m("users://{id}/profile", "other://42/profile"));
        assert!(m("db://{table}/{row}", "db://t/1"));
        assert!(!m("db://{table}/{row}", "db://t/1/x"));
    }

    #[test]
    fn operators_allow_what_their_expansions_produce() {
        assert!(m("file:///{+path}", "file:///etc/hosts"));
        assert!(m("file://{/segments*}", "file:///a/b/c"));
        assert!(!m("file://{/segments*}", "file:///a?q"));
        assert!(m("search://x{?q,lang}", "search://x?q=a&lang=en"));
        assert!(
            m("search://x{?q}", "search://x"),
            "an undefined variable expands to nothing"
        );
        assert!(m("doc://{name}{#section}", "doc://a#intro"));
        assert!(m("img://{name}{.ext}", "img://cat.png"));
        assert!(m("m://{x}{;p}", "m://a;p=1"));
        assert!(m("q://a?x=1{&y}", "q://a?x=1&y=2"));
    }

    #[test]
    fn literals_and_bad_templates() {
        assert!(m("static://only", "static://only"));
        assert!(!m("static://only", "static://only/"));
        assert!(UriTemplate::parse("bad://{unclosed").is_none());
        assert!(UriTemplate::parse("bad://}x{").is_none());
        assert!(UriTemplate::parse("bad://{a{b}}").is_none());
        let long = format!("users://{}/profile", "a".repeat(MAX_URI_BYTES));
        assert!(!m("users://{id}/profile", &long));
    }
}

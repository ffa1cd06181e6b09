//! Scope checks: server-wide `requiredScopes` and each tool's, resource's or prompt's own.

/// Whether `granted` holds every scope in `required`.
pub fn allows(granted: &[String], required: &[String]) -> bool {
    required.iter().all(|r| granted.iter().any(|g| g == r))
}

/// The scope set a 403 names: the server's required scopes followed by the item's, without
/// duplicates (the client re-authorizes for all of them at once).
pub fn needed(server: &[String], item: &[String]) -> Vec<String> {
    let mut out: Vec<String> = server.to_vec();
    for s in item {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

/// Space-delimited `scope` claim (RFC 6749 §3.3) into a list.
pub fn split(scope: &str) -> Vec<String> {
    scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn allows_needs_all() {
        assert!(allows(&v(&["a", "b"]), &v(&["a"])));
        assert!(allows(&v(&["a"]), &[]));
        assert!(allows(&[], &[]));
        assert!(!allows(&v(&["a"]), &v(&["a", "b"])));
        assert!(!allows(&v(&["ab"]), &v(&["a"])));
    }

    #[test]
    fn needed_is_the_union_in_order() {
        assert_eq!(needed(&v(&["a"]), &v(&["b", "a"])), v(&["a", "b"]));
        assert_eq!(split("  read  write "), v(&["read", "write"]));
    }
}

//! Request paths as the edge decides on them: percent-encoded unreserved characters decoded
//! and the hex digits of the other escapes upper-cased (RFC 3986 §6.2.2), dot segments
//! removed (§5.2.4). What could name another resource to some origin — an encoded `/`, a
//! `\`, a NUL, a `..` that climbs above the root — is refused instead.

use std::borrow::Cow;

/// Why a path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the path must start with '/'")]
    NotAbsolute,
    #[error("the path holds an encoded '/' or a '\\'")]
    Separator,
    #[error("the path holds a NUL")]
    Nul,
    #[error("the path holds a '%' not followed by two hex digits")]
    BadEscape,
    #[error("the path climbs above the root")]
    AboveRoot,
}

/// The normal form of `raw`; borrowed when `raw` is already in it (the usual case: no
/// escapes, no dot segments).
pub fn normalise(raw: &str) -> Result<Cow<'_, str>, PathError> {
    if !raw.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if raw.contains('\\') {
        return Err(PathError::Separator);
    }
    let has_dot_segment = raw
        .split('/')
        .any(|segment| segment == "." || segment == "..");
    if !raw.contains('%') && !has_dot_segment {
        return Ok(Cow::Borrowed(raw));
    }
    let decoded = decode_unreserved(raw)?;
    remove_dot_segments(&decoded).map(Cow::Owned)
}

/// Unreserved characters (RFC 3986 §2.3) never need their escape.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn decode_unreserved(raw: &str) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            // A run of plain characters, copied whole (it may hold multi-byte UTF-8).
            let end = raw[i..].find('%').map_or(bytes.len(), |n| i + n);
            out.push_str(&raw[i..end]);
            i = end;
            continue;
        }
        let hex = raw.get(i + 1..i + 3).ok_or(PathError::BadEscape)?;
        let value = u8::from_str_radix(hex, 16).map_err(|_| PathError::BadEscape)?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(PathError::BadEscape);
        }
        match value {
            0 => return Err(PathError::Nul),
            b'/' | b'\\' => return Err(PathError::Separator),
            v if is_unreserved(v) => out.push(char::from(v)),
            v => out.push_str(&format!("%{v:02X}")),
        }
        i += 3;
    }
    Ok(out)
}

fn remove_dot_segments(path: &str) -> Result<String, PathError> {
    let segments: Vec<&str> = path[1..].split('/').collect();
    let last = segments.len() - 1;
    let mut out: Vec<&str> = Vec::with_capacity(segments.len());
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => {}
            ".." => {
                out.pop().ok_or(PathError::AboveRoot)?;
            }
            other => {
                out.push(other);
                continue;
            }
        }
        // A dot segment at the end leaves a directory: the path keeps its final '/'.
        if i == last {
            out.push("");
        }
    }
    Ok(format!("/{}", out.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn paths_already_normal_are_borrowed() {
        for path in [
            "/",
            "/news/1.ts",
            "/a//b/",
            "/%C3%A9t%C3%A9",
            "/.well-known/x",
        ] {
            let normal = normalise(path).unwrap();
            assert_eq!(normal, path);
        }
        assert!(matches!(normalise("/news/1.ts"), Ok(Cow::Borrowed(_))));
    }

    #[test]
    fn dot_segments_and_encoded_unreserved_characters_go() {
        for (raw, normal) in [
            ("/free/../news/secret.ts", "/news/secret.ts"),
            ("/free/%2e%2e/news/secret.ts", "/news/secret.ts"),
            ("/free/%2E./news/secret.ts", "/news/secret.ts"),
            ("/free/./../news/secret.ts", "/news/secret.ts"),
            ("/a/b/.", "/a/b/"),
            ("/a/b/..", "/a/"),
            ("/a/./b", "/a/b"),
            ("/%6Eews/%7e1", "/news/~1"),
            ("/a%3ab", "/a%3Ab"),
            ("/a%20b", "/a%20b"),
        ] {
            assert_eq!(normalise(raw).unwrap(), normal, "{raw}");
        }
    }

    #[test]
    fn what_could_mean_another_path_elsewhere_is_refused() {
        for (raw, why) in [
            ("/free/..%2fnews/secret.ts", PathError::Separator),
            ("/free%2F..%2Fnews", PathError::Separator),
            ("/free/..%5Cnews", PathError::Separator),
            ("/free\\..\\news", PathError::Separator),
            ("/a%00b", PathError::Nul),
            ("/a%zz", PathError::BadEscape),
            ("/a%4", PathError::BadEscape),
            ("/a%+4", PathError::BadEscape),
            ("/..", PathError::AboveRoot),
            ("/a/../../b", PathError::AboveRoot),
            ("/%2e%2e/etc/passwd", PathError::AboveRoot),
            ("news", PathError::NotAbsolute),
        ] {
            assert_eq!(normalise(raw), Err(why), "{raw}");
        }
    }

    proptest! {
        #[test]
        fn normalising_never_panics_is_idempotent_and_stays_below_the_root(
            raw in "/[a-zA-Z0-9._~%/\\\\-]{0,40}",
        ) {
            if let Ok(normal) = normalise(&raw) {
                prop_assert!(normal.starts_with('/'));
                prop_assert_eq!(normalise(&normal), Ok(normal.clone()));
                prop_assert!(!normal.split('/').any(|s| s == "." || s == ".."));
                prop_assert!(!normal.contains('\\'));
            }
        }

        #[test]
        fn segments_of_dots_in_any_encoding_never_survive(
            parts in proptest::collection::vec(
                prop_oneof!["a", "b", "\\.", "\\.\\.", "%2e", "%2E%2e", "%2e\\."], 0..8),
        ) {
            let raw = format!("/{}", parts.join("/"));
            if let Ok(normal) = normalise(&raw) {
                prop_assert!(!normal.split('/').any(|s| s == "." || s == ".."), "{}", normal);
            }
        }
    }
}

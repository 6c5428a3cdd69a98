//! What the origin learns about the request: who the client is (X-Forwarded-For, -Port,
//! -Proto and RFC 7239 Forwarded), a request ID, and the user and device the media token
//! vouched for. Nothing a client says about its own address or identity gets through.

use std::net::{IpAddr, SocketAddr};

use http::HeaderValue;
use pingora::http::RequestHeader;

use linkgate_domain::media_token::MediaClaims;

/// Set by the gateway only: a client sending them has them removed.
pub const USER_HEADER: &str = "x-linkgate-user";
pub const DEVICE_HEADER: &str = "x-linkgate-device";
/// Every header of ours starts so; none from a client reaches the origin.
const OWN_PREFIX: &str = "x-linkgate-";

/// Headers by which clients, CDNs and proxies claim a client address. Only a trusted
/// proxy's are passed on.
const ADDRESS_CLAIMS: &[&str] = &[
    "x-real-ip",
    "true-client-ip",
    "x-client-ip",
    "cf-connecting-ip",
    "fastly-client-ip",
    "x-cluster-client-ip",
];

/// Rewrites the upstream request's headers; returns the request ID.
///
/// A trusted proxy's forwarding headers are kept and the proxy appended to
/// X-Forwarded-For; anyone else's are replaced, so a client cannot spoof them. Values are
/// formatted on the stack: each header costs its own allocation and nothing more.
pub fn forward(
    upstream: &mut RequestHeader,
    peer: Option<SocketAddr>,
    peer_trusted: bool,
    claims: Option<&MediaClaims>,
    host: &str,
) -> pingora::Result<HeaderValue> {
    let kept = |name: &str| {
        peer_trusted
            .then(|| upstream.headers.get(name))
            .flatten()
            .filter(|v| !v.is_empty() && v.to_str().is_ok())
            .cloned()
    };
    let ip = peer.map(|p| p.ip());
    let forwarded_for = match kept("x-forwarded-for") {
        Some(chain) => value(format_args!("{}, {}", Text(&chain), Bare(ip)))?,
        None => value(format_args!("{}", Bare(ip)))?,
    };
    let port = kept("x-forwarded-port")
        .unwrap_or_else(|| peer.map_or(HeaderValue::from_static(""), |p| p.port().into()));
    let proto = kept("x-forwarded-proto").unwrap_or(HeaderValue::from_static("http"));
    let request_id = match kept("x-request-id") {
        Some(id) => id,
        // From the thread's CSPRNG: no system call per request, unlike `Uuid::new_v4`.
        None => {
            let mut id = [0u8; uuid::fmt::Hyphenated::LENGTH];
            let uuid = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
            HeaderValue::from_bytes(uuid.hyphenated().encode_lower(&mut id).as_bytes())
                .expect("a UUID is a valid header value")
        }
    };
    // This hop's RFC 7239 element: `for=` the peer (IPv6 quoted and bracketed, §6), `proto=`.
    let element = format_args!("for={};proto={}", Rfc7239(ip), Text(&proto));
    let forwarded = match kept("forwarded") {
        Some(chain) => value(format_args!("{}, {element}", Text(&chain)))?,
        None => value(element)?,
    };

    // One pass over the names (a removal costs two hash lookups, a comparison none): our
    // own headers go, and an untrusted peer's claims of an address.
    let dropped: Vec<_> = upstream
        .headers
        .keys()
        .filter(|name| {
            let name = name.as_str();
            name.starts_with(OWN_PREFIX) || (!peer_trusted && ADDRESS_CLAIMS.contains(&name))
        })
        .cloned()
        .collect();
    for name in dropped {
        upstream.remove_header(&name);
    }
    upstream.insert_header("x-forwarded-for", forwarded_for)?;
    upstream.insert_header("x-forwarded-port", port)?;
    upstream.insert_header("x-forwarded-proto", proto)?;
    upstream.insert_header("forwarded", forwarded)?;
    upstream.insert_header("x-request-id", request_id.clone())?;
    if let Some(claims) = claims {
        upstream.insert_header(USER_HEADER, &claims.sub)?;
        upstream.insert_header(DEVICE_HEADER, &claims.dev)?;
    }
    upstream.insert_header(http::header::HOST, host)?;
    Ok(request_id)
}

/// A header value formatted in a stack buffer; a value longer than the buffer (a long
/// chain from a trusted proxy) goes through a `String`.
fn value(args: std::fmt::Arguments<'_>) -> pingora::Result<HeaderValue> {
    let mut buf = [0u8; 256];
    let mut rest = &mut buf[..];
    let written = match std::io::Write::write_fmt(&mut rest, args) {
        Ok(()) => {
            let len = 256 - rest.len();
            HeaderValue::from_bytes(&buf[..len])
        }
        Err(_) => HeaderValue::try_from(args.to_string()),
    };
    written
        .map_err(|e| pingora::Error::because(pingora::ErrorType::InternalError, "header value", e))
}

/// The peer as X-Forwarded-For names it (nothing when unknown).
struct Bare(Option<IpAddr>);

impl std::fmt::Display for Bare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.map_or(Ok(()), |ip| write!(f, "{ip}"))
    }
}

/// The peer as RFC 7239 names it: IPv6 quoted and bracketed (§6), `unknown` when unknown.
struct Rfc7239(Option<IpAddr>);

impl std::fmt::Display for Rfc7239 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(IpAddr::V6(ip)) => write!(f, "\"[{ip}]\""),
            Some(IpAddr::V4(ip)) => write!(f, "{ip}"),
            None => f.write_str("unknown"),
        }
    }
}

/// A kept header value, which `forward` only keeps when it is visible ASCII.
struct Text<'a>(&'a HeaderValue);

impl std::fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.to_str().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> RequestHeader {
        let mut r = RequestHeader::build("GET", b"/news/1.ts", None).unwrap();
        for (k, v) in headers {
            r.append_header(k.to_string(), *v).unwrap();
        }
        r
    }

    fn get<'a>(r: &'a RequestHeader, name: &str) -> &'a str {
        r.headers.get(name).unwrap().to_str().unwrap()
    }

    const PEER: &str = "198.51.100.7:51234";

    #[test]
    fn a_direct_client_s_own_forwarding_headers_are_replaced() {
        let mut r = request(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-port", "1"),
            ("x-request-id", "chosen"),
            ("x-linkgate-user", "admin"),
            ("x-linkgate-role", "admin"),
            ("forwarded", "for=10.0.0.1"),
            ("x-real-ip", "10.0.0.1"),
            ("true-client-ip", "10.0.0.1"),
            ("cf-connecting-ip", "10.0.0.1"),
        ]);
        let id = forward(&mut r, Some(PEER.parse().unwrap()), false, None, "origin").unwrap();
        assert_eq!(get(&r, "forwarded"), "for=198.51.100.7;proto=http");
        for spoofed in [
            "x-real-ip",
            "true-client-ip",
            "cf-connecting-ip",
            "x-linkgate-role",
        ] {
            assert!(r.headers.get(spoofed).is_none(), "{spoofed}");
        }
        assert_eq!(get(&r, "x-forwarded-for"), "198.51.100.7");
        assert_eq!(get(&r, "x-forwarded-port"), "51234");
        assert_eq!(get(&r, "x-forwarded-proto"), "http");
        assert_ne!(id, "chosen");
        assert_eq!(get(&r, "x-request-id"), id.to_str().unwrap());
        assert!(r.headers.get("x-linkgate-user").is_none());
        assert_eq!(get(&r, "host"), "origin");
    }

    #[test]
    fn a_trusted_proxy_s_chain_is_kept_and_extended() {
        let mut r = request(&[
            ("x-forwarded-for", "203.0.113.5"),
            ("x-forwarded-port", "443"),
            ("x-forwarded-proto", "https"),
            ("x-request-id", "edge-1"),
            ("forwarded", "for=203.0.113.5;proto=https"),
            ("x-real-ip", "203.0.113.5"),
        ]);
        let id = forward(
            &mut r,
            Some("[2001:db8::2]:4000".parse().unwrap()),
            true,
            None,
            "o",
        )
        .unwrap();
        assert_eq!(get(&r, "x-forwarded-for"), "203.0.113.5, 2001:db8::2");
        assert_eq!(
            get(&r, "forwarded"),
            "for=203.0.113.5;proto=https, for=\"[2001:db8::2]\";proto=https"
        );
        assert_eq!(
            get(&r, "x-real-ip"),
            "203.0.113.5",
            "the trusted proxy's own"
        );
        assert_eq!(get(&r, "x-forwarded-port"), "443");
        assert_eq!(get(&r, "x-forwarded-proto"), "https");
        assert_eq!(id, "edge-1");
    }

    #[test]
    fn a_chain_longer_than_the_stack_buffer_is_kept_whole() {
        let chain = vec!["203.0.113.5"; 40].join(", ");
        let mut r = request(&[("x-forwarded-for", &chain)]);
        forward(&mut r, Some(PEER.parse().unwrap()), true, None, "o").unwrap();
        assert_eq!(get(&r, "x-forwarded-for"), format!("{chain}, 198.51.100.7"));
    }

    #[test]
    fn the_verified_user_and_device_go_upstream() {
        let claims = MediaClaims {
            iss: "linkgate".into(),
            aud: "tv".into(),
            sub: "alice".into(),
            dev: "tv-1".into(),
            res: "news".into(),
            mvpd: None,
            iat: 0,
            exp: 1,
            jti: "j".into(),
        };
        let mut r = request(&[("x-linkgate-user", "mallory")]);
        forward(&mut r, None, false, Some(&claims), "o").unwrap();
        assert_eq!(get(&r, "x-linkgate-user"), "alice");
        assert_eq!(get(&r, "x-linkgate-device"), "tv-1");
    }
}

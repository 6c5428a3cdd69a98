//! What the origin learns about the request: who the client is (X-Forwarded-For, -Port,
//! -Proto and RFC 7239 Forwarded), a request ID, and the user and device the media token
//! vouched for. Nothing a client says about its own address or identity gets through.

use std::net::{IpAddr, SocketAddr};

use http::header::{FORWARDED, HOST, HeaderName};
use http::{HeaderMap, HeaderValue};
use pingora::http::{RequestHeader, ResponseHeader};

use linkgate_domain::media_token::MediaClaims;

/// Set by the gateway only: a client sending them has them removed.
const USER_HEADER: HeaderName = HeaderName::from_static("x-linkgate-user");
const DEVICE_HEADER: HeaderName = HeaderName::from_static("x-linkgate-device");
/// Every header of ours starts so; none from a client reaches the origin.
const OWN_PREFIX: &str = "x-linkgate-";

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// The headers `forward` may add, reserved for at once.
const ADDED: usize = 8;

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
/// X-Forwarded-For; anyone else's are replaced, so a client cannot spoof them.
pub fn forward(
    upstream: &mut RequestHeader,
    peer: Option<SocketAddr>,
    peer_trusted: bool,
    claims: Option<&MediaClaims>,
    host: &str,
) -> pingora::Result<HeaderValue> {
    let host = HeaderValue::from_str(host)
        .map_err(|e| pingora::Error::because(pingora::ErrorType::InternalError, "host", e))?;
    edit(upstream, |headers| {
        rewrite(headers, peer, peer_trusted, claims, host)
    })
}

/// Edits `header`'s map in place. Pingora's `insert_header` parses the name again and keeps
/// a second, case-preserving map, growing both a header at a time: about 1,200
/// instructions a header. The origin gets the names lower-case, which HTTP allows.
fn edit<T>(header: &mut RequestHeader, f: impl FnOnce(&mut HeaderMap) -> T) -> T {
    let empty = RequestHeader::from(http::Request::new(()).into_parts().0);
    let mut parts = http::request::Parts::from(std::mem::replace(header, empty));
    let edited = f(&mut parts.headers);
    *header = RequestHeader::from(parts);
    edited
}

/// Gives the client the request's ID, the response's map edited in place as in `edit`.
pub fn answer_with_id(response: &mut ResponseHeader, id: &HeaderValue) {
    let empty = ResponseHeader::from(http::Response::new(()).into_parts().0);
    let mut parts = http::response::Parts::from(std::mem::replace(response, empty));
    parts.headers.insert(REQUEST_ID, id.clone());
    *response = ResponseHeader::from(parts);
}

fn rewrite(
    headers: &mut HeaderMap,
    peer: Option<SocketAddr>,
    peer_trusted: bool,
    claims: Option<&MediaClaims>,
    host: HeaderValue,
) -> pingora::Result<HeaderValue> {
    let kept = |name: &HeaderName| {
        peer_trusted
            .then(|| headers.get(name))
            .flatten()
            .filter(|v| !v.is_empty() && v.to_str().is_ok())
            .cloned()
    };
    let ip = peer.map(|p| p.ip());
    let mut forwarded_for = Value::default();
    if let Some(chain) = kept(&X_FORWARDED_FOR) {
        forwarded_for.push(chain.as_bytes()).push(b", ");
    }
    forwarded_for.ip(ip);
    let port = kept(&X_FORWARDED_PORT)
        .unwrap_or_else(|| peer.map_or(HeaderValue::from_static(""), |p| p.port().into()));
    let proto = kept(&X_FORWARDED_PROTO).unwrap_or(HeaderValue::from_static("http"));
    let request_id = kept(&REQUEST_ID).unwrap_or_else(new_request_id);
    // This hop's RFC 7239 element: `for=` the peer (IPv6 quoted and bracketed, §6), `proto=`.
    let mut forwarded = Value::default();
    if let Some(chain) = kept(&FORWARDED) {
        forwarded.push(chain.as_bytes()).push(b", ");
    }
    forwarded
        .push(b"for=")
        .rfc7239(ip)
        .push(b";proto=")
        .push(proto.as_bytes());

    // One pass over the names (a removal costs two hash lookups, a comparison none): our
    // own headers go, and an untrusted peer's claims of an address.
    let dropped: Vec<_> = headers
        .keys()
        .filter(|name| {
            let name = name.as_str();
            name.starts_with(OWN_PREFIX) || (!peer_trusted && ADDRESS_CLAIMS.contains(&name))
        })
        .cloned()
        .collect();
    for name in dropped {
        headers.remove(&name);
    }
    headers.reserve(ADDED);
    headers.insert(X_FORWARDED_FOR, forwarded_for.into_header()?);
    headers.insert(X_FORWARDED_PORT, port);
    headers.insert(X_FORWARDED_PROTO, proto);
    headers.insert(FORWARDED, forwarded.into_header()?);
    headers.insert(REQUEST_ID, request_id.clone());
    if let Some(claims) = claims {
        headers.insert(USER_HEADER, header_value(claims.sub.as_bytes())?);
        headers.insert(DEVICE_HEADER, header_value(claims.dev.as_bytes())?);
    }
    headers.insert(HOST, host);
    Ok(request_id)
}

/// From the thread's CSPRNG: no system call per request, unlike `Uuid::new_v4`.
fn new_request_id() -> HeaderValue {
    let mut id = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let uuid = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    HeaderValue::from_bytes(uuid.hyphenated().encode_lower(&mut id).as_bytes())
        .expect("a UUID is a valid header value")
}

fn header_value(bytes: &[u8]) -> pingora::Result<HeaderValue> {
    HeaderValue::from_bytes(bytes)
        .map_err(|e| pingora::Error::because(pingora::ErrorType::InternalError, "header value", e))
}

/// A header value put together byte by byte: through `format_args!` an address and two
/// values cost about 1,500 instructions, more than inserting the header.
#[derive(Default)]
struct Value(Vec<u8>);

impl Value {
    fn push(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.extend_from_slice(bytes);
        self
    }

    /// The peer as X-Forwarded-For names it (nothing when unknown).
    fn ip(&mut self, ip: Option<IpAddr>) -> &mut Self {
        match ip {
            Some(IpAddr::V4(ip)) => {
                for (i, octet) in ip.octets().into_iter().enumerate() {
                    if i > 0 {
                        self.0.push(b'.');
                    }
                    self.decimal(octet);
                }
            }
            Some(IpAddr::V6(ip)) => {
                use std::io::Write;
                let _ = write!(self.0, "{ip}");
            }
            None => {}
        }
        self
    }

    /// The peer as RFC 7239 names it: IPv6 quoted and bracketed (§6), `unknown` when unknown.
    fn rfc7239(&mut self, ip: Option<IpAddr>) -> &mut Self {
        match ip {
            Some(IpAddr::V6(_)) => self.push(b"\"[").ip(ip).push(b"]\""),
            Some(IpAddr::V4(_)) => self.ip(ip),
            None => self.push(b"unknown"),
        }
    }

    fn decimal(&mut self, n: u8) {
        if n >= 100 {
            self.0.push(b'0' + n / 100);
        }
        if n >= 10 {
            self.0.push(b'0' + n / 10 % 10);
        }
        self.0.push(b'0' + n % 10);
    }

    fn into_header(self) -> pingora::Result<HeaderValue> {
        header_value(&self.0)
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
    fn a_long_chain_is_kept_whole() {
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

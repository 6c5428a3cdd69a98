//! Who the client is and what reaches the requestor: trusted proxies, rate limits,
//! allow-lists and content routes, as validated configuration.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use linkgate_crds::{AttemptLimit, ContentRouteSpec, RateLimit, ThrottlingPolicy};

/// A token bucket: `per_second` sustained, `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

/// `attempts` at once, given back one by one over `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempts {
    pub attempts: u32,
    pub period: Duration,
}

/// The limits of one requestor; `None` is unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttling {
    pub per_client_ip: Option<Rate>,
    pub per_device: Option<Rate>,
    pub per_requestor: Option<Rate>,
    /// Codes tried on the activation page, per client IP and across the requestor.
    pub code_entry_per_client_ip: Option<Attempts>,
    pub code_entry_per_requestor: Option<Attempts>,
    /// The IPv6 network length a client is keyed by.
    pub ipv6_prefix: u8,
}

/// A path prefix proxied to an origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentRoute {
    pub prefix: String,
    pub host: String,
    pub port: u16,
    pub tls: bool,
    /// Limits on talking to the origin: connecting, each read or write, idle reuse.
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub idle_timeout: Duration,
    /// When set, requests need a media token for this resource.
    pub resource: Option<String>,
    pub token_header: http::HeaderName,
    pub token_query: String,
}

/// Why access configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("{list}: {value:?} is not an IP network (CIDR) or address")]
    Cidr { list: &'static str, value: String },
    #[error("throttling: a limit needs perSecond and burst of at least 1, or disabled: true")]
    Rate,
    #[error(
        "throttling.codeEntry: a limit needs attempts and perSeconds of at least 1, or disabled: true"
    )]
    Attempts,
    #[error("route {prefix:?}: {reason}")]
    Route { prefix: String, reason: String },
}

impl Default for Throttling {
    /// No limits; IPv6 clients keyed by /64.
    fn default() -> Self {
        Self {
            per_client_ip: None,
            per_device: None,
            per_requestor: None,
            code_entry_per_client_ip: None,
            code_entry_per_requestor: None,
            ipv6_prefix: 64,
        }
    }
}

impl Throttling {
    pub fn from_spec(spec: &ThrottlingPolicy) -> Result<Self, AccessError> {
        let rate = |r: &Option<RateLimit>| match r {
            None | Some(RateLimit { disabled: true, .. }) => Ok(None),
            Some(RateLimit {
                per_second: Some(per_second @ 1..),
                burst: Some(burst @ 1..),
                ..
            }) => Ok(Some(Rate {
                per_second: *per_second,
                burst: *burst,
            })),
            Some(_) => Err(AccessError::Rate),
        };
        Ok(Self {
            per_client_ip: rate(&spec.per_client_ip)?,
            per_device: rate(&spec.per_device)?,
            per_requestor: rate(&spec.per_requestor)?,
            code_entry_per_client_ip: attempts(&spec.code_entry.per_client_ip)?,
            code_entry_per_requestor: attempts(&spec.code_entry.per_requestor)?,
            ipv6_prefix: spec.ipv6_prefix_length.clamp(32, 128),
        })
    }

    /// What a client is limited by: its IPv4 address, or its IPv6 network.
    pub fn client_key(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(_) => ip,
            IpAddr::V6(v6) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.ipv6_prefix))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(v6) & mask).into())
            }
        }
    }
}

fn attempts(limit: &Option<AttemptLimit>) -> Result<Option<Attempts>, AccessError> {
    match limit {
        None | Some(AttemptLimit { disabled: true, .. }) => Ok(None),
        Some(AttemptLimit {
            attempts: Some(attempts @ 1..),
            per_seconds: Some(seconds @ 1..),
            ..
        }) => Ok(Some(Attempts {
            attempts: *attempts,
            period: Duration::from_secs((*seconds).into()),
        })),
        Some(_) => Err(AccessError::Attempts),
    }
}

/// CIDRs, or bare addresses meaning a single host.
pub fn parse_networks(list: &'static str, values: &[String]) -> Result<Vec<IpNet>, AccessError> {
    values
        .iter()
        .map(|v| {
            v.parse::<IpNet>()
                .or_else(|_| v.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| AccessError::Cidr {
                    list,
                    value: v.clone(),
                })
        })
        .collect()
}

impl ContentRoute {
    pub fn from_spec(spec: &ContentRouteSpec) -> Result<Self, AccessError> {
        let bad = |reason: &str| AccessError::Route {
            prefix: spec.prefix.clone(),
            reason: reason.to_owned(),
        };
        if !spec.prefix.starts_with('/') {
            return Err(bad("the prefix must start with '/'"));
        }
        if spec.upstream.host.is_empty() || spec.upstream.port == 0 {
            return Err(bad("the upstream needs a host and a port"));
        }
        let token_header = http::HeaderName::from_bytes(spec.token_header.as_bytes())
            .map_err(|_| bad("tokenHeader is not a header name"))?;
        Ok(Self {
            prefix: spec.prefix.clone(),
            host: spec.upstream.host.clone(),
            port: spec.upstream.port,
            tls: spec.upstream.tls,
            connect_timeout: Duration::from_millis(spec.upstream.connect_timeout_millis.into()),
            read_timeout: Duration::from_millis(spec.upstream.read_timeout_millis.into()),
            idle_timeout: Duration::from_secs(spec.upstream.idle_timeout_seconds.into()),
            resource: spec.resource.clone(),
            token_header,
            token_query: spec.token_query.clone(),
        })
    }
}

/// The network a client is roughly placed by, for a person to recognise: its /24 (IPv4)
/// or /48 (IPv6); an IPv4 client seen through IPv6 by its IPv4 network.
pub fn rough_network(ip: IpAddr) -> IpNet {
    let (ip, prefix) = match ip.to_canonical() {
        v4 @ IpAddr::V4(_) => (v4, 24),
        v6 => (v6, 48),
    };
    IpNet::new(ip, prefix).map_or(IpNet::from(ip), |net| net.trunc())
}

/// The client of a request: the socket peer, unless the peer is a trusted proxy, in which
/// case the right-most `X-Forwarded-For` entry that is not itself a trusted proxy. A
/// client's own `X-Forwarded-For` is never believed: the walk stops at the first entry
/// outside the trusted networks.
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    for entry in forwarded_for.rev() {
        let Ok(ip) = entry.trim().parse::<IpAddr>() else {
            // An unparsable hop cannot be vouched for: the last good one is the client.
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// Splits `X-Forwarded-For` header values into entries, in order.
pub fn forwarded_entries<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    values.flat_map(|v| v.split(',')).map(str::trim).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_placed_by_its_network_not_its_address() {
        let at = |ip: &str| rough_network(ip.parse().unwrap()).to_string();
        assert_eq!(at("203.0.113.77"), "203.0.113.0/24");
        assert_eq!(at("::ffff:203.0.113.77"), "203.0.113.0/24");
        assert_eq!(at("2001:db8:1234:5678::1"), "2001:db8:1234::/48");
    }

    fn nets(v: &[&str]) -> Vec<IpNet> {
        parse_networks("t", &v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn client(peer: &str, xff: &str, trusted: &[&str]) -> IpAddr {
        let entries = forwarded_entries(std::iter::once(xff));
        let entries = entries.into_iter().filter(|e| !e.is_empty());
        client_ip(ip(peer), entries, &nets(trusted))
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        assert_eq!(
            client("203.0.113.9", "1.2.3.4", &["10.0.0.0/8"]),
            ip("203.0.113.9")
        );
        assert_eq!(client("203.0.113.9", "", &[]), ip("203.0.113.9"));
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_entry_is_the_client() {
        let trusted = ["10.0.0.0/8", "192.168.1.1"];
        assert_eq!(
            client("10.1.1.1", "198.51.100.7", &trusted),
            ip("198.51.100.7")
        );
        // The client claimed 1.2.3.4; the proxy appended what it saw.
        assert_eq!(
            client("10.1.1.1", "1.2.3.4, 198.51.100.7, 192.168.1.1", &trusted),
            ip("198.51.100.7")
        );
        // Every hop trusted: the left-most is as far as we can see.
        assert_eq!(
            client("10.1.1.1", "10.2.2.2, 10.3.3.3", &trusted),
            ip("10.2.2.2")
        );
        // No header: the proxy itself.
        assert_eq!(client("10.1.1.1", "", &trusted), ip("10.1.1.1"));
        // Garbage stops the walk at the last trustworthy hop.
        assert_eq!(
            client("10.1.1.1", "1.2.3.4, junk, 10.9.9.9", &trusted),
            ip("10.9.9.9")
        );
    }

    #[test]
    fn ipv6_works_the_same() {
        assert_eq!(
            client("fd00::1", "2001:db8::5", &["fd00::/8"]),
            ip("2001:db8::5")
        );
    }

    #[test]
    fn networks_accept_cidrs_and_bare_addresses_only() {
        assert_eq!(nets(&["10.0.0.0/8", "::1"]).len(), 2);
        assert!(parse_networks("trustedProxies", &["10.0.0.0/33".into()]).is_err());
        assert!(parse_networks("trustedProxies", &["proxy.local".into()]).is_err());
    }

    #[test]
    fn routes_and_rates_are_validated() {
        let spec: ContentRouteSpec = serde_yaml_ng::from_str(
            "{prefix: /news, upstream: {host: origin, port: 8081}, resource: news}",
        )
        .unwrap();
        let route = ContentRoute::from_spec(&spec).unwrap();
        assert_eq!(route.token_header, "x-media-token");
        assert_eq!(route.token_query, "token");
        let bad = ContentRouteSpec {
            prefix: "news".into(),
            ..spec
        };
        assert!(ContentRoute::from_spec(&bad).is_err());
        let zero: ThrottlingPolicy =
            serde_yaml_ng::from_str("{perDevice: {perSecond: 0, burst: 1}}").unwrap();
        assert_eq!(Throttling::from_spec(&zero), Err(AccessError::Rate));
        let default = Throttling::from_spec(&ThrottlingPolicy::default()).unwrap();
        assert_eq!(
            default.per_client_ip,
            Some(Rate {
                per_second: 1,
                burst: 10
            })
        );
        assert_eq!(
            default.code_entry_per_client_ip,
            Some(Attempts {
                attempts: 10,
                period: Duration::from_secs(60)
            })
        );
        let zero: ThrottlingPolicy =
            serde_yaml_ng::from_str("{codeEntry: {perClientIp: {attempts: 0, perSeconds: 60}}}")
                .unwrap();
        assert_eq!(Throttling::from_spec(&zero), Err(AccessError::Attempts));
        let off: ThrottlingPolicy =
            serde_yaml_ng::from_str("{codeEntry: {perRequestor: null}}").unwrap();
        let off = Throttling::from_spec(&off).unwrap();
        assert_eq!(off.code_entry_per_requestor, None);
        assert!(off.code_entry_per_client_ip.is_some());
    }

    #[test]
    fn a_limit_with_a_default_is_turned_off_explicitly_where_nulls_are_dropped() {
        // What the API server keeps of `{perClientIp: {disabled: true}, codeEntry:
        // {perClientIp: {disabled: true}}}`: the limits with defaults stay off.
        let off: ThrottlingPolicy = serde_json::from_value(serde_json::json!({
            "perClientIp": {"disabled": true},
            "codeEntry": {"perClientIp": {"disabled": true}},
        }))
        .unwrap();
        let off = Throttling::from_spec(&off).unwrap();
        assert_eq!(off.per_client_ip, None);
        assert_eq!(off.code_entry_per_client_ip, None);
        assert!(
            off.code_entry_per_requestor.is_some(),
            "the others keep their defaults"
        );
        // Without `disabled`, a limit needs its numbers.
        let half: ThrottlingPolicy = serde_yaml_ng::from_str("{perDevice: {burst: 5}}").unwrap();
        assert_eq!(Throttling::from_spec(&half), Err(AccessError::Rate));
        let half: ThrottlingPolicy =
            serde_yaml_ng::from_str("{codeEntry: {perRequestor: {attempts: 5}}}").unwrap();
        assert_eq!(Throttling::from_spec(&half), Err(AccessError::Attempts));
    }

    proptest::proptest! {
        /// Whatever the header says, the client is the peer or one of the entries, and an
        /// untrusted peer is never overruled.
        #[test]
        fn the_forwarded_for_walk_never_panics_nor_invents_an_address(
            header in "[0-9a-f:., ]{0,60}",
            peer_trusted in proptest::bool::ANY,
        ) {
            let peer = ip("10.0.0.2");
            let trusted = if peer_trusted { nets(&["10.0.0.0/8"]) } else { Vec::new() };
            let entries = forwarded_entries(std::iter::once(header.as_str()));
            let client = client_ip(peer, entries.iter().copied(), &trusted);
            proptest::prop_assert!(
                client == peer || entries.iter().any(|e| e.parse::<IpAddr>() == Ok(client))
            );
            if !peer_trusted {
                proptest::prop_assert_eq!(client, peer);
            }
        }
    }
}

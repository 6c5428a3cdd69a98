//! Where the gateway's own HTTP calls may go: the addresses actually connected to, not the
//! names asked for. Public addresses always; loopback only with `insecureLoopbackHttp` (the
//! demo, tests) and only for a URL the configuration names; private, link-local, metadata
//! and other special addresses only when `outboundAllowedNetworks` lists them. A URL the
//! gateway learns at run time (a discovery document's endpoints) gets no more reach than
//! public or listed addresses, unless it is on the configured URL's own origin, so no
//! third party's document can point the gateway into the cluster.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, LazyLock};

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The gateway-wide rule.
#[derive(Clone, Debug, Default)]
pub struct Outbound {
    /// `insecureLoopbackHttp`: loopback may be called, over plain http too.
    pub loopback: bool,
    /// `outboundAllowedNetworks`: special-use networks that may be called all the same.
    pub allowed: Vec<IpNet>,
}

/// How far a URL is trusted: named by the configuration, or learned at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    Configured,
    Learned,
}

/// Why a call was not made; the address stays in the log, never in a page.
#[derive(Debug, thiserror::Error)]
#[error("{0} is not an address this gateway calls")]
pub struct Refused(pub IpAddr);

impl Outbound {
    /// Whether `ip` may be connected to for a URL of `reach`.
    pub fn allows(&self, ip: IpAddr, reach: Reach) -> bool {
        let ip = canonical(ip);
        if self.allowed.iter().any(|net| net.contains(&ip)) {
            return true;
        }
        if ip.is_loopback() {
            return self.loopback && reach == Reach::Configured;
        }
        is_public(ip)
    }

    /// The URL's host when it is an address (connected to without any lookup), checked.
    pub fn check_literal(&self, url: &url::Url, reach: Reach) -> Result<(), Refused> {
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => return Ok(()),
        };
        if self.allows(ip, reach) {
            Ok(())
        } else {
            Err(Refused(ip))
        }
    }

    /// A client builder whose lookups answer only addresses `reach` may call.
    pub fn guard(
        self: &Arc<Self>,
        builder: reqwest::ClientBuilder,
        reach: Reach,
    ) -> reqwest::ClientBuilder {
        builder.dns_resolver(Arc::new(Guarded {
            outbound: Arc::clone(self),
            reach,
        }))
    }
}

/// IPv4 written as IPv6 (`::ffff:10.0.0.1`) is judged as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The special-use ranges (private, shared, link-local and so the cloud metadata service,
/// unique-local, documentation, multicast, reserved), parsed once.
static SPECIAL: LazyLock<Vec<IpNet>> = LazyLock::new(|| {
    [
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/3",
        "::/127",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    ]
    .iter()
    .map(|net| net.parse().expect("a valid network"))
    .collect()
});

/// Globally routable unicast: in none of the special-use ranges.
fn is_public(ip: IpAddr) -> bool {
    !SPECIAL.iter().any(|net| net.contains(&ip))
}

/// The system's resolver, keeping only the addresses the rule allows.
struct Guarded {
    outbound: Arc<Outbound>,
    reach: Reach,
}

impl Resolve for Guarded {
    fn resolve(&self, name: Name) -> Resolving {
        let (outbound, reach) = (Arc::clone(&self.outbound), self.reach);
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| outbound.allows(a.ip(), reach))
                .collect();
            match (allowed.is_empty(), found.first()) {
                (true, Some(first)) => Err(Box::new(Refused(first.ip())) as _),
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_public_addresses_unless_loopback_or_a_listed_network_is_allowed() {
        let strict = Outbound::default();
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(strict.allows(ip(public), Reach::Learned), "{public}");
        }
        for special in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!strict.allows(ip(special), Reach::Configured), "{special}");
        }
        let demo = Outbound {
            loopback: true,
            allowed: vec!["10.1.0.0/16".parse().unwrap()],
        };
        assert!(demo.allows(ip("127.0.0.1"), Reach::Configured));
        assert!(demo.allows(ip("::1"), Reach::Configured));
        assert!(
            !demo.allows(ip("127.0.0.1"), Reach::Learned),
            "a learned URL never reaches loopback"
        );
        assert!(demo.allows(ip("10.1.2.3"), Reach::Learned), "listed");
        assert!(
            !demo.allows(ip("10.2.0.1"), Reach::Configured),
            "not listed"
        );
    }

    #[test]
    fn an_address_in_the_url_is_checked_without_a_lookup() {
        let strict = Outbound::default();
        let url = |s: &str| url::Url::parse(s).unwrap();
        assert!(
            strict
                .check_literal(&url("https://10.0.0.1/x"), Reach::Configured)
                .is_err()
        );
        assert!(
            strict
                .check_literal(&url("https://[::1]/x"), Reach::Configured)
                .is_err()
        );
        assert!(
            strict
                .check_literal(&url("https://169.254.169.254/"), Reach::Learned)
                .is_err()
        );
        assert!(
            strict
                .check_literal(&url("https://idp.example/x"), Reach::Learned)
                .is_ok()
        );
        assert!(
            strict
                .check_literal(&url("https://8.8.8.8/x"), Reach::Learned)
                .is_ok()
        );
    }
}

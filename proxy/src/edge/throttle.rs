//! Rate limits with governor: token buckets per client IP, per device and per requestor,
//! and for codes tried on the activation page, per client IP and per requestor.
//! Keyed limiters forget idle keys when `retain_recent` runs, so their memory follows the
//! number of recently active clients, not the number ever seen.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use linkgate_domain::access::{Attempts, Rate, Throttling};

/// Which limit refused a request, for the 429's metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    ClientIp,
    Device,
    Requestor,
    CodeEntryClientIp,
    CodeEntryRequestor,
}

impl Limit {
    pub fn label(self) -> &'static str {
        match self {
            Limit::ClientIp => "client_ip",
            Limit::Device => "device",
            Limit::Requestor => "requestor",
            Limit::CodeEntryClientIp => "code_entry_client_ip",
            Limit::CodeEntryRequestor => "code_entry_requestor",
        }
    }
}

/// A refusal: which limit, and how long until a request would pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttled {
    pub limit: Limit,
    pub retry_after: Duration,
}

/// A limiter and the setting it was built from: a new configuration with the same setting
/// keeps the limiter, buckets and all, so a reload resets only the limits it changes.
struct Kept<S, L> {
    setting: S,
    limiter: Arc<L>,
}

impl<S: PartialEq + Copy, L> Kept<S, L> {
    fn carry(
        setting: Option<S>,
        previous: Option<&Option<Self>>,
        build: impl FnOnce(S) -> L,
    ) -> Option<Self> {
        let setting = setting?;
        let limiter = match previous {
            Some(Some(kept)) if kept.setting == setting => Arc::clone(&kept.limiter),
            _ => Arc::new(build(setting)),
        };
        Some(Self { setting, limiter })
    }
}

type Keyed<K, S> = Option<Kept<S, DefaultKeyedRateLimiter<K>>>;
type Direct<S> = Option<Kept<S, DefaultDirectRateLimiter>>;

pub struct Limiters {
    /// Built once: creating a clock calibrates it, which costs more than a check.
    clock: DefaultClock,
    /// Client limits are keyed by network for IPv6, so the prefix is part of their setting.
    per_ip: Keyed<IpAddr, (Rate, u8)>,
    per_device: Keyed<String, Rate>,
    per_requestor: Direct<Rate>,
    code_entry_per_ip: Keyed<IpAddr, (Attempts, u8)>,
    code_entry_per_requestor: Direct<Attempts>,
    throttling: Throttling,
}

fn quota(rate: Rate) -> Quota {
    let per_second = NonZeroU32::new(rate.per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(per_second).allow_burst(burst)
}

fn attempts_quota(a: Attempts) -> Quota {
    let burst = NonZeroU32::new(a.attempts).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(a.period / burst.get())
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
        .allow_burst(burst)
}

impl Limiters {
    pub fn new(t: &Throttling) -> Self {
        Self::carry(t, None)
    }

    /// Limiters for `t` that keep the state of `previous` wherever a limit is unchanged.
    pub fn carry(t: &Throttling, previous: Option<&Limiters>) -> Self {
        let prefix = t.ipv6_prefix;
        Self {
            clock: DefaultClock::default(),
            per_ip: Kept::carry(
                t.per_client_ip.map(|r| (r, prefix)),
                previous.map(|p| &p.per_ip),
                |(r, _)| RateLimiter::keyed(quota(r)),
            ),
            per_device: Kept::carry(t.per_device, previous.map(|p| &p.per_device), |r| {
                RateLimiter::keyed(quota(r))
            }),
            per_requestor: Kept::carry(t.per_requestor, previous.map(|p| &p.per_requestor), |r| {
                RateLimiter::direct(quota(r))
            }),
            code_entry_per_ip: Kept::carry(
                t.code_entry_per_client_ip.map(|a| (a, prefix)),
                previous.map(|p| &p.code_entry_per_ip),
                |(a, _)| RateLimiter::keyed(attempts_quota(a)),
            ),
            code_entry_per_requestor: Kept::carry(
                t.code_entry_per_requestor,
                previous.map(|p| &p.code_entry_per_requestor),
                |a| RateLimiter::direct(attempts_quota(a)),
            ),
            throttling: *t,
        }
    }

    fn refusal(
        &self,
        limit: Limit,
        not_until: governor::NotUntil<<DefaultClock as Clock>::Instant>,
    ) -> Throttled {
        Throttled {
            limit,
            retry_after: not_until.wait_time_from(self.clock.now()),
        }
    }

    /// Spends one token of the client's bucket and one of the requestor's.
    pub fn check(&self, ip: IpAddr) -> Result<(), Throttled> {
        let refuse = |limit, not_until| self.refusal(limit, not_until);
        if let Some(Kept { limiter: l, .. }) = &self.per_ip {
            l.check_key(&self.throttling.client_key(ip))
                .map_err(|n| refuse(Limit::ClientIp, n))?;
        }
        if let Some(Kept { limiter: l, .. }) = &self.per_requestor {
            l.check().map_err(|n| refuse(Limit::Requestor, n))?;
        }
        Ok(())
    }

    /// Whether devices are limited at all.
    pub fn limits_devices(&self) -> bool {
        self.per_device.is_some()
    }

    /// Spends one token of `device`'s bucket: once the request is read, wherever it names
    /// the device.
    pub fn check_device(&self, device: &str) -> Result<(), Throttled> {
        if let Some(Kept { limiter: l, .. }) = &self.per_device {
            // Keys are owned; a hit costs one small allocation, only when devices are limited.
            l.check_key(&device.to_owned())
                .map_err(|n| self.refusal(Limit::Device, n))?;
        }
        Ok(())
    }

    /// Spends one code attempt of the client and one of the requestor.
    pub fn check_code_entry(&self, ip: IpAddr) -> Result<(), Throttled> {
        if let Some(Kept { limiter: l, .. }) = &self.code_entry_per_ip {
            l.check_key(&self.throttling.client_key(ip))
                .map_err(|n| self.refusal(Limit::CodeEntryClientIp, n))?;
        }
        if let Some(Kept { limiter: l, .. }) = &self.code_entry_per_requestor {
            l.check()
                .map_err(|n| self.refusal(Limit::CodeEntryRequestor, n))?;
        }
        Ok(())
    }

    /// Forgets keys whose buckets are full again.
    pub fn retain_recent(&self) {
        fn forget<K: std::hash::Hash + Eq + Clone, S>(l: &Keyed<K, S>) {
            if let Some(Kept { limiter, .. }) = l {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        }
        forget(&self.per_ip);
        forget(&self.code_entry_per_ip);
        forget(&self.per_device);
    }

    /// Client IPs and devices with state.
    pub fn keys(&self) -> usize {
        fn held<K: std::hash::Hash + Eq + Clone, S>(l: &Keyed<K, S>) -> usize {
            l.as_ref().map_or(0, |k| k.limiter.len())
        }
        held(&self.per_ip) + held(&self.code_entry_per_ip) + held(&self.per_device)
    }
}

/// Seconds for `Retry-After`: whole, rounded up, at least one.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0).max(u64::from(wait.is_zero()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiters(ip: Option<Rate>, device: Option<Rate>, requestor: Option<Rate>) -> Limiters {
        Limiters::new(&Throttling {
            per_client_ip: ip,
            per_device: device,
            per_requestor: requestor,
            ..Throttling::default()
        })
    }

    const ONE_BURST_3: Rate = Rate {
        per_second: 1,
        burst: 3,
    };

    #[test]
    fn a_client_gets_its_burst_then_is_told_to_wait() {
        let l = limiters(Some(ONE_BURST_3), None, None);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check(a).is_ok());
        }
        let refused = l.check(a).unwrap_err();
        assert_eq!(refused.limit, Limit::ClientIp);
        assert!(refused.retry_after <= Duration::from_secs(1));
        // Another client has its own bucket.
        assert!(l.check("192.0.2.2".parse().unwrap()).is_ok());
    }

    #[test]
    fn devices_and_the_requestor_have_buckets_of_their_own() {
        let l = limiters(
            None,
            Some(ONE_BURST_3),
            Some(Rate {
                per_second: 1,
                burst: 5,
            }),
        );
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(l.limits_devices());
        for _ in 0..3 {
            assert!(l.check_device("tv").is_ok());
        }
        assert_eq!(l.check_device("tv").unwrap_err().limit, Limit::Device);
        assert!(l.check_device("other").is_ok());
        for _ in 0..5 {
            assert!(l.check(ip).is_ok());
        }
        assert_eq!(l.check(ip).unwrap_err().limit, Limit::Requestor);
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_network() {
        let l = limiters(Some(ONE_BURST_3), None, None);
        for ip in ["2001:db8::1", "2001:db8::2", "2001:db8::ffff:1"] {
            assert!(l.check(ip.parse().unwrap()).is_ok(), "{ip}");
        }
        let same_64 = "2001:db8::9".parse().unwrap();
        assert_eq!(l.check(same_64).unwrap_err().limit, Limit::ClientIp);
        assert!(l.check("2001:db8:0:1::1".parse().unwrap()).is_ok());
        let per_address = Limiters::new(&Throttling {
            per_client_ip: Some(ONE_BURST_3),
            ipv6_prefix: 128,
            ..Throttling::default()
        });
        for i in 0..5 {
            let ip = format!("2001:db8::{i}").parse().unwrap();
            assert!(per_address.check(ip).is_ok(), "a /128 key each");
        }
    }

    #[test]
    fn code_attempts_are_limited_per_client_and_across_clients() {
        let l = Limiters::new(&Throttling {
            code_entry_per_client_ip: Some(Attempts {
                attempts: 3,
                period: Duration::from_secs(60),
            }),
            code_entry_per_requestor: Some(Attempts {
                attempts: 5,
                period: Duration::from_secs(60),
            }),
            ..Throttling::default()
        });
        let ip = |n: u8| IpAddr::from([192, 0, 2, n]);
        for _ in 0..3 {
            l.check_code_entry(ip(1)).unwrap();
        }
        let refused = l.check_code_entry(ip(1)).unwrap_err();
        assert_eq!(refused.limit, Limit::CodeEntryClientIp);
        // One attempt comes back every 20 s.
        assert!(refused.retry_after > Duration::from_secs(15));
        assert!(refused.retry_after <= Duration::from_secs(20));
        // Other limits are untouched by code attempts.
        assert!(l.check(ip(1)).is_ok());
        l.check_code_entry(ip(2)).unwrap();
        l.check_code_entry(ip(3)).unwrap();
        let refused = l.check_code_entry(ip(4)).unwrap_err();
        assert_eq!(refused.limit, Limit::CodeEntryRequestor);
    }

    #[test]
    fn a_new_configuration_keeps_the_buckets_of_limits_it_leaves_alone() {
        let three = Attempts {
            attempts: 3,
            period: Duration::from_secs(60),
        };
        let before = Limiters::new(&Throttling {
            per_client_ip: Some(ONE_BURST_3),
            code_entry_per_client_ip: Some(three),
            ..Throttling::default()
        });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            before.check(ip).unwrap();
            before.check_code_entry(ip).unwrap();
        }
        // Only the client rate changes: code attempts stay spent, the rate starts afresh.
        let after = Limiters::carry(
            &Throttling {
                per_client_ip: Some(Rate {
                    per_second: 1,
                    burst: 4,
                }),
                code_entry_per_client_ip: Some(three),
                ..Throttling::default()
            },
            Some(&before),
        );
        assert_eq!(
            after.check_code_entry(ip).unwrap_err().limit,
            Limit::CodeEntryClientIp
        );
        for _ in 0..4 {
            after.check(ip).unwrap();
        }
        // A new IPv6 prefix changes what a key means, so client limits start afresh.
        let rekeyed = Limiters::carry(
            &Throttling {
                code_entry_per_client_ip: Some(three),
                ipv6_prefix: 56,
                ..Throttling::default()
            },
            Some(&after),
        );
        rekeyed.check_code_entry(ip).unwrap();
    }

    #[test]
    fn idle_keys_are_forgotten() {
        let l = limiters(
            Some(Rate {
                per_second: 1000,
                burst: 1,
            }),
            None,
            None,
        );
        for i in 0..500u32 {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            l.check(ip).unwrap();
        }
        assert_eq!(l.keys(), 500);
        std::thread::sleep(Duration::from_millis(20));
        l.retain_recent();
        assert_eq!(l.keys(), 0);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(10)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1_500)), 2);
    }
}

//! Upstream discovery: origins are found by DNS, each answer kept for its TTL but never
//! longer than a cap (30 s by default), so a region failover shows within the cap. Requests
//! go round-robin over the addresses, skipping those that recently refused connections.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use parking_lot::Mutex;

use crate::config::DnsSettings;

/// How long a previous answer is reused when a lookup fails.
const STALE_GRACE: Duration = Duration::from_secs(5);
/// How long an address that refused a connection is skipped.
const UNHEALTHY_FOR: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
}

struct Answer {
    addrs: Vec<SocketAddr>,
    valid_until: Instant,
}

#[derive(Default)]
struct Host {
    answer: Mutex<Option<Arc<Answer>>>,
    /// One lookup at a time per host; others wait for its answer.
    refresh: tokio::sync::Mutex<()>,
    next: AtomicUsize,
}

pub struct Upstreams {
    resolver: TokioResolver,
    max_ttl: Duration,
    hosts: Mutex<HashMap<(String, u16), Arc<Host>>>,
    unhealthy: Mutex<HashMap<SocketAddr, Instant>>,
}

impl Upstreams {
    pub fn new(settings: &DnsSettings) -> anyhow::Result<Self> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = if settings.nameservers.is_empty() {
            TokioResolver::builder(provider)?
        } else {
            let servers = settings
                .nameservers
                .iter()
                .map(|addr| {
                    let mut config = NameServerConfig::udp_and_tcp(addr.ip());
                    for connection in &mut config.connections {
                        connection.port = addr.port();
                    }
                    config
                })
                .collect();
            TokioResolver::builder_with_config(
                ResolverConfig::from_parts(None, vec![], servers),
                provider,
            )
        };
        builder.options_mut().positive_max_ttl = Some(settings.max_ttl);
        Ok(Self {
            resolver: builder.build()?,
            max_ttl: settings.max_ttl,
            hosts: Mutex::new(HashMap::new()),
            unhealthy: Mutex::new(HashMap::new()),
        })
    }

    /// The address the next request to `host:port` goes to.
    pub async fn pick(&self, host: &str, port: u16) -> Result<SocketAddr, UpstreamError> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, port));
        }
        let state = Arc::clone(
            self.hosts
                .lock()
                .entry((host.to_owned(), port))
                .or_default(),
        );
        let answer = self.answer(&state, host, port).await?;
        let start = state.next.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let unhealthy = self.unhealthy.lock();
        let healthy = (0..answer.addrs.len())
            .map(|i| answer.addrs[(start + i) % answer.addrs.len()])
            .find(|addr| unhealthy.get(addr).is_none_or(|until| *until <= now));
        // Every address failing recently: try one anyway rather than refuse outright.
        Ok(healthy.unwrap_or(answer.addrs[start % answer.addrs.len()]))
    }

    /// Skips `addr` for a while after it failed to accept a connection.
    pub fn mark_unhealthy(&self, addr: SocketAddr) {
        let mut unhealthy = self.unhealthy.lock();
        let now = Instant::now();
        unhealthy.retain(|_, until| *until > now);
        unhealthy.insert(addr, now + UNHEALTHY_FOR);
    }

    async fn answer(
        &self,
        state: &Host,
        host: &str,
        port: u16,
    ) -> Result<Arc<Answer>, UpstreamError> {
        let fresh = |a: &Option<Arc<Answer>>| {
            a.as_ref()
                .filter(|a| a.valid_until > Instant::now())
                .map(Arc::clone)
        };
        if let Some(answer) = fresh(&state.answer.lock()) {
            return Ok(answer);
        }
        let _refreshing = state.refresh.lock().await;
        if let Some(answer) = fresh(&state.answer.lock()) {
            return Ok(answer);
        }
        let looked_up = self.resolver.lookup_ip(host).await;
        let answer = match looked_up {
            Ok(lookup) => {
                let addrs: Vec<SocketAddr> =
                    lookup.iter().map(|ip| SocketAddr::new(ip, port)).collect();
                let cap = Instant::now() + self.max_ttl;
                Arc::new(Answer {
                    addrs,
                    valid_until: lookup.valid_until().min(cap),
                })
            }
            Err(e) => {
                // A name server hiccup should not take the origin down: keep the last
                // answer a little longer if there is one.
                let stale = state.answer.lock().clone();
                if let Some(stale) = stale {
                    tracing::warn!(host, error = %e, "DNS lookup failed; reusing the last answer");
                    let answer = Arc::new(Answer {
                        addrs: stale.addrs.clone(),
                        valid_until: Instant::now() + STALE_GRACE,
                    });
                    *state.answer.lock() = Some(Arc::clone(&answer));
                    return Ok(answer);
                }
                return Err(UpstreamError::Resolve {
                    host: host.to_owned(),
                    reason: e.to_string(),
                });
            }
        };
        if answer.addrs.is_empty() {
            return Err(UpstreamError::Resolve {
                host: host.to_owned(),
                reason: "no addresses".into(),
            });
        }
        *state.answer.lock() = Some(Arc::clone(&answer));
        Ok(answer)
    }
}

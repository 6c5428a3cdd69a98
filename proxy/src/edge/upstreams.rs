//! Upstream discovery: origins are found by DNS, each answer kept for its TTL but never
//! longer than a cap (30 s by default), so a region failover shows within the cap. Requests
//! go round-robin over the addresses, skipping those that recently refused connections.
//! A request reads published snapshots only; a lookup or a failure publishes a new one.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::config::DnsSettings;
use crate::published::Published;
use arc_swap::ArcSwapOption;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;

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
    ips: Vec<IpAddr>,
    valid_until: Instant,
}

#[derive(Default)]
struct Host {
    answer: ArcSwapOption<Answer>,
    /// One lookup at a time per host; others wait for its answer.
    refresh: tokio::sync::Mutex<()>,
    next: AtomicUsize,
}

pub struct Upstreams {
    resolver: TokioResolver,
    max_ttl: Duration,
    hosts: Published<HashMap<String, Arc<Host>>>,
    unhealthy: Published<HashMap<SocketAddr, Instant>>,
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
            hosts: Published::new(HashMap::new()),
            unhealthy: Published::new(HashMap::new()),
        })
    }

    /// The address the next request to `host:port` goes to.
    pub async fn pick(&self, host: &str, port: u16) -> Result<SocketAddr, UpstreamError> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, port));
        }
        let known = self.hosts.load().get(host).map(Arc::clone);
        let state = known.unwrap_or_else(|| {
            self.hosts
                .update(|hosts| Arc::clone(hosts.entry(host.to_owned()).or_default()))
        });
        let answer = self.answer(&state, host).await?;
        let start = state.next.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let unhealthy = self.unhealthy.load();
        let n = answer.ips.len();
        let addr = |i: usize| SocketAddr::new(answer.ips[(start + i) % n], port);
        let healthy = (0..n)
            .map(addr)
            .find(|addr| unhealthy.get(addr).is_none_or(|until| *until <= now));
        // Every address failing recently: try one anyway rather than refuse outright.
        Ok(healthy.unwrap_or_else(|| addr(0)))
    }

    /// Skips `addr` for a while after it failed to accept a connection.
    pub fn mark_unhealthy(&self, addr: SocketAddr) {
        let now = Instant::now();
        self.unhealthy.update(|unhealthy| {
            unhealthy.retain(|_, until| *until > now);
            unhealthy.insert(addr, now + UNHEALTHY_FOR);
        });
    }

    async fn answer(&self, state: &Host, host: &str) -> Result<Arc<Answer>, UpstreamError> {
        let fresh = || {
            state
                .answer
                .load_full()
                .filter(|a| a.valid_until > Instant::now())
        };
        if let Some(answer) = fresh() {
            return Ok(answer);
        }
        let _refreshing = state.refresh.lock().await;
        if let Some(answer) = fresh() {
            return Ok(answer);
        }
        let looked_up = self.resolver.lookup_ip(host).await;
        let answer = match looked_up {
            Ok(lookup) => {
                let cap = Instant::now() + self.max_ttl;
                Arc::new(Answer {
                    ips: lookup.iter().collect(),
                    valid_until: lookup.valid_until().min(cap),
                })
            }
            Err(e) => {
                // A name server hiccup should not take the origin down: keep the last
                // answer a little longer if there is one.
                if let Some(stale) = state.answer.load_full() {
                    tracing::warn!(host, error = %e, "DNS lookup failed; reusing the last answer");
                    let answer = Arc::new(Answer {
                        ips: stale.ips.clone(),
                        valid_until: Instant::now() + STALE_GRACE,
                    });
                    state.answer.store(Some(Arc::clone(&answer)));
                    return Ok(answer);
                }
                return Err(UpstreamError::Resolve {
                    host: host.to_owned(),
                    reason: e.to_string(),
                });
            }
        };
        if answer.ips.is_empty() {
            return Err(UpstreamError::Resolve {
                host: host.to_owned(),
                reason: "no addresses".into(),
            });
        }
        state.answer.store(Some(Arc::clone(&answer)));
        Ok(answer)
    }
}

//! One active replica among several: a `coordination.k8s.io/v1` Lease names the leader,
//! which renews it; a standby polls and takes the lease over once it has gone unrenewed for
//! its whole duration, or at once when the leader released it on its way out.
//!
//! Every write is a replace conditional on the resourceVersion just read, so two replicas
//! can never both believe they won. Expiry is judged on the standby's own monotonic clock
//! (how long the lease has not changed, as client-go does), never by comparing another
//! machine's timestamps with ours.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::{Client, ResourceExt};
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::metrics::Metrics;

/// How long a lease stays valid after its last renewal.
pub const LEASE_DURATION: Duration = Duration::from_secs(15);
/// How often the leader renews.
const RENEW_PERIOD: Duration = Duration::from_secs(5);
/// The leader stops leading when it could not renew for this long: well before a standby
/// may take over (`LEASE_DURATION` after the last renewal it saw).
const RENEW_DEADLINE: Duration = Duration::from_secs(10);
/// How often a standby looks at the lease, and a failed renewal is tried again.
const RETRY_PERIOD: Duration = Duration::from_secs(2);

pub struct Elector {
    api: Api<Lease>,
    name: String,
    identity: String,
    metrics: Arc<Metrics>,
}

impl Elector {
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.into(),
            identity: identity.into(),
            metrics,
        }
    }

    /// Waits until this replica holds the lease; returns when the winning write started,
    /// the moment the lease's validity counts from.
    pub async fn acquire(&self) -> Instant {
        let mut watch = Staleness::default();
        loop {
            let started = Instant::now();
            match self.try_acquire(&mut watch).await {
                Ok(true) => {
                    tracing::info!(identity = %self.identity, lease = %self.name, "leading");
                    self.metrics.set_leader(true);
                    return started;
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, lease = %self.name, "cannot read the lease"),
            }
            tokio::time::sleep(RETRY_PERIOD).await;
        }
    }

    /// Renews the lease while this replica leads; returns why it no longer does.
    pub async fn hold(&self, acquired: Instant) -> Error {
        let mut deadline = acquired + RENEW_DEADLINE;
        let mut pause = RENEW_PERIOD;
        loop {
            tokio::time::sleep(pause).await;
            let started = Instant::now();
            let outcome = tokio::time::timeout_at(deadline, self.renew()).await;
            match outcome {
                Ok(Ok(())) => {
                    deadline = started + RENEW_DEADLINE;
                    pause = RENEW_PERIOD;
                }
                Ok(Err(e @ Error::LeaseLost(_))) => return self.stepped_down(e),
                Ok(Err(e)) if Instant::now() + RETRY_PERIOD < deadline => {
                    tracing::warn!(error = %e, "cannot renew the lease; trying again");
                    pause = RETRY_PERIOD;
                }
                Ok(Err(e)) => return self.stepped_down(e),
                Err(_) => {
                    let why = format!("not renewed within {RENEW_DEADLINE:?}");
                    return self.stepped_down(Error::LeaseLost(why));
                }
            }
        }
    }

    /// Gives the lease up, so that a standby takes over without waiting for it to expire.
    pub async fn release(&self) -> Result<()> {
        self.metrics.set_leader(false);
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            return Ok(());
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        self.api
            .replace(&self.name, &PostParams::default(), &lease)
            .await?;
        tracing::info!(lease = %self.name, "released the lease");
        Ok(())
    }

    fn stepped_down(&self, e: Error) -> Error {
        self.metrics.set_leader(false);
        e
    }

    /// One look at the lease: takes it when it is free, expired or already ours.
    async fn try_acquire(&self, watch: &mut Staleness) -> Result<bool> {
        let Some(lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.claim(None)),
            };
            return written(self.api.create(&PostParams::default(), &lease).await);
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let duration = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(LEASE_DURATION, Duration::from_secs);
        let version = lease.resource_version().unwrap_or_default();
        let free = match spec.holder_identity.as_deref() {
            None | Some("") => true,
            // Ours from before a restart under the same name (a pod keeps its name).
            Some(holder) if holder == self.identity => true,
            Some(_) => watch.unchanged_for(&version, Instant::now()) >= duration,
        };
        if !free {
            return Ok(false);
        }
        let taken = Lease {
            metadata: lease.metadata.clone(),
            spec: Some(self.claim(Some(&spec))),
        };
        written(
            self.api
                .replace(&self.name, &PostParams::default(), &taken)
                .await,
        )
    }

    /// Renews the lease, which must still name this replica.
    async fn renew(&self) -> Result<()> {
        let mut lease = self.api.get(&self.name).await?;
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        match spec.holder_identity.as_deref() {
            Some(holder) if holder == self.identity => {}
            other => {
                let holder = other.unwrap_or("nobody");
                return Err(Error::LeaseLost(format!("held by {holder}")));
            }
        }
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(()),
            // Someone wrote in between: the next attempt reads who.
            Err(e) => Err(Error::from_write(e)),
        }
    }

    /// The lease spec naming this replica, counting a transition when it changes hands.
    fn claim(&self, previous: Option<&LeaseSpec>) -> LeaseSpec {
        let now = MicroTime(Timestamp::now());
        let ours = previous
            .and_then(|p| p.holder_identity.as_deref())
            .is_some_and(|h| h == self.identity);
        let transitions = previous.and_then(|p| p.lease_transitions).unwrap_or(0);
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(LEASE_DURATION.as_secs() as i32),
            acquire_time: match previous {
                Some(p) if ours => p.acquire_time.clone(),
                _ => Some(now.clone()),
            },
            renew_time: Some(now),
            lease_transitions: Some(if ours || previous.is_none() {
                transitions
            } else {
                transitions + 1
            }),
            ..LeaseSpec::default()
        }
    }
}

/// A conditional write's outcome: losing the race to another replica is no error.
fn written(outcome: std::result::Result<Lease, kube::Error>) -> Result<bool> {
    match outcome {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// How long a lease has gone without a change, as this replica has watched it.
#[derive(Default)]
struct Staleness {
    seen: Option<(String, Instant)>,
}

impl Staleness {
    fn unchanged_for(&mut self, version: &str, now: Instant) -> Duration {
        match &self.seen {
            Some((seen, since)) if seen == version => now.duration_since(*since),
            _ => {
                self.seen = Some((version.to_owned(), now));
                Duration::ZERO
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staleness_counts_from_the_first_sight_of_a_version() {
        let start = Instant::now();
        let mut watch = Staleness::default();
        assert_eq!(watch.unchanged_for("1", start), Duration::ZERO);
        let later = start + Duration::from_secs(7);
        assert_eq!(watch.unchanged_for("1", later), Duration::from_secs(7));
    }

    #[test]
    fn a_renewal_restarts_the_count() {
        let start = Instant::now();
        let mut watch = Staleness::default();
        watch.unchanged_for("1", start);
        let renewed = start + LEASE_DURATION;
        assert_eq!(watch.unchanged_for("2", renewed), Duration::ZERO);
        let soon = renewed + Duration::from_secs(1);
        assert_eq!(watch.unchanged_for("2", soon), Duration::from_secs(1));
    }

    #[test]
    fn the_leader_gives_up_before_a_standby_may_take_over() {
        assert!(RENEW_PERIOD + RETRY_PERIOD < RENEW_DEADLINE);
        assert!(RENEW_DEADLINE + RETRY_PERIOD < LEASE_DURATION);
    }
}

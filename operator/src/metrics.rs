//! The operator's Prometheus metrics, in a registry of its own.

use prometheus::{
    Encoder, Histogram, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Registry,
    register_histogram_with_registry, register_int_counter_vec_with_registry,
    register_int_counter_with_registry, register_int_gauge_vec_with_registry,
    register_int_gauge_with_registry,
};

pub struct Metrics {
    registry: Registry,
    reconciles: IntCounter,
    failures: IntCounterVec,
    duration: Histogram,
    leader: IntGauge,
    keys_created: IntCounterVec,
    pushes: IntCounterVec,
    lag: Histogram,
    peers_up: IntGaugeVec,
    collections: IntCounterVec,
    collected: IntCounter,
    objects_unreadable: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Self {
        let metrics = Self::unset();
        // Present from the start, so that an alert on them sees 0 rather than nothing.
        for kind in ["Requestor", "DeviceLink"] {
            metrics.set_unreadable(kind, 0);
        }
        metrics
    }

    fn unset() -> Self {
        let registry =
            Registry::new_custom(Some("linkgate_operator".into()), None).expect("a valid prefix");
        let unique = "a valid, unique metric";
        let counters = |name: &str, help: &str, labels: &[&str]| {
            register_int_counter_vec_with_registry!(name, help, labels, registry).expect(unique)
        };
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            register_histogram_with_registry!(name, help, buckets, registry).expect(unique)
        };
        Self {
            reconciles: register_int_counter_with_registry!(
                "reconciles_total",
                "Reconciles started",
                registry
            )
            .expect(unique),
            failures: counters(
                "reconcile_errors_total",
                "Reconciles that failed, by error kind",
                &["error"],
            ),
            duration: histogram(
                "reconcile_duration_seconds",
                "Time a reconcile takes",
                vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0],
            ),
            leader: register_int_gauge_with_registry!(
                "leader",
                "1 while this replica holds the lease and runs the controllers",
                registry
            )
            .expect(unique),
            keys_created: counters(
                "media_keys_created_total",
                "Media-token signing keys made, by reason (created or rotated)",
                &["reason"],
            ),
            pushes: counters(
                "replication_pushes_total",
                "Writes pushed to peer regions, by peer, kind and outcome",
                &["peer", "kind", "outcome"],
            ),
            lag: histogram(
                "replication_lag_seconds",
                "From a DeviceLink write (its revision) to its copy in a peer region",
                vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0],
            ),
            peers_up: register_int_gauge_vec_with_registry!(
                "peers_up",
                "1 while the peer region's API server answers",
                &["peer"],
                registry
            )
            .expect(unique),
            collections: counters(
                "database_collections_total",
                "Collections of expired rows in the postgres store's database, by outcome",
                &["outcome"],
            ),
            collected: register_int_counter_with_registry!(
                "database_rows_collected_total",
                "Expired codes and links removed from the postgres store's database",
                registry
            )
            .expect(unique),
            objects_unreadable: register_int_gauge_vec_with_registry!(
                "objects_unreadable",
                "Objects this build cannot read and so does not reconcile, by kind",
                &["kind"],
                registry
            )
            .expect(unique),
            registry,
        }
    }

    /// How many objects of `kind` (Requestor, DeviceLink) are unreadable now.
    pub fn set_unreadable(&self, kind: &str, objects: usize) {
        self.objects_unreadable
            .with_label_values(&[kind])
            .set(objects.try_into().unwrap_or(i64::MAX));
    }

    /// Counts a reconcile and times it until the returned guard drops.
    pub fn reconcile(&self) -> prometheus::HistogramTimer {
        self.reconciles.inc();
        self.duration.start_timer()
    }

    pub fn failure(&self, label: &'static str) {
        self.failures.with_label_values(&[label]).inc();
    }

    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    pub fn key_created(&self, reason: &'static str) {
        self.keys_created.with_label_values(&[reason]).inc();
    }

    /// Counts a push of a `kind` object to `peer`: created, replaced, skipped, pulled,
    /// deleted, refused or failed.
    pub fn pushed(&self, peer: &str, kind: &str, outcome: &'static str) {
        self.pushes.with_label_values(&[peer, kind, outcome]).inc();
    }

    pub fn replication_lag(&self, seconds: f64) {
        self.lag.observe(seconds);
    }

    pub fn set_peer_up(&self, peer: &str, up: bool) {
        self.peers_up.with_label_values(&[peer]).set(i64::from(up));
    }

    /// A collection in the database: how many rows it removed, or `None` when it failed.
    pub fn database_collection(&self, collected: Option<u64>) {
        let outcome = if collected.is_some() { "ok" } else { "failed" };
        self.collections.with_label_values(&[outcome]).inc();
        self.collected.inc_by(collected.unwrap_or_default());
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding cannot fail");
        String::from_utf8(out).expect("UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

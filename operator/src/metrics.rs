//! The operator's Prometheus metrics, in a registry of its own.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
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
}

impl Metrics {
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("linkgate_operator".into()), None).expect("a valid prefix");
        let reconciles =
            IntCounter::new("reconciles_total", "Reconciles started").expect("valid metric");
        let failures = IntCounterVec::new(
            Opts::new(
                "reconcile_errors_total",
                "Reconciles that failed, by error kind",
            ),
            &["error"],
        )
        .expect("valid metric");
        let duration = Histogram::with_opts(
            HistogramOpts::new("reconcile_duration_seconds", "Time a reconcile takes")
                .buckets(vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0]),
        )
        .expect("valid metric");
        let leader = IntGauge::new(
            "leader",
            "1 while this replica holds the lease and runs the controllers",
        )
        .expect("valid metric");
        let keys_created = IntCounterVec::new(
            Opts::new(
                "media_keys_created_total",
                "Media-token signing keys made, by reason (created or rotated)",
            ),
            &["reason"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(reconciles.clone()))
            .expect("unique");
        registry
            .register(Box::new(failures.clone()))
            .expect("unique");
        registry
            .register(Box::new(duration.clone()))
            .expect("unique");
        registry.register(Box::new(leader.clone())).expect("unique");
        let pushes = IntCounterVec::new(
            Opts::new(
                "replication_pushes_total",
                "Writes pushed to peer regions, by peer, kind and outcome",
            ),
            &["peer", "kind", "outcome"],
        )
        .expect("valid metric");
        let lag = Histogram::with_opts(
            HistogramOpts::new(
                "replication_lag_seconds",
                "From a DeviceLink write (its revision) to its copy in a peer region",
            )
            .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0]),
        )
        .expect("valid metric");
        let peers_up = IntGaugeVec::new(
            Opts::new("peers_up", "1 while the peer region's API server answers"),
            &["peer"],
        )
        .expect("valid metric");
        for metric in [
            Box::new(keys_created.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(pushes.clone()),
            Box::new(lag.clone()),
            Box::new(peers_up.clone()),
        ] {
            registry.register(metric).expect("unique");
        }
        Self {
            registry,
            reconciles,
            failures,
            duration,
            leader,
            keys_created,
            pushes,
            lag,
            peers_up,
        }
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

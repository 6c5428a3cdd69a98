//! The operator's Prometheus metrics, in a registry of its own.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

pub struct Metrics {
    registry: Registry,
    reconciles: IntCounter,
    failures: IntCounterVec,
    duration: Histogram,
    leader: IntGauge,
    keys_created: IntCounterVec,
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
        registry
            .register(Box::new(keys_created.clone()))
            .expect("unique");
        Self {
            registry,
            reconciles,
            failures,
            duration,
            leader,
            keys_created,
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

//! Prometheus metrics, in a registry of the gateway's own (no globals, so tests and
//! several gateways in one process stay apart). Labels are bounded: routes are the API's
//! route names, requestors come from configuration, never from the request.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Registry, TextEncoder, register_histogram_vec_with_registry,
    register_int_counter_vec_with_registry, register_int_counter_with_registry,
    register_int_gauge_vec_with_registry, register_int_gauge_with_registry,
};

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_duration: HistogramVec,
    codes_issued: IntCounterVec,
    links: IntCounterVec,
    unlinks: IntCounterVec,
    authorizations: IntCounterVec,
    media_tokens: IntCounterVec,
    config_reloads: IntCounterVec,
    throttled: IntCounterVec,
    token_rejections: IntCounterVec,
    upstream_errors: IntCounterVec,
    device_auth_failures: IntCounterVec,
    saml_refusals: IntCounterVec,
    throttle_keys: IntGauge,
    stored_codes: IntGauge,
    stored_links: IntGauge,
    objects_unreadable: IntGaugeVec,
    degradations: IntGaugeVec,
    degradation_changes: IntCounterVec,
    database_write_retries: IntCounterVec,
    database_unanswered_commits: IntCounterVec,
    database_primary_changes: IntCounter,
    database_reachable: IntGauge,
}

impl Metrics {
    pub fn new() -> Self {
        let metrics = Self::unset();
        // Present from the start, so that an alert on them sees 0 rather than nothing.
        for kind in ["Requestor", "DeviceLink"] {
            metrics.set_unreadable(kind, 0);
        }
        for reason in ["conflict", "connection_lost", "not_stored"] {
            metrics.database_write_retries.with_label_values(&[reason]);
        }
        for outcome in ["stored", "not_stored", "unsettled"] {
            metrics
                .database_unanswered_commits
                .with_label_values(&[outcome]);
        }
        metrics
    }

    fn unset() -> Self {
        let registry =
            Registry::new_custom(Some("linkgate".into()), None).expect("a valid metric prefix");
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register_int_counter_vec_with_registry!(name, help, labels, registry)
                .expect("a valid, unique metric")
        };
        let gauge = |name: &str, help: &str| {
            register_int_gauge_with_registry!(name, help, registry).expect("a valid, unique metric")
        };
        Self {
            requests: counter(
                "requests_total",
                "HTTP requests answered, by route and status",
                &["route", "status"],
            ),
            request_duration: request_duration(&registry),
            codes_issued: counter(
                "codes_issued_total",
                "Registration codes issued, by requestor",
                &["requestor"],
            ),
            links: counter(
                "device_links_total",
                "Devices linked to a user, by requestor",
                &["requestor"],
            ),
            unlinks: counter(
                "device_unlinks_total",
                "Users unlinked from a device, by requestor",
                &["requestor"],
            ),
            authorizations: counter(
                "authorizations_total",
                "Authorization answers, by requestor and decision",
                &["requestor", "decision"],
            ),
            media_tokens: counter(
                "media_tokens_issued_total",
                "Media tokens signed, by requestor",
                &["requestor"],
            ),
            config_reloads: counter(
                "config_reloads_total",
                "Configuration reloads, by outcome",
                &["outcome"],
            ),
            throttled: counter(
                "throttled_total",
                "Requests refused with 429, by requestor and limit",
                &["requestor", "limit"],
            ),
            token_rejections: counter(
                "token_rejections_total",
                "Content requests refused at the edge, by requestor and reason",
                &["requestor", "reason"],
            ),
            upstream_errors: counter(
                "upstream_errors_total",
                "Failures talking to origins, by requestor and kind",
                &["requestor", "kind"],
            ),
            device_auth_failures: counter(
                "device_auth_failures_total",
                "Device-side calls and refreshes refused for their credential, by requestor and reason",
                &["requestor", "reason"],
            ),
            saml_refusals: counter(
                "saml_refusals_total",
                "SAML identity providers' answers refused at the ACS, by requestor and reason",
                &["requestor", "reason"],
            ),
            throttle_keys: gauge(
                "throttle_keys",
                "Client IPs and devices the rate limiters hold state for",
            ),
            database_write_retries: counter(
                "database_write_retries_total",
                "Database writes run again, by reason: aborted for a concurrent one, connection \
                 lost before COMMIT, or found not stored after an unanswered COMMIT",
                &["reason"],
            ),
            database_unanswered_commits: counter(
                "database_unanswered_commits_total",
                "Database COMMITs whose answer was lost, by what the write's receipt showed: \
                 stored, not_stored, or unsettled (no primary answered in time)",
                &["outcome"],
            ),
            database_primary_changes: register_int_counter_with_registry!(
                "database_primary_changes_total",
                "Times the database server taking this proxy's writes changed (a failover)",
                registry
            )
            .expect("a valid, unique metric"),
            database_reachable: gauge(
                "database_reachable",
                "Whether the database answered this proxy's last look (1) or not (0)",
            ),
            stored_codes: gauge("store_codes", "Registration codes held by the store"),
            stored_links: gauge("store_links", "Device links held by the store"),
            objects_unreadable: register_int_gauge_vec_with_registry!(
                "objects_unreadable",
                "Cluster objects this build cannot read and so does not serve, by kind",
                &["kind"],
                registry
            )
            .expect("a valid, unique metric"),
            degradations: register_int_gauge_vec_with_registry!(
                "mvpd_degradation_rules",
                "Degradation rules configured (1), by requestor, MVPD and rule",
                &["requestor", "mvpd", "rule"],
                registry
            )
            .expect("a valid, unique metric"),
            degradation_changes: counter(
                "mvpd_degradation_changes_total",
                "Degradation rules set, changed or lifted, by requestor and MVPD",
                &["requestor", "mvpd"],
            ),
            registry,
        }
    }

    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .with_label_values(&[route, status_label(status)])
            .inc();
        self.request_duration
            .with_label_values(&[route])
            .observe(elapsed.as_secs_f64());
    }

    pub fn code_issued(&self, requestor: &str) {
        self.codes_issued.with_label_values(&[requestor]).inc();
    }

    pub fn device_linked(&self, requestor: &str) {
        self.links.with_label_values(&[requestor]).inc();
    }

    pub fn device_unlinked(&self, requestor: &str) {
        self.unlinks.with_label_values(&[requestor]).inc();
    }

    pub fn authorization(&self, requestor: &str, authorized: bool) {
        let decision = if authorized { "permit" } else { "deny" };
        self.authorizations
            .with_label_values(&[requestor, decision])
            .inc();
    }

    pub fn media_token_issued(&self, requestor: &str) {
        self.media_tokens.with_label_values(&[requestor]).inc();
    }

    pub fn config_reload(&self, ok: bool) {
        let outcome = if ok { "applied" } else { "refused" };
        self.config_reloads.with_label_values(&[outcome]).inc();
    }

    pub fn throttled(&self, requestor: &str, limit: &'static str) {
        self.throttled.with_label_values(&[requestor, limit]).inc();
    }

    pub fn token_rejected(&self, requestor: &str, reason: &'static str) {
        self.token_rejections
            .with_label_values(&[requestor, reason])
            .inc();
    }

    pub fn upstream_error(&self, requestor: &str, kind: &'static str) {
        self.upstream_errors
            .with_label_values(&[requestor, kind])
            .inc();
    }

    pub fn device_auth_failure(&self, requestor: &str, reason: &'static str) {
        self.device_auth_failures
            .with_label_values(&[requestor, reason])
            .inc();
    }

    pub fn saml_refused(&self, requestor: &str, reason: &'static str) {
        self.saml_refusals
            .with_label_values(&[requestor, reason])
            .inc();
    }

    pub fn set_throttle_keys(&self, keys: usize) {
        self.throttle_keys.set(keys.try_into().unwrap_or(i64::MAX));
    }

    /// A database write is run again, for `reason`.
    pub fn database_write_retried(&self, reason: &'static str) {
        self.database_write_retries
            .with_label_values(&[reason])
            .inc();
    }

    /// A COMMIT's answer was lost, and its write's receipt showed `outcome`.
    pub fn database_commit_unanswered(&self, outcome: &'static str) {
        self.database_unanswered_commits
            .with_label_values(&[outcome])
            .inc();
    }

    /// The proxy's look at its database: whether it answered, and whether the server that
    /// answered is another than at the last look.
    pub fn database_seen(&self, reachable: bool, primary_changed: bool) {
        self.database_reachable.set(reachable.into());
        if primary_changed {
            self.database_primary_changes.inc();
        }
    }

    /// The codes and links the store holds, read at each scrape.
    pub fn set_held(&self, codes: usize, links: usize) {
        self.stored_codes.set(codes.try_into().unwrap_or(i64::MAX));
        self.stored_links.set(links.try_into().unwrap_or(i64::MAX));
    }

    /// How many objects of `kind` (Requestor, DeviceLink) are unreadable now.
    /// A degradation rule set (`configured`) or lifted.
    pub fn degradation(&self, requestor: &str, mvpd: &str, rule: &str, configured: bool) {
        let labels = [requestor, mvpd, rule];
        match configured {
            true => self.degradations.with_label_values(&labels).set(1),
            false => {
                let _ = self.degradations.remove_label_values(&labels);
            }
        }
        self.degradation_changes
            .with_label_values(&[requestor, mvpd])
            .inc();
    }

    pub fn set_unreadable(&self, kind: &str, objects: usize) {
        self.objects_unreadable
            .with_label_values(&[kind])
            .set(objects.try_into().unwrap_or(i64::MAX));
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding of gathered metrics cannot fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Status labels without allocating; anything unusual is folded into its class.
/// Latency by route, in buckets from 100 µs (an answer from memory) to 2.5 s (an origin or a
/// decision point at its timeout).
fn request_duration(registry: &Registry) -> HistogramVec {
    let buckets = vec![
        0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
        2.5,
    ];
    let opts = HistogramOpts::new(
        "request_duration_seconds",
        "Time from request to response, by route",
    )
    .buckets(buckets);
    register_histogram_vec_with_registry!(opts, &["route"], registry)
        .expect("a valid, unique metric")
}

fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        201 => "201",
        204 => "204",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        409 => "409",
        413 => "413",
        415 => "415",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        s if s < 300 => "2xx",
        s if s < 400 => "3xx",
        s if s < 500 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_show_up_prefixed_in_the_exposition() {
        let m = Metrics::new();
        m.request("native_issue_code", 201, Duration::from_millis(2));
        m.code_issued("demo");
        m.device_linked("demo");
        m.set_held(3, 4);
        let text = m.render();
        assert!(
            text.contains("linkgate_requests_total{route=\"native_issue_code\",status=\"201\"} 1")
        );
        assert!(text.contains("linkgate_codes_issued_total{requestor=\"demo\"} 1"));
        assert!(text.contains("linkgate_device_links_total{requestor=\"demo\"} 1"));
        assert!(text.contains("linkgate_store_links 4"));
        assert!(text.contains(
            "linkgate_request_duration_seconds_bucket{route=\"native_issue_code\",le=\"0.0025\"} 1"
        ));
    }
}

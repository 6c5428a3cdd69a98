//! Every metric the chart's Grafana dashboard and alerts query is one the binaries export:
//! a real proxy, made to count each of its series, is scraped, and the operator's registry
//! is rendered after recording each of its series once.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::time::Duration;

use linkgate_tests::{DEMO_KEY, Gateway, media_token, raw_get, requestors_config, wait_for_metric};

const DASHBOARD: &str = include_str!("../../charts/linkgate/dashboards/linkgate.json");
const ALERTS: &str = include_str!("../../charts/linkgate/alerts/linkgate.rules.yaml");

#[tokio::test]
async fn the_dashboard_and_alerts_query_only_exported_metrics() {
    let referenced: BTreeSet<String> = queries().iter().flat_map(|q| metric_names(q)).collect();
    assert!(
        referenced.len() >= 10,
        "too few metrics found in the dashboard and alerts: {referenced:?}"
    );

    let mut exported = sample_names(&proxy_exposition().await);
    exported.extend(sample_names(&operator_exposition()));
    let missing: Vec<_> = referenced.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "queried but not exported: {missing:?}\nexported: {exported:?}"
    );
}

/// The PromQL of every dashboard panel and every alert.
fn queries() -> Vec<String> {
    let dashboard: serde_json::Value = serde_json::from_str(DASHBOARD).expect("dashboard JSON");
    let mut out: Vec<String> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|panel| panel["targets"].as_array().cloned().unwrap_or_default())
        .map(|target| target["expr"].as_str().expect("a target's expr").to_owned())
        .collect();
    let alerts: serde_yaml_ng::Value = serde_yaml_ng::from_str(ALERTS).expect("alerts YAML");
    for group in alerts["groups"].as_sequence().expect("groups") {
        for rule in group["rules"].as_sequence().expect("rules") {
            out.push(rule["expr"].as_str().expect("an alert's expr").to_owned());
        }
    }
    out
}

/// The `linkgate_…` identifiers of a query (our metrics share the prefix; label names and
/// functions never start with it).
fn metric_names(query: &str) -> Vec<String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    query
        .split(|c: char| !is_name(c))
        .filter(|word| word.starts_with("linkgate_"))
        .map(str::to_owned)
        .collect()
}

/// Series names of a text exposition: histograms appear as their _bucket, _sum and _count.
fn sample_names(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

/// A proxy's /metrics after it has counted every series: families with labels only show
/// once a label set has been recorded.
async fn proxy_exposition() -> String {
    // An origin address that refuses connections: an upstream error.
    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let spec = format!(
        "      throttling: {{perClientIp: null, perDevice: {{perSecond: 1, burst: 10}}}}\n\
         \x20     routes: [{{prefix: /news, upstream: {{host: 127.0.0.1, port: {}}}, resource: news}}]\n",
        closed.port()
    );
    // A second requestor whose MVPD is under a degradation rule.
    let mut config = requestors_config("", &[("tv", &spec), ("outage", "")]);
    let mvpd = "{id: test-mvpd, decision: {allow: ['*']}}";
    let at = config.rfind(mvpd).expect("the second requestor's MVPD");
    let degraded = "{id: test-mvpd, decision: {allow: ['*']}, degradation: {rule: authzAll}}";
    config.replace_range(at..at + mvpd.len(), degraded);
    let mut gw = Gateway::with_config(&config).await;

    // Codes, links, authorizations and media tokens.
    let token = media_token(&gw, "tv", "tv-1", "news").await;
    let (status, body) = gw
        .get(
            "/v1/requestors/tv/devices/tv-1/authorize?resource=news",
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 200, "an authorization: {body}");
    let (status, _, _) = raw_get(gw.api, "/news/1.ts", &[]).await;
    assert_eq!(status, 401, "a token rejection");
    let (status, _, _) = raw_get(gw.api, "/news/1.ts", &[("X-Media-Token", &token)]).await;
    assert_eq!(status, 502, "an upstream error");
    let (status, body) = gw
        .delete("/v1/requestors/tv/devices/tv-1/users", Some(DEMO_KEY))
        .await;
    assert_eq!(status, 204, "an unlink: {body}");
    // A device-side call without the device's credential.
    let (status, _) = gw.get("/v1/requestors/tv/devices/tv-2/authn", None).await;
    assert_eq!(status, 401, "a device credential refusal");
    // A burst of 10 per device: the eleventh call is throttled.
    for _ in 0..11 {
        gw.get("/v1/requestors/tv/devices/tv-3/authn", Some(DEMO_KEY))
            .await;
    }
    gw.write_config("requestors: [");
    let patience = Duration::from_secs(10);
    wait_for_metric(
        &gw,
        "linkgate_config_reloads_total{outcome=\"refused\"} 1",
        patience,
    )
    .await;
    gw.metrics().await
}

/// The operator's exposition after each of its series has been recorded once.
fn operator_exposition() -> String {
    let metrics = linkgate_operator::metrics::Metrics::new();
    drop(metrics.reconcile());
    metrics.failure("kube");
    metrics.set_leader(true);
    metrics.key_created("created");
    metrics.pushed("b", "DeviceLink", "created");
    metrics.replication_lag(0.1);
    metrics.set_peer_up("b", true);
    metrics.render()
}

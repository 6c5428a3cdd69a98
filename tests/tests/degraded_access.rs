//! Degraded access: while an MVPD is down, the programmer's rule answers for it. Set and
//! lifted with kubectl on a running proxy in Kubernetes mode, it takes effect at once, in
//! the native and Adobe v1 dialects alike, with nothing cached from it; each change is in
//! the proxy's metrics, and the operator tells it as an Event on the Requestor.

use std::time::Duration;

use linkgate_crds::Requestor;
use linkgate_tests::{DEMO_KEY, Gateway};
use serde_json::json;

const PROXY_ROLE: &str = include_str!("../../charts/linkgate/rbac/proxy-role.yaml");

/// `cable-co` allows `news` only; `degradation` stands in for it when given.
fn requestor(degradation: Option<serde_json::Value>) -> Requestor {
    let mut mvpd = json!({"id": "cable-co", "decision": {"allow": ["news"]}});
    if let Some(rule) = degradation {
        mvpd["degradation"] = rule;
    }
    serde_json::from_value(json!({
        "apiVersion": "linkgate.dev/v1alpha1", "kind": "Requestor",
        "metadata": {"name": "degr"},
        "spec": {
            "mvpds": [mvpd],
            "throttling": {"perClientIp": {"disabled": true}},
            "backend": {"apiKeySecretRef": {"name": "degr.backend", "key": "apiKey"}},
            "adobe": {"requestorId": "DEGR"},
        },
    }))
    .unwrap()
}

/// A namespace of its own holding the requestor's backend key.
async fn namespace(prefix: &str) -> (kube::Client, String) {
    let client = linkgate_tests::kube::client().await;
    linkgate_tests::kube::install_crds(&client).await;
    let ns = linkgate_tests::kube::create_namespace(&client, prefix).await;
    let key = DEMO_KEY.as_bytes();
    linkgate_tests::kube::create_secret(&client, &ns, "degr.backend", "apiKey", key).await;
    (client, ns)
}

async fn proxy() -> (String, Gateway, tempfile::NamedTempFile) {
    let (client, ns) = namespace("degraded").await;
    let config = format!(
        "store: {{backend: kubernetes}}\nkubernetes: {{namespace: {ns}}}\n\
         codeKeySecretRef: {{name: codes, key: key}}\n\
         secrets:\n  codes: {{key: shared-by-every-proxy-of-the-test-fleet}}\n  degr.backend: {{apiKey: {DEMO_KEY}}}\n"
    );
    let (kubeconfig, _) =
        linkgate_tests::kube::service_account(&client, &ns, "linkgate-proxy", PROXY_ROLE).await;
    let env = vec![(
        "KUBECONFIG".into(),
        kubeconfig.path().as_os_str().to_owned(),
    )];
    (ns, Gateway::with_config_env(&config, env).await, kubeconfig)
}

/// The native and the v1 authorization of `resource` for the linked device: status and code.
async fn decisions(gw: &Gateway, resource: &str) -> [(u16, String); 2] {
    let native = format!("/v1/requestors/degr/devices/tv/authorize?resource={resource}");
    let v1 = format!("/api/v1/authorize?requestor=DEGR&deviceId=tv&resource={resource}");
    let mut out = [(0, String::new()), (0, String::new())];
    for (slot, path) in out.iter_mut().zip([native, v1]) {
        let (status, body) = gw.get(&path, Some(DEMO_KEY)).await;
        *slot = (status, body["code"].as_str().unwrap_or_default().to_owned());
    }
    out
}

/// Waits until both dialects answer `resource` with `status` (and `code`, on a refusal).
async fn until(gw: &Gateway, resource: &str, status: u16, code: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let answers = decisions(gw, resource).await;
        if answers
            .iter()
            .all(|(s, c)| *s == status && (status == 200 || c == code))
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{resource}: {answers:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_rule_set_and_lifted_with_kubectl_flips_every_dialect_s_answers_at_once() {
    let (ns, gw, _kubeconfig) = proxy().await;
    linkgate_tests::kube::apply_requestor(&ns, &requestor(None));
    let issued = linkgate_tests::kube::eventually("the requestor served", async || {
        let request = gw
            .http
            .post(gw.url("/v1/requestors/degr/codes"))
            .json(&json!({"deviceId": "tv"}));
        let (status, body) = linkgate_tests::read(request.send().await.unwrap()).await;
        (status == 201).then_some(body)
    })
    .await;
    let (status, body) = gw
        .post_json(
            "/v1/requestors/degr/links",
            json!({"code": issued["code"], "userId": "alice", "mvpd": "cable-co"}),
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // The MVPD answers: news yes, sports no (and the answers are cached).
    until(&gw, "news", 200, "").await;
    until(&gw, "sports", 403, "authorization_denied_by_mvpd").await;

    // The MVPD's decision point is down: authorize everyone it signed in.
    linkgate_tests::kube::apply_requestor(&ns, &requestor(Some(json!({"rule": "authzAll"}))));
    until(&gw, "sports", 200, "").await;
    // Or refuse everyone.
    linkgate_tests::kube::apply_requestor(&ns, &requestor(Some(json!({"rule": "authzNone"}))));
    until(&gw, "news", 403, "authorization_denied_by_degradation_rule").await;
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains(
            "linkgate_mvpd_degradation_rules{mvpd=\"cable-co\",requestor=\"degr\",rule=\"authzNone\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        !metrics.contains("rule=\"authzAll\"} 1"),
        "the old rule is gone"
    );

    // A rule past its end time is not in force; lifting the rule gives the MVPD back its
    // say, the denial it made before the outage included.
    let ended = json!({"rule": "authzAll", "until": "2020-01-01T00:00:00Z"});
    linkgate_tests::kube::apply_requestor(&ns, &requestor(Some(ended)));
    until(&gw, "news", 200, "").await;
    until(&gw, "sports", 403, "authorization_denied_by_mvpd").await;
    linkgate_tests::kube::apply_requestor(&ns, &requestor(None));
    until(&gw, "sports", 403, "authorization_denied_by_mvpd").await;
    let metrics = gw.metrics().await;
    assert!(
        !metrics.contains("linkgate_mvpd_degradation_rules{"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "linkgate_mvpd_degradation_changes_total{mvpd=\"cable-co\",requestor=\"degr\"}"
        ),
        "{metrics}"
    );

    // kubectl refuses a rule it cannot read.
    let mut bad = serde_json::to_value(requestor(Some(json!({"rule": "authzAll"})))).unwrap();
    bad["spec"]["mvpds"][0]["degradation"]["rule"] = json!("allowAll");
    let yaml = serde_yaml_ng::to_string(&bad).unwrap();
    let (ok, out) = linkgate_tests::kube::kubectl(
        linkgate_tests::kube::kubeconfig(),
        &["apply", "-n", &ns, "-f", "-"],
        &yaml,
    );
    assert!(!ok && out.contains("allowAll"), "{out}");
}

#[tokio::test]
async fn the_operator_tells_each_rule_set_changed_and_lifted_as_an_event() {
    let (client, ns) = namespace("degraded-events").await;
    let _operator = linkgate_tests::operator::Operator::start(&ns, "operator-0").await;
    let requestors: kube::Api<Requestor> = kube::Api::namespaced(client.clone(), &ns);
    let ended = json!({"rule": "authzNone", "until": "2020-01-01T00:00:00Z"});
    for rule in [Some(json!({"rule": "authzAll"})), Some(ended), None] {
        linkgate_tests::kube::apply_requestor(&ns, &requestor(rule.clone()));
        let recorded = rule.map(|r| r["rule"].clone());
        linkgate_tests::kube::eventually("the status records the rules told", async || {
            let status = requestors.get("degr").await.ok()?.status?;
            let now = status.degradations.first().map(|d| json!(d.rule));
            (now == recorded).then_some(())
        })
        .await;
    }
    // The operator told each rule set and the lifting as Events on the Requestor.
    let events: kube::Api<k8s_openapi::api::events::v1::Event> = kube::Api::namespaced(client, &ns);
    linkgate_tests::kube::eventually("the Events", async || {
        let listed = events.list(&Default::default()).await.ok()?;
        let notes = |reason: &str| -> Vec<String> {
            listed
                .items
                .iter()
                .filter(|e| e.reason.as_deref() == Some(reason))
                .filter_map(|e| e.note.clone())
                .collect()
        };
        let set = notes("DegradedAccess");
        let told = ["authzAll", "authzNone", "until 2020-01-01T00:00:00Z"]
            .iter()
            .all(|what| {
                set.iter()
                    .any(|n| n.contains(what) && n.contains("cable-co"))
            });
        (told && !notes("DegradedAccessLifted").is_empty()).then_some(())
    })
    .await;
}

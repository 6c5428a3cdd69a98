//! The operator against a real API server: Requestors get `Valid` and `Ready` conditions
//! with the reason when something is wrong, including a Secret that does not exist yet.

use std::time::{Duration, Instant};

use k8s_openapi::api::events::v1::Event;
use kube::Api;

use linkgate_crds::Requestor;
use linkgate_tests::kube::condition;
use linkgate_tests::operator::Operator;
use serde_json::json;

/// A Requestor whose backend key is in its own Secret, `<name>.backend`.
fn requestor(name: &str, extra: serde_json::Value) -> Requestor {
    let secret = format!("{name}.backend");
    let mut spec = json!({"backend": {"apiKeySecretRef": {"name": secret, "key": "apiKey"}}});
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    serde_json::from_value(json!({
        "apiVersion": "linkgate.dev/v1alpha1", "kind": "Requestor",
        "metadata": {"name": name}, "spec": spec
    }))
    .unwrap()
}

#[tokio::test]
async fn requestors_get_valid_and_ready_conditions_with_reasons() {
    let client = linkgate_tests::kube::client().await;
    linkgate_tests::kube::install_crds(&client).await;
    let ns = linkgate_tests::kube::create_namespace(&client, "operator").await;
    let operator = Operator::start(&ns, "operator-0").await;

    let requestors: Api<Requestor> = Api::namespaced(client.clone(), &ns);
    linkgate_tests::kube::apply_requestor(&ns, &requestor("waiting", json!({})));
    let missing = condition(&requestors, "waiting", "Valid", "False").await;
    assert_eq!(missing.reason, "MissingSecret");
    assert!(
        missing.message.contains("\"waiting.backend\""),
        "{}",
        missing.message
    );
    assert_eq!(missing.observed_generation, Some(1));
    // The Secret appears: the requestor referring to it becomes valid without being touched.
    linkgate_tests::kube::create_secret(&client, &ns, "waiting.backend", "apiKey", b"k").await;
    condition(&requestors, "waiting", "Valid", "True").await;
    let ready = condition(&requestors, "waiting", "Ready", "True").await;
    assert_eq!(ready.observed_generation, Some(1));

    // What the schema cannot check: a network that does not parse.
    linkgate_tests::kube::create_secret(&client, &ns, "bad-cidr.backend", "apiKey", b"k").await;
    linkgate_tests::kube::apply_requestor(
        &ns,
        &requestor("bad-cidr", json!({"trustedProxies": ["10.0.0.0/33"]})),
    );
    let bad = condition(&requestors, "bad-cidr", "Valid", "False").await;
    assert_eq!(bad.reason, "InvalidAccessPolicy", "{}", bad.message);
    assert!(bad.message.contains("10.0.0.0/33"), "{}", bad.message);
    assert_eq!(
        condition(&requestors, "bad-cidr", "Ready", "False")
            .await
            .reason,
        "InvalidAccessPolicy"
    );

    // Each change of validity is told as an Event on the object.
    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = events.list(&Default::default()).await.unwrap();
        let told = |name: &str, reason: &str| {
            listed.items.iter().any(|e| {
                e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                    && e.reason.as_deref() == Some(reason)
            })
        };
        if told("bad-cidr", "InvalidAccessPolicy")
            && told("waiting", "MissingSecret")
            && told("waiting", "SpecValid")
        {
            break;
        }
        assert!(Instant::now() < deadline, "events: {:?}", listed.items);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let reconciles = operator
        .metric("linkgate_operator_reconciles_total")
        .await
        .expect("the reconcile counter");
    assert!(reconciles >= 3.0, "{reconciles} reconciles");
}

#[tokio::test]
async fn tenants_cannot_reach_each_other_s_secrets_paths_or_internal_http() {
    let client = linkgate_tests::kube::client().await;
    linkgate_tests::kube::install_crds(&client).await;
    let ns = linkgate_tests::kube::create_namespace(&client, "tenants").await;
    let _operator = Operator::start(&ns, "operator-0").await;
    let requestors: Api<Requestor> = Api::namespaced(client.clone(), &ns);
    for name in ["news", "late", "plain", "espn", "claimer"] {
        let secret = format!("{name}.backend");
        linkgate_tests::kube::create_secret(&client, &ns, &secret, "apiKey", b"k").await;
    }
    let route =
        |prefix: &str| json!([{"prefix": prefix, "upstream": {"host": "origin", "port": 80}}]);
    linkgate_tests::kube::apply_requestor(
        &ns,
        &requestor("news", json!({"routes": route("/news")})),
    );
    condition(&requestors, "news", "Valid", "True").await;

    // Another tenant's Secret, or the gateway's own, cannot be named.
    for (name, foreign) in [
        ("intruder", "news.backend"),
        ("impostor", "linkgate-code-key"),
    ] {
        let mut refused = requestor(name, json!({}));
        refused
            .spec
            .backend
            .api_key_secret_ref
            .as_mut()
            .unwrap()
            .name = foreign.into();
        linkgate_tests::kube::apply_requestor(&ns, &refused);
        let valid = condition(&requestors, name, "Valid", "False").await;
        assert_eq!(valid.reason, "ForeignSecret", "{}", valid.message);
        assert!(valid.message.contains(foreign), "{}", valid.message);
    }

    // A path another requestor routes, or one inside it, is refused, not taken over.
    // (Creation times are whole seconds, and ties go by name: make "late" the younger.)
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    linkgate_tests::kube::apply_requestor(
        &ns,
        &requestor("late", json!({"routes": route("/news/secret")})),
    );
    let clash = condition(&requestors, "late", "Valid", "False").await;
    assert_eq!(clash.reason, "RouteConflict");
    assert!(
        clash.message.contains("/news/secret") && clash.message.contains("\"news\""),
        "{}",
        clash.message
    );
    condition(&requestors, "news", "Valid", "True").await;
    // Once the holder lets go of the path, the newcomer gets it without being touched.
    requestors
        .delete("news", &Default::default())
        .await
        .unwrap();
    condition(&requestors, "late", "Valid", "True").await;

    // An Adobe requestor ID goes to its oldest claimant, as a path does.
    let id = || json!({"adobe": {"requestorId": "ESPN"}});
    linkgate_tests::kube::apply_requestor(&ns, &requestor("espn", id()));
    condition(&requestors, "espn", "Valid", "True").await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    linkgate_tests::kube::apply_requestor(&ns, &requestor("claimer", id()));
    let clash = condition(&requestors, "claimer", "Valid", "False").await;
    assert_eq!(clash.reason, "RequestorIdConflict", "{}", clash.message);
    assert!(clash.message.contains("\"espn\""), "{}", clash.message);
    let ready = condition(&requestors, "claimer", "Ready", "False").await;
    assert_eq!(ready.reason, "RequestorIdConflict");
    condition(&requestors, "espn", "Valid", "True").await;
    requestors
        .delete("espn", &Default::default())
        .await
        .unwrap();
    condition(&requestors, "claimer", "Valid", "True").await;

    // Outbound URLs are https: plain http to an internal host is refused.
    let hook = json!({"accountWebhook": {"url": "http://10.0.0.1/accounts"}});
    let plain = requestor("plain", hook);
    linkgate_tests::kube::apply_requestor(&ns, &plain);
    let refused = condition(&requestors, "plain", "Valid", "False").await;
    assert_eq!(refused.reason, "InvalidAccountWebhook");
    assert!(
        refused.message.contains("must be https"),
        "{}",
        refused.message
    );
}

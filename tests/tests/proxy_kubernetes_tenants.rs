//! Tenants apart on a proxy in Kubernetes mode, where each tenant writes its own
//! Requestor: a path another requestor routes is not taken over, a Secret meant for
//! another requestor (or the gateway) cannot be named, and outbound URLs are https.

use std::time::Duration;

use kube::api::{Api, DeleteParams};
use linkgate_crds::Requestor;
use linkgate_tests::origin::Origin;
use linkgate_tests::{DEMO_KEY, Gateway, raw_get};

/// The proxies' permissions, as shipped.
const PROXY_ROLE: &str = include_str!("../../charts/linkgate/rbac/proxy-role.yaml");
use serde_json::json;

fn requestor(name: &str, backend_secret: &str, extra: serde_json::Value) -> Requestor {
    let mut spec = json!({
        "mvpds": [{"id": "test-mvpd", "decision": {"allow": ["*"]}}],
        "throttling": {"perClientIp": {"disabled": true}},
        "backend": {"apiKeySecretRef": {"name": backend_secret, "key": "apiKey"}},
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    serde_json::from_value(json!({
        "apiVersion": "linkgate.dev/v1alpha1", "kind": "Requestor",
        "metadata": {"name": name}, "spec": spec,
    }))
    .unwrap()
}

fn routes(origin: &Origin, prefixes: &[&str]) -> serde_json::Value {
    let routes: Vec<_> = prefixes
        .iter()
        .map(
            |p| json!({"prefix": p, "upstream": {"host": "127.0.0.1", "port": origin.addr.port()}}),
        )
        .collect();
    json!({"routes": routes})
}

/// A namespace of its own and a proxy serving it as the shipped Role allows, holding each
/// (requestor, key) as the requestor's backend key. Keep the proxy's kubeconfig file
/// while it runs.
async fn tenant_proxy(
    prefix: &str,
    keys: &[(&str, &str)],
) -> (kube::Client, String, Gateway, tempfile::NamedTempFile) {
    let client = linkgate_tests::kube::client().await;
    linkgate_tests::kube::install_crds(&client).await;
    let ns = linkgate_tests::kube::create_namespace(&client, prefix).await;
    let backends: String = keys
        .iter()
        .map(|(name, key)| format!("  {name}.backend: {{apiKey: {key}}}\n"))
        .collect();
    let config = format!(
        "store: {{backend: kubernetes}}\nkubernetes: {{namespace: {ns}}}\n\
         codeKeySecretRef: {{name: codes, key: key}}\n\
         secrets:\n  codes: {{key: shared-by-every-proxy-of-the-test-fleet}}\n{backends}"
    );
    let (kubeconfig, _) =
        linkgate_tests::kube::service_account(&client, &ns, "linkgate-proxy", PROXY_ROLE).await;
    let env = vec![(
        "KUBECONFIG".into(),
        kubeconfig.path().as_os_str().to_owned(),
    )];
    let gw = Gateway::with_config_env(&config, env).await;
    (client, ns, gw, kubeconfig)
}

/// Polls `path` until its answer satisfies `check` (the proxy follows the watch).
async fn until(gw: &Gateway, path: &str, check: impl Fn(u16, &str) -> bool) -> (u16, String) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body, _) = raw_get(gw.api, path, &[]).await;
        if check(status, &body) {
            return (status, body);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path}: still {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_tenant_cannot_take_another_s_paths_or_secrets() {
    let keys = [
        ("news", DEMO_KEY),
        ("late", "late-key"),
        ("thief", "thief-key"),
        ("witness", "witness-key"),
    ];
    let (client, ns, gw, _kubeconfig) = tenant_proxy("tenants", &keys).await;
    let requestors: Api<Requestor> = Api::namespaced(client.clone(), &ns);
    let (news_origin, late_origin) = (Origin::start("news").await, Origin::start("late").await);

    linkgate_tests::kube::apply_requestor(
        &ns,
        &requestor("news", "news.backend", routes(&news_origin, &["/news"])),
    );
    until(&gw, "/news/today.ts", |s, b| {
        s == 200 && b.ends_with("news")
    })
    .await;
    // Created later, claiming a path inside news's: refused whole, so none of its routes
    // and none of its API serve, and news keeps its path. (Creation times are whole
    // seconds, ties go by name: the pause makes "late" the younger.)
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let late = requestor(
        "late",
        "late.backend",
        routes(&late_origin, &["/news/secret", "/late"]),
    );
    linkgate_tests::kube::apply_requestor(&ns, &late);
    // The thief names news's Secret to learn (or use) its backend key.
    let thief = requestor("thief", "news.backend", routes(&late_origin, &["/thief"]));
    linkgate_tests::kube::apply_requestor(&ns, &thief);
    // One created after both, and served, shows the proxy has seen them.
    let witness = requestor("witness", "witness.backend", json!({}));
    linkgate_tests::kube::apply_requestor(&ns, &witness);
    let authn = async |r: &str, key: &str| {
        let bearer = format!("Bearer {key}");
        let path = format!("/v1/requestors/{r}/devices/tv/authn");
        raw_get(gw.api, &path, &[("authorization", &bearer)])
            .await
            .0
    };
    linkgate_tests::kube::eventually("the witness served", async || {
        // Served: the device is merely unknown there.
        (authn("witness", "witness-key").await == 403).then_some(())
    })
    .await;

    for (who, key) in [
        ("late", "late-key"),
        ("thief", DEMO_KEY),
        ("thief", "thief-key"),
    ] {
        let status = authn(who, key).await;
        assert_eq!(status, 404, "{who} must not be served");
    }
    let (status, body, _) = raw_get(gw.api, "/news/secret/x.ts", &[]).await;
    assert_eq!((status, body.ends_with("news")), (200, true), "{body}");
    assert!(
        late_origin.seen().await.is_empty(),
        "late's origin was reached"
    );
    let (status, _, _) = raw_get(gw.api, "/late/x.ts", &[]).await;
    assert_eq!(status, 404);

    // news lets go of the path: late is served, its routes with it.
    requestors
        .delete("news", &DeleteParams::default())
        .await
        .unwrap();
    until(&gw, "/news/secret/x.ts", |s, b| {
        s == 200 && b.ends_with("late")
    })
    .await;
    until(&gw, "/late/x.ts", |s, b| s == 200 && b.ends_with("late")).await;
    // The thief is still refused: its Secret reference never becomes its own.
    assert_eq!(authn("thief", DEMO_KEY).await, 404);
}

#[tokio::test]
async fn a_requestor_id_is_served_by_its_oldest_claimant_until_it_lets_go() {
    let keys = [
        ("espn", "espn-key"),
        ("claimer", "claimer-key"),
        ("witness", "witness-key"),
    ];
    let (client, ns, gw, _kubeconfig) = tenant_proxy("ids", &keys).await;
    let requestors: Api<Requestor> = Api::namespaced(client.clone(), &ns);
    // Each with an MVPD of its own, to tell whose answer the ID gets.
    let claiming = |name: &str| {
        let mvpd = format!("{name}-mvpd");
        let adobe = json!({"adobe": {"requestorId": "ESPN"},
                           "mvpds": [{"id": mvpd, "decision": {"allow": ["*"]}}]});
        requestor(name, &format!("{name}.backend"), adobe)
    };
    linkgate_tests::kube::apply_requestor(&ns, &claiming("espn"));
    let config_of = "/api/v1/config/ESPN";
    until(&gw, config_of, |s, b| s == 200 && b.contains("espn-mvpd")).await;
    // A younger tenant claiming the ID takes nothing: not even its own name is served.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    linkgate_tests::kube::apply_requestor(&ns, &claiming("claimer"));
    // One created after it, and served, shows the proxy has seen it.
    let witness = requestor("witness", "witness.backend", json!({}));
    linkgate_tests::kube::apply_requestor(&ns, &witness);
    until(&gw, "/api/v1/config/witness", |s, _| s == 200).await;
    let (status, body, _) = raw_get(gw.api, config_of, &[]).await;
    assert!(
        status == 200 && body.contains("espn-mvpd"),
        "{status} {body}"
    );
    let (status, _, _) = raw_get(gw.api, "/api/v1/config/claimer", &[]).await;
    assert_eq!(status, 404, "the younger claimant is not served");
    // Once the holder is gone, the ID and the younger tenant are served.
    requestors
        .delete("espn", &DeleteParams::default())
        .await
        .unwrap();
    until(&gw, config_of, |s, b| {
        s == 200 && b.contains("claimer-mvpd")
    })
    .await;
    until(&gw, "/api/v1/config/claimer", |s, _| s == 200).await;
}

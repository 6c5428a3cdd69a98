//! One tenant's object that this build cannot read stops no other tenant. A Requestor
//! carrying a field of a newer release (the version skew of a rolling upgrade), applied
//! with kubectl as people apply them: the proxy keeps serving every other tenant and the
//! version of this one it had, a proxy starting now starts, both count it, and the operator
//! reports it on the object.

use std::path::Path;

use linkgate_tests::kube::{Instance, create_namespace, eventually, install_crds, kubectl};
use linkgate_tests::operator::Operator;
use linkgate_tests::{Gateway, raw_get};

fn requestor(ns: &str, name: &str, extra: &str) -> String {
    format!(
        "apiVersion: linkgate.dev/v1alpha1\nkind: Requestor\n\
         metadata: {{name: {name}, namespace: {ns}}}\n\
         spec:\n  mvpds: [{{id: test-mvpd, decision: {{allow: ['*']}}}}]\n\
         \x20 throttling: {{perClientIp: {{disabled: true}}}}\n\
         \x20 backend: {{apiKeySecretRef: {{name: {name}.backend, key: apiKey}}}}\n{extra}"
    )
}

fn apply(kubeconfig: &Path, yaml: &str) {
    let (ok, out) = kubectl(kubeconfig, &["apply", "-f", "-"], yaml);
    assert!(ok, "kubectl apply: {out}");
}

async fn mvpds(gw: &Gateway, requestor: &str) -> u16 {
    let path = format!("/v1/requestors/{requestor}/mvpds");
    raw_get(gw.api, &path, &[]).await.0
}

fn proxy_config(ns: &str) -> String {
    format!(
        "store: {{backend: kubernetes}}\nkubernetes: {{namespace: {ns}}}\n\
         codeKeySecretRef: {{name: codes, key: key}}\n\
         secrets:\n  codes: {{key: shared-by-every-proxy-of-the-test-fleet}}\n\
         \x20 good.backend: {{apiKey: good-key}}\n  newer.backend: {{apiKey: newer-key}}\n"
    )
}

/// Applies `name` using the newer release's field, until the API server both accepts and
/// keeps it (it updates its schemas for validating and for pruning apart).
async fn apply_with_newer_field(kubeconfig: &Path, ns: &str, name: &str) {
    eventually("the API server keeps the newer field", async || {
        let newer = requestor(ns, name, "  newerField: yes-please\n");
        kubectl(kubeconfig, &["apply", "-f", "-"], &newer);
        let jsonpath = "jsonpath={.spec.newerField}";
        let get = ["get", "requestor", name, "-n", ns, "-o", jsonpath];
        (kubectl(kubeconfig, &get, "").1 == "yes-please").then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_requestor_of_a_newer_release_stops_no_other_tenant() {
    // An API server of its own: its CRD becomes a newer release's below.
    let cluster = Instance::start("skew");
    let client = cluster.client().await;
    install_crds(&client).await;
    let ns = create_namespace(&client, "skew").await;
    let kubeconfig = cluster.kubeconfig.as_path();
    let newer_field = r#"[{"op": "add", "path": "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/newerField", "value": {"type": "string"}}]"#;
    for name in ["good", "newer"] {
        let secret = format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}.backend, namespace: {ns}}}\n\
             stringData: {{apiKey: {name}-key}}\n"
        );
        apply(kubeconfig, &secret);
        apply(kubeconfig, &requestor(&ns, name, ""));
    }
    // In a rolling upgrade the newer release's CRD comes first: it has a field this build
    // does not know. (Installed before the proxy watches, as a watch opened earlier is
    // served through the schema it was opened with.)
    let (ok, out) = kubectl(
        kubeconfig,
        &[
            "patch",
            "crd",
            "requestors.linkgate.dev",
            "--type=json",
            "-p",
            newer_field,
        ],
        "",
    );
    assert!(ok, "{out}");
    // The API server serves the newer schema once it keeps the field.
    apply_with_newer_field(kubeconfig, &ns, "probe").await;
    let (ok, out) = kubectl(kubeconfig, &["delete", "requestor", "probe", "-n", &ns], "");
    assert!(ok, "{out}");
    let env = vec![("KUBECONFIG".into(), kubeconfig.as_os_str().to_owned())];
    let gw = Gateway::with_config_env(&proxy_config(&ns), env.clone()).await;
    eventually("both tenants served", async || {
        (mvpds(&gw, "good").await == 200 && mvpds(&gw, "newer").await == 200).then_some(())
    })
    .await;

    // One tenant starts using the new field.
    apply_with_newer_field(kubeconfig, &ns, "newer").await;

    linkgate_tests::wait_for_metric(
        &gw,
        "linkgate_objects_unreadable{kind=\"Requestor\"} 1",
        std::time::Duration::from_secs(30),
    )
    .await;
    assert_eq!(
        mvpds(&gw, "good").await,
        200,
        "every other tenant is served"
    );
    assert_eq!(
        mvpds(&gw, "newer").await,
        200,
        "the version it had is served"
    );

    // A proxy starting now lists every readable tenant and starts (it used to exit).
    let fresh = Gateway::with_config_env(&proxy_config(&ns), env).await;
    assert_eq!(mvpds(&fresh, "good").await, 200);
    assert_eq!(
        mvpds(&fresh, "newer").await,
        404,
        "nothing of it was ever read here"
    );
    let metrics = fresh.metrics().await;
    assert!(
        metrics.contains("linkgate_objects_unreadable{kind=\"Requestor\"} 1"),
        "{metrics}"
    );

    // The operator reports it on the object, where `kubectl get` shows it, and goes on
    // with the others.
    let operator = Operator::start_on(kubeconfig, &ns, "skew-operator", &[]).await;
    let ready = |name: &str| {
        let (_, out) = kubectl(
            kubeconfig,
            &[
                "get",
                "requestor",
                name,
                "-n",
                &ns,
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}/{.status.conditions[?(@.type==\"Ready\")].reason}/{.status.conditions[?(@.type==\"Ready\")].message}",
            ],
            "",
        );
        out
    };
    let reported = eventually("newer reported as unreadable", async || {
        let out = ready("newer");
        out.starts_with("False/Unreadable/").then_some(out)
    })
    .await;
    assert!(
        reported.contains("newerField") && reported.contains("unknown field"),
        "{reported}"
    );
    // `kubectl get requestors` shows the reason too.
    let (_, table) = kubectl(kubeconfig, &["get", "requestors", "-n", &ns], "");
    let row = table
        .lines()
        .find(|l| l.starts_with("newer "))
        .unwrap_or_default();
    assert!(
        row.contains("False") && row.contains("Unreadable"),
        "{table}"
    );
    assert!(
        table.lines().next().unwrap_or_default().contains("REASON"),
        "{table}"
    );
    eventually("good reconciled", async || {
        ready("good").starts_with("True/").then_some(())
    })
    .await;
    let metrics = operator.metrics().await;
    assert!(
        metrics.contains("linkgate_operator_objects_unreadable{kind=\"Requestor\"} 1"),
        "{metrics}"
    );
    // Readable again (the field dropped): served as it is now, and no longer counted.
    apply(kubeconfig, &requestor(&ns, "newer", ""));
    linkgate_tests::wait_for_metric(
        &fresh,
        "linkgate_objects_unreadable{kind=\"Requestor\"} 0",
        std::time::Duration::from_secs(30),
    )
    .await;
    eventually("newer served again by the fresh proxy", async || {
        (mvpds(&fresh, "newer").await == 200).then_some(())
    })
    .await;
}

//! The test control plane is a real API server: our CRDs install and become Established,
//! objects and their status subresource work, schema validation refuses a bad object, and a
//! Lease can be taken.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use linkgate_crds::{DeviceLink, Requestor};
use serde_json::json;

#[tokio::test]
async fn crds_objects_status_validation_and_leases() {
    let client = linkgate_tests::kube::client().await;
    linkgate_tests::kube::install_crds(&client).await;
    let ns = linkgate_tests::kube::create_namespace(&client, "smoke").await;
    let namespaces: Api<Namespace> = Api::all(client.clone());

    let requestors: Api<Requestor> = Api::namespaced(client.clone(), &ns);
    let requestor: Requestor = serde_json::from_value(json!({
        "apiVersion": "linkgate.dev/v1alpha1", "kind": "Requestor",
        "metadata": {"name": "demo"},
        "spec": {"displayName": "Demo TV", "backend": {"apiKeySecretRef": {"name": "demo", "key": "apiKey"}}}
    }))
    .unwrap();
    requestors
        .create(&PostParams::default(), &requestor)
        .await
        .expect("create a Requestor");
    let status = json!({"status": {"observedGeneration": 1, "conditions": [{
        "type": "Ready", "status": "True", "reason": "Valid", "message": "ok",
        "lastTransitionTime": "2026-11-24T00:00:00Z"}]}});
    requestors
        .patch_status("demo", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("patch the status subresource");
    let stored = requestors.get("demo").await.unwrap();
    assert_eq!(stored.status.unwrap().conditions[0].type_, "Ready");
    assert_eq!(
        stored.spec.codes.length, 8,
        "schema defaults applied by the server"
    );

    let links: Api<DeviceLink> = Api::namespaced(client.clone(), &ns);
    let link = |device: &str| -> DeviceLink {
        serde_json::from_value(json!({
            "apiVersion": "linkgate.dev/v1alpha1", "kind": "DeviceLink",
            "metadata": {"name": "tv-1"},
            "spec": {"requestor": "demo", "deviceId": device}
        }))
        .unwrap()
    };
    let refused = links
        .create(&PostParams::default(), &link("not a device id"))
        .await;
    match refused {
        Err(kube::Error::Api(e)) => assert_eq!(e.code, 422, "{e:?}"),
        other => panic!("the schema should refuse the device ID: {other:?}"),
    }
    links
        .create(&PostParams::default(), &link("tv-1"))
        .await
        .expect("create a valid DeviceLink");

    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some("linkgate-operator".into()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("replica-a".into()),
            lease_duration_seconds: Some(15),
            ..Default::default()
        }),
    };
    leases
        .create(&PostParams::default(), &lease)
        .await
        .expect("take the Lease");
    let held = leases.get("linkgate-operator").await.unwrap();
    assert_eq!(
        held.spec.unwrap().holder_identity.as_deref(),
        Some("replica-a")
    );

    namespaces
        .delete(&ns, &Default::default())
        .await
        .expect("clean up");
}

//! Requestors across two regions: one authored in a is served in b as authored, with the
//! media-token keys a's operator manages (so tokens signed in either region verify in
//! both); its changes and its deletion follow; one of the same name authored in each region
//! is left alone in both, and the origin's status says so.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use linkgate_crds::{ORIGIN_REGION_ANNOTATION, Requestor};
use linkgate_tests::DEMO_KEY;
use linkgate_tests::kube::{condition, create_demo_requestor, create_secret, eventually};
use linkgate_tests::regions::{self, Region, pushes};
use serde_json::json;

fn secrets(region: &Region) -> Api<Secret> {
    Api::namespaced(region.client.clone(), &region.namespace)
}

/// The requestor's managed key IDs and the Secret data holding them, once both exist.
async fn keys(region: &Region, name: &str) -> (Vec<String>, Secret) {
    eventually(&format!("{name}'s keys in {}", region.name), || async {
        let requestor = region.requestors.get_opt(name).await.expect("read")?;
        let ids: Vec<String> = requestor
            .status?
            .media_keys
            .into_iter()
            .map(|k| k.id)
            .collect();
        let secret = secrets(region)
            .get_opt(&format!("{name}.media-keys"))
            .await
            .ok()??;
        (!ids.is_empty()).then_some((ids, secret))
    })
    .await
}

#[tokio::test]
async fn a_requestor_authored_in_one_region_is_served_with_the_same_keys_in_the_other() {
    let mut regions = regions::start(&["a", "b"]).await;
    let (a, b) = (&regions[0], &regions[1]);
    // Credentials for the requestor's backend are each region's own.
    for region in [a, b] {
        create_secret(
            &region.client,
            &region.namespace,
            "demo.backend",
            "apiKey",
            DEMO_KEY.as_bytes(),
        )
        .await;
    }
    create_demo_requestor(&a.server.kubeconfig, &a.namespace, json!({}));

    // The copy in b: the same spec, marked with its origin, valid there, with a's keys.
    let authored = a.requestors.get("demo").await.expect("a's requestor");
    let copy = eventually("demo replicated to b", || async {
        b.requestors.get_opt("demo").await.expect("read")
    })
    .await;
    assert_eq!(copy.spec, authored.spec);
    assert_eq!(
        copy.annotations().get(ORIGIN_REGION_ANNOTATION),
        Some(&"a".to_owned())
    );
    condition(&b.requestors, "demo", "Ready", "True").await;
    let (ids_a, secret_a) = keys(a, "demo").await;
    let (ids_b, secret_b) = eventually("b holds a's keys", || async {
        let held = keys(b, "demo").await;
        (held.0 == ids_a).then_some(held)
    })
    .await;
    assert_eq!(ids_b, ids_a);
    assert_eq!(secret_b.data, secret_a.data, "the same private keys");
    // Owned by b's copy, so that it goes with it.
    let owner = &secret_b.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("Requestor", copy.uid().unwrap().as_str())
    );
    // Handed over by a delivery b's operator took in and removed: a's operator can only
    // create Secrets in b, never read one.
    eventually("the delivery taken in", || async {
        let selector = ListParams::default().labels("linkgate.dev/key-delivery=demo");
        secrets(b)
            .list(&selector)
            .await
            .expect("list")
            .items
            .is_empty()
            .then_some(())
    })
    .await;
    // b manages none of its own: a's operator is the only one making keys for it.
    assert_eq!(pushes(&b.operator, "a", "Requestor", "created").await, 0.0);
    // a's status tells what b holds.
    eventually("a's status shows b in step", || async {
        let origin = a.requestors.get("demo").await.expect("read");
        let entry = origin
            .status?
            .regions
            .into_iter()
            .find(|r| r.region == "b")?;
        (entry.error.is_none()
            && entry
                .synced?
                .starts_with(&format!("{}/", origin.metadata.generation?)))
        .then_some(())
    })
    .await;

    // A change at the origin follows.
    let patch = json!({"spec": {"displayName": "Demo TV"}});
    a.requestors
        .patch("demo", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("edit in a");
    eventually("the edit reached b", || async {
        let copy = b.requestors.get("demo").await.expect("read");
        (copy.spec.display_name.as_deref() == Some("Demo TV")).then_some(())
    })
    .await;

    // One name authored in both regions (while neither operator runs, so that neither
    // copy arrives first): neither replaces the other, and each origin records the refusal.
    for region in &mut regions {
        assert_eq!(region.operator.terminate().await, Some(0));
    }
    let (a, b) = (&regions[0], &regions[1]);
    for (region, name) in [(a, "Clash A"), (b, "Clash B")] {
        let requestor: Requestor = serde_json::from_value(json!({
            "apiVersion": "linkgate.dev/v1alpha1", "kind": "Requestor",
            "metadata": {"name": "clash"},
            "spec": {"displayName": name, "mvpds": [{"id": "test-mvpd"}],
                     "backend": {"apiKeySecretRef": {"name": "clash.backend", "key": "apiKey"}}},
        }))
        .expect("a Requestor");
        let kubeconfig = &region.server.kubeconfig;
        linkgate_tests::kube::apply_requestor_on(kubeconfig, &region.namespace, &requestor);
    }
    for region in &mut regions {
        region.operator.restart().await;
    }
    let (a, b) = (&regions[0], &regions[1]);
    for (region, peer, name) in [(a, "b", "Clash A"), (b, "a", "Clash B")] {
        eventually(
            &format!("{}'s status shows the clash", region.name),
            || async {
                let own = region.requestors.get("clash").await.expect("read");
                let entry = own.status?.regions.into_iter().find(|r| r.region == peer)?;
                entry.error?.contains("of its own").then_some(())
            },
        )
        .await;
        let own = region.requestors.get("clash").await.expect("read");
        assert_eq!(own.spec.display_name.as_deref(), Some(name));
        assert!(!own.annotations().contains_key(ORIGIN_REGION_ANNOTATION));
    }

    // Deleted at the origin: gone from b.
    a.requestors
        .delete("demo", &DeleteParams::default())
        .await
        .expect("delete in a");
    // (Its key Secret, owned by the copy as checked above, is then the garbage collector's,
    // which the test API server does not run.)
    eventually("demo withdrawn from b", || async {
        let gone = b.requestors.get_opt("demo").await.expect("read").is_none();
        gone.then_some(())
    })
    .await;
    assert!(b.requestors.get_opt("clash").await.expect("read").is_some());
}

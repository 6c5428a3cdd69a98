//! The operator's managed media-token keys against a real API server: a requestor without
//! `signingKeys` gets a key in a Secret it owns; the key rotates, the old one verifies until
//! its tokens expired and then goes; a lost Secret is made again; a restart changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use linkgate_crds::{ManagedKeyStatus, Requestor};
use linkgate_domain::media_token::MediaKeys;
use linkgate_tests::kube::{condition, eventually};
use linkgate_tests::operator::Operator;
use serde_json::json;

const NAME: &str = "acme";
const KEY_SECRET: &str = "acme.media-keys";
/// Clock skew the operator allows for, kept small so retirements come quickly.
const SKEW: &str = "1";

async fn media_keys(api: &Api<Requestor>) -> Vec<ManagedKeyStatus> {
    let requestor = api.get(NAME).await.expect("the requestor");
    requestor.status.map(|s| s.media_keys).unwrap_or_default()
}

fn ids(keys: &[ManagedKeyStatus]) -> Vec<String> {
    keys.iter().map(|k| k.id.clone()).collect()
}

fn data(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect()
}

/// The Secret's keys loaded the way the gateway loads them, in the status's order.
fn load(keys: &[ManagedKeyStatus], secret: &Secret) -> MediaKeys {
    let data = data(secret);
    let pems: Vec<(&str, &[u8])> = keys
        .iter()
        .map(|k| {
            let pem = data.get(&k.secret_ref.key).expect("the Secret has the key");
            (k.id.as_str(), pem.as_slice())
        })
        .collect();
    MediaKeys::from_private_pems(pems).expect("the managed keys load in the gateway")
}

/// Waits until the status lists exactly one key, which the Secret holds alone; returns both.
async fn settled(requestors: &Api<Requestor>, secrets: &Api<Secret>) -> (ManagedKeyStatus, Secret) {
    eventually("one key, in status and Secret alike", async || {
        let keys = media_keys(requestors).await;
        let secret = secrets.get_opt(KEY_SECRET).await.ok()??;
        let only = match keys.as_slice() {
            [only] if only.retire_at.is_none() => only.clone(),
            _ => return None,
        };
        let stored: Vec<String> = data(&secret).into_keys().collect();
        (stored == [format!("{}.pem", only.id)]).then_some((only, secret))
    })
    .await
}

async fn events(client: &kube::Client, ns: &str, reason: &str) -> usize {
    Api::<Event>::namespaced(client.clone(), ns)
        .list(&Default::default())
        .await
        .expect("events")
        .items
        .iter()
        .filter(|e| {
            e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(NAME)
                && e.reason.as_deref() == Some(reason)
        })
        .count()
}

#[tokio::test]
async fn managed_keys_are_made_rotated_retired_and_healed() {
    let client = linkgate_tests::kube::client().await;
    linkgate_tests::kube::install_crds(&client).await;
    let ns = linkgate_tests::kube::create_namespace(&client, "keys").await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let requestors: Api<Requestor> = Api::namespaced(client.clone(), &ns);
    linkgate_tests::kube::create_secret(&client, &ns, "acme.backend", "apiKey", b"k").await;
    // As the shipped ClusterRole allows, and no more.
    let (mut operator, _kubeconfig) = Operator::start_as_service_account(
        &client,
        &ns,
        "operator-0",
        &["--clock-skew-seconds", SKEW],
    )
    .await;
    let requestor: Requestor = serde_json::from_value(json!({
        "apiVersion": "linkgate.dev/v1alpha1", "kind": "Requestor",
        "metadata": {"name": NAME},
        "spec": {"backend": {"apiKeySecretRef": {"name": "acme.backend", "key": "apiKey"}}},
    }))
    .unwrap();
    linkgate_tests::kube::apply_requestor(&ns, &requestor);
    let uid = requestors.get(NAME).await.unwrap().uid().expect("a uid");

    // A first key, in a Secret the requestor owns, that the gateway loads and signs with.
    condition(&requestors, NAME, "Ready", "True").await;
    let (first, secret) = settled(&requestors, &secrets).await;
    assert!(first.id.starts_with("acme-"), "{first:?}");
    assert_eq!(first.secret_ref.name, KEY_SECRET);
    assert_eq!(first.secret_ref.key, format!("{}.pem", first.id));
    let owner = secret.owner_references();
    assert!(
        owner.iter().any(|o| o.uid == uid
            && o.kind == "Requestor"
            && o.name == NAME
            && o.controller == Some(true)),
        "{owner:?}"
    );
    assert_eq!(
        secret.labels().get("app.kubernetes.io/managed-by"),
        Some(&"linkgate-operator".to_owned())
    );
    let loaded = load(std::slice::from_ref(&first), &secret);
    assert!(loaded.can_sign());
    assert_eq!(loaded.jwks().keys[0].kid, first.id);
    eventually("a KeyCreated Event", async || {
        (events(&client, &ns, "KeyCreated").await > 0).then_some(())
    })
    .await;

    // A restart loses nothing: the new operator reconciles and keeps the same key.
    operator.restart().await;
    eventually("a reconcile by the restarted operator", async || {
        let done = operator
            .metric("linkgate_operator_reconcile_duration_seconds_count")
            .await?;
        (done >= 1.0).then_some(())
    })
    .await;
    assert_eq!(
        ids(&media_keys(&requestors).await),
        std::slice::from_ref(&first.id)
    );
    let kept = secrets.get(KEY_SECRET).await.unwrap();
    assert_eq!(data(&kept), data(&secret), "the key itself is unchanged");
    assert!(
        !operator
            .metrics()
            .await
            .contains("media_keys_created_total{"),
        "no key was made after the restart"
    );

    // Fast rotation: a new key signs while the old one is still listed until its tokens
    // (1 s, to the next whole second) and the clock skew (1 s) are over.
    let fast = json!({"spec": {"mediaTokens": {"ttlSeconds": 1, "keyRotationSeconds": 2}}});
    requestors
        .patch(NAME, &PatchParams::default(), &Patch::Merge(&fast))
        .await
        .unwrap();
    let rotated = eventually("a new signing key with the old one retiring", async || {
        let keys = media_keys(&requestors).await;
        let old = keys.iter().position(|k| k.id == first.id)?;
        (old > 0 && keys[old].retire_at.is_some()).then_some(keys)
    })
    .await;
    assert_eq!(rotated[0].retire_at, None, "the first key signs");
    assert!(rotated[0].id > first.id, "key IDs sort by age: {rotated:?}");
    let old = rotated.iter().position(|k| k.id == first.id).unwrap();
    let successor = &rotated[old - 1];
    let retire_at = rotated[old].retire_at.as_ref().unwrap().0;
    assert_eq!(
        retire_at.as_second(),
        successor.created_at.0.as_second() + 1 + 1 + 1,
        "retires after a token's lifetime (to the next second) and the clock skew: {rotated:?}"
    );
    eventually("a KeyRotated Event", async || {
        (events(&client, &ns, "KeyRotated").await > 0).then_some(())
    })
    .await;

    // Rotation slowed again: every old key is retired, from status and Secret alike.
    let slow = json!({"spec": {"mediaTokens": {"keyRotationSeconds": 3600}}});
    requestors
        .patch(NAME, &PatchParams::default(), &Patch::Merge(&slow))
        .await
        .unwrap();
    let (current, secret) = settled(&requestors, &secrets).await;
    assert_ne!(current.id, first.id);
    assert!(!data(&secret).contains_key(&format!("{}.pem", first.id)));
    load(std::slice::from_ref(&current), &secret);
    let rotations = operator
        .metric("linkgate_operator_media_keys_created_total{reason=\"rotated\"}")
        .await
        .expect("the rotation counter");
    assert!(rotations >= 1.0, "{rotations} rotations");

    // The Secret is deleted: it is made again with a fresh key, and the status follows.
    let before: BTreeSet<String> = ids(&media_keys(&requestors).await).into_iter().collect();
    secrets
        .delete(KEY_SECRET, &DeleteParams::default())
        .await
        .unwrap();
    // Settled again means made again: the deleted Secret held a key the status listed.
    let (healed, remade) = settled(&requestors, &secrets).await;
    assert_ne!(remade.uid(), secret.uid());
    assert!(!before.contains(&healed.id), "{healed:?} is fresh");
    load(std::slice::from_ref(&healed), &remade);
    assert!(
        remade.owner_references().iter().any(|o| o.uid == uid),
        "{remade:?}"
    );
    condition(&requestors, NAME, "Valid", "True").await;
}

//! Media-token keys handed from a Requestor's origin region to a peer without the peer's
//! Secrets ever being readable by the origin: the origin may only *create* Secrets there
//! (a create answers with what was sent, a refused one with no data), so it drops the keys
//! in a delivery Secret of its own, and the peer's operator, which may read its Secrets,
//! moves them into `<requestor>.media-keys` and names them in the copy's status.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Client, Resource, ResourceExt};
use linkgate_crds::{ManagedKeyStatus, ORIGIN_REGION_ANNOTATION, Requestor, origin_of};

use crate::context::MANAGER;
use crate::error::{Error, Result};
use crate::keys;

/// Labels a delivery with the requestor it is for.
pub const DELIVERY_LABEL: &str = "linkgate.dev/key-delivery";
/// The managed keys (the origin's status list) a delivery's data holds, as JSON.
const KEYS_ANNOTATION: &str = "linkgate.dev/media-keys";

/// Drops `keys` and their `data` for the peer's `copy` of a Requestor; `true` when a new
/// delivery was made, `false` when this very one was made before. Named after the key set
/// (its newest key and its size: a key's material never changes under its ID), so a
/// repeated push is refused as a duplicate instead of piling up.
pub async fn deliver(
    peer: &Client,
    copy: &Requestor,
    region: &str,
    keys: &[ManagedKeyStatus],
    data: BTreeMap<String, ByteString>,
) -> Result<bool> {
    let ns = copy.namespace().ok_or(Error::MissingNamespace)?;
    let requestor = copy.name_any();
    let listed = serde_json::to_string(keys).expect("key status serialises");
    let newest = keys.first().map_or("none", |k| k.id.as_str());
    let owner = copy.controller_owner_ref(&()).ok_or(Error::MissingUid)?;
    let delivery = Secret {
        metadata: ObjectMeta {
            name: Some(format!(
                "{}.{newest}-{}",
                keys::secret_name(&requestor),
                keys.len()
            )),
            labels: Some(BTreeMap::from([(DELIVERY_LABEL.into(), requestor)])),
            annotations: Some(BTreeMap::from([
                (ORIGIN_REGION_ANNOTATION.into(), region.into()),
                (KEYS_ANNOTATION.into(), listed),
            ])),
            // Collected with the copy, if never picked up.
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        data: Some(data),
        ..Secret::default()
    };
    let params = PostParams {
        field_manager: Some(crate::replication::MANAGER.into()),
        ..PostParams::default()
    };
    match Api::<Secret>::namespaced(peer.clone(), &ns)
        .create(&params, &delivery)
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Takes the newest delivery for `copy` from its origin: writes its keys into
/// `<requestor>.media-keys` (owned by the copy) and returns the keys the status is to name;
/// every delivery for the copy is then removed. `None` when there is none.
pub async fn adopt(client: &Client, copy: &Requestor) -> Result<Option<Vec<ManagedKeyStatus>>> {
    let ns = copy.namespace().ok_or(Error::MissingNamespace)?;
    let requestor = copy.name_any();
    let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let selector = ListParams::default().labels(&format!("{DELIVERY_LABEL}={requestor}"));
    let deliveries = api.list(&selector).await?.items;
    // Only what the copy's own origin sent, and only for this requestor's key Secret.
    let prefix = format!("{}.", keys::secret_name(&requestor));
    let newest = deliveries
        .iter()
        .filter(|d| origin_of(*d).is_some() && origin_of(*d) == origin_of(copy))
        .filter(|d| d.name_any().starts_with(&prefix))
        .max_by_key(|d| d.metadata.creation_timestamp.clone());
    let adopted = match newest {
        None => None,
        Some(delivery) => {
            let listed = delivery
                .annotations()
                .get(KEYS_ANNOTATION)
                .and_then(|k| serde_json::from_str::<Vec<ManagedKeyStatus>>(k).ok());
            match listed {
                Some(listed) => {
                    store_keys(&api, copy, delivery).await?;
                    Some(listed)
                }
                None => {
                    tracing::warn!(%ns, %requestor, delivery = %delivery.name_any(), "a key delivery without its key list is dropped");
                    None
                }
            }
        }
    };
    for delivery in &deliveries {
        match api
            .delete(&delivery.name_any(), &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(adopted)
}

/// Applies the delivery's data as the copy's key Secret, annotated with its origin.
async fn store_keys(api: &Api<Secret>, copy: &Requestor, delivery: &Secret) -> Result<()> {
    let name = keys::secret_name(&copy.name_any());
    let owner = copy.controller_owner_ref(&()).ok_or(Error::MissingUid)?;
    let patch = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "annotations": {ORIGIN_REGION_ANNOTATION: origin_of(copy)},
            "ownerReferences": [owner],
        },
        "type": delivery.type_,
        "data": delivery.data.clone().unwrap_or_default(),
    });
    api.patch(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

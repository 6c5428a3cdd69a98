//! Requestors: the region a Requestor is authored in is its origin, and its spec, and the
//! media-token keys the operator manages for it there, are what every region serves. Each
//! copy is applied whole under the replication field manager and annotated with its
//! origin; a Requestor of the same name authored in the peer itself is left alone (and
//! the refusal shown in the origin's status). Deleted at its origin, it is deleted in
//! every region.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, Resource, ResourceExt};
use linkgate_crds::{ORIGIN_REGION_ANNOTATION, RegionSync, Requestor, origin_of};
use serde_json::json;

use super::kind::{Pushed, Replicated};
use super::{MANAGER, copy_meta, create_params};
use crate::error::{Error, Result};
use crate::{key_delivery, keys};

/// Reads and conditional writes tried before a push counts as failed (and is retried).
const ATTEMPTS: usize = 5;

impl Replicated for Requestor {
    fn pushed_from(&self, region: &str) -> bool {
        origin_of(self).is_none_or(|origin| origin == region)
    }

    fn version(&self) -> String {
        let generation = self.metadata.generation.unwrap_or_default();
        let managed = self.status.as_ref().map(|s| s.media_keys.as_slice());
        match managed.unwrap_or_default() {
            [] => generation.to_string(),
            keys => format!("{generation}/{}:{}", keys[0].id, keys.len()),
        }
    }

    fn age_millis(&self) -> Option<i64> {
        None
    }

    fn regions(&self) -> &[RegionSync] {
        self.status.as_ref().map_or(&[], |s| s.regions.as_slice())
    }

    async fn push(&self, local: &Client, peer: &Client, region: &str) -> Result<Pushed> {
        let ns = self.namespace().ok_or(Error::MissingNamespace)?;
        let name = self.name_any();
        let api: Api<Requestor> = Api::namespaced(peer.clone(), &ns);
        for _ in 0..ATTEMPTS {
            let remote = api.get_opt(&name).await?;
            if let Some(remote) = &remote
                && origin_of(remote) != Some(region)
            {
                return Ok(Pushed::Refused(format!(
                    "the peer has a Requestor {name:?} of its own; it is left alone"
                )));
            }
            // Created only where absent, and applied only over the copy just read: one of
            // the peer's own made in between is decided against afresh.
            let written = match &remote {
                None => {
                    let copy = Requestor {
                        metadata: copy_meta(&self.metadata, region),
                        spec: self.spec.clone(),
                        status: None,
                    };
                    api.create(&create_params(), &copy).await
                }
                Some(remote) => {
                    let patch = json!({
                        "apiVersion": Requestor::api_version(&()),
                        "kind": Requestor::kind(&()),
                        "metadata": {
                            "name": name,
                            "resourceVersion": remote.resource_version(),
                            "labels": self.labels(),
                            "annotations": {ORIGIN_REGION_ANNOTATION: region},
                        },
                        "spec": self.spec,
                    });
                    let params = PatchParams::apply(MANAGER).force();
                    api.patch(&name, &params, &Patch::Apply(&patch)).await
                }
            };
            let applied = match written.map_err(Error::from_write) {
                Ok(applied) => applied,
                Err(Error::Conflict) => continue,
                Err(e) => return Err(e),
            };
            let keys_moved = push_keys(self, &applied, local, peer, region).await?;
            return Ok(match remote {
                None => Pushed::Created,
                Some(remote)
                    if keys_moved || remote.resource_version() != applied.resource_version() =>
                {
                    Pushed::Replaced
                }
                Some(_) => Pushed::Skipped,
            });
        }
        Err(Error::Conflict)
    }

    async fn withdraw(
        key: &ObjectRef<Self>,
        peer: &Client,
        region: &str,
    ) -> Result<Option<Pushed>> {
        let ns = key.namespace.as_deref().ok_or(Error::MissingNamespace)?;
        let api: Api<Requestor> = Api::namespaced(peer.clone(), ns);
        let Some(remote) = api.get_opt(&key.name).await? else {
            return Ok(None);
        };
        if origin_of(&remote) != Some(region) {
            return Ok(None);
        }
        // The copy's key Secret goes with it (it owns it): a peer never reads or deletes
        // Secrets here.
        delete(&api, &key.name).await?;
        Ok(Some(Pushed::Deleted))
    }

    async fn copies_from(
        peer: &Client,
        namespace: Option<&str>,
        region: &str,
    ) -> Result<Vec<ObjectRef<Self>>> {
        let api: Api<Requestor> = crate::scoped(peer, namespace);
        let copies = api.list_metadata(&ListParams::default()).await?;
        Ok(copies
            .items
            .iter()
            .filter(|c| origin_of(*c) == Some(region))
            .filter_map(|c| {
                Some(
                    ObjectRef::new(c.metadata.name.as_deref()?)
                        .within(c.metadata.namespace.as_deref()?),
                )
            })
            .collect())
    }
}

/// Hands the keys the origin's operator manages to the peer, as a delivery its operator
/// moves into place (see `key_delivery`). Whether a new delivery was made.
async fn push_keys(
    ours: &Requestor,
    copy: &Requestor,
    local: &Client,
    peer: &Client,
    region: &str,
) -> Result<bool> {
    let managed = ours
        .status
        .as_ref()
        .map(|s| s.media_keys.clone())
        .unwrap_or_default();
    if !ours.spec.media_tokens.signing_keys.is_empty() || managed.is_empty() {
        return Ok(false);
    }
    let held = copy.status.as_ref().map(|s| s.media_keys.as_slice());
    if held == Some(managed.as_slice()) {
        return Ok(false);
    }
    let ns = ours.namespace().ok_or(Error::MissingNamespace)?;
    let Some(secret) = Api::<Secret>::namespaced(local.clone(), &ns)
        .get_opt(&keys::secret_name(&ours.name_any()))
        .await?
    else {
        // Not written yet: the status change that names it brings the keys again.
        return Ok(false);
    };
    key_delivery::deliver(
        peer,
        copy,
        region,
        &managed,
        secret.data.unwrap_or_default(),
    )
    .await
}

async fn delete<K>(api: &Api<K>, name: &str) -> Result<()>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

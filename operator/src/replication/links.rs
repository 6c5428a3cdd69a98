//! DeviceLinks: each region pushes the writes made in it (their revision names it) and
//! keeps, of two copies, the one with the greater revision (see [`decide`]). A peer's copy
//! is created, or replaced by server-side apply conditional on the resourceVersion it was
//! decided against; a peer holding a newer write has it copied here. Deletions are each
//! region's collector's, never pushed.

use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, Resource, ResourceExt};
use linkgate_crds::{DeviceLink, DeviceLinkSpec, RegionSync, Revision};
use serde_json::json;

use super::decision::{Push, decide};
use super::kind::{Pushed, Replicated};
use super::{MANAGER, copy_meta, create_params, origin};
use crate::error::{Error, Result};

/// Reads and conditional writes tried before a push counts as failed (and is retried).
const ATTEMPTS: usize = 5;

/// The link's revision, if it reads as one.
fn revision(link: &DeviceLink) -> Option<Revision> {
    link.spec.revision.as_deref()?.parse().ok()
}

impl Replicated for DeviceLink {
    fn pushed_from(&self, region: &str) -> bool {
        revision(self).is_some_and(|r| r.region == region)
    }

    fn version(&self) -> String {
        self.spec.revision.clone().unwrap_or_default()
    }

    fn age_millis(&self) -> Option<i64> {
        let written = i64::try_from(revision(self)?.millis).ok()?;
        Some((jiff::Timestamp::now().as_millisecond() - written).max(0))
    }

    fn regions(&self) -> &[RegionSync] {
        self.status.as_ref().map_or(&[], |s| s.regions.as_slice())
    }

    async fn push(&self, local: &Client, peer: &Client, _region: &str) -> Result<Pushed> {
        let ours = revision(self).ok_or(Error::MissingRevision)?;
        let ns = self.namespace().ok_or(Error::MissingNamespace)?;
        let name = self.name_any();
        let api: Api<DeviceLink> = Api::namespaced(peer.clone(), &ns);
        for _ in 0..ATTEMPTS {
            let remote = api.get_opt(&name).await?;
            let written = match (decide(&ours, remote.as_ref().map(|r| &r.spec)), remote) {
                (Push::Skip, _) => return Ok(Pushed::Skipped),
                (Push::Pull, Some(remote)) => return pull(local, self, &remote).await,
                (_, None) => {
                    let copy = DeviceLink {
                        metadata: copy_meta(&self.metadata, &ours.region),
                        spec: self.spec.clone(),
                        status: None,
                    };
                    api.create(&create_params(), &copy)
                        .await
                        .map(|_| Pushed::Created)
                }
                (_, Some(remote)) => {
                    let version = remote
                        .resource_version()
                        .ok_or(Error::MissingResourceVersion)?;
                    apply(&api, &name, version, &ours.region, &self.spec)
                        .await
                        .map(|_| Pushed::Replaced)
                }
            };
            match written.map_err(Error::from_write) {
                Ok(pushed) => return Ok(pushed),
                // Written (or created) there since it was read: decide again.
                Err(Error::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Conflict)
    }

    async fn withdraw(_: &ObjectRef<Self>, _: &Client, _: &str) -> Result<Option<Pushed>> {
        Ok(None)
    }

    async fn copies_from(
        peer: &Client,
        namespace: Option<&str>,
        _: &str,
    ) -> Result<Vec<ObjectRef<Self>>> {
        // Nothing to withdraw: only whether the peer answers.
        let api: Api<DeviceLink> = crate::scoped(peer, namespace);
        api.list_metadata(&ListParams::default().limit(1)).await?;
        Ok(Vec::new())
    }
}

/// Takes the peer's newer copy here, over the local copy as it is now: the status writes
/// of this region's controllers move its resourceVersion without changing the write.
async fn pull(local: &Client, ours: &DeviceLink, theirs: &DeviceLink) -> Result<Pushed> {
    let ns = ours.namespace().ok_or(Error::MissingNamespace)?;
    let name = ours.name_any();
    let newer = revision(theirs).ok_or(Error::MissingRevision)?;
    let api: Api<DeviceLink> = Api::namespaced(local.clone(), &ns);
    let mut current = ours.clone();
    for _ in 0..ATTEMPTS {
        // Written here since, as newer: that write is pushed in its turn.
        if revision(&current).is_some_and(|r| r >= newer) {
            return Ok(Pushed::Pulled);
        }
        let version = current
            .resource_version()
            .ok_or(Error::MissingResourceVersion)?;
        match apply(&api, &name, version, &newer.region, &theirs.spec).await {
            Ok(_) => return Ok(Pushed::Pulled),
            Err(e) => match Error::from_write(e) {
                Error::Conflict => match api.get_opt(&name).await? {
                    Some(fresh) => current = fresh,
                    None => return Ok(Pushed::Pulled),
                },
                e => return Err(e),
            },
        }
    }
    Err(Error::Conflict)
}

/// Applies `spec` (atomic: it replaces the whole spec) as received from `from`, only over
/// resourceVersion `version`.
async fn apply(
    api: &Api<DeviceLink>,
    name: &str,
    version: String,
    from: &str,
    spec: &DeviceLinkSpec,
) -> kube::Result<DeviceLink> {
    let patch = json!({
        "apiVersion": DeviceLink::api_version(&()),
        "kind": DeviceLink::kind(&()),
        "metadata": {
            "name": name,
            "resourceVersion": version,
            "annotations": origin(from),
        },
        "spec": spec,
    });
    api.patch(
        name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
}

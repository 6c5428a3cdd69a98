//! The Kubernetes backend: each device is a `DeviceLink` object, watched into memory, and
//! every write is one conditional write of that object through the API server.
//!
//! Reads come from the watched copy. A write names the `resourceVersion` it planned
//! against, so of two proxies racing on one device only one succeeds; the loser refreshes
//! its copy and answers `Conflict`, which the services turn into a re-read and retry. A
//! write is acknowledged only once the API server has stored it.

mod index;
mod object;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use linkgate_crds::{Revision, Stored};
use tokio::sync::watch;

use super::rules::{self, DeviceChange, Slot};
use super::{Counts, LinkKey, Result, Store, StoreError, Versioned, new_version};
use crate::cluster::{Cluster, Watched, follow};
use crate::metrics::Metrics;
use crate::published::Published;
use index::Index;
use linkgate_domain::code::{AwaitingUser, CodeHash, CodeRecord, CodeState};
use linkgate_domain::ids::DeviceId;
use linkgate_domain::link::DeviceLink;
use linkgate_domain::temp_pass::{PassWrite, TempPass};
use linkgate_domain::time::{Clock, Timestamp};
use object::{Entry, code_spec, entry, holds_nothing, micro, new_object, write_link, write_pass};

/// The field manager of the proxies' writes.
const FIELD_MANAGER: &str = "linkgate-proxy";
/// How long a write may take before it is reported as failed (and not acknowledged).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a write is decided again after losing a race (one naming a version the
/// object has moved past is then refused by the rules at once).
const WRITE_ROUNDS: usize = 5;

pub struct KubeStore {
    cluster: Arc<Cluster>,
    /// Stamped on every write: as the creator's region, and in the write's revision.
    region: String,
    api: Api<linkgate_crds::DeviceLink>,
    index: Arc<Published<Index>>,
    clock: Arc<dyn Clock>,
}

/// One conditional write of one device's object.
struct Write {
    key: LinkKey,
    name: String,
    op: Op,
}

enum Op {
    Create(linkgate_crds::DeviceLink),
    /// Conditional on the `resourceVersion` the object carries.
    Replace(linkgate_crds::DeviceLink),
    Delete {
        version: u64,
    },
}

impl Write {
    fn create(key: LinkKey, object: linkgate_crds::DeviceLink) -> Self {
        let name = object.metadata.name.clone().unwrap_or_default();
        Self {
            key,
            name,
            op: Op::Create(object),
        }
    }

    fn replace(entry: &Entry, object: linkgate_crds::DeviceLink) -> Self {
        Self {
            key: entry.key.clone(),
            name: object.metadata.name.clone().unwrap_or_default(),
            op: Op::Replace(object),
        }
    }

    fn delete(entry: &Entry) -> Self {
        Self {
            key: entry.key.clone(),
            name: entry.object.metadata.name.clone().unwrap_or_default(),
            op: Op::Delete {
                version: entry.version,
            },
        }
    }
}

impl KubeStore {
    /// Starts watching the namespace's DeviceLinks; returns once they are all in memory.
    pub fn start(
        cluster: Arc<Cluster>,
        region: String,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let api = Api::namespaced(cluster.client(), cluster.namespace());
        let index = Arc::new(Published::new(Index::default()));
        let (synced_tx, synced) = watch::channel(false);
        let watched: Api<Stored<linkgate_crds::DeviceLink>> =
            Api::namespaced(cluster.client(), cluster.namespace());
        let into = Arc::clone(&index);
        cluster.spawn(async move {
            follow(watched, &into, &metrics, || {
                synced_tx.send_replace(true);
            })
            .await;
        });
        cluster.wait_synced(synced, "DeviceLinks")?;
        Ok(Self {
            cluster,
            region,
            api,
            index,
            clock,
        })
    }

    /// Makes the write on the cluster's runtime (so it completes, and lands in memory, even
    /// if the request that asked for it goes away); returns the object's new version.
    async fn commit(&self, mut write: Write) -> Result<Option<u64>> {
        let now = u64::try_from(self.clock.now().unix_millis()).unwrap_or_default();
        match &mut write.op {
            Op::Create(object) => {
                object.spec.origin_region = Some(self.region.clone());
                self.stamp(object, now);
            }
            Op::Replace(object) => self.stamp(object, now),
            Op::Delete { .. } => {}
        }
        let api = self.api.clone();
        let index = Arc::clone(&self.index);
        self.cluster
            .spawn(async move {
                tokio::time::timeout(WRITE_TIMEOUT, commit(&api, &index, write))
                    .await
                    .unwrap_or_else(|_| {
                        Err(StoreError::Backend(format!(
                            "the API server did not answer within {WRITE_TIMEOUT:?}"
                        )))
                    })
            })
            .await
            .map_err(|e| StoreError::Backend(format!("store writer failed: {e}")))?
    }

    /// Gives the object the revision of a write made now, after the one it carries.
    fn stamp(&self, object: &mut linkgate_crds::DeviceLink, now_millis: u64) {
        let previous: Option<Revision> =
            object.spec.revision.as_deref().and_then(|r| r.parse().ok());
        let revision = Revision::next(previous.as_ref(), now_millis, &self.region);
        object.spec.revision = Some(revision.to_string());
    }

    /// Applies the store's rules to the index and commits the object write they lead to,
    /// deciding again (on the object as it is now) after losing a race to another writer.
    /// `None` when the rules found nothing to change, otherwise the object's new version.
    async fn decide(
        &self,
        rule: impl Fn(&Index) -> Result<Option<DeviceChange>>,
    ) -> Result<Option<Option<u64>>> {
        for _ in 0..WRITE_ROUNDS {
            let write = {
                let index = self.index.load();
                match rule(&index)? {
                    Some(change) => object_write(&index, change, self.clock.now())?,
                    None => return Ok(None),
                }
            };
            match self.commit(write).await {
                Err(StoreError::Conflict) => continue,
                outcome => return outcome.map(Some),
            }
        }
        Err(StoreError::Conflict)
    }
}

async fn commit(
    api: &Api<linkgate_crds::DeviceLink>,
    index: &Published<Index>,
    write: Write,
) -> Result<Option<u64>> {
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PostParams::default()
    };
    let Write { key, name, op } = write;
    let outcome = match op {
        Op::Create(object) => api.create(&params, &object).await.map(Some),
        Op::Replace(object) => api.replace(&name, &params, &object).await.map(Some),
        Op::Delete { version } => {
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    resource_version: Some(version.to_string()),
                    uid: None,
                }),
                ..DeleteParams::default()
            };
            let outcome = api.delete(&name, &params).await.map(|_| None);
            if outcome.is_ok() {
                index.update(|i| i.remove(&key, version));
            }
            outcome
        }
    };
    match outcome {
        Ok(None) => Ok(None),
        Ok(Some(object)) => {
            let entry = entry(object).map_err(|e| StoreError::Backend(e.to_string()))?;
            let version = entry.version;
            index.update(|i| i.apply(entry));
            Ok(Some(version))
        }
        Err(kube::Error::Api(status))
            if status.is_conflict() || status.is_already_exists() || status.is_not_found() =>
        {
            refresh(api, index, &key, &name).await;
            Err(StoreError::Conflict)
        }
        Err(e) => Err(StoreError::Backend(format!("API server: {e}"))),
    }
}

/// After losing a race, reads the object as it is now rather than wait for the watch.
async fn refresh(
    api: &Api<linkgate_crds::DeviceLink>,
    index: &Published<Index>,
    key: &LinkKey,
    name: &str,
) {
    match api.get_opt(name).await {
        Ok(Some(object)) => index.update(|i| i.applied(object)),
        Ok(None) => index.update(|i| i.remove(key, u64::MAX)),
        Err(e) => tracing::debug!(error = %e, name, "cannot refresh a DeviceLink"),
    }
}

/// The object to write back: the known one, without what the server manages itself, and
/// no longer marked as received from another region, since this write is made here.
fn editable(entry: &Entry) -> linkgate_crds::DeviceLink {
    let mut object = (*entry.object).clone();
    object.metadata.managed_fields = None;
    object.status = None;
    if let Some(annotations) = object.metadata.annotations.as_mut() {
        annotations.remove(linkgate_crds::ORIGIN_REGION_ANNOTATION);
    }
    object
}

/// The object write that makes `change` of the device's object as the index knows it.
fn object_write(index: &Index, change: DeviceChange, now: Timestamp) -> Result<Write> {
    let DeviceChange { device, code, link } = change;
    let entry = index.get(&device);
    let mut object = match (entry, &code, &link) {
        (Some(entry), _, _) => editable(entry),
        (None, Slot::Put(c), _) => new_object(&c.requestor, &c.device),
        (None, _, Slot::Put(l)) => new_object(&l.requestor, &l.device),
        (None, _, _) => return Err(StoreError::Conflict),
    };
    let spec = &mut object.spec;
    match code {
        Slot::Keep => {}
        Slot::Put(code) => spec.code = Some(code_spec(&code)),
        Slot::Clear => spec.code = None,
    }
    match link {
        Slot::Keep => {}
        Slot::Put(link) => {
            write_link(spec, &link);
            spec.revoked_at = None;
        }
        // The object stays as a tombstone (its users' expiries tell the operator how long)
        // so that no late copy of the link can bring it back.
        Slot::Clear => spec.revoked_at = Some(micro(now)),
    }
    Ok(write_of(device, entry, object))
}

/// The write that leaves the device's object as `object`: created, replaced, or deleted
/// when nothing is left in it.
fn write_of(device: LinkKey, entry: Option<&Entry>, object: linkgate_crds::DeviceLink) -> Write {
    match entry {
        None => Write::create(device, object),
        Some(entry) if holds_nothing(&object.spec) => Write::delete(entry),
        Some(entry) => Write::replace(entry, object),
    }
}

/// The object write that makes `write` of the device's window at `mvpd`, and the window
/// after it; no write when it changes nothing.
fn pass_write(
    index: &Index,
    device: &LinkKey,
    mvpd: &str,
    write: PassWrite,
    now: Timestamp,
) -> Result<(Option<Write>, Option<TempPass>)> {
    let entry = index.get(device);
    let stored = entry.and_then(|e| e.passes.iter().find(|p| p.mvpd == mvpd));
    let Some(after) = write.apply(mvpd, stored) else {
        return Ok((None, stored.cloned()));
    };
    let mut object = match entry {
        Some(entry) => editable(entry),
        None => {
            let (requestor, id) = device.parts();
            let id = DeviceId::parse(id).map_err(|e| StoreError::Backend(e.to_string()))?;
            new_object(requestor, &id)
        }
    };
    write_pass(&mut object.spec, mvpd, after.as_ref());
    if entry.is_some() && holds_nothing(&object.spec) {
        // Kept as a tombstone rather than deleted: deletions do not reach other regions,
        // and a peer's copy still holding the window must be replaced by this.
        object.spec.revoked_at = Some(micro(now));
    }
    Ok((Some(write_of(device.clone(), entry, object)), after))
}

#[async_trait]
impl Store for KubeStore {
    async fn code(&self, hash: &CodeHash) -> Result<Option<CodeRecord>> {
        Ok(self.index.load().by_code(hash).and_then(|e| e.code.clone()))
    }

    async fn link(&self, key: &LinkKey) -> Result<Option<Versioned>> {
        let index = self.index.load();
        Ok(index.get(key).and_then(|entry| {
            Some(Versioned {
                link: Arc::clone(entry.link.as_ref()?),
                version: entry.version,
            })
        }))
    }

    async fn code_by_device_code(&self, device_code: &CodeHash) -> Result<Option<CodeRecord>> {
        let index = self.index.load();
        Ok(index
            .by_device_code(device_code)
            .and_then(|e| e.code.clone()))
    }

    async fn issue_code(&self, code: CodeRecord, now: Timestamp) -> Result<()> {
        let issue = |index: &Index| rules::issue_code(index, code.clone(), now).map(Some);
        self.decide(issue).await.map(drop)
    }

    async fn delete_code(&self, hash: &CodeHash) -> Result<bool> {
        let done = self.decide(|index| Ok(rules::delete_code(index, hash)));
        Ok(done.await?.is_some())
    }

    async fn set_code_state(
        &self,
        hash: &CodeHash,
        state: CodeState,
        awaiting: Option<AwaitingUser>,
    ) -> Result<bool> {
        let done =
            self.decide(|index| Ok(rules::set_code_state(index, hash, state, awaiting.clone())));
        Ok(done.await?.is_some())
    }

    async fn redeem_code(
        &self,
        hash: &CodeHash,
        expected: Option<u64>,
        link: DeviceLink,
    ) -> Result<u64> {
        let done =
            self.decide(|index| rules::redeem(index, hash, expected, link.clone()).map(Some));
        new_version(done.await?)
    }

    async fn exchange_code(
        &self,
        hash: &CodeHash,
        expected: Option<u64>,
        link: DeviceLink,
    ) -> Result<u64> {
        let done =
            self.decide(|index| rules::exchange(index, hash, expected, link.clone()).map(Some));
        new_version(done.await?)
    }

    async fn put_link(&self, expected: Option<u64>, link: DeviceLink) -> Result<u64> {
        let done = self.decide(|index| rules::put_link(index, expected, link.clone()).map(Some));
        new_version(done.await?)
    }

    async fn delete_link(&self, key: &LinkKey, expected: u64) -> Result<()> {
        let done = self.decide(|index| rules::revoke(index, key, expected).map(Some));
        done.await.map(drop)
    }

    async fn temp_passes(&self, device: &LinkKey) -> Result<Vec<TempPass>> {
        let index = self.index.load();
        Ok(index
            .get(device)
            .map(|e| e.passes.clone())
            .unwrap_or_default())
    }

    async fn write_temp_pass(
        &self,
        device: &LinkKey,
        mvpd: &str,
        write: PassWrite,
    ) -> Result<Option<TempPass>> {
        for _ in 0..WRITE_ROUNDS {
            let now = self.clock.now();
            let (planned, after) = pass_write(&self.index.load(), device, mvpd, write, now)?;
            let Some(planned) = planned else {
                return Ok(after);
            };
            match self.commit(planned).await {
                Err(StoreError::Conflict) => continue,
                outcome => return outcome.map(|_| after),
            }
        }
        Err(StoreError::Conflict)
    }

    /// The operator collects expired codes and links, once for every proxy.
    async fn purge_expired(&self, _now: Timestamp) -> Result<usize> {
        Ok(0)
    }

    async fn counts(&self) -> Result<Counts> {
        Ok(self.index.load().counts())
    }
}

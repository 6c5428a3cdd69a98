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
use futures::StreamExt;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, watcher::watcher};
use linkgate_crds::Revision;
use parking_lot::RwLock;
use tokio::sync::watch;

use super::{Counts, LinkKey, Result, Store, StoreError, Versioned};
use crate::cluster::Cluster;
use index::Index;
use linkgate_domain::code::{AwaitingUser, CodeHash, CodeRecord, CodeState};
use linkgate_domain::link::DeviceLink;
use linkgate_domain::time::{Clock, SystemClock, Timestamp};
use object::{Entry, code_spec, entry, micro, new_object, write_link};

/// The field manager of the proxies' writes.
const FIELD_MANAGER: &str = "linkgate-proxy";
/// How long a write may take before it is reported as failed (and not acknowledged).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a write without a version of its own (a new code) is re-planned after
/// losing a race.
const WRITE_ROUNDS: usize = 5;

pub struct KubeStore {
    cluster: Arc<Cluster>,
    /// Stamped on every write: as the creator's region, and in the write's revision.
    region: String,
    api: Api<linkgate_crds::DeviceLink>,
    index: Arc<RwLock<Index>>,
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
    pub fn start(cluster: Arc<Cluster>, region: String) -> anyhow::Result<Self> {
        let api = Api::namespaced(cluster.client(), cluster.namespace());
        let index = Arc::new(RwLock::new(Index::default()));
        let (synced_tx, synced) = watch::channel(false);
        cluster.spawn(watch_links(api.clone(), Arc::clone(&index), synced_tx));
        cluster.wait_synced(synced, "DeviceLinks")?;
        Ok(Self {
            cluster,
            region,
            api,
            index,
        })
    }

    /// Makes the write on the cluster's runtime (so it completes, and lands in memory, even
    /// if the request that asked for it goes away); returns the object's new version.
    async fn commit(&self, mut write: Write) -> Result<Option<u64>> {
        let now = u64::try_from(SystemClock.now().unix_millis()).unwrap_or_default();
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

    /// Re-plans and commits a write that names no version of its own until it does not
    /// collide with another writer.
    async fn retrying(
        &self,
        plan: impl Fn(&Index) -> Result<Option<Write>>,
    ) -> Result<Option<Option<u64>>> {
        for _ in 0..WRITE_ROUNDS {
            let Some(write) = plan(&self.index.read())? else {
                return Ok(None);
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
    index: &RwLock<Index>,
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
                index.write().remove(&key, version);
            }
            outcome
        }
    };
    match outcome {
        Ok(None) => Ok(None),
        Ok(Some(object)) => {
            let entry = entry(object).map_err(|e| StoreError::Backend(e.to_string()))?;
            let version = entry.version;
            index.write().apply(entry);
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
    index: &RwLock<Index>,
    key: &LinkKey,
    name: &str,
) {
    match api.get_opt(name).await {
        Ok(Some(object)) => match entry(object) {
            Ok(entry) => index.write().apply(entry),
            Err(e) => tracing::warn!(error = %e, "ignoring a DeviceLink"),
        },
        Ok(None) => index.write().remove(key, u64::MAX),
        Err(e) => tracing::debug!(error = %e, name, "cannot refresh a DeviceLink"),
    }
}

/// Keeps the index in step with the API server, relisting after any gap in the watch.
async fn watch_links(
    api: Api<linkgate_crds::DeviceLink>,
    index: Arc<RwLock<Index>>,
    synced: watch::Sender<bool>,
) {
    let mut events = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut relist: Option<Index> = None;
    while let Some(event) = events.next().await {
        let read = |object: linkgate_crds::DeviceLink| match entry(object) {
            Ok(entry) => Some(entry),
            Err(e) => {
                tracing::warn!(error = %e, "ignoring a DeviceLink");
                None
            }
        };
        match event {
            Ok(Event::Init) => relist = Some(Index::default()),
            Ok(Event::InitApply(object)) => {
                if let (Some(fresh), Some(entry)) = (relist.as_mut(), read(object)) {
                    fresh.apply(entry);
                }
            }
            Ok(Event::InitDone) => {
                *index.write() = relist.take().unwrap_or_default();
                synced.send_replace(true);
            }
            Ok(Event::Apply(object)) => {
                if let Some(entry) = read(object) {
                    index.write().apply(entry);
                }
            }
            Ok(Event::Delete(object)) => {
                if let Some(entry) = read(object) {
                    index.write().remove(&entry.key, entry.version);
                }
            }
            Err(e) => tracing::warn!(error = %e, "DeviceLink watch interrupted; resuming"),
        }
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

#[async_trait]
impl Store for KubeStore {
    fn code(&self, hash: &CodeHash) -> Option<CodeRecord> {
        self.index.read().by_code(hash)?.code.clone()
    }

    fn link(&self, key: &LinkKey) -> Option<Versioned> {
        let index = self.index.read();
        let entry = index.get(key)?;
        Some(Versioned {
            link: Arc::clone(entry.link.as_ref()?),
            version: entry.version,
        })
    }

    fn code_by_device_code(&self, device_code: &CodeHash) -> Option<CodeRecord> {
        self.index.read().by_device_code(device_code)?.code.clone()
    }

    async fn issue_code(&self, code: CodeRecord, now: Timestamp) -> Result<()> {
        let key = LinkKey::new(&code.requestor, &code.device);
        self.retrying(|index| {
            let taken = index
                .code_held_elsewhere(&code.hash, &key)
                .and_then(|e| e.code.as_ref())
                .is_some_and(|c| c.hash == code.hash && !c.is_expired(now));
            if taken {
                return Err(StoreError::CodeTaken);
            }
            // One object per device holds one code: writing it retires the previous one.
            Ok(Some(match index.get(&key) {
                Some(entry) => {
                    let mut object = editable(entry);
                    object.spec.code = Some(code_spec(&code));
                    Write::replace(entry, object)
                }
                None => {
                    let mut object = new_object(&code.requestor, &code.device);
                    object.spec.code = Some(code_spec(&code));
                    Write::create(key.clone(), object)
                }
            }))
        })
        .await
        .map(drop)
    }

    async fn delete_code(&self, hash: &CodeHash) -> Result<bool> {
        let done = self
            .retrying(|index| {
                let Some(entry) = index.by_code(hash) else {
                    return Ok(None);
                };
                let spec = &entry.object.spec;
                Ok(Some(
                    if spec.users.is_empty() && spec.revoked_at.is_none() {
                        Write::delete(entry)
                    } else {
                        let mut object = editable(entry);
                        object.spec.code = None;
                        Write::replace(entry, object)
                    },
                ))
            })
            .await?;
        Ok(done.is_some())
    }

    async fn set_code_state(
        &self,
        hash: &CodeHash,
        state: CodeState,
        awaiting: Option<AwaitingUser>,
    ) -> Result<bool> {
        let done = self
            .retrying(|index| {
                let Some((entry, code)) = index
                    .by_code(hash)
                    .and_then(|e| Some((e, e.code.as_ref()?)))
                else {
                    return Ok(None);
                };
                let mut object = editable(entry);
                object.spec.code = Some(code_spec(&CodeRecord {
                    state,
                    awaiting: awaiting.clone().map(Box::new),
                    ..code.clone()
                }));
                Ok(Some(Write::replace(entry, object)))
            })
            .await?;
        Ok(done.is_some())
    }

    async fn redeem_code(
        &self,
        hash: &CodeHash,
        expected: Option<u64>,
        link: DeviceLink,
    ) -> Result<u64> {
        let write = {
            let index = self.index.read();
            let found = index
                .by_code(hash)
                .and_then(|e| Some((e, e.code.as_ref()?)));
            let Some((entry, code)) = found.filter(|(_, c)| {
                c.state.is_redeemable() && c.requestor == link.requestor && c.device == link.device
            }) else {
                return Err(StoreError::Conflict);
            };
            if entry.link.as_ref().map(|_| entry.version) != expected {
                return Err(StoreError::Conflict);
            }
            let mut object = editable(entry);
            // A device code still has to learn the outcome: keep the code, marked used.
            object.spec.code = code.device_code.map(|_| {
                code_spec(&CodeRecord {
                    state: CodeState::Redeemed,
                    awaiting: None,
                    ..code.clone()
                })
            });
            write_link(&mut object.spec, &link);
            object.spec.revoked_at = None;
            Write::replace(entry, object)
        };
        self.commit(write).await?.ok_or(StoreError::Conflict)
    }

    async fn exchange_code(
        &self,
        hash: &CodeHash,
        expected: Option<u64>,
        link: DeviceLink,
    ) -> Result<u64> {
        let write = {
            let index = self.index.read();
            let entry = index.by_code(hash).filter(|e| {
                e.code.as_ref().is_some_and(|c| {
                    c.state == CodeState::Redeemed
                        && c.requestor == link.requestor
                        && c.device == link.device
                })
            });
            let Some(entry) = entry else {
                return Err(StoreError::Conflict);
            };
            if entry.link.as_ref().map(|_| entry.version) != expected {
                return Err(StoreError::Conflict);
            }
            let mut object = editable(entry);
            object.spec.code = None;
            write_link(&mut object.spec, &link);
            object.spec.revoked_at = None;
            Write::replace(entry, object)
        };
        self.commit(write).await?.ok_or(StoreError::Conflict)
    }

    async fn put_link(&self, expected: Option<u64>, link: DeviceLink) -> Result<u64> {
        let write = {
            let index = self.index.read();
            let key = LinkKey::of(&link);
            let entry = index.get(&key);
            if entry.and_then(|e| e.link.as_ref().map(|_| e.version)) != expected {
                return Err(StoreError::Conflict);
            }
            let mut object = match entry {
                Some(entry) => editable(entry),
                None => new_object(&link.requestor, &link.device),
            };
            write_link(&mut object.spec, &link);
            object.spec.revoked_at = None;
            match entry {
                Some(entry) => Write::replace(entry, object),
                None => Write::create(key, object),
            }
        };
        self.commit(write).await?.ok_or(StoreError::Conflict)
    }

    /// Revokes the link. The object stays as a tombstone (its users' expiries tell the
    /// operator how long) so that no late copy of the link can bring it back.
    async fn delete_link(&self, key: &LinkKey, expected: u64) -> Result<()> {
        let write = {
            let index = self.index.read();
            let entry = index
                .get(key)
                .filter(|e| e.link.is_some() && e.version == expected)
                .ok_or(StoreError::Conflict)?;
            let mut object = editable(entry);
            object.spec.revoked_at = Some(micro(SystemClock.now()));
            Write::replace(entry, object)
        };
        self.commit(write).await.map(drop)
    }

    /// The operator collects expired codes and links, once for every proxy.
    async fn purge_expired(&self, _now: Timestamp) -> Result<usize> {
        Ok(0)
    }

    fn counts(&self) -> Counts {
        self.index.read().counts()
    }
}

//! A store that serves reads from a published snapshot in memory and makes each write
//! durable through a journal before publishing the next snapshot.

use std::sync::Arc;

use async_trait::async_trait;

use super::rules::{self, DeviceChange};
use super::state::{Change, State};
use super::{Counts, LinkKey, Result, Store, StoreError, Versioned, new_version};
use crate::published::Published;
use linkgate_domain::code::{AwaitingUser, CodeHash, CodeRecord, CodeState};
use linkgate_domain::link::DeviceLink;
use linkgate_domain::temp_pass::{PassWrite, TempPass};
use linkgate_domain::time::Timestamp;

/// Makes changes durable.
pub trait Journal: Send + Sync + 'static {
    /// Whether `commit` blocks on I/O and so must run off the async workers.
    const BLOCKING: bool;

    /// Returns once `changes` are durable, or fails having made none of them durable.
    fn commit(&self, changes: &[Change]) -> Result<()>;
}

pub struct JournaledStore<J> {
    inner: Arc<Inner<J>>,
}

struct Inner<J> {
    /// Writers take turns from planning to publishing, so a plan's preconditions still
    /// hold when it is applied.
    state: Published<State>,
    journal: J,
}

type Plan<'a, T> = Box<dyn FnOnce(&State) -> Result<(Vec<Change>, T)> + Send + 'a>;

impl<J: Journal> JournaledStore<J> {
    pub(super) fn with_journal(state: State, journal: J) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Published::new(state),
                journal,
            }),
        }
    }

    /// Plans, commits and applies a change as one step. A blocking journal runs the whole
    /// step on a blocking thread, so a caller that goes away cannot leave a change durable
    /// on disk but missing from memory.
    async fn write<T: Send + 'static>(&self, plan: Plan<'static, T>) -> Result<T> {
        if J::BLOCKING {
            let inner = Arc::clone(&self.inner);
            tokio::task::spawn_blocking(move || inner.write(plan))
                .await
                .map_err(|e| StoreError::Backend(format!("store writer panicked: {e}")))?
        } else {
            self.inner.write(plan)
        }
    }
}

impl<J: Journal> JournaledStore<J> {
    /// Applies the store's rules; `None` when they found nothing to change, otherwise the
    /// version of the link the change put, if it put one.
    async fn decide(
        &self,
        rule: impl FnOnce(&State) -> Result<Option<DeviceChange>> + Send + 'static,
    ) -> Result<Option<Option<u64>>> {
        self.write(Box::new(move |state| {
            Ok(match rule(state)? {
                Some(change) => {
                    let (changes, version) = state.changes(change);
                    (changes, Some(version))
                }
                None => (Vec::new(), None),
            })
        }))
        .await
    }

    /// A write on the calling thread, for callers that are not async (bulk imports).
    pub(super) fn write_blocking(
        &self,
        plan: impl FnOnce(&State) -> Result<Vec<Change>> + Send,
    ) -> Result<()> {
        self.inner.write(Box::new(|s| Ok((plan(s)?, ()))))
    }
}

impl<J: Journal> Inner<J> {
    fn write<T>(&self, plan: Plan<'_, T>) -> Result<T> {
        let turn = self.state.turn();
        let current = turn.current();
        let (changes, out) = plan(&current)?;
        if !changes.is_empty() {
            self.journal.commit(&changes)?;
            let mut next = State::clone(&current);
            next.apply(changes);
            turn.publish(next);
        }
        Ok(out)
    }
}

#[async_trait]
impl<J: Journal> Store for JournaledStore<J> {
    async fn code(&self, hash: &CodeHash) -> Result<Option<CodeRecord>> {
        let state = self.inner.state.load();
        Ok(rules::View::code(&**state, hash).cloned())
    }

    async fn link(&self, key: &LinkKey) -> Result<Option<Versioned>> {
        Ok(self.inner.state.load().link(key).cloned())
    }

    async fn code_by_device_code(&self, device_code: &CodeHash) -> Result<Option<CodeRecord>> {
        Ok(self
            .inner
            .state
            .load()
            .code_by_device_code(device_code)
            .cloned())
    }

    async fn issue_code(&self, code: CodeRecord, now: Timestamp) -> Result<()> {
        self.decide(move |s| rules::issue_code(s, code, now).map(Some))
            .await
            .map(drop)
    }

    async fn delete_code(&self, hash: &CodeHash) -> Result<bool> {
        let hash = *hash;
        let done = self.decide(move |s| Ok(rules::delete_code(s, &hash)));
        Ok(done.await?.is_some())
    }

    async fn set_code_state(
        &self,
        hash: &CodeHash,
        state: CodeState,
        awaiting: Option<AwaitingUser>,
    ) -> Result<bool> {
        let hash = *hash;
        let done = self.decide(move |s| Ok(rules::set_code_state(s, &hash, state, awaiting)));
        Ok(done.await?.is_some())
    }

    async fn redeem_code(
        &self,
        hash: &CodeHash,
        expected: Option<u64>,
        link: DeviceLink,
    ) -> Result<u64> {
        let hash = *hash;
        let done = self.decide(move |s| rules::redeem(s, &hash, expected, link).map(Some));
        new_version(done.await?)
    }

    async fn exchange_code(
        &self,
        hash: &CodeHash,
        expected: Option<u64>,
        link: DeviceLink,
    ) -> Result<u64> {
        let hash = *hash;
        let done = self.decide(move |s| rules::exchange(s, &hash, expected, link).map(Some));
        new_version(done.await?)
    }

    async fn put_link(&self, expected: Option<u64>, link: DeviceLink) -> Result<u64> {
        let done = self.decide(move |s| rules::put_link(s, expected, link).map(Some));
        new_version(done.await?)
    }

    async fn delete_link(&self, key: &LinkKey, expected: u64) -> Result<()> {
        let key = key.clone();
        self.decide(move |s| rules::revoke(s, &key, expected).map(Some))
            .await
            .map(drop)
    }

    async fn temp_passes(&self, device: &LinkKey) -> Result<Vec<TempPass>> {
        Ok(self.inner.state.load().temp_passes(device).to_vec())
    }

    async fn write_temp_pass(
        &self,
        device: &LinkKey,
        mvpd: &str,
        write: PassWrite,
    ) -> Result<Option<TempPass>> {
        let (device, mvpd) = (device.clone(), mvpd.to_owned());
        self.write(Box::new(move |s| Ok(s.plan_pass(&device, &mvpd, write))))
            .await
    }

    async fn purge_expired(&self, now: Timestamp) -> Result<usize> {
        self.write(Box::new(move |s| {
            let plan = s.plan_purge(now);
            let n = plan.len();
            Ok((plan, n))
        }))
        .await
    }

    async fn counts(&self) -> Result<Counts> {
        Ok(self.inner.state.load().counts())
    }
}

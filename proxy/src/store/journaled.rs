//! A store that serves reads from memory and makes each write durable through a journal
//! before applying it.

use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::{Mutex, RwLock};

use super::state::{Change, State};
use super::{Counts, LinkKey, Result, Store, StoreError, Versioned};
use linkgate_domain::code::{AwaitingUser, CodeHash, CodeRecord, CodeState};
use linkgate_domain::link::DeviceLink;
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
    state: RwLock<State>,
    /// Serialises writers from planning to applying, so a plan's preconditions still hold
    /// when it is applied.
    writer: Mutex<()>,
    journal: J,
}

type Plan<'a, T> = Box<dyn FnOnce(&State) -> Result<(Vec<Change>, T)> + Send + 'a>;

impl<J: Journal> JournaledStore<J> {
    pub(super) fn with_journal(state: State, journal: J) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: RwLock::new(state),
                writer: Mutex::new(()),
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
        let _writer = self.writer.lock();
        let (changes, out) = plan(&self.state.read())?;
        if !changes.is_empty() {
            self.journal.commit(&changes)?;
            self.state.write().apply(changes);
        }
        Ok(out)
    }
}

#[async_trait]
impl<J: Journal> Store for JournaledStore<J> {
    fn code(&self, hash: &CodeHash) -> Option<CodeRecord> {
        self.inner.state.read().code(hash).cloned()
    }

    fn link(&self, key: &LinkKey) -> Option<Versioned> {
        self.inner.state.read().link(key).cloned()
    }

    fn code_by_device_code(&self, device_code: &CodeHash) -> Option<CodeRecord> {
        self.inner
            .state
            .read()
            .code_by_device_code(device_code)
            .cloned()
    }

    async fn issue_code(&self, code: CodeRecord, now: Timestamp) -> Result<()> {
        self.write(Box::new(move |s| Ok((s.plan_issue_code(code, now)?, ()))))
            .await
    }

    async fn delete_code(&self, hash: &CodeHash) -> Result<bool> {
        let hash = *hash;
        self.write(Box::new(move |s| {
            Ok(match s.plan_delete_code(&hash) {
                Some(plan) => (plan, true),
                None => (Vec::new(), false),
            })
        }))
        .await
    }

    async fn set_code_state(
        &self,
        hash: &CodeHash,
        state: CodeState,
        awaiting: Option<AwaitingUser>,
    ) -> Result<bool> {
        let hash = *hash;
        self.write(Box::new(move |s| {
            Ok(match s.plan_code_state(&hash, state, awaiting) {
                Some(plan) => (plan, true),
                None => (Vec::new(), false),
            })
        }))
        .await
    }

    async fn redeem_code(
        &self,
        hash: &CodeHash,
        expected: Option<u64>,
        link: DeviceLink,
    ) -> Result<u64> {
        let hash = *hash;
        self.write(Box::new(move |s| s.plan_redeem(&hash, expected, link)))
            .await
    }

    async fn exchange_code(
        &self,
        hash: &CodeHash,
        expected: Option<u64>,
        link: DeviceLink,
    ) -> Result<u64> {
        let hash = *hash;
        self.write(Box::new(move |s| s.plan_exchange(&hash, expected, link)))
            .await
    }

    async fn put_link(&self, expected: Option<u64>, link: DeviceLink) -> Result<u64> {
        self.write(Box::new(move |s| s.plan_put_link(expected, link)))
            .await
    }

    async fn delete_link(&self, key: &LinkKey, expected: u64) -> Result<()> {
        let key = key.clone();
        self.write(Box::new(move |s| {
            Ok((s.plan_delete_link(&key, expected)?, ()))
        }))
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

    fn counts(&self) -> Counts {
        self.inner.state.read().counts()
    }
}

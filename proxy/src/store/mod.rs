//! Where codes and links live.
//!
//! The memory, file and Kubernetes backends keep the whole state in memory, so their reads
//! never leave the process; they differ in how a change is made durable before it is
//! acknowledged (nothing for `memory`, an fsynced redb transaction for `file`, the API
//! server for Kubernetes). The postgres backend keeps it in the database and a bounded
//! cache of links in memory, for fleets larger than one process should hold. Every backend
//! decides by the same rules (`rules`); writes are compare-and-swap on a per-link version,
//! which maps onto a Kubernetes resourceVersion as well as onto a database transaction.

mod file;
mod journaled;
mod kubernetes;
mod links;
mod memory;
mod postgres;
mod rules;
mod state;

use std::sync::Arc;

use async_trait::async_trait;

use linkgate_domain::code::{AwaitingUser, CodeHash, CodeRecord, CodeState};
use linkgate_domain::ids::DeviceId;
use linkgate_domain::link::DeviceLink;
use linkgate_domain::temp_pass::{PassWrite, TempPass};
use linkgate_domain::time::Timestamp;

pub use file::FileStore;
pub use kubernetes::KubeStore;
pub use memory::MemoryStore;
pub use postgres::PgStore;

/// The key of a device's link: requestor names cannot contain `/`, so the first one ends it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkKey(Arc<str>);

impl LinkKey {
    pub fn new(requestor: &str, device: &DeviceId) -> Self {
        // Joined by hand: `format!` costs more than the lookup the key is made for.
        let device = device.as_str();
        let mut key = String::with_capacity(requestor.len() + 1 + device.len());
        key.push_str(requestor);
        key.push('/');
        key.push_str(device);
        Self(key.into())
    }

    pub fn of(link: &DeviceLink) -> Self {
        Self::new(&link.requestor, &link.device)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The requestor and the device it names.
    pub fn parts(&self) -> (&str, &str) {
        self.0.split_once('/').expect("a link key names both")
    }
}

/// A stored link and the version a conditional write must name to replace it.
#[derive(Clone, Debug, PartialEq)]
pub struct Versioned {
    pub link: Arc<DeviceLink>,
    pub version: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A live code with the same hash exists: draw another.
    #[error("the code is already in use")]
    CodeTaken,
    /// The state changed since it was read: read again and retry.
    #[error("the link or code changed concurrently")]
    Conflict,
    /// The backend could not make the change durable; nothing was acknowledged.
    #[error("store backend failed: {0}")]
    Backend(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The version a link write returned: none means the write found nothing to write over.
fn new_version(outcome: Option<Option<u64>>) -> Result<u64> {
    outcome.flatten().ok_or(StoreError::Conflict)
}

/// The operations the gateway needs from a store. Writes return only once the change is
/// durable. Reads may have to ask a database, so they can fail too (the in-memory backends
/// answer at once and never do).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn code(&self, hash: &CodeHash) -> Result<Option<CodeRecord>>;

    async fn link(&self, key: &LinkKey) -> Result<Option<Versioned>>;

    /// The code an RFC 8628 device code polls for.
    async fn code_by_device_code(&self, device_code: &CodeHash) -> Result<Option<CodeRecord>>;

    /// Stores a new code, atomically refusing one equal to a live code, and retires the
    /// device's previous code so a device never has more than one live code.
    async fn issue_code(&self, code: CodeRecord, now: Timestamp) -> Result<()>;

    /// Removes a code; `false` when there was none.
    async fn delete_code(&self, hash: &CodeHash) -> Result<bool>;

    /// Moves a code to `state`, holding `awaiting` (the link waiting for the requestor's
    /// approval, with `Approving`); `false` when there was none.
    async fn set_code_state(
        &self,
        hash: &CodeHash,
        state: CodeState,
        awaiting: Option<AwaitingUser>,
    ) -> Result<bool>;

    /// Consumes the code (removes it, or marks it used when a device code polls for it)
    /// and writes the device's new link in one atomic step: the code must still be there,
    /// pending or approving, issued to that device, and the link must still be at
    /// `expected` (`None`: there must be no link).
    async fn redeem_code(
        &self,
        hash: &CodeHash,
        expected: Option<u64>,
        link: DeviceLink,
    ) -> Result<u64>;

    /// Removes a used code and writes its device's link (with the credential its secret was
    /// exchanged for) in one atomic step: the code must still be there, used, issued to that
    /// device, and the link must still be at `expected`.
    async fn exchange_code(
        &self,
        hash: &CodeHash,
        expected: Option<u64>,
        link: DeviceLink,
    ) -> Result<u64>;

    /// Writes a link if the stored one is still at `expected`; returns the new version.
    async fn put_link(&self, expected: Option<u64>, link: DeviceLink) -> Result<u64>;

    /// Deletes a link if it is still at `expected`.
    async fn delete_link(&self, key: &LinkKey, expected: u64) -> Result<()>;

    /// The device's TempPass windows, open or spent.
    async fn temp_passes(&self, device: &LinkKey) -> Result<Vec<TempPass>>;

    /// Makes `write` of the device's window at `mvpd` in one atomic step (of two devices
    /// opening at once, one opens it and the other finds it); returns the window after it.
    async fn write_temp_pass(
        &self,
        device: &LinkKey,
        mvpd: &str,
        write: PassWrite,
    ) -> Result<Option<TempPass>>;

    /// Drops codes and links that expired before `now` (never TempPass windows: a spent
    /// one is what keeps it spent); returns how many.
    async fn purge_expired(&self, now: Timestamp) -> Result<usize>;

    /// How much the store holds, for metrics (a database counts its rows).
    async fn counts(&self) -> Result<Counts>;
}

/// How much a store holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub codes: usize,
    pub links: usize,
}

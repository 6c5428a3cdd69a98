//! The embedded durable backend (redb): the standalone gateway's default.
//!
//! redb commits with immediate durability (fsync) by default, so a write returns only
//! once it would survive `kill -9` or a power cut. The whole state is loaded into memory
//! at start; the file is the journal, never read on the request path.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::journaled::{Journal, JournaledStore};
use super::state::{Change, State};
use super::{LinkKey, Result, StoreError, Versioned};
use linkgate_domain::code::CodeRecord;
use linkgate_domain::ids::DeviceId;
use linkgate_domain::link::DeviceLink;
use linkgate_domain::temp_pass::TempPass;

const CODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("codes");
const LINKS: TableDefinition<&str, &[u8]> = TableDefinition::new("links");
/// The highest link version ever handed out: kept so that a link deleted and created
/// again never reuses a version a stale writer may still hold.
const LAST_VERSION: TableDefinition<(), u64> = TableDefinition::new("last_version");
/// TempPass windows, by device and MVPD.
const TEMP_PASSES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("temp_passes");

/// redb's page cache; it defaults to a gigabyte, which would double a large store's memory.
const REDB_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// The database file inside the data directory.
pub const DB_FILE: &str = "linkgate.redb";

/// A link as persisted: the version travels with it.
#[derive(Serialize, Deserialize)]
struct StoredLink {
    version: u64,
    link: DeviceLink,
}

/// A TempPass window as persisted, with the device it belongs to.
#[derive(Serialize, Deserialize)]
struct StoredPass {
    requestor: String,
    device: DeviceId,
    pass: TempPass,
}

pub struct Redb(Database);

impl Journal for Redb {
    const BLOCKING: bool = true;

    fn commit(&self, changes: &[Change]) -> Result<()> {
        let txn = self.0.begin_write().map_err(backend)?;
        {
            let mut codes = txn.open_table(CODES).map_err(backend)?;
            let mut links = txn.open_table(LINKS).map_err(backend)?;
            let mut passes = txn.open_table(TEMP_PASSES).map_err(backend)?;
            let mut last_version = None;
            for change in changes {
                match change {
                    Change::PutCode(code) => {
                        let value = serde_json::to_vec(&**code).map_err(backend)?;
                        codes
                            .insert(code.hash.as_bytes().as_slice(), value.as_slice())
                            .map_err(backend)?;
                    }
                    Change::DeleteCode(hash) => {
                        codes.remove(hash.as_bytes().as_slice()).map_err(backend)?;
                    }
                    Change::PutLink(v) => {
                        let stored = StoredLink {
                            version: v.version,
                            link: DeviceLink::clone(&v.link),
                        };
                        let value = serde_json::to_vec(&stored).map_err(backend)?;
                        let key = LinkKey::of(&v.link);
                        links
                            .insert(key.as_str(), value.as_slice())
                            .map_err(backend)?;
                        last_version = last_version.max(Some(v.version));
                    }
                    Change::DeleteLink(key) => {
                        links.remove(key.as_str()).map_err(backend)?;
                    }
                    Change::PutPass(key, pass) => {
                        let (requestor, device) = key.parts();
                        let stored = StoredPass {
                            requestor: requestor.to_owned(),
                            device: DeviceId::parse(device).map_err(backend)?,
                            pass: pass.clone(),
                        };
                        let value = serde_json::to_vec(&stored).map_err(backend)?;
                        passes
                            .insert((key.as_str(), pass.mvpd.as_str()), value.as_slice())
                            .map_err(backend)?;
                    }
                    Change::DeletePass(key, mvpd) => {
                        passes
                            .remove((key.as_str(), mvpd.as_str()))
                            .map_err(backend)?;
                    }
                }
            }
            if let Some(version) = last_version {
                let mut table = txn.open_table(LAST_VERSION).map_err(backend)?;
                table.insert((), version).map_err(backend)?;
            }
        }
        txn.commit().map_err(backend)
    }
}

pub type FileStore = JournaledStore<Redb>;

impl FileStore {
    /// Opens (or creates) the store in `dir` and loads it into memory.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Backend(format!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })?;
        let path = dir.join(DB_FILE);
        // Reads are served from memory, so redb's page cache only has to help writes.
        let db = redb::Builder::new()
            .set_cache_size(REDB_CACHE_BYTES)
            .create(&path)
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
        let state = load(&db)?;
        Ok(JournaledStore::with_journal(state, Redb(db)))
    }
}

/// Links per transaction of a bulk import.
const IMPORT_BATCH: usize = 10_000;

impl FileStore {
    /// Adds links in large transactions (a migration, a restore), replacing any stored
    /// link of the same device; durable when it returns. Meant for a store nobody is
    /// writing to at the same time.
    pub fn import(&self, links: impl IntoIterator<Item = DeviceLink>) -> Result<usize> {
        let mut batch = Vec::with_capacity(IMPORT_BATCH);
        let mut imported = 0;
        let mut links = links.into_iter().peekable();
        while links.peek().is_some() {
            batch.extend(links.by_ref().take(IMPORT_BATCH));
            imported += batch.len();
            let links = std::mem::take(&mut batch);
            self.write_blocking(|state| Ok(state.plan_import(links)))?;
        }
        Ok(imported)
    }
}

fn load(db: &Database) -> Result<State> {
    // Create the tables on first start so that reading finds them.
    let txn = db.begin_write().map_err(backend)?;
    txn.open_table(CODES).map_err(backend)?;
    txn.open_table(LINKS).map_err(backend)?;
    txn.open_table(LAST_VERSION).map_err(backend)?;
    txn.open_table(TEMP_PASSES).map_err(backend)?;
    txn.commit().map_err(backend)?;

    // Row by row into the state: no second copy of the store in memory while loading.
    let mut state = State::default();
    let txn = db.begin_read().map_err(backend)?;
    for row in txn
        .open_table(CODES)
        .map_err(backend)?
        .iter()
        .map_err(backend)?
    {
        let (_, value) = row.map_err(backend)?;
        let code: CodeRecord = serde_json::from_slice(value.value()).map_err(corrupt)?;
        state.apply_one(Change::PutCode(std::sync::Arc::new(code)));
    }
    let links = txn.open_table(LINKS).map_err(backend)?;
    for row in links.iter().map_err(backend)? {
        let (_, value) = row.map_err(backend)?;
        let stored: StoredLink = serde_json::from_slice(value.value()).map_err(corrupt)?;
        state.apply_one(Change::PutLink(Versioned {
            link: Arc::new(stored.link),
            version: stored.version,
        }));
    }
    for row in txn
        .open_table(TEMP_PASSES)
        .map_err(backend)?
        .iter()
        .map_err(backend)?
    {
        let (_, value) = row.map_err(backend)?;
        let stored: StoredPass = serde_json::from_slice(value.value()).map_err(corrupt)?;
        let key = LinkKey::new(&stored.requestor, &stored.device);
        state.apply_one(Change::PutPass(key, stored.pass));
    }
    let last_version = txn
        .open_table(LAST_VERSION)
        .map_err(backend)?
        .get(())
        .map_err(backend)?
        .map_or(0, |v| v.value());
    state.raise_version_floor(last_version);
    Ok(state)
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Backend(format!("unreadable record in the store: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use linkgate_domain::code::{AwaitingUser, CodeHash, CodeState};
    use linkgate_domain::ids::{DeviceId, UserId};
    use linkgate_domain::link::LinkedUser;
    use linkgate_domain::time::Timestamp;

    fn link(device: &str) -> DeviceLink {
        DeviceLink {
            credential: None,
            requestor: "demo".into(),
            device: DeviceId::parse(device).unwrap(),
            users: vec![LinkedUser {
                user: UserId::parse("alice").unwrap(),
                mvpd: Some("test-mvpd".into()),
                linked_at: Timestamp::from_unix_millis(1),
                authn_expires_at: Timestamp::from_unix_millis(i64::MAX),
                metadata: [("zip".to_owned(), "10001".to_owned())].into(),
            }],
        }
    }

    #[tokio::test]
    async fn temp_pass_windows_outlive_their_link_and_reopening_until_reset() {
        use linkgate_domain::temp_pass::PassWrite;
        let dir = tempfile::tempdir().unwrap();
        // A device ID with `/`, as Adobe's base64 IDs have: the key still splits right.
        let device = LinkKey::new("demo", &DeviceId::parse("tv/b64=").unwrap());
        let now = Timestamp::from_unix_millis(1_000);
        let open = PassWrite::Open {
            now,
            duration: std::time::Duration::from_secs(60),
        };
        {
            let store = FileStore::open(dir.path()).unwrap();
            let pass = store.write_temp_pass(&device, "temp", open).await.unwrap();
            assert_eq!(pass.unwrap().ends_at, Timestamp::from_unix_millis(61_000));
            let other = store.write_temp_pass(&device, "other", open).await.unwrap();
            assert!(other.is_some());
            store
                .purge_expired(Timestamp::from_unix_millis(i64::MAX))
                .await
                .unwrap();
        }
        let store = FileStore::open(dir.path()).unwrap();
        let mut passes = store.temp_passes(&device).await.unwrap();
        passes.sort_by(|a, b| a.mvpd.cmp(&b.mvpd));
        let mvpds: Vec<_> = passes.iter().map(|p| p.mvpd.as_str()).collect();
        assert_eq!(mvpds, ["other", "temp"]);
        // Opening again later finds the first window, never a new one.
        let later = PassWrite::Open {
            now: Timestamp::from_unix_millis(500_000),
            duration: std::time::Duration::from_secs(60),
        };
        let again = store.write_temp_pass(&device, "temp", later).await.unwrap();
        assert_eq!(again.unwrap().started_at, now);
        let reset = store.write_temp_pass(&device, "temp", PassWrite::Reset);
        assert_eq!(reset.await.unwrap(), None);
        drop(store);
        let store = FileStore::open(dir.path()).unwrap();
        let left = store.temp_passes(&device).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].mvpd, "other");
    }

    #[tokio::test]
    async fn what_was_acknowledged_is_there_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let code = CodeRecord {
            hash: CodeHash::from_bytes([9; 32]),
            id: "c1".into(),
            requestor: "demo".into(),
            device: DeviceId::parse("tv-2").unwrap(),
            issued_at: Timestamp::from_unix_millis(0),
            expires_at: Timestamp::from_unix_millis(i64::MAX),
            mvpd: None,
            device_type: Some("roku".into()),
            requested_from: Some("198.51.100.0/24".parse().unwrap()),
            session: None,
            device_code: None,
            state: Default::default(),
            awaiting: None,
        };
        // A link held for the requestor's approval is acknowledged (202): it must last too.
        let awaiting = AwaitingUser {
            user: UserId::parse("alice").unwrap(),
            mvpd: Some("test-mvpd".into()),
            metadata: [("zip".to_owned(), "10001".to_owned())].into(),
        };
        {
            let store = FileStore::open(dir.path()).unwrap();
            store.put_link(None, link("tv-1")).await.unwrap();
            store.put_link(Some(1), link("tv-1")).await.unwrap();
            store.put_link(None, link("gone")).await.unwrap();
            let gone = LinkKey::new("demo", &DeviceId::parse("gone").unwrap());
            store.delete_link(&gone, 3).await.unwrap();
            store
                .issue_code(code.clone(), Timestamp::from_unix_millis(0))
                .await
                .unwrap();
            let held =
                store.set_code_state(&code.hash, CodeState::Approving, Some(awaiting.clone()));
            assert!(held.await.unwrap());
        }
        let store = FileStore::open(dir.path()).unwrap();
        let key = LinkKey::new("demo", &DeviceId::parse("tv-1").unwrap());
        let stored = store.link(&key).await.unwrap().unwrap();
        assert_eq!(stored.version, 2);
        assert_eq!(*stored.link, link("tv-1"));
        let held = CodeRecord {
            state: CodeState::Approving,
            awaiting: Some(Box::new(awaiting)),
            ..code
        };
        assert_eq!(store.code(&held.hash).await.unwrap(), Some(held));
        assert_eq!(store.counts().await.unwrap().links, 1);
        // Versions continue after the highest ever handed out, even a deleted link's.
        assert_eq!(store.put_link(None, link("gone")).await.unwrap(), 4);
    }

    #[tokio::test]
    async fn a_bulk_import_spans_batches_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let n = IMPORT_BATCH * 2 + 5;
        let store = FileStore::open(dir.path()).unwrap();
        let imported = store
            .import((0..n).map(|i| link(&format!("tv-{i}"))))
            .unwrap();
        assert_eq!(imported, n);
        drop(store);
        let store = FileStore::open(dir.path()).unwrap();
        assert_eq!(store.counts().await.unwrap().links, n);
        let last = LinkKey::new("demo", &DeviceId::parse(&format!("tv-{}", n - 1)).unwrap());
        let stored = store.link(&last).await.unwrap().unwrap();
        assert_eq!(stored.version, n as u64);
    }
}

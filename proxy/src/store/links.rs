//! Every link of the memory and file backends, in copy-on-write shards.
//!
//! Each write publishes a new snapshot (`published.rs`), so a copy of the map must cost next
//! to nothing and a write must not copy a million links. The links live in shards behind
//! `Arc`s: a copy of the map copies one `Arc`, and a write copies only the shard it changes
//! (a few thousand entries at a million links), and only while a reader still holds it.
//! No key is stored beside a link: an entry is found by hashing the requestor and device the
//! link itself names, which saves a key string and its slot per link.

use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::Arc;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use super::{LinkKey, Versioned};
use linkgate_domain::link::DeviceLink;

const SHARDS: usize = 256;

#[derive(Clone)]
pub struct Links {
    shards: Arc<Vec<Arc<HashTable<Versioned>>>>,
    hasher: RandomState,
    len: usize,
}

impl Default for Links {
    fn default() -> Self {
        Self {
            shards: Arc::new(vec![Arc::default(); SHARDS]),
            hasher: RandomState::new(),
            len: 0,
        }
    }
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Links").field("len", &self.len).finish()
    }
}

fn hash(hasher: &RandomState, requestor: &str, device: &str) -> u64 {
    let mut h = hasher.build_hasher();
    requestor.hash(&mut h);
    device.hash(&mut h);
    h.finish()
}

fn hash_link(hasher: &RandomState, link: &DeviceLink) -> u64 {
    hash(hasher, &link.requestor, link.device.as_str())
}

/// The shard of a hash, from bits the tables themselves do not use (hashbrown takes its
/// bucket from the low bits and its tag from the top seven).
fn shard(hash: u64) -> usize {
    (hash >> 48) as usize % SHARDS
}

fn names(v: &Versioned, requestor: &str, device: &str) -> bool {
    v.link.requestor == requestor && v.link.device.as_str() == device
}

impl Links {
    pub fn get(&self, key: &LinkKey) -> Option<&Versioned> {
        let (requestor, device) = key.parts();
        let hash = hash(&self.hasher, requestor, device);
        self.shards[shard(hash)].find(hash, |v| names(v, requestor, device))
    }

    /// Puts `versioned` in place of any link of the same device.
    pub fn insert(&mut self, versioned: Versioned) {
        let hash = hash_link(&self.hasher, &versioned.link);
        let hasher = self.hasher.clone();
        let (requestor, device) = (&versioned.link.requestor, versioned.link.device.as_str());
        let entry = self.shard_mut(hash).entry(
            hash,
            |v| names(v, requestor, device),
            |v| hash_link(&hasher, &v.link),
        );
        match entry {
            Entry::Occupied(mut stored) => *stored.get_mut() = versioned,
            Entry::Vacant(free) => {
                free.insert(versioned);
                self.len += 1;
            }
        }
    }

    pub fn remove(&mut self, key: &LinkKey) {
        let (requestor, device) = key.parts();
        let hash = hash(&self.hasher, requestor, device);
        // Looked up before `shard_mut`, which copies a shared shard: removing what is not
        // there (a purge racing an unlink) must not copy thousands of entries for nothing.
        if self.shards[shard(hash)]
            .find(hash, |v| names(v, requestor, device))
            .is_none()
        {
            return;
        }
        if let Ok(found) = self
            .shard_mut(hash)
            .find_entry(hash, |v| names(v, requestor, device))
        {
            found.remove();
            self.len -= 1;
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn iter(&self) -> impl Iterator<Item = &Versioned> {
        self.shards.iter().flat_map(|s| s.iter())
    }

    /// The shard of `hash`, copied first if a snapshot still shares it.
    fn shard_mut(&mut self, hash: u64) -> &mut HashTable<Versioned> {
        Arc::make_mut(&mut Arc::make_mut(&mut self.shards)[shard(hash)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linkgate_domain::ids::DeviceId;

    fn link(requestor: &str, device: &str, version: u64) -> Versioned {
        Versioned {
            link: Arc::new(DeviceLink {
                requestor: requestor.into(),
                device: DeviceId::parse(device).unwrap(),
                users: Vec::new(),
                credential: None,
            }),
            version,
        }
    }

    fn key(requestor: &str, device: &str) -> LinkKey {
        LinkKey::new(requestor, &DeviceId::parse(device).unwrap())
    }

    #[test]
    fn a_device_has_one_link_per_requestor() {
        let mut links = Links::default();
        links.insert(link("a", "tv", 1));
        links.insert(link("b", "tv", 2));
        links.insert(link("a", "tv", 3));
        assert_eq!(links.len(), 2);
        assert_eq!(links.get(&key("a", "tv")).map(|v| v.version), Some(3));
        assert_eq!(links.get(&key("b", "tv")).map(|v| v.version), Some(2));
        assert!(links.get(&key("a", "box")).is_none());
        links.remove(&key("a", "tv"));
        links.remove(&key("a", "tv"));
        assert_eq!(links.len(), 1);
        assert!(links.get(&key("a", "tv")).is_none());
        assert_eq!(links.iter().count(), 1);
    }

    #[test]
    fn a_snapshot_keeps_what_it_saw() {
        let mut links = Links::default();
        for i in 0..1000 {
            links.insert(link("a", &format!("tv-{i}"), i));
        }
        let snapshot = links.clone();
        links.insert(link("a", "tv-7", 5000));
        links.remove(&key("a", "tv-8"));
        links.insert(link("a", "new", 1));
        assert_eq!(snapshot.get(&key("a", "tv-7")).map(|v| v.version), Some(7));
        assert!(snapshot.get(&key("a", "tv-8")).is_some());
        assert!(snapshot.get(&key("a", "new")).is_none());
        assert_eq!((snapshot.len(), snapshot.iter().count()), (1000, 1000));
        assert_eq!(links.get(&key("a", "tv-7")).map(|v| v.version), Some(5000));
        assert_eq!((links.len(), links.iter().count()), (1000, 1000));
    }
}

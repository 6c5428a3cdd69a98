//! The in-memory state the memory and file backends serve reads from, and how a change the
//! store's rules decided on becomes the journal's writes.
//!
//! A write is decided against the current state (`rules`), turned into `Change`s, made
//! durable by the journal, then applied.

use std::sync::Arc;

use imbl::HashMap;

use super::links::Links;
use super::rules::{DeviceChange, Slot, View, link_expired};
use super::{Counts, LinkKey, Versioned};
use linkgate_domain::code::{CodeHash, CodeRecord};
use linkgate_domain::link::DeviceLink;
use linkgate_domain::temp_pass::{PassWrite, TempPass};
use linkgate_domain::time::Timestamp;

/// One durable change.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    // Shared with the snapshot it goes into, and keeps the change small.
    PutCode(Arc<CodeRecord>),
    DeleteCode(CodeHash),
    PutLink(Versioned),
    DeleteLink(LinkKey),
    PutPass(LinkKey, TempPass),
    DeletePass(LinkKey, String),
}

/// Cloned in O(1): every write publishes a new snapshot sharing all but what it changed.
#[derive(Clone, Default, Debug)]
pub struct State {
    codes: HashMap<CodeHash, Arc<CodeRecord>>,
    /// Each device's current code, so issuing a new one retires the old.
    device_codes: HashMap<LinkKey, CodeHash>,
    /// Codes by the hash of the RFC 8628 device code polling for them.
    by_device_code: HashMap<CodeHash, CodeHash>,
    links: Links,
    last_version: u64,
    /// Each device's TempPass windows: a few at most, so a list.
    passes: HashMap<LinkKey, Vec<TempPass>>,
}

impl State {
    pub fn code_by_device_code(&self, device_code: &CodeHash) -> Option<&CodeRecord> {
        self.codes
            .get(self.by_device_code.get(device_code)?)
            .map(Arc::as_ref)
    }

    pub fn link(&self, key: &LinkKey) -> Option<&Versioned> {
        self.links.get(key)
    }

    pub fn counts(&self) -> Counts {
        Counts {
            codes: self.codes.len(),
            links: self.links.len(),
        }
    }

    /// The writes that make `change`, and the version a link it puts will have.
    pub fn changes(&self, change: DeviceChange) -> (Vec<Change>, Option<u64>) {
        let DeviceChange { device, code, link } = change;
        let mut changes = Vec::with_capacity(3);
        let current = self.device_codes.get(&device).copied();
        match code {
            Slot::Keep => {}
            Slot::Clear => changes.extend(current.map(Change::DeleteCode)),
            Slot::Put(code) => {
                // A device shows one code: a new one retires the previous.
                changes.extend(current.filter(|h| *h != code.hash).map(Change::DeleteCode));
                changes.push(Change::PutCode(Arc::new(code)));
            }
        }
        let version = match link {
            Slot::Keep => None,
            Slot::Put(link) => {
                let version = self.last_version + 1;
                changes.push(Change::PutLink(Versioned {
                    link: Arc::new(link),
                    version,
                }));
                Some(version)
            }
            Slot::Clear => {
                changes.push(Change::DeleteLink(device));
                None
            }
        };
        (changes, version)
    }

    pub fn temp_passes(&self, device: &LinkKey) -> &[TempPass] {
        self.passes.get(device).map_or(&[], Vec::as_slice)
    }

    /// The change `write` makes of the device's window at `mvpd`, and the window after it.
    pub fn plan_pass(
        &self,
        device: &LinkKey,
        mvpd: &str,
        write: PassWrite,
    ) -> (Vec<Change>, Option<TempPass>) {
        let stored = self.temp_passes(device).iter().find(|p| p.mvpd == mvpd);
        match write.apply(mvpd, stored) {
            None => (Vec::new(), stored.cloned()),
            Some(Some(pass)) => (
                vec![Change::PutPass(device.clone(), pass.clone())],
                Some(pass),
            ),
            Some(None) => (
                vec![Change::DeletePass(device.clone(), mvpd.to_owned())],
                None,
            ),
        }
    }

    /// Puts links whatever is stored, each at a new version.
    pub fn plan_import(&self, links: Vec<DeviceLink>) -> Vec<Change> {
        (self.last_version + 1..)
            .zip(links)
            .map(|(version, link)| {
                Change::PutLink(Versioned {
                    link: Arc::new(link),
                    version,
                })
            })
            .collect()
    }

    pub fn plan_purge(&self, now: Timestamp) -> Vec<Change> {
        let codes = self
            .codes
            .values()
            .filter(|c| c.is_expired(now))
            .map(|c| Change::DeleteCode(c.hash));
        let links = self
            .links
            .iter()
            .filter(|v| link_expired(&v.link, now))
            .map(|v| Change::DeleteLink(LinkKey::of(&v.link)));
        codes.chain(links).collect()
    }

    /// New versions will be above `version`.
    pub fn raise_version_floor(&mut self, version: u64) {
        self.last_version = self.last_version.max(version);
    }

    pub fn apply(&mut self, changes: Vec<Change>) {
        changes.into_iter().for_each(|c| self.apply_one(c));
    }

    pub fn apply_one(&mut self, change: Change) {
        match change {
            Change::PutCode(code) => {
                self.forget_code(&code.hash);
                let device = LinkKey::new(&code.requestor, &code.device);
                self.device_codes.insert(device, code.hash);
                if let Some(device_code) = code.device_code {
                    self.by_device_code.insert(device_code, code.hash);
                }
                self.codes.insert(code.hash, code);
            }
            Change::DeleteCode(hash) => self.forget_code(&hash),
            Change::PutLink(versioned) => {
                self.last_version = self.last_version.max(versioned.version);
                self.links.insert(versioned);
            }
            Change::DeleteLink(key) => {
                self.links.remove(&key);
            }
            Change::PutPass(device, pass) => {
                let passes = self.passes.entry(device).or_default();
                passes.retain(|p| p.mvpd != pass.mvpd);
                passes.push(pass);
            }
            Change::DeletePass(device, mvpd) => {
                if let Some(passes) = self.passes.get_mut(&device) {
                    passes.retain(|p| p.mvpd != mvpd);
                    if passes.is_empty() {
                        self.passes.remove(&device);
                    }
                }
            }
        }
    }
}

impl View for State {
    fn code(&self, hash: &CodeHash) -> Option<&CodeRecord> {
        self.codes.get(hash).map(Arc::as_ref)
    }

    fn code_shown_elsewhere(&self, hash: &CodeHash, device: &LinkKey, now: Timestamp) -> bool {
        self.codes
            .get(hash)
            .is_some_and(|c| !c.is_expired(now) && LinkKey::new(&c.requestor, &c.device) != *device)
    }

    fn link_version(&self, key: &LinkKey) -> Option<u64> {
        self.links.get(key).map(|v| v.version)
    }
}

impl State {
    /// Removes a code and the indexes pointing at it.
    fn forget_code(&mut self, hash: &CodeHash) {
        let Some(code) = self.codes.remove(hash) else {
            return;
        };
        let device = LinkKey::new(&code.requestor, &code.device);
        if self.device_codes.get(&device) == Some(hash) {
            self.device_codes.remove(&device);
        }
        if let Some(device_code) = code.device_code {
            self.by_device_code.remove(&device_code);
        }
    }
}

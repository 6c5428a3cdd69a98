//! The in-memory state every backend serves reads from, and the planning of changes to it.
//!
//! A write is planned against the current state (checking its preconditions), made durable
//! by the backend, then applied. Planning and applying are pure, so the rules of the store
//! (uniqueness, compare-and-swap, one code per device) are tested here without I/O.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Counts, LinkKey, Result, StoreError, Versioned};
use linkgate_domain::code::{AwaitingUser, CodeHash, CodeRecord, CodeState};
use linkgate_domain::link::DeviceLink;
use linkgate_domain::time::Timestamp;

/// One durable change.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    PutCode(CodeRecord),
    DeleteCode(CodeHash),
    PutLink(Versioned),
    DeleteLink(LinkKey),
}

#[derive(Default, Debug)]
pub struct State {
    codes: HashMap<CodeHash, CodeRecord>,
    /// Each device's current code, so issuing a new one retires the old.
    device_codes: HashMap<LinkKey, CodeHash>,
    /// Codes by the hash of the RFC 8628 device code polling for them.
    by_device_code: HashMap<CodeHash, CodeHash>,
    links: HashMap<LinkKey, Versioned>,
    last_version: u64,
}

impl State {
    pub fn code(&self, hash: &CodeHash) -> Option<&CodeRecord> {
        self.codes.get(hash)
    }

    pub fn code_by_device_code(&self, device_code: &CodeHash) -> Option<&CodeRecord> {
        self.codes.get(self.by_device_code.get(device_code)?)
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

    pub fn plan_issue_code(&self, code: CodeRecord, now: Timestamp) -> Result<Vec<Change>> {
        if self
            .codes
            .get(&code.hash)
            .is_some_and(|c| !c.is_expired(now))
        {
            return Err(StoreError::CodeTaken);
        }
        let mut changes = Vec::with_capacity(2);
        let device = LinkKey::new(&code.requestor, &code.device);
        if let Some(previous) = self.device_codes.get(&device) {
            changes.push(Change::DeleteCode(*previous));
        }
        changes.push(Change::PutCode(code));
        Ok(changes)
    }

    pub fn plan_delete_code(&self, hash: &CodeHash) -> Option<Vec<Change>> {
        self.codes
            .contains_key(hash)
            .then(|| vec![Change::DeleteCode(*hash)])
    }

    /// Moves a code to `state`, holding `awaiting`; `None` when there is no such code.
    pub fn plan_code_state(
        &self,
        hash: &CodeHash,
        state: CodeState,
        awaiting: Option<AwaitingUser>,
    ) -> Option<Vec<Change>> {
        let code = self.codes.get(hash)?;
        Some(vec![Change::PutCode(CodeRecord {
            state,
            awaiting: awaiting.map(Box::new),
            ..code.clone()
        })])
    }

    pub fn plan_redeem(
        &self,
        hash: &CodeHash,
        expected: Option<u64>,
        link: DeviceLink,
    ) -> Result<(Vec<Change>, u64)> {
        let code = self.codes.get(hash).filter(|c| {
            c.state.is_redeemable() && c.requestor == link.requestor && c.device == link.device
        });
        let Some(code) = code else {
            return Err(StoreError::Conflict);
        };
        // A device code still has to learn the outcome: keep the code, marked used.
        let consume = match code.device_code {
            Some(_) => Change::PutCode(CodeRecord {
                state: CodeState::Redeemed,
                awaiting: None,
                ..code.clone()
            }),
            None => Change::DeleteCode(*hash),
        };
        let (put, version) = self.plan_put_link(expected, link)?;
        Ok(([vec![consume], put].concat(), version))
    }

    /// Removes the used code of the link's device and writes the link.
    pub fn plan_exchange(
        &self,
        hash: &CodeHash,
        expected: Option<u64>,
        link: DeviceLink,
    ) -> Result<(Vec<Change>, u64)> {
        let used = self.codes.get(hash).is_some_and(|c| {
            c.state == CodeState::Redeemed
                && c.requestor == link.requestor
                && c.device == link.device
        });
        if !used {
            return Err(StoreError::Conflict);
        }
        let (put, version) = self.plan_put_link(expected, link)?;
        Ok(([vec![Change::DeleteCode(*hash)], put].concat(), version))
    }

    /// Returns the plan and the version the link will have.
    pub fn plan_put_link(
        &self,
        expected: Option<u64>,
        link: DeviceLink,
    ) -> Result<(Vec<Change>, u64)> {
        let key = LinkKey::of(&link);
        if self.links.get(&key).map(|v| v.version) != expected {
            return Err(StoreError::Conflict);
        }
        let version = self.last_version + 1;
        let put = Change::PutLink(Versioned {
            link: Arc::new(link),
            version,
        });
        Ok((vec![put], version))
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

    pub fn plan_delete_link(&self, key: &LinkKey, expected: u64) -> Result<Vec<Change>> {
        if self.links.get(key).map(|v| v.version) != Some(expected) {
            return Err(StoreError::Conflict);
        }
        Ok(vec![Change::DeleteLink(key.clone())])
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
            .filter(|(_, v)| v.link.expires_at().is_none_or(|at| at <= now))
            .map(|(key, _)| Change::DeleteLink(key.clone()));
        codes.chain(links).collect()
    }

    /// New versions will be above `version`.
    pub fn raise_version_floor(&mut self, version: u64) {
        self.last_version = self.last_version.max(version);
    }

    pub fn apply(&mut self, changes: Vec<Change>) {
        changes.into_iter().for_each(|c| self.apply_one(c));
    }

    /// Room for `n` more links, so loading a large store does not regrow the map.
    pub fn reserve_links(&mut self, n: usize) {
        self.links.reserve(n);
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
                self.links.insert(LinkKey::of(&versioned.link), versioned);
            }
            Change::DeleteLink(key) => {
                self.links.remove(&key);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use linkgate_domain::ids::{DeviceId, UserId};
    use linkgate_domain::link::LinkedUser;

    const NOW: Timestamp = Timestamp::from_unix_millis(10_000);

    fn code(byte: u8, device: &str, expires: i64) -> CodeRecord {
        CodeRecord {
            hash: CodeHash::from_bytes([byte; 32]),
            id: format!("id-{byte}"),
            requestor: "demo".into(),
            device: DeviceId::parse(device).unwrap(),
            issued_at: Timestamp::from_unix_millis(0),
            expires_at: Timestamp::from_unix_millis(expires),
            mvpd: None,
            device_type: None,
            device_code: None,
            state: CodeState::Pending,
            awaiting: None,
        }
    }

    fn link(device: &str, expires: i64) -> DeviceLink {
        DeviceLink {
            credential: None,
            requestor: "demo".into(),
            device: DeviceId::parse(device).unwrap(),
            users: vec![LinkedUser {
                user: UserId::parse("alice").unwrap(),
                mvpd: None,
                linked_at: Timestamp::from_unix_millis(0),
                authn_expires_at: Timestamp::from_unix_millis(expires),
                metadata: Default::default(),
            }],
        }
    }

    fn apply_ok(state: &mut State, plan: impl FnOnce(&State) -> Result<Vec<Change>>) {
        let changes = plan(state).expect("plan");
        state.apply(changes);
    }

    fn apply_versioned(
        state: &mut State,
        plan: impl FnOnce(&State) -> Result<(Vec<Change>, u64)>,
    ) -> u64 {
        let (changes, version) = plan(state).expect("plan");
        state.apply(changes);
        version
    }

    #[test]
    fn a_live_code_cannot_be_issued_twice_but_an_expired_one_can() {
        let mut state = State::default();
        apply_ok(&mut state, |s| {
            s.plan_issue_code(code(1, "tv-a", 20_000), NOW)
        });
        assert!(matches!(
            state.plan_issue_code(code(1, "tv-b", 20_000), NOW),
            Err(StoreError::CodeTaken)
        ));
        let later = Timestamp::from_unix_millis(20_000);
        apply_ok(&mut state, |s| {
            s.plan_issue_code(code(1, "tv-b", 30_000), later)
        });
        assert_eq!(
            state
                .code(&CodeHash::from_bytes([1; 32]))
                .unwrap()
                .device
                .as_str(),
            "tv-b"
        );
    }

    #[test]
    fn a_new_code_retires_the_device_s_previous_one() {
        let mut state = State::default();
        apply_ok(&mut state, |s| {
            s.plan_issue_code(code(1, "tv", 20_000), NOW)
        });
        apply_ok(&mut state, |s| {
            s.plan_issue_code(code(2, "tv", 20_000), NOW)
        });
        assert!(state.code(&CodeHash::from_bytes([1; 32])).is_none());
        assert!(state.code(&CodeHash::from_bytes([2; 32])).is_some());
        assert_eq!(state.counts().codes, 1);
    }

    #[test]
    fn redeeming_consumes_the_code_and_writes_the_link_once() {
        let mut state = State::default();
        let hash = CodeHash::from_bytes([1; 32]);
        apply_ok(&mut state, |s| {
            s.plan_issue_code(code(1, "tv", 20_000), NOW)
        });
        assert_eq!(
            apply_versioned(&mut state, |s| s.plan_redeem(
                &hash,
                None,
                link("tv", 99_000)
            )),
            1
        );
        assert!(state.code(&hash).is_none());
        let stored = state.link(&LinkKey::new("demo", &DeviceId::parse("tv").unwrap()));
        assert_eq!(stored.unwrap().version, 1);
        // The code is gone: a second redemption conflicts.
        assert!(matches!(
            state.plan_redeem(&hash, Some(1), link("tv", 99_000)),
            Err(StoreError::Conflict)
        ));
    }

    #[test]
    fn redeeming_for_another_device_conflicts() {
        let mut state = State::default();
        apply_ok(&mut state, |s| {
            s.plan_issue_code(code(1, "tv", 20_000), NOW)
        });
        let hash = CodeHash::from_bytes([1; 32]);
        assert!(matches!(
            state.plan_redeem(&hash, None, link("other", 99_000)),
            Err(StoreError::Conflict)
        ));
    }

    #[test]
    fn link_writes_are_compare_and_swap() {
        let mut state = State::default();
        apply_versioned(&mut state, |s| s.plan_put_link(None, link("tv", 99_000)));
        assert!(matches!(
            state.plan_put_link(None, link("tv", 99_000)),
            Err(StoreError::Conflict)
        ));
        apply_versioned(&mut state, |s| s.plan_put_link(Some(1), link("tv", 98_000)));
        let key = LinkKey::new("demo", &DeviceId::parse("tv").unwrap());
        assert_eq!(state.link(&key).unwrap().version, 2);
        assert!(matches!(
            state.plan_delete_link(&key, 1),
            Err(StoreError::Conflict)
        ));
        apply_ok(&mut state, |s| s.plan_delete_link(&key, 2));
        assert!(state.link(&key).is_none());
    }

    #[test]
    fn purge_drops_only_what_expired() {
        let mut state = State::default();
        apply_ok(&mut state, |s| s.plan_issue_code(code(1, "a", 5_000), NOW));
        apply_ok(&mut state, |s| s.plan_issue_code(code(2, "b", 50_000), NOW));
        apply_versioned(&mut state, |s| s.plan_put_link(None, link("a", 5_000)));
        apply_versioned(&mut state, |s| s.plan_put_link(None, link("b", 50_000)));
        let plan = state.plan_purge(NOW);
        assert_eq!(plan.len(), 2);
        state.apply(plan);
        assert_eq!(state.counts(), Counts { codes: 1, links: 1 });
    }

    #[test]
    fn a_device_code_s_code_is_kept_after_use_until_it_expires() {
        let mut state = State::default();
        let device_code = CodeHash::from_bytes([7; 32]);
        let polled = CodeRecord {
            device_code: Some(device_code),
            ..code(1, "tv", 20_000)
        };
        apply_ok(&mut state, |s| s.plan_issue_code(polled, NOW));
        let hash = CodeHash::from_bytes([1; 32]);
        apply_versioned(&mut state, |s| {
            s.plan_redeem(&hash, None, link("tv", 99_000))
        });
        let kept = state.code_by_device_code(&device_code).unwrap();
        assert_eq!(kept.state, CodeState::Redeemed);
        assert!(!kept.is_live(NOW), "a used code cannot be entered again");
        assert!(matches!(
            state.plan_issue_code(code(1, "other", 30_000), NOW),
            Err(StoreError::CodeTaken)
        ));
        state.apply(state.plan_purge(Timestamp::from_unix_millis(20_000)));
        assert!(state.code_by_device_code(&device_code).is_none());
    }

    #[test]
    fn only_a_used_code_is_exchanged_and_the_exchange_spends_it() {
        let mut state = State::default();
        let device_code = CodeHash::from_bytes([7; 32]);
        let polled = CodeRecord {
            device_code: Some(device_code),
            ..code(1, "tv", 20_000)
        };
        apply_ok(&mut state, |s| s.plan_issue_code(polled, NOW));
        let hash = CodeHash::from_bytes([1; 32]);
        assert!(
            matches!(
                state.plan_exchange(&hash, None, link("tv", 99_000)),
                Err(StoreError::Conflict)
            ),
            "a pending code has no link to exchange for"
        );
        let version = apply_versioned(&mut state, |s| {
            s.plan_redeem(&hash, None, link("tv", 99_000))
        });
        assert!(matches!(
            state.plan_exchange(&hash, Some(version), link("other", 99_000)),
            Err(StoreError::Conflict)
        ));
        apply_versioned(&mut state, |s| {
            s.plan_exchange(&hash, Some(version), link("tv", 99_000))
        });
        assert!(state.code(&hash).is_none());
        assert!(state.code_by_device_code(&device_code).is_none());
        assert!(matches!(
            state.plan_exchange(&hash, Some(version + 1), link("tv", 99_000)),
            Err(StoreError::Conflict)
        ));
    }

    #[test]
    fn a_denied_code_cannot_be_redeemed() {
        let mut state = State::default();
        apply_ok(&mut state, |s| {
            s.plan_issue_code(code(1, "tv", 20_000), NOW)
        });
        let hash = CodeHash::from_bytes([1; 32]);
        state.apply(
            state
                .plan_code_state(&hash, CodeState::Denied, None)
                .unwrap(),
        );
        assert!(matches!(
            state.plan_redeem(&hash, None, link("tv", 99_000)),
            Err(StoreError::Conflict)
        ));
    }
}

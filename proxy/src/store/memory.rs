//! The in-memory backend: nothing survives a restart. For tests and throw-away gateways.

use super::Result;
use super::journaled::{Journal, JournaledStore};
use super::state::{Change, State};

/// A journal that keeps nothing.
pub struct Volatile;

impl Journal for Volatile {
    const BLOCKING: bool = false;

    fn commit(&self, _changes: &[Change]) -> Result<()> {
        Ok(())
    }
}

pub type MemoryStore = JournaledStore<Volatile>;

impl MemoryStore {
    pub fn new() -> Self {
        JournaledStore::with_journal(State::default(), Volatile)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

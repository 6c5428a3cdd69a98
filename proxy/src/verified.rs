//! Signed tokens checked once. Checking a signature (and decoding the JWT around it) costs
//! more than answering the request it comes with, so the claims of a token that passed are
//! remembered, keyed by the token itself, until the token expires. Whatever depends on the
//! request (the requestor, the resource, the time) is still checked on every use.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::sync::Cache;

use linkgate_domain::device_token::DeviceClaims;
use linkgate_domain::media_token::MediaClaims;

/// Claims that end: remembered no longer than their `exp` (Unix seconds).
pub trait Expiring: Send + Sync + 'static {
    fn exp(&self) -> i64;
}

impl Expiring for MediaClaims {
    fn exp(&self) -> i64 {
        self.exp
    }
}

impl Expiring for DeviceClaims {
    fn exp(&self) -> i64 {
        self.exp
    }
}

/// Evicts an entry when its token expires (the wall clock: eviction only, never validity).
struct UntilExp;

impl<C: Expiring> Expiry<Box<str>, Arc<C>> for UntilExp {
    fn expire_after_create(
        &self,
        _token: &Box<str>,
        claims: &Arc<C>,
        _at: Instant,
    ) -> Option<Duration> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        Some(Duration::from_secs(
            u64::try_from(claims.exp()).unwrap_or(0).saturating_sub(now),
        ))
    }
}

/// A bounded memory of the claims of tokens that passed their signature check. Keyed by a
/// fast seeded hash rather than SipHash (hashing the whole token was a visible part of a
/// cached call): only tokens that passed the check are ever stored, so nobody can choose
/// colliding keys to flood it.
pub struct Verified<C> {
    cache: Cache<Box<str>, Arc<C>, foldhash::fast::RandomState>,
}

impl<C: Expiring> Verified<C> {
    /// At most `capacity` tokens (each costs its length and its claims).
    pub fn new(capacity: u64) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExp)
                .build_with_hasher(foldhash::fast::RandomState::default()),
        }
    }

    /// The claims of `token` when it passed its check before.
    pub fn recall(&self, token: &str) -> Option<Arc<C>> {
        self.cache.get(token)
    }

    /// The remembered claims of `token`, or `verify`'s, remembered when it passes. A refusal
    /// is not remembered: the next try checks again.
    pub fn claims<E>(
        &self,
        token: &str,
        verify: impl FnOnce() -> Result<C, E>,
    ) -> Result<Arc<C>, E> {
        if let Some(claims) = self.recall(token) {
            return Ok(claims);
        }
        let claims = Arc::new(verify()?);
        self.cache.insert(token.into(), Arc::clone(&claims));
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    struct Claims(i64);

    impl Expiring for Claims {
        fn exp(&self) -> i64 {
            self.0
        }
    }

    fn far() -> i64 {
        i64::MAX / 2
    }

    #[test]
    fn a_token_is_verified_once_and_a_refusal_never_remembered() {
        let verified = Verified::new(10);
        let calls = Cell::new(0);
        let verify = |ok: bool| {
            calls.set(calls.get() + 1);
            if ok { Ok(Claims(far())) } else { Err("bad") }
        };
        assert_eq!(verified.claims("t1", || verify(false)).err(), Some("bad"));
        assert_eq!(verified.claims("t1", || verify(false)).err(), Some("bad"));
        assert_eq!(calls.get(), 2, "refusals are checked every time");
        assert!(verified.claims("t1", || verify(true)).is_ok());
        assert!(verified.claims("t1", || verify(false)).is_ok());
        assert_eq!(calls.get(), 3, "a token that passed is not checked again");
        assert!(
            verified.claims("t2", || verify(false)).is_err(),
            "another token is"
        );
    }

    #[test]
    fn an_expired_token_is_not_kept() {
        let verified = Verified::new(10);
        assert!(verified.claims::<()>("old", || Ok(Claims(1))).is_ok());
        verified.cache.run_pending_tasks();
        assert!(verified.claims("old", || Err("checked again")).is_err());
    }
}

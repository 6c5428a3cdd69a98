//! Inline media token checks. A signature check costs more than proxying a request, so a
//! token is verified once and its claims remembered until it expires; expiry, requestor
//! and resource are still checked on every request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;

use linkgate_domain::media_token::{MediaClaims, MediaKeys, TokenError};
use linkgate_domain::time::Timestamp;

/// Bound on remembered tokens (a few hundred bytes each).
const CAPACITY: u64 = 50_000;

struct UntilExpiry;

impl Expiry<String, Arc<MediaClaims>> for UntilExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        claims: &Arc<MediaClaims>,
        _at: Instant,
    ) -> Option<Duration> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        Some(Duration::from_secs(
            u64::try_from(claims.exp).unwrap_or(0).saturating_sub(now),
        ))
    }
}

pub struct VerifiedTokens {
    cache: Cache<String, Arc<MediaClaims>>,
}

impl VerifiedTokens {
    pub fn new() -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(CAPACITY)
                .expire_after(UntilExpiry)
                .build(),
        }
    }

    pub async fn check(
        &self,
        keys: &MediaKeys,
        token: &str,
        requestor: &str,
        resource: &str,
        now: Timestamp,
    ) -> Result<Arc<MediaClaims>, TokenError> {
        if let Some(claims) = self.cache.get(token).await {
            claims.check(requestor, resource, now)?;
            return Ok(claims);
        }
        let claims = Arc::new(keys.verify(token, requestor, resource, now)?);
        self.cache
            .insert(token.to_owned(), Arc::clone(&claims))
            .await;
        Ok(claims)
    }
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self::new()
    }
}

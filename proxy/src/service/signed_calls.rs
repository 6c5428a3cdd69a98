//! Calls signed with Adobe v1's `Authorization` header: the signature is checked by the
//! requestor's policy; what is kept here is the memory of nonces, so that a signed call is
//! answered once.

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use linkgate_crds::MAX_SIGNED_CALL_WINDOW_SECONDS;
use linkgate_domain::requestor::RequestorPolicy;
use linkgate_domain::signed_call::SignedCall;
use linkgate_domain::time::Clock;

use super::DeviceAuthError;

/// Nonces remembered at once. A nonce costs about 150 bytes; a process answering more
/// signed calls than this in twice the window forgets the oldest first.
const NONCES: u64 = 500_000;

pub struct SignedCalls {
    /// Requestor, public key and nonce of every call accepted, for as long as a call with
    /// that nonce could still be within the window (its time may be ahead of ours).
    nonces: moka::sync::Cache<String, ()>,
    clock: Arc<dyn Clock>,
}

impl SignedCalls {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let ttl = Duration::from_secs(2 * u64::from(MAX_SIGNED_CALL_WINDOW_SECONDS));
        Self {
            nonces: moka::sync::Cache::builder()
                .max_capacity(NONCES)
                .time_to_live(ttl)
                .build(),
            clock,
        }
    }

    /// Whether `call` is a fresh signature of this call by one of `requestor`'s apps.
    pub fn verify(
        &self,
        requestor: &RequestorPolicy,
        call: &SignedCall<'_>,
        method: &Method,
        path: &str,
    ) -> Result<(), DeviceAuthError> {
        let mut ids = vec![requestor.name.as_str()];
        ids.extend(requestor.adobe.requestor_id.as_deref());
        requestor
            .adobe
            .signed_apps
            .verify(call, &ids, method.as_str(), path, self.clock.now())
            .map_err(DeviceAuthError::Signed)?;
        // Remembered only once the signature holds: no one else can use up an app's nonces.
        let key = format!("{}\0{}\0{}", requestor.name, call.public_key, call.nonce);
        if self.nonces.entry(key).or_insert(()).is_fresh() {
            Ok(())
        } else {
            Err(DeviceAuthError::Replayed)
        }
    }
}

//! Registering a requestor's server-to-server clients with a software statement (RFC 7591)
//! and issuing their access tokens (the client-credentials grant).

use std::sync::Arc;

use parking_lot::Mutex;
use rand::Rng;
use rand::rngs::StdRng;

use super::Error;
use linkgate_domain::clients::{ClientError, ClientKey, ClientKind, Statement};
use linkgate_domain::code::CodeKey;
use linkgate_domain::requestor::{ClientPolicy, RequestorPolicy};
use linkgate_domain::time::{Clock, Timestamp};

/// A client, as registered.
pub struct Registered {
    pub client_id: String,
    pub client_secret: String,
    pub software_id: String,
    pub software_version: Option<String>,
    pub issued_at: Timestamp,
}

pub struct Clients {
    key: ClientKey,
    clock: Arc<dyn Clock>,
    rng: Mutex<StdRng>,
}

impl Clients {
    pub fn new(code_key: &CodeKey, clock: Arc<dyn Clock>, rng: StdRng) -> Self {
        Self {
            key: ClientKey::new(
                code_key.derive("client-secrets"),
                code_key.derive("access-tokens"),
            ),
            clock,
            rng: Mutex::new(rng),
        }
    }

    fn policy(requestor: &RequestorPolicy) -> Result<&ClientPolicy, Error> {
        requestor.clients.as_ref().ok_or(Error::ClientsDisabled)
    }

    /// Registers a client of `kind` of `requestor` for the software `statement` vouches for.
    pub fn register(
        &self,
        requestor: &RequestorPolicy,
        statement: &str,
        kind: ClientKind,
    ) -> Result<Registered, Error> {
        let policy = Self::policy(requestor)?;
        let now = self.clock.now();
        let statement = Statement::verify(statement, &policy.statement_keys, &requestor.name, now)?;
        let instance: u64 = self.rng.lock().random();
        let client_id = kind.client_id(&requestor.name, &statement.software_id, instance);
        Ok(Registered {
            client_secret: self.key.client_secret(&requestor.name, &client_id),
            client_id,
            software_id: statement.software_id,
            software_version: statement.software_version,
            issued_at: now,
        })
    }

    /// An access token, its lifetime in seconds and when it was issued, for a client with
    /// its secret.
    pub fn token(
        &self,
        requestor: &RequestorPolicy,
        client_id: &str,
        secret: &str,
    ) -> Result<(String, u32, Timestamp), Error> {
        let policy = Self::policy(requestor)?;
        self.key.check_secret(&requestor.name, client_id, secret)?;
        if policy.revoked.contains(client_id) {
            return Err(ClientError::Client.into());
        }
        let now = self.clock.now();
        let ttl = policy.access_token_ttl_seconds;
        let token = self.key.access_token(&requestor.name, client_id, now, ttl);
        Ok((token, ttl, now))
    }

    /// Whether `token` is a live access token of one of `requestor`'s clients of `kind`,
    /// not revoked.
    pub fn authenticates(
        &self,
        requestor: &RequestorPolicy,
        token: &str,
        kind: ClientKind,
    ) -> bool {
        let Some(policy) = &requestor.clients else {
            return false;
        };
        self.key
            .verify_access_token(token, &requestor.name, self.clock.now())
            .is_ok_and(|client| {
                ClientKind::of(&client) == kind && !policy.revoked.contains(&client)
            })
    }
}

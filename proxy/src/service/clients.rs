//! Registering a requestor's server-to-server clients with a software statement (RFC 7591)
//! and issuing their access tokens (the client-credentials grant).

use std::sync::Arc;

use parking_lot::Mutex;
use rand::Rng;
use rand::rngs::StdRng;

use super::Error;
use linkgate_domain::clients::{ClientError, ClientKey, Statement};
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

    /// Registers a client of `requestor` for the software `statement` vouches for.
    pub fn register(
        &self,
        requestor: &RequestorPolicy,
        statement: &str,
    ) -> Result<Registered, Error> {
        let policy = Self::policy(requestor)?;
        let now = self.clock.now();
        let statement = Statement::verify(statement, &policy.statement_keys, &requestor.name, now)?;
        let instance: u64 = self.rng.lock().random();
        let client_id = format!("{}.{instance:016x}", statement.software_id);
        Ok(Registered {
            client_secret: self.key.client_secret(&requestor.name, &client_id),
            client_id,
            software_id: statement.software_id,
            software_version: statement.software_version,
            issued_at: now,
        })
    }

    /// An access token and its lifetime in seconds, for a client with its secret.
    pub fn token(
        &self,
        requestor: &RequestorPolicy,
        client_id: &str,
        secret: &str,
    ) -> Result<(String, u32), Error> {
        let policy = Self::policy(requestor)?;
        self.key.check_secret(&requestor.name, client_id, secret)?;
        if policy.revoked.contains(client_id) {
            return Err(ClientError::Client.into());
        }
        let ttl = policy.access_token_ttl_seconds;
        let token = self
            .key
            .access_token(&requestor.name, client_id, self.clock.now(), ttl);
        Ok((token, ttl))
    }

    /// Whether `token` is a live access token of one of `requestor`'s clients, not revoked.
    pub fn authenticates(&self, requestor: &RequestorPolicy, token: &str) -> bool {
        let Some(policy) = &requestor.clients else {
            return false;
        };
        self.key
            .verify_access_token(token, &requestor.name, self.clock.now())
            .is_ok_and(|client| !policy.revoked.contains(&client))
    }
}

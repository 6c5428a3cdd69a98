//! Calling an HTTP endpoint of an MVPD's or a requestor's: a JSON question POSTed and a
//! bounded JSON answer read, within the endpoint's timeout, so that a slow or dead endpoint
//! is an error, never a hang.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::outbound::{Outbound, Reach};

use linkgate_domain::requestor::Webhook;

/// The largest answer read.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// Why no usable answer came.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("no answer within {0} ms")]
    Timeout(u128),
    #[error("unreachable: {0}")]
    Unavailable(String),
    #[error("an unusable answer: {0}")]
    InvalidAnswer(String),
}

#[derive(Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
    outbound: Arc<Outbound>,
}

impl WebhookClient {
    /// Endpoints are named by the configuration: called where `outbound` allows.
    pub fn new(outbound: Arc<Outbound>) -> Self {
        let builder = reqwest::Client::builder()
            .user_agent(concat!("linkgate/", env!("CARGO_PKG_VERSION")))
            // An endpoint answers where it was asked; a redirect could lead anywhere.
            .redirect(reqwest::redirect::Policy::none());
        Self {
            http: outbound
                .guard(builder, Reach::Configured)
                .build()
                .expect("a default HTTP client builds"),
            outbound,
        }
    }

    /// POSTs `question` to `hook` and reads its answer.
    pub async fn call<A: DeserializeOwned>(
        &self,
        hook: &Webhook,
        question: &impl Serialize,
    ) -> Result<A, WebhookError> {
        tokio::time::timeout(hook.timeout, self.exchange(hook, question))
            .await
            .map_err(|_| WebhookError::Timeout(hook.timeout.as_millis()))?
    }

    async fn exchange<A: DeserializeOwned>(
        &self,
        hook: &Webhook,
        question: &impl Serialize,
    ) -> Result<A, WebhookError> {
        if let Err(refused) = self.outbound.check_literal(&hook.url, Reach::Configured) {
            // The address for the operator; the message may reach devices.
            tracing::warn!(error = %refused, "an endpoint was not called");
            return Err(WebhookError::Unavailable(
                "not an address this gateway calls".into(),
            ));
        }
        let mut response = self
            .http
            .post(hook.url.clone())
            .json(question)
            .send()
            .await
            .map_err(unavailable)?;
        if !response.status().is_success() {
            return Err(WebhookError::InvalidAnswer(format!(
                "status {}",
                response.status()
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unavailable)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(WebhookError::InvalidAnswer("answer too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| WebhookError::InvalidAnswer(e.to_string()))
    }
}

/// Why an endpoint could not be reached, without its URL: it may carry a key in its query,
/// and the message reaches devices.
fn unavailable(e: reqwest::Error) -> WebhookError {
    WebhookError::Unavailable(e.without_url().to_string())
}

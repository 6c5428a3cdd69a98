//! Asking an MVPD's decision point: static rules answer at once, a webhook over HTTP with
//! the MVPD's timeout, so a slow or dead webhook is an error, never a hang.

use serde::{Deserialize, Serialize};

use crate::domain::decision::{self, Decision};
use crate::domain::requestor::{DecisionPoint, Mvpd};

/// The largest webhook answer read.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// Why no decision could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    #[error("the decision point did not answer within {0} ms")]
    Timeout(u128),
    #[error("the decision point is unreachable: {0}")]
    Unavailable(String),
    #[error("the decision point answered something unusable: {0}")]
    InvalidAnswer(String),
}

/// What a webhook is asked.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Question<'a> {
    requestor: &'a str,
    mvpd: &'a str,
    user_id: &'a str,
    device_id: &'a str,
    resources: &'a [String],
}

#[derive(Deserialize)]
struct Answer {
    decisions: Vec<Decision>,
}

/// Who is asking about which resources.
pub struct Ask<'a> {
    pub requestor: &'a str,
    pub user: &'a str,
    pub device: &'a str,
    pub resources: &'a [String],
}

#[derive(Clone)]
pub struct DecisionClient {
    http: reqwest::Client,
}

impl DecisionClient {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .user_agent(concat!("linkgate/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("a default HTTP client builds"),
        }
    }

    /// One decision per resource asked, in order.
    pub async fn decide(&self, mvpd: &Mvpd, ask: Ask<'_>) -> Result<Vec<Decision>, DecisionError> {
        match &mvpd.decision {
            DecisionPoint::Static { allow_all, allow } => {
                Ok(decision::static_decisions(*allow_all, allow, ask.resources))
            }
            DecisionPoint::Webhook { url, timeout } => {
                let question = Question {
                    requestor: ask.requestor,
                    mvpd: &mvpd.id,
                    user_id: ask.user,
                    device_id: ask.device,
                    resources: ask.resources,
                };
                let call = self.webhook(url.clone(), &question);
                let answered = tokio::time::timeout(*timeout, call)
                    .await
                    .map_err(|_| DecisionError::Timeout(timeout.as_millis()))??;
                Ok(decision::complete(ask.resources, answered))
            }
        }
    }

    async fn webhook(
        &self,
        url: url::Url,
        question: &Question<'_>,
    ) -> Result<Vec<Decision>, DecisionError> {
        let mut response = self
            .http
            .post(url)
            .json(question)
            .send()
            .await
            .map_err(|e| DecisionError::Unavailable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(DecisionError::InvalidAnswer(format!(
                "status {}",
                response.status()
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| DecisionError::Unavailable(e.to_string()))?
        {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(DecisionError::InvalidAnswer("answer too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        let answer: Answer = serde_json::from_slice(&body)
            .map_err(|e| DecisionError::InvalidAnswer(e.to_string()))?;
        Ok(answer.decisions)
    }
}

impl Default for DecisionClient {
    fn default() -> Self {
        Self::new()
    }
}

//! Asking an MVPD's decision point: static rules answer at once, a webhook over HTTP
//! within the MVPD's timeout.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use linkgate_domain::decision::{self, Decision};
use linkgate_domain::requestor::{DecisionPoint, Mvpd};

use super::outbound::Outbound;
use super::webhook::WebhookClient;
pub use super::webhook::WebhookError as DecisionError;

/// What a webhook is asked.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Question<'a> {
    requestor: &'a str,
    mvpd: &'a str,
    user_id: &'a str,
    device_id: &'a str,
    resources: &'a [String],
    /// The MRSS document of each resource that came as one, by its ID.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    documents: &'a BTreeMap<&'a str, &'a str>,
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
    pub documents: BTreeMap<&'a str, &'a str>,
}

#[derive(Clone)]
pub struct DecisionClient {
    webhooks: WebhookClient,
}

impl DecisionClient {
    pub fn new(outbound: Arc<Outbound>) -> Self {
        Self {
            webhooks: WebhookClient::new(outbound),
        }
    }

    /// One decision per resource asked, in order.
    pub async fn decide(&self, mvpd: &Mvpd, ask: Ask<'_>) -> Result<Vec<Decision>, DecisionError> {
        match &mvpd.decision {
            DecisionPoint::Static { allow_all, allow } => {
                Ok(decision::static_decisions(*allow_all, allow, ask.resources))
            }
            DecisionPoint::Webhook(hook) => {
                let question = Question {
                    requestor: ask.requestor,
                    mvpd: &mvpd.id,
                    user_id: ask.user,
                    device_id: ask.device,
                    resources: ask.resources,
                    documents: &ask.documents,
                };
                let answer: Answer = self.webhooks.call(hook, &question).await?;
                Ok(decision::complete(ask.resources, answer.decisions))
            }
        }
    }
}

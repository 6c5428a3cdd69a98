//! Asking a requestor's account webhook who the user of a link is (seed 004's callbacks).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::outbound::Outbound;
use super::webhook::{WebhookClient, WebhookError};
use linkgate_domain::account::AccountAnswer;
use linkgate_domain::code::{AwaitingUser, CodeRecord};
use linkgate_domain::requestor::Webhook;

/// What the webhook is asked.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Question<'a> {
    requestor: &'a str,
    device_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mvpd: Option<&'a str>,
    user_id: &'a str,
    metadata: &'a BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Reply {
    answer: serde_json::Value,
}

#[derive(Clone)]
pub struct AccountClient {
    webhooks: WebhookClient,
}

impl AccountClient {
    pub fn new(outbound: Arc<Outbound>) -> Self {
        Self {
            webhooks: WebhookClient::new(outbound),
        }
    }

    /// The backend's answer about `asked`, the user a link with `code` is asked for.
    pub async fn resolve(
        &self,
        hook: &Webhook,
        code: &CodeRecord,
        asked: &AwaitingUser,
    ) -> Result<AccountAnswer, WebhookError> {
        let question = Question {
            requestor: &code.requestor,
            device_id: code.device.as_str(),
            device_type: code.device_type.as_deref(),
            mvpd: asked.mvpd.as_deref(),
            user_id: asked.user.as_str(),
            metadata: &asked.metadata,
        };
        let reply: Reply = self.webhooks.call(hook, &question).await?;
        AccountAnswer::parse(&reply.answer).map_err(WebhookError::InvalidAnswer)
    }
}

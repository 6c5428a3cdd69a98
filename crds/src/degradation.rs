//! Degraded access: while an MVPD is down, the programmer answers for it by a rule, as
//! Adobe Pass's degradation rules do.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A rule standing in for an MVPD, until an end time if given.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DegradationSpec {
    pub rule: DegradationRule,
    /// When the rule stops applying (RFC 3339); without it, until it is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub until: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DegradationRule {
    /// Every device that asks counts as authenticated at the MVPD (its sign-in is down),
    /// and is authorized.
    AuthnAll,
    /// Every authenticated device is authorized without asking the MVPD.
    AuthzAll,
    /// Every authenticated device is refused without asking the MVPD.
    AuthzNone,
}

impl DegradationRule {
    /// The rule as the spec spells it, for logs, metric labels and Events.
    pub fn as_str(self) -> &'static str {
        match self {
            DegradationRule::AuthnAll => "authnAll",
            DegradationRule::AuthzAll => "authzAll",
            DegradationRule::AuthzNone => "authzNone",
        }
    }
}

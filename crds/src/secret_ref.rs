use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A key of a Secret in the object's namespace. The standalone gateway resolves it against
/// the `secrets` section of its configuration file instead.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeyRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key within the Secret's data.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

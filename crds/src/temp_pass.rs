//! TempPass: an MVPD that gives each device one free window of access, as Adobe Pass's
//! TempPass does, and the windows devices have used.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Marks an MVPD as a TempPass: nobody signs in with it; each device that asks gets one
/// window, and is authorized by the MVPD's `decision` rules while it is open.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TempPassSpec {
    /// How long a device's window lasts.
    #[schemars(range(min = 1, max = 2_592_000))]
    pub duration_seconds: u32,
}

/// A device's window at a TempPass MVPD: open until `endsAt`, then spent until reset.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TempPassWindowSpec {
    /// The TempPass MVPD.
    #[schemars(length(min = 1, max = 64))]
    pub mvpd: String,
    /// When the device opened it.
    pub started_at: MicroTime,
    /// When it ended, or ends.
    pub ends_at: MicroTime,
}

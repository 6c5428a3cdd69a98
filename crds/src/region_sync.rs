use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Names the region an object was written in, on its copies in other regions: what a
/// region received is never pushed back from there.
pub const ORIGIN_REGION_ANNOTATION: &str = "linkgate.dev/origin-region";

/// The region a copy came from; `None` for an object authored where it is.
pub fn origin_of(object: &impl kube::Resource) -> Option<&str> {
    object
        .meta()
        .annotations
        .as_ref()?
        .get(ORIGIN_REGION_ANNOTATION)
        .map(String::as_str)
}

/// How far one peer region is in step with the origin object, as its origin's operator
/// last pushed it. Each peer's entry is written by a field manager of its own.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegionSync {
    /// The peer region.
    pub region: String,
    /// What the region holds of this object: the DeviceLink revision, or the Requestor
    /// generation, last pushed there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced: Option<String>,
    /// When the region last acknowledged a push of this object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync: Option<MicroTime>,
    /// Milliseconds from the write here to its acknowledgement there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_millis: Option<i64>,
    /// Why the last push failed, until one succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

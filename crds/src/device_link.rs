use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, MicroTime, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::RegionSync;

/// The link of one device of one requestor to its user(s).
// Each printcolumn(...) repeats the same keys, which clippy mistakes for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "linkgate.dev",
    version = "v1alpha1",
    kind = "DeviceLink",
    namespaced,
    status = "DeviceLinkStatus",
    shortname = "dl",
    category = "linkgate",
    doc = "One device of a requestor: its pending registration code and its linked users.",
    printcolumn(name = "Requestor", type_ = "string", json_path = ".spec.requestor"),
    printcolumn(name = "Device", type_ = "string", json_path = ".spec.deviceId"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "MVPD", type_ = "string", json_path = ".spec.users[0].mvpd"),
    // A time, not an age: kubectl shows a `date` column in the future as `<invalid>`. Once
    // linked, the latest user's sign-in; before, the pending code.
    printcolumn(name = "Expires", type_ = "string", json_path = ".status.expiresAt"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
// One write of a link replaces all of it, whoever applies it (a proxy, or replication from
// another region): no field of an older write may outlive it.
#[schemars(extend("x-kubernetes-map-type" = "atomic"))]
pub struct DeviceLinkSpec {
    /// Name of the Requestor this device belongs to.
    #[schemars(length(min = 1, max = 63))]
    pub requestor: String,
    /// The device's own identifier: letters, digits, `_`, `-` and `=`.
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[A-Za-z0-9_=-]+$"))]
    pub device_id: String,
    /// The registration code the device is showing, while one is live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<PendingCodeSpec>,
    /// The users linked to the device.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<LinkedUserSpec>,
    /// The credential the device holds once it has exchanged its device secret for tokens;
    /// removing it (or the link) revokes the device's tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<DeviceCredentialSpec>,
    /// When the link was revoked; a revoked link is kept as a tombstone until it could have
    /// expired, so that a late copy cannot bring it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<MicroTime>,
    /// The region whose proxy created the link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_region: Option<String>,
    /// Orders writes of the same link across regions: `<milliseconds>-<counter>-<region>`
    /// of the latest write (see `Revision`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+-[0-9]+-[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub revision: Option<String>,
    /// The device's TempPass windows, open or spent: kept when its link and code go, until
    /// the requestor's backend resets them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub temp_passes: Vec<crate::TempPassWindowSpec>,
}

/// The device's registration code, known only by its keyed hash. Kept until it expires.
/// An Adobe v2 session's domain and return address, kept with its code.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionParamsSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub redirect_url: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PendingCodeSpec {
    /// Hex HMAC-SHA256 of the normalised code; the code itself is never stored.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub hash: String,
    /// Identifies this issue of the code.
    #[schemars(length(min = 1, max = 64))]
    pub id: String,
    /// When the code was issued.
    pub issued_at: MicroTime,
    /// When the code stops being accepted.
    pub expires_at: MicroTime,
    /// The MVPD the device preselected, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mvpd: Option<String>,
    /// The kind of device, as it described itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub device_type: Option<String>,
    /// Roughly where the device asked from: its network, never its address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub requested_from: Option<String>,
    /// What an Adobe v2 authentication session asked for with the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionParamsSpec>,
    /// Hex keyed hash of the RFC 8628 device code polling for this code, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub device_code: Option<String>,
    /// Where the code is in its life; a code polled for by a device code is kept after use
    /// or refusal so the poll learns the outcome.
    #[serde(default)]
    pub state: CodeStateSpec,
    /// The user waiting for the requestor's approval, while the code is `Approving`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<AwaitingUserSpec>,
}

/// A link asked for and held until the requestor's backend approves it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwaitingUserSpec {
    /// The user the link was asked for.
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[A-Za-z0-9_=-]+$"))]
    pub user_id: String,
    /// The MVPD the user signed in with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mvpd: Option<String>,
    /// What was told about the user.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// The life of a registration code.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum CodeStateSpec {
    /// Waiting for a user.
    #[default]
    Pending,
    /// A user linked the device with it.
    Redeemed,
    /// The user or the requestor refused it.
    Denied,
    /// A user asked for the link; the requestor's backend has yet to approve it.
    Approving,
}

/// One user linked to the device.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkedUserSpec {
    /// The user's identifier: letters, digits, `_`, `-` and `=`.
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[A-Za-z0-9_=-]+$"))]
    pub user_id: String,
    /// The MVPD the user signed in with; absent for account links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mvpd: Option<String>,
    /// When the user linked the device.
    pub linked_at: MicroTime,
    /// When this user's authentication of the device expires.
    pub authn_expires_at: MicroTime,
    /// What the MVPD or the requestor's backend told about the user.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// A device's token family: no token is stored, only what checks one.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceCredentialSpec {
    /// Random identifier of the family every access and refresh token of the device names.
    #[schemars(regex(pattern = r"^[0-9a-f]{32}$"))]
    pub family: String,
    /// The sequence number of the family's current refresh token; a lower one presented
    /// again is a replay and revokes the family.
    #[schemars(range(min = 1))]
    pub refresh_sequence: u64,
}

/// The lifecycle of a device link.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum DeviceLinkPhase {
    /// A code is live and no user is linked yet.
    Pending,
    /// At least one user is linked and authenticated.
    Linked,
    /// Every user's authentication has expired.
    Expired,
    /// The link was revoked.
    Revoked,
    /// Nothing but TempPass windows is left (open, or spent and kept until reset).
    TempPass,
}

/// What the operator observed of a DeviceLink.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceLinkStatus {
    /// Where the link is in its lifecycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<DeviceLinkPhase>,
    /// When the link ends: once linked, when the latest user's sign-in expires; before,
    /// when the pending code does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Time>,
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions, by type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// On the copy in the region that wrote the latest revision: each peer region's copy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["region"]))]
    pub regions: Vec<RegionSync>,
}

//! The device headers of v2 calls: `AP-Device-Identifier` names the device, `X-Device-Info`
//! describes it.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use http::{HeaderMap, StatusCode};

use super::super::{ApiError, Call};
use linkgate_domain::ids::DeviceId;

/// The largest `X-Device-Info` read, encoded.
const MAX_DEVICE_INFO: usize = 4096;

/// The fingerprint `AP-Device-Identifier: fingerprint <base64>` carries, when it has that
/// form and decodes.
pub(in crate::api) fn fingerprint(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(HEADER)?
        .to_str()
        .ok()?
        .strip_prefix("fingerprint ")
        .map(str::trim)
        .filter(|f| {
            STANDARD
                .decode(f)
                .or_else(|_| STANDARD_NO_PAD.decode(f))
                .is_ok()
        })
}

/// The header naming the device of a v2 call.
pub const HEADER: &str = "AP-Device-Identifier";

/// The device `AP-Device-Identifier` names: its fingerprint's base64 text.
pub(in crate::api) fn identified(headers: &HeaderMap) -> Result<DeviceId, ApiError> {
    let refused = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_header_device_identifier",
            "AP-Device-Identifier must be `fingerprint <base64 of the device's ID>`",
        )
    };
    let fingerprint = fingerprint(headers).ok_or_else(refused)?;
    DeviceId::parse(fingerprint).map_err(|_| refused())
}

/// What `X-Device-Info` (base64 of a JSON object) says the device is, for people to
/// recognise it: its maker and model, else its kind. Absent is nothing; malformed or
/// oversized is refused.
pub(in crate::api) fn described(call: &Call<'_>) -> Result<Option<String>, ApiError> {
    let refused = |why: &str| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_header_device_info",
            format!("X-Device-Info must be base64 of a JSON object: {why}"),
        )
    };
    let Some(value) = call.headers.get("x-device-info") else {
        return Ok(None);
    };
    if value.len() > MAX_DEVICE_INFO {
        return Err(refused("too long"));
    }
    let decoded = STANDARD
        .decode(value.as_bytes())
        .or_else(|_| STANDARD_NO_PAD.decode(value.as_bytes()))
        .map_err(|_| refused("not base64"))?;
    let info: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&decoded).map_err(|_| refused("not a JSON object"))?;
    let field = |name: &str| {
        info.get(name)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 60)
    };
    let described = match (field("manufacturer"), field("model")) {
        (Some(maker), Some(model)) => Some(format!("{maker} {model}")),
        (None, Some(model)) => Some(model.to_owned()),
        _ => field("primaryHardwareType").map(str::to_owned),
    };
    Ok(described)
}

/// The device a call about one device is about, as the dispatcher identified and checked it.
pub(in crate::api) fn of(call: &Call<'_>) -> Result<DeviceId, ApiError> {
    call.device.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the route names no device",
        )
    })
}

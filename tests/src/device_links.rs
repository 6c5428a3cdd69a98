//! DeviceLinks for the operator tests, written as a proxy would, and waits on what the
//! operator does to them.

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;
use kube::api::PostParams;
use linkgate_crds::{DeviceLink, DeviceLinkPhase};
use serde_json::{Value, json};

use crate::kube::eventually;

/// `secs` from now as a spec time (microseconds, as the API writes them).
pub fn in_secs(secs: f64) -> String {
    let t = Timestamp::now() + SignedDuration::from_secs_f64(secs);
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A live or expired registration code of the link.
pub fn code(expires_in: f64, state: &str) -> Value {
    json!({"hash": "b".repeat(64), "id": "c1", "issuedAt": in_secs(-60.0),
           "expiresAt": in_secs(expires_in), "state": state})
}

/// A user whose authentication of the device expires in `authn_in` seconds.
pub fn user(id: &str, authn_in: f64) -> Value {
    json!({"userId": id, "mvpd": "test-mvpd", "linkedAt": in_secs(-60.0),
           "authnExpiresAt": in_secs(authn_in)})
}

/// Creates the DeviceLink `name` (device `name` of requestor `demo`) with `spec`'s fields.
pub async fn create(api: &Api<DeviceLink>, name: &str, spec: Value) -> DeviceLink {
    api.create(&PostParams::default(), &object(name, spec))
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e}"))
}

/// The DeviceLink `name` (device `name` of requestor `demo`) with `spec`'s fields.
pub fn object(name: &str, spec: Value) -> DeviceLink {
    let mut full = json!({"requestor": "demo", "deviceId": name});
    if let (Some(full), Some(spec)) = (full.as_object_mut(), spec.as_object()) {
        full.extend(spec.clone());
    }
    serde_json::from_value(json!({
        "apiVersion": "linkgate.dev/v1alpha1", "kind": "DeviceLink",
        "metadata": {"name": name}, "spec": full,
    }))
    .expect("a DeviceLink")
}

/// Waits until the link's status has `phase` for its current generation; returns it.
pub async fn phase(api: &Api<DeviceLink>, name: &str, phase: DeviceLinkPhase) -> DeviceLink {
    eventually(&format!("{name} in phase {phase:?}"), || async {
        let link = api.get_opt(name).await.expect("read")?;
        let status = link.status.as_ref()?;
        let current = status.observed_generation == link.metadata.generation;
        (current && status.phase == Some(phase)).then_some(link)
    })
    .await
}

/// Waits until the link no longer exists.
pub async fn deleted(api: &Api<DeviceLink>, name: &str) {
    eventually(&format!("{name} deleted"), || async {
        api.get_opt(name)
            .await
            .expect("read")
            .is_none()
            .then_some(())
    })
    .await;
}

//! Each peer's entry in the status of the objects pushed to it: what it holds, since when,
//! how late, or why the last push failed. Every peer's entry has a field manager of its
//! own, so entries are applied independently of each other and of the controllers' fields.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};
use linkgate_crds::RegionSync;
use serde_json::json;

use super::MANAGER;
use super::kind::{Pushed, Replicated};
use crate::error::{Error, Result};

/// The entry for `peer` after a push of `object` ended with `outcome` (the error's text
/// when it failed), or `None` when the recorded one still holds.
pub fn next_entry<K: Replicated>(
    object: &K,
    peer: &str,
    outcome: Result<&Pushed, &str>,
    now: Timestamp,
) -> Option<RegionSync> {
    let previous = object.regions().iter().find(|r| r.region == peer);
    match outcome {
        Ok(pushed) if pushed.in_step() => (!recorded_in_step(object, peer)).then(|| RegionSync {
            region: peer.into(),
            synced: Some(object.version()),
            last_sync: Some(MicroTime(now)),
            lag_millis: object.age_millis(),
            error: None,
        }),
        Ok(Pushed::Refused(why)) => failed(previous, peer, why),
        Ok(_) => None,
        Err(why) => failed(previous, peer, why),
    }
}

/// Whether the object's status records that `peer` holds this very copy.
pub fn recorded_in_step<K: Replicated>(object: &K, peer: &str) -> bool {
    let version = object.version();
    object
        .regions()
        .iter()
        .any(|r| r.region == peer && r.synced.as_ref() == Some(&version) && r.error.is_none())
}

fn failed(previous: Option<&RegionSync>, peer: &str, why: &str) -> Option<RegionSync> {
    if previous.is_some_and(|p| p.error.as_deref() == Some(why)) {
        return None;
    }
    let mut entry = previous.cloned().unwrap_or(RegionSync {
        region: peer.into(),
        synced: None,
        last_sync: None,
        lag_millis: None,
        error: None,
    });
    entry.error = Some(why.into());
    Some(entry)
}

/// Applies `entry` to the status of the local `object`.
pub async fn record<K: Replicated>(local: &Client, object: &K, entry: RegionSync) -> Result<()> {
    let ns = object.namespace().ok_or(Error::MissingNamespace)?;
    let api: Api<K> = Api::namespaced(local.clone(), &ns);
    let manager = format!("{MANAGER}-{}", entry.region);
    let patch = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": {"regions": [entry]},
    });
    api.patch_status(
        &object.name_any(),
        &PatchParams::apply(&manager).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use linkgate_crds::DeviceLink;
    use serde_json::json;

    use super::*;

    fn link(regions: serde_json::Value) -> DeviceLink {
        serde_json::from_value(json!({
            "apiVersion": "linkgate.dev/v1alpha1", "kind": "DeviceLink",
            "metadata": {"name": "demo.tv", "namespace": "ns"},
            "spec": {"requestor": "demo", "deviceId": "tv", "revision": "1000-0-a"},
            "status": {"regions": regions},
        }))
        .unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_push_records_the_revision_the_peer_now_holds() {
        let now = at("2026-11-25T10:00:00Z");
        let entry = next_entry(&link(json!([])), "b", Ok(&Pushed::Created), now).unwrap();
        assert_eq!(entry.region, "b");
        assert_eq!(entry.synced.as_deref(), Some("1000-0-a"));
        assert_eq!(entry.last_sync, Some(MicroTime(now)));
        assert!(entry.lag_millis.is_some_and(|lag| lag > 0));
        assert_eq!(entry.error, None);
    }

    #[test]
    fn what_is_recorded_already_is_not_written_again() {
        let synced = link(json!([{"region": "b", "synced": "1000-0-a"}]));
        let now = at("2026-11-25T10:00:00Z");
        assert_eq!(next_entry(&synced, "b", Ok(&Pushed::Skipped), now), None);
        // Another peer's entry says nothing of this one.
        assert!(next_entry(&synced, "c", Ok(&Pushed::Skipped), now).is_some());
        // Taken over by a newer write of another region: no longer this region's to tell.
        assert_eq!(
            next_entry(&link(json!([])), "b", Ok(&Pushed::Pulled), now),
            None
        );
    }

    #[test]
    fn a_failure_keeps_what_the_peer_last_held_and_is_written_once() {
        let synced = link(json!([{"region": "b", "synced": "900-0-a",
                                   "lastSync": "2026-11-25T09:00:00Z"}]));
        let now = at("2026-11-25T10:00:00Z");
        let entry = next_entry(&synced, "b", Err("connection refused"), now).unwrap();
        assert_eq!(entry.synced.as_deref(), Some("900-0-a"));
        assert_eq!(entry.error.as_deref(), Some("connection refused"));
        let failing = link(serde_json::to_value([&entry]).unwrap());
        assert_eq!(
            next_entry(&failing, "b", Err("connection refused"), now),
            None
        );
        // The next success clears the error.
        let healed = next_entry(&failing, "b", Ok(&Pushed::Replaced), now).unwrap();
        assert_eq!(
            (healed.synced.as_deref(), healed.error),
            (Some("1000-0-a"), None)
        );
    }
}

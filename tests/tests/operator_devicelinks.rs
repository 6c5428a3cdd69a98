//! The operator against a real API server collects what has expired in DeviceLinks —
//! codes, users, whole links, tombstones in their time — and reports each link's phase and
//! next expiry in its status.

use k8s_openapi::jiff::Timestamp;
use kube::Api;
use linkgate_crds::{DeviceLink, DeviceLinkPhase};
use linkgate_tests::device_links::{code, create, deleted, in_secs, phase, user};
use linkgate_tests::kube::eventually;
use linkgate_tests::operator::Operator;
use serde_json::json;
use tempfile::NamedTempFile;

/// The operator in a namespace of its own, running as the shipped ClusterRole allows
/// (keep the kubeconfig file while it runs), and the DeviceLinks there.
async fn setup() -> ((Operator, NamedTempFile), Api<DeviceLink>) {
    let client = linkgate_tests::kube::client().await;
    linkgate_tests::kube::install_crds(&client).await;
    let ns = linkgate_tests::kube::create_namespace(&client, "devicelinks").await;
    let operator = Operator::start_as_service_account(&client, &ns, "operator-0", &[]).await;
    (operator, Api::namespaced(client, &ns))
}

#[tokio::test]
async fn expired_codes_and_users_are_removed_and_empty_links_deleted() {
    let (_operator, links) = setup().await;
    // A device showing a code nobody enters: pending, then gone with its code (which lives
    // long enough to be seen pending on an API server that has only just started).
    create(&links, "waiting", json!({"code": code(6.0, "Pending")})).await;
    // A linked device whose code was just redeemed: the code goes, the link stays.
    let linked = user("alice", 3600.0);
    let authn = linked["authnExpiresAt"].clone();
    create(
        &links,
        "linked",
        json!({"code": code(2.0, "Redeemed"), "users": [linked]}),
    )
    .await;
    // Two users, one of them long expired: that one goes.
    create(
        &links,
        "shared",
        json!({"users": [user("gone", -60.0), user("bob", 3600.0)]}),
    )
    .await;
    // Nothing live at all: deleted.
    create(&links, "stale", json!({"users": [user("carol", -1.0)]})).await;

    let waiting = phase(&links, "waiting", DeviceLinkPhase::Pending).await;
    let expires = waiting
        .status
        .and_then(|s| s.expires_at)
        .expect("expiresAt");
    let code_expiry = waiting.spec.code.expect("a code").expires_at;
    assert_eq!(expires.0.as_second(), code_expiry.0.as_second());

    deleted(&links, "stale").await;
    let shared = phase(&links, "shared", DeviceLinkPhase::Linked).await;
    let users: Vec<_> = shared
        .spec
        .users
        .iter()
        .map(|u| u.user_id.as_str())
        .collect();
    assert_eq!(users, ["bob"]);

    deleted(&links, "waiting").await;
    assert!(
        Timestamp::now() >= code_expiry.0,
        "deleted before its code expired"
    );
    let linked = eventually("the redeemed code removed", || async {
        let link = links.get("linked").await.expect("the link stays");
        link.spec.code.is_none().then_some(link)
    })
    .await;
    assert_eq!(linked.spec.users.len(), 1, "the user stays");
    let linked = phase(&links, "linked", DeviceLinkPhase::Linked).await;
    // With the code gone, the next expiry is the user's authentication.
    let expires = linked.status.and_then(|s| s.expires_at).expect("expiresAt");
    assert_eq!(expires.0.as_second(), timestamp(&authn).as_second());
}

#[tokio::test]
async fn revoked_links_stay_as_tombstones_until_their_users_authn_expires() {
    let (_operator, links) = setup().await;
    let alice = user("alice", 4.0);
    let authn_expiry = timestamp(&alice["authnExpiresAt"]);
    create(
        &links,
        "revoked",
        json!({"users": [alice], "revokedAt": in_secs(0.0)}),
    )
    .await;
    create(
        &links,
        "revoked-long-ago",
        json!({"users": [user("bob", -30.0)], "revokedAt": in_secs(-60.0)}),
    )
    .await;

    let tombstone = phase(&links, "revoked", DeviceLinkPhase::Revoked).await;
    assert!(tombstone.status.and_then(|s| s.expires_at).is_some());
    assert_eq!(tombstone.spec.users.len(), 1, "a tombstone is kept whole");
    deleted(&links, "revoked-long-ago").await;
    // Once alice's authentication has expired, nothing is left to guard against; not before.
    deleted(&links, "revoked").await;
    assert!(
        Timestamp::now() >= authn_expiry,
        "the tombstone went too early"
    );
}

fn timestamp(time: &serde_json::Value) -> Timestamp {
    time.as_str().expect("a time").parse().expect("RFC 3339")
}

#[tokio::test]
async fn kubectl_get_shows_phase_mvpd_and_expiry_but_no_code() {
    let (_operator, links) = setup().await;
    create(
        &links,
        "den",
        json!({"code": code(600.0, "Pending"), "users": [user("dave", 3600.0)]}),
    )
    .await;
    phase(&links, "den", DeviceLinkPhase::Linked).await;
    // What `kubectl get devicelinks` asks for: the server renders the printer columns.
    let namespace = links.resource_url().to_owned();
    let request = http::Request::get(namespace)
        .header(
            "Accept",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        )
        .body(Vec::new())
        .unwrap();
    let table: serde_json::Value = links.into_client().request(request).await.unwrap();
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .expect("a Table")
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        [
            "Name",
            "Requestor",
            "Device",
            "Phase",
            "MVPD",
            "Expires",
            "Age"
        ]
    );
    let row = &table["rows"][0]["cells"];
    assert_eq!(row[1], "demo");
    assert_eq!(row[2], "den");
    assert_eq!(row[3], "Linked");
    assert_eq!(row[4], "test-mvpd");
    // The expiry reads as a time: kubectl renders a `date` column as an age, and a future
    // one as `<invalid>`.
    assert_eq!(table["columnDefinitions"][5]["type"], "string");
    // A linked device's expiry is its user's sign-in (an hour), not the code it still
    // holds (ten minutes).
    let half_hour = k8s_openapi::jiff::SignedDuration::from_secs(1800);
    assert!(
        timestamp(&row[5]) > Timestamp::now() + half_hour,
        "{}",
        row[5]
    );
    assert!(
        !table.to_string().contains(&"b".repeat(64)),
        "the code hash is never shown"
    );
}

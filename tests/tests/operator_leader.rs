//! Replicas of the operator against a real API server: a Lease elects one active replica;
//! when it dies another takes over and carries on; one that stops hands over at once; and
//! a restart loses nothing.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::{Api, Client};
use linkgate_crds::{DeviceLink, DeviceLinkPhase};
use linkgate_tests::device_links::{create, deleted, phase, user};
use linkgate_tests::kube::eventually;
use linkgate_tests::operator::Operator;
use serde_json::json;

/// The operator's default Lease name.
const LEASE: &str = "linkgate-operator";

async fn setup() -> (Client, String) {
    let client = linkgate_tests::kube::client().await;
    linkgate_tests::kube::install_crds(&client).await;
    let ns = linkgate_tests::kube::create_namespace(&client, "leader").await;
    (client, ns)
}

/// Who the Lease names, once it names someone.
async fn holder(leases: &Api<Lease>) -> String {
    eventually("a lease holder", || async {
        let lease = leases.get_opt(LEASE).await.expect("read the lease")?;
        lease.spec?.holder_identity
    })
    .await
}

/// Waits until the Lease names `identity`.
async fn held_by(leases: &Api<Lease>, identity: &str) {
    eventually(&format!("the lease held by {identity}"), || async {
        let lease = leases.get_opt(LEASE).await.expect("read the lease")?;
        (lease.spec?.holder_identity.as_deref() == Some(identity)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn one_replica_leads_and_another_takes_over_when_it_dies() {
    let (client, ns) = setup().await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
    let links: Api<DeviceLink> = Api::namespaced(client, &ns);
    let mut replicas = [
        Operator::start(&ns, "operator-a").await,
        Operator::start(&ns, "operator-b").await,
    ];

    let first = holder(&leases).await;
    let leading = replicas.iter().position(|r| r.identity == first).unwrap();
    let standby = 1 - leading;
    eventually("the leader's gauge", || async {
        replicas[leading].leads().await.then_some(())
    })
    .await;
    // The standby stays a standby (and ready) while the leader renews.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!replicas[standby].leads().await, "two leaders");
    assert_eq!(holder(&leases).await, first);
    create(&links, "before", json!({"users": [user("alice", 3600.0)]})).await;
    phase(&links, "before", DeviceLinkPhase::Linked).await;

    replicas[leading].kill();
    let killed = Instant::now();
    let second = &replicas[standby];
    held_by(&leases, &second.identity).await;
    assert!(second.leads().await);
    // Within the lease's duration (15 s) of its last renewal, plus polls and a busy machine.
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(25), "took over after {took:?}");

    // The new leader reconciles what is new and what is old.
    create(&links, "after", json!({"users": [user("bob", 3600.0)]})).await;
    phase(&links, "after", DeviceLinkPhase::Linked).await;
    create(&links, "stale", json!({"users": [user("carol", -1.0)]})).await;
    deleted(&links, "stale").await;
}

#[tokio::test]
async fn a_leader_that_stops_hands_over_at_once() {
    let (client, ns) = setup().await;
    let leases: Api<Lease> = Api::namespaced(client, &ns);
    let mut leader = Operator::start(&ns, "operator-a").await;
    held_by(&leases, "operator-a").await;
    let standby = Operator::start(&ns, "operator-b").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!standby.leads().await);

    let stopped = Instant::now();
    assert_eq!(leader.terminate().await, Some(0), "a clean exit");
    held_by(&leases, "operator-b").await;
    // Released, not expired: well within the lease's 15 s.
    let took = stopped.elapsed();
    assert!(took < Duration::from_secs(8), "took over after {took:?}");
    assert!(standby.leads().await);
}

#[tokio::test]
async fn a_restart_loses_nothing() {
    let (client, ns) = setup().await;
    let links: Api<DeviceLink> = Api::namespaced(client, &ns);
    let mut operator = Operator::start(&ns, "operator-a").await;
    create(&links, "kept", json!({"users": [user("alice", 3600.0)]})).await;
    create(&links, "expiring", json!({"users": [user("bob", 5.0)]})).await;
    let kept = phase(&links, "kept", DeviceLinkPhase::Linked).await;
    let expiring = phase(&links, "expiring", DeviceLinkPhase::Linked).await;

    // Down while bob's authentication expires: nothing collects it meanwhile.
    operator.kill();
    let authn = &expiring.spec.users[0].authn_expires_at.0;
    let wait = k8s_openapi::jiff::Timestamp::now().duration_until(*authn);
    tokio::time::sleep(Duration::try_from(wait).unwrap_or_default() + Duration::from_secs(1)).await;
    assert!(links.get_opt("expiring").await.unwrap().is_some());

    // Restarted under the same name, it leads again and decides what expired meanwhile.
    operator.restart().await;
    deleted(&links, "expiring").await;
    let after = links.get("kept").await.expect("kept survives");
    assert_eq!(after.spec, kept.spec);
    assert_eq!(after.status, kept.status);
    assert!(operator.leads().await);
}

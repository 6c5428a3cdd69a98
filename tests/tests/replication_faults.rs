//! Replication through failures: a region whose API server is down while links are made
//! and revoked elsewhere converges to the same links as the others once it is back; an
//! operator killed in the middle of pushing loses nothing once it runs again.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::ListParams;
use linkgate_crds::Revision;
use linkgate_tests::device_links::{create, user};
use linkgate_tests::kube::eventually;
use linkgate_tests::regions::{self, Region, converged, now_millis, revision, rewrite};
use serde_json::json;

/// Writes link `name` in `region`, as that region's proxy would.
async fn write(region: &Region, name: &str, user_id: &str) {
    let revision = Revision::next(None, now_millis(), &region.name);
    create(
        &region.links,
        name,
        json!({"users": [user(user_id, 3600.0)], "originRegion": region.name,
               "revision": revision.to_string()}),
    )
    .await;
}

/// Revokes link `name` in `region`, once the region holds it.
async fn revoke(region: &Region, name: &str) {
    eventually(&format!("{name} in {}", region.name), || async {
        region.links.get_opt(name).await.expect("read")
    })
    .await;
    rewrite(&region.links, name, |spec| {
        spec.revoked_at = Some(MicroTime(Timestamp::now()));
        let next = Revision::next(Some(&revision(spec)), now_millis(), &region.name);
        spec.revision = Some(next.to_string());
    })
    .await;
}

#[tokio::test]
async fn a_region_down_during_links_and_revocations_converges_when_back() {
    let mut regions = regions::start(&["a", "b", "c"]).await;
    write(&regions[0], "before", "alice").await;
    converged(&regions).await;

    // c's API server goes down (its operator, unable to renew its Lease, exits).
    regions[2].server.down();
    let (a, b) = (&regions[0], &regions[1]);
    for i in 0..5 {
        write(a, &format!("made-in-a-{i}"), "bob").await;
    }
    write(b, "made-in-b", "carol").await;
    revoke(b, "before").await;
    revoke(b, "made-in-a-0").await;
    revoke(a, "made-in-b").await;
    let during = converged(&regions[..2]).await;

    // Back, with its operator restarted as its Deployment would: every region holds the
    // same links, those made, revoked or neither while c was away.
    regions[2].server.up();
    regions[2].operator.restart().await;
    let after = converged(&regions).await;
    assert_eq!(after, during);
    assert_eq!(after.len(), 7);
    for revoked in ["before", "made-in-a-0", "made-in-b"] {
        assert!(after[revoked].revoked_at.is_some(), "{revoked} revoked");
    }
    assert!(after["made-in-a-4"].revoked_at.is_none());
}

#[tokio::test]
async fn an_operator_killed_while_pushing_loses_nothing() {
    const LINKS: usize = 300;
    let mut regions = regions::start(&["a", "b"]).await;
    let a = &regions[0];
    for batch in (0..LINKS).collect::<Vec<_>>().chunks(20) {
        let names: Vec<String> = batch.iter().map(|i| format!("tv-{i:03}")).collect();
        let writes = names.iter().map(|name| write(a, name, "alice"));
        futures::future::join_all(writes).await;
    }
    // Freeze b as soon as a's pushes reach it, so that a's operator is killed with pushes
    // in flight and most links not yet pushed.
    let b = &regions[1];
    eventually("a's first pushes reached b", || async {
        let held = b
            .links
            .list_metadata(&ListParams::default())
            .await
            .expect("list");
        (!held.items.is_empty()).then_some(())
    })
    .await;
    b.server.pause();
    regions[0].operator.kill();
    regions[1].server.resume();
    let b = &regions[1];
    let held = b
        .links
        .list_metadata(&ListParams::default())
        .await
        .expect("list");
    assert!(
        held.items.len() < LINKS,
        "killed before every link was pushed ({} of {LINKS})",
        held.items.len()
    );

    regions[0].operator.restart().await;
    let links = converged(&regions).await;
    assert_eq!(links.len(), LINKS);
}

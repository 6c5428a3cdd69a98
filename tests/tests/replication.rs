//! Three regions, each an API server of its own with an operator replicating to the other
//! two: a link written in one appears in the others, a revocation reaches every region, a
//! stale copy of the revoked link pushed later does not bring it back (and the region that
//! held it takes the tombstone); a frozen region holds up no other, and catches up when it
//! answers again. Writes of one link made in two regions at once end as the same winner
//! everywhere.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use linkgate_crds::Revision;
use linkgate_tests::device_links::{create, user};
use linkgate_tests::kube::eventually;
use linkgate_tests::regions::{self, converged, holds, now_millis, pushes, revision, rewrite};
use serde_json::json;

#[tokio::test]
async fn links_and_revocations_reach_every_region_and_stale_copies_do_not_undo_them() {
    // On API servers of its own.
    let regions = regions::start(&["a", "b", "c"]).await;
    let (a, b, c) = (&regions[0], &regions[1], &regions[2]);

    // (1) A link written in a, as a's proxy writes it, appears in b and c.
    let written = Revision::next(None, now_millis(), "a");
    let link = create(
        &a.links,
        "tv",
        json!({"users": [user("alice", 3600.0)], "originRegion": "a",
               "revision": written.to_string()}),
    )
    .await;
    holds(b, "tv", &link.spec).await;
    holds(c, "tv", &link.spec).await;
    for peer in ["b", "c"] {
        let up = format!("linkgate_operator_peers_up{{peer=\"{peer}\"}}");
        assert_eq!(a.operator.metric(&up).await, Some(1.0), "{peer} up");
    }
    // a's copy, the origin, tells what each peer holds of it.
    eventually("a's status shows both peers in step", || async {
        let origin = a.links.get("tv").await.expect("a's copy");
        let entries = origin.status?.regions;
        let in_step = |peer: &str| {
            entries.iter().any(|r| {
                r.region == peer
                    && r.synced.as_deref() == Some(written.to_string().as_str())
                    && r.last_sync.is_some()
                    && r.lag_millis.is_some_and(|lag| lag >= 0)
                    && r.error.is_none()
            })
        };
        (in_step("b") && in_step("c")).then_some(())
    })
    .await;
    // Copies are marked with the region they came from; the origin's is not.
    let copy = b.links.get("tv").await.expect("b's copy");
    assert_eq!(
        copy.annotations()
            .get(linkgate_crds::ORIGIN_REGION_ANNOTATION),
        Some(&"a".to_owned())
    );
    let origin = a.links.get("tv").await.expect("a's copy");
    assert!(
        !origin
            .annotations()
            .contains_key(linkgate_crds::ORIGIN_REGION_ANNOTATION)
    );

    // (2) Revoked in b: the tombstone, a newer write, replaces the link in a and c.
    let revoked = rewrite(&b.links, "tv", |spec| {
        spec.revoked_at = Some(MicroTime(Timestamp::now()));
        spec.revision = Some(Revision::next(Some(&revision(spec)), now_millis(), "b").to_string());
    })
    .await;
    let tombstone = revision(&revoked.spec);
    holds(a, "tv", &revoked.spec).await;
    holds(c, "tv", &revoked.spec).await;

    // (3) A stale copy of the link, a write of c older than the revocation, lands in c; c's
    // operator meets the newer tombstone pushing it, and takes it back from the first peer
    // it asks. (Waiting for a pull or a replace, so that a wrongful replace fails below.)
    rewrite(&c.links, "tv", |spec| {
        *spec = link.spec.clone();
        spec.revision = Some(
            Revision {
                millis: tombstone.millis - 1,
                counter: 0,
                region: "c".into(),
            }
            .to_string(),
        );
    })
    .await;
    eventually("c's operator handled the stale copy", || async {
        let mut done = 0.0;
        for peer in ["a", "b"] {
            for outcome in ["pulled", "replaced"] {
                done += pushes(&c.operator, peer, "DeviceLink", outcome).await;
            }
        }
        (done >= 1.0).then_some(())
    })
    .await;
    for region in [a, b] {
        let held = region.links.get("tv").await.expect("still there");
        assert_eq!(
            held.spec, revoked.spec,
            "{} keeps the tombstone",
            region.name
        );
    }
    holds(c, "tv", &revoked.spec).await;

    // (4) c frozen: a's next link still reaches b promptly, and c once it answers again.
    c.server.pause();
    let next = create(
        &a.links,
        "radio",
        json!({"users": [user("bob", 3600.0)], "originRegion": "a",
               "revision": Revision::next(None, now_millis(), "a").to_string()}),
    )
    .await;
    let prompt = tokio::time::timeout(Duration::from_secs(10), holds(b, "radio", &next.spec)).await;
    c.server.resume();
    prompt.expect("b not held up by the frozen c");
    holds(c, "radio", &next.spec).await;
}

#[tokio::test]
async fn one_link_written_in_two_regions_at_once_ends_the_same_everywhere() {
    let regions = regions::start(&["a", "b", "c"]).await;
    let (a, b) = (&regions[0], &regions[1]);

    // Created in a and b in the same millisecond, as two partitioned regions' proxies would:
    // the revisions tie on time and counter, and the region name decides.
    let millis = now_millis();
    let write = |region: &'static str, user_id: &'static str| {
        json!({"users": [user(user_id, 3600.0)], "originRegion": region,
               "revision": Revision { millis, counter: 0, region: region.into() }.to_string()})
    };
    let (in_a, in_b) = tokio::join!(
        regions::write_over(&a.links, "console", write("a", "alice")),
        regions::write_over(&b.links, "console", write("b", "bob")),
    );
    let links = converged(&regions).await;
    assert_eq!(
        links["console"], in_b.spec,
        "b's write, of the greater revision"
    );
    assert_ne!(in_a.spec, in_b.spec);

    // Then rewritten in both at once, each over the copy both held (as two partitioned
    // regions would: a write that already saw the other's would rightly follow it), a's clock
    // a minute ahead: the later clock wins everywhere.
    let base = revision(&links["console"]);
    let rewrites = [(a, "carol", 60_000), (b, "dave", 0)].map(|(region, user_id, ahead)| {
        let next = Revision::next(Some(&base), now_millis() + ahead, &region.name).to_string();
        rewrite(&region.links, "console", move |spec| {
            spec.users = vec![serde_json::from_value(user(user_id, 3600.0)).expect("a user")];
            spec.revision = Some(next.clone());
        })
    });
    let [in_a, in_b] = rewrites;
    let (in_a, in_b) = tokio::join!(in_a, in_b);
    let winner = [in_a.spec, in_b.spec]
        .into_iter()
        .max_by_key(revision)
        .expect("two writes");
    let links = converged(&regions).await;
    assert_eq!(links["console"], winner);
    assert_eq!(winner.users[0].user_id, "carol", "a's clock is ahead");
}

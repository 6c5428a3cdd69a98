//! Three regions, each an API server of its own with an operator replicating to the other
//! two: a link written in one appears in the others, a revocation reaches every region, and
//! a stale copy of the revoked link pushed later does not bring it back; a frozen region
//! holds up no other, and catches up when it answers again.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};
use linkgate_crds::{DeviceLink, DeviceLinkSpec, Revision};
use linkgate_tests::device_links::{create, user};
use linkgate_tests::kube::{Instance, eventually};
use linkgate_tests::operator::Operator;
use serde_json::json;

const REGIONS: [&str; 3] = ["a", "b", "c"];

/// One region: its API server, the DeviceLinks of the test namespace there, and its operator.
struct Region {
    name: &'static str,
    links: Api<DeviceLink>,
    operator: Operator,
    server: Instance,
}

fn now_millis() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    u64::try_from(since.as_millis()).expect("millis fit")
}

fn revision(link: &DeviceLinkSpec) -> Revision {
    link.revision
        .as_deref()
        .expect("a revision")
        .parse()
        .expect("a revision")
}

/// Starts the three regions, all with namespace `ns`, each operator peered with the others
/// through kubeconfig Secrets.
async fn regions() -> Vec<Region> {
    let servers: Vec<Instance> = REGIONS
        .iter()
        .map(|r| Instance::start(&format!("region-{r}")))
        .collect();
    let mut clients: Vec<Client> = Vec::new();
    for server in &servers {
        let client = server.client().await;
        linkgate_tests::kube::install_crds(&client).await;
        clients.push(client);
    }
    let ns = linkgate_tests::kube::namespace("replication");
    for (client, own) in clients.iter().zip(REGIONS) {
        linkgate_tests::kube::create_namespace_named(client, &ns).await;
        for (server, peer) in servers.iter().zip(REGIONS).filter(|(_, p)| *p != own) {
            // cluster.sh embeds the CA and the token, so the file works as it is.
            let kubeconfig = std::fs::read(&server.kubeconfig).expect("the peer's kubeconfig");
            let name = format!("peer-{peer}");
            linkgate_tests::kube::create_secret(client, &ns, &name, "kubeconfig", &kubeconfig)
                .await;
        }
    }
    let mut regions = Vec::new();
    for ((server, client), name) in servers.into_iter().zip(clients).zip(REGIONS) {
        let mut args = vec!["--region".to_owned(), name.to_owned()];
        for peer in REGIONS.iter().filter(|p| **p != name) {
            args.extend(["--peer".to_owned(), format!("{peer}=peer-{peer}")]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let operator =
            Operator::start_on(&server.kubeconfig, &ns, &format!("operator-{name}"), &args).await;
        regions.push(Region {
            name,
            links: Api::namespaced(client, &ns),
            operator,
            server,
        });
    }
    regions
}

/// Waits until `region` holds `name` with exactly `spec`.
async fn holds(region: &Region, name: &str, spec: &DeviceLinkSpec) {
    eventually(&format!("{name} replicated to {}", region.name), || async {
        let link = region.links.get_opt(name).await.expect("read")?;
        (link.spec == *spec).then_some(())
    })
    .await;
}

/// The operator's count of pushes to `peer` with `outcome`.
async fn pushes(operator: &Operator, peer: &str, outcome: &str) -> f64 {
    let labels = [format!("outcome=\"{outcome}\""), format!("peer=\"{peer}\"")];
    operator
        .metrics()
        .await
        .lines()
        .filter(|l| l.starts_with("linkgate_operator_replication_pushes_total{"))
        .filter(|l| labels.iter().all(|label| l.contains(label.as_str())))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn links_and_revocations_reach_every_region_and_stale_copies_do_not_undo_them() {
    // Runs where the Kubernetes tests run, on API servers of its own.
    if linkgate_tests::kube::client("replication").await.is_none() {
        return;
    }
    let regions = regions().await;
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

    // (2) Revoked in b: the tombstone, a newer write, replaces the link in a and c.
    let mut revoked = b.links.get("tv").await.expect("b's copy");
    revoked.spec.revoked_at = Some(MicroTime(Timestamp::now()));
    let tombstone = Revision::next(Some(&revision(&revoked.spec)), now_millis(), "b");
    revoked.spec.revision = Some(tombstone.to_string());
    let revoked = b
        .links
        .replace("tv", &PostParams::default(), &revoked)
        .await
        .expect("revoke in b");
    holds(a, "tv", &revoked.spec).await;
    holds(c, "tv", &revoked.spec).await;

    // (3) A stale copy of the link, a write of c older than the revocation, lands in c; c's
    // operator pushes it, and a and b refuse it. (Waiting for any push, not for a skip, so
    // that a wrongful replace fails on the assertion below.)
    let mut stale = c.links.get("tv").await.expect("c's copy");
    stale.spec = link.spec.clone();
    stale.spec.revision = Some(
        Revision {
            millis: tombstone.millis - 1,
            counter: 0,
            region: "c".into(),
        }
        .to_string(),
    );
    c.links
        .replace("tv", &PostParams::default(), &stale)
        .await
        .expect("the stale copy in c");
    for peer in ["a", "b"] {
        eventually(&format!("c pushed the stale copy to {peer}"), || async {
            let mut done = 0.0;
            for outcome in ["skipped", "replaced"] {
                done += pushes(&c.operator, peer, outcome).await;
            }
            (done >= 1.0).then_some(())
        })
        .await;
    }
    for region in [a, b] {
        let held = region.links.get("tv").await.expect("still there");
        assert_eq!(
            held.spec, revoked.spec,
            "{} keeps the tombstone",
            region.name
        );
    }

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

//! Regions for the replication tests: each an API server of its own with an operator
//! replicating to the others through kubeconfig Secrets that hold only the replication
//! Role, as a platform team would grant it.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};
use linkgate_crds::{DeviceLink, DeviceLinkSpec, Requestor, Revision};

use crate::kube::{Instance, eventually};
use crate::operator::Operator;

/// What peers may do in a region, as shipped.
const REPLICATION_ROLE: &str = include_str!("../../charts/linkgate/rbac/replication-role.yaml");

/// One region: its API server, a client with full rights, the test namespace's objects
/// there, and its operator.
pub struct Region {
    pub name: String,
    pub client: Client,
    pub namespace: String,
    pub links: Api<DeviceLink>,
    pub requestors: Api<Requestor>,
    pub operator: Operator,
    pub server: Instance,
    /// The kubeconfigs the peers' Secrets were made from.
    _peer_access: tempfile::NamedTempFile,
}

/// Starts regions `names`, all with one test namespace, each operator peered with all the
/// others.
pub async fn start(names: &[&str]) -> Vec<Region> {
    let servers: Vec<Instance> = names
        .iter()
        .map(|r| Instance::start(&format!("region-{r}")))
        .collect();
    let ns = crate::kube::namespace("replication");
    let mut clients = Vec::new();
    let mut access = Vec::new();
    for server in &servers {
        let client = server.client().await;
        crate::kube::install_crds(&client).await;
        crate::kube::create_namespace_named(&client, &ns).await;
        let (kubeconfig, _) = crate::kube::service_account_on(
            &server.kubeconfig,
            &client,
            &ns,
            "linkgate-replication",
            REPLICATION_ROLE,
        )
        .await;
        clients.push(client);
        access.push(kubeconfig);
    }
    for (client, own) in clients.iter().zip(names) {
        for (kubeconfig, peer) in access.iter().zip(names).filter(|(_, p)| *p != own) {
            let bytes = std::fs::read(kubeconfig.path()).expect("the peer's kubeconfig");
            let secret = format!("peer-{peer}");
            crate::kube::create_secret(client, &ns, &secret, "kubeconfig", &bytes).await;
        }
    }
    let mut regions = Vec::new();
    for (((server, client), name), peer_access) in
        servers.into_iter().zip(clients).zip(names).zip(access)
    {
        let mut args = vec!["--region".to_owned(), (*name).to_owned()];
        for peer in names.iter().filter(|p| *p != name) {
            args.extend(["--peer".to_owned(), format!("{peer}=peer-{peer}")]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let operator =
            Operator::start_on(&server.kubeconfig, &ns, &format!("operator-{name}"), &args).await;
        regions.push(Region {
            name: (*name).to_owned(),
            links: Api::namespaced(client.clone(), &ns),
            requestors: Api::namespaced(client.clone(), &ns),
            client,
            namespace: ns.clone(),
            operator,
            server,
            _peer_access: peer_access,
        });
    }
    regions
}

pub fn now_millis() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    u64::try_from(since.as_millis()).expect("millis fit")
}

/// The revision of a link's latest write.
pub fn revision(link: &DeviceLinkSpec) -> Revision {
    link.revision
        .as_deref()
        .expect("a revision")
        .parse()
        .expect("a revision")
}

/// Waits until `region` holds `name` with exactly `spec`.
pub async fn holds(region: &Region, name: &str, spec: &DeviceLinkSpec) {
    eventually(&format!("{name} replicated to {}", region.name), || async {
        let link = region.links.get_opt(name).await.expect("read")?;
        (link.spec == *spec).then_some(())
    })
    .await;
}

/// Every DeviceLink of the region's test namespace: name → spec.
pub async fn link_set(region: &Region) -> BTreeMap<String, DeviceLinkSpec> {
    let links = region
        .links
        .list(&ListParams::default())
        .await
        .expect("list");
    links.into_iter().map(|l| (l.name_any(), l.spec)).collect()
}

/// Waits until every region holds the same DeviceLinks as the first; returns them.
pub async fn converged(regions: &[Region]) -> BTreeMap<String, DeviceLinkSpec> {
    eventually("the regions hold the same links", || async {
        let first = link_set(&regions[0]).await;
        for region in &regions[1..] {
            if link_set(region).await != first {
                return None;
            }
        }
        Some(first)
    })
    .await
}

/// The operator's count of pushes of `kind` to `peer` with `outcome`.
pub async fn pushes(operator: &Operator, peer: &str, kind: &str, outcome: &str) -> f64 {
    let labels = [
        format!("kind=\"{kind}\""),
        format!("outcome=\"{outcome}\""),
        format!("peer=\"{peer}\""),
    ];
    operator
        .metrics()
        .await
        .lines()
        .filter(|l| l.starts_with("linkgate_operator_replication_pushes_total{"))
        .filter(|l| labels.iter().all(|label| l.contains(label.as_str())))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Writes the link `name` with `spec`'s fields as a partitioned region's proxy would: it
/// creates the link, or, when a peer's copy arrived first, writes over that copy.
pub async fn write_over(
    links: &Api<DeviceLink>,
    name: &str,
    spec: serde_json::Value,
) -> DeviceLink {
    let ours = crate::device_links::object(name, spec);
    match links.create(&Default::default(), &ours).await {
        Ok(written) => written,
        Err(kube::Error::Api(status)) if status.code == 409 => {
            rewrite(links, name, |current| *current = ours.spec.clone()).await
        }
        Err(e) => panic!("create {name}: {e}"),
    }
}

/// Rewrites the spec of link `name` as a proxy would: read, `edit`, replace conditionally,
/// again on a conflict (the operator writes the status in between).
pub async fn rewrite(
    links: &Api<DeviceLink>,
    name: &str,
    edit: impl Fn(&mut DeviceLinkSpec),
) -> DeviceLink {
    for _ in 0..20 {
        let mut link = links.get(name).await.expect("the link");
        edit(&mut link.spec);
        match links.replace(name, &Default::default(), &link).await {
            Ok(written) => return written,
            Err(kube::Error::Api(status)) if status.code == 409 => continue,
            Err(e) => panic!("rewrite {name}: {e}"),
        }
    }
    panic!("rewrite {name}: conflicts without end")
}

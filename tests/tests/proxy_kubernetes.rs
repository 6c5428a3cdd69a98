//! Proxies in Kubernetes mode against a real API server: Requestors and DeviceLinks are
//! watched into memory, and links are written through the API server, conditionally, so
//! that proxies sharing a cluster agree on every device.

use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use linkgate_crds::{DeviceLink, Requestor, Revision};
use linkgate_tests::account_backend::{AccountBackend, Reply};
use linkgate_tests::{DEMO_KEY, Gateway, LOOPBACK_HTTP, TEST_SIGNING_KEY};
use serde_json::json;

/// How long a change may take to reach every proxy in these tests.
const PATIENCE: Duration = Duration::from_secs(15);

struct Fleet {
    client: Client,
    /// A client with the proxies' own permissions.
    as_proxy: Client,
    namespace: String,
    proxies: [Gateway; 2],
    _kubeconfig: tempfile::NamedTempFile,
}

/// The proxies' permissions, as shipped.
const PROXY_ROLE: &str = include_str!("../../charts/linkgate/rbac/proxy-role.yaml");

/// A namespace with the `demo` Requestor and two proxies serving it, running as a
/// ServiceAccount with only the proxies' Role, or `None` without an API server.
async fn fleet() -> Fleet {
    let client = linkgate_tests::kube::client().await;
    linkgate_tests::kube::install_crds(&client).await;
    let namespace = linkgate_tests::kube::create_namespace(&client, "proxies").await;
    linkgate_tests::kube::create_demo_requestor(
        linkgate_tests::kube::kubeconfig(),
        &namespace,
        json!({"signingKeys": [{"id": "k1", "privateKeySecretRef": {"name": "demo.media", "key": "key"}}]}),
    );
    let pem: String = TEST_SIGNING_KEY
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect();
    let config = format!(
        "{LOOPBACK_HTTP}store: {{backend: kubernetes}}\nkubernetes: {{namespace: {namespace}, region: eu-west}}\n\
         codeKeySecretRef: {{name: codes, key: key}}\n\
         secrets:\n  codes: {{key: shared-by-every-proxy-of-the-test-fleet}}\n  demo.backend: {{apiKey: {DEMO_KEY}}}\n  demo.media:\n    key: |\n{pem}"
    );
    let (kubeconfig, as_proxy) =
        linkgate_tests::kube::service_account(&client, &namespace, "linkgate-proxy", PROXY_ROLE)
            .await;
    let env = || {
        vec![(
            "KUBECONFIG".to_owned(),
            kubeconfig.path().as_os_str().to_owned(),
        )]
    };
    let proxies = [
        Gateway::with_config_env(&config, env()).await,
        Gateway::with_config_env(&config, env()).await,
    ];
    Fleet {
        client,
        as_proxy,
        namespace,
        proxies,
        _kubeconfig: kubeconfig,
    }
}

impl Fleet {
    fn links(&self) -> Api<DeviceLink> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// `kubectl delete devicelink ...` of `device`'s object.
    async fn kubectl_delete(&self, device: &str) {
        let links = self.links();
        let name = links
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|l| l.spec.device_id == device)
            .expect("the DeviceLink")
            .name_any();
        links.delete(&name, &DeleteParams::default()).await.unwrap();
    }
}

async fn link(gw: &Gateway, code: &str, user: &str) -> (u16, serde_json::Value) {
    gw.post_json(
        "/v1/requestors/demo/links",
        json!({"code": code, "userId": user, "mvpd": "test-mvpd"}),
        Some(DEMO_KEY),
    )
    .await
}

async fn authn(gw: &Gateway, device: &str) -> (u16, serde_json::Value) {
    gw.get(
        &format!("/v1/requestors/demo/devices/{device}/authn"),
        Some(DEMO_KEY),
    )
    .await
}

/// Waits (bounded) until `check` holds for the authn answer of `device` on `gw`.
async fn until_authn(gw: &Gateway, device: &str, check: impl Fn(u16, &serde_json::Value) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, body) = authn(gw, device).await;
        if check(status, &body) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{device} on {}: still {status} {body}",
            gw.api
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Links the code through `gw`, waiting (bounded) for the code to reach it first.
async fn link_when_seen(gw: &Gateway, code: &str, user: &str) -> serde_json::Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, body) = link(gw, code, user).await;
        if status == 201 {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "cannot link {code}: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_limit_turned_off_in_a_requestor_stays_off() {
    let fleet = fleet().await;
    // The API server drops a null, so a limit with a default is turned off with `disabled: true`,
    // and that is what it keeps.
    let requestors: Api<Requestor> = Api::namespaced(fleet.client.clone(), &fleet.namespace);
    let stored = requestors.get("demo").await.unwrap();
    assert_eq!(
        stored.spec.throttling.per_client_ip.map(|l| l.disabled),
        Some(true)
    );
    // Past the default burst of 10 from one client: nothing is throttled.
    for _ in 0..25 {
        let (status, _) = fleet.proxies[0]
            .get("/v1/requestors/demo/media-keys", None)
            .await;
        assert_eq!(status, 200);
    }
}

#[tokio::test]
async fn a_link_made_through_one_proxy_serves_on_the_other_and_survives_restarts() {
    let mut fleet = fleet().await;
    let [a, b] = &fleet.proxies;
    let code = a.issue_code("demo", "living-room-tv").await;
    link_when_seen(b, &code, "alice").await;
    until_authn(a, "living-room-tv", |s, body| {
        s == 200 && body["users"][0]["userId"] == "alice"
    })
    .await;

    // The link is a DeviceLink object, readable with kubectl.
    let stored = fleet.links().list(&ListParams::default()).await.unwrap();
    let object = stored
        .items
        .iter()
        .find(|l| l.spec.device_id == "living-room-tv")
        .expect("a DeviceLink for the device");
    assert_eq!(object.spec.requestor, "demo");
    assert_eq!(object.spec.users[0].user_id, "alice");
    assert_eq!(object.spec.users[0].mvpd.as_deref(), Some("test-mvpd"));
    // The code is used up, kept only until the device exchanges its secret (or it expires).
    let kept = object.spec.code.as_ref().expect("the used code");
    assert_eq!(kept.state, linkgate_crds::CodeStateSpec::Redeemed);
    // Stamped for replication: the creating region, and the revision of the latest write.
    assert_eq!(object.spec.origin_region.as_deref(), Some("eu-west"));
    let revision = |link: &DeviceLink| -> Revision {
        link.spec
            .revision
            .as_deref()
            .expect("a revision")
            .parse()
            .expect("a valid revision")
    };
    let linked = revision(object);
    assert_eq!(linked.region, "eu-west");

    // Nothing is lost when the proxies die and come back: the API server holds it all.
    for proxy in &mut fleet.proxies {
        proxy.restart().await;
    }
    let [a, b] = &fleet.proxies;
    for proxy in [a, b] {
        let (status, body) = authn(proxy, "living-room-tv").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["users"][0]["userId"], "alice");
    }
    // Every later write of the device orders after the earlier ones.
    a.issue_code_as("demo", "living-room-tv", Some(DEMO_KEY))
        .await;
    let reissued = fleet
        .links()
        .get(&object.name_any())
        .await
        .expect("the DeviceLink");
    assert!(revision(&reissued) > linked);

    // A code issued before a restart still links after it.
    let code = a.issue_code("demo", "kitchen-tv").await;
    fleet.proxies[0].restart().await;
    link_when_seen(&fleet.proxies[0], &code, "bob").await;
    until_authn(&fleet.proxies[1], "kitchen-tv", |s, _| s == 200).await;
}

#[tokio::test]
async fn the_proxies_role_reads_requestors_and_writes_devicelinks_only() {
    let fleet = fleet().await;
    let ns = &fleet.namespace;
    let forbidden = |e: kube::Error| matches!(e, kube::Error::Api(s) if s.code == 403);
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(fleet.as_proxy.clone(), ns);
    assert!(forbidden(
        secrets.list(&ListParams::default()).await.unwrap_err()
    ));
    let requestors: Api<Requestor> = Api::namespaced(fleet.as_proxy.clone(), ns);
    assert!(requestors.get("demo").await.is_ok());
    assert!(forbidden(
        requestors
            .patch(
                "demo",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"blockedMvpds": ["x"]}}))
            )
            .await
            .unwrap_err()
    ));
    let links: Api<DeviceLink> = Api::namespaced(fleet.as_proxy.clone(), ns);
    assert!(links.list(&ListParams::default()).await.is_ok());
    // Status is the operator's to write.
    assert!(forbidden(
        links
            .patch_status(
                "any",
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {}}))
            )
            .await
            .unwrap_err()
    ));
    // Other namespaces are out of reach.
    let elsewhere: Api<DeviceLink> = Api::namespaced(fleet.as_proxy.clone(), "default");
    assert!(forbidden(
        elsewhere.list(&ListParams::default()).await.unwrap_err()
    ));
}

#[tokio::test]
async fn two_proxies_racing_for_one_code_link_it_exactly_once() {
    let fleet = fleet().await;
    let [a, b] = &fleet.proxies;
    for round in 0..5 {
        let device = format!("race-{round}");
        let code = a.issue_code("demo", &device).await;
        // Both proxies know the code before they race for it.
        let deadline = Instant::now() + PATIENCE;
        while b
            .get(&format!("/v1/requestors/demo/codes/{code}"), Some(DEMO_KEY))
            .await
            .0
            != 200
        {
            assert!(
                Instant::now() < deadline,
                "{code} never reached the second proxy"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (first, second) = tokio::join!(link(a, &code, "alice"), link(b, &code, "bob"));
        let wins: Vec<_> = [&first, &second]
            .into_iter()
            .filter(|(status, _)| *status == 201)
            .collect();
        assert_eq!(wins.len(), 1, "round {round}: {first:?} {second:?}");
        let winner = wins[0].1["users"][0]["userId"].clone();
        let loser = if first.0 == 201 { &second } else { &first };
        assert!(
            (400..500).contains(&loser.0),
            "the loser is told the code is gone: {loser:?}"
        );
        // Both proxies, and the API server, agree on the one winner.
        for proxy in [a, b] {
            until_authn(proxy, &device, |s, body| {
                s == 200
                    && body["users"].as_array().map(Vec::len) == Some(1)
                    && body["users"][0]["userId"] == winner
            })
            .await;
        }
    }
}

#[tokio::test]
async fn deleting_a_devicelink_or_changing_the_requestor_applies_on_every_proxy() {
    let fleet = fleet().await;
    let [a, b] = &fleet.proxies;
    let code = a.issue_code("demo", "den-tv").await;
    link_when_seen(a, &code, "carol").await;
    for proxy in [a, b] {
        until_authn(proxy, "den-tv", |s, _| s == 200).await;
    }
    fleet.kubectl_delete("den-tv").await;
    for proxy in [a, b] {
        until_authn(proxy, "den-tv", |s, body| {
            s == 403 && body["code"] == "authenticated_profile_missing"
        })
        .await;
    }

    // A Requestor change is served live: blocking the MVPD unauthenticates its users.
    let code = b.issue_code("demo", "attic-tv").await;
    link_when_seen(b, &code, "dave").await;
    until_authn(a, "attic-tv", |s, _| s == 200).await;
    Api::<Requestor>::namespaced(fleet.client.clone(), &fleet.namespace)
        .patch(
            "demo",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"blockedMvpds": ["test-mvpd"]}})),
        )
        .await
        .unwrap();
    for proxy in [a, b] {
        until_authn(proxy, "attic-tv", |s, _| s == 403).await;
    }
}

#[tokio::test]
async fn a_device_s_tokens_work_on_every_proxy_and_kubectl_delete_revokes_them() {
    let fleet = fleet().await;
    let [a, b] = &fleet.proxies;
    let (code, secret) = a.issue_code_with_secret("demo", "study-tv").await;
    link_when_seen(a, &code, "erin").await;
    let first = a.device_tokens("demo", &secret).await;
    // The credential lives in the DeviceLink: the other proxy checks the token too, and
    // rotates the refresh token through the API server.
    until_status(b, "study-tv", &first.access, 200).await;
    let (status, body) = b.refresh("demo", &first.refresh).await;
    assert_eq!(status, 200, "{body}");
    let second = linkgate_tests::DeviceTokens::from(&body);
    until_status(a, "study-tv", &second.access, 200).await;

    // Both tokens stop on every proxy.
    fleet.kubectl_delete("study-tv").await;
    for proxy in [a, b] {
        until_status(proxy, "study-tv", &second.access, 401).await;
        let (status, body) = proxy.refresh("demo", &second.refresh).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
    }
}

/// Waits (bounded) until the device's authn call with `token` answers `expected`.
async fn until_status(gw: &Gateway, device: &str, token: &str, expected: u16) {
    let deadline = Instant::now() + PATIENCE;
    let path = format!("/v1/requestors/demo/devices/{device}/authn");
    loop {
        let (status, body) = gw.get(&path, Some(token)).await;
        if status == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{device} on {}: still {status} {body}",
            gw.api
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_link_held_for_approval_is_kept_in_its_devicelink_and_approved_on_another_proxy() {
    let mut fleet = fleet().await;
    let backend = AccountBackend::start().await;
    backend.reply(Reply::Answer(json!("pending"))).await;
    Api::<Requestor>::namespaced(fleet.client.clone(), &fleet.namespace)
        .patch(
            "demo",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"accountWebhook": {"url": backend.url()}}})),
        )
        .await
        .unwrap();
    // Until the change reaches the proxy, links are made at once (of throw-away devices).
    let deadline = Instant::now() + PATIENCE;
    for probe in 0.. {
        let code = fleet.proxies[0]
            .issue_code("demo", &format!("probe-{probe}"))
            .await;
        if link(&fleet.proxies[0], &code, "alice").await.0 == 202 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the account webhook never applied"
        );
    }

    let code = fleet.proxies[0].issue_code("demo", "hall-tv").await;
    let (status, body) = link(&fleet.proxies[0], &code, "alice").await;
    assert_eq!(status, 202, "{body}");
    // Held in the device's DeviceLink, so any proxy can finish it.
    let held = fleet
        .links()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|l| l.spec.device_id == "hall-tv")
        .and_then(|l| l.spec.code)
        .expect("the held code");
    assert_eq!(held.state, linkgate_crds::CodeStateSpec::Approving);
    assert_eq!(held.awaiting.expect("the held user").user_id, "alice");

    fleet.proxies[0].restart().await;
    let path = format!("/v1/requestors/demo/codes/{code}/approval");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, body) = fleet.proxies[1]
            .post_json(&path, json!({"answer": "alice"}), Some(DEMO_KEY))
            .await;
        if status == 201 {
            break;
        }
        assert!(Instant::now() < deadline, "not approved: {status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    until_authn(&fleet.proxies[0], "hall-tv", |s, body| {
        s == 200 && body["users"][0]["userId"] == "alice"
    })
    .await;
}

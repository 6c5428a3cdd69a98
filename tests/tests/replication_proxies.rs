//! Real proxies in three regions, each serving from its own region's API server: a device
//! linked through region a's proxy authenticates through b's and c's; unlinked through b's,
//! it is refused everywhere. Prints the lag from a link acknowledged in a to the device
//! authenticating in b, over many links (the figure in the README's replication section).

use std::time::{Duration, Instant};

use linkgate_tests::kube::{create_demo_requestor, eventually};
use linkgate_tests::regions::{self, Region};
use linkgate_tests::{DEMO_KEY, Gateway, TEST_SIGNING_KEY};
use serde_json::json;

/// Links measured for the lag figures.
const LINKS: usize = 100;

/// Region `region`'s proxy in Kubernetes mode, with the secrets every proxy shares.
async fn proxy(region: &Region) -> Gateway {
    let pem: String = TEST_SIGNING_KEY
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect();
    let config = format!(
        "store: {{backend: kubernetes}}\nkubernetes: {{namespace: {}, region: {}}}\n\
         codeKeySecretRef: {{name: codes, key: key}}\n\
         secrets:\n  codes: {{key: shared-by-every-proxy-of-the-test-fleet}}\n  demo.backend: {{apiKey: {DEMO_KEY}}}\n  demo.media:\n    key: |\n{pem}",
        region.namespace, region.name
    );
    let env = vec![(
        "KUBECONFIG".to_owned(),
        region.server.kubeconfig.as_os_str().to_owned(),
    )];
    Gateway::with_config_env(&config, env).await
}

/// Links `device` through `gw`: a code issued by the device, then the user's link; returns
/// the device's secret.
async fn link(gw: &Gateway, device: &str, user: &str) -> String {
    let (code, secret) = gw.issue_code_with_secret("demo", device).await;
    let (status, body) = gw
        .post_json(
            "/v1/requestors/demo/links",
            json!({"code": code, "userId": user, "mvpd": "test-mvpd"}),
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    secret
}

/// Waits until the device's own token gets `status` from its authn call on `gw`.
async fn until_token(gw: &Gateway, device: &str, token: &str, status: u16) {
    let path = format!("/v1/requestors/demo/devices/{device}/authn");
    eventually(
        &format!("{device}'s token answers {status} on {}", gw.api),
        || async {
            if gw.get(&path, Some(token)).await.0 == status {
                return Some(());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            None
        },
    )
    .await;
}

async fn authn(gw: &Gateway, device: &str) -> u16 {
    gw.get(
        &format!("/v1/requestors/demo/devices/{device}/authn"),
        Some(DEMO_KEY),
    )
    .await
    .0
}

/// Waits until `device`'s authn answers `status` on `gw`; returns how long that took.
async fn until_authn(gw: &Gateway, device: &str, status: u16) -> Duration {
    let started = Instant::now();
    eventually(
        &format!("{device} answers {status} on {}", gw.api),
        || async {
            if authn(gw, device).await == status {
                return Some(());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            None
        },
    )
    .await;
    started.elapsed()
}

#[tokio::test]
async fn a_device_linked_in_one_region_is_served_in_every_region_until_unlinked() {
    let regions = regions::start(&["a", "b", "c"]).await;
    create_demo_requestor(
        &regions[0].server.kubeconfig,
        &regions[0].namespace,
        json!({"signingKeys": [{"id": "k1", "privateKeySecretRef": {"name": "demo.media", "key": "key"}}]}),
    );
    let mut proxies = Vec::new();
    for region in &regions {
        proxies.push(proxy(region).await);
    }
    // The Requestor, authored in a, reaches b's and c's proxies.
    for gw in &proxies[1..] {
        eventually(&format!("demo served on {}", gw.api), || async {
            let (status, _) = gw
                .post_json(
                    "/v1/requestors/demo/codes",
                    json!({"deviceId": "probe"}),
                    None,
                )
                .await;
            (status == 201).then_some(())
        })
        .await;
    }
    let (a, b, c) = (&proxies[0], &proxies[1], &proxies[2]);

    let secret = link(a, "living-room-tv", "alice").await;
    // The device's credential travels with its DeviceLink: its token works in every region.
    let tokens = a.device_tokens("demo", &secret).await;
    for gw in [b, c] {
        until_authn(gw, "living-room-tv", 200).await;
        until_token(gw, "living-room-tv", &tokens.access, 200).await;
    }

    // Unlinked through b: refused in every region.
    let (status, body) = b
        .delete(
            "/v1/requestors/demo/devices/living-room-tv/users",
            Some(DEMO_KEY),
        )
        .await;
    assert!(status < 300, "unlink: {status} {body}");
    let refused = authn(b, "living-room-tv").await;
    assert!(refused >= 400, "unlinked in b: {refused}");
    for gw in [a, c] {
        until_authn(gw, "living-room-tv", refused).await;
    }
    // ...and the device's token with it, wherever it is shown.
    for gw in [a, b, c] {
        until_token(gw, "living-room-tv", &tokens.access, 401).await;
    }

    // Lag from a link acknowledged by a's proxy to the device authenticating on b's.
    let mut lags = Vec::with_capacity(LINKS);
    for i in 0..LINKS {
        let device = format!("tv-{i:03}");
        link(a, &device, "bob").await;
        lags.push(until_authn(b, &device, 200).await);
    }
    lags.sort();
    let at = |q: f64| lags[((lags.len() as f64 * q).ceil() as usize).clamp(1, lags.len()) - 1];
    eprintln!(
        "replication lag over {LINKS} links, a's proxy → b's proxy: p50 {:?}, p99 {:?}, max {:?}",
        at(0.50),
        at(0.99),
        lags[lags.len() - 1]
    );
}

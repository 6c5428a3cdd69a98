//! The operator's media-token keys reach the proxies: a requestor without keys of its own
//! gets one from the operator, proxies in Kubernetes mode sign with it (read from the
//! mounted Secret), and a rotation moves signing to the new key while tokens signed with
//! the old one still verify.

use std::path::Path;

use base64::Engine;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use linkgate_crds::Requestor;
use linkgate_domain::media_token::{JwkSet, MediaKeys};
use linkgate_domain::time::{Clock, SystemClock};
use linkgate_tests::kube::{condition, eventually};
use linkgate_tests::operator::Operator;
use linkgate_tests::{DEMO_KEY, Gateway, media_token};
use serde_json::json;

/// What the kubelet does for a pod that mounts the Secret: its keys as files.
async fn mount(secrets: &Api<Secret>, name: &str, dir: &Path) {
    let secret = secrets.get(name).await.expect("the key Secret");
    let target = dir.join(name);
    std::fs::create_dir_all(&target).unwrap();
    for (key, value) in secret.data.unwrap_or_default() {
        std::fs::write(target.join(key), value.0).unwrap();
    }
}

/// The `kid` a token's header names.
fn kid(token: &str) -> String {
    let header = token.split('.').next().expect("a JWT");
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("base64url");
    let header: serde_json::Value = serde_json::from_slice(&header).expect("JSON");
    header["kid"].as_str().expect("a kid").to_owned()
}

async fn published(gw: &Gateway) -> Vec<String> {
    let (status, body) = gw.get("/v1/requestors/demo/media-keys", None).await;
    assert_eq!(status, 200, "{body}");
    body["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

async fn status_keys(requestors: &Api<Requestor>) -> Vec<String> {
    requestors
        .get("demo")
        .await
        .ok()
        .and_then(|r| r.status)
        .map(|s| s.media_keys.into_iter().map(|k| k.id).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn proxies_sign_with_the_operators_keys_and_follow_their_rotation() {
    let client = linkgate_tests::kube::client().await;
    linkgate_tests::kube::install_crds(&client).await;
    let ns = linkgate_tests::kube::create_namespace(&client, "keys").await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    linkgate_tests::kube::create_secret(
        &client,
        &ns,
        "demo.backend",
        "apiKey",
        DEMO_KEY.as_bytes(),
    )
    .await;
    let requestors: Api<Requestor> = Api::namespaced(client.clone(), &ns);
    linkgate_tests::kube::create_demo_requestor(
        linkgate_tests::kube::kubeconfig(),
        &ns,
        json!({"ttlSeconds": 60}),
    );
    let _operator = Operator::start(&ns, "operator-0").await;
    condition(&requestors, "demo", "Ready", "True").await;
    let first = eventually("a managed key", async || {
        status_keys(&requestors).await.into_iter().next()
    })
    .await;

    let mounted = tempfile::tempdir().unwrap();
    mount(&secrets, "demo.media-keys", mounted.path()).await;
    mount(&secrets, "demo.backend", mounted.path()).await;
    let config = format!(
        "store: {{backend: kubernetes}}\nkubernetes: {{namespace: {ns}}}\n\
         codeKeySecretRef: {{name: codes, key: key}}\nsecretsDir: {}\n\
         secrets:\n  codes: {{key: shared-by-every-proxy-of-the-test-fleet}}\n",
        mounted.path().display()
    );
    let kubeconfig = linkgate_tests::kube::kubeconfig().as_os_str().to_owned();
    let gw = Gateway::with_config_env(&config, vec![("KUBECONFIG".into(), kubeconfig)]).await;
    assert_eq!(published(&gw).await, std::slice::from_ref(&first));
    let old_token = media_token(&gw, "demo", "tv-1", "news").await;
    assert_eq!(kid(&old_token), first);

    // Rotate: a new key signs, the old one stays published until its tokens expire.
    let rotate = |seconds: u64| {
        let requestors = requestors.clone();
        async move {
            requestors
                .patch(
                    "demo",
                    &PatchParams::default(),
                    &Patch::Merge(
                        json!({"spec": {"mediaTokens": {"keyRotationSeconds": seconds}}}),
                    ),
                )
                .await
                .unwrap()
                .metadata
                .generation
        }
    };
    rotate(2).await;
    eventually("a rotated key", async || {
        let keys = status_keys(&requestors).await;
        (keys.len() >= 2 && keys.contains(&first)).then_some(())
    })
    .await;
    // Then settle on a long period, and take the keys the operator ends with.
    let generation = rotate(86400).await;
    eventually("the settled period observed", async || {
        let ready = condition(&requestors, "demo", "Ready", "True").await;
        (ready.observed_generation == generation).then_some(())
    })
    .await;
    let keys = status_keys(&requestors).await;
    assert_ne!(keys[0], first, "{keys:?}");
    assert!(keys.contains(&first), "the old key is kept: {keys:?}");

    mount(&secrets, "demo.media-keys", mounted.path()).await;
    eventually("the proxy serving the rotated keys", async || {
        (published(&gw).await == keys).then_some(())
    })
    .await;
    let new_token = media_token(&gw, "demo", "tv-2", "news").await;
    assert_eq!(kid(&new_token), keys[0]);
    // Offline, with what the proxy publishes, both tokens verify.
    let (_, jwks) = gw.get("/v1/requestors/demo/media-keys", None).await;
    let jwks: JwkSet = serde_json::from_value(jwks).unwrap();
    let verifier = MediaKeys::from_jwks(&jwks).unwrap();
    for token in [&old_token, &new_token] {
        verifier
            .verify(token, "demo", "news", SystemClock.now())
            .expect("a token signed by a published key verifies");
    }

    // The kubelet updates a mounted Secret in place: a rotated backend key is served
    // without any change to the Requestor.
    std::fs::write(
        mounted.path().join("demo.backend/apiKey"),
        "rotated-backend-key",
    )
    .unwrap();
    let code = gw.issue_code("demo", "tv-3").await;
    let path = format!("/v1/requestors/demo/codes/{code}");
    eventually("the rotated backend key accepted", async || {
        (gw.get(&path, Some("rotated-backend-key")).await.0 == 200).then_some(())
    })
    .await;
    assert_eq!(gw.get(&path, Some(DEMO_KEY)).await.0, 401);
}

//! A proxy in Kubernetes mode whose API server stops answering: reads keep being served
//! from memory, writes fail with a clear 503 instead of hanging or being acknowledged, and
//! everything works again once the API server is back.

use std::time::{Duration, Instant};

use linkgate_tests::kube::Instance;
use linkgate_tests::{DEMO_KEY, Gateway};
use serde_json::json;

#[tokio::test]
async fn writes_fail_cleanly_and_reads_keep_serving_while_the_api_server_is_away() {
    // On an API server of its own (it gets paused).
    let server = Instance::start("outage");
    let client = server.client().await;
    linkgate_tests::kube::install_crds(&client).await;
    let ns = linkgate_tests::kube::create_namespace(&client, "outage").await;
    linkgate_tests::kube::create_demo_requestor(&server.kubeconfig, &ns, json!({}));
    let config = format!(
        "store: {{backend: kubernetes}}\nkubernetes: {{namespace: {ns}}}\n\
         codeKeySecretRef: {{name: codes, key: key}}\n\
         secrets:\n  codes: {{key: shared-by-every-proxy-of-the-test-fleet}}\n  demo.backend: {{apiKey: {DEMO_KEY}}}\n"
    );
    let env = vec![(
        "KUBECONFIG".to_owned(),
        server.kubeconfig.as_os_str().to_owned(),
    )];
    let gw = Gateway::with_config_env(&config, env).await;
    let link = |code: String| {
        let gw = &gw;
        async move {
            gw.post_json(
                "/v1/requestors/demo/links",
                json!({"code": code, "userId": "alice", "mvpd": "test-mvpd"}),
                Some(DEMO_KEY),
            )
            .await
        }
    };
    let code = gw.issue_code("demo", "tv").await;
    assert_eq!(link(code).await.0, 201);

    server.pause();
    // Reads never leave the process.
    let (status, body) = gw
        .get("/v1/requestors/demo/devices/tv/authn", Some(DEMO_KEY))
        .await;
    assert_eq!(status, 200, "{body}");
    // A write cannot be stored, so it is refused, in bounded time, and says why.
    let (status, body) = gw
        .post_json(
            "/v1/requestors/demo/codes",
            json!({"deviceId": "other-tv"}),
            None,
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "store_unavailable", "{body}");

    server.resume();
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        let (status, body) = gw
            .post_json(
                "/v1/requestors/demo/codes",
                json!({"deviceId": "other-tv"}),
                None,
            )
            .await;
        if status == 201 {
            break body["displayCode"].as_str().unwrap().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "writes never recovered: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(link(code).await.0, 201);
    let (status, _) = gw
        .get("/v1/requestors/demo/devices/other-tv/authn", Some(DEMO_KEY))
        .await;
    assert_eq!(status, 200);
}

//! Nothing acknowledged is lost: `kill -9` right after an answer, then restart.

use linkgate_tests::{DEMO_KEY, Gateway};
use serde_json::json;

#[tokio::test]
async fn a_device_s_tokens_and_their_rotation_survive_kill_9() {
    let mut gw = Gateway::demo().await;
    let first = gw.linked_device("demo", "tv-1", "alice").await;
    let (status, body) = gw.refresh("demo", &first.refresh).await;
    assert_eq!(status, 200, "{body}");
    let second = linkgate_tests::DeviceTokens::from(&body);

    gw.kill();
    gw.restart().await;

    let authn = "/v1/requestors/demo/devices/tv-1/authn";
    assert_eq!(gw.get(authn, Some(&second.access)).await.0, 200);
    // The rotation was acknowledged: the spent token is still spent, and its replay still
    // revokes the family.
    let (status, _) = gw.refresh("demo", &first.refresh).await;
    assert_eq!(status, 400);
    assert_eq!(gw.get(authn, Some(&second.access)).await.0, 401);
}

#[tokio::test]
async fn an_acknowledged_link_survives_kill_9() {
    let mut gw = Gateway::demo().await;
    let code = gw.issue_code("demo", "tv-1").await;
    let (status, _) = gw
        .post_json(
            "/v1/requestors/demo/links",
            json!({"code": code, "userId": "alice", "metadata": {"tier": "gold"}}),
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 201);
    // Issued but not yet used: the code must still work after the restart, so its hash
    // key has to survive too.
    let pending = gw.issue_code("demo", "tv-2").await;

    gw.kill();
    gw.restart().await;

    let (status, body) = gw
        .get("/v1/requestors/demo/devices/tv-1/authn", Some(DEMO_KEY))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["users"][0]["userId"], "alice");
    assert_eq!(body["users"][0]["metadata"]["tier"], "gold");

    let (status, body) = gw
        .post_json(
            "/v1/requestors/demo/links",
            json!({"code": pending, "userId": "bob"}),
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn an_acknowledged_unlink_survives_kill_9() {
    let mut gw = Gateway::demo().await;
    let code = gw.issue_code("demo", "tv").await;
    let linked = gw
        .post_json(
            "/v1/requestors/demo/links",
            json!({"code": code, "userId": "alice"}),
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(linked.0, 201);
    let (status, _) = gw
        .delete("/v1/requestors/demo/devices/tv/users/alice", Some(DEMO_KEY))
        .await;
    assert_eq!(status, 204);

    gw.restart().await;

    let (status, _) = gw
        .get("/v1/requestors/demo/devices/tv/authn", Some(DEMO_KEY))
        .await;
    assert_eq!(status, 403);
}

/// Links acknowledged while many writers race are all there after the crash.
#[tokio::test]
async fn concurrent_acknowledged_links_all_survive() {
    let mut gw = Gateway::demo().await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let http = gw.http.clone();
        let base = gw.url("");
        tasks.push(tokio::spawn(async move {
            let device = format!("tv-{i}");
            let issued: serde_json::Value = http
                .post(format!("{base}/v1/requestors/demo/codes"))
                .json(&json!({"deviceId": device}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let status = http
                .post(format!("{base}/v1/requestors/demo/links"))
                .bearer_auth(DEMO_KEY)
                .json(&json!({"code": issued["code"], "userId": format!("user-{i}")}))
                .send()
                .await
                .unwrap()
                .status();
            (device, status.as_u16())
        }));
    }
    let mut acknowledged = Vec::new();
    for task in tasks {
        let (device, status) = task.await.unwrap();
        assert_eq!(status, 201);
        acknowledged.push(device);
    }
    gw.restart().await;
    for device in acknowledged {
        let (status, _) = gw
            .get(
                &format!("/v1/requestors/demo/devices/{device}/authn"),
                Some(DEMO_KEY),
            )
            .await;
        assert_eq!(status, 200, "{device}");
    }
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly_and_keeps_links() {
    let mut gw = Gateway::demo().await;
    let code = gw.issue_code("demo", "tv").await;
    let (status, _) = gw
        .post_json(
            "/v1/requestors/demo/links",
            json!({"code": code, "userId": "alice"}),
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(gw.terminate().await, Some(0));
    gw.restart().await;
    let (status, _) = gw
        .get("/v1/requestors/demo/devices/tv/authn", Some(DEMO_KEY))
        .await;
    assert_eq!(status, 200);
}

//! The whole linking flow over the native API, single- and multi-user.

use linkgate_tests::{DEMO_KEY, Gateway, config_with};
use serde_json::json;

#[tokio::test]
async fn code_link_authn_users_unlink_on_the_demo_gateway() {
    let gw = Gateway::demo().await;
    let code = gw.issue_code("demo", "living-room-tv").await;
    assert_eq!(code.len(), 9, "XXXX-XXXX: {code}");

    // Before linking the device is not authenticated.
    let (status, body) = gw
        .get(
            "/v1/requestors/demo/devices/living-room-tv/authn",
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(body["code"], "authenticated_profile_missing");

    // The requestor's backend links the code, typed in lower case without the dash.
    let typed = code.replace('-', "").to_lowercase();
    let (status, body) = gw
        .post_json(
            "/v1/requestors/demo/links",
            json!({"code": typed, "userId": "alice", "mvpd": "test-mvpd", "metadata": {"zip": "10001"}}),
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["deviceId"], "living-room-tv");
    assert_eq!(body["users"][0]["userId"], "alice");
    assert_eq!(body["users"][0]["metadata"]["zip"], "10001");

    let (status, body) = gw
        .get(
            "/v1/requestors/demo/devices/living-room-tv/authn",
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["users"][0]["mvpd"], "test-mvpd");

    let users = gw.linked_users("demo", "living-room-tv").await;
    assert_eq!(users.as_array().unwrap().len(), 1);

    // The code was single-use.
    let (status, body) = gw
        .post_json(
            "/v1/requestors/demo/links",
            json!({"code": code, "userId": "alice"}),
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("code_not_found"))
    );

    let (status, _) = gw
        .delete(
            "/v1/requestors/demo/devices/living-room-tv/users",
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = gw
        .get(
            "/v1/requestors/demo/devices/living-room-tv/authn",
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(gw.linked_users("demo", "living-room-tv").await, json!([]));

    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("linkgate_codes_issued_total{requestor=\"demo\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("linkgate_device_links_total{requestor=\"demo\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("linkgate_device_unlinks_total{requestor=\"demo\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("linkgate_requests_total{route=\"native_links\",status=\"201\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_single_user_device_refuses_a_second_user() {
    let gw = Gateway::demo().await;
    for (user, expected) in [("alice", 201), ("bob", 409)] {
        // The device is linked after the first: the backend asks for the second code.
        let code = gw.issue_code_as("demo", "tv", Some(DEMO_KEY)).await.0;
        let (status, body) = gw
            .post_json(
                "/v1/requestors/demo/links",
                json!({"code": code, "userId": user}),
                Some(DEMO_KEY),
            )
            .await;
        assert_eq!(status, expected, "{user}: {body}");
    }
    // The refused code is still live: unlinking alice lets bob use it... with a new code.
    let (_, body) = gw
        .get("/v1/requestors/demo/devices/tv/users", Some(DEMO_KEY))
        .await;
    assert_eq!(body["users"][0]["userId"], "alice");
}

#[tokio::test]
async fn multiple_users_link_and_unlink_one_by_one() {
    let gw = Gateway::with_config(&config_with("family", "      allowMultipleUsers: true\n")).await;
    for user in ["alice", "bob"] {
        let code = gw
            .issue_code_as("family", "shared-tv", Some(DEMO_KEY))
            .await
            .0;
        let (status, body) = gw
            .post_json(
                "/v1/requestors/family/links",
                json!({"code": code, "userId": user}),
                Some(DEMO_KEY),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (_, body) = gw
        .get(
            "/v1/requestors/family/devices/shared-tv/users",
            Some(DEMO_KEY),
        )
        .await;
    let users: Vec<&str> = body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userId"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["alice", "bob"]);

    // Matchmaker's unlink without a user is ambiguous when several are allowed.
    let (status, body) = gw
        .post_form(
            "/matchmaker/family/unlink_device",
            &[("device_id", "shared-tv")],
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error_message"],
        "Multiple users allowed and no user_id is present"
    );

    let (status, _) = gw
        .delete(
            "/v1/requestors/family/devices/shared-tv/users/alice",
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 204);
    let (_, body) = gw
        .get(
            "/v1/requestors/family/devices/shared-tv/users",
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(body["users"][0]["userId"], "bob");
    assert_eq!(body["users"].as_array().unwrap().len(), 1);

    let (status, body) = gw
        .delete(
            "/v1/requestors/family/devices/shared-tv/users/alice",
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("no_user_on_device"))
    );

    let (status, _) = gw
        .post_form(
            "/matchmaker/family/unlink_device",
            &[("device_id", "shared-tv"), ("user_id", "bob")],
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = gw
        .get(
            "/v1/requestors/family/devices/shared-tv/authn",
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 403);
}

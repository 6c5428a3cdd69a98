//! The Matchmaker dialect (seed 000): its answers, and each of its error strings provoked
//! by real requests.

use linkgate_tests::{DEMO_KEY, Gateway, config_with};
use serde_json::{Value, json};

async fn auth_code(gw: &Gateway, requestor: &str, device: &str) -> String {
    let (status, body) = gw
        .post_form(
            &format!("/matchmaker/{requestor}/get_auth_code"),
            &[("device_id", device)],
            // Some of these devices are linked already: the backend asks for them.
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["device_id"], device);
    body["auth_code"].as_str().unwrap().to_owned()
}

async fn link(gw: &Gateway, requestor: &str, code: &str, user: &str) -> (u16, Value) {
    gw.post_form(
        &format!("/matchmaker/{requestor}/link_device"),
        &[("auth_code", code), ("user_id", user)],
        Some(DEMO_KEY),
    )
    .await
}

fn assert_error(got: (u16, Value), status: u16, message: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["error_message"], message, "{}", got.1);
    assert_eq!(got.1["message"], message, "{}", got.1);
    assert!(got.1["code"].is_string(), "{}", got.1);
}

#[tokio::test]
async fn the_matchmaker_flow_answers_like_the_seed() {
    let gw = Gateway::demo().await;
    let code = auth_code(&gw, "demo", "roku-1").await;
    let (status, body) = link(
        &gw,
        "demo",
        &code,
        "_guid_lAtpDqR_emDPQB5dcb6iLVP-eBkAC32J2ySHwUsFGjs=",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"device_id": "roku-1", "user_id": "_guid_lAtpDqR_emDPQB5dcb6iLVP-eBkAC32J2ySHwUsFGjs="})
    );
    // register_user is the seed's other name for link_device.
    let code = auth_code(&gw, "demo", "roku-2").await;
    let (status, _) = gw
        .post_form(
            "/matchmaker/demo/register_user",
            &[("auth_code", &code), ("user_id", "bob")],
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 200);

    let (status, body) = gw
        .get("/matchmaker/demo/get_user?device_id=roku-2", Some(DEMO_KEY))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"device_id": "roku-2", "user_id": ["bob"]}));

    let (status, body) = gw
        .post_form(
            "/matchmaker/demo/unlink_device",
            &[("device_id", "roku-2")],
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"deleted": "Account/device relationship terminated."})
    );
}

#[tokio::test]
async fn every_matchmaker_error_string_is_reachable() {
    let gw = Gateway::demo().await;

    assert_error(
        gw.post_form(
            "/matchmaker/demo/get_auth_code",
            &[("device_id", "bad id!")],
            None,
        )
        .await,
        400,
        "Illegal device ID",
    );
    assert_error(
        gw.get("/matchmaker/demo/get_user?device_id=a%2Fb", Some(DEMO_KEY))
            .await,
        400,
        "Illegal device ID",
    );

    let code = auth_code(&gw, "demo", "tv-1").await;
    assert_error(
        link(&gw, "demo", &code, "bad/user").await,
        400,
        "Illegal user ID",
    );
    assert_error(
        gw.post_form(
            "/matchmaker/demo/unlink_device",
            &[("device_id", "tv-1"), ("user_id", "bad user")],
            Some(DEMO_KEY),
        )
        .await,
        400,
        "Illegal user ID",
    );

    assert_error(
        link(&gw, "demo", "ZZZZZZZZ", "alice").await,
        404,
        "No device associated with that auth code",
    );
    assert_error(
        gw.get("/matchmaker/demo/get_user?device_id=tv-1", Some(DEMO_KEY))
            .await,
        404,
        "No such user exists",
    );
    assert_error(
        gw.post_form(
            "/matchmaker/demo/unlink_device",
            &[("device_id", "tv-1")],
            Some(DEMO_KEY),
        )
        .await,
        404,
        "No user belongs to this device",
    );

    assert_eq!(link(&gw, "demo", &code, "alice").await.0, 200);
    let code = auth_code(&gw, "demo", "tv-1").await;
    assert_error(
        link(&gw, "demo", &code, "bob").await,
        409,
        "Another user has already registered this device",
    );
}

#[tokio::test]
async fn already_registered_to_you_applies_when_multiple_users_are_allowed() {
    let gw = Gateway::with_config(&config_with("family", "      allowMultipleUsers: true\n")).await;
    let code = auth_code(&gw, "family", "tv").await;
    assert_eq!(link(&gw, "family", &code, "alice").await.0, 200);
    let code = auth_code(&gw, "family", "tv").await;
    assert_error(
        link(&gw, "family", &code, "alice").await,
        409,
        "This device has already been registered to you!",
    );
    assert_error(
        gw.post_form(
            "/matchmaker/family/unlink_device",
            &[("device_id", "tv")],
            Some(DEMO_KEY),
        )
        .await,
        400,
        "Multiple users allowed and no user_id is present",
    );
}

/// With the store unable to write (the gateway's file size limit dropped to zero while it
/// runs), linking and unlinking fail with the seed's storage messages and nothing changes.
#[tokio::test]
async fn storage_failures_report_registration_failed_and_could_not_remove() {
    let gw = Gateway::demo().await;
    let linked = auth_code(&gw, "demo", "linked-tv").await;
    assert_eq!(link(&gw, "demo", &linked, "alice").await.0, 200);
    let pending = auth_code(&gw, "demo", "new-tv").await;

    let limited = std::process::Command::new("prlimit")
        .arg(format!("--pid={}", gw.pid()))
        .arg("--fsize=0")
        .status()
        .expect("run prlimit");
    assert!(limited.success());

    assert_error(
        link(&gw, "demo", &pending, "bob").await,
        503,
        "Registration failed",
    );
    assert_error(
        gw.post_form(
            "/matchmaker/demo/unlink_device",
            &[("device_id", "linked-tv")],
            Some(DEMO_KEY),
        )
        .await,
        503,
        "Could not remove the device from the user's data",
    );
    // Neither failed write took effect: alice is still linked, new-tv still is not.
    let (status, body) = gw
        .get(
            "/matchmaker/demo/get_user?device_id=linked-tv",
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!((status, &body["user_id"]), (200, &json!(["alice"])));
    let (status, _) = gw
        .get("/matchmaker/demo/get_user?device_id=new-tv", Some(DEMO_KEY))
        .await;
    assert_eq!(status, 404);
}

//! The requestor's account webhook (seed 004's callbacks) decides every link: a user ID
//! links that user, 0 a new one, -1 refuses the code, -3 leaves it usable, and "pending"
//! holds the link — through a restart — until the backend approves or refuses it. A slow,
//! dead or garbled webhook is an error with its own status, never a link.

use std::time::Duration;

use linkgate_tests::account_backend::{AccountBackend, Reply};
use linkgate_tests::decision_point::dead_url;
use linkgate_tests::{DEMO_KEY, Gateway, requestors_config, unthrottled};
use serde_json::{Value, json};

/// A gateway whose `demo` requestor asks `url` about every link, within 500 ms.
async fn gateway(url: &str) -> Gateway {
    let spec = format!(
        "      accountWebhook: {{url: '{url}', timeoutMillis: 500}}\n      deviceFlow: {{intervalSeconds: 1}}\n"
    );
    Gateway::with_config(&unthrottled(&requestors_config("", &[("demo", &spec)]))).await
}

async fn link(gw: &Gateway, code: &str, user: &str) -> (u16, Value) {
    gw.post_json(
        "/v1/requestors/demo/links",
        json!({"code": code, "userId": user, "mvpd": "test-mvpd", "metadata": {"zip": "10001"}}),
        Some(DEMO_KEY),
    )
    .await
}

async fn approve(gw: &Gateway, code: &str, answer: Value) -> (u16, Value) {
    gw.post_json(
        &format!("/v1/requestors/demo/codes/{code}/approval"),
        json!({ "answer": answer }),
        Some(DEMO_KEY),
    )
    .await
}

/// The users the device authenticates as; empty when it is not linked.
async fn users(gw: &Gateway, device: &str) -> Vec<String> {
    let (status, body) = gw
        .get(
            &format!("/v1/requestors/demo/devices/{device}/authn"),
            Some(DEMO_KEY),
        )
        .await;
    if status != 200 {
        return Vec::new();
    }
    body["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["userId"].as_str().expect("a user ID").to_owned())
        .collect()
}

fn code_of(body: &Value) -> Option<&str> {
    body["code"].as_str()
}

#[tokio::test]
async fn each_answer_of_the_account_webhook_decides_the_link() {
    let backend = AccountBackend::start().await;
    let gw = gateway(&backend.url()).await;

    // A user ID: that user is linked, whoever the link was asked for.
    backend.reply(Reply::Answer(json!("carol"))).await;
    let code = gw.issue_code("demo", "tv-1").await;
    let (status, body) = link(&gw, &code, "alice").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(users(&gw, "tv-1").await, ["carol"]);
    let asked = backend.last_question().await;
    assert_eq!(
        (
            &asked["requestor"],
            &asked["deviceId"],
            &asked["userId"],
            &asked["mvpd"]
        ),
        (
            &json!("demo"),
            &json!("tv-1"),
            &json!("alice"),
            &json!("test-mvpd")
        )
    );
    assert_eq!(asked["metadata"], json!({"zip": "10001"}));

    // 0: a new user, with an ID the gateway makes.
    backend.reply(Reply::Answer(json!(0))).await;
    let code = gw.issue_code("demo", "tv-2").await;
    assert_eq!(link(&gw, &code, "alice").await.0, 201);
    let made = users(&gw, "tv-2").await;
    assert_eq!(made.len(), 1);
    assert!(made[0].starts_with("u-") && made[0] != "alice", "{made:?}");

    // -1: refused, and the code with it.
    backend.reply(Reply::Answer(json!(-1))).await;
    let code = gw.issue_code("demo", "tv-3").await;
    let (status, body) = link(&gw, &code, "mallory").await;
    assert_eq!(
        (status, code_of(&body)),
        (403, Some("account_unauthorized"))
    );
    backend.reply(Reply::Answer(json!("alice"))).await;
    let (status, body) = link(&gw, &code, "alice").await;
    assert_eq!((status, code_of(&body)), (404, Some("code_not_found")));
    assert!(users(&gw, "tv-3").await.is_empty());

    // -3: the backend failed; the code stays usable.
    backend.reply(Reply::Answer(json!(-3))).await;
    let code = gw.issue_code("demo", "tv-4").await;
    let (status, body) = link(&gw, &code, "alice").await;
    assert_eq!((status, code_of(&body)), (502, Some("account_error")));
    backend.reply(Reply::Answer(json!(7))).await;
    assert_eq!(link(&gw, &code, "alice").await.0, 201);
    assert_eq!(users(&gw, "tv-4").await, ["7"]);

    // A slow or garbled answer is the webhook's failure, and links nothing.
    let code = gw.issue_code("demo", "tv-5").await;
    backend.reply(Reply::Slow(Duration::from_secs(2))).await;
    let (status, body) = link(&gw, &code, "alice").await;
    assert_eq!(
        (status, code_of(&body)),
        (504, Some("account_webhook_timeout"))
    );
    backend.reply(Reply::Garbage).await;
    let (status, body) = link(&gw, &code, "alice").await;
    assert_eq!(
        (status, code_of(&body)),
        (502, Some("account_webhook_invalid"))
    );
    backend.reply(Reply::Answer(json!("not a valid id!"))).await;
    let (status, body) = link(&gw, &code, "alice").await;
    assert_eq!(
        (status, code_of(&body)),
        (502, Some("account_webhook_invalid"))
    );
    assert!(users(&gw, "tv-5").await.is_empty());

    // The Matchmaker dialect tells the user the backend chose.
    backend.reply(Reply::Answer(json!("frank"))).await;
    let code = gw.issue_code("demo", "tv-6").await;
    let (status, body) = gw
        .post_form(
            "/matchmaker/demo/link_device",
            &[("auth_code", code.as_str()), ("user_id", "alice")],
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!((status, &body["user_id"]), (200, &json!("frank")), "{body}");
}

#[tokio::test]
async fn a_dead_account_webhook_links_nothing() {
    let gw = gateway(&dead_url()).await;
    let code = gw.issue_code("demo", "tv").await;
    let (status, body) = link(&gw, &code, "alice").await;
    assert_eq!(
        (status, code_of(&body)),
        (502, Some("account_webhook_unavailable"))
    );
    assert!(users(&gw, "tv").await.is_empty());
}

#[tokio::test]
async fn a_pending_link_is_held_through_a_restart_until_the_backend_decides() {
    let backend = AccountBackend::start().await;
    let mut gw = gateway(&backend.url()).await;
    backend.reply(Reply::Answer(json!("pending"))).await;
    let approved = gw.issue_code("demo", "living-room-tv").await;
    let refused = gw.issue_code("demo", "kitchen-tv").await;
    for code in [&approved, &refused] {
        let (status, body) = link(&gw, code, "alice").await;
        assert_eq!((status, &body["status"]), (202, &json!("pending_approval")));
    }
    // Held: not linked yet, and the code is no one else's to use meanwhile.
    assert!(users(&gw, "living-room-tv").await.is_empty());
    backend.reply(Reply::Answer(json!("bob"))).await;
    let (status, body) = link(&gw, &approved, "bob").await;
    assert_eq!((status, code_of(&body)), (404, Some("code_not_found")));

    // Acknowledged with 202, so kept when the gateway dies.
    gw.restart().await;

    // Only the backend approves, with a user ID, 0 or -1.
    let path = format!("/v1/requestors/demo/codes/{approved}/approval");
    let (status, _) = gw.post_json(&path, json!({"answer": "alice"}), None).await;
    assert_eq!(status, 401);
    let (status, body) = approve(&gw, &approved, json!("pending")).await;
    assert_eq!((status, code_of(&body)), (400, Some("invalid_approval")));
    let (status, body) = approve(&gw, &approved, json!("alice")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(users(&gw, "living-room-tv").await, ["alice"]);
    let linked = &body["users"][0];
    assert_eq!(
        (&linked["mvpd"], &linked["metadata"]),
        (&json!("test-mvpd"), &json!({"zip": "10001"})),
        "the link as it was asked for"
    );
    // Decided once.
    let (status, body) = approve(&gw, &approved, json!("alice")).await;
    assert_eq!((status, code_of(&body)), (404, Some("approval_not_found")));

    let (status, body) = approve(&gw, &refused, json!(-1)).await;
    assert_eq!(
        (status, code_of(&body)),
        (403, Some("account_unauthorized"))
    );
    assert!(users(&gw, "kitchen-tv").await.is_empty());
    let (status, body) = approve(&gw, &refused, json!(0)).await;
    assert_eq!((status, code_of(&body)), (404, Some("approval_not_found")));
}

/// Polls the token endpoint for `device_code` after the interval; returns the OAuth error.
async fn poll(gw: &Gateway, device_code: &str) -> Value {
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, body) = gw
        .post_form(
            "/oauth/demo/token",
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", device_code),
                ("client_id", "demo"),
            ],
            None,
        )
        .await;
    body["error"].clone()
}

#[tokio::test]
async fn a_device_polling_its_code_waits_while_the_link_is_held_and_learns_a_refusal() {
    let backend = AccountBackend::start().await;
    let gw = gateway(&backend.url()).await;
    let (status, grant) = gw
        .post_form(
            "/oauth/demo/device_authorization",
            &[("client_id", "demo"), ("device_id", "console")],
            None,
        )
        .await;
    assert_eq!(status, 200, "{grant}");
    let device_code = grant["device_code"].as_str().expect("a device code");
    let user_code = grant["user_code"].as_str().expect("a user code");

    backend.reply(Reply::Answer(json!("pending"))).await;
    assert_eq!(link(&gw, user_code, "alice").await.0, 202);
    assert_eq!(poll(&gw, device_code).await, "authorization_pending");
    let (status, _) = approve(&gw, user_code, json!(-1)).await;
    assert_eq!(status, 403);
    assert_eq!(poll(&gw, device_code).await, "access_denied");
}

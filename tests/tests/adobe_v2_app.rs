//! An app written for Adobe Pass REST API v2, unchanged: it registers at Adobe's paths with
//! the software statement its programmer was given (`POST /o/client/register`, JSON), takes
//! an access token (`POST /o/client/token`, the client-credentials grant, 201), and reads the
//! service provider's configuration with it. The request and answer shapes are those of
//! Adobe's public REST API v2 pages. Without the token, with another requestor's, or with a
//! backend's, the v2 calls are refused with v2's flat error; the app's token is never the
//! backend's.

use std::process::Command;

use base64::Engine;
use linkgate_tests::{Gateway, TEST_SIGNING_KEY, unthrottled};
use serde_json::{Value, json};

/// The public half of `TEST_SIGNING_KEY`, which signs the statements.
const STATEMENT_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAW0U2wzVlor6p4YqFjUOXOl/haR+g1RP25ftM+DEKTzI=\n-----END PUBLIC KEY-----\n";

/// Requestors `demo` (known to v2 apps as `DemoTV`) and `other`, both registering apps.
fn config() -> String {
    let indent = |pem: &str| -> String { pem.lines().map(|l| format!("      {l}\n")).collect() };
    let clients = "backend: {clients: {softwareStatementKeys: [{name: statements, key: key}]}}";
    unthrottled(&format!(
        "secrets:\n  statements:\n    key: |\n{}requestors:\n\
         \x20 - name: demo\n    spec:\n      displayName: Demo TV\n\
         \x20     mvpds:\n\
         \x20       - {{id: cable-co, displayName: Cable Co, logoUrl: 'https://cdn.cable-co.example/logo.png'}}\n\
         \x20       - {{id: sat-co, displayName: Sat Co}}\n\
         \x20     adobe: {{requestorId: DemoTV, redirectHosts: [www.demo-tv.example]}}\n\
         \x20     {clients}\n\
         \x20 - name: other\n    spec:\n      mvpds: [{{id: cable-co}}]\n      {clients}\n",
        indent(STATEMENT_PUBLIC_KEY)
    ))
}

/// A statement for `requestor`'s app, made with the gateway's `software-statement` command.
fn statement(requestor: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("statement-key.pem");
    std::fs::write(&path, TEST_SIGNING_KEY).expect("write the key");
    let out = Command::new(linkgate_tests::proxy_binary())
        .args(["software-statement", "--key"])
        .arg(&path)
        .args(["--requestor", requestor, "--software-id", "demo-tv-roku"])
        .output()
        .expect("run software-statement");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .trim()
        .to_owned()
}

/// `X-Device-Info` as a Roku app sends it: base64 of its JSON.
fn device_info() -> String {
    let info = json!({"primaryHardwareType": "SetTopBox", "model": "4802X", "manufacturer": "Roku",
        "version": "4802X", "osName": "Roku OS", "osVersion": "13.0", "connectionType": "WiFi"});
    base64::engine::general_purpose::STANDARD.encode(info.to_string())
}

/// The app registered and holding an access token: `(client_id, access_token)`.
async fn app_token(gw: &Gateway, requestor: &str) -> (String, String) {
    let http = reqwest::Client::new();
    let registered = http
        .post(gw.url("/o/client/register"))
        .header("x-device-info", device_info())
        .json(&json!({"software_statement": statement(requestor)}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let client: Value = registered.json().await.unwrap();
    assert_eq!(client["grant_types"], json!(["client_credentials"]));
    assert_eq!(client["scopes"], json!(["api:client:v2"]));
    assert!(client["client_id_issued_at"].as_i64().unwrap() > 1_700_000_000);
    let id = client["client_id"].as_str().unwrap().to_owned();
    let secret = client["client_secret"].as_str().unwrap();

    let token = http
        .post(gw.url("/o/client/token"))
        .header("x-device-info", device_info())
        .form(&[
            ("client_id", id.as_str()),
            ("client_secret", secret),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 201);
    let token: Value = token.json().await.unwrap();
    assert_eq!(token["token_type"], "bearer");
    assert!(token["expires_in"].as_u64().unwrap() > 0);
    assert!(
        token["created_at"].as_i64().unwrap() > 1_700_000_000_000,
        "milliseconds"
    );
    assert!(token["id"].as_str().is_some_and(|id| !id.is_empty()));
    (id, token["access_token"].as_str().unwrap().to_owned())
}

async fn configuration(gw: &Gateway, sp: &str, bearer: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .get(gw.url(&format!("/api/v2/{sp}/configuration")))
        .header("x-device-info", device_info());
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    linkgate_tests::read(request.send().await.unwrap()).await
}

/// v2's enhanced error code, flat at the top level.
fn assert_v2_error(body: &Value, status: u16, code: &str, action: &str) {
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["action"], action, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        body["trace"].as_str().is_some_and(|t| t.len() >= 32),
        "{body}"
    );
}

#[tokio::test]
async fn a_v2_app_registers_takes_its_token_and_reads_the_configuration() {
    let gw = Gateway::with_config(&config()).await;
    let (client_id, token) = app_token(&gw, "demo").await;
    assert!(!client_id.is_empty());

    for sp in ["DemoTV", "demo"] {
        let (status, config) = configuration(&gw, sp, Some(&token)).await;
        assert_eq!(status, 200, "{config}");
        let requestor = &config["requestor"];
        assert_eq!(requestor["id"], "DemoTV");
        assert_eq!(requestor["name"], "Demo TV");
        assert_eq!(
            requestor["domains"],
            json!([{"name": "www.demo-tv.example", "mvpdInitiated": false}])
        );
        let mvpds = requestor["mvpds"].as_array().unwrap();
        assert_eq!(mvpds.len(), 2);
        assert_eq!(mvpds[0]["id"], "cable-co");
        assert_eq!(mvpds[0]["displayName"], "Cable Co");
        assert_eq!(mvpds[0]["logoUrl"], "https://cdn.cable-co.example/logo.png");
        assert_eq!(mvpds[0]["isTempPass"], false);
        assert_eq!(mvpds[1]["id"], "sat-co");
    }
}

#[tokio::test]
async fn without_the_app_s_own_token_v2_calls_are_refused_and_the_token_is_never_the_backend() {
    let gw = Gateway::with_config(&config()).await;
    let (_, demo_app) = app_token(&gw, "demo").await;
    let (_, other_app) = app_token(&gw, "other").await;

    for (what, bearer) in [
        ("no token", None),
        ("another requestor's app", Some(other_app.as_str())),
        ("a made-up token", Some("eyJhbGciOiJIUzI1NiJ9.e30.x")),
    ] {
        let (status, body) = configuration(&gw, "DemoTV", bearer).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_v2_error(
            &body,
            401,
            "invalid_access_token_client_application",
            "application-registration",
        );
    }
    let (status, body) = configuration(&gw, "NoSuchProvider", Some(&demo_app)).await;
    assert_eq!(status, 404, "{body}");
    assert_v2_error(&body, 404, "unknown_requestor", "none");

    // The app's token, shared by every copy of the app, is not the backend's.
    let (status, _) = gw
        .post_json(
            "/v1/requestors/demo/links",
            json!({"code": "ABCD1234", "userId": "mallory"}),
            Some(&demo_app),
        )
        .await;
    assert_eq!(status, 401, "the app's token on a backend call");

    // Registration and token calls that cannot stand.
    let http = reqwest::Client::new();
    let (status, body) = linkgate_tests::read(
        http.post(gw.url("/o/client/register"))
            .json(&json!({"software_statement": statement("nobody")}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("unknown_requestor")),
        "{body}"
    );
    let (client_id, _) = app_token(&gw, "demo").await;
    let (status, body) = linkgate_tests::read(
        http.post(gw.url("/o/client/token"))
            .form(&[
                ("client_id", client_id.as_str()),
                ("client_secret", "not-the-secret"),
                ("grant_type", "client_credentials"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
}

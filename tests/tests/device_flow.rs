//! RFC 8628 driven by an unmodified OAuth 2.0 client library (the `oauth2` crate), and the
//! token endpoint's refusals spoken to directly.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use linkgate_tests::{DEMO_KEY, Gateway, requestors_config};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, ClientId, DeviceAuthorizationUrl, StandardDeviceAuthorizationResponse, TokenResponse,
    TokenUrl,
};
use serde_json::{Value, json};

fn config() -> String {
    requestors_config(
        "",
        &[(
            "tv",
            "      throttling: {perClientIp: null}\n      deviceFlow: {intervalSeconds: 1, verificationUri: 'https://tv.example/activate'}\n",
        )],
    )
}

async fn link(gw: &Gateway, user_code: &str, user: &str) {
    let (status, body) = gw
        .post_json(
            "/v1/requestors/tv/links",
            json!({"code": user_code, "userId": user, "mvpd": "test-mvpd"}),
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn an_oauth2_client_library_drives_the_device_flow_through_slow_down_to_a_token() {
    let gw = Arc::new(Gateway::with_config(&config()).await);
    let client = BasicClient::new(ClientId::new("tv".into()))
        .set_auth_type(AuthType::RequestBody)
        .set_device_authorization_url(
            DeviceAuthorizationUrl::new(gw.url("/oauth/tv/device_authorization")).unwrap(),
        )
        .set_token_uri(TokenUrl::new(gw.url("/oauth/tv/token")).unwrap());
    let http = oauth2::reqwest::Client::new();

    let details: StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(details.interval(), Duration::from_secs(1));
    assert_eq!(
        details.verification_uri().as_str(),
        "https://tv.example/activate"
    );
    let complete = details
        .verification_uri_complete()
        .unwrap()
        .secret()
        .clone();
    let user_code = details.user_code().secret().clone();
    assert!(
        complete.contains(&format!("user_code={user_code}")),
        "{complete}"
    );

    // The first pause is skipped (the device polls too fast) and is when the person links
    // the code; later pauses are honoured, so the library must slow down to succeed.
    let pauses = Arc::new(Mutex::new(Vec::new()));
    let sleep = {
        let (gw, pauses, user_code) = (gw.clone(), pauses.clone(), user_code.clone());
        move |pause: Duration| {
            let (gw, pauses, user_code) = (gw.clone(), pauses.clone(), user_code.clone());
            async move {
                let first = {
                    let mut pauses = pauses.lock().unwrap();
                    pauses.push(pause);
                    pauses.len() == 1
                };
                if first {
                    link(&gw, &user_code, "alice").await;
                } else {
                    tokio::time::sleep(pause).await;
                }
            }
        }
    };
    let token = client
        .exchange_device_access_token(&details)
        .request_async(&http, sleep, Some(Duration::from_secs(30)))
        .await
        .expect("the device flow ends in a token");
    let pauses = pauses.lock().unwrap().clone();
    assert_eq!(pauses[0], Duration::from_secs(1));
    assert!(
        pauses.contains(&Duration::from_secs(6)),
        "slow_down added 5 s: {pauses:?}"
    );

    // The token is the device's own credential, for the device the flow named.
    let payload = token
        .access_token()
        .secret()
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (&claims["aud"], &claims["typ"]),
        (&json!("tv"), &json!("access"))
    );
    let device = claims["dev"].as_str().unwrap();
    let access = token.access_token().secret();
    let base = format!("/v1/requestors/tv/devices/{device}");
    let (status, body) = gw.get(&format!("{base}/authn"), Some(access)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["users"][0]["userId"], "alice");
    let (status, body) = gw
        .get(&format!("{base}/authorize?resource=news"), Some(access))
        .await;
    assert_eq!((status, &body["resource"]), (200, &json!("news")), "{body}");
    let (status, body) = gw
        .get(&format!("{base}/media-token?resource=news"), Some(access))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["token"].is_string());
    let checkauthn = format!("/api/v1/checkauthn?requestor=tv&deviceId={device}");
    assert_eq!(gw.get(&checkauthn, Some(access)).await.0, 200);

    // The library's refresh grant renews it.
    let renewed = client
        .exchange_refresh_token(token.refresh_token().expect("a refresh token"))
        .request_async(&http)
        .await
        .expect("a refreshed token");
    let (status, _) = gw
        .get(
            &format!("{base}/authn"),
            Some(renewed.access_token().secret()),
        )
        .await;
    assert_eq!(status, 200);
}

async fn poll(gw: &Gateway, device_code: &str) -> (u16, Value) {
    gw.post_form(
        "/oauth/tv/token",
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device_code),
            ("client_id", "tv"),
        ],
        None,
    )
    .await
}

async fn start(gw: &Gateway, device: &str) -> Value {
    let (status, body) = gw
        .post_form(
            "/oauth/tv/device_authorization",
            &[("client_id", "tv"), ("device_id", device)],
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["device_id"], device);
    body
}

fn assert_oauth_error(got: (u16, Value), status: u16, error: &str) {
    assert_eq!(
        (got.0, got.1["error"].as_str()),
        (status, Some(error)),
        "{}",
        got.1
    );
    assert!(got.1["error_description"].is_string());
}

#[tokio::test]
async fn the_token_endpoint_answers_pending_slow_down_denied_and_invalid() {
    let gw = Gateway::with_config(&config()).await;
    let started = start(&gw, "tv-1").await;
    let device_code = started["device_code"].as_str().unwrap();
    assert!(device_code.len() >= 43, "256 bits of device code");

    assert_oauth_error(poll(&gw, device_code).await, 400, "authorization_pending");
    assert_oauth_error(poll(&gw, device_code).await, 400, "slow_down");

    // The backend refuses the code: the device learns it.
    let user_code = started["user_code"].as_str().unwrap();
    let (status, _) = gw
        .delete(
            &format!("/v1/requestors/tv/codes/{user_code}"),
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 204);
    tokio::time::sleep(Duration::from_millis(6_100)).await;
    assert_oauth_error(poll(&gw, device_code).await, 400, "access_denied");

    assert_oauth_error(poll(&gw, "not-a-device-code").await, 400, "invalid_grant");
    let (status, body) = gw
        .post_form(
            "/oauth/tv/token",
            &[("grant_type", "password"), ("client_id", "tv")],
            None,
        )
        .await;
    assert_oauth_error((status, body), 400, "unsupported_grant_type");
    let (status, body) = gw
        .post_form(
            "/oauth/tv/device_authorization",
            &[("client_id", "other")],
            None,
        )
        .await;
    assert_oauth_error((status, body), 401, "invalid_client");
}

#[tokio::test]
async fn a_device_code_yields_one_token() {
    let gw = Gateway::with_config(&config()).await;
    let started = start(&gw, "tv-2").await;
    link(&gw, started["user_code"].as_str().unwrap(), "bob").await;
    let device_code = started["device_code"].as_str().unwrap();
    let (status, body) = poll(&gw, device_code).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["user_id"], "bob");
    assert!(body["expires_in"].as_u64().unwrap() > 0);
    assert!(body["refresh_token"].is_string(), "{body}");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_oauth_error(poll(&gw, device_code).await, 400, "invalid_grant");
}

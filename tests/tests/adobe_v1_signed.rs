//! Apps written for Adobe Pass REST API v1, unchanged: every call carries v1's signed
//! `Authorization` header (signed here with RustCrypto's HMAC-SHA1, not the gateway's), the
//! requestor is named by its upper-case ID, the device by a base64 hash or a UUID.

use linkgate_tests::adobe_app::{AdobeApp as App, now_millis};
use linkgate_tests::{DEMO_KEY, Gateway, TEST_SIGNING_KEY};
use reqwest::Method;

const PUBLIC_KEY: &str = "yKpsHYd8TOITdTMJHmkJOVmgbb2DykNK";
const SECRET: &str = "the-app-secret";
/// A base64 hash of a device, with all three of its non-alphanumeric characters.
const DEVICE: &str = "q2Vt+/x9Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==";
/// `DEVICE` as a query parameter carries it.
const DEVICE_Q: &str = "q2Vt%2B%2Fx9Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA%3D%3D";

fn config(backend_only: bool) -> String {
    let pem: String = TEST_SIGNING_KEY
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect();
    let backend_only = if backend_only {
        "      deviceAuth: {backendOnly: [adobe]}"
    } else {
        ""
    };
    let lines = [
        "requestors:",
        "  - name: espn",
        "    spec:",
        "      mvpds: [{id: test-mvpd, decision: {allow: ['*']}}]",
        "      mediaTokens: {signingKeys: [{id: k1, privateKeySecretRef: {name: media, key: key}}]}",
        "      backend: {apiKeySecretRef: {name: backend, key: apiKey}}",
        "      adobe:",
        "        requestorId: ESPN",
        &format!(
            "        signedApps: [{{publicKey: {PUBLIC_KEY}, secretRef: {{name: app, key: secret}}}}]"
        ),
        backend_only,
        "  - name: nbc",
        "    spec:",
        "      backend: {apiKeySecretRef: {name: backend, key: apiKey}}",
    ];
    linkgate_tests::unthrottled(&format!(
        "secrets:\n  backend: {{apiKey: {DEMO_KEY}}}\n  app: {{secret: {SECRET}}}\n  media:\n    key: |\n{pem}{}\n",
        lines.join("\n")
    ))
}

/// Links `DEVICE` with a regcode the app asked for, as the second screen would.
async fn linked(gw: &Gateway, app: &App<'_>) {
    let created = app.regcode(DEVICE).await;
    assert_eq!(created["requestor"], "espn");
    assert_eq!(
        created["mvpd"], "",
        "always there, empty when none was chosen"
    );
    assert_eq!(created["info"]["deviceId"], DEVICE);
    gw.link_code("espn", created["code"].as_str().unwrap(), "alice")
        .await;
}

#[tokio::test]
async fn an_app_signing_as_v1_apps_do_walks_its_calls_by_its_upper_case_requestor_id() {
    let gw = Gateway::with_config(&config(true)).await;
    let app = App::new(&gw, "ESPN", PUBLIC_KEY, SECRET);
    linked(&gw, &app).await;

    let q = format!("requestor=ESPN&deviceId={DEVICE_Q}");
    let (status, authn) = app
        .call(Method::GET, &format!("/api/v1/tokens/authn?{q}"), None)
        .await;
    assert_eq!(status, 200, "{authn}");
    assert_eq!(
        (authn["userId"].as_str(), authn["mvpd"].as_str()),
        (Some("alice"), Some("test-mvpd"))
    );
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/v1/authorize?{q}&resource=news"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for path in ["/api/v1/mediatoken", "/api/v1/tokens/media"] {
        let (status, token) = app
            .call(Method::GET, &format!("{path}?{q}&resource=news"), None)
            .await;
        assert_eq!(status, 200, "{path}: {token}");
        assert_eq!(token["resource"], "news");
        assert!(
            token["serializedToken"].as_str().unwrap().len() > 20,
            "{token}"
        );
    }
    // Logout names no requestor but in its signed header.
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/logout?deviceId={DEVICE_Q}"),
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = app
        .call(Method::GET, &format!("/api/v1/tokens/authn?{q}"), None)
        .await;
    assert_eq!(status, 404, "logged out");

    let failures = gw.metrics().await;
    assert!(
        !failures.contains("reason=\"signed_"),
        "no signed call was refused: {failures}"
    );
}

#[tokio::test]
async fn a_wrong_signature_a_stale_time_a_reused_nonce_and_another_call_are_refused() {
    let gw = Gateway::with_config(&config(true)).await;
    let app = App::new(&gw, "ESPN", PUBLIC_KEY, SECRET);
    linked(&gw, &app).await;
    let path = "/api/v1/tokens/authn";
    let target = format!("{path}?requestor=ESPN&deviceId={DEVICE_Q}");
    // As the app signs it: below the service root.
    let signed = "/tokens/authn";
    let get = Method::GET;

    let good = app.header(&get, signed, now_millis(), "once", SECRET);
    // One byte of the signature changed.
    let mut broken = good.clone().into_bytes();
    let last = broken.len() - 3;
    broken[last] = if broken[last] == b'A' { b'B' } else { b'A' };
    let broken = String::from_utf8(broken).unwrap();
    let refusals = [
        ("signature", broken),
        (
            "signature",
            app.header(&get, signed, now_millis(), &app.nonce(), "another-secret"),
        ),
        (
            "stale",
            app.header(&get, signed, now_millis() - 301_000, &app.nonce(), SECRET),
        ),
        (
            "future",
            app.header(&get, signed, now_millis() + 301_000, &app.nonce(), SECRET),
        ),
        (
            "other path",
            app.header(&get, "/authorize", now_millis(), &app.nonce(), SECRET),
        ),
        (
            "the whole path, which this app does not sign",
            app.header(&get, path, now_millis(), &app.nonce(), SECRET),
        ),
        (
            "other method",
            app.header(&Method::DELETE, signed, now_millis(), &app.nonce(), SECRET),
        ),
    ];
    for (what, header) in &refusals {
        let (status, body) = app.send(get.clone(), &target, header, None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("invalid_signature")),
            "{what}: {body}"
        );
        let text = body.to_string();
        assert!(
            !text.contains(SECRET) && !text.contains("signature="),
            "{what}: nothing echoed: {text}"
        );
    }
    let (status, body) = app.send(get.clone(), &target, &good, None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.send(get.clone(), &target, &good, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_signature")),
        "replayed: {body}"
    );

    // A good signature counts on the Adobe calls only: not as the backend, not natively.
    let native = "/v1/requestors/espn/links";
    let signed = app.header(&Method::POST, native, now_millis(), &app.nonce(), SECRET);
    let (status, _) = app
        .send(Method::POST, native, &signed, Some(&[("code", "X")]))
        .await;
    assert_eq!(status, 401);
    let native = "/v1/requestors/espn/devices/tv/authn";
    let signed = app.header(&get, native, now_millis(), &app.nonce(), SECRET);
    let (status, body) = app.send(get.clone(), native, &signed, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );
    // Nor for another tenant, whichever requestor the call names.
    let theirs = "/api/v1/tokens/authn?requestor=nbc&deviceId=tv";
    let (status, body) = app.call(get.clone(), theirs, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_signature")),
        "{body}"
    );

    let metrics = gw.metrics().await;
    for reason in [
        "signed_signature",
        "signed_stale",
        "signed_other_call",
        "signed_replayed",
    ] {
        assert!(
            metrics.contains(&format!("reason=\"{reason}\"")),
            "{reason} counted: {metrics}"
        );
    }
}

#[tokio::test]
async fn without_a_signature_the_backend_only_adobe_calls_stay_closed() {
    let gw = Gateway::with_config(&config(true)).await;
    let app = App::new(&gw, "ESPN", PUBLIC_KEY, SECRET);
    linked(&gw, &app).await;
    let target = format!("/api/v1/tokens/authn?requestor=ESPN&deviceId={DEVICE_Q}");
    let (status, body) = gw.get(&target, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("missing_credential")),
        "{body}"
    );
    let (status, _) = gw.get(&target, Some(DEMO_KEY)).await;
    assert_eq!(status, 200, "the backend's own credential");
}

#[tokio::test]
async fn without_backend_only_a_signed_app_still_counts_as_the_requestor_s_app() {
    let gw = Gateway::with_config(&config(false)).await;
    let app = App::new(&gw, "ESPN", PUBLIC_KEY, SECRET);
    linked(&gw, &app).await;
    let target = format!("/api/v1/checkauthn?requestor=ESPN&deviceId={DEVICE_Q}");
    let (status, body) = app.call(Method::GET, &target, None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = gw.get(&target, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("missing_credential")),
        "{body}"
    );
}

#[tokio::test]
async fn the_second_screen_polls_by_code_and_the_app_picks_up_its_authentication_by_code() {
    let gw = Gateway::with_config(&config(false)).await;
    let app = App::new(&gw, "ESPN", PUBLIC_KEY, SECRET);
    let created = app.regcode(DEVICE).await;
    let code = created["code"].as_str().unwrap().to_owned();
    let polled = format!("/api/v1/checkauthn/{code}?requestor=ESPN");
    let picked = format!("/api/v1/authenticate/{code}?requestor=ESPN");

    let (status, body) = gw.get(&polled, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("authenticated_profile_missing")),
        "{body}"
    );
    let (status, _) = app.call(Method::GET, &picked, None).await;
    assert_eq!(status, 404, "no one signed in yet");

    let (status, body) = gw
        .post_json(
            "/v1/requestors/espn/links",
            serde_json::json!({"code": code, "userId": "alice", "mvpd": "test-mvpd"}),
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = gw.get(&polled, None).await;
    assert_eq!(status, 200, "{body}");
    let (status, authn) = app.call(Method::GET, &picked, None).await;
    assert_eq!(status, 200, "{authn}");
    assert_eq!(
        (authn["userId"].as_str(), authn["mvpd"].as_str()),
        (Some("alice"), Some("test-mvpd"))
    );

    // Only for the code's own device: not for a stranger, not for another device's token.
    let (status, body) = gw.get(&picked, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("missing_credential")),
        "{body}"
    );
    let other = gw.linked_device("espn", "other-tv", "bob").await;
    let (status, body) = gw.get(&picked, Some(&other.access)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("code_not_found")),
        "another device does not learn the code exists: {body}"
    );
    let (status, _) = gw
        .get("/api/v1/checkauthn/BCDFGHJK?requestor=ESPN", None)
        .await;
    assert_eq!(status, 404, "a code never issued");
    // Another tenant knows nothing of this requestor's codes, even with its own key.
    let (status, _) = gw
        .get(&format!("/api/v1/checkauthn/{code}?requestor=nbc"), None)
        .await;
    assert_eq!(status, 404, "another tenant's code");
    let theirs = format!("/api/v1/authenticate/{code}?requestor=nbc");
    let (status, _) = gw.get(&theirs, Some(DEMO_KEY)).await;
    assert_eq!(
        status, 404,
        "another tenant's code, asked by that tenant's backend"
    );
}

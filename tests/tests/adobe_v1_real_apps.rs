//! v1 apps as they exist, unchanged: their calls replayed with the request shapes their
//! public source makes. Most sign `request_uri` as the path below the service's root
//! (`/regcode`, `/tokens/authn`; an open-source media-center add-on for a sports network
//! signs exactly these, the path written out by hand at each call); some sign the whole
//! path (`/api/v1/tokens/authn`), declared per app with `requestUri: fullPath`. Each app is
//! held to its one form.

use linkgate_tests::adobe_app::{AdobeApp, now_millis};
use linkgate_tests::{DEMO_KEY, Gateway, TEST_SIGNING_KEY};
use reqwest::Method;

const SHORT_KEY: &str = "shortPathsAppPublicKey01";
const SHORT_SECRET: &str = "ShortPathSecret1";
const FULL_KEY: &str = "fullPathsAppPublicKey002";
const FULL_SECRET: &str = "FullPathSecret02";
const DEVICE: &str = "3f2a9c1e-6b7d-4e8f-9a0b-1c2d3e4f5a6b";

fn config() -> String {
    let pem: String = TEST_SIGNING_KEY
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect();
    let spec = format!(
        "\
requestors:
  - name: espn
    spec:
      mvpds: [{{id: test-mvpd, decision: {{allow: ['*']}}}}]
      mediaTokens: {{signingKeys: [{{id: k1, privateKeySecretRef: {{name: media, key: key}}}}]}}
      backend: {{apiKeySecretRef: {{name: backend, key: apiKey}}}}
      deviceAuth: {{backendOnly: [adobe]}}
      adobe:
        requestorId: ESPN
        signedApps:
          - {{publicKey: {SHORT_KEY}, secretRef: {{name: apps, key: short}}}}
          - {{publicKey: {FULL_KEY}, secretRef: {{name: apps, key: full}}, requestUri: fullPath}}
"
    );
    linkgate_tests::unthrottled(&format!(
        "secrets:\n  backend: {{apiKey: {DEMO_KEY}}}\n  apps: {{short: {SHORT_SECRET}, full: {FULL_SECRET}}}\n  media:\n    key: |\n{pem}{spec}"
    ))
}

/// One call as the app's source makes it: `method` on `target`, signed with `request_uri`.
async fn call(
    app: &AdobeApp<'_>,
    secret: &str,
    method: Method,
    target: &str,
    request_uri: &str,
    form: Option<&[(&str, &str)]>,
) -> (u16, serde_json::Value) {
    let header = app.header(&method, request_uri, now_millis(), &app.nonce(), secret);
    app.send(method, target, &header, form).await
}

#[tokio::test]
async fn an_app_signing_paths_below_the_service_root_walks_its_seven_calls() {
    let gw = Gateway::with_config(&config()).await;
    let app = AdobeApp::new(&gw, "ESPN", SHORT_KEY, SHORT_SECRET);
    let q = format!("requestor=ESPN&deviceId={DEVICE}");

    // The regcode, its parameters in the query string of the POST.
    let target = format!("/reggie/v1/ESPN/regcode?deviceId={DEVICE}&deviceType=xbox&ttl=1800");
    let (status, created) = call(&app, SHORT_SECRET, Method::POST, &target, "/regcode", None).await;
    assert_eq!(status, 201, "{created}");
    let code = created["code"].as_str().unwrap().to_owned();
    assert_eq!(created["info"]["deviceId"], DEVICE);
    gw.link_code("espn", &code, "alice").await;

    // Then the calls it makes once the person has signed in, each signing its own path.
    let authenticate = format!("/authenticate/{code}");
    let calls = [
        (
            Method::GET,
            format!("/api/v1{authenticate}?requestor=ESPN"),
            authenticate.as_str(),
            200,
        ),
        (
            Method::GET,
            format!("/api/v1/tokens/authn?{q}"),
            "/tokens/authn",
            200,
        ),
        (
            Method::GET,
            format!("/api/v1/authorize?{q}&resource=espn3"),
            "/authorize",
            200,
        ),
        (
            Method::GET,
            format!("/api/v1/mediatoken?{q}&resource=espn3"),
            "/mediatoken",
            200,
        ),
        (
            Method::GET,
            format!("/api/v1/tokens/usermetadata?{q}"),
            "/tokens/usermetadata",
            200,
        ),
        (
            Method::DELETE,
            format!("/api/v1/logout?{q}"),
            "/logout",
            204,
        ),
    ];
    for (method, target, request_uri, expected) in calls {
        let (status, body) = call(&app, SHORT_SECRET, method, &target, request_uri, None).await;
        assert_eq!(status, expected, "{target}: {body}");
        if request_uri == "/mediatoken" {
            assert_eq!(body["resource"], "espn3");
            assert!(
                body["serializedToken"]
                    .as_str()
                    .is_some_and(|t| t.len() > 20)
            );
        }
        if request_uri == "/tokens/authn" {
            assert_eq!(body["userId"], "alice");
        }
    }
    let (status, _) = call(
        &app,
        SHORT_SECRET,
        Method::GET,
        &format!("/api/v1/tokens/authn?{q}"),
        "/tokens/authn",
        None,
    )
    .await;
    assert_eq!(status, 404, "logged out");

    // Its one form only: the whole path, signed with its key, is another call.
    let (status, body) = call(
        &app,
        SHORT_SECRET,
        Method::GET,
        &format!("/api/v1/authorize?{q}&resource=espn3"),
        "/api/v1/authorize",
        None,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_signature")),
        "{body}"
    );
    assert!(gw.metrics().await.contains("reason=\"signed_other_call\""));
}

#[tokio::test]
async fn an_app_declared_to_sign_whole_paths_is_held_to_them() {
    let gw = Gateway::with_config(&config()).await;
    let app = AdobeApp::new(&gw, "ESPN", FULL_KEY, FULL_SECRET);
    let q = format!("requestor=ESPN&deviceId={DEVICE}");

    let regcode = "/reggie/v1/ESPN/regcode";
    let form = [("deviceId", DEVICE), ("format", "json")];
    let (status, created) = call(
        &app,
        FULL_SECRET,
        Method::POST,
        regcode,
        regcode,
        Some(&form),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let code = created["code"].as_str().unwrap().to_owned();
    // The app checks its regcode is still good while the person signs in.
    let record = format!("{regcode}/{code}");
    let (status, body) = call(&app, FULL_SECRET, Method::GET, &record, &record, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (200, Some(code.as_str())),
        "{body}"
    );
    gw.link_code("espn", &code, "alice").await;

    for (method, path, query, expected) in [
        (Method::GET, "/api/v1/checkauthn", q.clone(), 200),
        (Method::GET, "/api/v1/tokens/authn", q.clone(), 200),
        (
            Method::GET,
            "/api/v1/authorize",
            format!("{q}&resource=espn3"),
            200,
        ),
        (
            Method::GET,
            "/api/v1/tokens/media",
            format!("{q}&resource=espn3"),
            200,
        ),
        (Method::DELETE, "/api/v1/logout", q.clone(), 204),
    ] {
        let target = format!("{path}?{query}");
        let (status, body) = call(&app, FULL_SECRET, method, &target, path, None).await;
        assert_eq!(status, expected, "{target}: {body}");
    }

    // A regcode the app gives up on: dropped, signed as the app signs.
    let (_, again) = call(
        &app,
        FULL_SECRET,
        Method::POST,
        regcode,
        regcode,
        Some(&form),
    )
    .await;
    let record = format!("{regcode}/{}", again["code"].as_str().unwrap());
    let (status, _) = call(&app, FULL_SECRET, Method::DELETE, &record, &record, None).await;
    assert_eq!(status, 204);
    let (status, _) = call(&app, FULL_SECRET, Method::GET, &record, &record, None).await;
    assert_eq!(status, 404, "dropped");

    // The short form, with this app's key, is refused.
    let target = format!("/api/v1/checkauthn?{q}");
    let (status, _) = call(&app, FULL_SECRET, Method::GET, &target, "/checkauthn", None).await;
    assert_eq!(status, 401);
}

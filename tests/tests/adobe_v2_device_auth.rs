//! `deviceAuth.adobeV2`: who makes a requestor's v2 calls. By default it is Adobe's model
//! (any copy of the app, with the app's token, for whatever device it names). A requestor
//! that wants devices to prove themselves says `device`: once a device is linked, the calls
//! about it need its own access token, which it takes with the `deviceSecret` its session
//! answer carried; the app's token, which every copy of the app holds, no longer reads or
//! acts for it, and one device's token never names another. A requestor that keeps v2 to
//! its own service says `backend`.

use linkgate_tests::adobe_v2_app::{V2App, register};
use linkgate_tests::{DEMO_KEY, Gateway, unthrottled};
use serde_json::{Value, json};

const DEMO_STATEMENT_KEY: &str = include_str!("../../proxy/src/config/demo-statement-key.pem");
const BACK: &str = "https://www.demo-tv.example/activated";

/// The demo requestor, with `device_auth` as its `deviceAuth`.
async fn demo(device_auth: &str) -> Gateway {
    let spec = format!(
        "      adobe: {{redirectHosts: [www.demo-tv.example]}}\n      deviceAuth: {device_auth}\n"
    );
    let config = linkgate_tests::DEMO_YAML
        .replace("127.0.0.1:8081", &linkgate_tests::free_port().to_string())
        .replace("    spec:\n", &format!("    spec:\n{spec}"));
    Gateway::with_config(&unthrottled(&config)).await
}

async fn app_token(gw: &Gateway) -> String {
    let statement = linkgate_tests::software_statement(DEMO_STATEMENT_KEY, "demo", "tv-app");
    register(gw, &statement).await.1
}

/// A session for `app`'s device at the test MVPD, the code linked to `user` (as the second
/// screen's sign-in would): the code and the device secret the answer carried.
async fn linked(gw: &Gateway, app: &V2App, user: &str) -> (String, String) {
    let session = app
        .session(&[
            ("mvpd", "test-mvpd"),
            ("domainName", "www.demo-tv.example"),
            ("redirectUrl", BACK),
        ])
        .await;
    assert_eq!(session["actionName"], "authenticate", "{session}");
    let code = session["code"].as_str().unwrap().to_owned();
    let secret = session["deviceSecret"]
        .as_str()
        .expect("a device secret")
        .to_owned();
    gw.link_code("demo", &code, user).await;
    (code, secret)
}

/// Every v2 call about a device, with `app`'s credential: status and code of each.
async fn calls_about_the_device(app: &V2App) -> Vec<(String, u16, Value)> {
    let sessions = app
        .request(reqwest::Method::POST, "/api/v2/demo/sessions")
        .form(&[("mvpd", "test-mvpd")]);
    let decisions = app
        .request(
            reqwest::Method::POST,
            "/api/v2/demo/decisions/authorize/test-mvpd",
        )
        .json(&json!({"resources": ["news"]}));
    let logout = app.request(
        reqwest::Method::GET,
        &format!("/api/v2/demo/logout/test-mvpd?redirectUrl={BACK}"),
    );
    let mut out = Vec::new();
    for (what, request) in [
        (
            "profiles",
            app.request(reqwest::Method::GET, "/api/v2/demo/profiles"),
        ),
        ("sessions", sessions),
        ("decisions", decisions),
        ("logout", logout),
    ] {
        let (status, body) = app.send(request).await;
        out.push((what.to_owned(), status, body));
    }
    out
}

#[tokio::test]
async fn where_devices_prove_themselves_a_linked_device_s_calls_need_its_own_token() {
    let gw = demo("{adobeV2: device}").await;
    let token = app_token(&gw).await;
    let tv = V2App::new(&gw, "demo", token.clone(), "living-room");

    // Before anyone links it, the app speaks for the device as Adobe's apps do.
    let (status, body) = tv.get("/api/v2/demo/profiles").await;
    assert_eq!((status, &body), (200, &json!({"profiles": {}})));
    let (code, secret) = linked(&gw, &tv, "alice").await;

    // Once linked, the app's token — the same in every copy of the app — reads and acts
    // for it no more.
    for (what, status, body) in calls_about_the_device(&tv).await {
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("device_credential_required")),
            "{what}: {body}"
        );
        assert!(!body.to_string().contains("alice"), "{body}");
    }
    // The second screen's own calls stay the app's.
    let (status, body) = tv.get(&format!("/api/v2/demo/profiles/code/{code}")).await;
    assert_eq!(status, 200, "{body}");

    // The device exchanges its secret for its token, and its calls are its own.
    let own = gw.device_tokens("demo", &secret).await;
    let device = V2App::new(&gw, "demo", own.access.clone(), "living-room");
    let (status, profiles) = device.get("/api/v2/demo/profiles").await;
    assert_eq!(status, 200, "{profiles}");
    assert_eq!(
        profiles["profiles"]["test-mvpd"]["attributes"]["userID"]["value"],
        "alice"
    );
    let (status, decided) = device
        .decide("authorize", "test-mvpd", json!(["news"]))
        .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["decisions"][0]["authorized"], true, "{decided}");
    assert!(decided["decisions"][0]["token"]["serializedToken"].is_string());

    // Another linked device's token never names this one.
    let kitchen = V2App::new(&gw, "demo", token, "kitchen");
    let (_, kitchen_secret) = linked(&gw, &kitchen, "bob").await;
    let kitchen_token = gw.device_tokens("demo", &kitchen_secret).await.access;
    let posing = V2App::new(&gw, "demo", kitchen_token, "living-room");
    for (what, status, body) in calls_about_the_device(&posing).await {
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("wrong_device")),
            "{what}: {body}"
        );
        assert!(!body.to_string().contains("alice"), "{body}");
    }

    // Its own token still opens the calls of the service provider as a whole.
    let (status, body) = device.get("/api/v2/demo/configuration").await;
    assert_eq!(status, 200, "{body}");
    // Logged out, the device's token is told it no longer holds (not to register again).
    let logout = format!("/api/v2/demo/logout/test-mvpd?redirectUrl={BACK}");
    let (status, body) = device.get(&logout).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = device.get("/api/v2/demo/profiles").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );

    // The backend's key is no v2 credential here (that is `adobeV2: backend`).
    let (status, body) = gw.get("/api/v2/demo/configuration", Some(DEMO_KEY)).await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn by_default_the_app_s_token_speaks_for_any_device_and_no_secret_is_handed_out() {
    let gw = demo("{}").await;
    let tv = V2App::new(&gw, "demo", app_token(&gw).await, "den");
    let session = tv
        .session(&[
            ("mvpd", "test-mvpd"),
            ("domainName", "www.demo-tv.example"),
            ("redirectUrl", BACK),
        ])
        .await;
    assert!(session.get("deviceSecret").is_none(), "{session}");
    gw.link_code("demo", session["code"].as_str().unwrap(), "carol")
        .await;
    let (status, profiles) = tv.get("/api/v2/demo/profiles").await;
    assert_eq!(status, 200, "{profiles}");
    assert_eq!(
        profiles["profiles"]["test-mvpd"]["attributes"]["userID"]["value"],
        "carol"
    );
}

#[tokio::test]
async fn a_requestor_keeping_v2_to_its_backend_refuses_the_app_s_token() {
    let gw = demo("{adobeV2: backend}").await;
    let token = app_token(&gw).await;
    let tv = V2App::new(&gw, "demo", token, "hall");
    let (status, body) = tv.get("/api/v2/demo/configuration").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_credential")),
        "{body}"
    );
    let (status, body) = tv.get("/api/v2/demo/profiles").await;
    assert_eq!(status, 401, "{body}");

    // The programmer's service makes the calls, with the backend's credential.
    let service = V2App::new(&gw, "demo", DEMO_KEY.to_owned(), "hall");
    let (status, body) = service.get("/api/v2/demo/configuration").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = service.get("/api/v2/demo/profiles").await;
    assert_eq!((status, &body), (200, &json!({"profiles": {}})));
}

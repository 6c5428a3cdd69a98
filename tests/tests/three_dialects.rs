//! One gateway, the three kinds of clients programmers ship, each walking its whole flow
//! against it: a native device (code, activation page, sign-in at the MVPD, device tokens,
//! a media token played through the edge), an Adobe v1 app signing as real apps do
//! (regcode, the v1 second-screen link, authentication, a media token, logout) and an
//! Adobe v2 app (registration, session, the v2 sign-in, profiles, decisions, logout). Each
//! sees what it made, and logging one out leaves the others linked.

use linkgate_tests::adobe_app::AdobeApp;
use linkgate_tests::adobe_v2_app::{V2App, register};
use linkgate_tests::origin::Origin;
use linkgate_tests::{Gateway, raw_get, test_mvpd_sign_in};
use reqwest::{Client, Method, StatusCode, redirect};
use serde_json::json;

const PUBLIC_KEY: &str = "demoTvRokuAppPublicKey01";
const SECRET: &str = "demo-tv-roku-app-secret";
const BACK: &str = "https://www.demo-tv.example/activated";
const STATEMENT_KEY: &str = include_str!("../../proxy/src/config/demo-statement-key.pem");

/// The demo, as all three know it: `DemoTV` to the Adobe apps (with the v1 app's key and
/// the programmer's site), and a content route whose media tokens the edge checks.
async fn gateway(origin: &Origin) -> Gateway {
    let adobe = format!(
        "      adobe:\n        requestorId: DemoTV\n        redirectHosts: [www.demo-tv.example]\n\
         \x20       signedApps: [{{publicKey: {PUBLIC_KEY}, secretRef: {{name: v1-app, key: secret}}}}]\n"
    );
    let routes = format!(
        "      routes:\n        - {{prefix: /news, upstream: {{host: 127.0.0.1, port: {}}}, resource: news}}\n",
        origin.addr.port()
    );
    let config = linkgate_tests::DEMO_YAML
        .replace("127.0.0.1:8081", &linkgate_tests::free_port().to_string())
        .replace("    spec:\n", &format!("    spec:\n{adobe}{routes}"))
        .replace(
            "secrets:\n",
            &format!("secrets:\n  v1-app: {{secret: {SECRET}}}\n"),
        );
    Gateway::with_config(&linkgate_tests::unthrottled(&config)).await
}

fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

/// The person confirms the device on `page` and signs in at the test MVPD as `user`: the
/// answer of the gateway's return from the MVPD.
async fn sign_in(
    gw: &Gateway,
    browser: &Client,
    page: reqwest::Response,
    user: &str,
) -> reqwest::Response {
    let to_provider = gw.confirm(browser, page, "test-mvpd").await;
    assert_eq!(to_provider.status(), StatusCode::SEE_OTHER);
    let at = to_provider.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    test_mvpd_sign_in(browser, &at, user).await
}

/// Whether the edge plays `/news` with `token`.
async fn plays(gw: &Gateway, token: &str) -> bool {
    raw_get(gw.api, "/news/1.ts", &[("X-Media-Token", token)])
        .await
        .0
        == 200
}

#[tokio::test]
async fn a_native_device_a_v1_app_and_a_v2_app_each_walk_their_flow_on_one_gateway() {
    let origin = Origin::start("news-origin").await;
    let gw = gateway(&origin).await;

    // Native: a code on the TV, the activation page on a phone, device tokens.
    let (code, secret) = gw.issue_code_with_secret("demo", "native-tv").await;
    let phone = browser();
    let page = phone
        .get(gw.url(&format!("/activate/demo?code={code}")))
        .send()
        .await
        .unwrap();
    let done = sign_in(&gw, &phone, page, "alice").await;
    assert_eq!(done.status(), StatusCode::OK);
    let tokens = gw.device_tokens("demo", &secret).await;
    let (status, media) = gw
        .get(
            "/v1/requestors/demo/devices/native-tv/media-token?resource=news",
            Some(&tokens.access),
        )
        .await;
    assert_eq!(status, 200, "{media}");
    assert!(plays(&gw, media["token"].as_str().unwrap()).await);

    // Adobe v1: a signed regcode, the v1 second-screen link, then the app's own calls.
    let v1 = AdobeApp::new(&gw, "DemoTV", PUBLIC_KEY, SECRET);
    let regcode = v1.regcode("v1-roku").await;
    let link = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("reg_code", regcode["code"].as_str().unwrap())
        .append_pair("requestor_id", "DemoTV")
        .append_pair("mso_id", "test-mvpd")
        .append_pair("redirect_url", BACK)
        .finish();
    let laptop = browser();
    let page = laptop
        .get(gw.url(&format!("/api/v1/authenticate?{link}")))
        .send()
        .await
        .unwrap();
    let back = sign_in(&gw, &laptop, page, "bob").await;
    assert_eq!(back.headers()["location"], BACK);
    let q = "requestor=DemoTV&deviceId=v1-roku";
    let (status, authn) = v1
        .call(Method::GET, &format!("/api/v1/tokens/authn?{q}"), None)
        .await;
    assert_eq!(
        (status, authn["userId"].as_str()),
        (200, Some("bob")),
        "{authn}"
    );
    let (status, media) = v1
        .call(
            Method::GET,
            &format!("/api/v1/mediatoken?{q}&resource=news"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{media}");
    assert!(plays(&gw, media["serializedToken"].as_str().unwrap()).await);

    // Adobe v2: registered, a session, the v2 sign-in on a tablet, decisions.
    let (_, token) = register(
        &gw,
        &linkgate_tests::software_statement(STATEMENT_KEY, "demo", "demo-tv-web"),
    )
    .await;
    let v2 = V2App::new(&gw, "DemoTV", token, "v2-web-1");
    let session = v2
        .session(&[
            ("mvpd", "test-mvpd"),
            ("domainName", "www.demo-tv.example"),
            ("redirectUrl", BACK),
        ])
        .await;
    let tablet = browser();
    let page = tablet
        .get(gw.url(session["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    let back = sign_in(&gw, &tablet, page, "carol").await;
    assert_eq!(back.headers()["location"], BACK);
    let (_, profiles) = v2.get("/api/v2/DemoTV/profiles").await;
    assert_eq!(
        profiles["profiles"]["test-mvpd"]["attributes"]["userID"]["value"],
        "carol"
    );
    let (status, decided) = v2.decide("authorize", "test-mvpd", json!(["news"])).await;
    assert_eq!(status, 200, "{decided}");
    let token = decided["decisions"][0]["token"]["serializedToken"]
        .as_str()
        .unwrap();
    assert!(plays(&gw, token).await);

    // Each is its own: the v1 and v2 apps log out, the native device stays linked.
    let (status, _) = v1
        .call(Method::DELETE, "/api/v1/logout?deviceId=v1-roku", None)
        .await;
    assert_eq!(status, 204);
    let (status, out) = v2
        .get(&format!(
            "/api/v2/DemoTV/logout/test-mvpd?redirectUrl={BACK}"
        ))
        .await;
    assert_eq!(
        (status, out["logouts"]["test-mvpd"]["actionName"].as_str()),
        (200, Some("complete"))
    );
    let (_, none) = v2.get("/api/v2/DemoTV/profiles").await;
    assert_eq!(none, json!({"profiles": {}}));
    let (status, _) = v1
        .call(Method::GET, &format!("/api/v1/tokens/authn?{q}"), None)
        .await;
    assert_eq!(status, 404);
    let (status, body) = gw
        .get(
            "/v1/requestors/demo/devices/native-tv/authn",
            Some(&tokens.access),
        )
        .await;
    assert_eq!(
        (status, body["users"][0]["userId"].as_str()),
        (200, Some("alice")),
        "{body}"
    );
}

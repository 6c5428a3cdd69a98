//! The activation page walked as a browser walks it — an HTTP client keeping cookies and
//! following redirects through forms: the code typed in any case and without its dash, the
//! TV provider picked, the sign-in at the provider (the built-in test MVPD, over OpenID
//! Connect with PKCE, state and nonce), and the device linked to the user the provider named;
//! all as the demo configuration runs it.

use linkgate_tests::{DEMO_KEY, Gateway};
use reqwest::Client;

fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .build()
        .expect("a browser-like client")
}

/// The code as a person might type it: lower case, without the dash.
fn typed(code: &str) -> String {
    code.replace('-', "").to_lowercase()
}

#[tokio::test]
async fn a_person_activates_a_tv_from_a_phone_through_the_page_and_their_provider() {
    let gw = Gateway::demo().await;
    let code = gw.issue_code("demo", "living-room-tv").await;
    let browser = browser();

    let page = browser.get(gw.url("/activate/demo")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("The code shown on your TV")
    );

    // A wrong code is said to be wrong.
    let wrong = browser
        .post(gw.url("/activate/demo"))
        .form(&[("code", "ZZZZ-ZZZZ")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 404);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("That code is not valid")
    );

    // The right one, however typed, names the device and asks to confirm it, with its
    // providers.
    let choose = browser
        .post(gw.url("/activate/demo"))
        .form(&[("code", typed(&code).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(choose.status(), 200);
    let choose = choose.text().await.unwrap();
    assert!(
        choose.contains("living-room-tv")
            && choose.contains("Is this your screen?")
            && choose.contains("Sign in with Test TV Provider"),
        "{choose}"
    );

    // Confirming and picking the provider lands on its sign-in page (a redirect, with the
    // sign-in sealed in a cookie of ours).
    let at_provider = gw
        .sign_in_request(&browser, "demo", &typed(&code), "test-mvpd")
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(at_provider.status(), 200);
    let authorize = at_provider.url().clone();
    assert_eq!(authorize.path(), "/authorize");
    let asked: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    for param in ["state", "nonce", "code_challenge"] {
        assert!(
            asked.iter().any(|(k, _)| k == param),
            "{param} in {authorize}"
        );
    }
    assert!(at_provider.text().await.unwrap().contains("Sign in"));

    // Signing in there comes back to the gateway, which links the device.
    let mut form = asked.clone();
    form.push(("user".into(), "alice".into()));
    let done = browser
        .post(authorize.join("/authorize").unwrap())
        .form(&form)
        .send()
        .await
        .unwrap();
    let callback = done.url().clone();
    assert_eq!(callback.path(), "/activate/demo/callback");
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("living-room-tv"));
    let (status, body) = gw
        .get(
            "/v1/requestors/demo/devices/living-room-tv/authn",
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["users"][0]["userId"], "alice");
    assert_eq!(body["users"][0]["mvpd"], "test-mvpd");

    // The provider's answer does not work twice: the sign-in cookie is spent.
    let replay = browser.get(callback).send().await.unwrap();
    assert_eq!(replay.status(), 400);
}

#[tokio::test]
async fn a_verification_uri_complete_skips_the_typing_and_a_stranger_s_callback_is_refused() {
    let gw = Gateway::demo().await;
    let code = gw.issue_code("demo", "kitchen-tv").await;
    let page = browser()
        .get(gw.url(&format!("/activate/demo?user_code={code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Is this your screen?"));

    // A callback without the browser's sign-in cookie (another browser, or a forged link)
    // links nothing.
    let forged = browser()
        .get(gw.url("/activate/demo/callback?code=abc&state=xyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    let (status, _) = gw
        .get(
            "/v1/requestors/demo/devices/kitchen-tv/authn",
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 403);
}

/// The demo with `top` lines added to its configuration and `spec` lines to its requestor.
async fn demo_with(top: &str, spec: &str) -> Gateway {
    let test_mvpd = linkgate_tests::free_port().to_string();
    let config = linkgate_tests::DEMO_YAML
        .replace("127.0.0.1:8081", &test_mvpd)
        .replace("    spec:\n", &format!("    spec:\n{spec}"));
    Gateway::with_config(&linkgate_tests::unthrottled(&format!("{top}{config}"))).await
}

/// Picks the provider for a fresh code, sending `headers`: the redirect URI the provider
/// is asked to return to, and the sign-in cookie set.
async fn sign_in_start(gw: &Gateway, headers: &[(&str, &str)]) -> (String, String) {
    let code = gw.issue_code("demo", "den-tv").await;
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut request = gw
        .sign_in_request(&client, "demo", &code, "test-mvpd")
        .await;
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 303);
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let redirect = location
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned())
        .expect("a redirect_uri");
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    (redirect, cookie)
}

#[tokio::test]
async fn the_sign_in_returns_to_the_public_url_with_a_secure_cookie_whatever_the_host() {
    let spoofed = [("host", "evil.example"), ("x-forwarded-proto", "https")];

    let configured = demo_with("publicUrl: https://tv.example/\n", "").await;
    let (redirect, cookie) = sign_in_start(&configured, &spoofed).await;
    assert_eq!(redirect, "https://tv.example/activate/demo/callback");
    assert!(cookie.contains("; Secure"), "{cookie}");

    // Without one, a direct client's claim of https is not believed...
    let demo = demo_with("", "").await;
    let (redirect, cookie) = sign_in_start(&demo, &spoofed).await;
    assert!(redirect.starts_with("http://"), "{redirect}");
    assert!(!cookie.contains("Secure"), "{cookie}");
    // ...a trusted proxy's is.
    let behind = demo_with("", "      trustedProxies: [127.0.0.1]\n").await;
    let (redirect, cookie) = sign_in_start(&behind, &[("x-forwarded-proto", "https")]).await;
    assert!(redirect.starts_with("https://"), "{redirect}");
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn the_pages_wear_the_requestor_s_logo_and_colour_and_the_providers_logos() {
    let branding =
        "      branding: {logoUrl: 'https://cdn.demo.example/logo.svg', accentColor: '#0A2B6C'}\n";
    let config = linkgate_tests::DEMO_YAML
        .replace("127.0.0.1:8081", &linkgate_tests::free_port().to_string())
        .replace("    spec:\n", &format!("    spec:\n{branding}"))
        .replace(
            "          displayName: Test TV Provider\n",
            "          displayName: Test TV Provider\n          logoUrl: 'https://cdn.mvpd.example/logo.png'\n",
        );
    let gw = Gateway::with_config(&linkgate_tests::unthrottled(&config)).await;
    let code = gw.issue_code("demo", "den-tv").await;
    let page = gw.activation_page(&browser(), "demo", &code).await;
    assert!(
        page.contains(
            "<img src=\"https://cdn.mvpd.example/logo.png\" alt=\"\">Sign in with Test TV Provider"
        ),
        "the provider's logo beside its name: {page}"
    );
    assert!(
        page.contains("<img src=\"https://cdn.demo.example/logo.svg\" alt=\"Demo TV\""),
        "the logo, named for screen readers: {page}"
    );
    // Dark blue buttons carry white text.
    assert!(
        page.contains("button{background:#0a2b6c;color:#ffffff"),
        "{page}"
    );
    let entry = browser()
        .get(gw.url("/activate/demo"))
        .send()
        .await
        .unwrap();
    assert!(
        entry
            .text()
            .await
            .unwrap()
            .contains("cdn.demo.example/logo.svg")
    );

    // A colour that would end the style rule, or a logo over plain http, is refused at start.
    for bad in [
        "      branding: {accentColor: '#000000;}body{display:none'}\n",
        "      branding: {logoUrl: 'http://cdn.demo.example/logo.svg'}\n",
    ] {
        let config = linkgate_tests::DEMO_YAML.replace("    spec:\n", &format!("    spec:\n{bad}"));
        let err = linkgate_proxy::config::Config::parse(&config, "t")
            .unwrap_err()
            .to_string();
        assert!(err.contains("branding"), "{bad}: {err}");
    }
}

/// Found by the contract run: a form post missing a field was answered with the API's JSON
/// error, which a browser shows as raw text. Once the page's requestor is known, every
/// refusal is a page; a requestor that does not exist has no page to wear.
#[tokio::test]
async fn a_form_refused_before_its_handler_ran_is_answered_with_a_page() {
    let gw = Gateway::demo().await;
    let response = browser()
        .post(gw.url("/activate/demo/signin"))
        .form(&[("mvpd", "test-mvpd")])
        .send()
        .await
        .expect("the page answers");
    assert_eq!(response.status(), 400);
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("text/html"), "{kind}");
    let page = response.text().await.unwrap();
    assert!(page.contains("<html") && page.contains("code"), "{page}");
    let response = browser()
        .get(gw.url("/activate/no-such-requestor"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.expect("the API's error");
    assert_eq!(body["code"], "unknown_requestor");
}

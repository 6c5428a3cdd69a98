//! The second screen cannot be driven from another site (RFC 8628 §5.4's remote phishing
//! made one click). A stranger's TV asks for a code; the stranger makes a victim's browser
//! post it to the sign-in form, or open the Adobe v1 second-screen link. Nothing reaches the
//! TV provider, no sign-in cookie is set and nothing is linked, until a person on this
//! gateway's own page, in the same browser, confirms that the device it names is in front
//! of them.

use linkgate_tests::{Gateway, form_field, set_cookie};
use reqwest::{Client, Response, StatusCode, redirect};

async fn gateway() -> Gateway {
    let adobe = "      adobe: {requestorId: DemoTV, redirectHosts: [programmer.example]}\n";
    let config = linkgate_tests::DEMO_YAML
        .replace("127.0.0.1:8081", &linkgate_tests::free_port().to_string())
        .replace("    spec:\n", &format!("    spec:\n{adobe}"));
    Gateway::with_config(&linkgate_tests::unthrottled(&config)).await
}

fn no_redirects() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

/// Nothing started: no way to the provider, no sign-in cookie.
fn assert_nothing_started(response: &Response, what: &str) {
    assert!(
        response.headers().get("location").is_none(),
        "{what}: sent on to {:?}",
        response.headers().get("location")
    );
    assert!(
        set_cookie(response, "linkgate_signin").is_none()
            && set_cookie(response, "linkgate_saml").is_none(),
        "{what}: a sign-in cookie was set"
    );
}

#[tokio::test]
async fn a_cross_site_post_of_a_stranger_s_code_starts_no_sign_in_and_links_nothing() {
    let gw = gateway().await;
    let code = gw.issue_code("demo", "strangers-tv").await;
    let signin = gw.url("/activate/demo/signin");
    let form = [
        ("code", code.as_str()),
        ("mvpd", "test-mvpd"),
        ("confirmed", "yes"),
    ];
    let own_origin = format!("http://{}", gw.api);
    let cross_site: [(&str, &[(&str, &str)]); 4] = [
        (
            "another site, as a browser says",
            &[
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
        ),
        ("another origin only", &[("origin", "https://evil.example")]),
        ("a sibling subdomain", &[("sec-fetch-site", "same-site")]),
        ("an opaque origin", &[("origin", "null")]),
    ];
    for (what, headers) in cross_site {
        let mut request = no_redirects().post(&signin).form(&form);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{what}");
        assert_nothing_started(&response, what);
        assert!(
            set_cookie(&response, "linkgate_browser").is_none(),
            "{what}"
        );
        let page = response.text().await.unwrap();
        assert!(page.contains("started from another site"), "{what}: {page}");
    }

    // A browser that tells nothing of where the post came from, with a token the stranger
    // got for their own browser: without that browser's cookie it is only asked again.
    let strangers_token = form_field(
        &no_redirects()
            .get(gw.url(&format!("/activate/demo?code={code}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "confirm",
    )
    .unwrap();
    for (what, form) in [
        (
            "no token",
            vec![
                ("code", code.as_str()),
                ("mvpd", "test-mvpd"),
                ("confirmed", "yes"),
            ],
        ),
        (
            "another browser's token",
            vec![
                ("code", code.as_str()),
                ("mvpd", "test-mvpd"),
                ("confirmed", "yes"),
                ("confirm", strangers_token.as_str()),
            ],
        ),
    ] {
        let response = no_redirects()
            .post(&signin)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
        assert_nothing_started(&response, what);
        let page = response.text().await.unwrap();
        assert!(page.contains("Is this your screen?"), "{what}: {page}");
    }
    assert_eq!(
        gw.linked_users("demo", "strangers-tv").await,
        serde_json::json!([])
    );

    // The person in front of the TV, on our page: confirmed from our own origin, linked.
    let browser = Client::builder()
        .cookie_store(true)
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser
        .get(gw.url(&format!("/activate/demo?code={code}")))
        .send()
        .await
        .unwrap();
    let cookie = set_cookie(&page, "linkgate_browser").expect("the browser's secret");
    let html = page.text().await.unwrap();
    assert!(html.contains("strangers-tv"), "the device is named: {html}");
    assert!(html.contains("Demo TV"), "the requestor is named: {html}");
    let token = form_field(&html, "confirm").unwrap();
    let confirmed = |ticked: bool, token: &str| {
        let mut form = vec![
            ("code", code.clone()),
            ("mvpd", "test-mvpd".to_owned()),
            ("confirm", token.to_owned()),
        ];
        if ticked {
            form.push(("confirmed", "yes".to_owned()));
        }
        browser
            .post(&signin)
            .header("origin", &own_origin)
            .header("sec-fetch-site", "same-origin")
            .form(&form)
    };
    let unticked = confirmed(false, &token).send().await.unwrap();
    assert_eq!(
        unticked.status(),
        StatusCode::BAD_REQUEST,
        "the box is not ticked"
    );
    assert_nothing_started(&unticked, "unticked");
    let to_provider = confirmed(true, &token).send().await.unwrap();
    assert_eq!(to_provider.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(&to_provider, "linkgate_signin").is_some());
    assert!(!cookie.is_empty());
    let at = to_provider.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let signed_in = linkgate_tests::test_mvpd_sign_in(&browser, &at, "alice").await;
    assert_eq!(signed_in.status(), StatusCode::OK, "{}", signed_in.url());
    let users = gw.linked_users("demo", "strangers-tv").await;
    assert_eq!(users[0]["userId"], "alice");
}

#[tokio::test]
async fn the_adobe_second_screen_link_lands_on_the_confirmation_page() {
    let gw = gateway().await;
    let (status, created) = gw
        .post_form(
            "/reggie/v1/DemoTV/regcode",
            &[("deviceId", "roku-9"), ("deviceType", "roku")],
            None,
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let code = created["code"].as_str().unwrap();
    let back = "https://programmer.example/activated";
    let link = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("reg_code", code)
        .append_pair("requestor_id", "DemoTV")
        .append_pair("mso_id", "test-mvpd")
        .append_pair("redirect_url", back)
        .finish();
    // Followed from the programmer's page, or from anywhere: a top-level navigation.
    let page = no_redirects()
        .get(gw.url(&format!("/api/v1/authenticate?{link}")))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_nothing_started(&page, "the second-screen link");
    let cookie = set_cookie(&page, "linkgate_browser").expect("the browser's secret");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Is this your screen?") && html.contains("roku-9"),
        "{html}"
    );
    assert_eq!(form_field(&html, "redirect_url").as_deref(), Some(back));
    assert!(
        html.contains("Sign in with Test TV Provider") && !html.contains("(SAML)"),
        "only the provider the link names: {html}"
    );

    // Confirmed there: to the provider, and back to the programmer's page once linked.
    let form = [
        ("code", code),
        ("mvpd", "test-mvpd"),
        ("confirmed", "yes"),
        ("redirect_url", back),
        ("confirm", &form_field(&html, "confirm").unwrap()),
    ];
    let browser = Client::builder()
        .cookie_store(true)
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    let to_provider = browser
        .post(gw.url("/activate/demo/signin"))
        .header("cookie", format!("linkgate_browser={cookie}"))
        .header("origin", format!("http://{}", gw.api))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(to_provider.status(), StatusCode::SEE_OTHER);
    let at = to_provider.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let back_home = linkgate_tests::test_mvpd_sign_in(&browser, &at, "bob").await;
    assert_eq!(back_home.status(), StatusCode::SEE_OTHER);
    assert_eq!(back_home.headers()["location"], back);

    // A confirmed form whose return address was swapped is refused.
    let swapped = [
        ("code", code),
        ("mvpd", "test-mvpd"),
        ("confirmed", "yes"),
        ("redirect_url", "https://evil.example/"),
    ];
    let response = no_redirects()
        .post(gw.url("/activate/demo/signin"))
        .form(&swapped)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_nothing_started(&response, "a swapped return address");
}

#[tokio::test]
async fn the_page_says_roughly_where_the_device_asked_from() {
    // Behind the ingress (loopback, trusted), clients are told by `X-Forwarded-For`.
    let config = linkgate_tests::DEMO_YAML
        .replace("127.0.0.1:8081", &linkgate_tests::free_port().to_string())
        .replace(
            "    spec:\n",
            "    spec:\n      trustedProxies: [127.0.0.1]\n",
        );
    let gw = Gateway::with_config(&linkgate_tests::unthrottled(&config)).await;
    let issue = |device: &'static str, client: &'static str| {
        no_redirects()
            .post(gw.url("/v1/requestors/demo/codes"))
            .header("x-forwarded-for", client)
            .json(&serde_json::json!({ "deviceId": device }))
            .send()
    };
    let page_for = async |code: &str, client: &str| {
        no_redirects()
            .get(gw.url(&format!("/activate/demo?code={code}")))
            .header("x-forwarded-for", client)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let code_of = async |response: reqwest::Response| {
        let body: serde_json::Value = response.json().await.unwrap();
        body["displayCode"].as_str().expect("a code").to_owned()
    };

    // The TV at home, the phone on the same network: said so.
    let home = code_of(issue("home-tv", "203.0.113.77").await.unwrap()).await;
    let html = page_for(&home, "203.0.113.20").await;
    assert!(
        html.contains("<strong>203.0.113.0/24</strong>, the one you are on now"),
        "{html}"
    );
    // A stranger's TV, far away: the person sees it is not their network.
    let strangers = code_of(issue("strangers-tv", "198.51.100.7").await.unwrap()).await;
    let html = page_for(&strangers, "203.0.113.20").await;
    assert!(
        html.contains("<strong>198.51.100.0/24</strong>, not the one you are on now"),
        "{html}"
    );
    // Only the network is kept: the store holds it, and never the address.
    assert!(!html.contains("198.51.100.7"), "{html}");
    let mut stored = Vec::new();
    for file in std::fs::read_dir(gw.data_dir()).unwrap() {
        let path = file.unwrap().path();
        if path.is_file() {
            stored.extend(std::fs::read(path).unwrap());
        }
    }
    let holds = |text: &str| stored.windows(text.len()).any(|w| w == text.as_bytes());
    assert!(
        holds("198.51.100.0/24"),
        "the network is stored with the code"
    );
    assert!(!holds("198.51.100.7") && !holds("203.0.113.77"));
}

//! Adobe v1's second screen: a web page the programmer hosts sends a person to
//! `GET /api/v1/authenticate?reg_code=&requestor_id=&mso_id=&redirect_url=`; they sign in at
//! their TV provider (the built-in test MVPD, over OpenID Connect) and are sent back to the
//! page, which polls `checkauthn/{code}`; the TV picks its authentication up by the code.

use linkgate_tests::{DEMO_KEY, Gateway};
use reqwest::{Client, StatusCode, redirect};

/// Where the programmer's page lives; nothing needs to listen there.
const PAGE_PORT: u16 = 9;

async fn gateway() -> Gateway {
    let test_mvpd = linkgate_tests::free_port().to_string();
    let adobe = "      adobe: {requestorId: DemoTV, redirectHosts: [127.0.0.1]}\n";
    let config = linkgate_tests::DEMO_YAML
        .replace("127.0.0.1:8081", &test_mvpd)
        .replace("    spec:\n", &format!("    spec:\n{adobe}"));
    Gateway::with_config(&linkgate_tests::unthrottled(&config)).await
}

/// A browser that keeps cookies and follows redirects, but stops before leaving for the
/// programmer's page.
fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(redirect::Policy::custom(|attempt| {
            if attempt.url().port() == Some(PAGE_PORT) {
                attempt.stop()
            } else {
                attempt.follow()
            }
        }))
        .build()
        .unwrap()
}

fn start(code: &str, mvpd: &str, redirect_url: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("reg_code", code)
        .append_pair("requestor_id", "DemoTV")
        .append_pair("mso_id", mvpd)
        .append_pair("redirect_url", redirect_url)
        .finish();
    format!("/api/v1/authenticate?{query}")
}

#[tokio::test]
async fn a_person_signs_in_from_the_programmer_s_page_and_is_sent_back_to_it() {
    let gw = gateway().await;
    let (status, created) = gw
        .post_form("/reggie/v1/DemoTV/regcode", &[("deviceId", "roku-1")], None)
        .await;
    assert_eq!(status, 201, "{created}");
    let code = created["code"].as_str().unwrap();
    let back = format!("http://127.0.0.1:{PAGE_PORT}/activated?code={code}");
    let browser = browser();

    // First our page, naming the device; confirmed, to the provider's sign-in page, with
    // the sign-in sealed in our cookie.
    let page = browser
        .get(gw.url(&start(code, "test-mvpd", &back)))
        .send()
        .await
        .unwrap();
    assert_eq!(page.url().path(), "/api/v1/authenticate");
    let at_provider = gw.confirm(&browser, page, "test-mvpd").await;
    assert_eq!(at_provider.status(), 200);
    let authorize = at_provider.url().clone();
    assert_eq!(authorize.path(), "/authorize");
    let mut form: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    form.push(("user".into(), "alice".into()));

    // Signed in: linked, and sent back to the page it came from.
    let done = browser
        .post(authorize.join("/authorize").unwrap())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER, "{}", done.url());
    assert_eq!(done.url().path(), "/activate/demo/callback");
    assert_eq!(done.headers()["location"], back.as_str());

    let (status, body) = gw
        .get(&format!("/api/v1/checkauthn/{code}?requestor=DemoTV"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, authn) = gw
        .get(
            &format!("/api/v1/authenticate/{code}?requestor=DemoTV"),
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 200, "{authn}");
    assert_eq!(authn["userId"], "alice");
    assert_eq!(authn["mvpd"], "test-mvpd");
}

#[tokio::test]
async fn elsewhere_an_unknown_provider_or_code_starts_no_sign_in() {
    let gw = gateway().await;
    let (_, created) = gw
        .post_form("/reggie/v1/DemoTV/regcode", &[("deviceId", "roku-2")], None)
        .await;
    let code = created["code"].as_str().unwrap();
    let no_redirects = Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    let back = format!("http://127.0.0.1:{PAGE_PORT}/activated");
    for (what, target, status) in [
        (
            "another host",
            start(code, "test-mvpd", "https://evil.example/"),
            400,
        ),
        (
            "a look-alike host",
            start(code, "test-mvpd", "http://127.0.0.1.evil.example/"),
            400,
        ),
        (
            "credentials in it",
            start(code, "test-mvpd", "http://u:p@127.0.0.1/"),
            400,
        ),
        (
            "an unknown provider",
            start(code, "no-such-mvpd", &back),
            400,
        ),
        (
            "an unknown code",
            start("BCDFGHJK", "test-mvpd", &back),
            404,
        ),
    ] {
        let response = no_redirects.get(gw.url(&target)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{what}");
        assert!(
            response.headers().get("location").is_none()
                && response.headers().get("set-cookie").is_none(),
            "{what}: no sign-in started"
        );
        let page = response.text().await.unwrap();
        assert!(
            page.contains("<html") || page.contains("<!doctype"),
            "{what}: a page: {page}"
        );
        assert!(
            !page.contains("evil.example"),
            "{what}: the address is not echoed"
        );
    }
    let (status, _) = gw
        .get(&format!("/api/v1/checkauthn/{code}?requestor=DemoTV"), None)
        .await;
    assert_eq!(status, 403, "nothing linked");
}

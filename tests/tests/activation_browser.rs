//! The activation page in a real browser: headless Chromium (Debian's, installed by
//! `.ci/setup`) driven over WebDriver by chromedriver. It types the code shown on the TV,
//! confirms the device, picks the provider, signs in at the built-in test MVPD and reaches
//! the success page; the device is then linked. A page of another site posting the sign-in
//! form with a stranger's code gets nowhere.

use fantoccini::Locator;
use linkgate_tests::browser::{Browser, Driver, fill_and_submit};
use linkgate_tests::{DEMO_KEY, Gateway};

/// A Chromium session with its profile in `profile`.
async fn session(driver: &Driver, profile: &std::path::Path) -> fantoccini::Client {
    Browser::default().open(driver, profile).await
}

#[tokio::test]
async fn chromium_types_the_code_signs_in_and_reaches_the_success_page() {
    let driver = Driver::start();
    let gw = Gateway::demo().await;
    let code = gw.issue_code("demo", "living-room-tv").await;

    let profile = tempfile::tempdir().expect("a profile directory");
    let browser = session(&driver, profile.path()).await;

    browser.goto(&gw.url("/activate/demo")).await.unwrap();
    // Typed as a person might: lower case, without the dash.
    let typed = code.replace('-', "").to_lowercase();
    fill_and_submit(&browser, "code", &typed).await;

    // Our page names the device and asks the person to confirm it is in front of them;
    // the form does not go without the box ticked.
    let provider = browser
        .wait()
        .for_element(Locator::XPath(
            "//button[normalize-space()='Sign in with Test TV Provider']",
        ))
        .await
        .unwrap();
    let page = browser.source().await.unwrap();
    assert!(page.contains("Is this your screen?") && page.contains("living-room-tv"));
    provider.click().await.unwrap();
    let confirmed = browser.find(Locator::Id("confirmed")).await.unwrap();
    assert_eq!(
        browser.current_url().await.unwrap().path(),
        "/activate/demo",
        "not sent on unticked"
    );
    confirmed.click().await.unwrap();
    provider.click().await.unwrap();

    // The test MVPD's sign-in form.
    fill_and_submit(&browser, "user", "alice").await;

    let heading = browser
        .wait()
        .for_element(Locator::XPath("//h1[normalize-space()=\"You're all set\"]"))
        .await
        .unwrap();
    assert_eq!(heading.text().await.unwrap(), "You're all set");
    let at = browser.current_url().await.unwrap();
    assert_eq!(at.path(), "/activate/demo/callback");
    assert!(
        browser
            .find(Locator::Css("main p"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("living-room-tv")
    );
    browser.close().await.unwrap();

    let (status, body) = gw
        .get(
            "/v1/requestors/demo/devices/living-room-tv/authn",
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["users"][0]["userId"], "alice");
    assert_eq!(body["users"][0]["mvpd"], "test-mvpd");
}

#[tokio::test]
async fn a_page_of_another_site_posting_the_sign_in_form_gets_nowhere() {
    let driver = Driver::start();
    let gw = Gateway::demo().await;
    // The stranger's TV shows this code; the stranger's page posts it in the victim's
    // browser, as a person's confirmed form would be.
    let code = gw.issue_code("demo", "strangers-tv").await;
    let form = format!(
        "<!doctype html><form id=f method=post action=\"{}\">\
         <input name=code value={code}><input name=mvpd value=test-mvpd>\
         <input name=confirmed value=yes><input name=confirm value=x></form>\
         <script>document.getElementById('f').submit()</script>",
        gw.url("/activate/demo/signin")
    );
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let form = form.clone();
            async move { axum::response::Html(form) }
        }),
    );
    let (evil, _server) = linkgate_tests::serve(app, "127.0.0.1", 0).await;

    let profile = tempfile::tempdir().expect("a profile directory");
    let browser = session(&driver, profile.path()).await;
    // `localhost` is another site than `127.0.0.1`, where the gateway is.
    browser
        .goto(&format!("http://localhost:{}/", evil.port()))
        .await
        .unwrap();
    let heading = browser
        .wait()
        .for_element(Locator::XPath(
            "//h1[normalize-space()='Something went wrong']",
        ))
        .await
        .unwrap();
    assert_eq!(heading.text().await.unwrap(), "Something went wrong");
    let at = browser.current_url().await.unwrap();
    assert_eq!(
        (at.port(), at.path()),
        (Some(gw.api.port()), "/activate/demo/signin"),
        "stopped at the gateway, never sent to the provider"
    );
    assert!(
        browser
            .source()
            .await
            .unwrap()
            .contains("started from another site")
    );
    let cookies = browser.get_all_cookies().await.unwrap();
    assert!(
        cookies.iter().all(|c| c.name() != "linkgate_signin"),
        "no sign-in cookie: {cookies:?}"
    );
    browser.close().await.unwrap();
    assert_eq!(
        gw.linked_users("demo", "strangers-tv").await,
        serde_json::json!([])
    );
}

//! The demo's two providers side by side: the built-in test MVPD signs people in over
//! OpenID Connect and, as "Test TV Provider (SAML)", over SAML 2.0. Its SAML face publishes
//! metadata with its signing certificate, takes the gateway's AuthnRequest on the redirect
//! binding and answers with a signed Response the browser posts to the gateway's ACS.

use linkgate_tests::Gateway;
use linkgate_tests::saml_idp::{Posted, form_action, form_field, refusals};
use reqwest::{Client, StatusCode, header};

const MVPD: &str = "test-mvpd-saml";

fn browser() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// From the activation page to the test MVPD's signed answer for `user`, as the browser
/// would post it.
async fn signed_answer(gw: &Gateway, code: &str, user: &str) -> Posted {
    let browser = browser();
    let to_provider = gw
        .sign_in_request(&browser, "demo", code, MVPD)
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(to_provider.status(), StatusCode::SEE_OTHER);
    let cookie = to_provider.headers()[header::SET_COOKIE].to_str().unwrap();
    let cookie = cookie.split(';').next().map(str::to_owned);
    let sso = to_provider.headers()[header::LOCATION].to_str().unwrap();
    let form = browser.get(sso).send().await.unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let page = form.text().await.unwrap();
    assert!(page.contains("Test MVPD"), "{page}");
    let sso = url::Url::parse(sso).unwrap();
    let signed = browser
        .post(sso.join(&form_action(&page)).unwrap())
        .form(&[
            ("SAMLRequest", form_field(&page, "SAMLRequest")),
            ("RelayState", form_field(&page, "RelayState")),
            ("user", user.to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), StatusCode::OK);
    let page = signed.text().await.unwrap();
    Posted {
        acs: url::Url::parse(&form_action(&page)).unwrap(),
        response: form_field(&page, "SAMLResponse"),
        relay_state: form_field(&page, "RelayState"),
        cookie,
    }
}

async fn post(answer: &Posted) -> (StatusCode, String) {
    let answer = answer.post(&browser()).await;
    (answer.status(), answer.text().await.unwrap())
}

#[tokio::test]
async fn a_tv_is_activated_through_the_demo_s_saml_provider_beside_the_openid_one() {
    let (gw, _) = Gateway::demo_with_test_mvpd().await;
    let code = gw.issue_code("demo", "living-room-tv").await;
    let page = gw.activation_page(&browser(), "demo", &code).await;
    for provider in ["value=\"test-mvpd\"", "value=\"test-mvpd-saml\""] {
        assert!(page.contains(provider), "{provider} in {page}");
    }

    let answer = signed_answer(&gw, &code, "alice").await;
    let acs = gw.url(&format!("/activate/demo/saml/{MVPD}/acs"));
    assert_eq!(answer.acs.as_str(), acs);
    let (status, page) = post(&answer).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("activated"), "{page}");

    let users = gw.linked_users("demo", "living-room-tv").await;
    assert_eq!(users[0]["userId"], "alice");
    assert_eq!(users[0]["mvpd"], MVPD);
}

#[tokio::test]
async fn its_answers_are_signed_and_its_requests_must_be_readable() {
    let (gw, test_mvpd) = Gateway::demo_with_test_mvpd().await;

    let metadata = reqwest::get(format!("{test_mvpd}/saml/metadata"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc = roxmltree::Document::parse(&metadata).unwrap();
    let entity = format!("{test_mvpd}/saml/metadata");
    assert_eq!(
        doc.root_element().attribute("entityID"),
        Some(entity.as_str())
    );
    let has = |name: &str| doc.descendants().any(|n| n.tag_name().name() == name);
    assert!(
        has("X509Certificate") && has("SingleSignOnService"),
        "{metadata}"
    );

    // Its answer is signed: a user changed on the way is refused by the gateway.
    let code = gw.issue_code("demo", "living-room-tv").await;
    let answer = signed_answer(&gw, &code, "alice").await;
    let xml = answer.xml();
    assert!(xml.contains("SignatureValue"), "{xml}");
    let (status, page) = post(&answer.with_xml(&xml.replace(">alice<", ">mallory<"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert_eq!(refusals(&gw, "demo", "signature").await, 1);
    let users = || gw.linked_users("demo", "living-room-tv");
    assert_eq!(users().await, serde_json::json!([]));
    // The same answer unaltered is taken.
    let (status, page) = post(&answer).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(users().await[0]["userId"], "alice");

    // A request it cannot read gets a page saying so.
    for request in ["", "not-base64!", "bm90IGRlZmxhdGVk"] {
        let answer = browser()
            .get(format!("{test_mvpd}/saml/sso?SAMLRequest={request}"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{request:?}");
    }
}

//! An app exactly as Adobe Pass REST API v1 apps speak — every call with v1's signed
//! `Authorization` header, the requestor by its upper-case ID, the device by a UUID, the
//! resource as an MRSS document — walks the whole way: regcode, the second screen's sign-in
//! at a SAML MVPD (pysaml2 on 127.0.0.1), `authenticate/{regcode}`, `authorize`,
//! `mediatoken`, `logout`. A wrong signature, a stale request time and a reused nonce are
//! refused on the way.

use linkgate_tests::adobe_app::{AdobeApp, now_millis};
use linkgate_tests::saml_idp::{SamlIdp, at_provider};
use linkgate_tests::{DEMO_KEY, Gateway, TEST_SIGNING_KEY, unthrottled};
use reqwest::{Client, Method, StatusCode, header};

const PUBLIC_KEY: &str = "Kp1vQ9xTz3LmR8sW";
const SECRET: &str = "the-app-secret";
const DEVICE: &str = "5b0d9f3e-2c4a-4e7b-9a61-0f8e2d3c4b5a";
const MVPD: &str = "cable-co";
/// Where the programmer's second-screen page lives; nothing needs to listen there.
const PAGE: &str = "http://127.0.0.1:9/activated";
const MRSS: &str = r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>news</title><item><title>Evening bulletin</title><media:rating scheme="urn:v-chip">tv-pg</media:rating></item></channel></rss>"#;

fn config(idp: &SamlIdp) -> String {
    let pem: String = TEST_SIGNING_KEY
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect();
    let lines = [
        "requestors:".to_owned(),
        "  - name: espn".to_owned(),
        "    spec:".to_owned(),
        format!(
            "      mvpds: [{{id: {MVPD}, displayName: Cable Co, decision: {{allow: [news]}}, \
             saml: {{idpMetadataUrl: '{}', userIdAttribute: 'urn:oid:0.9.2342.19200300.100.1.1'}}}}]",
            idp.metadata_url()
        ),
        "      mediaTokens: {signingKeys: [{id: k1, privateKeySecretRef: {name: media, key: key}}]}"
            .to_owned(),
        "      backend: {apiKeySecretRef: {name: backend, key: apiKey}}".to_owned(),
        "      deviceAuth: {backendOnly: [adobe]}".to_owned(),
        format!(
            "      adobe: {{requestorId: ESPN, redirectHosts: [127.0.0.1], \
             signedApps: [{{publicKey: {PUBLIC_KEY}, secretRef: {{name: app, key: secret}}}}]}}"
        ),
    ];
    unthrottled(&format!(
        "insecureLoopbackHttp: true\nsecrets:\n  backend: {{apiKey: {DEMO_KEY}}}\n  app: {{secret: {SECRET}}}\n  media:\n    key: |\n{pem}{}\n",
        lines.join("\n")
    ))
}

fn q(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[tokio::test]
async fn an_app_as_v1_apps_speak_walks_from_regcode_through_a_saml_sign_in_to_logout() {
    let idp = SamlIdp::start();
    let gw = Gateway::with_config(&config(&idp)).await;
    let metadata = reqwest::get(gw.url(&format!("/activate/espn/saml/{MVPD}/metadata")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    idp.trust(&metadata, false).await;
    let app = AdobeApp::new(&gw, "ESPN", PUBLIC_KEY, SECRET);

    // The TV asks for a code.
    let created = app.regcode(DEVICE).await;
    let code = created["code"].as_str().unwrap().to_owned();

    // The person, on the programmer's page, signs in at their MVPD and comes back to it.
    let browser = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let second_screen = format!(
        "/api/v1/authenticate?reg_code={code}&requestor_id=ESPN&mso_id={MVPD}&redirect_url={}",
        q(PAGE)
    );
    let page = browser.get(gw.url(&second_screen)).send().await.unwrap();
    let to_provider = gw.confirm(&browser, page, MVPD).await;
    let posted = at_provider(&browser, to_provider, "user=alice").await;
    let back = posted.post(&browser).await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    assert_eq!(back.headers()[header::LOCATION], PAGE);

    // The TV picks its authentication up by its code.
    let (status, authn) = app
        .call(
            Method::GET,
            &format!("/api/v1/authenticate/{code}?requestor=ESPN"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{authn}");
    assert_eq!(
        (authn["userId"].as_str(), authn["mvpd"].as_str()),
        (Some("alice"), Some(MVPD))
    );

    let device = format!("requestor=ESPN&deviceId={DEVICE}");
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/v1/authorize?{device}&resource={}", q(MRSS)),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resource"], "news");
    let (status, token) = app
        .call(
            Method::GET,
            &format!("/api/v1/mediatoken?{device}&resource={}", q(MRSS)),
            None,
        )
        .await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["resource"], "news");

    // Refused on the way: a wrong signature, a stale request time, a reused nonce.
    let path = "/api/v1/tokens/authn";
    let target = format!("{path}?{device}");
    let signed = "/tokens/authn";
    let get = Method::GET;
    let reused = app.header(&get, signed, now_millis(), "once", SECRET);
    assert_eq!(app.send(get.clone(), &target, &reused, None).await.0, 200);
    for header in [
        app.header(&get, signed, now_millis(), &app.nonce(), "not-the-secret"),
        app.header(&get, signed, now_millis() - 600_000, &app.nonce(), SECRET),
        reused,
    ] {
        let (status, body) = app.send(get.clone(), &target, &header, None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("invalid_signature")),
            "{body}"
        );
    }

    // Logout names its requestor only in the signed header.
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/logout?deviceId={DEVICE}"),
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = app.call(Method::GET, &target, None).await;
    assert_eq!(status, 404, "logged out");
}

//! Signing in on the activation page at an OpenID Connect provider that is not ours
//! (panva's `oidc-provider`, run on 127.0.0.1 by the test): discovery, its sign-in and
//! consent forms, the code redeemed with PKCE, its RS256 ID token verified against its JWK
//! set. Then the same walk with the ID token spoiled on its way back to the gateway: a broken
//! signature, a genuine token of the same provider issued to another client (same nonce), an
//! answer naming another issuer. None links the device; the clean walk afterwards does. And
//! the provider rotating its keys between two sign-ins.

use linkgate_tests::oidc_provider::{ExternalProvider, ProviderClient, Tamper};
use linkgate_tests::{DEMO_KEY, Gateway, requestors_config, unthrottled};
use openidconnect::PkceCodeChallenge;
use reqwest::{Client, Response, StatusCode, header};
use url::Url;

/// Where a client of the provider that is not the gateway is sent back to: nothing listens
/// there, the walk stops at the redirect.
const ELSEWHERE: &str = "http://127.0.0.1:1/cb";

struct Setup {
    gw: Gateway,
    provider: ExternalProvider,
}

async fn setup() -> Setup {
    let reserved = ExternalProvider::reserve().await;
    let issuer = reserved.issuer.clone();
    let config = requestors_config("", &[("demo", "")])
        .replace(
            "mvpds: [{id: test-mvpd, decision: {allow: ['*']}}]",
            &format!(
                "mvpds: [{{id: test-mvpd, displayName: Independent Cable, decision: {{allow: ['*']}}, \
                 oidc: {{issuer: '{issuer}', clientId: linkgate, \
                 clientSecretRef: {{name: oidc, key: linkgate}}}}}}]"
            ),
        )
        .replacen("secrets:\n", "secrets:\n  oidc: {linkgate: gateway-secret}\n", 1);
    assert!(
        config.contains("clientSecretRef"),
        "the MVPD line was found"
    );
    let gw = Gateway::with_config(&unthrottled(&config)).await;
    let callback = gw.url("/activate/demo/callback");
    let provider = reserved.start(&[
        ProviderClient {
            id: "linkgate",
            secret: "gateway-secret",
            redirect_uri: &callback,
        },
        ProviderClient {
            id: "other-app",
            secret: "other-secret",
            redirect_uri: ELSEWHERE,
        },
    ]);
    Setup { gw, provider }
}

/// A browser of its own (cookies kept), following redirects by hand so the test sees them.
fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a browser-like client")
}

/// Where a redirect points.
fn location(response: &Response) -> Url {
    let location = response.headers()[header::LOCATION].to_str().unwrap();
    response.url().join(location).unwrap()
}

/// Follows redirects until a page, or until one points where `stop` says (returned
/// unfollowed).
async fn follow_until(
    browser: &Client,
    mut response: Response,
    stop: impl Fn(&Url) -> bool,
) -> Response {
    for _ in 0..10 {
        if !response.status().is_redirection() || stop(&location(&response)) {
            return response;
        }
        response = browser.get(location(&response)).send().await.unwrap();
    }
    panic!("too many redirects");
}

/// Follows redirects until a page, or until one points `ELSEWHERE`.
async fn follow(browser: &Client, response: Response) -> Response {
    follow_until(browser, response, |url| url.as_str().starts_with(ELSEWHERE)).await
}

/// The `action` of the page's first form, as a URL.
async fn form_action(page: Response) -> Url {
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "a form page: {:?}",
        page.text().await
    );
    let url = page.url().clone();
    let html = page.text().await.unwrap();
    let action = html
        .split_once("action=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(action, _)| action.replace("&amp;", "&"))
        .unwrap_or_else(|| panic!("no form in {html}"));
    url.join(&action).unwrap()
}

/// From the provider's sign-in form: sign in as `login`, consent, and follow on.
async fn sign_in(browser: &Client, login_page: Response, login: &str) -> Response {
    let consented = sign_in_and_consent(browser, login_page, login).await;
    follow(browser, consented).await
}

/// From the provider's sign-in form: sign in as `login` and consent; the provider's answer.
async fn sign_in_and_consent(browser: &Client, login_page: Response, login: &str) -> Response {
    let login_form = form_action(login_page).await;
    let answer = browser
        .post(login_form)
        .form(&[("prompt", "login"), ("login", login), ("password", "any")])
        .send()
        .await
        .unwrap();
    let consent_form = form_action(follow(browser, answer).await).await;
    browser
        .post(consent_form)
        .form(&[("prompt", "consent")])
        .send()
        .await
        .unwrap()
}

/// The gateway's walk up to the provider's sign-in form: the page for it, and the nonce the
/// gateway asked the provider to put in the ID token.
async fn start_activation(gw: &Gateway, browser: &Client, code: &str) -> (Response, String) {
    let to_provider = gw
        .sign_in_request(browser, "demo", code, "test-mvpd")
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(to_provider.status(), StatusCode::SEE_OTHER);
    let authorize = Url::parse(to_provider.headers()[header::LOCATION].to_str().unwrap()).unwrap();
    let nonce = authorize
        .query_pairs()
        .find(|(k, _)| k == "nonce")
        .map(|(_, v)| v.into_owned())
        .expect("a nonce");
    (follow(browser, to_provider).await, nonce)
}

/// A genuine ID token of the provider for another client, carrying `nonce`: what an
/// attacker holding that client could hand the gateway.
async fn token_of_another_client(issuer: &str, nonce: &str) -> String {
    let browser = browser();
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut authorize = Url::parse(&format!("{issuer}/auth")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("client_id", "other-app")
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile")
        .append_pair("redirect_uri", ELSEWHERE)
        .append_pair("state", "other-state")
        .append_pair("nonce", nonce)
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");
    let login = follow(&browser, browser.get(authorize).send().await.unwrap()).await;
    let back = sign_in(&browser, login, "mallory").await;
    let code = location(&back)
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code for the other client");
    let tokens: serde_json::Value = Client::new()
        .post(format!("{issuer}/token"))
        .basic_auth("other-app", Some("other-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", ELSEWHERE),
            ("code_verifier", verifier.secret()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens["id_token"].as_str().expect("an ID token").to_owned()
}

async fn authn(gw: &Gateway, device: &str) -> (u16, serde_json::Value) {
    gw.get(
        &format!("/v1/requestors/demo/devices/{device}/authn"),
        Some(DEMO_KEY),
    )
    .await
}

/// One activation of `device` as `login`, through the provider: the gateway's last page.
async fn activate(gw: &Gateway, device: &str, login: &str) -> Response {
    let code = gw.issue_code("demo", device).await;
    let browser = browser();
    let (login_page, _) = start_activation(gw, &browser, &code).await;
    sign_in(&browser, login_page, login).await
}

#[tokio::test]
async fn a_tv_is_activated_by_signing_in_at_an_independent_provider_also_after_it_rotates_keys() {
    let Setup {
        gw,
        provider: mut p,
    } = setup().await;
    let done = activate(&gw, "living-room-tv", "alice").await;
    assert_eq!(done.url().path(), "/activate/demo/callback");
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done.text().await.unwrap().contains("living-room-tv"));
    let (status, body) = authn(&gw, "living-room-tv").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["users"][0]["userId"], "alice");
    assert_eq!(body["users"][0]["mvpd"], "test-mvpd");
    assert_eq!(body["users"][0]["metadata"]["name"], "User alice");

    // The provider comes back with new signing keys: the gateway, which keeps the old ones
    // for a while, fetches them again when an ID token names a key it lacks.
    p.restart();
    let done = activate(&gw, "kitchen-tv", "bob").await;
    assert_eq!(done.status(), StatusCode::OK);
    let (status, body) = authn(&gw, "kitchen-tv").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["users"][0]["userId"], "bob");
}

#[tokio::test]
async fn a_broken_signature_or_another_client_s_token_links_nothing() {
    let Setup { gw, provider } = setup().await;
    let code = gw.issue_code("demo", "den-tv").await;

    // The provider's ID token with one character of its signature changed.
    provider.tamper(Tamper::BreakSignature);
    let browser_a = browser();
    let (login_page, _) = start_activation(&gw, &browser_a, &code).await;
    let refused = sign_in(&browser_a, login_page, "alice").await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    // One sentence for the person; why, in the gateway's log.
    let page = refused.text().await.unwrap().to_lowercase();
    assert!(
        page.contains("could not be used") && !page.contains("signature"),
        "{page}"
    );
    assert_eq!(authn(&gw, "den-tv").await.0, 403);

    // A validly signed token of the same provider, with the gateway's nonce, but issued to
    // another client.
    let browser_b = browser();
    let (login_page, nonce) = start_activation(&gw, &browser_b, &code).await;
    let stolen = token_of_another_client(&provider.issuer, &nonce).await;
    provider.tamper(Tamper::Substitute(stolen));
    let refused = sign_in(&browser_b, login_page, "alice").await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let page = refused.text().await.unwrap().to_lowercase();
    assert!(
        page.contains("could not be used") && !page.contains("audience"),
        "{page}"
    );
    assert_eq!(authn(&gw, "den-tv").await.0, 403);

    provider.tamper(Tamper::Nothing);

    // An answer saying it comes from another issuer (RFC 9207): a mix-up, refused.
    let browser_d = browser();
    let (login_page, _) = start_activation(&gw, &browser_d, &code).await;
    let consented = sign_in_and_consent(&browser_d, login_page, "alice").await;
    let at_callback = follow_until(&browser_d, consented, |url| {
        url.path() == "/activate/demo/callback"
    })
    .await;
    let mut answer = location(&at_callback);
    let params: Vec<(String, String)> = answer.query_pairs().into_owned().collect();
    assert!(
        params
            .iter()
            .any(|(k, v)| k == "iss" && *v == provider.issuer),
        "{answer}"
    );
    answer
        .query_pairs_mut()
        .clear()
        .extend_pairs(params.iter().map(|(k, v)| {
            (
                k.as_str(),
                if k == "iss" { "http://127.0.0.1:1" } else { v },
            )
        }));
    let refused = browser_d.get(answer).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("could not be used") && !page.contains("127.0.0.1:1"),
        "{page}"
    );
    assert_eq!(authn(&gw, "den-tv").await.0, 403);

    // Unspoiled, the same code and provider work: the refusals were the answers'.
    let browser_c = browser();
    let (login_page, _) = start_activation(&gw, &browser_c, &code).await;
    let done = sign_in(&browser_c, login_page, "alice").await;
    assert_eq!(done.status(), StatusCode::OK);
    let (status, body) = authn(&gw, "den-tv").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["users"][0]["userId"], "alice");
}

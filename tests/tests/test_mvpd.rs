//! The built-in test MVPD, driven by an independent OpenID Connect relying-party library
//! (the `openidconnect` crate): discovery, the authorization code flow with PKCE, state and
//! nonce through its sign-in form, and an EdDSA ID token the library verifies against the
//! published keys. Replayed codes, wrong verifiers, another client's audience, a wrong nonce
//! and malformed requests are refused.

use linkgate_tests::{Gateway, free_port, requestors_config};
use openidconnect::core::{
    CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType,
};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};

const CALLBACK: &str = "http://127.0.0.1:9/callback";

/// A gateway serving the test MVPD; returns it with the MVPD's issuer URL.
async fn gateway() -> (Gateway, String) {
    let listen = free_port();
    let top = format!("testMvpd: {{listen: '{listen}'}}\n");
    let gw = Gateway::with_config(&requestors_config(&top, &[("demo", "")])).await;
    (gw, format!("http://{listen}"))
}

fn http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

/// A relying party `client_id` of the MVPD at `issuer`, configured by discovery.
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

async fn discover(issuer: &str, client_id: &str) -> Client {
    let issuer = IssuerUrl::new(issuer.into()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http())
        .await
        .expect("discovery");
    CoreClient::from_provider_metadata(metadata, ClientId::new(client_id.into()), None)
        .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap())
}

/// Where the browser is sent to sign in, with the state, nonce and PKCE verifier to check.
fn authorize(client: &Client) -> (url::Url, CsrfToken, Nonce, PkceCodeVerifier) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    (url, csrf, nonce, verifier)
}

/// Signs `user` in through the sign-in form of `auth_url`, as a browser would; returns
/// the code and state the MVPD sends back.
async fn sign_in(auth_url: &url::Url, user: &str) -> (String, String) {
    let http = http();
    let page = http
        .get(auth_url.as_str())
        .send()
        .await
        .expect("the sign-in page");
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<form method=\"post\" action=\"/authorize\">")
    );
    let mut fields: Vec<(String, String)> = auth_url.query_pairs().into_owned().collect();
    fields.push(("user".into(), user.into()));
    let back = http
        .post(auth_url.join("/authorize").unwrap())
        .form(&fields)
        .send()
        .await
        .expect("sign in");
    assert_eq!(back.status(), 303);
    let location = back.headers()["location"].to_str().unwrap();
    let location = url::Url::parse(location).expect("a redirect URL");
    assert!(location.as_str().starts_with(CALLBACK), "{location}");
    let get = |name: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {name} in {location}"))
    };
    (get("code"), get("state"))
}

#[tokio::test]
async fn an_openid_connect_library_signs_a_user_in_at_the_test_mvpd() {
    let (_gw, issuer) = gateway().await;
    let http = http();
    let client = discover(&issuer, "demo").await;
    let (auth_url, csrf, nonce, verifier) = authorize(&client);

    let (code, state) = sign_in(&auth_url, "alice").await;
    assert_eq!(&state, csrf.secret());
    let tokens = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the code's tokens");
    let id_token = tokens.id_token().expect("an ID token");
    let eddsa = || {
        client
            .id_token_verifier()
            .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EdDsa])
    };
    let claims = id_token.claims(&eddsa(), &nonce).expect("a valid ID token");
    assert_eq!(claims.subject().as_str(), "alice");
    assert_eq!(claims.issuer().as_str(), issuer);
    // Another nonce, or another client's audience, is not this token's.
    assert!(
        id_token
            .claims(&eddsa(), &Nonce::new("other".into()))
            .is_err()
    );
    let other = discover(&issuer, "someone-else").await;
    let theirs = other
        .id_token_verifier()
        .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EdDsa]);
    assert!(id_token.claims(&theirs, &nonce).is_err());

    // A code is redeemed once.
    let (_, again_verifier) = PkceCodeChallenge::new_random_sha256();
    let replay = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(again_verifier)
        .request_async(&http)
        .await;
    assert!(
        format!("{replay:?}").contains("invalid_grant"),
        "{replay:?}"
    );
}

#[tokio::test]
async fn a_wrong_verifier_or_a_malformed_request_is_refused() {
    let (_gw, issuer) = gateway().await;
    let http = http();
    let client = discover(&issuer, "demo").await;
    let (auth_url, _, _, _) = authorize(&client);
    let (code, _) = sign_in(&auth_url, "bob").await;
    let (_, wrong) = PkceCodeChallenge::new_random_sha256();
    let refused = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(wrong)
        .request_async(&http)
        .await;
    assert!(
        format!("{refused:?}").contains("invalid_grant"),
        "{refused:?}"
    );

    // Not the code flow, no openid scope, a redirect that is not http(s): a page saying so.
    for query in [
        "response_type=token&client_id=demo&redirect_uri=http://x/cb&scope=openid",
        "response_type=code&client_id=demo&redirect_uri=http://x/cb&scope=profile",
        "response_type=code&client_id=demo&redirect_uri=javascript:alert(1)&scope=openid",
    ] {
        let page = http
            .get(format!("{issuer}/authorize?{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 400, "{query}");
    }
}

//! A provider's discovery document cannot point the gateway into its own network. The
//! endpoints it names (`jwks_uri`, `token_endpoint`) are learned at run time: unless on the
//! configured issuer's own origin they must be https to a public or listed address, checked
//! on the address connected to, so neither a loopback address nor a name resolving to one is
//! called; the listener there sees no connection, and the person sees one sentence.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::routing::get;
use linkgate_tests::{Gateway, requestors_config};
use reqwest::{Client, redirect};

/// A listener that only counts who connects to it.
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connected = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connected);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (port, connected)
}

/// An issuer on loopback (allowed, as configured, with `insecureLoopbackHttp`) whose
/// discovery document names `jwks_uri` and `token_endpoint` as given (`None`: its own).
async fn issuer(jwks: Option<String>, token: Option<String>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let document = serde_json::json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": token.unwrap_or_else(|| format!("{base}/token")),
        "jwks_uri": jwks.unwrap_or_else(|| format!("{base}/jwks")),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let document = document.clone();
                async move { Json(document) }
            }),
        )
        .route(
            "/jwks",
            get(|| async { Json(serde_json::json!({"keys": []})) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    base
}

/// Requestor `tv` whose only MVPD, `idp`, signs in at `issuer`.
async fn gateway(issuer: &str) -> Gateway {
    let test_mvpd = "mvpds: [{id: test-mvpd, decision: {allow: ['*']}}]";
    let config = requestors_config("", &[("tv", "      throttling: {perClientIp: null}\n")])
        .replace(
            test_mvpd,
            &format!("mvpds: [{{id: idp, oidc: {{issuer: '{issuer}', clientId: tv}}}}]"),
        );
    Gateway::with_config(&config).await
}

fn no_redirects() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

/// The page says nothing of what was or was not called.
fn assert_no_detail(page: &str, port: u16) {
    for detail in [
        port.to_string().as_str(),
        "127.0.0.1",
        "localhost",
        "address",
    ] {
        assert!(!page.contains(detail), "{detail:?} on the page: {page}");
    }
}

#[tokio::test]
async fn keys_learned_at_a_loopback_address_or_a_name_for_one_are_not_fetched() {
    let (port, connected) = counting_listener().await;
    for jwks in [
        format!("http://127.0.0.1:{port}/jwks"),
        format!("https://127.0.0.1:{port}/jwks"),
        format!("https://localhost:{port}/jwks"),
        format!("https://[::ffff:127.0.0.1]:{port}/jwks"),
    ] {
        let gw = gateway(&issuer(Some(jwks.clone()), None).await).await;
        let code = gw.issue_code("tv", "tv-1").await;
        let response = gw
            .sign_in_request(&no_redirects(), "tv", &code, "idp")
            .await
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 502, "{jwks}");
        assert!(response.headers().get("location").is_none(), "{jwks}");
        let page = response.text().await.unwrap();
        assert!(
            page.contains("cannot be reached right now"),
            "{jwks}: {page}"
        );
        assert_no_detail(&page, port);
    }
    assert_eq!(connected.load(Ordering::SeqCst), 0, "nothing connected");
}

#[tokio::test]
async fn a_token_endpoint_learned_at_a_loopback_address_is_not_called() {
    let (port, connected) = counting_listener().await;
    let token = format!("https://localhost:{port}/token");
    let gw = gateway(&issuer(None, Some(token)).await).await;
    let code = gw.issue_code("tv", "tv-2").await;
    let browser = no_redirects();
    // Discovery and keys come from the issuer itself: the sign-in starts.
    let to_provider = gw
        .sign_in_request(&browser, "tv", &code, "idp")
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(to_provider.status(), 303);
    let at = url::Url::parse(to_provider.headers()["location"].to_str().unwrap()).unwrap();
    let state = at
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    // The provider's answer comes back; redeeming its code would call the token endpoint.
    let callback = browser
        .get(gw.url(&format!("/activate/tv/callback?code=abc&state={state}")))
        .send()
        .await
        .unwrap();
    assert_eq!(callback.status(), 400);
    let page = callback.text().await.unwrap();
    assert!(page.contains("could not be used"), "{page}");
    assert_no_detail(&page, port);
    assert_eq!(connected.load(Ordering::SeqCst), 0, "nothing connected");
    assert_eq!(gw.linked_users("tv", "tv-2").await, serde_json::json!([]));
}

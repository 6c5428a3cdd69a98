//! A provider that never answers, or answers without end, costs a refused sign-in within a
//! bounded time, never a hung request or the gateway's memory.

use std::time::{Duration, Instant};

use linkgate_tests::{Gateway, requestors_config};

/// Requestor `tv` whose only MVPD, `slow`, signs in at `issuer`.
fn config(issuer: &str) -> String {
    let test_mvpd = "mvpds: [{id: test-mvpd, decision: {allow: ['*']}}]";
    let config = requestors_config("", &[("tv", "      throttling: {perClientIp: null}\n")]);
    assert!(config.contains(test_mvpd));
    config.replace(
        test_mvpd,
        &format!("mvpds: [{{id: slow, oidc: {{issuer: '{issuer}', clientId: tv}}}}]"),
    )
}

/// Picks provider `slow` for a fresh code: the status, and how long the answer took.
async fn pick_provider(gw: &Gateway) -> (u16, Duration) {
    let code = gw.issue_code("tv", "tv-1").await;
    let started = Instant::now();
    let response = gw
        .sign_in_request(&reqwest::Client::new(), "tv", &code, "slow")
        .await
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("answered before the client gave up");
    (response.status().as_u16(), started.elapsed())
}

#[tokio::test]
async fn a_provider_that_never_answers_is_given_up_on() {
    // Accepts connections, reads nothing, answers nothing.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", silent.local_addr().unwrap());
    let gw = Gateway::with_config(&config(&issuer)).await;
    let (status, took) = pick_provider(&gw).await;
    assert_eq!(status, 502);
    assert!(took < Duration::from_secs(25), "took {took:?}");
    drop(silent);
}

#[tokio::test]
async fn a_provider_s_oversized_answer_is_refused_though_it_is_valid() {
    use axum::routing::get;
    // A valid discovery document, after 2 MiB of leading blanks: read whole, it would start
    // the sign-in.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let document = format!(
        "{}{{\"issuer\":\"{issuer}\",\"authorization_endpoint\":\"{issuer}/authorize\",\
         \"token_endpoint\":\"{issuer}/token\",\"jwks_uri\":\"{issuer}/jwks\",\
         \"response_types_supported\":[\"code\"],\"subject_types_supported\":[\"public\"],\
         \"id_token_signing_alg_values_supported\":[\"EdDSA\"]}}",
        " ".repeat(2 << 20)
    );
    let provider = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let document = document.clone();
                async move { ([("content-type", "application/json")], document) }
            }),
        )
        .route(
            "/jwks",
            get(|| async { ([("content-type", "application/json")], "{\"keys\":[]}") }),
        );
    let server = tokio::spawn(async move { axum::serve(listener, provider).await.ok() });
    let gw = Gateway::with_config(&config(&issuer)).await;
    let (status, _) = pick_provider(&gw).await;
    assert_eq!(status, 502, "the oversized answer was used");
    server.abort();
}

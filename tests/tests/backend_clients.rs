//! The requestor's backend as a registered client: a software statement signed with the
//! gateway's own `software-statement` command registers it (RFC 7591), an unmodified OAuth
//! client library gets an access token with the client-credentials grant, and that token —
//! not an API key, which this requestor has none of — authorizes the backend's calls, also
//! after a restart. Statements for another requestor or from an untrusted key, wrong
//! secrets and foreign or forged tokens are refused.

use linkgate_tests::{DEMO_KEY, Gateway, TEST_SIGNING_KEY, unthrottled};
use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, TokenResponse, TokenUrl};
use serde_json::{Value, json};

/// The public half of `TEST_SIGNING_KEY`, which signs the statements.
const STATEMENT_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAW0U2wzVlor6p4YqFjUOXOl/haR+g1RP25ftM+DEKTzI=\n-----END PUBLIC KEY-----\n";

/// Requestors `demo` (clients only) and `other` (an API key, and clients too).
fn config() -> String {
    let indent = |pem: &str| -> String { pem.lines().map(|l| format!("      {l}\n")).collect() };
    unthrottled(&format!(
        "secrets:\n  backend: {{apiKey: {DEMO_KEY}}}\n  statements:\n    key: |\n{}requestors:\n\
         \x20 - name: demo\n    spec:\n      mvpds: [{{id: test-mvpd}}]\n\
         \x20     backend: {{clients: {{softwareStatementKeys: [{{name: statements, key: key}}], accessTokenTtlSeconds: 600}}}}\n\
         \x20 - name: other\n    spec:\n      mvpds: [{{id: test-mvpd}}]\n\
         \x20     backend: {{apiKeySecretRef: {{name: backend, key: apiKey}}, clients: {{softwareStatementKeys: [{{name: statements, key: key}}]}}}}\n",
        indent(STATEMENT_PUBLIC_KEY)
    ))
}

/// A statement signed by `key` (PEM) for `requestor`'s backend.
fn statement(key: &str, requestor: &str) -> String {
    linkgate_tests::software_statement(key, requestor, "acme-backend")
}

async fn register(gw: &Gateway, requestor: &str, statement: &str) -> (u16, Value) {
    gw.post_json(
        &format!("/oauth/{requestor}/register"),
        json!({"software_statement": statement}),
        None,
    )
    .await
}

/// An access token through the `oauth2` crate's client-credentials exchange.
async fn access_token(
    gw: &Gateway,
    requestor: &str,
    id: &str,
    secret: &str,
) -> Result<String, String> {
    let client = BasicClient::new(ClientId::new(id.into()))
        .set_client_secret(ClientSecret::new(secret.into()))
        .set_token_uri(TokenUrl::new(gw.url(&format!("/oauth/{requestor}/token"))).unwrap());
    let http = oauth2::reqwest::Client::new();
    client
        .exchange_client_credentials()
        .request_async(&http)
        .await
        .map(|t| t.access_token().secret().clone())
        .map_err(|e| format!("{e:?}"))
}

async fn issue_and_link(gw: &Gateway, requestor: &str, device: &str, bearer: &str) -> (u16, Value) {
    let code = gw.issue_code(requestor, device).await;
    gw.post_json(
        &format!("/v1/requestors/{requestor}/links"),
        json!({"code": code, "userId": "alice"}),
        Some(bearer),
    )
    .await
}

#[tokio::test]
async fn a_registered_client_s_access_token_authorizes_the_backend_s_calls() {
    let mut gw = Gateway::with_config(&config()).await;
    let (status, client) = register(&gw, "demo", &statement(TEST_SIGNING_KEY, "demo")).await;
    assert_eq!(status, 201, "{client}");
    assert_eq!(
        (
            &client["software_id"],
            &client["software_version"],
            &client["client_secret_expires_at"]
        ),
        (&json!("acme-backend"), &json!("2.1"), &json!(0))
    );
    let id = client["client_id"].as_str().expect("a client ID");
    let secret = client["client_secret"].as_str().expect("a secret");
    assert!(id.starts_with("acme-backend."), "{id}");

    let token = access_token(&gw, "demo", id, secret)
        .await
        .expect("a token");
    let (status, body) = issue_and_link(&gw, "demo", "tv-1", &token).await;
    assert_eq!(status, 201, "{body}");

    // Nothing about the client is stored, and nothing is lost: the token and the client's
    // credentials still work after a restart.
    gw.restart().await;
    assert_eq!(issue_and_link(&gw, "demo", "tv-2", &token).await.0, 201);
    let again = access_token(&gw, "demo", id, secret)
        .await
        .expect("a token");
    assert_eq!(issue_and_link(&gw, "demo", "tv-3", &again).await.0, 201);

    // This requestor has no API key, so none is accepted.
    let (status, body) = issue_and_link(&gw, "demo", "tv-4", DEMO_KEY).await;
    assert_eq!((status, &body["code"]), (401, &json!("invalid_credential")));
    // Where there is one, it still works beside registered clients.
    assert_eq!(issue_and_link(&gw, "other", "tv-5", DEMO_KEY).await.0, 201);
}

#[tokio::test]
async fn wrong_statements_secrets_and_tokens_are_refused() {
    let gw = Gateway::with_config(&config()).await;
    // A statement for another requestor, or signed by a key the requestor does not trust.
    let (status, body) = register(&gw, "demo", &statement(TEST_SIGNING_KEY, "other")).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_software_statement"))
    );
    let untrusted = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAmXfWLUdvEXa6DNAFxqd9cQDY6ysLtAAJ0FRdWlJtxC\n-----END PRIVATE KEY-----\n";
    let (status, body) = register(&gw, "demo", &statement(untrusted, "demo")).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_software_statement"))
    );

    let (_, client) = register(&gw, "demo", &statement(TEST_SIGNING_KEY, "demo")).await;
    let id = client["client_id"].as_str().expect("a client ID");
    let secret = client["client_secret"].as_str().expect("a secret");
    // A wrong secret, or the right one for the client of another requestor.
    let refused = access_token(&gw, "demo", id, "not-the-secret")
        .await
        .unwrap_err();
    assert!(refused.contains("invalid_client"), "{refused}");
    let refused = access_token(&gw, "other", id, secret).await.unwrap_err();
    assert!(refused.contains("invalid_client"), "{refused}");

    // demo's token does not open other's calls; a forged one opens nothing.
    let token = access_token(&gw, "demo", id, secret)
        .await
        .expect("a token");
    assert_eq!(issue_and_link(&gw, "other", "tv", &token).await.0, 401);
    let mut forged = token.clone();
    forged.replace_range(forged.len() - 4.., "AAAA");
    assert_eq!(issue_and_link(&gw, "demo", "tv", &forged).await.0, 401);
}

#[tokio::test]
async fn one_client_is_revoked_on_its_own_while_the_gateway_runs() {
    let mut gw = Gateway::with_config(&config()).await;
    let mut clients = Vec::new();
    for _ in 0..2 {
        let (status, client) = register(&gw, "demo", &statement(TEST_SIGNING_KEY, "demo")).await;
        assert_eq!(status, 201, "{client}");
        let id = client["client_id"].as_str().unwrap().to_owned();
        let secret = client["client_secret"].as_str().unwrap().to_owned();
        let token = access_token(&gw, "demo", &id, &secret).await.unwrap();
        clients.push((id, secret, token));
    }
    let [
        (revoked, revoked_secret, revoked_token),
        (kept, kept_secret, kept_token),
    ] = <[_; 2]>::try_from(clients).unwrap();

    gw.write_config(&config().replace(
        "accessTokenTtlSeconds: 600}",
        &format!("accessTokenTtlSeconds: 600, revokedClients: [{revoked}]}}"),
    ));
    linkgate_tests::wait_for_metric(
        &gw,
        "linkgate_config_reloads_total{outcome=\"applied\"} 1",
        std::time::Duration::from_secs(10),
    )
    .await;
    let (status, body) = issue_and_link(&gw, "demo", "tv-1", &revoked_token).await;
    assert_eq!((status, &body["code"]), (401, &json!("invalid_credential")));
    assert!(
        access_token(&gw, "demo", &revoked, &revoked_secret)
            .await
            .is_err()
    );
    // The other client of the same software goes on.
    assert_eq!(
        issue_and_link(&gw, "demo", "tv-2", &kept_token).await.0,
        201
    );
    let renewed = access_token(&gw, "demo", &kept, &kept_secret)
        .await
        .unwrap();
    assert_eq!(issue_and_link(&gw, "demo", "tv-3", &renewed).await.0, 201);
}

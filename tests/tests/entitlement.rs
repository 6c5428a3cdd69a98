//! Authentication, authorization, preauthorization, media tokens and logout, end to end,
//! with the MVPD's decision point served on 127.0.0.1.

use std::process::Command;
use std::time::Duration;

use linkgate_tests::decision_point::{DecisionPoint, Mode, dead_url};
use linkgate_tests::{DEMO_KEY, Gateway, LOOPBACK_HTTP, TEST_SIGNING_KEY, proxy_binary};
use serde_json::{Value, json};

/// TTLs in seconds for one test requestor.
struct Ttls {
    authn: u64,
    authz: u64,
    media: u64,
}

const LONG: Ttls = Ttls {
    authn: 3600,
    authz: 3600,
    media: 420,
};

/// Requestor `tv`: MVPD `cable` with `decision` (YAML), MVPD `test-mvpd` allowing all.
fn config(decision: &str, ttls: Ttls, extra_spec: &str) -> String {
    let pem: String = TEST_SIGNING_KEY
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect();
    format!(
        "{LOOPBACK_HTTP}secrets:\n  backend: {{apiKey: {DEMO_KEY}}}\n  media:\n    key: |\n{pem}\
         requestors:\n  - name: tv\n    spec:\n      throttling: {{perClientIp: null}}\n      mvpds:\n\
         \x20       - id: cable\n          authnTtlSeconds: {}\n          authzTtlSeconds: {}\n          decision: {decision}\n\
         \x20       - id: test-mvpd\n          decision: {{allow: ['*']}}\n\
         \x20     mediaTokens:\n        ttlSeconds: {}\n        signingKeys: [{{id: k1, privateKeySecretRef: {{name: media, key: key}}}}]\n\
         \x20     backend: {{apiKeySecretRef: {{name: backend, key: apiKey}}}}\n{extra_spec}",
        ttls.authn, ttls.authz, ttls.media
    )
}

fn webhook(url: &str, timeout_millis: u32) -> String {
    format!("{{webhook: {{url: '{url}', timeoutMillis: {timeout_millis}}}}}")
}

async fn link(gw: &Gateway, device: &str, user: &str, mvpd: &str) {
    let code = gw.issue_code("tv", device).await;
    let (status, body) = gw
        .post_json(
            "/v1/requestors/tv/links",
            json!({"code": code, "userId": user, "mvpd": mvpd, "metadata": {"zip": "10001"}}),
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn adobe(gw: &Gateway, call: &str, device: &str, resource: Option<&str>) -> (u16, Value) {
    let mut path = format!("/api/v1/{call}?requestor=tv&deviceId={device}");
    if let Some(resource) = resource {
        path.push_str(&format!("&resource={resource}"));
    }
    gw.get(&path, Some(DEMO_KEY)).await
}

fn verify(jwks: &std::path::Path, requestor: &str, resource: &str, token: &str) -> (i32, String) {
    let out = Command::new(proxy_binary())
        .arg("verify-token")
        .arg("--jwks")
        .arg(jwks)
        .args(["--requestor", requestor, "--resource", resource, token])
        .output()
        .expect("run verify-token");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn link_authorize_media_token_and_the_verifier_accepts_only_the_genuine_token() {
    let dp = DecisionPoint::start(Mode::Answer {
        allow: vec!["news".into(), "movies".into()],
        omit: vec![],
    })
    .await;
    let ttls = Ttls { media: 3, ..LONG };
    let gw = Gateway::with_config(&config(&webhook(&dp.url(), 2000), ttls, "")).await;
    link(&gw, "tv-1", "alice", "cable").await;

    let (status, body) = adobe(&gw, "checkauthn", "tv-1", None).await;
    assert_eq!((status, &body["userId"]), (200, &json!("alice")));
    assert_eq!(
        (&body["deviceId"], &body["mvpd"]),
        (&json!("tv-1"), &json!("cable"))
    );
    assert!(body["expires"].as_i64().unwrap() > 0, "{body}");
    let (status, body) = adobe(&gw, "tokens/authn", "tv-1", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        (&body["mvpd"], &body["requestor"]),
        (&json!("cable"), &json!("tv"))
    );
    assert!(body["expires"].as_i64().unwrap() > 0);

    let (status, body) = adobe(&gw, "authorize", "tv-1", Some("news")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resource"], "news");
    assert!(body["expires"].as_i64().unwrap() > 0, "{body}");
    let (status, body) = adobe(&gw, "authorize", "tv-1", Some("sports")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("authorization_denied_by_mvpd"))
    );
    assert!(
        body["message"].as_str().unwrap().contains("not subscribed"),
        "{body}"
    );
    let question = &dp.questions().await[0];
    assert_eq!(
        (
            &question["userId"],
            &question["deviceId"],
            &question["mvpd"],
            &question["requestor"]
        ),
        (
            &json!("alice"),
            &json!("tv-1"),
            &json!("cable"),
            &json!("tv")
        )
    );

    let (status, _) = adobe(&gw, "tokens/authz", "tv-1", Some("news")).await;
    assert_eq!(status, 200);
    let (status, body) = adobe(&gw, "tokens/authz", "tv-1", Some("weather")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("authorization_missing"))
    );

    let (status, body) = adobe(&gw, "tokens/media", "tv-1", Some("news")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["userId"], &body["mvpdId"]),
        (&json!("alice"), &json!("cable"))
    );
    let token = body["serializedToken"].as_str().unwrap().to_owned();
    let (status, _) = adobe(&gw, "tokens/media", "tv-1", Some("sports")).await;
    assert_eq!(status, 403, "no media token without authorization");

    let (status, jwks) = gw.get("/v1/requestors/tv/media-keys", None).await;
    assert_eq!(status, 200);
    assert_eq!(jwks["keys"][0]["kid"], "k1");
    let dir = tempfile::tempdir().unwrap();
    let jwks_path = dir.path().join("jwks.json");
    std::fs::write(&jwks_path, jwks.to_string()).unwrap();

    let (code, out) = verify(&jwks_path, "tv", "news", &token);
    assert_eq!(code, 0, "{out}");
    let claims: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (&claims["sub"], &claims["dev"], &claims["res"]),
        (&json!("alice"), &json!("tv-1"), &json!("news"))
    );

    let (code, out) = verify(&jwks_path, "tv", "movies", &token);
    assert_eq!(code, 1);
    assert!(out.contains("resource"), "{out}");
    let (code, out) = verify(&jwks_path, "other", "news", &token);
    assert_eq!(code, 1);
    assert!(out.contains("requestor"), "{out}");
    let mut tampered = token.clone().into_bytes();
    let dot = token.find('.').unwrap() + 3;
    tampered[dot] = if tampered[dot] == b'A' { b'B' } else { b'A' };
    let (code, out) = verify(
        &jwks_path,
        "tv",
        "news",
        &String::from_utf8(tampered).unwrap(),
    );
    assert_eq!(code, 1);
    assert!(
        out.contains("signature") || out.contains("well-formed"),
        "{out}"
    );

    // The 3 s token's `exp` is whole seconds, rounded up: gone 4 s after issue at the latest.
    tokio::time::sleep(Duration::from_millis(4_100)).await;
    let (code, out) = verify(&jwks_path, "tv", "news", &token);
    assert_eq!(code, 1);
    assert!(out.contains("expired"), "{out}");

    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("linkgate_authorizations_total{decision=\"deny\",requestor=\"tv\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("linkgate_media_tokens_issued_total{requestor=\"tv\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn concurrent_identical_authorizations_share_one_webhook_call() {
    let dp = DecisionPoint::start(Mode::Slow(Duration::from_millis(300))).await;
    let gw = Gateway::with_config(&config(&webhook(&dp.url(), 5000), LONG, "")).await;
    link(&gw, "tv", "alice", "cable").await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let http = gw.http.clone();
        let url = gw.url("/v1/requestors/tv/devices/tv/authorize?resource=movies");
        tasks.push(tokio::spawn(async move {
            let request = http.get(url).bearer_auth(DEMO_KEY);
            request.send().await.unwrap().status().as_u16()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 403, "the slow decision point denies");
    }
    assert_eq!(dp.calls(), 1);
}

#[tokio::test]
async fn authentication_and_authorization_expire_with_their_ttls() {
    let dp = DecisionPoint::start(Mode::Answer {
        allow: vec!["news".into()],
        omit: vec![],
    })
    .await;
    let ttls = Ttls {
        authn: 3,
        authz: 1,
        media: 420,
    };
    let gw = Gateway::with_config(&config(&webhook(&dp.url(), 2000), ttls, "")).await;
    link(&gw, "tv", "alice", "cable").await;
    assert_eq!(adobe(&gw, "authorize", "tv", Some("news")).await.0, 200);
    assert_eq!(adobe(&gw, "tokens/authz", "tv", Some("news")).await.0, 200);

    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let (status, body) = adobe(&gw, "tokens/authz", "tv", Some("news")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (410, Some("authorization_expired"))
    );
    assert_eq!(adobe(&gw, "checkauthn", "tv", None).await.0, 200);

    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let (status, body) = adobe(&gw, "tokens/authn", "tv", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (410, Some("authenticated_profile_expired"))
    );
    let (status, body) = adobe(&gw, "checkauthn", "tv", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("authenticated_profile_expired"))
    );
    assert_eq!(adobe(&gw, "tokens/authz", "tv", Some("news")).await.0, 412);
    let (status, body) = adobe(&gw, "tokens/authn", "never-linked", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("authenticated_profile_missing"))
    );
}

#[tokio::test]
async fn an_mvpd_blocked_after_linking_no_longer_authenticates() {
    let decision = "{allow: ['*']}";
    let mut gw = Gateway::with_config(&config(decision, LONG, "")).await;
    link(&gw, "tv", "alice", "cable").await;
    assert_eq!(adobe(&gw, "checkauthn", "tv", None).await.0, 200);
    let (_, listed) = gw.get("/api/v1/config/tv", None).await;
    assert_eq!(listed["mvpds"].as_array().unwrap().len(), 2);

    gw.reconfigure(&config(decision, LONG, "      blockedMvpds: [cable]\n"))
        .await;
    let (status, body) = adobe(&gw, "checkauthn", "tv", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("authenticated_profile_missing"))
    );
    let (_, listed) = gw.get("/api/v1/config/tv", None).await;
    assert_eq!(
        listed["mvpds"],
        json!([{"id": "test-mvpd", "displayName": "test-mvpd"}])
    );
    let code = gw.issue_code("tv", "tv-2").await;
    let (status, body) = gw
        .post_json(
            "/v1/requestors/tv/links",
            json!({"code": code, "userId": "bob", "mvpd": "cable"}),
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("mvpd_not_allowed"))
    );
}

#[tokio::test]
async fn a_decision_point_s_redirect_is_not_followed_and_its_secret_not_told() {
    let elsewhere = DecisionPoint::start(Mode::Answer {
        allow: vec!["news".into()],
        omit: vec![],
    })
    .await;
    let dp = DecisionPoint::start(Mode::Redirect(elsewhere.url())).await;
    let url = format!("{}?apiKey=s3cret-key", dp.url());
    let gw = Gateway::with_config(&config(&webhook(&url, 1000), LONG, "")).await;
    link(&gw, "tv", "alice", "cable").await;
    let (status, body) = adobe(&gw, "authorize", "tv", Some("news")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (502, Some("decision_point_invalid_answer")),
        "{body}"
    );
    assert_eq!(dp.calls(), 1);
    assert_eq!(elsewhere.calls(), 0, "the redirect was followed");
    assert!(!body.to_string().contains("s3cret"), "{body}");
}

#[tokio::test]
async fn a_down_slow_or_confused_decision_point_is_a_clear_error_not_a_hang() {
    let cases = [
        (dead_url(), None, 502, "decision_point_unavailable"),
        (
            String::new(),
            Some(Mode::Slow(Duration::from_secs(5))),
            504,
            "decision_point_timeout",
        ),
        (
            String::new(),
            Some(Mode::Garbage),
            502,
            "decision_point_invalid_answer",
        ),
        (
            String::new(),
            Some(Mode::Status(500)),
            502,
            "decision_point_invalid_answer",
        ),
    ];
    for (url, mode, status, code) in cases {
        let dp = match mode {
            Some(mode) => Some(DecisionPoint::start(mode).await),
            None => None,
        };
        let url = dp.as_ref().map_or(url, DecisionPoint::url);
        let gw = Gateway::with_config(&config(&webhook(&url, 300), LONG, "")).await;
        link(&gw, "tv", "alice", "cable").await;
        let response = gw
            .http
            .get(gw.url("/api/v1/authorize?requestor=tv&deviceId=tv&resource=news"))
            .bearer_auth(DEMO_KEY)
            .timeout(Duration::from_secs(4))
            .send()
            .await
            .expect("answered before the client gave up");
        let (got_status, body) = linkgate_tests::read(response).await;
        assert_eq!(
            (got_status, body["code"].as_str()),
            (status, Some(code)),
            "{url}"
        );
        // The device is told what failed, never where the decision point is.
        let host = url.split('/').nth(2).unwrap_or_default();
        assert!(!body.to_string().contains(host), "{body}");
        // Errors are not cached: nothing was decided.
        assert_eq!(adobe(&gw, "tokens/authz", "tv", Some("news")).await.0, 404);
    }
}

#[tokio::test]
async fn preauthorize_answers_per_resource_within_the_limit() {
    let dp = DecisionPoint::start(Mode::Answer {
        allow: vec!["a".into(), "c".into()],
        omit: vec!["c".into()],
    })
    .await;
    let gw = Gateway::with_config(&config(&webhook(&dp.url(), 2000), LONG, "")).await;
    link(&gw, "tv", "alice", "cable").await;
    assert_eq!(adobe(&gw, "authorize", "tv", Some("a")).await.0, 200);
    let calls = dp.calls();

    let (status, body) = adobe(&gw, "preauthorize", "tv", Some("a,b,c")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["resources"],
        json!([
            {"id": "a", "authorized": true},
            {"id": "b", "authorized": false},
            {"id": "c", "authorized": false},
        ])
    );
    assert_eq!(
        dp.calls(),
        calls + 1,
        "one question for the uncached resources"
    );
    assert_eq!(
        dp.questions().await.last().unwrap()["resources"],
        json!(["b", "c"])
    );

    let (status, body) = adobe(&gw, "preauthorize", "tv", Some("r1,r2,r3,r4,r5,r6")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("too_many_resources"))
    );

    dp.set_mode(Mode::Status(503)).await;
    let (status, body) = gw
        .get(
            "/v1/requestors/tv/devices/tv/preauthorize?resource=x,a",
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["resources"][0],
        json!({"id": "x", "authorized": false, "error": "decision_point_invalid_answer"})
    );
    assert_eq!(body["resources"][1], json!({"id": "a", "authorized": true}));
}

#[tokio::test]
async fn logout_and_user_metadata() {
    let gw = Gateway::with_config(&config("{allow: ['*']}", LONG, "")).await;
    link(&gw, "tv", "alice", "test-mvpd").await;
    let (status, body) = adobe(&gw, "tokens/usermetadata", "tv", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"userId": "alice", "mvpd": "test-mvpd", "data": {"zip": "10001"}})
    );
    let (status, body) = gw
        .get("/v1/requestors/tv/devices/tv/metadata", Some(DEMO_KEY))
        .await;
    assert_eq!((status, &body["data"]["zip"]), (200, &json!("10001")));

    let (status, _) = gw
        .delete("/api/v1/logout?requestor=tv&deviceId=tv", Some(DEMO_KEY))
        .await;
    assert_eq!(status, 204);
    assert_eq!(adobe(&gw, "checkauthn", "tv", None).await.0, 403);
    let (status, _) = gw
        .delete("/v1/requestors/tv/devices/tv/authn", Some(DEMO_KEY))
        .await;
    assert_eq!(status, 204, "logging out twice is fine");
    assert_eq!(adobe(&gw, "tokens/usermetadata", "tv", None).await.0, 403);
}

#[tokio::test]
async fn the_native_dialect_answers_the_same_questions() {
    let gw = Gateway::with_config(&config("{allow: [news]}", LONG, "")).await;
    link(&gw, "tv", "alice", "cable").await;
    let base = "/v1/requestors/tv/devices/tv";

    let (status, body) = gw.get(&format!("{base}/authn/token"), Some(DEMO_KEY)).await;
    assert_eq!((status, &body["userId"]), (200, &json!("alice")));
    assert!(
        body["expiresAt"].as_str().unwrap().ends_with('Z'),
        "RFC 3339: {body}"
    );
    let (status, body) = gw
        .get(&format!("{base}/authorize?resource=news"), Some(DEMO_KEY))
        .await;
    assert_eq!((status, &body["mvpd"]), (200, &json!("cable")));
    assert!(body["expiresAt"].as_str().unwrap().ends_with('Z'), "{body}");
    let (status, body) = gw
        .get(&format!("{base}/authorize?resource=sports"), Some(DEMO_KEY))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("authorization_denied_by_mvpd"))
    );
    let (status, _) = gw
        .get(&format!("{base}/authz?resource=news"), Some(DEMO_KEY))
        .await;
    assert_eq!(status, 200);
    let (status, body) = gw
        .get(&format!("{base}/media-token?resource=news"), Some(DEMO_KEY))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token"].as_str().unwrap().split('.').count(), 3);
    let (status, body) = gw.get("/v1/requestors/tv/mvpds", None).await;
    assert_eq!((status, body["mvpds"].as_array().unwrap().len()), (200, 2));
    let (status, body) = gw.get(&format!("{base}/authorize"), Some(DEMO_KEY)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("missing_parameter"))
    );
    let (status, body) = gw.get("/api/v1/checkauthn?deviceId=tv", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("missing_parameter"))
    );
}

/// An MRSS resource as Adobe v1 clients send one: its channel title is the resource.
const MRSS: &str = r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>news</title><item><title>Evening bulletin</title><media:rating scheme="urn:v-chip">tv-pg</media:rating></item></channel></rss>"#;

#[tokio::test]
async fn an_mrss_resource_is_decided_by_its_channel_title_and_the_decision_point_gets_both() {
    let dp = DecisionPoint::start(Mode::Answer {
        allow: vec!["news".into()],
        omit: vec![],
    })
    .await;
    let gw = Gateway::with_config(&config(&webhook(&dp.url(), 2000), LONG, "")).await;
    link(&gw, "tv-1", "alice", "cable").await;
    let mrss: String = url::form_urlencoded::byte_serialize(MRSS.as_bytes()).collect();

    let (status, body) = adobe(&gw, "authorize", "tv-1", Some(&mrss)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resource"], "news");
    let question = &dp.questions().await[0];
    assert_eq!(question["resources"], json!(["news"]));
    assert_eq!(question["documents"]["news"], MRSS, "{question}");

    let (status, token) = adobe(&gw, "tokens/media", "tv-1", Some(&mrss)).await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["resource"], "news");
    // A plain-ID question carries no documents.
    let (status, _) = adobe(&gw, "authorize", "tv-1", Some("movies")).await;
    assert_eq!(status, 403);
    let question = dp.questions().await.pop().unwrap();
    assert!(question.get("documents").is_none(), "{question}");

    for broken in [
        "<rss><channel><title>news</title></channel>",
        "<rss><channel><item><title>news</title></item></channel></rss>",
        "<!DOCTYPE rss [<!ENTITY n \"news\">]><rss><channel><title>&n;</title></channel></rss>",
    ] {
        let encoded: String = url::form_urlencoded::byte_serialize(broken.as_bytes()).collect();
        let (status, body) = adobe(&gw, "authorize", "tv-1", Some(&encoded)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid_parameter_value")),
            "{broken}: {body}"
        );
        assert!(!body.to_string().contains("<rss"), "not echoed: {body}");
    }
}

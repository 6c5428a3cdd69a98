//! Inline media token checks: origins never see a request without a valid token, and see
//! the verified user and device on those with one.

use std::time::Duration;

use linkgate_tests::origin::Origin;
use linkgate_tests::{Gateway, media_token, raw_get, requestors_config};

fn config(origin: std::net::SocketAddr, media_ttl: u32) -> String {
    requestors_config(
        "",
        &[(
            "tv",
            &format!(
                "      throttling: {{perClientIp: null}}\n      routes:\n\
                 \x20       - {{prefix: /news, upstream: {{host: 127.0.0.1, port: {port}}}, resource: news}}\n",
                port = origin.port()
            ),
        )],
    )
    .replace(
        "mediaTokens: {signingKeys",
        &format!("mediaTokens: {{ttlSeconds: {media_ttl}, signingKeys"),
    )
}

#[tokio::test]
async fn only_valid_tokens_for_the_route_s_resource_reach_the_origin() {
    let origin = Origin::start("segment").await;
    let gw = Gateway::with_config(&config(origin.addr, 2)).await;
    let token = media_token(&gw, "tv", "tv-1", "news").await;
    let sports = media_token(&gw, "tv", "tv-2", "sports").await;
    let mut tampered = token.clone().into_bytes();
    let at = token.rfind('.').unwrap() + 5;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();

    let (status, answer, _) = raw_get(gw.api, "/news/1.ts", &[]).await;
    assert_eq!(status, 401, "{answer}");
    assert!(answer.contains("media_token_missing"));
    for (bad, why) in [
        (&tampered, "tampered"),
        (&sports, "another resource"),
        (&"x.y.z".to_owned(), "garbage"),
    ] {
        let (status, answer, _) = raw_get(gw.api, "/news/1.ts", &[("X-Media-Token", bad)]).await;
        assert_eq!(status, 403, "{why}: {answer}");
        assert!(answer.contains("media_token_invalid"), "{answer}");
    }
    assert!(
        origin.seen().await.is_empty(),
        "no refused request reached the origin"
    );

    let (status, answer, _) = raw_get(gw.api, "/news/2.ts", &[("X-Media-Token", &token)]).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.ends_with("segment"));
    // Players that cannot set headers put it in the query.
    let (status, _, _) = raw_get(gw.api, &format!("/news/3.ts?token={token}"), &[]).await;
    assert_eq!(status, 200);
    let seen = origin.seen().await;
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].headers["x-linkgate-user"], "alice");
    assert_eq!(seen[0].headers["x-linkgate-device"], "tv-1");

    // A client cannot name itself: the gateway's headers replace anything sent.
    let (status, _, _) = raw_get(
        gw.api,
        "/news/4.ts",
        &[("X-Media-Token", &token), ("X-Linkgate-User", "mallory")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(origin.seen().await[2].headers["x-linkgate-user"], "alice");

    // The 2 s token's `exp` is whole seconds, rounded up: gone 3 s after issue at the latest.
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    let (status, answer, _) = raw_get(gw.api, "/news/5.ts", &[("X-Media-Token", &token)]).await;
    assert_eq!(status, 401, "{answer}");
    assert!(answer.contains("media_token_expired"));
    assert_eq!(origin.seen().await.len(), 3);

    let metrics = gw.metrics().await;
    for reason in ["missing", "signature", "binding", "format", "expired"] {
        let line =
            format!("linkgate_token_rejections_total{{reason=\"{reason}\",requestor=\"tv\"}} 1");
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }
    assert!(
        metrics.contains("linkgate_requests_total{route=\"content\",status=\"200\"} 3"),
        "{metrics}"
    );
}

/// `/free` open to all and `/news` behind media tokens, on one origin.
fn free_and_news(origin: std::net::SocketAddr) -> String {
    let port = origin.port();
    requestors_config(
        "",
        &[(
            "tv",
            &format!(
                "      throttling: {{perClientIp: null}}\n      routes:\n\
                 \x20       - {{prefix: /free, upstream: {{host: 127.0.0.1, port: {port}}}}}\n\
                 \x20       - {{prefix: /news, upstream: {{host: 127.0.0.1, port: {port}}}, resource: news}}\n"
            ),
        )],
    )
}

#[tokio::test]
async fn path_tricks_are_decided_on_the_normal_path_which_is_what_the_origin_gets() {
    let origin = Origin::start("segment").await;
    let gw = Gateway::with_config(&free_and_news(origin.addr)).await;
    for trick in [
        "/free/../news/secret.ts",
        "/free/%2e%2e/news/secret.ts",
        "/free/%2E./news/secret.ts",
        "/free/./../news/secret.ts",
    ] {
        let (status, answer, _) = raw_get(gw.api, trick, &[]).await;
        assert_eq!(status, 401, "{trick} is /news/secret.ts: {answer}");
        assert!(answer.contains("media_token_missing"), "{answer}");
    }
    for refused in [
        "/free/..%2fnews/secret.ts",
        "/free/..%5Cnews/secret.ts",
        "/free/a%00.ts",
        "/free/a%zz.ts",
        "/../news/secret.ts",
        "/free/../../news/secret.ts",
    ] {
        let (status, answer, _) = raw_get(gw.api, refused, &[]).await;
        assert_eq!(status, 400, "{refused}: {answer}");
        assert!(answer.contains("invalid_path"), "{answer}");
        assert!(
            !answer.contains("news/secret"),
            "the refusal repeats no path: {answer}"
        );
    }
    assert!(
        origin.seen().await.is_empty(),
        "no trick reached the origin"
    );

    let (status, _, _) = raw_get(gw.api, "/free/a/./b/../%63.ts?x=%2F", &[]).await;
    assert_eq!(status, 200);
    let seen = origin.seen().await;
    assert_eq!(
        (seen[0].path.as_str(), seen[0].query.as_deref()),
        ("/free/a/c.ts", Some("x=%2F"))
    );
}

#[tokio::test]
async fn a_media_token_in_the_query_goes_no_further_than_the_edge() {
    let origin = Origin::start("segment").await;
    let gw = Gateway::with_config(&free_and_news(origin.addr)).await;
    let token = media_token(&gw, "tv", "tv-1", "news").await;
    let (status, _, _) = raw_get(gw.api, &format!("/news/1.ts?token={token}&x=1"), &[]).await;
    assert_eq!(status, 200);
    let (status, _, _) = raw_get(gw.api, &format!("/news/2.ts?token={token}"), &[]).await;
    assert_eq!(status, 200);
    let seen = origin.seen().await;
    assert_eq!(seen[0].query.as_deref(), Some("x=1"));
    assert_eq!(seen[1].query, None);
    for request in &seen {
        assert!(
            !request.headers.values().any(|v| v.contains(&token)),
            "{request:?}"
        );
    }
}

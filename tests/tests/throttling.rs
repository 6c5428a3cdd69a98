//! Rate limits (429 with Retry-After, recovery), bounded limiter memory under many client
//! addresses, and the backend allow-list.

use std::time::Duration;

use linkgate_tests::{
    BACKEND_AUTH, DEMO_KEY, Gateway, raw_get, requestors_config, wait_for_metric,
};
use serde_json::json;

#[tokio::test]
async fn the_builtin_demo_allows_a_burst_of_ten_per_client_then_429() {
    let gw = Gateway::builtin_demo().await;
    let path = "/v1/requestors/demo/devices/tv/users";
    for i in 0..10 {
        let (status, _, _) = raw_get(gw.api, path, &[BACKEND_AUTH]).await;
        assert_eq!(status, 200, "request {i} is within the burst");
    }
    let (status, answer, _) = raw_get(gw.api, path, &[BACKEND_AUTH]).await;
    assert_eq!(status, 429, "{answer}");
    assert!(answer.to_lowercase().contains("retry-after: 1"), "{answer}");
    assert!(answer.contains("too_many_requests"));
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (status, _, _) = raw_get(gw.api, path, &[BACKEND_AUTH]).await;
    assert_eq!(status, 200, "one token is back after a second");
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("linkgate_throttled_total{limit=\"client_ip\",requestor=\"demo\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn devices_are_limited_apart_from_each_other() {
    let spec = "      throttling: {perClientIp: null, perDevice: {perSecond: 1, burst: 2}}\n";
    let gw = Gateway::with_config(&requestors_config("", &[("tv", spec)])).await;
    let users = |device: &str| format!("/v1/requestors/tv/devices/{device}/users");
    assert_eq!(raw_get(gw.api, &users("a"), &[BACKEND_AUTH]).await.0, 200);
    assert_eq!(raw_get(gw.api, &users("a"), &[BACKEND_AUTH]).await.0, 200);
    assert_eq!(raw_get(gw.api, &users("a"), &[BACKEND_AUTH]).await.0, 429);
    assert_eq!(
        raw_get(
            gw.api,
            "/api/v1/checkauthn?requestor=tv&deviceId=a",
            &[BACKEND_AUTH]
        )
        .await
        .0,
        429
    );
    assert_eq!(raw_get(gw.api, &users("b"), &[BACKEND_AUTH]).await.0, 200);
}

#[tokio::test]
async fn a_device_named_in_a_body_is_limited_as_the_handler_reads_it() {
    let spec = "      throttling: {perClientIp: null, perDevice: {perSecond: 1, burst: 2}}\n";
    let gw = Gateway::with_config(&requestors_config("", &[("tv", spec)])).await;
    let codes = "/v1/requestors/tv/codes";
    // A loop of new codes with the device in a JSON body: stopped after the burst.
    for _ in 0..2 {
        let (status, body) = gw.post_json(codes, json!({"deviceId": "den"}), None).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = gw.post_json(codes, json!({"deviceId": "den"}), None).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("device"),
        "{body}"
    );
    // The same in a form body, in Adobe's and Matchmaker's dialects too.
    let (status, _) = gw
        .post_form("/reggie/v1/tv/regcode", &[("deviceId", "den")], None)
        .await;
    assert_eq!(status, 429);
    let (status, _) = gw
        .post_form(
            "/matchmaker/tv/get_auth_code",
            &[("device_id", "den")],
            None,
        )
        .await;
    assert_eq!(status, 429);
    // A query naming another device does not move the count off the one the body names,
    // which is the one the handler acts on.
    let (status, body) = gw
        .post_json(
            &format!("{codes}?deviceId=decoy"),
            json!({"deviceId": "den"}),
            None,
        )
        .await;
    assert_eq!(status, 429, "{body}");
    // Another device has its own budget, counted once a request.
    for _ in 0..2 {
        let (status, body) = gw
            .post_json(codes, json!({"deviceId": "kitchen"}), None)
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("linkgate_throttled_total{limit=\"device\",requestor=\"tv\"} 4"),
        "{metrics}"
    );
}

#[tokio::test]
async fn many_client_addresses_do_not_grow_limiter_memory_without_bound() {
    let spec = "      trustedProxies: [127.0.0.1]\n      throttling: {perClientIp: {perSecond: 1, burst: 5}}\n";
    let gw = Gateway::with_config(&requestors_config("", &[("tv", spec)])).await;
    let url = gw.url("/v1/requestors/tv/devices/tv/users");
    let mut tasks = Vec::new();
    for t in 0..8u32 {
        let (http, url) = (gw.http.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..250u32 {
                let ip = std::net::Ipv4Addr::from(0x0a00_0000 + t * 1_000 + i);
                let status = http
                    .get(&url)
                    .bearer_auth(DEMO_KEY)
                    .header("x-forwarded-for", ip.to_string())
                    .send()
                    .await
                    .unwrap()
                    .status();
                assert_eq!(status, 200, "each address has its own bucket");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    // 2,000 addresses were seen; at least the last second's are still held...
    let metrics = gw.metrics().await;
    let held: usize = metrics
        .lines()
        .find_map(|l| l.strip_prefix("linkgate_throttle_keys "))
        .and_then(|v| v.parse().ok())
        .expect("the gauge");
    assert!(held > 100, "{held} keys held right after the flood");
    // ...and once their buckets refill they are forgotten.
    wait_for_metric(&gw, "linkgate_throttle_keys 0", Duration::from_secs(15)).await;
}

#[tokio::test]
async fn the_backend_allow_list_admits_only_its_networks() {
    let spec = "      throttling: {perClientIp: null}\n      trustedProxies: [127.0.0.1]\n      backendAllowList: [192.0.2.0/24]\n";
    let gw = Gateway::with_config(&requestors_config("", &[("tv", spec)])).await;
    let (code, secret) = gw.issue_code_with_secret("tv", "tv-1").await;
    let link = |from: &'static str| {
        gw.http
            .post(gw.url("/v1/requestors/tv/links"))
            .bearer_auth(DEMO_KEY)
            .header("x-forwarded-for", from)
            .json(&json!({"code": code, "userId": "alice"}))
            .send()
    };
    let refused = linkgate_tests::read(link("198.51.100.1").await.unwrap()).await;
    assert_eq!(
        (refused.0, refused.1["code"].as_str()),
        (403, Some("ip_not_allowed"))
    );
    let admitted = linkgate_tests::read(link("192.0.2.10").await.unwrap()).await;
    assert_eq!(admitted.0, 201, "{}", admitted.1);
    // A device call made with the backend's credential is server to server: the list
    // applies. With the device's own token it is the device's, from wherever it is.
    let tokens = gw.device_tokens("tv", &secret).await;
    let authn = |from: &'static str, credential: &str| {
        gw.http
            .get(gw.url("/v1/requestors/tv/devices/tv-1/authn"))
            .bearer_auth(credential)
            .header("x-forwarded-for", from)
            .send()
    };
    let (status, body) = linkgate_tests::read(authn("198.51.100.1", DEMO_KEY).await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("ip_not_allowed"))
    );
    let (status, body) = linkgate_tests::read(authn("192.0.2.10", DEMO_KEY).await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) =
        linkgate_tests::read(authn("198.51.100.1", &tokens.access).await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn ipv6_clients_are_limited_by_their_slash_64() {
    let spec = "      trustedProxies: [127.0.0.1]\n      throttling: {perClientIp: {perSecond: 1, burst: 2}}\n";
    let gw = Gateway::with_config(&requestors_config("", &[("tv", spec)])).await;
    let mvpds = |from: &'static str| {
        gw.http
            .get(gw.url("/v1/requestors/tv/mvpds"))
            .header("x-forwarded-for", from)
            .send()
    };
    // Two addresses of one subscriber's network share its bucket...
    assert_eq!(mvpds("2001:db8:1:2::1").await.unwrap().status(), 200);
    assert_eq!(mvpds("2001:db8:1:2::2").await.unwrap().status(), 200);
    assert_eq!(mvpds("2001:db8:1:2:ffff::3").await.unwrap().status(), 429);
    // ...another network has its own.
    assert_eq!(mvpds("2001:db8:1:3::1").await.unwrap().status(), 200);
}

/// Found by the contract run: a refusal made before the handler (here a rate limit) was
/// written in the native shape on every route, so a Matchmaker client missed its
/// `error_message`, an OAuth client its `error`, and a v2 app its `action`.
#[tokio::test]
async fn a_refusal_before_the_handler_speaks_the_route_s_dialect() {
    let gw = Gateway::builtin_demo().await;
    for _ in 0..10 {
        gw.get("/v1/requestors/demo/mvpds", None).await;
    }
    let (status, matchmaker) = gw
        .post_form(
            "/matchmaker/demo/get_auth_code",
            &[("device_id", "tv")],
            None,
        )
        .await;
    assert_eq!(status, 429, "{matchmaker}");
    assert_eq!(matchmaker["code"], "too_many_requests");
    assert!(matchmaker["error_message"].is_string(), "{matchmaker}");
    let (status, oauth) = gw
        .post_form(
            "/oauth/demo/token",
            &[("grant_type", "refresh_token")],
            None,
        )
        .await;
    assert_eq!(status, 429);
    assert_eq!(oauth["error"], "too_many_requests", "{oauth}");
    let (status, v2) = gw.get("/api/v2/demo/configuration", None).await;
    assert_eq!(status, 429);
    assert_eq!(v2["action"], "retry", "{v2}");
    assert!(v2["trace"].is_string(), "{v2}");
}

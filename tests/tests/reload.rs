//! Configuration reload on file change and SIGHUP: new limits apply live, requests in
//! flight finish, and a broken file is refused while the old configuration keeps serving.

use std::time::Duration;

use linkgate_tests::origin::Origin;
use linkgate_tests::{BACKEND_AUTH, Gateway, raw_get, requestors_config, wait_for_metric};

fn config(origin: std::net::SocketAddr, burst: u32) -> String {
    let spec = format!(
        "      throttling: {{perClientIp: {{perSecond: 1, burst: {burst}}}}}\n      routes: [{{prefix: /slow, upstream: {{host: 127.0.0.1, port: {}}}}}]\n",
        origin.port()
    );
    requestors_config("", &[("tv", &spec)])
}

#[tokio::test]
async fn reload_changes_limits_live_without_dropping_a_long_request() {
    let origin = Origin::start("done").await;
    let mut gw = Gateway::with_config(&config(origin.addr, 100)).await;
    let api = gw.api;
    let long = tokio::spawn(async move { raw_get(api, "/slow/x?sleep_ms=3000", &[]).await });
    tokio::time::sleep(Duration::from_millis(300)).await;

    gw.write_config(&config(origin.addr, 2));
    wait_for_metric(
        &gw,
        "linkgate_config_reloads_total{outcome=\"applied\"} 1",
        Duration::from_secs(10),
    )
    .await;
    let users = "/v1/requestors/tv/devices/tv/users";
    assert_eq!(raw_get(gw.api, users, &[BACKEND_AUTH]).await.0, 200);
    assert_eq!(raw_get(gw.api, users, &[BACKEND_AUTH]).await.0, 200);
    assert_eq!(
        raw_get(gw.api, users, &[BACKEND_AUTH]).await.0,
        429,
        "the new burst of 2 applies"
    );

    let (status, answer, _) = long.await.unwrap();
    assert_eq!(status, 200, "{answer}");
    assert!(answer.ends_with("done"));

    gw.write_config("requestors: [");
    wait_for_metric(
        &gw,
        "linkgate_config_reloads_total{outcome=\"refused\"} 1",
        Duration::from_secs(10),
    )
    .await;
    // The old configuration still serves, burst of 2 and all.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let mut admitted = 0;
    while raw_get(gw.api, users, &[BACKEND_AUTH]).await.0 == 200 {
        admitted += 1;
        assert!(admitted <= 2, "more than the burst got through");
    }
    assert_eq!(admitted, 2);

    // SIGHUP reloads too (here after the file was mended).
    gw.write_config(&config(origin.addr, 50));
    gw.hangup();
    wait_for_metric(
        &gw,
        "linkgate_config_reloads_total{outcome=\"applied\"} 2",
        Duration::from_secs(10),
    )
    .await;
    for _ in 0..5 {
        assert_eq!(raw_get(gw.api, users, &[BACKEND_AUTH]).await.0, 200);
    }
}

/// Two tenants, each with a code-entry budget of `tv_attempts` and `radio_attempts` per client.
fn two_tenants(tv_attempts: u32, radio_attempts: u32) -> String {
    let spec = |attempts| {
        format!(
            "      throttling: {{perClientIp: null, codeEntry: {{perClientIp: {{attempts: {attempts}, perSeconds: 3600}}}}}}\n"
        )
    };
    requestors_config(
        "",
        &[("tv", &spec(tv_attempts)), ("radio", &spec(radio_attempts))],
    )
}

async fn try_code(gw: &Gateway, requestor: &str) -> u16 {
    reqwest::Client::new()
        .post(gw.url(&format!("/activate/{requestor}")))
        .form(&[("code", "BCDFGHJK")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_reload_resets_only_the_limits_it_changes() {
    let mut gw = Gateway::with_config(&two_tenants(3, 3)).await;
    for _ in 0..3 {
        assert_eq!(try_code(&gw, "tv").await, 404, "an unknown code");
    }
    assert_eq!(try_code(&gw, "tv").await, 429);

    // Another tenant's limit changes: this tenant's spent attempts stay spent.
    gw.write_config(&two_tenants(3, 5));
    wait_for_metric(
        &gw,
        "linkgate_config_reloads_total{outcome=\"applied\"} 1",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        try_code(&gw, "tv").await,
        429,
        "the budget survived the reload"
    );
    for _ in 0..5 {
        assert_eq!(try_code(&gw, "radio").await, 404);
    }
    assert_eq!(try_code(&gw, "radio").await, 429, "the new limit applies");

    // This tenant's own limit changes: that limit starts afresh.
    gw.write_config(&two_tenants(4, 5));
    wait_for_metric(
        &gw,
        "linkgate_config_reloads_total{outcome=\"applied\"} 2",
        Duration::from_secs(10),
    )
    .await;
    for _ in 0..4 {
        assert_eq!(try_code(&gw, "tv").await, 404);
    }
    assert_eq!(try_code(&gw, "tv").await, 429);
    assert_eq!(
        try_code(&gw, "radio").await,
        429,
        "untouched by the tv edit"
    );
}

//! What the origin learns about the client: X-Forwarded-For, -Port, -Proto, Forwarded and a
//! request ID, for direct clients, behind trusted proxies, and when an untrusted client lies
//! (no header of its claiming an address or an identity gets through).

use linkgate_tests::origin::Origin;
use linkgate_tests::{Gateway, raw_get, requestors_config};

fn config(origin: std::net::SocketAddr) -> String {
    let route = |prefix: &str| {
        format!(
            "      routes: [{{prefix: {prefix}, upstream: {{host: 127.0.0.1, port: {}}}}}]\n",
            origin.port()
        )
    };
    requestors_config(
        "",
        &[
            (
                "direct",
                &format!(
                    "      throttling: {{perClientIp: null}}\n{}",
                    route("/direct")
                ),
            ),
            (
                "behind",
                &format!(
                    "      throttling: {{perClientIp: null}}\n      trustedProxies: [127.0.0.0/8]\n{}",
                    route("/behind")
                ),
            ),
        ],
    )
}

#[tokio::test]
async fn proxies_the_gateway_trusts_for_every_requestor_are_believed_for_each() {
    let origin = Origin::start("origin").await;
    // The ingress in front of every requestor, set once (`trustedProxies` at the top, as
    // the chart's `proxy.trustedProxies` renders it); the requestor names none.
    let spec = format!(
        "      throttling: {{perClientIp: null}}\n      routes: [{{prefix: /tv, upstream: {{host: 127.0.0.1, port: {}}}}}]\n",
        origin.addr.port()
    );
    let config = requestors_config("trustedProxies: [127.0.0.0/8]\n", &[("tv", &spec)]);
    let gw = Gateway::with_config(&config).await;
    let forwarded = [
        ("X-Forwarded-For", "203.0.113.9"),
        ("X-Forwarded-Proto", "https"),
    ];
    let (status, _, _) = raw_get(gw.api, "/tv/a.ts", &forwarded).await;
    assert_eq!(status, 200);
    let seen = origin.seen().await;
    let h = |name: &str| seen[0].headers.get(name).cloned().unwrap_or_default();
    assert_eq!(h("x-forwarded-for"), "203.0.113.9, 127.0.0.1");
    assert_eq!(h("x-forwarded-proto"), "https");
}

#[tokio::test]
async fn the_origin_sees_the_right_client_for_direct_trusted_and_spoofing_clients() {
    let origin = Origin::start("origin").await;
    let gw = Gateway::with_config(&config(origin.addr)).await;

    // A direct client: its own address and source port.
    let (status, answer, port) = raw_get(gw.api, "/direct/a.ts", &[]).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.ends_with("origin"), "{answer}");
    // A direct client pretending to be someone else: not believed.
    let (status, _, spoofer_port) = raw_get(
        gw.api,
        "/direct/b.ts",
        &[
            ("X-Forwarded-For", "6.6.6.6"),
            ("X-Forwarded-Port", "1"),
            ("X-Forwarded-Proto", "https"),
            ("Forwarded", "for=6.6.6.6;proto=https"),
            ("X-Real-IP", "6.6.6.6"),
            ("True-Client-IP", "6.6.6.6"),
            ("X-Client-IP", "6.6.6.6"),
            ("CF-Connecting-IP", "6.6.6.6"),
            ("Fastly-Client-IP", "6.6.6.6"),
            ("X-Cluster-Client-IP", "6.6.6.6"),
            ("X-Linkgate-User", "admin"),
            ("X-Linkgate-Anything", "admin"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    // Behind a trusted proxy: the chain is kept and the proxy appended.
    let (status, answer, _) = raw_get(
        gw.api,
        "/behind/c.ts",
        &[
            ("X-Forwarded-For", "203.0.113.5"),
            ("X-Forwarded-Port", "443"),
            ("X-Forwarded-Proto", "https"),
            ("X-Request-Id", "edge-42"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        answer.to_lowercase().contains("x-request-id: edge-42"),
        "{answer}"
    );

    let seen = origin.seen().await;
    assert_eq!(seen.len(), 3);
    let h = |i: usize, name: &str| seen[i].headers.get(name).cloned().unwrap_or_default();
    assert_eq!(seen[0].path, "/direct/a.ts");
    assert_eq!(h(0, "x-forwarded-for"), "127.0.0.1");
    assert_eq!(h(0, "x-forwarded-port"), port.to_string());
    assert_eq!(h(0, "x-forwarded-proto"), "http");
    assert_eq!(h(0, "x-request-id").len(), 36, "a generated UUID");
    assert_eq!(h(1, "x-forwarded-for"), "127.0.0.1");
    assert_eq!(h(1, "x-forwarded-port"), spoofer_port.to_string());
    assert_eq!(h(1, "x-forwarded-proto"), "http");
    assert_eq!(h(1, "forwarded"), "for=127.0.0.1;proto=http");
    let claims: Vec<_> = seen[1]
        .headers
        .iter()
        .filter(|(_, v)| v.contains("6.6.6.6") || v.as_str() == "admin")
        .collect();
    assert!(
        claims.is_empty(),
        "a direct client's claims reached the origin: {claims:?}"
    );
    assert_eq!(h(0, "forwarded"), "for=127.0.0.1;proto=http");
    assert_eq!(h(2, "x-forwarded-for"), "203.0.113.5, 127.0.0.1");
    assert_eq!(h(2, "x-forwarded-port"), "443");
    assert_eq!(h(2, "x-forwarded-proto"), "https");
    assert_eq!(h(2, "x-request-id"), "edge-42");
}

#[tokio::test]
async fn a_proxied_request_with_broken_body_framing_is_a_400() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let origin = Origin::start("origin").await;
    let gw = Gateway::with_config(&config(origin.addr)).await;
    let mut socket = tokio::net::TcpStream::connect(gw.api).await.unwrap();
    let request = "POST /direct/upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
                   zz\r\nabc\r\n0\r\n\r\n";
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = socket.read_to_end(&mut answer);
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("answered, not left hanging")
        .ok();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}

#[tokio::test]
async fn an_unreachable_origin_is_a_502_not_a_hang() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let gw = Gateway::with_config(&config(dead)).await;
    let (status, answer, _) = raw_get(gw.api, "/direct/x", &[]).await;
    assert_eq!(status, 502, "{answer}");
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("linkgate_upstream_errors_total{kind=\"connect\",requestor=\"direct\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_origin_that_never_answers_is_given_up_on_after_the_route_s_read_timeout() {
    // Accepts connections, reads nothing, answers nothing.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let spec = format!(
        "      throttling: {{perClientIp: null}}\n      routes: [{{prefix: /slow, upstream: {{host: 127.0.0.1, port: {port}, readTimeoutMillis: 500}}}}]\n"
    );
    let gw = Gateway::with_config(&requestors_config("", &[("slow", &spec)])).await;
    let started = std::time::Instant::now();
    let request = raw_get(gw.api, "/slow/seg.ts", &[]);
    let (status, answer, _) = tokio::time::timeout(std::time::Duration::from_secs(20), request)
        .await
        .expect("answered, not left hanging");
    assert!(status >= 500, "{answer}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "given up after {:?}",
        started.elapsed()
    );
    drop(silent);
}

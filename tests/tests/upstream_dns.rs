//! Origins found by DNS: answers are re-resolved within the TTL cap whatever their TTL,
//! requests go round-robin, and an address that refuses connections is skipped.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use linkgate_tests::dns::DnsServer;
use linkgate_tests::origin::Origin;
use linkgate_tests::{Gateway, raw_get, requestors_config};

const A: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const NOBODY: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

fn config(dns: &DnsServer, port: u16) -> String {
    requestors_config(
        &format!("dns: {{nameservers: ['{}'], maxTtlSeconds: 2}}\n", dns.addr),
        &[(
            "tv",
            &format!(
                "      throttling: {{perClientIp: null}}\n      routes: [{{prefix: /cdn, upstream: {{host: origin.test, port: {port}}}}}]\n"
            ),
        )],
    )
}

async fn body(gw: &Gateway) -> String {
    let (status, answer, _) = raw_get(gw.api, "/cdn/seg.ts", &[]).await;
    assert_eq!(status, 200, "{answer}");
    answer
        .rsplit("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_changed_answer_is_picked_up_within_the_cap_even_with_a_long_ttl() {
    let a = Origin::start_on("127.0.0.1", 0, "A").await;
    let b = Origin::start_on("127.0.0.2", a.addr.port(), "B").await;
    let dns = DnsServer::start(vec![A], 3600).await;
    let gw = Gateway::with_config(&config(&dns, a.addr.port())).await;
    assert_eq!(body(&gw).await, "A");
    assert_eq!(
        body(&gw).await,
        "A",
        "the answer is cached, not asked per request"
    );
    let asked = dns.queries();

    dns.set(vec![B], 3600).await;
    let changed = Instant::now();
    loop {
        if body(&gw).await == "B" {
            break;
        }
        assert!(
            changed.elapsed() < Duration::from_secs(10),
            "the 2 s cap was not honoured"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(dns.queries() > asked, "the gateway asked again");
    assert!(!b.seen().await.is_empty());
}

#[tokio::test]
async fn requests_go_round_robin_and_skip_a_dead_address() {
    let a = Origin::start_on("127.0.0.1", 0, "A").await;
    let _b = Origin::start_on("127.0.0.2", a.addr.port(), "B").await;
    let dns = DnsServer::start(vec![A, B], 60).await;
    let gw = Gateway::with_config(&config(&dns, a.addr.port())).await;
    let mut answers = Vec::new();
    for _ in 0..6 {
        answers.push(body(&gw).await);
    }
    assert!(
        answers.contains(&"A".to_owned()) && answers.contains(&"B".to_owned()),
        "{answers:?}"
    );

    // One address has nothing listening: every request still succeeds.
    dns.set(vec![NOBODY, A], 60).await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    for _ in 0..10 {
        assert_eq!(body(&gw).await, "A");
    }
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("linkgate_upstream_errors_total{kind=\"connect\",requestor=\"tv\"} 1"),
        "the dead address is tried once, then skipped: {metrics}"
    );
}

#[tokio::test]
async fn a_tls_origin_is_reached_only_when_its_certificate_is_trusted() {
    let origin = linkgate_tests::tls_origin::TlsOrigin::start("origin.test", "tls").await;
    let dns = DnsServer::start(vec![A], 60).await;
    let route = format!(
        "      throttling: {{perClientIp: null}}\n      routes: [{{prefix: /cdn, upstream: {{host: origin.test, port: {}, tls: true}}}}]\n",
        origin.addr.port()
    );
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &origin.ca_pem).unwrap();
    let dns_line = format!("dns: {{nameservers: ['{}']}}\n", dns.addr);

    let trusted = Gateway::with_config(&requestors_config(
        &format!("{dns_line}upstreamCaFile: '{}'\n", ca.display()),
        &[("tv", &route)],
    ))
    .await;
    assert_eq!(body(&trusted).await, "tls");
    assert_eq!(origin.served(), 1);

    // The same origin with only the system's roots: its certificate is not accepted.
    let untrusted = Gateway::with_config(&requestors_config(&dns_line, &[("tv", &route)])).await;
    let (status, answer, _) = raw_get(untrusted.api, "/cdn/seg.ts", &[]).await;
    assert_eq!(status, 502, "{answer}");
    assert_eq!(
        origin.served(),
        1,
        "no request went over an unverified connection"
    );
}

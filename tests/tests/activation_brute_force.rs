//! Guessing codes on the activation page (RFC 8628 §5.1): every code tried counts against
//! the client's address and against the requestor as a whole; past either limit the page
//! says to wait (429 with `Retry-After`) and no code is looked up, right or wrong.

use linkgate_tests::{Gateway, requestors_config};
use reqwest::{Client, Response};

/// A gateway behind a trusted proxy on 127.0.0.1, so each request can come "from" the
/// address its `X-Forwarded-For` names; the general per-IP limit is off, the code-entry
/// limits are the defaults unless `code_entry` says otherwise.
async fn gateway(code_entry: &str) -> Gateway {
    let spec = format!(
        "      trustedProxies: [127.0.0.1]\n      throttling: {{perClientIp: null{code_entry}}}\n"
    );
    Gateway::with_config(&requestors_config("", &[("demo", &spec)])).await
}

/// One attempt from `ip`: the code typed into the form.
async fn try_code(gw: &Gateway, ip: &str, code: &str) -> Response {
    Client::new()
        .post(gw.url("/activate/demo"))
        .header("x-forwarded-for", ip)
        .form(&[("code", code)])
        .send()
        .await
        .unwrap()
}

/// A code the gateway never issued: the alphabet of RFC 8628 §6.1, counted in base 20.
fn guess(n: u32) -> String {
    const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    (0..8)
        .map(|i| ALPHABET[(n / 20u32.pow(i) % 20) as usize] as char)
        .collect()
}

async fn assert_told_to_wait(response: Response) {
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=3600).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = response.text().await.unwrap();
    assert!(page.contains("Too many attempts"), "{page}");
    assert!(
        page.contains(&format!("wait {retry_after} seconds")),
        "{page}"
    );
}

#[tokio::test]
async fn one_address_guessing_codes_is_stopped_after_ten_and_others_are_not() {
    let gw = gateway("").await;
    let code = gw.issue_code("demo", "living-room-tv").await;
    let attacker = "203.0.113.7";

    for n in 0..10 {
        let wrong = try_code(&gw, attacker, &guess(n)).await;
        assert_eq!(wrong.status(), 404, "guess {n}");
    }
    // The eleventh is refused before the code is looked up: even the right code, even
    // through the provider form or a verification link.
    assert_told_to_wait(try_code(&gw, attacker, &code).await).await;
    let signin = gw
        .sign_in_request(&Client::new(), "demo", &code, "test-mvpd")
        .await
        .header("x-forwarded-for", attacker)
        .send()
        .await
        .unwrap();
    assert_told_to_wait(signin).await;
    let link = Client::new()
        .get(gw.url(&format!("/activate/demo?user_code={code}")))
        .header("x-forwarded-for", attacker)
        .send()
        .await
        .unwrap();
    assert_told_to_wait(link).await;
    // The empty form tries no code and is still served.
    let form = Client::new()
        .get(gw.url("/activate/demo"))
        .header("x-forwarded-for", attacker)
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);

    // The person at home, on another address, is not affected.
    let person = try_code(&gw, "198.51.100.20", &code).await;
    assert_eq!(person.status(), 200);
    assert!(person.text().await.unwrap().contains("living-room-tv"));

    let metrics = gw.metrics().await;
    assert!(
        metrics.contains(
            "linkgate_throttled_total{limit=\"code_entry_client_ip\",requestor=\"demo\"} 3"
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn codes_sent_in_a_get_s_body_spend_attempts_too() {
    let gw = gateway("").await;
    let attacker = "203.0.113.8";
    let get_with_body = |body: String, content_type: &'static str| {
        Client::new()
            .get(gw.url("/activate/demo"))
            .header("x-forwarded-for", attacker)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    for n in 0..10 {
        let (body, content_type) = if n % 2 == 0 {
            (
                format!("code={}", guess(n)),
                "application/x-www-form-urlencoded",
            )
        } else {
            (format!("{{\"code\":\"{}\"}}", guess(n)), "application/json")
        };
        let wrong = get_with_body(body, content_type).await.unwrap();
        assert_eq!(wrong.status(), 404, "guess {n}");
    }
    let refused = get_with_body(
        format!("code={}", guess(10)),
        "application/x-www-form-urlencoded",
    );
    assert_told_to_wait(refused.await.unwrap()).await;
}

#[tokio::test]
async fn many_addresses_guessing_together_are_stopped_by_the_requestor_wide_limit() {
    // 40 attempts an hour across all clients, so the test stays small.
    let gw = gateway(", codeEntry: {perRequestor: {attempts: 40, perSeconds: 3600}}").await;
    let code = gw.issue_code("demo", "den-tv").await;

    // 200 addresses, 5 guesses each: every address stays under its own limit of 10.
    let (mut looked_up, mut refused) = (0, 0);
    for n in 0..1000u32 {
        let ip = format!("10.0.{}.{}", n / 5 / 250, n / 5 % 250 + 1);
        let response = try_code(&gw, &ip, &guess(n)).await;
        match response.status().as_u16() {
            404 => looked_up += 1,
            429 => refused += 1,
            other => panic!("guess {n} from {ip}: {other}"),
        }
    }
    assert_eq!((looked_up, refused), (40, 960));

    // Now no one gets a code looked up, the right one from a fresh address included, until
    // the requestor's bucket refills.
    assert_told_to_wait(try_code(&gw, "198.51.100.20", &code).await).await;
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains(
            "linkgate_throttled_total{limit=\"code_entry_requestor\",requestor=\"demo\"} 961"
        ),
        "{metrics}"
    );
    // The device itself is unaffected: its code is still there for the backend to link.
    let (status, body) = gw
        .get(
            &format!("/v1/requestors/demo/codes/{code}"),
            Some(linkgate_tests::DEMO_KEY),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

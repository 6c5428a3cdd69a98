//! Bad input gets a clear error with the right status and a stable code.

use std::time::Duration;

use linkgate_tests::{DEMO_KEY, Gateway};
use serde_json::{Value, json};

fn assert_code(got: (u16, Value), status: u16, code: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["code"], code, "{}", got.1);
    assert_eq!(got.1["status"], status, "{}", got.1);
    assert!(
        got.1["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        got.1
    );
}

async fn link(gw: &Gateway, code: &str) -> (u16, Value) {
    gw.post_json(
        "/v1/requestors/demo/links",
        json!({"code": code, "userId": "alice"}),
        Some(DEMO_KEY),
    )
    .await
}

#[tokio::test]
async fn expired_reused_and_wrong_codes_are_not_found() {
    let gw = Gateway::demo().await;
    let (status, body) = gw
        .post_json(
            "/v1/requestors/demo/codes",
            json!({"deviceId": "tv-short", "ttlSeconds": 1}),
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let short = body["code"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_code(link(&gw, &short).await, 404, "code_not_found");

    let code = gw.issue_code("demo", "tv").await;
    assert_eq!(link(&gw, &code).await.0, 201);
    assert_code(link(&gw, &code).await, 404, "code_not_found");

    // Well-formed but never issued, and not even of the code format.
    assert_code(link(&gw, "BCDF-GHJK").await, 404, "code_not_found");
    assert_code(link(&gw, "AEIOU").await, 404, "code_not_found");
}

#[tokio::test]
async fn a_new_code_retires_the_device_s_previous_code() {
    let gw = Gateway::demo().await;
    let first = gw.issue_code("demo", "tv").await;
    let second = gw.issue_code("demo", "tv").await;
    assert_code(link(&gw, &first).await, 404, "code_not_found");
    assert_eq!(link(&gw, &second).await.0, 201);
}

#[tokio::test]
async fn malformed_and_overlong_ids_are_illegal() {
    let gw = Gateway::demo().await;
    for device in [
        "has space",
        "back\\slash",
        "dot.ted",
        "ünï",
        "semi;colon",
        &"x".repeat(129),
    ] {
        let got = gw
            .post_json(
                "/v1/requestors/demo/codes",
                json!({"deviceId": device}),
                None,
            )
            .await;
        assert_code(got, 400, "illegal_device_id");
    }
    // The longest ID, and a base64 hash as Adobe clients send one.
    for device in ["x".repeat(128), "q2Vt+/x9Zm9vYmFy==".to_owned()] {
        let ok = gw
            .post_json(
                "/v1/requestors/demo/codes",
                json!({"deviceId": device}),
                None,
            )
            .await;
        assert_eq!(ok.0, 201, "{device}");
    }

    let code = gw.issue_code("demo", "tv").await;
    for user in ["a b", "<script>", &"u".repeat(129)] {
        let got = gw
            .post_json(
                "/v1/requestors/demo/links",
                json!({"code": code, "userId": user}),
                Some(DEMO_KEY),
            )
            .await;
        assert_code(got, 400, "illegal_user_id");
    }
    assert_code(
        gw.get("/v1/requestors/demo/devices/bad%20id/authn", Some(DEMO_KEY))
            .await,
        400,
        "illegal_device_id",
    );
}

#[tokio::test]
async fn missing_parameters_bad_bodies_and_ttls_are_refused() {
    let gw = Gateway::demo().await;
    assert_code(
        gw.post_json("/v1/requestors/demo/codes", json!({}), None)
            .await,
        400,
        "missing_parameter",
    );
    assert_code(
        gw.post_json(
            "/v1/requestors/demo/codes",
            json!({"deviceId": "tv", "ttlSeconds": 36_001}),
            None,
        )
        .await,
        400,
        "invalid_parameter_value",
    );
    assert_code(
        gw.post_json(
            "/v1/requestors/demo/codes",
            json!({"deviceId": "tv", "mvpd": "no-such-mvpd"}),
            None,
        )
        .await,
        400,
        "unknown_mvpd",
    );
    let response = gw
        .http
        .post(gw.url("/v1/requestors/demo/codes"))
        .header("content-type", "application/json")
        .body("{\"deviceId\":")
        .send()
        .await
        .unwrap();
    assert_code(linkgate_tests::read(response).await, 400, "invalid_body");
    let response = gw
        .http
        .post(gw.url("/v1/requestors/demo/codes"))
        .header("content-type", "text/xml")
        .body("<deviceId/>")
        .send()
        .await
        .unwrap();
    assert_code(
        linkgate_tests::read(response).await,
        415,
        "unsupported_media_type",
    );
}

#[tokio::test]
async fn oversize_bodies_are_refused_declared_or_streamed() {
    let gw = Gateway::demo().await;
    let big = format!("{{\"deviceId\":\"tv\",\"pad\":\"{}\"}}", "x".repeat(20_000));
    let response = gw
        .http
        .post(gw.url("/v1/requestors/demo/codes"))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_code(
        linkgate_tests::read(response).await,
        413,
        "payload_too_large",
    );

    // Chunked, with no Content-Length to refuse up front: spoken over a raw socket.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(gw.api).await.unwrap();
    let head = "POST /v1/requestors/demo/codes HTTP/1.1\r\nHost: t\r\n\
                Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    socket.write_all(head.as_bytes()).await.unwrap();
    for chunk in big.as_bytes().chunks(1_000) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if socket.write_all(&framed).await.is_err() {
            break; // the gateway may stop reading once over the limit
        }
    }
    socket.write_all(b"0\r\n\r\n").await.ok();
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.ok();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"payload_too_large\""), "{answer}");
}

#[tokio::test]
async fn broken_body_framing_is_the_client_s_400_never_a_500() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = Gateway::demo().await;
    for (path, body) in [
        ("/v1/requestors/demo/codes", "zz\r\n{}\r\n0\r\n\r\n"),
        (
            "/v1/requestors/demo/codes",
            "5\r\n{\"de\r\nffffffffffffffffffff\r\n",
        ),
        ("/oauth/demo/token", "-1\r\nx\r\n0\r\n\r\n"),
        ("/matchmaker/demo/get_auth_code", "3\r\nabcdef\r\n0\r\n\r\n"),
    ] {
        let mut socket = tokio::net::TcpStream::connect(gw.api).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\n\r\n{body}"
        );
        socket.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            socket.read_to_end(&mut answer),
        )
        .await
        .expect("answered, not left hanging")
        .ok();
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 400"),
            "{path} {body:?}: {answer}"
        );
        assert!(answer.contains("\"invalid_body\""), "{answer}");
    }
    // And the gateway serves on.
    assert_eq!(gw.get("/v1/requestors/demo/mvpds", None).await.0, 200);
}

#[tokio::test]
async fn wrong_methods_unknown_paths_and_requestors() {
    let gw = Gateway::demo().await;
    let response = gw
        .http
        .put(gw.url("/v1/requestors/demo/links"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "POST");
    assert_code(
        linkgate_tests::read(response).await,
        405,
        "method_not_allowed",
    );
    assert_code(gw.get("/v2/nothing", None).await, 404, "not_found");
    assert_code(
        gw.post_json(
            "/v1/requestors/nobody/codes",
            json!({"deviceId": "tv"}),
            None,
        )
        .await,
        404,
        "unknown_requestor",
    );
}

#[tokio::test]
async fn backend_calls_need_the_requestor_s_key() {
    let gw = Gateway::demo().await;
    let code = gw.issue_code("demo", "tv").await;
    let body = json!({"code": code, "userId": "alice"});

    let response = gw
        .http
        .post(gw.url("/v1/requestors/demo/links"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_code(
        linkgate_tests::read(response).await,
        401,
        "missing_credential",
    );
    assert_code(
        gw.post_json("/v1/requestors/demo/links", body.clone(), Some("wrong-key"))
            .await,
        401,
        "invalid_credential",
    );
    assert_code(
        gw.get(&format!("/v1/requestors/demo/codes/{code}"), None)
            .await,
        401,
        "missing_credential",
    );
    assert_code(
        gw.delete("/v1/requestors/demo/devices/tv/users", None)
            .await,
        401,
        "missing_credential",
    );
    // Nothing was linked by the refused calls.
    assert_eq!(
        gw.post_json("/v1/requestors/demo/links", body, Some(DEMO_KEY))
            .await
            .0,
        201
    );
}

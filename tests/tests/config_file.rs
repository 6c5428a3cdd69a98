//! The `--config` file: its settings apply, and a broken one stops the gateway with a
//! clear message and a non-zero exit.

use std::process::Command;

use linkgate_tests::{Gateway, config_with, proxy_binary};
use serde_json::json;

fn run_with_config(yaml: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, yaml).unwrap();
    let out = Command::new(proxy_binary())
        .arg("--config")
        .arg(&path)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .expect("run linkgate-proxy");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn broken_configurations_exit_non_zero_with_the_reason() {
    let cases = [
        ("requestors: [", "broken.yaml"),
        ("requestors: []\n", "no requestors"),
        (
            &config_with("demo", "      colour: blue\n") as &str,
            "colour",
        ),
        (&config_with("Demo", ""), "lower-case DNS label"),
        (
            &config_with("demo", "      codes: {ttlSeconds: 99999}\n"),
            "ttlSeconds",
        ),
        (
            &config_with("demo", "").replace("apiKey: ", "other: "),
            "secret \"backend\"",
        ),
    ];
    for (yaml, expected) in cases {
        let (code, stderr) = run_with_config(yaml);
        assert_eq!(code, Some(2), "{yaml}\n{stderr}");
        assert!(stderr.contains("invalid configuration"), "{stderr}");
        assert!(stderr.contains(expected), "{expected:?} not in {stderr}");
    }
    let missing = Command::new(proxy_binary())
        .args(["--config", "/nonexistent/linkgate.yaml"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read"));
}

#[tokio::test]
async fn a_configured_requestor_is_served_with_its_code_format() {
    let gw = Gateway::with_config(&config_with(
        "acme",
        "      codes:\n        alphabet: '0123456789'\n        length: 6\n        ttlSeconds: 600\n",
    ))
    .await;
    let (status, body) = gw
        .post_json("/v1/requestors/acme/codes", json!({"deviceId": "tv"}), None)
        .await;
    assert_eq!(status, 201, "{body}");
    let code = body["code"].as_str().unwrap();
    assert_eq!(code.len(), 6);
    assert!(code.chars().all(|c| c.is_ascii_digit()), "{code}");
    let (status, _) = gw
        .post_json("/v1/requestors/demo/codes", json!({"deviceId": "tv"}), None)
        .await;
    assert_eq!(status, 404, "only the configured requestor exists");
}

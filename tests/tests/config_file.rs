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
        (
            &format!(
                "codeKeySecretRef: {{name: codes, key: key}}\n{}",
                config_with("demo", "").replace("secrets:\n", "secrets:\n  codes: {key: short}\n")
            ),
            "has 5 bytes; at least 32",
        ),
        // Outbound URLs are https; plain http only to loopback, with insecureLoopbackHttp.
        (
            &config_with(
                "demo",
                "      accountWebhook: {url: 'http://127.0.0.1:9/accounts'}\n",
            ),
            "must be https",
        ),
        (
            &format!(
                "insecureLoopbackHttp: true\n{}",
                config_with(
                    "demo",
                    "      accountWebhook: {url: 'http://10.0.0.1/accounts'}\n"
                )
            ),
            "must be https",
        ),
        (
            &format!(
                "{}  - name: late\n    spec:\n      backend: {{apiKeySecretRef: {{name: backend, key: apiKey}}}}\n      routes: [{{prefix: /news/live, upstream: {{host: o, port: 2}}}}]\n",
                config_with(
                    "demo",
                    "      routes: [{prefix: /news, upstream: {host: o, port: 1}}]\n"
                )
            ),
            "which requestor \"demo\" routes already",
        ),
        (
            &format!(
                "codeKeySecretRef: {{name: demo.codes, key: key}}\n{}",
                config_with("demo", "")
            ),
            "no requestor can refer to it",
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

#[test]
fn a_code_key_file_left_empty_or_short_stops_the_start_and_a_new_one_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("code-hash.key");
    for (content, expected) in [("", "0-byte key"), ("abcd\n", "2-byte key")] {
        std::fs::write(&key_file, content).unwrap();
        let out = Command::new(proxy_binary())
            .arg("--data-dir")
            .arg(dir.path())
            .args(["--listen", "127.0.0.1:1", "--admin", "127.0.0.1:1"])
            .output()
            .expect("run linkgate-proxy");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(stderr.contains(expected), "{expected:?} not in {stderr}");
        assert!(stderr.contains("at least 32 bytes"), "{stderr}");
    }
}

#[tokio::test]
async fn the_code_key_file_a_gateway_creates_is_whole_and_its_owner_s_alone() {
    use std::os::unix::fs::PermissionsExt;
    let gw = Gateway::demo().await;
    let key_file = gw.data_dir().join("code-hash.key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let key = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(hex_len(&key), 64, "32 bytes in hex: {key}");
    assert!(
        !gw.data_dir().join("code-hash.tmp").exists(),
        "no staged file is left"
    );
}

fn hex_len(s: &str) -> usize {
    s.trim().chars().filter(char::is_ascii_hexdigit).count()
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

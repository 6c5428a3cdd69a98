//! `--log-format json` makes every log line one JSON object, for a cluster's log pipeline.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn json_logs_are_one_object_per_line_with_level_message_and_fields() {
    let port = || linkgate_tests::free_port().to_string();
    let (api, admin) = (port(), port());
    let mut child = Command::new(linkgate_tests::proxy_binary())
        .args(["--store", "memory", "--log-format", "json"])
        .args(["--listen", &api, "--admin", &admin])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start linkgate-proxy");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut seen = Vec::new();
    let started = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no start-up line; saw {seen:?}"));
        let object: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if object["fields"]["message"] == "linkgate proxy starting" {
            break object;
        }
        seen.push(line);
    };
    child.kill().ok();
    child.wait().ok();
    assert_eq!(started["level"], "INFO");
    assert_eq!(started["fields"]["api"], api);
    assert!(started["timestamp"].is_string(), "{started}");
}

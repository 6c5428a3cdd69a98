//! No two live codes are equal, even when many devices ask at once in a small code space.

use std::collections::HashSet;

use linkgate_tests::{Gateway, config_with};
use serde_json::json;

/// 2^12 = 4,096 possible codes; 2,000 live at once makes collisions between draws
/// frequent, so uniqueness has to be enforced atomically by the store.
const SPACE: &str = "      codes:\n        alphabet: AB\n        length: 12\n";
const CODES: usize = 2_000;
const TASKS: usize = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_issuing_never_hands_out_a_live_code_twice() {
    let gw = Gateway::with_config(&config_with("tiny", SPACE)).await;
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let http = gw.http.clone();
        let url = gw.url("/v1/requestors/tiny/codes");
        tasks.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            for i in (t..CODES).step_by(TASKS) {
                let response = http
                    .post(&url)
                    .json(&json!({"deviceId": format!("device-{i}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                let body: serde_json::Value = response.json().await.unwrap();
                codes.push(body["code"].as_str().unwrap().to_owned());
            }
            codes
        }));
    }
    let mut all = Vec::with_capacity(CODES);
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    assert_eq!(all.len(), CODES);
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(distinct.len(), CODES, "a live code was issued twice");
    assert!(
        all.iter()
            .all(|c| c.len() == 12 && c.chars().all(|ch| ch == 'A' || ch == 'B'))
    );
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains(&format!("linkgate_store_codes {CODES}")),
        "{metrics}"
    );
}

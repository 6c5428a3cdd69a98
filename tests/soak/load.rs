//! The steady mixed load: each client walks a device's whole life again and again at a
//! fixed pace — a code, the backend's link, the device's tokens, authentication,
//! authorization, a media token spent on proxied content, a refresh — with bad input
//! between (a malformed device ID, a wrong code, an oversized body, a forged media token).
//! Every answer is checked against the status it must have.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use linkgate_tests::DEMO_KEY;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Mutex;

pub const REQUESTOR: &str = "soak";
/// Wrong answers described in the verdict (all are counted).
const WRONG_KEPT: usize = 5;

/// What the clients share: where to call, and what they have seen.
pub struct Load {
    pub api: String,
    pub http: Client,
    /// Latencies (µs) of the current sampling window.
    pub window: Mutex<Vec<u32>>,
    pub requests: AtomicU64,
    /// Answers with a status other than the one they must have: how many, and the first
    /// few.
    pub wrong: Mutex<(u64, Vec<String>)>,
    /// When each link was made (ms since the start), to tell how many should be live.
    pub linked_at: Mutex<Vec<u64>>,
    pub started: Instant,
}

impl Load {
    pub fn new(api: String) -> Arc<Self> {
        Arc::new(Self {
            api,
            http: Client::builder()
                .pool_max_idle_per_host(4)
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client"),
            window: Mutex::new(Vec::new()),
            requests: AtomicU64::new(0),
            wrong: Mutex::new((0, Vec::new())),
            linked_at: Mutex::new(Vec::new()),
            started: Instant::now(),
        })
    }

    /// One call, timed and checked; the body as JSON (`null` when it is not).
    async fn call(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
        expected: StatusCode,
    ) -> Value {
        let begun = Instant::now();
        let outcome = request.send().await;
        let elapsed = u32::try_from(begun.elapsed().as_micros()).unwrap_or(u32::MAX);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.window.lock().await.push(elapsed);
        let (status, body) = match outcome {
            Ok(response) => {
                let status = response.status();
                let body = response.bytes().await.unwrap_or_default();
                (
                    Some(status),
                    serde_json::from_slice(&body).unwrap_or(Value::Null),
                )
            }
            Err(_) => (None, Value::Null),
        };
        if status != Some(expected) {
            let seen = status.map_or("no answer".to_owned(), |s| s.as_u16().to_string());
            let mut wrong = self.wrong.lock().await;
            wrong.0 += 1;
            if wrong.1.len() < WRONG_KEPT {
                wrong
                    .1
                    .push(format!("{what}: {seen}, expected {}", expected.as_u16()));
            }
        }
        body
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api)
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// One device's whole life, then the bad input.
    pub async fn walk(&self, device: &str) {
        let r = REQUESTOR;
        let issued = self
            .call(
                "code",
                self.request(Method::POST, &format!("/v1/requestors/{r}/codes"))
                    .json(&json!({"deviceId": device})),
                StatusCode::CREATED,
            )
            .await;
        let (Some(code), Some(secret)) = (
            issued["displayCode"].as_str(),
            issued["deviceSecret"].as_str(),
        ) else {
            return;
        };
        self.call(
            "link",
            self.request(Method::POST, &format!("/v1/requestors/{r}/links"))
                .bearer_auth(DEMO_KEY)
                .json(&json!({"code": code, "userId": format!("u-{device}"), "mvpd": "test-mvpd"})),
            StatusCode::CREATED,
        )
        .await;
        self.linked_at
            .lock()
            .await
            .push(u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX));
        let grant = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", secret),
            ("client_id", r),
        ];
        let tokens = self
            .call(
                "device token",
                self.request(Method::POST, &format!("/oauth/{r}/token"))
                    .form(&grant),
                StatusCode::OK,
            )
            .await;
        let (Some(access), Some(refresh)) = (
            tokens["access_token"].as_str(),
            tokens["refresh_token"].as_str(),
        ) else {
            return;
        };
        let device_path = format!("/v1/requestors/{r}/devices/{device}");
        self.call(
            "authn",
            self.request(Method::GET, &format!("{device_path}/authn"))
                .bearer_auth(access),
            StatusCode::OK,
        )
        .await;
        self.call(
            "authorize",
            self.request(
                Method::GET,
                &format!("{device_path}/authorize?resource=news"),
            )
            .bearer_auth(access),
            StatusCode::OK,
        )
        .await;
        let media = self
            .call(
                "media token",
                self.request(
                    Method::GET,
                    &format!("{device_path}/media-token?resource=news"),
                )
                .bearer_auth(access),
                StatusCode::OK,
            )
            .await;
        if let Some(token) = media["token"].as_str() {
            self.call(
                "content",
                self.request(Method::GET, "/news/segment-1.ts")
                    .header("x-media-token", token),
                StatusCode::OK,
            )
            .await;
        }
        let renew = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", r),
        ];
        self.call(
            "refresh",
            self.request(Method::POST, &format!("/oauth/{r}/token"))
                .form(&renew),
            StatusCode::OK,
        )
        .await;
        self.bad_input().await;
    }

    async fn bad_input(&self) {
        let r = REQUESTOR;
        self.call(
            "malformed device ID",
            self.request(
                Method::GET,
                &format!("/v1/requestors/{r}/devices/not%20a%20device/authn"),
            )
            .bearer_auth(DEMO_KEY),
            StatusCode::BAD_REQUEST,
        )
        .await;
        self.call(
            "wrong code",
            self.request(Method::POST, &format!("/v1/requestors/{r}/links"))
                .bearer_auth(DEMO_KEY)
                .json(&json!({"code": "BCDF-GHJK", "userId": "nobody", "mvpd": "test-mvpd"})),
            StatusCode::NOT_FOUND,
        )
        .await;
        self.call(
            "oversized body",
            self.request(Method::POST, &format!("/v1/requestors/{r}/codes"))
                .header("content-type", "application/json")
                .body(vec![b' '; 256 * 1024]),
            StatusCode::PAYLOAD_TOO_LARGE,
        )
        .await;
        self.call(
            "forged media token",
            self.request(Method::GET, "/news/segment-1.ts")
                .header("x-media-token", "e30.e30.AAAA"),
            StatusCode::FORBIDDEN,
        )
        .await;
    }
}

//! An app written for Adobe Pass REST API v2, as Adobe's public REST API v2 pages show its
//! calls: it registers with its software statement (`POST /o/client/register`, JSON), takes
//! an access token (`POST /o/client/token`), and sends the token and the device headers
//! (`AP-Device-Identifier`, `X-Device-Info`) on every call of one device.

use base64::Engine;
use serde_json::{Value, json};

use crate::{Gateway, read};

/// `X-Device-Info` as a Roku app sends it: base64 of its JSON.
pub fn device_info() -> String {
    let info = json!({"primaryHardwareType": "SetTopBox", "model": "4802X", "manufacturer": "Roku",
        "version": "4802X", "osName": "Roku OS", "osVersion": "13.0", "connectionType": "WiFi"});
    base64::engine::general_purpose::STANDARD.encode(info.to_string())
}

/// Registers the app with `statement` and takes an access token, checking both answers'
/// shapes: `(client_id, access_token)`.
pub async fn register(gw: &Gateway, statement: &str) -> (String, String) {
    let http = reqwest::Client::new();
    let registered = http
        .post(gw.url("/o/client/register"))
        .header("x-device-info", device_info())
        .json(&json!({"software_statement": statement}))
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status(), 201);
    let client: Value = registered.json().await.expect("JSON");
    assert_eq!(client["grant_types"], json!(["client_credentials"]));
    assert_eq!(client["scopes"], json!(["api:client:v2"]));
    assert!(client["client_id_issued_at"].as_i64().expect("seconds") > 1_700_000_000);
    let id = client["client_id"].as_str().expect("client_id").to_owned();
    let secret = client["client_secret"].as_str().expect("client_secret");

    let token = http
        .post(gw.url("/o/client/token"))
        .header("x-device-info", device_info())
        .form(&[
            ("client_id", id.as_str()),
            ("client_secret", secret),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(token.status(), 201);
    let token: Value = token.json().await.expect("JSON");
    assert_eq!(token["token_type"], "bearer");
    assert!(token["expires_in"].as_u64().expect("seconds") > 0);
    assert!(
        token["created_at"].as_i64().expect("a time") > 1_700_000_000_000,
        "milliseconds"
    );
    assert!(token["id"].as_str().is_some_and(|id| !id.is_empty()));
    let access = token["access_token"].as_str().expect("access_token");
    (id, access.to_owned())
}

/// The ID the gateway knows a v2 app's `device` by: the base64 text of its fingerprint.
pub fn device_id(device: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(device)
}

/// The app on one device of service provider `sp`.
pub struct V2App {
    base: String,
    sp: String,
    pub token: String,
    fingerprint: String,
}

impl V2App {
    /// The app holding `token`, on the device `device` (sent as its base64 fingerprint).
    pub fn new(gw: &Gateway, sp: &str, token: String, device: &str) -> Self {
        Self {
            base: gw.url(""),
            sp: sp.to_owned(),
            token,
            fingerprint: device_id(device),
        }
    }

    /// A call of this device, with the token and the device headers.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header(
                "ap-device-identifier",
                format!("fingerprint {}", self.fingerprint),
            )
            .header("x-device-info", device_info())
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        read(request.send().await.expect("a v2 call")).await
    }

    /// `POST /api/v2/{sp}/sessions` with `form`; 200 expected.
    pub async fn session(&self, form: &[(&str, &str)]) -> Value {
        let path = format!("/api/v2/{}/sessions", self.sp);
        let (status, body) = self
            .send(self.request(reqwest::Method::POST, &path).form(form))
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    /// `POST /api/v2/{sp}/decisions/{which}/{mvpd}` about `resources`.
    pub async fn decide(&self, which: &str, mvpd: &str, resources: Value) -> (u16, Value) {
        let path = format!("/api/v2/{}/decisions/{which}/{mvpd}", self.sp);
        let request = self
            .request(reqwest::Method::POST, &path)
            .json(&json!({ "resources": resources }));
        self.send(request).await
    }
}

//! An OpenID Connect provider that is not ours — `tests/oidc-provider`, panva's
//! `oidc-provider` on Node.js, installed by `.ci/setup` — reached through an interceptor of
//! ours that can spoil the ID tokens its token endpoint answers with: how a test shows that
//! the gateway refuses a broken signature or a token issued to another client.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;

/// What the interceptor does to the next token responses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tamper {
    Nothing,
    /// One character of the ID token's signature changed.
    BreakSignature,
    /// The ID token replaced by this one.
    Substitute(String),
}

/// A client of the provider.
pub struct ProviderClient<'a> {
    pub id: &'a str,
    pub secret: &'a str,
    pub redirect_uri: &'a str,
}

pub struct ExternalProvider {
    child: Child,
    interceptor: Arc<Interceptor>,
    /// The provider's client list, for a restart.
    clients: String,
    pub issuer: String,
    task: tokio::task::JoinHandle<()>,
}

struct Interceptor {
    provider: Mutex<SocketAddr>,
    http: reqwest::Client,
    tamper: Mutex<Tamper>,
}

fn package_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc-provider")
}

/// The interceptor's socket, bound before anything is configured with its address.
pub struct Reserved {
    listener: tokio::net::TcpListener,
    /// The issuer URL, as far as anyone can tell.
    pub issuer: String,
}

impl ExternalProvider {
    /// The interceptor's address, to configure the gateway with.
    pub async fn reserve() -> Reserved {
        let dir = package_dir();
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "no {}: run .ci/setup",
            dir.join("node_modules").display()
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let issuer = format!("http://{}", listener.local_addr().expect("an address"));
        Reserved { listener, issuer }
    }
}

impl Reserved {
    /// Starts the provider for `clients`, behind the interceptor.
    pub fn start(self, clients: &[ProviderClient<'_>]) -> ExternalProvider {
        let clients: Vec<serde_json::Value> = clients
            .iter()
            .map(|c| {
                serde_json::json!({
                    "client_id": c.id,
                    "client_secret": c.secret,
                    "redirect_uris": [c.redirect_uri],
                })
            })
            .collect();
        let clients = serde_json::Value::from(clients).to_string();
        let (child, provider) = spawn(&self.issuer, &clients);
        let interceptor = Arc::new(Interceptor {
            provider: Mutex::new(provider),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client"),
            tamper: Mutex::new(Tamper::Nothing),
        });
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(Arc::clone(&interceptor));
        let listener = self.listener;
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        ExternalProvider {
            child,
            interceptor,
            clients,
            issuer: self.issuer,
            task,
        }
    }
}

/// The provider process for `issuer`, and where it listens.
fn spawn(issuer: &str, clients: &str) -> (Child, SocketAddr) {
    let (child, port) = crate::spawn_listening(
        Command::new("node")
            .arg(package_dir().join("provider.mjs"))
            .arg(issuer)
            .arg(clients)
            .stderr(Stdio::null()),
        "the OpenID Connect provider",
    );
    (child, SocketAddr::from(([127, 0, 0, 1], port)))
}

impl ExternalProvider {
    pub fn tamper(&self, tamper: Tamper) {
        *self.interceptor.tamper.lock().expect("not poisoned") = tamper;
    }

    /// Stops the provider and starts it again, behind the same address: its development
    /// signing keys are made at each start, so this is a key rotation.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, provider) = spawn(&self.issuer, &self.clients);
        self.child = child;
        *self.interceptor.provider.lock().expect("not poisoned") = provider;
    }
}

impl Drop for ExternalProvider {
    fn drop(&mut self) {
        self.task.abort();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Passes a request to the provider as it came (the Host header included, so the provider
/// names the interceptor in its URLs), and its answer back, spoiled when asked to.
async fn forward(State(i): State<Arc<Interceptor>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .expect("a small body");
    let provider = *i.provider.lock().expect("not poisoned");
    let target = format!(
        "http://{provider}{}",
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut headers = parts.headers;
    // Bodies stay readable for the tampering.
    headers.remove(http::header::ACCEPT_ENCODING);
    let answer = match i
        .http
        .request(parts.method, target)
        .headers(headers)
        .body(body)
        .send()
        .await
    {
        Ok(answer) => answer,
        Err(e) => {
            let mut response = Response::new(Body::from(format!("provider unreachable: {e:?}")));
            *response.status_mut() = http::StatusCode::BAD_GATEWAY;
            return response;
        }
    };
    let status = answer.status();
    let mut headers = answer.headers().clone();
    let mut body = answer.bytes().await.expect("the provider's body");
    let tamper = i.tamper.lock().expect("not poisoned").clone();
    if parts.uri.path() == "/token" && status.is_success() && tamper != Tamper::Nothing {
        body = spoil(&body, &tamper);
        headers.remove(http::header::CONTENT_LENGTH);
    }
    headers.remove(http::header::TRANSFER_ENCODING);
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

fn spoil(body: &Bytes, tamper: &Tamper) -> Bytes {
    let mut tokens: serde_json::Value = serde_json::from_slice(body).expect("a token response");
    let id_token = tokens["id_token"].as_str().expect("an ID token").to_owned();
    tokens["id_token"] = match tamper {
        Tamper::Substitute(other) => other.clone(),
        Tamper::BreakSignature => {
            let (signed, signature) = id_token.rsplit_once('.').expect("a JWS");
            let mut signature = signature.as_bytes().to_vec();
            // A character in the middle: the last one may carry only padding bits.
            let middle = signature.len() / 2;
            signature[middle] = if signature[middle] == b'A' {
                b'B'
            } else {
                b'A'
            };
            format!(
                "{signed}.{}",
                String::from_utf8(signature).expect("base64url")
            )
        }
        Tamper::Nothing => id_token,
    }
    .into();
    Bytes::from(tokens.to_string())
}

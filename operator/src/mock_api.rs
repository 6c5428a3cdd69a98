//! A scripted Kubernetes API server for cluster-free reconcile tests: the test takes each
//! request the client makes, in order, checks it and answers it; a request that does not
//! come in time, or one too many, fails the test.

use std::time::Duration;

use http::{Method, Request, Response};
use kube::Client;
use kube::client::Body;
use serde_json::Value;
use tower_test::mock::{Handle, SendResponse, pair};

/// How long a test waits for a request the reconcile should make.
const PATIENCE: Duration = Duration::from_secs(2);

pub struct ApiServer(Handle<Request<Body>, Response<Body>>);

/// A request as received: its query string and JSON body, and the way to answer it.
pub struct Received {
    pub query: String,
    pub body: Value,
    reply: SendResponse<Response<Body>>,
}

/// A client whose every request goes to the returned server.
pub fn client() -> (Client, ApiServer) {
    let (service, handle) = pair::<Request<Body>, Response<Body>>();
    (Client::new(service, "default"), ApiServer(handle))
}

impl ApiServer {
    /// The next request, which must be `method` on `path`.
    pub async fn expect(&mut self, method: Method, path: &str) -> Received {
        let (request, reply) = tokio::time::timeout(PATIENCE, self.0.next_request())
            .await
            .unwrap_or_else(|_| panic!("no {method} {path} came"))
            .expect("the client is alive");
        assert_eq!(
            (request.method(), request.uri().path()),
            (&method, path),
            "unexpected request"
        );
        let query = request.uri().query().unwrap_or_default().to_owned();
        let bytes = request.into_body().collect_bytes().await.expect("a body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("a JSON body")
        };
        Received { query, body, reply }
    }

    /// Fails if another request comes.
    pub async fn expect_no_more(&mut self) {
        if let Ok(Some((request, _))) =
            tokio::time::timeout(Duration::from_millis(100), self.0.next_request()).await
        {
            panic!("unexpected request: {} {}", request.method(), request.uri());
        }
    }
}

impl Received {
    pub fn answer(self, status: u16, body: &Value) {
        let response = Response::builder()
            .status(status)
            .body(Body::from(serde_json::to_vec(body).expect("JSON")))
            .expect("a response");
        self.reply.send_response(response);
    }
}

/// The API server's answer to a write that lost a race.
pub fn conflict() -> Value {
    serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "status": "Failure",
        "reason": "Conflict", "code": 409,
        "message": "the object has been modified; please apply your changes to the latest version and try again",
    })
}

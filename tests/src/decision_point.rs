//! A stand-in MVPD decision point on 127.0.0.1: answers authorization webhooks the way a
//! test tells it to, and counts the questions it gets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// How the decision point behaves.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Authorizes `allow`, denies other resources, and leaves `omit` out of its answer.
    Answer {
        allow: Vec<String>,
        omit: Vec<String>,
    },
    /// Answers like `Answer` after a delay.
    Slow(Duration),
    /// Answers with a body that is not the expected JSON.
    Garbage,
    /// Answers with this status.
    Status(u16),
    /// Sends the question on to this URL (307): a decision point must not be followed there.
    Redirect(String),
}

#[derive(Clone)]
struct Shared {
    mode: Arc<Mutex<Mode>>,
    calls: Arc<AtomicUsize>,
    questions: Arc<Mutex<Vec<Value>>>,
}

pub struct DecisionPoint {
    pub addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl DecisionPoint {
    pub async fn start(mode: Mode) -> Self {
        let shared = Shared {
            mode: Arc::new(Mutex::new(mode)),
            calls: Arc::new(AtomicUsize::new(0)),
            questions: Arc::new(Mutex::new(Vec::new())),
        };
        let app = Router::new()
            .route("/authz", post(answer))
            .with_state(shared.clone());
        let (addr, task) = crate::serve(app, "127.0.0.1", 0).await;
        Self { addr, shared, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}/authz", self.addr)
    }

    pub async fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().await = mode;
    }

    /// Questions received so far.
    pub fn calls(&self) -> usize {
        self.shared.calls.load(Ordering::SeqCst)
    }

    pub async fn questions(&self) -> Vec<Value> {
        self.shared.questions.lock().await.clone()
    }
}

impl Drop for DecisionPoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An address where nothing listens: a decision point that is down.
pub fn dead_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    format!("http://127.0.0.1:{port}/authz")
}

async fn answer(State(shared): State<Shared>, Json(question): Json<Value>) -> Response {
    shared.calls.fetch_add(1, Ordering::SeqCst);
    shared.questions.lock().await.push(question.clone());
    let mode = shared.mode.lock().await.clone();
    let (allow, omit) = match mode {
        Mode::Answer { allow, omit } => (allow, omit),
        Mode::Slow(delay) => {
            tokio::time::sleep(delay).await;
            (Vec::new(), Vec::new())
        }
        Mode::Garbage => return "<decisions>yes</decisions>".into_response(),
        Mode::Status(code) => {
            return StatusCode::from_u16(code)
                .expect("a valid status")
                .into_response();
        }
        Mode::Redirect(to) => {
            return (StatusCode::TEMPORARY_REDIRECT, [("location", to)]).into_response();
        }
    };
    let decisions: Vec<Value> = question["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|r| !omit.iter().any(|o| o == r))
        .map(|r| {
            let authorized = allow.iter().any(|a| a == r);
            json!({"resource": r, "authorized": authorized, "reason": (!authorized).then_some("not subscribed")})
        })
        .collect();
    Json(json!({ "decisions": decisions })).into_response()
}

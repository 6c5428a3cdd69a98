//! A stand-in requestor backend on 127.0.0.1 answering account webhook questions the way a
//! test tells it to, keeping the questions it gets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// How the backend answers.
#[derive(Clone, Debug)]
pub enum Reply {
    /// `{"answer": value}`: a user ID, 0, -1, -3 or "pending".
    Answer(Value),
    /// Answers after this long.
    Slow(Duration),
    /// Something that is not the expected JSON.
    Garbage,
}

#[derive(Clone, Default)]
struct Shared {
    reply: Arc<Mutex<Option<Reply>>>,
    questions: Arc<Mutex<Vec<Value>>>,
}

pub struct AccountBackend {
    pub addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl AccountBackend {
    pub async fn start() -> Self {
        let shared = Shared::default();
        let app = Router::new()
            .route("/accounts", post(answer))
            .with_state(shared.clone());
        let (addr, task) = crate::serve(app, "127.0.0.1", 0).await;
        Self { addr, shared, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}/accounts", self.addr)
    }

    pub async fn reply(&self, reply: Reply) {
        *self.shared.reply.lock().await = Some(reply);
    }

    /// The last question asked.
    pub async fn last_question(&self) -> Value {
        let questions = self.shared.questions.lock().await;
        questions.last().cloned().expect("a question was asked")
    }
}

impl Drop for AccountBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(State(shared): State<Shared>, Json(question): Json<Value>) -> Response {
    shared.questions.lock().await.push(question);
    let reply = shared.reply.lock().await.clone();
    match reply.expect("the test set a reply") {
        Reply::Answer(value) => Json(json!({ "answer": value })).into_response(),
        Reply::Slow(delay) => {
            tokio::time::sleep(delay).await;
            Json(json!({ "answer": 0 })).into_response()
        }
        Reply::Garbage => "<user>maybe</user>".into_response(),
    }
}

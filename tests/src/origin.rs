//! A content origin on loopback that records every request it receives.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::routing::any;
use tokio::sync::Mutex;

/// What the origin saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub query: Option<String>,
    pub headers: BTreeMap<String, String>,
}

#[derive(Clone, Default)]
struct Shared {
    seen: Arc<Mutex<Vec<Seen>>>,
    name: Arc<str>,
}

pub struct Origin {
    pub addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Origin {
    /// An origin on `ip` (any port); it answers `200 {name}`, after `?sleep_ms=` if given.
    pub async fn start_on(ip: &str, port: u16, name: &str) -> Self {
        let shared = Shared {
            seen: Arc::default(),
            name: name.into(),
        };
        let app = Router::new()
            .fallback(any(record))
            .with_state(shared.clone());
        let (addr, task) = crate::serve(app, ip, port).await;
        Self { addr, shared, task }
    }

    pub async fn start(name: &str) -> Self {
        Self::start_on("127.0.0.1", 0, name).await
    }

    pub async fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().await.clone()
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(State(shared): State<Shared>, request: Request) -> String {
    let headers = request
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let sleep_ms = request
        .uri()
        .query()
        .and_then(|q| q.strip_prefix("sleep_ms="))
        .and_then(|v| v.parse().ok());
    shared.seen.lock().await.push(Seen {
        path: request.uri().path().to_owned(),
        query: request.uri().query().map(str::to_owned),
        headers,
    });
    if let Some(ms) = sleep_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    shared.name.to_string()
}

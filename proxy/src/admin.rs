//! The admin listener: liveness, readiness, Prometheus metrics and the API's OpenAPI
//! description, apart from the API port so that probes and scrapes are never throttled or
//! exposed with it.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use http::{Response, StatusCode, header};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

use crate::edge::Live;
use crate::metrics::Metrics;
use crate::store::Store;

pub struct Admin {
    metrics: Arc<Metrics>,
    store: Arc<dyn Store>,
    live: Arc<Live>,
    /// Made on first asking, then kept: the route table does not change while the process
    /// runs, and most processes are never asked.
    openapi: OnceLock<String>,
}

impl Admin {
    pub fn new(metrics: Arc<Metrics>, store: Arc<dyn Store>, live: Arc<Live>) -> Self {
        Self {
            metrics,
            store,
            live,
            openapi: OnceLock::new(),
        }
    }
}

#[async_trait]
impl ServeHttp for Admin {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let (status, content_type, body) = match session.req_header().uri.path() {
            "/healthz" => (StatusCode::OK, "text/plain", b"ok\n".to_vec()),
            // The store is loaded before the listeners open, so serving means ready.
            "/readyz" => (StatusCode::OK, "text/plain", b"ready\n".to_vec()),
            "/openapi.json" => (
                StatusCode::OK,
                "application/json",
                self.openapi
                    .get_or_init(crate::api::openapi_json)
                    .as_bytes()
                    .to_vec(),
            ),
            "/metrics" => {
                self.metrics
                    .set_throttle_keys(self.live.load().edge.throttle_keys());
                // A store that cannot count now leaves the gauges at their last value.
                match self.store.counts().await {
                    Ok(held) => self.metrics.set_held(held.codes, held.links),
                    Err(e) => tracing::warn!(error = %e, "cannot count the store's records"),
                }
                (
                    StatusCode::OK,
                    "text/plain; version=0.0.4",
                    self.metrics.render().into_bytes(),
                )
            }
            _ => (StatusCode::NOT_FOUND, "text/plain", b"not found\n".to_vec()),
        };
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, content_type)
            .header(header::CONTENT_LENGTH, body.len())
            .body(body)
            .expect("static response parts are valid")
    }
}

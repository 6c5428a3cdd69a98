//! The Pingora side: one `ProxyHttp` that answers the API locally in `request_filter`,
//! and records every request's metrics in `logging`.

mod local;

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use pingora::prelude::{HttpPeer, ProxyHttp, Session};
use pingora::{Error as PingoraError, ErrorType};

use crate::api::{Api, ApiRequest};
use crate::metrics::Metrics;

pub struct Gateway {
    api: Arc<Api>,
    metrics: Arc<Metrics>,
}

/// Per-request state, parsed once.
pub struct RequestCtx {
    started: Instant,
    route: &'static str,
}

impl Gateway {
    pub fn new(api: Arc<Api>, metrics: Arc<Metrics>) -> Self {
        Self { api, metrics }
    }
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx {
            started: Instant::now(),
            route: "unmatched",
        }
    }

    async fn request_filter(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<bool> {
        if let Some(route) = self.api.route(session.req_header().uri.path()) {
            ctx.route = route.name();
        }
        let body = match local::read_body(session).await? {
            Ok(body) => body,
            Err(too_large) => {
                local::respond(session, too_large).await?;
                return Ok(true);
            }
        };
        let header = session.req_header();
        let response = self
            .api
            .handle(ApiRequest {
                method: &header.method,
                path: header.uri.path(),
                query: header.uri.query(),
                headers: &header.headers,
                body,
            })
            .await;
        local::respond(session, response).await?;
        Ok(true)
    }

    /// Nothing is proxied yet: every request is answered in `request_filter`.
    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut RequestCtx,
    ) -> pingora::Result<Box<HttpPeer>> {
        Err(PingoraError::explain(
            ErrorType::HTTPStatus(404),
            "no upstream route",
        ))
    }

    async fn logging(
        &self,
        session: &mut Session,
        _e: Option<&PingoraError>,
        ctx: &mut RequestCtx,
    ) {
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        self.metrics
            .request(ctx.route, status, ctx.started.elapsed());
    }
}

//! The Pingora side. On every request, in order: find what it is for (an API route or a
//! content route, and the requestor), the client IP, the rate limits, the backend
//! allow-list; then answer the API locally, or check the media token inline and proxy to
//! the origin with forwarding headers. Metrics are recorded in `logging`, once per request.

mod degradations;
mod headers;
mod live;
mod local;
mod plan;
mod throttle;
mod upstreams;
mod uri;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use http::StatusCode;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::{HttpPeer, ProxyHttp, Session};
use pingora::{Error as PingoraError, ErrorType};

pub use live::{Live, Snapshot};
pub use plan::EdgePlan;
pub use upstreams::Upstreams;

use crate::api::{
    Api, ApiError, ApiRequest, DeviceLimit, Target, error_response, refusal_response,
};
use crate::metrics::Metrics;
use crate::verified::Verified;
use linkgate_domain::access::{client_ip, forwarded_entries};
use linkgate_domain::media_token::{MediaClaims, TokenError};
use linkgate_domain::requestor::RequestorPolicy;
use linkgate_domain::time::Clock;
use throttle::{Limiters, retry_after_secs};

/// Bound on remembered media tokens (a few hundred bytes each).
const VERIFIED_TOKENS: u64 = 50_000;

pub struct Gateway {
    api: Arc<Api>,
    live: Arc<Live>,
    upstreams: Arc<Upstreams>,
    /// Media tokens whose signature passed: a player sends the same one for every segment.
    tokens: Verified<MediaClaims>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
}

/// A request bound for an origin.
struct Content {
    policy: Arc<RequestorPolicy>,
    route: usize,
    claims: Option<Arc<MediaClaims>>,
}

fn too_many_requests(refused: throttle::Throttled) -> ApiError {
    let seconds = retry_after_secs(refused.retry_after);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        format!(
            "rate limit per {} exceeded: retry in {seconds} s",
            refused.limit.label().replace('_', " "),
        ),
    )
    .retry_after(seconds)
}

/// Per-request state, found once and read by the later phases.
pub struct RequestCtx {
    started: Instant,
    route: &'static str,
    /// The socket peer, and whether it is a trusted proxy of the request's requestor.
    peer: Option<SocketAddr>,
    peer_trusted: bool,
    content: Option<Content>,
    upstream: Option<SocketAddr>,
    connect_failures: u8,
    request_id: Option<http::HeaderValue>,
}

/// Whether a trusted proxy says the client reached it over https.
fn forwarded_https(headers: &http::HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"))
}

impl RequestCtx {
    fn peer_ip(&self) -> IpAddr {
        self.peer.map_or(IpAddr::from([0, 0, 0, 0]), |p| p.ip())
    }
}

impl Gateway {
    pub fn new(
        api: Arc<Api>,
        live: Arc<Live>,
        upstreams: Arc<Upstreams>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            api,
            live,
            upstreams,
            tokens: Verified::new(VERIFIED_TOKENS),
            clock,
            metrics,
        }
    }

    /// Client IP, rate limits of the client and the requestor (a device's is spent once the
    /// request is read, see `device_limit`): `Err` carries the refusal to send.
    fn admit(
        &self,
        limiters: Option<&Limiters>,
        policy: &RequestorPolicy,
        header: &RequestHeader,
        tries_code: bool,
        ctx: &mut RequestCtx,
    ) -> Result<IpAddr, ApiError> {
        let peer_ip = ctx.peer_ip();
        ctx.peer_trusted = policy.trusted_proxies.iter().any(|n| n.contains(&peer_ip));
        let forwarded = forwarded_entries(
            header
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok()),
        );
        let client = client_ip(
            peer_ip,
            forwarded.into_iter().filter(|e| !e.is_empty()),
            &policy.trusted_proxies,
        );
        if let Some(limiters) = limiters {
            let checked = limiters.check(client).and_then(|()| {
                if tries_code {
                    limiters.check_code_entry(client)
                } else {
                    Ok(())
                }
            });
            if let Err(refused) = checked {
                self.metrics.throttled(&policy.name, refused.limit.label());
                return Err(too_many_requests(refused));
            }
        }
        Ok(client)
    }

    async fn serve_api(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        target: Target<'_>,
    ) -> pingora::Result<bool> {
        let snapshot = self.live.load();
        ctx.route = target.route.name();
        // Without a known requestor the API refuses the call; the peer stands for the client.
        let mut client_ip = ctx.peer_ip();
        let mut named = target.find_requestor(&snapshot.requestors, &session.req_header().headers);
        // Adobe's registration calls name their requestor in the body: read (bounded) first.
        let mut body = None;
        if named.is_err() && target.route.names_requestor_in_body() {
            let Some(read) = local::read_body(session, target.max_body()).await? else {
                return Ok(true);
            };
            let headers = &session.req_header().headers;
            if let Some(found) = target.find_requestor_in_body(&snapshot.requestors, headers, &read)
            {
                named = found;
            }
            body = Some(read);
        }
        let header = session.req_header();
        // Found once: the client's and requestor's buckets now, the device's once read.
        let limiters = named
            .as_ref()
            .ok()
            .and_then(|p| Some((*p, snapshot.edge.limiters(&p.name)?)));
        if let Ok(policy) = named {
            let tries_code = target.tries_code(&header.method, local::has_body(header));
            let requestor_limits = limiters.map(|(_, l)| l);
            match self.admit(requestor_limits, policy, header, tries_code, ctx) {
                Ok(client) => client_ip = client,
                Err(refusal) => {
                    let response =
                        refusal_response(target.route, policy, &header.headers, &refusal);
                    local::respond(session, response).await?;
                    return Ok(true);
                }
            }
        }
        let body = match body {
            Some(body) => body,
            None => match local::read_body(session, target.max_body()).await? {
                Some(body) => body,
                None => return Ok(true),
            },
        };
        let header = session.req_header();
        let limiters = limiters.filter(|(_, l)| l.limits_devices());
        let device_limit = |device: &str| {
            let Some((policy, limiters)) = &limiters else {
                return Ok(());
            };
            limiters.check_device(device).map_err(|refused| {
                self.metrics.throttled(&policy.name, refused.limit.label());
                too_many_requests(refused)
            })
        };
        let request = ApiRequest {
            method: &header.method,
            path: header.uri.path(),
            query: header.uri.query(),
            headers: &header.headers,
            body,
            client_ip,
            secure: ctx.peer_trusted && forwarded_https(&header.headers),
            device_limit: limiters.is_some().then_some(&device_limit as &DeviceLimit),
        };
        let response = self.api.handle(named, target, request).await;
        local::respond(session, response).await?;
        Ok(true)
    }

    /// Checks the media token of a protected content route.
    fn check_token(
        &self,
        policy: &RequestorPolicy,
        route: &linkgate_domain::access::ContentRoute,
        header: &RequestHeader,
    ) -> Result<Option<Arc<MediaClaims>>, ApiError> {
        let Some(resource) = &route.resource else {
            return Ok(None);
        };
        let token = header
            .headers
            .get(&route.token_header)
            .and_then(|v| v.to_str().ok())
            .map(std::borrow::Cow::Borrowed)
            .or_else(|| crate::api::query_param(header.uri.query(), &route.token_query));
        let Some(token) = token else {
            self.metrics.token_rejected(&policy.name, "missing");
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "media_token_missing",
                format!(
                    "a media token for {resource:?} is required in {} or ?{}=",
                    route.token_header, route.token_query
                ),
            ));
        };
        let now = self.clock.now();
        let checked = self
            .tokens
            .claims(&token, || {
                policy
                    .media_keys
                    .verify(&token, &policy.name, resource, now)
            })
            .and_then(|claims| claims.check(&policy.name, resource, now).map(|()| claims));
        checked.map(Some).map_err(|e| {
            let (status, code, label) = match e {
                TokenError::Expired => (StatusCode::UNAUTHORIZED, "media_token_expired", "expired"),
                TokenError::Signature | TokenError::UnknownKey(_) => {
                    (StatusCode::FORBIDDEN, "media_token_invalid", "signature")
                }
                TokenError::Format(_) => (StatusCode::FORBIDDEN, "media_token_invalid", "format"),
                TokenError::WrongResource(_) | TokenError::WrongRequestor(_) => {
                    (StatusCode::FORBIDDEN, "media_token_invalid", "binding")
                }
            };
            self.metrics.token_rejected(&policy.name, label);
            ApiError::new(status, code, e.to_string())
        })
    }
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx {
            started: Instant::now(),
            route: "unmatched",
            peer: None,
            peer_trusted: false,
            content: None,
            upstream: None,
            connect_failures: 0,
            request_id: None,
        }
    }

    async fn request_filter(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<bool> {
        ctx.peer = session.client_addr().and_then(|a| a.as_inet()).copied();
        // Every later decision, and the origin, see the path in its normal form only.
        if let Err(refusal) = uri::normalise_path(session) {
            local::respond(session, error_response(&refusal)).await?;
            return Ok(true);
        }
        // The route is matched once, on a copy of the URI (reference-counted), which leaves
        // the session free to read the body before the handler reads the route's parameters.
        let uri = session.req_header().uri.clone();
        if let Some(target) = self.api.target(uri.path(), uri.query()) {
            return self.serve_api(session, ctx, target).await;
        }
        let path = uri.path();
        let snapshot = self.live.load();
        let Some((policy, route_index)) = snapshot.edge.content_route(path) else {
            local::respond(session, error_response(&ApiError::not_found())).await?;
            return Ok(true);
        };
        ctx.route = "content";
        let route = &policy.routes[route_index];
        let header = session.req_header();
        let limiters = snapshot.edge.limiters(&policy.name);
        let checked = match self.admit(limiters, policy, header, false, ctx) {
            Ok(_) => self.check_token(policy, route, header),
            Err(refusal) => Err(refusal),
        };
        let claims = match checked {
            Ok(claims) if route.resource.is_some() => {
                // The token has done its work here: it goes no further, not even into logs.
                uri::remove_query_param(session, &route.token_query).map(|()| claims)
            }
            other => other,
        };
        let claims = match claims {
            Ok(claims) => claims,
            Err(refusal) => {
                local::respond(session, error_response(&refusal)).await?;
                return Ok(true);
            }
        };
        ctx.content = Some(Content {
            policy: Arc::clone(policy),
            route: route_index,
            claims,
        });
        Ok(false)
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<Box<HttpPeer>> {
        let Some(content) = &ctx.content else {
            return Err(PingoraError::explain(
                ErrorType::HTTPStatus(404),
                "no content route",
            ));
        };
        let route = &content.policy.routes[content.route];
        let addr = match self.upstreams.pick(&route.host, route.port).await {
            Ok(addr) => addr,
            Err(e) => {
                self.metrics.upstream_error(&content.policy.name, "resolve");
                return Err(PingoraError::explain(
                    ErrorType::HTTPStatus(502),
                    e.to_string(),
                ));
            }
        };
        ctx.upstream = Some(addr);
        let mut peer = HttpPeer::new(addr, route.tls, route.host.clone());
        // A silent or stalled origin is an error after the route's limits, never a hang.
        peer.options.connection_timeout = Some(route.connect_timeout);
        peer.options.total_connection_timeout = Some(route.connect_timeout);
        peer.options.read_timeout = Some(route.read_timeout);
        peer.options.write_timeout = Some(route.read_timeout);
        peer.options.idle_timeout = Some(route.idle_timeout);
        Ok(Box::new(peer))
    }

    fn fail_to_connect(
        &self,
        _session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut RequestCtx,
        mut e: Box<PingoraError>,
    ) -> Box<PingoraError> {
        if let Some(addr) = ctx.upstream {
            self.upstreams.mark_unhealthy(addr);
        }
        if let Some(content) = &ctx.content {
            self.metrics.upstream_error(&content.policy.name, "connect");
        }
        // One more try, on the next healthy address.
        ctx.connect_failures += 1;
        if ctx.connect_failures < 2 {
            e.set_retry(true);
        }
        e
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<()> {
        let Some(content) = &ctx.content else {
            return Ok(());
        };
        let route = &content.policy.routes[content.route];
        ctx.request_id = Some(headers::forward(
            upstream,
            ctx.peer,
            ctx.peer_trusted,
            content.claims.as_deref(),
            &route.host,
        )?);
        let _ = session;
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<()> {
        if let Some(id) = &ctx.request_id {
            headers::answer_with_id(response, id);
        }
        Ok(())
    }

    async fn logging(&self, session: &mut Session, e: Option<&PingoraError>, ctx: &mut RequestCtx) {
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        if let (Some(e), Some(content)) = (e, &ctx.content)
            && matches!(e.esource(), pingora::ErrorSource::Upstream)
        {
            self.metrics
                .upstream_error(&content.policy.name, "response");
        }
        self.metrics
            .request(ctx.route, status, ctx.started.elapsed());
    }
}

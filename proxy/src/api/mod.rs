//! The HTTP surfaces onto the domain: the native `/v1` API, the Matchmaker dialect, Adobe
//! Pass REST API v1 and v2, OAuth (device grant, registration) and the activation pages.
//! HTTP types in, HTTP types out, no socket: the edge hands over a request whose body it
//! has already read and bounded.

mod activation;
mod adobe;
mod adobe_v2;
mod caller;
mod contract;
mod entitlement;
mod error;
mod input;
mod matchmaker;
mod native;
mod oauth;
mod response;
mod routes;
mod verification;

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use linkgate_crds::DeviceDialect;

pub use error::ApiError;
use error::ErrorFields;
pub use response::ApiResponse;

/// An error as the native dialect renders it.
pub fn error_response(e: &ApiError) -> ApiResponse {
    response::error(e, ErrorFields::Common)
}

/// A refusal made before the route's handler runs (rate limits, allow-lists): a page on
/// the pages people read, the error of the route's dialect elsewhere.
pub fn refusal_response(
    route: Route,
    requestor: &RequestorPolicy,
    headers: &HeaderMap,
    e: &ApiError,
) -> ApiResponse {
    if route.is_page() {
        activation::refusal(requestor, headers, e)
    } else {
        response::error(e, route.error_fields())
    }
}
pub use contract::{document as openapi, document_json as openapi_json};
pub use input::query_param;
pub use routes::{Credential, Route, RouteInfo, table as route_table};

use crate::service::{
    Activation, Clients, DeviceAuthError, DeviceFlow, DeviceTokens, Entitlements, Linking,
    SignedCalls,
};
use caller::{Credentials, Principal};
use input::{Input, Query};
use linkgate_domain::ids::DeviceId;
use linkgate_domain::requestor::{AdobeV2Callers, RequestorPolicy};
use linkgate_domain::requestors::Requestors;
use linkgate_domain::signed_call::SignedCall;
use routes::{Check, DeviceFrom};

/// The largest request body the API reads.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The route a path matched and its parameters: found once per request, read by the edge's
/// checks before the body is read and by the handler after.
pub struct Target<'a> {
    pub route: Route,
    params: matchit::Params<'a, 'a>,
    /// Decoded once: what the edge decides on (requestor, device) is what the handler reads.
    query: Query<'a>,
}

impl<'a> Target<'a> {
    /// The requestor the request names: in the path, else in the query string, else in an
    /// Adobe v1 signed header (whose signature its requestor's keys then check). A name or a
    /// client ID the requestor declared (`Requestors::find`).
    pub fn requestor<'h>(&'h self, headers: &'h HeaderMap) -> Option<&'h str> {
        self.param("requestor", &["requestor", "requestor_id"])
            .or_else(|| {
                let header = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
                Some(SignedCall::parse(header)?.requestor_id)
            })
    }

    /// The requestor the request names, among `requestors`; found once, by the edge, for
    /// its admission and the handler alike.
    pub fn find_requestor<'r>(
        &self,
        requestors: &'r Requestors,
        headers: &HeaderMap,
    ) -> Result<&'r RequestorPolicy, ApiError> {
        let name = self
            .requestor(headers)
            .ok_or_else(|| ApiError::missing_parameter("requestor"))?;
        lookup(requestors, name)
    }

    /// On the routes whose body names their requestor (`Route::names_requestor_in_body`),
    /// the requestor `body` names, read as the handler reads it; `None` when it names none.
    pub fn find_requestor_in_body<'r>(
        &self,
        requestors: &'r Requestors,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Option<Result<&'r RequestorPolicy, ApiError>> {
        let input = Input::parse(Query::default(), headers, body).ok()?;
        let name = self.route.requestor_in_body(&input)?;
        Some(lookup(requestors, &name))
    }

    /// The device the request names, likewise.
    pub fn device(&self) -> Option<&str> {
        self.param("device", &["deviceId", "device_id"])
    }

    /// The largest body this route reads.
    pub fn max_body(&self) -> usize {
        self.route.max_body()
    }

    /// Whether the request tries a code on the activation page (see `Route::tries_code`).
    pub fn tries_code(&self, method: &Method, has_body: bool) -> bool {
        self.route.tries_code(method, &self.query, has_body)
    }

    fn param(&self, name: &str, in_query: &[&str]) -> Option<&str> {
        self.params
            .get(name)
            .or_else(|| in_query.iter().find_map(|q| self.query.get(q)))
    }
}

/// The requestor known by `name` (its own or a declared ID).
fn lookup<'r>(requestors: &'r Requestors, name: &str) -> Result<&'r RequestorPolicy, ApiError> {
    requestors
        .find(name)
        .map(|policy| &**policy)
        .ok_or_else(|| ApiError::unknown_requestor(name))
}

/// A request as the API sees it.
pub struct ApiRequest<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: Bytes,
    /// The client's address as the edge decided it (trusted proxies considered).
    pub client_ip: std::net::IpAddr,
    /// Whether the browser reached us over https (a trusted proxy's `X-Forwarded-Proto`).
    pub secure: bool,
    /// The per-device rate limit, spent on the device the request names wherever it names
    /// it (path, query, form or JSON), as the handler reads it.
    pub device_limit: Option<&'a DeviceLimit<'a>>,
}

/// Spends one request of a device's budget; `Err` is the refusal to answer.
pub type DeviceLimit<'a> = dyn Fn(&str) -> Result<(), ApiError> + Send + Sync + 'a;

pub struct Api {
    activation: Arc<Activation>,
    clients: Arc<Clients>,
    linking: Arc<Linking>,
    entitlements: Arc<Entitlements>,
    device_flow: Arc<DeviceFlow>,
    device_tokens: Arc<DeviceTokens>,
    signed_calls: Arc<SignedCalls>,
    router: matchit::Router<Route>,
}

/// The use cases the API serves.
pub struct Services {
    pub activation: Arc<Activation>,
    pub clients: Arc<Clients>,
    pub linking: Arc<Linking>,
    pub entitlements: Arc<Entitlements>,
    pub device_flow: Arc<DeviceFlow>,
    pub device_tokens: Arc<DeviceTokens>,
    pub signed_calls: Arc<SignedCalls>,
}

/// What a handler gets: the requestor named in the path, who is calling, the device a
/// device-side route acts on (decided, and checked against the caller, before the handler
/// runs), path parameters and input.
struct Call<'a> {
    requestor: &'a RequestorPolicy,
    principal: Principal,
    device: Option<DeviceId>,
    /// Whether the answer is to be XML (Adobe v1 clients that ask for it).
    as_xml: bool,
    path: PathParams<'a>,
    input: Input<'a>,
    headers: &'a HeaderMap,
    /// See `ApiRequest::client_ip`.
    client_ip: std::net::IpAddr,
    /// See `ApiRequest::secure`.
    secure: bool,
    activation: &'a Activation,
    clients: &'a Clients,
    linking: &'a Linking,
    entitlements: &'a Entitlements,
    device_flow: &'a DeviceFlow,
    device_tokens: &'a DeviceTokens,
}

/// Whether an Adobe v1 caller asked for XML: `format=xml`, or `Accept: application/xml`
/// without `format=json`.
fn wants_xml(format: Option<&str>, headers: &HeaderMap) -> bool {
    match format {
        Some(format) => format.eq_ignore_ascii_case("xml"),
        None => headers
            .get_all(header::ACCEPT)
            .iter()
            .any(|v| names_xml(v.as_bytes())),
    }
}

/// Whether an `Accept` value names `application/xml`, in any case, without copying it.
fn names_xml(accept: &[u8]) -> bool {
    const XML: &[u8] = b"application/xml";
    accept
        .windows(XML.len())
        .any(|w| w.eq_ignore_ascii_case(XML))
}

impl Call<'_> {
    /// The device a device-side route acts on.
    fn device(&self) -> Result<DeviceId, ApiError> {
        self.device.clone().ok_or(ApiError::not_found())
    }
}

#[derive(Default)]
struct PathParams<'a> {
    code: Option<&'a str>,
    device: Option<&'a str>,
    user: Option<&'a str>,
    mvpd: Option<&'a str>,
}

impl Api {
    pub fn new(services: Services) -> Self {
        Self {
            activation: services.activation,
            clients: services.clients,
            linking: services.linking,
            entitlements: services.entitlements,
            device_flow: services.device_flow,
            device_tokens: services.device_tokens,
            signed_calls: services.signed_calls,
            router: routes::router(),
        }
    }

    /// The route serving `path`, and its parameters, if any.
    pub fn target<'a>(&'a self, path: &'a str, query: Option<&'a str>) -> Option<Target<'a>> {
        let matched = self.router.at(path).ok()?;
        Some(Target {
            route: *matched.value,
            params: matched.params,
            query: Query::parse(query),
        })
    }

    /// Answers a request to `target` for the `requestor` it names (`Target::find_requestor`);
    /// never fails, errors become error responses.
    pub async fn handle(
        &self,
        requestor: Result<&RequestorPolicy, ApiError>,
        target: Target<'_>,
        request: ApiRequest<'_>,
    ) -> ApiResponse {
        let route = target.route;
        let as_xml = route.dialect() == DeviceDialect::Adobe
            && wants_xml(target.query.get("format"), request.headers);
        // A person's browser is shown a page for any refusal once the requestor is known.
        let page_of = requestor.as_ref().ok().copied().filter(|_| route.is_page());
        let headers = request.headers;
        match self.dispatch(requestor, target, request, as_xml).await {
            Ok(response) => response,
            Err(e) => {
                let fields = match as_xml {
                    true => ErrorFields::Xml,
                    false => route.error_fields(),
                };
                let mut response = match page_of {
                    Some(requestor) => activation::refusal(requestor, headers, &e),
                    None => response::error(&e, fields),
                };
                if e.status == StatusCode::METHOD_NOT_ALLOWED {
                    let allow = route.methods().join(", ");
                    if let Ok(value) = HeaderValue::from_str(&allow) {
                        response.headers_mut().insert(header::ALLOW, value);
                    }
                }
                response
            }
        }
    }

    async fn dispatch(
        &self,
        requestor: Result<&RequestorPolicy, ApiError>,
        target: Target<'_>,
        request: ApiRequest<'_>,
        as_xml: bool,
    ) -> Result<ApiResponse, ApiError> {
        let route = target.route;
        if !route.methods().contains(&request.method.as_str()) {
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{} does not answer {}", request.path, request.method),
            ));
        }
        let requestor = requestor?;
        let Target { params, query, .. } = target;
        // Who is calling is settled before any input is read.
        let credentials = Credentials {
            clients: &self.clients,
            tokens: &self.device_tokens,
            signed: &self.signed_calls,
            requestor,
            method: request.method,
            path: request.path,
            headers: request.headers,
            client_ip: request.client_ip,
            adobe: route.dialect() == DeviceDialect::Adobe,
        };
        let check = route.check(request.method);
        let principal = match check {
            Check::Anyone => Principal::Anyone,
            Check::Backend => credentials.backend()?,
            Check::CodeIssuer => credentials.principal().await?,
            Check::App | Check::AppDevice => credentials.v2().await?,
            Check::Device(_) => match credentials.principal().await? {
                Principal::Anyone => return Err(credentials.refuse(DeviceAuthError::Missing)),
                known => known,
            },
        };
        if request.body.len() > route.max_body() {
            return Err(ApiError::payload_too_large(route.max_body()));
        }
        let input = Input::parse(query, request.headers, &request.body)?;
        // v1 also takes `format=xml` in a form body.
        let as_xml = as_xml
            || (route.dialect() == DeviceDialect::Adobe
                && wants_xml(input.get("format").as_deref(), request.headers));
        let device = match check {
            Check::Device(from) => {
                let device = match from {
                    DeviceFrom::Path => params.get("device").map(Cow::Borrowed),
                    DeviceFrom::Param(name) => input.get(name),
                    DeviceFrom::Code => {
                        let code = params.get("code").unwrap_or_default();
                        let record = self.linking.signed_in_code(requestor, code).await?;
                        // Another device learns nothing of a code it does not hold.
                        if !principal.acts_for(&record.device) {
                            return Err(crate::service::Error::CodeNotFound.into());
                        }
                        Some(Cow::Owned(record.device.as_str().to_owned()))
                    }
                };
                let name = match from {
                    DeviceFrom::Param(name) => name,
                    DeviceFrom::Path | DeviceFrom::Code => "device",
                };
                let raw = device.ok_or_else(|| ApiError::missing_parameter(name))?;
                let device = match route.dialect() {
                    DeviceDialect::Matchmaker => DeviceId::parse_matchmaker(&raw)?,
                    _ => DeviceId::parse(&raw)?,
                };
                credentials.device(&principal, &device, route.dialect())?;
                Some(device)
            }
            Check::AppDevice => {
                let device = adobe_v2::device::identified(request.headers)?;
                // Only an app's token may need to know whether the device is linked.
                let linked = principal == Principal::App
                    && requestor.adobe_v2_callers == AdobeV2Callers::Device
                    && self
                        .linking
                        .is_linked(requestor, &device)
                        .await
                        .map_err(crate::service::Error::from)?;
                credentials.v2_device(&principal, &device, linked)?;
                Some(device)
            }
            _ => None,
        };
        if let Some(limit) = request.device_limit {
            // The device this call is about, read as its handler reads it.
            let named = match &device {
                Some(device) => Some(Cow::Borrowed(device.as_str())),
                None => input
                    .get("deviceId")
                    .or_else(|| input.get("device_id"))
                    .or_else(|| adobe_v2::device::fingerprint(request.headers).map(Cow::Borrowed)),
            };
            if let Some(named) = named {
                limit(&named)?;
            }
        }
        let call = Call {
            requestor,
            principal,
            device,
            as_xml,
            path: PathParams {
                code: params.get("code"),
                device: params.get("device"),
                user: params.get("user"),
                mvpd: params.get("mvpd"),
            },
            input,
            headers: request.headers,
            client_ip: request.client_ip,
            secure: request.secure,
            activation: &self.activation,
            clients: &self.clients,
            linking: &self.linking,
            entitlements: &self.entitlements,
            device_flow: &self.device_flow,
            device_tokens: &self.device_tokens,
        };
        route.handle(request.method, call).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::metrics::Metrics;
    use crate::store::MemoryStore;
    use linkgate_domain::code::CodeKey;
    use linkgate_domain::time::SystemClock;
    use rand::SeedableRng;

    fn api() -> Api {
        let store: Arc<MemoryStore> = Arc::new(MemoryStore::new());
        let metrics = Arc::new(Metrics::new());
        let linking = Linking::new(
            store.clone(),
            Arc::new(SystemClock),
            CodeKey::new(b"k"),
            rand::rngs::StdRng::seed_from_u64(1),
            metrics.clone(),
            Arc::default(),
        );
        let linking = Arc::new(linking);
        let entitlements = Arc::new(Entitlements::new(
            store.clone(),
            Arc::new(SystemClock),
            crate::service::DecisionClient::new(Arc::default()),
            metrics,
        ));
        let device_tokens = Arc::new(DeviceTokens::new(
            &CodeKey::new(b"k"),
            store.clone(),
            Arc::new(SystemClock),
            Arc::new(Metrics::new()),
        ));
        let device_flow = Arc::new(DeviceFlow::new(
            linking.clone(),
            entitlements.clone(),
            device_tokens.clone(),
            store,
            Arc::new(SystemClock),
            CodeKey::new(b"k"),
        ));
        let services = Services {
            activation: Arc::new(Activation::new(
                &CodeKey::new(b"k"),
                Arc::new(SystemClock),
                None,
                Arc::new(Metrics::new()),
                Arc::default(),
            )),
            clients: Arc::new(Clients::new(
                &CodeKey::new(b"k"),
                Arc::new(SystemClock),
                rand::rngs::StdRng::seed_from_u64(2),
            )),
            linking,
            entitlements,
            device_flow,
            device_tokens,
            signed_calls: Arc::new(SignedCalls::new(Arc::new(SystemClock))),
        };
        Api::new(services)
    }

    async fn call(
        api: &Api,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (StatusCode, HeaderMap, serde_json::Value) {
        let method: Method = method.parse().unwrap();
        let uri: http::Uri = uri.parse().unwrap();
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let target = api
            .target(uri.path(), uri.query())
            .expect("tests call API routes");
        let requestors = Config::demo().requestors;
        let response = api
            .handle(
                target.find_requestor(&requestors, &map),
                target,
                ApiRequest {
                    method: &method,
                    path: uri.path(),
                    query: uri.query(),
                    headers: &map,
                    body: Bytes::copy_from_slice(body.as_bytes()),
                    client_ip: std::net::Ipv4Addr::LOCALHOST.into(),
                    secure: false,
                    device_limit: None,
                },
            )
            .await;
        let (parts, body) = response.into_parts();
        let json = if body.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&body).unwrap()
        };
        (parts.status, parts.headers, json)
    }

    #[tokio::test]
    async fn routes_have_fixed_names_for_metrics() {
        let api = api();
        let name = |path| api.target(path, None).map(|t| t.route.name());
        assert_eq!(name("/v1/requestors/x/codes"), Some("native_codes"));
        assert_eq!(
            name("/matchmaker/x/register_user"),
            Some("matchmaker_link_device")
        );
        assert_eq!(name("/elsewhere"), None);
    }

    #[test]
    fn xml_is_asked_for_by_format_first_then_by_any_accept_value() {
        let mut headers = HeaderMap::new();
        assert!(!wants_xml(None, &headers));
        headers.append(header::ACCEPT, HeaderValue::from_static("text/html"));
        headers.append(
            header::ACCEPT,
            HeaderValue::from_static("text/plain, Application/XML;q=0.9"),
        );
        assert!(wants_xml(None, &headers));
        assert!(wants_xml(Some("XML"), &HeaderMap::new()));
        assert!(!wants_xml(Some("json"), &headers));
        let mut json_only = HeaderMap::new();
        json_only.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!wants_xml(None, &json_only));
    }

    #[test]
    fn polling_a_sign_in_by_code_counts_as_trying_the_code() {
        let api = api();
        let tries = |path| {
            api.target(path, None)
                .unwrap()
                .tries_code(&Method::GET, false)
        };
        assert!(tries("/api/v1/checkauthn/BCDFGHJK"));
        assert!(
            !tries("/api/v1/authenticate/BCDFGHJK"),
            "a credential is needed there"
        );
        assert!(!tries("/api/v1/checkauthn"));
        // v2's calls by code, and its sign-in page.
        assert!(tries("/api/v2/DemoTV/sessions/BCDFGHJK"));
        assert!(tries("/api/v2/DemoTV/profiles/code/BCDFGHJK"));
        assert!(tries("/api/v2/authenticate/DemoTV/BCDFGHJK"));
        assert!(!tries("/api/v2/DemoTV/profiles"));
    }

    #[tokio::test]
    async fn only_the_matchmaker_dialect_adds_error_message() {
        let api = api();
        let backend = [("authorization", "Bearer demo-backend-key")];
        let get_user = "/matchmaker/demo/get_user?device_id=tv";
        let (status, _, body) = call(&api, "GET", get_user, &backend, "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error_message"], "No such user exists");
        let authn = "/v1/requestors/demo/devices/tv/authn";
        let (status, _, body) = call(&api, "GET", authn, &backend, "").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.get("error_message").is_none(), "{body}");
    }

    #[tokio::test]
    async fn backend_routes_check_the_bearer_key_before_reading_input() {
        let api = api();
        let link = "/v1/requestors/demo/links";
        let (status, headers, body) = call(&api, "POST", link, &[], "not even json").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["code"], "missing_credential");
        assert!(headers.contains_key(header::WWW_AUTHENTICATE));
        let (status, _, body) = call(
            &api,
            "POST",
            link,
            &[("authorization", "Basic ZGVtbw==")],
            "",
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_credential"))
        );
        let bearer = [
            ("authorization", "Bearer demo-backend-key"),
            ("content-type", "application/json"),
        ];
        let (status, _, body) = call(&api, "POST", link, &bearer, "{\"userId\":\"a\"}").await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("missing_parameter"))
        );
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused_here_too() {
        let api = api();
        let big = format!("deviceId={}", "x".repeat(MAX_BODY_BYTES));
        let (status, _, body) = call(&api, "POST", "/v1/requestors/demo/codes", &[], &big).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["code"], "payload_too_large");
    }

    #[tokio::test]
    async fn wrong_methods_list_the_allowed_ones() {
        let api = api();
        let (status, headers, _) =
            call(&api, "PATCH", "/v1/requestors/demo/codes/ABCD", &[], "").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers[header::ALLOW], "GET, DELETE");
    }
}

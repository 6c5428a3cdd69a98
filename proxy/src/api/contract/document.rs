//! The OpenAPI 3.1 document: every method of every route in the route table, with the
//! parameters, bodies and answers its handler declares, the credentials the table says it
//! takes, and the refusals every route of its kind can give.

use std::collections::BTreeSet;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::schema::{
    AnyOfBuilder, ComponentsBuilder, ObjectBuilder, OneOfBuilder, Schema, Type,
};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::server::Server;
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    Content, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, RefOr, Required,
};

use super::{Body, Kind, Param, Schemas, of};
use crate::api::error::{ErrorBody, ErrorFields};
use crate::api::routes::{Credential, Described, described};
use linkgate_domain::ids::{DEVICE_ID_PATTERN, USER_ID_PATTERN};

/// The security schemes, by the names operations refer to them by.
const BACKEND: &str = "backend";
const DEVICE: &str = "device";
const APP: &str = "app";
const ADOBE_V1_SIGNATURE: &str = "adobeV1Signature";

/// The OpenAPI description of every route the gateway answers, admin listener included.
pub fn document() -> OpenApi {
    let mut schemas = Schemas::new();
    let mut paths = PathsBuilder::new();
    let mut ids = BTreeSet::new();
    for route in described() {
        let operation = operation(&route, &mut schemas, &mut ids);
        paths = paths.path(
            route.info.path,
            PathItem::new(method(route.info.method), operation),
        );
    }
    for (path, operation) in super::admin::operations() {
        paths = paths.path(path, operation);
    }
    let mut components = ComponentsBuilder::new();
    schemas.sort_by(|a, b| a.0.cmp(&b.0));
    schemas.dedup_by(|a, b| a.0 == b.0);
    components = components.schemas_from_iter(schemas);
    let mut components = components.build();
    components.add_security_schemes_from_iter(security_schemes());
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("linkgate")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Device linking and TV-Everywhere entitlements in four dialects (native, \
                     Matchmaker, Adobe Pass REST API v1 and v2) and OAuth 2.0, answered by the \
                     gateway's API listener; health, readiness and metrics on its admin \
                     listener.",
                ))
                .build(),
        )
        .servers(Some([Server::new("/")]))
        .paths(paths.build())
        .components(Some(components))
        .tags(Some(TAGS.iter().map(|(name, about)| {
            TagBuilder::new()
                .name(*name)
                .description(Some(*about))
                .build()
        })))
        .build()
}

/// The document as `docs/openapi.json` holds it and the admin listener serves it.
pub fn document_json() -> String {
    let mut document = serde_json::to_value(document()).expect("the document serialises");
    spell_links(&mut document);
    let mut text = serde_json::to_string_pretty(&document).expect("the document serialises");
    text.push('\n');
    text
}

/// utoipa 5 writes a link's `operationId` and `requestBody` in snake case, which no OpenAPI
/// tool reads: they are renamed in every answer's links.
fn spell_links(document: &mut serde_json::Value) {
    let operations = document["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(serde_json::Value::as_object_mut)
        .flat_map(|item| item.values_mut());
    let links = operations
        .filter_map(|operation| operation.get_mut("responses")?.as_object_mut())
        .flat_map(|responses| responses.values_mut())
        .filter_map(|response| response.get_mut("links")?.as_object_mut())
        .flat_map(|links| links.values_mut())
        .filter_map(serde_json::Value::as_object_mut);
    for link in links {
        for (from, to) in [
            ("operation_id", "operationId"),
            ("request_body", "requestBody"),
        ] {
            if let Some(value) = link.remove(from) {
                link.insert(to.to_owned(), value);
            }
        }
    }
}

const TAGS: &[(&str, &str)] = &[
    ("native", "The native API: JSON, camelCase, RFC 3339 times."),
    (
        "matchmaker",
        "The Matchmaker dialect: snake_case parameters and answers.",
    ),
    (
        "adobe-v1",
        "Adobe Pass REST API v1: epoch-millisecond times, JSON or XML.",
    ),
    (
        "adobe-v2",
        "Adobe Pass REST API v2: registered apps, sessions, profiles, decisions.",
    ),
    (
        "oauth",
        "OAuth 2.0: the device authorization grant, tokens, client registration.",
    ),
    (
        "activation",
        "The pages a person signs in on, and the identity providers' callbacks.",
    ),
    (
        "admin",
        "The admin listener: health, readiness, metrics, this document.",
    ),
];

fn tag(name: &str) -> &'static str {
    match name {
        n if n.starts_with("native_") => "native",
        n if n.starts_with("matchmaker_") => "matchmaker",
        n if n.starts_with("adobe_v2_register") || n.starts_with("adobe_v2_token") => "adobe-v2",
        "adobe_v2_authenticate" => "activation",
        n if n.starts_with("adobe_v2_") => "adobe-v2",
        "adobe_authenticate" => "activation",
        n if n.starts_with("adobe_") => "adobe-v1",
        n if n.starts_with("oauth_") => "oauth",
        _ => "activation",
    }
}

fn method(name: &str) -> HttpMethod {
    match name {
        "GET" => HttpMethod::Get,
        "POST" => HttpMethod::Post,
        "DELETE" => HttpMethod::Delete,
        other => unreachable!("the route table has no {other} routes"),
    }
}

fn security_schemes() -> [(&'static str, SecurityScheme); 4] {
    let bearer = |about: &str| {
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.description = Some(about.to_owned());
        SecurityScheme::Http(http)
    };
    [
        (
            BACKEND,
            bearer(
                "The requestor's backend: a registered backend client's access token \
                 (POST /oauth/{requestor}/token, client_credentials), or the requestor's API \
                 key; from the requestor's backend allow-list.",
            ),
        ),
        (
            DEVICE,
            bearer(
                "A device's own access token (POST /oauth/{requestor}/token with the device \
                 code, then refresh_token), for calls about that device only.",
            ),
        ),
        (
            APP,
            bearer(
                "An Adobe v2 app's access token (POST /o/client/token), for the requestor \
                 that registered it.",
            ),
        ),
        (
            ADOBE_V1_SIGNATURE,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "An Adobe v1 app's signed call: `<METHOD> requestor_id=…, nonce=…, \
                 signature_method=HMAC-SHA1, request_time=…, request_uri=…, public_key=…, \
                 signature=…`, for the requestor whose key signed it; stands where the \
                 backend does on the Adobe v1 routes.",
            ))),
        ),
    ]
}

/// Who may call: each requirement alone is enough; an empty one lets anyone in.
fn security(route: &Described) -> Option<Vec<SecurityRequirement>> {
    let one = |name: &str| SecurityRequirement::new(name, Vec::<String>::new());
    let signed = || route.adobe_v1.then(|| one(ADOBE_V1_SIGNATURE));
    let mut requirements: Vec<SecurityRequirement> = match route.info.credential {
        Credential::None => return None,
        Credential::WhenLinked => {
            vec![SecurityRequirement::default(), one(DEVICE), one(BACKEND)]
        }
        Credential::Backend => vec![one(BACKEND)],
        Credential::DeviceOrBackend => vec![one(DEVICE), one(BACKEND)],
        Credential::App => vec![one(APP), one(DEVICE)],
        Credential::AppForDevice => vec![one(APP), one(DEVICE)],
    };
    requirements.extend(signed());
    Some(requirements)
}

/// What a path parameter holds.
fn path_parameter(name: &str) -> &'static str {
    match name {
        "requestor" => {
            "The requestor (tenant): its name, or for Adobe v2 its declared requestor ID."
        }
        "device" => "The device's ID: letters, digits, `_`, `-` and `=`, at most 128 characters.",
        "code" => "A code as issued or as shown (case and dashes do not matter).",
        "user" => "The user's ID.",
        "mvpd" => "The MVPD's ID.",
        other => unreachable!("no path parameter {other} in the route table"),
    }
}

fn id(pattern: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
}

/// A path parameter: IDs (never a `/` in a path) as user IDs are written.
fn path_schema(name: &str) -> ObjectBuilder {
    match name {
        "device" | "user" => id(USER_ID_PATTERN),
        _ => ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1)),
    }
}

fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
}

fn param_schema(param: &Param) -> ObjectBuilder {
    match param.kind {
        Kind::Text | Kind::Resource => ObjectBuilder::new().schema_type(Type::String),
        Kind::DeviceId => id(DEVICE_ID_PATTERN),
        Kind::UserId => id(USER_ID_PATTERN),
        Kind::Seconds => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1)),
        Kind::Strings => ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(ObjectBuilder::new().schema_type(Type::String))),
    }
}

/// A body of the parameters' fields, as a form or as JSON.
fn fields_schema(params: &[Param]) -> Schema {
    let mut object = ObjectBuilder::new().schema_type(Type::Object);
    for param in params {
        let field = param_schema(param).description(Some(param.about));
        object = object.property(param.name, field);
        if param.required {
            object = object.required(param.name);
        }
    }
    object.into()
}

fn operation(
    route: &Described,
    schemas: &mut Schemas,
    ids: &mut BTreeSet<String>,
) -> utoipa::openapi::path::Operation {
    let info = &route.info;
    let contract = route.contract;
    let mut id = format!("{}_{}", info.method.to_ascii_lowercase(), info.name);
    if !ids.insert(id.clone()) {
        // The same handler at a second path (an alias): named by the path's last segment.
        let last = info.path.rsplit('/').next().unwrap_or_default();
        id = format!("{id}_{}", last.trim_matches(['{', '}']).replace('.', "_"));
        ids.insert(id.clone());
    }
    let mut op = OperationBuilder::new()
        .operation_id(Some(id))
        .summary(Some(contract.summary))
        .tag(tag(info.name))
        .securities(security(route));
    for name in path_parameters(info.path) {
        let about = path_parameter(name);
        op = op.parameter(parameter(
            name,
            ParameterIn::Path,
            true,
            about,
            path_schema(name),
        ));
    }
    if !info.path.contains("{requestor}") && !route.requestor_in_body {
        let about = "The requestor (its name or declared ID).";
        let schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1));
        op = op.parameter(parameter(
            "requestor",
            ParameterIn::Query,
            true,
            about,
            schema,
        ));
    }
    if info.credential == Credential::AppForDevice {
        let about = "`fingerprint <base64 of the device's ID>`";
        let schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^fingerprint [A-Za-z0-9+/]+=*$"));
        let name = crate::api::adobe_v2::device::HEADER;
        op = op.parameter(parameter(name, ParameterIn::Header, true, about, schema));
    }
    for header in contract.headers {
        op = op.parameter(declared(header, ParameterIn::Header));
    }
    if route.adobe_v1 {
        let about = "`xml` for XML answers (as `Accept: application/xml`).";
        let schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["json", "xml"]));
        op = op.parameter(parameter(
            "format",
            ParameterIn::Query,
            false,
            about,
            schema,
        ));
    }
    let posts = info.method == "POST";
    if posts {
        let content = match contract.body {
            Some(body) => vec![("application/json", Content::new(Some(body(schemas))))],
            None => {
                let fields = fields_schema(contract.params);
                vec![
                    (
                        "application/x-www-form-urlencoded",
                        Content::new(Some(fields.clone())),
                    ),
                    ("application/json", Content::new(Some(fields))),
                ]
            }
        };
        let needed = contract.body.is_some() || contract.params.iter().any(|p| p.required);
        let mut body = RequestBodyBuilder::new().required(Some(required(needed)));
        for (media, content) in content {
            body = body.content(media, content);
        }
        op = op.request_body(Some(body.build()));
    } else {
        for param in contract.params {
            op = op.parameter(declared(param, ParameterIn::Query));
        }
    }
    op.responses(responses(route, schemas)).build()
}

fn required(required: bool) -> Required {
    match required {
        true => Required::True,
        false => Required::False,
    }
}

fn parameter(
    name: &str,
    place: ParameterIn,
    needed: bool,
    about: &str,
    schema: impl Into<RefOr<Schema>>,
) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(place)
        .required(required(needed))
        .description(Some(about))
        .schema(Some(schema))
        .build()
}

/// A parameter a handler declares, in the query or a header.
fn declared(param: &Param, place: ParameterIn) -> Parameter {
    parameter(
        param.name,
        place,
        param.required,
        param.about,
        param_schema(param),
    )
}

/// The OpenAPI link to the call `link` describes.
fn link(link: &super::Link) -> utoipa::openapi::link::Link {
    let mut built = LinkBuilder::new().operation_id(link.operation);
    for (name, value) in link.parameters {
        built = built.parameter(*name, *value);
    }
    if !link.body.is_empty() {
        let body: serde_json::Map<String, serde_json::Value> = link
            .body
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).into()))
            .collect();
        built = built.request_body(Some(body));
    }
    built.build()
}

/// The declared answers, then the refusals every route of this kind can give.
fn responses(route: &Described, schemas: &mut Schemas) -> utoipa::openapi::Responses {
    let first = route.contract.answers.first().map(|a| a.status);
    let declared = route
        .contract
        .answers
        .iter()
        .map(|a| (a.status, a.about, a.body));
    let common = common_refusals(route)
        .into_iter()
        .map(|(status, about)| (status, about, Body::Error));
    let mut taken = BTreeSet::new();
    let mut responses = ResponsesBuilder::new();
    for (status, about, body) in declared.chain(common) {
        if !taken.insert(status) {
            continue;
        }
        let mut response = ResponseBuilder::new().description(about);
        for (media, content) in body_content(route, status, body, schemas) {
            response = response.content(media, content);
        }
        let header = |about: &str| {
            HeaderBuilder::new()
                .schema(string())
                .description(Some(about))
                .build()
        };
        if matches!(body, Body::Redirect) {
            response = response.header("Location", header("Where the browser goes next."));
        }
        if matches!(status, 429 | 503) {
            response = response.header(
                "Retry-After",
                header("Seconds to wait before trying again."),
            );
        }
        if status == 401 {
            response = response.header(
                "WWW-Authenticate",
                header("The scheme to authenticate with."),
            );
        }
        if Some(status) == first {
            for next in route.contract.links {
                response = response.link(next.name, link(next));
            }
        }
        responses = responses.response(status.to_string(), response.build());
    }
    responses.build()
}

fn string() -> Schema {
    ObjectBuilder::new().schema_type(Type::String).into()
}

/// The refusals of every route of the kind `route` is: input, credentials, limits, the
/// store.
fn common_refusals(route: &Described) -> Vec<(u16, &'static str)> {
    let info = &route.info;
    let contract = route.contract;
    let mut refusals = Vec::new();
    if !contract.params.is_empty() || contract.body.is_some() || info.path.contains('{') {
        refusals.push((400, "A parameter is missing or invalid."));
    }
    if info.credential != Credential::None {
        refusals.push((
            401,
            "The credential is missing, invalid, expired or revoked.",
        ));
        refusals.push((
            403,
            "The credential is another device's or another requestor's, or the caller is \
             outside the backend allow-list.",
        ));
    }
    refusals.push((404, "No such requestor, or nothing at this path."));
    if info.method == "POST" {
        refusals.push((413, "The body is over the route's limit."));
        refusals.push((415, "The body is neither JSON nor form-encoded."));
    }
    refusals.push((429, "Over one of the requestor's rate limits."));
    refusals.push((503, "The store cannot answer now."));
    refusals
}

/// Refusals the edge makes before it knows the route's dialect (a path it will not
/// normalise, a body it cannot read) or its requestor (none by that name): the common shape.
fn before_dialect(status: u16) -> bool {
    matches!(status, 400 | 404 | 413)
}

/// The route's error shape for `status`: its dialect's JSON (and v1's XML), or a page.
fn error_content(
    route: &Described,
    status: u16,
    schemas: &mut Schemas,
) -> Vec<(&'static str, Content)> {
    let common = of::<ErrorBody>(schemas);
    if route.page {
        let mut content = vec![("text/html", Content::new(Some(string())))];
        if before_dialect(status) {
            content.push(("application/json", Content::new(Some(common))));
        }
        return content;
    }
    let json = match route.errors {
        ErrorFields::AdobeV2 if before_dialect(status) => {
            let v2 = of::<crate::api::adobe_v2::error::V2Error>(schemas);
            AnyOfBuilder::new().item(v2).item(common.clone()).into()
        }
        ErrorFields::AdobeV2 => of::<crate::api::adobe_v2::error::V2Error>(schemas),
        _ => common,
    };
    let mut content = vec![("application/json", Content::new(Some(json.clone())))];
    if route.adobe_v1 {
        content.push(("application/xml", Content::new(Some(json))));
    }
    content
}

fn body_content(
    route: &Described,
    status: u16,
    body: Body,
    schemas: &mut Schemas,
) -> Vec<(&'static str, Content)> {
    match body {
        Body::Empty | Body::Redirect => Vec::new(),
        Body::Json(schema) => vec![("application/json", Content::new(Some(schema(schemas))))],
        Body::JsonOrXml(schema) => {
            let schema = schema(schemas);
            let mut content = vec![("application/json", Content::new(Some(schema.clone())))];
            if route.adobe_v1 {
                content.push(("application/xml", Content::new(Some(schema))));
            }
            content
        }
        Body::OneOf(types) => {
            let one_of = types.iter().fold(OneOfBuilder::new(), |one_of, schema| {
                one_of.item(schema(schemas))
            });
            vec![("application/json", Content::new(Some(one_of)))]
        }
        Body::Error | Body::Page => error_content(route, status, schemas),
        Body::Svg => vec![("image/svg+xml", Content::new(Some(string())))],
        Body::SamlMetadata => vec![("application/samlmetadata+xml", Content::new(Some(string())))],
    }
}

//! The admin listener's routes, on their own server (`--admin-listen`).

use utoipa::openapi::Content;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::server::{Server, ServerBuilder, ServerVariableBuilder};

/// Every admin path: what it answers, as `text/plain` or JSON.
const ROUTES: &[(&str, &str, &str, &str)] = &[
    (
        "/healthz",
        "healthz",
        "Whether the process serves.",
        "text/plain",
    ),
    (
        "/readyz",
        "readyz",
        "Whether the gateway is ready: its store loaded.",
        "text/plain",
    ),
    (
        "/metrics",
        "metrics",
        "Prometheus metrics, in the text exposition format.",
        "text/plain; version=0.0.4",
    ),
    (
        "/openapi.json",
        "openapi",
        "This document.",
        "application/json",
    ),
];

fn admin_server() -> Server {
    ServerBuilder::new()
        .url("http://{admin}")
        .description(Some("The admin listener (`--admin-listen`)."))
        .parameter(
            "admin",
            ServerVariableBuilder::new().default_value("127.0.0.1:9090"),
        )
        .build()
}

pub(super) fn operations() -> impl Iterator<Item = (&'static str, PathItem)> {
    ROUTES.iter().map(|&(path, id, about, media)| {
        let schema = match media {
            "application/json" => ObjectBuilder::new().schema_type(Type::Object),
            _ => ObjectBuilder::new().schema_type(Type::String),
        };
        let ok = ResponseBuilder::new()
            .description(about)
            .content(media, Content::new(Some(schema)));
        let operation = OperationBuilder::new()
            .operation_id(Some(format!("get_admin_{id}")))
            .summary(Some(about))
            .tag("admin")
            .response("200", ok)
            .build();
        let mut item = PathItem::new(HttpMethod::Get, operation);
        item.servers = Some(vec![admin_server()]);
        (path, item)
    })
}

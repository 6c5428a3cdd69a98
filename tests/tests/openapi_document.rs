//! The OpenAPI document: served by the admin listener as `docs/openapi.json` holds it, and
//! made from the route table, so that every route, method and credential the gateway
//! answers with is in it.

use linkgate_proxy::api::{Credential, route_table};
use linkgate_tests::Gateway;
use serde_json::Value;

const DOCUMENT: &str = include_str!("../../docs/openapi.json");

fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("docs/openapi.json is JSON")
}

#[tokio::test]
async fn the_admin_listener_serves_the_document_the_docs_hold() {
    let gw = Gateway::builtin_demo().await;
    let response = reqwest::get(format!("http://{}/openapi.json", gw.admin))
        .await
        .expect("the admin listener answers");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "served as JSON"
    );
    let served = response.text().await.expect("a body");
    assert!(
        served == DOCUMENT,
        "docs/openapi.json is stale: cargo run -p linkgate-proxy -- openapi > docs/openapi.json"
    );
    // The API listener does not serve it: the description is the operators' to publish.
    let (status, _) = gw.get("/openapi.json", None).await;
    assert_eq!(status, 404);
}

/// The security requirements an operation lists, by scheme name; `None` for no security.
fn schemes(operation: &Value) -> Option<Vec<String>> {
    let requirements = operation.get("security")?.as_array()?;
    Some(
        requirements
            .iter()
            .map(|r| {
                r.as_object()
                    .expect("a requirement is an object")
                    .keys()
                    .next()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect(),
    )
}

#[test]
fn every_method_of_every_route_is_described_with_the_credential_it_takes() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut described = 0;
    for route in route_table() {
        let operation = &doc["paths"][route.path][route.method.to_ascii_lowercase()];
        assert!(
            operation.is_object(),
            "{} {} is not described",
            route.method,
            route.path
        );
        described += 1;
        assert_eq!(operation["summary"], route.summary);
        let adobe_v1 = route.path.starts_with("/api/v1/") || route.path.starts_with("/reggie/");
        let signed = |mut names: Vec<&str>| {
            if adobe_v1 && route.path != "/api/v1/authenticate" {
                names.push("adobeV1Signature");
            }
            Some(names.into_iter().map(str::to_owned).collect::<Vec<_>>())
        };
        let expected = match route.credential {
            Credential::None => None,
            Credential::WhenLinked => signed(vec!["", "device", "backend"]),
            Credential::Backend => signed(vec!["backend"]),
            Credential::DeviceOrBackend => signed(vec!["device", "backend"]),
            Credential::App | Credential::AppForDevice => signed(vec!["app", "device"]),
        };
        assert_eq!(
            schemes(operation),
            expected,
            "{} {}: its security requirements",
            route.method,
            route.path
        );
        let responses = operation["responses"].as_object().expect("responses");
        assert!(
            responses
                .keys()
                .any(|s| s.starts_with('2') || s.starts_with('3')),
            "{} {} documents no success",
            route.method,
            route.path
        );
        // What the edge may answer any call with.
        for status in ["404", "429", "503"] {
            assert!(
                responses.contains_key(status),
                "{} {}: no {status}",
                route.method,
                route.path
            );
        }
        if route.credential != Credential::None {
            assert!(
                responses.contains_key("401") && responses.contains_key("403"),
                "{} {}: a credential is checked, its refusals are documented",
                route.method,
                route.path
            );
        }
        if route.credential == Credential::AppForDevice {
            let parameters = operation["parameters"].as_array().expect("parameters");
            assert!(
                parameters
                    .iter()
                    .any(|p| p["name"] == "AP-Device-Identifier"
                        && p["in"] == "header"
                        && p["required"] == true),
                "{} {}: the device's header",
                route.method,
                route.path
            );
        }
    }
    let admin = ["/healthz", "/readyz", "/metrics", "/openapi.json"];
    for path in admin {
        assert!(doc["paths"][path]["get"].is_object(), "admin {path}");
    }
    let operations: usize = doc["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|item| {
            ["get", "post", "delete", "put", "patch"]
                .iter()
                .filter(|m| item.get(**m).is_some())
                .count()
        })
        .sum();
    assert_eq!(
        operations,
        described + admin.len(),
        "nothing described that the table lacks"
    );
}

#[test]
fn every_schema_an_operation_refers_to_is_in_the_components() {
    let doc = document();
    let text = DOCUMENT;
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let prefix = "\"#/components/schemas/";
    let mut referred = 0;
    for (i, _) in text.match_indices(prefix) {
        let name = &text[i + prefix.len()..];
        let name = &name[..name.find('"').expect("a closing quote")];
        assert!(
            schemas.contains_key(name),
            "{name} is referred to but not defined"
        );
        referred += 1;
    }
    assert!(referred > 0, "answers refer to their schemas");
}

#[test]
fn every_link_leads_to_an_operation_of_the_document() {
    let doc = document();
    let operations: Vec<&Value> = doc["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|item| item.as_object().expect("a path item").values())
        .collect();
    let ids: Vec<&str> = operations
        .iter()
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    let mut links = 0;
    for operation in &operations {
        let Some(responses) = operation["responses"].as_object() else {
            continue;
        };
        for link in responses
            .values()
            .filter_map(|r| r["links"].as_object())
            .flat_map(|l| l.values())
        {
            let target = link["operationId"]
                .as_str()
                .expect("a link names its operation by ID");
            assert!(
                ids.contains(&target),
                "a link leads to {target}, which is not described"
            );
            links += 1;
        }
    }
    // The flows a fuzzer follows: code → link → the device's calls → logout, in each dialect.
    assert!(links >= 20, "only {links} links");
    let code = &doc["paths"]["/v1/requestors/{requestor}/codes"]["post"]["responses"]["201"];
    assert_eq!(
        code["links"]["LinkTheCode"]["requestBody"]["code"],
        "$response.body#/code"
    );
}

/// XML is described only where v1 writes it, under the root its clients read.
#[test]
fn xml_is_described_where_adobe_v1_answers_with_it() {
    let doc = document();
    let content = |path: &str| doc["paths"][path]["get"]["responses"]["200"]["content"].clone();
    let authn = content("/api/v1/tokens/authn");
    assert_eq!(
        authn["application/xml"]["schema"]["$ref"],
        "#/components/schemas/Authentication"
    );
    assert_eq!(
        doc["components"]["schemas"]["Authentication"]["xml"]["name"],
        "authentication"
    );
    // The configuration is JSON whatever the caller asks for; its errors are not.
    let config = content("/api/v1/config/{requestor}");
    assert!(config.get("application/xml").is_none(), "{config}");
    let refused = &doc["paths"]["/api/v1/config/{requestor}"]["get"]["responses"]["404"]["content"];
    assert!(refused.get("application/xml").is_some(), "{refused}");
    // The native API never answers XML.
    let native = content("/v1/requestors/{requestor}/devices/{device}/authn/token");
    assert!(native.get("application/xml").is_none(), "{native}");
}

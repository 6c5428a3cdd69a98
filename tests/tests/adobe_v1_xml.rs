//! Adobe v1's XML answers (`format=xml`, or `Accept: application/xml`), read with roxmltree
//! (not the XML writer the gateway uses) and checked element by element against v1's
//! documented shapes: `<ns2:regcode>` in its namespace, `<authentication>`,
//! `<authorization>`, `<play>`, `<resources>` of `<resource>`, and `<error>`.

use linkgate_tests::{DEMO_KEY, Gateway};

/// Status, content type and body of `path` asked as the backend, with `accept`.
async fn get(gw: &Gateway, path: &str, accept: Option<&str>) -> (u16, String, String) {
    let mut request = gw.http.get(gw.url(path)).bearer_auth(DEMO_KEY);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (status, kind, response.text().await.unwrap())
}

/// The text of each child of `root` named in `names`, after checking the root's name.
fn fields(xml: &str, root: &str, names: &[&str]) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    assert_eq!(doc.root_element().tag_name().name(), root, "{xml}");
    names
        .iter()
        .map(|name| {
            let child = doc
                .root_element()
                .children()
                .find(|c| c.tag_name().name() == *name)
                .unwrap_or_else(|| panic!("<{name}> in {xml}"));
            child.text().unwrap_or_default().to_owned()
        })
        .collect()
}

#[tokio::test]
async fn v1_calls_answer_in_v1_s_xml_shapes_when_asked() {
    let gw = Gateway::demo().await;
    let response = gw
        .http
        .post(gw.url("/reggie/v1/demo/regcode"))
        .form(&[
            ("deviceId", "dGhpc0lkQUR1bW15RGV2aWNlSWQ="),
            ("format", "xml"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    let xml = response.text().await.unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    assert_eq!(
        root.tag_name().namespace(),
        Some("model.mvc.reggie.pass.adobe.com"),
        "{xml}"
    );
    let got = fields(
        &xml,
        "regcode",
        &["id", "code", "requestor", "mvpd", "generated", "expires"],
    );
    assert_eq!(
        (got[2].as_str(), got[3].as_str()),
        ("demo", ""),
        "mvpd present and empty"
    );
    let generated: i64 = got[4].parse().unwrap();
    assert_eq!(
        got[5].parse::<i64>().unwrap() - generated,
        30 * 60 * 1000,
        "epoch ms"
    );
    let info = root.children().find(|c| c.has_tag_name("info")).unwrap();
    let device = info
        .children()
        .find(|c| c.has_tag_name("deviceId"))
        .unwrap();
    assert_eq!(device.text(), Some("dGhpc0lkQUR1bW15RGV2aWNlSWQ="));
    let code = got[1].clone();

    let (status, _, xml) = get(
        &gw,
        &format!("/reggie/v1/demo/regcode/{code}?format=xml"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(fields(&xml, "regcode", &["code"])[0], code);

    gw.linked_device("demo", "tv-1", "alice").await;
    let q = "requestor=demo&deviceId=tv-1";
    let xml_accept = Some("application/xml");
    let (status, _, xml) = get(&gw, &format!("/api/v1/tokens/authn?{q}"), xml_accept).await;
    assert_eq!(status, 200, "{xml}");
    let got = fields(
        &xml,
        "authentication",
        &["userId", "mvpd", "requestor", "expires"],
    );
    assert_eq!(&got[..3], ["alice", "test-mvpd", "demo"]);
    assert!(got[3].parse::<i64>().unwrap() > 0);

    let (status, _, xml) = get(
        &gw,
        &format!("/api/v1/authorize?{q}&resource=news"),
        xml_accept,
    )
    .await;
    assert_eq!(status, 200, "{xml}");
    let got = fields(
        &xml,
        "authorization",
        &["resource", "requestor", "mvpd", "expires"],
    );
    assert_eq!(&got[..3], ["news", "demo", "test-mvpd"]);

    let (status, _, xml) = get(
        &gw,
        &format!("/api/v1/mediatoken?{q}&resource=news&format=xml"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{xml}");
    let got = fields(
        &xml,
        "play",
        &[
            "resource",
            "requestor",
            "userId",
            "mvpdId",
            "serializedToken",
            "expires",
        ],
    );
    assert_eq!(&got[..4], ["news", "demo", "alice", "test-mvpd"]);
    assert!(got[4].len() > 20);

    let (status, _, xml) = get(
        &gw,
        &format!("/api/v1/preauthorize?{q}&resource=news,sports"),
        xml_accept,
    )
    .await;
    assert_eq!(status, 200, "{xml}");
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(doc.root_element().tag_name().name(), "resources");
    let items: Vec<(String, String)> = doc
        .root_element()
        .children()
        .filter(|c| c.has_tag_name("resource"))
        .map(|r| {
            let text = |n: &str| {
                r.children()
                    .find(|c| c.has_tag_name(n))
                    .and_then(|c| c.text())
                    .unwrap_or_default()
                    .to_owned()
            };
            (text("id"), text("authorized"))
        })
        .collect();
    assert_eq!(items.len(), 2, "{xml}");
    assert_eq!(items[0], ("news".to_owned(), "true".to_owned()));

    // Errors too; and JSON stays the default, `format=json` winning over the header.
    let (status, kind, xml) = get(
        &gw,
        "/api/v1/tokens/authn?requestor=demo&deviceId=tv-9",
        xml_accept,
    )
    .await;
    assert_eq!(
        (status, kind.as_str()),
        (404, "application/xml; charset=utf-8")
    );
    let got = fields(&xml, "error", &["status", "message"]);
    assert_eq!(got[0], "404");
    let (_, kind, _) = get(&gw, &format!("/api/v1/tokens/authn?{q}"), None).await;
    assert_eq!(kind, "application/json");
    let (_, kind, _) = get(
        &gw,
        &format!("/api/v1/tokens/authn?{q}&format=json"),
        xml_accept,
    )
    .await;
    assert_eq!(kind, "application/json");
    // The native API keeps JSON whatever is asked.
    let (_, kind, _) = get(
        &gw,
        "/v1/requestors/demo/devices/tv-1/authn?format=xml",
        xml_accept,
    )
    .await;
    assert_eq!(kind, "application/json");
}

//! The Adobe-Pass-style registration code endpoints.

use linkgate_tests::{DEMO_KEY, Gateway};

#[tokio::test]
async fn regcode_create_read_delete() {
    let gw = Gateway::demo().await;
    let (status, created) = gw
        .post_form(
            "/reggie/v1/demo/regcode",
            &[
                ("deviceId", "xbox-7"),
                ("mvpd", "test-mvpd"),
                ("deviceType", "xbox"),
                ("ttl", "120"),
            ],
            None,
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let code = created["code"].as_str().unwrap().to_owned();
    assert_eq!(created["requestor"], "demo");
    assert_eq!(created["mvpd"], "test-mvpd");
    assert_eq!(created["info"]["deviceId"], "xbox-7");
    assert_eq!(created["info"]["deviceType"], "xbox");
    let generated = created["generated"].as_i64().unwrap();
    assert_eq!(created["expires"].as_i64().unwrap() - generated, 120_000);
    assert!(created["id"].as_str().unwrap().len() >= 32);

    let (status, record) = gw
        .get(
            &format!("/reggie/v1/demo/regcode/{}", code.to_lowercase()),
            Some(DEMO_KEY),
        )
        .await;
    assert_eq!(status, 200, "{record}");
    // The record is the created one, less the device secret only the device ever sees.
    let mut created = created;
    let secret = created
        .as_object_mut()
        .unwrap()
        .remove("deviceSecret")
        .expect("the device gets its secret");
    assert!(secret.as_str().unwrap().len() >= 43, "256 bits");
    assert_eq!(record, created);

    let (status, _) = gw
        .delete(&format!("/reggie/v1/demo/regcode/{code}"), Some(DEMO_KEY))
        .await;
    assert_eq!(status, 204);
    let (status, body) = gw
        .get(&format!("/reggie/v1/demo/regcode/{code}"), Some(DEMO_KEY))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("code_not_found"))
    );
    let (status, _) = gw
        .delete(&format!("/reggie/v1/demo/regcode/{code}"), Some(DEMO_KEY))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn regcode_ttl_is_bounded_by_ten_hours() {
    let gw = Gateway::demo().await;
    for ttl in ["0", "36001", "soon"] {
        let (status, body) = gw
            .post_form(
                "/reggie/v1/demo/regcode",
                &[("deviceId", "tv"), ("ttl", ttl)],
                None,
            )
            .await;
        assert_eq!(status, 400, "{ttl}: {body}");
        assert_eq!(body["code"], "invalid_parameter_value");
    }
    let (status, _) = gw
        .post_form(
            "/reggie/v1/demo/regcode",
            &[("deviceId", "tv"), ("ttl", "36000")],
            None,
        )
        .await;
    assert_eq!(status, 201);
}

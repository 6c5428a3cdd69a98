//! An app written for Adobe Pass REST API v2, unchanged: it registers at Adobe's paths with
//! the software statement its programmer was given (`POST /o/client/register`, JSON), takes
//! an access token (`POST /o/client/token`, the client-credentials grant, 201), and reads the
//! service provider's configuration with it. The request and answer shapes are those of
//! Adobe's public REST API v2 pages. Without the token, with another requestor's, or with a
//! backend's, the v2 calls are refused with v2's flat error; the app's token is never the
//! backend's.

use linkgate_tests::adobe_v2_app::{V2App, device_info, register};
use linkgate_tests::{Gateway, TEST_SIGNING_KEY, unthrottled};
use serde_json::{Value, json};

/// The public half of `TEST_SIGNING_KEY`, which signs the statements.
const STATEMENT_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAW0U2wzVlor6p4YqFjUOXOl/haR+g1RP25ftM+DEKTzI=\n-----END PUBLIC KEY-----\n";

/// Requestors `demo` (known to v2 apps as `DemoTV`) and `other`, both registering apps.
fn config() -> String {
    let indent = |pem: &str| -> String { pem.lines().map(|l| format!("      {l}\n")).collect() };
    let clients = "backend: {clients: {softwareStatementKeys: [{name: statements, key: key}]}}";
    unthrottled(&format!(
        "secrets:\n  statements:\n    key: |\n{}requestors:\n\
         \x20 - name: demo\n    spec:\n      displayName: Demo TV\n\
         \x20     mvpds:\n\
         \x20       - {{id: cable-co, displayName: Cable Co, logoUrl: 'https://cdn.cable-co.example/logo.png'}}\n\
         \x20       - {{id: sat-co, displayName: Sat Co}}\n\
         \x20     adobe: {{requestorId: DemoTV, redirectHosts: [www.demo-tv.example]}}\n\
         \x20     {clients}\n\
         \x20 - name: other\n    spec:\n      mvpds: [{{id: cable-co}}]\n      {clients}\n",
        indent(STATEMENT_PUBLIC_KEY)
    ))
}

/// A statement for `requestor`'s app, made with the gateway's `software-statement` command.
fn statement(requestor: &str) -> String {
    statement_signed_with(TEST_SIGNING_KEY, requestor)
}

fn statement_signed_with(key: &str, requestor: &str) -> String {
    linkgate_tests::software_statement(key, requestor, "demo-tv-roku")
}

/// The app registered and holding an access token: `(client_id, access_token)`.
async fn app_token(gw: &Gateway, requestor: &str) -> (String, String) {
    register(gw, &statement(requestor)).await
}

async fn configuration(gw: &Gateway, sp: &str, bearer: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .get(gw.url(&format!("/api/v2/{sp}/configuration")))
        .header("x-device-info", device_info());
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    linkgate_tests::read(request.send().await.unwrap()).await
}

/// v2's enhanced error code, flat at the top level.
fn assert_v2_error(body: &Value, status: u16, code: &str, action: &str) {
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["action"], action, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        body["trace"].as_str().is_some_and(|t| t.len() >= 32),
        "{body}"
    );
}

#[tokio::test]
async fn a_v2_app_registers_takes_its_token_and_reads_the_configuration() {
    let gw = Gateway::with_config(&config()).await;
    let (client_id, token) = app_token(&gw, "demo").await;
    assert!(!client_id.is_empty());

    for sp in ["DemoTV", "demo"] {
        let (status, config) = configuration(&gw, sp, Some(&token)).await;
        assert_eq!(status, 200, "{config}");
        let requestor = &config["requestor"];
        assert_eq!(requestor["id"], "DemoTV");
        assert_eq!(requestor["name"], "Demo TV");
        assert_eq!(
            requestor["domains"],
            json!([{"name": "www.demo-tv.example", "mvpdInitiated": false}])
        );
        let mvpds = requestor["mvpds"].as_array().unwrap();
        assert_eq!(mvpds.len(), 2);
        assert_eq!(mvpds[0]["id"], "cable-co");
        assert_eq!(mvpds[0]["displayName"], "Cable Co");
        assert_eq!(mvpds[0]["logoUrl"], "https://cdn.cable-co.example/logo.png");
        assert_eq!(mvpds[0]["isTempPass"], false);
        assert_eq!(mvpds[1]["id"], "sat-co");
    }
}

#[tokio::test]
async fn without_the_app_s_own_token_v2_calls_are_refused_and_the_token_is_never_the_backend() {
    let gw = Gateway::with_config(&config()).await;
    let (_, demo_app) = app_token(&gw, "demo").await;
    let (_, other_app) = app_token(&gw, "other").await;

    for (what, bearer) in [
        ("no token", None),
        ("another requestor's app", Some(other_app.as_str())),
        ("a made-up token", Some("eyJhbGciOiJIUzI1NiJ9.e30.x")),
    ] {
        let (status, body) = configuration(&gw, "DemoTV", bearer).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_v2_error(
            &body,
            401,
            "invalid_access_token_client_application",
            "application-registration",
        );
    }
    // Every call that takes an app's token, with another tenant's app's token.
    let app_routes = linkgate_proxy::api::route_table().filter(|r| {
        use linkgate_proxy::api::Credential::{App, AppForDevice};
        matches!(r.credential, App | AppForDevice)
    });
    for route in app_routes {
        let path = route
            .path
            .replace("{requestor}", "DemoTV")
            .replace("{code}", "BCDFGHJK")
            .replace("{mvpd}", "cable-co");
        let request = reqwest::Client::new()
            .request(route.method.parse().unwrap(), gw.url(&path))
            .bearer_auth(&other_app)
            .header("ap-device-identifier", "fingerprint dHYtMQ==")
            .json(&json!({"resources": ["news"]}));
        let (status, body) = linkgate_tests::read(request.send().await.unwrap()).await;
        assert_eq!(status, 401, "{} {path}: {body}", route.method);
        assert_v2_error(
            &body,
            401,
            "invalid_access_token_client_application",
            "application-registration",
        );
    }
    let (status, body) = configuration(&gw, "NoSuchProvider", Some(&demo_app)).await;
    assert_eq!(status, 404, "{body}");
    assert_v2_error(&body, 404, "unknown_requestor", "none");

    // The app's token, shared by every copy of the app, is not the backend's.
    let (status, _) = gw
        .post_json(
            "/v1/requestors/demo/links",
            json!({"code": "ABCD1234", "userId": "mallory"}),
            Some(&demo_app),
        )
        .await;
    assert_eq!(status, 401, "the app's token on a backend call");

    // Registration and token calls that cannot stand.
    let http = reqwest::Client::new();
    let (status, body) = linkgate_tests::read(
        http.post(gw.url("/o/client/register"))
            .json(&json!({"software_statement": statement("nobody")}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("unknown_requestor")),
        "{body}"
    );
    let (client_id, _) = app_token(&gw, "demo").await;
    let (status, body) = linkgate_tests::read(
        http.post(gw.url("/o/client/token"))
            .form(&[
                ("client_id", client_id.as_str()),
                ("client_secret", "not-the-secret"),
                ("grant_type", "client_credentials"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
}

/// The demo, known to v2 apps as `DemoTV`, its programmer's site on `www.demo-tv.example`,
/// and a content route `/news` whose media tokens the edge checks.
async fn demo(origin: &linkgate_tests::origin::Origin) -> Gateway {
    Gateway::with_config(&demo_config(
        origin,
        &linkgate_tests::free_port().to_string(),
    ))
    .await
}

fn demo_config(origin: &linkgate_tests::origin::Origin, test_mvpd: &str) -> String {
    let adobe = "      adobe: {requestorId: DemoTV, redirectHosts: [www.demo-tv.example]}\n";
    let routes = format!(
        "      routes:\n        - {{prefix: /news, upstream: {{host: 127.0.0.1, port: {}}}, resource: news}}\n",
        origin.addr.port()
    );
    let config = linkgate_tests::DEMO_YAML
        .replace("127.0.0.1:8081", test_mvpd)
        .replace("    spec:\n", &format!("    spec:\n{adobe}{routes}"));
    unthrottled(&config)
}

const DEMO_STATEMENT_KEY: &str = include_str!("../../proxy/src/config/demo-statement-key.pem");
const BACK: &str = "https://www.demo-tv.example/activated";

#[tokio::test]
async fn a_v2_app_walks_sessions_the_second_screen_profiles_decisions_and_logout() {
    let origin = linkgate_tests::origin::Origin::start("news-origin").await;
    let gw = demo(&origin).await;
    let (_, token) = register(&gw, &statement_signed_with(DEMO_STATEMENT_KEY, "demo")).await;
    let app = V2App::new(&gw, "DemoTV", token, "roku-2f9c41d7");

    // A session missing its return address: the app is told to resume on the second screen.
    let partial = app.session(&[("mvpd", "test-mvpd")]).await;
    assert_eq!(partial["actionName"], "resume", "{partial}");
    assert_eq!(partial["actionType"], "direct");
    assert_eq!(
        partial["missingParameters"],
        json!(["domain", "redirectUrl"])
    );
    let code = partial["code"].as_str().unwrap().to_owned();
    assert_eq!(partial["url"], format!("/api/v2/DemoTV/sessions/{code}"));
    assert_eq!(partial["serviceProvider"], "DemoTV");
    assert!(partial["notBefore"].as_i64().unwrap() < partial["notAfter"].as_i64().unwrap());

    // The second screen (the programmer's site) reads the session, then completes it.
    let (status, held) = app.get(&format!("/api/v2/DemoTV/sessions/{code}")).await;
    assert_eq!(status, 200, "{held}");
    assert_eq!(held["existingParameters"]["mvpd"], "test-mvpd");
    assert_eq!(held["device"]["type"], "Roku 4802X", "from X-Device-Info");
    let resume = |form: Vec<(&'static str, &'static str)>| {
        let request = reqwest::Client::new()
            .post(gw.url(&format!("/api/v2/DemoTV/sessions/{code}")))
            .bearer_auth(&app.token)
            .form(&form);
        app.send(request)
    };
    let (status, retry) = resume(vec![("domainName", "www.demo-tv.example")]).await;
    assert_eq!(
        (status, retry["actionName"].as_str()),
        (200, Some("retry")),
        "{retry}"
    );
    assert_eq!(retry["missingParameters"], json!(["redirectUrl"]));
    let (status, ready) = resume(vec![
        ("domainName", "www.demo-tv.example"),
        ("redirectUrl", BACK),
    ])
    .await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["actionName"], "authenticate");
    assert_eq!(ready["actionType"], "interactive");
    let url = ready["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("/api/v2/authenticate/DemoTV/{code}")),
        "{url}"
    );

    // The person opens it: our confirmation page, naming the device, then the MVPD, then
    // back to the programmer's site.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser.get(gw.url(url)).send().await.unwrap();
    let html = browser
        .get(gw.url(url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Roku 4802X") && html.contains(&code),
        "{html}"
    );
    let to_provider = gw.confirm(&browser, page, "test-mvpd").await;
    assert_eq!(to_provider.status(), 303);
    let at = to_provider.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let back = linkgate_tests::test_mvpd_sign_in(&browser, &at, "alice").await;
    assert_eq!(back.status(), 303);
    assert_eq!(back.headers()["location"], BACK);

    // The second screen sees the profile by its code; the device by its identifier.
    let (status, by_code) = app
        .get(&format!("/api/v2/DemoTV/profiles/code/{code}"))
        .await;
    assert_eq!(status, 200, "{by_code}");
    let profile = &by_code["profiles"]["test-mvpd"];
    assert_eq!(
        profile["attributes"]["userID"],
        json!({"value": "alice", "state": "plain"})
    );
    assert_eq!(profile["issuer"], "test-mvpd");
    assert_eq!(profile["type"], "regular");
    assert!(profile["notBefore"].as_i64().unwrap() < profile["notAfter"].as_i64().unwrap());
    for path in [
        "/api/v2/DemoTV/profiles",
        "/api/v2/DemoTV/profiles/test-mvpd",
    ] {
        let (status, own) = app.get(path).await;
        assert_eq!(
            (status, &own["profiles"]["test-mvpd"]),
            (200, profile),
            "{path}"
        );
    }
    let (_, elsewhere) = app.get("/api/v2/DemoTV/profiles/test-mvpd-saml").await;
    assert_eq!(elsewhere, json!({"profiles": {}}));

    // Authenticated now: a new session goes straight to the decisions.
    let again = app.session(&[("mvpd", "test-mvpd")]).await;
    assert_eq!(
        (again["actionName"].as_str(), again["reasonType"].as_str()),
        (Some("authorize"), Some("authenticated"))
    );

    let (status, decided) = app
        .decide("authorize", "test-mvpd", json!(["news", "sports"]))
        .await;
    assert_eq!(status, 200, "{decided}");
    let decisions = decided["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 2);
    for (decision, resource) in decisions.iter().zip(["news", "sports"]) {
        assert_eq!(decision["resource"], resource);
        assert_eq!(decision["authorized"], true);
        assert_eq!(decision["source"], "mvpd");
        assert_eq!(decision["serviceProvider"], "DemoTV");
        assert_eq!(decision["mvpd"], "test-mvpd");
    }
    // The news token plays through the edge.
    let news = decisions[0]["token"]["serializedToken"].as_str().unwrap();
    let (status, _, _) =
        linkgate_tests::raw_get(gw.api, "/news/1.ts", &[("X-Media-Token", news)]).await;
    assert_eq!(status, 200, "the edge takes the v2 decision's token");
    let sports = decisions[1]["token"]["serializedToken"].as_str().unwrap();
    let (status, _, _) =
        linkgate_tests::raw_get(gw.api, "/news/1.ts", &[("X-Media-Token", sports)]).await;
    assert_eq!(status, 403, "a token for another resource");

    let (status, pre) = app
        .decide("preauthorize", "test-mvpd", json!(["news"]))
        .await;
    assert_eq!(status, 200, "{pre}");
    assert_eq!(pre["decisions"][0]["authorized"], true);
    assert!(pre["decisions"][0].get("token").is_none());
    let many: Vec<String> = (0..6).map(|i| format!("r{i}")).collect();
    let (status, body) = app.decide("preauthorize", "test-mvpd", json!(many)).await;
    assert_eq!(status, 403, "{body}");
    assert_v2_error(&body, 403, "too_many_resources", "configuration");

    // Refusals in v2's words.
    let anonymous = reqwest::Client::new()
        .get(gw.url("/api/v2/DemoTV/profiles"))
        .bearer_auth(&app.token);
    let (status, body) = app.send(anonymous).await;
    assert_eq!(status, 400);
    assert_v2_error(&body, 400, "invalid_header_device_identifier", "none");
    let (status, body) = app.get("/api/v2/DemoTV/sessions/ZZZZZZZZ").await;
    assert_eq!(status, 400);
    assert_v2_error(&body, 400, "invalid_authentication_session", "none");

    // Logout ends it.
    let logout = format!("/api/v2/DemoTV/logout/test-mvpd?redirectUrl={BACK}");
    let (status, out) = app.get(&logout).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        out["logouts"]["test-mvpd"],
        json!({"actionName": "complete", "actionType": "none", "mvpd": "test-mvpd"})
    );
    let (_, none) = app.get("/api/v2/DemoTV/profiles").await;
    assert_eq!(none, json!({"profiles": {}}));
    let (status, body) = app.decide("authorize", "test-mvpd", json!(["news"])).await;
    assert_eq!(status, 403, "{body}");
    assert_v2_error(
        &body,
        403,
        "authenticated_profile_missing",
        "authentication",
    );
}

#[tokio::test]
async fn under_an_authn_all_rule_a_v2_app_is_let_in_and_told_it_is_degraded() {
    let origin = linkgate_tests::origin::Origin::start("news-origin").await;
    let test_mvpd = linkgate_tests::free_port().to_string();
    let normal = demo_config(&origin, &test_mvpd);
    let mut gw = Gateway::with_config(&normal).await;
    let (_, token) = register(&gw, &statement_signed_with(DEMO_STATEMENT_KEY, "demo")).await;
    let device = "never-signed-in";
    let form = [
        ("mvpd", "test-mvpd"),
        ("domainName", "www.demo-tv.example"),
        ("redirectUrl", BACK),
    ];

    // The MVPD's sign-in is down: every device counts as authenticated there.
    let degraded = normal.replace(
        "          displayName: Test TV Provider\n",
        "          displayName: Test TV Provider\n          degradation: {rule: authnAll}\n",
    );
    assert_ne!(degraded, normal);
    gw.write_config(&degraded);
    gw.hangup();
    let app = V2App::new(&gw, "DemoTV", token, device);
    let session = linkgate_tests::kube::eventually("the rule in force", async || {
        let session = app.session(&form).await;
        (session["actionName"] == "authorize").then_some(session)
    })
    .await;
    assert_eq!(session["reasonType"], "degraded", "{session}");
    let (_, profiles) = app.get("/api/v2/DemoTV/profiles/test-mvpd").await;
    let profile = &profiles["profiles"]["test-mvpd"];
    assert_eq!(
        (profile["type"].as_str(), profile["issuer"].as_str()),
        (Some("degraded"), Some("linkgate"))
    );
    assert!(
        profile["attributes"].get("userID").is_none(),
        "nobody signed in"
    );
    let (status, decided) = app.decide("authorize", "test-mvpd", json!(["news"])).await;
    assert_eq!(status, 200, "{decided}");
    let decision = &decided["decisions"][0];
    assert_eq!(
        (
            decision["authorized"].as_bool(),
            decision["source"].as_str()
        ),
        (Some(true), Some("degradation"))
    );
    let token = decision["token"]["serializedToken"].as_str().unwrap();
    let (status, _, _) =
        linkgate_tests::raw_get(gw.api, "/news/1.ts", &[("X-Media-Token", token)]).await;
    assert_eq!(status, 200);

    // Lifted: the device must sign in again.
    gw.write_config(&normal);
    gw.hangup();
    let session = linkgate_tests::kube::eventually("the rule lifted", async || {
        let session = app.session(&form).await;
        (session["actionName"] == "authenticate").then_some(session)
    })
    .await;
    assert_eq!(session["reasonType"], "none");
    let (_, profiles) = app.get("/api/v2/DemoTV/profiles").await;
    assert_eq!(profiles, json!({"profiles": {}}));
}

#[tokio::test]
async fn a_session_made_whole_keeps_its_return_address_for_the_second_screen() {
    let origin = linkgate_tests::origin::Origin::start("news-origin").await;
    let gw = demo(&origin).await;
    let (_, token) = register(&gw, &statement_signed_with(DEMO_STATEMENT_KEY, "demo")).await;
    let app = V2App::new(&gw, "DemoTV", token, "bedroom-tv-77");
    let made = app
        .session(&[
            ("mvpd", "test-mvpd"),
            ("domainName", "www.demo-tv.example"),
            ("redirectUrl", BACK),
        ])
        .await;
    assert_eq!(made["actionName"], "authenticate", "{made}");
    let code = made["code"].as_str().unwrap().to_owned();

    // The programmer's site reads the session by its code: everything is there.
    let (status, held) = app.get(&format!("/api/v2/DemoTV/sessions/{code}")).await;
    assert_eq!(status, 200, "{held}");
    assert_eq!(
        held["existingParameters"],
        json!({"serviceProvider": "DemoTV", "mvpd": "test-mvpd",
               "domain": "www.demo-tv.example", "redirectUrl": BACK})
    );
    assert!(held.get("missingParameters").is_none(), "{held}");

    // It opens the sign-in by the code alone; the person comes back to the site.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let by_code = format!("/api/v2/authenticate/DemoTV/{code}");
    let page = browser.get(gw.url(&by_code)).send().await.unwrap();
    let to_provider = gw.confirm(&browser, page, "test-mvpd").await;
    assert_eq!(to_provider.status(), 303);
    let at = to_provider.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let back = linkgate_tests::test_mvpd_sign_in(&browser, &at, "carol").await;
    assert_eq!(back.status(), 303);
    assert_eq!(back.headers()["location"], BACK);
}

//! TempPass, as a v2 app meets it: at an MVPD marked `tempPass`, a session lets the device
//! straight in (`reasonType: temporary`), its profile is `temporary`, its decisions come
//! from `temppass` with media tokens the edge takes, and the native dialect answers the
//! same. Once the window ends it stays spent — across `kill -9`, in the file store, in
//! PostgreSQL and in Kubernetes mode (where another proxy takes over) — until the
//! requestor's backend resets it; every other device keeps its own window.

use linkgate_tests::adobe_v2_app::{V2App, device_id, register};
use linkgate_tests::origin::Origin;
use linkgate_tests::{DEMO_KEY, Gateway, unthrottled};
use serde_json::{Value, json};

/// Long enough for the calls made inside the window on a busy machine, short enough to
/// wait out.
const WINDOW_SECONDS: i64 = 6;
const SPENT: &str = "temporary_access_duration_limit_exceeded";

/// The demo with a TempPass MVPD beside its test MVPD, and a content route `/news` whose
/// media tokens the edge checks.
fn demo_config(origin: &Origin, store: &str) -> String {
    let temp_pass = format!(
        "        - id: free-preview\n          displayName: Free preview\n\
         \x20         tempPass: {{durationSeconds: {WINDOW_SECONDS}}}\n\
         \x20         decision: {{allow: ['*']}}\n\
         \x20       - {{id: sports-preview, tempPass: {{durationSeconds: 600}}, decision: {{allow: [sports]}}}}\n"
    );
    let routes = format!(
        "      routes:\n        - {{prefix: /news, upstream: {{host: 127.0.0.1, port: {}}}, resource: news}}\n",
        origin.addr.port()
    );
    let adobe = "      adobe: {redirectHosts: [www.demo-tv.example]}\n";
    let config = linkgate_tests::DEMO_YAML
        .replace("127.0.0.1:8081", &linkgate_tests::free_port().to_string())
        .replace("      mvpds:\n", &format!("      mvpds:\n{temp_pass}"))
        .replace("    spec:\n", &format!("    spec:\n{adobe}{routes}"))
        .replace("store:\n  backend: file\n  dataDir: linkgate-data\n", store)
        .replace(
            "secrets:\n",
            "codeKeySecretRef: {name: codes, key: key}\nsecrets:\n  codes: {key: one-key-shared-by-every-proxy-of-this-test}\n",
        );
    unthrottled(&config)
}

/// Where the app sends people back to after a logout.
const BACK: &str = "https%3A%2F%2Fwww.demo-tv.example%2F";

const DEMO_STATEMENT_KEY: &str = include_str!("../../proxy/src/config/demo-statement-key.pem");

/// The demo's v2 app on `device`.
async fn app(gw: &Gateway, sp: &str, device: &str) -> V2App {
    let statement = linkgate_tests::software_statement(DEMO_STATEMENT_KEY, "demo", "tv-app");
    let (_, token) = register(gw, &statement).await;
    V2App::new(gw, sp, token, device)
}

/// `POST /api/v2/{sp}/sessions` at the TempPass MVPD: status and answer.
async fn session(app: &V2App, sp: &str) -> (u16, Value) {
    let path = format!("/api/v2/{sp}/sessions");
    let request = app
        .request(reqwest::Method::POST, &path)
        .form(&[("mvpd", "free-preview")]);
    app.send(request).await
}

/// The device's temporary profile (its window), if it has one.
async fn temporary_profile(app: &V2App, sp: &str) -> Option<Value> {
    let (status, body) = app.get(&format!("/api/v2/{sp}/profiles")).await;
    assert_eq!(status, 200, "{body}");
    body["profiles"].get("free-preview").cloned()
}

/// The window is open: the session lets the device in, the profile says for how long, the
/// decision is TempPass's with a media token the edge takes, and the native and v1 dialects
/// authorize the same device. Returns the window's start.
async fn inside_the_window(gw: &Gateway, app: &V2App, sp: &str, device: &str) -> i64 {
    let (status, opened) = session(app, sp).await;
    assert_eq!(status, 200, "{opened}");
    assert_eq!(
        (opened["actionName"].as_str(), opened["reasonType"].as_str()),
        (Some("authorize"), Some("temporary")),
        "{opened}"
    );
    assert_eq!(
        opened["url"],
        format!("/api/v2/{sp}/decisions/authorize/free-preview")
    );
    let profile = temporary_profile(app, sp)
        .await
        .expect("a temporary profile");
    assert_eq!(profile["type"], "temporary", "{profile}");
    assert_eq!(profile["issuer"], "linkgate");
    let (start, end) = (profile["notBefore"].as_i64(), profile["notAfter"].as_i64());
    let (start, end) = (start.unwrap(), end.unwrap());
    assert_eq!(end - start, WINDOW_SECONDS * 1000, "{profile}");
    assert_eq!(
        profile["attributes"]["expiration_date"]["value"],
        end.to_string()
    );
    assert!(
        profile["attributes"].get("userID").is_none(),
        "nobody signed in"
    );

    let (status, decided) = app
        .decide("authorize", "free-preview", json!(["news"]))
        .await;
    assert_eq!(status, 200, "{decided}");
    let decision = &decided["decisions"][0];
    assert_eq!(
        (
            decision["authorized"].as_bool(),
            decision["source"].as_str()
        ),
        (Some(true), Some("temppass")),
        "{decision}"
    );
    let token = decision["token"]["serializedToken"].as_str().unwrap();
    let (status, _, _) =
        linkgate_tests::raw_get(gw.api, "/news/1.ts", &[("X-Media-Token", token)]).await;
    assert_eq!(status, 200, "the edge takes the window's media token");

    // The native dialect answers the same decision for the same device.
    let id = device_id(device);
    let native = format!("/v1/requestors/demo/devices/{id}/authorize?resource=news");
    let (status, body) = gw.get(&native, Some(DEMO_KEY)).await;
    assert_eq!(status, 200, "{body}");
    // Its decision is remembered for the device, as a signed-in user's is.
    let authz = format!("/v1/requestors/demo/devices/{id}/authz?resource=news");
    let (status, body) = gw.get(&authz, Some(DEMO_KEY)).await;
    assert_eq!(status, 200, "{body}");
    // And so does v1's.
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("requestor", "demo"),
            ("deviceId", &id),
            ("resource", "news"),
        ])
        .finish();
    let (status, body) = gw
        .get(&format!("/api/v1/authorize?{query}"), Some(DEMO_KEY))
        .await;
    assert_eq!(status, 200, "{body}");
    start
}

/// Waits out the window: then the session is refused with v2's flat error, decisions are
/// refused one by one inside a 200, and the profile is gone.
async fn after_the_window(app: &V2App, sp: &str) {
    let refused = linkgate_tests::kube::eventually("the window over", async || {
        let (status, body) = session(app, sp).await;
        (status != 200).then_some((status, body))
    })
    .await;
    assert_spent(&refused.1);
    assert_eq!(refused.0, 403);
    let (status, decided) = app
        .decide("authorize", "free-preview", json!(["news", "sports"]))
        .await;
    assert_eq!(status, 200, "{decided}");
    for decision in decided["decisions"].as_array().unwrap() {
        assert_eq!(decision["authorized"], false, "{decision}");
        assert_eq!(decision["source"], "temppass");
        assert_spent(&decision["error"]);
    }
    assert_eq!(temporary_profile(app, sp).await, None);
}

fn assert_spent(error: &Value) {
    assert_eq!(
        (
            error["status"].as_u64(),
            error["code"].as_str(),
            error["action"].as_str()
        ),
        (Some(403), Some(SPENT), Some("authentication")),
        "{error}"
    );
}

/// The backend's reset: refused to strangers and other tenants' keys; 204 once, 404 after.
async fn reset(gw: &Gateway, device: &str) {
    let id = device_id(device);
    let path = format!("/v1/requestors/demo/devices/{id}/temp-passes/free-preview");
    for stranger in [None, Some("another-tenant-s-key")] {
        let (status, body) = gw.delete(&path, stranger).await;
        assert_eq!(status, 401, "{body}");
    }
    let (status, body) = gw.delete(&path, Some(DEMO_KEY)).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = gw.delete(&path, Some(DEMO_KEY)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("temp_pass_not_found"))
    );
    let unknown = format!("/v1/requestors/demo/devices/{id}/temp-passes/test-mvpd");
    let (status, _) = gw.delete(&unknown, Some(DEMO_KEY)).await;
    assert_eq!(status, 404, "not a TempPass MVPD");
}

/// The whole life of one device's window on `gw`'s store, with `kill -9` inside the window
/// and after it.
async fn spent_once_kept_across_kill_9_until_reset(gw: &mut Gateway) {
    let sp = "demo";
    let device = "tp-tv-1";
    let tv = app(gw, sp, device).await;
    let (status, config) = tv.get(&format!("/api/v2/{sp}/configuration")).await;
    assert_eq!(status, 200, "{config}");
    let flags: Vec<(&str, bool)> = config["requestor"]["mvpds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap(),
                m["isTempPass"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(flags.contains(&("free-preview", true)), "{flags:?}");
    assert!(flags.contains(&("test-mvpd", false)), "{flags:?}");

    let start = inside_the_window(gw, &tv, sp, device).await;
    gw.restart().await;
    let kept = temporary_profile(&tv, sp).await.expect("the window kept");
    assert_eq!(kept["notBefore"], start, "the same window, not a new one");

    after_the_window(&tv, sp).await;
    gw.restart().await;
    let (status, body) = session(&tv, sp).await;
    assert_eq!(status, 403, "still spent after kill -9: {body}");

    // Another device has a window of its own.
    let other = app(gw, sp, "tp-tv-2").await;
    let (status, body) = session(&other, sp).await;
    assert_eq!(
        (status, body["reasonType"].as_str()),
        (200, Some("temporary"))
    );

    reset(gw, device).await;
    let (status, body) = session(&tv, sp).await;
    assert_eq!(
        (status, body["reasonType"].as_str()),
        (200, Some("temporary")),
        "a new window after the reset: {body}"
    );
}

#[tokio::test]
async fn a_temp_pass_is_spent_once_and_kept_across_kill_9_in_the_file_store() {
    let origin = Origin::start("news-origin").await;
    let store = "store:\n  backend: file\n  dataDir: linkgate-data\n";
    let mut gw = Gateway::with_config(&demo_config(&origin, store)).await;
    spent_once_kept_across_kill_9_until_reset(&mut gw).await;
}

#[tokio::test]
async fn a_temp_pass_is_spent_once_and_kept_across_kill_9_in_postgresql() {
    let origin = Origin::start("news-origin").await;
    let url = linkgate_tests::postgres::fresh_database("temppass").await;
    let env = vec![("LINKGATE_DATABASE_URL".to_owned(), url.into())];
    let store = "store: {backend: postgres}\n";
    let mut gw = Gateway::with_config_env(&demo_config(&origin, store), env).await;
    spent_once_kept_across_kill_9_until_reset(&mut gw).await;

    // Eight calls opening one device's window at once: one window, every call let in.
    let racer = app(&gw, "demo", "tp-tv-race").await;
    let answers = futures::future::join_all((0..8).map(|_| session(&racer, "demo"))).await;
    for (status, body) in answers {
        assert_eq!(
            (status, body["reasonType"].as_str()),
            (200, Some("temporary")),
            "{body}"
        );
    }
    assert!(temporary_profile(&racer, "demo").await.is_some());
}

#[tokio::test]
async fn a_logout_ends_the_window_for_good() {
    let origin = Origin::start("news-origin").await;
    let store = "store:\n  backend: file\n  dataDir: linkgate-data\n";
    let gw = Gateway::with_config(&demo_config(&origin, store)).await;
    let tv = app(&gw, "demo", "tp-tv-3").await;
    let (status, _) = session(&tv, "demo").await;
    assert_eq!(status, 200);
    let logout = format!("/api/v2/demo/logout/free-preview?redirectUrl={BACK}");
    let (status, body) = tv.get(&logout).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["logouts"]["free-preview"]["actionName"], "complete");
    assert_eq!(temporary_profile(&tv, "demo").await, None);
    let (status, body) = session(&tv, "demo").await;
    assert_eq!(status, 403, "a logout never gives a second window");
    assert_spent(&body);
    // Nothing is left to end.
    let (_, body) = tv.get(&logout).await;
    assert_eq!(body["logouts"]["free-preview"]["actionName"], "invalid");
}

/// The demo's statement key, as `demo.yaml` holds it: apps register with the statements
/// its private half signs.
const DEMO_STATEMENT_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA3VC6g0yxCgyvTfGVi7ABUl5r6Knv95QhjhLeYeIC+a0=\n-----END PUBLIC KEY-----\n";

const PROXY_ROLE: &str = include_str!("../../charts/linkgate/rbac/proxy-role.yaml");

/// The Requestor as a platform team writes it for kubectl: a TempPass MVPD, its backend's
/// key and the key of its apps' statements in Secrets.
const REQUESTOR_YAML: &str = "apiVersion: linkgate.dev/v1alpha1
kind: Requestor
metadata:
  name: demo
spec:
  mvpds:
    - id: free-preview
      displayName: Free preview
      tempPass:
        durationSeconds: 6
      decision:
        allow: ['*']
  throttling:
    perClientIp: {disabled: true}
  backend:
    apiKeySecretRef: {name: demo.backend, key: apiKey}
    clients:
      softwareStatementKeys:
        - {name: demo.statements, key: public.pem}
";

/// The spec of the one DeviceLink in `ns`, as `kubectl get -o json` shows it.
fn device_link_spec(ns: &str) -> Value {
    let kubeconfig = linkgate_tests::kube::kubeconfig();
    let args = ["get", "devicelinks", "-n", ns, "-o", "json"];
    let (ok, listed) = linkgate_tests::kube::kubectl(kubeconfig, &args, "");
    assert!(ok, "{listed}");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    listed["items"][0]["spec"].clone()
}

#[tokio::test]
async fn in_kubernetes_mode_a_window_outlives_its_proxy_and_is_spent_on_every_other() {
    let client = linkgate_tests::kube::client().await;
    linkgate_tests::kube::install_crds(&client).await;
    let ns = linkgate_tests::kube::create_namespace(&client, "temppass").await;
    let kubeconfig = linkgate_tests::kube::kubeconfig();
    let (ok, out) =
        linkgate_tests::kube::kubectl(kubeconfig, &["apply", "-n", &ns, "-f", "-"], REQUESTOR_YAML);
    assert!(ok, "kubectl apply: {out}");
    let pem: String = DEMO_STATEMENT_PUBLIC_KEY
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect();
    let config = format!(
        "store: {{backend: kubernetes}}\nkubernetes: {{namespace: {ns}}}\n\
         codeKeySecretRef: {{name: codes, key: key}}\n\
         secrets:\n  codes: {{key: shared-by-every-proxy-of-the-test-fleet}}\n\
         \x20 demo.backend: {{apiKey: {DEMO_KEY}}}\n  demo.statements:\n    public.pem: |\n{pem}"
    );
    let (proxy_kubeconfig, _) =
        linkgate_tests::kube::service_account(&client, &ns, "linkgate-proxy", PROXY_ROLE).await;
    let env = || {
        vec![(
            "KUBECONFIG".to_owned(),
            proxy_kubeconfig.path().as_os_str().to_owned(),
        )]
    };
    let mut first = Gateway::with_config_env(&config, env()).await;
    let second = Gateway::with_config_env(&config, env()).await;

    let device = "tp-tv-k8s";
    let on_first = linkgate_tests::kube::eventually("the requestor served", async || {
        let statement = linkgate_tests::software_statement(DEMO_STATEMENT_KEY, "demo", "tv-app");
        let request = first
            .http
            .post(first.url("/o/client/register"))
            .json(&json!({"software_statement": statement}));
        let (status, _) = linkgate_tests::read(request.send().await.unwrap()).await;
        (status == 201).then_some(())
    });
    on_first.await;
    let tv = app(&first, "demo", device).await;
    let (status, opened) = session(&tv, "demo").await;
    assert_eq!(
        (status, opened["reasonType"].as_str()),
        (200, Some("temporary")),
        "{opened}"
    );
    let start = temporary_profile(&tv, "demo").await.unwrap()["notBefore"].clone();

    // The window is in the device's DeviceLink, as kubectl shows it.
    let spec = device_link_spec(&ns);
    assert_eq!(spec["tempPasses"][0]["mvpd"], "free-preview", "{spec}");

    // Its proxy dies; the other answers by the same window, and then by its end.
    first.kill();
    let tv = app(&second, "demo", device).await;
    let kept = temporary_profile(&tv, "demo")
        .await
        .expect("the window kept");
    assert_eq!(kept["notBefore"], start);
    after_the_window(&tv, "demo").await;
    reset(&second, device).await;
    // The reset is kept as a tombstone, which reaches other regions (a deletion would not).
    let spec = device_link_spec(&ns);
    assert!(spec.get("tempPasses").is_none(), "{spec}");
    assert!(spec["revokedAt"].is_string(), "{spec}");
    let (status, body) = session(&tv, "demo").await;
    assert_eq!(
        (status, body["reasonType"].as_str()),
        (200, Some("temporary"))
    );
}

#[tokio::test]
async fn each_temp_pass_answers_by_its_own_rules() {
    let origin = Origin::start("news-origin").await;
    let store = "store:\n  backend: file\n  dataDir: linkgate-data\n";
    let gw = Gateway::with_config(&demo_config(&origin, store)).await;
    let tv = app(&gw, "demo", "tp-tv-4").await;
    for mvpd in ["free-preview", "sports-preview"] {
        let path = "/api/v2/demo/sessions";
        let request = tv
            .request(reqwest::Method::POST, path)
            .form(&[("mvpd", mvpd)]);
        let (status, body) = tv.send(request).await;
        assert_eq!(
            (status, body["reasonType"].as_str()),
            (200, Some("temporary")),
            "{body}"
        );
    }
    // One pass allows every resource, the other sports only: neither's decision is the other's.
    for (mvpd, news) in [
        ("free-preview", true),
        ("sports-preview", false),
        ("free-preview", true),
    ] {
        let (status, decided) = tv.decide("authorize", mvpd, json!(["news"])).await;
        assert_eq!(status, 200, "{decided}");
        assert_eq!(
            decided["decisions"][0]["authorized"], news,
            "{mvpd}: {decided}"
        );
    }
}
